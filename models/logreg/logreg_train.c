/*
 * logreg_train: fitting the linear baseline.
 *
 * The data set is turned once into a compact CSR problem: raw n-gram counts
 * from the extractor, document frequencies -> smoothed IDF (scikit-learn's
 * formula), then tf-idf rows normalised exactly as ss_logreg_tfidf() does at
 * scoring time, with the hashed buckets renumbered to the d columns the data
 * uses, numbered by falling document frequency then bucket (deterministic, and
 * cache-friendly: frequent features' weights sit together).
 *
 * The objective is the class-weighted mean cross-entropy plus (l2/2)||W||^2,
 * minimised with L-BFGS (two-loop recursion, backtracking Armijo line search).
 * The gradient is computed over two fixed halves of the rows, each into its
 * own buffer, summed in a fixed order; with two threads each half runs on its
 * own thread. The result is therefore the same for one or two threads and
 * for every run.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logreg.h"
#include "ss_trainlog.h"
#include "ss_util.h"

#define C SS_NUM_CLASSES

void ss_logreg_train_config_default(ss_logreg_train_config_t *tc)
{
        memset(tc, 0, sizeof(*tc));
        ss_logreg_config_default(&tc->model);
        tc->l2 = 1e-5;
        tc->max_iter = 200;
        tc->tol = 1e-4;
        tc->history = 10;
        tc->balanced = 1;
        tc->threads = 2;
}

void ss_lr_problem_free(ss_lr_problem_t *p)
{
        free(p->rowptr);
        free(p->col);
        free(p->val);
        free(p->y);
        free(p->sw);
        free(p->col_map);
        memset(p, 0, sizeof(*p));
}

/* ---- building the problem ---- */

typedef struct ss_csr_builder {
        uint64_t *rowptr; /* [n+1] */
        uint32_t *idx;    /* [cap] bucket of each count */
        float *val;       /* [cap] */
        uint64_t nnz, cap;
} ss_csr_builder_t;

static int ss_csr_append(ss_csr_builder_t *b, const ss_sparse_t *x)
{
        if (b->nnz + x->n > b->cap) {
                uint64_t cap = b->cap ? b->cap : 1 << 20;
                while (cap < b->nnz + x->n)
                        cap *= 2;
                uint32_t *ni = realloc(b->idx, cap * sizeof(*ni));
                if (ni)
                        b->idx = ni;
                float *nv = realloc(b->val, cap * sizeof(*nv));
                if (nv)
                        b->val = nv;
                if (!ni || !nv)
                        return -1;
                b->cap = cap;
        }
        memcpy(b->idx + b->nnz, x->idx, x->n * sizeof(*x->idx));
        memcpy(b->val + b->nnz, x->val, x->n * sizeof(*x->val));
        b->nnz += x->n;
        return 0;
}

static int ss_cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Marks the vocabulary bits of the word tokens of the text the extractor saw last. */
static void ss_vocab_add(const ss_feat_t *f, const ss_logreg_config_t *cfg, uint64_t *vocab)
{
        const ss_tok_buf_t *tb = ss_feat_tokens(f);
        for (size_t i = 0; i < tb->n; i++) {
                if (!ss_logreg_is_word(tb->toks[i].kind))
                        continue;
                uint32_t bit = ss_logreg_vocab_bit(ss_tok_str(tb, i), tb->toks[i].len,
                                                   cfg->vocab_bits, cfg->vocab_seed);
                vocab[bit >> 6] |= (uint64_t)1 << (bit & 63);
        }
}

/* Sample weights summing to 1; balanced: each class carries the same total. */
static void ss_sample_weights(const ss_dataset_t *ds, int balanced, double *sw)
{
        int64_t counts[C];
        ss_dataset_label_counts(ds, counts);
        int present = 0;
        for (int c = 0; c < C; c++)
                present += counts[c] > 0;
        for (size_t i = 0; i < ds->n; i++) {
                int y = ds->labels[i];
                sw[i] =
                    balanced ? 1.0 / ((double)present * (double)counts[y]) : 1.0 / (double)ds->n;
        }
}

ss_err_t ss_logreg_problem_build(const ss_logreg_config_t *cfg, const ss_dataset_t *ds,
                                 int balanced, const ss_lexicon_t *lex, float lex_scale,
                                 ss_lr_problem_t *p, float *idf_out, uint64_t *vocab_out,
                                 char *errstr, size_t errstr_size)
{
        memset(p, 0, sizeof(*p));
        size_t D = (size_t)1 << cfg->feat.dim_bits, R = ss_logreg_rows(cfg);
        size_t vwords = ((size_t)1 << cfg->vocab_bits) / 64;
        ss_feat_t *f = ss_feat_new(&cfg->feat, NULL);
        uint32_t *df = calloc(D, sizeof(*df));
        int32_t *colof = malloc(R * sizeof(*colof));
        ss_sparse_t lx; /* the lexicon features of one text, as extra columns D.. */
        uint32_t lx_idx[SS_LOGREG_LEX_FEATS];
        float lx_val[SS_LOGREG_LEX_FEATS];
        lx.idx = lx_idx;
        lx.val = lx_val;
        lx.n = lx.cap = cfg->lex_feats;
        for (uint32_t k = 0; k < cfg->lex_feats; k++)
                lx_idx[k] = (uint32_t)(D + k);
        if (cfg->lex_feats && (!lex || !lex->cap)) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "lexicon features wanted but no lexicon given");
                free(df);
                free(colof);
                ss_feat_destroy(f);
                return SS_ERR_INVALID_ARG;
        }
        ss_csr_builder_t b = {0};
        b.rowptr = calloc(ds->n + 1, sizeof(*b.rowptr));
        ss_sparse_t x;
        ss_sparse_init(&x);
        ss_err_t err = SS_OK;
        if (!f || !df || !colof || !b.rowptr) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                 "out of memory or bad feature config (dim_bits %u)",
                                 cfg->feat.dim_bits);
                goto out;
        }
        memset(vocab_out, 0, vwords * sizeof(*vocab_out));
        ss_progress_t prog;
        ss_progress_init(&prog, "features", ds->n);
        /* pass 1: raw counts, document frequencies, vocabulary */
        for (size_t i = 0; i < ds->n; i++) {
                if (ss_feat_extract(f, ds->texts[i], ds->lens[i], SS_FEAT_RAW, &x, NULL) ||
                    ss_csr_append(&b, &x)) {
                        err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                         "%s:%u: out of memory extracting features", ds->path,
                                         ds->lines[i]);
                        goto out;
                }
                for (size_t k = 0; k < x.n; k++)
                        df[x.idx[k]]++;
                ss_vocab_add(f, cfg, vocab_out);
                if (cfg->lex_feats) {
                        ss_logreg_lex_features(lx_val, ss_feat_tokens(f), lex);
                        for (uint32_t k = 0; k < cfg->lex_feats; k++)
                                lx_val[k] *= lex_scale;
                        if (ss_csr_append(&b, &lx)) {
                                err =
                                    ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                                goto out;
                        }
                }
                b.rowptr[i + 1] = b.nnz;
                if ((i & 255) == 0)
                        ss_progress_update(&prog, i, NULL);
        }
        ss_progress_done(&prog);
        /* IDF, and compact columns numbered by falling document frequency (ties by bucket):
         * the weights of frequent features share cache lines during the gradient passes */
        uint32_t d = 0;
        for (size_t j = 0; j < D; j++) {
                idf_out[j] = (float)(log((1.0 + (double)ds->n) / (1.0 + (double)df[j])) + 1.0);
                d += df[j] > 0;
        }
        uint64_t *order = malloc((d ? d : 1) * sizeof(*order)); /* [d] (n - df) << 32 | bucket */
        if (!order) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (size_t j = 0, k = 0; j < D; j++) {
                colof[j] = -1;
                if (df[j])
                        order[k++] = (uint64_t)(ds->n - df[j]) << 32 | j;
        }
        qsort(order, d, sizeof(*order), ss_cmp_u64);
        for (uint32_t k = 0; k < d; k++)
                colof[order[k] & 0xffffffffu] = (int32_t)k;
        free(order);
        for (size_t j = D; j < R; j++)
                colof[j] = (int32_t)d++;
        p->n = ds->n;
        p->d = d;
        p->rowptr = b.rowptr;
        p->val = b.val;
        p->col = b.idx; /* renumbered in place below */
        b.rowptr = NULL, b.val = NULL, b.idx = NULL;
        p->col_map = malloc((d ? d : 1) * sizeof(*p->col_map));
        p->y = malloc((ds->n ? ds->n : 1) * sizeof(*p->y));
        p->sw = malloc((ds->n ? ds->n : 1) * sizeof(*p->sw));
        if (!p->col_map || !p->y || !p->sw) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (size_t j = 0; j < R; j++)
                if (colof[j] >= 0)
                        p->col_map[colof[j]] = (uint32_t)j;
        /* pass 2: tf-idf rows exactly as scoring computes them, then compact columns */
        for (size_t i = 0; i < ds->n; i++) {
                uint64_t lo = p->rowptr[i], hi = p->rowptr[i + 1];
                float norm = 0;
                uint64_t hb = hi - cfg->lex_feats; /* hashed buckets end, lexicon after */
                for (uint64_t k = lo; k < hb; k++) {
                        float c = p->val[k];
                        float tf = cfg->feat.sublinear_tf && c > 1 ? 1 + logf(c) : c;
                        float v = tf * idf_out[p->col[k]];
                        p->val[k] = v;
                        norm += v * v;
                }
                float inv = norm > 0 ? 1 / sqrtf(norm) : 0;
                for (uint64_t k = lo; k < hi; k++) {
                        if (k < hb)
                                p->val[k] *= inv;
                        p->col[k] = (uint32_t)colof[p->col[k]];
                }
                p->y[i] = ds->labels[i];
        }
        ss_sample_weights(ds, balanced, p->sw);
out:
        if (err)
                ss_lr_problem_free(p);
        free(b.rowptr);
        free(b.idx);
        free(b.val);
        ss_sparse_free(&x);
        ss_feat_destroy(f);
        free(df);
        free(colof);
        return err;
}

/* ---- objective ---- */

/*
 * Per-block workspace of the objective: the weights and their gradient
 * interleaved, [d][2C] = {w_0..w_C-1, g_0..g_C-1} per column, then [C] bias
 * gradient. A column's forward read and backward write share a cache line.
 */
static size_t ss_lg_block(const ss_lr_problem_t *p)
{
        return (size_t)p->d * 2 * C + C;
}

typedef struct ss_lg_job {
        const ss_lr_problem_t *p;
        const double *theta; /* [d][C] then [C] */
        double *wg;          /* [ss_lg_block()] workspace, filled by the job */
        int want_grad;
        size_t lo, hi; /* rows */
        double loss;
} ss_lg_job_t;

/* Loss and gradient (without the penalty) over rows [lo, hi). */
static void ss_lg_rows(ss_lg_job_t *j)
{
        const ss_lr_problem_t *p = j->p;
        const double *bias = j->theta + (size_t)p->d * C;
        double *WG = j->wg, *gb = j->wg + (size_t)p->d * 2 * C;
        for (size_t c = 0; c < p->d; c++) {
                for (int k = 0; k < C; k++) {
                        WG[c * 2 * C + k] = j->theta[c * C + k];
                        WG[c * 2 * C + C + k] = 0;
                }
        }
        for (int k = 0; k < C; k++)
                gb[k] = 0;
        double loss = 0;
        for (size_t i = j->lo; i < j->hi; i++) {
                double z[C] = {bias[0], bias[1], bias[2]};
                for (uint64_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) {
                        const double *w = WG + (size_t)p->col[k] * 2 * C;
                        double v = p->val[k];
                        z[0] += v * w[0];
                        z[1] += v * w[1];
                        z[2] += v * w[2];
                }
                double mx = fmax(z[0], fmax(z[1], z[2]));
                double e[C], s = 0;
                for (int c = 0; c < C; c++)
                        s += e[c] = exp(z[c] - mx);
                int y = p->y[i];
                loss += p->sw[i] * (mx + log(s) - z[y]);
                if (!j->want_grad)
                        continue;
                double dz[C];
                for (int c = 0; c < C; c++)
                        dz[c] = p->sw[i] * (e[c] / s - (c == y));
                for (uint64_t k = p->rowptr[i]; k < p->rowptr[i + 1]; k++) {
                        double *g = WG + (size_t)p->col[k] * 2 * C + C;
                        double v = p->val[k];
                        g[0] += v * dz[0];
                        g[1] += v * dz[1];
                        g[2] += v * dz[2];
                }
                for (int c = 0; c < C; c++)
                        gb[c] += dz[c];
        }
        j->loss = loss;
}

static void *ss_lg_thread(void *arg)
{
        ss_lg_rows(arg);
        return NULL;
}

/* The objective; ws holds two blocks of ss_lg_block() doubles. grad may be NULL. */
static double ss_loss_grad_ws(const ss_lr_problem_t *p, double l2, const double *theta,
                              double *grad, double *ws, int threads)
{
        size_t half = p->n / 2, blk = ss_lg_block(p);
        ss_lg_job_t jobs[2] = {{p, theta, ws, grad != NULL, 0, half, 0},
                               {p, theta, ws + blk, grad != NULL, half, p->n, 0}};
        pthread_t th;
        int spawned = threads > 1 && pthread_create(&th, NULL, ss_lg_thread, &jobs[1]) == 0;
        ss_lg_rows(&jobs[0]);
        if (spawned)
                pthread_join(th, NULL);
        else
                ss_lg_rows(&jobs[1]);
        double pen = 0;
        size_t nw = (size_t)p->d * C;
        for (size_t i = 0; i < nw; i++)
                pen += theta[i] * theta[i];
        if (grad) {
                const double *g0 = ws, *g1 = ws + blk;
                for (size_t c = 0; c < p->d; c++)
                        for (int k = 0; k < C; k++)
                                grad[c * C + k] = g0[c * 2 * C + C + k] + g1[c * 2 * C + C + k] +
                                                  l2 * theta[c * C + k];
                for (int k = 0; k < C; k++)
                        grad[nw + k] = g0[(size_t)p->d * 2 * C + k] + g1[(size_t)p->d * 2 * C + k];
        }
        return jobs[0].loss + jobs[1].loss + 0.5 * l2 * pen;
}

double ss_logreg_loss_grad(const ss_lr_problem_t *p, double l2, const double *theta, double *grad,
                           int threads)
{
        double *ws = malloc(2 * ss_lg_block(p) * sizeof(*ws));
        if (!ws)
                return NAN;
        double f = ss_loss_grad_ws(p, l2, theta, grad, ws, threads);
        free(ws);
        return f;
}

/* ---- L-BFGS ---- */

static double ss_dot(const double *a, const double *b, size_t n)
{
        double s = 0;
        for (size_t i = 0; i < n; i++)
                s += a[i] * b[i];
        return s;
}

/* dir = -H grad by the two-loop recursion over the k newest pairs (ring of m). */
static void ss_lbfgs_direction(double *dir, const double *grad, double *const *S, double *const *Y,
                               const double *rho, double *alpha, int k, int m, int newest, size_t n)
{
        for (size_t i = 0; i < n; i++)
                dir[i] = -grad[i];
        for (int t = 0; t < k; t++) {
                int s = (newest - t + m) % m;
                alpha[s] = rho[s] * ss_dot(S[s], dir, n);
                for (size_t i = 0; i < n; i++)
                        dir[i] -= alpha[s] * Y[s][i];
        }
        if (k > 0) {
                double yy = ss_dot(Y[newest], Y[newest], n);
                double gamma = yy > 0 ? 1.0 / (rho[newest] * yy) : 1.0;
                for (size_t i = 0; i < n; i++)
                        dir[i] *= gamma;
        }
        for (int t = k - 1; t >= 0; t--) {
                int s = (newest - t + m) % m;
                double beta = rho[s] * ss_dot(Y[s], dir, n);
                for (size_t i = 0; i < n; i++)
                        dir[i] += (alpha[s] - beta) * S[s][i];
        }
}

ss_err_t ss_logreg_fit(const ss_lr_problem_t *p, const ss_logreg_train_config_t *tc, double *theta,
                       double *loss_out, int *iters_out, char *errstr, size_t errstr_size)
{
        size_t n = (size_t)p->d * C + C;
        int m = tc->history > 0 ? tc->history : 10;
        /* g, dir, x_new, g_new, then m S and m Y vectors; ws for the objective */
        int nvec = 4 + 2 * m;
        double *mem = malloc((size_t)nvec * n * sizeof(double));
        double *ws = malloc(2 * ss_lg_block(p) * sizeof(double));
        double *rho = calloc((size_t)m, sizeof(double)), *alpha = calloc((size_t)m, sizeof(double));
        double **S = calloc((size_t)m, sizeof(double *)), **Y = calloc((size_t)m, sizeof(double *));
        if (!mem || !ws || !rho || !alpha || !S || !Y) {
                free(mem), free(ws), free(rho), free(alpha), free(S), free(Y);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "out of memory for L-BFGS (%zu parameters, history %d)", n, m);
        }
        double *g = mem, *dir = mem + n, *xn = mem + 2 * n, *gn = mem + 3 * n;
        for (int t = 0; t < m; t++) {
                S[t] = mem + (size_t)(4 + t) * n;
                Y[t] = mem + (size_t)(4 + m + t) * n;
        }
        int threads = tc->threads > 1 ? 2 : 1;
        double f = ss_loss_grad_ws(p, tc->l2, theta, g, ws, threads);
        double hist[5];
        int k = 0, newest = -1, it = 0;
        ss_progress_t prog;
        ss_progress_init(&prog, tc->progress_label ? tc->progress_label : "L-BFGS",
                         (uint64_t)tc->max_iter);
        if (!tc->progress_label)
                prog.enabled = 0;
        for (it = 0; it < tc->max_iter; it++) {
                hist[it % 5] = f;
                if (k > 0) {
                        ss_lbfgs_direction(dir, g, S, Y, rho, alpha, k, m, newest, n);
                } else {
                        double gn2 = sqrt(ss_dot(g, g, n));
                        for (size_t i = 0; i < n; i++)
                                dir[i] = -g[i] / (gn2 > 0 ? gn2 : 1);
                }
                double gd = ss_dot(g, dir, n);
                if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
                        k = 0;
                        double gn2 = sqrt(ss_dot(g, g, n));
                        for (size_t i = 0; i < n; i++)
                                dir[i] = -g[i] / (gn2 > 0 ? gn2 : 1);
                        gd = ss_dot(g, dir, n);
                        if (!(gd < 0))
                                break; /* zero gradient: at the optimum */
                }
                double step = 1, fn = f;
                int ok = 0;
                for (int ls = 0; ls < 40; ls++) {
                        for (size_t i = 0; i < n; i++)
                                xn[i] = theta[i] + step * dir[i];
                        fn = ss_loss_grad_ws(p, tc->l2, xn, gn, ws, threads);
                        if (isfinite(fn) && fn <= f + 1e-4 * step * gd) {
                                ok = 1;
                                break;
                        }
                        step *= 0.5;
                }
                if (!ok)
                        break; /* no decrease possible at double precision */
                int slot = (newest + 1) % m;
                double sy = 0;
                for (size_t i = 0; i < n; i++) {
                        S[slot][i] = xn[i] - theta[i];
                        Y[slot][i] = gn[i] - g[i];
                        sy += S[slot][i] * Y[slot][i];
                }
                if (sy > 1e-12) {
                        rho[slot] = 1.0 / sy;
                        newest = slot;
                        if (k < m)
                                k++;
                }
                memcpy(theta, xn, n * sizeof(*theta));
                memcpy(g, gn, n * sizeof(*g));
                f = fn;
                char extra[64];
                snprintf(extra, sizeof(extra), "loss %.5f", f);
                ss_progress_update(&prog, (uint64_t)it + 1, extra);
                ss_trainlog_metric("lbfgs_loss", f, -1); /* one curve over every fit */
                if (it >= 5 && (hist[(it + 1) % 5] - f) / fmax(fabs(f), 1e-12) < tc->tol) {
                        it++;
                        break;
                }
        }
        ss_progress_done(&prog);
        free(mem), free(ws), free(rho), free(alpha), free(S), free(Y);
        if (!isfinite(f))
                return ss_err_set(errstr, errstr_size, SS_ERR_STATE, "training diverged (loss %g)",
                                  f);
        if (loss_out)
                *loss_out = f;
        if (iters_out)
                *iters_out = it;
        return SS_OK;
}

/* ---- a trained model ---- */

/* Expands theta over compact columns into a model that owns its weights. */
static ss_logreg_t *ss_logreg_from_theta(const ss_logreg_train_config_t *tc,
                                         const ss_lr_problem_t *p, const double *theta,
                                         const float *idf, const uint64_t *vocab, char *errstr,
                                         size_t errstr_size)
{
        const ss_logreg_config_t *cfg = &tc->model;
        size_t D = (size_t)1 << cfg->feat.dim_bits, R = ss_logreg_rows(cfg);
        size_t vwords = ((size_t)1 << cfg->vocab_bits) / 64;
        size_t lcap = cfg->lex_feats ? (size_t)tc->lex->cap : 0;
        size_t tbytes = R * SS_LOGREG_ROW * sizeof(float);
        size_t vbytes = vwords * sizeof(uint64_t);
        size_t bytes = tbytes + 16 + vbytes + lcap * (sizeof(uint64_t) + sizeof(float));
        uint8_t *mem = calloc(1, bytes);
        if (!mem) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        float *table = (float *)mem, *bias = (float *)(mem + tbytes);
        uint64_t *vb = (uint64_t *)(mem + tbytes + 16);
        uint64_t *lkeys = (uint64_t *)(mem + tbytes + 16 + vbytes);
        float *lvals = (float *)(lkeys + lcap);
        for (size_t j = 0; j < R; j++)
                table[j * SS_LOGREG_ROW + C] = j < D ? idf[j] : 1.0f;
        for (uint32_t c = 0; c < p->d; c++) {
                /* lexicon columns were scaled while training: fold the scale in */
                float s = p->col_map[c] >= D ? tc->lex_scale : 1.0f;
                for (int k = 0; k < C; k++)
                        table[(size_t)p->col_map[c] * SS_LOGREG_ROW + k] =
                            (float)theta[(size_t)c * C + k] * s;
        }
        for (int k = 0; k < C; k++)
                bias[k] = (float)theta[(size_t)p->d * C + k];
        memcpy(vb, vocab, vbytes);
        ss_logreg_weights_t w = {table, bias, vb, {NULL, NULL, 0, NULL}};
        if (lcap) {
                memcpy(lkeys, tc->lex->keys, lcap * sizeof(uint64_t));
                memcpy(lvals, tc->lex->vals, lcap * sizeof(float));
                w.lex.keys = lkeys;
                w.lex.vals = lvals;
                w.lex.cap = lcap;
        }
        ss_logreg_t *lr = ss_logreg_new(cfg, &w, errstr, errstr_size);
        if (!lr) {
                free(mem);
                return NULL;
        }
        lr->owned = mem;
        return lr;
}

ss_err_t ss_logreg_train(const ss_logreg_train_config_t *tc, const ss_dataset_t *ds,
                         ss_logreg_t **out, double *loss_out, int *iters_out, char *errstr,
                         size_t errstr_size)
{
        *out = NULL;
        const ss_logreg_config_t *cfg = &tc->model;
        if (cfg->feat.dim_bits < 10 || cfg->feat.dim_bits > 24 || cfg->vocab_bits < 10 ||
            cfg->vocab_bits > 28)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "dim_bits %u (10..24) or vocab_bits %u (10..28) out of range",
                                  cfg->feat.dim_bits, cfg->vocab_bits);
        size_t D = (size_t)1 << cfg->feat.dim_bits;
        size_t vwords = ((size_t)1 << cfg->vocab_bits) / 64;
        float *idf = malloc(D * sizeof(*idf));
        uint64_t *vocab = malloc(vwords * sizeof(*vocab));
        double *theta = NULL;
        ss_lr_problem_t p = {0};
        ss_err_t err = SS_OK;
        if (!idf || !vocab) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        err = ss_logreg_problem_build(cfg, ds, tc->balanced, tc->lex, tc->lex_scale, &p, idf, vocab,
                                      errstr, errstr_size);
        if (err)
                goto out;
        theta = calloc((size_t)p.d * C + C, sizeof(*theta));
        if (!theta) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        if (tc->warm) {
                for (uint32_t c = 0; c < p.d; c++)
                        for (int k = 0; k < C; k++)
                                theta[(size_t)c * C + k] = tc->warm[(size_t)p.col_map[c] * C + k];
                for (int k = 0; k < C; k++)
                        theta[(size_t)p.d * C + k] = tc->warm[ss_logreg_rows(cfg) * C + k];
        }
        err = ss_logreg_fit(&p, tc, theta, loss_out, iters_out, errstr, errstr_size);
        if (err)
                goto out;
        *out = ss_logreg_from_theta(tc, &p, theta, idf, vocab, errstr, errstr_size);
        if (!*out)
                err = SS_ERR_NOMEM;
out:
        ss_lr_problem_free(&p);
        free(theta);
        free(idf);
        free(vocab);
        return err;
}

ss_err_t ss_logreg_evaluate(ss_logreg_t *lr, const ss_dataset_t *ds, ss_eval_t *ev, char *errstr,
                            size_t errstr_size)
{
        ss_eval_init(ev);
        float probs[C];
        for (size_t i = 0; i < ds->n; i++) {
                const char *t = ds->texts[i];
                ss_err_t err =
                    ss_logreg_score(lr, &t, &ds->lens[i], 1, probs, NULL, errstr, errstr_size);
                if (err)
                        return err;
                ss_eval_add(ev, ds->labels[i], ss_probs_argmax(probs));
        }
        ss_eval_finish(ev);
        return SS_OK;
}

ss_err_t ss_logreg_tune(const ss_logreg_train_config_t *tc, const double *grid, int ngrid,
                        const ss_dataset_t *fit, const ss_dataset_t *tune,
                        ss_logreg_tune_result_t *results, int *best, float *warm_out, char *errstr,
                        size_t errstr_size)
{
        const ss_logreg_config_t *cfg = &tc->model;
        size_t D = (size_t)1 << cfg->feat.dim_bits;
        size_t vwords = ((size_t)1 << cfg->vocab_bits) / 64;
        float *idf = malloc(D * sizeof(*idf));
        uint64_t *vocab = malloc(vwords * sizeof(*vocab));
        double *theta = NULL;
        ss_lr_problem_t p = {0};
        ss_err_t err = SS_OK;
        *best = -1;
        if (!idf || !vocab) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        err = ss_logreg_problem_build(cfg, fit, tc->balanced, tc->lex, tc->lex_scale, &p, idf,
                                      vocab, errstr, errstr_size);
        if (err)
                goto out;
        theta = calloc((size_t)p.d * C + C, sizeof(*theta));
        if (!theta) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto out;
        }
        /* grid in the given order, each fit warm-started from the previous optimum */
        for (int g = 0; g < ngrid; g++) {
                ss_logreg_train_config_t t = *tc;
                t.l2 = grid[g];
                ss_logreg_tune_result_t *r = &results[g];
                memset(r, 0, sizeof(*r));
                r->l2 = grid[g];
                double t0 = ss_time_mono();
                err = ss_logreg_fit(&p, &t, theta, &r->loss, &r->iters, errstr, errstr_size);
                if (err)
                        goto out;
                ss_trainlog_metric("tune_fit_loss", r->loss, g);
                ss_logreg_t *lr =
                    ss_logreg_from_theta(tc, &p, theta, idf, vocab, errstr, errstr_size);
                if (!lr) {
                        err = SS_ERR_NOMEM;
                        goto out;
                }
                err = ss_logreg_evaluate(lr, tune, &r->tune, errstr, errstr_size);
                int better = !err && (*best < 0 || r->tune.avgrec > results[*best].tune.avgrec);
                for (size_t i = 0; better && tc->tune_probs_out && i < tune->n && !err; i++)
                        err =
                            ss_logreg_score(lr, &tune->texts[i], &tune->lens[i], 1,
                                            tc->tune_probs_out + i * C, NULL, errstr, errstr_size);
                ss_logreg_destroy(lr);
                if (err)
                        goto out;
                r->seconds = ss_time_mono() - t0;
                if (better) {
                        *best = g;
                        if (warm_out) {
                                size_t R = ss_logreg_rows(cfg);
                                memset(warm_out, 0, (R * C + C) * sizeof(*warm_out));
                                for (uint32_t c = 0; c < p.d; c++)
                                        for (int k = 0; k < C; k++)
                                                warm_out[(size_t)p.col_map[c] * C + k] =
                                                    (float)theta[(size_t)c * C + k];
                                for (int k = 0; k < C; k++)
                                        warm_out[R * C + k] = (float)theta[(size_t)p.d * C + k];
                        }
                }
        }
out:
        ss_lr_problem_free(&p);
        free(theta);
        free(idf);
        free(vocab);
        return err;
}
