/*
 * ss_test_kafka: what the unit tests that run the scorer against librdkafka's mock cluster
 * share: reading a topic back from the start, and reading a counter of the scorer's
 * metrics. Header-only (static functions), included by each such test.
 */
#ifndef SS_TEST_KAFKA_H
#define SS_TEST_KAFKA_H

#include <stdlib.h>

#include "ss_kafka.h"
#include "ss_metrics.h"

/*
 * Reads partitions 0..nparts-1 of topic from the start until idle_polls polls of 100 ms in
 * a row bring nothing; isolation (NULL: the project's default) sets isolation.level. With
 * seen != NULL, counts keys "t<i>" (0 <= i < nseen) into seen[i]. Returns the messages read.
 */
static int ss_test_topic_read(const char *bs, const char *topic, int nparts, const char *isolation,
                              int idle_polls, int *seen, int nseen)
{
        char err[512];
        rd_kafka_conf_t *conf =
            ss_kafka_conf_new(NULL, SS_KAFKA_CONSUMER, "reader", err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        if (isolation)
                ss_kafka_conf_set(conf, "isolation.level", isolation, NULL, err, sizeof(err));
        rd_kafka_t *rk = ss_kafka_consumer_new(conf, err, sizeof(err));
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
        for (int p = 0; p < nparts; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        int n = 0, idle = 0;
        while (idle < idle_polls) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m) {
                        idle++;
                        continue;
                }
                if (!m->err) {
                        n++;
                        idle = 0;
                        if (seen && m->key_len > 1 && ((char *)m->key)[0] == 't') {
                                int id = atoi((char *)m->key + 1);
                                if (id >= 0 && id < nseen)
                                        seen[id]++;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n;
}

/* The value of the counter name{labels} of registry r, or -1 if it cannot be had. */
static double ss_test_counter_value(ss_metrics_t *r, const char *name, const char *const *labels)
{
        char err[256];
        ss_counter_t *c = ss_metrics_counter(r, name, "", labels, err, sizeof(err));
        return c ? ss_metrics_value(c) : -1;
}

#endif /* SS_TEST_KAFKA_H */
