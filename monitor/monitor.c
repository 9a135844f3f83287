/*
 * monitor: the I/O loop around the processing core.
 *
 * One thread. Each turn of the loop: drain up to a batch of predictions from
 * the consumer (remembering the next offset of each partition), read a batch
 * of labels from Redis, run the periodic work (join expiry, idle windows),
 * move the oldest queued event one step (send -> acknowledged -> recorded),
 * and on their timers write changed reports and the snapshot (then commit
 * the snapshot's offsets). Every step that needs Redis checks it first and is
 * simply skipped while Redis is away; the mstate layer reconnects with
 * backoff. Partition assignment goes through a rebalance callback that seeks
 * each partition to the offset the snapshot holds for it, or, for a partition
 * this process held before, to where it stopped reading it.
 *
 * At start, after the snapshot and the sent sets are read from Redis and before the first
 * prediction, the sent set is reconciled with the retrain topic itself (ss_ktail: the last
 * monitor.events.recover.tail records of each partition, read_committed): an event of this
 * monitor's that the broker acknowledged but that a crash kept out of Redis joins the set, in
 * memory and in Redis, so that the report counts it and a replay does not send it again.
 *
 * Following the registry (monitor.follow): each turn first reads the model
 * updates that arrived (ss_mupdate, from the topic's end at start); an update
 * switches its model to the version it names (mcore.h: windows per version,
 * cooldown from the switch, the other versions stale), after fetching that
 * version's card from the registry (the fetcher the caller installed:
 * `sentistream monitor` fetches from tracking.uri into monitor.model.cache_dir)
 * when it is not loaded. A prediction of a registry
 * version without a card ("<card version>@NAME/VERSION") fetches it the same
 * way, inside its ingest, so that it goes to the new card's windows; while a
 * fetch fails (asked again every FETCH_RETRY_MS) such predictions are counted
 * as unknown_version and kept out of every window.
 *
 * Readiness (/readyz on the metrics port), answered on the endpoint's thread
 * once the consumer exists: partitions of the predictions topic are assigned
 * (rd_kafka_assignment, thread-safe) and Redis answered on the loop's last
 * turn (the redis_up gauge, an atomic).
 */
#include "monitor.h"

#include <dirent.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbuf.h"
#include "mcore.h"
#include "mstate.h"
#include "ss_kafka.h"
#include "ss_ktail.h"
#include "ss_log.h"
#include "ss_metrics.h"
#include "ss_mupdate.h"
#include "ss_serde.h"
#include "ss_util.h"

#define POLL_BATCH        5000        /* predictions per turn before the housekeeping */
#define SNAP_MAGIC        0x4e4d5353u /* "SSMN" */
#define SNAP_VERSION      1u
#define EVENT_RETRY_MS    2000
#define EVENT_ACK_WAIT_MS 2000
#define CARD_RESCAN_MS    10000 /* new cards (models deployed later) are picked up this often */
#define LABEL_ID_MAX      64
#define FETCH_RETRY_MS    30000 /* a registry card that could not be fetched is asked again */
#define FETCH_FAILED_MAX  32
#define TAIL_MODELS_MAX   32 /* models whose newest update of the topic's tail is kept */

enum { EV_IDLE = 0, EV_SENT, EV_ACKED, EV_FAILED };

struct ss_monitor {
        const ss_config_t *c;
        ss_serde_t *serde;
        ss_metrics_t *metrics;
        ss_mcore_t *core;
        ss_mstate_t *redis;
        rd_kafka_t *consumer;
        ss_producer_t *producer;
        const char *topic_pred, *topic_retrain, *group;
        const char *instance; /* static group member name; NULL: a dynamic member */
        char snap_key[256];
        char labels_last_id[LABEL_ID_MAX];
        size_t labels_batch;
        rd_kafka_topic_partition_list_t *consumed; /* next offset per partition */
        rd_kafka_topic_partition_list_t *restore;  /* offsets from the snapshot */
        int64_t snapshot_every_ms, report_every_ms;
        int64_t next_snapshot, next_report, next_tick, next_rescan, event_retry_at;
        char **card_paths; /* every card path seen (loaded or refused) */
        size_t ncard_paths;
        int ev_state;      /* of the oldest queued event */
        char **unrecorded; /* "name\tid" acked but not yet in Redis */
        size_t nunrecorded;
        ss_mbuf_t snap;
        ss_gauge_t *g_redis_up;
        ss_counter_t *c_kafka_errors, *c_snapshots;
        uint64_t kafka_errors;
        int restored;
        int nassigned; /* partitions held now: 0 = never write shared state */
        /* following the registry (monitor.follow) */
        ss_mupdate_reader_t *updates;
        ss_monitor_card_fetch_fn *fetch_fn; /* installed by the caller, or NULL */
        void *fetch_opaque;
        struct {
                char label[320]; /* NAME/VERSION */
                int64_t retry_at;
        } failed[FETCH_FAILED_MAX]; /* registry cards that could not be fetched */
        int nfailed;
        ss_counter_t *c_fetch_ok, *c_fetch_err, *c_updates[3]; /* [switched|waiting|bad] */
        /* the newest update per model among those published before the start (the topic's
         * tail), applied once the tail is read; predictions wait until then */
        struct {
                char name[256];          /* registered model name */
                char version[32];        /* registry version */
                char model_version[256]; /* card version */
                int64_t at_ms;
        } tail[TAIL_MODELS_MAX];
        int ntail;
        int tail_applied;
};

static int conf_has_key(const char *key)
{
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++)
                if (!strcmp(d->name, key))
                        return 1;
        return 0;
}

/* ---- card paths ---------------------------------------------------------------------- */

static int paths_push(char ***paths, int *n, const char *p)
{
        char **np = realloc(*paths, sizeof(char *) * (size_t)(*n + 2));
        if (!np)
                return -1;
        *paths = np;
        if (!(np[*n] = strdup(p)))
                return -1;
        np[++*n] = NULL;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_cards(const char *dir, char ***paths, int *n, char *errstr, size_t errstr_size)
{
        DIR *d = opendir(dir);
        if (!d) {
                ss_err_set(errstr, errstr_size, SS_ERR_IO, "monitor.card: %s: %s", dir,
                           strerror(errno));
                return -1;
        }
        int first = *n;
        struct dirent *e;
        while ((e = readdir(d))) {
                size_t l = strlen(e->d_name), sl = strlen(".card.json");
                if (l <= sl || strcmp(e->d_name + l - sl, ".card.json"))
                        continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                if (paths_push(paths, n, p)) {
                        closedir(d);
                        return -1;
                }
        }
        closedir(d);
        qsort(*paths + first, (size_t)(*n - first), sizeof(char *), cmp_str);
        if (*n == first) {
                ss_err_set(errstr, errstr_size, SS_ERR_IO, "monitor.card: no *.card.json in %s",
                           dir);
                return -1;
        }
        return 0;
}

static int beside_model(const ss_config_t *c, char ***paths, int *n, char *errstr,
                        size_t errstr_size)
{
        const char *model =
            conf_has_key("consumer.model.path") ? ss_config_get_str(c, "consumer.model.path") : "";
        if (!*model && conf_has_key("model.out"))
                model = ss_config_get_str(c, "model.out");
        if (!*model) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "monitor.card is empty and no model path is configured "
                           "(consumer.model.path, model.out)");
                return -1;
        }
        char p[4096];
        size_t l = strlen(model);
        struct stat st;
        if (l > 4 && !strcmp(model + l - 4, ".ssm")) {
                snprintf(p, sizeof(p), "%.*s.card.json", (int)(l - 4), model);
                if (stat(p, &st) == 0)
                        return paths_push(paths, n, p);
        }
        snprintf(p, sizeof(p), "%s.card.json", model);
        if (stat(p, &st) == 0)
                return paths_push(paths, n, p);
        ss_err_set(errstr, errstr_size, SS_ERR_IO,
                   "monitor.card is empty and no card was found beside the model %s", model);
        return -1;
}

int ss_monitor_card_paths(const ss_config_t *c, char ***paths, char *errstr, size_t errstr_size)
{
        const char *spec = ss_config_get_str(c, "monitor.card");
        int n = 0, rc = 0;
        *paths = NULL;
        if (!*spec) {
                rc = beside_model(c, paths, &n, errstr, errstr_size);
        } else {
                char *copy = strdup(spec), *save = NULL;
                for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !rc;
                     tok = strtok_r(NULL, ",", &save)) {
                        while (*tok == ' ')
                                tok++;
                        struct stat st;
                        if (!*tok)
                                continue;
                        if (stat(tok, &st) == 0 && S_ISDIR(st.st_mode))
                                rc = dir_cards(tok, paths, &n, errstr, errstr_size);
                        else
                                rc = paths_push(paths, &n, tok);
                }
                free(copy);
                if (!rc && n == 0) {
                        ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "monitor.card: no path");
                        rc = -1;
                }
        }
        if (rc) {
                for (int i = 0; i < n; i++)
                        free((*paths)[i]);
                free(*paths);
                *paths = NULL;
                return -1;
        }
        return n;
}

/* ---- snapshot ------------------------------------------------------------------------ */

static void snapshot_encode(ss_monitor_t *m)
{
        ss_mbuf_t *b = &m->snap;
        ss_mbuf_reset(b);
        ss_mbuf_put_u32(b, SNAP_MAGIC);
        ss_mbuf_put_u32(b, SNAP_VERSION);
        ss_mbuf_put_i64(b, ss_time_now_ms());
        ss_mbuf_put_str(b, m->labels_last_id, strlen(m->labels_last_id));
        ss_mbuf_put_u32(b, (uint32_t)m->consumed->cnt);
        for (int i = 0; i < m->consumed->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &m->consumed->elems[i];
                ss_mbuf_put_str(b, tp->topic, strlen(tp->topic));
                ss_mbuf_put_u32(b, (uint32_t)tp->partition);
                ss_mbuf_put_i64(b, tp->offset);
        }
        ss_mcore_save(m->core, b);
}

/* Saves the snapshot, then commits the offsets it holds. */
static ss_err_t snapshot_save(ss_monitor_t *m)
{
        char err[512];
        if (ss_mcore_events_pending(m->core) || m->nunrecorded)
                return SS_ERR_STATE; /* never snapshot a fired trigger before its event */
        if (m->nassigned == 0)
                return SS_ERR_STATE; /* holding no partition: the state belongs to another */
        snapshot_encode(m);
        if (m->snap.failed)
                return SS_ERR_NOMEM;
        ss_err_t e =
            ss_mstate_set(m->redis, m->snap_key, m->snap.data, m->snap.len, err, sizeof(err));
        if (e) {
                ss_debug("monitor", "snapshot not saved: %s", err);
                return e;
        }
        if (m->c_snapshots)
                ss_counter_inc(m->c_snapshots);
        if (m->consumed->cnt > 0) {
                rd_kafka_resp_err_t ke = rd_kafka_commit(m->consumer, m->consumed, 1);
                if (ke && ke != RD_KAFKA_RESP_ERR__NO_OFFSET)
                        ss_warn("monitor", "offset commit: %s", rd_kafka_err2str(ke));
        }
        return SS_OK;
}

static ss_err_t snapshot_load(ss_monitor_t *m, char *errstr, size_t errstr_size)
{
        char *data = NULL;
        size_t len = 0;
        ss_err_t e = ss_mstate_get(m->redis, m->snap_key, &data, &len, errstr, errstr_size);
        if (e)
                return e;
        if (!data) {
                ss_info("monitor", "no snapshot under %s: starting fresh", m->snap_key);
                return SS_OK;
        }
        ss_mreader_t r;
        ss_mreader_init(&r, data, len);
        int ok = ss_mreader_u32(&r) == SNAP_MAGIC && ss_mreader_u32(&r) == SNAP_VERSION;
        int64_t taken = ss_mreader_i64(&r);
        const char *id;
        size_t idl = ss_mreader_str(&r, &id);
        ok = ok && !r.failed && idl < LABEL_ID_MAX;
        uint32_t n = ss_mreader_u32(&r);
        rd_kafka_topic_partition_list_t *restore = rd_kafka_topic_partition_list_new(4);
        for (uint32_t i = 0; ok && i < n && !r.failed; i++) {
                const char *topic;
                size_t tl = ss_mreader_str(&r, &topic);
                int32_t part = (int32_t)ss_mreader_u32(&r);
                int64_t off = ss_mreader_i64(&r);
                char t[256];
                if (r.failed || tl >= sizeof(t))
                        break;
                memcpy(t, topic, tl);
                t[tl] = '\0';
                rd_kafka_topic_partition_list_add(restore, t, part)->offset = off;
        }
        char cerr[256] = "";
        if (!ok || r.failed || ss_mcore_load(m->core, &r, cerr, sizeof(cerr))) {
                ss_warn("monitor", "snapshot %s unusable (%s): starting fresh", m->snap_key,
                        cerr[0] ? cerr : "malformed");
                rd_kafka_topic_partition_list_destroy(restore);
                free(data);
                return SS_OK;
        }
        memcpy(m->labels_last_id, id, idl);
        m->labels_last_id[idl] = '\0';
        m->restore = restore;
        m->restored = 1;
        char when[40];
        ss_time_iso8601(taken, when, sizeof(when));
        ss_info("monitor",
                "restored snapshot of %s: %d partition offsets, labels after %s, "
                "%llu predictions so far",
                when, restore->cnt, m->labels_last_id,
                (unsigned long long)ss_mcore_stats(m->core)->predictions);
        free(data);
        return SS_OK;
}

static void sent_cb(void *opaque, const char *member)
{
        ss_mcore_sent_add(opaque, member);
}

/* ---- Kafka --------------------------------------------------------------------------- */

static rd_kafka_topic_partition_t *consumed_slot(ss_monitor_t *m, const char *topic, int32_t part)
{
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(m->consumed, topic, part);
        if (!tp) {
                tp = rd_kafka_topic_partition_list_add(m->consumed, topic, part);
                tp->offset = RD_KAFKA_OFFSET_INVALID;
        }
        return tp;
}

static void on_assign(ss_monitor_t *m, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *p = &parts->elems[i];
                rd_kafka_topic_partition_t *r =
                    m->restore
                        ? rd_kafka_topic_partition_list_find(m->restore, p->topic, p->partition)
                        : NULL;
                if (r && r->offset >= 0) {
                        p->offset = r->offset;
                        consumed_slot(m, p->topic, p->partition)->offset = r->offset;
                }
                ss_info("monitor", "assigned %s[%d] at %s%lld", p->topic, p->partition,
                        r ? "restored offset " : "committed/earliest ",
                        (long long)(r ? r->offset : p->offset));
        }
        m->nassigned =
            (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") ? m->nassigned : 0) +
            parts->cnt;
        if (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")) {
                rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
                if (e) {
                        ss_error("monitor", "assign: %s", rd_kafka_error_string(e));
                        rd_kafka_error_destroy(e);
                }
        } else {
                rd_kafka_assign(rk, parts);
        }
}

/*
 * A revoked partition's next offset becomes its restore offset: if this process gets it
 * back (a rebalance, or a lost assignment after a broker outage), it resumes where its
 * in-memory state stops. The committed offset may be older (the commit that would have
 * carried it failed while the broker was away), and reading from there would count those
 * predictions a second time.
 */
static void remember_position(ss_monitor_t *m, const char *topic, int32_t part)
{
        rd_kafka_topic_partition_t *c =
            rd_kafka_topic_partition_list_find(m->consumed, topic, part);
        if (!c || c->offset < 0)
                return;
        if (!m->restore)
                m->restore = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_t *r = rd_kafka_topic_partition_list_find(m->restore, topic, part);
        if (!r)
                r = rd_kafka_topic_partition_list_add(m->restore, topic, part);
        r->offset = c->offset;
}

static void on_revoke(ss_monitor_t *m, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
        snapshot_save(m);
        for (int i = 0; i < parts->cnt; i++) {
                remember_position(m, parts->elems[i].topic, parts->elems[i].partition);
                rd_kafka_topic_partition_list_del(m->consumed, parts->elems[i].topic,
                                                  parts->elems[i].partition);
        }
        m->nassigned =
            !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") && m->nassigned > parts->cnt
                ? m->nassigned - parts->cnt
                : 0;
        if (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")) {
                rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
                if (e) {
                        ss_error("monitor", "unassign: %s", rd_kafka_error_string(e));
                        rd_kafka_error_destroy(e);
                }
        } else {
                rd_kafka_assign(rk, NULL);
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        ss_monitor_t *m = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                on_assign(m, rk, parts);
        else
                on_revoke(m, rk, parts);
}

static void dr_cb(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                  const rd_kafka_message_t *rkm)
{
        ss_monitor_t *m = opaque;
        if (m->ev_state != EV_SENT)
                return;
        if (err) {
                ss_warn("monitor", "retraining event not delivered: %s (will retry)",
                        rd_kafka_err2str(err));
                m->ev_state = EV_FAILED;
        } else {
                m->ev_state = EV_ACKED;
        }
}

static void on_message(ss_monitor_t *m, rd_kafka_message_t *msg, int64_t now)
{
        if (msg->err) {
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        return;
                m->kafka_errors++;
                if (m->c_kafka_errors)
                        ss_counter_inc(m->c_kafka_errors);
                if (m->kafka_errors <= 10 || m->kafka_errors % 100 == 0)
                        ss_warn("monitor", "consumer: %s", rd_kafka_message_errstr(msg));
                return;
        }
        ss_mcore_ingest_prediction(m->core, msg->payload, msg->len, now);
        consumed_slot(m, rd_kafka_topic_name(msg->rkt), msg->partition)->offset = msg->offset + 1;
}

static int consume_batch(ss_monitor_t *m, int timeout_ms)
{
        int n = 0;
        int64_t now = ss_time_now_ms();
        for (; n < POLL_BATCH; n++) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->consumer, n ? 0 : timeout_ms);
                if (!msg)
                        break;
                on_message(m, msg, now);
                rd_kafka_message_destroy(msg);
                if ((n & 255) == 255)
                        now = ss_time_now_ms();
        }
        return n;
}

/* ---- labels -------------------------------------------------------------------------- */

/* Label name -> 0..2 (negative, neutral, positive), or -1. */
static int label_parse(const char *s)
{
        static const char *const names[3] = {"negative", "neutral", "positive"};
        for (int i = 0; s && i < 3; i++)
                if (!strcmp(s, names[i]))
                        return i;
        return -1;
}

static void label_cb(void *opaque, const ss_label_entry_t *e)
{
        ss_monitor_t *m = opaque;
        int label = label_parse(e->label);
        int64_t at = 0;
        if (e->labeled_at) {
                /* present: it must be epoch milliseconds; a bad one is refused, not stamped */
                char *end;
                errno = 0;
                at = strtoll(e->labeled_at, &end, 10);
                if (*end || end == e->labeled_at || errno || at <= 0) {
                        ss_mcore_label_refused(m->core, SS_MCORE_LABEL_BAD_TIME);
                        uint64_t k = ss_mcore_stats(m->core)->label_errors;
                        if (k <= 10 || k % 1000 == 0)
                                ss_warn("monitor",
                                        "label %s refused (%llu so far): labeled_at=\"%s\" is "
                                        "not epoch milliseconds",
                                        e->id, (unsigned long long)k, e->labeled_at);
                        return;
                }
        } else {
                at = strtoll(e->id, NULL, 10); /* absent: the stream id's milliseconds */
        }
        int rc = ss_mcore_ingest_label(m->core, e->tweet_id, e->tweet_id ? e->tweet_id_len : 0,
                                       label, at, ss_time_now_ms());
        if (rc < 0) {
                uint64_t k = ss_mcore_stats(m->core)->label_errors;
                if (k <= 10 || k % 1000 == 0)
                        ss_warn("monitor", "label %s refused (%llu so far): tweet_id=%s label=%s",
                                e->id, (unsigned long long)k, e->tweet_id ? e->tweet_id : "(none)",
                                e->label ? e->label : "(none)");
        }
}

static int read_labels(ss_monitor_t *m)
{
        char err[512];
        size_t total = 0, n = 0;
        do {
                if (ss_mstate_labels_read(m->redis, m->labels_last_id, m->labels_batch, label_cb, m,
                                          &n, err, sizeof(err)))
                        break;
                total += n;
        } while (n == m->labels_batch && total < 20 * m->labels_batch);
        return (int)total;
}

/* ---- events -------------------------------------------------------------------------- */

static void record_pending(ss_monitor_t *m)
{
        char err[512];
        while (m->nunrecorded) {
                char *rec = m->unrecorded[0];
                char *tab = strchr(rec, '\t');
                char key[300];
                snprintf(key, sizeof(key), "monitor:sent:%.*s", (int)(tab - rec), rec);
                if (ss_mstate_sadd(m->redis, key, tab + 1, err, sizeof(err)))
                        return;
                free(rec);
                memmove(m->unrecorded, m->unrecorded + 1, sizeof(char *) * --m->nunrecorded);
        }
}

/* Queues the id of an event sent for the Redis sent set of its model (record_pending). */
static int unrecorded_push(ss_monitor_t *m, const char *model_name, const char *event_id)
{
        size_t n = strlen(model_name) + strlen(event_id) + 2;
        char *rec = malloc(n);
        char **u = realloc(m->unrecorded, sizeof(char *) * (m->nunrecorded + 1));
        if (u)
                m->unrecorded = u;
        if (!rec || !u) {
                free(rec);
                ss_error("monitor", "out of memory recording event %s", event_id);
                return -1;
        }
        snprintf(rec, n, "%s\t%s", model_name, event_id);
        m->unrecorded[m->nunrecorded++] = rec;
        return 0;
}

static void event_acked(ss_monitor_t *m, const ss_mcore_event_t *e)
{
        ss_info("monitor", "retraining event %s sent to %s (key %s): %s", e->event_id,
                m->topic_retrain, e->model_name, e->summary);
        unrecorded_push(m, e->model_name, e->event_id);
        ss_mcore_event_done(m->core);
        record_pending(m);
}

/* Moves the oldest event one step: send, then on acknowledgement record it. */
static void events_step(ss_monitor_t *m, int64_t now)
{
        ss_producer_poll(m->producer, 0);
        const ss_mcore_event_t *e = ss_mcore_event_peek(m->core);
        if (!e)
                return;
        char err[512];
        switch (m->ev_state) {
        case EV_FAILED:
                m->ev_state = EV_IDLE;
                m->event_retry_at = now + EVENT_RETRY_MS;
                break;
        case EV_ACKED:
                m->ev_state = EV_IDLE;
                event_acked(m, e);
                break;
        case EV_IDLE:
                if (now < m->event_retry_at)
                        break;
                m->ev_state = EV_SENT;
                if (ss_producer_send(m->producer, m->topic_retrain, e->model_name,
                                     strlen(e->model_name), e->value.data, e->value.len, 0, NULL, 0,
                                     err, sizeof(err))) {
                        ss_warn("monitor", "event %s not produced: %s (will retry)", e->event_id,
                                err);
                        m->ev_state = EV_IDLE;
                        m->event_retry_at = now + EVENT_RETRY_MS;
                        break;
                }
                /* wait for the acknowledgement here and record the id right after it, so
                 * that a crash between the two (which would send the event twice) has
                 * almost no time to happen; events are rare, the stall is short */
                ss_producer_flush(m->producer, EVENT_ACK_WAIT_MS, NULL, 0);
                if (m->ev_state == EV_ACKED) {
                        m->ev_state = EV_IDLE;
                        event_acked(m, e);
                }
                break;
        default:
                break;
        }
}

/* ---- the sent set against the retrain topic ------------------------------------------ */

#define RECOVER_LOOKUP_MS  5000  /* the retrain topic's lookup at start */
#define RECOVER_WAIT_MS    10000 /* its tail is read within this (sent_reconcile) */
#define RECOVER_IDS_LOGGED 512   /* characters of recovered event ids in the log line */

typedef struct recover_tally {
        int read, recovered, known, foreign, bad;
        char ids[RECOVER_IDS_LOGGED]; /* the recovered ids, for the log line */
        size_t ids_len;
        int unlisted; /* recovered ids that did not fit in ids */
} recover_tally_t;

/* One record of the retrain topic's tail: its id joins the sent set, and is queued for the
 * model's Redis set, when it is an event of this monitor's that the set lacks. */
static void sent_recover(ss_monitor_t *m, const ss_ktail_record_t *rec, recover_tally_t *t)
{
        ss_retrain_event_t ev;
        char err[512];
        memset(&ev, 0, sizeof(ev));
        t->read++;
        if (ss_serde_retrain_event_decode(m->serde, rec->value, rec->len, &ev, err, sizeof(err))) {
                if (++t->bad <= 10)
                        ss_warn("monitor", "%s [%d] offset %lld: not a RetrainEvent: %s (skipped)",
                                m->topic_retrain, (int)rec->partition, (long long)rec->offset, err);
        } else {
                int r = ss_mcore_sent_recover(m->core, ev.model_name.ptr, ev.model_version.ptr,
                                              ev.event_id.ptr);
                if (r < 0) {
                        t->foreign++;
                } else if (r == 0) {
                        t->known++;
                } else if (!unrecorded_push(m, ev.model_name.ptr, ev.event_id.ptr)) {
                        t->recovered++;
                        size_t room = sizeof(t->ids) - t->ids_len;
                        int w = snprintf(t->ids + t->ids_len, room, "%s%s", t->ids_len ? " " : "",
                                         ev.event_id.ptr);
                        if (w > 0 && (size_t)w < room) {
                                t->ids_len += (size_t)w;
                        } else {
                                t->ids[t->ids_len] = '\0'; /* no room: counted, not listed */
                                t->unlisted++;
                        }
                }
        }
        ss_retrain_event_clear(&ev);
}

/*
 * At start, before any prediction: the events on the retrain topic's tail (the last
 * monitor.events.recover.tail records of each partition) that are this monitor's and that
 * Redis does not hold join the sent set, in memory and in Redis. An event acknowledged by the
 * broker just before a crash (kill -9 between the acknowledgement and its record) is otherwise
 * unknown after the restart: the report undercounts, and a replay could send it again.
 */
static void sent_reconcile(ss_monitor_t *m, volatile sig_atomic_t *stop)
{
        int64_t tail = ss_config_get_int(m->c, "monitor.events.recover.tail");
        char err[512];
        if (tail == 0)
                return;
        ss_ktail_t *kt = ss_ktail_new(m->c, m->topic_retrain, m->group, tail, RECOVER_LOOKUP_MS,
                                      err, sizeof(err));
        if (!kt) {
                ss_warn("monitor",
                        "sent set not reconciled with %s: %s; an event sent just before a "
                        "crash may be missing from the report",
                        m->topic_retrain, err);
                return;
        }
        recover_tally_t t = {0};
        ss_ktail_record_t rec;
        ss_ktail_poll_t r = SS_KTAIL_NONE;
        double until = ss_time_mono() + RECOVER_WAIT_MS / 1000.0;
        while (!(stop && *stop) && ss_time_mono() < until &&
               (r = ss_ktail_poll(kt, 100, &rec)) != SS_KTAIL_DONE)
                if (r == SS_KTAIL_RECORD)
                        sent_recover(m, &rec, &t);
        if (r != SS_KTAIL_DONE && !(stop && *stop))
                ss_warn("monitor", "the tail of %s was not read to its end within %d s",
                        m->topic_retrain, RECOVER_WAIT_MS / 1000);
        ss_info("monitor",
                "sent set reconciled with %s (%d partition%s, last %lld records each): %d event "
                "id%s recovered that Redis did not have%s%s%s (%d read: %d known, %d of other "
                "models, %d undecodable)",
                m->topic_retrain, ss_ktail_partitions(kt), ss_ktail_partitions(kt) == 1 ? "" : "s",
                (long long)tail, t.recovered, t.recovered == 1 ? "" : "s", t.recovered ? ": " : "",
                t.ids, t.unlisted ? " ..." : "", t.read, t.known, t.foreign, t.bad);
        ss_ktail_destroy(kt);
        if (t.recovered) {
                record_pending(m);
                ss_mcore_report_touch(m->core); /* the report counts them from its next write */
        }
}

/* ---- reports ------------------------------------------------------------------------- */

static void reports_write(ss_monitor_t *m)
{
        int idx;
        char err[512];
        if (m->nassigned == 0)
                return; /* holding no partition: the reports belong to the instance that does */
        while ((idx = ss_mcore_report_next(m->core)) >= 0) {
                const char *name;
                char *json = ss_mcore_report_json(m->core, idx, &name);
                if (!json)
                        continue;
                char key[300];
                snprintf(key, sizeof(key), "monitor:report:%s", name);
                ss_err_t e = ss_mstate_set(m->redis, key, json, strlen(json), err, sizeof(err));
                free(json);
                if (e)
                        break; /* Redis away: the flag is cleared, the next evaluation sets it */
        }
}

static int card_version_known(const ss_monitor_t *m, const char *version);

/* ---- following the registry ----------------------------------------------------------- */

/* Fetches the card of registry version NAME/VERSION (the installed fetcher) and adds
 * it. 1 if the card is monitored now (added, or there already), 0 if not (logged, counted;
 * not asked again for FETCH_RETRY_MS). */
static int card_fetch(ss_monitor_t *m, const char *name, const char *version)
{
        char label[320], err[1024];
        snprintf(label, sizeof(label), "%s/%s", name, version);
        int64_t now = ss_time_now_ms();
        int slot = -1;
        for (int i = 0; i < m->nfailed; i++)
                if (!strcmp(m->failed[i].label, label)) {
                        if (now < m->failed[i].retry_at)
                                return 0;
                        slot = i;
                }
        ss_card_view_t *card = NULL;
        ss_err_t e = SS_OK;
        char card_path[1100] = "";
        if (!m->fetch_fn)
                e = ss_err_set(err, sizeof(err), SS_ERR_CONFIG, "no registry client");
        else
                e = m->fetch_fn(m->fetch_opaque, name, version, card_path, sizeof(card_path), err,
                                sizeof(err));
        if (!e) {
                card = ss_card_view_load(card_path, err, sizeof(err));
                if (!card)
                        e = SS_ERR_FORMAT;
        }
        if (!e && card_version_known(m, card->version)) {
                ss_card_view_destroy(card);
                card = NULL;
        } else if (!e) {
                char ver[SS_TRIG_VERSION_MAX], cname[128];
                snprintf(ver, sizeof(ver), "%s", card->version);
                snprintf(cname, sizeof(cname), "%s", card->name);
                if (!(e = ss_mcore_add_card(m->core, card, err, sizeof(err))))
                        ss_info("monitor",
                                "monitoring %s version %s (registry %s, card %s fetched)", cname,
                                ver, label, card_path);
        }
        if (e) {
                ss_counter_inc(m->c_fetch_err);
                if (slot < 0 && m->nfailed < FETCH_FAILED_MAX)
                        slot = m->nfailed++;
                if (slot < 0)
                        slot = (int)(now % FETCH_FAILED_MAX);
                snprintf(m->failed[slot].label, sizeof(m->failed[slot].label), "%s", label);
                m->failed[slot].retry_at = now + FETCH_RETRY_MS;
                ss_warn("monitor",
                        "no card for registry version %s: %s; its predictions are counted "
                        "(sentistream_monitor_unknown_version_total) and kept out of every "
                        "window until it is fetched (asked again in %d s)",
                        label, err, FETCH_RETRY_MS / 1000);
                return 0;
        }
        if (slot >= 0)
                m->failed[slot] = m->failed[--m->nfailed];
        ss_counter_inc(m->c_fetch_ok);
        return 1;
}

/* ss_mcore_card_fn: a prediction of "<card version>@NAME/VERSION" without a card. */
static int card_for_prediction(void *opaque, const char *model_name, const char *model_version)
{
        ss_monitor_t *m = opaque;
        (void)model_name;
        const char *at = strchr(model_version, '@');
        const char *slash = at ? strrchr(at, '/') : NULL;
        if (!at || !slash || slash == at + 1 || !slash[1])
                return 0; /* not a registry version */
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(slash - at - 1), at + 1);
        return card_fetch(m, name, slash + 1);
}

/* Switches to the version an update names (ss_mcore_switch), the card fetched first when it
 * is not here; a tail update (published before the start) only when it is newer than what
 * the snapshot holds (ss_mcore_switch_if_newer). */
static void update_apply(ss_monitor_t *m, const char *name, const char *version,
                         const char *model_version, int64_t at_ms, int from_tail)
{
        if (!card_version_known(m, model_version))
                card_fetch(m, name, version);
        int known = from_tail ? ss_mcore_switch_if_newer(m->core, name, model_version, at_ms)
                              : ss_mcore_switch(m->core, name, model_version, at_ms);
        if (known < 0) {
                ss_info("monitor",
                        "model update before the start: %s version %s (%s) is "
                        "known already",
                        name, version, model_version);
                return;
        }
        if (!known)
                ss_warn("monitor",
                        "model update: no card of %s yet; the switch to it waits for the card",
                        model_version);
        ss_counter_inc(m->c_updates[known ? 0 : 1]);
}

/* Keeps u if it is the newest update of its model in the tail so far. */
static void tail_keep(ss_monitor_t *m, const ss_model_update_t *u)
{
        int i = 0;
        while (i < m->ntail && strcmp(m->tail[i].name, u->model_name.ptr))
                i++;
        if (i == TAIL_MODELS_MAX) {
                ss_warn("monitor",
                        "model update before the start: more than %d models; %s "
                        "left out",
                        TAIL_MODELS_MAX, u->model_name.ptr);
                return;
        }
        if (i < m->ntail && m->tail[i].at_ms > u->updated_at_ms)
                return;
        if (i == m->ntail)
                m->ntail++;
        snprintf(m->tail[i].name, sizeof(m->tail[i].name), "%s", u->model_name.ptr);
        snprintf(m->tail[i].version, sizeof(m->tail[i].version), "%s", u->version.ptr);
        snprintf(m->tail[i].model_version, sizeof(m->tail[i].model_version), "%s",
                 u->model_version.ptr);
        m->tail[i].at_ms = u->updated_at_ms;
}

/* Once the tail is read: applies its newest update of each model. */
static void tail_apply(ss_monitor_t *m)
{
        if (m->tail_applied || !ss_mupdate_reader_tail_done(m->updates))
                return;
        m->tail_applied = 1;
        for (int i = 0; i < m->ntail; i++)
                update_apply(m, m->tail[i].name, m->tail[i].version, m->tail[i].model_version,
                             m->tail[i].at_ms, 1);
        ss_info("monitor", "model updates before the start read (%d model%s); reading predictions",
                m->ntail, m->ntail == 1 ? "" : "s");
}

/* Reads the model updates that arrived: those published before the start are kept until
 * the tail is read (tail_apply), the others switch their model at once. */
static void updates_read(ss_monitor_t *m)
{
        char err[1024];
        for (int i = 0; m->updates && i < 64; i++) {
                ss_model_update_t u;
                ss_mupdate_poll_t r =
                    ss_mupdate_reader_poll(m->updates, m->serde, &u, err, sizeof(err));
                if (r == SS_MUPDATE_NONE)
                        break;
                if (r == SS_MUPDATE_BAD) {
                        ss_warn("monitor", "model update skipped: %s", err);
                        ss_counter_inc(m->c_updates[2]);
                        continue;
                }
                int before = ss_mupdate_reader_last_in_tail(m->updates);
                ss_info("monitor", "model update%s: %s@%s -> version %s (%s, %s)",
                        before ? " before the start" : "", u.model_name.ptr, u.alias.ptr,
                        u.version.ptr, u.model_version.ptr, u.reason.ptr);
                if (before && !m->tail_applied) {
                        tail_keep(m, &u);
                } else {
                        tail_apply(m); /* a live update: the tail is behind it */
                        update_apply(m, u.model_name.ptr, u.version.ptr, u.model_version.ptr,
                                     u.updated_at_ms, 0);
                }
                ss_model_update_clear(&u);
        }
        if (m->updates)
                tail_apply(m);
}

void ss_monitor_set_card_fetch(ss_monitor_t *m, ss_monitor_card_fetch_fn *fn, void *opaque)
{
        m->fetch_fn = fn;
        m->fetch_opaque = opaque;
}

/* ---- construction -------------------------------------------------------------------- */

static int card_version_known(const ss_monitor_t *m, const char *version)
{
        for (int i = 0; i < ss_mcore_ncards(m->core); i++)
                if (!strcmp(ss_mcore_card(m->core, i)->version, version))
                        return 1;
        return 0;
}

static int card_path_seen(ss_monitor_t *m, const char *path)
{
        for (size_t i = 0; i < m->ncard_paths; i++)
                if (!strcmp(m->card_paths[i], path))
                        return 1;
        char **np = realloc(m->card_paths, sizeof(char *) * (m->ncard_paths + 1));
        if (np) {
                m->card_paths = np;
                if ((np[m->ncard_paths] = strdup(path)))
                        m->ncard_paths++;
        }
        return 0;
}

/* Loads the cards named by the configuration that were not loaded yet. At start
 * (initial = 1) a card that does not parse is an error; later (a rescan picking up a
 * model deployed while the monitor runs) it is reported and skipped. A second card of a
 * version already monitored is skipped either way. */
static ss_err_t load_cards(ss_monitor_t *m, int initial, char *errstr, size_t errstr_size)
{
        char **paths;
        int n = ss_monitor_card_paths(m->c, &paths, errstr, errstr_size);
        if (n < 0)
                return initial ? SS_ERR_CONFIG : SS_OK;
        ss_err_t e = SS_OK;
        for (int i = 0; i < n; i++) {
                if (!e && !card_path_seen(m, paths[i])) {
                        char err[512];
                        ss_card_view_t *card = ss_card_view_load(paths[i], err, sizeof(err));
                        if (!card && initial)
                                e = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s", err);
                        else if (!card)
                                ss_warn("monitor", "card not loaded: %s", err);
                        else if (card_version_known(m, card->version)) {
                                ss_warn("monitor", "%s: version %s is already monitored: skipped",
                                        paths[i], card->version);
                                ss_card_view_destroy(card);
                        } else if ((e = ss_mcore_add_card(m->core, card, errstr, errstr_size)) ==
                                   SS_OK) {
                                ss_info("monitor",
                                        "monitoring %s version %s (%s, reference n=%lld, %d "
                                        "distributions) from %s",
                                        card->name, card->version, card->kind,
                                        (long long)card->ref_n, card->ndists - card->n_unknown,
                                        paths[i]);
                        }
                }
                free(paths[i]);
        }
        free(paths);
        return e;
}

/* Static group membership by default: the monitor is one active instance per group (its
 * snapshot and report in Redis are per group), so one stable member name per group, the group
 * id itself unless monitor.instance.id names another, lets a restarted monitor (after SIGTERM,
 * kill -9 or in a new pod) take the partitions over at once instead of waiting for the dead
 * member's session timeout. A second monitor started with the same name fences the first
 * (FENCED_INSTANCE_ID, fatal: it stops without writing state). kafka.group.instance.id, when
 * set, wins. The consumer conf only: the producer has no use for the key. */
static ss_err_t kafka_static_member(ss_monitor_t *m, rd_kafka_conf_t *conf, char *errstr,
                                    size_t errstr_size)
{
        if (ss_config_origin(m->c, "kafka.group.instance.id")) {
                m->instance = ss_config_get_str(m->c, "kafka.group.instance.id");
                return SS_OK;
        }
        if (!ss_config_get_bool(m->c, "monitor.static.membership"))
                return SS_OK;
        const char *id = ss_config_get_str(m->c, "monitor.instance.id");
        m->instance = *id ? id : m->group;
        return ss_kafka_conf_set(conf, "group.instance.id", m->instance, "monitor.instance.id",
                                 errstr, errstr_size);
}

static ss_err_t kafka_setup(ss_monitor_t *m, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf =
            ss_kafka_conf_new(m->c, SS_KAFKA_CONSUMER, m->group, errstr, errstr_size);
        if (!conf)
                return SS_ERR_CONFIG;
        if (kafka_static_member(m, conf, errstr, errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return SS_ERR_CONFIG;
        }
        rd_kafka_conf_set_opaque(conf, m);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        m->consumer = ss_kafka_consumer_new(conf, errstr, errstr_size);
        if (!m->consumer)
                return SS_ERR_KAFKA;
        if (ss_kafka_auth_check(m->consumer, m->c, SS_KAFKA_AUTH_CHECK_MS, errstr, errstr_size))
                return SS_ERR_KAFKA;
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, m->topic_pred, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t ke = rd_kafka_subscribe(m->consumer, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (ke)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "subscribe to %s: %s",
                                  m->topic_pred, rd_kafka_err2str(ke));
        if (ss_config_get_bool(m->c, "monitor.follow") &&
            !(m->updates =
                  ss_mupdate_reader_new(m->c, m->group, SS_MUPDATE_FROM_TAIL, errstr, errstr_size)))
                return SS_ERR_KAFKA;
        rd_kafka_conf_t *pconf =
            ss_kafka_conf_new(m->c, SS_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        if (!pconf)
                return SS_ERR_CONFIG;
        m->producer = ss_producer_new(pconf, dr_cb, m, errstr, errstr_size);
        return m->producer ? SS_OK : SS_ERR_KAFKA;
}

/* ss_metrics_ready_fn, on the metrics endpoint's thread. */
static int monitor_ready(void *opaque, char *why, size_t why_size)
{
        ss_monitor_t *m = opaque;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t err = rd_kafka_assignment(m->consumer, &parts);
        int assigned = !err && parts ? parts->cnt : 0;
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (!assigned) {
                snprintf(why, why_size, "no partitions of %s assigned", m->topic_pred);
                return 0;
        }
        if (!m->g_redis_up || ss_metrics_value(m->g_redis_up) < 1) {
                snprintf(why, why_size, "Redis unreachable");
                return 0;
        }
        return 1;
}

/* Waits for Redis at start: the snapshot and the sent ids decide where to resume. */
static ss_err_t redis_wait(ss_monitor_t *m, volatile sig_atomic_t *stop, char *errstr,
                           size_t errstr_size)
{
        double last_log = 0;
        for (;;) {
                if (ss_mstate_ensure(m->redis, errstr, errstr_size) == SS_OK)
                        return SS_OK;
                if (stop && *stop)
                        return SS_ERR_REDIS;
                if (ss_time_mono() - last_log > 10) {
                        ss_warn("monitor", "waiting for Redis before starting: %s", errstr);
                        last_log = ss_time_mono();
                }
                usleep(100 * 1000);
        }
}

static ss_err_t restore_state(ss_monitor_t *m, char *errstr, size_t errstr_size)
{
        ss_err_t e = snapshot_load(m, errstr, errstr_size);
        if (e)
                return e;
        for (int i = 0; i < ss_mcore_nnames(m->core); i++) {
                char key[300];
                snprintf(key, sizeof(key), "monitor:sent:%s", ss_mcore_name(m->core, i));
                e = ss_mstate_smembers(m->redis, key, sent_cb, m->core, errstr, errstr_size);
                if (e)
                        return e;
        }
        return SS_OK;
}

ss_monitor_t *ss_monitor_new(const ss_config_t *c, const char *schema_dir, char *errstr,
                             size_t errstr_size)
{
        ss_monitor_t *m = calloc(1, sizeof(*m));
        if (!m) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        m->c = c;
        m->topic_pred = ss_config_get_str(c, "topics.output");
        m->topic_retrain = ss_config_get_str(c, "topics.retrain");
        m->group = ss_config_get_str(c, "monitor.group.id");
        m->labels_batch = (size_t)ss_config_get_int(c, "monitor.labels.batch");
        m->snapshot_every_ms = ss_config_get_int(c, "monitor.snapshot.interval.ms");
        m->report_every_ms = ss_config_get_int(c, "monitor.report.interval.ms");
        snprintf(m->snap_key, sizeof(m->snap_key), "monitor:snapshot:%s", m->group);
        snprintf(m->labels_last_id, sizeof(m->labels_last_id), "0");
        ss_mbuf_init(&m->snap);
        m->consumed = rd_kafka_topic_partition_list_new(8);

        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        m->serde = ss_serde_new(schema_dir, &ids, 0, errstr, errstr_size);
        if (!m->serde)
                goto fail;
        m->metrics = ss_metrics_new();
        ss_mcore_config_t mc;
        ss_mcore_config_from(&mc, c);
        m->core = ss_mcore_new(&mc, m->serde, m->metrics, errstr, errstr_size);
        if (!m->metrics || !m->core || load_cards(m, 1, errstr, errstr_size))
                goto fail;
        m->g_redis_up = ss_metrics_gauge(m->metrics, "sentistream_monitor_redis_up",
                                         "1 while Redis answers", NULL, NULL, 0);
        m->c_kafka_errors =
            ss_metrics_counter(m->metrics, "sentistream_monitor_kafka_errors_total",
                               "consumer errors reported by librdkafka", NULL, NULL, 0);
        m->c_snapshots = ss_metrics_counter(m->metrics, "sentistream_monitor_snapshots_total",
                                            "state snapshots saved to Redis", NULL, NULL, 0);
        if (ss_config_get_bool(c, "monitor.follow")) {
                static const char *const fetch_help =
                    "cards of registry versions fetched from tracking.uri, by result";
                m->c_fetch_ok =
                    ss_metrics_counter(m->metrics, "sentistream_monitor_card_fetch_total",
                                       fetch_help, (const char *[]){"result", "ok", NULL}, NULL, 0);
                m->c_fetch_err = ss_metrics_counter(
                    m->metrics, "sentistream_monitor_card_fetch_total", fetch_help,
                    (const char *[]){"result", "error", NULL}, NULL, 0);
                static const char *const upd[3] = {"switched", "waiting_for_card", "bad"};
                for (int i = 0; i < 3; i++)
                        m->c_updates[i] = ss_metrics_counter(
                            m->metrics, "sentistream_monitor_model_updates_total",
                            "model updates read, by result (switched: the model now judged on the "
                            "version named; waiting_for_card: switched once its card is here; "
                            "bad: undecodable)",
                            (const char *[]){"result", upd[i], NULL}, NULL, 0);
                ss_mcore_set_card_fn(m->core, card_for_prediction, m);
        }
        /* The fixed drift thresholds, so that alerts and dashboards compare the statistics
         * with what this monitor was configured with. */
        static const char *const stats[][2] = {
            {"psi", "monitor.psi.threshold"},
            {"kl", "monitor.kl.threshold"},
            {"label_shift_psi", "monitor.label_shift.psi.threshold"},
            {"label_shift_kl", "monitor.label_shift.kl.threshold"}};
        for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
                ss_gauge_set(ss_metrics_gauge(m->metrics, "sentistream_monitor_drift_threshold",
                                              "fixed drift threshold of a statistic "
                                              "(monitor.psi.threshold, monitor.kl.threshold, "
                                              "monitor.label_shift.*.threshold)",
                                              (const char *[]){"statistic", stats[i][0], NULL},
                                              NULL, 0),
                             ss_config_get_double(c, stats[i][1]));
        m->redis = ss_mstate_new(ss_config_get_str(c, "redis.host"),
                                 (int)ss_config_get_int(c, "redis.port"),
                                 (int)ss_config_get_int(c, "redis.timeout.ms"),
                                 (int)ss_config_get_int(c, "redis.backoff.max.ms"),
                                 ss_config_get_str(c, "redis.prefix"));
        if (!m->redis || ss_mstate_security_from(m->redis, c) != SS_OK) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        int port = (int)ss_config_get_int(c, "monitor.metrics.port");
        if (port > 0 &&
            ss_metrics_serve_on(m->metrics, ss_config_get_str(c, "monitor.metrics.bind"), port,
                                errstr, errstr_size))
                goto fail;
        return m;
fail:
        ss_monitor_destroy(m);
        return NULL;
}

/* Leaves the group within a bound: rd_kafka_consumer_close() can wait for ever for a broker
 * that went away. The revocation on the way still saves a snapshot (if Redis answers). */
static void consumer_close(rd_kafka_t *rk, int timeout_ms)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(rk, q);
        if (e) {
                ss_warn("monitor", "closing the consumer: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        } else {
                double until = ss_time_mono() + timeout_ms / 1000.0;
                while (!rd_kafka_consumer_closed(rk) && ss_time_mono() < until)
                        rd_kafka_queue_poll_callback(q, 100);
                if (!rd_kafka_consumer_closed(rk))
                        ss_warn("monitor",
                                "consumer not closed within %d ms (broker away?): "
                                "leaving without it",
                                timeout_ms);
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void ss_monitor_destroy(ss_monitor_t *m)
{
        if (!m)
                return;
        if (m->metrics) /* the readiness check reads the consumer */
                ss_metrics_ready_set(m->metrics, NULL, NULL);
        if (m->consumer)
                consumer_close(m->consumer, 10000);
        ss_mupdate_reader_destroy(m->updates);
        if (m->producer)
                ss_producer_destroy(m->producer, 5000);
        ss_mcore_destroy(m->core);
        ss_metrics_destroy(m->metrics);
        ss_serde_destroy(m->serde);
        ss_mstate_destroy(m->redis);
        if (m->consumed)
                rd_kafka_topic_partition_list_destroy(m->consumed);
        if (m->restore)
                rd_kafka_topic_partition_list_destroy(m->restore);
        for (size_t i = 0; i < m->nunrecorded; i++)
                free(m->unrecorded[i]);
        for (size_t i = 0; i < m->ncard_paths; i++)
                free(m->card_paths[i]);
        free(m->card_paths);
        free(m->unrecorded);
        ss_mbuf_free(&m->snap);
        free(m);
}

/* ---- the loop ------------------------------------------------------------------------ */

static void housekeeping(ss_monitor_t *m, int64_t now)
{
        if (now >= m->next_tick) {
                ss_mcore_tick(m->core, now);
                m->next_tick = now + 1000;
        }
        if (now >= m->next_rescan) {
                char err[512];
                if (load_cards(m, 0, err, sizeof(err)))
                        ss_warn("monitor", "card rescan: %s", err);
                m->next_rescan = now + CARD_RESCAN_MS;
        }
        events_step(m, now);
        if (ss_mstate_up(m->redis) || ss_mstate_ensure(m->redis, NULL, 0) == SS_OK) {
                record_pending(m);
                if (now >= m->next_report) {
                        reports_write(m);
                        m->next_report = now + m->report_every_ms;
                }
                if (now >= m->next_snapshot && snapshot_save(m) == SS_OK)
                        m->next_snapshot = now + m->snapshot_every_ms;
        }
        if (m->g_redis_up)
                ss_gauge_set(m->g_redis_up, ss_mstate_up(m->redis));
}

static void shutdown_flush(ss_monitor_t *m)
{
        double until = ss_time_mono() + 5;
        while (ss_mcore_events_pending(m->core) && ss_time_mono() < until) {
                events_step(m, ss_time_now_ms());
                ss_producer_poll(m->producer, 50);
        }
        if (ss_mcore_events_pending(m->core))
                ss_warn("monitor",
                        "%zu retraining events not delivered at shutdown; the "
                        "snapshot is not updated so they fire again after a restart",
                        ss_mcore_events_pending(m->core));
        ss_mcore_report_touch(m->core); /* the final counters, even without a new evaluation */
        reports_write(m);
        /* the snapshot's offsets are what a restart resumes from; its commit is
         * asynchronous (a synchronous one could hang on a broker that went away) */
        snapshot_save(m);
}

ss_err_t ss_monitor_run(ss_monitor_t *m, volatile sig_atomic_t *stop, char *errstr,
                        size_t errstr_size)
{
        ss_err_t e = redis_wait(m, stop, errstr, errstr_size);
        if (e)
                return stop && *stop ? SS_OK : e;
        if ((e = restore_state(m, errstr, errstr_size)) ||
            (e = kafka_setup(m, errstr, errstr_size)))
                return e;
        sent_reconcile(m, stop);
        ss_metrics_ready_set(m->metrics, monitor_ready, m);
        ss_info("monitor", "reading %s (group %s, %s%s), labels from Redis, events to %s",
                m->topic_pred, m->group, m->instance ? "static member " : "dynamic member",
                m->instance ? m->instance : "", m->topic_retrain);
        int64_t now = ss_time_now_ms();
        m->next_snapshot = now + m->snapshot_every_ms;
        m->next_rescan = now + CARD_RESCAN_MS;
        while (!(stop && *stop)) {
                updates_read(m);
                if (m->updates && !m->tail_applied) { /* predictions wait for the tail */
                        usleep(20 * 1000);
                        continue;
                }
                consume_batch(m, 100);
                if (ss_mstate_up(m->redis))
                        read_labels(m);
                housekeeping(m, ss_time_now_ms());
                if (ss_kafka_fatal_check(m->consumer, "monitor consumer"))
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                          "fatal consumer error");
        }
        ss_info("monitor", "stopping: %llu predictions, %llu labels, %llu events",
                (unsigned long long)ss_mcore_stats(m->core)->predictions,
                (unsigned long long)ss_mcore_stats(m->core)->labels,
                (unsigned long long)ss_mcore_stats(m->core)->events);
        shutdown_flush(m);
        return SS_OK;
}
