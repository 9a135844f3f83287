/*
 * test_mcore: the monitor's processing path end to end without Kafka or
 * Redis: encoded predictions and labels in, retraining events out.
 *   - predictions drawn from the card's own reference distributions: no event;
 *   - the class mix shifted (negatives up): a PSI/KL event naming
 *     predicted_class, after k of n sliding evaluations, with the
 *     deterministic id "<version>:n<count>";
 *   - labels that disagree with the predictions: an F1 event;
 *   - cooldown holds further events back; an id already in the sent set is
 *     not queued again;
 *   - the sent set reconciled with events read back from the retrain topic:
 *     this monitor's missing ids join it (and the report's count), others not;
 *   - a snapshot taken mid-stream and restored into a fresh core continues
 *     exactly like the original (same events, same ids);
 *   - undecodable messages and unknown versions are counted and skipped;
 *   - tumbling windows close on a later prediction's time;
 *   - a new version (first prediction or model update, rollback included):
 *     windows per version, cooldown from the switch, the other versions stale.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "mcore.h"
#include "ss_log.h"
#include "ss_serde.h"
#include "ss_test.h"
#include "ss_util.h"

static ss_serde_t *serde;
static const char *VERSION = "logreg-20261125T073000Z-1a2b3c4d";

static uint64_t rng = 2024;
static double uni(void)
{
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng >> 11) * 0x1.0p-53;
}

/* Index drawn with probability proportional to w[i]. */
static int draw(const double *w, int n)
{
        double s = 0, u;
        for (int i = 0; i < n; i++)
                s += w[i];
        u = uni() * s;
        for (int i = 0; i < n; i++) {
                if (u < w[i])
                        return i;
                u -= w[i];
        }
        return n - 1;
}

/* A value inside bin b of a histogram distribution of the card. */
static double in_bin(const ss_card_dist_t *d, int b)
{
        double lo = d->edges[b], hi = d->edges[b + 1];
        if (hi > 1000)
                hi = lo + 10;
        return lo + (hi - lo) * (0.1 + 0.8 * uni());
}

static const ss_card_dist_t *dist(const ss_card_view_t *c, const char *name)
{
        return &c->dists[ss_card_view_find(c, name)];
}

/* A prediction whose every field is drawn from the card's reference; class_w, when not
 * NULL, replaces the class mix. */
static void make_pred(const ss_card_view_t *c, const double *class_w, ss_prediction_t *p, char *id,
                      size_t idsize, long seq, int64_t scored_at)
{
        snprintf(id, idsize, "%ld", 1000000 + seq);
        const ss_card_dist_t *pc = dist(c, "predicted_class");
        memset(p, 0, sizeof(*p));
        p->tweet_id = ss_str_c(id);
        p->label = draw(class_w ? class_w : pc->counts, 3);
        const char *pn[3] = {"prob.negative", "prob.neutral", "prob.positive"};
        float sum = 0;
        for (int k = 0; k < 3; k++) {
                const ss_card_dist_t *d = dist(c, pn[k]);
                sum += p->probs[k] = (float)in_bin(d, draw(d->counts, d->nbins));
        }
        for (int k = 0; k < 3; k++) /* a valid prediction's probabilities sum to 1 */
                p->probs[k] /= sum;
        p->model_name = ss_str_c(c->name);
        p->model_version = ss_str_c(c->version);
        p->created_at = scored_at - 1000;
        p->scored_at = scored_at;
        p->has_input_stats = true;
        const ss_card_dist_t *nt = dist(c, "input.n_tokens"), *us = dist(c, "input.unk_share");
        p->input_stats.n_tokens = (int32_t)in_bin(nt, draw(nt->counts, nt->nbins));
        p->input_stats.unk_share = (float)in_bin(us, draw(us->counts, us->nbins));
        /* categorical: counts are in the card's category order; map back to no/yes */
        const ss_card_dist_t *hu = dist(c, "input.has_url"), *hm = dist(c, "input.has_mention"),
                             *he = dist(c, "input.has_emoji");
        p->input_stats.has_url = (uint8_t)(draw(hu->counts, 2) == hu->cat_bin[1]);
        p->input_stats.has_mention = (uint8_t)(draw(hm->counts, 2) == hm->cat_bin[1]);
        p->input_stats.has_emoji = (uint8_t)(draw(he->counts, 2) == he->cat_bin[1]);
}

static ss_card_view_t *load_card(void)
{
        char path[1024], err[512];
        ss_test_src_path("tests/fixtures/drift/card_valid.json", path, sizeof(path));
        ss_card_view_t *c = ss_card_view_load(path, err, sizeof(err));
        if (!c) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        return c;
}

static ss_mcore_config_t config(void)
{
        ss_mcore_config_t mc = {
            .window_size = 2000,
            .window_ms = 3600 * 1000,
            .eval_every = 500,
            .min_samples = 500,
            .psi_threshold = 0.2,
            .kl_threshold = 0.1,
            .false_alarm = 0.01,
            .perf_window = 400,
            .perf_min_labels = 200,
            .perf_eval_every = 100,
            .f1_threshold = 0,
            .f1_max_drop = 0.1,
            /* the class-mix tests below switch label shift and CBPE on; these keep to the
             * per-distribution statistics (the normalised probabilities above no longer
             * follow the card's prob.* histograms, so those do not raise) */
            .label_shift = 0,
            .cbpe = 0,
            .ls_psi_threshold = 0.1,
            .ls_kl_threshold = 0.05,
            .ls_min_samples = 2000,
            .event_families = "prediction.class,input,performance",
            .trigger = {3, 5, 3600 * 1000},
            .join_max_pending = 100000,
            .join_ttl_ms = 3600 * 1000,
        };
        return mc;
}

static ss_mcore_t *make_core(const ss_mcore_config_t *mc)
{
        char err[512];
        ss_mcore_t *m = ss_mcore_new(mc, serde, NULL, err, sizeof(err));
        if (!m || ss_mcore_add_card(m, load_card(), err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        return m;
}

/* Encodes p and feeds it through the decoding path. */
static ss_mcore_outcome_t feed(ss_mcore_t *m, const ss_prediction_t *p, int64_t now)
{
        ss_serde_buf_t b = {0};
        char err[256];
        if (ss_serde_prediction_encode(serde, p, &b, err, sizeof(err))) {
                fprintf(stderr, "encode: %s\n", err);
                exit(1);
        }
        ss_mcore_outcome_t o = ss_mcore_ingest_prediction(m, b.data, b.len, now);
        ss_serde_buf_free(&b);
        return o;
}

/* Collects the queued event ids as "id,id,..." and drains the queue. */
static void drain_events(ss_mcore_t *m, char *out, size_t size, ss_retrain_event_t *last)
{
        const ss_mcore_event_t *e;
        size_t o = strlen(out);
        char err[256];
        while ((e = ss_mcore_event_peek(m))) {
                o += (size_t)snprintf(out + o, o < size ? size - o : 0, "%s%s", o ? "," : "",
                                      e->event_id);
                if (last && ss_serde_retrain_event_decode(serde, e->value.data, e->value.len, last,
                                                          err, sizeof(err)))
                        fprintf(stderr, "event does not decode: %s\n", err);
                ss_mcore_event_done(m);
        }
}

static void test_no_drift(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32], ids[4096] = "";
        for (long i = 0; i < 10000; i++) {
                make_pred(c, NULL, &p, id, sizeof(id), i, 1700000000000 + i);
                CHECK(feed(m, &p, 1700000000000 + i) == SS_MCORE_OK || 0);
                /* labels that mostly agree with the prediction (F1 well above 0.495) */
                int truth = uni() < 0.85 ? p.label : (p.label + 1) % 3;
                ss_mcore_ingest_label(m, id, strlen(id), truth, 1700000000000 + i + 500,
                                      1700000000000 + i);
        }
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        const ss_mcore_stats_t *st = ss_mcore_stats(m);
        CHECK(st->predictions == 10000 && st->labels == 10000);
        CHECK(ss_mcore_join_stats(m)->joined == 10000);
        CHECK(st->evaluations == 20 + 100); /* 10000/500 sliding, 10000/100 perf */
        /* the report names the model and holds every evaluated distribution */
        int idx = ss_mcore_report_next(m);
        CHECK(idx == 0);
        const char *name;
        char *json = ss_mcore_report_json(m, idx, &name);
        CHECK(json && strstr(json, "\"model_version\":\"logreg-20261125T073000Z-1a2b3c4d\""));
        CHECK(json && strstr(json, "\"name\":\"input.has_emoji\""));
        CHECK(json && strstr(json, "\"macro_f1\""));
        CHECK_STR_EQ(name, "sentiment-logreg");
        CHECK(ss_mcore_report_next(m) == -1);
        free(json);
        ss_mcore_destroy(m);
}

/* Runs n shifted predictions starting at seq; returns nothing, events stay queued. */
/* Odd rows are scored this many ms earlier than their place in the stream, as from a
 * partition that lags behind another (0: rows in time order). */
static int64_t odd_lag_ms;

static void run_shift(ss_mcore_t *m, long from, long to, const double *w)
{
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32];
        for (long i = from; i < to; i++) {
                make_pred(c, w, &p, id, sizeof(id), i,
                          1700000000000 + i - ((i & 1) ? odd_lag_ms : 0));
                feed(m, &p, 1700000000000 + i);
        }
}

static void test_prior_drift(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        double shifted[3] = {150 * 4, 500, 350}; /* negatives x4 */
        char ids[4096] = "";
        ss_retrain_event_t ev = {0};
        rng = 77;
        odd_lag_ms = 500; /* two partitions, one 500 ms behind */
        run_shift(m, 0, 2000, NULL);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        run_shift(m, 2000, 6000, shifted);
        drain_events(m, ids, sizeof(ids), &ev);
        odd_lag_ms = 0;
        /* the window is 2000 predictions: PSI crosses 0.2 once ~2/3 of it is shifted
         * (n3500 or n4000); with k = 3 of 5 the event fires two evaluations later */
        printf("prior drift events: %s\n", ids);
        CHECK(!strcmp(ids, "logreg-20261125T073000Z-1a2b3c4d:n4500") ||
              !strcmp(ids, "logreg-20261125T073000Z-1a2b3c4d:n5000"));
        int has_psi = 0;
        for (size_t i = 0; i < ev.n_reasons; i++) {
                char metric[64];
                snprintf(metric, sizeof(metric), "%.*s", (int)ev.reasons[i].metric.len,
                         ev.reasons[i].metric.ptr);
                if (!strcmp(metric, "psi.prediction.class")) {
                        has_psi = 1;
                        CHECK(ev.reasons[i].family.len == 10 &&
                              !memcmp(ev.reasons[i].family.ptr, "prediction", 10));
                        CHECK(ev.reasons[i].statistic.len == 16 &&
                              !memcmp(ev.reasons[i].statistic.ptr, "prediction.class", 16));
                        CHECK(ev.reasons[i].window_n == 2000 && ev.reasons[i].reference_n == 1000);
                        CHECK(ev.reasons[i].value > 0.2);
                        CHECK(ev.reasons[i].threshold == 0.2);
                        CHECK(ev.reasons[i].has_critical_value);
                        CHECK(ev.reasons[i].critical_value > 0 &&
                              ev.reasons[i].critical_value < 0.05);
                }
                /* only the class mix moved: no input distribution may be named */
                CHECK(strncmp(metric, "psi.input.", 10) && strncmp(metric, "kl.input.", 9));
        }
        CHECK(has_psi);
        CHECK(ev.n_metrics >= 18);
        /* the window holds rows n-2000 .. n-1 and spans its earliest time (row n-1999, odd:
         * 500 ms behind) to its latest (row n-2, even), not the oldest row's to the newest's:
         * (n - 2) - (n - 1999 - 500) = 2497 ms */
        CHECK(ev.window_end - ev.window_start == 2497);
        CHECK(ev.model_name.len == strlen("sentiment-logreg"));
        /* cooldown: the drift persists but no second event within the hour */
        run_shift(m, 6000, 12000, shifted);
        ids[0] = '\0';
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        ss_retrain_event_clear(&ev);
        ss_mcore_destroy(m);
}

static void test_perf_drift(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32], ids[4096] = "";
        ss_retrain_event_t ev = {0};
        rng = 99;
        for (long i = 0; i < 3000; i++) {
                make_pred(c, NULL, &p, id, sizeof(id), i, 1700000000000 + i * 10);
                /* the label arrives first for every other tweet: both join orders */
                int truth = i < 1000 ? p.label : (p.label + 1 + (int)(uni() * 2)) % 3;
                if (i % 2)
                        ss_mcore_ingest_label(m, id, strlen(id), truth, 1700000000000 + i * 10,
                                              1700000000000 + i);
                feed(m, &p, 1700000000000 + i);
                if (i % 2 == 0)
                        ss_mcore_ingest_label(m, id, strlen(id), truth,
                                              1700000000000 + i * 10 + 2000, 1700000000000 + i);
        }
        drain_events(m, ids, sizeof(ids), &ev);
        printf("performance drift events: %s\n", ids);
        /* all wrong from label 1000 on; window 400: macro-F1 falls under 0.495 at l1200 or
         * l1300 (half or 3/4 of the window wrong); 3 of 5 breaches -> l1400 or l1500 */
        CHECK(!strcmp(ids, "logreg-20261125T073000Z-1a2b3c4d:l1400") ||
              !strcmp(ids, "logreg-20261125T073000Z-1a2b3c4d:l1500"));
        CHECK(ev.n_reasons == 1);
        CHECK(ev.n_reasons == 1 && ev.reasons[0].metric.len == 14 &&
              !memcmp(ev.reasons[0].metric.ptr, "performance.f1", 14));
        CHECK(ev.n_reasons == 1 && ev.reasons[0].family.len == 11 &&
              !memcmp(ev.reasons[0].family.ptr, "performance", 11));
        CHECK(ev.n_reasons == 1 && ev.reasons[0].window_n == 400);
        CHECK(ev.n_reasons == 1 && ev.reasons[0].value < 0.3);
        CHECK_NEAR(ev.n_reasons == 1 ? ev.reasons[0].threshold : 0, 0.595 - 0.1, 1e-12);
        CHECK(ev.n_reasons == 1 && !ev.reasons[0].has_critical_value);
        CHECK(ss_mcore_join_stats(m)->joined == 3000);
        ss_retrain_event_clear(&ev);
        ss_mcore_destroy(m);
}

static void test_dedupe_and_faults(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        double shifted[3] = {150 * 4, 500, 350};
        char ids[4096] = "";
        rng = 77;
        /* as in test_prior_drift, but both candidate ids were already sent */
        ss_mcore_sent_add(m, "logreg-20261125T073000Z-1a2b3c4d:n4500");
        ss_mcore_sent_add(m, "logreg-20261125T073000Z-1a2b3c4d:n5000");
        run_shift(m, 0, 2000, NULL);
        run_shift(m, 2000, 6000, shifted);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        CHECK(ss_mcore_stats(m)->events_deduped == 1);

        /* garbage and a foreign version are counted and skipped */
        uint64_t before = ss_mcore_stats(m)->predictions;
        CHECK(ss_mcore_ingest_prediction(m, "\0\0\0\0\2garbage", 12, 0) == SS_MCORE_UNDECODABLE);
        CHECK(ss_mcore_ingest_prediction(m, "x", 1, 0) == SS_MCORE_UNDECODABLE);
        ss_prediction_t p;
        char id[32];
        make_pred(ss_mcore_card(m, 0), NULL, &p, id, sizeof(id), 1, 1);
        p.model_version = ss_str_c("logreg-other");
        CHECK(feed(m, &p, 0) == SS_MCORE_UNKNOWN_VERSION);
        CHECK(feed(m, &p, 0) == SS_MCORE_UNKNOWN_VERSION);
        const ss_mcore_stats_t *st = ss_mcore_stats(m);
        CHECK(st->decode_errors == 2 && st->unknown_version == 2 && st->predictions == before);
        CHECK(ss_mcore_ingest_label(m, "1", 1, 7, 0, 0) == -1);
        CHECK(ss_mcore_ingest_label(m, "", 0, 1, 0, 0) == -1);
        CHECK(st->label_errors == 2);
        ss_mcore_destroy(m);
}

/* A snapshot mid-stream, restored into a fresh core, continues identically. */
/* The first number after "key": in json, or NAN. */
static double json_num_after(const char *json, const char *key, int nth)
{
        char pat[64];
        snprintf(pat, sizeof(pat), "\"%s\":", key);
        const char *q = json;
        for (int i = 0; q && i <= nth; i++) {
                q = strstr(q, pat);
                if (q && i < nth)
                        q += strlen(pat);
        }
        if (!q)
                return NAN;
        q += strlen(pat);
        while (*q == '[')
                q++;
        return strtod(q, NULL);
}

/* A RetrainEvent as read back from the retrain topic (encoded, then decoded) offered to
 * ss_mcore_sent_recover(). */
static int recover(ss_mcore_t *m, const char *name, const char *version, const char *event_id)
{
        ss_retrain_event_t e = {.event_id = ss_str_c(event_id),
                                .model_name = ss_str_c(name),
                                .model_version = ss_str_c(version),
                                .window_start = 1,
                                .window_end = 2,
                                .triggered_at = 3},
                           d;
        ss_serde_buf_t b = {0};
        char err[256];
        memset(&d, 0, sizeof(d));
        if (ss_serde_retrain_event_encode(serde, &e, &b, err, sizeof(err)) ||
            ss_serde_retrain_event_decode(serde, b.data, b.len, &d, err, sizeof(err))) {
                fprintf(stderr, "retrain event: %s\n", err);
                exit(1);
        }
        int r = ss_mcore_sent_recover(m, d.model_name.ptr, d.model_version.ptr, d.event_id.ptr);
        ss_retrain_event_clear(&d);
        ss_serde_buf_free(&b);
        return r;
}

/* The sent set reconciled with the retrain topic at start: the events of this monitor's models
 * that it lacks join it (and count in the report), the others are left out; a replay that
 * fires a recovered id again does not queue it. */
static void test_sent_recover(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        const char *name = ss_mcore_card(m, 0)->name;
        char n4500[128], n5000[128];
        snprintf(n4500, sizeof(n4500), "%s:n4500", VERSION);
        snprintf(n5000, sizeof(n5000), "%s:n5000", VERSION);
        ss_mcore_sent_add(m, n4500); /* from Redis */
        CHECK(recover(m, name, VERSION, n4500) == 0);
        CHECK(recover(m, name, VERSION, n5000) == 1); /* sent, not recorded before a crash */
        CHECK(recover(m, name, VERSION, n5000) == 0);
        /* another model's events, and ids not of this monitor's form */
        CHECK(recover(m, "other-model", "other-v1", "other-v1:n500") == -1);
        CHECK(recover(m, "other-model", VERSION, "logreg-x:n500") == -1);
        CHECK(recover(m, name, VERSION, "logreg-other:n500") == -1);
        CHECK(recover(m, name, VERSION, "n500") == -1);
        CHECK(recover(m, name, VERSION, VERSION) == -1);
        char bare[128];
        snprintf(bare, sizeof(bare), "%s:", VERSION);
        CHECK(recover(m, name, VERSION, bare) == -1);
        CHECK(!ss_mcore_sent_contains(m, "other-v1:n500"));
        CHECK(!ss_mcore_sent_contains(m, "logreg-other:n500"));
        CHECK(!ss_mcore_sent_contains(m, "n500"));
        CHECK(ss_mcore_sent_contains(m, n5000));

        /* the drift of test_dedupe_and_faults fires both ids again: neither is queued */
        double shifted[3] = {150 * 4, 500, 350};
        char ids[4096] = "";
        rng = 77;
        run_shift(m, 0, 2000, NULL);
        run_shift(m, 2000, 6000, shifted);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        CHECK(ss_mcore_stats(m)->events_deduped == 1);
        const char *rname;
        char *json = ss_mcore_report_json(m, 0, &rname);
        CHECK(json != NULL);
        if (json)
                CHECK(json_num_after(json, "events", 0) == 2);
        free(json);
        ss_mcore_destroy(m);
}

static void test_snapshot_replay(void)
{
        ss_mcore_config_t mc = config();
        mc.trigger.cooldown_ms = 0; /* several events, so that ids can be compared */
        double shifted[3] = {150 * 4, 500, 350};
        ss_mcore_t *a = make_core(&mc);
        char ids_a[8192] = "", ids_b[8192] = "";
        rng = 5;
        run_shift(a, 0, 2000, NULL);
        run_shift(a, 2000, 3700, shifted);
        /* labels pending on both sides at snapshot time */
        ss_mcore_ingest_label(a, "1003000", 7, 0, 1, 1700000003000);
        ss_mcore_ingest_label(a, "9999999", 7, 0, 1, 1700000003000);
        drain_events(a, ids_a, sizeof(ids_a), NULL);
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_mcore_save(a, &b);
        CHECK(!b.failed);
        ss_mcore_t *r = make_core(&mc);
        ss_mreader_t rd;
        ss_mreader_init(&rd, b.data, b.len);
        char err[256] = "";
        CHECK(ss_mcore_load(r, &rd, err, sizeof(err)) == SS_OK);
        if (err[0])
                fprintf(stderr, "%s\n", err);
        CHECK(ss_mcore_stats(r)->predictions == ss_mcore_stats(a)->predictions);
        CHECK(ss_mcore_join_stats(r)->pending_label == ss_mcore_join_stats(a)->pending_label);
        uint64_t rng_at = rng;
        run_shift(a, 3700, 9000, shifted);
        rng = rng_at;
        run_shift(r, 3700, 9000, shifted);
        drain_events(a, ids_a, sizeof(ids_a), NULL);
        drain_events(r, ids_b, sizeof(ids_b), NULL);
        printf("after restore: original %s | restored %s\n", ids_a, ids_b);
        CHECK(strlen(ids_b) > 0);
        /* the original's list starts with what it fired before the snapshot */
        size_t la = strlen(ids_a), lb = strlen(ids_b);
        CHECK(la >= lb && !strcmp(ids_a + la - lb, ids_b));
        CHECK(ss_mcore_join_stats(r)->joined == ss_mcore_join_stats(a)->joined);
        CHECK(ss_mcore_join_stats(r)->joined >= 1);

        /* a snapshot of other window sizes is refused and leaves the core empty */
        ss_mcore_config_t other = mc;
        other.window_size = 1000;
        ss_mcore_t *o = make_core(&other);
        ss_mreader_init(&rd, b.data, b.len);
        CHECK(ss_mcore_load(o, &rd, err, sizeof(err)) == SS_ERR_FORMAT);
        CHECK(strstr(err, "window") != NULL);
        CHECK(ss_mcore_stats(o)->predictions == 0);
        ss_mreader_init(&rd, b.data, b.len / 3);
        CHECK(ss_mcore_load(r, &rd, err, sizeof(err)) == SS_ERR_FORMAT);
        CHECK(ss_mcore_stats(r)->predictions == 0);
        ss_mcore_destroy(o);
        ss_mbuf_free(&b);
        ss_mcore_destroy(a);
        ss_mcore_destroy(r);
}

/* The report's history and its recent events are in the snapshot: a core restored after an
 * event, given the same predictions as the original, reports the same history and events. */
static void test_snapshot_history(void)
{
        ss_mcore_config_t mc = config();
        double shifted[3] = {150 * 4, 500, 350};
        ss_mcore_t *a = make_core(&mc), *r = make_core(&mc), *fresh = make_core(&mc);
        char ids[4096] = "";
        rng = 91;
        run_shift(a, 0, 2000, NULL);
        run_shift(a, 2000, 5000, shifted);
        drain_events(a, ids, sizeof(ids), NULL);
        CHECK(ids[0] != '\0');
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_mcore_save(a, &b);
        ss_mreader_t rd;
        ss_mreader_init(&rd, b.data, b.len);
        char err[256] = "";
        CHECK(ss_mcore_load(r, &rd, err, sizeof(err)) == SS_OK);
        uint64_t rng_at = rng;
        run_shift(a, 5000, 5500, shifted);
        rng = rng_at;
        run_shift(r, 5000, 5500, shifted);
        rng = rng_at;
        run_shift(fresh, 5000, 5500, shifted);
        const char *name;
        char *ja = ss_mcore_report_json(a, 0, &name), *jr = ss_mcore_report_json(r, 0, &name);
        char *jf = ss_mcore_report_json(fresh, 0, &name);
        const char *ha = ja ? strstr(ja, "\"history\"") : NULL;
        const char *hr = jr ? strstr(jr, "\"history\"") : NULL;
        const char *ea = ja ? strstr(ja, "\"events_recent\":[{") : NULL;
        const char *er = jr ? strstr(jr, "\"events_recent\":[{") : NULL;
        /* the original's history starts at its first evaluation (n500) and has 11 */
        CHECK(ha && hr && json_num_after(ha, "count", 0) == 500 &&
              json_num_after(hr, "count", 0) == 500);
        CHECK(ha && hr && strstr(ha, "\"perf\"") &&
              !strncmp(ha, hr, (size_t)(strstr(ha, "\"perf\"") - ha)));
        CHECK(ea && er && !strncmp(ea, er, strcspn(ea, "]")));
        /* without the snapshot: one evaluation and no event */
        CHECK(jf && !strstr(jf, "\"events_recent\":[{"));
        free(ja);
        free(jr);
        free(jf);
        ss_mbuf_free(&b);
        ss_mcore_destroy(a);
        ss_mcore_destroy(r);
        ss_mcore_destroy(fresh);
}

static void test_tumbling(void)
{
        ss_mcore_config_t mc = config();
        mc.window_ms = 60 * 1000;
        mc.eval_every = 1000000; /* only the time windows evaluate */
        mc.trigger = (ss_trigger_config_t){1, 1, 0};
        ss_mcore_t *m = make_core(&mc);
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        double shifted[3] = {1000, 10, 10};
        ss_prediction_t p;
        char id[32], ids[4096] = "";
        int64_t t0 = 1700000040000; /* a multiple of 60 s */
        /* window 1: reference mix; window 2: almost all negative; one row of window 3 closes
         * window 2 */
        for (long i = 0; i < 1200; i++) {
                int64_t t = t0 + (i < 600 ? i * 50 : 60000 + (i - 600) * 50);
                make_pred(c, i < 600 ? NULL : shifted, &p, id, sizeof(id), i, t);
                feed(m, &p, t);
        }
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, ""); /* window 2 is still open */
        make_pred(c, NULL, &p, id, sizeof(id), 5000, t0 + 120000);
        feed(m, &p, t0 + 120000);
        drain_events(m, ids, sizeof(ids), NULL);
        char want[128];
        snprintf(want, sizeof(want), "%s:t%lld", VERSION, (long long)(t0 + 60000));
        CHECK_STR_EQ(ids, want);
        /* the idle tick closes the third window once a window's length passed without data */
        ss_mcore_tick(m, t0 + 120000 + 59000);
        CHECK(ss_mcore_stats(m)->evaluations == 2);
        ss_mcore_tick(m, t0 + 120000 + 60000);
        CHECK(ss_mcore_stats(m)->evaluations == 3);
        ss_mcore_destroy(m);
}

/* A second card: the fixture with another version, created a day later. */
static ss_card_view_t *newer_card(void)
{
        char path[1024], err[512];
        char *text = NULL;
        size_t len;
        ss_test_src_path("tests/fixtures/drift/card_valid.json", path, sizeof(path));
        if (ss_file_read_all(path, &text, &len, err, sizeof(err)) != SS_OK)
                exit(1);
        char *v = strstr(text, "logreg-20261125T073000Z-1a2b3c4d");
        char *t = strstr(text, "2026-11-25T07:30:00.250Z");
        memcpy(v, "logreg-20261126T073000Z-99999999", 32);
        memcpy(t, "2026-11-26", 10);
        ss_card_view_t *c = ss_card_view_parse(text, "newer.card.json", err, sizeof(err));
        free(text);
        if (!c) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        return c;
}

/* Feeds n predictions of card c from t (1 ms apart), ids from seq. */
static void run_card(ss_mcore_t *m, const ss_card_view_t *c, long seq, long n, int64_t t,
                     const double *w)
{
        ss_prediction_t p;
        char id[32];
        for (long i = 0; i < n; i++) {
                make_pred(c, w, &p, id, sizeof(id), seq + i, t + i);
                feed(m, &p, t + i);
        }
}

/* A newer version of the model: its own windows, judged on its own card; the switch starts
 * the cooldown (its first windows do not fire at once); the old version's evaluations
 * never raise an event again. */
static void test_new_version(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        char err[256], ids[4096] = "";
        CHECK(ss_mcore_add_card(m, newer_card(), err, sizeof(err)) == SS_OK);
        CHECK(ss_mcore_add_card(m, newer_card(), err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(strstr(err, "already monitored") != NULL);
        CHECK(ss_mcore_ncards(m) == 2 && ss_mcore_nnames(m) == 1);
        const char *name = ss_mcore_name(m, 0);
        double shifted[3] = {150 * 4, 500, 350};
        rng = 77;
        run_shift(m, 0, 2000, NULL);
        run_shift(m, 2000, 6000, shifted); /* old version: fires, then cooldown */
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK(strstr(ids, VERSION) != NULL);
        CHECK_STR_EQ(ss_mcore_current_version(m, name), VERSION);
        uint64_t stale = ss_mcore_stats(m)->stale;
        /* the newer version, drifted from the start: the switch starts the cooldown */
        const ss_card_view_t *c2 = ss_mcore_card(m, 1);
        int64_t t_switch = 1700000100000;
        run_card(m, c2, 100000, 4000, t_switch, shifted);
        CHECK_STR_EQ(ss_mcore_current_version(m, name), c2->version);
        CHECK(ss_mcore_stats(m)->switches == 1);
        ids[0] = '\0';
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        /* once the cooldown is over, the drift of the new version fires (its own windows) */
        run_card(m, c2, 200000, 2000, t_switch + 3600 * 1000, shifted);
        drain_events(m, ids, sizeof(ids), NULL);
        printf("new version events: %s\n", ids);
        CHECK(!strncmp(ids, "logreg-20261126T073000Z-99999999:n", 34));
        /* the old version's evaluations are now stale, even long after the cooldown */
        run_card(m, ss_mcore_card(m, 0), 300000, 4000, t_switch + 5 * 3600 * 1000, shifted);
        CHECK(ss_mcore_stats(m)->stale > stale);
        ids[0] = '\0';
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        ss_mcore_destroy(m);
}

/* A rollback by model update: the older card becomes the current version (cooldown from
 * the update), the newer one is stale from then on. An update naming a version without a
 * card waits for its card. */
static void test_switch_update(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        char err[256], ids[4096] = "";
        const char *name = ss_mcore_name(m, 0);
        const char *v2 = "logreg-20261126T073000Z-99999999";
        int64_t t0 = 1700000000000, hour = 3600 * 1000;
        CHECK(ss_mcore_switch(m, name, v2, t0) == 0); /* no card yet: remembered */
        CHECK(ss_mcore_current_version(m, name) == NULL);
        CHECK(ss_mcore_add_card(m, newer_card(), err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(ss_mcore_current_version(m, name), v2);
        double shifted[3] = {150 * 4, 500, 350};
        rng = 91;
        /* v1 predictions still in flight: stale, never an event */
        run_card(m, ss_mcore_card(m, 0), 0, 6000, t0 + 10, shifted);
        CHECK(ss_mcore_stats(m)->stale > 0);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        /* rollback to v1 */
        CHECK(ss_mcore_switch(m, name, VERSION, t0 + 2 * hour) == 1);
        CHECK_STR_EQ(ss_mcore_current_version(m, name), VERSION);
        CHECK(ss_mcore_stats(m)->switches == 1);
        uint64_t stale = ss_mcore_stats(m)->stale;
        run_card(m, ss_mcore_card(m, 1), 10000, 4000, t0 + 2 * hour + 10, shifted);
        CHECK(ss_mcore_stats(m)->stale > stale); /* v2, newer card, is stale now */
        CHECK_STR_EQ(ss_mcore_current_version(m, name), VERSION);
        run_card(m, ss_mcore_card(m, 0), 20000, 4000, t0 + 2 * hour + 100, shifted);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, ""); /* in the cooldown of the switch */
        run_card(m, ss_mcore_card(m, 0), 30000, 4000, t0 + 3 * hour + 100, shifted);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK(!strncmp(ids, VERSION, strlen(VERSION)));
        /* a snapshot keeps the rollback: restored, v1 stays current and v2 stays stale */
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_mcore_save(m, &b);
        ss_mcore_t *r = make_core(&mc);
        CHECK(ss_mcore_add_card(r, newer_card(), err, sizeof(err)) == SS_OK);
        ss_mreader_t rd;
        ss_mreader_init(&rd, b.data, b.len);
        CHECK(ss_mcore_load(r, &rd, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(ss_mcore_current_version(r, name), VERSION);
        stale = ss_mcore_stats(r)->stale;
        run_card(r, ss_mcore_card(r, 1), 40000, 2000, t0 + 4 * hour, shifted);
        CHECK(ss_mcore_stats(r)->stale > stale);
        CHECK_STR_EQ(ss_mcore_current_version(r, name), VERSION);
        /* the topic's tail read at a restart: what the snapshot already holds changes nothing
         * (the current version again, an update older than the rollback), a newer update
         * switches */
        uint64_t switches = ss_mcore_stats(r)->switches;
        CHECK(ss_mcore_switch_if_newer(r, name, VERSION, t0 + 2 * hour) == -1);
        CHECK(ss_mcore_switch_if_newer(r, name, v2, t0) == -1);
        CHECK(ss_mcore_switch_if_newer(r, name, v2, t0 + 2 * hour - 1) == -1);
        CHECK_STR_EQ(ss_mcore_current_version(r, name), VERSION);
        CHECK(ss_mcore_stats(r)->switches == switches);
        /* (ranks mix update times and cards' creation times: this one is after both cards) */
        CHECK(ss_mcore_switch_if_newer(r, name, v2, 1800000000000) == 1);
        CHECK_STR_EQ(ss_mcore_current_version(r, name), v2);
        CHECK(ss_mcore_stats(r)->switches == switches + 1);
        ss_mbuf_free(&b);
        ss_mcore_destroy(r);
        ss_mcore_destroy(m);
}

/* The card source: asked for a registry version without a card, it adds the newer card. */
static int card_calls;
static int card_source(void *opaque, const char *model_name, const char *model_version)
{
        ss_mcore_t *m = opaque;
        char err[256];
        card_calls++;
        (void)model_name;
        if (strcmp(model_version, "logreg-20261126T073000Z-99999999@it-model/2"))
                return 0;
        return ss_mcore_add_card(m, newer_card(), err, sizeof(err)) == SS_OK;
}

/* A prediction of a registry version without a card asks the card source; the prediction
 * that asked is counted in the new card's windows, not lost. */
static void test_card_source(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        ss_mcore_set_card_fn(m, card_source, m);
        ss_prediction_t p;
        char id[32];
        rng = 5;
        card_calls = 0;
        make_pred(ss_mcore_card(m, 0), NULL, &p, id, sizeof(id), 1, 1700000000000);
        p.model_version = ss_str_c("logreg-other@it-model/9");
        CHECK(feed(m, &p, 1700000000000) == SS_MCORE_UNKNOWN_VERSION);
        CHECK(card_calls == 1 && ss_mcore_ncards(m) == 1);
        CHECK(ss_mcore_stats(m)->unknown_version == 1);
        p.model_version = ss_str_c("logreg-20261126T073000Z-99999999@it-model/2");
        CHECK(feed(m, &p, 1700000000001) == SS_MCORE_OK);
        CHECK(card_calls == 2 && ss_mcore_ncards(m) == 2);
        CHECK(ss_mcore_stats(m)->predictions == 1 && ss_mcore_stats(m)->unknown_version == 1);
        CHECK_STR_EQ(ss_mcore_current_version(m, ss_mcore_name(m, 0)),
                     "logreg-20261126T073000Z-99999999");
        CHECK(feed(m, &p, 1700000000002) == SS_MCORE_OK);
        CHECK(card_calls == 2); /* known now */
        ss_mcore_destroy(m);
}

/* ---- label shift, estimated performance, invalid predictions -------------------------- */

/* A model like the project's LR: C[pred][true], the rare classes under-predicted. */
static const double C_LR[3][3] = {{0.55, 0.08, 0.04}, {0.38, 0.70, 0.30}, {0.07, 0.22, 0.66}};
static const double PI_REF[3] = {0.157, 0.501, 0.342};

/* The fixture card with a reference confusion matrix of C_LR over 20000 examples of PI_REF. */
static ss_mcore_t *make_core_bbse(const ss_mcore_config_t *mc)
{
        char err[512];
        ss_card_view_t *c = load_card();
        for (int t = 0; t < 3; t++)
                for (int k = 0; k < 3; k++)
                        c->confusion[t][k] = C_LR[k][t] * PI_REF[t] * 20000;
        c->has_confusion = 1;
        ss_mcore_t *m = ss_mcore_new(mc, serde, NULL, err, sizeof(err));
        if (!m || ss_mcore_add_card(m, c, err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        return m;
}

/* n predictions whose true class is drawn from mix and the predicted class from C_LR. */
static void run_truth(ss_mcore_t *m, long from, long to, const double *mix)
{
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32];
        for (long i = from; i < to; i++) {
                make_pred(c, NULL, &p, id, sizeof(id), i, 1700000000000 + i);
                int t = draw(mix, 3);
                double col[3] = {C_LR[0][t], C_LR[1][t], C_LR[2][t]};
                int k = draw(col, 3);
                if (k != p.label) { /* keep the probabilities valid, the argmax on k */
                        float x = p.probs[k];
                        p.probs[k] = p.probs[p.label];
                        p.probs[p.label] = x;
                        p.label = k;
                }
                if (p.probs[k] < p.probs[(k + 1) % 3] || p.probs[k] < p.probs[(k + 2) % 3]) {
                        int j =
                            p.probs[(k + 1) % 3] > p.probs[(k + 2) % 3] ? (k + 1) % 3 : (k + 2) % 3;
                        float x = p.probs[k];
                        p.probs[k] = p.probs[j];
                        p.probs[j] = x;
                }
                CHECK(feed(m, &p, 1700000000000 + i) == SS_MCORE_OK);
        }
}

static void test_label_shift(void)
{
        ss_mcore_config_t mc = config();
        mc.label_shift = 1;
        mc.window_size = 6000; /* the +-0.03 check below needs a window this large */
        snprintf(mc.event_families, sizeof(mc.event_families), "label_shift,performance");
        ss_mcore_t *m = make_core_bbse(&mc);
        char ids[4096] = "";
        rng = 4242;
        /* no shift: the true mix is the reference's -> no event, the estimate near it */
        run_truth(m, 0, 6000, PI_REF);
        drain_events(m, ids, sizeof(ids), NULL);
        CHECK_STR_EQ(ids, "");
        const char *name;
        char *json = ss_mcore_report_json(m, 0, &name);
        double w0 = json ? json_num_after(json, "estimated_mix", 0) : NAN;
        printf("label shift, no shift: estimated negative share %.4f (true %.3f)\n", w0, PI_REF[0]);
        CHECK_NEAR(w0, PI_REF[0], 0.03);
        CHECK(json && strstr(json, "\"label_shift\":{\"statistic\":\"label_shift\""));
        CHECK(json && strstr(json, "\"history\":{\"sliding\":{\"t\":["));
        free(json);
        /* shift to .32/.48/.20: an event naming label_shift, the estimate within 0.03 */
        double shifted[3] = {0.32, 0.48, 0.20};
        ss_retrain_event_t ev = {0};
        run_truth(m, 6000, 12000, shifted);
        drain_events(m, ids, sizeof(ids), &ev);
        printf("label shift events: %s\n", ids);
        CHECK(ids[0] != '\0');
        int has_ls = 0;
        for (size_t i = 0; i < ev.n_reasons; i++) {
                const ss_retrain_reason_t *r = &ev.reasons[i];
                has_ls |= r->statistic.len == 11 && !memcmp(r->statistic.ptr, "label_shift", 11);
                /* prediction.class may breach too, but its family does not raise events */
                CHECK(r->family.len == 11 && !memcmp(r->family.ptr, "label_shift", 11));
                CHECK(r->window_n >= 2000 && r->reference_n == 20000);
                CHECK(r->has_critical_value && r->value > r->critical_value &&
                      r->value > r->threshold);
        }
        CHECK(has_ls);
        json = ss_mcore_report_json(m, 0, &name);
        for (int k = 0; k < 3; k++) {
                double w = json ? json_num_after(json, "estimated_mix", 0) : NAN;
                if (k) { /* the k-th element of the array */
                        const char *q = strstr(json, "\"estimated_mix\":[");
                        for (int j = 0; q && j < k; j++)
                                q = strchr(q + 1, ',');
                        w = q ? strtod(q + 1, NULL) : NAN;
                }
                double lo = json_num_after(json, "interval_low", 0),
                       hi = json_num_after(json, "interval_high", 0);
                printf("label shift, shifted: estimated share %d %.4f (true %.2f)\n", k, w,
                       shifted[k]);
                CHECK_NEAR(w, shifted[k], 0.03);
                if (k == 0)
                        CHECK(lo < shifted[0] && shifted[0] < hi && hi - lo < 0.1);
        }
        CHECK(json && strstr(json, "\"event_id\":\"logreg-20261125T073000Z-1a2b3c4d:n"));
        free(json);
        ss_retrain_event_clear(&ev);
        ss_mcore_destroy(m);
}

/* A calibrated model: true labels drawn from the probabilities. Sharp probabilities, then
 * nearly flat ones (a model that stopped knowing): estimated F1 falls, without a label. */
static void test_estimated_f1(void)
{
        ss_mcore_config_t mc = config();
        mc.cbpe = 1;
        snprintf(mc.event_families, sizeof(mc.event_families), "performance.estimated_f1");
        ss_mcore_t *m = make_core(&mc);
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32], ids[4096] = "";
        long conf[3][3] = {{0}};
        ss_retrain_event_t ev = {0};
        rng = 555;
        for (long i = 0; i < 8000; i++) {
                make_pred(c, NULL, &p, id, sizeof(id), i, 1700000000000 + i);
                double e[3], s = 0, sharp = i < 3000 ? 4 : 0.1;
                for (int k = 0; k < 3; k++)
                        s += e[k] = pow(uni() + 1e-3, sharp);
                int best = 0;
                for (int k = 0; k < 3; k++) {
                        p.probs[k] = (float)(e[k] / s);
                        if (p.probs[k] > p.probs[best])
                                best = k;
                }
                p.label = best;
                double pr[3] = {p.probs[0], p.probs[1], p.probs[2]};
                int truth = draw(pr, 3);
                if (i >= 8000 - 2000)
                        conf[truth][best]++;
                CHECK(feed(m, &p, 1700000000000 + i) == SS_MCORE_OK);
        }
        drain_events(m, ids, sizeof(ids), &ev);
        printf("estimated F1 events: %s\n", ids);
        CHECK(ids[0] != '\0');
        CHECK(ev.n_reasons == 1 && ev.reasons[0].statistic.len == 24 &&
              !memcmp(ev.reasons[0].statistic.ptr, "performance.estimated_f1", 24));
        CHECK(ev.n_reasons == 1 && ev.reasons[0].value < 0.495 &&
              fabs(ev.reasons[0].threshold - 0.495) < 1e-12);
        /* the two-condition rule: below the threshold and below the critical value, which
         * lies under the card's macro-F1 (0.595) */
        CHECK(ev.n_reasons == 1 && ev.reasons[0].has_critical_value &&
              ev.reasons[0].value < ev.reasons[0].critical_value &&
              ev.reasons[0].critical_value < 0.595);
        /* the estimate of the last window against the F1 its drawn labels give */
        double f1 = 0;
        for (int k = 0; k < 3; k++) {
                double tp = (double)conf[k][k], pred = 0, truth = 0;
                for (int j = 0; j < 3; j++) {
                        pred += (double)conf[j][k];
                        truth += (double)conf[k][j];
                }
                double pr = pred > 0 ? tp / pred : 0, re = truth > 0 ? tp / truth : 0;
                f1 += pr + re > 0 ? 2 * pr * re / (pr + re) / 3 : 0;
        }
        const char *name;
        char *json = ss_mcore_report_json(m, 0, &name);
        const char *q = json ? strstr(json, "\"estimated_performance\"") : NULL;
        double est = q ? json_num_after(q, "macro_f1", 0) : NAN;
        printf("estimated macro-F1 %.4f, from the labels %.4f\n", est, f1);
        CHECK_NEAR(est, f1, 0.03);
        /* critical value = card F1 - z(0.99) se sqrt(1 + n / reference n) */
        double se = q ? json_num_after(q, "f1_standard_error", 0) : NAN;
        double crit = q ? json_num_after(q, "f1_critical", 0) : NAN;
        double n = q ? json_num_after(q, "n", 0) : NAN;
        double refn = (double)ss_mcore_card(m, 0)->ref_n;
        printf("estimated macro-F1 standard error %.5f, critical value %.4f\n", se, crit);
        CHECK(se > 0 && se < 0.05);
        CHECK_NEAR(crit, 0.595 - 2.3263478740 * se * sqrt(1 + n / refn), 1e-6);
        free(json);
        ss_retrain_event_clear(&ev);
        ss_mcore_destroy(m);

        /* a threshold above every estimate: only the critical value keeps windows of a model
         * as good as the card's (estimated F1 above 0.595) from breaching */
        mc.f1_threshold = 0.99;
        m = make_core(&mc);
        c = ss_mcore_card(m, 0);
        ids[0] = '\0';
        rng = 556;
        for (long i = 0; i < 4000; i++) {
                make_pred(c, NULL, &p, id, sizeof(id), i, 1700000000000 + i);
                double e[3], s = 0;
                for (int k = 0; k < 3; k++)
                        s += e[k] = pow(uni() + 1e-3, 4);
                int best = 0;
                for (int k = 0; k < 3; k++) {
                        p.probs[k] = (float)(e[k] / s);
                        if (p.probs[k] > p.probs[best])
                                best = k;
                }
                p.label = best;
                CHECK(feed(m, &p, 1700000000000 + i) == SS_MCORE_OK);
        }
        drain_events(m, ids, sizeof(ids), NULL);
        json = ss_mcore_report_json(m, 0, &name);
        q = json ? strstr(json, "\"estimated_performance\"") : NULL;
        est = q ? json_num_after(q, "macro_f1", 0) : NAN;
        printf("a good model under threshold 0.99: estimated macro-F1 %.4f, events '%s'\n", est,
               ids);
        CHECK(est > 0.62 && est < 0.99);
        CHECK(ids[0] == '\0');
        free(json);
        ss_mcore_destroy(m);
}

static void test_invalid(void)
{
        ss_mcore_config_t mc = config();
        ss_mcore_t *m = make_core(&mc);
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        ss_prediction_t p;
        char id[32];
        make_pred(c, NULL, &p, id, sizeof(id), 1, 1700000000000);
        CHECK(feed(m, &p, 0) == SS_MCORE_OK);
        ss_prediction_t bad = p;
        bad.probs[1] = NAN;
        CHECK(ss_mcore_ingest_decoded(m, &bad, 0) == SS_MCORE_INVALID);
        bad = p;
        bad.probs[0] = INFINITY;
        CHECK(ss_mcore_ingest_decoded(m, &bad, 0) == SS_MCORE_INVALID);
        bad = p;
        bad.probs[0] = -0.1f;
        bad.probs[1] += 0.1f;
        CHECK(ss_mcore_ingest_decoded(m, &bad, 0) == SS_MCORE_INVALID);
        bad = p;
        bad.probs[2] += 0.5f;
        CHECK(ss_mcore_ingest_decoded(m, &bad, 0) == SS_MCORE_INVALID);
        bad = p;
        bad.label = 7;
        CHECK(ss_mcore_ingest_decoded(m, &bad, 0) == SS_MCORE_INVALID);
        const ss_mcore_stats_t *st = ss_mcore_stats(m);
        CHECK(st->invalid == 5 && st->predictions == 1);
        /* labels: a bad id, a bad value, a bad labeled_at (refused by the caller) */
        CHECK(ss_mcore_ingest_label(m, "", 0, 1, 1, 1) == -1);
        CHECK(ss_mcore_ingest_label(m, "42", 2, 5, 1, 1) == -1);
        ss_mcore_label_refused(m, SS_MCORE_LABEL_BAD_TIME);
        CHECK(st->label_errors == 3 && st->labels == 0);
        /* a final report is written even without a new evaluation */
        ss_mcore_t *fresh = make_core(&mc);
        CHECK(ss_mcore_report_next(fresh) == -1);
        ss_mcore_destroy(fresh);
        /* an unknown family in the configuration is refused with the key named */
        char err[512];
        snprintf(mc.event_families, sizeof(mc.event_families), "label_shift,inputs");
        CHECK(ss_mcore_new(&mc, serde, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "monitor.event.families=label_shift,inputs") != NULL);
        ss_mcore_destroy(m);
}

int main(void)
{
        char dir[1024], err[512];
        ss_log_level_set(SS_LOG_WARN);
        ss_test_src_path("schemas", dir, sizeof(dir));
        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        serde = ss_serde_new(dir, &ids, 0, err, sizeof(err));
        if (!serde) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        test_no_drift();
        test_prior_drift();
        test_perf_drift();
        test_dedupe_and_faults();
        test_sent_recover();
        test_snapshot_replay();
        test_snapshot_history();
        test_tumbling();
        test_new_version();
        test_switch_update();
        test_card_source();
        test_label_shift();
        test_estimated_f1();
        test_invalid();
        ss_serde_destroy(serde);
        return ss_test_finish();
}
