/*
 * drift: PSI and KL over smoothed counts, and chi-square critical values.
 *
 * The divergences are one pass over the bins with the 0.5 pseudo-count of
 * drift.h. The chi-square quantile inverts the regularised incomplete gamma
 * function: P(a, x) by its power series when x < a + 1, Q(a, x) by Lentz's
 * continued fraction otherwise (each converges fast in its own region, and
 * the other is taken as 1 minus it only where that loses no precision). The
 * inversion works on the log of whichever tail is smaller (so alpha = 1e-12
 * is as accurate as alpha = 0.5): Newton steps on ln T(x) from a
 * Wilson-Hilferty start, kept inside a bracket that shrinks with every
 * evaluation, falling back to bisection when a step leaves it.
 */
#include "drift.h"

#include <float.h>
#include <math.h>

static void smooth_totals(const double *cur, const double *ref, int nbins, double *n, double *m)
{
        double sn = 0, sm = 0;
        for (int i = 0; i < nbins; i++) {
                sn += cur[i];
                sm += ref[i];
        }
        *n = sn + SS_DRIFT_SMOOTH * nbins;
        *m = sm + SS_DRIFT_SMOOTH * nbins;
}

void ss_drift_psi_kl(const double *cur, const double *ref, int nbins, double *psi, double *kl)
{
        double n, m, s_psi = 0, s_kl = 0;
        smooth_totals(cur, ref, nbins, &n, &m);
        for (int i = 0; i < nbins; i++) {
                double p = (cur[i] + SS_DRIFT_SMOOTH) / n;
                double q = (ref[i] + SS_DRIFT_SMOOTH) / m;
                double l = log(p / q);
                s_psi += (p - q) * l;
                s_kl += p * l;
        }
        if (psi)
                *psi = s_psi;
        if (kl)
                *kl = s_kl < 0 ? 0 : s_kl; /* rounding can leave -1e-17 */
}

double ss_drift_psi(const double *cur, const double *ref, int nbins)
{
        double psi;
        ss_drift_psi_kl(cur, ref, nbins, &psi, NULL);
        return psi;
}

double ss_drift_kl(const double *cur, const double *ref, int nbins)
{
        double kl;
        ss_drift_psi_kl(cur, ref, nbins, NULL, &kl);
        return kl;
}

int ss_drift_bins_effective(const double *ref, int nbins)
{
        int b = 0;
        for (int i = 0; i < nbins; i++)
                b += ref[i] > 0;
        return b < 2 ? 2 : b;
}

static double crit_scale(double n, double m)
{
        return 1.0 / n + (m > 0 ? 1.0 / m : 0.0);
}

double ss_drift_psi_crit(double n, double m, int bins, double alpha)
{
        if (n <= 0)
                return INFINITY;
        return crit_scale(n, m) * ss_chi2_isf(alpha, bins - 1);
}

double ss_drift_kl_crit(double n, double m, int bins, double alpha)
{
        if (n <= 0)
                return INFINITY;
        return 0.5 * crit_scale(n, m) * ss_chi2_isf(alpha, bins - 1);
}

/* ---- incomplete gamma ---------------------------------------------------------------- */

#define GAMMA_EPS   1e-16
#define GAMMA_ITERS 100000

/* ln(x^a e^-x / Gamma(a)), the common prefactor. */
static double gamma_log_prefactor(double a, double x)
{
        return a * log(x) - x - lgamma(a);
}

/* P(a, x) by the series sum x^n / (a (a+1) ... (a+n)); for x < a + 1. */
static double gamma_p_series(double a, double x)
{
        double ap = a, del = 1.0 / a, sum = del;
        for (int i = 0; i < GAMMA_ITERS; i++) {
                ap += 1;
                del *= x / ap;
                sum += del;
                if (fabs(del) < fabs(sum) * GAMMA_EPS)
                        break;
        }
        return sum * exp(gamma_log_prefactor(a, x));
}

/* Q(a, x) by the continued fraction (modified Lentz); for x >= a + 1. */
static double gamma_q_cfrac(double a, double x)
{
        const double tiny = DBL_MIN / DBL_EPSILON;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < GAMMA_ITERS; i++) {
                double an = -i * (i - a);
                b += 2;
                d = an * d + b;
                if (fabs(d) < tiny)
                        d = tiny;
                c = b + an / c;
                if (fabs(c) < tiny)
                        c = tiny;
                d = 1 / d;
                double del = d * c;
                h *= del;
                if (fabs(del - 1) < GAMMA_EPS)
                        break;
        }
        return exp(gamma_log_prefactor(a, x)) * h;
}

double ss_gamma_p(double a, double x)
{
        if (x <= 0)
                return 0;
        if (x < a + 1)
                return gamma_p_series(a, x);
        return 1 - gamma_q_cfrac(a, x);
}

double ss_gamma_q(double a, double x)
{
        if (x <= 0)
                return 1;
        if (x < a + 1)
                return 1 - gamma_p_series(a, x);
        return gamma_q_cfrac(a, x);
}

double ss_chi2_cdf(double x, double df)
{
        return ss_gamma_p(0.5 * df, 0.5 * x);
}

double ss_chi2_sf(double x, double df)
{
        return ss_gamma_q(0.5 * df, 0.5 * x);
}

/* ---- chi-square quantile ------------------------------------------------------------- */

/* Standard normal quantile, Acklam's rational approximation (|rel err| < 1.2e-9): a start
 * value only, Newton refines it. */
static double norm_ppf(double p)
{
        static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                   -2.759285104469687e+02, 1.383577518672690e+02,
                                   -3.066479806614716e+01, 2.506628277459239e+00};
        static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                   -1.556989798598866e+02, 6.680131188771972e+01,
                                   -1.328068155288572e+01};
        static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                   -2.400758277161838e+00, -2.549732539343734e+00,
                                   4.374664141464968e+00,  2.938163982698783e+00};
        static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                   2.445134137142996e+00, 3.754408661907416e+00};
        const double plow = 0.02425;
        if (p < plow) {
                double q = sqrt(-2 * log(p));
                return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - plow) {
                double q = sqrt(-2 * log1p(-p));
                return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        double q = p - 0.5, r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
               (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Start value for the quantile with lower-tail probability p: Wilson-Hilferty, or for
 * small df and small p where it goes negative, the leading term P(a, x) ~ x^a / Gamma(a+1). */
static double chi2_start(double p, double df)
{
        double z = norm_ppf(p), h = 2.0 / (9.0 * df);
        double t = 1 - h + z * sqrt(h);
        double x = df * t * t * t;
        if (x > 0.01 * df && x > 1e-6)
                return x;
        double a = 0.5 * df;
        return 2 * exp((log(p) + lgamma(a + 1)) / a);
}

/* ln of the tail T(x) (lower if upper == 0) and ln of the density at x. */
static double chi2_log_tail(double x, double df, int upper)
{
        double t = upper ? ss_chi2_sf(x, df) : ss_chi2_cdf(x, df);
        return log(t);
}

static double chi2_log_pdf(double x, double df)
{
        double a = 0.5 * df;
        return (a - 1) * log(x) - 0.5 * x - a * log(2.0) - lgamma(a);
}

/* x with T(x) = target, T the upper tail (upper) or the lower tail, target <= 0.5. */
static double chi2_solve(double target, double df, int upper)
{
        double lt = log(target);
        double x = chi2_start(upper ? 1 - target : target, df);
        double lo = 0, hi = INFINITY;
        if (!(x > 0) || !isfinite(x))
                x = df;
        for (int i = 0; i < 200; i++) {
                double g = chi2_log_tail(x, df, upper) - lt;
                /* T decreasing in x for the upper tail, increasing for the lower. */
                int below = upper ? g > 0 : g < 0; /* root lies above x */
                if (below)
                        lo = x;
                else
                        hi = x;
                double dens = exp(chi2_log_pdf(x, df) - chi2_log_tail(x, df, upper));
                double slope = upper ? -dens : dens; /* d/dx ln T */
                double nx = x - g / slope;
                if (!(nx > lo && nx < hi) || !isfinite(nx))
                        nx = isfinite(hi) ? 0.5 * (lo + hi) : 2 * x + 1;
                if (fabs(nx - x) <= 1e-14 * fabs(nx) || (isfinite(hi) && hi - lo <= 1e-15 * hi))
                        return nx;
                x = nx;
        }
        return x;
}

double ss_chi2_isf(double alpha, double df)
{
        if (!(alpha > 0) || !(alpha < 1) || !(df > 0))
                return NAN;
        return alpha <= 0.5 ? chi2_solve(alpha, df, 1) : chi2_solve(1 - alpha, df, 0);
}

double ss_chi2_ppf(double p, double df)
{
        if (!(p > 0) || !(p < 1) || !(df > 0))
                return NAN;
        return p <= 0.5 ? chi2_solve(p, df, 0) : chi2_solve(1 - p, df, 1);
}
