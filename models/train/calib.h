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

#endif /* SS_CALIB_H */
