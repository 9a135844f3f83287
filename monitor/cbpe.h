/*
 * cbpe: the class side of a window of predictions: predicted-class counts
 * (what label-shift estimation needs, bbse.h) and the expected confusion
 * matrix from the predicted probabilities (confidence-based performance
 * estimation, as NannyML does it).
 *
 * If the probabilities are calibrated, a prediction with label k and
 * probabilities p adds p_t to the expected count of (true t, predicted k):
 * that is the probability that its true label is t. Summed over a window this
 * is the expected confusion matrix, from which precision, recall and F1 per
 * class, macro-F1 and AvgRec follow exactly as from a labelled one (perf.h's
 * conventions), without a single label. The estimate is only as good as the
 * calibration and assumes p(y | x) did not change (covariate or label shift,
 * not concept drift); measured F1 (perf.h) checks the rest.
 *
 * The estimate's standard error (delta method): a window's expected confusion
 * matrix is the sum of n independent row vectors x_i (x_i[t][k] = p_t when the
 * row predicts k, else 0), and macro-F1 is a function of their mean that does
 * not change when all counts scale, so g . mean = 0 (Euler) and
 *   Var(F1) ~ sum_k G_k' S_k G_k,   S_k[t][t'] = sum over rows predicting k of p_t p_t',
 * with G the gradient of macro-F1 with respect to the counts. The window keeps
 * S_k beside the counts, so the error costs six products a row.
 *
 * Probabilities are stored as integers in units of 2^-20 (rounded), products
 * as (q_t q_t' + 2^19) >> 20 in the same unit, so that adding and removing a
 * row is exact and a snapshot restores the same sums.
 *
 * Sliding (cap >= 1): the last cap rows, a ring. Tumbling (cap = 0): rows are
 * only added, ss_cbpe_clear() starts the next window.
 */
#ifndef SS_CBPE_H
#define SS_CBPE_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"

#define SS_CBPE_ONE (1u << 20) /* probability 1 in fixed point */

typedef struct ss_cbpe {
        size_t cap, len, head;
        uint8_t *label;        /* [cap] predicted label of each row held */
        uint32_t *prob;        /* [cap][3] fixed-point probabilities of each row */
        uint64_t npred[3];     /* rows held per predicted label */
        uint64_t expect[3][3]; /* [true][pred] summed fixed-point probabilities */
        uint64_t m2[3][6];     /* [pred][00 01 02 11 12 22] summed fixed-point p_t p_t' */
} ss_cbpe_t;

typedef struct ss_cbpe_est {
        double n;
        double confusion[3][3]; /* expected counts, rows = true label */
        double precision[3], recall[3], f1[3];
        double macro_f1, avgrec, accuracy;
        double true_mix[3]; /* expected true class shares */
        double f1_se;       /* standard error of macro_f1 (delta method); NAN if unknown */
} ss_cbpe_est_t;

/* cap = 0: tumbling. Caller frees with ss_cbpe_destroy(). NULL on no memory. */
ss_cbpe_t *ss_cbpe_new(size_t cap);
void ss_cbpe_destroy(ss_cbpe_t *w);
/* Adds a row: predicted label 0..2 and its probabilities (finite, >= 0, summing to ~1). */
void ss_cbpe_add(ss_cbpe_t *w, int label, const float *prob);
/* The same in two steps, for a row that goes to several windows: q[3] fixed point. */
void ss_cbpe_quantize(const float *prob, uint32_t *q);
void ss_cbpe_add_fixed(ss_cbpe_t *w, int label, const uint32_t *q);
void ss_cbpe_clear(ss_cbpe_t *w);
uint64_t ss_cbpe_n(const ss_cbpe_t *w);
void ss_cbpe_estimate(const ss_cbpe_t *w, ss_cbpe_est_t *e);
/* The same figures from any expected confusion matrix ([true][pred], n = its sum); f1_se
 * is NAN (a matrix alone does not say how it varies). */
void ss_cbpe_from_confusion(const double conf[3][3], ss_cbpe_est_t *e);
void ss_cbpe_save(const ss_cbpe_t *w, ss_mbuf_t *b);
/* 0, or -1 for a truncated buffer or another capacity (the window is then cleared). */
int ss_cbpe_load(ss_cbpe_t *w, ss_mreader_t *r);

#endif /* SS_CBPE_H */
