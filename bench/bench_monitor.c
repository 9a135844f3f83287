/*
 * bench_monitor: throughput of the drift monitor's processing path.
 *
 *   bench_monitor core [--card FILE] [--n N] [--rounds R]
 *       In-process, one thread: N pre-encoded Prediction messages (fields
 *       drawn from the card's reference distributions, distinct tweet ids)
 *       go through ss_mcore_ingest_prediction() (decode, bin, sliding and
 *       time windows, evaluations every monitor.eval.every, join insert),
 *       then N labels through ss_mcore_ingest_label() (join, rolling
 *       performance, evaluations every monitor.perf.eval.every). Prints the
 *       best of R rounds of each, in messages per second.
 *
 *   bench_monitor load [--card FILE] [--n N] [--config-dir DIR] [key=value ...]
 *       Writes the same N predictions to topics.output (Kafka) and N labels
 *       to the Redis labels stream (pipelined XADD), for a timed run of the
 *       real `sentistream monitor` (bench/bench_monitor.sh).
 *
 * The monitor.* keys of the configuration (defaults unless overridden) set
 * the window sizes and evaluation periods of the core run too.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mcore.h"
#include "ss_config.h"
#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_serde.h"
#include "ss_util.h"

typedef struct bench {
        ss_serde_t *serde;
        ss_card_view_t *card;
        size_t n;
        ss_serde_buf_t *msgs; /* [n] encoded predictions */
        char (*ids)[24];      /* [n] tweet ids */
        uint8_t *truth;       /* [n] labels to send */
} bench_t;

static uint64_t rng = 88172645463325252ULL;
static double uni(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (double)(rng >> 11) * 0x1.0p-53;
}

static int draw(const double *w, int n)
{
        double s = 0;
        for (int i = 0; i < n; i++)
                s += w[i];
        double u = uni() * s;
        for (int i = 0; i < n; i++) {
                if (u < w[i])
                        return i;
                u -= w[i];
        }
        return n - 1;
}

static double hist_value(const ss_card_view_t *c, const char *name, double fallback)
{
        int i = ss_card_view_find(c, name);
        if (i < 0 || c->dists[i].kind != SS_CARD_HISTOGRAM)
                return fallback;
        const ss_card_dist_t *d = &c->dists[i];
        int b = draw(d->counts, d->nbins);
        double lo = d->edges[b], hi = d->edges[b + 1];
        if (hi - lo > 1000)
                hi = lo + 10;
        return lo + (hi - lo) * uni();
}

static ss_err_t prepare(bench_t *b, char *err, size_t errsize)
{
        b->msgs = calloc(b->n, sizeof(*b->msgs));
        b->ids = calloc(b->n, sizeof(*b->ids));
        b->truth = calloc(b->n, 1);
        if (!b->msgs || !b->ids || !b->truth)
                return ss_err_set(err, errsize, SS_ERR_NOMEM, "out of memory");
        int64_t t0 = ss_time_now_ms();
        for (size_t i = 0; i < b->n; i++) {
                ss_prediction_t p = {0};
                snprintf(b->ids[i], sizeof(b->ids[i]), "%llu",
                         (unsigned long long)(620000000000000000ULL + i * 7919));
                p.tweet_id = ss_str_c(b->ids[i]);
                p.probs[0] = (float)hist_value(b->card, "prob.negative", 0.2);
                p.probs[1] = (float)hist_value(b->card, "prob.neutral", 0.5);
                p.probs[2] = (float)hist_value(b->card, "prob.positive", 0.3);
                float sum = p.probs[0] + p.probs[1] + p.probs[2];
                for (int k = 0; k < 3; k++) /* valid probabilities sum to 1 */
                        p.probs[k] /= sum;
                p.label = ss_probs_argmax(p.probs); /* a prediction's label is its argmax */
                p.model_name = ss_str_c(b->card->name);
                p.model_version = ss_str_c(b->card->version);
                p.created_at = t0 - 1000;
                p.scored_at = t0 + (int64_t)i / 100;
                p.has_input_stats = true;
                p.input_stats.n_tokens = (int32_t)hist_value(b->card, "input.n_tokens", 20);
                p.input_stats.unk_share = (float)hist_value(b->card, "input.unk_share", 0.1);
                p.input_stats.has_url = uni() < 0.3;
                p.input_stats.has_mention = uni() < 0.4;
                p.input_stats.has_emoji = uni() < 0.1;
                b->truth[i] = uni() < 0.7 ? (uint8_t)p.label : (uint8_t)((p.label + 1) % 3);
                if (ss_serde_prediction_encode(b->serde, &p, &b->msgs[i], err, errsize))
                        return SS_ERR_INVALID_ARG;
        }
        return SS_OK;
}

static double run_predictions(ss_mcore_t *m, const bench_t *b)
{
        int64_t now = ss_time_now_ms();
        double t = ss_time_mono();
        for (size_t i = 0; i < b->n; i++) {
                if (ss_mcore_ingest_prediction(m, b->msgs[i].data, b->msgs[i].len, now) !=
                    SS_MCORE_OK) {
                        fprintf(stderr, "bench_monitor: prediction %zu not ingested\n", i);
                        exit(1);
                }
                while (ss_mcore_event_peek(m))
                        ss_mcore_event_done(m);
        }
        return ss_time_mono() - t;
}

static double run_labels(ss_mcore_t *m, const bench_t *b)
{
        int64_t now = ss_time_now_ms();
        double t = ss_time_mono();
        for (size_t i = 0; i < b->n; i++) {
                if (ss_mcore_ingest_label(m, b->ids[i], strlen(b->ids[i]), b->truth[i], now + 5000,
                                          now) != 1) {
                        fprintf(stderr, "bench_monitor: label %zu did not join\n", i);
                        exit(1);
                }
                while (ss_mcore_event_peek(m))
                        ss_mcore_event_done(m);
        }
        return ss_time_mono() - t;
}

static int cmd_core(bench_t *b, const ss_config_t *c, int rounds)
{
        ss_mcore_config_t mc;
        char err[512];
        ss_mcore_config_from(&mc, c);
        if (mc.join_max_pending < b->n)
                mc.join_max_pending = b->n;
        double best_p = 1e30, best_l = 1e30;
        uint64_t evals = 0;
        for (int r = 0; r < rounds; r++) {
                ss_mcore_t *m = ss_mcore_new(&mc, b->serde, NULL, err, sizeof(err));
                ss_card_view_t *card =
                    m ? ss_card_view_load(b->card->path, err, sizeof(err)) : NULL;
                if (!card || ss_mcore_add_card(m, card, err, sizeof(err))) {
                        fprintf(stderr, "bench_monitor: %s\n", err);
                        return 1;
                }
                double tp = run_predictions(m, b);
                double tl = run_labels(m, b);
                evals = ss_mcore_stats(m)->evaluations;
                printf("round %d: %zu predictions in %.3f s (%.0f/s), %zu joined labels in "
                       "%.3f s (%.0f/s)\n",
                       r + 1, b->n, tp, b->n / tp, b->n, tl, b->n / tl);
                if (tp < best_p)
                        best_p = tp;
                if (tl < best_l)
                        best_l = tl;
                ss_mcore_destroy(m);
        }
        printf("card: %s (%d distributions); window.size %zu, eval.every %llu, perf.window %zu, "
               "perf.eval.every %llu; %llu evaluations per round\n",
               b->card->path, b->card->ndists, mc.window_size, (unsigned long long)mc.eval_every,
               mc.perf_window, (unsigned long long)mc.perf_eval_every, (unsigned long long)evals);
        printf("RESULT predictions_per_s=%.0f joined_labels_per_s=%.0f (best of %d, one core)\n",
               b->n / best_p, b->n / best_l, rounds);
        return 0;
}

static int load_kafka(const bench_t *b, const ss_config_t *c)
{
        char err[512];
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        ss_producer_t *p = conf ? ss_producer_new(conf, NULL, NULL, err, sizeof(err)) : NULL;
        if (!p) {
                fprintf(stderr, "bench_monitor: %s\n", err);
                return 1;
        }
        const char *topic = ss_config_get_str(c, "topics.output");
        for (size_t i = 0; i < b->n; i++)
                if (ss_producer_send(p, topic, b->ids[i], strlen(b->ids[i]), b->msgs[i].data,
                                     b->msgs[i].len, 0, NULL, -1, err, sizeof(err))) {
                        fprintf(stderr, "bench_monitor: produce: %s\n", err);
                        ss_producer_destroy(p, 1000);
                        return 1;
                }
        ss_err_t e = ss_producer_flush(p, 60000, err, sizeof(err));
        ss_producer_stats_t st = ss_producer_stats(p);
        ss_producer_destroy(p, 1000);
        if (e || st.acked != b->n) {
                fprintf(stderr, "bench_monitor: %llu of %zu predictions acknowledged %s\n",
                        (unsigned long long)st.acked, b->n, e ? err : "");
                return 1;
        }
        return 0;
}

static int load_redis(const bench_t *b, const ss_config_t *c)
{
        struct timeval tv = {5, 0};
        redisContext *r = redisConnectWithTimeout(ss_config_get_str(c, "redis.host"),
                                                  (int)ss_config_get_int(c, "redis.port"), tv);
        if (!r || r->err) {
                fprintf(stderr, "bench_monitor: redis: %s\n", r ? r->errstr : "no context");
                if (r)
                        redisFree(r);
                return 1;
        }
        static const char *const names[3] = {"negative", "neutral", "positive"};
        char key[256], at[32];
        snprintf(key, sizeof(key), "%slabels", ss_config_get_str(c, "redis.prefix"));
        snprintf(at, sizeof(at), "%lld", (long long)ss_time_now_ms());
        int status = 0;
        for (size_t i = 0; i < b->n && !status; i += 1000) {
                size_t end = i + 1000 < b->n ? i + 1000 : b->n;
                for (size_t k = i; k < end; k++)
                        redisAppendCommand(r,
                                           "XADD %s * tweet_id %s label %s labeled_at %s "
                                           "source bench",
                                           key, b->ids[k], names[b->truth[k]], at);
                for (size_t k = i; k < end; k++) {
                        redisReply *rep = NULL;
                        if (redisGetReply(r, (void **)&rep) != REDIS_OK || !rep ||
                            rep->type == REDIS_REPLY_ERROR) {
                                fprintf(stderr, "bench_monitor: XADD: %s\n",
                                        rep ? rep->str : r->errstr);
                                status = 1;
                        }
                        if (rep)
                                freeReplyObject(rep);
                        if (status)
                                break;
                }
        }
        redisFree(r);
        return status;
}

int main(int argc, char **argv)
{
        const char *mode = argc > 1 ? argv[1] : "", *card_path = NULL, *config_dir = NULL;
        size_t n = 200000;
        int rounds = 3, nover = 0;
        char **over = calloc((size_t)argc + 1, sizeof(char *));
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--card") && i + 1 < argc)
                        card_path = argv[++i];
                else if (!strcmp(argv[i], "--n") && i + 1 < argc)
                        n = (size_t)atoll(argv[++i]);
                else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                        rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--config-dir") && i + 1 < argc)
                        config_dir = argv[++i];
                else if (strchr(argv[i], '=') && argv[i][0] != '-')
                        over[nover++] = argv[i];
                else
                        mode = "";
        }
        if ((strcmp(mode, "core") && strcmp(mode, "load")) || n == 0 || rounds < 1) {
                fprintf(stderr, "usage: bench_monitor core|load [--card FILE] [--n N] "
                                "[--rounds R] [--config-dir DIR] [key=value ...]\n");
                free(over);
                return 2;
        }
        ss_log_level_set(SS_LOG_WARN);
        char err[1024], dir[1024], path[1200];
        snprintf(dir, sizeof(dir), "%s", config_dir ? config_dir : SS_SOURCE_DIR "/config");
        ss_config_t *c = ss_config_load(dir, nover, over, err, sizeof(err));
        free(over);
        if (!c) {
                fprintf(stderr, "bench_monitor: %s\n", err);
                return 2;
        }
        bench_t b = {.n = n};
        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        b.serde = ss_serde_new(SS_SOURCE_DIR "/schemas", &ids, 0, err, sizeof(err));
        snprintf(path, sizeof(path), "%s",
                 card_path ? card_path : SS_SOURCE_DIR "/tests/fixtures/drift/card_valid.json");
        b.card = b.serde ? ss_card_view_load(path, err, sizeof(err)) : NULL;
        int status = 1;
        if (b.card && prepare(&b, err, sizeof(err)) == SS_OK)
                status = !strcmp(mode, "core") ? cmd_core(&b, c, rounds)
                                               : (load_kafka(&b, c) || load_redis(&b, c));
        else
                fprintf(stderr, "bench_monitor: %s\n", err);
        for (size_t i = 0; b.msgs && i < n; i++)
                ss_serde_buf_free(&b.msgs[i]);
        free(b.msgs);
        free(b.ids);
        free(b.truth);
        ss_card_view_destroy(b.card);
        ss_serde_destroy(b.serde);
        ss_config_destroy(c);
        return status;
}
