/*
 * test_cnn: the text CNN's network (models/cnn.h).
 *   - im2col + sgemm convolution against the plain reference convolution;
 *   - a numerical gradient check of the whole network (embeddings, filters,
 *     biases, fc layer; dropout on, class weights on) on a tiny config;
 *   - Adam learns a synthetic task; the same seed gives the same weights.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "ss_test.h"

static uint64_t test_rng = 88172645463325252ull;

static uint32_t test_rand(void)
{
        test_rng ^= test_rng << 13;
        test_rng ^= test_rng >> 7;
        test_rng ^= test_rng << 17;
        return (uint32_t)(test_rng >> 11);
}

static float test_randf(void)
{
        return (float)(test_rand() % 20001) / 10000.0f - 1.0f;
}

static void test_fill(float *x, size_t n)
{
        for (size_t i = 0; i < n; i++)
                x[i] = test_randf();
}

/* Random batch: lengths include 0, 1 (shorter than every width) and max_len. */
static void test_batch(int32_t *ids, int32_t *lens, int n, int T, int V)
{
        for (int i = 0; i < n; i++) {
                lens[i] = i == 0 ? 0 : i == 1 ? 1 : i == 2 ? T : (int32_t)(test_rand() % (T + 1));
                for (int t = 0; t < T; t++)
                        ids[i * T + t] = t < lens[i] ? (int32_t)(test_rand() % V) : -7;
        }
}

static void test_conv_ref_vs_gemm(void)
{
        const int V = 50, D = 24, T = 17, n = 9, F = 13;
        float *emb = malloc(sizeof(float) * V * D);
        int32_t *ids = malloc(sizeof(int32_t) * n * T), lens[9], row_off[10];
        test_fill(emb, (size_t)V * D);
        test_batch(ids, lens, n, T, V);
        for (int k = 1; k <= 6; k++) {
                int K = k * D;
                float *w = malloc(sizeof(float) * F * K);
                float *cols = malloc(sizeof(float) * n * T * K);
                float *c1 = malloc(sizeof(float) * n * T * F);
                float *c2 = malloc(sizeof(float) * n * T * F);
                float *c3 = malloc(sizeof(float) * n * T * F);
                test_fill(w, (size_t)F * K);
                int P = ss_cnn_im2col(cols, row_off, emb, ids, lens, n, T, D, k);
                int P2 = ss_cnn_conv_ref(c2, emb, ids, lens, n, T, D, k, w, F);
                CHECK(P == P2);
                int want = 0;
                for (int i = 0; i < n; i++)
                        want += lens[i] - k + 1 > 1 ? lens[i] - k + 1 : 1;
                CHECK(P == want);
                CHECK(row_off[n] == P);
                ss_cnn_conv_gemm(c1, cols, w, P, F, K);
                ss_cnn_matmul_ref(c3, cols, w, P, F, K);
                double maxdiff = 0.0, maxdiff3 = 0.0;
                for (int q = 0; q < P * F; q++) {
                        double d = fabs((double)c1[q] - c2[q]), d3 = fabs((double)c3[q] - c2[q]);
                        maxdiff = d > maxdiff ? d : maxdiff;
                        maxdiff3 = d3 > maxdiff3 ? d3 : maxdiff3;
                }
                CHECK(maxdiff < 1e-4);
                CHECK(maxdiff3 < 1e-5);
                free(w);
                free(cols);
                free(c1);
                free(c2);
                free(c3);
        }
        free(emb);
        free(ids);
}

static void test_tiny_config(ss_cnn_config_t *c, int V)
{
        ss_cnn_config_default(c);
        c->vocab_size = V;
        c->emb_dim = 5;
        c->max_len = 7;
        c->n_widths = 2;
        c->widths[0] = 2;
        c->widths[1] = 3;
        c->n_filters = 4;
        c->n_classes = 3;
        c->max_batch = 6;
        c->dropout = 0.3f;
}

/* Loss of a forward pass with a fixed dropout mask (the generator is reset to rng0). */
static double test_loss(ss_cnn_t *m, uint64_t rng0, const int32_t *ids, const int32_t *lens, int n,
                        const int32_t *labels, const float *cw)
{
        m->rng = rng0;
        CHECK(ss_cnn_forward(m, ids, lens, n, 1, NULL, 0) == SS_OK);
        return ss_cnn_loss(m, labels, cw);
}

/* Forward-pass pattern (argmax rows, ReLU signs) to spot finite differences across a kink. */
static void test_pattern(const ss_cnn_t *m, int32_t *pat, int n)
{
        int H = m->cfg.n_widths * m->cfg.n_filters;
        for (int q = 0; q < n * H; q++)
                pat[q] = m->a.pooled[q] > 0.0f ? m->a.argmax[q] : -1;
}

/* Central-difference check of one parameter; returns 1 if checked, 0 if skipped at a kink. */
static int test_grad_one(ss_cnn_t *m, float *x, float ana, uint64_t rng0, const int32_t *ids,
                         const int32_t *lens, int n, const int32_t *labels, const float *cw,
                         int32_t *pat0, int32_t *pat1, double *maxerr)
{
        const float h = 2e-3f;
        float x0 = *x;
        *x = x0 + h;
        double lp = test_loss(m, rng0, ids, lens, n, labels, cw);
        test_pattern(m, pat0, n);
        *x = x0 - h;
        double lm = test_loss(m, rng0, ids, lens, n, labels, cw);
        test_pattern(m, pat1, n);
        *x = x0;
        int H = m->cfg.n_widths * m->cfg.n_filters;
        if (memcmp(pat0, pat1, sizeof(int32_t) * n * H))
                return 0;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - ana) / fmax(1e-2, fabs(num) + fabs(ana));
        if (err > *maxerr)
                *maxerr = err;
        if (err > 2e-2)
                fprintf(stderr, "grad mismatch: analytic %.6g numeric %.6g\n", ana, num);
        return 1;
}

static void test_gradient_check(void)
{
        const int V = 9, n = 6;
        ss_cnn_config_t c;
        test_tiny_config(&c, V);
        char err[256];
        ss_cnn_t *m = ss_cnn_new(&c, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;
        ss_cnn_init_random(m, 7);
        /* Larger biases and fc weights than the init so that the loss is far from flat. */
        test_fill(m->w.p.conv_b, (size_t)c.n_widths * c.n_filters);
        for (int q = 0; q < c.n_classes * c.n_widths * c.n_filters; q++)
                m->w.p.fc_w[q] *= 3.0f;
        test_fill(m->w.p.fc_b, (size_t)c.n_classes);
        CHECK(ss_cnn_train_begin(m) == SS_OK);
        int32_t ids[6 * 7], lens[6], labels[6] = {0, 1, 2, 2, 1, 0};
        const float cw[3] = {2.0f, 0.5f, 1.25f};
        test_batch(ids, lens, n, c.max_len, V - 1); /* id V-1 never used */
        uint64_t rng0 = m->rng;
        double l0 = test_loss(m, rng0, ids, lens, n, labels, cw);
        CHECK(l0 > 0.0);
        ss_cnn_backward(m, labels, cw);
        int H = c.n_widths * c.n_filters, checked = 0, skipped = 0;
        int32_t pat0[6 * 8], pat1[6 * 8];
        double maxerr = 0.0;
        float *ana = malloc(sizeof(float) * m->n_dense);
        memcpy(ana, m->g->dense_mem, sizeof(float) * m->n_dense);
        for (size_t q = 0; q < m->n_dense; q++) {
                if (test_grad_one(m, m->w.dense_mem + q, ana[q], rng0, ids, lens, n, labels, cw,
                                  pat0, pat1, &maxerr))
                        checked++;
                else
                        skipped++;
        }
        /* Embedding rows: dense analytic gradient from the sparse rows. */
        float *demb = calloc((size_t)V * c.emb_dim, sizeof(float));
        for (int s = 0; s < m->g->n_touched; s++)
                memcpy(demb + (size_t)m->g->touched[s] * c.emb_dim,
                       m->g->emb_rows + (size_t)s * c.emb_dim, sizeof(float) * c.emb_dim);
        CHECK(m->g->slot_of[V - 1] == -1);
        for (int q = 0; q < V * c.emb_dim; q++) {
                if (test_grad_one(m, m->w.emb + q, demb[q], rng0, ids, lens, n, labels, cw, pat0,
                                  pat1, &maxerr))
                        checked++;
                else
                        skipped++;
        }
        (void)H;
        fprintf(stderr, "gradient check: %d checked, %d skipped at kinks, max rel err %.3g\n",
                checked, skipped, maxerr);
        CHECK(maxerr < 2e-2);
        CHECK(checked > 9 * (checked + skipped) / 10);
        free(ana);
        free(demb);
        ss_cnn_destroy(m);
}

/* Synthetic task: the label is the class of the first "sentiment" token present (ids 1..3
 * map to classes 0..2), the other tokens are noise. */
static void test_synth_batch(int32_t *ids, int32_t *lens, int32_t *labels, int n, int T, int V,
                             uint64_t *s)
{
        for (int i = 0; i < n; i++) {
                *s ^= *s << 13;
                *s ^= *s >> 7;
                *s ^= *s << 17;
                int len = 3 + (int)(*s % (uint64_t)(T - 2));
                int y = (int)((*s >> 20) % 3), pos = (int)((*s >> 30) % (uint64_t)len);
                lens[i] = len;
                labels[i] = y;
                for (int t = 0; t < len; t++) {
                        *s ^= *s << 13;
                        *s ^= *s >> 7;
                        *s ^= *s << 17;
                        ids[i * T + t] = 4 + (int32_t)(*s % (uint64_t)(V - 4));
                }
                ids[i * T + pos] = 1 + y;
        }
}

static ss_cnn_t *test_train_synth(uint64_t seed, int steps, double *acc_out)
{
        ss_cnn_config_t c;
        ss_cnn_config_default(&c);
        c.vocab_size = 40;
        c.emb_dim = 8;
        c.max_len = 12;
        c.n_filters = 6;
        c.max_batch = 16;
        c.dropout = 0.2f;
        ss_cnn_t *m = ss_cnn_new(&c, NULL, 0);
        if (!m)
                return NULL;
        ss_cnn_init_random(m, seed);
        if (ss_cnn_train_begin(m) != SS_OK) {
                ss_cnn_destroy(m);
                return NULL;
        }
        ss_cnn_adam_t o;
        ss_cnn_adam_default(&o);
        o.lr = o.emb_lr = 1e-2f;
        o.weight_decay = 1e-4f;
        int32_t ids[16 * 12], lens[16], labels[16];
        uint64_t s = 12345;
        double first = 0.0, last = 0.0;
        for (int step = 0; step < steps; step++) {
                test_synth_batch(ids, lens, labels, 16, 12, 40, &s);
                ss_cnn_forward(m, ids, lens, 16, 1, NULL, 0);
                double l = ss_cnn_loss(m, labels, NULL);
                if (step < 10)
                        first += l / 10;
                if (step >= steps - 10)
                        last += l / 10;
                ss_cnn_backward(m, labels, NULL);
                ss_cnn_adam_step(m, &o);
        }
        CHECK(last < first * 0.5);
        int correct = 0, total = 0;
        for (int b = 0; b < 8; b++) {
                test_synth_batch(ids, lens, labels, 16, 12, 40, &s);
                CHECK(ss_cnn_forward(m, ids, lens, 16, 0, NULL, 0) == SS_OK);
                for (int i = 0; i < 16; i++) {
                        const float *p = m->a.probs + i * 3;
                        int best = p[1] > p[0] ? 1 : 0;
                        best = p[2] > p[best] ? 2 : best;
                        correct += best == labels[i];
                        total++;
                }
        }
        *acc_out = (double)correct / total;
        return m;
}

static void test_adam_learns_and_is_deterministic(void)
{
        double acc1 = 0, acc2 = 0, acc3 = 0;
        ss_cnn_t *a = test_train_synth(42, 300, &acc1);
        ss_cnn_t *b = test_train_synth(42, 300, &acc2);
        ss_cnn_t *c = test_train_synth(43, 300, &acc3);
        CHECK(a && b && c);
        if (!a || !b || !c)
                return;
        fprintf(stderr, "synthetic task accuracy %.3f\n", acc1);
        CHECK(acc1 > 0.95);
        CHECK(acc1 == acc2);
        size_t ne = (size_t)a->cfg.vocab_size * a->cfg.emb_dim;
        CHECK(!memcmp(a->w.dense_mem, b->w.dense_mem, sizeof(float) * a->n_dense));
        CHECK(!memcmp(a->w.emb, b->w.emb, sizeof(float) * ne));
        CHECK(memcmp(a->w.dense_mem, c->w.dense_mem, sizeof(float) * a->n_dense) != 0);
        /* Probabilities are distributions. */
        for (int i = 0; i < 16; i++) {
                const float *p = a->a.probs + i * 3;
                CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-5);
        }
        ss_cnn_destroy(a);
        ss_cnn_destroy(b);
        ss_cnn_destroy(c);
}

static void test_bad_input(void)
{
        ss_cnn_config_t c;
        test_tiny_config(&c, 9);
        char err[256] = "";
        ss_cnn_t *m = ss_cnn_new(&c, err, sizeof(err));
        CHECK(m != NULL);
        int32_t ids[6 * 7] = {0}, lens[6] = {3, 3, 3, 3, 3, 3};
        ids[7 + 2] = 9; /* text 1, token 2: out of range */
        CHECK(ss_cnn_forward(m, ids, lens, 6, 0, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(strstr(err, "text 1 token 2") != NULL);
        ids[7 + 2] = 0;
        lens[4] = 8;
        CHECK(ss_cnn_forward(m, ids, lens, 6, 0, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(strstr(err, "text 4") != NULL);
        lens[4] = 3;
        CHECK(ss_cnn_forward(m, ids, lens, 7, 0, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(ss_cnn_forward(m, ids, lens, 6, 0, err, sizeof(err)) == SS_OK);
        ss_cnn_destroy(m);
        c.widths[1] = 2;
        CHECK(ss_cnn_new(&c, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "widths") != NULL);
        test_tiny_config(&c, 9);
        c.dropout = 0.95f;
        CHECK(ss_cnn_new(&c, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "dropout") != NULL);
}

int main(void)
{
        test_conv_ref_vs_gemm();
        test_gradient_check();
        test_adam_learns_and_is_deterministic();
        test_bad_input();
        return ss_test_finish();
}
