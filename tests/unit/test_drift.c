/*
 * test_drift: PSI, KL and chi-square critical values against scipy reference
 * values (tests/fixtures/drift/{chi2,divergence}.json, made by
 * tests/fixtures/gen_drift_fixtures.py), plus a Monte Carlo check that the critical value keeps its
 * false-alarm rate.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "drift.h"
#include "ss_test.h"
#include "ss_util.h"

static cJSON *load_fixture(const char *rel)
{
        char path[1024], err[256];
        char *text = NULL;
        size_t len;
        ss_test_src_path(rel, path, sizeof(path));
        if (ss_file_read_all(path, &text, &len, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "cannot read fixture: %s\n", err);
                exit(1);
        }
        cJSON *j = cJSON_Parse(text);
        free(text);
        if (!j) {
                fprintf(stderr, "bad JSON in %s\n", path);
                exit(1);
        }
        return j;
}

static double num(const cJSON *o, const char *k)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int rel_close(double got, double want, double rtol, double atol)
{
        return fabs(got - want) <= atol + rtol * fabs(want);
}

static void test_chi2_fixture(void)
{
        cJSON *j = load_fixture("tests/fixtures/drift/chi2.json");
        const cJSON *c;
        int n = 0, bad = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
        {
                double df = num(c, "df"), x = num(c, "x");
                if (!isnan(num(c, "alpha"))) {
                        double a = num(c, "alpha");
                        double isf = ss_chi2_isf(a, df), ppf = ss_chi2_ppf(a, df);
                        if (!rel_close(isf, num(c, "isf"), 1e-9, 1e-300) ||
                            !rel_close(ppf, num(c, "ppf"), 1e-9, 1e-300)) {
                                bad++;
                                fprintf(stderr,
                                        "df=%g alpha=%g: isf %.15g want %.15g, ppf %.15g "
                                        "want %.15g\n",
                                        df, a, isf, num(c, "isf"), ppf, num(c, "ppf"));
                        }
                }
                double cdf = ss_chi2_cdf(x, df), sf = ss_chi2_sf(x, df);
                /* the smaller tail must be accurate relative to itself */
                if (!rel_close(cdf, num(c, "cdf"), 1e-9, 1e-15) ||
                    !rel_close(sf, num(c, "sf"), 1e-9, 1e-15)) {
                        bad++;
                        fprintf(stderr, "df=%g x=%g: cdf %.15g want %.15g, sf %.15g want %.15g\n",
                                df, x, cdf, num(c, "cdf"), sf, num(c, "sf"));
                }
                n++;
        }
        CHECK(n > 150);
        CHECK(bad == 0);
        cJSON_Delete(j);
}

static void to_doubles(const cJSON *arr, double *out, int *n)
{
        const cJSON *v;
        *n = 0;
        cJSON_ArrayForEach(v, arr) out[(*n)++] = v->valuedouble;
}

static void test_divergence_fixture(void)
{
        cJSON *j = load_fixture("tests/fixtures/drift/divergence.json");
        CHECK_NEAR(num(j, "smooth"), SS_DRIFT_SMOOTH, 0);
        const cJSON *c;
        int n = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
        {
                double cur[64], ref[64];
                int b1, b2;
                to_doubles(cJSON_GetObjectItem(c, "cur"), cur, &b1);
                to_doubles(cJSON_GetObjectItem(c, "ref"), ref, &b2);
                CHECK(b1 == b2);
                double psi, kl;
                ss_drift_psi_kl(cur, ref, b1, &psi, &kl);
                CHECK(rel_close(psi, num(c, "psi"), 1e-10, 1e-14));
                CHECK(rel_close(kl, num(c, "kl"), 1e-10, 1e-14));
                CHECK(rel_close(ss_drift_psi(cur, ref, b1), psi, 0, 0));
                CHECK(rel_close(ss_drift_kl(cur, ref, b1), kl, 0, 0));
                int bins = ss_drift_bins_effective(ref, b1);
                CHECK(bins == (int)num(c, "bins"));
                const cJSON *crit;
                cJSON_ArrayForEach(crit, cJSON_GetObjectItem(c, "crit"))
                {
                        double alpha = atof(crit->string);
                        double pc = ss_drift_psi_crit(num(c, "n"), num(c, "m"), bins, alpha);
                        double kc = ss_drift_kl_crit(num(c, "n"), num(c, "m"), bins, alpha);
                        CHECK(rel_close(pc, num(crit, "psi"), 1e-9, 0));
                        CHECK(rel_close(kc, num(crit, "kl"), 1e-9, 0));
                }
                n++;
        }
        CHECK(n >= 20);
        cJSON_Delete(j);
}

static void test_edges(void)
{
        double a[3] = {0, 0, 0}, b[3] = {5, 5, 5};
        CHECK(isinf(ss_drift_psi_crit(0, 100, 3, 0.01)));
        CHECK(isinf(ss_drift_kl_crit(0, 100, 3, 0.01)));
        /* zero counts on both sides: smoothing makes them uniform, divergence 0 */
        CHECK_NEAR(ss_drift_psi(a, a, 3), 0, 1e-15);
        CHECK_NEAR(ss_drift_kl(a, b, 3), 0, 1e-15);
        /* m = 0 means an exact reference: KL_crit = chi2.isf / (2n) */
        CHECK_NEAR(ss_drift_kl_crit(100, 0, 3, 0.05), ss_chi2_isf(0.05, 2) / 200, 1e-15);
        CHECK(isnan(ss_chi2_isf(0, 3)));
        CHECK(isnan(ss_chi2_isf(1, 3)));
        CHECK(isnan(ss_chi2_ppf(0.5, 0)));
        /* df 2 has a closed form: isf(a) = -2 ln a */
        CHECK_NEAR(ss_chi2_isf(1e-3, 2), -2 * log(1e-3), 1e-12);
        CHECK_NEAR(ss_chi2_isf(0.3, 2), -2 * log(0.3), 1e-12);
        CHECK(ss_drift_bins_effective(a, 3) == 2);
        double psi_s = ss_drift_psi((double[]){1, 2, 3}, (double[]){3, 2, 1}, 3);
        double psi_t = ss_drift_psi((double[]){3, 2, 1}, (double[]){1, 2, 3}, 3);
        CHECK_NEAR(psi_s, psi_t, 1e-15); /* PSI is symmetric, KL is not */
        CHECK(fabs(ss_drift_kl((double[]){1, 2, 30}, (double[]){3, 2, 1}, 3) -
                   ss_drift_kl((double[]){3, 2, 1}, (double[]){1, 2, 30}, 3)) > 0.01);
}

/* ---- Monte Carlo: the critical values hold their false-alarm rate --------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double rng_uniform(void)
{
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return (double)(z >> 11) * 0x1.0p-53;
}

static void sample(const double *cdf, int b, int n, double *counts)
{
        for (int i = 0; i < b; i++)
                counts[i] = 0;
        for (int k = 0; k < n; k++) {
                double u = rng_uniform();
                int i = 0;
                while (i < b - 1 && u >= cdf[i])
                        i++;
                counts[i]++;
        }
}

static void test_false_alarm_rate(void)
{
        enum { B = 10, N = 500, M = 20000, TRIALS = 4000 };
        double p[B], cdf[B], ref[B], cur[B], shifted[B], scdf[B], s = 0;
        for (int i = 0; i < B; i++)
                s += p[i] = 1 + i % 4;
        for (int i = 0; i < B; i++) {
                p[i] /= s;
                cdf[i] = (i ? cdf[i - 1] : 0) + p[i];
        }
        sample(cdf, B, M, ref);
        /* the reference sample, not p, is what the card holds */
        int bins = ss_drift_bins_effective(ref, B);
        double alpha = 0.01;
        double pc = ss_drift_psi_crit(N, M, bins, alpha);
        double kc = ss_drift_kl_crit(N, M, bins, alpha);
        int psi_hits = 0, kl_hits = 0;
        for (int t = 0; t < TRIALS; t++) {
                double psi, kl;
                sample(cdf, B, N, cur);
                ss_drift_psi_kl(cur, ref, B, &psi, &kl);
                psi_hits += psi > pc;
                kl_hits += kl > kc;
        }
        /* expected 40 of 4000; binomial sd ~6.3: a broken derivation (e.g. a missing factor
         * of 2 on KL, or 1/n for PSI) lands far outside */
        printf("false alarms at alpha=%.2f over %d windows: PSI %d, KL %d (expected %.0f)\n", alpha,
               TRIALS, psi_hits, kl_hits, alpha * TRIALS);
        CHECK(psi_hits >= 18 && psi_hits <= 65);
        CHECK(kl_hits >= 18 && kl_hits <= 65);

        /* power: negatives (bin 0) tripled is caught nearly always */
        for (int i = 0; i < B; i++)
                shifted[i] = p[i] * (i == 0 ? 3 : 1);
        s = 0;
        for (int i = 0; i < B; i++)
                s += shifted[i];
        for (int i = 0; i < B; i++)
                scdf[i] = (i ? scdf[i - 1] : 0) + shifted[i] / s;
        int caught = 0;
        for (int t = 0; t < 500; t++) {
                sample(scdf, B, N, cur);
                caught += ss_drift_psi(cur, ref, B) > pc;
        }
        CHECK(caught >= 490);
}

int main(void)
{
        test_chi2_fixture();
        test_divergence_fixture();
        test_edges();
        test_false_alarm_rate();
        return ss_test_finish();
}
