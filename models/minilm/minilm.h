/*
 * minilm: the all-MiniLM-L6-v2 sentence encoder (a 6-layer BERT) in C, and the
 * `minilm` model kind built on it (encoder + softmax-regression head).
 *
 * Encoder: WordPiece ids (wordpiece.h) -> embeddings (word + position +
 * token type 0) + LayerNorm -> n_layers x (fused QKV projection, per-sequence
 * multi-head attention, output projection, residual + LayerNorm, GELU (erf)
 * feed-forward, residual + LayerNorm) -> mean over each text's tokens
 * ([CLS] and [SEP] included, as sentence-transformers does) -> optionally L2
 * normalised (sentence-transformers' Normalize module). The texts of a batch
 * are packed without padding (each attends only over its own tokens), so the
 * result equals the padded, masked computation.
 *
 * Model files (mfile.h). `sentistream convert minilm SRC OUT.ssm` writes kind
 * "minilm-encoder": the encoder alone, not scoreable; training adds the head
 * and writes kind "minilm". Sections (F32 unless noted; Linear weights are
 * [out][in] as in PyTorch):
 *   config            STR  JSON {dim, n_layers, n_heads, ffn_dim, vocab_size,
 *                          max_pos, type_vocab, ln_eps, max_seq_len, pooling,
 *                          source, source_sha256}
 *   vocab             STR  vocab.txt
 *   emb.word [V][D], emb.pos [P][D], emb.type [2][D], emb.ln.w [D], emb.ln.b [D]
 *   L<i>.q.w [D][D] L<i>.q.b [D]   (attention.self.query; likewise .k and .v)
 *   L<i>.ao.w [D][D] L<i>.ao.b [D] (attention.output.dense)
 *   L<i>.ln1.w [D] L<i>.ln1.b [D]  (attention.output.LayerNorm)
 *   L<i>.ff1.w [F][D] L<i>.ff1.b [F] (intermediate.dense)
 *   L<i>.ff2.w [D][F] L<i>.ff2.b [D] (output.dense)
 *   L<i>.ln2.w [D] L<i>.ln2.b [D]  (output.LayerNorm)
 *   head.w [3][D], head.b [3], head.config STR JSON   (kind "minilm" only)
 *
 * Threading: an encoder owns its scratch; use one per thread. The matrix
 * products run through OpenBLAS (its own threads: OPENBLAS_NUM_THREADS).
 */
#ifndef SS_MINILM_H
#define SS_MINILM_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"
#include "mfile.h"
#include "model.h"
#include "wordpiece.h"

#define SS_MINILM_KIND         "minilm"
#define SS_MINILM_ENCODER_KIND "minilm-encoder"
#define SS_MINILM_MAX_LAYERS   24

typedef struct ss_minilm_config {
        int dim;         /* D, hidden size (384) */
        int n_layers;    /* 6 */
        int n_heads;     /* 12 */
        int head_dim;    /* D / n_heads (32) */
        int ffn_dim;     /* F, intermediate size (1536) */
        int vocab_size;  /* V (30522) */
        int max_pos;     /* P, position embeddings (512) */
        int type_vocab;  /* token types (2) */
        int max_seq_len; /* tokens per text incl. [CLS]/[SEP] after truncation (256) */
        float ln_eps;    /* LayerNorm epsilon (1e-12) */
} ss_minilm_config_t;

typedef struct ss_minilm ss_minilm_t;

/*
 * Builds an encoder from a container of kind "minilm" or "minilm-encoder".
 * Borrows mf: it must outlive the encoder (weights point into it). Checks every
 * section's presence, type and size against the config and errors naming the
 * section. max_tokens bounds the tokens of one forward chunk (scratch is sized
 * for it once; 0 = default 4096, at least max_seq_len). NULL on error.
 */
ss_minilm_t *ss_minilm_new(const ss_mfile_t *mf, int max_tokens, char *errstr, size_t errstr_size);
void ss_minilm_destroy(ss_minilm_t *e);

const ss_minilm_config_t *ss_minilm_config(const ss_minilm_t *e);

/* The encoder's tokenizer (owned by the encoder). */
ss_wp_t *ss_minilm_wordpiece(ss_minilm_t *e);

/* 1: use the plain reference kernels instead of OpenBLAS (tests, checks). */
void ss_minilm_set_reference(ss_minilm_t *e, int on);

/*
 * 1 (the default where the CPU has AVX-512 and heads are 32 wide): attention with AVX-512
 * intrinsics; 0: the portable vectorizable loops. Both agree with the reference within float
 * rounding (tests compare them). Returns whether the SIMD kernel is now in use.
 */
int ss_minilm_set_simd(ss_minilm_t *e, int on);

/*
 * 1: run the linear layers (QKV, attention output, both feed-forward projections) in int8:
 * weights quantised once per output row (symmetric, scale = max |w| / 127, copies made on the
 * first call), activations per row at each product (dynamic), int32 accumulation; attention,
 * LayerNorm, GELU and the head stay float. A model file selects it with head.config
 * "quantize": "int8".
 */
ss_err_t ss_minilm_set_int8(ss_minilm_t *e, int on, char *errstr, size_t errstr_size);

/*
 * Which hidden states are mean-pooled into the embedding, in output order:
 * layer 0 = the embedding LayerNorm output, n_layers = the last layer (the
 * default, {n_layers}: sentence-transformers' embedding). With several, the
 * output row is their concatenation (each block normalised on its own when
 * normalisation is asked for).
 */
ss_err_t ss_minilm_set_pool_layers(ss_minilm_t *e, const int *layers, int n, char *errstr,
                                   size_t errstr_size);

/* Floats per embedding row: (number of pooled layers) x D. */
int ss_minilm_embed_dim(const ss_minilm_t *e);

/* The pooled layers into layers[SS_MINILM_MAX_LAYERS + 1]; returns their number. */
int ss_minilm_pool_layers(const ss_minilm_t *e, int *layers);

/* The pooled layers as text, e.g. "6" or "6-4-3". */
void ss_minilm_pool_layers_str(const ss_minilm_t *e, char *buf, size_t size);

/*
 * Embeds n texts: pooled_out [n][ss_minilm_embed_dim()] mean-pooled embeddings,
 * L2-normalised (per pooled layer) when normalize is 1. stats_out (may be NULL) [n]: n_tokens =
 * WordPiece pieces without [CLS]/[SEP] (before truncation), unk_share = share of [UNK] among them;
 * the byte-scan flags (has_url ...) are left 0 here.
 */
ss_err_t ss_minilm_embed(ss_minilm_t *e, const char *const *texts, const size_t *lens, size_t n,
                         int normalize, float *pooled_out, ss_input_stats_t *stats_out,
                         char *errstr, size_t errstr_size);

/*
 * Embeds already tokenized sequences: ids of sequence s are ids[off[s] ..
 * off[s] + len[s]) (with [CLS]/[SEP], 1 <= len[s] <= max_seq_len).
 * pooled_out [n][ss_minilm_embed_dim()], not normalised.
 */
ss_err_t ss_minilm_forward(ss_minilm_t *e, const int32_t *ids, const size_t *off, const int *len,
                           size_t n, float *pooled_out, char *errstr, size_t errstr_size);

/*
 * Converts a sentence-transformers model directory (model.safetensors,
 * vocab.txt, config.json, sentence_bert_config.json) into a "minilm-encoder"
 * model file at out_path. Shapes and dtypes are checked against config.json;
 * errors name the tensor. A directory with only pytorch_model.bin is refused
 * with the reason.
 */
ss_err_t ss_minilm_convert(const char *src_dir, const char *out_path, const char *name,
                           char *errstr, size_t errstr_size);

/* probs [n][SS_NUM_CLASSES] = softmax(W x + b) over the rows of X [n][D]; W [SS_NUM_CLASSES][D],
 * b [SS_NUM_CLASSES]. The head's inference; minilm_train.c fits W and b. */
void ss_minilm_head_apply(const float *X, size_t n, int D, const float *W, const float *b,
                          float *probs);

/* Kernels, output first (exposed for the tests that compare them). */
/* out[n][d_out] = x[n][d_in] . w[d_out][d_in]^T + b[d_out] (b may be NULL) */
void ss_minilm_matmul_ref(float *out, const float *x, const float *w, const float *b, int n,
                          int d_in, int d_out);
void ss_minilm_matmul_blas(float *out, const float *x, const float *w, const float *b, int n,
                           int d_in, int d_out);
/* q[rows][cols], scale[rows]: symmetric int8 per row, w ~ q scale */
void ss_minilm_quantize_rows(int8_t *q, float *scale, const float *w, int rows, int cols);
/* out[n][d_out] = q8(x) . wq^T (int32) * row scale * ws[o] + b[o]; xq [n][d_in], xs [n] scratch */
void ss_minilm_matmul_q8_ref(float *out, const float *x, const int8_t *wq, const float *ws,
                             const float *b, int n, int d_in, int d_out, int8_t *xq, float *xs);
void ss_minilm_matmul_q8(float *out, const float *x, const int8_t *wq, const float *ws,
                         const float *b, int n, int d_in, int d_out, int8_t *xq, float *xs);
/* x[i] = gelu(x[i] + b[i % d]) over n rows of d; _ref uses libm erff */
void ss_minilm_bias_gelu(float *x, const float *b, int n, int d);
void ss_minilm_bias_gelu_ref(float *x, const float *b, int n, int d);

#endif /* SS_MINILM_H */
