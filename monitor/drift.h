/*
 * drift: divergence between a current window of counts and a reference, and
 * the critical values that tell a real shift from sampling noise.
 *
 * Both sides are raw counts over the same B bins (a histogram or the
 * categories of a categorical variable). Smoothing: before normalising,
 * 0.5 is added to every bin's count on BOTH sides (a Jeffreys prior), so that
 * an empty bin never gives log(0) or a division by zero:
 *
 *     p_i = (c_i + 0.5) / (n + 0.5 B)      current,   n = sum c_i
 *     q_i = (r_i + 0.5) / (m + 0.5 B)      reference, m = sum r_i
 *
 *     PSI        = sum_i (p_i - q_i) ln(p_i / q_i)
 *     KL(p || q) = sum_i  p_i ln(p_i / q_i)          (current relative to reference)
 *
 * Critical values. Under H0 (the window is a sample of the reference
 * distribution) write p_i = q_i + e_i with small e_i. A second-order expansion
 * gives KL(p||q) ~ 1/2 sum e_i^2 / q_i and PSI = KL(p||q) + KL(q||p) ~ sum
 * e_i^2 / q_i. With both sides multinomial samples (n and m draws from the
 * same distribution), sum (p_i - q_i)^2 / q_i is Pearson's two-sample
 * statistic divided by n m / (n + m), asymptotically chi2(B - 1). Hence
 *
 *     PSI ~ (1/n + 1/m) chi2(B - 1)
 *     KL  ~ (1/n + 1/m) chi2(B - 1) / 2
 *
 * and at a false-alarm rate alpha the critical values are
 *
 *     PSI_crit = (1/n + 1/m)     chi2.ppf(1 - alpha, B - 1)
 *     KL_crit  = (1/n + 1/m) / 2 chi2.ppf(1 - alpha, B - 1)
 *
 * For a reference much larger than the window (m >> n) KL_crit tends to
 * chi2.ppf(1 - alpha, B - 1) / (2n): the G-test, 2 n KL(p_hat || q) ~
 * chi2(B - 1). Passing m = 0 means "reference known exactly" (1/m = 0).
 *
 * Degrees of freedom: B counts only the bins the reference populates (a bin
 * with reference count 0 holds no probability under H0 and adds no degree of
 * freedom), at least 2.
 *
 * The chi-square quantile is computed here (no external maths library): the
 * regularised upper incomplete gamma Q(a, x) by its series or continued
 * fraction, inverted by Newton's method from a Wilson-Hilferty start with a
 * bisection safeguard. Accurate to ~1e-10 relative for df 1..1000 and
 * alpha down to 1e-12 (tested against scipy in tests/unit/test_drift.c).
 */
#ifndef SS_DRIFT_H
#define SS_DRIFT_H

#include <stddef.h>
#include <stdint.h>

/* Smoothing pseudo-count added to every bin on both sides. */
#define SS_DRIFT_SMOOTH 0.5

/* PSI between current counts cur[nbins] and reference counts ref[nbins]. */
double ss_drift_psi(const double *cur, const double *ref, int nbins);

/* KL(current || reference), same smoothing, natural log (nats). */
double ss_drift_kl(const double *cur, const double *ref, int nbins);

/* Both at once (one pass); either output may be NULL. */
void ss_drift_psi_kl(const double *cur, const double *ref, int nbins, double *psi, double *kl);

/* Number of reference bins with a positive count, at least 2 (see above). */
int ss_drift_bins_effective(const double *ref, int nbins);

/*
 * Critical values for a window of n samples against a reference of m samples
 * (m = 0: exact reference) over `bins` effective bins, at false-alarm rate
 * alpha in (0, 1). Return +inf if n == 0.
 */
double ss_drift_psi_crit(double n, double m, int bins, double alpha);
double ss_drift_kl_crit(double n, double m, int bins, double alpha);

/* Regularised lower and upper incomplete gamma P(a, x), Q(a, x); a > 0, x >= 0. */
double ss_gamma_p(double a, double x);
double ss_gamma_q(double a, double x);

/* Chi-square distribution with df degrees of freedom (df > 0). */
double ss_chi2_cdf(double x, double df);
double ss_chi2_sf(double x, double df);      /* survival 1 - cdf, accurate in the tail */
double ss_chi2_isf(double alpha, double df); /* x with sf(x) = alpha, alpha in (0, 1) */
double ss_chi2_ppf(double p, double df);     /* x with cdf(x) = p, p in (0, 1) */

#endif /* SS_DRIFT_H */
