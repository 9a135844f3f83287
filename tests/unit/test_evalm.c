/* Metric functions against values computed by hand (see the comments). */
#include "evalm.h"
#include "ss_test.h"

static void test_hand_computed(void)
{
        /* confusion, rows = truth (neg, neu, pos):
         *   [5 2 1] [3 10 2] [0 4 8]
         * neg: P = 5/8,  R = 5/8,   F1 = 0.625
         * neu: P = 10/16, R = 10/15, F1 = 2PR/(P+R) = 0.64516129
         * pos: P = 8/11, R = 8/12,  F1 = 0.69565217
         * AvgRec = (5/8 + 10/15 + 8/12)/3 = 0.65277778
         * F1-PN = (0.625 + 0.69565217)/2 = 0.66032609
         * accuracy = 23/35, macro-F1 = 0.65527115 */
        static const int m[3][3] = {{5, 2, 1}, {3, 10, 2}, {0, 4, 8}};
        ss_eval_t e;
        ss_eval_init(&e);
        for (int t = 0; t < 3; t++)
                for (int p = 0; p < 3; p++)
                        for (int k = 0; k < m[t][p]; k++)
                                CHECK(ss_eval_add(&e, t, p) == 0);
        ss_eval_finish(&e);
        CHECK(e.n == 35);
        CHECK(e.support[0] == 8 && e.support[1] == 15 && e.support[2] == 12);
        CHECK_NEAR(e.precision[0], 0.625, 1e-12);
        CHECK_NEAR(e.precision[1], 0.625, 1e-12);
        CHECK_NEAR(e.precision[2], 8.0 / 11, 1e-12);
        CHECK_NEAR(e.recall[1], 10.0 / 15, 1e-12);
        CHECK_NEAR(e.f1[0], 0.625, 1e-12);
        CHECK_NEAR(e.f1[1], 0.6451612903225806, 1e-12);
        CHECK_NEAR(e.f1[2], 0.6956521739130435, 1e-12);
        CHECK_NEAR(e.avgrec, 0.6527777777777777, 1e-12);
        CHECK_NEAR(e.f1_pn, 0.6603260869565217, 1e-12);
        CHECK_NEAR(e.accuracy, 23.0 / 35, 1e-12);
        CHECK_NEAR(e.macro_f1, 0.655271154745208, 1e-12);
        /* finishing twice changes nothing */
        ss_eval_finish(&e);
        CHECK_NEAR(e.avgrec, 0.6527777777777777, 1e-12);
}

static void test_degenerate(void)
{
        /* Always "neutral": AvgRec 1/3, precision of unpredicted classes 0. */
        int8_t truth[6] = {0, 1, 2, 1, 1, 0}, pred[6] = {1, 1, 1, 1, 1, 1};
        ss_eval_t e;
        ss_eval_compute(&e, truth, pred, 6);
        CHECK_NEAR(e.avgrec, 1.0 / 3, 1e-12);
        CHECK_NEAR(e.precision[0], 0.0, 0);
        CHECK_NEAR(e.f1[0], 0.0, 0);
        CHECK_NEAR(e.f1_pn, 0.0, 0);
        CHECK_NEAR(e.accuracy, 0.5, 1e-12);
        /* neutral: P = 3/6, R = 1, F1 = 2/3 -> macro-F1 = 2/9 */
        CHECK_NEAR(e.macro_f1, 2.0 / 9, 1e-12);
        /* perfect predictions */
        ss_eval_compute(&e, truth, truth, 6);
        CHECK_NEAR(e.avgrec, 1.0, 1e-12);
        CHECK_NEAR(e.macro_f1, 1.0, 1e-12);
        /* empty: all zero, no NaN */
        ss_eval_compute(&e, truth, pred, 0);
        CHECK(e.n == 0);
        CHECK(e.avgrec == 0 && e.accuracy == 0 && !isnan(e.f1_pn));
        /* out-of-range labels are refused */
        ss_eval_init(&e);
        CHECK(ss_eval_add(&e, 3, 0) == -1);
        CHECK(ss_eval_add(&e, 0, -1) == -1);
        CHECK(e.n == 0);
}

int main(void)
{
        test_hand_computed();
        test_degenerate();
        return ss_test_finish();
}
