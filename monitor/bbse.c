/*
 * bbse: small dense linear algebra for 3 classes (Gauss-Jordan with partial
 * pivoting), the simplex-constrained least squares by enumerating supports,
 * and the delta-method covariances of bbse.h. Everything is a few hundred
 * flops per evaluation; nothing allocates.
 */
#include "bbse.h"

#include <math.h>
#include <string.h>

#include "drift.h"

#define K SS_BBSE_K

/* Solves a x = b for an n x n system (n <= K + 1) in place; 0, or -1 if singular. */
static int solve_small(int n, double a[K + 1][K + 1], double *b)
{
        for (int col = 0; col < n; col++) {
                int piv = col;
                for (int r = col + 1; r < n; r++)
                        if (fabs(a[r][col]) > fabs(a[piv][col]))
                                piv = r;
                if (fabs(a[piv][col]) < 1e-12)
                        return -1;
                if (piv != col) {
                        for (int k = 0; k < n; k++) {
                                double t = a[col][k];
                                a[col][k] = a[piv][k];
                                a[piv][k] = t;
                        }
                        double t = b[col];
                        b[col] = b[piv];
                        b[piv] = t;
                }
                for (int r = 0; r < n; r++) {
                        if (r == col)
                                continue;
                        double f = a[r][col] / a[col][col];
                        for (int k = col; k < n; k++)
                                a[r][k] -= f * a[col][k];
                        b[r] -= f * b[col];
                }
        }
        for (int r = 0; r < n; r++)
                b[r] /= a[r][r];
        return 0;
}

static int invert(const double c[K][K], double inv[K][K])
{
        for (int j = 0; j < K; j++) {
                double a[K + 1][K + 1], b[K + 1];
                for (int r = 0; r < K; r++) {
                        for (int k = 0; k < K; k++)
                                a[r][k] = c[r][k];
                        b[r] = r == j;
                }
                if (solve_small(K, a, b))
                        return -1;
                for (int r = 0; r < K; r++)
                        inv[r][j] = b[r];
        }
        return 0;
}

static double det3(const double c[K][K])
{
        return c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) -
               c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0]) +
               c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0]);
}

int ss_bbse_ref_init(ss_bbse_ref_t *r, const double confusion[SS_BBSE_K][SS_BBSE_K])
{
        memset(r, 0, sizeof(*r));
        for (int t = 0; t < K; t++) {
                for (int p = 0; p < K; p++)
                        r->mj[t] += confusion[t][p];
                r->m += r->mj[t];
        }
        for (int t = 0; t < K; t++) {
                if (!(r->mj[t] > 0))
                        return -1;
                r->pi[t] = r->mj[t] / r->m;
                for (int p = 0; p < K; p++)
                        r->c[p][t] = confusion[t][p] / r->mj[t];
        }
        if (fabs(det3(r->c)) < 1e-9 || invert(r->c, r->cinv))
                return -1;
        for (int p = 0; p < K; p++)
                for (int t = 0; t < K; t++)
                        r->qref[p] += r->c[p][t] * r->pi[t];
        return 0;
}

/* Least squares min |C_S w_S - q|^2, sum w_S = 1, over the classes in mask; residual or
 * INFINITY when singular or infeasible (a share below 0). */
static double solve_support(const double c[K][K], const double *q, unsigned mask, double *w)
{
        int idx[K], s = 0;
        for (int j = 0; j < K; j++)
                if (mask & (1u << j))
                        idx[s++] = j;
        double a[K + 1][K + 1], b[K + 1];
        for (int r = 0; r < s; r++) {
                for (int k = 0; k < s; k++) {
                        double v = 0;
                        for (int i = 0; i < K; i++)
                                v += c[i][idx[r]] * c[i][idx[k]];
                        a[r][k] = v;
                }
                a[r][s] = 1;
                a[s][r] = 1;
                double v = 0;
                for (int i = 0; i < K; i++)
                        v += c[i][idx[r]] * q[i];
                b[r] = v;
        }
        a[s][s] = 0;
        b[s] = 1;
        if (solve_small(s + 1, a, b))
                return INFINITY;
        double x[K] = {0};
        for (int r = 0; r < s; r++) {
                if (b[r] < -1e-12)
                        return INFINITY;
                x[idx[r]] = b[r] < 0 ? 0 : b[r];
        }
        double res = 0;
        for (int i = 0; i < K; i++) {
                double e = -q[i];
                for (int j = 0; j < K; j++)
                        e += c[i][j] * x[j];
                res += e * e;
        }
        memcpy(w, x, sizeof(x));
        return res;
}

void ss_bbse_solve_simplex(const double c[SS_BBSE_K][SS_BBSE_K], const double q[SS_BBSE_K],
                           double *w)
{
        double best = INFINITY, x[K];
        for (unsigned mask = 1; mask < (1u << K); mask++) {
                double res = solve_support(c, q, mask, x);
                /* ties (the full support's solution lies on a face): the later, larger one */
                if (isfinite(res) && res <= best + 1e-15) {
                        best = res;
                        memcpy(w, x, sizeof(x));
                }
        }
        if (!isfinite(best))
                for (int j = 0; j < K; j++)
                        w[j] = 1.0 / K;
}

/* out = a s a^T for K x K row-major matrices (a, symmetric s); out may not alias them. */
static void sandwich(const double *a, const double *s, double *out)
{
        double t[K * K];
        for (int i = 0; i < K; i++)
                for (int j = 0; j < K; j++) {
                        double v = 0;
                        for (int k = 0; k < K; k++)
                                v += a[i * K + k] * s[k * K + j];
                        t[i * K + j] = v;
                }
        for (int i = 0; i < K; i++)
                for (int j = 0; j < K; j++) {
                        double v = 0;
                        for (int k = 0; k < K; k++)
                                v += t[i * K + k] * a[j * K + k];
                        out[i * K + j] = v;
                }
}

/* s += f (diag(p) - p p^T), s K x K row-major */
static void add_multinomial(double *s, const double *p, double f)
{
        for (int i = 0; i < K; i++)
                for (int j = 0; j < K; j++)
                        s[i * K + j] += f * ((i == j ? p[i] : 0) - p[i] * p[j]);
}

double ss_bbse_quad_crit(const double v[SS_BBSE_K][SS_BBSE_K], const double *d, double alpha)
{
        double tr = 0, tr2 = 0;
        for (int i = 0; i < K; i++) {
                tr += v[i][i] / d[i];
                for (int j = 0; j < K; j++)
                        tr2 += v[i][j] * v[j][i] / (d[i] * d[j]);
        }
        if (!(tr > 0) || !(tr2 > 0))
                return INFINITY;
        double a = tr2 / tr, nu = tr * tr / tr2;
        return a * ss_chi2_isf(alpha, nu);
}

/* The quantiles of r for these rates, computed once (chi-square inversions are the only
 * costly step of an estimate). */
static void quantiles(ss_bbse_ref_t *r, double alpha, double alpha_ci)
{
        if (r->alpha == alpha && r->alpha_ci == alpha_ci)
                return;
        double s0[K][K] = {{0}}, v[K][K];
        add_multinomial(&s0[0][0], r->qref, 1.0);
        sandwich(&r->cinv[0][0], &s0[0][0], &v[0][0]);
        r->crit_unit = ss_bbse_quad_crit(v, r->pi, alpha);
        r->z = sqrt(ss_chi2_isf(alpha_ci, 1));
        r->alpha = alpha;
        r->alpha_ci = alpha_ci;
}

void ss_bbse_estimate(ss_bbse_ref_t *r, const double pred[SS_BBSE_K], double alpha, double alpha_ci,
                      ss_bbse_est_t *e)
{
        quantiles(r, alpha, alpha_ci);
        memset(e, 0, sizeof(*e));
        for (int i = 0; i < K; i++)
                e->n += pred[i];
        if (!(e->n > 0)) {
                e->psi_crit = e->kl_crit = INFINITY;
                return;
        }
        for (int i = 0; i < K; i++)
                e->q[i] = pred[i] / e->n;
        for (int i = 0; i < K; i++) {
                double v = 0;
                for (int j = 0; j < K; j++)
                        v += r->cinv[i][j] * e->q[j];
                e->w_raw[i] = v;
        }
        ss_bbse_solve_simplex(r->c, e->q, e->w);

        /* interval: window noise at q, reference noise of each column of C */
        double s[K][K] = {{0}}, cov[K][K];
        add_multinomial(&s[0][0], e->q, 1.0 / e->n);
        for (int j = 0; j < K; j++) {
                double col[K] = {r->c[0][j], r->c[1][j], r->c[2][j]};
                add_multinomial(&s[0][0], col, e->w[j] * e->w[j] / r->mj[j]);
        }
        sandwich(&r->cinv[0][0], &s[0][0], &cov[0][0]);
        double z = r->z;
        for (int i = 0; i < K; i++) {
                e->se[i] = sqrt(cov[i][i] > 0 ? cov[i][i] : 0);
                e->lo[i] = fmax(0, e->w[i] - z * e->se[i]);
                e->hi[i] = fmin(1, e->w[i] + z * e->se[i]);
        }

        /* the statistic over counts n w and m pi, and its null distribution */
        double cw[K], cpi[K];
        for (int i = 0; i < K; i++) {
                cw[i] = e->n * e->w[i];
                cpi[i] = r->m * r->pi[i];
        }
        ss_drift_psi_kl(cw, cpi, K, &e->psi, &e->kl);
        /* V scales with (1/n + 1/m); a does too and nu does not */
        e->psi_crit = (1.0 / e->n + 1.0 / r->m) * r->crit_unit;
        e->kl_crit = 0.5 * e->psi_crit;
}
