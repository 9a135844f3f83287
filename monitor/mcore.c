/*
 * mcore: ingest -> windows -> evaluations -> trigger -> events, in memory.
 *
 * One mmodel per card (model version) holds its windows, its performance
 * ring and the results of its latest evaluations; one mname per model name
 * holds the trigger (cooldown is per model name, reset by a newer version)
 * and the report's "changed" flag. A prediction is decoded into a reused
 * struct, matched to its card by version (the last match is cached: streams
 * rarely mix versions), binned once into a row of bin indices, and that row
 * goes to both windows. Its (tweet id -> model, label, scored_at) waits in the
 * join for the label. Evaluations run when their stream's count reaches the
 * next multiple (sliding, perf) or when a later prediction closes the time
 * window, so their window ids are functions of the input alone.
 *
 * The chi-square quantile of each distribution is computed once per card
 * (it depends only on the degrees of freedom and the false-alarm rate); an
 * evaluation then costs a pass over the bins.
 *
 * Beside the bin rows, each window keeps its class side (cbpe.h: predicted
 * counts and the expected confusion matrix, the probabilities quantised once
 * per prediction), from which an evaluation estimates the true class mix
 * (bbse.h, against the card's reference confusion matrix) and the macro-F1.
 * Every breach is named by family and statistic; only those of the families
 * in monitor.event.families reach the trigger. The latest sliding and
 * performance evaluations are kept in a ring for the report's history.
 */
#include "mcore.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbse.h"
#include "cbpe.h"
#include "drift.h"
#include "join.h"
#include "perf.h"
#include "ss_log.h"
#include "ss_util.h"
#include "window.h"

#define MAX_REASONS        (2 * SS_CARD_MAX_DISTS + 4)
#define MAX_METRICS        (2 * SS_CARD_MAX_DISTS + 16)
#define MAX_UNKNOWN_LOGGED 16
#define STAT_MAX           48
#define FAMILY_MAX         16
#define CI_ALPHA           0.05 /* the class-mix intervals are 95 % */
#define HIST_MAX           240  /* sliding and perf evaluations kept for the report */

static const char *const stream_names[SS_MSTREAM__COUNT] = {"sliding", "time", "perf"};

typedef struct mreason {
        char metric[64];
        char family[FAMILY_MAX];
        char statistic[STAT_MAX];
        double value, threshold, critical;
        int has_critical;
        int64_t n, reference_n;
        int raises; /* its family may raise an event (monitor.event.families) */
} mreason_t;

typedef struct mmetric {
        char name[64];
        double value;
        int64_t n, reference_n;
} mmetric_t;

/* The result of one drift metric in one window. */
typedef struct drift_res {
        double psi, kl, psi_crit, kl_crit;
        uint32_t n;
        int evaluated, breach_psi, breach_kl;
} drift_res_t;

/* Label shift and estimated performance of one window. */
typedef struct class_res {
        ss_bbse_est_t ls;
        int ls_evaluated, ls_breach;
        ss_cbpe_est_t ce;
        double ce_crit; /* estimated-F1 critical value (below it: significant); NAN: none */
        int ce_evaluated, ce_breach;
} class_res_t;

/* One sliding-window evaluation as the report's history keeps it. */
typedef struct hist_drift {
        int64_t t;
        uint64_t count;
        float ls_psi, ls_crit, pc_psi, pc_crit, in_psi, in_crit, est_f1, est_crit;
        float mix[3];
        int8_t in_dist; /* the input distribution with the largest PSI / critical ratio */
        uint8_t breach; /* any raising breach */
} hist_drift_t;

typedef struct hist_perf {
        int64_t t;
        uint64_t count;
        float f1, coverage, lag_p50;
} hist_perf_t;

/* The latest evaluation of one stream of one model. */
typedef struct eval_state {
        int valid;
        char window_id[40];
        int64_t start, end;
        int breach;
        ss_trig_result_t trig;
        mreason_t last_reasons[MAX_REASONS]; /* of the latest evaluation that breached */
        int n_last_reasons;
} eval_state_t;

typedef struct mmodel {
        ss_card_view_t *card;
        int name_idx;
        int64_t rank; /* the card's creation time, or the latest switch of the model to it */
        ss_win_layout_t layout;
        ss_slide_t *slide;
        int64_t *slide_t; /* [window_size] scored_at of the row in the same slot */
        ss_tumble_t *tumble;
        ss_perf_t *perf;
        double isf[SS_CARD_MAX_DISTS]; /* chi2.isf(alpha, bins_eff - 1) per distribution */
        int bins_eff[SS_CARD_MAX_DISTS];
        double f1_threshold; /* NAN: no F1 threshold (no config value, no card F1) */
        uint64_t predictions, joined;
        int64_t last_pred_wall_ms;
        drift_res_t res[2][SS_CARD_MAX_DISTS]; /* [sliding|time][distribution] */
        uint32_t res_rows[2];
        ss_perf_report_t perf_rep;
        int perf_breach;
        eval_state_t ev[SS_MSTREAM__COUNT];
        ss_gauge_t *g_psi[2][SS_CARD_MAX_DISTS], *g_kl[2][SS_CARD_MAX_DISTS];
        ss_gauge_t *g_f1, *g_cov, *g_lag[2];
        int gauges_made[SS_MSTREAM__COUNT];
        /* statistics: names and whether they may raise an event */
        char stat[SS_CARD_MAX_DISTS][STAT_MAX];
        int raises[SS_CARD_MAX_DISTS];
        int ls_raises, est_raises, f1_raises;
        /* label shift (has_bbse: the card has a usable confusion matrix) and CBPE */
        ss_bbse_ref_t bbse;
        int has_bbse;
        double est_f1_threshold; /* NAN: no card F1 */
        double est_f1_z;         /* one-sided normal quantile 1 - monitor.false_alarm */
        ss_cbpe_t *cw[2];        /* [sliding|time] */
        class_res_t cres[2];
        ss_gauge_t *g_ls_psi[2], *g_ls_crit[2], *g_mix[2][3], *g_est_f1[2], *g_est_crit[2];
        hist_drift_t *hist; /* [HIST_MAX] ring of sliding evaluations */
        size_t hist_len, hist_head;
        hist_perf_t *phist; /* [HIST_MAX] ring of perf evaluations */
        size_t phist_len, phist_head;
} mmodel_t;

#define EVENTS_KEPT 16

typedef struct mname {
        char *name;
        ss_trigger_t trig;
        /* the latest events queued, for the report */
        struct {
                char id[192];
                int64_t t;
                char summary[256];
        } recent[EVENTS_KEPT];
        int nrecent;
        int report_model; /* newest evaluated version, -1 before any evaluation */
        int changed;
        ss_counter_t *c_triggers;
        ss_counter_t *c_switches;
} mname_t;

#define SWITCHES_PENDING 16

/* A switch named by a model update whose version has no card yet. */
typedef struct mswitch {
        char name[128];
        char version[SS_TRIG_VERSION_MAX];
        int64_t at_ms;
} mswitch_t;

struct ss_mcore {
        ss_mcore_config_t cfg;
        const ss_serde_t *serde;
        ss_metrics_t *metrics;
        mmodel_t *models;
        int nmodels;
        mname_t *names;
        int nnames;
        int last_model; /* cache of the last version matched */
        ss_join_t *join;
        ss_prediction_t pred; /* decode target, reused */
        double *cur;          /* [SS_CARD_MAX_BINS] scratch counts */
        ss_mcore_event_t **events;
        size_t nevents, cap_events;
        char **sent;
        size_t nsent, cap_sent;
        ss_mcore_card_fn *card_fn; /* asked for the card of a version without one */
        void *card_opaque;
        mswitch_t pending[SWITCHES_PENDING]; /* switches waiting for their card */
        int npending;
        char *unknown[MAX_UNKNOWN_LOGGED]; /* versions already logged as unknown */
        int nunknown;
        ss_mcore_stats_t st;
        ss_join_stats_t join_published; /* join counters already added to the metrics */
        ss_counter_t *c_predictions, *c_unknown, *c_decode, *c_joined, *c_expired[2];
        ss_counter_t *c_invalid[4];
        ss_counter_t *c_labels, *c_label_errors[3]; /* [tweet_id|label|labeled_at] */
};

void ss_mcore_config_from(ss_mcore_config_t *mc, const ss_config_t *c)
{
        memset(mc, 0, sizeof(*mc));
        mc->window_size = (size_t)ss_config_get_int(c, "monitor.window.size");
        mc->window_ms = ss_config_get_int(c, "monitor.window.seconds") * 1000;
        mc->eval_every = (uint64_t)ss_config_get_int(c, "monitor.eval.every");
        mc->min_samples = (uint64_t)ss_config_get_int(c, "monitor.min.samples");
        mc->psi_threshold = ss_config_get_double(c, "monitor.psi.threshold");
        mc->kl_threshold = ss_config_get_double(c, "monitor.kl.threshold");
        mc->false_alarm = ss_config_get_double(c, "monitor.false_alarm");
        mc->perf_window = (size_t)ss_config_get_int(c, "monitor.perf.window");
        mc->perf_min_labels = (uint64_t)ss_config_get_int(c, "monitor.perf.min.labels");
        mc->perf_eval_every = (uint64_t)ss_config_get_int(c, "monitor.perf.eval.every");
        mc->f1_threshold = ss_config_get_double(c, "monitor.f1.threshold");
        mc->f1_max_drop = ss_config_get_double(c, "monitor.f1.max_drop");
        mc->label_shift = ss_config_get_bool(c, "monitor.label_shift.enabled");
        mc->cbpe = ss_config_get_bool(c, "monitor.cbpe.enabled");
        mc->ls_psi_threshold = ss_config_get_double(c, "monitor.label_shift.psi.threshold");
        mc->ls_kl_threshold = ss_config_get_double(c, "monitor.label_shift.kl.threshold");
        mc->ls_min_samples = (uint64_t)ss_config_get_int(c, "monitor.label_shift.min.samples");
        snprintf(mc->event_families, sizeof(mc->event_families), "%s",
                 ss_config_get_str(c, "monitor.event.families"));
        mc->trigger.k = (int)ss_config_get_int(c, "monitor.trigger.k");
        mc->trigger.n = (int)ss_config_get_int(c, "monitor.trigger.n");
        mc->trigger.cooldown_ms = ss_config_get_int(c, "monitor.trigger.cooldown.s") * 1000;
        mc->join_max_pending = (size_t)ss_config_get_int(c, "monitor.join.max.pending");
        mc->join_ttl_ms = ss_config_get_int(c, "monitor.join.ttl.s") * 1000;
}

/* ---- statistics and families --------------------------------------------------------- */

static const char *const families[] = {"label_shift", "prediction", "input", "performance"};

/* The statistic a card distribution measures: predicted_class -> prediction.class,
 * prob.X -> prediction.prob.X, input.X as it is. */
static void stat_of_dist(const char *dist, char *buf, size_t size)
{
        if (!strcmp(dist, "predicted_class"))
                snprintf(buf, size, "prediction.class");
        else if (!strncmp(dist, "prob.", 5))
                snprintf(buf, size, "prediction.%s", dist);
        else
                snprintf(buf, size, "%s", dist);
}

/* The family of a statistic: what comes before its first dot. */
static void family_of(const char *stat, char *buf, size_t size)
{
        size_t n = strcspn(stat, ".");
        snprintf(buf, size, "%.*s", (int)n, stat);
}

/* Calls fn on each comma-separated, space-trimmed entry of list; stops at a non-zero. */
static int families_each(const char *list, int (*fn)(const char *e, size_t n, void *arg), void *arg)
{
        const char *p = list;
        while (*p) {
                size_t n = strcspn(p, ",");
                const char *e = p;
                size_t k = n;
                while (k && (*e == ' ' || *e == '\t'))
                        e++, k--;
                while (k && (e[k - 1] == ' ' || e[k - 1] == '\t'))
                        k--;
                if (k) {
                        int rc = fn(e, k, arg);
                        if (rc)
                                return rc;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

static int entry_known(const char *e, size_t n, void *arg)
{
        (void)arg;
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
                size_t fl = strlen(families[i]);
                if (n >= fl && !strncmp(e, families[i], fl) && (n == fl || e[fl] == '.'))
                        return 0;
        }
        return 1;
}

static int entry_matches(const char *e, size_t n, void *arg)
{
        const char *stat = arg;
        char fam[FAMILY_MAX];
        family_of(stat, fam, sizeof(fam));
        return (strlen(stat) == n && !strncmp(stat, e, n)) ||
               (strlen(fam) == n && !strncmp(fam, e, n));
}

/* True if a breach of stat may raise an event (its family or itself is listed). */
static int stat_raises(const ss_mcore_t *m, const char *stat)
{
        return families_each(m->cfg.event_families, entry_matches, (void *)stat);
}

/* ---- construction -------------------------------------------------------------------- */

static ss_counter_t *counter(ss_mcore_t *m, const char *name, const char *help,
                             const char *const *labels)
{
        if (!m->metrics)
                return NULL;
        return ss_metrics_counter(m->metrics, name, help, labels, NULL, 0);
}

static ss_gauge_t *gauge(ss_mcore_t *m, const char *name, const char *help,
                         const char *const *labels)
{
        if (!m->metrics)
                return NULL;
        return ss_metrics_gauge(m->metrics, name, help, labels, NULL, 0);
}

static void cinc(ss_counter_t *c, double v)
{
        if (c && v > 0)
                ss_counter_add(c, v);
}

static void gset(ss_gauge_t *g, double v)
{
        if (g)
                ss_gauge_set(g, v);
}

ss_mcore_t *ss_mcore_new(const ss_mcore_config_t *cfg, const ss_serde_t *serde,
                         ss_metrics_t *metrics, char *errstr, size_t errstr_size)
{
        ss_trigger_t probe;
        if (cfg->window_size < 1 || cfg->window_ms < 1 || cfg->eval_every < 1 ||
            cfg->perf_window < 1 || cfg->perf_eval_every < 1 || !(cfg->false_alarm > 0) ||
            !(cfg->false_alarm < 1) || ss_trigger_init(&probe, &cfg->trigger)) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "monitor: window sizes, evaluation periods and false_alarm must be "
                           "positive, 1 <= trigger.k <= trigger.n <= %d",
                           SS_TRIG_MAX_N);
                return NULL;
        }
        if (families_each(cfg->event_families, entry_known, NULL)) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "monitor.event.families=%s: each entry must be a family (label_shift, "
                           "prediction, input, performance) or one of its statistics (e.g. "
                           "input.has_url)",
                           cfg->event_families);
                return NULL;
        }
        ss_mcore_t *m = calloc(1, sizeof(*m));
        if (!m)
                goto nomem;
        m->cfg = *cfg;
        m->serde = serde;
        m->metrics = metrics;
        m->last_model = -1;
        m->join = ss_join_new(cfg->join_max_pending, cfg->join_ttl_ms);
        m->cur = malloc(sizeof(double) * SS_CARD_MAX_BINS);
        if (!m->join || !m->cur)
                goto nomem;
        m->c_predictions = counter(m, "sentistream_monitor_predictions_total",
                                   "predictions read and matched to a model card", NULL);
        m->c_unknown = counter(m, "sentistream_monitor_unknown_version_total",
                               "predictions naming a model version without a card (skipped)", NULL);
        m->c_decode = counter(m, "sentistream_monitor_decode_errors_total",
                              "prediction messages that did not decode (skipped)", NULL);
        m->c_joined = counter(m, "sentistream_monitor_joined_total",
                              "predictions joined with their human label", NULL);
        m->c_expired[0] = counter(m, "sentistream_monitor_expired_total",
                                  "join entries that left unmatched (TTL or pending bound)",
                                  (const char *[]){"kind", "prediction", NULL});
        m->c_expired[1] = counter(m, "sentistream_monitor_expired_total",
                                  "join entries that left unmatched (TTL or pending bound)",
                                  (const char *[]){"kind", "label", NULL});
        static const char *const why[4] = {"not_finite", "negative", "not_normalised", "label"};
        for (int i = 0; i < 4; i++)
                m->c_invalid[i] =
                    counter(m, "sentistream_monitor_invalid_predictions_total",
                            "predictions refused: probabilities NaN/infinite, negative or not "
                            "summing to 1, or a label out of range (kept out of every window)",
                            (const char *[]){"reason", why[i], NULL});
        m->c_labels = counter(m, "sentistream_monitor_labels_total",
                              "labels read from the labels stream", NULL);
        static const char *const lwhy[3] = {"tweet_id", "label", "labeled_at"};
        for (int i = 0; i < 3; i++)
                m->c_label_errors[i] =
                    counter(m, "sentistream_monitor_label_errors_total",
                            "labels refused: bad tweet id, label value or labeled_at",
                            (const char *[]){"reason", lwhy[i], NULL});
        return m;
nomem:
        ss_mcore_destroy(m);
        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "monitor: out of memory");
        return NULL;
}

static void model_free(mmodel_t *mm)
{
        ss_card_view_destroy(mm->card);
        ss_slide_destroy(mm->slide);
        free(mm->slide_t);
        ss_tumble_destroy(mm->tumble);
        ss_perf_destroy(mm->perf);
        ss_cbpe_destroy(mm->cw[0]);
        ss_cbpe_destroy(mm->cw[1]);
        free(mm->hist);
        free(mm->phist);
}

void ss_mcore_destroy(ss_mcore_t *m)
{
        if (!m)
                return;
        for (int i = 0; i < m->nmodels; i++)
                model_free(&m->models[i]);
        free(m->models);
        for (int i = 0; i < m->nnames; i++)
                free(m->names[i].name);
        free(m->names);
        ss_join_destroy(m->join);
        ss_prediction_clear(&m->pred);
        free(m->cur);
        for (size_t i = 0; i < m->nevents; i++) {
                ss_serde_buf_free(&m->events[i]->value);
                free(m->events[i]);
        }
        free(m->events);
        for (size_t i = 0; i < m->nsent; i++)
                free(m->sent[i]);
        free(m->sent);
        for (int i = 0; i < m->nunknown; i++)
                free(m->unknown[i]);
        free(m);
}

static int name_find_or_add(ss_mcore_t *m, const char *name)
{
        for (int i = 0; i < m->nnames; i++)
                if (!strcmp(m->names[i].name, name))
                        return i;
        mname_t *n = realloc(m->names, sizeof(*n) * (size_t)(m->nnames + 1));
        if (!n)
                return -1;
        m->names = n;
        mname_t *nm = &m->names[m->nnames];
        memset(nm, 0, sizeof(*nm));
        if (!(nm->name = strdup(name)))
                return -1;
        ss_trigger_init(&nm->trig, &m->cfg.trigger);
        nm->report_model = -1;
        nm->c_triggers = counter(m, "sentistream_monitor_triggers_total",
                                 "retraining events queued (after k-of-n and cooldown)",
                                 (const char *[]){"model", name, NULL});
        nm->c_switches = counter(m, "sentistream_monitor_version_switches_total",
                                 "switches of the model to another version (windows of the "
                                 "versions before are closed for events; the cooldown starts)",
                                 (const char *[]){"model", name, NULL});
        return m->nnames++;
}

/* Creates the gauges of one stream on its first evaluation, so that a window that was
 * never evaluated shows no value rather than a 0. */
static void stream_gauges(ss_mcore_t *m, mmodel_t *mm, int stream)
{
        const char *name = mm->card->name;
        if (mm->gauges_made[stream])
                return;
        mm->gauges_made[stream] = 1;
        if (stream == SS_MSTREAM_PERF) {
                const char *ml[] = {"model", name, NULL};
                mm->g_f1 = gauge(m, "sentistream_monitor_f1",
                                 "rolling macro-F1 over labelled predictions", ml);
                mm->g_lag[0] = gauge(m, "sentistream_monitor_label_lag_seconds",
                                     "label lag (labeled_at - scored_at) over the performance "
                                     "window",
                                     (const char *[]){"model", name, "quantile", "0.5", NULL});
                mm->g_lag[1] = gauge(m, "sentistream_monitor_label_lag_seconds",
                                     "label lag (labeled_at - scored_at) over the performance "
                                     "window",
                                     (const char *[]){"model", name, "quantile", "0.95", NULL});
                return;
        }
        if (mm->has_bbse) {
                mm->g_ls_psi[stream] =
                    gauge(m, "sentistream_monitor_label_shift_psi",
                          "PSI of the estimated true class mix against the card's reference mix",
                          (const char *[]){"model", name, "window", stream_names[stream], NULL});
                for (int k = 0; k < 3; k++)
                        mm->g_mix[stream][k] =
                            gauge(m, "sentistream_monitor_class_mix_estimated",
                                  "estimated true class share of the latest window (label shift)",
                                  (const char *[]){"model", name, "window", stream_names[stream],
                                                   "class", ss_label_name(k), NULL});
                mm->g_ls_crit[stream] =
                    gauge(m, "sentistream_monitor_label_shift_psi_critical",
                          "critical value of the label-shift PSI at monitor.false_alarm for the "
                          "latest window",
                          (const char *[]){"model", name, "window", stream_names[stream], NULL});
                for (int k = 0; k < 3; k++)
                        gset(
                            gauge(m, "sentistream_monitor_class_mix_reference",
                                  "true class share of the card's reference data",
                                  (const char *[]){"model", name, "class", ss_label_name(k), NULL}),
                            mm->bbse.pi[k]);
        }
        if (m->cfg.cbpe) {
                const char *wl[] = {"model", name, "window", stream_names[stream], NULL};
                mm->g_est_f1[stream] = gauge(
                    m, "sentistream_monitor_estimated_f1",
                    "macro-F1 of the latest window estimated from the probabilities (no labels)",
                    wl);
                mm->g_est_crit[stream] =
                    gauge(m, "sentistream_monitor_estimated_f1_critical",
                          "the card's macro-F1 less z(1 - monitor.false_alarm) standard errors "
                          "of the latest window's estimate",
                          wl);
                if (!isnan(mm->est_f1_threshold))
                        gset(gauge(m, "sentistream_monitor_estimated_f1_threshold",
                                   "estimated macro-F1 below this (and below its critical "
                                   "value) is a breach",
                                   (const char *[]){"model", name, NULL}),
                             mm->est_f1_threshold);
        }
        for (int d = 0; d < mm->card->ndists; d++) {
                const char *dn = mm->card->dists[d].name;
                if (mm->card->dists[d].src == SS_CARD_SRC_UNKNOWN)
                        continue;
                const char *labels[] = {"model",  name, "window", stream_names[stream],
                                        "metric", dn,   NULL};
                mm->g_psi[stream][d] = gauge(m, "sentistream_monitor_psi",
                                             "PSI of the latest window against the card's "
                                             "reference",
                                             labels);
                mm->g_kl[stream][d] =
                    gauge(m, "sentistream_monitor_kl",
                          "KL(current || reference) of the latest window", labels);
        }
}

static int confusion3(const ss_card_view_t *card, double conf[SS_BBSE_K][SS_BBSE_K])
{
        for (int t = 0; t < SS_BBSE_K; t++)
                for (int k = 0; k < SS_BBSE_K; k++)
                        conf[t][k] = card->confusion[t][k];
        return 1;
}

/* Statistic names, raising flags, the label-shift reference and the estimated-F1 threshold
 * of a card. */
static void card_statistics(ss_mcore_t *m, mmodel_t *mm)
{
        const ss_card_view_t *card = mm->card;
        for (int d = 0; d < card->ndists; d++) {
                stat_of_dist(card->dists[d].name, mm->stat[d], STAT_MAX);
                mm->raises[d] = stat_raises(m, mm->stat[d]);
        }
        mm->ls_raises = stat_raises(m, "label_shift");
        mm->est_raises = stat_raises(m, "performance.estimated_f1");
        mm->f1_raises = stat_raises(m, "performance.f1");
        mm->has_bbse = 0;
        double conf[SS_BBSE_K][SS_BBSE_K];
        if (m->cfg.label_shift) {
                if (!card->has_confusion)
                        ss_warn("monitor",
                                "%s: no reference confusion matrix in the card: no label-shift "
                                "estimate for %s",
                                card->path, card->version);
                else if (card->nclasses != SS_BBSE_K || !confusion3(card, conf) ||
                         ss_bbse_ref_init(&mm->bbse, conf))
                        ss_warn("monitor",
                                "%s: the reference confusion matrix is not 3 x 3, singular or "
                                "misses a class: no label-shift estimate for %s",
                                card->path, card->version);
                else
                        mm->has_bbse = 1;
        }
        mm->est_f1_threshold = m->cfg.f1_threshold > 0 ? m->cfg.f1_threshold
                               : isnan(card->val_macro_f1)
                                   ? NAN
                                   : card->val_macro_f1 - m->cfg.f1_max_drop;
        mm->est_f1_z =
            2 * m->cfg.false_alarm < 1 ? sqrt(ss_chi2_isf(2 * m->cfg.false_alarm, 1)) : 0;
}

/* The estimated-F1 critical value of window w: the card's macro-F1 less z standard errors
 * of the difference. The window's error comes from its own rows (cbpe.h); the card's
 * figure, measured on ref_n reference rows, is taken to vary like an estimate from that
 * many rows of the same kind, so the variance is se^2 (1 + n / ref_n). NAN without a card
 * F1 or an error. */
static double est_f1_critical(const mmodel_t *mm, const ss_cbpe_est_t *ce)
{
        double f1 = mm->card->val_macro_f1;
        if (isnan(f1) || !isfinite(ce->f1_se) || ce->n <= 0)
                return NAN;
        double ref = mm->card->ref_n > 0 ? (double)mm->card->ref_n : ce->n;
        return f1 - mm->est_f1_z * ce->f1_se * sqrt(1 + ce->n / ref);
}

ss_err_t ss_mcore_add_card(ss_mcore_t *m, ss_card_view_t *card, char *errstr, size_t errstr_size)
{
        for (int i = 0; i < m->nmodels; i++)
                if (!strcmp(m->models[i].card->version, card->version)) {
                        ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                   "%s: model version %s is already monitored (card %s)",
                                   card->path, card->version, m->models[i].card->path);
                        ss_card_view_destroy(card);
                        return SS_ERR_INVALID_ARG;
                }
        mmodel_t *ms = realloc(m->models, sizeof(*ms) * (size_t)(m->nmodels + 1));
        if (!ms) {
                ss_card_view_destroy(card);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        m->models = ms;
        mmodel_t *mm = &m->models[m->nmodels];
        memset(mm, 0, sizeof(*mm));
        mm->card = card;
        int nbins[SS_CARD_MAX_DISTS];
        for (int d = 0; d < card->ndists; d++) {
                nbins[d] = card->dists[d].nbins;
                mm->bins_eff[d] = ss_drift_bins_effective(card->dists[d].counts, nbins[d]);
                mm->isf[d] = ss_chi2_isf(m->cfg.false_alarm, mm->bins_eff[d] - 1);
        }
        ss_win_layout_init(&mm->layout, card->ndists, nbins);
        mm->slide = ss_slide_new(&mm->layout, m->cfg.window_size);
        mm->slide_t = calloc(m->cfg.window_size, sizeof(int64_t));
        mm->tumble = ss_tumble_new(&mm->layout, m->cfg.window_ms);
        mm->perf = ss_perf_new(m->cfg.perf_window);
        mm->cw[0] = ss_cbpe_new(m->cfg.window_size);
        mm->cw[1] = ss_cbpe_new(0);
        mm->hist = calloc(HIST_MAX, sizeof(*mm->hist));
        mm->phist = calloc(HIST_MAX, sizeof(*mm->phist));
        mm->name_idx = name_find_or_add(m, card->name);
        if (!mm->slide || !mm->slide_t || !mm->tumble || !mm->perf || !mm->cw[0] || !mm->cw[1] ||
            !mm->hist || !mm->phist || mm->name_idx < 0) {
                model_free(mm);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        if (m->cfg.f1_threshold > 0)
                mm->f1_threshold = m->cfg.f1_threshold;
        else if (!isnan(card->val_macro_f1))
                mm->f1_threshold = card->val_macro_f1 - m->cfg.f1_max_drop;
        else
                mm->f1_threshold = NAN;
        if (isnan(mm->f1_threshold))
                ss_warn("monitor",
                        "%s: no validation macro_f1 in the card and "
                        "monitor.f1.threshold is 0: F1 drops of %s cannot trigger",
                        card->path, card->version);
        card_statistics(m, mm);
        mm->rank = card->created_at_ms;
        mm->g_cov = gauge(m, "sentistream_monitor_label_coverage",
                          "share of the version's predictions joined with a label",
                          (const char *[]){"model", card->name, NULL});
        m->nmodels++;
        for (int i = 0; i < m->npending; i++)
                if (!strcmp(m->pending[i].version, card->version)) {
                        mswitch_t w = m->pending[i];
                        m->pending[i] = m->pending[--m->npending];
                        ss_mcore_switch(m, w.name, w.version, w.at_ms);
                        break;
                }
        return SS_OK;
}

/* Switches the model of mm to it at at_ms if it is newer than the current version. */
static void model_switch(ss_mcore_t *m, mmodel_t *mm, int64_t at_ms, const char *why)
{
        mname_t *nm = &m->names[mm->name_idx];
        char before[SS_TRIG_VERSION_MAX];
        snprintf(before, sizeof(before), "%s", nm->trig.version);
        if (ss_trigger_switch(&nm->trig, mm->card->version, mm->rank, at_ms) != 1)
                return;
        nm->changed = 1;
        if (!before[0]) {
                ss_info("monitor", "model %s: events judged on version %s", mm->card->name,
                        mm->card->version);
                return;
        }
        cinc(nm->c_switches, 1);
        m->st.switches++;
        ss_info("monitor",
                "model %s: switched %s -> %s at %lld (%s): windows of %s re-baselined on its "
                "card %s, the windows of %s raise no event any more, cooldown %lld s from the "
                "switch",
                mm->card->name, before, mm->card->version, (long long)at_ms, why, mm->card->version,
                mm->card->path, before, (long long)(nm->trig.cfg.cooldown_ms / 1000));
}

int ss_mcore_switch(ss_mcore_t *m, const char *name, const char *version, int64_t at_ms)
{
        /* the card names the model (a registered name may differ from it): name is only
         * kept for a version whose card is not here yet */
        for (int i = 0; i < m->nmodels; i++) {
                mmodel_t *mm = &m->models[i];
                if (strcmp(mm->card->version, version))
                        continue;
                /* an update is authoritative: the version it names ranks above the current
                 * one, whatever the cards' ages (a rollback names an older card) */
                const ss_trigger_t *t = &m->names[mm->name_idx].trig;
                if (at_ms > mm->rank)
                        mm->rank = at_ms;
                if (t->version[0] && strcmp(t->version, version) && t->rank >= mm->rank)
                        mm->rank = t->rank + 1;
                model_switch(m, mm, at_ms, "model update");
                return 1;
        }
        int k = 0;
        while (k < m->npending && strcmp(m->pending[k].version, version))
                k++;
        if (k == SWITCHES_PENDING) { /* full: the oldest goes */
                memmove(m->pending, m->pending + 1, sizeof(m->pending[0]) * (SWITCHES_PENDING - 1));
                k = SWITCHES_PENDING - 1;
        } else if (k == m->npending) {
                m->npending++;
        }
        mswitch_t *w = &m->pending[k];
        snprintf(w->name, sizeof(w->name), "%s", name);
        snprintf(w->version, sizeof(w->version), "%s", version);
        w->at_ms = at_ms;
        return 0;
}

int ss_mcore_switch_if_newer(ss_mcore_t *m, const char *name, const char *version, int64_t at_ms)
{
        for (int i = 0; i < m->nmodels; i++) {
                const mmodel_t *mm = &m->models[i];
                if (strcmp(mm->card->version, version))
                        continue;
                const ss_trigger_t *t = &m->names[mm->name_idx].trig;
                if (t->version[0] && (!strcmp(t->version, version) || t->rank >= at_ms))
                        return -1;
                break;
        }
        return ss_mcore_switch(m, name, version, at_ms);
}

void ss_mcore_set_card_fn(ss_mcore_t *m, ss_mcore_card_fn *fn, void *opaque)
{
        m->card_fn = fn;
        m->card_opaque = opaque;
}

const char *ss_mcore_current_version(const ss_mcore_t *m, const char *name)
{
        for (int i = 0; i < m->nnames; i++)
                if (!strcmp(m->names[i].name, name))
                        return m->names[i].trig.version[0] ? m->names[i].trig.version : NULL;
        return NULL;
}

int ss_mcore_ncards(const ss_mcore_t *m)
{
        return m->nmodels;
}

const ss_card_view_t *ss_mcore_card(const ss_mcore_t *m, int i)
{
        return m->models[i].card;
}

const ss_mcore_stats_t *ss_mcore_stats(const ss_mcore_t *m)
{
        return &m->st;
}

const ss_join_stats_t *ss_mcore_join_stats(const ss_mcore_t *m)
{
        return ss_join_stats(m->join);
}

int ss_mcore_nnames(const ss_mcore_t *m)
{
        return m->nnames;
}

const char *ss_mcore_name(const ss_mcore_t *m, int i)
{
        return m->names[i].name;
}

/* ---- sent set and event queue -------------------------------------------------------- */

int ss_mcore_sent_contains(const ss_mcore_t *m, const char *event_id)
{
        for (size_t i = m->nsent; i-- > 0;)
                if (!strcmp(m->sent[i], event_id))
                        return 1;
        return 0;
}

void ss_mcore_sent_add(ss_mcore_t *m, const char *event_id)
{
        if (ss_mcore_sent_contains(m, event_id))
                return;
        if (m->nsent == m->cap_sent) {
                size_t cap = m->cap_sent ? 2 * m->cap_sent : 16;
                char **s = realloc(m->sent, sizeof(char *) * cap);
                if (!s)
                        return;
                m->sent = s;
                m->cap_sent = cap;
        }
        char *d = strdup(event_id);
        if (d)
                m->sent[m->nsent++] = d;
}

int ss_mcore_sent_recover(ss_mcore_t *m, const char *model_name, const char *model_version,
                          const char *event_id)
{
        if (!model_name || !model_version || !event_id)
                return -1;
        size_t vl = strlen(model_version);
        int i = 0;
        while (i < m->nnames && strcmp(m->names[i].name, model_name))
                i++;
        if (i == m->nnames || vl == 0 || strncmp(event_id, model_version, vl) ||
            event_id[vl] != ':' || !event_id[vl + 1])
                return -1; /* another model's, or not an id this monitor makes */
        if (ss_mcore_sent_contains(m, event_id))
                return 0;
        ss_mcore_sent_add(m, event_id);
        return ss_mcore_sent_contains(m, event_id) ? 1 : -1;
}

const ss_mcore_event_t *ss_mcore_event_peek(const ss_mcore_t *m)
{
        return m->nevents ? m->events[0] : NULL;
}

size_t ss_mcore_events_pending(const ss_mcore_t *m)
{
        return m->nevents;
}

void ss_mcore_event_done(ss_mcore_t *m)
{
        if (!m->nevents)
                return;
        ss_mcore_event_t *e = m->events[0];
        ss_mcore_sent_add(m, e->event_id);
        ss_serde_buf_free(&e->value);
        free(e);
        /* an array of pointers: the element size is a pointer's */
        // NOLINTNEXTLINE(bugprone-sizeof-expression)
        memmove(m->events, m->events + 1, sizeof(*m->events) * (m->nevents - 1));
        m->nevents--;
}

static int event_queued(const ss_mcore_t *m, const char *id)
{
        for (size_t i = 0; i < m->nevents; i++)
                if (!strcmp(m->events[i]->event_id, id))
                        return 1;
        return 0;
}

static void event_remember(mname_t *nm, const ss_mcore_event_t *e, int64_t t)
{
        if (nm->nrecent == EVENTS_KEPT) {
                memmove(nm->recent, nm->recent + 1, sizeof(nm->recent[0]) * (EVENTS_KEPT - 1));
                nm->nrecent--;
        }
        snprintf(nm->recent[nm->nrecent].id, sizeof(nm->recent[0].id), "%s", e->event_id);
        snprintf(nm->recent[nm->nrecent].summary, sizeof(nm->recent[0].summary), "%s", e->summary);
        nm->recent[nm->nrecent].t = t;
        nm->nrecent++;
}

/* Encodes and queues an event; skipped when its id was already sent or queued. */
static void event_queue(ss_mcore_t *m, mmodel_t *mm, int stream, const mreason_t *reasons,
                        int nreasons, const mmetric_t *metrics, int nmetrics)
{
        eval_state_t *ev = &mm->ev[stream];
        char id[192];
        snprintf(id, sizeof(id), "%s:%s", mm->card->version, ev->window_id);
        if (ss_mcore_sent_contains(m, id) || event_queued(m, id)) {
                m->st.events_deduped++;
                ss_info("monitor", "event %s was already sent: not sent again", id);
                return;
        }
        ss_retrain_reason_t rr[MAX_REASONS];
        ss_metric_snapshot_t ms[MAX_METRICS];
        for (int i = 0; i < nreasons; i++)
                rr[i] = (ss_retrain_reason_t){ss_str_c(reasons[i].metric),
                                              reasons[i].value,
                                              reasons[i].threshold,
                                              reasons[i].has_critical != 0,
                                              reasons[i].critical,
                                              ss_str_c(reasons[i].family),
                                              ss_str_c(reasons[i].statistic),
                                              reasons[i].n,
                                              reasons[i].reference_n};
        for (int i = 0; i < nmetrics; i++)
                ms[i] = (ss_metric_snapshot_t){ss_str_c(metrics[i].name), metrics[i].value,
                                               metrics[i].n, metrics[i].reference_n};
        ss_retrain_event_t re = {.event_id = ss_str_c(id),
                                 .model_name = ss_str_c(mm->card->name),
                                 .model_version = ss_str_c(mm->card->version),
                                 .reasons = rr,
                                 .n_reasons = (size_t)nreasons,
                                 .metrics = ms,
                                 .n_metrics = (size_t)nmetrics,
                                 .window_start = ev->start,
                                 .window_end = ev->end,
                                 .triggered_at = ss_time_now_ms()};
        ss_mcore_event_t *e = calloc(1, sizeof(*e));
        char err[256];
        if (!e || ss_serde_retrain_event_encode(m->serde, &re, &e->value, err, sizeof(err))) {
                ss_error("monitor", "event %s not queued: %s", id, e ? err : "out of memory");
                if (e)
                        ss_serde_buf_free(&e->value);
                free(e);
                return;
        }
        snprintf(e->event_id, sizeof(e->event_id), "%s", id);
        snprintf(e->model_name, sizeof(e->model_name), "%s", mm->card->name);
        size_t o = 0;
        for (int i = 0; i < nreasons && o < sizeof(e->summary); i++)
                o += (size_t)snprintf(e->summary + o, sizeof(e->summary) - o, "%s%s=%.4g",
                                      i ? "," : "", reasons[i].metric, reasons[i].value);
        if (m->nevents == m->cap_events) {
                size_t cap = m->cap_events ? 2 * m->cap_events : 8;
                /* an array of pointers: the element size is a pointer's */
                // NOLINTNEXTLINE(bugprone-sizeof-expression)
                ss_mcore_event_t **q = realloc(m->events, sizeof(*q) * cap);
                if (!q) {
                        ss_serde_buf_free(&e->value);
                        free(e);
                        return;
                }
                m->events = q;
                m->cap_events = cap;
        }
        m->events[m->nevents++] = e;
        m->st.events++;
        event_remember(&m->names[mm->name_idx], e, ev->end);
        cinc(m->names[mm->name_idx].c_triggers, 1);
}

/* ---- evaluations --------------------------------------------------------------------- */

/* Feeds the trigger and, on a fire, queues the event. Of the breaches in all[nall], those
 * that may raise an event count: the trigger sees a breach only if one of them does. */
static void eval_finish(ss_mcore_t *m, mmodel_t *mm, int stream, int64_t event_time,
                        const mreason_t *all, int nall, const mmetric_t *metrics, int nmetrics)
{
        eval_state_t *ev = &mm->ev[stream];
        mname_t *nm = &m->names[mm->name_idx];
        mreason_t reasons[MAX_REASONS];
        int nreasons = 0;
        for (int i = 0; i < nall; i++)
                if (all[i].raises)
                        reasons[nreasons++] = all[i];
        ev->valid = 1;
        ev->breach = nreasons > 0;
        if (nreasons > 0) {
                memcpy(ev->last_reasons, reasons, sizeof(*reasons) * (size_t)nreasons);
                ev->n_last_reasons = nreasons;
        }
        ev->trig = ss_trigger_observe(&nm->trig, stream, mm->card->version, mm->rank, ev->breach,
                                      event_time);
        m->st.evaluations++;
        if (ev->trig == SS_TRIG_STALE) {
                m->st.stale++;
                return;
        }
        int model_idx = (int)(mm - m->models);
        if (nm->report_model < 0 || m->models[nm->report_model].rank <= mm->rank)
                nm->report_model = model_idx;
        nm->changed = 1;
        if (ev->trig == SS_TRIG_FIRE) {
                /* a fire after a cooldown may come on a quiet evaluation: the reasons are
                 * then those of the stream's latest breach */
                if (nreasons == 0)
                        event_queue(m, mm, stream, ev->last_reasons, ev->n_last_reasons, metrics,
                                    nmetrics);
                else
                        event_queue(m, mm, stream, reasons, nreasons, metrics, nmetrics);
        }
}

static void log_drift(const ss_mcore_t *m, const mmodel_t *mm, int w, const char *breaches)
{
        const ss_card_view_t *c = mm->card;
        int ipsi = -1, ikl = -1;
        for (int d = 0; d < c->ndists; d++) {
                const drift_res_t *r = &mm->res[w][d];
                if (!r->n)
                        continue;
                if (ipsi < 0 || r->psi > mm->res[w][ipsi].psi)
                        ipsi = d;
                if (ikl < 0 || r->kl > mm->res[w][ikl].kl)
                        ikl = d;
        }
        const mname_t *nm = &m->names[mm->name_idx];
        ss_info("monitor",
                "eval model=%s version=%s window=%s:%s n=%u psi.max=%.4f(%s crit %.4f) "
                "kl.max=%.4f(%s crit %.4f) breaches=%s trigger=%s %d-of-%d",
                c->name, c->version, stream_names[w], mm->ev[w].window_id, mm->res_rows[w],
                ipsi >= 0 ? mm->res[w][ipsi].psi : 0, ipsi >= 0 ? c->dists[ipsi].name : "-",
                ipsi >= 0 ? mm->res[w][ipsi].psi_crit : 0, ikl >= 0 ? mm->res[w][ikl].kl : 0,
                ikl >= 0 ? c->dists[ikl].name : "-", ikl >= 0 ? mm->res[w][ikl].kl_crit : 0,
                breaches[0] ? breaches : "none", ss_trig_result_name(mm->ev[w].trig),
                ss_trigger_breaches(&nm->trig, w), nm->trig.cfg.n);
}

static void reason_add(mreason_t *reasons, int *nr, const char *measure, const char *stat,
                       double value, double threshold, double critical, double n, double ref_n,
                       int raises)
{
        mreason_t *x = &reasons[(*nr)++];
        *x = (mreason_t){.value = value,
                         .threshold = threshold,
                         .critical = isfinite(critical) ? critical : 0,
                         .has_critical = !isnan(critical) && isfinite(critical),
                         .n = (int64_t)n,
                         .reference_n = (int64_t)ref_n,
                         .raises = raises};
        if (measure)
                snprintf(x->metric, sizeof(x->metric), "%s.%s", measure, stat);
        else
                snprintf(x->metric, sizeof(x->metric), "%s", stat);
        snprintf(x->statistic, sizeof(x->statistic), "%s", stat);
        family_of(stat, x->family, sizeof(x->family));
}

static void metric_add(mmetric_t *metrics, int *nmet, const char *measure, const char *stat,
                       double value, double n, double ref_n)
{
        mmetric_t *p = &metrics[(*nmet)++];
        *p = (mmetric_t){.value = value, .n = (int64_t)n, .reference_n = (int64_t)ref_n};
        if (measure)
                snprintf(p->name, sizeof(p->name), "%s.%s", measure, stat);
        else
                snprintf(p->name, sizeof(p->name), "%s", stat);
}

/* Appends a breached statistic to the log line's list; one that may not raise an event is
 * marked "(reported)". */
static void breaches_add(char *buf, size_t *bo, size_t size, const char *stat, int raises)
{
        if (*bo < size)
                *bo += (size_t)snprintf(buf + *bo, size - *bo, "%s%s%s", *bo ? "," : "", stat,
                                        raises ? "" : "(reported)");
        if (*bo >= size)
                *bo = size - 1;
}

/* Label shift and estimated performance of window w, from its class counts and
 * expected confusion matrix. */
static void eval_classes(ss_mcore_t *m, mmodel_t *mm, int w, mreason_t *reasons, int *nr,
                         mmetric_t *metrics, int *nmet, char *breaches, size_t *bo, size_t size)
{
        class_res_t *cr = &mm->cres[w];
        const ss_cbpe_t *cw = mm->cw[w];
        double n = (double)ss_cbpe_n(cw);
        cr->ls_evaluated = cr->ls_breach = cr->ce_evaluated = cr->ce_breach = 0;
        if (mm->has_bbse && n > 0) {
                ss_bbse_est_t *e = &cr->ls;
                double pred[3] = {(double)cw->npred[0], (double)cw->npred[1], (double)cw->npred[2]};
                ss_bbse_estimate(&mm->bbse, pred, m->cfg.false_alarm, CI_ALPHA, e);
                /* a full sliding window always counts, even one smaller than the minimum */
                uint64_t need = m->cfg.ls_min_samples;
                if (w == SS_MSTREAM_SLIDING && need > m->cfg.window_size)
                        need = m->cfg.window_size;
                cr->ls_evaluated = n >= (double)m->cfg.min_samples && n >= (double)need;
                int bp =
                    cr->ls_evaluated && e->psi > m->cfg.ls_psi_threshold && e->psi > e->psi_crit;
                int bk = cr->ls_evaluated && e->kl > m->cfg.ls_kl_threshold && e->kl > e->kl_crit;
                cr->ls_breach = bp || bk;
                if (bp)
                        reason_add(reasons, nr, "psi", "label_shift", e->psi,
                                   m->cfg.ls_psi_threshold, e->psi_crit, n, mm->bbse.m,
                                   mm->ls_raises);
                if (bk)
                        reason_add(reasons, nr, "kl", "label_shift", e->kl, m->cfg.ls_kl_threshold,
                                   e->kl_crit, n, mm->bbse.m, mm->ls_raises);
                if (cr->ls_breach)
                        breaches_add(breaches, bo, size, "label_shift", mm->ls_raises);
                metric_add(metrics, nmet, "psi", "label_shift", e->psi, n, mm->bbse.m);
                metric_add(metrics, nmet, "kl", "label_shift", e->kl, n, mm->bbse.m);
                static const char *const mix[3] = {"label_shift.negative", "label_shift.neutral",
                                                   "label_shift.positive"};
                for (int k = 0; k < 3; k++) {
                        metric_add(metrics, nmet, NULL, mix[k], e->w[k], n, mm->bbse.m);
                        gset(mm->g_mix[w][k], e->w[k]);
                }
                gset(mm->g_ls_psi[w], e->psi);
                gset(mm->g_ls_crit[w], e->psi_crit);
        }
        if (m->cfg.cbpe && n > 0) {
                ss_cbpe_estimate(cw, &cr->ce);
                cr->ce_evaluated = n >= (double)m->cfg.min_samples;
                cr->ce_crit = est_f1_critical(mm, &cr->ce);
                /* below the threshold AND significantly below the card's F1 (no critical value
                 * without a card F1: the configured threshold alone) */
                cr->ce_breach = cr->ce_evaluated && !isnan(mm->est_f1_threshold) &&
                                cr->ce.macro_f1 < mm->est_f1_threshold &&
                                (isnan(cr->ce_crit) || cr->ce.macro_f1 < cr->ce_crit);
                if (cr->ce_breach) {
                        reason_add(reasons, nr, NULL, "performance.estimated_f1", cr->ce.macro_f1,
                                   mm->est_f1_threshold, cr->ce_crit, n, (double)mm->card->ref_n,
                                   mm->est_raises);
                        breaches_add(breaches, bo, size, "performance.estimated_f1",
                                     mm->est_raises);
                }
                metric_add(metrics, nmet, NULL, "performance.estimated_f1", cr->ce.macro_f1, n,
                           (double)mm->card->ref_n);
                metric_add(metrics, nmet, NULL, "performance.estimated_avgrec", cr->ce.avgrec, n,
                           (double)mm->card->ref_n);
                gset(mm->g_est_f1[w], cr->ce.macro_f1);
                if (!isnan(cr->ce_crit))
                        gset(mm->g_est_crit[w], cr->ce_crit);
        }
}

/* Appends the latest sliding evaluation to the report's history. */
static void hist_drift_add(const ss_mcore_t *m, mmodel_t *mm)
{
        hist_drift_t *h = &mm->hist[mm->hist_head];
        const class_res_t *cr = &mm->cres[SS_MSTREAM_SLIDING];
        memset(h, 0, sizeof(*h));
        h->t = mm->ev[SS_MSTREAM_SLIDING].end;
        h->count = mm->predictions;
        h->breach = (uint8_t)mm->ev[SS_MSTREAM_SLIDING].breach;
        h->ls_psi = h->ls_crit = h->est_f1 = h->est_crit = NAN;
        h->pc_psi = h->pc_crit = h->in_psi = h->in_crit = NAN;
        if (cr->ls_evaluated || (mm->has_bbse && cr->ls.n > 0)) {
                h->ls_psi = (float)cr->ls.psi;
                h->ls_crit = (float)cr->ls.psi_crit;
                for (int k = 0; k < 3; k++)
                        h->mix[k] = (float)cr->ls.w[k];
        }
        if (m->cfg.cbpe && cr->ce.n > 0) {
                h->est_f1 = (float)cr->ce.macro_f1;
                h->est_crit = (float)cr->ce_crit;
        }
        double best = -1;
        h->in_dist = -1;
        for (int d = 0; d < mm->card->ndists; d++) {
                const drift_res_t *r = &mm->res[SS_MSTREAM_SLIDING][d];
                if (!r->n)
                        continue;
                if (mm->card->dists[d].src == SS_CARD_SRC_PRED_CLASS) {
                        h->pc_psi = (float)r->psi;
                        h->pc_crit = (float)r->psi_crit;
                } else if (!strncmp(mm->stat[d], "input.", 6) && r->psi_crit > 0 &&
                           r->psi / r->psi_crit > best) {
                        best = r->psi / r->psi_crit;
                        h->in_psi = (float)r->psi;
                        h->in_crit = (float)r->psi_crit;
                        h->in_dist = (int8_t)d;
                }
        }
        mm->hist_head = (mm->hist_head + 1) % HIST_MAX;
        if (mm->hist_len < HIST_MAX)
                mm->hist_len++;
}

/* Drift evaluation of window w (0 sliding, 1 time) over counts/n. */
static void eval_drift(ss_mcore_t *m, mmodel_t *mm, int w, const uint32_t *counts,
                       const uint32_t *n, uint32_t rows, int64_t start, int64_t end)
{
        const ss_card_view_t *c = mm->card;
        mreason_t reasons[MAX_REASONS];
        mmetric_t metrics[MAX_METRICS];
        int nr = 0, nmet = 0;
        char breaches[256] = "";
        size_t bo = 0;
        mm->ev[w].start = start;
        mm->ev[w].end = end;
        mm->res_rows[w] = rows;
        stream_gauges(m, mm, w);
        for (int d = 0; d < c->ndists; d++) {
                const ss_card_dist_t *rd = &c->dists[d];
                drift_res_t *r = &mm->res[w][d];
                memset(r, 0, sizeof(*r));
                if (rd->src == SS_CARD_SRC_UNKNOWN || n[d] == 0)
                        continue;
                const uint32_t *cc = counts + mm->layout.off[d];
                for (int b = 0; b < rd->nbins; b++)
                        m->cur[b] = cc[b];
                ss_drift_psi_kl(m->cur, rd->counts, rd->nbins, &r->psi, &r->kl);
                double scale = 1.0 / n[d] + (rd->n > 0 ? 1.0 / rd->n : 0);
                r->psi_crit = scale * mm->isf[d];
                r->kl_crit = 0.5 * scale * mm->isf[d];
                r->n = n[d];
                r->evaluated = n[d] >= m->cfg.min_samples;
                r->breach_psi =
                    r->evaluated && r->psi > m->cfg.psi_threshold && r->psi > r->psi_crit;
                r->breach_kl = r->evaluated && r->kl > m->cfg.kl_threshold && r->kl > r->kl_crit;
                gset(mm->g_psi[w][d], r->psi);
                gset(mm->g_kl[w][d], r->kl);
                const char *st = mm->stat[d];
                if (r->breach_psi)
                        reason_add(reasons, &nr, "psi", st, r->psi, m->cfg.psi_threshold,
                                   r->psi_crit, r->n, rd->n, mm->raises[d]);
                if (r->breach_kl)
                        reason_add(reasons, &nr, "kl", st, r->kl, m->cfg.kl_threshold, r->kl_crit,
                                   r->n, rd->n, mm->raises[d]);
                if (r->breach_psi || r->breach_kl)
                        breaches_add(breaches, &bo, sizeof(breaches), st, mm->raises[d]);
                metric_add(metrics, &nmet, "psi", st, r->psi, r->n, rd->n);
                metric_add(metrics, &nmet, "kl", st, r->kl, r->n, rd->n);
        }
        eval_classes(m, mm, w, reasons, &nr, metrics, &nmet, breaches, &bo, sizeof(breaches));
        int64_t event_time = end;
        eval_finish(m, mm, w, event_time, reasons, nr, metrics, nmet);
        if (mm->ev[w].trig != SS_TRIG_STALE)
                log_drift(m, mm, w, breaches);
        if (w == SS_MSTREAM_SLIDING && mm->ev[w].trig != SS_TRIG_STALE)
                hist_drift_add(m, mm);
}

static void eval_sliding(ss_mcore_t *m, mmodel_t *mm)
{
        ss_slide_t *s = mm->slide;
        /* The rows arrive merged from several partitions, so their times are not in order:
         * the window spans the earliest to the latest of them (a scan every eval_every rows). */
        int64_t first = INT64_MAX, last = INT64_MIN;
        for (size_t i = 0; i < s->len; i++) {
                first = mm->slide_t[i] < first ? mm->slide_t[i] : first;
                last = mm->slide_t[i] > last ? mm->slide_t[i] : last;
        }
        if (!s->len)
                first = last = 0;
        snprintf(mm->ev[0].window_id, sizeof(mm->ev[0].window_id), "n%llu",
                 (unsigned long long)mm->predictions);
        eval_drift(m, mm, SS_MSTREAM_SLIDING, s->counts, s->n, (uint32_t)s->len, first, last);
}

static void eval_time(ss_mcore_t *m, mmodel_t *mm)
{
        ss_tumble_t *t = mm->tumble;
        snprintf(mm->ev[1].window_id, sizeof(mm->ev[1].window_id), "t%lld", (long long)t->start_ms);
        eval_drift(m, mm, SS_MSTREAM_TIME, t->counts, t->n, (uint32_t)t->rows, t->start_ms,
                   ss_tumble_end(t));
}

static double coverage(const mmodel_t *mm)
{
        return mm->predictions ? (double)mm->joined / (double)mm->predictions : 0;
}

static void eval_perf(ss_mcore_t *m, mmodel_t *mm)
{
        ss_perf_report_t *r = &mm->perf_rep;
        eval_state_t *ev = &mm->ev[SS_MSTREAM_PERF];
        ss_perf_report(mm->perf, r);
        stream_gauges(m, mm, SS_MSTREAM_PERF);
        snprintf(ev->window_id, sizeof(ev->window_id), "l%llu", (unsigned long long)mm->joined);
        ev->start = r->t_first;
        ev->end = r->t_last;
        int evaluated = r->n >= m->cfg.perf_min_labels;
        mm->perf_breach = evaluated && !isnan(mm->f1_threshold) && r->macro_f1 < mm->f1_threshold;
        mreason_t reason;
        int nr = 0;
        if (mm->perf_breach)
                reason_add(&reason, &nr, NULL, "performance.f1", r->macro_f1, mm->f1_threshold, NAN,
                           (double)r->n, (double)mm->card->ref_n, mm->f1_raises);
        int64_t n = (int64_t)r->n, refn = mm->card->ref_n;
        mmetric_t metrics[] = {
            {"performance.f1", r->macro_f1, n, refn},
            {"avgrec", r->avgrec, n, refn},
            {"f1_pn", r->f1_pn, n, refn},
            {"accuracy", r->accuracy, n, refn},
            {"label_coverage", coverage(mm), (int64_t)mm->joined, (int64_t)mm->predictions},
            {"label_lag_p50_s", r->lag_p50_s, n, 0},
            {"label_lag_p95_s", r->lag_p95_s, n, 0},
        };
        gset(mm->g_f1, r->macro_f1);
        gset(mm->g_cov, coverage(mm));
        gset(mm->g_lag[0], r->lag_p50_s);
        gset(mm->g_lag[1], r->lag_p95_s);
        eval_finish(m, mm, SS_MSTREAM_PERF, r->t_last, &reason, nr, metrics,
                    (int)(sizeof(metrics) / sizeof(metrics[0])));
        if (ev->trig == SS_TRIG_STALE)
                return;
        hist_perf_t *h = &mm->phist[mm->phist_head];
        *h = (hist_perf_t){r->t_last, mm->joined, (float)r->macro_f1, (float)coverage(mm),
                           (float)r->lag_p50_s};
        mm->phist_head = (mm->phist_head + 1) % HIST_MAX;
        if (mm->phist_len < HIST_MAX)
                mm->phist_len++;
        const mname_t *nm = &m->names[mm->name_idx];
        ss_info("monitor",
                "eval model=%s version=%s window=perf:%s n=%zu macro_f1=%.4f threshold=%.4f "
                "avgrec=%.4f coverage=%.3f lag_p50=%.1fs lag_p95=%.1fs breaches=%s trigger=%s "
                "%d-of-%d",
                mm->card->name, mm->card->version, ev->window_id, r->n, r->macro_f1,
                mm->f1_threshold, r->avgrec, coverage(mm), r->lag_p50_s, r->lag_p95_s,
                mm->perf_breach ? (mm->f1_raises ? "performance.f1" : "performance.f1(reported)")
                                : (evaluated ? "none" : "none(too few labels)"),
                ss_trig_result_name(ev->trig), ss_trigger_breaches(&nm->trig, SS_MSTREAM_PERF),
                nm->trig.cfg.n);
}

/* ---- ingest -------------------------------------------------------------------------- */

static int model_find(ss_mcore_t *m, const char *version, size_t len)
{
        int c = m->last_model;
        if (c >= 0 && !strncmp(m->models[c].card->version, version, len) &&
            m->models[c].card->version[len] == '\0')
                return c;
        for (int i = 0; i < m->nmodels; i++)
                if (!strncmp(m->models[i].card->version, version, len) &&
                    m->models[i].card->version[len] == '\0')
                        return m->last_model = i;
        return -1;
}

static void unknown_version(ss_mcore_t *m, const ss_prediction_t *p)
{
        m->st.unknown_version++;
        cinc(m->c_unknown, 1);
        for (int i = 0; i < m->nunknown; i++)
                if (!strcmp(m->unknown[i], p->model_version.ptr))
                        return;
        if (m->nunknown < MAX_UNKNOWN_LOGGED &&
            (m->unknown[m->nunknown] = strdup(p->model_version.ptr)))
                m->nunknown++;
        ss_warn("monitor", "predictions of model %s version %s have no card: counted and skipped",
                p->model_name.ptr, p->model_version.ptr);
}

static void on_pair(ss_mcore_t *m, const ss_join_pair_t *pair)
{
        if (pair->pred.model >= (uint32_t)m->nmodels)
                return;
        mmodel_t *mm = &m->models[pair->pred.model];
        ss_perf_add(mm->perf, pair->pred.label, pair->label.label,
                    pair->label.labeled_at_ms - pair->pred.scored_at_ms, pair->label.labeled_at_ms);
        mm->joined++;
        cinc(m->c_joined, 1);
        if (mm->joined % m->cfg.perf_eval_every == 0)
                eval_perf(m, mm);
}

/* What is wrong with a decoded prediction: NULL if nothing, else the reason (the counter's
 * label) with a description in buf. */
static const char *prediction_check(const ss_prediction_t *p, int *why, char *buf, size_t size)
{
        /* the common case in a few comparisons: NaN fails every one, an infinity the sum's */
        const float *q = p->probs;
        if (p->label >= 0 && p->label <= 2 && q[0] >= 0 && q[1] >= 0 && q[2] >= 0 &&
            fabsf(q[0] + q[1] + q[2] - 1) <= 1e-3f)
                return NULL;
        double sum = 0;
        if (p->label < 0 || p->label > 2) {
                *why = 3;
                snprintf(buf, size, "label %d is not negative/neutral/positive", (int)p->label);
                return buf;
        }
        for (int k = 0; k < 3; k++) {
                float v = p->probs[k];
                if (!isfinite(v)) {
                        *why = 0;
                        snprintf(buf, size, "probability of %s is %g", ss_label_name(k), (double)v);
                        return buf;
                }
                if (v < 0) {
                        *why = 1;
                        snprintf(buf, size, "probability of %s is negative (%g)", ss_label_name(k),
                                 (double)v);
                        return buf;
                }
                sum += v;
        }
        if (fabs(sum - 1) > 1e-3) {
                *why = 2;
                snprintf(buf, size, "probabilities sum to %.6g, not 1", sum);
                return buf;
        }
        return NULL;
}

static void invalid_prediction(ss_mcore_t *m, const ss_prediction_t *p, int why, const char *msg)
{
        m->st.invalid++;
        cinc(m->c_invalid[why], 1);
        uint64_t k = m->st.invalid;
        if (k <= 10 || k % 1000 == 0)
                ss_warn("monitor",
                        "invalid prediction (%llu so far) for tweet %.*s of model version %.*s: "
                        "%s; kept out of every window",
                        (unsigned long long)k, (int)p->tweet_id.len,
                        p->tweet_id.ptr ? p->tweet_id.ptr : "", (int)p->model_version.len,
                        p->model_version.ptr ? p->model_version.ptr : "", msg);
}

ss_mcore_outcome_t ss_mcore_ingest_decoded(ss_mcore_t *m, const ss_prediction_t *p, int64_t now_ms)
{
        char why_msg[128];
        int why = 0;
        if (prediction_check(p, &why, why_msg, sizeof(why_msg))) {
                invalid_prediction(m, p, why, why_msg);
                return SS_MCORE_INVALID;
        }
        /* "<card version>@NAME/VERSION" from a registry model: the card is the part before '@' */
        const char *at = memchr(p->model_version.ptr, '@', p->model_version.len);
        int mi = model_find(m, p->model_version.ptr,
                            at ? (size_t)(at - p->model_version.ptr) : p->model_version.len);
        if (mi < 0 && m->card_fn && p->model_version.ptr &&
            m->card_fn(m->card_opaque, p->model_name.ptr ? p->model_name.ptr : "",
                       p->model_version.ptr) == 1)
                mi = model_find(m, p->model_version.ptr,
                                at ? (size_t)(at - p->model_version.ptr) : p->model_version.len);
        if (mi < 0) {
                unknown_version(m, p);
                return SS_MCORE_UNKNOWN_VERSION;
        }
        mmodel_t *mm = &m->models[mi];
        int64_t t = p->scored_at > 0 ? p->scored_at : now_ms;
        if (strcmp(m->names[mm->name_idx].trig.version, mm->card->version))
                model_switch(m, mm, t, "first prediction of a newer version");
        m->st.predictions++;
        cinc(m->c_predictions, 1);
        ss_card_obs_t o = {.label = p->label,
                           .prob = p->probs,
                           .nprob = SS_NUM_CLASSES,
                           .has_stats = p->has_input_stats};
        if (p->has_input_stats) {
                o.n_tokens = p->input_stats.n_tokens;
                o.unk_share = p->input_stats.unk_share;
                o.has_url = p->input_stats.has_url;
                o.has_mention = p->input_stats.has_mention;
                o.has_emoji = p->input_stats.has_emoji;
        }
        uint8_t row[SS_CARD_MAX_DISTS];
        ss_card_view_bin(mm->card, &o, row);

        if (ss_tumble_due(mm->tumble, t)) {
                eval_time(m, mm);
                ss_tumble_roll(mm->tumble, t);
                ss_cbpe_clear(mm->cw[1]);
        }
        uint32_t q[3];
        ss_cbpe_quantize(p->probs, q);
        ss_tumble_add(mm->tumble, t, row);
        ss_cbpe_add_fixed(mm->cw[1], p->label, q);
        mm->slide_t[mm->slide->head] = t;
        ss_slide_add(mm->slide, row);
        ss_cbpe_add_fixed(mm->cw[0], p->label, q);
        mm->predictions++;
        mm->last_pred_wall_ms = now_ms;
        if (mm->predictions % m->cfg.eval_every == 0)
                eval_sliding(m, mm);

        ss_join_pred_t jp = {(uint32_t)mi, (uint8_t)p->label, t};
        ss_join_pair_t pair;
        if (ss_join_add_pred(m->join, p->tweet_id.ptr, p->tweet_id.len, &jp, now_ms, &pair) == 1)
                on_pair(m, &pair);
        return SS_MCORE_OK;
}

ss_mcore_outcome_t ss_mcore_ingest_prediction(ss_mcore_t *m, const void *buf, size_t len,
                                              int64_t now_ms)
{
        char err[256];
        if (ss_serde_prediction_decode(m->serde, buf, len, &m->pred, err, sizeof(err))) {
                m->st.decode_errors++;
                cinc(m->c_decode, 1);
                uint64_t k = m->st.decode_errors;
                if (k <= 10 || k % 1000 == 0)
                        ss_warn("monitor", "undecodable prediction (%llu so far): %s",
                                (unsigned long long)k, err);
                return SS_MCORE_UNDECODABLE;
        }
        return ss_mcore_ingest_decoded(m, &m->pred, now_ms);
}

void ss_mcore_label_refused(ss_mcore_t *m, ss_mcore_label_error_t why)
{
        m->st.label_errors++;
        if ((unsigned)why < 3)
                cinc(m->c_label_errors[why], 1);
}

void ss_mcore_report_touch(ss_mcore_t *m)
{
        for (int i = 0; i < m->nnames; i++)
                m->names[i].changed = 1;
}

int ss_mcore_ingest_label(ss_mcore_t *m, const char *tweet_id, size_t len, int label,
                          int64_t labeled_at_ms, int64_t now_ms)
{
        if (!tweet_id || len == 0 || len > SS_JOIN_KEY_MAX) {
                ss_mcore_label_refused(m, SS_MCORE_LABEL_BAD_ID);
                return -1;
        }
        if (label < 0 || label > 2) {
                ss_mcore_label_refused(m, SS_MCORE_LABEL_BAD_LABEL);
                return -1;
        }
        ss_join_label_t jl = {(uint8_t)label, labeled_at_ms};
        ss_join_pair_t pair;
        int rc = ss_join_add_label(m->join, tweet_id, len, &jl, now_ms, &pair);
        m->st.labels++;
        cinc(m->c_labels, 1);
        if (rc == 1)
                on_pair(m, &pair);
        return rc;
}

static void publish_join(ss_mcore_t *m)
{
        const ss_join_stats_t *st = ss_join_stats(m->join);
        ss_join_stats_t *pub = &m->join_published;
        uint64_t ep = st->expired_pred + st->evicted_pred;
        uint64_t el = st->expired_label + st->evicted_label;
        cinc(m->c_expired[0], (double)(ep - (pub->expired_pred + pub->evicted_pred)));
        cinc(m->c_expired[1], (double)(el - (pub->expired_label + pub->evicted_label)));
        *pub = *st;
}

void ss_mcore_tick(ss_mcore_t *m, int64_t now_ms)
{
        ss_join_expire(m->join, now_ms);
        publish_join(m);
        for (int i = 0; i < m->nmodels; i++) {
                mmodel_t *mm = &m->models[i];
                ss_tumble_t *t = mm->tumble;
                /* a window nobody will close: no prediction for a window's length */
                if (t->rows > 0 && now_ms - mm->last_pred_wall_ms >= m->cfg.window_ms &&
                    now_ms >= ss_tumble_end(t)) {
                        int64_t end = ss_tumble_end(t);
                        eval_time(m, mm);
                        ss_tumble_roll(t, end);
                        ss_cbpe_clear(mm->cw[1]);
                }
                if (mm->predictions)
                        gset(mm->g_cov, coverage(mm));
        }
}

/* ---- reports ------------------------------------------------------------------------- */

int ss_mcore_report_next(const ss_mcore_t *m)
{
        for (int i = 0; i < m->nnames; i++)
                if (m->names[i].changed && m->names[i].report_model >= 0)
                        return i;
        return -1;
}

static void json_time(cJSON *o, const char *key, int64_t ms)
{
        char buf[40];
        ss_time_iso8601(ms, buf, sizeof(buf));
        cJSON_AddStringToObject(o, key, buf);
}

static cJSON *json_triple(const double *v)
{
        return cJSON_CreateDoubleArray(v, 3);
}

/* A float for JSON: NaN (not evaluated) becomes null. */
static cJSON *json_num(double v)
{
        return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

/* The label-shift estimate and the estimated performance of window w. */
static void json_classes(const ss_mcore_t *m, const mmodel_t *mm, int w, cJSON *o)
{
        const class_res_t *cr = &mm->cres[w];
        if (mm->has_bbse && cr->ls.n > 0) {
                const ss_bbse_est_t *e = &cr->ls;
                cJSON *x = cJSON_AddObjectToObject(o, "label_shift");
                cJSON_AddStringToObject(x, "statistic", "label_shift");
                cJSON_AddStringToObject(x, "family", "label_shift");
                cJSON_AddBoolToObject(x, "raises_events", mm->ls_raises);
                cJSON_AddNumberToObject(x, "n", e->n);
                cJSON_AddNumberToObject(x, "reference_n", mm->bbse.m);
                cJSON_AddItemToObject(x, "predicted_mix", json_triple(e->q));
                cJSON_AddItemToObject(x, "estimated_mix", json_triple(e->w));
                cJSON_AddItemToObject(x, "estimated_mix_unconstrained", json_triple(e->w_raw));
                cJSON_AddItemToObject(x, "interval_low", json_triple(e->lo));
                cJSON_AddItemToObject(x, "interval_high", json_triple(e->hi));
                cJSON_AddNumberToObject(x, "interval_level", 1 - CI_ALPHA);
                cJSON_AddItemToObject(x, "reference_mix", json_triple(mm->bbse.pi));
                cJSON_AddNumberToObject(x, "psi", e->psi);
                cJSON_AddNumberToObject(x, "psi_threshold", m->cfg.ls_psi_threshold);
                cJSON_AddNumberToObject(x, "psi_critical", e->psi_crit);
                cJSON_AddNumberToObject(x, "kl", e->kl);
                cJSON_AddNumberToObject(x, "kl_threshold", m->cfg.ls_kl_threshold);
                cJSON_AddNumberToObject(x, "kl_critical", e->kl_crit);
                cJSON_AddBoolToObject(x, "evaluated", cr->ls_evaluated);
                cJSON_AddBoolToObject(x, "breach", cr->ls_breach);
        }
        if (m->cfg.cbpe && cr->ce.n > 0) {
                cJSON *x = cJSON_AddObjectToObject(o, "estimated_performance");
                cJSON_AddStringToObject(x, "statistic", "performance.estimated_f1");
                cJSON_AddStringToObject(x, "family", "performance");
                cJSON_AddBoolToObject(x, "raises_events", mm->est_raises);
                cJSON_AddNumberToObject(x, "n", cr->ce.n);
                cJSON_AddNumberToObject(x, "macro_f1", cr->ce.macro_f1);
                cJSON_AddNumberToObject(x, "avgrec", cr->ce.avgrec);
                cJSON_AddNumberToObject(x, "accuracy", cr->ce.accuracy);
                if (isnan(mm->est_f1_threshold))
                        cJSON_AddNullToObject(x, "f1_threshold");
                else
                        cJSON_AddNumberToObject(x, "f1_threshold", mm->est_f1_threshold);
                cJSON_AddItemToObject(x, "f1_critical", json_num(cr->ce_crit));
                cJSON_AddItemToObject(x, "f1_standard_error", json_num(cr->ce.f1_se));
                cJSON_AddItemToObject(x, "expected_true_mix", json_triple(cr->ce.true_mix));
                cJSON_AddBoolToObject(x, "evaluated", cr->ce_evaluated);
                cJSON_AddBoolToObject(x, "breach", cr->ce_breach);
        }
}

/* The report's history: the latest sliding and performance evaluations, oldest first, as
 * columns. */
static cJSON *json_history(const mmodel_t *mm)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *sl = cJSON_AddObjectToObject(o, "sliding");
        static const char *const cols[] = {"t",
                                           "count",
                                           "label_shift_psi",
                                           "label_shift_critical",
                                           "prediction_class_psi",
                                           "prediction_class_critical",
                                           "input_psi",
                                           "input_critical",
                                           "input_statistic",
                                           "estimated_f1",
                                           "mix_negative",
                                           "mix_neutral",
                                           "mix_positive",
                                           "breach",
                                           "estimated_f1_critical"};
        cJSON *c[sizeof(cols) / sizeof(cols[0])];
        for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
                c[k] = cJSON_AddArrayToObject(sl, cols[k]);
        size_t first = (mm->hist_head + HIST_MAX - mm->hist_len) % HIST_MAX;
        for (size_t i = 0; i < mm->hist_len; i++) {
                const hist_drift_t *h = &mm->hist[(first + i) % HIST_MAX];
                cJSON_AddItemToArray(c[0], cJSON_CreateNumber((double)h->t));
                cJSON_AddItemToArray(c[1], cJSON_CreateNumber((double)h->count));
                cJSON_AddItemToArray(c[2], json_num(h->ls_psi));
                cJSON_AddItemToArray(c[3], json_num(h->ls_crit));
                cJSON_AddItemToArray(c[4], json_num(h->pc_psi));
                cJSON_AddItemToArray(c[5], json_num(h->pc_crit));
                cJSON_AddItemToArray(c[6], json_num(h->in_psi));
                cJSON_AddItemToArray(c[7], json_num(h->in_crit));
                cJSON_AddItemToArray(c[8], h->in_dist >= 0
                                               ? cJSON_CreateString(mm->stat[h->in_dist])
                                               : cJSON_CreateNull());
                cJSON_AddItemToArray(c[9], json_num(h->est_f1));
                for (int k = 0; k < 3; k++)
                        cJSON_AddItemToArray(c[10 + k],
                                             json_num(isnan(h->ls_psi) ? NAN : h->mix[k]));
                cJSON_AddItemToArray(c[13], cJSON_CreateBool(h->breach));
                cJSON_AddItemToArray(c[14], json_num(h->est_crit));
        }
        cJSON *pf = cJSON_AddObjectToObject(o, "perf");
        static const char *const pcols[] = {"t", "count", "f1", "label_coverage",
                                            "label_lag_p50_s"};
        cJSON *pc[5];
        for (int k = 0; k < 5; k++)
                pc[k] = cJSON_AddArrayToObject(pf, pcols[k]);
        first = (mm->phist_head + HIST_MAX - mm->phist_len) % HIST_MAX;
        for (size_t i = 0; i < mm->phist_len; i++) {
                const hist_perf_t *h = &mm->phist[(first + i) % HIST_MAX];
                cJSON_AddItemToArray(pc[0], cJSON_CreateNumber((double)h->t));
                cJSON_AddItemToArray(pc[1], cJSON_CreateNumber((double)h->count));
                cJSON_AddItemToArray(pc[2], json_num(h->f1));
                cJSON_AddItemToArray(pc[3], json_num(h->coverage));
                cJSON_AddItemToArray(pc[4], json_num(h->lag_p50));
        }
        return o;
}

static cJSON *json_drift(const ss_mcore_t *m, const mmodel_t *mm, int w)
{
        const eval_state_t *ev = &mm->ev[w];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", ev->window_id);
        cJSON_AddNumberToObject(o, "n", mm->res_rows[w]);
        json_time(o, "window_start", ev->start);
        json_time(o, "window_end", ev->end);
        cJSON_AddBoolToObject(o, "breach", ev->breach);
        cJSON_AddStringToObject(o, "trigger", ss_trig_result_name(ev->trig));
        cJSON *arr = cJSON_AddArrayToObject(o, "metrics");
        for (int d = 0; d < mm->card->ndists; d++) {
                const drift_res_t *r = &mm->res[w][d];
                if (mm->card->dists[d].src == SS_CARD_SRC_UNKNOWN || !r->n)
                        continue;
                cJSON *x = cJSON_CreateObject();
                char fam[FAMILY_MAX];
                family_of(mm->stat[d], fam, sizeof(fam));
                cJSON_AddStringToObject(x, "name", mm->card->dists[d].name);
                cJSON_AddStringToObject(x, "statistic", mm->stat[d]);
                cJSON_AddStringToObject(x, "family", fam);
                cJSON_AddBoolToObject(x, "raises_events", mm->raises[d]);
                cJSON_AddNumberToObject(x, "n", r->n);
                cJSON_AddNumberToObject(x, "reference_n", mm->card->dists[d].n);
                cJSON_AddNumberToObject(x, "psi", r->psi);
                cJSON_AddNumberToObject(x, "psi_threshold", m->cfg.psi_threshold);
                cJSON_AddNumberToObject(x, "psi_critical", r->psi_crit);
                cJSON_AddNumberToObject(x, "kl", r->kl);
                cJSON_AddNumberToObject(x, "kl_threshold", m->cfg.kl_threshold);
                cJSON_AddNumberToObject(x, "kl_critical", r->kl_crit);
                cJSON_AddBoolToObject(x, "evaluated", r->evaluated);
                cJSON_AddBoolToObject(x, "breach", r->breach_psi || r->breach_kl);
                if (mm->card->dists[d].counts) {
                        cJSON_AddItemToObject(x, "reference_counts",
                                              cJSON_CreateDoubleArray(mm->card->dists[d].counts,
                                                                      mm->card->dists[d].nbins));
                        const uint32_t *cc =
                            (w == SS_MSTREAM_SLIDING ? mm->slide->counts : mm->tumble->counts) +
                            mm->layout.off[d];
                        cJSON *ca = cJSON_AddArrayToObject(x, "current_counts");
                        for (int b = 0; b < mm->card->dists[d].nbins; b++)
                                cJSON_AddItemToArray(ca, cJSON_CreateNumber(cc[b]));
                }
                cJSON_AddItemToArray(arr, x);
        }
        json_classes(m, mm, w, o);
        return o;
}

static cJSON *json_perf(const ss_mcore_t *m, const mmodel_t *mm)
{
        const ss_perf_report_t *r = &mm->perf_rep;
        const eval_state_t *ev = &mm->ev[SS_MSTREAM_PERF];
        static const char *const cls[3] = {"negative", "neutral", "positive"};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", ev->window_id);
        cJSON_AddNumberToObject(o, "n", (double)r->n);
        cJSON_AddNumberToObject(o, "min_labels", (double)m->cfg.perf_min_labels);
        cJSON_AddNumberToObject(o, "macro_f1", r->macro_f1);
        if (isnan(mm->f1_threshold))
                cJSON_AddNullToObject(o, "f1_threshold");
        else
                cJSON_AddNumberToObject(o, "f1_threshold", mm->f1_threshold);
        cJSON_AddNumberToObject(o, "avgrec", r->avgrec);
        cJSON_AddNumberToObject(o, "f1_pn", r->f1_pn);
        cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
        cJSON_AddBoolToObject(o, "breach", mm->perf_breach);
        cJSON_AddStringToObject(o, "trigger", ss_trig_result_name(ev->trig));
        cJSON *pc = cJSON_AddObjectToObject(o, "per_class");
        for (int c = 0; c < 3; c++) {
                cJSON *x = cJSON_AddObjectToObject(pc, cls[c]);
                cJSON_AddNumberToObject(x, "precision", r->precision[c]);
                cJSON_AddNumberToObject(x, "recall", r->recall[c]);
                cJSON_AddNumberToObject(x, "f1", r->f1[c]);
        }
        cJSON *conf = cJSON_AddArrayToObject(o, "confusion");
        for (int t = 0; t < 3; t++) {
                int row[3] = {(int)r->confusion[t][0], (int)r->confusion[t][1],
                              (int)r->confusion[t][2]};
                cJSON_AddItemToArray(conf, cJSON_CreateIntArray(row, 3));
        }
        cJSON *lag = cJSON_AddObjectToObject(o, "label_lag_seconds");
        cJSON_AddNumberToObject(lag, "p50", r->lag_p50_s);
        cJSON_AddNumberToObject(lag, "p95", r->lag_p95_s);
        return o;
}

char *ss_mcore_report_json(ss_mcore_t *m, int name_idx, const char **model_name)
{
        mname_t *nm = &m->names[name_idx];
        nm->changed = 0;
        *model_name = nm->name;
        if (nm->report_model < 0)
                return NULL;
        const mmodel_t *mm = &m->models[nm->report_model];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "format", "sentistream-monitor-report/1");
        cJSON_AddStringToObject(o, "model_name", mm->card->name);
        cJSON_AddStringToObject(o, "model_version", mm->card->version);
        cJSON_AddStringToObject(o, "model_kind", mm->card->kind);
        cJSON_AddStringToObject(o, "card", mm->card->path);
        json_time(o, "updated_at", ss_time_now_ms());
        cJSON_AddNumberToObject(o, "predictions", (double)mm->predictions);
        cJSON_AddNumberToObject(o, "joined", (double)mm->joined);
        cJSON_AddNumberToObject(o, "label_coverage", coverage(mm));
        cJSON *ref = cJSON_AddObjectToObject(o, "reference");
        cJSON_AddNumberToObject(ref, "n", (double)mm->card->ref_n);
        if (!isnan(mm->card->val_macro_f1))
                cJSON_AddNumberToObject(ref, "macro_f1", mm->card->val_macro_f1);
        if (mm->has_bbse)
                cJSON_AddItemToObject(ref, "class_mix", json_triple(mm->bbse.pi));
        cJSON_AddStringToObject(ref, "event_families", m->cfg.event_families);
        cJSON *win = cJSON_AddObjectToObject(o, "windows");
        for (int w = 0; w < 2; w++)
                if (mm->ev[w].valid)
                        cJSON_AddItemToObject(win, stream_names[w], json_drift(m, mm, w));
        if (mm->ev[SS_MSTREAM_PERF].valid)
                cJSON_AddItemToObject(o, "performance", json_perf(m, mm));
        cJSON *tr = cJSON_AddObjectToObject(o, "trigger");
        cJSON_AddNumberToObject(tr, "k", nm->trig.cfg.k);
        cJSON_AddNumberToObject(tr, "n", nm->trig.cfg.n);
        cJSON_AddNumberToObject(tr, "cooldown_s", (double)nm->trig.cfg.cooldown_ms / 1000);
        cJSON_AddNumberToObject(tr, "fired", (double)nm->trig.fired);
        cJSON_AddNumberToObject(tr, "suppressed_by_cooldown", (double)nm->trig.suppressed);
        if (nm->trig.last_fire_ms != INT64_MIN)
                json_time(tr, "last_fire", nm->trig.last_fire_ms);
        cJSON *br = cJSON_AddObjectToObject(tr, "breaches");
        for (int s = 0; s < SS_MSTREAM__COUNT; s++)
                cJSON_AddNumberToObject(br, stream_names[s], ss_trigger_breaches(&nm->trig, s));
        cJSON *evs = cJSON_AddArrayToObject(o, "events_recent");
        for (int i = 0; i < nm->nrecent; i++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "event_id", nm->recent[i].id);
                json_time(x, "window_end", nm->recent[i].t);
                cJSON_AddStringToObject(x, "reasons", nm->recent[i].summary);
                cJSON_AddItemToArray(evs, x);
        }
        cJSON_AddItemToObject(o, "history", json_history(mm));
        const ss_join_stats_t *js = ss_join_stats(m->join);
        cJSON *mo = cJSON_AddObjectToObject(o, "monitor");
        cJSON_AddNumberToObject(mo, "predictions", (double)m->st.predictions);
        cJSON_AddNumberToObject(mo, "unknown_version", (double)m->st.unknown_version);
        cJSON_AddNumberToObject(mo, "decode_errors", (double)m->st.decode_errors);
        cJSON_AddNumberToObject(mo, "invalid_predictions", (double)m->st.invalid);
        cJSON_AddNumberToObject(mo, "labels", (double)m->st.labels);
        cJSON_AddNumberToObject(mo, "label_errors", (double)m->st.label_errors);
        cJSON_AddNumberToObject(mo, "joined", (double)js->joined);
        cJSON_AddNumberToObject(mo, "expired_prediction", (double)js->expired_pred);
        cJSON_AddNumberToObject(mo, "expired_label", (double)js->expired_label);
        cJSON_AddNumberToObject(mo, "evicted_prediction", (double)js->evicted_pred);
        cJSON_AddNumberToObject(mo, "evicted_label", (double)js->evicted_label);
        cJSON_AddNumberToObject(mo, "pending_prediction", (double)js->pending_pred);
        cJSON_AddNumberToObject(mo, "pending_label", (double)js->pending_label);
        /* distinct events sent (the sent set lives in Redis, so this survives restarts) and
         * those still waiting for the broker */
        cJSON_AddNumberToObject(mo, "events", (double)(m->nsent + m->nevents));
        cJSON_AddNumberToObject(mo, "events_deduplicated", (double)m->st.events_deduped);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return s;
}

/* ---- snapshot ------------------------------------------------------------------------ */

#define SNAP_MAGIC   0x434d5353u /* "SSMC" */
#define SNAP_VERSION 3u          /* 3: the report's history and recent events; CBPE products */

static void put_stats(ss_mbuf_t *b, const ss_mcore_stats_t *st)
{
        const uint64_t v[] = {
            st->predictions, st->unknown_version, st->decode_errors,  st->labels, st->label_errors,
            st->evaluations, st->events,          st->events_deduped, st->stale,  st->invalid};
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                ss_mbuf_put_u64(b, v[i]);
}

static void get_stats(ss_mreader_t *r, ss_mcore_stats_t *st)
{
        uint64_t *v[] = {&st->predictions, &st->unknown_version, &st->decode_errors,
                         &st->labels,      &st->label_errors,    &st->evaluations,
                         &st->events,      &st->events_deduped,  &st->stale,
                         &st->invalid};
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                *v[i] = ss_mreader_u64(r);
}

/* Writes body() into b prefixed by its length, so that a reader can skip it. */
static void put_blob_begin(ss_mbuf_t *b, size_t *mark)
{
        *mark = b->len;
        ss_mbuf_put_u64(b, 0);
}

static void put_blob_end(ss_mbuf_t *b, size_t mark)
{
        if (b->failed)
                return;
        uint64_t n = b->len - mark - 8;
        for (int i = 0; i < 8; i++)
                b->data[mark + (size_t)i] = (uint8_t)(n >> (8 * i));
}

/* The report's history rings, oldest first (bounded by HIST_MAX each), so that a restarted
 * monitor's report still shows the evaluations before the restart. */
static void hist_save(const mmodel_t *mm, ss_mbuf_t *b)
{
        ss_mbuf_put_u32(b, (uint32_t)mm->hist_len);
        size_t first = (mm->hist_head + HIST_MAX - mm->hist_len) % HIST_MAX;
        for (size_t i = 0; i < mm->hist_len; i++) {
                const hist_drift_t *h = &mm->hist[(first + i) % HIST_MAX];
                const float f[] = {h->ls_psi, h->ls_crit, h->pc_psi, h->pc_crit,
                                   h->in_psi, h->in_crit, h->est_f1, h->est_crit,
                                   h->mix[0], h->mix[1],  h->mix[2]};
                ss_mbuf_put_i64(b, h->t);
                ss_mbuf_put_u64(b, h->count);
                for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
                        ss_mbuf_put_f64(b, f[k]);
                ss_mbuf_put_u8(b, (uint8_t)(h->in_dist + 1));
                ss_mbuf_put_u8(b, h->breach);
        }
        ss_mbuf_put_u32(b, (uint32_t)mm->phist_len);
        first = (mm->phist_head + HIST_MAX - mm->phist_len) % HIST_MAX;
        for (size_t i = 0; i < mm->phist_len; i++) {
                const hist_perf_t *h = &mm->phist[(first + i) % HIST_MAX];
                ss_mbuf_put_i64(b, h->t);
                ss_mbuf_put_u64(b, h->count);
                ss_mbuf_put_f64(b, h->f1);
                ss_mbuf_put_f64(b, h->coverage);
                ss_mbuf_put_f64(b, h->lag_p50);
        }
}

static int hist_load(mmodel_t *mm, ss_mreader_t *r)
{
        uint32_t n = ss_mreader_u32(r);
        if (r->failed || n > HIST_MAX)
                return -1;
        for (uint32_t i = 0; i < n; i++) {
                hist_drift_t *h = &mm->hist[i];
                h->t = ss_mreader_i64(r);
                h->count = ss_mreader_u64(r);
                float *f[] = {&h->ls_psi, &h->ls_crit, &h->pc_psi, &h->pc_crit,
                              &h->in_psi, &h->in_crit, &h->est_f1, &h->est_crit,
                              &h->mix[0], &h->mix[1],  &h->mix[2]};
                for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
                        *f[k] = (float)ss_mreader_f64(r);
                int d = (int)ss_mreader_u8(r) - 1;
                h->in_dist = (int8_t)(d < mm->card->ndists ? d : -1);
                h->breach = ss_mreader_u8(r) != 0;
        }
        mm->hist_len = n;
        mm->hist_head = n % HIST_MAX;
        uint32_t np = ss_mreader_u32(r);
        if (r->failed || np > HIST_MAX)
                return -1;
        for (uint32_t i = 0; i < np; i++) {
                hist_perf_t *h = &mm->phist[i];
                h->t = ss_mreader_i64(r);
                h->count = ss_mreader_u64(r);
                h->f1 = (float)ss_mreader_f64(r);
                h->coverage = (float)ss_mreader_f64(r);
                h->lag_p50 = (float)ss_mreader_f64(r);
        }
        mm->phist_len = np;
        mm->phist_head = np % HIST_MAX;
        return r->failed ? -1 : 0;
}

/* The recent events of a model name (bounded by EVENTS_KEPT). */
static void recent_save(const mname_t *nm, ss_mbuf_t *b)
{
        ss_mbuf_put_u32(b, (uint32_t)nm->nrecent);
        for (int i = 0; i < nm->nrecent; i++) {
                ss_mbuf_put_str(b, nm->recent[i].id, strlen(nm->recent[i].id));
                ss_mbuf_put_i64(b, nm->recent[i].t);
                ss_mbuf_put_str(b, nm->recent[i].summary, strlen(nm->recent[i].summary));
        }
}

/* Reads the recent events into nm (NULL: skips them). -1 when malformed. */
static int recent_load(mname_t *nm, ss_mreader_t *r)
{
        uint32_t n = ss_mreader_u32(r);
        if (r->failed || n > EVENTS_KEPT)
                return -1;
        for (uint32_t i = 0; i < n; i++) {
                const char *id, *sum;
                size_t idl = ss_mreader_str(r, &id);
                int64_t t = ss_mreader_i64(r);
                size_t suml = ss_mreader_str(r, &sum);
                if (r->failed)
                        return -1;
                if (!nm)
                        continue;
                snprintf(nm->recent[i].id, sizeof(nm->recent[i].id), "%.*s", (int)idl, id);
                snprintf(nm->recent[i].summary, sizeof(nm->recent[i].summary), "%.*s", (int)suml,
                         sum);
                nm->recent[i].t = t;
        }
        if (nm)
                nm->nrecent = (int)n;
        return 0;
}

static void model_save(const mmodel_t *mm, ss_mbuf_t *b)
{
        ss_mbuf_put_u64(b, mm->predictions);
        ss_mbuf_put_u64(b, mm->joined);
        ss_mbuf_put_i64(b, mm->last_pred_wall_ms);
        ss_slide_save(mm->slide, b);
        const ss_slide_t *s = mm->slide;
        size_t first = (s->head + s->cap - s->len) % s->cap;
        for (size_t i = 0; i < s->len; i++)
                ss_mbuf_put_i64(b, mm->slide_t[(first + i) % s->cap]);
        ss_tumble_save(mm->tumble, b);
        ss_perf_save(mm->perf, b);
        ss_cbpe_save(mm->cw[0], b);
        ss_cbpe_save(mm->cw[1], b);
        hist_save(mm, b);
}

static int model_load(mmodel_t *mm, ss_mreader_t *r)
{
        mm->predictions = ss_mreader_u64(r);
        mm->joined = ss_mreader_u64(r);
        mm->last_pred_wall_ms = ss_mreader_i64(r);
        if (ss_slide_load(mm->slide, r))
                return -1;
        for (size_t i = 0; i < mm->slide->len; i++)
                mm->slide_t[i] = ss_mreader_i64(r);
        if (ss_tumble_load(mm->tumble, r) || ss_perf_load(mm->perf, r) ||
            ss_cbpe_load(mm->cw[0], r) || ss_cbpe_load(mm->cw[1], r) || hist_load(mm, r) ||
            r->failed)
                return -1;
        return 0;
}

static void model_reset(mmodel_t *mm)
{
        ss_slide_clear(mm->slide);
        ss_tumble_roll(mm->tumble, 0);
        mm->tumble->start_ms = INT64_MIN;
        mm->tumble->late = 0;
        ss_mreader_t empty;
        ss_mreader_init(&empty, "", 0);
        ss_perf_load(mm->perf, &empty); /* fails, and leaves it empty */
        mm->predictions = mm->joined = 0;
        mm->last_pred_wall_ms = 0;
        ss_cbpe_clear(mm->cw[0]);
        ss_cbpe_clear(mm->cw[1]);
        mm->hist_len = mm->hist_head = mm->phist_len = mm->phist_head = 0;
        memset(mm->ev, 0, sizeof(mm->ev));
}

/* Version list fingerprint: the join stores model indices, valid only for the same list. */
static void put_versions(const ss_mcore_t *m, ss_mbuf_t *b)
{
        ss_mbuf_put_u32(b, (uint32_t)m->nmodels);
        for (int i = 0; i < m->nmodels; i++)
                ss_mbuf_put_str(b, m->models[i].card->version, strlen(m->models[i].card->version));
}

void ss_mcore_save(const ss_mcore_t *m, ss_mbuf_t *b)
{
        ss_mbuf_put_u32(b, SNAP_MAGIC);
        ss_mbuf_put_u32(b, SNAP_VERSION);
        ss_mbuf_put_u64(b, m->cfg.window_size);
        ss_mbuf_put_i64(b, m->cfg.window_ms);
        ss_mbuf_put_u64(b, m->cfg.perf_window);
        put_stats(b, &m->st);
        put_versions(m, b);
        size_t mark;
        for (int i = 0; i < m->nmodels; i++) {
                put_blob_begin(b, &mark);
                model_save(&m->models[i], b);
                put_blob_end(b, mark);
        }
        ss_mbuf_put_u32(b, (uint32_t)m->nnames);
        for (int i = 0; i < m->nnames; i++) {
                ss_mbuf_put_str(b, m->names[i].name, strlen(m->names[i].name));
                ss_trigger_save(&m->names[i].trig, b);
                recent_save(&m->names[i], b);
        }
        put_blob_begin(b, &mark);
        ss_join_save(m->join, b);
        put_blob_end(b, mark);
        ss_mbuf_put_u32(b, (uint32_t)m->nsent);
}

static void reset_all(ss_mcore_t *m)
{
        for (int i = 0; i < m->nmodels; i++)
                model_reset(&m->models[i]);
        for (int i = 0; i < m->nnames; i++) {
                ss_trigger_init(&m->names[i].trig, &m->cfg.trigger);
                m->names[i].report_model = -1;
                m->names[i].nrecent = 0;
        }
        ss_mreader_t empty;
        ss_mreader_init(&empty, "", 0);
        ss_join_load(m->join, &empty); /* fails, and leaves it empty */
        memset(&m->join_published, 0, sizeof(m->join_published));
        memset(&m->st, 0, sizeof(m->st));
}

static ss_err_t load_fail(ss_mcore_t *m, char *errstr, size_t errstr_size, const char *why)
{
        reset_all(m);
        return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "monitor snapshot: %s", why);
}

ss_err_t ss_mcore_load(ss_mcore_t *m, ss_mreader_t *r, char *errstr, size_t errstr_size)
{
        if (ss_mreader_u32(r) != SNAP_MAGIC)
                return load_fail(m, errstr, errstr_size, "not a monitor snapshot (magic)");
        uint32_t version = ss_mreader_u32(r);
        if (version != SNAP_VERSION) {
                char why[96];
                snprintf(why, sizeof(why), "format %u, this monitor reads format %u", version,
                         SNAP_VERSION);
                return load_fail(m, errstr, errstr_size, why);
        }
        if (ss_mreader_u64(r) != m->cfg.window_size || ss_mreader_i64(r) != m->cfg.window_ms ||
            ss_mreader_u64(r) != m->cfg.perf_window)
                return load_fail(m, errstr, errstr_size,
                                 "taken with other window sizes (monitor.window.*, perf.window)");
        get_stats(r, &m->st);
        uint32_t nv = ss_mreader_u32(r);
        int same_versions = nv == (uint32_t)m->nmodels;
        int *map = calloc(nv ? nv : 1, sizeof(int));
        if (!map)
                return load_fail(m, errstr, errstr_size, "out of memory");
        for (uint32_t i = 0; i < nv && !r->failed; i++) {
                const char *v;
                size_t len = ss_mreader_str(r, &v);
                map[i] = -1;
                for (int k = 0; k < m->nmodels; k++)
                        if (strlen(m->models[k].card->version) == len &&
                            !memcmp(m->models[k].card->version, v, len))
                                map[i] = k;
                same_versions &= map[i] == (int)i;
        }
        for (uint32_t i = 0; i < nv && !r->failed; i++) {
                uint64_t len = ss_mreader_u64(r);
                if (r->failed || len > r->len - r->off)
                        break;
                ss_mreader_t sub;
                ss_mreader_init(&sub, r->p + r->off, (size_t)len);
                r->off += (size_t)len;
                if (map[i] >= 0 && model_load(&m->models[map[i]], &sub)) {
                        free(map);
                        return load_fail(m, errstr, errstr_size, "malformed model state");
                }
        }
        free(map);
        uint32_t nn = ss_mreader_u32(r);
        for (uint32_t i = 0; i < nn && !r->failed; i++) {
                const char *name;
                size_t len = ss_mreader_str(r, &name);
                ss_trigger_t t;
                ss_trigger_init(&t, &m->cfg.trigger);
                if (ss_trigger_load(&t, r))
                        break;
                mname_t *nm = NULL;
                for (int k = 0; k < m->nnames; k++)
                        if (strlen(m->names[k].name) == len && !memcmp(m->names[k].name, name, len))
                                nm = &m->names[k];
                if (nm)
                        nm->trig = t;
                if (recent_load(nm, r))
                        return load_fail(m, errstr, errstr_size, "malformed recent events");
        }
        /* the current version keeps the rank of its switch (a rollback ranks an older card
         * above the newer one it replaced) */
        for (int k = 0; k < m->nmodels; k++) {
                const ss_trigger_t *t = &m->names[m->models[k].name_idx].trig;
                if (!strcmp(t->version, m->models[k].card->version) && t->rank > m->models[k].rank)
                        m->models[k].rank = t->rank;
        }
        uint64_t jlen = ss_mreader_u64(r);
        if (r->failed || jlen > r->len - r->off)
                return load_fail(m, errstr, errstr_size, "truncated");
        ss_mreader_t sub;
        ss_mreader_init(&sub, r->p + r->off, (size_t)jlen);
        r->off += (size_t)jlen;
        if (same_versions) {
                if (ss_join_load(m->join, &sub))
                        return load_fail(m, errstr, errstr_size, "malformed join state");
                m->join_published = *ss_join_stats(m->join);
        } else {
                ss_warn("monitor", "snapshot taken with other model cards: waiting predictions "
                                   "and labels of the join not restored");
        }
        ss_mreader_u32(r);
        if (r->failed)
                return load_fail(m, errstr, errstr_size, "truncated");
        return SS_OK;
}
