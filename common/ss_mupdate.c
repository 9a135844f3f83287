/*
 * ss_mupdate: a group-less consumer over the model-updates topic. Creation
 * looks the topic up and assigns each partition at an explicit offset (the
 * high watermark, or the beginning), so the starting point is fixed before the
 * caller resolves its alias. Until the topic exists the lookup is retried from
 * poll, at most every SS_MUPDATE_RETRY_S, with a short metadata timeout (the
 * caller's loop is held for at most that long).
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
        int from_start;
        int assigned;    /* partitions assigned */
        double next_try; /* ss_time_mono() of the next lookup while not assigned */
        int warned;      /* the missing topic was logged */
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
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->partition_cnt);
        ss_err_t rc = SS_OK;
        for (int i = 0; i < t->partition_cnt && !rc; i++) {
                int32_t p = t->partitions[i].id;
                int64_t lo = 0, hi = 0;
                if (!r->from_start) {
                        err = rd_kafka_query_watermark_offsets(r->rk, r->topic, p, &lo, &hi,
                                                               timeout_ms);
                        if (err)
                                rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                                "end offset of %s [%d]: %s", r->topic, (int)p,
                                                rd_kafka_err2str(err));
                }
                rd_kafka_topic_partition_list_add(l, r->topic, p)->offset =
                    r->from_start ? RD_KAFKA_OFFSET_BEGINNING : hi;
        }
        rd_kafka_metadata_destroy(md);
        if (!rc && (err = rd_kafka_assign(r->rk, l)))
                rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "assign %s: %s", r->topic,
                                rd_kafka_err2str(err));
        if (!rc) {
                r->assigned = 1;
                ss_info("mupdate", "reading %s (%d partition%s) from %s", r->topic, l->cnt,
                        l->cnt == 1 ? "" : "s", r->from_start ? "the beginning" : "its end");
        }
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

ss_mupdate_reader_t *ss_mupdate_reader_new(const ss_config_t *c, const char *group, int from_start,
                                           char *errstr, size_t errstr_size)
{
        ss_mupdate_reader_t *r = calloc(1, sizeof(*r));
        if (!r) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        snprintf(r->topic, sizeof(r->topic), "%s", ss_config_get_str(c, "topics.model_updates"));
        r->from_start = from_start;
        char gid[512];
        snprintf(gid, sizeof(gid), "%s-model-updates", group && *group ? group : "sentistream");
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, gid, errstr, errstr_size);
        if (!conf ||
            ss_kafka_conf_set(conf, "client.id", "sentistream-model-updates", NULL, errstr,
                              errstr_size) ||
            ss_kafka_conf_set(conf, "group.id", gid, NULL, errstr, errstr_size)) {
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
        free(r);
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
        if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        ss_warn("mupdate", "%s: %s", r->topic, rd_kafka_message_errstr(m));
        } else {
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
