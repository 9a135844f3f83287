/*
 * ss_mupdate: a group-less consumer over the model-updates topic. Creation
 * looks the topic up and assigns each partition at an explicit offset (the
 * high watermark, the beginning, or the tail below the high watermark), so the
 * starting point is fixed before the caller resolves its alias. The high
 * watermarks read then mark which records were published before: partition EOF
 * events (enable.partition.eof) say when each partition's tail has been read. Until the topic
 * exists the lookup is retried from poll, at most every SS_MUPDATE_RETRY_S, with a short metadata
 * timeout (the caller's loop is held for at most that long).
 */
#include "ss_mupdate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_util.h"

#define SS_MUPDATE_RETRY_S       5.0
#define SS_MUPDATE_META_MS       2000
#define SS_MUPDATE_START_WAIT_MS 5000

struct ss_mupdate_reader {
        rd_kafka_t *rk;
        char topic[256];
        ss_mupdate_start_t start;
        int assigned;        /* partitions assigned */
        int nparts;          /* partitions of the topic at assignment */
        int32_t *part_ids;   /* [nparts] */
        int64_t *tail_end;   /* [nparts] the high watermark at assignment */
        unsigned char *eofs; /* [nparts] the partition reached its end once */
        int neofs;           /* partitions with eofs[i] set */
        double created_at;   /* ss_time_mono() of the creation */
        int absent_at_start; /* the topic did not exist at creation: no tail to read */
        double assigned_at;  /* ss_time_mono() of the assignment */
        int last_in_tail;    /* of the record the last poll returned */
        double next_try;     /* ss_time_mono() of the next lookup while not assigned */
        int warned;          /* the missing topic was logged */
};

/* Looks the topic up and assigns its partitions. SS_ERR_EMPTY while it does not exist. */
static ss_err_t mupdate_assign(ss_mupdate_reader_t *r, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
        if (!rkt)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "topic %s: %s", r->topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(r->rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "metadata of %s: %s", r->topic,
                                  rd_kafka_err2str(err));
        const struct rd_kafka_metadata_topic *t = md->topic_cnt == 1 ? &md->topics[0] : NULL;
        if (!t || t->err || t->partition_cnt == 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "topic %s: %s", r->topic,
                           t && t->err ? rd_kafka_err2str(t->err) : "no partitions");
                rd_kafka_metadata_destroy(md);
                return SS_ERR_EMPTY;
        }
        int n = t->partition_cnt;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        free(r->part_ids);
        free(r->tail_end);
        free(r->eofs);
        r->part_ids = calloc((size_t)n, sizeof(*r->part_ids));
        r->tail_end = calloc((size_t)n, sizeof(*r->tail_end));
        r->eofs = calloc((size_t)n, 1);
        r->nparts = n;
        r->neofs = 0;
        ss_err_t rc = !r->part_ids || !r->tail_end || !r->eofs
                          ? ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory")
                          : SS_OK;
        for (int i = 0; i < n && !rc; i++) {
                int32_t p = t->partitions[i].id;
                int64_t lo = 0, hi = 0, at = RD_KAFKA_OFFSET_BEGINNING;
                err = rd_kafka_query_watermark_offsets(r->rk, r->topic, p, &lo, &hi, timeout_ms);
                if (err) {
                        rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                        "end offset of %s [%d]: %s", r->topic, (int)p,
                                        rd_kafka_err2str(err));
                        break;
                }
                if (r->start == SS_MUPDATE_FROM_END)
                        at = hi;
                else if (r->start == SS_MUPDATE_FROM_TAIL)
                        at = hi - SS_MUPDATE_TAIL > lo ? hi - SS_MUPDATE_TAIL : lo;
                r->part_ids[i] = p;
                r->tail_end[i] = hi;
                rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = at;
        }
        rd_kafka_metadata_destroy(md);
        if (!rc && (err = rd_kafka_assign(r->rk, l)))
                rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "assign %s: %s", r->topic,
                                rd_kafka_err2str(err));
        if (!rc) {
                static const char *from[] = {"its end", "the beginning", "its tail"};
                r->assigned = 1;
                r->assigned_at = ss_time_mono();
                ss_info("mupdate", "reading %s (%d partition%s) from %s", r->topic, l->cnt,
                        l->cnt == 1 ? "" : "s", from[r->start]);
        }
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* The index of partition p in the assignment, or -1. */
static int mupdate_part_idx(const ss_mupdate_reader_t *r, int32_t p)
{
        for (int i = 0; i < r->nparts; i++)
                if (r->part_ids[i] == p)
                        return i;
        return -1;
}

ss_mupdate_reader_t *ss_mupdate_reader_new(const ss_config_t *c, const char *group,
                                           ss_mupdate_start_t start, char *errstr,
                                           size_t errstr_size)
{
        ss_mupdate_reader_t *r = calloc(1, sizeof(*r));
        if (!r) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        snprintf(r->topic, sizeof(r->topic), "%s", ss_config_get_str(c, "topics.model_updates"));
        r->start = start >= SS_MUPDATE_FROM_END && start <= SS_MUPDATE_FROM_TAIL
                       ? start
                       : SS_MUPDATE_FROM_END;
        r->created_at = ss_time_mono();
        char gid[512];
        snprintf(gid, sizeof(gid), "%s-model-updates", group && *group ? group : "sentistream");
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, gid, errstr, errstr_size);
        if (!conf ||
            ss_kafka_conf_set(conf, "client.id", "sentistream-model-updates", NULL, errstr,
                              errstr_size) ||
            ss_kafka_conf_set(conf, "group.id", gid, NULL, errstr, errstr_size) ||
            ss_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, errstr, errstr_size)) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                free(r);
                return NULL;
        }
        if (!(r->rk = ss_kafka_consumer_new(conf, errstr, errstr_size))) {
                free(r);
                return NULL;
        }
        char err[512];
        ss_err_t e = mupdate_assign(r, SS_MUPDATE_START_WAIT_MS, err, sizeof(err));
        if (e == SS_ERR_EMPTY) {
                r->absent_at_start = 1;
                ss_warn("mupdate", "%s; looking again every %.0f s", err, SS_MUPDATE_RETRY_S);
                r->warned = 1;
        } else if (e) {
                ss_warn("mupdate", "%s; trying again every %.0f s", err, SS_MUPDATE_RETRY_S);
                r->warned = 1;
        }
        r->next_try = ss_time_mono() + SS_MUPDATE_RETRY_S;
        return r;
}

void ss_mupdate_reader_destroy(ss_mupdate_reader_t *r)
{
        if (!r)
                return;
        if (r->rk) {
                rd_kafka_consumer_close(r->rk);
                rd_kafka_destroy(r->rk);
        }
        free(r->part_ids);
        free(r->tail_end);
        free(r->eofs);
        free(r);
}

int ss_mupdate_reader_last_in_tail(const ss_mupdate_reader_t *r)
{
        return r->last_in_tail;
}

int ss_mupdate_reader_tail_done(const ss_mupdate_reader_t *r)
{
        if (r->absent_at_start) /* nothing was published before */
                return 1;
        if (!r->assigned)
                return ss_time_mono() - r->created_at >= SS_MUPDATE_TAIL_WAIT_S;
        return r->neofs == r->nparts || ss_time_mono() - r->assigned_at >= SS_MUPDATE_TAIL_WAIT_S;
}

const char *ss_mupdate_reader_topic(const ss_mupdate_reader_t *r)
{
        return r->topic;
}

ss_mupdate_poll_t ss_mupdate_reader_poll(ss_mupdate_reader_t *r, const ss_serde_t *serde,
                                         ss_model_update_t *u, char *errstr, size_t errstr_size)
{
        if (!r->assigned) {
                double now = ss_time_mono();
                if (now < r->next_try)
                        return SS_MUPDATE_NONE;
                r->next_try = now + SS_MUPDATE_RETRY_S;
                char err[512];
                if (mupdate_assign(r, SS_MUPDATE_META_MS, err, sizeof(err)))
                        return SS_MUPDATE_NONE;
                if (r->warned)
                        ss_info("mupdate", "%s is there now", r->topic);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 0);
        if (!m)
                return SS_MUPDATE_NONE;
        ss_mupdate_poll_t rc = SS_MUPDATE_NONE;
        int i = mupdate_part_idx(r, m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (i >= 0 && !r->eofs[i]) {
                        r->eofs[i] = 1;
                        r->neofs++;
                }
        } else if (m->err) {
                ss_warn("mupdate", "%s: %s", r->topic, rd_kafka_message_errstr(m));
        } else {
                r->last_in_tail = i >= 0 && m->offset < r->tail_end[i];
                char why[512];
                memset(u, 0, sizeof(*u));
                if (ss_serde_model_update_decode(serde, m->payload, m->len, u, why, sizeof(why))) {
                        ss_model_update_clear(u);
                        ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                   "%s [%d] offset %lld: not a ModelUpdate: %s", r->topic,
                                   (int)m->partition, (long long)m->offset, why);
                        rc = SS_MUPDATE_BAD;
                } else {
                        rc = SS_MUPDATE_UPDATE;
                }
        }
        rd_kafka_message_destroy(m);
        return rc;
}
