/*
 * cnn_distill: the teachers' soft labels and the distillation loss (cnn_distill.h).
 *
 * The teachers run through the model interface (model.h), so any model file the project
 * loads can teach: each scores the whole training set once at temperature 1 and its rows are
 * cached as a model-file container (kind "distill", sections "key" and "probs"; the file's
 * sha256 check catches a damaged cache), then the teachers' rows are averaged. The temperature is
 * applied afterwards (ss_distill_soften), so the cache serves every T and A. The loss and its
 * gradient are a pure function of the student's logits, tested against finite differences in
 * unit.cnn_distill; the CNN trainer (cnn_train.c) feeds the gradient into ss_cnn_backward_logits.
 */
#include "cnn_distill.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfile.h"
#include "model.h"
#include "ss_log.h"
#include "ss_types.h"
#include "ss_util.h"

#define SS_DISTILL_CHUNK 512 /* texts per scoring call (one progress step) */

void ss_distill_soft_clear(ss_distill_soft_t *soft)
{
        free(soft->probs);
        memset(soft, 0, sizeof(*soft));
}

/* Splits the comma-separated list into soft->teachers[].path. */
static ss_err_t ss_distill_parse_teachers(const char *list, ss_distill_soft_t *soft, char *errstr,
                                          size_t errstr_size)
{
        const char *p = list;
        soft->n_teachers = 0;
        while (*p) {
                p += strspn(p, " ,");
                size_t len = strcspn(p, ",");
                while (len && p[len - 1] == ' ')
                        len--;
                if (len) {
                        if (soft->n_teachers == SS_DISTILL_MAX_TEACHERS)
                                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                                  "distill: more than %d teachers in \"%s\"",
                                                  SS_DISTILL_MAX_TEACHERS, list);
                        if (len >= sizeof(soft->teachers[0].path))
                                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                                  "distill: teacher path of %zu bytes is too long",
                                                  len);
                        ss_distill_teacher_t *t = &soft->teachers[soft->n_teachers++];
                        memcpy(t->path, p, len);
                        t->path[len] = '\0';
                }
                p += strcspn(p, ",");
        }
        if (soft->n_teachers == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "distill: no teacher model file named");
        return SS_OK;
}

/* The cache key of one teacher's probabilities over a data set. */
static void ss_distill_key(const ss_distill_teacher_t *t, const ss_dataset_t *ds, char *key,
                           size_t size)
{
        snprintf(key, size, "distill soft labels v1\nteacher %s\ndata %s %zu\n", t->sha256,
                 ds->sha256, ds->n);
}

/* The cache file of a key in cache_dir; "" without a cache_dir. */
static void ss_distill_cache_file(const char *key, const char *cache_dir, char *out, size_t size)
{
        char hex[65];
        out[0] = '\0';
        if (!cache_dir || !*cache_dir)
                return;
        ss_sha256_hex(key, strlen(key), hex);
        snprintf(out, size, "%.900s/distill-%.16s.ssm", cache_dir, hex);
}

/* Reads a teacher's cache file into probs [n][C]; 0 when it holds this key's n rows. */
static int ss_distill_cache_read(const char *path, const char *key, size_t n, float *probs)
{
        char err[512];
        ss_mfile_t *mf = ss_mfile_read(path, err, sizeof(err));
        if (!mf)
                return -1;
        uint64_t klen = 0, cnt = 0;
        const char *k = ss_mfile_get(mf, "key", SS_MF_STR, 0, &klen, err, sizeof(err));
        const float *p = ss_mfile_get(mf, "probs", SS_MF_F32, (uint64_t)n * SS_NUM_CLASSES, &cnt,
                                      err, sizeof(err));
        int ok = !strcmp(ss_mfile_kind(mf), "distill") && k && klen == strlen(key) &&
                 !memcmp(k, key, klen) && p;
        if (ok)
                memcpy(probs, p, (size_t)n * SS_NUM_CLASSES * sizeof(float));
        else
                ss_warn("distill",
                        "%s: not a soft-label cache of this teacher and data; "
                        "scoring anew",
                        path);
        ss_mfile_destroy(mf);
        return ok ? 0 : -1;
}

/* Writes a cache file (a warning when it cannot be written: the run goes on). 0 if written. */
static int ss_distill_cache_write(const char *path, const char *key, size_t n, const float *probs)
{
        char err[512] = "out of memory";
        ss_mfile_t *mf = ss_mfile_new("distill", "soft-labels", NULL);
        int bad = !mf || ss_mfile_add(mf, "key", SS_MF_STR, key, strlen(key), err, sizeof(err)) ||
                  ss_mfile_add(mf, "probs", SS_MF_F32, probs, (uint64_t)n * SS_NUM_CLASSES, err,
                               sizeof(err)) ||
                  ss_file_mkdir_parent(path) || ss_mfile_write(mf, path, err, sizeof(err));
        if (bad)
                ss_warn("distill", "soft-label cache %s not written: %s", path, err);
        ss_mfile_destroy(mf);
        return bad ? -1 : 0;
}

/* Scores ds with one teacher into probs [n][C] (chunk [CHUNK][C] is scratch). */
static ss_err_t ss_distill_score_one(ss_model_t *m, const ss_dataset_t *ds, size_t batch,
                                     const char *label, float *probs, char *errstr,
                                     size_t errstr_size)
{
        ss_progress_t pr;
        uint64_t chunks = (ds->n + SS_DISTILL_CHUNK - 1) / SS_DISTILL_CHUNK;
        if (label)
                ss_progress_init(&pr, label, chunks);
        for (size_t i = 0, c = 0; i < ds->n; i += SS_DISTILL_CHUNK, c++) {
                size_t nb = ds->n - i < SS_DISTILL_CHUNK ? ds->n - i : SS_DISTILL_CHUNK;
                ss_err_t err =
                    ss_model_score_raw(m, (const char *const *)ds->texts + i, ds->lens + i, nb,
                                       batch, probs + i * SS_NUM_CLASSES, errstr, errstr_size);
                if (err)
                        return err;
                if (label)
                        ss_progress_update(&pr, c + 1, NULL);
        }
        if (label)
                ss_progress_done(&pr);
        return SS_OK;
}

/* One teacher's probabilities over ds into probs [n][C]: from its cache file, or scored (and
 * cached). Fills the teacher's identity. */
static ss_err_t ss_distill_teacher_probs(ss_distill_teacher_t *t, int i, int nt,
                                         const ss_dataset_t *ds, const char *cache_dir,
                                         size_t batch, int progress, float *probs, char *errstr,
                                         size_t errstr_size)
{
        char e2[1024], key[512], label[96];
        ss_err_t err = ss_sha256_file_hex(t->path, t->sha256, e2, sizeof(e2));
        if (err)
                return ss_err_set(errstr, errstr_size, err, "distill: teacher %s: %s", t->path, e2);
        ss_model_t *m = ss_model_load(t->path, e2, sizeof(e2));
        if (!m)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "distill: teacher %s", e2);
        snprintf(t->kind, sizeof(t->kind), "%s", ss_model_kind(m));
        snprintf(t->name, sizeof(t->name), "%s", ss_model_name(m));
        snprintf(t->version, sizeof(t->version), "%s", ss_model_version(m));
        ss_distill_key(t, ds, key, sizeof(key));
        ss_distill_cache_file(key, cache_dir, t->cache_path, sizeof(t->cache_path));
        t->from_cache =
            t->cache_path[0] && ss_distill_cache_read(t->cache_path, key, ds->n, probs) == 0;
        if (!t->from_cache) {
                snprintf(label, sizeof(label), "teacher %d/%d %.40s", i + 1, nt, t->kind);
                err = ss_distill_score_one(m, ds, batch, progress ? label : NULL, probs, e2,
                                           sizeof(e2));
                if (err)
                        ss_err_set(errstr, errstr_size, err, "distill: teacher %s scoring %s: %s",
                                   t->path, ds->path, e2);
                else if (t->cache_path[0])
                        ss_distill_cache_write(t->cache_path, key, ds->n, probs);
        }
        ss_model_destroy(m);
        return err;
}

ss_err_t ss_distill_soft_labels(const char *teachers, const ss_dataset_t *ds, const char *cache_dir,
                                size_t batch, int progress, ss_distill_soft_t *soft, char *errstr,
                                size_t errstr_size)
{
        double t0 = ss_time_mono();
        memset(soft, 0, sizeof(*soft));
        soft->tune_avgrec = -1.0;
        ss_err_t err = ss_distill_parse_teachers(teachers, soft, errstr, errstr_size);
        if (err)
                return err;
        size_t nc = (ds->n ? ds->n : 1) * SS_NUM_CLASSES;
        soft->n = ds->n;
        soft->probs = calloc(nc, sizeof(float));
        float *one = malloc(nc * sizeof(float)); /* [n][C] one teacher's probabilities */
        if (!soft->probs || !one) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                 "distill: out of memory for %zu soft labels", ds->n);
                goto out;
        }
        soft->from_cache = 1;
        for (int i = 0; i < soft->n_teachers; i++) {
                ss_distill_teacher_t *t = &soft->teachers[i];
                if ((err = ss_distill_teacher_probs(t, i, soft->n_teachers, ds, cache_dir, batch,
                                                    progress, one, errstr, errstr_size)))
                        goto out;
                soft->from_cache &= t->from_cache;
                for (size_t k = 0; k < ds->n * SS_NUM_CLASSES; k++)
                        soft->probs[k] += one[k] / (float)soft->n_teachers;
        }
        soft->seconds = ss_time_mono() - t0;
out:
        free(one);
        if (err)
                ss_distill_soft_clear(soft);
        return err;
}

ss_err_t ss_distill_cache_store(const char *teacher_path, const ss_dataset_t *ds,
                                const char *cache_dir, const float *probs, char *path_out,
                                size_t path_size, char *errstr, size_t errstr_size)
{
        ss_distill_teacher_t t;
        char e2[512], key[512];
        memset(&t, 0, sizeof(t));
        ss_err_t err = ss_sha256_file_hex(teacher_path, t.sha256, e2, sizeof(e2));
        if (err)
                return ss_err_set(errstr, errstr_size, err, "distill: teacher %s: %s", teacher_path,
                                  e2);
        ss_distill_key(&t, ds, key, sizeof(key));
        ss_distill_cache_file(key, cache_dir, path_out, path_size);
        if (!path_out[0])
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "distill: no cache folder named");
        if (ss_distill_cache_write(path_out, key, ds->n, probs))
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "distill: %s not written",
                                  path_out);
        return SS_OK;
}

ss_err_t ss_distill_rows(int32_t *rows, const ss_dataset_t *sub, const ss_dataset_t *ds,
                         char *errstr, size_t errstr_size)
{
        size_t i = 0;
        for (size_t j = 0; j < sub->n; j++) {
                while (i < ds->n &&
                       (ds->lines[i] != sub->lines[j] || ds->lens[i] != sub->lens[j] ||
                        strcmp(ds->ids[i], sub->ids[j]) || strcmp(ds->texts[i], sub->texts[j])))
                        i++;
                if (i == ds->n)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "distill: tweet %s (%s line %u) is not among the "
                                          "%zu tweets the teachers scored",
                                          sub->ids[j], sub->path, sub->lines[j], ds->n);
                rows[j] = (int32_t)i++;
        }
        return SS_OK;
}

void ss_distill_soften(float *q, const float *p, size_t n, int C, float T)
{
        for (size_t i = 0; i < n; i++) {
                const float *pi = p + i * (size_t)C;
                float *qi = q + i * (size_t)C;
                double l[64], mx = -INFINITY, s = 0.0;
                assert(C <= 64);
                for (int c = 0; c < C; c++) {
                        l[c] = log(pi[c] > 1e-30f ? (double)pi[c] : 1e-30) / T;
                        mx = l[c] > mx ? l[c] : mx;
                }
                for (int c = 0; c < C; c++)
                        s += (l[c] = exp(l[c] - mx));
                for (int c = 0; c < C; c++)
                        qi[c] = (float)(l[c] / s);
        }
}

/* out [C] = softmax(z / T) in double, and log of it in lout. */
static void ss_distill_log_softmax(double *out, double *lout, const float *z, int C, double T)
{
        double mx = -INFINITY, s = 0.0;
        for (int c = 0; c < C; c++)
                mx = z[c] / T > mx ? z[c] / T : mx;
        for (int c = 0; c < C; c++)
                s += exp(z[c] / T - mx);
        double ls = log(s);
        for (int c = 0; c < C; c++) {
                lout[c] = z[c] / T - mx - ls;
                out[c] = exp(lout[c]);
        }
}

double ss_distill_loss(float *dlogits, const float *logits, const float *soft,
                       const int32_t *labels, const float *cw, int n, int C, float T, float alpha)
{
        if (n <= 0)
                return 0.0;
        assert(C <= 64);
        double loss = 0.0, A = alpha, Td = T;
        for (int i = 0; i < n; i++) {
                const float *z = logits + (size_t)i * C, *q = soft + (size_t)i * C;
                double pT[64], lpT[64], p1[64], lp1[64];
                ss_distill_log_softmax(pT, lpT, z, C, Td);
                ss_distill_log_softmax(p1, lp1, z, C, 1.0);
                double w = cw ? cw[labels[i]] : 1.0, kl = 0.0;
                for (int c = 0; c < C; c++)
                        if (q[c] > 0.0f)
                                kl += q[c] * (log((double)q[c]) - lpT[c]);
                loss += A * Td * Td * kl - (1.0 - A) * w * lp1[labels[i]];
                if (!dlogits)
                        continue;
                /* d/dz of T^2 KL(q || softmax(z/T)) = T (softmax(z/T) - q) */
                for (int c = 0; c < C; c++)
                        dlogits[(size_t)i * C + c] =
                            (float)((A * Td * (pT[c] - q[c]) +
                                     (1.0 - A) * w * (p1[c] - (c == labels[i] ? 1.0 : 0.0))) /
                                    n);
        }
        return loss / n;
}
