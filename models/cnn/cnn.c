/*
 * cnn: the network of the text CNN (Kim 2014), forward, backward and Adam.
 *
 * Forward: the embeddings of every window of kmax tokens (the widest filter)
 * are copied side by side into one im2col row (zero vectors past the end of a
 * text), one row per window position of the narrowest width. Width k reads
 * the first k*D floats of each row (leading dimension kmax*D), so one im2col
 * serves every width and the convolution of the whole batch with width k is
 * one sgemm [P][k*D] x [k*D][F]. Max over time is taken on the raw responses and the
 * bias and ReLU are applied afterwards (both are monotone, so
 * max_t ReLU(z_t + b) = ReLU(max_t z_t + b)); the row of each maximum is kept
 * for the backward pass. The pooled features of all widths are concatenated,
 * dropped out (training only, inverted dropout), and a linear layer plus
 * softmax gives the class probabilities.
 *
 * Backward: only the window that won the max of a (text, filter) pair gets
 * gradient, so rather than a mostly-zero [P][F] gradient and two sgemms,
 * each winning window adds g * window to its filter's gradient and g * filter
 * to the embedding rows it covers (read straight from the embedding table),
 * which costs B*H*k*D instead of P*F*k*D. The embedding gradient is sparse:
 * slot_of maps a vocabulary id to its row in emb_rows. Adam updates the dense
 * parameters every step and each embedding row with gradient lazily (its own
 * step count, as in "lazy Adam"), so a step costs O(rows in the batch), not
 * O(V). The small output layer runs as plain loops.
 *
 * Every loop runs in a fixed order and the one sgemm per width splits its work
 * over rows and filters only (never the reduction), so results are the same
 * for a seed whatever the BLAS thread count.
 */
#include "cnn.h"

#include <assert.h>
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_err.h"
#include "model_impl.h"
#include "tok.h"
#include "wordpiece.h"

void ss_cnn_config_default(ss_cnn_config_t *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->vocab_size = 0;
        cfg->emb_dim = 128;
        cfg->max_len = 64;
        cfg->n_widths = 3;
        cfg->widths[0] = 3;
        cfg->widths[1] = 4;
        cfg->widths[2] = 5;
        cfg->n_filters = 100;
        cfg->n_classes = 3;
        cfg->max_batch = 128;
        cfg->dropout = 0.5f;
}

ss_err_t ss_cnn_config_check(const ss_cnn_config_t *cfg, char *errstr, size_t errstr_size)
{
#define SS_CNN_RANGE(field, lo, hi)                                                                \
        do {                                                                                       \
                if (cfg->field < (lo) || cfg->field > (hi))                                        \
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,                      \
                                          "cnn config: " #field " = %g is out of range [%g, %g]",  \
                                          (double)cfg->field, (double)(lo), (double)(hi));         \
        } while (0)
        SS_CNN_RANGE(vocab_size, 1, 1 << 24);
        SS_CNN_RANGE(emb_dim, 1, 4096);
        SS_CNN_RANGE(max_len, 1, 4096);
        SS_CNN_RANGE(n_widths, 1, SS_CNN_MAX_WIDTHS);
        SS_CNN_RANGE(n_filters, 1, 4096);
        SS_CNN_RANGE(n_classes, 2, 64);
        SS_CNN_RANGE(max_batch, 1, 65536);
        SS_CNN_RANGE(dropout, 0.0f, 0.9f);
#undef SS_CNN_RANGE
        for (int w = 0; w < cfg->n_widths; w++) {
                int k = cfg->widths[w];
                if (k < 1 || k > cfg->max_len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "cnn config: widths[%d] = %d is out of range [1, %d]", w,
                                          k, cfg->max_len);
                if (w > 0 && k <= cfg->widths[w - 1])
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "cnn config: widths must ascend (widths[%d] = %d after "
                                          "%d)",
                                          w, k, cfg->widths[w - 1]);
        }
        if ((int64_t)cfg->max_batch * cfg->max_len > (1 << 26))
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "cnn config: max_batch x max_len = %lld is too large",
                                  (long long)cfg->max_batch * cfg->max_len);
        return SS_OK;
}

static int ss_cnn_kmax(const ss_cnn_config_t *cfg)
{
        return cfg->widths[cfg->n_widths - 1];
}

static int ss_cnn_hidden(const ss_cnn_config_t *cfg)
{
        return cfg->n_widths * cfg->n_filters;
}

size_t ss_cnn_n_dense(const ss_cnn_config_t *cfg)
{
        size_t D = (size_t)cfg->emb_dim, F = (size_t)cfg->n_filters, n = 0;
        for (int w = 0; w < cfg->n_widths; w++)
                n += F * (size_t)cfg->widths[w] * D;
        n += (size_t)cfg->n_widths * F;                           /* conv_b */
        n += (size_t)cfg->n_classes * (size_t)ss_cnn_hidden(cfg); /* fc_w */
        n += (size_t)cfg->n_classes;                              /* fc_b */
        return n;
}

/* Points the views of p at consecutive parts of mem, in the documented order. */
static void ss_cnn_dense_views(ss_cnn_dense_t *p, float *mem, const ss_cnn_config_t *cfg)
{
        size_t D = (size_t)cfg->emb_dim, F = (size_t)cfg->n_filters;
        memset(p, 0, sizeof(*p));
        for (int w = 0; w < cfg->n_widths; w++) {
                p->conv_w[w] = mem;
                mem += F * (size_t)cfg->widths[w] * D;
        }
        p->conv_b = mem;
        mem += (size_t)cfg->n_widths * F;
        p->fc_w = mem;
        mem += (size_t)cfg->n_classes * (size_t)ss_cnn_hidden(cfg);
        p->fc_b = mem;
}

static void ss_cnn_grads_free(ss_cnn_grads_t *g)
{
        if (!g)
                return;
        free(g->dense_mem);
        free(g->slot_of);
        free(g->touched);
        free(g->emb_rows);
        free(g->dlogits);
        free(g->dhidden);
        free(g->m_dense);
        free(g->v_dense);
        free(g->m_emb);
        free(g->v_emb);
        free(g->emb_step);
        free(g);
}

void ss_cnn_destroy(ss_cnn_t *m)
{
        if (!m)
                return;
        free(m->w.emb);
        free(m->w.dense_mem);
        free(m->a.ids);
        free(m->a.lens);
        free(m->a.row_off);
        free(m->a.cols);
        free(m->a.conv);
        free(m->a.argmax);
        free(m->a.pooled);
        free(m->a.mask);
        free(m->a.hidden);
        free(m->a.logits);
        free(m->a.probs);
        ss_cnn_table_disable(m);
        ss_cnn_grads_free(m->g);
        free(m);
}

ss_cnn_t *ss_cnn_new(const ss_cnn_config_t *cfg, char *errstr, size_t errstr_size)
{
        if (ss_cnn_config_check(cfg, errstr, errstr_size) != SS_OK)
                return NULL;
        ss_cnn_t *m = calloc(1, sizeof(*m));
        if (!m) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
                return NULL;
        }
        m->cfg = *cfg;
        size_t V = (size_t)cfg->vocab_size, D = (size_t)cfg->emb_dim;
        size_t B = (size_t)cfg->max_batch, T = (size_t)cfg->max_len;
        size_t H = (size_t)ss_cnn_hidden(cfg), C = (size_t)cfg->n_classes;
        size_t KD = (size_t)ss_cnn_kmax(cfg) * D, F = (size_t)cfg->n_filters;
        m->n_dense = ss_cnn_n_dense(cfg);
        m->w.emb = calloc(V * D, sizeof(float));
        m->w.dense_mem = calloc(m->n_dense, sizeof(float));
        m->a.ids = calloc(B * T, sizeof(int32_t));
        m->a.lens = calloc(B, sizeof(int32_t));
        m->a.row_off = calloc(B + 1, sizeof(int32_t));
        m->a.cols = calloc(B * T * KD, sizeof(float));
        m->a.conv = calloc(B * T * F, sizeof(float));
        m->a.argmax = calloc(B * H, sizeof(int32_t));
        m->a.pooled = calloc(B * H, sizeof(float));
        m->a.mask = calloc(B * H, sizeof(float));
        m->a.hidden = calloc(B * H, sizeof(float));
        m->a.logits = calloc(B * C, sizeof(float));
        m->a.probs = calloc(B * C, sizeof(float));
        if (!m->w.emb || !m->w.dense_mem || !m->a.ids || !m->a.lens || !m->a.row_off ||
            !m->a.cols || !m->a.conv || !m->a.argmax || !m->a.pooled || !m->a.mask ||
            !m->a.hidden || !m->a.logits || !m->a.probs) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                           "cnn: out of memory for V=%zu D=%zu B=%zu T=%zu", V, D, B, T);
                ss_cnn_destroy(m);
                return NULL;
        }
        ss_cnn_dense_views(&m->w.p, m->w.dense_mem, cfg);
        m->rng = 0x9e3779b97f4a7c15ull;
        return m;
}

/* ---- random numbers: xorshift64*, seeded through splitmix64 ---- */

static uint64_t ss_cnn_splitmix(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
}

static uint64_t ss_cnn_rand(uint64_t *s)
{
        uint64_t x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1) with 24 random bits. */
static float ss_cnn_randf(uint64_t *s)
{
        return (float)(ss_cnn_rand(s) >> 40) * (1.0f / 16777216.0f);
}

static void ss_cnn_fill_uniform(float *x, size_t n, float bound, uint64_t *s)
{
        for (size_t i = 0; i < n; i++)
                x[i] = (2.0f * ss_cnn_randf(s) - 1.0f) * bound;
}

void ss_cnn_init_random(ss_cnn_t *m, uint64_t seed)
{
        const ss_cnn_config_t *c = &m->cfg;
        uint64_t s = ss_cnn_splitmix(seed) | 1;
        size_t D = (size_t)c->emb_dim, F = (size_t)c->n_filters, H = (size_t)ss_cnn_hidden(c);
        size_t C = (size_t)c->n_classes;
        ss_cnn_fill_uniform(m->w.emb, (size_t)c->vocab_size * D, 0.25f, &s);
        for (int w = 0; w < c->n_widths; w++) {
                size_t K = (size_t)c->widths[w] * D;
                ss_cnn_fill_uniform(m->w.p.conv_w[w], F * K, sqrtf(6.0f / (float)K), &s);
        }
        memset(m->w.p.conv_b, 0, (size_t)c->n_widths * F * sizeof(float));
        ss_cnn_fill_uniform(m->w.p.fc_w, C * H, sqrtf(6.0f / (float)(H + C)), &s);
        memset(m->w.p.fc_b, 0, C * sizeof(float));
        m->rng = ss_cnn_splitmix(seed ^ 0xd1b54a32d192ed03ull) | 1;
}

/* ---- kernels ---- */

int ss_cnn_im2col(float *cols, int32_t *row_off, const float *emb, const int32_t *ids,
                  const int32_t *lens, int n, int T, int D, int kmin, int kmax)
{
        size_t K = (size_t)kmax * (size_t)D;
        int P = 0;
        for (int i = 0; i < n; i++) {
                int len = lens[i], npos = len - kmin + 1 > 1 ? len - kmin + 1 : 1;
                const int32_t *tid = ids + (size_t)i * (size_t)T;
                row_off[i] = P;
                for (int t = 0; t < npos; t++, P++) {
                        float *row = cols + (size_t)P * K;
                        int nin = len - t < kmax ? len - t : kmax; /* tokens inside the text */
                        for (int j = 0; j < nin; j++)
                                memcpy(row + (size_t)j * D, emb + (size_t)tid[t + j] * (size_t)D,
                                       (size_t)D * sizeof(float));
                        if (nin < kmax)
                                memset(row + (size_t)(nin > 0 ? nin : 0) * D, 0,
                                       (size_t)(kmax - (nin > 0 ? nin : 0)) * D * sizeof(float));
                }
        }
        row_off[n] = P;
        return P;
}

void ss_cnn_conv_gemm(float *conv, const float *cols, int ldcols, const float *w, int P, int F,
                      int K)
{
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, F, K, 1.0f, cols, ldcols, w, K,
                    0.0f, conv, F);
}

void ss_cnn_matmul_ref(float *out, const float *x, const float *w, int P, int F, int K)
{
        for (int p = 0; p < P; p++)
                for (int f = 0; f < F; f++) {
                        double s = 0.0;
                        for (int q = 0; q < K; q++)
                                s += (double)x[(size_t)p * K + q] * (double)w[(size_t)f * K + q];
                        out[(size_t)p * F + f] = (float)s;
                }
}

int ss_cnn_conv_ref(float *conv, const float *emb, const int32_t *ids, const int32_t *lens, int n,
                    int T, int D, int k, const float *w, int F)
{
        int P = 0;
        for (int i = 0; i < n; i++) {
                int len = lens[i], npos = len - k + 1 > 1 ? len - k + 1 : 1;
                const int32_t *tid = ids + (size_t)i * (size_t)T;
                for (int t = 0; t < npos; t++, P++)
                        for (int f = 0; f < F; f++) {
                                double s = 0.0;
                                for (int j = 0; j < k && t + j < len; j++) {
                                        const float *e = emb + (size_t)tid[t + j] * (size_t)D;
                                        const float *wf = w + ((size_t)f * k + j) * (size_t)D;
                                        for (int d = 0; d < D; d++)
                                                s += (double)e[d] * (double)wf[d];
                                }
                                conv[(size_t)P * F + f] = (float)s;
                        }
        }
        return P;
}

/* pooled[i][off + f] = ReLU(max_t conv[row][f] + b[f]) over the max(lens[i] - k + 1, 1)
 * window positions of width k of text i; argmax keeps the row. */
static void ss_cnn_maxpool(float *pooled, int32_t *argmax, const float *conv, const float *b,
                           const int32_t *row_off, const int32_t *lens, int k, int n, int F, int H,
                           int off)
{
        for (int i = 0; i < n; i++) {
                float *out = pooled + (size_t)i * H + off;
                int r0 = row_off[i], r1 = r0 + (lens[i] - k + 1 > 1 ? lens[i] - k + 1 : 1);
                memcpy(out, conv + (size_t)r0 * F, (size_t)F * sizeof(float));
                if (argmax) {
                        /* selects without branches, so that the loops vectorise */
                        int32_t *arg = argmax + (size_t)i * H + off;
                        for (int f = 0; f < F; f++)
                                arg[f] = r0;
                        for (int r = r0 + 1; r < r1; r++) {
                                const float *row = conv + (size_t)r * F;
                                for (int f = 0; f < F; f++) {
                                        int gt = row[f] > out[f];
                                        arg[f] = gt ? r : arg[f];
                                        out[f] = gt ? row[f] : out[f];
                                }
                        }
                } else {
                        for (int r = r0 + 1; r < r1; r++) {
                                const float *row = conv + (size_t)r * F;
                                for (int f = 0; f < F; f++)
                                        out[f] = row[f] > out[f] ? row[f] : out[f];
                        }
                }
                for (int f = 0; f < F; f++) {
                        float z = out[f] + b[f];
                        out[f] = z > 0.0f ? z : 0.0f;
                }
        }
}

/* hidden = pooled * mask, mask = 0 with probability p else 1/(1-p). */
static void ss_cnn_dropout(float *hidden, float *mask, const float *pooled, size_t n, float p,
                           uint64_t *rng)
{
        float keep = 1.0f / (1.0f - p);
        for (size_t i = 0; i < n; i++) {
                mask[i] = ss_cnn_randf(rng) < p ? 0.0f : keep;
                hidden[i] = pooled[i] * mask[i];
        }
}

/* logits [n][C] = hidden [n][H] x fc_w^T + fc_b (plain loops: tiny, and the same result for
 * any BLAS thread count) */
static void ss_cnn_linear(float *logits, const float *hidden, const float *fc_w, const float *fc_b,
                          int n, int H, int C)
{
        for (int i = 0; i < n; i++)
                for (int c = 0; c < C; c++) {
                        const float *x = hidden + (size_t)i * H, *w = fc_w + (size_t)c * H;
                        float s = fc_b[c];
                        for (int h = 0; h < H; h++)
                                s += x[h] * w[h];
                        logits[(size_t)i * C + c] = s;
                }
}

static void ss_cnn_softmax(float *probs, const float *logits, int n, int C)
{
        for (int i = 0; i < n; i++) {
                const float *z = logits + (size_t)i * C;
                float *p = probs + (size_t)i * C, mx = z[0], sum = 0.0f;
                for (int c = 1; c < C; c++)
                        mx = z[c] > mx ? z[c] : mx;
                for (int c = 0; c < C; c++) {
                        p[c] = expf(z[c] - mx);
                        sum += p[c];
                }
                for (int c = 0; c < C; c++)
                        p[c] /= sum;
        }
}

static ss_err_t ss_cnn_batch_check(const ss_cnn_t *m, const int32_t *ids, const int32_t *lens,
                                   int n, char *errstr, size_t errstr_size)
{
        const ss_cnn_config_t *c = &m->cfg;
        if (n < 0 || n > c->max_batch)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "cnn: batch of %d texts, expected 0..%d", n, c->max_batch);
        for (int i = 0; i < n; i++) {
                if (lens[i] < 0 || lens[i] > c->max_len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "cnn: text %d has %d tokens, expected 0..%d", i, lens[i],
                                          c->max_len);
                for (int t = 0; t < lens[i]; t++) {
                        int32_t id = ids[(size_t)i * c->max_len + t];
                        if (id < 0 || id >= c->vocab_size)
                                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                                  "cnn: text %d token %d has id %d, expected "
                                                  "0..%d",
                                                  i, t, id, c->vocab_size - 1);
                }
        }
        return SS_OK;
}

/* pooled [n][H] of the batch in m->a through one im2col and one sgemm per width (the argmax
 * rows kept when training). */
static void ss_cnn_conv_pool(ss_cnn_t *m, int n, int train)
{
        const ss_cnn_config_t *c = &m->cfg;
        ss_cnn_acts_t *a = &m->a;
        int T = c->max_len, D = c->emb_dim, F = c->n_filters, H = ss_cnn_hidden(c);
        /* One im2col for every width: rows of kmax embeddings at the positions of the
         * narrowest width; width k reads the first k*D floats of each row. */
        int kmin = c->widths[0], kmax = ss_cnn_kmax(c);
        int P = ss_cnn_im2col(a->cols, a->row_off, m->w.emb, a->ids, a->lens, n, T, D, kmin, kmax);
        for (int w = 0; w < c->n_widths; w++) {
                int k = c->widths[w];
                ss_cnn_conv_gemm(a->conv, a->cols, kmax * D, m->w.p.conv_w[w], P, F, k * D);
                ss_cnn_maxpool(a->pooled, train ? a->argmax : NULL, a->conv,
                               m->w.p.conv_b + (size_t)w * F, a->row_off, a->lens, k, n, F, H,
                               w * F);
        }
}

ss_err_t ss_cnn_forward(ss_cnn_t *m, const int32_t *ids, const int32_t *lens, int n, int train,
                        char *errstr, size_t errstr_size)
{
        ss_err_t err = ss_cnn_batch_check(m, ids, lens, n, errstr, errstr_size);
        if (err != SS_OK)
                return err;
        const ss_cnn_config_t *c = &m->cfg;
        ss_cnn_acts_t *a = &m->a;
        int T = c->max_len, H = ss_cnn_hidden(c);
        a->batch = n;
        a->train = train && c->dropout > 0.0f;
        a->has_argmax = train != 0;
        if (n == 0)
                return SS_OK;
        if (ids != a->ids)
                memcpy(a->ids, ids, (size_t)n * (size_t)T * sizeof(int32_t));
        if (lens != a->lens)
                memcpy(a->lens, lens, (size_t)n * sizeof(int32_t));
        if (m->tab && !train)
                ss_cnn_table_pool(m, a->ids, a->lens, n, a->pooled);
        else
                ss_cnn_conv_pool(m, n, train);
        if (a->train)
                ss_cnn_dropout(a->hidden, a->mask, a->pooled, (size_t)n * H, c->dropout, &m->rng);
        else
                memcpy(a->hidden, a->pooled, (size_t)n * H * sizeof(float));
        ss_cnn_linear(a->logits, a->hidden, m->w.p.fc_w, m->w.p.fc_b, n, H, c->n_classes);
        ss_cnn_softmax(a->probs, a->logits, n, c->n_classes);
        return SS_OK;
}

double ss_cnn_loss(const ss_cnn_t *m, const int32_t *labels, const float *class_weights)
{
        int n = m->a.batch, C = m->cfg.n_classes;
        if (n == 0)
                return 0.0;
        double loss = 0.0;
        for (int i = 0; i < n; i++) {
                double p = m->a.probs[(size_t)i * C + labels[i]];
                double cw = class_weights ? class_weights[labels[i]] : 1.0;
                loss -= cw * log(p > 1e-30 ? p : 1e-30);
        }
        return loss / n;
}

/* ---- training ---- */

ss_err_t ss_cnn_train_begin(ss_cnn_t *m)
{
        if (m->g)
                return SS_OK;
        const ss_cnn_config_t *c = &m->cfg;
        size_t V = (size_t)c->vocab_size, D = (size_t)c->emb_dim;
        size_t BT = (size_t)c->max_batch * (size_t)c->max_len, B = (size_t)c->max_batch;
        size_t H = (size_t)ss_cnn_hidden(c), C = (size_t)c->n_classes;
        ss_cnn_grads_t *g = calloc(1, sizeof(*g));
        if (!g)
                return SS_ERR_NOMEM;
        g->dense_mem = calloc(m->n_dense, sizeof(float));
        g->slot_of = malloc(V * sizeof(int32_t));
        g->touched = calloc(BT, sizeof(int32_t));
        g->emb_rows = calloc(BT * D, sizeof(float));
        g->dlogits = calloc(B * C, sizeof(float));
        g->dhidden = calloc(B * H, sizeof(float));
        g->m_dense = calloc(m->n_dense, sizeof(float));
        g->v_dense = calloc(m->n_dense, sizeof(float));
        g->m_emb = calloc(V * D, sizeof(float));
        g->v_emb = calloc(V * D, sizeof(float));
        g->emb_step = calloc(V, sizeof(int32_t));
        if (!g->dense_mem || !g->slot_of || !g->touched || !g->emb_rows || !g->dlogits ||
            !g->dhidden || !g->m_dense || !g->v_dense || !g->m_emb || !g->v_emb || !g->emb_step) {
                ss_cnn_grads_free(g);
                return SS_ERR_NOMEM;
        }
        for (size_t v = 0; v < V; v++)
                g->slot_of[v] = -1;
        ss_cnn_dense_views(&g->p, g->dense_mem, c);
        m->g = g;
        return SS_OK;
}

/* dlogits = cw[y] * (p - onehot(y)) / n */
static void ss_cnn_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                                         const float *cw, int n, int C)
{
        for (int i = 0; i < n; i++) {
                float s = (cw ? cw[labels[i]] : 1.0f) / (float)n;
                for (int c = 0; c < C; c++) {
                        float p = probs[(size_t)i * C + c];
                        dlogits[(size_t)i * C + c] = s * (p - (c == labels[i] ? 1.0f : 0.0f));
                }
        }
}

/* dfc_w [C][H] = dlogits^T x hidden, dfc_b = column sums, dhidden = (dlogits x fc_w) * mask */
static void ss_cnn_linear_backward(float *dhidden, float *dfc_w, float *dfc_b, const float *dlogits,
                                   const float *hidden, const float *fc_w, const float *mask, int n,
                                   int H, int C)
{
        for (int c = 0; c < C; c++) {
                float *dw = dfc_w + (size_t)c * H;
                memset(dw, 0, (size_t)H * sizeof(float));
                dfc_b[c] = 0.0f;
                for (int i = 0; i < n; i++) {
                        float g = dlogits[(size_t)i * C + c];
                        const float *x = hidden + (size_t)i * H;
                        for (int h = 0; h < H; h++)
                                dw[h] += g * x[h];
                        dfc_b[c] += g;
                }
        }
        for (int i = 0; i < n; i++) {
                float *dh = dhidden + (size_t)i * H;
                memset(dh, 0, (size_t)H * sizeof(float));
                for (int c = 0; c < C; c++) {
                        float g = dlogits[(size_t)i * C + c];
                        const float *w = fc_w + (size_t)c * H;
                        for (int h = 0; h < H; h++)
                                dh[h] += g * w[h];
                }
                if (mask)
                        for (int h = 0; h < H; h++)
                                dh[h] *= mask[(size_t)i * H + h];
        }
}

/* The gradient row of embedding row id (zeroed on its first touch in the batch). */
static float *ss_cnn_emb_grad_row(ss_cnn_grads_t *g, int32_t id, int D)
{
        if (g->slot_of[id] < 0) {
                g->slot_of[id] = g->n_touched;
                g->touched[g->n_touched] = id;
                memset(g->emb_rows + (size_t)g->n_touched * D, 0, (size_t)D * sizeof(float));
                g->n_touched++;
        }
        return g->emb_rows + (size_t)g->slot_of[id] * D;
}

/*
 * Backward of one width through max-over-time, the ReLU and the convolution.
 * Only the argmax window of each (text, filter) receives gradient, so instead
 * of a dense [P][F] gradient and two sgemms, each such window adds g * window
 * to its filter's gradient and g * filter to the embedding rows it covers
 * (reading the window straight from the embedding table). dW [F][k*D] and
 * db [F] are overwritten.
 */
static void ss_cnn_conv_backward(float *dw, float *db, ss_cnn_grads_t *g, const float *dhidden,
                                 const float *pooled, const int32_t *argmax, const int32_t *row_off,
                                 const float *w, const float *emb, const int32_t *ids,
                                 const int32_t *lens, int n, int T, int D, int k, int F, int H,
                                 int off)
{
        size_t K = (size_t)k * (size_t)D;
        memset(dw, 0, (size_t)F * K * sizeof(float));
        memset(db, 0, (size_t)F * sizeof(float));
        for (int i = 0; i < n; i++) {
                const int32_t *tid = ids + (size_t)i * (size_t)T;
                for (int f = 0; f < F; f++) {
                        size_t q = (size_t)i * H + off + f;
                        float gr = dhidden[q];
                        if (pooled[q] <= 0.0f || gr == 0.0f)
                                continue; /* ReLU closed (or dropped out): no gradient */
                        int t = argmax[q] - row_off[i];
                        db[f] += gr;
                        for (int j = 0; j < k && t + j < lens[i]; j++) {
                                int32_t id = tid[t + j];
                                const float *e = emb + (size_t)id * D;
                                const float *wf = w + (size_t)f * K + (size_t)j * D;
                                float *dwf = dw + (size_t)f * K + (size_t)j * D;
                                float *de = ss_cnn_emb_grad_row(g, id, D);
                                for (int d = 0; d < D; d++) {
                                        dwf[d] += gr * e[d];
                                        de[d] += gr * wf[d];
                                }
                        }
                }
        }
}

void ss_cnn_backward(ss_cnn_t *m, const int32_t *labels, const float *class_weights)
{
        if (m->a.batch > 0)
                ss_cnn_softmax_xent_backward(m->g->dlogits, m->a.probs, labels, class_weights,
                                             m->a.batch, m->cfg.n_classes);
        ss_cnn_backward_logits(m);
}

void ss_cnn_backward_logits(ss_cnn_t *m)
{
        const ss_cnn_config_t *c = &m->cfg;
        ss_cnn_acts_t *a = &m->a;
        ss_cnn_grads_t *g = m->g;
        int n = a->batch, T = c->max_len, D = c->emb_dim, F = c->n_filters, C = c->n_classes;
        int H = ss_cnn_hidden(c);
        assert(a->has_argmax || n == 0); /* the forward pass must have been a training one */
        /* Forget the previous batch's sparse rows. */
        for (int s = 0; s < g->n_touched; s++)
                g->slot_of[g->touched[s]] = -1;
        g->n_touched = 0;
        memset(g->dense_mem, 0, m->n_dense * sizeof(float));
        if (n == 0)
                return;
        ss_cnn_linear_backward(g->dhidden, g->p.fc_w, g->p.fc_b, g->dlogits, a->hidden, m->w.p.fc_w,
                               a->train ? a->mask : NULL, n, H, C);
        for (int w = 0; w < c->n_widths; w++) {
                ss_cnn_conv_backward(g->p.conv_w[w], g->p.conv_b + (size_t)w * F, g, g->dhidden,
                                     a->pooled, a->argmax, a->row_off, m->w.p.conv_w[w], m->w.emb,
                                     a->ids, a->lens, n, T, D, c->widths[w], F, H, w * F);
        }
}

/* One Adam update of n values; decay is the decoupled weight decay factor lr*wd (0 for none). */
static void ss_cnn_adam_update(float *x, float *mo, float *ve, const float *grad, size_t n,
                               float lr, float b1, float b2, float eps, float bc1, float bc2,
                               float decay)
{
        for (size_t i = 0; i < n; i++) {
                float gi = grad[i];
                mo[i] = b1 * mo[i] + (1.0f - b1) * gi;
                ve[i] = b2 * ve[i] + (1.0f - b2) * gi * gi;
                float mhat = mo[i] / bc1, vhat = ve[i] / bc2;
                x[i] -= lr * mhat / (sqrtf(vhat) + eps) + decay * x[i];
        }
}

void ss_cnn_adam_step(ss_cnn_t *m, const ss_cnn_adam_t *o)
{
        const ss_cnn_config_t *c = &m->cfg;
        ss_cnn_grads_t *g = m->g;
        size_t D = (size_t)c->emb_dim, F = (size_t)c->n_filters, H = (size_t)ss_cnn_hidden(c);
        g->step++;
        float bc1 = 1.0f - powf(o->beta1, (float)g->step);
        float bc2 = 1.0f - powf(o->beta2, (float)g->step);
        float decay = o->lr * o->weight_decay;
        /* conv weights and fc weights decay; biases do not. */
        for (int w = 0; w < c->n_widths; w++) {
                size_t off = (size_t)(m->w.p.conv_w[w] - m->w.dense_mem);
                size_t n = F * (size_t)c->widths[w] * D;
                ss_cnn_adam_update(m->w.dense_mem + off, g->m_dense + off, g->v_dense + off,
                                   g->dense_mem + off, n, o->lr, o->beta1, o->beta2, o->eps, bc1,
                                   bc2, decay);
        }
        size_t off = (size_t)(m->w.p.conv_b - m->w.dense_mem);
        ss_cnn_adam_update(m->w.dense_mem + off, g->m_dense + off, g->v_dense + off,
                           g->dense_mem + off, (size_t)c->n_widths * F, o->lr, o->beta1, o->beta2,
                           o->eps, bc1, bc2, 0.0f);
        off = (size_t)(m->w.p.fc_w - m->w.dense_mem);
        ss_cnn_adam_update(m->w.dense_mem + off, g->m_dense + off, g->v_dense + off,
                           g->dense_mem + off, (size_t)c->n_classes * H, o->lr, o->beta1, o->beta2,
                           o->eps, bc1, bc2, decay);
        off = (size_t)(m->w.p.fc_b - m->w.dense_mem);
        ss_cnn_adam_update(m->w.dense_mem + off, g->m_dense + off, g->v_dense + off,
                           g->dense_mem + off, (size_t)c->n_classes, o->lr, o->beta1, o->beta2,
                           o->eps, bc1, bc2, 0.0f);
        if (o->max_norm > 0.0f)
                for (int k = 0; k < c->n_classes; k++) {
                        float *row = m->w.p.fc_w + (size_t)k * H;
                        double s = 0.0;
                        for (size_t h = 0; h < H; h++)
                                s += (double)row[h] * row[h];
                        if (s > (double)o->max_norm * o->max_norm) {
                                float scale = o->max_norm / (float)sqrt(s);
                                for (size_t h = 0; h < H; h++)
                                        row[h] *= scale;
                        }
                }
        if (o->emb_lr <= 0.0f)
                return;
        /* Lazy Adam on the rows of this batch, each with its own step count. */
        for (int s = 0; s < g->n_touched; s++) {
                int32_t id = g->touched[s];
                int32_t step = ++g->emb_step[id];
                float ebc1 = 1.0f - powf(o->beta1, (float)step);
                float ebc2 = 1.0f - powf(o->beta2, (float)step);
                size_t row = (size_t)id * D;
                ss_cnn_adam_update(m->w.emb + row, g->m_emb + row, g->v_emb + row,
                                   g->emb_rows + (size_t)s * D, D, o->emb_lr, o->beta1, o->beta2,
                                   o->eps, ebc1, ebc2, 0.0f);
        }
}

void ss_cnn_adam_default(ss_cnn_adam_t *a)
{
        a->lr = 1e-3f;
        a->emb_lr = 1e-3f;
        a->beta1 = 0.9f;
        a->beta2 = 0.999f;
        a->eps = 1e-8f;
        a->weight_decay = 0.0f;
        a->max_norm = 3.0f;
}

void ss_cnn_weights_copy(ss_cnn_t *dst, const ss_cnn_t *src)
{
        const ss_cnn_config_t *c = &src->cfg;
        memcpy(dst->w.emb, src->w.emb, (size_t)c->vocab_size * (size_t)c->emb_dim * sizeof(float));
        memcpy(dst->w.dense_mem, src->w.dense_mem, src->n_dense * sizeof(float));
        dst->rng = src->rng;
}

/* ---- text front end ---- */

struct ss_cnn_text {
        ss_wp_t *wp;
        ss_tok_buf_t tb; /* tweet tokenizer scratch (also gives the URL/mention/emoji flags) */
        int mode;        /* ss_cnn_tok_mode_t */
        int max_len;
        int32_t unk_id;
        int32_t url_id, user_id, num_id; /* placeholder ids of the tweet mode */
};

static const char *const ss_cnn_tok_modes[] = {"wordpiece", "tweet"};

const char *ss_cnn_tok_mode_name(int mode)
{
        return mode >= 0 && mode < 2 ? ss_cnn_tok_modes[mode] : NULL;
}

int ss_cnn_tok_mode_parse(const char *s)
{
        for (int i = 0; i < 2; i++)
                if (!strcmp(s, ss_cnn_tok_modes[i]))
                        return i;
        return -1;
}

void ss_cnn_text_destroy(ss_cnn_text_t *tx)
{
        if (!tx)
                return;
        ss_wp_destroy(tx->wp);
        ss_tok_buf_free(&tx->tb);
        free(tx);
}

ss_cnn_text_t *ss_cnn_text_new(const char *vocab, size_t vocab_len, int mode, int max_len,
                               char *errstr, size_t errstr_size)
{
        if (!ss_cnn_tok_mode_name(mode) || max_len < 1) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "cnn: bad tokenizer mode %d or max_len %d", mode, max_len);
                return NULL;
        }
        ss_cnn_text_t *tx = calloc(1, sizeof(*tx));
        if (!tx) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
                return NULL;
        }
        ss_tok_buf_init(&tx->tb);
        tx->mode = mode;
        tx->max_len = max_len;
        tx->wp = ss_wp_new(vocab, vocab_len, errstr, errstr_size);
        if (!tx->wp) {
                ss_cnn_text_destroy(tx);
                return NULL;
        }
        tx->unk_id = ss_wp_unk_id(tx->wp);
        tx->url_id = ss_wp_lookup(tx->wp, "[unused0]", 9);
        tx->user_id = ss_wp_lookup(tx->wp, "[unused1]", 9);
        tx->num_id = ss_wp_lookup(tx->wp, "[unused2]", 9);
        if (mode == SS_CNN_TOK_TWEET && (tx->url_id < 0 || tx->user_id < 0 || tx->num_id < 0)) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "cnn: the vocabulary lacks [unused0..2], needed by the tweet "
                           "tokenizer mode for URL, @user and number placeholders");
                ss_cnn_text_destroy(tx);
                return NULL;
        }
        return tx;
}

int32_t ss_cnn_text_vocab_size(const ss_cnn_text_t *tx)
{
        return ss_wp_vocab_size(tx->wp);
}

/* Appends id to ids (up to max_len) and counts it. */
static void ss_cnn_text_put(const ss_cnn_text_t *tx, int32_t *ids, int *n, int *total, int *unk,
                            int32_t id)
{
        if (*n < tx->max_len)
                ids[(*n)++] = id;
        (*total)++;
        *unk += id == tx->unk_id;
}

int ss_cnn_text_encode(ss_cnn_text_t *tx, const char *text, size_t len, int32_t *ids,
                       ss_input_stats_t *st)
{
        int n = 0, total = 0, unk = 0;
        size_t np;
        const int32_t *p;
        if (ss_tok_run(&tx->tb, text, len))
                return -1;
        if (tx->mode == SS_CNN_TOK_WORDPIECE) {
                if (!(p = ss_wp_tokenize(tx->wp, text, len, &np)))
                        return -1;
                for (size_t j = 0; j < np; j++)
                        ss_cnn_text_put(tx, ids, &n, &total, &unk, p[j]);
        } else {
                for (size_t i = 0; i < tx->tb.n; i++) {
                        int kind = tx->tb.toks[i].kind;
                        if (kind == SS_TOKK_URL || kind == SS_TOKK_USER || kind == SS_TOKK_NUM) {
                                int32_t id = kind == SS_TOKK_URL    ? tx->url_id
                                             : kind == SS_TOKK_USER ? tx->user_id
                                                                    : tx->num_id;
                                ss_cnn_text_put(tx, ids, &n, &total, &unk, id);
                                continue;
                        }
                        if (!(p = ss_wp_tokenize(tx->wp, ss_tok_str(&tx->tb, i), tx->tb.toks[i].len,
                                                 &np)))
                                return -1;
                        for (size_t j = 0; j < np; j++)
                                ss_cnn_text_put(tx, ids, &n, &total, &unk, p[j]);
                }
        }
        if (st) {
                st->n_tokens = total;
                st->unk_share = total ? (float)unk / (float)total : 0.0f;
                st->has_url = (uint8_t)tx->tb.has_url;
                st->has_mention = (uint8_t)tx->tb.has_mention;
                st->has_emoji = (uint8_t)tx->tb.has_emoji;
        }
        return n;
}

/* ---- model file ---- */

ss_err_t ss_cnn_save(const ss_cnn_t *m, const char *vocab, size_t vocab_len, int tok_mode,
                     ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        const ss_cnn_config_t *c = &m->cfg;
        size_t D = (size_t)c->emb_dim, F = (size_t)c->n_filters, H = (size_t)ss_cnn_hidden(c);
        if (!ss_cnn_tok_mode_name(tok_mode))
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "cnn: bad tokenizer mode %d", tok_mode);
        cJSON *o = cJSON_CreateObject(), *w = cJSON_CreateArray();
        if (!o || !w) {
                cJSON_Delete(o);
                cJSON_Delete(w);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
        }
        cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(o, "emb_dim", c->emb_dim);
        cJSON_AddNumberToObject(o, "max_len", c->max_len);
        for (int i = 0; i < c->n_widths; i++)
                cJSON_AddItemToArray(w, cJSON_CreateNumber(c->widths[i]));
        cJSON_AddItemToObject(o, "widths", w);
        cJSON_AddNumberToObject(o, "n_filters", c->n_filters);
        cJSON_AddNumberToObject(o, "n_classes", c->n_classes);
        cJSON_AddStringToObject(o, "tokenizer", ss_cnn_tok_mode_name(tok_mode));
        char *js = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!js)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
        ss_err_t err =
            ss_mfile_add(mf, "cnn.config", SS_MF_STR, js, strlen(js), errstr, errstr_size);
        free(js);
        if (!err)
                err =
                    ss_mfile_add(mf, "cnn.vocab", SS_MF_STR, vocab, vocab_len, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "cnn.emb", SS_MF_F32, m->w.emb, (uint64_t)c->vocab_size * D,
                                   errstr, errstr_size);
        for (int i = 0; !err && i < c->n_widths; i++) {
                char name[SS_MFILE_SECNAME_MAX];
                snprintf(name, sizeof(name), "cnn.conv%d.w", c->widths[i]);
                err = ss_mfile_add(mf, name, SS_MF_F32, m->w.p.conv_w[i],
                                   F * (size_t)c->widths[i] * D, errstr, errstr_size);
        }
        if (!err)
                err = ss_mfile_add(mf, "cnn.conv.b", SS_MF_F32, m->w.p.conv_b,
                                   (uint64_t)c->n_widths * F, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "cnn.fc.w", SS_MF_F32, m->w.p.fc_w,
                                   (uint64_t)c->n_classes * H, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "cnn.fc.b", SS_MF_F32, m->w.p.fc_b, (uint64_t)c->n_classes,
                                   errstr, errstr_size);
        return err;
}

/* An integer member of the config JSON in [lo, hi]; -1 (with the message) if missing or bad. */
static int ss_cnn_json_int(const cJSON *o, const char *key, int lo, int hi, const char *what,
                           char *errstr, size_t errstr_size)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
            v->valueint < lo || v->valueint > hi) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section cnn.config: \"%s\" is missing or not an integer in "
                           "[%d, %d]",
                           what, key, lo, hi);
                return -1;
        }
        return v->valueint;
}

/* Parses the cnn.config JSON into cfg and *tok_mode. */
static ss_err_t ss_cnn_config_parse(const char *js, size_t len, const char *what,
                                    ss_cnn_config_t *cfg, int *tok_mode, char *errstr,
                                    size_t errstr_size)
{
        cJSON *o = cJSON_ParseWithLength(js, len);
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: section cnn.config is not a JSON object", what);
        }
        ss_err_t err = SS_ERR_FORMAT;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "widths");
        const cJSON *tk = cJSON_GetObjectItemCaseSensitive(o, "tokenizer");
        ss_cnn_config_default(cfg);
        if ((cfg->vocab_size =
                 ss_cnn_json_int(o, "vocab_size", 1, 1 << 24, what, errstr, errstr_size)) < 0 ||
            (cfg->emb_dim = ss_cnn_json_int(o, "emb_dim", 1, 4096, what, errstr, errstr_size)) <
                0 ||
            (cfg->max_len = ss_cnn_json_int(o, "max_len", 1, 4096, what, errstr, errstr_size)) <
                0 ||
            (cfg->n_filters = ss_cnn_json_int(o, "n_filters", 1, 4096, what, errstr, errstr_size)) <
                0 ||
            (cfg->n_classes = ss_cnn_json_int(o, "n_classes", SS_NUM_CLASSES, SS_NUM_CLASSES, what,
                                              errstr, errstr_size)) < 0)
                goto out;
        if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) < 1 ||
            cJSON_GetArraySize(w) > SS_CNN_MAX_WIDTHS) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section cnn.config: \"widths\" is not an array of 1..%d", what,
                           SS_CNN_MAX_WIDTHS);
                goto out;
        }
        cfg->n_widths = cJSON_GetArraySize(w);
        for (int i = 0; i < cfg->n_widths; i++) {
                const cJSON *k = cJSON_GetArrayItem(w, i);
                if (!cJSON_IsNumber(k) || k->valueint < 1 || k->valueint > 64) {
                        ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                   "%s: section cnn.config: widths[%d] is not in [1, 64]", what, i);
                        goto out;
                }
                cfg->widths[i] = k->valueint;
        }
        if (!cJSON_IsString(tk) || (*tok_mode = ss_cnn_tok_mode_parse(tk->valuestring)) < 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section cnn.config: \"tokenizer\" is missing or unknown", what);
                goto out;
        }
        err = SS_OK;
out:
        cJSON_Delete(o);
        return err;
}

ss_cnn_t *ss_cnn_load(const ss_mfile_t *mf, int max_batch, int *tok_mode, const char **vocab,
                      size_t *vocab_len, char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        uint64_t cnt;
        const char *js = ss_mfile_get(mf, "cnn.config", SS_MF_STR, 0, &cnt, errstr, errstr_size);
        if (!js)
                return NULL;
        ss_cnn_config_t cfg;
        if (ss_cnn_config_parse(js, (size_t)cnt, what, &cfg, tok_mode, errstr, errstr_size))
                return NULL;
        cfg.max_batch = max_batch;
        char msg[256];
        if (ss_cnn_config_check(&cfg, msg, sizeof(msg))) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: section cnn.config: %s", what,
                           msg);
                return NULL;
        }
        *vocab = ss_mfile_get(mf, "cnn.vocab", SS_MF_STR, 0, &cnt, errstr, errstr_size);
        if (!*vocab)
                return NULL;
        *vocab_len = (size_t)cnt;
        size_t D = (size_t)cfg.emb_dim, F = (size_t)cfg.n_filters;
        size_t H = (size_t)ss_cnn_hidden(&cfg), C = (size_t)cfg.n_classes;
        const float *emb = ss_mfile_get(mf, "cnn.emb", SS_MF_F32, (uint64_t)cfg.vocab_size * D,
                                        &cnt, errstr, errstr_size);
        const float *conv_w[SS_CNN_MAX_WIDTHS] = {NULL};
        for (int i = 0; emb && i < cfg.n_widths; i++) {
                char name[SS_MFILE_SECNAME_MAX];
                snprintf(name, sizeof(name), "cnn.conv%d.w", cfg.widths[i]);
                conv_w[i] = ss_mfile_get(mf, name, SS_MF_F32, F * (size_t)cfg.widths[i] * D, &cnt,
                                         errstr, errstr_size);
                if (!conv_w[i])
                        return NULL;
        }
        const float *conv_b =
            emb ? ss_mfile_get(mf, "cnn.conv.b", SS_MF_F32, (uint64_t)cfg.n_widths * F, &cnt,
                               errstr, errstr_size)
                : NULL;
        const float *fc_w =
            conv_b ? ss_mfile_get(mf, "cnn.fc.w", SS_MF_F32, C * H, &cnt, errstr, errstr_size)
                   : NULL;
        const float *fc_b =
            fc_w ? ss_mfile_get(mf, "cnn.fc.b", SS_MF_F32, C, &cnt, errstr, errstr_size) : NULL;
        if (!fc_b)
                return NULL;
        ss_cnn_t *m = ss_cnn_new(&cfg, errstr, errstr_size);
        if (!m)
                return NULL;
        memcpy(m->w.emb, emb, (size_t)cfg.vocab_size * D * sizeof(float));
        for (int i = 0; i < cfg.n_widths; i++)
                memcpy(m->w.p.conv_w[i], conv_w[i], F * (size_t)cfg.widths[i] * D * sizeof(float));
        memcpy(m->w.p.conv_b, conv_b, (size_t)cfg.n_widths * F * sizeof(float));
        memcpy(m->w.p.fc_w, fc_w, C * H * sizeof(float));
        memcpy(m->w.p.fc_b, fc_b, C * sizeof(float));
        return m;
}

/* ---- the "cnn" model kind ---- */

#define SS_CNN_SCORE_BATCH 256 /* texts per forward call when scoring */

typedef struct ss_cnn_model {
        ss_cnn_t *net;
        ss_cnn_text_t *tx;
} ss_cnn_model_t;

static void ss_cnn_kind_destroy(void *impl)
{
        ss_cnn_model_t *cm = impl;
        if (!cm)
                return;
        ss_cnn_destroy(cm->net);
        ss_cnn_text_destroy(cm->tx);
        free(cm);
}

static void *ss_cnn_kind_load(const ss_mfile_t *mf, char *errstr, size_t errstr_size)
{
        const char *what = ss_mfile_path(mf)[0] ? ss_mfile_path(mf) : "model";
        ss_cnn_model_t *cm = calloc(1, sizeof(*cm));
        if (!cm) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
                return NULL;
        }
        int mode = 0;
        const char *vocab;
        size_t vocab_len;
        char msg[512];
        cm->net =
            ss_cnn_load(mf, SS_CNN_SCORE_BATCH, &mode, &vocab, &vocab_len, errstr, errstr_size);
        if (!cm->net)
                goto fail;
        if (ss_cnn_table_enable(cm->net, errstr, errstr_size) != SS_OK)
                goto fail;
        cm->tx = ss_cnn_text_new(vocab, vocab_len, mode, cm->net->cfg.max_len, msg, sizeof(msg));
        if (!cm->tx) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: section cnn.vocab: %s", what,
                           msg);
                goto fail;
        }
        if (ss_cnn_text_vocab_size(cm->tx) != cm->net->cfg.vocab_size) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: section cnn.vocab holds %d tokens, cnn.config says %d", what,
                           ss_cnn_text_vocab_size(cm->tx), cm->net->cfg.vocab_size);
                goto fail;
        }
        return cm;
fail:
        ss_cnn_kind_destroy(cm);
        return NULL;
}

static ss_err_t ss_cnn_kind_score(void *impl, const char *const *texts, const size_t *lens,
                                  size_t n, float *probs_out, ss_input_stats_t *stats_out,
                                  char *errstr, size_t errstr_size)
{
        ss_cnn_model_t *cm = impl;
        ss_cnn_t *net = cm->net;
        int T = net->cfg.max_len, C = net->cfg.n_classes;
        for (size_t i0 = 0; i0 < n; i0 += SS_CNN_SCORE_BATCH) {
                int nb = n - i0 < SS_CNN_SCORE_BATCH ? (int)(n - i0) : SS_CNN_SCORE_BATCH;
                for (int i = 0; i < nb; i++) {
                        int len = ss_cnn_text_encode(cm->tx, texts[i0 + i], lens[i0 + i],
                                                     net->a.ids + (size_t)i * T,
                                                     stats_out ? stats_out + i0 + i : NULL);
                        if (len < 0)
                                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                  "cnn: out of memory tokenizing text %zu", i0 + i);
                        net->a.lens[i] = len;
                }
                ss_err_t err =
                    ss_cnn_forward(net, net->a.ids, net->a.lens, nb, 0, errstr, errstr_size);
                if (err != SS_OK)
                        return err;
                memcpy(probs_out + i0 * SS_NUM_CLASSES, net->a.probs,
                       (size_t)nb * (size_t)C * sizeof(float));
        }
        return SS_OK;
}

const ss_model_kind_t ss_cnn_kind = {SS_CNN_KIND, ss_cnn_kind_load, ss_cnn_kind_score,
                                     ss_cnn_kind_destroy};

void ss_cnn_weights_ema(ss_cnn_t *avg, const ss_cnn_t *src, float decay)
{
        size_t ne = (size_t)src->cfg.vocab_size * (size_t)src->cfg.emb_dim;
        float keep = 1.0f - decay;
        for (size_t i = 0; i < ne; i++)
                avg->w.emb[i] += keep * (src->w.emb[i] - avg->w.emb[i]);
        for (size_t i = 0; i < src->n_dense; i++)
                avg->w.dense_mem[i] += keep * (src->w.dense_mem[i] - avg->w.dense_mem[i]);
}
