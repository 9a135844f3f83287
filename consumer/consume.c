/*
 * consume: the consume-score-produce loop, shaped like librdkafka's
 * examples/transactions.c. One thread runs the loop, one batch at a time:
 *
 *   collect   poll up to consumer.batch.size messages or consumer.batch.max.bytes
 *             of input, waiting at most consumer.batch.timeout.ms once the first
 *             one arrived; each message is entered in the sink's ledger as it is
 *             polled, so a rebalance inside the poll sees exactly what is in hand;
 *   decode    Avro (Confluent framing) or JSON into a Tweet; what cannot be
 *             decoded, or has an id over consumer.max.id.bytes, keeps its error
 *             code and message for a dead letter (which carries at most
 *             dlq.max.raw.bytes of the input, with its size and sha256);
 *   score     one ss_model_score_batch() over the good tweets;
 *   emit      a Prediction per scored tweet, a DeadLetter per bad input,
 *             through the sink (at-least-once or, with
 *             consumer.delivery=exactly_once, in transactions: see sink.h); an
 *             output the broker refuses for good comes back through the sink's
 *             reject callback and is replaced by a dead letter;
 *   end       the sink serves delivery reports, stores and commits offsets
 *             (or commits the transaction when it is due); large decode buffers
 *             are released; metrics are updated once per batch.
 *
 * With consumer.score.threads above 1 the loop is a two-stage pipeline: the
 * scoring runs on worker threads (pool.h), and while they score batch k the
 * loop emits batch k-1 and collects and decodes batch k+1. Two batch buffers
 * alternate. Batches are still emitted in order, and the ledger (entered at
 * collect) stays the only record of what may be committed, so the delivery
 * guarantee holds as before; a batch is at most one turn late. A batch whose
 * scores are in while the next one is still being collected is emitted at
 * once, from the collect loop, so that at low input rates the pipeline does
 * not add a batch.timeout.ms wait to every tweet's latency.
 *
 * Between batches: a requested or detected model reload (the batch being
 * scored is emitted first, under the model that scored it), and the lag
 * gauges. Partitions revoked while a batch is in hand are not produced for
 * (their next owner starts from the committed offset), which keeps a
 * rebalance from creating duplicates. A scoring error (not expected from a
 * loaded model) is retried tweet by tweet, and a tweet that still fails goes
 * to the dead-letter topic with the error, so that one input cannot stall the
 * stream.
 *
 * Readiness (/readyz on the metrics port) is answered from the endpoint's
 * thread: a model is loaded (or passthrough), partitions are assigned
 * (rd_kafka_assignment) and a broker answers a metadata request within a
 * second; all three are thread-safe reads of librdkafka's state.
 */
#include "consume.h"
#include "modelsrc.h"

#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"
#include "pool.h"
#include "sink.h"
#include "watermarks.h"
#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_metrics.h"
#include "ss_mupdate.h"
#include "ss_ratelog.h"
#include "ss_serde.h"
#include "ss_stop.h"
#include "ss_util.h"

static volatile sig_atomic_t ss_consume_reload_flag;

void ss_consume_request_reload(void)
{
        ss_consume_reload_flag = 1;
}

/* One consumed message of the batch in hand. */
typedef struct ss_item {
        rd_kafka_message_t *rkm;
        ss_ledger_entry_t *entry;
        ss_err_t err;     /* SS_OK: tweet decoded; else why it goes to the dead-letter topic */
        char why[256];    /* the decoder's message when err != SS_OK */
        ss_tweet_t tweet; /* decoded tweet; its strings live in its own storage */
        int scored;       /* index into the batch's score arrays, -1 if not scored */
} ss_item_t;

/* A batch: its messages and the arrays of its one scoring call, allocated once. */
typedef struct ss_batch {
        ss_item_t *items; /* [batch_size] */
        size_t n_items;
        const char **texts;      /* [batch_size] texts of the decodable tweets */
        size_t *lens;            /* [batch_size] */
        float *probs;            /* [batch_size][SS_NUM_CLASSES] */
        ss_input_stats_t *stats; /* [batch_size] */
        size_t n_texts;          /* texts handed to the model */
        size_t bytes;            /* input bytes (keys and values) of items */
} ss_batch_t;

/* The consumer_lag gauge of one partition. */
typedef struct ss_lag_gauge {
        char *topic;
        int32_t partition;
        ss_gauge_t *gauge;
        int64_t committed;   /* the group's committed offset at assignment */
        int committed_known; /* committed was fetched */
        struct ss_lag_gauge *next;
} ss_lag_gauge_t;

typedef struct ss_consume_metrics {
        ss_counter_t *consumed, *scored, *produce_errors;
        ss_counter_t *txn_commits, *txn_aborts; /* exactly-once */
        ss_histogram_t *txn_commit_seconds;     /* exactly-once */
        ss_counter_t *dead[SS_ERR__COUNT];      /* by reason, created on first use */
        ss_histogram_t *batch_size, *scoring_seconds, *end_to_end_seconds;
        ss_gauge_t *model_info;
        ss_gauge_t *registry_version; /* models:/NAME@ALIAS: the registry version served */
        ss_lag_gauge_t *lag;
} ss_consume_metrics_t;

struct ss_consume {
        /* configuration */
        const char *topic_in, *topic_out, *topic_dlq;
        int batch_size, batch_timeout_ms, lag_interval_ms, watch, watch_interval_ms;
        int json_input, passthrough;
        int64_t created_min, created_max; /* accepted created_at, ms: [min, max) */
        int exactly_once;                 /* consumer.delivery=exactly_once */
        size_t max_id_bytes;              /* consumer.max.id.bytes */
        size_t dlq_max_raw;               /* dlq.max.raw.bytes */
        size_t batch_max_bytes;           /* consumer.batch.max.bytes */
        int pipelined;                    /* score on workers while the next batch is collected */
        char *model_path;
        ss_modelsrc_t *src; /* the model path, or a registry model resolved into a cache */
        int poll_ms;        /* consumer.model.poll.ms (alias sources only; 0 = never) */
        ss_mupdate_reader_t *updates; /* model updates of an alias source, or NULL */

        /* collaborators */
        rd_kafka_t *consumer;
        ss_sink_t *sink;
        ss_serde_t *serde;
        ss_model_t *model;
        ss_pool_t *pool; /* scoring threads over model; NULL in passthrough mode */
        ss_metrics_t *metrics;
        ss_consume_metrics_t m;
        ss_ratelog_t *dead_log; /* one dead-letter line per reason per interval */
        atomic_int model_ready; /* a model is serving (read by the readiness check) */

        /* two batches: one being collected, the other being scored (pipelined) or idle */
        ss_batch_t batch[2];
        ss_batch_t *collecting;   /* the batch the next collect fills */
        ss_batch_t *scoring;      /* started and not yet emitted, or NULL */
        ss_serde_buf_t out;       /* encoded output message */
        ss_serde_buf_t dl_out;    /* encoded dead letter (apart: a refused output may be in out) */
        rd_kafka_message_t *held; /* polled, over the byte bound of the last batch: the next
                                     batch's first message (entered in the ledger already) */
        ss_ledger_entry_t *held_entry;

        /* between batches */
        double next_lag, next_watch, next_poll;
        ss_watermarks_t *wm;                        /* the brokers' high watermarks */
        rd_kafka_topic_partition_list_t *lag_parts; /* partitions of the lag refresh */
        struct stat model_st;                       /* model file as last loaded or checked */
        int closed;
};

/* ---- metrics ---------------------------------------------------------------------- */

static const double ss_batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
static const double ss_scoring_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
static const double ss_e2e_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                       0.5,   1,      2.5,   5,    10,    30,   60};

#define SS_N(a) (sizeof(a) / sizeof((a)[0]))

static ss_err_t ss_consume_metrics_init(ss_consume_t *s, char *errstr, size_t errstr_size)
{
        ss_metrics_t *r = s->metrics;
        ss_consume_metrics_t *m = &s->m;
        m->consumed = ss_metrics_counter(r, "sentistream_consumed_total",
                                         "Input messages consumed.", NULL, errstr, errstr_size);
        m->scored = ss_metrics_counter(r, "sentistream_scored_total",
                                       "Tweets scored and handed to the producer.", NULL, errstr,
                                       errstr_size);
        m->produce_errors =
            ss_metrics_counter(r, "sentistream_produce_errors_total",
                               "Outputs whose produce or delivery failed (each is re-produced).",
                               NULL, errstr, errstr_size);
        m->batch_size =
            ss_metrics_histogram(r, "sentistream_batch_size", "Messages per consumed batch.",
                                 ss_batch_bounds, SS_N(ss_batch_bounds), NULL, errstr, errstr_size);
        m->scoring_seconds = ss_metrics_histogram(
            r, "sentistream_scoring_seconds", "Seconds per ss_model_score_batch call.",
            ss_scoring_bounds, SS_N(ss_scoring_bounds), NULL, errstr, errstr_size);
        m->end_to_end_seconds =
            ss_metrics_histogram(r, "sentistream_end_to_end_seconds",
                                 "Seconds from a tweet's created_at to its scored_at.",
                                 ss_e2e_bounds, SS_N(ss_e2e_bounds), NULL, errstr, errstr_size);
        m->txn_commits =
            ss_metrics_counter(r, "sentistream_transactions_total",
                               "Transactions ended, by result (exactly-once delivery only).",
                               (const char *[]){"result", "commit", NULL}, errstr, errstr_size);
        m->txn_aborts =
            ss_metrics_counter(r, "sentistream_transactions_total", "",
                               (const char *[]){"result", "abort", NULL}, errstr, errstr_size);
        m->txn_commit_seconds = ss_metrics_histogram(
            r, "sentistream_transaction_commit_seconds",
            "Seconds the loop was blocked committing one transaction: its offsets, the flush of "
            "its outputs, the commit (exactly-once delivery only).",
            ss_scoring_bounds, SS_N(ss_scoring_bounds), NULL, errstr, errstr_size);
        /* Families that get their series later are declared now, so that a scrape shows
         * them from the start (HELP and TYPE lines). */
        ss_metrics_counter(r, "sentistream_model_reload_total",
                           "Model reloads by result (ok, error).",
                           (const char *[]){"result", "ok", NULL}, errstr, errstr_size);
        ss_metrics_counter(r, "sentistream_model_reload_total", "",
                           (const char *[]){"result", "error", NULL}, errstr, errstr_size);
        /* A metric that cannot be registered was logged by the registry and counts nothing
         * (ss_metrics.h): metrics never stop the scorer. */
        return SS_OK;
}

static void ss_consume_count_dead(ss_consume_t *s, ss_err_t err)
{
        if ((unsigned)err >= SS_ERR__COUNT)
                err = SS_ERR_DECODE;
        if (!s->m.dead[err]) {
                char e[256];
                s->m.dead[err] = ss_metrics_counter(
                    s->metrics, "sentistream_dead_lettered_total",
                    "Inputs sent to the dead-letter topic, by reason.",
                    (const char *[]){"reason", ss_err2name(err), NULL}, e, sizeof(e));
        }
        ss_counter_inc(s->m.dead[err]);
}

/* sentistream_model_info{name,version,kind} 1 for the model serving now. */
static void ss_consume_model_info(ss_consume_t *s)
{
        if (s->m.model_info)
                ss_metrics_remove(s->metrics, s->m.model_info);
        char e[256];
        const char *name = s->model ? ss_model_name(s->model) : "passthrough";
        const char *version = s->model ? ss_modelsrc_version(s->src) : "none";
        const char *kind = s->model ? ss_model_kind(s->model) : "passthrough";
        s->m.model_info = ss_metrics_gauge(
            s->metrics, "sentistream_model_info", "The model serving now (value 1).",
            (const char *[]){"name", name, "version", version, "kind", kind, NULL}, e, sizeof(e));
        ss_gauge_set(s->m.model_info, 1);
        const char *rname, *alias;
        if (s->model && ss_modelsrc_alias(s->src, &rname, &alias)) {
                if (!s->m.registry_version)
                        s->m.registry_version = ss_metrics_gauge(
                            s->metrics, "sentistream_model_registry_version",
                            "Registry version number of the model served for models:/NAME@ALIAS.",
                            (const char *[]){"name", rname, "alias", alias, NULL}, e, sizeof(e));
                ss_gauge_set(s->m.registry_version,
                             strtod(ss_modelsrc_served_version(s->src), NULL));
        }
}

static void ss_consume_lag_remove(ss_consume_t *s, const char *topic, int32_t partition)
{
        for (ss_lag_gauge_t **pp = &s->m.lag; *pp; pp = &(*pp)->next) {
                ss_lag_gauge_t *g = *pp;
                if (g->partition == partition && !strcmp(g->topic, topic)) {
                        *pp = g->next;
                        ss_metrics_remove(s->metrics, g->gauge);
                        free(g->topic);
                        free(g);
                        return;
                }
        }
}

static ss_lag_gauge_t *ss_consume_lag_gauge(ss_consume_t *s, const char *topic, int32_t partition)
{
        for (ss_lag_gauge_t *g = s->m.lag; g; g = g->next)
                if (g->partition == partition && !strcmp(g->topic, topic))
                        return g;
        ss_lag_gauge_t *g = calloc(1, sizeof(*g));
        if (!g || !(g->topic = strdup(topic))) {
                free(g);
                return NULL;
        }
        char p[16], e[256];
        snprintf(p, sizeof(p), "%d", (int)partition);
        g->partition = partition;
        g->committed = RD_KAFKA_OFFSET_INVALID;
        g->gauge =
            ss_metrics_gauge(s->metrics, "sentistream_consumer_lag",
                             "Messages behind the broker's high watermark, counted from the "
                             "committable offset; NaN while the broker does not answer.",
                             (const char *[]){"topic", topic, "partition", p, NULL}, e, sizeof(e));
        g->next = s->m.lag;
        s->m.lag = g;
        return g;
}

/* How old a watermark may be for the lag gauge: two refreshes and one bounded ask. */
#define SS_CONSUME_LAG_ASK_MS 5000
#define SS_CONSUME_LAG_MAX_AGE(s)                                                                  \
        (2.0 * (s)->lag_interval_ms / 1000.0 + SS_CONSUME_LAG_ASK_MS / 1000.0)

/* The group's committed offset of a partition nothing was consumed from yet: asked from the
 * broker once per assignment (a blocking call, bounded), then kept. */
static int64_t ss_consume_lag_committed(ss_consume_t *s, ss_lag_gauge_t *g, int64_t lo)
{
        if (!g->committed_known) {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, g->topic, g->partition);
                if (!rd_kafka_committed(s->consumer, l, 2000) && !l->elems[0].err) {
                        g->committed = l->elems[0].offset;
                        g->committed_known = 1;
                }
                rd_kafka_topic_partition_list_destroy(l);
        }
        if (!g->committed_known)
                return -1;
        /* nothing committed yet: auto.offset.reset=earliest starts at the low watermark */
        return g->committed >= 0 ? g->committed : lo;
}

static void ss_consume_lag_one(const char *topic, int32_t partition, int64_t committable,
                               int64_t last_entered, void *opaque)
{
        ss_consume_t *s = opaque;
        ss_lag_gauge_t *g = ss_consume_lag_gauge(s, topic, partition);
        if (!g)
                return;
        rd_kafka_topic_partition_list_add(s->lag_parts, topic, partition);
        /* The broker's answer from the last rounds (watermarks.h); without one the lag is
         * unknown (NaN), never a figure from before a broker restart. */
        int64_t lo, hi;
        if (!ss_watermarks_get(s->wm, topic, partition, SS_CONSUME_LAG_MAX_AGE(s), &lo, &hi)) {
                ss_gauge_set(g->gauge, NAN);
                return;
        }
        int64_t base = committable;
        if (base < 0 && last_entered >= 0)
                base = last_entered; /* the first message entered is not done yet */
        else if (base < 0)
                base = ss_consume_lag_committed(s, g, lo);
        if (base >= 0)
                ss_gauge_set(g->gauge, (double)(hi > base ? hi - base : 0));
}

/* Refreshes the lag gauges every consumer.lag.interval.ms (not every batch) from the
 * watermarks the broker gave, and asks it again for the partitions assigned now. */
static void ss_consume_lag_update(ss_consume_t *s)
{
        double now = ss_time_mono();
        if (now < s->next_lag || !s->wm)
                return;
        s->next_lag = now + s->lag_interval_ms / 1000.0;
        s->lag_parts = rd_kafka_topic_partition_list_new(8);
        ss_sink_foreach_assigned(s->sink, ss_consume_lag_one, s);
        ss_watermarks_refresh(s->wm, s->lag_parts);
        rd_kafka_topic_partition_list_destroy(s->lag_parts);
        s->lag_parts = NULL;
}

/* ---- model reload ------------------------------------------------------------------ */

static int ss_consume_stat_changed(const struct stat *a, const struct stat *b)
{
        return a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
               a->st_mtim.tv_nsec != b->st_mtim.tv_nsec || a->st_ino != b->st_ino;
}

static void ss_consume_drain(ss_consume_t *s);

static void ss_consume_reload_count(ss_consume_t *s, const char *result)
{
        char e[256];
        ss_counter_inc(ss_metrics_counter(s->metrics, "sentistream_model_reload_total", "",
                                          (const char *[]){"result", result, NULL}, e, sizeof(e)));
}

/* Loads the file the source resolved to last and swaps it in, once the batch being scored
 * is emitted under the old model. On failure the serving model stays: -1. */
static int ss_consume_model_swap(ss_consume_t *s, const char *why)
{
        char err[1024];
        struct stat st;
        char *path = strdup(ss_modelsrc_path(s->src));
        if (!path) {
                ss_error("consume", "model reload (%s) refused, keeping %s: out of memory", why,
                         ss_model_version(s->model));
                ss_consume_reload_count(s, "error");
                return -1;
        }
        free(s->model_path);
        s->model_path = path;
        if (stat(s->model_path, &st) == 0)
                s->model_st = st;
        ss_model_t *m = ss_model_load(s->model_path, err, sizeof(err));
        if (!m) {
                ss_error("consume", "model reload (%s) refused, keeping %s: %s", why,
                         ss_model_version(s->model), err);
                ss_consume_reload_count(s, "error");
                return -1;
        }
        ss_consume_drain(s); /* the batch out was scored by the old model: emit it as such */
        if (ss_pool_set_model(s->pool, m, err, sizeof(err)) != SS_OK) {
                ss_error("consume", "model reload (%s) refused, keeping %s: %s", why,
                         ss_model_version(s->model), err);
                ss_model_destroy(m);
                ss_consume_reload_count(s, "error");
                return -1;
        }
        char before[512];
        snprintf(before, sizeof(before), "%s", ss_modelsrc_version(s->src));
        ss_model_destroy(s->model); /* the pool's forks of it are gone already */
        s->model = m;
        ss_modelsrc_loaded(s->src, m);
        ss_info("consume", "model reload (%s): %s %s -> %s", why, ss_model_name(m), before,
                ss_modelsrc_version(s->src));
        ss_consume_model_info(s);
        ss_consume_reload_count(s, "ok");
        return 0;
}

/* Resolves the source again and loads it; on failure the serving model stays. Between
 * batches only. */
static void ss_consume_model_reload(ss_consume_t *s, const char *why)
{
        char err[1024];
        if (ss_modelsrc_resolve(s->src, err, sizeof(err))) {
                ss_error("consume", "model reload (%s) refused, keeping %s: %s", why,
                         ss_model_version(s->model), err);
                ss_consume_reload_count(s, "error");
                return;
        }
        ss_consume_model_swap(s, why);
}

static void ss_consume_follow_count(ss_consume_t *s, const char *cause, const char *result)
{
        char e[256];
        ss_counter_inc(ss_metrics_counter(s->metrics, "sentistream_model_follow_total", "",
                                          (const char *[]){"cause", cause, "result", result, NULL},
                                          e, sizeof(e)));
}

/*
 * Follows the alias: resolves it, and swaps when it names another file than the one served.
 * u: the model update that asked (its version's sha256 must be the registry's), or NULL
 * for the periodic poll. When the registry cannot be reached the serving model stays (the
 * next poll tries again).
 */
static void ss_consume_model_follow(ss_consume_t *s, const char *cause, const char *want_version,
                                    const char *want_sha256)
{
        char err[1024], why[400];
        if (ss_modelsrc_resolve(s->src, err, sizeof(err))) {
                ss_error("consume", "model %s: cannot resolve the alias, keeping %s: %s", cause,
                         ss_modelsrc_version(s->src), err);
                ss_consume_follow_count(s, cause, "error");
                return;
        }
        const ss_modelreg_pick_t *p = ss_modelsrc_pick(s->src);
        if (p->from_cache) {
                ss_error("consume",
                         "model %s: the registry is unreachable (%s), keeping %s; the alias is "
                         "resolved again at the next poll",
                         cause, p->registry_err, ss_modelsrc_version(s->src));
                ss_consume_follow_count(s, cause, "error");
                return;
        }
        if (want_version && !strcmp(p->version, want_version) && want_sha256 &&
            strcasecmp(p->sha256, want_sha256)) {
                ss_error("consume",
                         "model update for %s: sha256 %.12s... named by the update, the "
                         "registry's file has %.12s...: refused, keeping %s",
                         p->label, want_sha256, p->sha256, ss_modelsrc_version(s->src));
                ss_consume_follow_count(s, cause, "sha256_mismatch");
                return;
        }
        if (want_version && strcmp(p->version, want_version))
                ss_warn("consume",
                        "model update names version %s, the alias points at %s now: following "
                        "the alias",
                        want_version, p->label);
        if (!strcmp(p->sha256, ss_modelsrc_served_sha256(s->src))) {
                if (want_version)
                        ss_info("consume", "model update: %s is served already", p->label);
                ss_consume_follow_count(s, cause, "unchanged");
                return;
        }
        snprintf(why, sizeof(why), "%s: %s", cause, p->label);
        ss_consume_follow_count(s, cause, ss_consume_model_swap(s, why) ? "error" : "swapped");
}

/* Reads the model updates that arrived; the last one for our NAME@ALIAS is followed. */
static void ss_consume_updates_check(ss_consume_t *s)
{
        const char *name, *alias;
        if (!ss_modelsrc_alias(s->src, &name, &alias))
                return;
        char err[1024], version[64] = "", sha256[80] = "";
        int want = 0;
        for (int i = 0; i < 64; i++) {
                ss_model_update_t u;
                ss_mupdate_poll_t r =
                    ss_mupdate_reader_poll(s->updates, s->serde, &u, err, sizeof(err));
                if (r == SS_MUPDATE_NONE)
                        break;
                if (r == SS_MUPDATE_BAD) {
                        ss_error("consume", "model update refused, keeping %s: %s",
                                 ss_modelsrc_version(s->src), err);
                        ss_consume_follow_count(s, "update", "bad_update");
                        continue;
                }
                if (!strcmp(u.model_name.ptr, name) && !strcmp(u.alias.ptr, alias)) {
                        ss_info(
                            "consume",
                            "model update: %s@%s -> version %s (sha256 %.12s..., reason %s%s%s)",
                            u.model_name.ptr, u.alias.ptr, u.version.ptr, u.sha256.ptr,
                            u.reason.ptr, u.event_id.ptr ? ", event " : "",
                            u.event_id.ptr ? u.event_id.ptr : "");
                        snprintf(version, sizeof(version), "%s", u.version.ptr);
                        snprintf(sha256, sizeof(sha256), "%s", u.sha256.ptr);
                        want = 1;
                } else {
                        ss_consume_follow_count(s, "update", "other_model");
                }
                ss_model_update_clear(&u);
        }
        if (want)
                ss_consume_model_follow(s, "update", version, sha256);
}

static void ss_consume_model_check(ss_consume_t *s)
{
        if (s->passthrough)
                return;
        if (ss_consume_reload_flag) {
                ss_consume_reload_flag = 0;
                ss_consume_model_reload(s, "SIGHUP");
                return;
        }
        double now = ss_time_mono();
        if (s->updates)
                ss_consume_updates_check(s);
        if (s->poll_ms > 0 && now >= s->next_poll) {
                s->next_poll = now + s->poll_ms / 1000.0;
                ss_consume_model_follow(s, "poll", NULL, NULL);
        }
        if (!s->watch)
                return;
        if (now < s->next_watch)
                return;
        s->next_watch = now + s->watch_interval_ms / 1000.0;
        struct stat st;
        if (stat(s->model_path, &st) == 0 && ss_consume_stat_changed(&st, &s->model_st))
                ss_consume_model_reload(s, "file changed");
}

/* ---- readiness --------------------------------------------------------------------- */

/* ss_metrics_ready_fn, on the metrics endpoint's thread. */
static int ss_consume_ready(void *opaque, char *why, size_t why_size)
{
        ss_consume_t *s = opaque;
        if (!atomic_load(&s->model_ready)) {
                snprintf(why, why_size, "no model loaded");
                return 0;
        }
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t err = rd_kafka_assignment(s->consumer, &parts);
        int assigned = !err && parts ? parts->cnt : 0;
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (!assigned) {
                snprintf(why, why_size, "no partitions of %s assigned", s->topic_in);
                return 0;
        }
        const struct rd_kafka_metadata *md = NULL;
        err = rd_kafka_metadata(s->consumer, 0, NULL, &md, 1000);
        if (err) {
                snprintf(why, why_size, "broker unreachable: %s", rd_kafka_err2str(err));
                return 0;
        }
        rd_kafka_metadata_destroy(md);
        return 1;
}

/* ---- rebalance ---------------------------------------------------------------------- */

static void ss_consume_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        ss_consume_t *s = opaque;
        int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                ss_info("consume", "assigned %d partition(s)%s", parts->cnt,
                        cooperative ? " (incremental)" : "");
                if (ss_sink_assign(s->sink, parts) != SS_OK)
                        ss_error("consume", "out of memory tracking assigned partitions");
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        rerr = rd_kafka_assign(rk, parts);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                int lost = rd_kafka_assignment_lost(rk);
                ss_info("consume", "%s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
                ss_sink_revoke(s->sink, parts, lost);
                for (int i = 0; i < parts->cnt; i++)
                        ss_consume_lag_remove(s, parts->elems[i].topic, parts->elems[i].partition);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        rerr = rd_kafka_assign(rk, NULL);
        } else {
                ss_error("consume", "rebalance failed: %s", rd_kafka_err2str(err));
                rd_kafka_assign(rk, NULL);
        }
        if (error) {
                ss_error("consume", "incremental rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (rerr) {
                ss_error("consume", "rebalance: %s", rd_kafka_err2str(rerr));
        }
}

/* ---- the batch ---------------------------------------------------------------------- */

/* While b is collected and the batch before it is being scored: once its scores are in,
 * that batch is emitted at once rather than after b's batch.timeout.ms, which would add a
 * whole batch wait to its latency at low input rates. */
static void ss_consume_emit_early(ss_consume_t *s, const ss_batch_t *b)
{
        if (s->scoring && s->scoring != b && ss_pool_done(s->pool))
                ss_consume_drain(s);
}

/* Polls messages into b; enters each in the ledger. Returns the count. While another
 * batch is being scored the first message is not waited for, and the later ones in steps of
 * at most 1 ms: that batch is emitted as soon as it is scored (ss_consume_emit_early()).
 * A batch ends at consumer.batch.size messages or consumer.batch.max.bytes of input
 * (the message that would cross the bound is held for the next batch; one larger than the
 * bound makes a batch of its own). */
static size_t ss_consume_collect(ss_consume_t *s, ss_batch_t *b)
{
        b->n_items = 0;
        b->bytes = 0;
        double deadline = 0;
        if (s->held) {
                b->items[0].rkm = s->held;
                b->items[0].entry = s->held_entry;
                b->n_items = 1;
                b->bytes = s->held->len + s->held->key_len;
                s->held = NULL;
                s->held_entry = NULL;
                deadline = ss_time_mono() + s->batch_timeout_ms / 1000.0;
        }
        while (b->n_items < (size_t)s->batch_size && b->bytes < s->batch_max_bytes &&
               !ss_stop_requested()) {
                int timeout_ms = s->scoring ? 0 : 100; /* idle: wake up to check the signals */
                if (b->n_items > 0) {
                        double left = deadline - ss_time_mono();
                        if (left <= 0)
                                break;
                        timeout_ms = (int)(left * 1000.0 + 0.999);
                        if (s->scoring && timeout_ms > 1)
                                timeout_ms = 1;
                        ss_consume_emit_early(s, b);
                }
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(s->consumer, timeout_ms);
                if (!rkm) {
                        if (b->n_items == 0)
                                break; /* idle: give the loop a turn */
                        continue;
                }
                if (rkm->err) {
                        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                ss_warn("consume", "consumer: %s", rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                ss_err_t err;
                ss_ledger_entry_t *e = ss_sink_track(s->sink, rkm, 1, &err);
                if (!e) {
                        /* Not assigned any more, or an offset we already hold (a reset):
                         * either way the message is not this batch's to produce. */
                        ss_warn("consume", "skipping %s [%d] offset %lld: %s",
                                rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                                (long long)rkm->offset, ss_err2name(err));
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                size_t bytes = rkm->len + rkm->key_len;
                if (b->n_items > 0 && b->bytes + bytes > s->batch_max_bytes) {
                        s->held = rkm;
                        s->held_entry = e;
                        break;
                }
                if (b->n_items == 0)
                        deadline = ss_time_mono() + s->batch_timeout_ms / 1000.0;
                ss_item_t *it = &b->items[b->n_items++];
                it->rkm = rkm;
                it->entry = e;
                b->bytes += bytes;
        }
        return b->n_items;
}

/* A created_at outside [consumer.created_at.min.ms, .max.ms) goes to the dead-letter topic:
 * it would be copied into the prediction, where readers overflow on absurd timestamps. */
static ss_err_t ss_consume_check_created_at(const ss_consume_t *s, const ss_tweet_t *t, char *why,
                                            size_t why_size)
{
        if (t->created_at >= s->created_min && t->created_at < s->created_max)
                return SS_OK;
        return ss_err_set(why, why_size, SS_ERR_RANGE,
                          "Tweet: field 'created_at' = %lld ms is outside [%lld, %lld) "
                          "(consumer.created_at.min.ms, consumer.created_at.max.ms)",
                          (long long)t->created_at, (long long)s->created_min,
                          (long long)s->created_max);
}

static void ss_consume_decode(ss_consume_t *s, ss_batch_t *b)
{
        for (size_t i = 0; i < b->n_items; i++) {
                ss_item_t *it = &b->items[i];
                const rd_kafka_message_t *rkm = it->rkm;
                it->scored = -1;
                if (!rkm->payload) {
                        it->err = ss_err_set(it->why, sizeof(it->why), SS_ERR_EMPTY,
                                             "message has no value (tombstone)");
                } else if (s->json_input) {
                        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
                        it->err = ss_serde_tweet_decode_json(s->serde, rkm->payload, rkm->len,
                                                             ts > 0 ? ts : ss_time_now_ms(),
                                                             &it->tweet, it->why, sizeof(it->why));
                } else {
                        it->err = ss_serde_tweet_decode(s->serde, rkm->payload, rkm->len,
                                                        &it->tweet, it->why, sizeof(it->why));
                }
                if (!it->err)
                        it->err =
                            ss_consume_check_created_at(s, &it->tweet, it->why, sizeof(it->why));
                /* An id is the output's key: an unbounded one would make outputs the broker
                 * refuses. */
                if (!it->err && it->tweet.id.len > s->max_id_bytes)
                        it->err = ss_err_set(it->why, sizeof(it->why), SS_ERR_TOO_LARGE,
                                             "Tweet: field 'id' is %zu bytes, over "
                                             "consumer.max.id.bytes=%zu",
                                             it->tweet.id.len, s->max_id_bytes);
        }
}

/* Hands the decodable tweets of b to the model in one call (on the scoring threads when
 * there are workers: then it returns at once). */
static void ss_consume_score_start(ss_consume_t *s, ss_batch_t *b)
{
        size_t n = 0;
        for (size_t i = 0; i < b->n_items; i++) {
                ss_item_t *it = &b->items[i];
                if (it->err)
                        continue;
                it->scored = (int)n;
                b->texts[n] = it->tweet.text.ptr;
                b->lens[n] = it->tweet.text.len;
                n++;
        }
        b->n_texts = n;
        if (s->passthrough) {
                for (size_t j = 0; j < n * SS_NUM_CLASSES; j++)
                        b->probs[j] = 1.0f / SS_NUM_CLASSES;
                return;
        }
        ss_pool_start(s->pool, b->texts, b->lens, n, b->probs, b->stats);
}

/* Waits for b's scores; if the batch call failed, scores tweet by tweet, and a tweet that
 * still fails goes to the dead-letter topic. */
static void ss_consume_score_wait(ss_consume_t *s, ss_batch_t *b)
{
        if (s->passthrough)
                return;
        char err[512];
        double secs = 0;
        ss_err_t rc = ss_pool_wait(s->pool, &secs, err, sizeof(err));
        if (b->n_texts == 0)
                return;
        ss_histogram_observe(s->m.scoring_seconds, secs);
        if (rc == SS_OK)
                return;
        ss_error("consume", "scoring a batch of %zu failed (%s); scoring one by one", b->n_texts,
                 err);
        for (size_t i = 0; i < b->n_items; i++) {
                ss_item_t *it = &b->items[i];
                if (it->scored < 0)
                        continue;
                size_t j = (size_t)it->scored;
                rc = ss_model_score_batch(s->model, &b->texts[j], &b->lens[j], 1,
                                          &b->probs[j * SS_NUM_CLASSES], &b->stats[j], it->why,
                                          sizeof(it->why));
                if (rc != SS_OK) {
                        it->err = rc;
                        it->scored = -1;
                }
        }
}

static void ss_consume_emit_prediction(ss_consume_t *s, const ss_batch_t *b, ss_item_t *it,
                                       int64_t scored_at)
{
        size_t j = (size_t)it->scored;
        const float *p = &b->probs[j * SS_NUM_CLASSES];
        ss_prediction_t pred = {0};
        pred.tweet_id = it->tweet.id;
        pred.label = s->passthrough ? SS_LABEL_NEUTRAL : ss_probs_argmax(p);
        memcpy(pred.probs, p, sizeof(pred.probs));
        pred.model_name = ss_str_c(s->model ? ss_model_name(s->model) : "passthrough");
        pred.model_version = ss_str_c(ss_modelsrc_version(s->src));
        pred.created_at = it->tweet.created_at;
        pred.scored_at = scored_at;
        pred.has_input_stats = !s->passthrough;
        if (!s->passthrough)
                pred.input_stats = b->stats[j];
        char err[200];
        ss_serde_buf_reset(&s->out);
        if (ss_serde_prediction_encode(s->serde, &pred, &s->out, err, sizeof(err)) != SS_OK) {
                /* Only a bug or no memory gets here: dead-letter rather than lose it. */
                it->err = SS_ERR_INVALID_ARG;
                snprintf(it->why, sizeof(it->why), "encoding the prediction: %s", err);
                return;
        }
        if (ss_sink_emit(s->sink, it->entry, s->topic_out, it->tweet.id.ptr, it->tweet.id.len,
                         s->out.data, s->out.len) != SS_OK)
                ss_error("consume", "out of memory producing prediction of %s [%d] offset %lld",
                         s->topic_in, (int)it->rkm->partition, (long long)it->rkm->offset);
        ss_counter_inc(s->m.scored);
        ss_histogram_observe(s->m.end_to_end_seconds,
                             (double)(scored_at - pred.created_at) / 1000.0);
}

/*
 * Produces a dead letter for the input at topic [partition] offset (ledger entry e): at
 * most dlq.max.raw.bytes of key and value, with the value's whole size and sha256, so that
 * a dead letter always fits the broker's limits whatever came in. SS_ERR_* when it cannot
 * even be encoded (the entry stays pending).
 */
static ss_err_t ss_consume_dead_letter_send(ss_consume_t *s, ss_ledger_entry_t *e,
                                            const char *topic, int32_t partition, int64_t offset,
                                            const void *key, size_t keylen, const void *value,
                                            size_t len, ss_err_t code, const char *why)
{
        char sha[65];
        ss_sha256_hex(value ? value : "", len, sha);
        size_t klen = keylen < s->dlq_max_raw ? keylen : s->dlq_max_raw;
        ss_dead_letter_t d = {0};
        d.source_topic = ss_str_c(topic);
        d.partition = partition;
        d.offset = offset;
        d.error_code = ss_str_c(ss_err2name(code));
        d.error_message = ss_str_c(why);
        d.raw_key = (ss_str_t){key, klen};
        d.raw_value = (ss_str_t){value ? value : "", len < s->dlq_max_raw ? len : s->dlq_max_raw};
        d.raw_size = (int64_t)len;
        d.raw_sha256 = (ss_str_t){sha, 64};
        d.failed_at = ss_time_now_ms();
        char err[256];
        ss_serde_buf_reset(&s->dl_out);
        ss_err_t rc = ss_serde_dead_letter_encode(s->serde, &d, &s->dl_out, err, sizeof(err));
        if (rc != SS_OK) {
                ss_error("consume", "cannot encode dead letter of %s [%d] offset %lld: %s", topic,
                         (int)partition, (long long)offset, err);
                return rc;
        }
        ss_ratelog_log(s->dead_log, (int64_t)(ss_time_mono() * 1000), SS_LOG_WARN,
                       ss_err2name(code), "dead letter: %s [%d] offset %lld: %s: %s", topic,
                       (int)partition, (long long)offset, ss_err2name(code), why);
        rc = ss_sink_emit(s->sink, e, s->topic_dlq, key, klen, s->dl_out.data, s->dl_out.len);
        if (rc != SS_OK)
                ss_error("consume", "out of memory producing a dead letter");
        else
                ss_consume_count_dead(s, code);
        return rc;
}

static void ss_consume_emit_dead_letter(ss_consume_t *s, ss_item_t *it)
{
        const rd_kafka_message_t *rkm = it->rkm;
        ss_consume_dead_letter_send(s, it->entry, rd_kafka_topic_name(rkm->rkt), rkm->partition,
                                    rkm->offset, rkm->key, rkm->key_len, rkm->payload, rkm->len,
                                    it->err, it->why);
}

/*
 * The sink's reject callback: an output the broker refused for good. A prediction is
 * replaced by a dead letter of its input (carrying the start of the refused prediction and
 * the error; the input itself is found by its topic, partition and offset); a refused dead
 * letter cannot be replaced: the scorer stops with the input uncommitted.
 */
static ss_err_t ss_consume_reject(void *opaque, ss_ledger_entry_t *e, const char *topic,
                                  const void *key, size_t keylen, const void *value, size_t len,
                                  const char *why)
{
        ss_consume_t *s = opaque;
        if (!strcmp(topic, s->topic_dlq)) {
                ss_error("consume",
                         "the dead letter of %s [%d] offset %lld (%zu bytes) was refused by "
                         "the broker (%s): check %s's max.message.bytes and ACLs",
                         ss_ledger_entry_topic(e), (int)ss_ledger_entry_partition(e),
                         (long long)ss_ledger_entry_offset(e), len, why, s->topic_dlq);
                return SS_ERR_KAFKA;
        }
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "output to %s (%zu bytes) refused by the broker: %s; raw_value holds that "
                 "output, not the input",
                 topic, len, why);
        return ss_consume_dead_letter_send(s, e, ss_ledger_entry_topic(e),
                                           ss_ledger_entry_partition(e), ss_ledger_entry_offset(e),
                                           key, keylen, value, len, SS_ERR_KAFKA, msg);
}

/*
 * After a batch with large inputs: decoded-tweet storage (sized by its message) and the
 * output buffers above a small working size are freed rather than kept for reuse, and the
 * allocator is asked to give the memory back, so that one spike does not stay resident.
 */
#define SS_CONSUME_KEEP_BYTES (64u << 10) /* per decoded tweet */
#define SS_CONSUME_KEEP_OUT   (1u << 20)  /* per output buffer */

static void ss_consume_batch_shrink(ss_consume_t *s, const ss_batch_t *b)
{
        ss_serde_buf_t *bufs[2] = {&s->out, &s->dl_out};
        for (int k = 0; k < 2; k++)
                if (bufs[k]->cap > SS_CONSUME_KEEP_OUT)
                        ss_serde_buf_free(bufs[k]);
        if (b->bytes >= 8 * SS_CONSUME_KEEP_OUT)
                malloc_trim(0);
}

/* Emits b (a prediction or a dead letter per message), releases its messages, and lets
 * the sink serve deliveries and commit. */
static void ss_consume_emit(ss_consume_t *s, ss_batch_t *b)
{
        int64_t now = ss_time_now_ms();
        ss_sink_begin_batch(s->sink);
        for (size_t i = 0; i < b->n_items; i++) {
                ss_item_t *it = &b->items[i];
                if (!ss_sink_live(it->entry)) { /* revoked since it was collected */
                        ss_sink_skip(s->sink, it->entry);
                        continue;
                }
                if (it->scored >= 0)
                        ss_consume_emit_prediction(s, b, it, now);
                if (it->err)
                        ss_consume_emit_dead_letter(s, it);
        }
        ss_counter_add(s->m.consumed, (double)b->n_items);
        ss_histogram_observe(s->m.batch_size, (double)b->n_items);
        for (size_t i = 0; i < b->n_items; i++) {
                /* a decoded tweet's storage is sized by its message: not kept when large */
                if (b->items[i].rkm->len > SS_CONSUME_KEEP_BYTES)
                        ss_tweet_clear(&b->items[i].tweet);
                rd_kafka_message_destroy(b->items[i].rkm);
                b->items[i].rkm = NULL;
                b->items[i].entry = NULL;
        }
        b->n_items = 0;
        ss_sink_end_batch(s->sink);
        ss_consume_batch_shrink(s, b);
}

/* Emits the batch being scored, if any, once its scores are in. */
static void ss_consume_drain(ss_consume_t *s)
{
        if (!s->scoring)
                return;
        ss_consume_score_wait(s, s->scoring);
        ss_consume_emit(s, s->scoring);
        s->scoring = NULL;
}

/*
 * One turn of the loop. Unpipelined: collect, decode, score, emit. Pipelined (scoring
 * workers): the batch collected and decoded now is handed to the workers as soon as the
 * previous one's scores are in, and that previous one is emitted while they score, so
 * the Kafka side and the model run at the same time.
 */
static void ss_consume_step(ss_consume_t *s)
{
        ss_batch_t *b = s->collecting;
        size_t got = ss_consume_collect(s, b); /* may emit the batch being scored */
        ss_batch_t *prev = s->scoring;
        if (got)
                ss_consume_decode(s, b);
        if (prev)
                ss_consume_score_wait(s, prev);
        if (got) {
                ss_consume_score_start(s, b);
                s->scoring = b;
                s->collecting = b == &s->batch[0] ? &s->batch[1] : &s->batch[0];
        } else {
                s->scoring = NULL;
        }
        if (prev)
                ss_consume_emit(s, prev);
        if (!s->pipelined)
                ss_consume_drain(s);
        if (!got && !prev)
                ss_sink_end_batch(s->sink); /* idle: deliveries, retries, commits */
}

/* ---- setup and run ------------------------------------------------------------------ */

/* Sets a librdkafka property unless a kafka.<name> key of the configuration sets it. */
static ss_err_t ss_consume_conf_default(rd_kafka_conf_t *conf, const ss_config_t *c,
                                        const char *name, const char *value, char *errstr,
                                        size_t errstr_size)
{
        char key[256];
        snprintf(key, sizeof(key), "kafka.%s", name);
        if (ss_config_origin(c, key))
                return SS_OK;
        return ss_kafka_conf_set(conf, name, value, NULL, errstr, errstr_size);
}

/*
 * For consumer.model.uri=models:/NAME@ALIAS: the model-updates reader (consumer.model.follow),
 * created before the alias is first resolved so that no update falls in between, and the
 * poll interval. A pinned version (models:/NAME/VERSION) or a file follows nothing.
 */
static ss_err_t ss_consume_follow_init(ss_consume_t *s, const ss_config_t *c, char *errstr,
                                       size_t errstr_size)
{
        const char *uri = ss_config_get_str(c, "consumer.model.uri");
        if (strncmp(uri, "models:/", 8) || !strchr(uri, '@'))
                return SS_OK;
        s->poll_ms = (int)ss_config_get_int(c, "consumer.model.poll.ms");
        s->next_poll = ss_time_mono() + s->poll_ms / 1000.0;
        if (ss_config_get_bool(c, "consumer.model.follow") &&
            !(s->updates = ss_mupdate_reader_new(c, ss_config_get_str(c, "consumer.group.id"), 0,
                                                 errstr, errstr_size)))
                return SS_ERR_KAFKA;
        char e[256];
        ss_metrics_counter(s->metrics, "sentistream_model_follow_total",
                           "What following the registry alias did, by cause (update, poll) and "
                           "result (swapped, unchanged, error, sha256_mismatch, bad_update, "
                           "other_model).",
                           (const char *[]){"cause", "update", "result", "swapped", NULL}, e,
                           sizeof(e));
        ss_metrics_counter(s->metrics, "sentistream_model_follow_total", "",
                           (const char *[]){"cause", "poll", "result", "swapped", NULL}, e,
                           sizeof(e));
        char poll[64] = "not polled (consumer.model.poll.ms=0)";
        if (s->poll_ms)
                snprintf(poll, sizeof(poll), "resolved every %d ms", s->poll_ms);
        ss_info("consume", "following %s: model updates on %s, the alias %s", uri,
                s->updates ? ss_mupdate_reader_topic(s->updates) : "(off)", poll);
        return SS_OK;
}

static const char *ss_consume_model_path(const ss_config_t *c)
{
        const char *p = ss_config_get_str(c, "consumer.model.path");
        if (p && *p)
                return p;
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++)
                if (!strcmp(d->name, "model.out"))
                        return ss_config_get_str(c, "model.out");
        return "";
}

ss_consume_t *ss_consume_new(const ss_config_t *c, const char *schema_dir, char *errstr,
                             size_t errstr_size)
{
        ss_consume_t *s = calloc(1, sizeof(*s));
        if (!s) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        s->closed = 1;
        s->topic_in = ss_config_get_str(c, "topics.input");
        s->topic_out = ss_config_get_str(c, "topics.output");
        s->topic_dlq = ss_config_get_str(c, "topics.dlq");
        s->batch_size = (int)ss_config_get_int(c, "consumer.batch.size");
        s->batch_timeout_ms = (int)ss_config_get_int(c, "consumer.batch.timeout.ms");
        s->lag_interval_ms = (int)ss_config_get_int(c, "consumer.lag.interval.ms");
        s->watch = ss_config_get_bool(c, "consumer.model.watch");
        s->watch_interval_ms = (int)ss_config_get_int(c, "consumer.model.watch.interval.ms");
        s->json_input = !strcmp(ss_config_get_str(c, "consumer.input.format"), "json");
        s->passthrough = !strcmp(ss_config_get_str(c, "consumer.mode"), "passthrough");
        s->created_min = ss_config_get_int(c, "consumer.created_at.min.ms");
        s->created_max = ss_config_get_int(c, "consumer.created_at.max.ms");
        s->dead_log = ss_ratelog_new("consume", ss_config_get_int(c, "log.deadletter.interval.ms"));
        s->model_path = strdup(ss_consume_model_path(c));
        s->max_id_bytes = (size_t)ss_config_get_int(c, "consumer.max.id.bytes");
        s->dlq_max_raw = (size_t)ss_config_get_int(c, "dlq.max.raw.bytes");
        s->batch_max_bytes = (size_t)ss_config_get_int(c, "consumer.batch.max.bytes");

        size_t bs = (size_t)s->batch_size;
        int batches_ok = 1;
        for (int k = 0; k < 2; k++) {
                ss_batch_t *b = &s->batch[k];
                b->items = calloc(bs, sizeof(*b->items));
                b->texts = calloc(bs, sizeof(*b->texts));
                b->lens = calloc(bs, sizeof(*b->lens));
                b->probs = calloc(bs * SS_NUM_CLASSES, sizeof(*b->probs));
                b->stats = calloc(bs, sizeof(*b->stats));
                batches_ok &= b->items && b->texts && b->lens && b->probs && b->stats;
        }
        s->collecting = &s->batch[0];
        s->metrics = ss_metrics_new();
        if (!s->model_path || !batches_ok || !s->metrics || !s->dead_log) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (ss_consume_metrics_init(s, errstr, errstr_size) != SS_OK)
                goto fail;

        if (!s->passthrough) {
                char *path = NULL;
                if (ss_consume_follow_init(s, c, errstr, errstr_size) ||
                    !(s->src = ss_modelsrc_new(c, s->model_path, errstr, errstr_size)) ||
                    !(path = strdup(ss_modelsrc_path(s->src)))) {
                        if (s->src)
                                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                        goto fail;
                }
                free(s->model_path);
                s->model_path = path;
                if (!*s->model_path) {
                        ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                   "no model file: set consumer.model.path (or model.out)");
                        goto fail;
                }
                stat(s->model_path, &s->model_st);
                if (!(s->model = ss_model_load(s->model_path, errstr, errstr_size)))
                        goto fail;
                ss_modelsrc_loaded(s->src, s->model);
                int threads = (int)ss_config_get_int(c, "consumer.score.threads");
                s->pipelined = threads > 1;
                if (!(s->pool = ss_pool_new(threads, errstr, errstr_size)) ||
                    ss_pool_set_model(s->pool, s->model, errstr, errstr_size) != SS_OK)
                        goto fail;
                ss_info("consume", "model %s %s (%s) from %s, %d scoring thread%s",
                        ss_model_name(s->model), ss_model_version(s->model),
                        ss_model_kind(s->model), s->model_path, threads, threads > 1 ? "s" : "");
        } else {
                ss_warn("consume", "consumer.mode=passthrough: no model, every prediction is "
                                   "uniform (benchmark baseline)");
        }
        ss_consume_model_info(s);
        atomic_store(&s->model_ready, 1);

        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        s->serde =
            ss_serde_new(schema_dir, &ids, (size_t)ss_config_get_int(c, "consumer.max.text.bytes"),
                         errstr, errstr_size);
        if (!s->serde)
                goto fail;

        const char *group = ss_config_get_str(c, "consumer.group.id");
        const char *instance = ss_config_get_str(c, "consumer.instance.id");
        s->exactly_once = !strcmp(ss_config_get_str(c, "consumer.delivery"), "exactly_once");
        if (s->exactly_once && !*instance) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "consumer.delivery=exactly_once needs consumer.instance.id: a name "
                           "for this scorer that stays the same across its restarts (its "
                           "transactional.id is <consumer.group.id>-<consumer.instance.id>)");
                goto fail;
        }
        rd_kafka_conf_t *cconf =
            ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, group, errstr, errstr_size);
        if (!cconf)
                goto fail;
        /* Fast restarts: a static member (group.instance.id) that comes back within the
         * session timeout gets its partitions at once, without a rebalance, so it keeps
         * librdkafka's 45 s (a shorter one would expire during a broker restart, and the
         * member, rejoining, is fenced by itself: FENCED_INSTANCE_ID is fatal). A dynamic
         * member leaves the group on close, and a crashed one is noticed within 10 s. */
        if ((*instance && ss_kafka_conf_set(cconf, "group.instance.id", instance,
                                            "consumer.instance.id", errstr, errstr_size)) ||
            (!*instance && ss_consume_conf_default(cconf, c, "session.timeout.ms", "10000", errstr,
                                                   errstr_size))) {
                rd_kafka_conf_destroy(cconf);
                goto fail;
        }
        /* The consumer's prefetch queue: librdkafka bounds it per partition (its
         * queued.max.messages.kbytes is checked against each partition's queue, and counts
         * payload bytes only, not its ~300 bytes of bookkeeping per message). A quarter of
         * a batch's input per partition (4 MiB by default) keeps a scorer of 4 partitions
         * under 64 MiB + consumer.batch.max.bytes flat out: at librdkafka's 64 MiB, and at
         * 2 x batch.max.bytes, flat-out runs peaked at 206-266 MiB. Not less: librdkafka
         * 2.0.2 stops fetching a partition whose queue is full until its broker thread
         * next wakes (up to a second, see ss_kafka.c); at 2 MiB per partition the
         * passthrough lost a third of its speed to it. */
        char qmkb[32];
        size_t qkib = s->batch_max_bytes / 4 / 1024;
        snprintf(qmkb, sizeof(qmkb), "%zu", qkib > 2097151 ? (size_t)2097151 : qkib);
        if (ss_consume_conf_default(cconf, c, "queued.max.messages.kbytes", qmkb, errstr,
                                    errstr_size)) {
                rd_kafka_conf_destroy(cconf);
                goto fail;
        }
        rd_kafka_conf_set_opaque(cconf, s);
        rd_kafka_conf_set_rebalance_cb(cconf, ss_consume_rebalance_cb);
        if (!(s->consumer = ss_kafka_consumer_new(cconf, errstr, errstr_size)))
                goto fail;
        s->closed = 0;
        if (ss_kafka_auth_check(s->consumer, c, SS_KAFKA_AUTH_CHECK_MS, errstr, errstr_size))
                goto fail;
        if (!(s->wm = ss_watermarks_new(s->consumer, SS_CONSUME_LAG_ASK_MS))) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cannot start the watermark thread");
                goto fail;
        }

        rd_kafka_conf_t *pconf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        if (!pconf)
                goto fail;
        /* Outputs waiting for their acknowledgement are bounded like a batch's input (a spike
         * of inputs that all become 64 KiB dead letters would otherwise pile up there);
         * beyond it the producer pushes back (see ss_sink_emit). */
        char qkb[32], qmsg[32];
        snprintf(qkb, sizeof(qkb), "%zu", s->batch_max_bytes / 1024);
        /* ... and in number: at librdkafka's 100,000 the ~300 bytes of bookkeeping of each
         * small prediction, not their bytes, set the bound (~35 MB), and the flat-out
         * scorer was slower (167k against 213k tweets/s in one paired run) than with 20
         * batches' worth, which still keeps the producer's batches full. */
        snprintf(qmsg, sizeof(qmsg), "%d", 20 * s->batch_size < 10000 ? 10000 : 20 * s->batch_size);
        if (ss_consume_conf_default(pconf, c, "queue.buffering.max.kbytes", qkb, errstr,
                                    errstr_size) ||
            ss_consume_conf_default(pconf, c, "queue.buffering.max.messages", qmsg, errstr,
                                    errstr_size)) {
                rd_kafka_conf_destroy(pconf);
                goto fail;
        }
        if (s->exactly_once) {
                char txn_id[512];
                snprintf(txn_id, sizeof(txn_id), "%s-%s", group, instance);
                /* transaction.timeout.ms bounds how long a crashed scorer's open transaction
                 * holds back read_committed readers when no restart fences it. */
                if (ss_kafka_conf_set(pconf, "transactional.id", txn_id, "consumer.instance.id",
                                      errstr, errstr_size) ||
                    ss_consume_conf_default(pconf, c, "transaction.timeout.ms", "10000", errstr,
                                            errstr_size)) {
                        rd_kafka_conf_destroy(pconf);
                        goto fail;
                }
                ss_info("consume",
                        "exactly-once: transactional.id %s, transactions of up to "
                        "%d ms / %d inputs",
                        txn_id, (int)ss_config_get_int(c, "consumer.txn.max.ms"),
                        (int)ss_config_get_int(c, "consumer.txn.max.messages"));
        }
        ss_sink_config_t scfg = {
            (int)ss_config_get_int(c, "consumer.commit.interval.ms"),
            (int)ss_config_get_int(c, "consumer.flush.timeout.ms"),
            (int)ss_config_get_int(c, "consumer.retry.backoff.ms"),
            (int)ss_config_get_int(c, "consumer.retry.backoff.max.ms"),
            s->m.produce_errors,
            ss_consume_reject,
            s,
            s->exactly_once,
            (int)ss_config_get_int(c, "consumer.txn.max.ms"),
            (int)ss_config_get_int(c, "consumer.txn.max.messages"),
            (int)ss_config_get_int(c, "consumer.txn.timeout.ms"),
            s->m.txn_commits,
            s->m.txn_aborts,
            s->m.txn_commit_seconds,
        };
        if (!(s->sink = ss_sink_new(pconf, s->consumer, &scfg, errstr, errstr_size)))
                goto fail;
        /* The output topics' leaders known before the first output (a missing topic is
         * logged here, and its outputs then fail like any other refusal). */
        const char *outs[] = {s->topic_out, s->topic_dlq};
        for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
                char werr[512];
                if (ss_sink_topic_warm(s->sink, outs[i], 5000, werr, sizeof(werr)) != SS_OK)
                        ss_warn("consume", "%s; outputs to it fail until the broker knows it",
                                werr);
        }

        int port = (int)ss_config_get_int(c, "metrics.port");
        ss_metrics_ready_set(s->metrics, ss_consume_ready, s);
        if (port > 0) {
                if (ss_metrics_serve_on(s->metrics, ss_config_get_str(c, "metrics.bind"), port,
                                        errstr, errstr_size) != SS_OK)
                        goto fail;
                ss_info("consume", "metrics on http://%s:%d/metrics",
                        ss_config_get_str(c, "metrics.bind"), port);
        }
        return s;
fail:
        ss_consume_destroy(s);
        return NULL;
}

static ss_err_t ss_consume_subscribe(ss_consume_t *s, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, s->topic_in, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(s->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "subscribe to %s: %s",
                                  s->topic_in, rd_kafka_err2str(err));
        ss_info("consume", "consuming %s -> %s (dead letters: %s), batches of %d / %d ms",
                s->topic_in, s->topic_out, s->topic_dlq, s->batch_size, s->batch_timeout_ms);
        return SS_OK;
}

/* Stop: outputs of what was consumed are awaited and committed, then the group is left. */
static ss_err_t ss_consume_shutdown(ss_consume_t *s, char *errstr, size_t errstr_size)
{
        ss_err_t rc = ss_sink_close(s->sink, errstr, errstr_size);
        /* close leaves the group: the revoke callback commits once more */
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(s->consumer);
        s->closed = 1;
        if (err)
                ss_warn("consume", "consumer close: %s", rd_kafka_err2str(err));
        return rc;
}

ss_err_t ss_consume_run(ss_consume_t *s, char *errstr, size_t errstr_size)
{
        ss_err_t rc = ss_consume_subscribe(s, errstr, errstr_size);
        if (rc)
                return rc;
        while (!ss_stop_requested()) {
                ss_consume_model_check(s);
                ss_consume_step(s);
                ss_consume_lag_update(s);
                if (ss_sink_fatal(s->sink) || ss_kafka_fatal_check(s->consumer, "consumer")) {
                        rc = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                        "stopping: a fatal Kafka error, or an input whose "
                                        "output and dead letter were both refused (see the "
                                        "log); nothing after it was committed");
                        break;
                }
        }
        /* A batch still being scored is finished (emitted) before stopping. */
        ss_consume_drain(s);
        char err2[512];
        ss_err_t rc2 = ss_consume_shutdown(s, err2, sizeof(err2));
        if (rc == SS_OK && rc2 != SS_OK) {
                snprintf(errstr, errstr_size, "%s", err2);
                rc = rc2;
        }
        ss_stop_clear(); /* this run consumed the request */
        ss_info("consume", "stopped");
        return rc;
}

ss_metrics_t *ss_consume_metrics(ss_consume_t *s)
{
        return s->metrics;
}

void ss_consume_destroy(ss_consume_t *s)
{
        if (!s)
                return;
        if (s->metrics) /* the readiness check reads the consumer */
                ss_metrics_ready_set(s->metrics, NULL, NULL);
        ss_pool_destroy(s->pool); /* first: no worker may still read a batch */
        s->pool = NULL;
        ss_modelsrc_destroy(s->src);
        ss_mupdate_reader_destroy(s->updates);
        ss_watermarks_destroy(s->wm); /* before the consumer it asks through */
        if (s->consumer && !s->closed)
                rd_kafka_consumer_close(s->consumer);
        ss_sink_destroy(s->sink);
        if (s->consumer)
                rd_kafka_destroy(s->consumer);
        ss_metrics_destroy(s->metrics);
        ss_ratelog_destroy(s->dead_log);
        for (ss_lag_gauge_t *g = s->m.lag, *n; g; g = n) {
                n = g->next;
                free(g->topic);
                free(g);
        }
        for (int k = 0; k < 2; k++) {
                ss_batch_t *b = &s->batch[k];
                for (int i = 0; b->items && i < s->batch_size; i++) {
                        if (b->items[i].rkm)
                                rd_kafka_message_destroy(b->items[i].rkm);
                        ss_tweet_clear(&b->items[i].tweet);
                }
                free(b->items);
                free(b->texts);
                free(b->lens);
                free(b->probs);
                free(b->stats);
        }
        if (s->held)
                rd_kafka_message_destroy(s->held);
        ss_serde_buf_free(&s->out);
        ss_serde_buf_free(&s->dl_out);
        ss_serde_destroy(s->serde);
        ss_model_destroy(s->model);
        free(s->model_path);
        free(s);
}
