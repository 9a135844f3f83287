/*
 * test_cnn_distill: distillation into the text CNN (models/cnn/cnn_distill.h).
 *   - the loss's gradient against central finite differences over the logits, for several
 *     temperatures and mixing weights, class weights on; known values at alpha 0 (the
 *     weighted cross-entropy) and at a teacher equal to the student (zero KL, zero gradient);
 *   - the gradient through the whole network (ss_cnn_backward_logits) against finite
 *     differences of the distillation loss of the network's output;
 *   - softening: rows sum to 1, T = 1 is the identity, a higher T flattens;
 *   - rows of a split found in the whole set, a foreign row refused;
 *   - soft labels from a teacher model file: equal to the teacher's raw probabilities, two
 *     teachers average, each teacher's cache is written, read back (also inside an ensemble),
 *     keyed by the teacher, and a damaged cache file is scored anew; a missing teacher is an
 *     error naming it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnn.h"
#include "cnn_distill.h"
#include "model_impl.h"
#include "ss_log.h"
#include "ss_test.h"
#include "ss_util.h"

static uint64_t test_rng = 0x9e3779b97f4a7c15ull;

static double test_randf(void) /* uniform in [-1, 1] */
{
        test_rng ^= test_rng << 13;
        test_rng ^= test_rng >> 7;
        test_rng ^= test_rng << 17;
        return (double)(test_rng >> 11) / 4503599627370496.0 - 1.0;
}

/* Random probability rows [n][C] (some of them peaked). */
static void test_probs(float *p, int n, int C)
{
        for (int i = 0; i < n; i++) {
                double s = 0.0, e[8];
                for (int c = 0; c < C; c++)
                        s += (e[c] = exp(3.0 * test_randf()));
                for (int c = 0; c < C; c++)
                        p[i * C + c] = (float)(e[c] / s);
        }
}

static void test_loss_gradient(void)
{
        enum { n = 7, C = 3 };
        const float Ts[] = {1.0f, 2.0f, 4.5f}, As[] = {0.0f, 0.3f, 0.7f, 1.0f};
        const float cw[C] = {1.7f, 0.6f, 1.1f};
        const int32_t labels[n] = {0, 1, 2, 2, 1, 0, 1};
        float z[n * C], p[n * C], q[n * C], dz[n * C];
        double maxerr = 0.0;
        int checked = 0;
        for (int ti = 0; ti < 3; ti++) {
                for (int ai = 0; ai < 4; ai++) {
                        float T = Ts[ti], A = As[ai];
                        for (int k = 0; k < n * C; k++)
                                z[k] = (float)(3.0 * test_randf());
                        test_probs(p, n, C);
                        ss_distill_soften(q, p, n, C, T);
                        double l0 = ss_distill_loss(dz, z, q, labels, cw, n, C, T, A);
                        CHECK(l0 >= 0.0);
                        CHECK_NEAR(ss_distill_loss(NULL, z, q, labels, cw, n, C, T, A), l0, 0);
                        for (int k = 0; k < n * C; k++) {
                                const float h = 1e-2f;
                                float z0 = z[k];
                                z[k] = z0 + h;
                                double lp = ss_distill_loss(NULL, z, q, labels, cw, n, C, T, A);
                                z[k] = z0 - h;
                                double lm = ss_distill_loss(NULL, z, q, labels, cw, n, C, T, A);
                                z[k] = z0;
                                double num = (lp - lm) / ((double)(z0 + h) - (double)(z0 - h));
                                double err =
                                    fabs(num - dz[k]) / fmax(1e-3, fabs(num) + fabs(dz[k]));
                                if (err > maxerr)
                                        maxerr = err;
                                checked++;
                        }
                }
        }
        fprintf(stderr, "distillation loss: %d logits checked, max rel err %.3g\n", checked,
                maxerr);
        CHECK(maxerr < 1e-3);

        /* alpha 0: the class-weighted cross-entropy (what ss_cnn_loss computes). */
        for (int k = 0; k < n * C; k++)
                z[k] = (float)(2.0 * test_randf());
        test_probs(p, n, C);
        double want = 0.0;
        for (int i = 0; i < n; i++) {
                double mx = fmax(z[i * C], fmax(z[i * C + 1], z[i * C + 2])), s = 0.0;
                for (int c = 0; c < C; c++)
                        s += exp(z[i * C + c] - mx);
                want += cw[labels[i]] * -(z[i * C + labels[i]] - mx - log(s));
        }
        CHECK_NEAR(ss_distill_loss(dz, z, p, labels, cw, n, C, 3.0f, 0.0f), want / n, 1e-9);
        /* alpha 1 and a teacher that is the student at T: no loss, no gradient. */
        for (int i = 0; i < n; i++) {
                double mx = -INFINITY, s = 0.0;
                for (int c = 0; c < C; c++)
                        mx = fmax(mx, z[i * C + c] / 2.5);
                for (int c = 0; c < C; c++)
                        s += exp(z[i * C + c] / 2.5 - mx);
                for (int c = 0; c < C; c++)
                        q[i * C + c] = (float)(exp(z[i * C + c] / 2.5 - mx) / s);
        }
        CHECK_NEAR(ss_distill_loss(dz, z, q, labels, cw, n, C, 2.5f, 1.0f), 0.0, 1e-6);
        double gmax = 0.0;
        for (int k = 0; k < n * C; k++)
                gmax = fmax(gmax, fabs(dz[k]));
        CHECK(gmax < 1e-6);
}

/* Distillation loss of the tiny network's training forward pass (dropout mask fixed by rng0). */
static double test_net_loss(ss_cnn_t *m, uint64_t rng0, const int32_t *ids, const int32_t *lens,
                            int n, const float *q, const int32_t *labels, const float *cw, float T,
                            float A)
{
        m->rng = rng0;
        CHECK(ss_cnn_forward(m, ids, lens, n, 1, NULL, 0) == SS_OK);
        return ss_distill_loss(NULL, m->a.logits, q, labels, cw, n, m->cfg.n_classes, T, A);
}

static void test_network_gradient(void)
{
        enum { V = 11, n = 5 };
        ss_cnn_config_t c;
        ss_cnn_config_default(&c);
        c.vocab_size = V;
        c.emb_dim = 4;
        c.max_len = 6;
        c.n_widths = 2;
        c.widths[0] = 2;
        c.widths[1] = 3;
        c.n_filters = 3;
        c.n_classes = 3;
        c.max_batch = n;
        c.dropout = 0.25f;
        char err[256];
        ss_cnn_t *m = ss_cnn_new(&c, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;
        ss_cnn_init_random(m, 3);
        for (int k = 0; k < c.n_widths * c.n_filters; k++)
                m->w.p.conv_b[k] = (float)(0.5 * test_randf());
        for (int k = 0; k < c.n_classes * c.n_widths * c.n_filters; k++)
                m->w.p.fc_w[k] *= 3.0f;
        CHECK(ss_cnn_train_begin(m) == SS_OK);
        int32_t ids[n * 6], lens[n] = {6, 2, 4, 5, 3}, labels[n] = {2, 0, 1, 1, 0};
        for (int k = 0; k < n * 6; k++)
                ids[k] = (int32_t)((k * 7 + 3) % V);
        float p[n * 3], q[n * 3];
        const float cw[3] = {1.4f, 0.8f, 1.0f}, T = 3.0f, A = 0.6f;
        test_probs(p, n, 3);
        ss_distill_soften(q, p, n, 3, T);
        uint64_t rng0 = m->rng;
        test_net_loss(m, rng0, ids, lens, n, q, labels, cw, T, A);
        ss_distill_loss(m->g->dlogits, m->a.logits, q, labels, cw, n, 3, T, A);
        ss_cnn_backward_logits(m);
        float *ana = malloc(sizeof(float) * m->n_dense);
        memcpy(ana, m->g->dense_mem, sizeof(float) * m->n_dense);
        double maxerr = 0.0;
        int checked = 0;
        for (size_t k = 0; k < m->n_dense; k++) {
                const float h = 1e-3f;
                float x0 = m->w.dense_mem[k];
                m->w.dense_mem[k] = x0 + h;
                double lp = test_net_loss(m, rng0, ids, lens, n, q, labels, cw, T, A);
                m->w.dense_mem[k] = x0 - h;
                double lm = test_net_loss(m, rng0, ids, lens, n, q, labels, cw, T, A);
                m->w.dense_mem[k] = x0;
                double num = (lp - lm) / (2.0 * h);
                double e = fabs(num - ana[k]) / fmax(1e-2, fabs(num) + fabs(ana[k]));
                if (e > 5e-2) /* a max or a ReLU switched inside the step: a kink, not checked */
                        continue;
                maxerr = fmax(maxerr, e);
                checked++;
        }
        fprintf(stderr,
                "network gradient (distillation loss): %d of %zu dense parameters, max "
                "rel err %.3g\n",
                checked, m->n_dense, maxerr);
        CHECK(checked > (int)(m->n_dense * 9 / 10));
        CHECK(maxerr < 1e-2);
        free(ana);
        ss_cnn_destroy(m);
}

static void test_soften(void)
{
        float p[4 * 3], q[4 * 3], q1[4 * 3];
        test_probs(p, 4, 3);
        ss_distill_soften(q1, p, 4, 3, 1.0f);
        ss_distill_soften(q, p, 4, 3, 4.0f);
        for (int i = 0; i < 4; i++) {
                double s = 0.0, mp = 0.0, mq = 0.0;
                for (int c = 0; c < 3; c++) {
                        CHECK_NEAR(q1[i * 3 + c], p[i * 3 + c], 1e-6);
                        s += q[i * 3 + c];
                        mp = fmax(mp, p[i * 3 + c]);
                        mq = fmax(mq, q[i * 3 + c]);
                }
                CHECK_NEAR(s, 1.0, 1e-6);
                CHECK(mq <= mp + 1e-7);
        }
        const float zero[3] = {0.0f, 0.25f, 0.75f};
        float z3[3];
        ss_distill_soften(z3, zero, 1, 3, 2.0f); /* a zero probability stays finite */
        CHECK(isfinite(z3[0]) && z3[0] >= 0.0f && z3[2] > z3[1]);
}

static ss_dataset_t *test_set(int n)
{
        static const char *words[] = {"good", "bad", "movie", "the", "happy", "sad", "is", "ok"};
        ss_dataset_t *ds = ss_dataset_new();
        for (int i = 0; i < n; i++) {
                char id[32], text[128] = "";
                snprintf(id, sizeof(id), "%d", 1000 + i * 17);
                for (int t = 0; t < 2 + i % 5; t++) {
                        strcat(text, words[(i * 3 + t * 5) % 8]);
                        strcat(text, " ");
                }
                CHECK(ss_dataset_add(ds, id, text, strlen(text), i % 3, (uint32_t)i + 1) == SS_OK);
        }
        snprintf(ds->path, sizeof(ds->path), "test.tsv");
        snprintf(ds->sha256, sizeof(ds->sha256), "%064d", n);
        return ds;
}

static void test_rows(void)
{
        ss_dataset_t *all = test_set(40), *fit = NULL, *tune = NULL;
        char err[256];
        CHECK(ss_dataset_split(all, 0.3, 5, &fit, &tune, err, sizeof(err)) == SS_OK);
        int32_t rows[40];
        CHECK(ss_distill_rows(rows, fit, all, err, sizeof(err)) == SS_OK);
        for (size_t j = 0; j < fit->n; j++)
                CHECK_STR_EQ(all->ids[rows[j]], fit->ids[j]);
        CHECK(ss_distill_rows(rows, tune, all, err, sizeof(err)) == SS_OK);
        for (size_t j = 0; j < tune->n; j++)
                CHECK(all->lines[rows[j]] == tune->lines[j]);
        ss_dataset_t *other = ss_dataset_new();
        CHECK(ss_dataset_add(other, "777", "not there", 9, 0, 3) == SS_OK);
        CHECK(ss_distill_rows(rows, other, all, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(strstr(err, "777") != NULL);
        ss_dataset_destroy(other);
        ss_dataset_destroy(fit);
        ss_dataset_destroy(tune);
        ss_dataset_destroy(all);
}

static const char test_vocab[] = "[PAD]\n[unused0]\n[unused1]\n[unused2]\n[UNK]\n[CLS]\n[SEP]\n"
                                 "good\nbad\nmovie\nthe\nhappy\nsad\nis\nok\n";

/* A small random CNN model file: a teacher of the kind the project loads. */
static int test_write_teacher(const char *path, uint64_t seed)
{
        ss_cnn_config_t c;
        ss_cnn_config_default(&c);
        c.vocab_size = 15;
        c.emb_dim = 6;
        c.max_len = 12;
        c.n_filters = 5;
        c.max_batch = 8;
        char err[256];
        ss_cnn_t *m = ss_cnn_new(&c, err, sizeof(err));
        if (!m)
                return -1;
        ss_cnn_init_random(m, seed);
        for (int k = 0; k < c.n_classes; k++)
                m->w.p.fc_b[k] = (float)k * 0.3f;
        ss_mfile_t *mf = ss_mfile_new(SS_CNN_KIND, "teacher", NULL);
        int rc = ss_cnn_save(m, test_vocab, sizeof(test_vocab) - 1, SS_CNN_TOK_WORDPIECE, mf, err,
                             sizeof(err)) ||
                 ss_mfile_write(mf, path, err, sizeof(err));
        if (rc)
                fprintf(stderr, "teacher: %s\n", err);
        ss_mfile_destroy(mf);
        ss_cnn_destroy(m);
        return rc;
}

static void test_soft_labels(void)
{
        char dir[128], t1[192], t2[192], both[400], err[1024];
        snprintf(dir, sizeof(dir), "/tmp/ss_test_distill_%d", (int)getpid());
        snprintf(t1, sizeof(t1), "%s/t1.ssm", dir);
        snprintf(t2, sizeof(t2), "%s/t2.ssm", dir);
        CHECK(ss_file_mkdir_parent(t1) == 0);
        CHECK(test_write_teacher(t1, 1) == 0);
        CHECK(test_write_teacher(t2, 2) == 0);
        ss_dataset_t *ds = test_set(30);
        /* The teacher's raw probabilities, straight from the model interface. */
        float want[30 * 3];
        ss_model_t *m = ss_model_load(t1, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;
        CHECK(ss_model_score_raw(m, (const char *const *)ds->texts, ds->lens, ds->n, 8, want, err,
                                 sizeof(err)) == SS_OK);
        ss_model_destroy(m);
        char cache[192];
        snprintf(cache, sizeof(cache), "%s/cache", dir);
        ss_distill_soft_t s1, s2, s3;
        CHECK(ss_distill_soft_labels(t1, ds, cache, 8, 0, &s1, err, sizeof(err)) == SS_OK);
        CHECK(s1.n_teachers == 1 && !s1.from_cache && s1.n == 30);
        CHECK_STR_EQ(s1.teachers[0].kind, "cnn");
        CHECK_STR_EQ(s1.teachers[0].name, "teacher");
        char sha[65];
        CHECK(ss_sha256_file_hex(t1, sha, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(s1.teachers[0].sha256, sha);
        double maxd = 0.0;
        for (int k = 0; k < 90; k++)
                maxd = fmax(maxd, fabs(s1.probs[k] - want[k]));
        CHECK(maxd < 1e-6);
        struct stat st;
        const char *c1 = s1.teachers[0].cache_path;
        CHECK(c1[0] && stat(c1, &st) == 0);
        /* Read back from the cache, bit for bit. */
        CHECK(ss_distill_soft_labels(t1, ds, cache, 8, 0, &s2, err, sizeof(err)) == SS_OK);
        CHECK(s2.from_cache);
        CHECK(!memcmp(s1.probs, s2.probs, 90 * sizeof(float)));
        ss_distill_soft_clear(&s2);
        /* Two teachers: the mean; the same teacher twice: itself; other keys, other files. */
        snprintf(both, sizeof(both), "%s, %s", t1, t2);
        CHECK(ss_distill_soft_labels(both, ds, cache, 8, 0, &s2, err, sizeof(err)) == SS_OK);
        CHECK(s2.n_teachers == 2 && !s2.from_cache);
        CHECK(s2.teachers[0].from_cache && !s2.teachers[1].from_cache); /* t1's cache reused */
        CHECK_STR_EQ(s2.teachers[0].cache_path, c1);
        CHECK(strcmp(s2.teachers[1].cache_path, c1) != 0);
        CHECK(ss_distill_soft_labels(t2, ds, "", 8, 0, &s3, err, sizeof(err)) == SS_OK);
        CHECK(!s3.teachers[0].cache_path[0] && !s3.from_cache);
        maxd = 0.0;
        for (int k = 0; k < 90; k++)
                maxd = fmax(maxd, fabs(s2.probs[k] - 0.5 * (s1.probs[k] + s3.probs[k])));
        CHECK(maxd < 1e-6);
        ss_distill_soft_clear(&s2);
        ss_distill_soft_clear(&s3);
        /* A damaged cache file is scored anew (and rewritten). */
        FILE *f = fopen(c1, "r+b");
        CHECK(f != NULL);
        if (f) {
                fseek(f, -5, SEEK_END);
                fputc('x', f);
                fclose(f);
        }
        CHECK(ss_distill_soft_labels(t1, ds, cache, 8, 0, &s2, err, sizeof(err)) == SS_OK);
        CHECK(!s2.from_cache);
        CHECK(!memcmp(s1.probs, s2.probs, 90 * sizeof(float)));
        ss_distill_soft_clear(&s2);
        /* Errors name what was wrong. */
        CHECK(ss_distill_soft_labels("/nonexistent/t.ssm", ds, cache, 8, 0, &s2, err,
                                     sizeof(err)) != SS_OK);
        CHECK(strstr(err, "/nonexistent/t.ssm") != NULL);
        CHECK(ss_distill_soft_labels(" , ", ds, cache, 8, 0, &s2, err, sizeof(err)) ==
              SS_ERR_CONFIG);
        ss_distill_soft_clear(&s1);
        ss_dataset_destroy(ds);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
}

int main(void)
{
        ss_log_level_set(SS_LOG_ERROR);
        test_loss_gradient();
        test_network_gradient();
        test_soften();
        test_rows();
        test_soft_labels();
        return ss_test_finish();
}
