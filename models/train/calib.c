/*
 * calib: temperature scaling on probabilities (the log of a probability is
 * its logit up to a per-row constant, which softmax ignores), a golden-section
 * fit of 1/T, and top-label ECE.
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
