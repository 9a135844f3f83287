/*
 * cbpe: the expected confusion matrix of a window, known answers. Rows whose
 * probabilities are one-hot give the labelled confusion matrix and perf.c's
 * figures; hand-computed soft rows; the sliding window forgets exactly (equal
 * to a fresh window over the last rows); snapshot round trip; and, on a
 * simulated calibrated model, the estimated macro-F1 is within 0.01 of the
 * one the drawn labels give; its standard error (delta method) against the
 * spread of the estimate over many windows drawn from one population.
 */
#include <math.h>

#include "cbpe.h"
#include "perf.h"
#include "ss_test.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static double urand(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void test_one_hot(void)
{
        ss_cbpe_t *w = ss_cbpe_new(0);
        ss_perf_t *p = ss_perf_new(100);
        int pairs[][2] = {{0, 0}, {0, 1}, {1, 1}, {1, 1}, {2, 1}, {2, 2}, {2, 2}, {1, 0}, {0, 2}};
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                int pred = pairs[i][0], truth = pairs[i][1];
                float prob[3] = {0, 0, 0};
                prob[truth] = 1; /* a perfect oracle of the truth, predicting `pred` */
                ss_cbpe_add(w, pred, prob);
                ss_perf_add(p, pred, truth, 0, 0);
        }
        ss_cbpe_est_t e;
        ss_perf_report_t r;
        ss_cbpe_estimate(w, &e);
        ss_perf_report(p, &r);
        CHECK_NEAR(e.n, 9, 1e-12);
        CHECK_NEAR(e.macro_f1, r.macro_f1, 1e-12);
        CHECK_NEAR(e.avgrec, r.avgrec, 1e-12);
        CHECK_NEAR(e.accuracy, r.accuracy, 1e-12);
        for (int t = 0; t < 3; t++)
                for (int k = 0; k < 3; k++)
                        CHECK_NEAR(e.confusion[t][k], r.confusion[t][k], 1e-12);
        ss_cbpe_destroy(w);
        ss_perf_destroy(p);
}

static void test_soft(void)
{
        /* two rows predicted negative with p = (.75, .25, 0) and one predicted positive with
         * p = (0, .5, .5): expected confusion [true][pred]: neg/neg 1.5, neu/neg .5,
         * neu/pos .5, pos/pos .5 */
        ss_cbpe_t *w = ss_cbpe_new(0);
        float a[3] = {0.75f, 0.25f, 0}, b[3] = {0, 0.5f, 0.5f};
        ss_cbpe_add(w, 0, a);
        ss_cbpe_add(w, 0, a);
        ss_cbpe_add(w, 2, b);
        ss_cbpe_est_t e;
        ss_cbpe_estimate(w, &e);
        CHECK_NEAR(e.confusion[0][0], 1.5, 1e-6);
        CHECK_NEAR(e.confusion[1][0], 0.5, 1e-6);
        CHECK_NEAR(e.confusion[1][2], 0.5, 1e-6);
        CHECK_NEAR(e.confusion[2][2], 0.5, 1e-6);
        /* precision neg .75, recall neg 1 -> F1 6/7; neutral 0; positive: precision .5,
         * recall 1 -> 2/3 */
        CHECK_NEAR(e.f1[0], 6.0 / 7, 1e-6);
        CHECK_NEAR(e.f1[1], 0, 1e-12);
        CHECK_NEAR(e.f1[2], 2.0 / 3, 1e-6);
        CHECK_NEAR(e.macro_f1, (6.0 / 7 + 2.0 / 3) / 3, 1e-6);
        CHECK_NEAR(e.true_mix[0], 0.5, 1e-6);
        CHECK(w->npred[0] == 2 && w->npred[2] == 1);
        ss_cbpe_clear(w);
        CHECK(ss_cbpe_n(w) == 0);
        ss_cbpe_destroy(w);
}

static void rand_row(float *p)
{
        double a = urand(), b = urand(), c = urand(), s = a + b + c;
        p[0] = (float)(a / s);
        p[1] = (float)(b / s);
        p[2] = (float)(1 - p[0] - p[1]);
}

static int argmax(const float *p)
{
        return p[1] > p[0] ? (p[2] > p[1] ? 2 : 1) : (p[2] > p[0] ? 2 : 0);
}

static void test_sliding_and_snapshot(void)
{
        ss_cbpe_t *s = ss_cbpe_new(50), *fresh = ss_cbpe_new(50);
        float rows[300][3];
        for (int i = 0; i < 300; i++) {
                rand_row(rows[i]);
                ss_cbpe_add(s, argmax(rows[i]), rows[i]);
        }
        for (int i = 250; i < 300; i++)
                ss_cbpe_add(fresh, argmax(rows[i]), rows[i]);
        CHECK(!memcmp(s->expect, fresh->expect, sizeof(s->expect)));
        CHECK(!memcmp(s->npred, fresh->npred, sizeof(s->npred)));
        CHECK(!memcmp(s->m2, fresh->m2, sizeof(s->m2)));
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_cbpe_save(s, &b);
        ss_cbpe_t *back = ss_cbpe_new(50);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_cbpe_load(back, &r) == 0);
        CHECK(!memcmp(back->expect, s->expect, sizeof(s->expect)));
        CHECK(!memcmp(back->m2, s->m2, sizeof(s->m2)));
        /* a tumbling window saves its sums, the products among them */
        ss_cbpe_t *t = ss_cbpe_new(0), *tback = ss_cbpe_new(0);
        for (int i = 0; i < 300; i++)
                ss_cbpe_add(t, argmax(rows[i]), rows[i]);
        ss_mbuf_t tb;
        ss_mbuf_init(&tb);
        ss_cbpe_save(t, &tb);
        ss_mreader_init(&r, tb.data, tb.len);
        CHECK(ss_cbpe_load(tback, &r) == 0);
        ss_cbpe_est_t et, eb;
        ss_cbpe_estimate(t, &et);
        ss_cbpe_estimate(tback, &eb);
        CHECK(et.f1_se > 0 && et.f1_se == eb.f1_se);
        ss_mbuf_free(&tb);
        ss_cbpe_destroy(t);
        ss_cbpe_destroy(tback);
        ss_cbpe_t *other = ss_cbpe_new(40);
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_cbpe_load(other, &r) == -1);
        ss_mreader_init(&r, b.data, b.len - 3);
        CHECK(ss_cbpe_load(back, &r) == -1 && ss_cbpe_n(back) == 0);
        ss_mbuf_free(&b);
        ss_cbpe_destroy(s);
        ss_cbpe_destroy(fresh);
        ss_cbpe_destroy(back);
        ss_cbpe_destroy(other);
}

/* A calibrated model: the true label is drawn from the probabilities themselves. */
static void test_calibrated(void)
{
        ss_cbpe_t *w = ss_cbpe_new(0);
        ss_perf_t *p = ss_perf_new(20000);
        for (int i = 0; i < 20000; i++) {
                float pr[3];
                rand_row(pr);
                /* sharpen so that the model is decent */
                double s = 0, e[3];
                for (int k = 0; k < 3; k++)
                        s += e[k] = pr[k] * pr[k] * pr[k];
                for (int k = 0; k < 3; k++)
                        pr[k] = (float)(e[k] / s);
                double u = urand();
                int truth = u < pr[0] ? 0 : (u < pr[0] + pr[1] ? 1 : 2);
                ss_cbpe_add(w, argmax(pr), pr);
                ss_perf_add(p, argmax(pr), truth, 0, 0);
        }
        ss_cbpe_est_t e;
        ss_perf_report_t r;
        ss_cbpe_estimate(w, &e);
        ss_perf_report(p, &r);
        printf("calibrated model: estimated macro-F1 %.4f, from labels %.4f\n", e.macro_f1,
               r.macro_f1);
        CHECK_NEAR(e.macro_f1, r.macro_f1, 0.01);
        CHECK_NEAR(e.avgrec, r.avgrec, 0.01);
        ss_cbpe_destroy(w);
        ss_perf_destroy(p);
}

/* A sharpened random row (a decent model) whose true label is drawn from it. */
static int sharp_row(float *pr)
{
        rand_row(pr);
        double s = 0, e[3];
        for (int k = 0; k < 3; k++)
                s += e[k] = pr[k] * pr[k] * pr[k];
        for (int k = 0; k < 3; k++)
                pr[k] = (float)(e[k] / s);
        return argmax(pr);
}

/* The standard error of the estimated macro-F1 against the spread of the estimate over 400
 * windows of 2000 rows drawn from one population of 20,000 rows: the delta method's figure
 * (the mean over the windows) within 15 % of the windows' standard deviation; and a window
 * of 4 x the rows has half the error. */
static void test_standard_error(void)
{
        enum { POP = 20000, WIN = 2000, REPS = 400 };
        static float pop[POP][3];
        static int lab[POP];
        for (int i = 0; i < POP; i++)
                lab[i] = sharp_row(pop[i]);
        ss_cbpe_t *w = ss_cbpe_new(0);
        double sum = 0, sum2 = 0, se_sum = 0;
        for (int r = 0; r < REPS; r++) {
                ss_cbpe_clear(w);
                for (int i = 0; i < WIN; i++) {
                        int k = (int)(urand() * POP);
                        ss_cbpe_add(w, lab[k], pop[k]);
                }
                ss_cbpe_est_t e;
                ss_cbpe_estimate(w, &e);
                sum += e.macro_f1;
                sum2 += e.macro_f1 * e.macro_f1;
                se_sum += e.f1_se;
        }
        double mean = sum / REPS, sd = sqrt((sum2 - REPS * mean * mean) / (REPS - 1));
        double se = se_sum / REPS;
        printf("estimated macro-F1 over %d windows of %d: sd %.5f, delta-method error %.5f\n", REPS,
               WIN, sd, se);
        CHECK(se > 0.85 * sd && se < 1.15 * sd);
        ss_cbpe_clear(w);
        for (int i = 0; i < 4 * WIN; i++) {
                int k = (int)(urand() * POP);
                ss_cbpe_add(w, lab[k], pop[k]);
        }
        ss_cbpe_est_t e4;
        ss_cbpe_estimate(w, &e4);
        CHECK_NEAR(e4.f1_se, se / 2, 0.1 * se);
        ss_cbpe_est_t ec;
        ss_cbpe_from_confusion(e4.confusion, &ec);
        CHECK(isnan(ec.f1_se));
        ss_cbpe_destroy(w);
}

int main(void)
{
        test_one_hot();
        test_soft();
        test_sliding_and_snapshot();
        test_calibrated();
        test_standard_error();
        return ss_test_finish();
}
