/*
 * cnn: a convolutional sentence classifier (Kim 2014, "non-static" variant).
 *
 *   token ids [B][T] -> embedding lookup into im2col windows of kmax embeddings
 *   (one im2col for all widths) -> for each filter width k (e.g. 3, 4, 5): sgemm of
 *   the windows' first k embeddings with F filters -> max over time -> + bias,
 *   ReLU -> concatenate [B][W*F] -> dropout (training only) -> linear [C] ->
 *   softmax.
 *
 * The network works on token ids. The text front end (ss_cnn_text_*) turns a
 * tweet into ids: the tweet tokenizer (tok.h) finds URLs, @mentions and
 * numbers, which become one placeholder id each, and every other token is
 * split into WordPiece pieces (wordpiece.h) of the vocabulary the embeddings
 * came from (all-MiniLM-L6-v2's, see cnn_train.c). Everything is float32,
 * row-major.
 *
 * Shapes used in the comments:
 *   V vocabulary rows, D embedding width, T max tokens per text, B batch,
 *   W number of filter widths, k one width, F filters per width, H = W*F,
 *   C classes, P im2col rows of a batch (one per window position, <= B*T).
 *
 * A text of n tokens has max(n - k + 1, 1) window positions for width k; a
 * window that runs past the end of the text (n < k) reads zero vectors. An
 * empty text (n = 0) thus has one all-zero window.
 *
 * Structs follow llm.c: Config (the shape), Weights (one block for the dense
 * parameters, one for the embedding table), Acts (forward scratch), Grads and
 * Adam state (training only). Scratch is allocated once for max_batch x
 * max_len and reused; nothing allocates per call.
 *
 * Threading: an ss_cnn_t is not thread-safe (it owns its scratch).
 */
#ifndef SS_CNN_H
#define SS_CNN_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"
#include "dataset.h"
#include "evalm.h"
#include "mfile.h"
#include "model.h"

#define SS_CNN_KIND       "cnn"
#define SS_CNN_MAX_WIDTHS 4

typedef struct ss_cnn_config {
        int32_t vocab_size;                /* V */
        int32_t emb_dim;                   /* D */
        int32_t max_len;                   /* T: tokens kept per text */
        int32_t n_widths;                  /* W, 1..SS_CNN_MAX_WIDTHS */
        int32_t widths[SS_CNN_MAX_WIDTHS]; /* k of each width, 1..T, ascending */
        int32_t n_filters;                 /* F per width */
        int32_t n_classes;                 /* C */
        int32_t max_batch;                 /* B_max: texts per forward call */
        float dropout;                     /* drop probability of the pooled features, 0..0.9 */
} ss_cnn_config_t;

/* Kim 2014 shape: widths 3,4,5, 100 filters each, dropout 0.5, D = 128, T = 64, 3 classes,
 * max_batch 128. vocab_size is left 0 (the vocabulary decides it). */
void ss_cnn_config_default(ss_cnn_config_t *cfg);

/* Checks ranges; the message names the offending field. */
ss_err_t ss_cnn_config_check(const ss_cnn_config_t *cfg, char *errstr, size_t errstr_size);

/* Dense parameters, pointers into one block of ss_cnn_n_dense() floats (in this order). */
typedef struct ss_cnn_dense {
        float *conv_w[SS_CNN_MAX_WIDTHS]; /* each [F][k*D]: filter f over window rows j*D + d */
        float *conv_b;                    /* [W][F] */
        float *fc_w;                      /* [C][H] */
        float *fc_b;                      /* [C] */
} ss_cnn_dense_t;

typedef struct ss_cnn_weights {
        float *emb;       /* [V][D] embedding table */
        float *dense_mem; /* [n_dense] all dense parameters */
        ss_cnn_dense_t p; /* views into dense_mem */
} ss_cnn_weights_t;

/* Forward scratch for max_batch texts of max_len tokens. */
typedef struct ss_cnn_acts {
        int32_t *ids;       /* [B][T] token ids of the batch (row stride T) */
        int32_t *lens;      /* [B] tokens of each text, 0..T */
        int32_t *row_off;   /* [B+1] first im2col row of text i; [B] = P */
        float *cols;        /* [B*T][kmax*D] im2col windows (all widths) */
        float *conv;        /* [B*T][F] filter responses of one width (before bias) */
        int32_t *argmax;    /* [B][H] im2col row of the maximum of each pooled feature */
        float *pooled;      /* [B][H] ReLU(max_t conv + bias) */
        float *mask;        /* [B][H] dropout scale: 0 or 1/(1-p) (training only) */
        float *hidden;      /* [B][H] pooled * mask (pooled when not training) */
        float *logits;      /* [B][C] */
        float *probs;       /* [B][C] softmax(logits) */
        int32_t batch;      /* B of the last forward call */
        int32_t train;      /* 1 if the last forward call applied dropout */
        int32_t has_argmax; /* 1 if it kept the argmax rows (train = 1 was asked) */
} ss_cnn_acts_t;

/* Gradients and Adam state (allocated by ss_cnn_train_begin()). */
typedef struct ss_cnn_grads {
        float *dense_mem; /* [n_dense] d loss / d dense params (same layout as weights) */
        ss_cnn_dense_t p; /* views into dense_mem */
        /* Sparse embedding gradient: rows touched by the batch only. */
        int32_t *slot_of; /* [V] slot of a row in emb_rows, -1 if untouched */
        int32_t *touched; /* [B*T] vocabulary ids of the touched rows, in first-touch order */
        int32_t n_touched;
        float *emb_rows; /* [B*T][D] gradient of each touched row */
        /* Backward scratch. */
        float *dlogits; /* [B][C] */
        float *dhidden; /* [B][H] d loss / d pooled (after the dropout mask) */
        /* Adam moments. Embedding rows are updated lazily (only rows in the batch). */
        float *m_dense;    /* [n_dense] */
        float *v_dense;    /* [n_dense] */
        float *m_emb;      /* [V][D] */
        float *v_emb;      /* [V][D] */
        int32_t *emb_step; /* [V] Adam steps taken by each embedding row */
        int64_t step;      /* Adam steps taken by the dense parameters */
} ss_cnn_grads_t;

/* Adam hyperparameters. */
typedef struct ss_cnn_adam {
        float lr;     /* learning rate of the dense parameters */
        float emb_lr; /* learning rate of the embedding rows (0 freezes them) */
        float beta1, beta2, eps;
        float weight_decay; /* decoupled (AdamW) decay of conv and fc weights, not biases */
        float max_norm;     /* Kim's constraint: rescale each fc_w row to L2 <= max_norm; 0 off */
} ss_cnn_adam_t;

/* lr 1e-3, emb_lr 1e-3, betas 0.9/0.999, eps 1e-8, no decay, max_norm 3. */
void ss_cnn_adam_default(ss_cnn_adam_t *a);

typedef struct ss_cnn_table ss_cnn_table_t;

typedef struct ss_cnn {
        ss_cnn_config_t cfg;
        ss_cnn_weights_t w;
        ss_cnn_acts_t a;
        ss_cnn_grads_t *g;   /* NULL until ss_cnn_train_begin() */
        uint64_t rng;        /* dropout random state (xorshift64*), set by ss_cnn_init_random */
        ss_cnn_table_t *tab; /* lookup table of the scoring forward pass (cnn_table.c), or NULL */
        size_t n_dense;
} ss_cnn_t;

/*
 * Allocates a network of that shape: weights zeroed, scratch for
 * cfg->max_batch texts. Returns NULL with the reason in errstr. Caller frees
 * with ss_cnn_destroy().
 */
ss_cnn_t *ss_cnn_new(const ss_cnn_config_t *cfg, char *errstr, size_t errstr_size);
void ss_cnn_destroy(ss_cnn_t *m);

/* Number of dense parameters for a config. */
size_t ss_cnn_n_dense(const ss_cnn_config_t *cfg);

/*
 * Random initialisation, deterministic for a seed: embeddings uniform in
 * [-0.25, 0.25] (Kim 2014's unknown-word init), conv weights He-uniform
 * (+-sqrt(6 / (k*D))), fc weights Glorot-uniform, biases 0. Also seeds the
 * dropout generator.
 */
void ss_cnn_init_random(ss_cnn_t *m, uint64_t seed);

/*
 * Forward pass over a batch of n <= max_batch texts.
 *   ids:  [n][T] token ids (row stride cfg.max_len), each in 0..V-1 for the
 *         first lens[i] positions (the rest is not read);
 *   lens: [n] tokens of each text, 0..T.
 * ids and lens may be m->a.ids and m->a.lens themselves (encode in place).
 * Results stay in m->a (probs [n][C]); with train = 1 dropout is applied
 * using m->rng. Returns SS_ERR_INVALID_ARG on an id or length out of range
 * (the message names the text and position).
 */
ss_err_t ss_cnn_forward(ss_cnn_t *m, const int32_t *ids, const int32_t *lens, int n, int train,
                        char *errstr, size_t errstr_size);

/*
 * Scoring by table lookup (cnn_table.c): each (token id, width, offset) contributes a fixed
 * vector of F filter responses; with a table enabled, ss_cnn_forward with train = 0 adds table
 * rows instead of running the im2col sgemm (same results up to float rounding, several times
 * faster). Rows are computed on first use of an id: memory grows by sum(widths) * F * 4 bytes
 * per distinct id scored (4.8 KB at 3/4/5 x 100), at most vocab_size ids. Enable only once
 * the weights are final (they are copied into the table); forward with train = 1 never uses
 * it. ss_cnn_destroy frees it.
 */
ss_err_t ss_cnn_table_enable(ss_cnn_t *m, char *errstr, size_t errstr_size);
void ss_cnn_table_disable(ss_cnn_t *m);
/* Distinct ids whose rows are in the table. */
int64_t ss_cnn_table_ids(const ss_cnn_t *m);
/* pooled [n][H] = ReLU(max over time + bias) of the batch by table lookup (the table must be
 * enabled; ids checked by the caller). */
void ss_cnn_table_pool(ss_cnn_t *m, const int32_t *ids, const int32_t *lens, int n, float *pooled);

/*
 * Weighted cross-entropy of the last forward pass:
 *   loss = sum_i cw[y_i] * -log p_i[y_i] / n,
 * class_weights [C] (NULL: all 1). labels [n] in 0..C-1.
 */
double ss_cnn_loss(const ss_cnn_t *m, const int32_t *labels, const float *class_weights);

/* Allocates gradients and Adam state (once; zeroed). Returns SS_ERR_NOMEM on failure. */
ss_err_t ss_cnn_train_begin(ss_cnn_t *m);

/*
 * Backward pass of the last forward call, which must have been made with
 * train = 1 (only then are the argmax rows kept), for ss_cnn_loss with the same
 * labels and weights. Overwrites m->g (dense gradients and the sparse
 * embedding rows). Requires ss_cnn_train_begin().
 */
void ss_cnn_backward(ss_cnn_t *m, const int32_t *labels, const float *class_weights);

/*
 * The same backward pass from a loss gradient the caller put into m->g->dlogits [n][C]
 * (d loss / d logits of the last forward call, train = 1): what another loss over the logits
 * uses (distillation, cnn_distill.h). Overwrites the rest of m->g.
 */
void ss_cnn_backward_logits(ss_cnn_t *m);

/* One Adam step with the gradients of the last backward call. */
void ss_cnn_adam_step(ss_cnn_t *m, const ss_cnn_adam_t *opt);

/*
 * Copies the network's weights (and dropout state) into dst, which must have
 * the same config. Used to keep the best epoch during early stopping.
 */
void ss_cnn_weights_copy(ss_cnn_t *dst, const ss_cnn_t *src);

/* Exponential moving average of the weights: avg = decay * avg + (1 - decay) * src
 * (same config). */
void ss_cnn_weights_ema(ss_cnn_t *avg, const ss_cnn_t *src, float decay);

/* Kernels, exposed for the tests. Output first. */

/*
 * im2col shared by every width: for text i and window position t in
 * 0 .. max(lens[i] - kmin + 1, 1) - 1, row row_off[i] + t of cols [P][kmax*D]
 * holds the embedding rows ids[i][t .. t+kmax-1] side by side (zero vectors
 * past lens[i]). Width k (kmin <= k <= kmax) reads the first k*D floats of a
 * row (leading dimension kmax*D) and the first max(lens[i] - k + 1, 1) rows of
 * text i. Fills row_off [n+1]. Returns P.
 */
int ss_cnn_im2col(float *cols, int32_t *row_off, const float *emb, const int32_t *ids,
                  const int32_t *lens, int n, int T, int D, int kmin, int kmax);

/* conv [P][F] = cols [P][K] (leading dimension ldcols >= K) x w^T, w [F][K]: cblas_sgemm. */
void ss_cnn_conv_gemm(float *conv, const float *cols, int ldcols, const float *w, int P, int F,
                      int K);

/* Reference convolution of width k straight from the ids, no im2col, no BLAS:
 * conv [P_k][F], the max(lens[i] - k + 1, 1) window positions of each text in
 * order. Returns P_k. */
int ss_cnn_conv_ref(float *conv, const float *emb, const int32_t *ids, const int32_t *lens, int n,
                    int T, int D, int k, const float *w, int F);

/* Plain-loop matrix product out [P][F] = x [P][K] x w^T (reference for the tests). */
void ss_cnn_matmul_ref(float *out, const float *x, const float *w, int P, int F, int K);

/* ---- text front end ---- */

/* How texts become ids. */
typedef enum {
        SS_CNN_TOK_WORDPIECE = 0, /* WordPiece over the raw text (BertTokenizer, uncased) */
        SS_CNN_TOK_TWEET = 1,     /* tweet tokenizer first: URL, @user, number -> one
                                     placeholder id each ([unused0..2]); other tokens
                                     (hashtag words, emoticons, emoji...) -> WordPiece */
} ss_cnn_tok_mode_t;

/* "wordpiece" / "tweet"; NULL for an unknown mode. */
const char *ss_cnn_tok_mode_name(int mode);
/* Parses a mode name; -1 if unknown. */
int ss_cnn_tok_mode_parse(const char *s);

typedef struct ss_cnn_text ss_cnn_text_t;

/*
 * A front end over a vocab.txt (copied). The tweet mode needs [unused0],
 * [unused1], [unused2] in the vocabulary. Returns NULL with the reason.
 * Caller frees with ss_cnn_text_destroy(). One per thread (scratch inside).
 */
ss_cnn_text_t *ss_cnn_text_new(const char *vocab, size_t vocab_len, int mode, int max_len,
                               char *errstr, size_t errstr_size);
void ss_cnn_text_destroy(ss_cnn_text_t *tx);

int32_t ss_cnn_text_vocab_size(const ss_cnn_text_t *tx);

/*
 * Encodes one text into at most max_len ids (the first ones; the rest of a
 * long text is dropped). Any bytes are accepted (invalid UTF-8 is replaced).
 * st (may be NULL) gets the input statistics: n_tokens = ids before
 * truncation, unk_share = share of [UNK] among them, and the tweet
 * tokenizer's URL / mention / emoji flags. Returns the number of ids, or -1
 * when memory runs out.
 */
int ss_cnn_text_encode(ss_cnn_text_t *tx, const char *text, size_t len, int32_t *ids,
                       ss_input_stats_t *st);

/* ---- model file ---- */

/*
 * Writes a trained network and its front end into a container of kind "cnn".
 * Sections: cnn.config (STR, JSON: vocab_size, emb_dim, max_len, widths,
 * n_filters, n_classes, tokenizer), cnn.vocab (STR, vocab.txt),
 * cnn.emb [V][D], cnn.conv<k>.w [F][k*D] for each width k, cnn.conv.b [W][F],
 * cnn.fc.w [C][H], cnn.fc.b [C] (all F32).
 */
ss_err_t ss_cnn_save(const ss_cnn_t *m, const char *vocab, size_t vocab_len, int tok_mode,
                     ss_mfile_t *mf, char *errstr, size_t errstr_size);

/*
 * Reads a network back from a container written by ss_cnn_save(), with
 * scratch for max_batch texts. *tok_mode and *vocab (pointing into mf, not
 * NUL-terminated, *vocab_len bytes) describe its front end. Every section is
 * checked against the config; errors name the file and section. NULL on
 * error; caller frees with ss_cnn_destroy().
 */
ss_cnn_t *ss_cnn_load(const ss_mfile_t *mf, int max_batch, int *tok_mode, const char **vocab,
                      size_t *vocab_len, char *errstr, size_t errstr_size);

/* ---- training (cnn_train.c) ---- */

typedef struct ss_cnn_train_config {
        ss_cnn_config_t net; /* shape; vocab_size comes from the embeddings file */
        ss_cnn_adam_t adam;
        int tok_mode;           /* ss_cnn_tok_mode_t */
        int epochs;             /* at most this many passes over the fit split */
        int patience;           /* stop after this many epochs without a better tune AvgRec */
        int balanced;           /* class weights n / (C * n_c) */
        uint64_t seed;          /* init, shuffling, dropout */
        int threads;            /* OpenBLAS threads while training */
        const char *embeddings; /* "minilm-encoder" model file: sections vocab, emb.word */
        float emb_std;          /* std the projected embeddings are scaled to */
        float ema; /* cap of the decay of the moving average of the weights that is evaluated
                      and kept; step t uses min(ema, (1+t)/(10+t)); 0: the raw weights */
        const char *progress_label; /* terminal progress line label, or NULL */
        /* Distillation (cnn_distill.h): soft [fit n][C] the teachers' probabilities softened at
         * distill_t, in the fit split's row order; NULL trains on the true labels only. */
        const float *soft;
        float distill_t, distill_alpha;
} ss_cnn_train_config_t;

/* Defaults as in config/model/cnn.yaml. */
void ss_cnn_train_config_default(ss_cnn_train_config_t *tc);

typedef struct ss_cnn_epoch_log {
        double loss; /* mean training loss of the epoch */
        double tune_avgrec, tune_accuracy;
        double seconds;
} ss_cnn_epoch_log_t;

typedef struct ss_cnn_train_result {
        int best_epoch; /* 0-based epoch whose weights were kept */
        int epochs_run;
        ss_cnn_epoch_log_t log[256];
        double pca_variance; /* share of the source embeddings' variance kept */
        double seconds;
} ss_cnn_train_result_t;

/*
 * Trains on fit with early stopping on tune (the weights of the epoch with the
 * best tune AvgRec are kept), then adds the model's sections to mf and, if
 * hyper is non-NULL, the configuration and per-epoch log to that JSON object.
 * Embeddings start from the source's token embeddings projected onto their
 * top emb_dim principal components (ss_cnn_pca_project). Deterministic for a
 * seed and thread count. tune_eval gets the kept model's tune metrics.
 */
ss_err_t ss_cnn_train(const ss_cnn_train_config_t *tc, const ss_dataset_t *fit,
                      const ss_dataset_t *tune, ss_mfile_t *mf, cJSON *hyper,
                      ss_cnn_train_result_t *res, ss_eval_t *tune_eval, char *errstr,
                      size_t errstr_size);

/*
 * PCA projection: out [V][D] = (E - mean) x Q, where Q [D0][D] holds the top D
 * eigenvectors of E's covariance (subspace iteration from a fixed start, so
 * the result is deterministic; each column's sign is fixed so its largest
 * entry is positive). E is [V][D0]. Returns the share of the variance kept,
 * or -1 on out of memory.
 */
double ss_cnn_pca_project(float *out, const float *E, int V, int D0, int D);

#endif /* SS_CNN_H */
