/*
 * evalm: classification metrics over the three sentiment classes, as the
 * SemEval task defines them.
 *
 *   AvgRec   = recall averaged over the three classes (macro recall);
 *   F1-PN    = mean of the F1 of positive and of negative (neutral left out);
 *   accuracy = share of correct predictions;
 *   macro-F1 = mean F1 over the three classes.
 * Precision, recall or F1 with a zero denominator count as 0 (scikit-learn's
 * zero_division=0).
 */
#ifndef SS_EVALM_H
#define SS_EVALM_H

#include <stddef.h>
#include <stdint.h>

#include "ss_types.h"

typedef struct ss_eval {
        int64_t confusion[SS_NUM_CLASSES][SS_NUM_CLASSES]; /* [true label][predicted label] */
        int64_t n;                                         /* predictions counted */
        /* filled by ss_eval_finish() */
        int64_t support[SS_NUM_CLASSES]; /* true count per class */
        double precision[SS_NUM_CLASSES];
        double recall[SS_NUM_CLASSES];
        double f1[SS_NUM_CLASSES];
        double avgrec, f1_pn, accuracy, macro_f1;
} ss_eval_t;

/* Zeroes everything. */
void ss_eval_init(ss_eval_t *e);

/* Counts one prediction. Labels out of range are ignored and return -1 (else 0). */
int ss_eval_add(ss_eval_t *e, int truth, int pred);

/* Computes the derived metrics from the confusion matrix. Idempotent. */
void ss_eval_finish(ss_eval_t *e);

/* Convenience: counts n pairs and finishes. */
void ss_eval_compute(ss_eval_t *e, const int8_t *truth, const int8_t *pred, size_t n);

#endif /* SS_EVALM_H */
