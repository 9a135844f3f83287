/*
 * test_ktail: the reader of a topic's tail against librdkafka's mock cluster.
 *   - the last n records of each partition, in order, then DONE; a record published after the
 *     reader was created is not returned;
 *   - a tail longer than a partition reads it from its first record;
 *   - an empty topic, and one that does not exist, are DONE at once (the mock cluster creates
 *     a topic that a metadata request names, so the absent one is empty here);
 *   - no broker: creation fails with the reason.
 */
#include "ss_kafka.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_config.h"
#include "ss_ktail.h"
#include "ss_test.h"
#include "ss_util.h"

static rd_kafka_t *prod;

static void publish(const char *topic, int32_t partition, const char *value)
{
        CHECK(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
        CHECK(rd_kafka_flush(prod, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* A configuration whose kafka.bootstrap.servers is bs. Caller frees. */
static ss_config_t *config(const char *bs)
{
        char dir[] = "/tmp/ss_test_ktail_XXXXXX", yaml[512], err[512];
        if (!mkdtemp(dir))
                return NULL;
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        if (!f)
                return NULL;
        fprintf(f, "kafka:\n  bootstrap.servers: \"%s\"\n  log_level: 3\n", bs);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        if (!c)
                fprintf(stderr, "config: %s\n", err);
        unlink(yaml);
        rmdir(dir);
        return c;
}

/* Reads t to its end (10 s at most): the values of partition p, space-separated, in
 * got[p] (p < 2). Returns the last poll's outcome. */
static ss_ktail_poll_t read_all(ss_ktail_t *t, char got[2][256])
{
        got[0][0] = got[1][0] = '\0';
        ss_ktail_record_t rec;
        ss_ktail_poll_t r = SS_KTAIL_NONE;
        double until = ss_time_mono() + 10;
        while (ss_time_mono() < until && (r = ss_ktail_poll(t, 100, &rec)) != SS_KTAIL_DONE) {
                if (r != SS_KTAIL_RECORD)
                        continue;
                CHECK(rec.partition == 0 || rec.partition == 1);
                if (rec.partition != 0 && rec.partition != 1)
                        continue;
                char *g = got[rec.partition];
                size_t o = strlen(g);
                snprintf(g + o, 256 - o, "%s%.*s", o ? " " : "", (int)rec.len,
                         (const char *)rec.value);
        }
        return r;
}

int main(void)
{
        char err[1024], got[2][256];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, "rt", 2, 1);
        rd_kafka_mock_topic_create(mc, "empty", 1, 1);

        rd_kafka_conf_t *pconf = rd_kafka_conf_new();
        rd_kafka_conf_set(pconf, "bootstrap.servers", bs, NULL, 0);
        rd_kafka_conf_set(pconf, "log_level", "2", NULL, 0);
        prod = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
        ss_config_t *c = config(bs);
        CHECK(prod && c);
        if (!prod || !c)
                return ss_test_finish();
        for (int i = 0; i < 5; i++) {
                char v[8];
                snprintf(v, sizeof(v), "a%d", i);
                publish("rt", 0, v);
        }
        publish("rt", 1, "b0");
        publish("rt", 1, "b1");

        /* the last 3 of each partition; a5, published after the creation, is not read */
        ss_ktail_t *t = ss_ktail_new(c, "rt", "monitor", 3, 5000, err, sizeof(err));
        CHECK(t != NULL);
        if (t) {
                CHECK(ss_ktail_partitions(t) == 2);
                publish("rt", 0, "a5");
                double t0 = ss_time_mono();
                CHECK(read_all(t, got) == SS_KTAIL_DONE);
                CHECK(ss_time_mono() - t0 < 5);
                CHECK_STR_EQ(got[0], "a2 a3 a4");
                CHECK_STR_EQ(got[1], "b0 b1");
                ss_ktail_record_t rec;
                CHECK(ss_ktail_poll(t, 0, &rec) == SS_KTAIL_DONE);
                ss_ktail_destroy(t);
        }

        /* a tail longer than the partitions: every record, a5 included now */
        t = ss_ktail_new(c, "rt", "monitor", 1000, 5000, err, sizeof(err));
        CHECK(t != NULL);
        if (t) {
                CHECK(read_all(t, got) == SS_KTAIL_DONE);
                CHECK_STR_EQ(got[0], "a0 a1 a2 a3 a4 a5");
                CHECK_STR_EQ(got[1], "b0 b1");
                ss_ktail_destroy(t);
        }

        /* an empty topic and an absent one: nothing to wait for */
        const char *none[] = {"empty", "absent"};
        for (int i = 0; i < 2; i++) {
                t = ss_ktail_new(c, none[i], "monitor", 10, 5000, err, sizeof(err));
                CHECK(t != NULL);
                if (!t) {
                        fprintf(stderr, "%s: %s\n", none[i], err);
                        continue;
                }
                if (i == 0) /* (the mock cluster creates an absent topic when asked for it) */
                        CHECK(ss_ktail_partitions(t) == 1);
                ss_ktail_record_t rec;
                double t0 = ss_time_mono();
                CHECK(ss_ktail_poll(t, 1000, &rec) == SS_KTAIL_DONE);
                CHECK(ss_time_mono() - t0 < 0.5);
                ss_ktail_destroy(t);
        }

        /* no broker: the reason, within the timeout */
        ss_config_t *c_away = config("127.0.0.1:1");
        CHECK(c_away != NULL);
        if (c_away) {
                double t0 = ss_time_mono();
                CHECK(ss_ktail_new(c_away, "rt", "monitor", 10, 500, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "rt") != NULL);
                CHECK(ss_time_mono() - t0 < 5);
                ss_config_destroy(c_away);
        }

        ss_config_destroy(c);
        rd_kafka_destroy(prod);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
        return ss_test_finish();
}
