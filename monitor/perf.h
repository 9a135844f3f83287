/*
 * perf: rolling classification quality over the last N labelled predictions.
 *
 * Each joined (prediction, true label) pair enters a ring of capacity N; the
 * 3x3 confusion matrix (rows = true label, columns = predicted) is kept exact
 * for the ring's content as pairs enter and leave. A report gives per-class
 * precision, recall and F1, macro-F1, AvgRec (recall averaged over the three
 * classes, the SemEval primary metric), F1-PN (mean F1 of positive and
 * negative), accuracy, and the label lag quantiles over the same pairs.
 *
 * Conventions: precision (recall) of a class with no predicted (true) member
 * is 0, F1 is 0 when precision + recall is 0 (scikit-learn's zero_division=0),
 * and the macro averages always run over all three classes. Label lag is
 * labeled_at - scored_at, clamped at 0 (a label given before the prediction was
 * scored waited no time); quantiles by nearest rank: q-quantile =
 * sorted[ceil(q n) - 1].
 */
#ifndef SS_PERF_H
#define SS_PERF_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"

typedef struct ss_perf_pair {
        uint8_t pred;   /* predicted label 0..2 */
        uint8_t truth;  /* true label 0..2 */
        int64_t lag_ms; /* >= 0 */
        int64_t t_ms;   /* when the pair was formed (the label's time) */
} ss_perf_pair_t;

typedef struct ss_perf {
        size_t cap, len, head;
        ss_perf_pair_t *ring; /* [cap] */
        uint32_t conf[3][3];  /* over the ring, rows = true label */
        int64_t *scratch;     /* [cap] lags, for quantiles */
        uint64_t total;       /* pairs ever added */
} ss_perf_t;

typedef struct ss_perf_report {
        size_t n; /* pairs in the window */
        double precision[3], recall[3], f1[3];
        double macro_f1, avgrec, f1_pn, accuracy;
        double lag_p50_s, lag_p95_s; /* 0 when n == 0 */
        int64_t t_first, t_last;     /* t_ms of the oldest and newest pair (0 when n == 0) */
        uint32_t confusion[3][3];
} ss_perf_report_t;

/* Window of cap >= 1 pairs. Caller frees with ss_perf_destroy(). */
ss_perf_t *ss_perf_new(size_t cap);
void ss_perf_destroy(ss_perf_t *p);
/* Adds a pair formed at t_ms (labels outside 0..2 are ignored and return -1). */
int ss_perf_add(ss_perf_t *p, int pred, int truth, int64_t lag_ms, int64_t t_ms);
void ss_perf_report(ss_perf_t *p, ss_perf_report_t *r);
void ss_perf_save(const ss_perf_t *p, ss_mbuf_t *b);
int ss_perf_load(ss_perf_t *p, ss_mreader_t *r); /* 0, or -1 (then emptied) */

/* Nearest-rank q-quantile of v[n] (reorders v); 0 for n == 0. */
int64_t ss_quantile_i64(int64_t *v, size_t n, double q);

#endif /* SS_PERF_H */
