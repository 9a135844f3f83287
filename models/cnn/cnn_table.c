/*
 * cnn_table: the CNN's convolution by table lookup, for scoring with frozen weights.
 *
 * Design. The response of filter f of width k at window position t is a sum over the window's
 * tokens, z[f] = sum_j emb[id[t+j]] . W_k[f][j], so each (token id, width, offset j) pair
 * contributes a fixed vector of F numbers. The table R[V][S][F] (S = the sum of the widths:
 * one slot per width and offset) holds these contributions, and a forward pass becomes F-wide
 * vector additions and maxima: per window, k rows added, instead of a k*D x F product (the
 * im2col sgemm costs k*D = 192..320 multiply-adds per filter and window, the table k adds).
 *
 * The table is filled lazily: a batch's ids not yet in it are gathered and their rows computed
 * with one sgemm per chunk of 64 ids ([64][D] x [D][S*F], the weight slices packed once as
 * Wcat [S*F][D]). The table is one calloc of V*S*F floats whose pages the kernel maps only when
 * written, so memory grows with the distinct ids actually scored (S*F*4 bytes each: 4.8 KB for
 * widths 3/4/5 x 100 filters), at most V of them.
 *
 * Results equal the im2col path up to float rounding (per-offset dot products summed in a
 * different order; unit.cnn_table bounds the difference). Weights must not change while a
 * table is in use (ss_cnn_table_enable after training; scoring only, never train = 1).
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define SS_CNN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SS_CNN_VECTOR_CLONES
#endif

#define SS_CNN_TABLE_CHUNK 64 /* ids per sgemm when filling */

struct ss_cnn_table {
        int S;                        /* slots: sum of the widths */
        int slot0[SS_CNN_MAX_WIDTHS]; /* first slot of each width */
        float *wcat;                  /* [S*F][D] conv weight slices, slot-major */
        float *rows;                  /* [V][S*F] contributions (pages mapped on write) */
        uint8_t *filled;              /* [V] 1 when the id's row is computed */
        int32_t *pending;             /* [B*T] ids to fill in this batch */
        float *gather;                /* [CHUNK][D] their embeddings */
        float *tmp;                   /* [CHUNK][S*F] their rows before the scatter */
        int64_t n_filled;             /* distinct ids in the table */
};

void ss_cnn_table_disable(ss_cnn_t *m)
{
        ss_cnn_table_t *t = m->tab;
        if (!t)
                return;
        free(t->wcat);
        free(t->rows);
        free(t->filled);
        free(t->pending);
        free(t->gather);
        free(t->tmp);
        free(t);
        m->tab = NULL;
}

ss_err_t ss_cnn_table_enable(ss_cnn_t *m, char *errstr, size_t errstr_size)
{
        ss_cnn_table_disable(m);
        const ss_cnn_config_t *c = &m->cfg;
        size_t V = (size_t)c->vocab_size, D = (size_t)c->emb_dim, F = (size_t)c->n_filters;
        ss_cnn_table_t *t = calloc(1, sizeof(*t));
        if (!t)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
        for (int w = 0; w < c->n_widths; w++) {
                t->slot0[w] = t->S;
                t->S += c->widths[w];
        }
        size_t SF = (size_t)t->S * F;
        t->wcat = malloc(SF * D * sizeof(float));
        t->rows = calloc(V * SF, sizeof(float));
        t->filled = calloc(V, 1);
        t->pending = malloc((size_t)c->max_batch * (size_t)c->max_len * sizeof(int32_t));
        t->gather = malloc(SS_CNN_TABLE_CHUNK * D * sizeof(float));
        t->tmp = malloc(SS_CNN_TABLE_CHUNK * SF * sizeof(float));
        m->tab = t;
        if (!t->wcat || !t->rows || !t->filled || !t->pending || !t->gather || !t->tmp) {
                ss_cnn_table_disable(m);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "cnn: out of memory for the lookup table (%zu ids x %zu floats)",
                                  V, SF);
        }
        /* Wcat row (slot0[w] + j) * F + f = conv_w[w][f][j*D .. j*D + D) */
        for (int w = 0; w < c->n_widths; w++) {
                int k = c->widths[w];
                for (int j = 0; j < k; j++)
                        for (size_t f = 0; f < F; f++)
                                memcpy(t->wcat + (((size_t)t->slot0[w] + (size_t)j) * F + f) * D,
                                       m->w.p.conv_w[w] + f * (size_t)k * D + (size_t)j * D,
                                       D * sizeof(float));
        }
        return SS_OK;
}

int64_t ss_cnn_table_ids(const ss_cnn_t *m)
{
        return m->tab ? m->tab->n_filled : 0;
}

/* Computes the rows of the n ids in t->pending (distinct, not yet filled). */
static void table_fill(ss_cnn_t *m, int n)
{
        ss_cnn_table_t *t = m->tab;
        size_t D = (size_t)m->cfg.emb_dim, SF = (size_t)t->S * (size_t)m->cfg.n_filters;
        for (int i0 = 0; i0 < n; i0 += SS_CNN_TABLE_CHUNK) {
                int nb = n - i0 < SS_CNN_TABLE_CHUNK ? n - i0 : SS_CNN_TABLE_CHUNK;
                for (int i = 0; i < nb; i++)
                        memcpy(t->gather + (size_t)i * D, m->w.emb + (size_t)t->pending[i0 + i] * D,
                               D * sizeof(float));
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, (int)SF, (int)D, 1.0f,
                            t->gather, (int)D, t->wcat, (int)D, 0.0f, t->tmp, (int)SF);
                for (int i = 0; i < nb; i++) {
                        int32_t id = t->pending[i0 + i];
                        memcpy(t->rows + (size_t)id * SF, t->tmp + (size_t)i * SF,
                               SF * sizeof(float));
                        t->filled[id] = 1;
                }
        }
        t->n_filled += n;
}

/* Fills the rows of every id of the batch that is not in the table yet. */
static void table_prepare(ss_cnn_t *m, const int32_t *ids, const int32_t *lens, int n)
{
        ss_cnn_table_t *t = m->tab;
        int T = m->cfg.max_len, np = 0;
        for (int i = 0; i < n; i++)
                for (int j = 0; j < lens[i]; j++) {
                        int32_t id = ids[(size_t)i * T + j];
                        if (!t->filled[id]) {
                                t->filled[id] = 2; /* pending: listed once */
                                t->pending[np++] = id;
                        }
                }
        if (np)
                table_fill(m, np);
}

/* out[f] += row[f] */
SS_CNN_VECTOR_CLONES static void vec_add(float *restrict out, const float *restrict row, int F)
{
        for (int f = 0; f < F; f++)
                out[f] += row[f];
}

/* mx[f] = max(mx[f], z[f]) */
SS_CNN_VECTOR_CLONES static void vec_max(float *restrict mx, const float *restrict z, int F)
{
        for (int f = 0; f < F; f++)
                mx[f] = z[f] > mx[f] ? z[f] : mx[f];
}

/* pooled[w*F + f] = ReLU(max_t z_t[f] + b[f]) of one text for width w; z [F] scratch. */
static void table_pool_width(const ss_cnn_t *m, float *pooled, float *z, const int32_t *tid,
                             int len, int w)
{
        const ss_cnn_table_t *t = m->tab;
        int k = m->cfg.widths[w], F = m->cfg.n_filters;
        size_t SF = (size_t)t->S * (size_t)F;
        const float *rows = t->rows + (size_t)t->slot0[w] * (size_t)F;
        const float *b = m->w.p.conv_b + (size_t)w * F;
        float *mx = pooled + (size_t)w * F;
        int npos = len - k + 1 > 1 ? len - k + 1 : 1;
        for (int p = 0; p < npos; p++) {
                float *acc = p == 0 ? mx : z;
                memset(acc, 0, (size_t)F * sizeof(float));
                for (int j = 0; j < k && p + j < len; j++)
                        vec_add(acc, rows + (size_t)tid[p + j] * SF + (size_t)j * F, F);
                if (p > 0)
                        vec_max(mx, z, F);
        }
        for (int f = 0; f < F; f++) {
                float v = mx[f] + b[f];
                mx[f] = v > 0.0f ? v : 0.0f;
        }
}

void ss_cnn_table_pool(ss_cnn_t *m, const int32_t *ids, const int32_t *lens, int n, float *pooled)
{
        const ss_cnn_config_t *c = &m->cfg;
        int T = c->max_len, H = c->n_widths * c->n_filters;
        table_prepare(m, ids, lens, n);
        /* z: one window's responses; m->a.conv has at least F floats */
        float *z = m->a.conv;
        for (int i = 0; i < n; i++)
                for (int w = 0; w < c->n_widths; w++)
                        table_pool_width(m, pooled + (size_t)i * H, z, ids + (size_t)i * T, lens[i],
                                         w);
}
