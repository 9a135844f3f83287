/*
 * calib: temperature scaling of a model's class probabilities, and the
 * expected calibration error (ECE) that measures it.
 *
 * Temperature scaling (Guo et al., ICML 2017) divides the logits by one
 * scalar T > 0 fitted to minimise the negative log-likelihood on held-out
 * data (the tune split): softmax(z / T). It changes no argmax, so accuracy,
 * F1 and the confusion matrix stay as they are; only the confidence moves.
 * On probabilities p = softmax(z) the same map is p_k^(1/T) / sum_j p_j^(1/T),
 * which is how it is applied here, after any model kind's own softmax.
 *
 * Fit: the NLL is convex in beta = 1/T, minimised by golden-section search
 * over ln beta in [ln 0.02, ln 50] to 1e-6.
 *
 * ECE (top label, equal-width bins over the confidence max_k p_k):
 *   ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|.
 *
 * Top-label calibration (Gupta & Ramdas, ICLR 2022), applied after the
 * temperature: one temperature cannot fix a model whose error is per class (a
 * model trained with balanced class weights is right far less often when it
 * says "negative" than when it says "positive" at the same confidence). For
 * each predicted class k, Platt scaling on the logit of the argmax's
 * probability c fitted on the tune split, c' = sigmoid(a_k logit(c) + b_k)
 * with a_k > 0 (monotone), estimates P(label = k | predicted k, c); the other
 * classes are rescaled to fill 1 - c' in their proportions. The label never
 * moves: c' is at least 1/(m + 1) (plus 2e-6), the least an argmax can hold
 * with m other classes above 0 (a class at 0 stays at 0), and where the
 * proportional share of another class would pass c' that class is held just
 * under c' (by 1e-6) and the rest share what is left (the map may want less than
 * the tie with the second class: a balanced model's "negative" at c = 0.45 can be
 * right a third of the time; holding c' at that tie instead would keep it too
 * confident). A row already that close to a tie is left as it is, and so is a
 * row whose float argmax would still change. (Model files written before this
 * rule hold c' just above the tie with the second class, c' >= s / (1 - c + s)
 * + 1e-6 for second-largest s, the others in their proportions: rule
 * SS_CALIB_TOP_RULE_TIE below.) a = 1, b = 0 is the identity (a model file without
 * the map). Fit: Newton's method on the mean log-loss of "the argmax was
 * right" with a small ridge (1e-4) for rows that separate; a class predicted
 * fewer than SS_CALIB_TOP_MIN_ROWS times keeps the identity.
 */
#ifndef SS_CALIB_H
#define SS_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "ss_types.h"

#define SS_CALIB_ECE_BINS 15

/* Applies temperature t to n rows of SS_NUM_CLASSES probabilities in place. */
void ss_calib_apply(float *probs, size_t n, double t);

/* Mean negative log-likelihood of labels[n] under probs[n][C] at temperature t. */
double ss_calib_nll(const float *probs, const int8_t *labels, size_t n, double t);

/* The temperature minimising the NLL (1 for n == 0). */
double ss_calib_fit(const float *probs, const int8_t *labels, size_t n);

/* ECE over nbins equal-width confidence bins (0 for n == 0). */
double ss_calib_ece(const float *probs, const int8_t *labels, size_t n, int nbins);

/* ---- top-label map ---- */

#define SS_CALIB_TOP_MIN_ROWS 30

/*
 * How far down the map may take the label's probability (both keep the label):
 *   SS_CALIB_TOP_RULE_TIE    just above the second class's proportional share (model
 *                            files written before the floor: no rule section);
 *   SS_CALIB_TOP_RULE_FLOOR  down to 1/(m + 1), the others held under it (see above).
 * A model file records its rule, so it scores the same under every build.
 */
#define SS_CALIB_TOP_RULE_TIE   0
#define SS_CALIB_TOP_RULE_FLOOR 1

/* Per predicted class: c' = sigmoid(a[k] logit(c) + b[k]); rule: SS_CALIB_TOP_RULE_*. */
typedef struct ss_calib_top {
        double a[SS_NUM_CLASSES], b[SS_NUM_CLASSES];
        int rule;
} ss_calib_top_t;

/* The identity map (a = 1, b = 0 for every class; rule SS_CALIB_TOP_RULE_FLOOR). */
void ss_calib_top_identity(ss_calib_top_t *top);

/* 1 if top is the identity. */
int ss_calib_top_is_identity(const ss_calib_top_t *top);

/* The mapped confidence of predicted class k at confidence c, before the clamp. */
double ss_calib_top_map(const ss_calib_top_t *top, int k, double c);

/* Fits the map on n rows of probs[n][C] (already at the model's temperature) with
 * labels[n] (rows with a label outside 0..C-1 are skipped). */
void ss_calib_top_fit(ss_calib_top_t *top, const float *probs, const int8_t *labels, size_t n);

/* Applies the map to n rows of probs in place; no row's argmax changes. */
void ss_calib_top_apply(const ss_calib_top_t *top, float *probs, size_t n);

/* Checks parameters read from a file: finite, 0 < a <= 100, |b| <= 100. Returns the first
 * bad class, or -1 when all are good. */
int ss_calib_top_check(const ss_calib_top_t *top);

#endif /* SS_CALIB_H */
