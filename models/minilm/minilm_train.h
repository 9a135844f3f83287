/*
 * minilm_train: the `minilm` kind's classification head, trained in C with the
 * encoder frozen.
 *
 * The head is softmax regression on the L2-normalised mean-pooled embedding
 * (what sentence-transformers' encode() returns): logits = W e + b, W [3][D].
 * Training minimises the class-weighted mean cross-entropy (balanced weights
 * n / (3 n_c)) plus (l2/2)||W||^2 on standardised features with full-batch
 * Adam, then folds the standardisation into W and b. The L2 strength is
 * picked by AvgRec on a tune split carved from the training data by tweet-id
 * hash (ss_dataset_is_tune), then the head is refit on all training rows.
 *
 * Embeddings of a data set are computed once and cached in cache_dir, in a
 * file keyed by the encoder's payload sha256 and the data file's sha256
 * (header: magic "SSEMB001", u32 n, u32 dim; then float32 [n][dim]
 * embeddings; then [n] input statistics), so repeated training is fast.
 */
#ifndef SS_MINILM_TRAIN_H
#define SS_MINILM_TRAIN_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "dataset.h"
#include "evalm.h"
#include "minilm.h"

typedef struct ss_minilm_train_config {
        const char *encoder_path; /* converted encoder (kind minilm-encoder) */
        const char *cache_dir;    /* embedding cache folder; NULL or "" = no cache */
        double tune_share;        /* share of the training rows held out for tuning */
        uint64_t seed;            /* tune split seed */
        const double *l2_grid;    /* L2 strengths to try */
        int n_l2;
        int epochs;                                /* Adam steps (full batch) */
        int max_tokens;                            /* encoder chunk size (0 = default) */
        int pool_layers[SS_MINILM_MAX_LAYERS + 1]; /* hidden states pooled (0 = embeddings) */
        int n_pool;                                /* 0 = the last layer only */
        size_t batch;                              /* texts per ss_minilm_embed call */
        int int8; /* 1: the written model's head.config asks for int8 linear layers */
        /* NULL, or [tune rows][C]: the chosen head fitted without the tune rows, applied to
         * them, in training-file order (calibration needs a model that never saw them) */
        float *tune_probs_out;
} ss_minilm_train_config_t;

void ss_minilm_train_config_default(ss_minilm_train_config_t *tc);

/* Parses "6" or "6,4,2" (layer numbers 0..99) into layers[max]; returns the count or -1. */
int ss_minilm_parse_layers(const char *s, int *layers, int max);

/*
 * Embeddings and input statistics of every row of ds, from the cache when a
 * matching file is there, else computed (and cached). emb [n][D] normalised,
 * stats [n]; caller frees both.
 */
ss_err_t ss_minilm_embed_dataset(ss_minilm_t *e, const char *encoder_sha256, const ss_dataset_t *ds,
                                 const char *cache_dir, float **emb, ss_input_stats_t **stats,
                                 char *errstr, size_t errstr_size);

/*
 * Fits the head on n rows of X [n][D] with labels y: W [3][D], b [3].
 * Deterministic. Returns the final objective, NaN when memory runs out.
 */
double ss_minilm_head_fit(const float *X, const int8_t *y, size_t n, int D, double l2, int epochs,
                          float *W, float *b);

/* Result of one training run. */
typedef struct ss_minilm_train_result {
        double l2;       /* chosen */
        ss_eval_t tune;  /* head fit without the tune rows, on the tune rows */
        ss_eval_t train; /* final head on all training rows */
} ss_minilm_train_result_t;

/*
 * Trains the head on train and adds the sections of a "minilm" model to mf
 * (a new container of that kind): the encoder's sections, head.w, head.b and
 * head.config (the hyperparameters, also added to the object hyper).
 */
ss_err_t ss_minilm_train(const ss_minilm_train_config_t *tc, const ss_dataset_t *train,
                         ss_mfile_t *mf, cJSON *hyper, ss_minilm_train_result_t *res, char *errstr,
                         size_t errstr_size);

#endif /* SS_MINILM_TRAIN_H */
