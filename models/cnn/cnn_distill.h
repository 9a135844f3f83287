/*
 * cnn_distill: knowledge distillation into the text CNN (Hinton et al. 2015).
 *
 * One or more teacher models (any kind the project loads, comma-separated paths) score the
 * training tweets once; each teacher's probabilities are cached in a file keyed by its sha256
 * and the data's sha256, so a rerun (another temperature, another alpha, an ensemble that
 * includes it) reads them back instead of running the teacher; the teachers' probabilities
 * are averaged. The CNN's loss on a batch
 * of n texts is
 *
 *   loss = 1/n sum_i [ A * T^2 * KL(q_i || softmax(z_i / T)) + (1 - A) * cw[y_i] * -log
 * softmax(z_i)[y_i] ]
 *
 * with z the student's logits, q_i = softmax(log p_i / T) the teacher's probabilities p_i at
 * temperature T (log p equals the teacher's logits up to a constant, so this is the usual
 * softened teacher whatever the kind), y the true label and cw the class weights of the
 * balanced cross-entropy. The T^2 keeps the teacher term's gradient on the scale of the
 * cross-entropy's as T changes.
 */
#ifndef SS_CNN_DISTILL_H
#define SS_CNN_DISTILL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "ss_err.h"

#define SS_DISTILL_MAX_TEACHERS 8

/* What the card and the tracking run record of one teacher, and where its labels came from. */
typedef struct ss_distill_teacher {
        char path[512];
        char kind[64];
        char name[260];
        char version[260];
        char sha256[65];       /* of the whole model file */
        char cache_path[1024]; /* its soft-label cache file; "" when no cache is used */
        int from_cache;        /* 1: read from cache_path, the teacher did not score */
} ss_distill_teacher_t;

/* The teachers' averaged probabilities over a data set. */
typedef struct ss_distill_soft {
        size_t n;
        float *probs; /* [n][SS_NUM_CLASSES] mean of the teachers' raw probabilities */
        int n_teachers;
        ss_distill_teacher_t teachers[SS_DISTILL_MAX_TEACHERS];
        int from_cache;     /* 1: every teacher's labels were read from its cache */
        double seconds;     /* scoring (or reading) time */
        double tune_avgrec; /* the teachers' AvgRec on the tune split, set by the trainer;
                               -1 when not measured */
} ss_distill_soft_t;

/*
 * Scores ds with each model file of teachers (comma-separated) at temperature 1 (the raw
 * probabilities, ss_model_score_raw) in batches of batch, and averages them into soft->probs
 * (caller frees with ss_distill_soft_clear). With cache_dir non-empty each teacher's
 * probabilities are read from, or written to, cache_dir/distill-<sha256 of the teacher's and
 * the data's sha256>.ssm (a checksummed model-file container; a damaged cache file is scored
 * anew), so an ensemble reuses what its members scored alone. progress != 0 prints a progress
 * line per teacher that scores. Errors name the teacher file.
 */
ss_err_t ss_distill_soft_labels(const char *teachers, const ss_dataset_t *ds, const char *cache_dir,
                                size_t batch, int progress, ss_distill_soft_t *soft, char *errstr,
                                size_t errstr_size);
void ss_distill_soft_clear(ss_distill_soft_t *soft);

/*
 * Stores probs [ds->n][C] as the soft labels of the model file teacher_path over ds in
 * cache_dir, the file ss_distill_soft_labels() reads for that teacher and data (its path into
 * path_out): for probabilities computed another way than ss_model_score_raw, e.g. from
 * embeddings the teacher's own trainer cached (bench/distill_cache_minilm.c), which the caller
 * must have checked against the teacher's scoring.
 */
ss_err_t ss_distill_cache_store(const char *teacher_path, const ss_dataset_t *ds,
                                const char *cache_dir, const float *probs, char *path_out,
                                size_t path_size, char *errstr, size_t errstr_size);

/*
 * rows [sub->n]: the row of ds holding each row of sub, where sub is a subsequence of ds
 * (as ss_dataset_split() makes them: same order, same id, text and line). SS_ERR_INVALID_ARG
 * naming the first row of sub that is not found.
 */
ss_err_t ss_distill_rows(int32_t *rows, const ss_dataset_t *sub, const ss_dataset_t *ds,
                         char *errstr, size_t errstr_size);

/* Softened teacher: q [n][C] = softmax(log p / T) row by row (p [n][C]; q may be p). */
void ss_distill_soften(float *q, const float *p, size_t n, int C, float T);

/*
 * The distillation loss above over a batch, and its gradient:
 *   logits [n][C] the student's z; soft [n][C] the softened teacher q; labels [n];
 *   cw [C] class weights (NULL: all 1); dlogits [n][C] gets d loss / d z (may be NULL).
 * Returns the loss (mean over the batch).
 */
double ss_distill_loss(float *dlogits, const float *logits, const float *soft,
                       const int32_t *labels, const float *cw, int n, int C, float T, float alpha);

#endif /* SS_CNN_DISTILL_H */
