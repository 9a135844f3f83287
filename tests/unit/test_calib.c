/*
 * test_calib: temperature scaling and the top-label map (calib.h), and how a model
 * file carries them (model.h).
 *   - a temperature fitted on over-sharpened probabilities undoes the sharpening;
 *   - the top-label map fitted on rows whose argmax is right less often than its
 *     confidence says (per predicted class: over-, under- and well calibrated) moves
 *     each class's confidence the right way, is monotone, and brings the ECE of a
 *     fresh sample from the same population under 0.02;
 *   - applying any map (one that wants the confidence far below the tie, one far
 *     above) never moves an argmax, and rows stay probabilities; near-ties, one-hot
 *     rows and zeros included; a confidence mapped under the second class's
 *     proportional share holds that class just under it (down to 1/C);
 *   - a model file without the map section scores exactly as before (identity); one
 *     with it scores through it, under the tie rule when it has no rule section (a
 *     file written before the floor) and under its rule when it has one; a malformed
 *     section or an unknown rule is refused with its name.
 */
#include <stdint.h>
#include <unistd.h>

#include "calib.h"
#include "logreg.h"
#include "model_impl.h"
#include "ss_test.h"

#define C SS_NUM_CLASSES

static uint64_t rng = 7;
static double uni(void)
{
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng >> 11) * 0x1.0p-53;
}

/*
 * n rows: a random probability vector whose argmax k has confidence c; the label is k with
 * probability truth(k, c), else one of the others. Classes 0 and 2 are over-confident (right
 * with c - 0.15 and c - 0.08), class 1 calibrated.
 */
static double truth(int k, double c)
{
        double t = k == 0 ? c - 0.15 : k == 2 ? c - 0.08 : c;
        return t < 0.02 ? 0.02 : t > 0.98 ? 0.98 : t;
}

static void sample(float *probs, int8_t *labels, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                float *p = probs + i * C;
                double e[C], s = 0;
                for (int j = 0; j < C; j++) {
                        e[j] = exp(5 * uni());
                        s += e[j];
                }
                for (int j = 0; j < C; j++)
                        p[j] = (float)(e[j] / s);
                int k = ss_probs_argmax(p);
                if (uni() < truth(k, p[k]))
                        labels[i] = (int8_t)k;
                else
                        labels[i] = (int8_t)((k + 1 + (uni() < 0.5)) % C);
        }
}

static void test_temperature(void)
{
        enum { N = 4000 };
        float *p = malloc(N * C * sizeof(float));
        int8_t *y = malloc(N);
        /* calibrated rows (the label drawn from p), then sharpened with T = 0.5 */
        for (size_t i = 0; i < N; i++) {
                double e[C], s = 0;
                for (int j = 0; j < C; j++)
                        s += e[j] = exp(2 * uni());
                double u = uni(), acc = 0;
                y[i] = C - 1;
                for (int j = 0; j < C; j++) {
                        p[i * C + j] = (float)(e[j] / s);
                        acc += e[j] / s;
                        if (u < acc && y[i] == C - 1 && j < C - 1)
                                y[i] = (int8_t)j;
                }
        }
        ss_calib_apply(p, N, 0.5);
        double t = ss_calib_fit(p, y, N);
        printf("temperature fitted on probabilities sharpened by T = 0.5: %.3f\n", t);
        CHECK(t > 1.6 && t < 2.5);
        free(p);
        free(y);
}

static void test_toplabel_fit(void)
{
        enum { N = 20000 };
        float *p = malloc(N * C * sizeof(float)), *q = malloc(N * C * sizeof(float));
        int8_t *y = malloc(N);
        sample(p, y, N);
        ss_calib_top_t top;
        ss_calib_top_fit(&top, p, y, N);
        for (int k = 0; k < C; k++)
                printf("class %d: a %.3f b %+.3f; map(0.7) %.3f (truth %.3f)\n", k, top.a[k],
                       top.b[k], ss_calib_top_map(&top, k, 0.7), truth(k, 0.7));
        CHECK(!ss_calib_top_is_identity(&top));
        CHECK(ss_calib_top_check(&top) < 0);
        for (int k = 0; k < C; k++) {
                CHECK(top.a[k] > 0);
                CHECK_NEAR(ss_calib_top_map(&top, k, 0.7), truth(k, 0.7), 0.06);
                /* monotone over the whole range of a confidence */
                double prev = 0;
                int mono = 1;
                for (double c = 1.0 / C; c <= 1; c += 0.001) {
                        double v = ss_calib_top_map(&top, k, c);
                        mono &= v >= prev && v >= 0 && v <= 1;
                        prev = v;
                }
                CHECK(mono);
        }
        CHECK(ss_calib_top_map(&top, 0, 0.7) < 0.6);
        CHECK(ss_calib_top_map(&top, 2, 0.7) < 0.65);
        CHECK_NEAR(ss_calib_top_map(&top, 1, 0.7), 0.7, 0.03);
        /* a fresh sample from the same population */
        sample(p, y, N);
        memcpy(q, p, N * C * sizeof(float));
        ss_calib_top_apply(&top, q, N);
        double before = ss_calib_ece(p, y, N, SS_CALIB_ECE_BINS);
        double after = ss_calib_ece(q, y, N, SS_CALIB_ECE_BINS);
        printf("top-label map on a fresh sample: ECE %.4f -> %.4f\n", before, after);
        CHECK(before > 0.05);
        CHECK(after < 0.02);
        int kept = 1;
        for (size_t i = 0; i < N; i++)
                kept &= ss_probs_argmax(q + i * C) == ss_probs_argmax(p + i * C);
        CHECK(kept);
        /* too few rows of a class: identity for it */
        int8_t few[C * 10];
        float fp[C * 10 * C];
        for (int i = 0; i < C * 10; i++) {
                for (int j = 0; j < C; j++)
                        fp[i * C + j] = j == i % C ? 0.6f : 0.2f;
                few[i] = (int8_t)((i + 1) % C);
        }
        ss_calib_top_fit(&top, fp, few, C * 10);
        CHECK(ss_calib_top_is_identity(&top));
        free(p);
        free(q);
        free(y);
}

/* Every row keeps its argmax, stays in [0, 1] and sums to 1, under maps pulling either way. */
static void test_toplabel_argmax(void)
{
        enum { N = 3000 };
        float *p = malloc(N * C * sizeof(float)), *q = malloc(N * C * sizeof(float));
        for (size_t i = 0; i < N; i++) {
                float *r = p + i * C;
                switch (i % 5) {
                case 0: /* near-tie at the top */
                        r[0] = 0.4f + (float)(1e-6 * uni());
                        r[1] = 0.4f;
                        r[2] = 1 - r[0] - r[1];
                        break;
                case 1: /* one-hot */
                        r[0] = r[1] = r[2] = 0;
                        r[i % C] = 1;
                        break;
                case 2: /* a zero */
                        r[0] = (float)uni();
                        r[1] = 1 - r[0];
                        r[2] = 0;
                        break;
                default: {
                        double s = 0, e[C];
                        for (int j = 0; j < C; j++)
                                s += e[j] = exp(4 * uni());
                        for (int j = 0; j < C; j++)
                                r[j] = (float)(e[j] / s);
                }
                }
        }
        ss_calib_top_t maps[4];
        for (int k = 0; k < C; k++) {
                maps[0].a[k] = 0.2; /* squash every confidence far under the tie */
                maps[0].b[k] = -20;
                maps[1].a[k] = 5; /* push it towards 1 */
                maps[1].b[k] = 20;
        }
        maps[0].rule = maps[1].rule = SS_CALIB_TOP_RULE_FLOOR;
        maps[2] = maps[0];
        maps[3] = maps[1];
        maps[2].rule = maps[3].rule = SS_CALIB_TOP_RULE_TIE;
        for (int m = 0; m < 4; m++) {
                memcpy(q, p, N * C * sizeof(float));
                ss_calib_top_apply(&maps[m], q, N);
                int argmax_kept = 1, probs = 1, moved = 0;
                for (size_t i = 0; i < N; i++) {
                        const float *a = p + i * C, *b = q + i * C;
                        argmax_kept &= ss_probs_argmax(a) == ss_probs_argmax(b);
                        double s = 0;
                        for (int j = 0; j < C; j++) {
                                probs &= b[j] >= 0 && b[j] <= 1;
                                s += b[j];
                                moved |= a[j] != b[j];
                        }
                        probs &= fabs(s - 1) < 1e-5;
                }
                printf("map %d: argmax kept %d, probabilities %d\n", m, argmax_kept, probs);
                CHECK(argmax_kept);
                CHECK(probs);
                CHECK(moved);
        }
        /* squashed: the confidence goes down to 1/C, the others just under it */
        float r[C] = {0.7f, 0.2f, 0.1f};
        ss_calib_top_apply(&maps[0], r, 1);
        CHECK(r[0] > r[1] && r[0] > r[2]);
        CHECK_NEAR(r[0], 1.0 / 3, 1e-5);
        CHECK_NEAR(r[1], 1.0 / 3, 1e-5);
        CHECK_NEAR(r[2], 1.0 / 3, 1e-5);
        /* a map wanting c' = 0.4 from 0.6 / 0.3 / 0.1: the second would get 0.45 in
         * proportion, so it is held just under 0.4 and the third takes the rest */
        ss_calib_top_t m4;
        ss_calib_top_identity(&m4);
        CHECK(m4.rule == SS_CALIB_TOP_RULE_FLOOR);
        m4.a[0] = 1;
        m4.b[0] = log(0.4 / 0.6) - log(0.6 / 0.4); /* logit 0.6 -> logit 0.4 */
        float r4[C] = {0.6f, 0.3f, 0.1f};
        ss_calib_top_apply(&m4, r4, 1);
        CHECK_NEAR(r4[0], 0.4, 1e-5);
        CHECK(r4[1] < r4[0] && r4[0] - r4[1] < 1e-5);
        CHECK_NEAR(r4[2], 0.2, 1e-5);
        /* ... and one wanting 0.5 rescales the others in their proportions (3 : 1) */
        m4.b[0] = log(0.5 / 0.5) - log(0.6 / 0.4);
        float r5[C] = {0.6f, 0.3f, 0.1f};
        ss_calib_top_apply(&m4, r5, 1);
        CHECK_NEAR(r5[0], 0.5, 1e-5);
        CHECK_NEAR(r5[1] / r5[2], 3.0, 1e-4);
        /* the rule of older files: squashed, the confidence sits just above the second
         * class, the others keep their proportions */
        float rt[C] = {0.7f, 0.2f, 0.1f};
        ss_calib_top_apply(&maps[2], rt, 1);
        CHECK(rt[0] > rt[1] && rt[0] - rt[1] < 1e-4);
        CHECK_NEAR(rt[1] / rt[2], 2.0, 1e-4);
        /* a near-uniform row is left as it is */
        float r6[C] = {0.3333340f, 0.3333330f, 0.3333330f}, r6b[C];
        memcpy(r6b, r6, sizeof(r6));
        ss_calib_top_apply(&maps[0], r6, 1);
        CHECK(!memcmp(r6, r6b, sizeof(r6)));
        ss_calib_top_t id;
        ss_calib_top_identity(&id);
        memcpy(q, p, N * C * sizeof(float));
        ss_calib_top_apply(&id, q, N);
        CHECK(!memcmp(p, q, N * C * sizeof(float)));
        free(p);
        free(q);
}

/* A small LR model in a container; sec (f32 [C][2]) added as the map's section if not NULL,
 * rule (u32) as its rule section if not NULL. */
static ss_model_t *toy_model(const float *sec, int nsec, const uint32_t *rule, char *err,
                             size_t errsize)
{
        static const char *const texts[] = {"i love this, great",       "awful, i hate it",
                                            "the meeting is on monday", "great fun, so happy",
                                            "terrible and sad",         "it opens at nine"};
        static const int8_t labels[] = {2, 0, 1, 2, 0, 1};
        ss_dataset_t *ds = ss_dataset_new();
        char id[16];
        for (int i = 0; i < 6; i++) {
                snprintf(id, sizeof(id), "t%d", i);
                ss_dataset_add(ds, id, texts[i], strlen(texts[i]), labels[i], 0);
        }
        ss_logreg_train_config_t tc;
        ss_logreg_train_config_default(&tc);
        tc.model.feat.dim_bits = 12;
        tc.model.vocab_bits = 10;
        tc.max_iter = 30;
        ss_logreg_t *lr = NULL;
        ss_mfile_t *mf = NULL;
        if (ss_logreg_train(&tc, ds, &lr, NULL, NULL, err, errsize) == SS_OK &&
            (mf = ss_mfile_new("logreg", "toy", NULL)) &&
            ss_logreg_save(&lr->cfg, &lr->w, mf, err, errsize) == SS_OK) {
                if (sec)
                        ss_mfile_add(mf, SS_MODEL_TOPLABEL_SECTION, SS_MF_F32, sec, (uint64_t)nsec,
                                     err, errsize);
                if (rule)
                        ss_mfile_add(mf, SS_MODEL_TOPLABEL_RULE_SECTION, SS_MF_U32, rule, 1, err,
                                     errsize);
        }
        ss_logreg_destroy(lr);
        ss_dataset_destroy(ds);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (!mf || ss_mfile_serialize(mf, &buf, &len, err, errsize) != SS_OK) {
                ss_mfile_destroy(mf);
                return NULL;
        }
        ss_mfile_destroy(mf);
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        free(buf);
        return ss_model_from_mfile(ss_mfile_parse(copy, len, "toy.ssm", err, errsize), err,
                                   errsize);
}

static void test_model_file(void)
{
        char err[512];
        const char *texts[3] = {"i love it", "i hate it", "on monday"};
        size_t lens[3] = {9, 9, 9};
        float raw[3 * C], got[3 * C];
        /* an older file: no section, identity */
        ss_model_t *m = toy_model(NULL, 0, NULL, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;
        ss_calib_top_t top;
        ss_model_toplabel(m, &top);
        CHECK(ss_calib_top_is_identity(&top));
        CHECK(ss_model_score_raw(m, texts, lens, 3, 2, raw, err, sizeof(err)) == SS_OK);
        CHECK(ss_model_score_batch(m, texts, lens, 3, got, NULL, err, sizeof(err)) == SS_OK);
        CHECK(!memcmp(raw, got, sizeof(raw)));
        ss_model_destroy(m);
        /* with the section: scores go through the map, raw scores do not; a file without
         * the rule section (written before it) keeps the tie rule */
        float sec[2 * C] = {2, -1, 0.5f, 0.3f, 1, 0};
        const uint32_t floor_rule = SS_CALIB_TOP_RULE_FLOOR, bad_rule = 7;
        for (int with_rule = 0; with_rule < 2; with_rule++) {
                m = toy_model(sec, 2 * C, with_rule ? &floor_rule : NULL, err, sizeof(err));
                CHECK(m != NULL);
                if (!m)
                        return;
                ss_model_toplabel(m, &top);
                CHECK(top.rule == (with_rule ? SS_CALIB_TOP_RULE_FLOOR : SS_CALIB_TOP_RULE_TIE));
                CHECK(top.a[0] == 2 && top.b[0] == -1 && top.a[1] == 0.5 && top.b[2] == 0);
                if (with_rule)
                        break;
                ss_model_destroy(m);
        }
        float raw2[3 * C], want[3 * C];
        CHECK(ss_model_score_raw(m, texts, lens, 3, 2, raw2, err, sizeof(err)) == SS_OK);
        CHECK(!memcmp(raw, raw2, sizeof(raw)));
        memcpy(want, raw, sizeof(raw));
        ss_calib_top_apply(&top, want, 3);
        CHECK(ss_model_score_batch(m, texts, lens, 3, got, NULL, err, sizeof(err)) == SS_OK);
        CHECK(!memcmp(want, got, sizeof(want)));
        CHECK(memcmp(raw, got, sizeof(raw)) != 0);
        /* a fork scores the same */
        ss_model_t *f = ss_model_fork(m, err, sizeof(err));
        CHECK(f != NULL);
        if (f) {
                float fg[3 * C];
                CHECK(ss_model_score_batch(f, texts, lens, 3, fg, NULL, err, sizeof(err)) == SS_OK);
                CHECK(!memcmp(fg, got, sizeof(fg)));
                ss_model_destroy(f);
        }
        ss_model_destroy(m);
        /* malformed: a negative slope, a wrong count */
        float bad[2 * C] = {1, 0, -0.5f, 0, 1, 0};
        m = toy_model(bad, 2 * C, NULL, err, sizeof(err));
        CHECK(m == NULL && strstr(err, SS_MODEL_TOPLABEL_SECTION) && strstr(err, "neutral"));
        printf("refused: %s\n", err);
        m = toy_model(sec, 4, NULL, err, sizeof(err));
        CHECK(m == NULL && strstr(err, SS_MODEL_TOPLABEL_SECTION));
        printf("refused: %s\n", err);
        m = toy_model(sec, 2 * C, &bad_rule, err, sizeof(err));
        CHECK(m == NULL && strstr(err, SS_MODEL_TOPLABEL_RULE_SECTION));
        printf("refused: %s\n", err);
}

int main(void)
{
        test_temperature();
        test_toplabel_fit();
        test_toplabel_argmax();
        test_model_file();
        return ss_test_finish();
}
