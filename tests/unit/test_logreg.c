/* The linear baseline: gradient check, kernels, training, save/load round trip, refusals. */
#include <stdint.h>
#include <unistd.h>

#include "logreg.h"
#include "model_impl.h"
#include "ss_test.h"

/* A tiny hand-made problem: 7 documents, 4 columns, uneven sample weights. */
static void make_problem(ss_lr_problem_t *p)
{
        static uint64_t rowptr[] = {0, 2, 3, 6, 7, 9, 11, 12};
        static uint32_t col[] = {0, 1, 2, 0, 2, 3, 1, 0, 3, 1, 2, 3};
        static float val[] = {0.6f, 0.8f, 1.0f,    0.5f, 0.5f, 0.7071f,
                              1.0f, 0.3f, 0.9539f, 0.8f, 0.6f, 1.0f};
        static int8_t y[] = {2, 0, 1, 2, 0, 1, 1};
        static double sw[] = {0.1, 0.2, 0.1, 0.15, 0.15, 0.2, 0.1};
        memset(p, 0, sizeof(*p));
        p->n = 7;
        p->d = 4;
        p->rowptr = rowptr;
        p->col = col;
        p->val = val;
        p->y = y;
        p->sw = sw;
}

static void test_gradient_check(void)
{
        ss_lr_problem_t p;
        make_problem(&p);
        size_t m = (size_t)p.d * 3 + 3;
        double theta[15], g1[15], g2[15];
        uint64_t s = 12345;
        for (size_t i = 0; i < m; i++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                theta[i] = ((double)(s >> 11) * 0x1.0p-53 - 0.5) * 2;
        }
        const double l2 = 0.3;
        double f = ss_logreg_loss_grad(&p, l2, theta, g1, 1);
        double f2 = ss_logreg_loss_grad(&p, l2, theta, g2, 2);
        CHECK(isfinite(f) && f > 0);
        /* two threads give bit-identical results */
        CHECK(f == f2 && !memcmp(g1, g2, sizeof(g1)));
        CHECK(ss_logreg_loss_grad(&p, l2, theta, NULL, 1) == f);
        double worst = 0;
        for (size_t i = 0; i < m; i++) {
                double h = 1e-5, save = theta[i];
                theta[i] = save + h;
                double fp = ss_logreg_loss_grad(&p, l2, theta, NULL, 1);
                theta[i] = save - h;
                double fm = ss_logreg_loss_grad(&p, l2, theta, NULL, 1);
                theta[i] = save;
                double num = (fp - fm) / (2 * h);
                double rel = fabs(num - g1[i]) / fmax(1e-8, fabs(num) + fabs(g1[i]));
                if (rel > worst)
                        worst = rel;
                CHECK_NEAR(g1[i], num, 1e-7);
        }
        CHECK(worst < 1e-6);
        /* at theta = 0 the loss is ln 3 (weights sum to 1) and the bias gradient is
         * sum_i sw_i (1/3 - [y_i = c]) */
        double zero[15] = {0};
        f = ss_logreg_loss_grad(&p, l2, zero, g1, 1);
        CHECK_NEAR(f, log(3.0), 1e-12);
        CHECK_NEAR(g1[12], 1.0 / 3 - (0.2 + 0.15), 1e-12);
        CHECK_NEAR(g1[13], 1.0 / 3 - (0.1 + 0.2 + 0.1), 1e-12);
        CHECK_NEAR(g1[14], 1.0 / 3 - (0.1 + 0.15), 1e-12);
}

static void test_kernels(void)
{
        /* D = 4 rows of {w0, w1, w2, idf} */
        float table[16] = {1, 0, -1, 2, 0.5f, 0.5f, 0, 1, 0, 0, 3, 1.5f, 9, 9, 9, 1};
        float bias[3] = {0.1f, 0.2f, 0.3f};
        ss_sparse_t x;
        ss_sparse_init(&x);
        uint32_t idx[3] = {0, 1, 2};
        float cnt[3] = {1, 1, 3};
        x.idx = idx;
        x.val = cnt;
        x.n = 3;
        x.cap = 3;
        /* the fused kernel on the raw counts equals the two-pass reference */
        float zf[3];
        ss_logreg_forward(zf, &x, table, bias, 1);
        CHECK(cnt[2] == 3); /* counts left as they were */
        /* sublinear: tf = 1, 1, 1 + ln 3; x = {2, 1, 1.5 (1 + ln 3)} / norm */
        ss_logreg_tfidf(&x, table, 1);
        double v2 = 1.5 * (1 + log(3.0));
        double norm = sqrt(4 + 1 + v2 * v2);
        CHECK_NEAR(x.val[0], 2 / norm, 1e-6);
        CHECK_NEAR(x.val[1], 1 / norm, 1e-6);
        CHECK_NEAR(x.val[2], v2 / norm, 1e-6);
        float z[3];
        ss_logreg_logits(z, &x, table, bias);
        CHECK_NEAR(z[0], 0.1 + (2 * 1 + 1 * 0.5) / norm, 1e-6);
        CHECK_NEAR(z[1], 0.2 + (1 * 0.5) / norm, 1e-6);
        CHECK_NEAR(z[2], 0.3 + (2 * -1 + v2 * 3) / norm, 1e-6);
        for (int k = 0; k < 3; k++)
                CHECK_NEAR(zf[k], z[k], 1e-6);
        /* an empty vector gives the bias */
        x.n = 0;
        ss_logreg_forward(zf, &x, table, bias, 1);
        CHECK(zf[0] == bias[0] && zf[2] == bias[2]);
        float sm[3] = {1, 2, 3};
        ss_softmax(sm, 3);
        double e = exp(1) + exp(2) + exp(3);
        CHECK_NEAR(sm[0], exp(1) / e, 1e-6);
        CHECK_NEAR(sm[2], exp(3) / e, 1e-6);
        float big[3] = {1000, 0, -1000};
        ss_softmax(big, 3);
        CHECK(isfinite(big[0]) && big[0] > 0.999f);
}

static const char *const pos_t[] = {
    "what a great day :)",     "i love this so much",        "happy happy joy",
    "best show ever, amazing", "good times with friends :D", "so excited and happy"};
static const char *const neg_t[] = {
    "this is awful :(", "i hate mondays", "worst service ever, terrible",
    "so sad and angry", "bad bad day",    "awful traffic, hate it"};
static const char *const neu_t[] = {"the meeting is at noon",         "train leaves at 5 pm",
                                    "report on the tuesday schedule", "new episode airs thursday",
                                    "the store opens at nine",        "weather update for sunday"};

static ss_dataset_t *toy_data(void)
{
        ss_dataset_t *ds = ss_dataset_new();
        char id[16];
        for (int i = 0; i < 6; i++) {
                snprintf(id, sizeof(id), "p%d", i);
                ss_dataset_add(ds, id, pos_t[i], strlen(pos_t[i]), SS_LABEL_POSITIVE, 0);
                snprintf(id, sizeof(id), "n%d", i);
                ss_dataset_add(ds, id, neg_t[i], strlen(neg_t[i]), SS_LABEL_NEGATIVE, 0);
                snprintf(id, sizeof(id), "u%d", i);
                ss_dataset_add(ds, id, neu_t[i], strlen(neu_t[i]), SS_LABEL_NEUTRAL, 0);
        }
        return ds;
}

static void toy_config(ss_logreg_train_config_t *tc)
{
        ss_logreg_train_config_default(tc);
        tc->model.feat.dim_bits = 14;
        tc->model.vocab_bits = 12;
        tc->l2 = 1e-3;
        tc->max_iter = 100;
        tc->tol = 1e-7;
}

static void test_train_and_round_trip(void)
{
        char err[512];
        ss_dataset_t *ds = toy_data();
        ss_logreg_train_config_t tc;
        toy_config(&tc);
        ss_logreg_t *lr = NULL, *lr2 = NULL;
        double loss = 0;
        int iters = 0;
        CHECK(ss_logreg_train(&tc, ds, &lr, &loss, &iters, err, sizeof(err)) == SS_OK);
        CHECK(lr && iters > 0 && loss < log(3.0));
        if (!lr)
                return;
        /* it fits its training data */
        ss_eval_t ev;
        CHECK(ss_logreg_evaluate(lr, ds, &ev, err, sizeof(err)) == SS_OK);
        CHECK(ev.accuracy == 1.0);
        /* deterministic, whatever the thread count */
        tc.threads = 1;
        CHECK(ss_logreg_train(&tc, ds, &lr2, NULL, NULL, err, sizeof(err)) == SS_OK);
        size_t D = (size_t)1 << tc.model.feat.dim_bits;
        CHECK(lr2 && !memcmp(lr->w.table, lr2->w.table, D * SS_LOGREG_ROW * sizeof(float)));
        CHECK(lr2 && !memcmp(lr->w.bias, lr2->w.bias, 3 * sizeof(float)));
        ss_logreg_destroy(lr2);
        /* a warm start at the optimum stays there */
        float *warm = calloc(D * 3 + 3, sizeof(float));
        for (size_t j = 0; j < D; j++)
                for (int k = 0; k < 3; k++)
                        warm[j * 3 + k] = lr->w.table[j * SS_LOGREG_ROW + k];
        memcpy(warm + D * 3, lr->w.bias, 3 * sizeof(float));
        tc.warm = warm;
        double loss2 = 0;
        int iters2 = 0;
        CHECK(ss_logreg_train(&tc, ds, &lr2, &loss2, &iters2, err, sizeof(err)) == SS_OK);
        CHECK_NEAR(loss2, loss, 1e-5);
        CHECK(iters2 < iters);
        ss_logreg_destroy(lr2);
        free(warm);
        tc.warm = NULL;

        /* save -> serialise -> load through the model interface: same probabilities */
        ss_mfile_t *mf = ss_mfile_new("logreg", "toy", NULL);
        CHECK(ss_logreg_save(&lr->cfg, &lr->w, mf, err, sizeof(err)) == SS_OK);
        uint8_t *buf;
        size_t len;
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        ss_model_t *m = ss_model_from_mfile(ss_mfile_parse(copy, len, "toy.ssm", err, sizeof(err)),
                                            err, sizeof(err));
        CHECK(m != NULL);
        if (m) {
                CHECK_STR_EQ(ss_model_kind(m), "logreg");
                CHECK_STR_EQ(ss_model_name(m), "toy");
                const char *texts[4] = {"i love this, great", "awful, i hate it",
                                        "zzqx unknownword", ""};
                size_t lens[4];
                for (int i = 0; i < 4; i++)
                        lens[i] = strlen(texts[i]);
                float pa[12], pb[12];
                ss_input_stats_t st[4];
                CHECK(ss_model_score_batch(m, texts, lens, 4, pa, st, err, sizeof(err)) == SS_OK);
                CHECK(ss_logreg_score(lr, texts, lens, 4, pb, NULL, err, sizeof(err)) == SS_OK);
                CHECK(!memcmp(pa, pb, sizeof(pa)));
                for (int i = 0; i < 4; i++)
                        CHECK_NEAR(pa[3 * i] + pa[3 * i + 1] + pa[3 * i + 2], 1.0, 1e-6);
                CHECK(ss_probs_argmax(pa) == SS_LABEL_POSITIVE);
                CHECK(ss_probs_argmax(pa + 3) == SS_LABEL_NEGATIVE);
                /* unk_share: known words -> 0 (",", is punctuation, not a word), unknown -> 1 */
                CHECK_NEAR(st[0].unk_share, 0.0, 0);
                CHECK(st[0].n_tokens >= 5);
                CHECK_NEAR(st[2].unk_share, 1.0, 0);
                CHECK(st[3].n_tokens == 0 && st[3].unk_share == 0);
                /* batch of one == batch of four */
                float p1[3];
                const char *t1 = texts[1];
                CHECK(ss_model_score_batch(m, &t1, &lens[1], 1, p1, NULL, err, sizeof(err)) ==
                      SS_OK);
                CHECK(!memcmp(p1, pa + 3, sizeof(p1)));
                ss_model_destroy(m);
        }

        /* a NaN weight (with a valid checksum) is refused, naming the section */
        uint32_t hlen = buf[12] | buf[13] << 8 | buf[14] << 16 | (uint32_t)buf[15] << 24;
        ss_mfile_t *raw = ss_mfile_parse(buf, len, "toy.ssm", err, sizeof(err));
        CHECK(raw != NULL);
        ss_mfile_t *bad = ss_mfile_new("logreg", "toy", "v1");
        for (size_t i = 0; raw && i < ss_mfile_nsections(raw); i++) {
                const char *name = ss_mfile_section_name(raw, i);
                uint64_t n;
                if (!strcmp(name, "logreg.table")) {
                        const float *t = ss_mfile_get(raw, name, SS_MF_F32, 0, &n, NULL, 0);
                        float *t2 = malloc(n * sizeof(float));
                        memcpy(t2, t, n * sizeof(float));
                        t2[5] = NAN;
                        ss_mfile_add(bad, name, SS_MF_F32, t2, n, NULL, 0);
                        free(t2);
                } else if (!strcmp(name, "logreg.config")) {
                        const uint32_t *c = ss_mfile_get(raw, name, SS_MF_U32, 0, &n, NULL, 0);
                        ss_mfile_add(bad, name, SS_MF_U32, c, n, NULL, 0);
                } else if (!strcmp(name, "logreg.bias")) {
                        const float *b = ss_mfile_get(raw, name, SS_MF_F32, 0, &n, NULL, 0);
                        ss_mfile_add(bad, name, SS_MF_F32, b, n, NULL, 0);
                } /* logreg.vocab left out on purpose below */
        }
        CHECK(hlen > 0);
        ss_mfile_t *tmp = ss_mfile_new("logreg", "toy", "v1");
        uint8_t *b2;
        size_t l2;
        /* missing section */
        ss_mfile_serialize(bad, &b2, &l2, NULL, 0);
        CHECK(ss_model_from_mfile(ss_mfile_parse(b2, l2, "bad.ssm", err, sizeof(err)), err,
                                  sizeof(err)) == NULL);
        CHECK(strstr(err, "bad.ssm") && strstr(err, "missing section \"logreg.vocab\""));
        /* with the vocab the NaN is found */
        uint64_t nv;
        const uint64_t *v = ss_mfile_get(raw, "logreg.vocab", SS_MF_U64, 0, &nv, NULL, 0);
        ss_mfile_add(bad, "logreg.vocab", SS_MF_U64, v, nv, NULL, 0);
        ss_mfile_serialize(bad, &b2, &l2, NULL, 0);
        CHECK(ss_model_from_mfile(ss_mfile_parse(b2, l2, "bad.ssm", err, sizeof(err)), err,
                                  sizeof(err)) == NULL);
        CHECK(strstr(err, "logreg.table element 5") != NULL);
        /* a model whose feature fingerprint differs (tokenizer/hashing changed) is refused */
        ss_mfile_t *alt = ss_mfile_new("logreg", "toy", "v1");
        for (size_t i = 0; raw && i < ss_mfile_nsections(raw); i++) {
                const char *name = ss_mfile_section_name(raw, i);
                uint64_t n;
                const void *d;
                if (!strcmp(name, "logreg.features")) {
                        char zeros[64];
                        memset(zeros, '0', sizeof(zeros));
                        ss_mfile_add(alt, name, SS_MF_STR, zeros, 64, NULL, 0);
                } else if ((d = ss_mfile_get(raw, name, SS_MF_F32, 0, &n, NULL, 0))) {
                        ss_mfile_add(alt, name, SS_MF_F32, d, n, NULL, 0);
                } else if ((d = ss_mfile_get(raw, name, SS_MF_U32, 0, &n, NULL, 0))) {
                        ss_mfile_add(alt, name, SS_MF_U32, d, n, NULL, 0);
                } else if ((d = ss_mfile_get(raw, name, SS_MF_U64, 0, &n, NULL, 0))) {
                        ss_mfile_add(alt, name, SS_MF_U64, d, n, NULL, 0);
                }
        }
        CHECK(ss_mfile_nsections(alt) == 5);
        ss_mfile_serialize(alt, &b2, &l2, NULL, 0);
        CHECK(ss_model_from_mfile(ss_mfile_parse(b2, l2, "alt.ssm", err, sizeof(err)), err,
                                  sizeof(err)) == NULL);
        CHECK(strstr(err, "alt.ssm") && strstr(err, "another feature extractor"));
        ss_mfile_destroy(alt);
        /* an unknown kind is refused as such */
        ss_mfile_t *foreign = ss_mfile_new("svm", "x", "v1");
        ss_mfile_serialize(foreign, &b2, &l2, NULL, 0);
        CHECK(ss_model_from_mfile(ss_mfile_parse(b2, l2, "svm.ssm", err, sizeof(err)), err,
                                  sizeof(err)) == NULL);
        CHECK(strstr(err, "unknown model kind \"svm\"") != NULL);
        ss_mfile_destroy(foreign);
        ss_mfile_destroy(tmp);
        ss_mfile_destroy(bad);
        ss_mfile_destroy(raw);
        ss_logreg_destroy(lr);
        ss_dataset_destroy(ds);
}

static void test_tune(void)
{
        char err[512];
        ss_dataset_t *ds = toy_data();
        ss_logreg_train_config_t tc;
        toy_config(&tc);
        double grid[3] = {10, 1e-1, 1e-3};
        ss_logreg_tune_result_t res[3];
        int best = -1;
        CHECK(ss_logreg_tune(&tc, grid, 3, ds, ds, res, &best, NULL, err, sizeof(err)) == SS_OK);
        CHECK(best >= 0 && best < 3);
        /* a very strong penalty underfits: never better than the weakest */
        CHECK(res[0].tune.avgrec <= res[2].tune.avgrec);
        CHECK(res[2].tune.avgrec == 1.0);
        CHECK(res[best].tune.avgrec == res[2].tune.avgrec);
        CHECK(res[0].loss > res[2].loss);
        ss_dataset_destroy(ds);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
}

static void test_lexicon(void)
{
        char path[128], err[512];
        snprintf(path, sizeof(path), "/tmp/ss_test_lex_%d.txt", (int)getpid());
        write_file(path, "good\t2.0\t0.5\t[1, 2]\nbad\t-2.5\t0.7\nlove\t3.0\n:)\t2.0\n");
        ss_lexicon_t lx;
        CHECK(ss_lexicon_load(path, &lx, err, sizeof(err)) == SS_OK);
        float v = 0;
        CHECK(ss_lexicon_get(&lx, "bad", 3, &v) && v == -2.5f);
        CHECK(ss_lexicon_get(&lx, ":)", 2, &v) && v == 2.0f);
        CHECK(!ss_lexicon_get(&lx, "meh", 3, &v));
        /* hand-computed: "not" flips and damps "good" (2 * -0.74), the comma ends the
         * negation's scope, then love (+3) and bad (-2.5) */
        ss_tok_buf_t tb;
        ss_tok_buf_init(&tb);
        const char *t = "not good, I love it but bad";
        CHECK(ss_tok_run(&tb, t, strlen(t)) == 0);
        float f[SS_LOGREG_LEX_FEATS];
        ss_logreg_lex_features(f, &tb, &lx);
        double pos = 3, neg = 1.48 + 2.5;
        CHECK_NEAR(f[0], tanh(pos / 4), 1e-6);
        CHECK_NEAR(f[1], tanh(neg / 4), 1e-6);
        CHECK_NEAR(f[2], 1.0 / 5, 1e-6);
        CHECK_NEAR(f[3], 2.0 / 5, 1e-6);
        CHECK_NEAR(f[4], 3.0 / 4, 1e-6);
        CHECK_NEAR(f[5], -2.5 / 4, 1e-6);
        CHECK_NEAR(f[6], -2.5 / 4, 1e-6);
        CHECK_NEAR(f[7], tanh((pos - neg) / 4), 1e-6);
        /* "don't" is a negator too; a text without lexicon words gives zeros */
        t = "i don't love it";
        ss_tok_run(&tb, t, strlen(t));
        ss_logreg_lex_features(f, &tb, &lx);
        CHECK_NEAR(f[5], 3 * -0.74 / 4, 1e-6);
        CHECK(f[0] == 0 && f[2] == 0);
        ss_tok_run(&tb, "", 0);
        ss_logreg_lex_features(f, &tb, &lx);
        for (int k = 0; k < SS_LOGREG_LEX_FEATS; k++)
                CHECK(f[k] == 0);
        ss_tok_buf_free(&tb);

        /* a model with lexicon features: trains, and round-trips through the file */
        ss_dataset_t *ds = toy_data();
        ss_logreg_train_config_t tc;
        toy_config(&tc);
        tc.model.lex_feats = SS_LOGREG_LEX_FEATS;
        tc.lex = &lx;
        tc.lex_scale = 0.5f;
        ss_logreg_t *lr = NULL;
        CHECK(ss_logreg_train(&tc, ds, &lr, NULL, NULL, err, sizeof(err)) == SS_OK);
        if (lr) {
                size_t D = (size_t)1 << tc.model.feat.dim_bits;
                float wsum = 0;
                for (int k = 0; k < SS_LOGREG_LEX_FEATS * SS_LOGREG_ROW; k++)
                        wsum += fabsf(lr->w.table[D * SS_LOGREG_ROW + k]);
                CHECK(wsum > 0); /* the lexicon rows were learned */
                ss_mfile_t *mf = ss_mfile_new("logreg", "lex", NULL);
                CHECK(ss_logreg_save(&lr->cfg, &lr->w, mf, err, sizeof(err)) == SS_OK);
                uint8_t *buf;
                size_t len;
                CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
                ss_mfile_destroy(mf);
                ss_model_t *m = ss_model_from_mfile(
                    ss_mfile_parse(buf, len, "lex.ssm", err, sizeof(err)), err, sizeof(err));
                CHECK(m != NULL);
                const char *texts[2] = {"not good at all", "love it :)"};
                size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
                float pa[6], pb[6];
                if (m) {
                        CHECK(ss_model_score_batch(m, texts, lens, 2, pa, NULL, err, sizeof(err)) ==
                              SS_OK);
                        CHECK(ss_logreg_score(lr, texts, lens, 2, pb, NULL, err, sizeof(err)) ==
                              SS_OK);
                        CHECK(!memcmp(pa, pb, sizeof(pa)));
                        ss_model_destroy(m);
                }
                ss_logreg_destroy(lr);
        }
        /* lexicon wanted but missing */
        tc.lex = NULL;
        CHECK(ss_logreg_train(&tc, ds, &lr, NULL, NULL, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        ss_dataset_destroy(ds);
        free((void *)lx.keys);
        free((void *)lx.vals);
        /* bad lexicon files name the line */
        write_file(path, "good\t2.0\nbad line without tab\n");
        CHECK(ss_lexicon_load(path, &lx, err, sizeof(err)) == SS_ERR_PARSE);
        CHECK(strstr(err, ":2: want token<TAB>valence") != NULL);
        write_file(path, "good\tnotanumber\n");
        CHECK(ss_lexicon_load(path, &lx, err, sizeof(err)) == SS_ERR_PARSE);
        write_file(path, "");
        CHECK(ss_lexicon_load(path, &lx, err, sizeof(err)) == SS_ERR_EMPTY);
        unlink(path);
        /* the lexicon the project ships */
        char real[512];
        CHECK(
            ss_lexicon_load(ss_test_src_path("data/lexicon/vader_lexicon.txt", real, sizeof(real)),
                            &lx, err, sizeof(err)) == SS_OK);
        CHECK(ss_lexicon_get(&lx, "love", 4, &v) && v > 2);
        CHECK(ss_lexicon_get(&lx, "hate", 4, &v) && v < -2);
        CHECK(ss_lexicon_get(&lx, ":)", 2, &v) && v > 0);
        free((void *)lx.keys);
        free((void *)lx.vals);
}

int main(void)
{
        test_gradient_check();
        test_kernels();
        test_train_and_round_trip();
        test_tune();
        test_lexicon();
        return ss_test_finish();
}
