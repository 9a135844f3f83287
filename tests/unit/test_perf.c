/*
 * test_perf: rolling confusion, per-class P/R/F1, macro-F1, AvgRec and lag
 * quantiles against values computed by hand.
 */
#include <stdint.h>
#include <stdlib.h>

#include "perf.h"
#include "ss_test.h"

static void test_hand_computed(void)
{
        ss_perf_t *p = ss_perf_new(100);
        /* truth -> predicted, 10 pairs:
         *   neg: 3 -> neg 2, neu 1
         *   neu: 4 -> neu 2, pos 1, neg 1
         *   pos: 3 -> pos 3
         * confusion rows=true: [[2,1,0],[1,2,1],[0,0,3]]
         * precision: neg 2/3, neu 2/3, pos 3/4; recall: neg 2/3, neu 2/4, pos 3/3
         * F1: neg 2/3; neu 2*(2/3*1/2)/(2/3+1/2) = 4/7; pos 2*(3/4)/(7/4) = 6/7
         * macro-F1 = (2/3 + 4/7 + 6/7)/3 = (14/21 + 12/21 + 18/21)/3 = 44/63
         * AvgRec = (2/3 + 1/2 + 1)/3 = 13/18; F1-PN = (2/3 + 6/7)/2 = 16/21; acc 7/10 */
        int pairs[10][2] = {{0, 0}, {0, 0}, {1, 0}, {1, 1}, {1, 1},
                            {2, 1}, {0, 1}, {2, 2}, {2, 2}, {2, 2}};
        int64_t lags[10] = {5000, 1000, 3000, 2000, 4000, 9000, 8000, 7000, 6000, -500};
        for (int i = 0; i < 10; i++)
                CHECK(ss_perf_add(p, pairs[i][0], pairs[i][1], lags[i], 100 + i) == 0);
        ss_perf_report_t r;
        ss_perf_report(p, &r);
        CHECK(r.n == 10);
        CHECK(r.confusion[0][0] == 2 && r.confusion[0][1] == 1 && r.confusion[1][0] == 1);
        CHECK(r.confusion[1][2] == 1 && r.confusion[2][2] == 3 && r.confusion[2][0] == 0);
        CHECK_NEAR(r.precision[0], 2.0 / 3, 1e-12);
        CHECK_NEAR(r.precision[1], 2.0 / 3, 1e-12);
        CHECK_NEAR(r.precision[2], 3.0 / 4, 1e-12);
        CHECK_NEAR(r.recall[0], 2.0 / 3, 1e-12);
        CHECK_NEAR(r.recall[1], 0.5, 1e-12);
        CHECK_NEAR(r.recall[2], 1.0, 1e-12);
        CHECK_NEAR(r.f1[1], 4.0 / 7, 1e-12);
        CHECK_NEAR(r.f1[2], 6.0 / 7, 1e-12);
        CHECK_NEAR(r.macro_f1, 44.0 / 63, 1e-12);
        CHECK_NEAR(r.avgrec, 13.0 / 18, 1e-12);
        CHECK_NEAR(r.f1_pn, 16.0 / 21, 1e-12);
        CHECK_NEAR(r.accuracy, 0.7, 1e-12);
        /* lags (s), the negative one clamped: 0 1 2 3 4 5 6 7 8 9
         * p50 = sorted[ceil(5) - 1] = 4; p95 = sorted[ceil(9.5) - 1] = 9 */
        CHECK_NEAR(r.lag_p50_s, 4.0, 1e-12);
        CHECK_NEAR(r.lag_p95_s, 9.0, 1e-12);
        CHECK(r.t_first == 100 && r.t_last == 109);
        CHECK(ss_perf_add(p, 3, 0, 0, 0) == -1);
        CHECK(ss_perf_add(p, 0, -1, 0, 0) == -1);
        CHECK(p->total == 10);
        ss_perf_destroy(p);
}

static void test_rolling(void)
{
        /* window of 4: after 6 pairs only the last 4 count */
        ss_perf_t *p = ss_perf_new(4);
        ss_perf_add(p, 0, 2, 100, 100); /* leaves */
        ss_perf_add(p, 0, 2, 100, 100); /* leaves */
        ss_perf_add(p, 1, 1, 1000, 1000);
        ss_perf_add(p, 1, 1, 2000, 2000);
        ss_perf_add(p, 2, 2, 3000, 3000);
        ss_perf_add(p, 2, 2, 4000, 4000);
        ss_perf_report_t r;
        ss_perf_report(p, &r);
        CHECK(r.n == 4);
        CHECK(r.t_first == 1000 && r.t_last == 4000);
        CHECK(r.confusion[2][0] == 0);
        CHECK_NEAR(r.accuracy, 1.0, 1e-12);
        /* negative never occurs: its F1 is 0 and the macro average still divides by 3 */
        CHECK_NEAR(r.f1[0], 0.0, 0);
        CHECK_NEAR(r.macro_f1, 2.0 / 3, 1e-12);
        CHECK_NEAR(r.lag_p50_s, 2.0, 1e-12);
        CHECK_NEAR(r.lag_p95_s, 4.0, 1e-12);

        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_perf_save(p, &b);
        ss_perf_t *q = ss_perf_new(4);
        ss_mreader_t rd;
        ss_mreader_init(&rd, b.data, b.len);
        CHECK(ss_perf_load(q, &rd) == 0);
        ss_perf_add(p, 0, 0, 10, 10);
        ss_perf_add(q, 0, 0, 10, 10);
        ss_perf_report_t rp, rq;
        ss_perf_report(p, &rp);
        ss_perf_report(q, &rq);
        CHECK(q->total == p->total && q->total == 7);
        CHECK_NEAR(rp.macro_f1, rq.macro_f1, 0);
        CHECK_NEAR(rp.lag_p50_s, rq.lag_p50_s, 0);
        ss_perf_t *other = ss_perf_new(5);
        ss_mreader_init(&rd, b.data, b.len);
        CHECK(ss_perf_load(other, &rd) == -1);
        ss_perf_destroy(other);
        ss_perf_destroy(q);
        ss_perf_destroy(p);
        ss_mbuf_free(&b);

        ss_perf_t *e = ss_perf_new(3);
        ss_perf_report(e, &r);
        CHECK(r.n == 0 && r.macro_f1 == 0 && r.lag_p95_s == 0);
        ss_perf_destroy(e);
}

static int cmp64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static void test_quantile(void)
{
        /* quickselect agrees with sorting, including long runs of equal values */
        static int64_t v[2001], w[2001];
        uint64_t s = 99;
        int ok = 1;
        for (int trial = 0; trial < 50; trial++) {
                size_t n = 1 + (size_t)(trial * 40);
                for (size_t i = 0; i < n; i++) {
                        s = s * 6364136223846793005ULL + 1;
                        v[i] = trial % 3 == 0
                                   ? 0
                                   : (int64_t)((s >> 33) % (trial % 3 == 1 ? 5 : 100000));
                        w[i] = v[i];
                }
                qsort(w, n, sizeof(int64_t), cmp64);
                double qs[] = {0.0, 0.01, 0.5, 0.95, 1.0};
                for (int k = 0; k < 5; k++) {
                        size_t idx = (size_t)ceil(qs[k] * (double)n);
                        idx = idx ? idx - 1 : 0;
                        ok &= ss_quantile_i64(v, n, qs[k]) == w[idx];
                }
        }
        CHECK(ok);
        CHECK(ss_quantile_i64(v, 0, 0.5) == 0);
}

int main(void)
{
        test_hand_computed();
        test_rolling();
        test_quantile();
        return ss_test_finish();
}
