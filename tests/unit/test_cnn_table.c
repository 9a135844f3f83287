/*
 * unit.cnn_table: the CNN's scoring by table lookup gives the pooled features and class
 * probabilities of the im2col + sgemm path (within float rounding) on random networks and
 * batches with empty texts, texts shorter than the widest filter and full-length texts;
 * rows are computed once per distinct id; a training forward pass ignores the table.
 */
#include <stdint.h>

#include "cnn.h"
#include "ss_test.h"

static uint64_t rng = 99;

static uint32_t next(void)
{
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        return (uint32_t)(rng >> 11);
}

static void check_net(int V, int D, int F, int T, int B, uint64_t seed)
{
        ss_cnn_config_t c;
        ss_cnn_config_default(&c);
        c.vocab_size = V, c.emb_dim = D, c.n_filters = F, c.max_len = T, c.max_batch = B;
        char err[256];
        ss_cnn_t *m = ss_cnn_new(&c, err, sizeof(err));
        CHECK(m != NULL);
        if (!m)
                return;
        ss_cnn_init_random(m, seed);
        int H = c.n_widths * F;
        int32_t *ids = calloc((size_t)B * T, sizeof(int32_t)), *lens = calloc(B, sizeof(int32_t));
        float *pooled = malloc(sizeof(float) * B * H), *probs = malloc(sizeof(float) * B * 3);
        uint8_t *seen = calloc(V, 1);
        int64_t distinct = 0;
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < B; i++) {
                        lens[i] = i == 0 ? 0 : i == 1 ? 1 : i == 2 ? T : (int)(next() % (T + 1));
                        for (int t = 0; t < lens[i]; t++) {
                                int32_t id = (int32_t)(next() % (uint32_t)V);
                                ids[(size_t)i * T + t] = id;
                                distinct += !seen[id];
                                seen[id] = 1;
                        }
                }
                CHECK(ss_cnn_forward(m, ids, lens, B, 0, err, sizeof(err)) == SS_OK);
                memcpy(pooled, m->a.pooled, sizeof(float) * B * H);
                memcpy(probs, m->a.probs, sizeof(float) * B * 3);
                CHECK(ss_cnn_table_enable(m, err, sizeof(err)) == SS_OK);
                CHECK(ss_cnn_table_ids(m) == 0);
                CHECK(ss_cnn_forward(m, ids, lens, B, 0, err, sizeof(err)) == SS_OK);
                double dp = 0, dq = 0, scale = 0;
                for (int i = 0; i < B * H; i++) {
                        dp = fmax(dp, fabs(m->a.pooled[i] - pooled[i]));
                        scale = fmax(scale, fabs(pooled[i]));
                }
                for (int i = 0; i < B * 3; i++)
                        dq = fmax(dq, fabs(m->a.probs[i] - probs[i]));
                printf("cnn_table: V=%d D=%d F=%d T=%d: max |pooled diff| %.3g (max %.3g), "
                       "max |prob diff| %.3g\n",
                       V, D, F, T, dp, scale, dq);
                CHECK(scale > 0.0);
                CHECK(dp <= 1e-5 * fmax(scale, 1.0));
                CHECK(dq <= 1e-5);
                /* a second pass reuses the rows: same ids, same results */
                int64_t filled = ss_cnn_table_ids(m);
                memcpy(probs, m->a.probs, sizeof(float) * B * 3);
                CHECK(ss_cnn_forward(m, ids, lens, B, 0, err, sizeof(err)) == SS_OK);
                CHECK(ss_cnn_table_ids(m) == filled);
                CHECK(memcmp(m->a.probs, probs, sizeof(float) * B * 3) == 0);
                /* training ignores the table: the im2col path again, exactly */
                CHECK(ss_cnn_forward(m, ids, lens, B, 1, err, sizeof(err)) == SS_OK);
                CHECK(m->a.has_argmax == 1);
                ss_cnn_table_disable(m);
        }
        CHECK(distinct <= V);
        free(ids), free(lens), free(pooled), free(probs), free(seen);
        ss_cnn_destroy(m);
}

/* The fill counts each distinct id once, across batches. */
static void check_counts(void)
{
        ss_cnn_config_t c;
        ss_cnn_config_default(&c);
        c.vocab_size = 20, c.emb_dim = 4, c.n_filters = 3, c.max_len = 6, c.max_batch = 2;
        ss_cnn_t *m = ss_cnn_new(&c, NULL, 0);
        ss_cnn_init_random(m, 3);
        CHECK(ss_cnn_table_enable(m, NULL, 0) == SS_OK);
        int32_t ids[12] = {1, 2, 1, 3, 0, 0, 2, 2, 5, 0, 0, 0}, lens[2] = {4, 3};
        CHECK(ss_cnn_forward(m, ids, lens, 2, 0, NULL, 0) == SS_OK);
        CHECK(ss_cnn_table_ids(m) == 4); /* 1, 2, 3, 5 */
        int32_t ids2[12] = {5, 7, 0, 0, 0, 0}, lens2[1] = {2};
        CHECK(ss_cnn_forward(m, ids2, lens2, 1, 0, NULL, 0) == SS_OK);
        CHECK(ss_cnn_table_ids(m) == 5); /* + 7 */
        ss_cnn_destroy(m);               /* frees the table */
}

int main(void)
{
        check_net(50, 8, 7, 12, 9, 1);
        check_net(300, 64, 100, 64, 33, 2); /* the trained model's shape, 3/4/5 x 100 at D=64 */
        check_counts();
        return ss_test_finish();
}
