/*
 * calib: temperature scaling on probabilities (the log of a probability is
 * its logit up to a per-row constant, which softmax ignores), a golden-section
 * fit of 1/T, top-label ECE, and the top-label map after the temperature
 * (per predicted class a Platt fit by Newton's method; applying it rescales the
 * other classes and never moves the argmax).
 */
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C         SS_NUM_CLASSES
#define LOG_FLOOR (-60.0) /* ln of a probability that rounded to 0 */

static double logp(float p)
{
        return p > 0 ? log((double)p) : LOG_FLOOR;
}

void ss_calib_apply(float *probs, size_t n, double t)
{
        if (!(t > 0) || t == 1)
                return;
        double beta = 1 / t;
        for (size_t i = 0; i < n; i++) {
                float *p = probs + i * C;
                double z[C], mx = -INFINITY, s = 0;
                for (int k = 0; k < C; k++) {
                        z[k] = beta * logp(p[k]);
                        if (z[k] > mx)
                                mx = z[k];
                }
                for (int k = 0; k < C; k++)
                        s += z[k] = exp(z[k] - mx);
                for (int k = 0; k < C; k++)
                        p[k] = (float)(z[k] / s);
        }
}

double ss_calib_nll(const float *probs, const int8_t *labels, size_t n, double t)
{
        double beta = 1 / t, sum = 0;
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
                const float *p = probs + i * C;
                if (labels[i] < 0 || labels[i] >= C)
                        continue;
                double z[C], mx = -INFINITY, s = 0;
                for (int k = 0; k < C; k++) {
                        z[k] = beta * logp(p[k]);
                        if (z[k] > mx)
                                mx = z[k];
                }
                for (int k = 0; k < C; k++)
                        s += exp(z[k] - mx);
                sum += mx + log(s) - z[labels[i]];
                used++;
        }
        return used ? sum / (double)used : 0;
}

double ss_calib_fit(const float *probs, const int8_t *labels, size_t n)
{
        if (n == 0)
                return 1;
        const double g = (sqrt(5.0) - 1) / 2;
        double a = log(0.02), b = log(50.0);
        double x1 = b - g * (b - a), x2 = a + g * (b - a);
        double f1 = ss_calib_nll(probs, labels, n, exp(-x1));
        double f2 = ss_calib_nll(probs, labels, n, exp(-x2));
        while (b - a > 1e-6) {
                if (f1 < f2) {
                        b = x2;
                        x2 = x1;
                        f2 = f1;
                        x1 = b - g * (b - a);
                        f1 = ss_calib_nll(probs, labels, n, exp(-x1));
                } else {
                        a = x1;
                        x1 = x2;
                        f1 = f2;
                        x2 = a + g * (b - a);
                        f2 = ss_calib_nll(probs, labels, n, exp(-x2));
                }
        }
        return exp(-0.5 * (a + b)); /* T = 1 / beta */
}

double ss_calib_ece(const float *probs, const int8_t *labels, size_t n, int nbins)
{
        double conf[64] = {0}, acc[64] = {0}, cnt[64] = {0};
        if (nbins < 1 || nbins > 64 || n == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                const float *p = probs + i * C;
                int best = ss_probs_argmax(p);
                int b = (int)((double)p[best] * nbins);
                if (b >= nbins)
                        b = nbins - 1;
                if (b < 0)
                        b = 0;
                conf[b] += p[best];
                acc[b] += labels[i] == best;
                cnt[b] += 1;
        }
        double ece = 0;
        for (int b = 0; b < nbins; b++)
                if (cnt[b] > 0)
                        ece += fabs(acc[b] - conf[b]) / (double)n;
        return ece;
}

/* ---- top-label map ---- */

#define TOP_RIDGE   1e-4 /* pulls (a, b) toward the identity (1, 0) */
#define TOP_TIE_GAP 1e-6 /* how far above every other class c' stays */

static double top_logit(double c)
{
        if (c < 1e-7)
                c = 1e-7;
        if (c > 1 - 1e-7)
                c = 1 - 1e-7;
        return log(c / (1 - c));
}

static double top_sigmoid(double z)
{
        return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

void ss_calib_top_identity(ss_calib_top_t *top)
{
        for (int k = 0; k < C; k++) {
                top->a[k] = 1;
                top->b[k] = 0;
        }
        top->rule = SS_CALIB_TOP_RULE_FLOOR;
}

int ss_calib_top_is_identity(const ss_calib_top_t *top)
{
        for (int k = 0; k < C; k++)
                if (top->a[k] != 1 || top->b[k] != 0)
                        return 0;
        return 1;
}

double ss_calib_top_map(const ss_calib_top_t *top, int k, double c)
{
        if (top->a[k] == 1 && top->b[k] == 0)
                return c;
        return top_sigmoid(top->a[k] * top_logit(c) + top->b[k]);
}

/* Mean ridge-penalised log-loss of h ~ sigmoid(a x + b) over m rows. */
static double top_loss(const double *x, const uint8_t *h, size_t m, double a, double b)
{
        double s = 0;
        for (size_t i = 0; i < m; i++) {
                double z = a * x[i] + b;
                s += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - (h[i] ? z : 0);
        }
        return s / (double)m + 0.5 * TOP_RIDGE * ((a - 1) * (a - 1) + b * b);
}

/* Newton's method with step halving on one class's rows; identity when it fails. */
static void top_fit_class(const double *x, const uint8_t *h, size_t m, double *a_out, double *b_out)
{
        double a = 1, b = 0, f = top_loss(x, h, m, a, b);
        for (int it = 0; it < 100; it++) {
                double ga = TOP_RIDGE * (a - 1), gb = TOP_RIDGE * b;
                double haa = TOP_RIDGE, hab = 0, hbb = TOP_RIDGE;
                for (size_t i = 0; i < m; i++) {
                        double p = top_sigmoid(a * x[i] + b), r = (p - h[i]) / (double)m;
                        double w = p * (1 - p) / (double)m;
                        ga += r * x[i];
                        gb += r;
                        haa += w * x[i] * x[i];
                        hab += w * x[i];
                        hbb += w;
                }
                double det = haa * hbb - hab * hab;
                if (!(det > 0))
                        break;
                double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
                double step = 1, fn = f;
                int halvings = 0; /* at most 20: a step of 1e-6 */
                for (; halvings <= 20; halvings++) {
                        fn = top_loss(x, h, m, a - step * da, b - step * db);
                        if (fn <= f)
                                break;
                        step /= 2;
                }
                if (halvings > 20)
                        break;
                a -= step * da;
                b -= step * db;
                int done = f - fn < 1e-12;
                f = fn;
                if (done)
                        break;
        }
        if (!(a > 1e-3 && a <= 100 && fabs(b) <= 100 && isfinite(f))) {
                a = 1; /* not monotone increasing, or diverged: keep the identity */
                b = 0;
        }
        *a_out = a;
        *b_out = b;
}

void ss_calib_top_fit(ss_calib_top_t *top, const float *probs, const int8_t *labels, size_t n)
{
        ss_calib_top_identity(top);
        double *x = malloc((n ? n : 1) * sizeof(*x));  /* [n] logit of the confidence */
        uint8_t *h = malloc((n ? n : 1) * sizeof(*h)); /* [n] 1: the argmax was right */
        if (!x || !h) {
                free(x);
                free(h);
                return;
        }
        for (int k = 0; k < C; k++) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++) {
                        const float *p = probs + i * C;
                        if (labels[i] < 0 || labels[i] >= C || ss_probs_argmax(p) != k)
                                continue;
                        x[m] = top_logit(p[k]);
                        h[m++] = labels[i] == k;
                }
                if (m >= SS_CALIB_TOP_MIN_ROWS)
                        top_fit_class(x, h, m, &top->a[k], &top->b[k]);
        }
        free(x);
        free(h);
}

/*
 * Fills row[j != k] with rest = 1 - c2 in proportion to p[j], none above cap (water-filling:
 * a class that would pass the cap is held at it and the others share what is left; a class
 * at 0 stays at 0). The caller guarantees that the classes above 0 can hold rest under cap.
 */
static void top_fill_rest(float *row, const float *p, int k, double c2, double cap)
{
        int capped[C] = {0};
        double left = 1 - c2;
        for (int round = 0; round < C; round++) {
                double w = 0;
                for (int j = 0; j < C; j++)
                        if (j != k && !capped[j])
                                w += p[j];
                int over = 0;
                for (int j = 0; j < C; j++) {
                        if (j == k || capped[j])
                                continue;
                        double v = w > 0 ? p[j] * (left / w) : 0;
                        if (v > cap) {
                                capped[j] = 1;
                                over = 1;
                        }
                        row[j] = (float)v;
                }
                if (!over)
                        return;
                left = 1 - c2;
                for (int j = 0; j < C; j++)
                        if (capped[j]) {
                                row[j] = (float)cap;
                                left -= cap;
                        }
        }
}

/*
 * Maps one row; leaves it as it was if the float argmax would move. The rules differ only in
 * how far down c' may go: SS_CALIB_TOP_RULE_TIE to just above the second class's
 * proportional share (c itself where the row is already that close), the floor to 1/(m + 1)
 * with the others held under c'.
 */
static void top_apply_row(const ss_calib_top_t *top, float *p)
{
        int k = ss_probs_argmax(p);
        double c = p[k], s = 0, rest = 0; /* rest: the others' sum (not 1 - c: float rows sum
                                           * to 1 only to rounding) */
        int m = 0;                        /* other classes with some probability */
        for (int j = 0; j < C; j++) {
                if (j == k)
                        continue;
                rest += p[j];
                if (p[j] > s)
                        s = p[j];
                m += p[j] > 0;
        }
        if (!(rest > 0) || !(c > 0))
                return; /* a one-hot row: nothing to rescale */
        double c2 = ss_calib_top_map(top, k, c), cap = 1;
        if (top->rule == SS_CALIB_TOP_RULE_TIE) {
                double lo = s / (rest + s) + TOP_TIE_GAP; /* c' >= lo keeps k the argmax */
                if (c2 < lo)
                        c2 = c < lo ? c : lo;
        } else {
                /* the least k can hold while a class at 0 stays at 0 */
                double lo = 1.0 / (m + 1) + 2 * TOP_TIE_GAP;
                if (c < lo)
                        return; /* (nearly) a tie already: nothing to map */
                if (c2 < lo)
                        c2 = lo;
                cap = c2 - TOP_TIE_GAP;
        }
        float row[C];
        row[k] = (float)c2;
        top_fill_rest(row, p, k, c2, cap);
        if (ss_probs_argmax(row) != k)
                return;
        memcpy(p, row, sizeof(row));
}

void ss_calib_top_apply(const ss_calib_top_t *top, float *probs, size_t n)
{
        if (ss_calib_top_is_identity(top))
                return;
        for (size_t i = 0; i < n; i++)
                top_apply_row(top, probs + i * C);
}

int ss_calib_top_check(const ss_calib_top_t *top)
{
        for (int k = 0; k < C; k++)
                if (!(isfinite(top->a[k]) && top->a[k] > 0 && top->a[k] <= 100 &&
                      isfinite(top->b[k]) && fabs(top->b[k]) <= 100))
                        return k;
        return -1;
}
