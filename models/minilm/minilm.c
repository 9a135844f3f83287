/*
 * minilm: the MiniLM (BERT) encoder forward pass and the `minilm` model kind.
 *
 * Design, after llama2.c: a Config (shapes, from the model file's JSON), the
 * Weights (pointers straight into the model file's 16-byte aligned sections,
 * except the query/key/value projections, which are copied once into one fused
 * [3D][D] matrix so that a single sgemm computes all three), and a Scratch
 * allocated once for max_tokens rows and reused for every batch.
 *
 * A batch is tokenized, then packed: the texts' tokens are concatenated with
 * no padding, and the forward pass runs over chunks of whole texts holding at
 * most max_tokens tokens. Every dense step (projections, feed-forward,
 * LayerNorm) runs over all rows of the chunk at once (large sgemm calls);
 * only attention works per text and head, over that text's own rows, which
 * equals the padded computation with an attention mask. Packing makes sorting
 * by length unnecessary: there is no padding to save.
 *
 * Threads: sgemm uses OpenBLAS's own; the int8 products and the element-wise
 * steps (attention, GELU, LayerNorm) run on as many threads of their own
 * (par_run), attention split between texts and the others between rows. Every
 * row and text is computed whole by one thread, so the split never changes
 * the result.
 *
 * Attention per text and head is small (L x L scores, L about 35), so it is
 * written for registers rather than handed to sgemm: on CPUs with AVX-512 and
 * heads 32 wide (MiniLM's), attention_avx512 computes the scores of 4 queries x
 * 16 keys in 4 registers, the softmax 16 keys at a time with a vector exp, and
 * the weighted values in 8 accumulators; elsewhere attention_fast, the same
 * computation as loops for the auto-vectorizer (ss_minilm_set_simd switches).
 *
 * Each BLAS path has a plain reference kernel beside it (ss_minilm_set_reference
 * switches the whole forward pass to them); the tests compare the two and both
 * against PyTorch.
 */
#include "minilm.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "q8gemm.h"
#include "ss_util.h"
#include "tok.h"

#define SS_MINILM_DEFAULT_TOKENS 4096
#define SS_MINILM_MAX_HEAD_DIM   256
#define SS_MINILM_Q8_MAX_THREADS 16 /* threads of one int8 product */
#define SS_MINILM_Q8_MIN_ROWS    16 /* rows each of them gets at least */
#define SS_MINILM_PAR_MIN_ROWS   64 /* rows each thread of attention, GELU, LayerNorm gets */

/* The element-wise loops (GELU, attention, LayerNorm) are compiled for several x86 vector
 * widths and picked at load time; elsewhere they are plain C. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define SS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SS_VECTOR_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define SS_MINILM_X86 1
#include <immintrin.h>
#endif

#define ATT_QB 4 /* queries per group in attention_avx512 (its scratch holds their weights) */

/* A linear layer's weights quantised per output row: w[o][k] ~ q[o][k] scale[o]. */
typedef struct ss_minilm_q8 {
        int8_t *q;            /* [out][in] */
        float *scale;         /* [out] */
        ss_q8gemm_pack_t *pk; /* q packed for the SIMD kernels (owned) */
} ss_minilm_q8_t;

/* Weights of one transformer layer. Linear weights are [out][in]. */
typedef struct ss_minilm_layer {
        float *wqkv;        /* [3D][D] query, key, value rows (owned copy) */
        float *bqkv;        /* [3D] */
        const float *wo;    /* [D][D] attention output projection */
        const float *bo;    /* [D] */
        const float *ln1_w; /* [D] */
        const float *ln1_b; /* [D] */
        const float *w1;    /* [F][D] feed-forward in */
        const float *b1;    /* [F] */
        const float *w2;    /* [D][F] feed-forward out */
        const float *b2;    /* [D] */
        const float *ln2_w; /* [D] */
        const float *ln2_b; /* [D] */
        /* int8 copies (ss_minilm_set_int8): qkv [3D][D], o [D][D], ff1 [F][D], ff2 [D][F] */
        ss_minilm_q8_t q_qkv, q_o, q_ff1, q_ff2;
} ss_minilm_layer_t;

typedef struct ss_minilm_weights {
        const float *word;     /* [V][D] */
        const float *pos;      /* [P][D] */
        const float *type;     /* [2][D] */
        const float *emb_ln_w; /* [D] */
        const float *emb_ln_b; /* [D] */
        ss_minilm_layer_t layer[SS_MINILM_MAX_LAYERS];
        float *owned;   /* [L][3D][D + 1] fused QKV weights and biases */
        void *q8_owned; /* int8 weights and their scales, all layers (NULL until asked for) */
} ss_minilm_weights_t;

typedef struct ss_minilm_scratch {
        int max_tokens; /* T: rows of every per-token buffer */
        float *x;       /* [T][D] residual stream */
        float *qkv;     /* [T][3D] queries, keys, values */
        float *ctx;     /* [T][D] attention output (heads concatenated) */
        float *tmp;     /* [T][D] projection output before residual + LayerNorm */
        float *ffn;     /* [T][F] feed-forward hidden */
        float *kt;      /* [nt_att][head_dim][S16] one head's keys, transposed (S16 = max_seq_len
                           rounded up to 16) */
        float *vh;      /* [nt_att][S16][head_dim] one head's values */
        float *att;     /* [nt_att][ATT_QB][S16] attention weights of up to ATT_QB queries */
        int nt_att;     /* threads the three above have room for (one set each) */
        int8_t *xq;     /* [T][max(D, F)] int8 activations of one linear layer's input */
        float *xscale;  /* [T] their per-row scales */
        /* tokenized batch, grown on demand */
        int32_t *ids; /* [ids_cap] packed ids of the batch */
        size_t ids_cap;
        size_t *off; /* [seq_cap] start of each text in ids */
        int *len;    /* [seq_cap] tokens of each text */
        size_t seq_cap;
} ss_minilm_scratch_t;

struct ss_minilm {
        ss_minilm_config_t cfg;
        ss_minilm_weights_t w;
        ss_minilm_scratch_t s;
        ss_wp_t *wp;
        int reference;                             /* 1: plain kernels instead of OpenBLAS */
        int int8;                                  /* 1: linear layers in int8 (q8 copies) */
        ss_q8gemm_isa_t q8_isa;                    /* the int8 kernel (the CPU's best SIMD) */
        int att_avx512;                            /* 1: attention_avx512 (head_dim 32, AVX-512) */
        int pool_layers[SS_MINILM_MAX_LAYERS + 1]; /* hidden states mean-pooled, in output order */
        int n_pool;
};

/* ---- kernels ---- */

void ss_minilm_matmul_ref(float *out, const float *x, const float *w, const float *b, int n,
                          int d_in, int d_out)
{
        for (int i = 0; i < n; i++) {
                for (int o = 0; o < d_out; o++) {
                        double acc = b ? b[o] : 0.0;
                        for (int k = 0; k < d_in; k++)
                                acc += (double)x[(size_t)i * d_in + k] * w[(size_t)o * d_in + k];
                        out[(size_t)i * d_out + o] = (float)acc;
                }
        }
}

void ss_minilm_matmul_blas(float *out, const float *x, const float *w, const float *b, int n,
                           int d_in, int d_out)
{
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d_out, d_in, 1.0f, x, d_in, w, d_in,
                    0.0f, out, d_out);
        if (!b)
                return;
        for (int i = 0; i < n; i++) {
                float *row = out + (size_t)i * d_out;
                for (int o = 0; o < d_out; o++)
                        row[o] += b[o];
        }
}

/* The row maximum runs in 16 lanes and the rounding is rintf (round half to even, as lrintf),
 * so both loops vectorize; the result is the same as the plain fmaxf / lrintf loop. */
SS_VECTOR_CLONES void ss_minilm_quantize_rows(int8_t *q, float *scale, const float *w, int rows,
                                              int cols)
{
        for (int o = 0; o < rows; o++) {
                const float *restrict row = w + (size_t)o * cols;
                float lane[16] = {0.0f};
                int k = 0;
                for (; k + 16 <= cols; k += 16)
                        for (int j = 0; j < 16; j++) {
                                float a = fabsf(row[k + j]);
                                lane[j] = a > lane[j] ? a : lane[j];
                        }
                float mx = 0.0f;
                for (; k < cols; k++)
                        mx = fmaxf(mx, fabsf(row[k]));
                for (int j = 0; j < 16; j++)
                        mx = fmaxf(mx, lane[j]);
                float s = mx > 0.0f ? mx / 127.0f : 1.0f, inv = 1.0f / s;
                int8_t *restrict qr = q + (size_t)o * cols;
                for (k = 0; k < cols; k++)
                        qr[k] = (int8_t)(int)rintf(row[k] * inv);
                scale[o] = s;
        }
}

void ss_minilm_matmul_q8_ref(float *out, const float *x, const int8_t *wq, const float *ws,
                             const float *b, int n, int d_in, int d_out, int8_t *xq, float *xs)
{
        ss_minilm_quantize_rows(xq, xs, x, n, d_in);
        for (int i = 0; i < n; i++) {
                for (int o = 0; o < d_out; o++) {
                        int32_t acc = 0;
                        for (int k = 0; k < d_in; k++)
                                acc += (int32_t)xq[(size_t)i * d_in + k] * wq[(size_t)o * d_in + k];
                        out[(size_t)i * d_out + o] = (float)acc * xs[i] * ws[o] + (b ? b[o] : 0.0f);
                }
        }
}

/* Four input rows against one weight row: 16-bit products summed into 32 bits, the pattern
 * the vectorizer turns into multiply-add instructions. */
SS_VECTOR_CLONES static void dot4_q8(int32_t *restrict acc, const int8_t *restrict x0,
                                     const int8_t *restrict x1, const int8_t *restrict x2,
                                     const int8_t *restrict x3, const int8_t *restrict w, int d)
{
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int k = 0; k < d; k++) {
                int16_t wk = w[k];
                a0 += (int16_t)x0[k] * wk;
                a1 += (int16_t)x1[k] * wk;
                a2 += (int16_t)x2[k] * wk;
                a3 += (int16_t)x3[k] * wk;
        }
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

void ss_minilm_matmul_q8(float *out, const float *x, const int8_t *wq, const float *ws,
                         const float *b, int n, int d_in, int d_out, int8_t *xq, float *xs)
{
        ss_minilm_quantize_rows(xq, xs, x, n, d_in);
        int i = 0;
        for (; i + 4 <= n; i += 4) {
                const int8_t *x0 = xq + (size_t)i * d_in;
                for (int o = 0; o < d_out; o++) {
                        int32_t acc[4];
                        dot4_q8(acc, x0, x0 + d_in, x0 + 2 * (size_t)d_in, x0 + 3 * (size_t)d_in,
                                wq + (size_t)o * d_in, d_in);
                        float bo = b ? b[o] : 0.0f;
                        for (int r = 0; r < 4; r++)
                                out[(size_t)(i + r) * d_out + o] =
                                    (float)acc[r] * xs[i + r] * ws[o] + bo;
                }
        }
        if (i < n)
                ss_minilm_matmul_q8_ref(out + (size_t)i * d_out, x + (size_t)i * d_in, wq, ws, b,
                                        n - i, d_in, d_out, xq + (size_t)i * d_in, xs + i);
}

/*
 * erf for float, the rational approximation of Eigen/XLA (clamped to [-4, 4],
 * beyond which erf is +-1 in float): a few ulp, branch-free, vectorizable.
 */
static inline float fast_erf(float x)
{
        x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
        float x2 = x * x;
        float p = -2.72614225801306e-10f;
        p = p * x2 + 2.77068142495902e-08f;
        p = p * x2 + -2.10102402082508e-06f;
        p = p * x2 + -5.69250639462346e-05f;
        p = p * x2 + -7.34990630326855e-04f;
        p = p * x2 + -2.95459980854025e-03f;
        p = p * x2 + -1.60960333262415e-02f;
        p = p * x;
        float q = -1.45660718464996e-05f;
        q = q * x2 + -2.13374055278905e-04f;
        q = q * x2 + -1.68282697438203e-03f;
        q = q * x2 + -7.37332916720468e-03f;
        q = q * x2 + -1.42647390514189e-02f;
        return p / q;
}

SS_VECTOR_CLONES void ss_minilm_bias_gelu(float *x, const float *b, int n, int d)
{
        for (int i = 0; i < n; i++) {
                float *row = x + (size_t)i * d;
                for (int j = 0; j < d; j++) {
                        float v = row[j] + b[j];
                        row[j] = 0.5f * v * (1.0f + fast_erf(v * 0.70710678118654752f));
                }
        }
}

void ss_minilm_bias_gelu_ref(float *x, const float *b, int n, int d)
{
        for (int i = 0; i < n; i++) {
                float *row = x + (size_t)i * d;
                for (int j = 0; j < d; j++) {
                        float v = row[j] + b[j];
                        row[j] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
                }
        }
}

/* x[i] = LayerNorm(x[i] + r[i]) * w + b over n rows of d (r may be NULL). */
SS_VECTOR_CLONES static void add_layernorm(float *x, const float *r, const float *w, const float *b,
                                           int n, int d, float eps)
{
        for (int i = 0; i < n; i++) {
                float *row = x + (size_t)i * d;
                if (r) {
                        const float *rr = r + (size_t)i * d;
                        for (int j = 0; j < d; j++)
                                row[j] += rr[j];
                }
                float mean = 0.0f;
                for (int j = 0; j < d; j++)
                        mean += row[j];
                mean /= (float)d;
                float var = 0.0f;
                for (int j = 0; j < d; j++) {
                        float c = row[j] - mean;
                        var += c * c;
                }
                var /= (float)d;
                float inv = 1.0f / sqrtf(var + eps);
                for (int j = 0; j < d; j++)
                        row[j] = (row[j] - mean) * inv * w[j] + b[j];
        }
}

/*
 * Attention of one text (its L rows of qkv, all heads) into ctx, plain loops:
 * out_i = sum_j softmax_j(q_i . k_j / sqrt(hd)) v_j.
 */
static void attention_ref(float *ctx, const float *qkv, int L, int D, int n_heads)
{
        int hd = D / n_heads;
        float scale = 1.0f / sqrtf((float)hd);
        double *p = malloc((size_t)L * sizeof(*p));
        if (!p)
                abort();
        for (int h = 0; h < n_heads; h++) {
                for (int i = 0; i < L; i++) {
                        const float *q = qkv + (size_t)i * 3 * D + h * hd;
                        double mx = -INFINITY, sum = 0;
                        for (int j = 0; j < L; j++) {
                                const float *k = qkv + (size_t)j * 3 * D + D + h * hd;
                                double s = 0;
                                for (int c = 0; c < hd; c++)
                                        s += (double)q[c] * k[c];
                                p[j] = s * scale;
                                mx = p[j] > mx ? p[j] : mx;
                        }
                        for (int j = 0; j < L; j++)
                                sum += (p[j] = exp(p[j] - mx));
                        for (int c = 0; c < hd; c++) {
                                double acc = 0;
                                for (int j = 0; j < L; j++)
                                        acc += p[j] * qkv[(size_t)j * 3 * D + 2 * D + h * hd + c];
                                ctx[(size_t)i * D + h * hd + c] = (float)(acc / sum);
                        }
                }
        }
        free(p);
}

/*
 * Same as attention_ref, laid out for the vectorizer: per head, the keys are
 * transposed into kt [hd][L] so each query's scores are one pass over
 * contiguous rows, and the values gathered into vh [L][hd].
 */
SS_VECTOR_CLONES static void attention_fast(float *restrict ctx, const float *restrict qkv, int L,
                                            int D, int n_heads, float *restrict kt,
                                            float *restrict vh, float *restrict att)
{
        int hd = D / n_heads;
        float scale = 1.0f / sqrtf((float)hd);
        for (int h = 0; h < n_heads; h++) {
                for (int j = 0; j < L; j++) {
                        const float *restrict k = qkv + (size_t)j * 3 * D + D + h * hd;
                        const float *restrict v = qkv + (size_t)j * 3 * D + 2 * D + h * hd;
                        for (int c = 0; c < hd; c++) {
                                kt[(size_t)c * L + j] = k[c] * scale;
                                vh[(size_t)j * hd + c] = v[c];
                        }
                }
                for (int i = 0; i < L; i++) {
                        const float *restrict q = qkv + (size_t)i * 3 * D + h * hd;
                        for (int j = 0; j < L; j++)
                                att[j] = 0.0f;
                        for (int c = 0; c < hd; c++) {
                                float qc = q[c];
                                const float *restrict kr = kt + (size_t)c * L;
                                for (int j = 0; j < L; j++)
                                        att[j] += qc * kr[j];
                        }
                        float mx = att[0];
                        for (int j = 1; j < L; j++)
                                mx = att[j] > mx ? att[j] : mx;
                        float sum = 0.0f;
                        for (int j = 0; j < L; j++) {
                                att[j] = expf(att[j] - mx);
                                sum += att[j];
                        }
                        float inv = 1.0f / sum;
                        float acc[SS_MINILM_MAX_HEAD_DIM];
                        for (int c = 0; c < hd; c++)
                                acc[c] = 0.0f;
                        for (int j = 0; j < L; j++) {
                                float pj = att[j] * inv;
                                const float *restrict v = vh + (size_t)j * hd;
                                for (int c = 0; c < hd; c++)
                                        acc[c] += pj * v[c];
                        }
                        float *restrict o = ctx + (size_t)i * D + h * hd;
                        for (int c = 0; c < hd; c++)
                                o[c] = acc[c];
                }
        }
}

/* Rows of the attention scratch: max_seq_len rounded up to a whole number of 16-float vectors. */
static size_t att_s16(const ss_minilm_config_t *c)
{
        return ((size_t)c->max_seq_len + 15) / 16 * 16;
}

#ifdef SS_MINILM_X86
#define AVX512_TARGET __attribute__((target("avx512f")))

/* e^x for x <= 0 (softmax after the maximum is subtracted), 16 lanes: Cephes' expf polynomial
 * on x - n ln 2, scaled by 2^n (vscalefps); within 2 ulp of expf, 0 below -87.3. */
AVX512_TARGET static inline __m512 exp512(__m512 x)
{
        x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
        __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
        r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
        __m512 p = _mm512_set1_ps(1.9875691500e-4f);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
        __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
        return _mm512_scalef_ps(y, n);
}

/*
 * attention_fast with AVX-512 intrinsics for head_dim 32 (a row of a head is two registers):
 * per head, keys transposed and scaled into kt [32][Lp] (Lp = L rounded up to 16, zeros after
 * L) and values into vh [L][32]; then queries in groups of ATT_QB. A group's scores for 16
 * keys at a time are 32 broadcast-multiply-adds into ATT_QB registers (no round trip through
 * memory per input), the softmax runs 16 keys at a time with exp512, and the weighted sum of
 * the values keeps 2 x ATT_QB accumulators over the keys, normalised once at the end.
 */
AVX512_TARGET static void attention_avx512(float *restrict ctx, const float *restrict qkv, int L,
                                           int D, int n_heads, float *restrict kt,
                                           float *restrict vh, float *restrict att)
{
        enum { HD = 32 };
        const int Lp = (L + 15) / 16 * 16, nb = Lp / 16;
        const __mmask16 last = (__mmask16)(L % 16 ? (1u << (L % 16)) - 1u : 0xffffu);
        const float scale = 1.0f / sqrtf((float)HD);
        const size_t D3 = 3 * (size_t)D;
        for (int h = 0; h < n_heads; h++) {
                for (int j = 0; j < L; j++) {
                        const float *k = qkv + (size_t)j * D3 + D + h * HD;
                        const float *v = qkv + (size_t)j * D3 + 2 * D + h * HD;
                        for (int c = 0; c < HD; c++)
                                kt[(size_t)c * Lp + j] = k[c] * scale;
                        memcpy(vh + (size_t)j * HD, v, HD * sizeof(float));
                }
                for (int c = 0; c < HD; c++) /* keys past L: their scores are masked anyway */
                        for (int j = L; j < Lp; j++)
                                kt[(size_t)c * Lp + j] = 0.0f;
                for (int i0 = 0; i0 < L; i0 += ATT_QB) {
                        const float *q[ATT_QB];
                        for (int u = 0; u < ATT_QB; u++)
                                q[u] = qkv + (size_t)(i0 + u < L ? i0 + u : L - 1) * D3 + h * HD;
                        /* scores, 16 keys at a time; masked lanes to -inf */
                        __m512 mx[ATT_QB];
                        for (int u = 0; u < ATT_QB; u++)
                                mx[u] = _mm512_set1_ps(-INFINITY);
                        for (int b = 0; b < nb; b++) {
                                __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
                                const float *kc = kt + (size_t)b * 16;
                                for (int c = 0; c < HD; c++) {
                                        __m512 k = _mm512_loadu_ps(kc + (size_t)c * Lp);
                                        s0 = _mm512_fmadd_ps(_mm512_set1_ps(q[0][c]), k, s0);
                                        s1 = _mm512_fmadd_ps(_mm512_set1_ps(q[1][c]), k, s1);
                                        s2 = _mm512_fmadd_ps(_mm512_set1_ps(q[2][c]), k, s2);
                                        s3 = _mm512_fmadd_ps(_mm512_set1_ps(q[3][c]), k, s3);
                                }
                                __m512 sv[ATT_QB] = {s0, s1, s2, s3};
                                __mmask16 m = b == nb - 1 ? last : 0xffffu;
                                for (int u = 0; u < ATT_QB; u++) {
                                        __m512 sm =
                                            _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), m, sv[u]);
                                        mx[u] = _mm512_max_ps(mx[u], sm);
                                        _mm512_storeu_ps(att + (size_t)u * Lp + b * 16, sm);
                                }
                        }
                        /* softmax numerators and their sums */
                        float inv[ATT_QB];
                        for (int u = 0; u < ATT_QB; u++) {
                                __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx[u]));
                                __m512 sum = _mm512_setzero_ps();
                                float *a = att + (size_t)u * Lp;
                                for (int b = 0; b < nb; b++) {
                                        __mmask16 valid = b == nb - 1 ? last : 0xffffu;
                                        __m512 e = _mm512_maskz_mov_ps(
                                            valid,
                                            exp512(_mm512_sub_ps(_mm512_loadu_ps(a + b * 16), m)));
                                        _mm512_storeu_ps(a + b * 16, e);
                                        sum = _mm512_add_ps(sum, e);
                                }
                                inv[u] = 1.0f / _mm512_reduce_add_ps(sum);
                        }
                        /* weighted sum of the values */
                        __m512 o00 = _mm512_setzero_ps(), o01 = o00, o10 = o00, o11 = o00;
                        __m512 o20 = o00, o21 = o00, o30 = o00, o31 = o00;
                        for (int j = 0; j < L; j++) {
                                __m512 v0 = _mm512_loadu_ps(vh + (size_t)j * HD);
                                __m512 v1 = _mm512_loadu_ps(vh + (size_t)j * HD + 16);
                                __m512 p0 = _mm512_set1_ps(att[j]);
                                __m512 p1 = _mm512_set1_ps(att[(size_t)Lp + j]);
                                __m512 p2 = _mm512_set1_ps(att[2 * (size_t)Lp + j]);
                                __m512 p3 = _mm512_set1_ps(att[3 * (size_t)Lp + j]);
                                o00 = _mm512_fmadd_ps(p0, v0, o00);
                                o01 = _mm512_fmadd_ps(p0, v1, o01);
                                o10 = _mm512_fmadd_ps(p1, v0, o10);
                                o11 = _mm512_fmadd_ps(p1, v1, o11);
                                o20 = _mm512_fmadd_ps(p2, v0, o20);
                                o21 = _mm512_fmadd_ps(p2, v1, o21);
                                o30 = _mm512_fmadd_ps(p3, v0, o30);
                                o31 = _mm512_fmadd_ps(p3, v1, o31);
                        }
                        __m512 ov[ATT_QB][2] = {{o00, o01}, {o10, o11}, {o20, o21}, {o30, o31}};
                        for (int u = 0; u < ATT_QB && i0 + u < L; u++) {
                                float *o = ctx + (size_t)(i0 + u) * D + h * HD;
                                __m512 iv = _mm512_set1_ps(inv[u]);
                                _mm512_storeu_ps(o, _mm512_mul_ps(ov[u][0], iv));
                                _mm512_storeu_ps(o + 16, _mm512_mul_ps(ov[u][1], iv));
                        }
                }
        }
}
#endif

/* ---- forward pass ---- */

/* Rows [r0, r1) of an int8 product with the SIMD kernel: quantise them, multiply. */
typedef struct q8_slice {
        const ss_minilm_t *e;
        float *out;     /* [n][d_out] the whole output */
        const float *x; /* [n][d_in] the whole input */
        const ss_minilm_q8_t *q;
        const float *b;
        int r0, r1, d_in, d_out;
} q8_slice_t;

static void *q8_slice_run(void *arg)
{
        const q8_slice_t *t = arg;
        int8_t *xq = t->e->s.xq + (size_t)t->r0 * t->d_in;
        float *xs = t->e->s.xscale + t->r0;
        ss_minilm_quantize_rows(xq, xs, t->x + (size_t)t->r0 * t->d_in, t->r1 - t->r0, t->d_in);
        ss_q8gemm_matmul(t->out + (size_t)t->r0 * t->d_out, xq, xs, t->q->pk, t->q->scale, t->b,
                         t->r1 - t->r0, t->e->q8_isa);
        return NULL;
}

/*
 * Runs fn on args[0..nt-1] (each arg_size bytes): args[0] on the calling thread, the others on
 * threads of their own, and returns when all are done; a thread that cannot be had is run here.
 */
static void par_run(void *(*fn)(void *), void *args, size_t arg_size, int nt)
{
        pthread_t th[SS_MINILM_Q8_MAX_THREADS];
        int started[SS_MINILM_Q8_MAX_THREADS] = {0};
        char *a = args;
        for (int t = 1; t < nt; t++)
                started[t] = pthread_create(&th[t], NULL, fn, a + (size_t)t * arg_size) == 0;
        fn(a);
        for (int t = 1; t < nt; t++) {
                if (started[t])
                        pthread_join(th[t], NULL);
                else
                        fn(a + (size_t)t * arg_size);
        }
}

/* Threads for n rows: as many as OpenBLAS uses for sgemm, each with at least min_rows rows. */
static int par_threads(int n, int min_rows)
{
        int nt = openblas_get_num_threads();
        nt = nt < 1 ? 1 : nt > SS_MINILM_Q8_MAX_THREADS ? SS_MINILM_Q8_MAX_THREADS : nt;
        while (nt > 1 && n / nt < min_rows)
                nt--;
        return nt;
}

/* The int8 product on par_threads() threads, each a block of rows. Rows are independent, so
 * the result does not depend on the split. */
static void matmul_q8_threads(const ss_minilm_t *e, float *out, const float *x,
                              const ss_minilm_q8_t *q, const float *b, int n, int d_in, int d_out)
{
        int nt = par_threads(n, SS_MINILM_Q8_MIN_ROWS);
        q8_slice_t sl[SS_MINILM_Q8_MAX_THREADS];
        for (int t = 0; t < nt; t++)
                sl[t] = (q8_slice_t){
                    e,    out,  x, q, b, (int)((long)n * t / nt), (int)((long)n * (t + 1) / nt),
                    d_in, d_out};
        par_run(q8_slice_run, sl, sizeof(sl[0]), nt);
}

/* One thread's share of the element-wise steps: rows [r0, r1), or for attention the texts
 * [s0, s1) whose rows start at r0. */
typedef struct row_slice {
        ss_minilm_t *e;
        const ss_minilm_layer_t *l;
        enum { STEP_ATTENTION, STEP_LN1, STEP_GELU, STEP_LN2 } step;
        const int *len; /* [nseq] tokens of each text (attention) */
        size_t s0, s1;
        int r0, r1, t; /* t: the attention scratch set of this thread */
} row_slice_t;

static void *row_slice_run(void *arg)
{
        const row_slice_t *a = arg;
        ss_minilm_t *e = a->e;
        const ss_minilm_config_t *c = &e->cfg;
        const ss_minilm_layer_t *l = a->l;
        int D = c->dim, n = a->r1 - a->r0;
        size_t r0 = (size_t)a->r0, S = att_s16(c), hd = (size_t)c->head_dim;
        switch (a->step) {
        case STEP_ATTENTION: {
                float *kt = e->s.kt + (size_t)a->t * hd * S, *vh = e->s.vh + (size_t)a->t * S * hd;
                float *att = e->s.att + (size_t)a->t * ATT_QB * S;
                size_t r = r0;
                for (size_t s = a->s0; s < a->s1; s++) {
#ifdef SS_MINILM_X86
                        if (e->att_avx512)
                                attention_avx512(e->s.ctx + r * D, e->s.qkv + r * 3 * D, a->len[s],
                                                 D, c->n_heads, kt, vh, att);
                        else
#endif
                                attention_fast(e->s.ctx + r * D, e->s.qkv + r * 3 * D, a->len[s], D,
                                               c->n_heads, kt, vh, att);
                        r += (size_t)a->len[s];
                }
                break;
        }
        case STEP_LN1:
                add_layernorm(e->s.x + r0 * D, e->s.tmp + r0 * D, l->ln1_w, l->ln1_b, n, D,
                              c->ln_eps);
                break;
        case STEP_GELU:
                ss_minilm_bias_gelu(e->s.ffn + r0 * c->ffn_dim, l->b1, n, c->ffn_dim);
                break;
        case STEP_LN2:
                add_layernorm(e->s.x + r0 * D, e->s.tmp + r0 * D, l->ln2_w, l->ln2_b, n, D,
                              c->ln_eps);
                break;
        }
        return NULL;
}

/* Room for nt sets of attention scratch (grown once; on no memory, fewer threads). */
static int attention_scratch(ss_minilm_t *e, int nt)
{
        ss_minilm_scratch_t *s = &e->s;
        if (nt <= s->nt_att)
                return nt;
        size_t S = att_s16(&e->cfg), hd = (size_t)e->cfg.head_dim;
        float *kt = realloc(s->kt, (size_t)nt * hd * S * sizeof(float));
        if (kt)
                s->kt = kt;
        float *vh = kt ? realloc(s->vh, (size_t)nt * S * hd * sizeof(float)) : NULL;
        if (vh)
                s->vh = vh;
        float *att = vh ? realloc(s->att, (size_t)nt * ATT_QB * S * sizeof(float)) : NULL;
        if (!att)
                return s->nt_att;
        s->att = att;
        s->nt_att = nt;
        return nt;
}

/*
 * An element-wise step over the n rows of the chunk on par_threads() threads: attention split
 * between texts (each thread its texts, about n / nt rows), the others between rows. Every row
 * (every text) is computed as on one thread, so the result does not depend on the split.
 */
static void rows_run(ss_minilm_t *e, const ss_minilm_layer_t *l, int step, const int *len,
                     size_t nseq, int n)
{
        int nt = par_threads(n, SS_MINILM_PAR_MIN_ROWS);
        if (step == STEP_ATTENTION)
                nt = attention_scratch(e, nt);
        row_slice_t sl[SS_MINILM_Q8_MAX_THREADS];
        size_t s = 0;
        int r = 0;
        for (int t = 0; t < nt; t++) {
                sl[t] = (row_slice_t){e, l, step, len, 0, 0, 0, 0, t};
                if (step == STEP_ATTENTION) {
                        /* texts until the thread's share of rows is reached; the last takes
                         * the rest */
                        long want = (long)n * (t + 1) / nt;
                        sl[t].s0 = s;
                        sl[t].r0 = r;
                        while (s < nseq && (t == nt - 1 || r < want))
                                r += len[s++];
                        sl[t].s1 = s;
                        sl[t].r1 = r;
                } else {
                        sl[t].r0 = (int)((long)n * t / nt);
                        sl[t].r1 = (int)((long)n * (t + 1) / nt);
                }
        }
        par_run(row_slice_run, sl, sizeof(sl[0]), nt);
}

static void matmul(const ss_minilm_t *e, float *out, const float *x, const float *w,
                   const ss_minilm_q8_t *q, const float *b, int n, int d_in, int d_out)
{
        if (e->int8 && e->reference)
                ss_minilm_matmul_q8_ref(out, x, q->q, q->scale, b, n, d_in, d_out, e->s.xq,
                                        e->s.xscale);
        else if (e->int8 && e->q8_isa != SS_Q8GEMM_PLAIN)
                matmul_q8_threads(e, out, x, q, b, n, d_in, d_out);
        else if (e->int8)
                ss_minilm_matmul_q8(out, x, q->q, q->scale, b, n, d_in, d_out, e->s.xq,
                                    e->s.xscale);
        else if (e->reference)
                ss_minilm_matmul_ref(out, x, w, b, n, d_in, d_out);
        else
                ss_minilm_matmul_blas(out, x, w, b, n, d_in, d_out);
}

/* x[r] = LayerNorm(word[id] + pos[p] + type[0]) for the n rows of the chunk. */
static void embed_tokens(ss_minilm_t *e, const int32_t *ids, const int *len, size_t nseq)
{
        const ss_minilm_config_t *c = &e->cfg;
        int D = c->dim;
        size_t r = 0;
        for (size_t s = 0; s < nseq; s++) {
                for (int p = 0; p < len[s]; p++, r++) {
                        float *row = e->s.x + r * D;
                        const float *we = e->w.word + (size_t)ids[r] * D;
                        const float *pe = e->w.pos + (size_t)p * D;
                        for (int j = 0; j < D; j++)
                                row[j] = we[j] + pe[j] + e->w.type[j];
                }
        }
        add_layernorm(e->s.x, NULL, e->w.emb_ln_w, e->w.emb_ln_b, (int)r, D, c->ln_eps);
}

static void attention_block(ss_minilm_t *e, const ss_minilm_layer_t *l, const int *len, size_t nseq,
                            int n)
{
        const ss_minilm_config_t *c = &e->cfg;
        int D = c->dim;
        matmul(e, e->s.qkv, e->s.x, l->wqkv, &l->q_qkv, l->bqkv, n, D, 3 * D);
        if (e->reference) {
                size_t r = 0;
                for (size_t s = 0; s < nseq; s++) {
                        attention_ref(e->s.ctx + r * D, e->s.qkv + r * 3 * D, len[s], D,
                                      c->n_heads);
                        r += (size_t)len[s];
                }
        } else {
                rows_run(e, l, STEP_ATTENTION, len, nseq, n);
        }
        matmul(e, e->s.tmp, e->s.ctx, l->wo, &l->q_o, l->bo, n, D, D);
        if (e->reference)
                add_layernorm(e->s.x, e->s.tmp, l->ln1_w, l->ln1_b, n, D, c->ln_eps);
        else
                rows_run(e, l, STEP_LN1, NULL, 0, n);
}

static void ffn_block(ss_minilm_t *e, const ss_minilm_layer_t *l, int n)
{
        const ss_minilm_config_t *c = &e->cfg;
        int D = c->dim, F = c->ffn_dim;
        matmul(e, e->s.ffn, e->s.x, l->w1, &l->q_ff1, NULL, n, D, F);
        if (e->reference)
                ss_minilm_bias_gelu_ref(e->s.ffn, l->b1, n, F);
        else
                rows_run(e, l, STEP_GELU, NULL, 0, n);
        matmul(e, e->s.tmp, e->s.ffn, l->w2, &l->q_ff2, l->b2, n, F, D);
        if (e->reference)
                add_layernorm(e->s.x, e->s.tmp, l->ln2_w, l->ln2_b, n, D, c->ln_eps);
        else
                rows_run(e, l, STEP_LN2, NULL, 0, n);
}

/* pooled[s * stride ..] = mean of the text's rows of x. */
static void mean_pool(const ss_minilm_t *e, const int *len, size_t nseq, float *pooled,
                      size_t stride)
{
        int D = e->cfg.dim;
        size_t r = 0;
        for (size_t s = 0; s < nseq; s++) {
                float *out = pooled + s * stride;
                for (int j = 0; j < D; j++)
                        out[j] = 0.0f;
                for (int p = 0; p < len[s]; p++, r++) {
                        const float *row = e->s.x + r * D;
                        for (int j = 0; j < D; j++)
                                out[j] += row[j];
                }
                float inv = 1.0f / (float)len[s];
                for (int j = 0; j < D; j++)
                        out[j] *= inv;
        }
}

/* Mean-pools hidden state `layer` (0 = embeddings) into its block(s) of the output rows. */
static void pool_layer(const ss_minilm_t *e, int layer, const int *len, size_t nseq, float *pooled)
{
        size_t D = (size_t)e->cfg.dim, stride = (size_t)e->n_pool * D;
        for (int k = 0; k < e->n_pool; k++)
                if (e->pool_layers[k] == layer)
                        mean_pool(e, len, nseq, pooled + (size_t)k * D, stride);
}

/* One chunk: nseq texts, packed ids, n = sum of len rows (<= max_tokens). */
static void forward_chunk(ss_minilm_t *e, const int32_t *ids, const int *len, size_t nseq, int n,
                          float *pooled)
{
        embed_tokens(e, ids, len, nseq);
        pool_layer(e, 0, len, nseq, pooled);
        for (int li = 0; li < e->cfg.n_layers; li++) {
                attention_block(e, &e->w.layer[li], len, nseq, n);
                ffn_block(e, &e->w.layer[li], n);
                pool_layer(e, li + 1, len, nseq, pooled);
        }
}

ss_err_t ss_minilm_forward(ss_minilm_t *e, const int32_t *ids, const size_t *off, const int *len,
                           size_t n, float *pooled_out, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &e->cfg;
        for (size_t s = 0; s < n; s++) {
                if (len[s] < 1 || len[s] > c->max_seq_len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm: text %zu has %d tokens (1..%d allowed)", s,
                                          len[s], c->max_seq_len);
                for (int p = 0; p < len[s]; p++) {
                        int32_t id = ids[off[s] + p];
                        if (id < 0 || id >= c->vocab_size)
                                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                                  "minilm: text %zu token %d: id %d outside the "
                                                  "vocabulary (%d)",
                                                  s, p, id, c->vocab_size);
                }
        }
        /* chunks of whole texts, at most max_tokens rows; rows are copied contiguous if the
         * caller's texts are not adjacent */
        size_t s0 = 0;
        while (s0 < n) {
                size_t s1 = s0;
                int rows = 0;
                int contiguous = 1;
                while (s1 < n && rows + len[s1] <= e->s.max_tokens) {
                        if (s1 > s0 && off[s1] != off[s1 - 1] + (size_t)len[s1 - 1])
                                contiguous = 0;
                        rows += len[s1++];
                }
                const int32_t *cids = ids + off[s0];
                if (!contiguous) {
                        if (e->s.ids_cap < (size_t)rows)
                                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                                  "minilm: texts are not packed");
                        size_t r = 0;
                        for (size_t s = s0; s < s1; s++)
                                for (int p = 0; p < len[s]; p++)
                                        e->s.ids[r++] = ids[off[s] + p];
                        cids = e->s.ids;
                }
                forward_chunk(e, cids, len + s0, s1 - s0, rows,
                              pooled_out + s0 * (size_t)e->n_pool * c->dim);
                s0 = s1;
        }
        return SS_OK;
}

ss_err_t ss_minilm_embed(ss_minilm_t *e, const char *const *texts, const size_t *lens, size_t n,
                         int normalize, float *pooled_out, ss_input_stats_t *stats_out,
                         char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &e->cfg;
        ss_minilm_scratch_t *s = &e->s;
        if (n > s->seq_cap) {
                size_t *off = realloc(s->off, n * sizeof(*off));
                if (off)
                        s->off = off;
                int *len = realloc(s->len, n * sizeof(*len));
                if (len)
                        s->len = len;
                if (!off || !len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory for %zu texts", n);
                s->seq_cap = n;
        }
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
                if (ss_array_grow((void **)&s->ids, &s->ids_cap, total + (size_t)c->max_seq_len,
                                  sizeof(*s->ids), 256))
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory tokenizing");
                ss_wp_stats_t st;
                int k = ss_wp_encode(e->wp, texts[i], lens[i], s->ids + total, c->max_seq_len, &st);
                if (k < 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory tokenizing text %zu", i);
                s->off[i] = total;
                s->len[i] = k;
                total += (size_t)k;
                if (stats_out) {
                        memset(&stats_out[i], 0, sizeof(stats_out[i]));
                        stats_out[i].n_tokens = st.n_pieces;
                        stats_out[i].unk_share =
                            st.n_pieces ? (float)st.n_unk / (float)st.n_pieces : 0.0f;
                }
        }
        ss_err_t err =
            ss_minilm_forward(e, s->ids, s->off, s->len, n, pooled_out, errstr, errstr_size);
        if (err != SS_OK || !normalize)
                return err;
        for (size_t i = 0; i < n * (size_t)e->n_pool; i++) {
                float *v = pooled_out + i * c->dim;
                double ss = 0;
                for (int j = 0; j < c->dim; j++)
                        ss += (double)v[j] * v[j];
                float inv = 1.0f / fmaxf((float)sqrt(ss), 1e-12f);
                for (int j = 0; j < c->dim; j++)
                        v[j] *= inv;
        }
        return SS_OK;
}

/* ---- loading ---- */

static int json_int(const cJSON *o, const char *key, int *out, int lo, int hi)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
            v->valuedouble != (double)(int)v->valuedouble)
                return -1;
        *out = (int)v->valuedouble;
        return 0;
}

static ss_err_t config_parse(const ss_mfile_t *mf, ss_minilm_config_t *c, char *errstr,
                             size_t errstr_size)
{
        uint64_t n;
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        const char *txt = ss_mfile_get(mf, "config", SS_MF_STR, 0, &n, errstr, errstr_size);
        if (!txt)
                return SS_ERR_FORMAT;
        cJSON *o = cJSON_ParseWithLength(txt, n);
        if (!o)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: section config is not JSON", what);
        const char *bad = NULL;
        if (json_int(o, "dim", &c->dim, 8, 8192))
                bad = "dim";
        else if (json_int(o, "n_layers", &c->n_layers, 1, SS_MINILM_MAX_LAYERS))
                bad = "n_layers";
        else if (json_int(o, "n_heads", &c->n_heads, 1, 256) || c->dim % c->n_heads ||
                 c->dim / c->n_heads > SS_MINILM_MAX_HEAD_DIM)
                bad = "n_heads";
        else if (json_int(o, "ffn_dim", &c->ffn_dim, 8, 65536))
                bad = "ffn_dim";
        else if (json_int(o, "vocab_size", &c->vocab_size, 8, 10000000))
                bad = "vocab_size";
        else if (json_int(o, "max_pos", &c->max_pos, 2, 65536))
                bad = "max_pos";
        else if (json_int(o, "type_vocab", &c->type_vocab, 1, 16))
                bad = "type_vocab";
        else if (json_int(o, "max_seq_len", &c->max_seq_len, 2, c->max_pos))
                bad = "max_seq_len";
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "ln_eps");
        if (!bad && (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1)))
                bad = "ln_eps";
        const cJSON *pool = cJSON_GetObjectItemCaseSensitive(o, "pooling");
        if (!bad && (!cJSON_IsString(pool) || strcmp(pool->valuestring, "mean")))
                bad = "pooling (only \"mean\")";
        if (!bad) {
                c->ln_eps = (float)eps->valuedouble;
                c->head_dim = c->dim / c->n_heads;
        }
        cJSON_Delete(o);
        if (bad)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: section config: missing or bad \"%s\"", what, bad);
        return SS_OK;
}

static const float *get_f32(const ss_mfile_t *mf, const char *name, uint64_t count, char *errstr,
                            size_t errstr_size)
{
        uint64_t n;
        return ss_mfile_get(mf, name, SS_MF_F32, count, &n, errstr, errstr_size);
}

static ss_err_t weights_load(ss_minilm_t *e, const ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &e->cfg;
        ss_minilm_weights_t *w = &e->w;
        uint64_t D = (uint64_t)c->dim, F = (uint64_t)c->ffn_dim;
        if (!(w->word =
                  get_f32(mf, "emb.word", (uint64_t)c->vocab_size * D, errstr, errstr_size)) ||
            !(w->pos = get_f32(mf, "emb.pos", (uint64_t)c->max_pos * D, errstr, errstr_size)) ||
            !(w->type =
                  get_f32(mf, "emb.type", (uint64_t)c->type_vocab * D, errstr, errstr_size)) ||
            !(w->emb_ln_w = get_f32(mf, "emb.ln.w", D, errstr, errstr_size)) ||
            !(w->emb_ln_b = get_f32(mf, "emb.ln.b", D, errstr, errstr_size)))
                return SS_ERR_FORMAT;
        w->owned = malloc((size_t)c->n_layers * 3 * D * (D + 1) * sizeof(float));
        if (!w->owned)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
        for (int i = 0; i < c->n_layers; i++) {
                ss_minilm_layer_t *l = &w->layer[i];
                char nm[SS_MFILE_SECNAME_MAX];
#define SEC(field, suffix, count)                                                                  \
        do {                                                                                       \
                snprintf(nm, sizeof(nm), "L%d.%s", i, suffix);                                     \
                if (!(l->field = get_f32(mf, nm, (count), errstr, errstr_size)))                   \
                        return SS_ERR_FORMAT;                                                      \
        } while (0)
                SEC(wo, "ao.w", D * D);
                SEC(bo, "ao.b", D);
                SEC(ln1_w, "ln1.w", D);
                SEC(ln1_b, "ln1.b", D);
                SEC(w1, "ff1.w", F * D);
                SEC(b1, "ff1.b", F);
                SEC(w2, "ff2.w", D * F);
                SEC(b2, "ff2.b", D);
                SEC(ln2_w, "ln2.w", D);
                SEC(ln2_b, "ln2.b", D);
#undef SEC
                l->wqkv = w->owned + (size_t)i * 3 * D * (D + 1);
                l->bqkv = l->wqkv + 3 * D * D;
                static const char *const qkv[3] = {"q", "k", "v"};
                for (int k = 0; k < 3; k++) {
                        const float *pw, *pb;
                        snprintf(nm, sizeof(nm), "L%d.%s.w", i, qkv[k]);
                        if (!(pw = get_f32(mf, nm, D * D, errstr, errstr_size)))
                                return SS_ERR_FORMAT;
                        snprintf(nm, sizeof(nm), "L%d.%s.b", i, qkv[k]);
                        if (!(pb = get_f32(mf, nm, D, errstr, errstr_size)))
                                return SS_ERR_FORMAT;
                        memcpy(l->wqkv + (size_t)k * D * D, pw, D * D * sizeof(float));
                        memcpy(l->bqkv + (size_t)k * D, pb, D * sizeof(float));
                }
        }
        return SS_OK;
}

static ss_err_t scratch_alloc(ss_minilm_t *e, int max_tokens, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &e->cfg;
        ss_minilm_scratch_t *s = &e->s;
        if (max_tokens <= 0)
                max_tokens = SS_MINILM_DEFAULT_TOKENS;
        if (max_tokens < c->max_seq_len)
                max_tokens = c->max_seq_len;
        size_t T = (size_t)max_tokens, D = (size_t)c->dim;
        s->max_tokens = max_tokens;
        s->x = malloc(T * D * sizeof(float));
        s->qkv = malloc(T * 3 * D * sizeof(float));
        s->ctx = malloc(T * D * sizeof(float));
        s->tmp = malloc(T * D * sizeof(float));
        s->ffn = malloc(T * (size_t)c->ffn_dim * sizeof(float));
        s->nt_att = 0;
        attention_scratch(e, 1);
        s->xq = malloc(T * (size_t)(c->ffn_dim > c->dim ? c->ffn_dim : c->dim));
        s->xscale = malloc(T * sizeof(float));
        if (!s->xq || !s->xscale || !s->x || !s->qkv || !s->ctx || !s->tmp || !s->ffn || !s->kt ||
            !s->vh || !s->att)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "minilm: out of memory for scratch of %d tokens", max_tokens);
        return SS_OK;
}

ss_minilm_t *ss_minilm_new(const ss_mfile_t *mf, int max_tokens, char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        ss_minilm_t *e = calloc(1, sizeof(*e));
        if (!e) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
                return NULL;
        }
        if (config_parse(mf, &e->cfg, errstr, errstr_size) != SS_OK)
                goto fail;
        uint64_t vn;
        const char *vocab = ss_mfile_get(mf, "vocab", SS_MF_STR, 0, &vn, errstr, errstr_size);
        if (!vocab)
                goto fail;
        char err2[256];
        e->wp = ss_wp_new(vocab, vn, err2, sizeof(err2));
        if (!e->wp) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: section vocab: %s", what, err2);
                goto fail;
        }
        if (ss_wp_vocab_size(e->wp) != e->cfg.vocab_size) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section vocab has %d tokens, config says %d", what,
                           ss_wp_vocab_size(e->wp), e->cfg.vocab_size);
                goto fail;
        }
        e->pool_layers[0] = e->cfg.n_layers;
        e->n_pool = 1;
        ss_minilm_set_simd(e, 1);
        if (weights_load(e, mf, errstr, errstr_size) != SS_OK ||
            scratch_alloc(e, max_tokens, errstr, errstr_size) != SS_OK)
                goto fail;
        return e;
fail:
        ss_minilm_destroy(e);
        return NULL;
}

static void q8_free(ss_minilm_t *e);

void ss_minilm_destroy(ss_minilm_t *e)
{
        if (!e)
                return;
        ss_wp_destroy(e->wp);
        free(e->w.owned);
        free(e->s.x);
        free(e->s.qkv);
        free(e->s.ctx);
        free(e->s.tmp);
        free(e->s.ffn);
        free(e->s.kt);
        free(e->s.vh);
        free(e->s.att);
        free(e->s.xq);
        free(e->s.xscale);
        q8_free(e);
        free(e->s.ids);
        free(e->s.off);
        free(e->s.len);
        free(e);
}

const ss_minilm_config_t *ss_minilm_config(const ss_minilm_t *e)
{
        return &e->cfg;
}

ss_wp_t *ss_minilm_wordpiece(ss_minilm_t *e)
{
        return e->wp;
}

int ss_minilm_set_simd(ss_minilm_t *e, int on)
{
        e->att_avx512 = 0;
#ifdef SS_MINILM_X86
        e->att_avx512 = on && e->cfg.head_dim == 32 && __builtin_cpu_supports("avx512f");
#else
        (void)on;
#endif
        return e->att_avx512;
}

void ss_minilm_set_reference(ss_minilm_t *e, int on)
{
        e->reference = on;
}

static int q8_take(ss_minilm_q8_t *q, char **p, const float *w, int rows, int cols)
{
        q->scale = (float *)*p;
        *p += ((size_t)rows * sizeof(float) + 63) & ~(size_t)63;
        q->q = (int8_t *)*p;
        *p += ((size_t)rows * cols + 63) & ~(size_t)63;
        ss_minilm_quantize_rows(q->q, q->scale, w, rows, cols);
        q->pk = ss_q8gemm_pack_new(q->q, rows, cols, NULL, 0);
        return q->pk != NULL;
}

static void q8_free(ss_minilm_t *e)
{
        if (!e->w.q8_owned)
                return;
        for (int i = 0; i < e->cfg.n_layers; i++) {
                ss_minilm_layer_t *l = &e->w.layer[i];
                ss_q8gemm_pack_destroy(l->q_qkv.pk);
                ss_q8gemm_pack_destroy(l->q_o.pk);
                ss_q8gemm_pack_destroy(l->q_ff1.pk);
                ss_q8gemm_pack_destroy(l->q_ff2.pk);
                l->q_qkv.pk = l->q_o.pk = l->q_ff1.pk = l->q_ff2.pk = NULL;
        }
        free(e->w.q8_owned);
        e->w.q8_owned = NULL;
}

ss_err_t ss_minilm_set_int8(ss_minilm_t *e, int on, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &e->cfg;
        if (on && !e->w.q8_owned) {
                size_t D = (size_t)c->dim, F = (size_t)c->ffn_dim;
                size_t per = 4 * D * D + 2 * D * F + (4 * D + F + 8 * 64) * sizeof(float) + 8 * 64;
                char *p = malloc(per * (size_t)c->n_layers);
                if (!p)
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory for the int8 weights");
                e->w.q8_owned = p;
                int ok = 1;
                for (int i = 0; i < c->n_layers; i++) {
                        ss_minilm_layer_t *l = &e->w.layer[i];
                        ok &= q8_take(&l->q_qkv, &p, l->wqkv, 3 * c->dim, c->dim);
                        ok &= q8_take(&l->q_o, &p, l->wo, c->dim, c->dim);
                        ok &= q8_take(&l->q_ff1, &p, l->w1, c->ffn_dim, c->dim);
                        ok &= q8_take(&l->q_ff2, &p, l->w2, c->dim, c->ffn_dim);
                }
                if (!ok) {
                        q8_free(e);
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory packing the int8 weights");
                }
        }
        e->int8 = on != 0;
        e->q8_isa = ss_q8gemm_isa_best();
        return SS_OK;
}

ss_err_t ss_minilm_set_pool_layers(ss_minilm_t *e, const int *layers, int n, char *errstr,
                                   size_t errstr_size)
{
        if (n < 1 || n > SS_MINILM_MAX_LAYERS + 1)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm: %d pooled layers (1..%d allowed)", n,
                                  SS_MINILM_MAX_LAYERS + 1);
        for (int k = 0; k < n; k++)
                if (layers[k] < 0 || layers[k] > e->cfg.n_layers)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm: pooled layer %d outside 0..%d", layers[k],
                                          e->cfg.n_layers);
        memcpy(e->pool_layers, layers, (size_t)n * sizeof(*layers));
        e->n_pool = n;
        return SS_OK;
}

int ss_minilm_embed_dim(const ss_minilm_t *e)
{
        return e->n_pool * e->cfg.dim;
}

int ss_minilm_pool_layers(const ss_minilm_t *e, int *layers)
{
        memcpy(layers, e->pool_layers, (size_t)e->n_pool * sizeof(*layers));
        return e->n_pool;
}

void ss_minilm_pool_layers_str(const ss_minilm_t *e, char *buf, size_t size)
{
        size_t used = 0;
        buf[0] = '\0';
        for (int k = 0; k < e->n_pool && used < size; k++)
                used += (size_t)snprintf(buf + used, size - used, "%s%d", k ? "-" : "",
                                         e->pool_layers[k]);
}

/* ---- the softmax-regression head (inference; minilm_train.c fits it) ---- */

void ss_minilm_head_apply(const float *X, size_t n, int D, const float *W, const float *b,
                          float *probs)
{
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, SS_NUM_CLASSES, D, 1.0f, X, D,
                    W, D, 0.0f, probs, SS_NUM_CLASSES);
        for (size_t i = 0; i < n; i++) {
                float *p = probs + i * SS_NUM_CLASSES;
                float mx = -INFINITY, sum = 0;
                for (int k = 0; k < SS_NUM_CLASSES; k++) {
                        p[k] += b[k];
                        mx = p[k] > mx ? p[k] : mx;
                }
                for (int k = 0; k < SS_NUM_CLASSES; k++)
                        sum += (p[k] = expf(p[k] - mx));
                for (int k = 0; k < SS_NUM_CLASSES; k++)
                        p[k] /= sum;
        }
}

/* ---- the `minilm` model kind: encoder + softmax-regression head ---- */

typedef struct minilm_model {
        ss_minilm_t *enc;
        const float *head_w; /* [3][E] */
        const float *head_b; /* [3] */
        int normalize;       /* head.config "normalize": the head sees L2-normalised embeddings */
        float *emb;          /* [emb_cap][E] embeddings of the batch, E = ss_minilm_embed_dim */
        size_t emb_cap;
        ss_tok_buf_t tb; /* tweet tokenizer, for the has_url/mention/emoji flags */
} minilm_model_t;

static void minilm_kind_destroy(void *impl)
{
        minilm_model_t *m = impl;
        if (!m)
                return;
        ss_minilm_destroy(m->enc);
        free(m->emb);
        ss_tok_buf_free(&m->tb);
        free(m);
}

/* head.config's "pool_layers" (absent: the last layer only) and "normalize" (absent: true). */
static ss_err_t pool_layers_from_head(ss_minilm_t *e, const ss_mfile_t *mf, int *normalize,
                                      char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        uint64_t n;
        const char *txt = ss_mfile_get(mf, "head.config", SS_MF_STR, 0, &n, errstr, errstr_size);
        if (!txt)
                return SS_ERR_FORMAT;
        cJSON *o = cJSON_ParseWithLength(txt, n);
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(o, "pool_layers");
        const cJSON *nz = cJSON_GetObjectItemCaseSensitive(o, "normalize");
        const cJSON *qz = cJSON_GetObjectItemCaseSensitive(o, "quantize");
        int layers[SS_MINILM_MAX_LAYERS + 1], nl = 0, bad = !o || (nz && !cJSON_IsBool(nz));
        int int8 = cJSON_IsString(qz) && !strcmp(qz->valuestring, "int8");
        bad = bad || (qz && !int8 && !(cJSON_IsString(qz) && !strcmp(qz->valuestring, "none")));
        *normalize = !nz || cJSON_IsTrue(nz);
        if (!bad && pl) {
                const cJSON *it;
                bad = !cJSON_IsArray(pl) || cJSON_GetArraySize(pl) < 1 ||
                      cJSON_GetArraySize(pl) > SS_MINILM_MAX_LAYERS + 1;
                cJSON_ArrayForEach(it, pl)
                {
                        if (bad || !cJSON_IsNumber(it))
                                bad = 1;
                        else
                                layers[nl++] = it->valueint;
                }
        }
        cJSON_Delete(o);
        char e2[256];
        if (bad || (nl && ss_minilm_set_pool_layers(e, layers, nl, e2, sizeof(e2)) != SS_OK))
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: section head.config: bad \"pool_layers\", \"normalize\" "
                                  "or \"quantize\" (none|int8)",
                                  what);
        if (int8)
                return ss_minilm_set_int8(e, 1, errstr, errstr_size);
        return SS_OK;
}

static void *minilm_kind_load(const ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        minilm_model_t *m = calloc(1, sizeof(*m));
        if (!m) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
                return NULL;
        }
        ss_tok_buf_init(&m->tb);
        m->enc = ss_minilm_new(mf, 0, errstr, errstr_size);
        if (!m->enc)
                goto fail;
        if (pool_layers_from_head(m->enc, mf, &m->normalize, errstr, errstr_size) != SS_OK)
                goto fail;
        uint64_t D = (uint64_t)ss_minilm_embed_dim(m->enc), cnt;
        if (!(m->head_w = ss_mfile_get(mf, "head.w", SS_MF_F32, SS_NUM_CLASSES * D, &cnt, errstr,
                                       errstr_size)) ||
            !(m->head_b =
                  ss_mfile_get(mf, "head.b", SS_MF_F32, SS_NUM_CLASSES, &cnt, errstr, errstr_size)))
                goto fail;
        return m;
fail:
        minilm_kind_destroy(m);
        return NULL;
}

static ss_err_t minilm_kind_score(void *impl, const char *const *texts, const size_t *lens,
                                  size_t n, float *probs_out, ss_input_stats_t *stats_out,
                                  char *errstr, size_t errstr_size)
{
        minilm_model_t *m = impl;
        int D = ss_minilm_embed_dim(m->enc);
        if (n > m->emb_cap) {
                float *p = realloc(m->emb, n * (size_t)D * sizeof(float));
                if (!p)
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory for %zu texts", n);
                m->emb = p;
                m->emb_cap = n;
        }
        ss_err_t err = ss_minilm_embed(m->enc, texts, lens, n, m->normalize, m->emb, stats_out,
                                       errstr, errstr_size);
        if (err != SS_OK)
                return err;
        ss_minilm_head_apply(m->emb, n, D, m->head_w, m->head_b, probs_out);
        for (size_t i = 0; stats_out && i < n; i++) {
                if (ss_tok_run(&m->tb, texts[i], lens[i]))
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "minilm: out of memory");
                stats_out[i].has_url = (uint8_t)m->tb.has_url;
                stats_out[i].has_mention = (uint8_t)m->tb.has_mention;
                stats_out[i].has_emoji = (uint8_t)m->tb.has_emoji;
        }
        return SS_OK;
}

const ss_model_kind_t ss_minilm_kind = {SS_MINILM_KIND, minilm_kind_load, minilm_kind_score,
                                        minilm_kind_destroy};
/* Written by `sentistream train model=minilm_ft` (minilm_ft_train.h): the same sections. */
const ss_model_kind_t ss_minilm_ft_kind = {"minilm_ft", minilm_kind_load, minilm_kind_score,
                                           minilm_kind_destroy};
