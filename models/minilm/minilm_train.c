/*
 * minilm_train: the softmax-regression head on frozen MiniLM embeddings (see
 * minilm_train.h).
 *
 * Steps: embed the training rows (cached per encoder and data file), split
 * them by tweet-id hash into fit and tune rows, fit one head per L2 strength
 * on the fit rows and score it on the tune rows (AvgRec), refit the best on
 * every row, and write the encoder's sections plus the head into a new
 * container. The fit standardises the features (mean 0, variance 1 per
 * dimension over the fitted rows), runs full-batch Adam with sgemm for the
 * two products per step, and folds the standardisation back into W and b.
 */
#include "minilm_train.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_log.h"
#include "ss_trainlog.h"
#include "ss_util.h"
#include "tok.h"

#define C SS_NUM_CLASSES

void ss_minilm_train_config_default(ss_minilm_train_config_t *tc)
{
        static const double grid[] = {1e-1, 3e-2, 1e-2, 3e-3, 1e-3};
        memset(tc, 0, sizeof(*tc));
        tc->encoder_path = "models-out/minilm-encoder.ssm";
        tc->cache_dir = "models-out/cache";
        tc->tune_share = 0.1;
        tc->seed = 1;
        tc->l2_grid = grid;
        tc->n_l2 = (int)(sizeof(grid) / sizeof(grid[0]));
        tc->epochs = 300;
        tc->batch = 256;
}

int ss_minilm_parse_layers(const char *s, int *layers, int max)
{
        int n = 0;
        const char *p = s;
        while (*p) {
                while (*p == ' ')
                        p++;
                if (*p < '0' || *p > '9' || n == max)
                        return -1;
                int v = 0;
                while (*p >= '0' && *p <= '9' && v < 100)
                        v = v * 10 + (*p++ - '0');
                if (v >= 100)
                        return -1;
                layers[n++] = v;
                while (*p == ' ')
                        p++;
                if (*p == ',')
                        p++;
                else if (*p)
                        return -1;
        }
        return n > 0 ? n : -1;
}

/* ---- embedding cache ---- */

typedef struct emb_cache_hdr {
        char magic[8]; /* "SSEMB001" */
        uint32_t n, dim;
} emb_cache_hdr_t;

static void cache_path(char *buf, size_t size, const ss_minilm_t *e, const char *dir,
                       const char *enc_sha, const char *data_sha)
{
        char layers[128] = "";
        ss_minilm_pool_layers_str(e, layers, sizeof(layers));
        snprintf(buf, size, "%s/minilm-%.16s-%.16s-L%s.emb", dir, enc_sha, data_sha, layers);
}

/*
 * Another cache file of the same encoder and data whose pooled layers include all of the
 * wanted ones: its blocks are picked out (the features of one layer do not depend on which
 * others are pooled with it). Returns 0 when emb and st were filled.
 */
static int cache_read_superset(const ss_minilm_t *e, const char *dir, const char *enc_sha,
                               const char *data_sha, size_t n, float *emb, ss_input_stats_t *st,
                               char *used, size_t used_size)
{
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "minilm-%.16s-%.16s-L", enc_sha, data_sha);
        DIR *d = opendir(dir);
        if (!d)
                return -1;
        int want[SS_MINILM_MAX_LAYERS + 1], nw = ss_minilm_pool_layers(e, want);
        int D = ss_minilm_config(e)->dim, rc = -1;
        struct dirent *de;
        while (rc && (de = readdir(d))) {
                size_t pl = strlen(prefix), nl = strlen(de->d_name);
                if (strncmp(de->d_name, prefix, pl) || nl < pl + 5 ||
                    strcmp(de->d_name + nl - 4, ".emb"))
                        continue;
                char list[128];
                snprintf(list, sizeof(list), "%.*s", (int)(nl - pl - 4), de->d_name + pl);
                for (char *c = list; *c; c++)
                        if (*c == '-')
                                *c = ',';
                int have[SS_MINILM_MAX_LAYERS + 1], map[SS_MINILM_MAX_LAYERS + 1];
                int nh = ss_minilm_parse_layers(list, have, SS_MINILM_MAX_LAYERS + 1), ok = nh > 0;
                for (int k = 0; ok && k < nw; k++) {
                        map[k] = -1;
                        for (int j = 0; j < nh; j++)
                                if (have[j] == want[k])
                                        map[k] = j;
                        ok = map[k] >= 0;
                }
                if (!ok)
                        continue;
                char path[1200];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                FILE *f = fopen(path, "rb");
                if (!f)
                        continue;
                emb_cache_hdr_t h;
                float *row = malloc((size_t)nh * D * sizeof(float));
                ok = row && fread(&h, sizeof(h), 1, f) == 1 && !memcmp(h.magic, "SSEMB001", 8) &&
                     h.n == n && h.dim == (uint32_t)(nh * D);
                for (size_t i = 0; ok && i < n; i++) {
                        ok = fread(row, sizeof(float) * (size_t)nh * D, 1, f) == 1;
                        for (int k = 0; ok && k < nw; k++)
                                memcpy(emb + (i * nw + k) * D, row + (size_t)map[k] * D,
                                       (size_t)D * sizeof(float));
                }
                ok = ok && fread(st, sizeof(*st), n, f) == n && fgetc(f) == EOF;
                fclose(f);
                free(row);
                if (ok) {
                        snprintf(used, used_size, "%s", path);
                        rc = 0;
                }
        }
        closedir(d);
        return rc;
}

static int cache_read(const char *path, size_t n, int dim, float *emb, ss_input_stats_t *st)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return -1;
        emb_cache_hdr_t h;
        int ok = fread(&h, sizeof(h), 1, f) == 1 && !memcmp(h.magic, "SSEMB001", 8) && h.n == n &&
                 h.dim == (uint32_t)dim && fread(emb, sizeof(float) * (size_t)dim, n, f) == n &&
                 fread(st, sizeof(*st), n, f) == n && fgetc(f) == EOF;
        fclose(f);
        return ok ? 0 : -1;
}

static void cache_write(const char *dir, const char *path, size_t n, int dim, const float *emb,
                        const ss_input_stats_t *st)
{
        char tmp[1100];
        mkdir(dir, 0777);
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        if (!f) {
                ss_warn("minilm", "embedding cache %s not written: cannot create it", path);
                return;
        }
        emb_cache_hdr_t h;
        memcpy(h.magic, "SSEMB001", 8);
        h.n = (uint32_t)n;
        h.dim = (uint32_t)dim;
        int ok = fwrite(&h, sizeof(h), 1, f) == 1 &&
                 fwrite(emb, sizeof(float) * (size_t)dim, n, f) == n &&
                 fwrite(st, sizeof(*st), n, f) == n;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path)) {
                unlink(tmp);
                ss_warn("minilm", "embedding cache %s not written", path);
        }
}

ss_err_t ss_minilm_embed_dataset(ss_minilm_t *e, const char *encoder_sha256, const ss_dataset_t *ds,
                                 const char *cache_dir, float **emb_out,
                                 ss_input_stats_t **stats_out, char *errstr, size_t errstr_size)
{
        int D = ss_minilm_embed_dim(e);
        size_t n = ds->n;
        float *emb = malloc((n ? n : 1) * (size_t)D * sizeof(float));
        ss_input_stats_t *st = malloc((n ? n : 1) * sizeof(*st));
        if (!emb || !st) {
                free(emb);
                free(st);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
        }
        char path[1024] = "";
        int use_cache = cache_dir && cache_dir[0] && encoder_sha256 && ds->sha256[0];
        if (use_cache) {
                cache_path(path, sizeof(path), e, cache_dir, encoder_sha256, ds->sha256);
                char used[1200];
                snprintf(used, sizeof(used), "%s", path);
                if (cache_read(path, n, D, emb, st) == 0 ||
                    cache_read_superset(e, cache_dir, encoder_sha256, ds->sha256, n, emb, st, used,
                                        sizeof(used)) == 0) {
                        ss_info("minilm", "%s: %zu embeddings from cache %s", ds->path, n, used);
                        *emb_out = emb;
                        *stats_out = st;
                        return SS_OK;
                }
        }
        ss_info("minilm", "%s: embedding %zu texts", ds->path, n);
        ss_tok_buf_t tb;
        ss_tok_buf_init(&tb);
        ss_progress_t pr;
        ss_progress_init(&pr, "embed", n);
        double t0 = ss_time_mono();
        size_t batch = 256;
        ss_err_t err = SS_OK;
        for (size_t i = 0; i < n && err == SS_OK; i += batch) {
                size_t b = n - i < batch ? n - i : batch;
                err = ss_minilm_embed(e, ds->texts + i, ds->lens + i, b, 1, emb + i * D, st + i,
                                      errstr, errstr_size);
                for (size_t k = i; k < i + b && err == SS_OK; k++) {
                        if (ss_tok_run(&tb, ds->texts[k], ds->lens[k]))
                                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                 "minilm: out of memory");
                        st[k].has_url = (uint8_t)tb.has_url;
                        st[k].has_mention = (uint8_t)tb.has_mention;
                        st[k].has_emoji = (uint8_t)tb.has_emoji;
                }
                ss_progress_update(&pr, i + b, NULL);
        }
        ss_progress_done(&pr);
        ss_tok_buf_free(&tb);
        if (err != SS_OK) {
                free(emb);
                free(st);
                return err;
        }
        double dt = ss_time_mono() - t0;
        ss_info("minilm", "%s: %zu texts embedded in %.1fs (%.1f texts/s)", ds->path, n, dt,
                dt > 0 ? (double)n / dt : 0.0);
        if (use_cache)
                cache_write(cache_dir, path, n, D, emb, st);
        *emb_out = emb;
        *stats_out = st;
        return SS_OK;
}

/* ---- the head ---- */

double ss_minilm_head_fit(const float *X, const int8_t *y, size_t n, int D, double l2, int epochs,
                          float *W, float *b)
{
        /* standardise */
        double *mu = calloc((size_t)D, sizeof(double)), *sd = calloc((size_t)D, sizeof(double));
        float *Xs = malloc(n * (size_t)D * sizeof(float));
        float *P = malloc(n * C * sizeof(float));
        float *G = malloc((size_t)C * D * sizeof(float));
        double *sw = malloc(n * sizeof(double));
        float *m1 = calloc((size_t)C * (D + 1), sizeof(float));
        float *m2 = calloc((size_t)C * (D + 1), sizeof(float));
        float Wt[C * 4096];
        float *Ws = D <= 4096 ? Wt : malloc((size_t)C * D * sizeof(float));
        double loss = NAN;
        if (!mu || !sd || !Xs || !P || !G || !sw || !m1 || !m2 || !Ws)
                goto out;
        for (size_t i = 0; i < n; i++)
                for (int j = 0; j < D; j++)
                        mu[j] += X[i * D + j];
        for (int j = 0; j < D; j++)
                mu[j] /= (double)n;
        for (size_t i = 0; i < n; i++)
                for (int j = 0; j < D; j++) {
                        double c = X[i * D + j] - mu[j];
                        sd[j] += c * c;
                }
        for (int j = 0; j < D; j++)
                sd[j] = sqrt(sd[j] / (double)n) + 1e-8;
        for (size_t i = 0; i < n; i++)
                for (int j = 0; j < D; j++)
                        Xs[i * D + j] = (float)((X[i * D + j] - mu[j]) / sd[j]);
        /* balanced sample weights, summing to 1 */
        size_t cnt[C] = {0};
        for (size_t i = 0; i < n; i++)
                cnt[y[i]]++;
        int present = 0;
        for (int k = 0; k < C; k++)
                present += cnt[k] > 0;
        for (size_t i = 0; i < n; i++)
                sw[i] = 1.0 / ((double)present * (double)cnt[y[i]]);

        float bs[C] = {0};
        memset(Ws, 0, (size_t)C * D * sizeof(float));
        const double lr = 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        for (int t = 1; t <= epochs; t++) {
                ss_minilm_head_apply(Xs, n, D, Ws, bs, P);
                double gb[C] = {0};
                loss = 0;
                for (size_t i = 0; i < n; i++) {
                        float *p = P + i * C;
                        loss -= sw[i] * log(fmax(p[y[i]], 1e-30));
                        for (int k = 0; k < C; k++) {
                                p[k] = (float)(sw[i] * (p[k] - (k == y[i])));
                                gb[k] += p[k];
                        }
                }
                /* G [C][D] = P^T Xs */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, D, (int)n, 1.0f, P, C, Xs,
                            D, 0.0f, G, D);
                double reg = 0;
                for (int k = 0; k < C * D; k++) {
                        reg += (double)Ws[k] * Ws[k];
                        G[k] += (float)(l2 * Ws[k]);
                }
                loss += 0.5 * l2 * reg;
                double c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
                double step = lr * (t > epochs / 2 ? 0.3 : 1.0);
                for (int k = 0; k < C * (D + 1); k++) {
                        double g = k < C * D ? G[k] : gb[k - C * D];
                        m1[k] = (float)(b1 * m1[k] + (1 - b1) * g);
                        m2[k] = (float)(b2 * m2[k] + (1 - b2) * g * g);
                        double upd = step * (m1[k] / c1) / (sqrt(m2[k] / c2) + eps);
                        if (k < C * D)
                                Ws[k] -= (float)upd;
                        else
                                bs[k - C * D] -= (float)upd;
                }
        }
        /* fold the standardisation back: W x + b on raw x */
        for (int k = 0; k < C; k++) {
                double bk = bs[k];
                for (int j = 0; j < D; j++) {
                        W[k * D + j] = (float)(Ws[k * D + j] / sd[j]);
                        bk -= Ws[k * D + j] * mu[j] / sd[j];
                }
                b[k] = (float)bk;
        }
out:
        if (Ws != Wt)
                free(Ws);
        free(mu), free(sd), free(Xs), free(P), free(G), free(sw), free(m1), free(m2);
        return loss;
}

static int eval_rows(const float *X, const int8_t *y, size_t n, int D, const float *W,
                     const float *b, ss_eval_t *ev)
{
        float *P = malloc((n ? n : 1) * C * sizeof(float));
        if (!P)
                return -1;
        ss_minilm_head_apply(X, n, D, W, b, P);
        ss_eval_init(ev);
        for (size_t i = 0; i < n; i++)
                ss_eval_add(ev, y[i], ss_probs_argmax(P + i * C));
        ss_eval_finish(ev);
        free(P);
        return 0;
}

/* ---- the container ---- */

static ss_err_t copy_encoder(const ss_mfile_t *enc, ss_mfile_t *out, char *errstr,
                             size_t errstr_size)
{
        for (size_t i = 0; i < ss_mfile_nsections(enc); i++) {
                const char *nm = ss_mfile_section_name(enc, i);
                ss_mf_type_t t =
                    (!strcmp(nm, "config") || !strcmp(nm, "vocab")) ? SS_MF_STR : SS_MF_F32;
                uint64_t cnt;
                const void *d = ss_mfile_get(enc, nm, t, 0, &cnt, errstr, errstr_size);
                if (!d)
                        return SS_ERR_FORMAT;
                ss_err_t err = ss_mfile_add(out, nm, t, d, cnt, errstr, errstr_size);
                if (err != SS_OK)
                        return err;
        }
        return SS_OK;
}

ss_err_t ss_minilm_train(const ss_minilm_train_config_t *tc, const ss_dataset_t *train,
                         ss_mfile_t *mf, cJSON *hyper, ss_minilm_train_result_t *res, char *errstr,
                         size_t errstr_size)
{
        memset(res, 0, sizeof(*res));
        ss_mfile_t *enc = ss_mfile_read(tc->encoder_path, errstr, errstr_size);
        if (!enc)
                return SS_ERR_IO;
        if (strcmp(ss_mfile_kind(enc), SS_MINILM_ENCODER_KIND)) {
                ss_err_t e = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                        "%s: kind \"%s\", want \"%s\" (sentistream convert "
                                        "minilm SRC %s)",
                                        tc->encoder_path, ss_mfile_kind(enc),
                                        SS_MINILM_ENCODER_KIND, tc->encoder_path);
                ss_mfile_destroy(enc);
                return e;
        }
        ss_minilm_t *e = ss_minilm_new(enc, tc->max_tokens, errstr, errstr_size);
        if (!e) {
                ss_mfile_destroy(enc);
                return SS_ERR_FORMAT;
        }
        if (tc->n_pool > 0 &&
            ss_minilm_set_pool_layers(e, tc->pool_layers, tc->n_pool, errstr, errstr_size)) {
                ss_minilm_destroy(e);
                ss_mfile_destroy(enc);
                return SS_ERR_CONFIG;
        }
        int D = ss_minilm_embed_dim(e);
        float *X = NULL, *Xf = NULL, *Xt = NULL, *W = NULL;
        ss_input_stats_t *st = NULL;
        int8_t *yf = NULL, *yt = NULL;
        ss_err_t err = ss_minilm_embed_dataset(e, ss_mfile_payload_sha256(enc), train,
                                               tc->cache_dir, &X, &st, errstr, errstr_size);
        if (err != SS_OK)
                goto done;
        size_t n = train->n, nf = 0, nt = 0;
        Xf = malloc(n * (size_t)D * sizeof(float));
        Xt = malloc(n * (size_t)D * sizeof(float));
        yf = malloc(n);
        yt = malloc(n);
        W = malloc((size_t)C * D * sizeof(float));
        if (!Xf || !Xt || !yf || !yt || !W) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
                goto done;
        }
        for (size_t i = 0; i < n; i++) {
                int t = ss_dataset_is_tune(train->ids[i], strlen(train->ids[i]), tc->tune_share,
                                           tc->seed);
                memcpy((t ? Xt + nt * D : Xf + nf * D), X + i * D, (size_t)D * sizeof(float));
                if (t)
                        yt[nt++] = train->labels[i];
                else
                        yf[nf++] = train->labels[i];
        }
        if (nf == 0 || nt == 0) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                 "minilm: tune split of %zu rows leaves %zu to fit, %zu to tune", n,
                                 nf, nt);
                goto done;
        }
        float b[C];
        double best = -1;
        cJSON *grid = cJSON_CreateArray();
        for (int g = 0; g < tc->n_l2; g++) {
                double t0 = ss_time_mono();
                double loss = ss_minilm_head_fit(Xf, yf, nf, D, tc->l2_grid[g], tc->epochs, W, b);
                ss_eval_t ev;
                if (isnan(loss) || eval_rows(Xt, yt, nt, D, W, b, &ev)) {
                        cJSON_Delete(grid);
                        err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                         "minilm: out of memory fitting the head");
                        goto done;
                }
                ss_info("minilm", "l2 %g: loss %.4f, tune AvgRec %.4f F1-PN %.4f acc %.4f (%.1fs)",
                        tc->l2_grid[g], loss, ev.avgrec, ev.f1_pn, ev.accuracy,
                        ss_time_mono() - t0);
                ss_trainlog_metric("head_loss", loss, g);
                ss_trainlog_metric("tune_avgrec", ev.avgrec, g);
                cJSON *pt = cJSON_CreateObject();
                cJSON_AddNumberToObject(pt, "l2", tc->l2_grid[g]);
                cJSON_AddNumberToObject(pt, "tune_avgrec", ev.avgrec);
                cJSON_AddItemToArray(grid, pt);
                if (ev.avgrec > best) {
                        best = ev.avgrec;
                        res->l2 = tc->l2_grid[g];
                        res->tune = ev;
                }
        }
        if (tc->tune_probs_out) {
                if (isnan(ss_minilm_head_fit(Xf, yf, nf, D, res->l2, tc->epochs, W, b))) {
                        cJSON_Delete(grid);
                        err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                         "minilm: out of memory fitting the head");
                        goto done;
                }
                ss_minilm_head_apply(Xt, nt, D, W, b, tc->tune_probs_out);
        }
        if (isnan(ss_minilm_head_fit(X, train->labels, n, D, res->l2, tc->epochs, W, b)) ||
            eval_rows(X, train->labels, n, D, W, b, &res->train)) {
                cJSON_Delete(grid);
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                 "minilm: out of memory fitting the head");
                goto done;
        }

        cJSON_AddStringToObject(hyper, "encoder", "all-MiniLM-L6-v2");
        cJSON_AddStringToObject(hyper, "encoder_sha256", ss_mfile_payload_sha256(enc));
        cJSON_AddStringToObject(hyper, "features",
                                "mean-pooled hidden states (pool_layers), each L2-normalised");
        cJSON_AddNumberToObject(hyper, "max_seq_len", ss_minilm_config(e)->max_seq_len);
        cJSON *pl = cJSON_AddArrayToObject(hyper, "pool_layers");
        for (int k = 0; k < (tc->n_pool > 0 ? tc->n_pool : 1); k++)
                cJSON_AddItemToArray(pl, cJSON_CreateNumber(tc->n_pool > 0
                                                                ? tc->pool_layers[k]
                                                                : ss_minilm_config(e)->n_layers));
        cJSON_AddStringToObject(hyper, "head", "softmax regression");
        cJSON_AddStringToObject(hyper, "class_weight", "balanced");
        cJSON_AddStringToObject(hyper, "optimizer", "full-batch Adam, standardised features");
        cJSON_AddNumberToObject(hyper, "l2", res->l2);
        cJSON_AddNumberToObject(hyper, "epochs", tc->epochs);
        cJSON_AddItemToObject(hyper, "search", grid);
        cJSON_AddNumberToObject(hyper, "train_avgrec", res->train.avgrec);
        cJSON_AddStringToObject(hyper, "quantize", tc->int8 ? "int8" : "none");

        char *hc = cJSON_PrintUnformatted(hyper);
        if (!hc) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm: out of memory");
                goto done;
        }
        if ((err = copy_encoder(enc, mf, errstr, errstr_size)) != SS_OK ||
            (err = ss_mfile_add(mf, "head.w", SS_MF_F32, W, (uint64_t)C * D, errstr,
                                errstr_size)) != SS_OK ||
            (err = ss_mfile_add(mf, "head.b", SS_MF_F32, b, C, errstr, errstr_size)) != SS_OK ||
            (err = ss_mfile_add(mf, "head.config", SS_MF_STR, hc, strlen(hc), errstr,
                                errstr_size)) != SS_OK) {
                free(hc);
                goto done;
        }
        free(hc);
done:
        free(X), free(Xf), free(Xt), free(yf), free(yt), free(W), free(st);
        ss_minilm_destroy(e);
        ss_mfile_destroy(enc);
        return err;
}
