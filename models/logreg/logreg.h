/*
 * logreg: the linear baseline. Hashed TF-IDF bag of word and character
 * n-grams (feat.h) -> multinomial logistic regression -> softmax.
 *
 *   counts c_j (feat.h, raw) -> x_j = tf(c_j) * idf_j, tf(c) = 1 + ln c when
 *   sublinear, else c -> x /= ||x||_2 -> logits_k = b_k + sum_j x_j W[j][k]
 *   -> softmax.
 *
 * Shapes: D = 2^dim_bits hashed buckets, C = SS_NUM_CLASSES, V = 2^vocab_bits
 * bits of the vocabulary set.
 *
 * The weights are stored feature-major with the IDF beside them, one 16-byte
 * row per bucket: table[j] = {W[j][0], W[j][1], W[j][2], idf_j}, so a bucket
 * costs one cache line access while scoring.
 *
 * Input statistics: n_tokens = tokens of the tweet tokenizer; unk_share =
 * share of word tokens (words and hashtag words) whose hash is not in the
 * model's vocabulary bitset (the words seen in training); 0 with no word
 * tokens.
 *
 * Training (logreg_train.c) minimises the class-weighted mean cross-entropy
 * plus (l2/2)||W||^2 (bias not penalised) with L-BFGS over the buckets the
 * training data uses. It is deterministic: same data and config, same weights,
 * whatever the thread count.
 */
#ifndef SS_LOGREG_H
#define SS_LOGREG_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "evalm.h"
#include "feat.h"
#include "mfile.h"
#include "model.h"

#define SS_LOGREG_ROW       4 /* floats per bucket row: C weights + idf */
#define SS_LOGREG_LEX_FEATS 8 /* lexicon features, see ss_logreg_lex_features() */

/* Config: the shape of the model (stored in the model file). */
typedef struct ss_logreg_config {
        ss_feat_config_t feat; /* hashing and n-gram ranges */
        uint32_t vocab_bits;   /* log2 of the vocabulary bitset, 10..28 (default 24) */
        uint32_t vocab_seed;   /* hash seed of the vocabulary set */
        uint32_t lex_feats;    /* L: 0 (no lexicon) or SS_LOGREG_LEX_FEATS */
} ss_logreg_config_t;

void ss_logreg_config_default(ss_logreg_config_t *cfg);

/* Rows of the weight table: D hashed buckets, then L lexicon features. */
size_t ss_logreg_rows(const ss_logreg_config_t *cfg);

/*
 * A sentiment lexicon: token -> valence (VADER's scale, about -4..4), an
 * open-addressing table keyed by a 64-bit hash of the token (0 = empty slot).
 */
typedef struct ss_lexicon {
        const uint64_t *keys;   /* [cap] */
        const float *vals;      /* [cap] */
        uint64_t cap;           /* power of two; 0 = no lexicon */
        const uint64_t *filter; /* [SS_LEX_FILTER_WORDS] bits of (hash & 0xffff) of the keys,
                                 * or NULL: rejects most non-entries without a cache miss */
} ss_lexicon_t;

#define SS_LEX_FILTER_WORDS 1024 /* 2^16 bits */

/* Reads `token<TAB>valence[<TAB>...]` lines (VADER's vader_lexicon.txt) into a
 * table whose keys/vals the caller frees. Errors name the file and line. */
ss_err_t ss_lexicon_load(const char *path, ss_lexicon_t *lx, char *errstr, size_t errstr_size);
/* 1 and *val when the token is in the lexicon, else 0. */
int ss_lexicon_get(const ss_lexicon_t *lx, const char *tok, size_t len, float *val);

/*
 * The lexicon features of a tokenized text, out[SS_LOGREG_LEX_FEATS]: each
 * word's valence, flipped and damped (x -0.74, as VADER does) within three
 * words after a negator ("not", "never", any "...n't"); then tanh(sum of
 * positive / 4), tanh(sum of negative magnitudes / 4), positive and negative
 * word counts (capped at 5, / 5), max and min valence / 4, the last valence / 4,
 * tanh(net / 4).
 */
void ss_logreg_lex_features(float *out, const ss_tok_buf_t *tb, const ss_lexicon_t *lx);

/* Weights: the trained parameters. Pointers may point into a model file. */
typedef struct ss_logreg_weights {
        const float *table;    /* [D + L][SS_LOGREG_ROW] W[j][0..C-1], idf_j (1 for L rows) */
        const float *bias;     /* [C] */
        const uint64_t *vocab; /* [V/64] bitset of training word hashes */
        ss_lexicon_t lex;      /* used when L > 0 */
} ss_logreg_weights_t;

/* Scratch: per-text buffers, allocated once and reused. */
typedef struct ss_logreg_scratch {
        ss_sparse_t x[2]; /* raw counts of the two texts in flight (see ss_logreg_score) */
        float lex[2][SS_LOGREG_LEX_FEATS]; /* [2][L] their lexicon features */
        uint32_t *bits; /* [bits_cap] vocabulary bit of each word token of one text */
        size_t bits_cap;
} ss_logreg_scratch_t;

typedef struct ss_logreg {
        ss_logreg_config_t cfg;
        ss_logreg_weights_t w;
        ss_logreg_scratch_t s;
        uint64_t lex_filter[SS_LEX_FILTER_WORDS]; /* w.lex.filter points here */
        ss_feat_t *feat;                          /* the extractor (raw counts; IDF applied here) */
        void *owned; /* weights memory when not borrowed from a model file */
} ss_logreg_t;

/*
 * Creates a model over borrowed weights (valid for the model's lifetime).
 * Returns NULL with a message on a bad config or out of memory. Caller frees
 * with ss_logreg_destroy().
 */
ss_logreg_t *ss_logreg_new(const ss_logreg_config_t *cfg, const ss_logreg_weights_t *w,
                           char *errstr, size_t errstr_size);
void ss_logreg_destroy(ss_logreg_t *lr);

/* Scores n texts: probs [n][C], stats [n] or NULL. */
ss_err_t ss_logreg_score(ss_logreg_t *lr, const char *const *texts, const size_t *lens, size_t n,
                         float *probs, ss_input_stats_t *stats, char *errstr, size_t errstr_size);

/*
 * Kernels (output first). x holds tf-idf values already L2-normalised.
 *   ss_logreg_logits: logits[C] = bias + sum_k x.val[k] * table[x.idx[k]][0..C-1].
 *   ss_logreg_tfidf:  counts -> normalised tf-idf in place (see the top comment).
 */
void ss_logreg_logits(float *logits, const ss_sparse_t *x, const float *table, const float *bias);
void ss_logreg_tfidf(ss_sparse_t *x, const float *table, int sublinear);

/*
 * The scoring kernel: raw counts x (left unchanged) -> logits[C] in one pass
 * over the table rows; equals ss_logreg_tfidf() then ss_logreg_logits() up to
 * float rounding.
 */
void ss_logreg_forward(float *logits, const ss_sparse_t *x, const float *table, const float *bias,
                       int sublinear);

/* Vocabulary bitset helpers (V = 2^bits bits). */
uint32_t ss_logreg_vocab_bit(const char *tok, size_t len, uint32_t bits, uint32_t seed);
int ss_logreg_is_word(int tok_kind);

/* Writes the model's sections (config, table, bias, vocab) into a container. */
ss_err_t ss_logreg_save(const ss_logreg_config_t *cfg, const ss_logreg_weights_t *w, ss_mfile_t *mf,
                        char *errstr, size_t errstr_size);

/* ---- training (logreg_train.c) ---- */

typedef struct ss_logreg_train_config {
        ss_logreg_config_t model;
        double l2;                  /* L2 strength on the mean loss, > 0 */
        int max_iter;               /* L-BFGS iterations */
        double tol;                 /* stop when the relative loss change over 5 iterations < tol */
        int history;                /* L-BFGS memory m */
        int balanced;               /* class weights n / (C * n_c) */
        int threads;                /* 1 or 2 worker threads for the gradient */
        const char *progress_label; /* label of the terminal progress line, or NULL */
        const float *warm;       /* start point by table row, [D + L][C] then [C] bias, or NULL */
        const ss_lexicon_t *lex; /* the lexicon when model.lex_feats > 0 */
        float lex_scale;         /* lexicon features are multiplied by this while training */
        /* NULL, or [tune n][C]: ss_logreg_tune() writes the chosen grid point's probabilities
         * on the tune split (a model that never saw those rows: what calibration needs) */
        float *tune_probs_out;
} ss_logreg_train_config_t;

void ss_logreg_train_config_default(ss_logreg_train_config_t *tc);

/*
 * A training problem in compact CSR form: rows are documents, columns are
 * the d buckets used by the data (col_map[c] = bucket), values are tf-idf.
 */
typedef struct ss_lr_problem {
        size_t n;          /* documents */
        uint32_t d;        /* compact feature columns */
        uint64_t *rowptr;  /* [n+1] */
        uint32_t *col;     /* [nnz] compact column of each value */
        float *val;        /* [nnz] */
        int8_t *y;         /* [n] labels */
        double *sw;        /* [n] sample weights, summing to 1 */
        uint32_t *col_map; /* [d] bucket of each compact column */
} ss_lr_problem_t;

/*
 * Objective and gradient at theta = [d][C] weights then [C] biases:
 *   f = sum_i sw_i * CE_i + (l2/2) * sum W^2.
 * grad (same layout) may be NULL. threads: 1 or 2 (same result either way).
 */
double ss_logreg_loss_grad(const ss_lr_problem_t *p, double l2, const double *theta, double *grad,
                           int threads);

/* Frees a problem's arrays (not the struct). */
void ss_lr_problem_free(ss_lr_problem_t *p);

/*
 * Builds the problem from a data set: fits IDF on it, extracts features,
 * fills the vocabulary bitset, and (when cfg->lex_feats) appends the lexicon
 * features times lex_scale as the last columns (col_map D..D+L-1). idf_out [D]
 * and vocab_out [V/64] are caller allocated.
 */
ss_err_t ss_logreg_problem_build(const ss_logreg_config_t *cfg, const ss_dataset_t *ds,
                                 int balanced, const ss_lexicon_t *lex, float lex_scale,
                                 ss_lr_problem_t *p, float *idf_out, uint64_t *vocab_out,
                                 char *errstr, size_t errstr_size);

/*
 * Fits theta (in: start point, e.g. zeros or a warm start; out: the optimum).
 * Returns the final objective in *loss_out and iterations in *iters_out.
 */
ss_err_t ss_logreg_fit(const ss_lr_problem_t *p, const ss_logreg_train_config_t *tc, double *theta,
                       double *loss_out, int *iters_out, char *errstr, size_t errstr_size);

/*
 * Trains a model on a data set: builds the problem, fits, and expands theta
 * into the table. Returns a model in *out (caller destroys), which owns its
 * weights.
 */
ss_err_t ss_logreg_train(const ss_logreg_train_config_t *tc, const ss_dataset_t *ds,
                         ss_logreg_t **out, double *loss_out, int *iters_out, char *errstr,
                         size_t errstr_size);

/* Scores every row of ds (one at a time) into a finished confusion matrix. */
ss_err_t ss_logreg_evaluate(ss_logreg_t *lr, const ss_dataset_t *ds, ss_eval_t *ev, char *errstr,
                            size_t errstr_size);

/* One point of a hyper-parameter search. */
typedef struct ss_logreg_tune_result {
        double l2;      /* the L2 strength tried */
        double loss;    /* final training objective */
        int iters;      /* L-BFGS iterations */
        double seconds; /* fit + evaluation time */
        ss_eval_t tune; /* metrics on the tune split */
} ss_logreg_tune_result_t;

/*
 * Picks the L2 strength: fits on fit for each grid value in order (each fit
 * warm-started from the previous one, so order strong -> weak), evaluates on
 * tune, and sets *best to the index with the highest AvgRec (first on ties).
 * results: [ngrid], caller allocated. warm_out ([D + L][C] then [C], or NULL)
 * receives the best fit's weights by bucket: a start point for the refit
 * (ss_logreg_train_config_t.warm).
 */
ss_err_t ss_logreg_tune(const ss_logreg_train_config_t *tc, const double *grid, int ngrid,
                        const ss_dataset_t *fit, const ss_dataset_t *tune,
                        ss_logreg_tune_result_t *results, int *best, float *warm_out, char *errstr,
                        size_t errstr_size);

#endif /* SS_LOGREG_H */
