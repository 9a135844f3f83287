/*
 * bbse: black-box shift estimation (Lipton, Wang & Smola, ICML 2018): the true
 * class mix of a window of predictions, estimated without labels.
 *
 * Under label shift (p(x | y) fixed, p(y) changed) the shares q of predicted
 * classes in a window satisfy q = C w, where w is the window's true class mix
 * and C[i][j] = P(predicted i | true j) is the model's confusion matrix. C and
 * the reference true mix pi are measured once on held-out labelled reference
 * data (the card's validation split, whose counts are confusion[true][pred]
 * with m = sum of all counts); then w is solved from q.
 *
 * Solving: the columns of C and q each sum to 1, so the plain solution of
 * C w = q sums to 1 too but may leave the simplex (a share below 0) when the
 * window is small or C is ill-conditioned. The estimate is the least-squares
 * solution constrained to the simplex, min |C w - q|^2 subject to w >= 0,
 * sum w = 1, found exactly by trying every support (every face of the
 * simplex: 7 for 3 classes) with the equality-constrained normal equations
 * and keeping the feasible one with the smallest residual. Clip-and-
 * renormalise was not used: it moves the unclipped shares by a factor that
 * does not minimise the residual, and it is not what the unconstrained
 * solution is when that solution is feasible only by a hair.
 *
 * Uncertainty (delta method, on the unconstrained solution w = C^-1 q):
 *
 *   dw = C^-1 (dq - dC w)
 *   Cov(w) = C^-1 [ S(q) / n + sum_j w_j^2 S(c_j) / m_j ] C^-T
 *
 * with S(p) = diag(p) - p p^T the covariance of one multinomial draw, n the
 * window size, c_j column j of C and m_j = m pi_j the reference examples of
 * true class j. The interval of w_i is w_i +- z sqrt(Cov_ii).
 *
 * The drift statistic is PSI (and KL) between w and pi (the same 0.5
 * pseudo-count smoothing as drift.h, over counts n w and m pi). Its critical
 * value: C and pi come from the same reference data, so C pi = q_ref (the
 * reference's predicted shares) exactly and w - pi = C^-1 (q - q_ref); under
 * H0 (no shift) q and q_ref are two multinomial samples of q_ref, so
 *
 *   Cov(w - pi) = (1/n + 1/m) C^-1 S(q_ref) C^-T = V.
 *
 * PSI ~ (w - pi)^T diag(pi)^-1 (w - pi), a quadratic form in a Gaussian: a
 * weighted sum of chi2(1) with weights the eigenvalues of A = diag(pi)^-1 V.
 * Satterthwaite's approximation matches its first two moments with
 * a chi2(nu): a = tr(A^2) / tr(A), nu = tr(A)^2 / tr(A^2), and
 *
 *   PSI_crit = a chi2.isf(alpha, nu),   KL_crit = PSI_crit / 2.
 *
 * (With C = I this is exactly drift.h's (1/n + 1/m) chi2.isf(alpha, K - 1).)
 * Both the window size and the reference size enter through V. The critical
 * value assumes independent predictions; streams ordered by topic are
 * over-dispersed, which the trigger's k-of-n hysteresis absorbs.
 */
#ifndef SS_BBSE_H
#define SS_BBSE_H

#include <stdint.h>

#define SS_BBSE_K 3 /* classes */

typedef struct ss_bbse_ref {
        double c[SS_BBSE_K][SS_BBSE_K];    /* C[pred][true] = P(pred | true) */
        double cinv[SS_BBSE_K][SS_BBSE_K]; /* C^-1 */
        double pi[SS_BBSE_K];              /* reference true class mix */
        double qref[SS_BBSE_K];            /* reference predicted shares = C pi */
        double m;                          /* reference examples */
        double mj[SS_BBSE_K];              /* reference examples per true class */
        /* the quantiles for the rates last asked (they depend on the card only: a and nu of
         * the Satterthwaite approximation do not change with n) */
        double alpha, alpha_ci;
        double crit_unit; /* PSI_crit / (1/n + 1/m) */
        double z;         /* standard normal quantile 1 - alpha_ci / 2 */
} ss_bbse_ref_t;

/*
 * From reference counts confusion[true][pred] (K x K, as in the card's
 * metrics.validation.confusion). Returns 0, or -1 when a true class has no
 * example or C is singular (|det C| < 1e-9): label shift cannot be estimated.
 */
int ss_bbse_ref_init(ss_bbse_ref_t *r, const double confusion[SS_BBSE_K][SS_BBSE_K]);

typedef struct ss_bbse_est {
        double n;                            /* window predictions */
        double q[SS_BBSE_K];                 /* predicted shares of the window */
        double w_raw[SS_BBSE_K];             /* C^-1 q, may leave the simplex */
        double w[SS_BBSE_K];                 /* estimate, on the simplex */
        double se[SS_BBSE_K];                /* standard error of w_i (delta method) */
        double lo[SS_BBSE_K], hi[SS_BBSE_K]; /* interval w_i -+ z se_i, clipped to [0, 1] */
        double psi, kl;                      /* w against pi */
        double psi_crit, kl_crit;            /* at the false-alarm rate asked */
} ss_bbse_est_t;

/*
 * Estimates the true mix of a window with predicted-class counts pred[K]
 * (n = their sum > 0), its interval at two-sided level 1 - alpha_ci (e.g.
 * 0.05 for 95 %) and the critical values of PSI/KL at false-alarm rate alpha.
 */
void ss_bbse_estimate(ss_bbse_ref_t *r, const double pred[SS_BBSE_K], double alpha, double alpha_ci,
                      ss_bbse_est_t *e);

/* The least-squares solution of C w = q on the simplex (see above); w[K]. */
void ss_bbse_solve_simplex(const double c[SS_BBSE_K][SS_BBSE_K], const double q[SS_BBSE_K],
                           double *w);

/* Satterthwaite critical value of the quadratic form x^T diag(d)^-1 x, x ~ N(0, v). */
double ss_bbse_quad_crit(const double v[SS_BBSE_K][SS_BBSE_K], const double *d, double alpha);

#endif /* SS_BBSE_H */
