/*
 * minilm_ft: forward and backward passes of the MiniLM encoder + softmax head for
 * fine-tuning (see minilm_ft.h).
 *
 * Design, after llm.c: the parameters are one flat block described by a tensor table (name,
 * offset, count, trained, decayed), the gradients a second block of the same layout, and
 * Weights structs of pointers set over either block. The activations the backward pass
 * needs live in one arena allocated at creation from the config, the number of trained
 * layers and max_tokens: per trained layer its input, the fused QKV, the attention
 * probabilities of every text and head, the attention context, the pre-LayerNorm residual
 * sums with their mean and 1/std, the LayerNorm output, the feed-forward pre-activation
 * and GELU output, and the dropout masks. Each forward kernel sits beside its backward
 * kernel; each BLAS path (linear layers, attention) has a plain reference kernel beside it,
 * chosen by ss_minilm_ft_set_reference and compared in the tests. Texts are packed without
 * padding: dense steps run over all rows of the batch at once, attention per text and head.
 */
#include "minilm_ft.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C_            SS_NUM_CLASSES
#define LAYER_TENSORS 12

/* Weights (or gradients) of one layer: pointers into a flat block. Linear weights are
 * [out][in]. */
typedef struct ft_layer {
        float *wqkv;  /* [3D][D] query, key, value rows */
        float *bqkv;  /* [3D] */
        float *wo;    /* [D][D] */
        float *bo;    /* [D] */
        float *ln1_w; /* [D] */
        float *ln1_b; /* [D] */
        float *w1;    /* [F][D] */
        float *b1;    /* [F] */
        float *w2;    /* [D][F] */
        float *b2;    /* [D] */
        float *ln2_w; /* [D] */
        float *ln2_b; /* [D] */
} ft_layer_t;

typedef struct ft_weights {
        float *word;     /* [V][D] */
        float *pos;      /* [P][D] */
        float *type;     /* [TV][D] (row 0 used) */
        float *emb_ln_w; /* [D] */
        float *emb_ln_b; /* [D] */
        ft_layer_t layer[SS_MINILM_MAX_LAYERS];
        float *head_w; /* [3][D] */
        float *head_b; /* [3] */
} ft_weights_t;

/* Activations of one trained layer, T = max_tokens rows. */
typedef struct ft_slot {
        float *qkv;   /* [T][3D] */
        float *probs; /* [att_cap] attention probabilities, per text [H][L][L] */
        float *ctx;   /* [T][D] attention context, heads concatenated */
        float *mask1; /* [T][D] dropout mask after the attention projection */
        float *res1;  /* [T][D] input + attention projection (LayerNorm 1 input) */
        float *mean1; /* [T] */
        float *rstd1; /* [T] */
        float *h1;    /* [T][D] LayerNorm 1 output */
        float *ffpre; /* [T][F] feed-forward pre-activation (bias included) */
        float *ffact; /* [T][F] GELU output */
        float *mask2; /* [T][D] dropout mask after the feed-forward projection */
        float *res2;  /* [T][D] h1 + feed-forward output (LayerNorm 2 input) */
        float *mean2; /* [T] */
        float *rstd2; /* [T] */
} ft_slot_t;

typedef struct ft_acts {
        int max_tokens;  /* T */
        size_t att_cap;  /* floats per slot for attention probabilities: H T S */
        float *xs;       /* [nslot + 1][T][D] slot inputs; xs[K] = last layer output */
        ft_slot_t *slot; /* [nslot] */
        float *emb_sum;  /* [T][D] word + position + type (embedding LayerNorm input) */
        float *emb_mean; /* [T] */
        float *emb_rstd; /* [T] */
        float *pooled;   /* [T][D] mean over each text's rows */
        float *pmask;    /* [T][D] dropout mask on the pooled rows */
        float *pdrop;    /* [T][D] pooled after dropout (the head input) */
        float *logits;   /* [T][3] */
        float *probs;    /* [T][3] */
        /* backward */
        float *dx;      /* [T][D] gradient of the current layer's output, then its input */
        float *dres;    /* [T][D] */
        float *dh1;     /* [T][D] */
        float *dqkv;    /* [T][3D] */
        float *dctx;    /* [T][D] */
        float *dff;     /* [T][F] */
        float *dp;      /* [S][S] one head's probability gradient */
        float *dpool;   /* [T][D] */
        float *dlogits; /* [T][3] */
        float *zero_f;  /* [F] zeros (bias of the in-place GELU kernel) */
        /* the batch */
        int *len;        /* [T] tokens per text */
        int32_t *ids;    /* [T] packed ids (when embeddings are trained) */
        int8_t *labels;  /* [T] */
        size_t *att_off; /* [T] offset of each text's probabilities in a slot */
        size_t n;        /* texts */
        int rows;        /* tokens */
        int has_labels, dropped, forwarded;
} ft_acts_t;

struct ss_minilm_ft {
        ss_minilm_config_t cfg;
        int first;     /* first trained layer */
        int n_train;   /* trained layers (K) */
        int nslot;     /* max(K, 1): slots of the arena (slot 0 also runs frozen layers) */
        int train_emb; /* embeddings trained */
        ss_minilm_ft_tensor_t *tensors;
        int n_tensors;
        float *params; /* [n_params] */
        float *grads;  /* [n_params] */
        size_t n_params, trained_off;
        ft_weights_t w, g;
        ft_acts_t a;
        int reference;
        float dropout;
        uint64_t rng;
        float class_w[C_];
};

/* ---- kernels: linear layer ---- */

static void matmul(const ss_minilm_ft_t *ft, float *out, const float *x, const float *w,
                   const float *b, int n, int d_in, int d_out)
{
        if (ft->reference)
                ss_minilm_matmul_ref(out, x, w, b, n, d_in, d_out);
        else
                ss_minilm_matmul_blas(out, x, w, b, n, d_in, d_out);
}

void ss_minilm_ft_matmul_backward_ref(float *dx, float *dw, float *db, const float *dout,
                                      const float *x, const float *w, int n, int d_in, int d_out,
                                      int accumulate)
{
        for (int i = 0; dx && i < n; i++) {
                for (int k = 0; k < d_in; k++) {
                        double acc = accumulate ? dx[(size_t)i * d_in + k] : 0.0;
                        for (int o = 0; o < d_out; o++)
                                acc +=
                                    (double)dout[(size_t)i * d_out + o] * w[(size_t)o * d_in + k];
                        dx[(size_t)i * d_in + k] = (float)acc;
                }
        }
        for (int o = 0; o < d_out; o++) {
                for (int k = 0; k < d_in; k++) {
                        double acc = 0;
                        for (int i = 0; i < n; i++)
                                acc +=
                                    (double)dout[(size_t)i * d_out + o] * x[(size_t)i * d_in + k];
                        dw[(size_t)o * d_in + k] += (float)acc;
                }
                if (db) {
                        double acc = 0;
                        for (int i = 0; i < n; i++)
                                acc += dout[(size_t)i * d_out + o];
                        db[o] += (float)acc;
                }
        }
}

void ss_minilm_ft_matmul_backward_blas(float *dx, float *dw, float *db, const float *dout,
                                       const float *x, const float *w, int n, int d_in, int d_out,
                                       int accumulate)
{
        if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d_in, d_out, 1.0f, dout,
                            d_out, w, d_in, accumulate ? 1.0f : 0.0f, dx, d_in);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d_out, d_in, n, 1.0f, dout, d_out, x,
                    d_in, 1.0f, dw, d_in);
        if (!db)
                return;
        for (int i = 0; i < n; i++) {
                const float *row = dout + (size_t)i * d_out;
                for (int o = 0; o < d_out; o++)
                        db[o] += row[o];
        }
}

static void matmul_backward(const ss_minilm_ft_t *ft, float *dx, float *dw, float *db,
                            const float *dout, const float *x, const float *w, int n, int d_in,
                            int d_out, int accumulate)
{
        if (ft->reference)
                ss_minilm_ft_matmul_backward_ref(dx, dw, db, dout, x, w, n, d_in, d_out,
                                                 accumulate);
        else
                ss_minilm_ft_matmul_backward_blas(dx, dw, db, dout, x, w, n, d_in, d_out,
                                                  accumulate);
}

/* ---- kernels: attention ---- */

void ss_minilm_ft_attention_forward_ref(float *ctx, float *probs, const float *qkv, int L, int D,
                                        int n_heads)
{
        int hd = D / n_heads;
        double scale = 1.0 / sqrt((double)hd);
        for (int h = 0; h < n_heads; h++) {
                float *P = probs + (size_t)h * L * L;
                for (int i = 0; i < L; i++) {
                        const float *q = qkv + (size_t)i * 3 * D + h * hd;
                        double mx = -INFINITY, sum = 0;
                        for (int j = 0; j < L; j++) {
                                const float *k = qkv + (size_t)j * 3 * D + D + h * hd;
                                double acc = 0;
                                for (int c = 0; c < hd; c++)
                                        acc += (double)q[c] * k[c];
                                P[(size_t)i * L + j] = (float)(acc * scale);
                                mx = fmax(mx, acc * scale);
                        }
                        for (int j = 0; j < L; j++)
                                sum += exp((double)P[(size_t)i * L + j] - mx);
                        for (int j = 0; j < L; j++)
                                P[(size_t)i * L + j] =
                                    (float)(exp((double)P[(size_t)i * L + j] - mx) / sum);
                        for (int c = 0; c < hd; c++) {
                                double acc = 0;
                                for (int j = 0; j < L; j++)
                                        acc += (double)P[(size_t)i * L + j] *
                                               qkv[(size_t)j * 3 * D + 2 * D + h * hd + c];
                                ctx[(size_t)i * D + h * hd + c] = (float)acc;
                        }
                }
        }
}

/* row-wise softmax of n rows of d, in place */
static void softmax_rows(float *x, int n, int d)
{
        for (int i = 0; i < n; i++) {
                float *row = x + (size_t)i * d;
                float mx = row[0];
                for (int j = 1; j < d; j++)
                        mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
                for (int j = 0; j < d; j++) {
                        row[j] = expf(row[j] - mx);
                        sum += row[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < d; j++)
                        row[j] *= inv;
        }
}

void ss_minilm_ft_attention_forward_blas(float *ctx, float *probs, const float *qkv, int L, int D,
                                         int n_heads)
{
        int hd = D / n_heads;
        float scale = 1.0f / sqrtf((float)hd);
        for (int h = 0; h < n_heads; h++) {
                float *P = probs + (size_t)h * L * L;
                const float *Q = qkv + h * hd, *K = qkv + D + h * hd, *V = qkv + 2 * D + h * hd;
                /* P [L][L] = scale Q K^T, softmax per row; ctx_h [L][hd] = P V */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, scale, Q, 3 * D, K,
                            3 * D, 0.0f, P, L);
                softmax_rows(P, L, L);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, V,
                            3 * D, 0.0f, ctx + h * hd, D);
        }
}

/*
 * Per head, with P the probabilities, S = scale Q K^T their logits:
 *   dV = P^T dctx, dP = dctx V^T, dS = P (dP - rowsum(dP P)), dQ = scale dS K,
 *   dK = scale dS^T Q.
 */
void ss_minilm_ft_attention_backward_ref(float *dqkv, const float *dctx, const float *probs,
                                         const float *qkv, int L, int D, int n_heads, float *dp)
{
        int hd = D / n_heads;
        double scale = 1.0 / sqrt((double)hd);
        for (int h = 0; h < n_heads; h++) {
                const float *P = probs + (size_t)h * L * L;
                for (int i = 0; i < L; i++) {
                        const float *dc = dctx + (size_t)i * D + h * hd;
                        double dot = 0;
                        for (int j = 0; j < L; j++) {
                                const float *v = qkv + (size_t)j * 3 * D + 2 * D + h * hd;
                                double acc = 0;
                                for (int c = 0; c < hd; c++)
                                        acc += (double)dc[c] * v[c];
                                dp[(size_t)i * L + j] = (float)acc;
                                dot += acc * P[(size_t)i * L + j];
                        }
                        for (int j = 0; j < L; j++)
                                dp[(size_t)i * L + j] =
                                    (float)(P[(size_t)i * L + j] * (dp[(size_t)i * L + j] - dot));
                }
                for (int j = 0; j < L; j++) {
                        for (int c = 0; c < hd; c++) {
                                double dv = 0, dq = 0, dk = 0;
                                for (int i = 0; i < L; i++) {
                                        dv += (double)P[(size_t)i * L + j] *
                                              dctx[(size_t)i * D + h * hd + c];
                                        /* dQ[j] = sum_i dS[j][i] K[i]; dK[j] = sum_i dS[i][j] Q[i]
                                         */
                                        dq += (double)dp[(size_t)j * L + i] *
                                              qkv[(size_t)i * 3 * D + D + h * hd + c];
                                        dk += (double)dp[(size_t)i * L + j] *
                                              qkv[(size_t)i * 3 * D + h * hd + c];
                                }
                                dqkv[(size_t)j * 3 * D + h * hd + c] = (float)(dq * scale);
                                dqkv[(size_t)j * 3 * D + D + h * hd + c] = (float)(dk * scale);
                                dqkv[(size_t)j * 3 * D + 2 * D + h * hd + c] = (float)dv;
                        }
                }
        }
}

void ss_minilm_ft_attention_backward_blas(float *dqkv, const float *dctx, const float *probs,
                                          const float *qkv, int L, int D, int n_heads, float *dp)
{
        int hd = D / n_heads;
        float scale = 1.0f / sqrtf((float)hd);
        for (int h = 0; h < n_heads; h++) {
                const float *P = probs + (size_t)h * L * L;
                const float *Q = qkv + h * hd, *K = qkv + D + h * hd, *V = qkv + 2 * D + h * hd;
                const float *dC = dctx + h * hd;
                float *dQ = dqkv + h * hd, *dK = dqkv + D + h * hd, *dV = dqkv + 2 * D + h * hd;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, dC, D,
                            0.0f, dV, 3 * D);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, 1.0f, dC, D, V,
                            3 * D, 0.0f, dp, L);
                for (int i = 0; i < L; i++) {
                        float *row = dp + (size_t)i * L;
                        const float *pr = P + (size_t)i * L;
                        float dot = 0.0f;
                        for (int j = 0; j < L; j++)
                                dot += row[j] * pr[j];
                        for (int j = 0; j < L; j++)
                                row[j] = pr[j] * (row[j] - dot);
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, scale, dp, L, K,
                            3 * D, 0.0f, dQ, 3 * D);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, scale, dp, L, Q,
                            3 * D, 0.0f, dK, 3 * D);
        }
}

/* ---- kernels: LayerNorm, GELU, dropout ---- */

/* out = (x - mean) rstd w + b per row; keeps mean and rstd. */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, int n, int d, float eps)
{
        for (int i = 0; i < n; i++) {
                const float *row = x + (size_t)i * d;
                float *o = out + (size_t)i * d;
                float m = 0.0f;
                for (int j = 0; j < d; j++)
                        m += row[j];
                m /= (float)d;
                float v = 0.0f;
                for (int j = 0; j < d; j++)
                        v += (row[j] - m) * (row[j] - m);
                v /= (float)d;
                float rs = 1.0f / sqrtf(v + eps);
                for (int j = 0; j < d; j++)
                        o[j] = (row[j] - m) * rs * w[j] + b[j];
                mean[i] = m;
                rstd[i] = rs;
        }
}

/* dx = rstd (dn - mean(dn) - xhat mean(dn xhat)), dn = dout w; dw += dout xhat; db += dout. */
static void layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                               const float *w, const float *mean, const float *rstd, int n, int d)
{
        for (int i = 0; i < n; i++) {
                const float *row = x + (size_t)i * d, *dr = dout + (size_t)i * d;
                float *o = dx + (size_t)i * d;
                float m = mean[i], rs = rstd[i];
                float dn_mean = 0.0f, dnx_mean = 0.0f;
                for (int j = 0; j < d; j++) {
                        float xh = (row[j] - m) * rs, dn = dr[j] * w[j];
                        dn_mean += dn;
                        dnx_mean += dn * xh;
                }
                dn_mean /= (float)d;
                dnx_mean /= (float)d;
                for (int j = 0; j < d; j++) {
                        float xh = (row[j] - m) * rs;
                        if (dw) {
                                dw[j] += dr[j] * xh;
                                db[j] += dr[j];
                        }
                        o[j] = rs * (dr[j] * w[j] - dn_mean - xh * dnx_mean);
                }
        }
}

static void gelu_forward(const ss_minilm_ft_t *ft, float *out, const float *pre, int n, int d)
{
        memcpy(out, pre, (size_t)n * d * sizeof(float));
        if (ft->reference)
                ss_minilm_bias_gelu_ref(out, ft->a.zero_f, n, d);
        else
                ss_minilm_bias_gelu(out, ft->a.zero_f, n, d);
}

/* d *= gelu'(pre), gelu'(x) = Phi(x) + x phi(x) */
static void gelu_backward(float *d, const float *pre, size_t count)
{
        for (size_t i = 0; i < count; i++) {
                float x = pre[i];
                float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
                float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
                d[i] *= cdf + x * pdf;
        }
}

static uint64_t rng_next(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* mask[i] = 0 with probability p, else 1 / (1 - p) */
static void dropout_mask(float *mask, size_t count, float p, uint64_t *rng)
{
        float keep = 1.0f / (1.0f - p);
        uint32_t thr = (uint32_t)(p * 4294967296.0);
        for (size_t i = 0; i < count; i += 2) {
                uint64_t r = rng_next(rng);
                mask[i] = (uint32_t)r < thr ? 0.0f : keep;
                if (i + 1 < count)
                        mask[i + 1] = (uint32_t)(r >> 32) < thr ? 0.0f : keep;
        }
}

static void mul_inplace(float *x, const float *m, size_t count)
{
        for (size_t i = 0; i < count; i++)
                x[i] *= m[i];
}

static void add_inplace(float *x, const float *y, size_t count)
{
        for (size_t i = 0; i < count; i++)
                x[i] += y[i];
}

/* ---- forward ---- */

static void embed_forward(ss_minilm_ft_t *ft, const int32_t *ids)
{
        ft_acts_t *a = &ft->a;
        int D = ft->cfg.dim;
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                for (int p = 0; p < a->len[s]; p++, r++) {
                        float *row = a->emb_sum + r * D;
                        const float *we = ft->w.word + (size_t)ids[r] * D;
                        const float *pe = ft->w.pos + (size_t)p * D;
                        for (int j = 0; j < D; j++)
                                row[j] = we[j] + pe[j] + ft->w.type[j];
                }
        }
        layernorm_forward(a->xs, a->emb_mean, a->emb_rstd, a->emb_sum, ft->w.emb_ln_w,
                          ft->w.emb_ln_b, a->rows, D, ft->cfg.ln_eps);
}

/* Layer li on the batch rows: in [rows][D] -> out [rows][D], activations into slot sl. */
static void layer_forward(ss_minilm_ft_t *ft, int li, ft_slot_t *sl, const float *in, float *out,
                          int drop)
{
        const ss_minilm_config_t *c = &ft->cfg;
        const ft_layer_t *l = &ft->w.layer[li];
        ft_acts_t *a = &ft->a;
        int n = a->rows, D = c->dim, F = c->ffn_dim;
        size_t nd = (size_t)n * D;
        matmul(ft, sl->qkv, in, l->wqkv, l->bqkv, n, D, 3 * D);
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                float *P = sl->probs + a->att_off[s], *o = sl->ctx + r * D;
                const float *q = sl->qkv + r * 3 * D;
                if (ft->reference)
                        ss_minilm_ft_attention_forward_ref(o, P, q, a->len[s], D, c->n_heads);
                else
                        ss_minilm_ft_attention_forward_blas(o, P, q, a->len[s], D, c->n_heads);
                r += (size_t)a->len[s];
        }
        matmul(ft, sl->res1, sl->ctx, l->wo, l->bo, n, D, D);
        if (drop) {
                dropout_mask(sl->mask1, nd, ft->dropout, &ft->rng);
                mul_inplace(sl->res1, sl->mask1, nd);
        }
        add_inplace(sl->res1, in, nd);
        layernorm_forward(sl->h1, sl->mean1, sl->rstd1, sl->res1, l->ln1_w, l->ln1_b, n, D,
                          c->ln_eps);
        matmul(ft, sl->ffpre, sl->h1, l->w1, l->b1, n, D, F);
        gelu_forward(ft, sl->ffact, sl->ffpre, n, F);
        matmul(ft, sl->res2, sl->ffact, l->w2, l->b2, n, F, D);
        if (drop) {
                dropout_mask(sl->mask2, nd, ft->dropout, &ft->rng);
                mul_inplace(sl->res2, sl->mask2, nd);
        }
        add_inplace(sl->res2, sl->h1, nd);
        layernorm_forward(out, sl->mean2, sl->rstd2, sl->res2, l->ln2_w, l->ln2_b, n, D, c->ln_eps);
}

/* Embeddings and the frozen layers: xs[0] = the states entering the first trained layer. */
static void frozen_forward(ss_minilm_ft_t *ft, const int32_t *ids)
{
        ft_acts_t *a = &ft->a;
        size_t TD = (size_t)a->max_tokens * ft->cfg.dim;
        embed_forward(ft, ids);
        for (int li = 0; li < ft->first; li++) {
                layer_forward(ft, li, &a->slot[0], a->xs, a->xs + TD, 0);
                memcpy(a->xs, a->xs + TD, (size_t)a->rows * ft->cfg.dim * sizeof(float));
        }
}

static ss_err_t batch_setup(ss_minilm_ft_t *ft, size_t n, const int *len, char *errstr,
                            size_t errstr_size)
{
        ft_acts_t *a = &ft->a;
        size_t rows = 0, att = 0, H = (size_t)ft->cfg.n_heads;
        for (size_t s = 0; s < n; s++) {
                if (len[s] < 1 || len[s] > ft->cfg.max_seq_len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm_ft: text %zu has %d tokens (1..%d allowed)", s,
                                          len[s], ft->cfg.max_seq_len);
                rows += (size_t)len[s];
                if (rows > (size_t)a->max_tokens)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm_ft: batch of %zu texts exceeds %d tokens", n,
                                          a->max_tokens);
                a->att_off[s] = att;
                att += H * (size_t)len[s] * (size_t)len[s];
        }
        if (att > a->att_cap)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: batch attention needs %zu floats (%zu allowed)", att,
                                  a->att_cap);
        memcpy(a->len, len, n * sizeof(*len));
        a->n = n;
        a->rows = (int)rows;
        a->forwarded = 0;
        return SS_OK;
}

static ss_err_t ids_check(const ss_minilm_ft_t *ft, const int32_t *ids, int rows, char *errstr,
                          size_t errstr_size)
{
        for (int r = 0; r < rows; r++)
                if (ids[r] < 0 || ids[r] >= ft->cfg.vocab_size)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm_ft: token %d: id %d outside the vocabulary (%d)",
                                          r, ids[r], ft->cfg.vocab_size);
        return SS_OK;
}

/* pooled -> dropout -> logits -> probs; returns the weighted loss (labels set) or 0. */
static float head_forward(ss_minilm_ft_t *ft, int drop)
{
        ft_acts_t *a = &ft->a;
        int D = ft->cfg.dim;
        const float *last = a->xs + (size_t)ft->n_train * a->max_tokens * D;
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                float *o = a->pooled + s * D;
                memset(o, 0, (size_t)D * sizeof(float));
                for (int p = 0; p < a->len[s]; p++, r++)
                        add_inplace(o, last + r * D, (size_t)D);
                float inv = 1.0f / (float)a->len[s];
                for (int j = 0; j < D; j++)
                        o[j] *= inv;
        }
        size_t nd = a->n * (size_t)D;
        memcpy(a->pdrop, a->pooled, nd * sizeof(float));
        if (drop) {
                dropout_mask(a->pmask, nd, ft->dropout, &ft->rng);
                mul_inplace(a->pdrop, a->pmask, nd);
        }
        matmul(ft, a->logits, a->pdrop, ft->w.head_w, ft->w.head_b, (int)a->n, D, C_);
        memcpy(a->probs, a->logits, a->n * C_ * sizeof(float));
        softmax_rows(a->probs, (int)a->n, C_);
        if (!a->has_labels)
                return 0.0f;
        double num = 0, den = 0;
        for (size_t s = 0; s < a->n; s++) {
                int y = a->labels[s];
                num += ft->class_w[y] * -log(fmax((double)a->probs[s * C_ + y], 1e-30));
                den += ft->class_w[y];
        }
        return den > 0 ? (float)(num / den) : 0.0f;
}

ss_err_t ss_minilm_ft_forward(ss_minilm_ft_t *ft, const ss_minilm_ft_batch_t *b, int train,
                              float *probs_out, float *loss, char *errstr, size_t errstr_size)
{
        ft_acts_t *a = &ft->a;
        ss_err_t err = batch_setup(ft, b->n, b->len, errstr, errstr_size);
        if (err)
                return err;
        if ((!b->x0 || ft->train_emb) && !b->ids)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: batch without token ids%s",
                                  ft->train_emb ? " (the embeddings are trained)" : "");
        if (b->ids && (err = ids_check(ft, b->ids, a->rows, errstr, errstr_size)))
                return err;
        for (size_t s = 0; b->labels && s < b->n; s++)
                if (b->labels[s] < 0 || b->labels[s] >= C_)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "minilm_ft: text %zu: label %d outside 0..2", s,
                                          b->labels[s]);
        a->has_labels = b->labels != NULL;
        if (b->labels)
                memcpy(a->labels, b->labels, b->n);
        if (ft->train_emb)
                memcpy(a->ids, b->ids, (size_t)a->rows * sizeof(*b->ids));
        int drop = train && ft->dropout > 0.0f;
        a->dropped = drop;
        size_t TD = (size_t)a->max_tokens * ft->cfg.dim;
        if (b->x0)
                memcpy(a->xs, b->x0, (size_t)a->rows * ft->cfg.dim * sizeof(float));
        else
                frozen_forward(ft, b->ids);
        for (int k = 0; k < ft->n_train; k++)
                layer_forward(ft, ft->first + k, &a->slot[k], a->xs + k * TD, a->xs + (k + 1) * TD,
                              drop);
        float lv = head_forward(ft, drop);
        if (loss)
                *loss = lv;
        if (probs_out)
                memcpy(probs_out, a->probs, b->n * C_ * sizeof(float));
        a->forwarded = 1;
        return SS_OK;
}

/* ---- backward ---- */

static void head_backward(ss_minilm_ft_t *ft)
{
        ft_acts_t *a = &ft->a;
        int D = ft->cfg.dim;
        double den = 0;
        for (size_t s = 0; s < a->n; s++)
                den += ft->class_w[a->labels[s]];
        for (size_t s = 0; s < a->n; s++) {
                int y = a->labels[s];
                float w = den > 0 ? (float)(ft->class_w[y] / den) : 0.0f;
                for (int c = 0; c < C_; c++)
                        a->dlogits[s * C_ + c] =
                            w * (a->probs[s * C_ + c] - (c == y ? 1.0f : 0.0f));
        }
        matmul_backward(ft, a->dpool, ft->g.head_w, ft->g.head_b, a->dlogits, a->pdrop,
                        ft->w.head_w, (int)a->n, D, C_, 0);
        if (a->dropped)
                mul_inplace(a->dpool, a->pmask, a->n * (size_t)D);
        /* mean pooling: every row of a text gets its pooled gradient / len */
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                float inv = 1.0f / (float)a->len[s];
                const float *dp = a->dpool + s * D;
                for (int p = 0; p < a->len[s]; p++, r++) {
                        float *o = a->dx + r * D;
                        for (int j = 0; j < D; j++)
                                o[j] = dp[j] * inv;
                }
        }
}

/* a->dx holds d out; on return d in (when need_dx). */
static void layer_backward(ss_minilm_ft_t *ft, int li, ft_slot_t *sl, const float *in, int need_dx)
{
        const ss_minilm_config_t *c = &ft->cfg;
        const ft_layer_t *l = &ft->w.layer[li];
        ft_layer_t *g = &ft->g.layer[li];
        ft_acts_t *a = &ft->a;
        int n = a->rows, D = c->dim, F = c->ffn_dim;
        size_t nd = (size_t)n * D;
        layernorm_backward(a->dres, g->ln2_w, g->ln2_b, a->dx, sl->res2, l->ln2_w, sl->mean2,
                           sl->rstd2, n, D);
        memcpy(a->dh1, a->dres, nd * sizeof(float));
        if (a->dropped)
                mul_inplace(a->dres, sl->mask2, nd);
        matmul_backward(ft, a->dff, g->w2, g->b2, a->dres, sl->ffact, l->w2, n, F, D, 0);
        gelu_backward(a->dff, sl->ffpre, (size_t)n * F);
        matmul_backward(ft, a->dh1, g->w1, g->b1, a->dff, sl->h1, l->w1, n, D, F, 1);
        layernorm_backward(a->dres, g->ln1_w, g->ln1_b, a->dh1, sl->res1, l->ln1_w, sl->mean1,
                           sl->rstd1, n, D);
        if (need_dx)
                memcpy(a->dx, a->dres, nd * sizeof(float));
        if (a->dropped)
                mul_inplace(a->dres, sl->mask1, nd);
        matmul_backward(ft, a->dctx, g->wo, g->bo, a->dres, sl->ctx, l->wo, n, D, D, 0);
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                const float *P = sl->probs + a->att_off[s];
                if (ft->reference)
                        ss_minilm_ft_attention_backward_ref(a->dqkv + r * 3 * D, a->dctx + r * D, P,
                                                            sl->qkv + r * 3 * D, a->len[s], D,
                                                            c->n_heads, a->dp);
                else
                        ss_minilm_ft_attention_backward_blas(a->dqkv + r * 3 * D, a->dctx + r * D,
                                                             P, sl->qkv + r * 3 * D, a->len[s], D,
                                                             c->n_heads, a->dp);
                r += (size_t)a->len[s];
        }
        matmul_backward(ft, need_dx ? a->dx : NULL, g->wqkv, g->bqkv, a->dqkv, in, l->wqkv, n, D,
                        3 * D, 1);
}

static void embed_backward(ss_minilm_ft_t *ft)
{
        ft_acts_t *a = &ft->a;
        int D = ft->cfg.dim;
        layernorm_backward(a->dres, ft->g.emb_ln_w, ft->g.emb_ln_b, a->dx, a->emb_sum,
                           ft->w.emb_ln_w, a->emb_mean, a->emb_rstd, a->rows, D);
        size_t r = 0;
        for (size_t s = 0; s < a->n; s++) {
                for (int p = 0; p < a->len[s]; p++, r++) {
                        const float *d = a->dres + r * D;
                        add_inplace(ft->g.word + (size_t)a->ids[r] * D, d, (size_t)D);
                        add_inplace(ft->g.pos + (size_t)p * D, d, (size_t)D);
                        add_inplace(ft->g.type, d, (size_t)D);
                }
        }
}

ss_err_t ss_minilm_ft_backward(ss_minilm_ft_t *ft, char *errstr, size_t errstr_size)
{
        ft_acts_t *a = &ft->a;
        if (!a->forwarded || !a->has_labels)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: backward needs a forward pass with labels");
        size_t TD = (size_t)a->max_tokens * ft->cfg.dim;
        head_backward(ft);
        for (int k = ft->n_train - 1; k >= 0; k--)
                layer_backward(ft, ft->first + k, &a->slot[k], a->xs + k * TD,
                               k > 0 || ft->train_emb);
        if (ft->train_emb)
                embed_backward(ft);
        return SS_OK;
}

void ss_minilm_ft_zero_grad(ss_minilm_ft_t *ft)
{
        memset(ft->grads + ft->trained_off, 0, (ft->n_params - ft->trained_off) * sizeof(float));
}

ss_err_t ss_minilm_ft_hidden(ss_minilm_ft_t *ft, const int32_t *ids, const int *len, size_t n,
                             float *out, char *errstr, size_t errstr_size)
{
        ft_acts_t *a = &ft->a;
        size_t D = (size_t)ft->cfg.dim, s0 = 0, row0 = 0;
        while (s0 < n) {
                size_t s1 = s0, rows = 0;
                while (s1 < n && rows + (size_t)len[s1] <= (size_t)a->max_tokens)
                        rows += (size_t)len[s1++];
                if (s1 == s0)
                        s1 = s0 + 1; /* batch_setup reports it */
                ss_err_t err = batch_setup(ft, s1 - s0, len + s0, errstr, errstr_size);
                if (!err)
                        err = ids_check(ft, ids + row0, a->rows, errstr, errstr_size);
                if (err)
                        return err;
                frozen_forward(ft, ids + row0);
                memcpy(out + row0 * D, a->xs, (size_t)a->rows * D * sizeof(float));
                row0 += (size_t)a->rows;
                s0 = s1;
        }
        a->forwarded = 0;
        return SS_OK;
}

/* ---- construction ---- */

static float **weights_slot(ft_weights_t *w, int i, int L)
{
        if (i < 5) {
                float **e[5] = {&w->word, &w->pos, &w->type, &w->emb_ln_w, &w->emb_ln_b};
                return e[i];
        }
        i -= 5;
        if (i < LAYER_TENSORS * L) {
                ft_layer_t *l = &w->layer[i / LAYER_TENSORS];
                float **s[LAYER_TENSORS] = {&l->wqkv,  &l->bqkv,  &l->wo,    &l->bo,
                                            &l->ln1_w, &l->ln1_b, &l->w1,    &l->b1,
                                            &l->w2,    &l->b2,    &l->ln2_w, &l->ln2_b};
                return s[i % LAYER_TENSORS];
        }
        return i == LAYER_TENSORS * L ? &w->head_w : &w->head_b;
}

static void tensors_build(ss_minilm_ft_t *ft)
{
        const ss_minilm_config_t *c = &ft->cfg;
        size_t D = (size_t)c->dim, F = (size_t)c->ffn_dim, off = 0;
        int k = 0;
#define T_ADD(nm, cnt, tr, dec)                                                                    \
        do {                                                                                       \
                ss_minilm_ft_tensor_t *t = &ft->tensors[k++];                                      \
                snprintf(t->name, sizeof(t->name), "%s", nm);                                      \
                t->off = off;                                                                      \
                t->count = (cnt);                                                                  \
                t->trained = (tr);                                                                 \
                t->decay = (dec);                                                                  \
                off += (cnt);                                                                      \
        } while (0)
        int te = ft->train_emb;
        T_ADD("emb.word", (size_t)c->vocab_size * D, te, 1);
        T_ADD("emb.pos", (size_t)c->max_pos * D, te, 1);
        T_ADD("emb.type", (size_t)c->type_vocab * D, te, 1);
        T_ADD("emb.ln.w", D, te, 0);
        T_ADD("emb.ln.b", D, te, 0);
        static const char *const sfx[LAYER_TENSORS] = {"qkv.w", "qkv.b", "ao.w",  "ao.b",
                                                       "ln1.w", "ln1.b", "ff1.w", "ff1.b",
                                                       "ff2.w", "ff2.b", "ln2.w", "ln2.b"};
        for (int l = 0; l < c->n_layers; l++) {
                size_t cnt[LAYER_TENSORS] = {3 * D * D, 3 * D, D * D, D, D, D,
                                             F * D,     F,     D * F, D, D, D};
                for (int j = 0; j < LAYER_TENSORS; j++) {
                        char nm[32];
                        snprintf(nm, sizeof(nm), "L%d.%s", l, sfx[j]);
                        T_ADD(nm, cnt[j], l >= ft->first, j == 0 || j == 2 || j == 6 || j == 8);
                }
        }
        T_ADD("head.w", C_ * D, 1, 1);
        T_ADD("head.b", (size_t)C_, 1, 0);
#undef T_ADD
        ft->n_tensors = k;
        ft->n_params = off;
        ft->trained_off = off;
        for (int i = k - 1; i >= 0 && ft->tensors[i].trained; i--)
                ft->trained_off = ft->tensors[i].off;
}

static float *arena_take(float **p, size_t count)
{
        float *r = *p;
        *p += (count + 15) & ~(size_t)15; /* 64-byte steps */
        return r;
}

static ss_err_t acts_alloc(ss_minilm_ft_t *ft, int max_tokens, char *errstr, size_t errstr_size)
{
        const ss_minilm_config_t *c = &ft->cfg;
        ft_acts_t *a = &ft->a;
        size_t T = (size_t)max_tokens, D = (size_t)c->dim, F = (size_t)c->ffn_dim;
        size_t S = (size_t)c->max_seq_len, H = (size_t)c->n_heads;
        a->max_tokens = max_tokens;
        a->att_cap = H * T * S;
        size_t per_slot = 3 * T * D + a->att_cap + 6 * T * D + 4 * T + 2 * T * F + 14 * 16;
        size_t total = (size_t)(ft->nslot + 1) * T * D + (size_t)ft->nslot * per_slot + T * D +
                       2 * T + 3 * T * D + 2 * T * C_ /* forward rest */ + 5 * T * D + 3 * T * D +
                       T * F + S * S + T * C_ + F /* backward */ + 32 * 16;
        float *mem = aligned_alloc(64, ((total * sizeof(float)) + 63) & ~(size_t)63);
        a->slot = calloc((size_t)ft->nslot, sizeof(*a->slot));
        a->len = calloc(T, sizeof(*a->len));
        a->ids = calloc(T, sizeof(*a->ids));
        a->labels = calloc(T, sizeof(*a->labels));
        a->att_off = calloc(T, sizeof(*a->att_off));
        if (!mem || !a->slot || !a->len || !a->ids || !a->labels || !a->att_off) {
                free(mem);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "minilm_ft: out of memory for the activations of %d tokens "
                                  "(%zu MiB)",
                                  max_tokens, total * sizeof(float) >> 20);
        }
        memset(mem, 0, total * sizeof(float));
        float *p = mem;
        a->xs = arena_take(&p, (size_t)(ft->nslot + 1) * T * D);
        for (int k = 0; k < ft->nslot; k++) {
                ft_slot_t *sl = &a->slot[k];
                sl->qkv = arena_take(&p, 3 * T * D);
                sl->probs = arena_take(&p, a->att_cap);
                sl->ctx = arena_take(&p, T * D);
                sl->mask1 = arena_take(&p, T * D);
                sl->res1 = arena_take(&p, T * D);
                sl->mean1 = arena_take(&p, T);
                sl->rstd1 = arena_take(&p, T);
                sl->h1 = arena_take(&p, T * D);
                sl->ffpre = arena_take(&p, T * F);
                sl->ffact = arena_take(&p, T * F);
                sl->mask2 = arena_take(&p, T * D);
                sl->res2 = arena_take(&p, T * D);
                sl->mean2 = arena_take(&p, T);
                sl->rstd2 = arena_take(&p, T);
        }
        a->emb_sum = arena_take(&p, T * D);
        a->emb_mean = arena_take(&p, T);
        a->emb_rstd = arena_take(&p, T);
        a->pooled = arena_take(&p, T * D);
        a->pmask = arena_take(&p, T * D);
        a->pdrop = arena_take(&p, T * D);
        a->logits = arena_take(&p, T * C_);
        a->probs = arena_take(&p, T * C_);
        a->dx = arena_take(&p, T * D);
        a->dres = arena_take(&p, T * D);
        a->dh1 = arena_take(&p, T * D);
        a->dqkv = arena_take(&p, 3 * T * D);
        a->dctx = arena_take(&p, T * D);
        a->dff = arena_take(&p, T * F);
        a->dp = arena_take(&p, S * S);
        a->dpool = arena_take(&p, T * D);
        a->dlogits = arena_take(&p, T * C_);
        a->zero_f = arena_take(&p, F);
        /* a->xs is the block's start: freed through it */
        return SS_OK;
}

ss_minilm_ft_t *ss_minilm_ft_new(const ss_minilm_config_t *cfg, int n_train_layers,
                                 int train_embeddings, int max_tokens, char *errstr,
                                 size_t errstr_size)
{
        if (n_train_layers < 0 || n_train_layers > cfg->n_layers ||
            (train_embeddings && n_train_layers != cfg->n_layers)) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "minilm_ft: %d trained layers of %d%s", n_train_layers, cfg->n_layers,
                           train_embeddings ? " (training the embeddings needs all layers)" : "");
                return NULL;
        }
        if (max_tokens < cfg->max_seq_len) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "minilm_ft: max_tokens %d below max_seq_len %d", max_tokens,
                           cfg->max_seq_len);
                return NULL;
        }
        ss_minilm_ft_t *ft = calloc(1, sizeof(*ft));
        if (!ft) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory");
                return NULL;
        }
        ft->cfg = *cfg;
        ft->n_train = n_train_layers;
        ft->first = cfg->n_layers - n_train_layers;
        ft->nslot = n_train_layers > 0 ? n_train_layers : 1;
        ft->train_emb = train_embeddings;
        for (int c = 0; c < C_; c++)
                ft->class_w[c] = 1.0f;
        ft->n_tensors = 5 + LAYER_TENSORS * cfg->n_layers + 2;
        ft->tensors = calloc((size_t)ft->n_tensors, sizeof(*ft->tensors));
        if (!ft->tensors)
                goto nomem;
        tensors_build(ft);
        ft->params = calloc(ft->n_params, sizeof(float));
        ft->grads = calloc(ft->n_params, sizeof(float));
        if (!ft->params || !ft->grads)
                goto nomem;
        for (int i = 0; i < ft->n_tensors; i++) {
                *weights_slot(&ft->w, i, cfg->n_layers) = ft->params + ft->tensors[i].off;
                *weights_slot(&ft->g, i, cfg->n_layers) = ft->grads + ft->tensors[i].off;
        }
        if (acts_alloc(ft, max_tokens, errstr, errstr_size) != SS_OK) {
                ss_minilm_ft_destroy(ft);
                return NULL;
        }
        return ft;
nomem:
        ss_minilm_ft_destroy(ft);
        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                   "minilm_ft: out of memory for the parameters");
        return NULL;
}

void ss_minilm_ft_destroy(ss_minilm_ft_t *ft)
{
        if (!ft)
                return;
        free(ft->a.xs);
        free(ft->a.slot);
        free(ft->a.len);
        free(ft->a.ids);
        free(ft->a.labels);
        free(ft->a.att_off);
        free(ft->tensors);
        free(ft->params);
        free(ft->grads);
        free(ft);
}

ss_err_t ss_minilm_ft_load(ss_minilm_ft_t *ft, const ss_mfile_t *mf, char *errstr,
                           size_t errstr_size)
{
        size_t D = (size_t)ft->cfg.dim;
        for (int i = 0; i < ft->n_tensors; i++) {
                const ss_minilm_ft_tensor_t *t = &ft->tensors[i];
                float *dst = ft->params + t->off;
                const char *dot = strrchr(t->name, '.');
                if (!strncmp(t->name, "head.", 5))
                        continue;
                if (!strncmp(dot - 3, "qkv", 3)) { /* fused: L<i>.qkv.w|b from q, k, v */
                        int is_w = dot[1] == 'w';
                        size_t cnt = is_w ? D * D : D;
                        for (int k = 0; k < 3; k++) {
                                char nm[40];
                                snprintf(nm, sizeof(nm), "%.*s%c.%c", (int)(dot - 3 - t->name),
                                         t->name, "qkv"[k], dot[1]);
                                uint64_t got;
                                const float *src =
                                    ss_mfile_get(mf, nm, SS_MF_F32, cnt, &got, errstr, errstr_size);
                                if (!src)
                                        return SS_ERR_FORMAT;
                                memcpy(dst + k * cnt, src, cnt * sizeof(float));
                        }
                        continue;
                }
                uint64_t got;
                const float *src =
                    ss_mfile_get(mf, t->name, SS_MF_F32, t->count, &got, errstr, errstr_size);
                if (!src)
                        return SS_ERR_FORMAT;
                memcpy(dst, src, t->count * sizeof(float));
        }
        return SS_OK;
}

void ss_minilm_ft_head_init(ss_minilm_ft_t *ft, uint64_t seed, float std)
{
        uint64_t s = seed;
        size_t n = C_ * (size_t)ft->cfg.dim;
        for (size_t i = 0; i < n; i++) {
                /* Box-Muller */
                double u1 = ((rng_next(&s) >> 11) + 1.0) / 9007199254740993.0;
                double u2 = (rng_next(&s) >> 11) / 9007199254740992.0;
                ft->w.head_w[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
        memset(ft->w.head_b, 0, C_ * sizeof(float));
}

ss_err_t ss_minilm_ft_save(const ss_minilm_ft_t *ft, ss_mfile_t *mf, const char *config_json,
                           size_t config_len, const char *vocab, size_t vocab_len,
                           const char *extra_json, char *errstr, size_t errstr_size)
{
        ss_err_t err =
            ss_mfile_add(mf, "config", SS_MF_STR, config_json, config_len, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "vocab", SS_MF_STR, vocab, vocab_len, errstr, errstr_size);
        size_t D = (size_t)ft->cfg.dim;
        for (int i = 0; !err && i < ft->n_tensors; i++) {
                const ss_minilm_ft_tensor_t *t = &ft->tensors[i];
                const float *src = ft->params + t->off;
                const char *dot = strrchr(t->name, '.');
                if (strncmp(dot - 3, "qkv", 3)) {
                        err = ss_mfile_add(mf, t->name, SS_MF_F32, src, t->count, errstr,
                                           errstr_size);
                        continue;
                }
                size_t cnt = dot[1] == 'w' ? D * D : D;
                for (int k = 0; !err && k < 3; k++) {
                        char nm[40];
                        snprintf(nm, sizeof(nm), "%.*s%c.%c", (int)(dot - 3 - t->name), t->name,
                                 "qkv"[k], dot[1]);
                        err = ss_mfile_add(mf, nm, SS_MF_F32, src + k * cnt, cnt, errstr,
                                           errstr_size);
                }
        }
        if (err)
                return err;
        cJSON *hc = extra_json ? cJSON_Parse(extra_json) : cJSON_CreateObject();
        if (!hc || !cJSON_IsObject(hc)) {
                cJSON_Delete(hc);
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: head config is not a JSON object");
        }
        cJSON_DeleteItemFromObject(hc, "pool_layers");
        cJSON_DeleteItemFromObject(hc, "normalize");
        cJSON *pl = cJSON_AddArrayToObject(hc, "pool_layers");
        cJSON_AddItemToArray(pl, cJSON_CreateNumber(ft->cfg.n_layers));
        cJSON_AddBoolToObject(hc, "normalize", 0);
        char *txt = cJSON_PrintUnformatted(hc);
        cJSON_Delete(hc);
        if (!txt)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory");
        err = ss_mfile_add(mf, "head.config", SS_MF_STR, txt, strlen(txt), errstr, errstr_size);
        free(txt);
        return err;
}

const ss_minilm_config_t *ss_minilm_ft_config(const ss_minilm_ft_t *ft)
{
        return &ft->cfg;
}

const ss_minilm_ft_tensor_t *ss_minilm_ft_tensors(const ss_minilm_ft_t *ft, int *n)
{
        *n = ft->n_tensors;
        return ft->tensors;
}

float *ss_minilm_ft_params(ss_minilm_ft_t *ft, size_t *n)
{
        *n = ft->n_params;
        return ft->params;
}

float *ss_minilm_ft_grads(ss_minilm_ft_t *ft, size_t *n)
{
        *n = ft->n_params;
        return ft->grads;
}

size_t ss_minilm_ft_trained_off(const ss_minilm_ft_t *ft)
{
        return ft->trained_off;
}

int ss_minilm_ft_first_layer(const ss_minilm_ft_t *ft)
{
        return ft->first;
}

void ss_minilm_ft_set_reference(ss_minilm_ft_t *ft, int on)
{
        ft->reference = on;
}

void ss_minilm_ft_set_dropout(ss_minilm_ft_t *ft, float p, uint64_t seed)
{
        ft->dropout = p > 0.0f && p < 1.0f ? p : 0.0f;
        ft->rng = seed;
}

void ss_minilm_ft_set_class_weights(ss_minilm_ft_t *ft, const float *w)
{
        memcpy(ft->class_w, w, sizeof(ft->class_w));
}
