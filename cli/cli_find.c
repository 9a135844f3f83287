/*
 * cli_find: a bounded scan of the newest records of a topic, for commands that
 * look one record up after the fact (`sentistream lineage --tweet ID` finds a
 * tweet's prediction, and the retrain event behind a model version).
 *
 * Kafka has no index by key, so the scan reads: it asks each partition for its
 * watermarks, assigns it from max(low, high - newest) (never subscribes, so no
 * group is joined and nothing is committed), and reads until every partition
 * has reported its end (the last stable offset under read_committed) or the
 * time is up. The bound is per partition and said in the result: how many
 * records were read, how many older ones were left out, whether every
 * partition was read to its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "ss_kafka.h"
#include "ss_util.h"

/* Creates the scanning consumer (a throwaway group id; assign() only). */
static rd_kafka_t *ss_find_consumer_new(const ss_config_t *c, char *err, size_t errsize)
{
        char group[96];
        snprintf(group, sizeof(group), "sentistream-find-%d-%lld", (int)getpid(),
                 (long long)ss_time_now_ms());
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, group, err, errsize);
        if (conf && rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errsize)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        return conf ? ss_kafka_consumer_new(conf, err, errsize) : NULL;
}

/* The partition count of topic, or -1 with the reason in err. */
static int ss_find_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                              size_t errsize)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) : RD_KAFKA_RESP_ERR__INVALID_ARG;
        int n = -1;
        if (e)
                ss_err_set(err, errsize, SS_ERR_KAFKA, "topic %s: metadata: %s", topic,
                           rd_kafka_err2str(e));
        else if (md->topic_cnt < 1 || md->topics[0].err)
                ss_err_set(err, errsize, SS_ERR_KAFKA, "topic %s: %s", topic,
                           rd_kafka_err2str(md->topic_cnt < 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC
                                                              : md->topics[0].err));
        else
                n = md->topics[0].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return n;
}

/* Builds the assignment: each non-empty partition from its newest records. */
static rd_kafka_topic_partition_list_t *ss_find_assignment(rd_kafka_t *rk, const char *topic,
                                                           int nparts, long long newest,
                                                           int timeout_ms, ss_cli_scan_t *st,
                                                           char *err, size_t errsize)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
        for (int p = 0; p < nparts; p++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t e =
                    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms);
                if (e) {
                        ss_err_set(err, errsize, SS_ERR_KAFKA, "topic %s [%d]: watermarks: %s",
                                   topic, p, rd_kafka_err2str(e));
                        rd_kafka_topic_partition_list_destroy(l);
                        return NULL;
                }
                if (hi <= lo)
                        continue;
                int64_t from = hi - lo > newest ? hi - newest : lo;
                st->skipped += from - lo;
                rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
        }
        return l;
}

ss_err_t ss_cli_topic_scan(const ss_config_t *c, const char *topic, long long newest,
                           double timeout_s, ss_cli_scan_fn *fn, void *opaque, ss_cli_scan_t *st,
                           char *errstr, size_t errstr_size)
{
        memset(st, 0, sizeof(*st));
        char err[512] = "";
        int timeout_ms = (int)(timeout_s * 1000);
        rd_kafka_t *rk = ss_find_consumer_new(c, err, sizeof(err));
        if (!rk)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "%s", err);
        ss_err_t e = SS_OK;
        rd_kafka_topic_partition_list_t *a = NULL, *eof = rd_kafka_topic_partition_list_new(4);
        st->partitions = ss_find_partitions(rk, topic, timeout_ms, err, sizeof(err));
        if (st->partitions < 0 ||
            !(a = ss_find_assignment(rk, topic, st->partitions, newest < 1 ? 1 : newest, timeout_ms,
                                     st, err, sizeof(err)))) {
                e = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "%s", err);
                goto out;
        }
        rd_kafka_resp_err_t ae = rd_kafka_assign(rk, a);
        if (ae) {
                e = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "topic %s: assign: %s", topic,
                               rd_kafka_err2str(ae));
                goto out;
        }
        double until = ss_time_mono() + timeout_s;
        int stop = 0;
        while (!stop && eof->cnt < a->cnt && ss_time_mono() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (!rd_kafka_topic_partition_list_find(eof, topic, m->partition))
                                rd_kafka_topic_partition_list_add(eof, topic, m->partition);
                } else if (m->err) {
                        fprintf(stderr, "sentistream: %s [%d]: %s\n", topic, (int)m->partition,
                                rd_kafka_message_errstr(m));
                } else {
                        ss_cli_record_t r = {m->key, m->key_len,   m->payload,
                                             m->len, m->partition, m->offset};
                        st->scanned++;
                        stop = fn(opaque, &r);
                }
                rd_kafka_message_destroy(m);
        }
        st->complete = eof->cnt >= a->cnt;
        st->stopped = stop;
out:
        if (a)
                rd_kafka_topic_partition_list_destroy(a);
        rd_kafka_topic_partition_list_destroy(eof);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return e;
}
