/*
 * minilm_ft: fine-tuning the MiniLM encoder (minilm.h) with a softmax head, in C over
 * OpenBLAS: forward pass that keeps its activations, backward pass, gradients of every
 * parameter tensor.
 *
 * The model: ids -> embeddings (word + position + token type 0) + LayerNorm -> n_layers x
 * BERT layer -> mean over each text's tokens -> dropout -> logits = W pooled + b, W [3][D].
 * Loss: class-weighted mean cross-entropy, sum_i w[y_i] CE_i / sum_i w[y_i] (PyTorch's
 * CrossEntropyLoss(weight=w)). Dropout (probability p, inverted) after the attention output
 * projection, after the feed-forward output projection and on the pooled vector; none on
 * the attention probabilities.
 *
 * What is trained: the top n_train_layers layers and the head, plus the embeddings when
 * train_embeddings is set (which needs n_train_layers = n_layers). The layers below run
 * frozen; their output for a text never changes, so a trainer may compute it once
 * (ss_minilm_ft_hidden) and feed it back as the batch's x0 (the same code trains all
 * layers or the top K).
 *
 * Memory: one parameter block (every tensor, in the order of ss_minilm_ft_tensors()), one
 * gradient block of the same layout, and one activation arena sized from the config, the
 * number of trained layers and max_tokens (tokens of one batch) at creation. Texts are
 * packed without padding, as in minilm.c.
 */
#ifndef SS_MINILM_FT_H
#define SS_MINILM_FT_H

#include <stddef.h>
#include <stdint.h>

#include "minilm.h"

typedef struct ss_minilm_ft ss_minilm_ft_t;

/* One parameter tensor of the flat blocks. */
typedef struct ss_minilm_ft_tensor {
        char name[32]; /* the model file's section name ("L3.ff1.w"; "L3.qkv.w" is fused) */
        size_t off;    /* first float in the parameter / gradient block */
        size_t count;  /* floats */
        int trained;   /* 1: gets gradients and updates */
        int decay;     /* 1: weight decay applies (matrices; not biases, LayerNorm) */
} ss_minilm_ft_tensor_t;

/*
 * A model of shape cfg with every parameter 0 (fill with ss_minilm_ft_load or through
 * ss_minilm_ft_params). 0 <= n_train_layers <= cfg->n_layers; train_embeddings only with
 * n_train_layers == n_layers. max_tokens bounds the tokens of one batch (texts of at most
 * cfg->max_seq_len tokens). NULL on error.
 */
ss_minilm_ft_t *ss_minilm_ft_new(const ss_minilm_config_t *cfg, int n_train_layers,
                                 int train_embeddings, int max_tokens, char *errstr,
                                 size_t errstr_size);
void ss_minilm_ft_destroy(ss_minilm_ft_t *ft);

/*
 * Copies the encoder weights from a container of kind "minilm-encoder" or "minilm" (every
 * section's size is checked against the model's config; errors name the section). The head
 * keeps its values.
 */
ss_err_t ss_minilm_ft_load(ss_minilm_ft_t *ft, const ss_mfile_t *mf, char *errstr,
                           size_t errstr_size);

/* Head weights ~ N(0, std^2) from seed, bias 0. */
void ss_minilm_ft_head_init(ss_minilm_ft_t *ft, uint64_t seed, float std);

/*
 * Adds the sections of a scoreable "minilm" model (encoder + head) to mf: config_json
 * (config_len bytes) and vocab as given, every tensor (the fused QKV split back into q, k, v) and
 * head.config =
 * {"pool_layers": [n_layers], "normalize": false} merged with the members of extra (may
 * be NULL; not consumed).
 */
ss_err_t ss_minilm_ft_save(const ss_minilm_ft_t *ft, ss_mfile_t *mf, const char *config_json,
                           size_t config_len, const char *vocab, size_t vocab_len,
                           const char *extra_json, char *errstr, size_t errstr_size);

const ss_minilm_config_t *ss_minilm_ft_config(const ss_minilm_ft_t *ft);

/* The tensor table (owned by the model): *n tensors. */
const ss_minilm_ft_tensor_t *ss_minilm_ft_tensors(const ss_minilm_ft_t *ft, int *n);

/* The parameter and gradient blocks (owned by the model), *n floats each. Floats from
 * ss_minilm_ft_trained_off() to the end are the trained ones. */
float *ss_minilm_ft_params(ss_minilm_ft_t *ft, size_t *n);
float *ss_minilm_ft_grads(ss_minilm_ft_t *ft, size_t *n);
size_t ss_minilm_ft_trained_off(const ss_minilm_ft_t *ft);

/* Index of the first trained layer (n_layers - n_train_layers): the layer whose input
 * ss_minilm_ft_hidden computes. */
int ss_minilm_ft_first_layer(const ss_minilm_ft_t *ft);

/* 1: plain reference kernels instead of OpenBLAS (tests). */
void ss_minilm_ft_set_reference(ss_minilm_ft_t *ft, int on);

/* Dropout probability (0 = off) and the seed of its masks (the k-th training forward
 * after this call draws the same masks for the same seed). */
void ss_minilm_ft_set_dropout(ss_minilm_ft_t *ft, float p, uint64_t seed);

/* Loss weights per class (default 1, 1, 1). */
void ss_minilm_ft_set_class_weights(ss_minilm_ft_t *ft, const float *w);

/* One batch of texts, packed. */
typedef struct ss_minilm_ft_batch {
        size_t n;             /* texts */
        const int *len;       /* [n] tokens incl. [CLS]/[SEP], 1..max_seq_len */
        const int32_t *ids;   /* [sum len] token ids (used when x0 is NULL) */
        const float *x0;      /* [sum len][D] states entering the first trained layer, or NULL */
        const int8_t *labels; /* [n] classes 0..2, or NULL (no loss) */
} ss_minilm_ft_batch_t;

/*
 * Forward pass over a batch; train = 1 applies dropout. probs_out [n][3] (may be NULL).
 * *loss (may be NULL) = the weighted loss when labels are given. The activations stay for
 * ss_minilm_ft_backward.
 */
ss_err_t ss_minilm_ft_forward(ss_minilm_ft_t *ft, const ss_minilm_ft_batch_t *b, int train,
                              float *probs_out, float *loss, char *errstr, size_t errstr_size);

/* Adds the gradient of the last forward's loss (labels required) to the gradient block. */
ss_err_t ss_minilm_ft_backward(ss_minilm_ft_t *ft, char *errstr, size_t errstr_size);

/* Zeroes the trained part of the gradient block. */
void ss_minilm_ft_zero_grad(ss_minilm_ft_t *ft);

/*
 * The frozen part: states entering the first trained layer for n texts (ids packed as in
 * the batch), out [sum len][D]. Runs in chunks of at most max_tokens tokens.
 */
ss_err_t ss_minilm_ft_hidden(ss_minilm_ft_t *ft, const int32_t *ids, const int *len, size_t n,
                             float *out, char *errstr, size_t errstr_size);

/* Kernels, output first (exposed for the tests that compare them). */
/* dx[n][d_in] (+)= dout[n][d_out] . w[d_out][d_in]; dw[d_out][d_in] += dout^T x;
 * db[d_out] += column sums of dout (db may be NULL); accumulate: 1 adds into dx. */
void ss_minilm_ft_matmul_backward_ref(float *dx, float *dw, float *db, const float *dout,
                                      const float *x, const float *w, int n, int d_in, int d_out,
                                      int accumulate);
void ss_minilm_ft_matmul_backward_blas(float *dx, float *dw, float *db, const float *dout,
                                       const float *x, const float *w, int n, int d_in, int d_out,
                                       int accumulate);
/*
 * Attention of one text, L rows of qkv [L][3D] (stride 3D), all heads: probs [H][L][L]
 * (kept for backward), ctx [L][D] (stride D).
 */
void ss_minilm_ft_attention_forward_ref(float *ctx, float *probs, const float *qkv, int L, int D,
                                        int n_heads);
void ss_minilm_ft_attention_forward_blas(float *ctx, float *probs, const float *qkv, int L, int D,
                                         int n_heads);
/* dqkv [L][3D] = gradient of the attention from dctx [L][D]; dp: [L][L] scratch. */
void ss_minilm_ft_attention_backward_ref(float *dqkv, const float *dctx, const float *probs,
                                         const float *qkv, int L, int D, int n_heads, float *dp);
void ss_minilm_ft_attention_backward_blas(float *dqkv, const float *dctx, const float *probs,
                                          const float *qkv, int L, int D, int n_heads, float *dp);

#endif /* SS_MINILM_FT_H */
