/*
 * bbse: known answers for black-box shift estimation. An identity confusion
 * matrix reduces to drift.h's critical value; an exact q = C w gives w back;
 * an infeasible q gives the simplex point a brute-force grid finds; and by
 * simulation (reference and window both drawn), the interval covers the true
 * mix and PSI exceeds its critical value at about the false-alarm rate under
 * no shift, and nearly always under a real shift.
 */
#include "bbse.h"
#include "drift.h"
#include "ss_test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int draw(const double *p)
{
        double u = urand(), acc = 0;
        for (int i = 0; i < SS_BBSE_K - 1; i++) {
                acc += p[i];
                if (u < acc)
                        return i;
        }
        return SS_BBSE_K - 1;
}

/* A model like the project's LR: neutral often wins, the rare classes under-predicted. */
static const double C_LR[3][3] = {/* C[pred][true] */
                                  {0.55, 0.08, 0.04},
                                  {0.38, 0.70, 0.30},
                                  {0.07, 0.22, 0.66}};

static void confusion_from(const double c[3][3], const double *pi, double m, double conf[3][3])
{
        for (int t = 0; t < 3; t++)
                for (int p = 0; p < 3; p++)
                        conf[t][p] = c[p][t] * pi[t] * m;
}

static void test_identity(void)
{
        double conf[3][3] = {{300, 0, 0}, {0, 500, 0}, {0, 0, 200}};
        ss_bbse_ref_t r;
        CHECK(ss_bbse_ref_init(&r, conf) == 0);
        CHECK_NEAR(r.pi[1], 0.5, 1e-12);
        double pred[3] = {100, 250, 150};
        ss_bbse_est_t e;
        ss_bbse_estimate(&r, pred, 0.01, 0.05, &e);
        for (int i = 0; i < 3; i++)
                CHECK_NEAR(e.w[i], pred[i] / 500, 1e-12);
        /* with C = I the Satterthwaite value is exact: (1/n + 1/m) chi2.isf(alpha, 2) */
        CHECK_NEAR(e.psi_crit, ss_drift_psi_crit(500, 1000, 3, 0.01), 1e-9);
        CHECK_NEAR(e.kl_crit, ss_drift_kl_crit(500, 1000, 3, 0.01), 1e-9);
        double psi, kl;
        double cw[3] = {100, 250, 150}, cpi[3] = {300, 500, 200};
        ss_drift_psi_kl(cw, cpi, 3, &psi, &kl);
        CHECK_NEAR(e.psi, psi, 1e-12);
        /* singular or missing class: refused */
        double sing[3][3] = {{10, 10, 0}, {10, 10, 0}, {0, 0, 5}};
        CHECK(ss_bbse_ref_init(&r, sing) == -1);
        double empty[3][3] = {{10, 0, 0}, {0, 10, 0}, {0, 0, 0}};
        CHECK(ss_bbse_ref_init(&r, empty) == -1);
}

static void test_exact(void)
{
        double pi[3] = {0.157, 0.501, 0.342}, conf[3][3];
        confusion_from(C_LR, pi, 20000, conf);
        ss_bbse_ref_t r;
        CHECK(ss_bbse_ref_init(&r, conf) == 0);
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                        CHECK_NEAR(r.c[i][j], C_LR[i][j], 1e-12);
        double w[3] = {0.32, 0.48, 0.20}, pred[3] = {0};
        for (int p = 0; p < 3; p++)
                for (int t = 0; t < 3; t++)
                        pred[p] += 10000 * C_LR[p][t] * w[t];
        ss_bbse_est_t e;
        ss_bbse_estimate(&r, pred, 0.01, 0.05, &e);
        for (int i = 0; i < 3; i++) {
                CHECK_NEAR(e.w[i], w[i], 1e-9);
                CHECK_NEAR(e.w_raw[i], w[i], 1e-9);
                CHECK(e.lo[i] < w[i] && w[i] < e.hi[i]);
                CHECK(e.se[i] > 0.003 && e.se[i] < 0.05);
        }
        CHECK(e.psi > 0.15 && e.psi > e.psi_crit);
        /* the reference's own predicted shares give the reference mix back, PSI ~ 0 */
        double q0[3];
        for (int p = 0; p < 3; p++)
                q0[p] = 2000 * r.qref[p];
        ss_bbse_estimate(&r, q0, 0.01, 0.05, &e);
        for (int i = 0; i < 3; i++)
                CHECK_NEAR(e.w[i], pi[i], 1e-9);
        CHECK(e.psi < 1e-6);
}

/* Infeasible q: C^-1 q has a negative share; the estimate is the simplex point with the
 * smallest residual, which a fine grid over the simplex finds too. */
static void test_simplex(void)
{
        double q[3] = {0.01, 0.60, 0.39}, w[3];
        double raw[3], cinv_ok;
        double pi[3] = {0.2, 0.5, 0.3}, conf[3][3];
        confusion_from(C_LR, pi, 1000, conf);
        ss_bbse_ref_t r;
        ss_bbse_ref_init(&r, conf);
        for (int i = 0; i < 3; i++) {
                raw[i] = 0;
                for (int j = 0; j < 3; j++)
                        raw[i] += r.cinv[i][j] * q[j];
        }
        cinv_ok = raw[0] < 0;
        CHECK(cinv_ok); /* the case is really infeasible */
        ss_bbse_solve_simplex(C_LR, q, w);
        CHECK(w[0] >= 0 && w[1] >= 0 && w[2] >= 0);
        CHECK_NEAR(w[0] + w[1] + w[2], 1, 1e-12);
        double best = 1e9, bw[3] = {0};
        const int g = 2000;
        for (int a = 0; a <= g; a++)
                for (int b = 0; a + b <= g; b++) {
                        double x[3] = {(double)a / g, (double)b / g, (double)(g - a - b) / g},
                               res = 0;
                        for (int i = 0; i < 3; i++) {
                                double e = -q[i];
                                for (int j = 0; j < 3; j++)
                                        e += C_LR[i][j] * x[j];
                                res += e * e;
                        }
                        if (res < best) {
                                best = res;
                                memcpy(bw, x, sizeof(bw));
                        }
                }
        for (int i = 0; i < 3; i++)
                CHECK_NEAR(w[i], bw[i], 1.5e-3);
        CHECK_NEAR(w[0], 0, 1e-12); /* on the face without negatives */
}

/* Simulation: reference of m and window of n drawn from the model C. */
static void simulate(const double *pi_ref, const double *w_true, int sims, double alpha,
                     double *alarm_rate, double *coverage)
{
        const int m = 5000, n = 2000;
        int alarms = 0, covered = 0;
        for (int s = 0; s < sims; s++) {
                double conf[3][3] = {{0}}, pred[3] = {0};
                for (int i = 0; i < m; i++) {
                        int t = draw(pi_ref);
                        double col[3] = {C_LR[0][t], C_LR[1][t], C_LR[2][t]};
                        conf[t][draw(col)] += 1;
                }
                for (int i = 0; i < n; i++) {
                        int t = draw(w_true);
                        double col[3] = {C_LR[0][t], C_LR[1][t], C_LR[2][t]};
                        pred[draw(col)] += 1;
                }
                ss_bbse_ref_t r;
                if (ss_bbse_ref_init(&r, conf))
                        continue;
                ss_bbse_est_t e;
                ss_bbse_estimate(&r, pred, alpha, 0.05, &e);
                alarms += e.psi > e.psi_crit;
                covered += e.lo[0] <= w_true[0] && w_true[0] <= e.hi[0];
        }
        *alarm_rate = (double)alarms / sims;
        *coverage = (double)covered / sims;
}

static void test_simulated(void)
{
        double pi[3] = {0.157, 0.501, 0.342}, shifted[3] = {0.32, 0.48, 0.20};
        double rate, cov;
        simulate(pi, pi, 2000, 0.05, &rate, &cov);
        printf("no shift:  PSI > crit in %.3f of windows (alpha 0.05), interval covers %.3f\n",
               rate, cov);
        CHECK(rate > 0.03 && rate < 0.07);
        CHECK(cov > 0.93 && cov < 0.97);
        simulate(pi, shifted, 500, 0.01, &rate, &cov);
        printf("shift:     PSI > crit in %.3f of windows (alpha 0.01), interval covers %.3f\n",
               rate, cov);
        CHECK(rate > 0.99);
        CHECK(cov > 0.92 && cov < 0.98);
}

int main(void)
{
        test_identity();
        test_exact();
        test_simplex();
        test_simulated();
        return ss_test_finish();
}
