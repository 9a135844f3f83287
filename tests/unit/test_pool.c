/*
 * Unit tests of the scoring pool (consumer/pool.c) and of ss_model_fork():
 * on a small LR model trained here on real tweets, a batch scored over 2, 3
 * and 5 threads gives bit for bit the probabilities and input statistics of
 * one ss_model_score_batch() call, for batch sizes around the slice minimum,
 * complete as soon as ss_pool_done() says so;
 * a model swap takes effect; an error in a worker's slice reaches the caller;
 * bad thread counts are refused.
 */
#include <stdint.h>

#include "logreg.h"
#include "model_impl.h"
#include "pool.h"
#include "ss_test.h"
#include "ss_util.h"

/* A model trained on the first n tweets of the validation file; l2 tells two apart. */
static ss_model_t *toy_model(const ss_dataset_t *all, size_t n, double l2)
{
        char err[512];
        ss_dataset_t *ds = ss_dataset_new();
        for (size_t i = 0; i < n && i < all->n; i++)
                ss_dataset_add(ds, all->ids[i], all->texts[i], all->lens[i], all->labels[i], 0);
        ss_logreg_train_config_t tc;
        ss_logreg_train_config_default(&tc);
        tc.model.feat.dim_bits = 14;
        tc.model.vocab_bits = 12;
        tc.l2 = l2;
        tc.max_iter = 30;
        ss_logreg_t *lr = NULL;
        ss_model_t *m = NULL;
        if (ss_logreg_train(&tc, ds, &lr, NULL, NULL, err, sizeof(err)) == SS_OK) {
                ss_mfile_t *mf = ss_mfile_new("logreg", "toy", NULL);
                uint8_t *buf = NULL;
                size_t len = 0;
                if (ss_logreg_save(&lr->cfg, &lr->w, mf, err, sizeof(err)) == SS_OK &&
                    ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK)
                        m = ss_model_from_mfile(
                            ss_mfile_parse(buf, len, "toy.ssm", err, sizeof(err)), err,
                            sizeof(err));
                else
                        free(buf);
                ss_mfile_destroy(mf);
        }
        if (!m)
                fprintf(stderr, "toy model: %s\n", err);
        ss_logreg_destroy(lr);
        ss_dataset_destroy(ds);
        return m;
}

/* Pool scores of texts[0..n) equal one direct call on ref, probabilities and
 * stats; the direct call runs while the pool's batch is out. */
static int same_as_direct(ss_pool_t *p, ss_model_t *ref, const ss_dataset_t *ds, size_t off,
                          size_t n)
{
        char err[512];
        float *pa = malloc(n * 3 * sizeof(float) + 1), *pb = malloc(n * 3 * sizeof(float) + 1);
        ss_input_stats_t *sa = calloc(n + 1, sizeof(*sa)), *sb = calloc(n + 1, sizeof(*sb));
        int ok = pa && pb && sa && sb;
        if (!ok)
                goto out;
        ss_pool_start(p, (const char *const *)ds->texts + off, ds->lens + off, n, pa, sa);
        ok = ss_model_score_batch(ref, (const char *const *)ds->texts + off, ds->lens + off, n, pb,
                                  sb, err, sizeof(err)) == SS_OK;
        /* ss_pool_done() says 1 only once every output is written: they are compared
         * before ss_pool_wait() (bounded: 30 s) */
        double t0 = ss_time_mono();
        while (!ss_pool_done(p) && ss_time_mono() - t0 < 30)
                ;
        ok = ok && ss_pool_done(p);
        ok = ok && (n == 0 ||
                    (!memcmp(pa, pb, n * 3 * sizeof(float)) && !memcmp(sa, sb, n * sizeof(*sa))));
        double secs = -1;
        ok = ss_pool_wait(p, &secs, err, sizeof(err)) == SS_OK && ok && secs >= 0;
        ok = ok && (n == 0 ||
                    (!memcmp(pa, pb, n * 3 * sizeof(float)) && !memcmp(sa, sb, n * sizeof(*sa))));
out:
        free(pa);
        free(pb);
        free(sa);
        free(sb);
        return ok;
}

static void test_pool(void)
{
        char path[1024], err[512];
        ss_test_src_path("data/semeval-2016test.tsv", path, sizeof(path));
        ss_dataset_t *ds = ss_dataset_load(path, err, sizeof(err));
        CHECK(ds != NULL);
        if (!ds)
                return;
        ss_model_t *m1 = toy_model(ds, 3000, 1e-4), *m2 = toy_model(ds, 3000, 1e-1);
        ss_model_t *ref2 = m2 ? ss_model_fork(m2, err, sizeof(err)) : NULL;
        CHECK(m1 && m2 && ref2);
        if (!m1 || !m2 || !ref2)
                goto out;
        /* the two models differ, so the swap below is visible */
        float a[3], b[3];
        const char *t = ds->texts[5000];
        CHECK(ss_model_score_batch(m1, &t, &ds->lens[5000], 1, a, NULL, err, sizeof(err)) == 0);
        CHECK(ss_model_score_batch(m2, &t, &ds->lens[5000], 1, b, NULL, err, sizeof(err)) == 0);
        CHECK(memcmp(a, b, sizeof(a)) != 0);

        static const int threads[] = {1, 2, 3, 5}; /* 0, 1, 2, 4 workers */
        static const size_t sizes[] = {0, 1, 31, 32, 33, 64, 65, 100, 512, 1000};
        for (size_t ti = 0; ti < sizeof(threads) / sizeof(threads[0]); ti++) {
                ss_pool_t *p = ss_pool_new(threads[ti], err, sizeof(err));
                CHECK(p && ss_pool_threads(p) == threads[ti]);
                if (!p)
                        continue;
                ss_pool_start(p, (const char *const *)ds->texts, ds->lens, 4, a, NULL);
                CHECK(ss_pool_wait(p, NULL, err, sizeof(err)) == SS_ERR_INVALID_ARG); /* no model */
                CHECK(ss_pool_set_model(p, m1, err, sizeof(err)) == SS_OK);
                for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
                        CHECK(same_as_direct(p, m1, ds, 7000 + 1000 * si, sizes[si]));
                /* swap: now the pool scores like m2 */
                CHECK(ss_pool_set_model(p, m2, err, sizeof(err)) == SS_OK);
                CHECK(same_as_direct(p, ref2, ds, 100, 500));
                CHECK(ss_pool_set_model(p, m1, err, sizeof(err)) == SS_OK);
                CHECK(same_as_direct(p, m1, ds, 100, 500));
                /* a text the extractor refuses, in the last slice: the batch fails, named */
                size_t n = 300, *lens = malloc(n * sizeof(*lens));
                float *probs = malloc(n * 3 * sizeof(float));
                memcpy(lens, ds->lens, n * sizeof(*lens));
                lens[n - 1] = SS_TOK_MAX_LEN + 1;
                ss_pool_start(p, (const char *const *)ds->texts, lens, n, probs, NULL);
                ss_err_t rc = ss_pool_wait(p, NULL, err, sizeof(err));
                CHECK(rc != SS_OK && strstr(err, "feature extraction failed") != NULL);
                /* and the pool still works afterwards */
                CHECK(same_as_direct(p, m1, ds, 0, 200));
                free(lens);
                free(probs);
                ss_pool_destroy(p);
        }
        CHECK(ss_pool_new(0, err, sizeof(err)) == NULL && strstr(err, "1..64"));
        CHECK(ss_pool_new(SS_POOL_MAX_THREADS + 1, err, sizeof(err)) == NULL);
        ss_pool_destroy(NULL);
out:
        ss_model_destroy(ref2); /* forks first */
        ss_model_destroy(m1);
        ss_model_destroy(m2);
        ss_dataset_destroy(ds);
}

int main(void)
{
        test_pool();
        return ss_test_finish();
}
