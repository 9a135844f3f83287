/*
 * ss_ktail: a group-less consumer over the tail of one topic. Creation looks the topic up
 * and assigns each partition at an explicit offset below the high watermark, which it keeps
 * as that partition's end; partition EOF events (enable.partition.eof), or a record at the
 * end or past it, mark a partition read. A partition with nothing below its end is read at
 * once. The reader holds the last message it returned until the next poll, so that the
 * caller decodes in place.
 */
#include "ss_ktail.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_kafka.h"
#include "ss_log.h"

struct ss_ktail {
        rd_kafka_t *rk;
        char topic[256];
        int nparts;               /* partitions of the topic at creation */
        int32_t *part_ids;        /* [nparts] */
        int64_t *end;             /* [nparts] the high watermark at creation */
        unsigned char *read;      /* [nparts] the partition reached its end */
        int nread;                /* partitions with read[i] set */
        rd_kafka_message_t *held; /* the record the last poll returned */
};

/* Marks partition index i read. */
static void ktail_part_read(ss_ktail_t *t, int i)
{
        if (i >= 0 && !t->read[i]) {
                t->read[i] = 1;
                t->nread++;
        }
}

/* Looks the topic up and assigns its partitions at their tails. SS_OK with nparts = 0 when the
 * topic does not exist. */
static ss_err_t ktail_assign(ss_ktail_t *t, int64_t tail, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->rk, t->topic, NULL);
        if (!rkt)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "topic %s: %s", t->topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(t->rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "metadata of %s: %s", t->topic,
                                  rd_kafka_err2str(err));
        const struct rd_kafka_metadata_topic *mt = md->topic_cnt == 1 ? &md->topics[0] : NULL;
        if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || mt->partition_cnt == 0) {
                rd_kafka_metadata_destroy(md);
                return SS_OK; /* nothing was published: nothing to read */
        }
        if (mt->err) {
                ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "topic %s: %s", t->topic,
                           rd_kafka_err2str(mt->err));
                rd_kafka_metadata_destroy(md);
                return SS_ERR_KAFKA;
        }
        int n = mt->partition_cnt;
        t->part_ids = calloc((size_t)n, sizeof(*t->part_ids));
        t->end = calloc((size_t)n, sizeof(*t->end));
        t->read = calloc((size_t)n, 1);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        ss_err_t rc = !t->part_ids || !t->end || !t->read
                          ? ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory")
                          : SS_OK;
        for (int i = 0; i < n && !rc; i++) {
                int32_t p = mt->partitions[i].id;
                int64_t lo = 0, hi = 0;
                err = rd_kafka_query_watermark_offsets(t->rk, t->topic, p, &lo, &hi, timeout_ms);
                if (err) {
                        rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                        "end offset of %s [%d]: %s", t->topic, (int)p,
                                        rd_kafka_err2str(err));
                        break;
                }
                t->part_ids[i] = p;
                t->end[i] = hi;
                t->nparts = i + 1;
                int64_t at = hi - tail > lo ? hi - tail : lo;
                if (at >= hi)
                        ktail_part_read(t, i); /* empty: nothing to wait for */
                else
                        rd_kafka_topic_partition_list_add(l, t->topic, p)->offset = at;
        }
        rd_kafka_metadata_destroy(md);
        if (!rc && l->cnt > 0 && (err = rd_kafka_assign(t->rk, l)))
                rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "assign %s: %s", t->topic,
                                rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

ss_ktail_t *ss_ktail_new(const ss_config_t *c, const char *topic, const char *group, int64_t tail,
                         int timeout_ms, char *errstr, size_t errstr_size)
{
        ss_ktail_t *t = calloc(1, sizeof(*t));
        if (!t) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        snprintf(t->topic, sizeof(t->topic), "%s", topic);
        char gid[512];
        snprintf(gid, sizeof(gid), "%s-tail", group && *group ? group : "sentistream");
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, gid, errstr, errstr_size);
        if (!conf ||
            ss_kafka_conf_set(conf, "client.id", "sentistream-tail", NULL, errstr, errstr_size) ||
            ss_kafka_conf_set(conf, "group.id", gid, NULL, errstr, errstr_size) ||
            ss_kafka_conf_set(conf, "isolation.level", "read_committed", NULL, errstr,
                              errstr_size) ||
            ss_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, errstr, errstr_size) ||
            ss_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL, errstr,
                              errstr_size)) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                free(t);
                return NULL;
        }
        if (!(t->rk = ss_kafka_consumer_new(conf, errstr, errstr_size)) ||
            ktail_assign(t, tail < 1 ? 1 : tail, timeout_ms, errstr, errstr_size)) {
                ss_ktail_destroy(t);
                return NULL;
        }
        return t;
}

void ss_ktail_destroy(ss_ktail_t *t)
{
        if (!t)
                return;
        if (t->held)
                rd_kafka_message_destroy(t->held);
        if (t->rk) {
                rd_kafka_consumer_close(t->rk);
                rd_kafka_destroy(t->rk);
        }
        free(t->part_ids);
        free(t->end);
        free(t->read);
        free(t);
}

int ss_ktail_partitions(const ss_ktail_t *t)
{
        return t->nparts;
}

/* The index of partition p, or -1. */
static int ktail_part_idx(const ss_ktail_t *t, int32_t p)
{
        for (int i = 0; i < t->nparts; i++)
                if (t->part_ids[i] == p)
                        return i;
        return -1;
}

ss_ktail_poll_t ss_ktail_poll(ss_ktail_t *t, int timeout_ms, ss_ktail_record_t *rec)
{
        if (t->held) {
                rd_kafka_message_destroy(t->held);
                t->held = NULL;
        }
        if (t->nread == t->nparts)
                return SS_KTAIL_DONE;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, timeout_ms);
        if (!m)
                return SS_KTAIL_NONE;
        int i = ktail_part_idx(t, m->partition);
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                ss_warn("ktail", "%s: %s", t->topic, rd_kafka_message_errstr(m));
        } else if (!m->err && i >= 0 && !t->read[i] && m->offset < t->end[i]) {
                if (m->offset + 1 >= t->end[i])
                        ktail_part_read(t, i);
                *rec = (ss_ktail_record_t){m->payload, m->len, m->partition, m->offset};
                t->held = m;
                return SS_KTAIL_RECORD;
        } else { /* partition EOF, or a record published after the creation */
                ktail_part_read(t, i);
        }
        rd_kafka_message_destroy(m);
        return t->nread == t->nparts ? SS_KTAIL_DONE : SS_KTAIL_NONE;
}
