/*
 * train: the training pipeline behind `sentistream train` (train.h).
 *
 *   1. load the files of data.train as one set and data.validation; refuse
 *      when the two share a tweet id (data.allow_overlap=true only warns);
 *      carve the tune split (data.tune.share of the training set, by a hash of
 *      the tweet id and model.seed). With data.holdout.share > 0 (the release
 *      configuration) there is no validation file: a held-out split of the
 *      training set by the same hash is both the validation set (metrics,
 *      reference distributions) and the tune split (early stopping), and the
 *      model is trained on the rest;
 *   2. the kind's trainer (the registry, model_impl.h) picks its
 *      hyper-parameters on the tune split, then trains and fills the model
 *      container;
 *   3. the file is written, loaded back through the model interface, scored on
 *      the validation file, and the card (metrics, reference distributions,
 *      hyper-parameters, data hashes, git commit) is written next to it.
 */
#include "train.h"

#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib.h"
#include "cardfill.h"
#include "model_impl.h"
#include "ss_util.h"

int ss_train_parse_grid(const char *s, double *grid, int max)
{
        int n = 0;
        const char *p = s;
        while (*p) {
                char *end;
                errno = 0;
                double v = strtod(p, &end);
                if (end == p || errno || !(v > 0) || n == max)
                        return -1;
                grid[n++] = v;
                while (*end == ' ')
                        end++;
                if (*end == ',')
                        end++;
                else if (*end)
                        return -1;
                while (*end == ' ')
                        end++;
                p = end;
        }
        return n;
}

/* A relative data path that is not found from here is looked up beside the config dir. */
void ss_train_resolve_path(const char *path, const char *config_dir, char *out, size_t size)
{
        struct stat st;
        snprintf(out, size, "%s", path);
        if (path[0] == '/' || stat(path, &st) == 0 || !config_dir)
                return;
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s", config_dir);
        char cand[2100];
        snprintf(cand, sizeof(cand), "%.1023s/%.1023s", dirname(dir), path);
        if (stat(cand, &st) == 0)
                snprintf(out, size, "%s", cand);
}

/* The data of one run. Every set in owned[] is destroyed at the end. */
typedef struct train_data {
        ss_dataset_t *files[SS_CARD_MAX_FILES]; /* data.train, one set per file */
        int nfiles;
        ss_dataset_t *all;   /* their union (files[0] itself when there is one) */
        ss_dataset_t *train; /* what the final model is fitted on */
        ss_dataset_t *fit, *tune;
        ss_dataset_t *val;
        ss_dataset_t *owned[SS_CARD_MAX_FILES + 6];
        int nowned;
} train_data_t;

static ss_dataset_t *train_data_own(train_data_t *d, ss_dataset_t *ds)
{
        assert(d->nowned < (int)(sizeof(d->owned) / sizeof(d->owned[0])));
        d->owned[d->nowned++] = ds;
        return ds;
}

static void train_data_free(train_data_t *d)
{
        for (int i = 0; i < d->nowned; i++)
                ss_dataset_destroy(d->owned[i]);
}

/* The union of several data sets, described as "a,b" with the sha256 of their sha256sum-style
 * listing ("<sha256>  <path>\n" per file). */
static ss_dataset_t *train_data_union(ss_dataset_t *const *files, int n, char *err, size_t size)
{
        ss_dataset_t *u = ss_dataset_new();
        char *listing = malloc((size_t)n * 1100);
        if (!u || !listing)
                goto nomem;
        listing[0] = '\0';
        size_t len = 0;
        for (int f = 0; f < n; f++) {
                for (size_t i = 0; i < files[f]->n; i++)
                        if (ss_dataset_add(u, files[f]->ids[i], files[f]->texts[i],
                                           files[f]->lens[i], files[f]->labels[i],
                                           files[f]->lines[i]))
                                goto nomem;
                size_t pl = strlen(u->path);
                snprintf(u->path + pl, sizeof(u->path) - pl, "%s%s", f ? "," : "", files[f]->path);
                len += (size_t)sprintf(listing + len, "%s  %.1000s\n", files[f]->sha256,
                                       files[f]->path);
        }
        ss_sha256_hex(listing, len, u->sha256);
        free(listing);
        return u;
nomem:
        free(listing);
        ss_dataset_destroy(u);
        ss_err_set(err, size, SS_ERR_NOMEM, "out of memory joining the training files");
        return NULL;
}

/* Loads the comma-separated files of data.train and their union. Returns 0, or prints
 * the error and returns the exit status. */
static int train_data_load_train(const ss_config_t *cfg, const char *config_dir, train_data_t *d)
{
        char err[1024], list[4096], path[2100];
        snprintf(list, sizeof(list), "%s", ss_config_get_str(cfg, "data.train"));
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                tok += strspn(tok, " ");
                size_t n = strlen(tok);
                while (n && tok[n - 1] == ' ')
                        tok[--n] = '\0';
                if (!n)
                        continue;
                if (d->nfiles == SS_CARD_MAX_FILES) {
                        fprintf(stderr, "sentistream train: data.train: more than %d files\n",
                                SS_CARD_MAX_FILES);
                        return 2;
                }
                ss_train_resolve_path(tok, config_dir, path, sizeof(path));
                ss_dataset_t *ds = ss_dataset_load(path, err, sizeof(err));
                if (!ds) {
                        fprintf(stderr, "sentistream train: data.train: %s\n", err);
                        return 1;
                }
                d->files[d->nfiles++] = train_data_own(d, ds);
        }
        if (d->nfiles == 0) {
                fprintf(stderr, "sentistream train: data.train: no file named\n");
                return 2;
        }
        d->all = d->files[0];
        if (d->nfiles > 1 && !(d->all = train_data_own(
                                   d, train_data_union(d->files, d->nfiles, err, sizeof(err))))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        return 0;
}

static int ss_id_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Tweet ids of val also in train: the count, and the first one in example. -1: no memory. */
static long train_data_overlap(const ss_dataset_t *train, const ss_dataset_t *val,
                               const char **example)
{
        const char **ids = malloc(train->n * sizeof(*ids)); /* [train->n], sorted */
        if (!ids)
                return -1;
        memcpy(ids, train->ids, train->n * sizeof(*ids));
        qsort(ids, train->n, sizeof(*ids), ss_id_cmp);
        long n = 0;
        for (size_t i = 0; i < val->n; i++) {
                if (bsearch(&val->ids[i], ids, train->n, sizeof(*ids), ss_id_cmp)) {
                        if (!n)
                                *example = val->ids[i];
                        n++;
                }
        }
        free(ids);
        return n;
}

/* Validation from data.validation: loaded, and checked to share no tweet id with training. */
static int train_data_load_validation(const ss_config_t *cfg, const char *config_dir,
                                      train_data_t *d, ss_card_t *card)
{
        char err[1024], path[2100];
        ss_train_resolve_path(ss_config_get_str(cfg, "data.validation"), config_dir, path,
                              sizeof(path));
        if (!(d->val = train_data_own(d, ss_dataset_load(path, err, sizeof(err))))) {
                fprintf(stderr, "sentistream train: data.validation: %s\n", err);
                return 1;
        }
        const char *example = NULL;
        long n = train_data_overlap(d->all, d->val, &example);
        if (n < 0) {
                fprintf(stderr, "sentistream train: out of memory\n");
                return 1;
        }
        if (n == 0)
                return 0;
        int allow = ss_config_get_bool(cfg, "data.allow_overlap");
        fprintf(stderr,
                "sentistream train: %s: data.validation %s shares %ld tweet ids with data.train "
                "(e.g. %s): its figures and reference distributions would be measured on "
                "training data%s\n",
                allow ? "warning" : "refused", d->val->path, n, example,
                allow ? " (data.allow_overlap=true)"
                      : "; use separate files, data.holdout.share, or data.allow_overlap=true");
        if (!allow)
                return 2;
        card->validation_split = cJSON_CreateObject();
        cJSON_AddNumberToObject(card->validation_split, "overlap_with_training", (double)n);
        return 0;
}

/* Carves fit/tune (and, with data.holdout.share, the validation set) from the training set. */
static int train_data_split(const ss_config_t *cfg, const char *config_dir, train_data_t *d,
                            ss_card_t *card)
{
        char err[1024];
        uint64_t seed = (uint64_t)ss_config_get_int(cfg, "model.seed");
        double holdout = ss_config_get_double(cfg, "data.holdout.share");
        if (holdout > 0) {
                if (*ss_config_get_str(cfg, "data.validation")) {
                        fprintf(stderr,
                                "sentistream train: data.holdout.share=%g and "
                                "data.validation are exclusive: set data.validation=\"\" "
                                "to validate on the held-out split\n",
                                holdout);
                        return 2;
                }
                ss_dataset_t *rest = NULL, *held = NULL;
                if (ss_dataset_split(d->all, holdout, seed, &rest, &held, err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: %s\n", err);
                        return 1;
                }
                d->train = d->fit = train_data_own(d, rest);
                d->val = d->tune = train_data_own(d, held);
                snprintf(held->path, sizeof(held->path), "held-out split of %.480s", d->all->path);
                card->validation_split = cJSON_CreateObject();
                cJSON *vs = card->validation_split;
                cJSON_AddStringToObject(vs, "of", "training_data.files");
                cJSON_AddStringToObject(vs, "rule", "seeded hash of the tweet id < share");
                cJSON_AddNumberToObject(vs, "share", holdout);
                cJSON_AddNumberToObject(vs, "seed", (double)seed);
                cJSON_AddStringToObject(vs, "used_for",
                                        "validation metrics, reference distributions, tune split");
                return 0;
        }
        int rc = train_data_load_validation(cfg, config_dir, d, card);
        if (rc)
                return rc;
        d->train = d->all;
        if (ss_dataset_split(d->all, ss_config_get_double(cfg, "data.tune.share"), seed, &d->fit,
                             &d->tune, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        train_data_own(d, d->fit);
        train_data_own(d, d->tune);
        return 0;
}

/* The card's description of the data: the training set, each file, the validation set. */
static void train_data_describe(const train_data_t *d, ss_card_t *card)
{
        ss_cardfill_data(&card->training, d->all);
        card->training.n = (int64_t)d->train->n;
        for (int i = 0; i < d->nfiles; i++)
                ss_cardfill_data(&card->train_files[i], d->files[i]);
        card->n_train_files = d->nfiles;
        ss_cardfill_data(&card->validation, d->val);
}

/* The card's validation figures and reference distributions measured through m (the model
 * file at path, as the scorer loads it), its model fields, creation time, commit and data.
 * Returns -1 after printing the error under cmd's name. */
static int train_card_complete(ss_card_t *card, ss_model_t *m, const char *path,
                               const train_data_t *d, size_t batch, const char *config_dir,
                               const char *cmd)
{
        char err[1024], repo[1024];
        if (ss_cardfill_evaluate(m, d->val, batch, &card->validation_eval, &card->ref, "validation",
                                 err, sizeof(err)) ||
            ss_cardfill_model(card, m, path, err, sizeof(err))) {
                fprintf(stderr, "sentistream %s: %s\n", cmd, err);
                return -1;
        }
        card->created_at_ms = ss_time_now_ms();
        snprintf(repo, sizeof(repo), "%s", config_dir ? config_dir : ".");
        ss_card_git_commit(dirname(repo), card->git_commit, sizeof(card->git_commit));
        train_data_describe(d, card);
        return 0;
}

/*
 * Fits the temperature on the raw probs[n][C] (changed in place: at the end they are
 * calibrated), then the top-label map on the tempered ones (calib.h); fills the card's
 * calibration and sec[2 C], the map's section (a, b per class, as stored: the map applied
 * to probs is the float one the model file holds).
 */
static void train_calib_fit(float *probs, const int8_t *labels, size_t n, ss_card_t *card,
                            float *sec)
{
        double t = ss_calib_fit(probs, labels, n);
        card->has_calibration = 1;
        card->temperature = t;
        card->calib_n = (int64_t)n;
        card->calib_ece_before = ss_calib_ece(probs, labels, n, SS_CALIB_ECE_BINS);
        ss_calib_apply(probs, n, t);
        card->calib_ece_temperature = ss_calib_ece(probs, labels, n, SS_CALIB_ECE_BINS);
        ss_calib_top_t top;
        ss_calib_top_fit(&top, probs, labels, n);
        for (int k = 0; k < SS_NUM_CLASSES; k++) {
                sec[2 * k] = (float)top.a[k];
                sec[2 * k + 1] = (float)top.b[k];
                card->top_a[k] = top.a[k] = sec[2 * k];
                card->top_b[k] = top.b[k] = sec[2 * k + 1];
        }
        card->has_toplabel = 1;
        card->top_rule = top.rule;
        ss_calib_top_apply(&top, probs, n);
        card->calib_ece_after = ss_calib_ece(probs, labels, n, SS_CALIB_ECE_BINS);
}

/* Adds the calibration's sections to mf: the temperature, the map and its rule. */
static int train_calib_add(ss_mfile_t *mf, float temperature, const float *sec, uint32_t rule,
                           char *err, size_t err_size)
{
        return ss_mfile_add(mf, SS_MODEL_TEMPERATURE_SECTION, SS_MF_F32, &temperature, 1, err,
                            err_size) ||
               ss_mfile_add(mf, SS_MODEL_TOPLABEL_SECTION, SS_MF_F32, sec, 2 * SS_NUM_CLASSES, err,
                            err_size) ||
               ss_mfile_add(mf, SS_MODEL_TOPLABEL_RULE_SECTION, SS_MF_U32, &rule, 1, err, err_size);
}

/*
 * Temperature scaling and the top-label map on the tune split (train_calib_fit): on the
 * probabilities the trainer left in job->tune_probs (its tune-time model), else on the tune
 * split scored by the model just written. Adds the sections and writes the model again (its
 * version is derived anew from the payload); *m is the reloaded model. Returns 0, or prints
 * the error and returns 1.
 */
static int train_calibrate(const ss_train_job_t *job, int have_probs, ss_mfile_t *mf,
                           const char *model_path, size_t batch, ss_model_t **m, ss_card_t *card)
{
        char err[1024];
        const ss_dataset_t *tune = job->tune;
        if (tune->n == 0) {
                printf("calibrate  no tune split: temperature 1\n");
                return 0;
        }
        float *probs = job->tune_probs;
        if (!have_probs && ss_model_score_raw(*m, tune->texts, tune->lens, tune->n, batch, probs,
                                              err, sizeof(err))) {
                fprintf(stderr, "sentistream train: scoring the tune split: %s\n", err);
                return 1;
        }
        float sec[2 * SS_NUM_CLASSES];
        train_calib_fit(probs, tune->labels, tune->n, card, sec);
        printf("calibrate  temperature %.4f + top-label map on the tune split (%zu, %s): ECE "
               "%.4f -> %.4f -> %.4f\n",
               card->temperature, tune->n, have_probs ? "tune-time model" : "final model",
               card->calib_ece_before, card->calib_ece_temperature, card->calib_ece_after);
        float tf = (float)card->temperature;
        ss_model_destroy(*m);
        *m = NULL;
        ss_mfile_version_reset(mf);
        if (train_calib_add(mf, tf, sec, (uint32_t)card->top_rule, err, sizeof(err)) ||
            ss_mfile_write(mf, model_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s: %s\n", model_path, err);
                return 1;
        }
        if (!(*m = ss_model_load(model_path, err, sizeof(err)))) {
                fprintf(stderr, "sentistream train: written model does not load: %s\n", err);
                return 1;
        }
        return 0;
}

int ss_train_run(const ss_config_t *cfg, const char *config_dir)
{
        return ss_train_run_hook(cfg, config_dir, NULL, NULL);
}

int ss_train_run_hook(const ss_config_t *cfg, const char *config_dir, ss_train_done_fn done,
                      void *opaque)
{
        char err[1024], model_path[1024], card_path[1100];
        const char *kind = ss_config_get_str(cfg, "model.kind");
        const ss_model_entry_t *entry = ss_model_entry_find(kind);
        if (!entry) {
                fprintf(stderr, "sentistream train: model.kind=%s: no trainer for this kind\n",
                        kind);
                return 2;
        }
        const char *out = ss_config_get_str(cfg, "model.out");
        if (*out)
                snprintf(model_path, sizeof(model_path), "%s", out);
        else
                snprintf(model_path, sizeof(model_path), "models-out/%s.ssm", kind);
        ss_card_path(model_path, card_path, sizeof(card_path));
        double t_start = ss_time_mono();
        int rc = 1;
        train_data_t d = {0};
        ss_mfile_t *mf = NULL;
        ss_model_t *m = NULL;
        float *tune_probs = NULL; /* [tune n][C] */
        int tune_probs_set = 0;
        ss_card_t card;
        ss_card_init(&card);
        card.hyperparameters = cJSON_CreateObject();
        card.lineage = cJSON_CreateObject();
        int drc = train_data_load_train(cfg, config_dir, &d);
        if (!drc)
                drc = train_data_split(cfg, config_dir, &d, &card);
        if (drc) {
                rc = drc;
                goto out;
        }
        uint64_t seed = (uint64_t)ss_config_get_int(cfg, "model.seed");
        double share = ss_config_get_double(cfg, "data.tune.share");
        double holdout = ss_config_get_double(cfg, "data.holdout.share");
        printf("data       train %s: %zu tweets (fit %zu, tune %zu); validation %s: %zu\n",
               d.all->path, d.train->n, d.fit->n, d.tune->n, d.val->path, d.val->n);
        fflush(stdout);
        tune_probs = malloc((d.tune->n ? d.tune->n : 1) * SS_NUM_CLASSES * sizeof(float));
        if (!tune_probs) {
                fprintf(stderr, "sentistream train: out of memory\n");
                goto out;
        }
        ss_train_job_t job = {cfg,         d.train,    d.fit,
                              d.tune,      seed,       (int)ss_config_get_int(cfg, "train.threads"),
                              config_dir,  tune_probs, &tune_probs_set,
                              card.lineage};
        mf = ss_mfile_new(kind, ss_config_get_str(cfg, "model.name"), NULL);
        if (!mf) {
                fprintf(stderr, "sentistream train: out of memory\n");
                goto out;
        }
        int trc = entry->train(&job, mf, card.hyperparameters, &card.tune, &card.has_tune);
        if (trc) {
                rc = trc;
                goto out;
        }
        cJSON_AddNumberToObject(card.hyperparameters, "seed", (double)seed);
        if (holdout > 0)
                cJSON_AddNumberToObject(card.hyperparameters, "holdout_share", holdout);
        else
                cJSON_AddNumberToObject(card.hyperparameters, "tune_share", share);
        char *hjson = cJSON_PrintUnformatted(card.hyperparameters);
        ss_err_t e = hjson ? ss_mfile_add(mf, "hyperparameters", SS_MF_STR, hjson, strlen(hjson),
                                          err, sizeof(err))
                           : SS_ERR_NOMEM;
        free(hjson);
        if (e || ss_file_mkdir_parent(model_path) ||
            ss_mfile_write(mf, model_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s: %s\n", model_path,
                        e ? err : (errno ? strerror(errno) : err));
                goto out;
        }
        double train_s = ss_time_mono() - t_start;
        /* load it back exactly as the scorer will, and evaluate on the validation file */
        if (!(m = ss_model_load(model_path, err, sizeof(err)))) {
                fprintf(stderr, "sentistream train: written model does not load: %s\n", err);
                goto out;
        }
        size_t batch = (size_t)ss_config_get_int(cfg, "train.batch.size");
        if (train_calibrate(&job, tune_probs_set, mf, model_path, batch, &m, &card))
                goto out;
        if (train_card_complete(&card, m, model_path, &d, batch, config_dir, "train"))
                goto out;
        if (ss_card_write(&card, card_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        const ss_eval_t *v = &card.validation_eval;
        printf("model      %s (%s, version %s)\n", model_path, ss_model_name(m),
               ss_model_version(m));
        printf("card       %s\n", card_path);
        printf("validation n=%lld  AvgRec %.4f  F1-PN %.4f  accuracy %.4f  macro-F1 %.4f\n",
               (long long)v->n, v->avgrec, v->f1_pn, v->accuracy, v->macro_f1);
        printf("time       training %.1f s (tuning included), total %.1f s\n", train_s,
               ss_time_mono() - t_start);
        rc = 0;
out:
        if (done && done(rc == 0, &card, model_path, card_path, opaque) && rc == 0)
                rc = 1;
        free(tune_probs);
        ss_model_destroy(m);
        ss_mfile_destroy(mf);
        train_data_free(&d);
        ss_card_clear(&card);
        return rc;
}

/* ---- calibrating an existing model file ---- */

/* The model file's hyperparameters section as JSON (NULL when absent or unparsable). */
static cJSON *calib_hyper(const ss_mfile_t *mf)
{
        char ignored[256];
        uint64_t n = 0;
        const char *s =
            ss_mfile_get(mf, "hyperparameters", SS_MF_STR, 0, &n, ignored, sizeof(ignored));
        return s ? cJSON_ParseWithLength(s, (size_t)n) : NULL;
}

/* The split the model was trained with must be the configured one: same seed, same share. */
static int calib_check_split(const ss_config_t *cfg, const cJSON *hyper, const char *in)
{
        static const char *const keys[][2] = {{"seed", "model.seed"},
                                              {"tune_share", "data.tune.share"},
                                              {"holdout_share", "data.holdout.share"}};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(hyper, keys[i][0]);
                if (!cJSON_IsNumber(v))
                        continue;
                double want = v->valuedouble;
                double have = i == 0 ? (double)ss_config_get_int(cfg, keys[i][1])
                                     : ss_config_get_double(cfg, keys[i][1]);
                if (fabs(want - have) > 1e-12 * (1 + fabs(want))) {
                        fprintf(stderr,
                                "sentistream calibrate: %s was trained with %s %g, the "
                                "configuration says %s=%g: pass %s=%g (and the training's "
                                "data.train) to find its tune split\n",
                                in, keys[i][0], want, keys[i][1], have, keys[i][1], want);
                        return 2;
                }
        }
        return 0;
}

/* Writes the card JSON of c to path, keeping the old card's tune metrics (the model
 * selection, which calibration does not change). */
static int calib_write_card(const ss_card_t *c, const char *old_path, const char *path)
{
        char err[1024];
        cJSON *root = ss_card_to_json(c);
        char *old = NULL;
        size_t len = 0;
        if (root && !ss_file_read_all(old_path, &old, &len, err, sizeof(err))) {
                cJSON *o = cJSON_ParseWithLength(old, len);
                cJSON *tune = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(o, "metrics"), "tune");
                cJSON *met = cJSON_GetObjectItemCaseSensitive(root, "metrics");
                if (cJSON_IsObject(tune) && met)
                        cJSON_ReplaceItemInObjectCaseSensitive(met, "tune",
                                                               cJSON_Duplicate(tune, 1));
                cJSON_Delete(o);
        }
        free(old);
        char *text = root ? cJSON_Print(root) : NULL;
        cJSON_Delete(root);
        char tmp[1200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = text ? fopen(tmp, "w") : NULL;
        int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        ok = f && fclose(f) == 0 && ok && rename(tmp, path) == 0;
        if (!ok) {
                fprintf(stderr, "sentistream calibrate: %s: %s\n", path,
                        text ? strerror(errno) : "out of memory");
                remove(tmp);
        }
        free(text);
        return ok ? 0 : 1;
}

int ss_train_calibrate(const ss_config_t *cfg, const char *config_dir, const char *in,
                       const char *out, int in_sample)
{
        char err[1024], card_in[1100], card_out[1100];
        int rc = 1;
        train_data_t d = {0};
        ss_card_t card;
        ss_card_init(&card);
        ss_model_t *m = NULL;
        float *probs = NULL; /* [tune n][C] */
        ss_mfile_t *mf = ss_mfile_read(in, err, sizeof(err));
        if (!mf || !(m = ss_model_load(in, err, sizeof(err)))) {
                fprintf(stderr, "sentistream calibrate: %s\n", err);
                goto out;
        }
        const ss_model_entry_t *entry = ss_model_entry_find(ss_model_kind(m));
        if (entry && entry->refits_on_tune && !in_sample) {
                fprintf(stderr,
                        "sentistream calibrate: %s: a %s model's final fit saw its tune rows, so "
                        "a fit on them is in-sample (train fits it on the tune-time model); "
                        "--in-sample fits it anyway\n",
                        in, ss_model_kind(m));
                rc = 2;
                goto out;
        }
        card.hyperparameters = calib_hyper(mf);
        if (!card.hyperparameters)
                card.hyperparameters = cJSON_CreateObject();
        if ((rc = calib_check_split(cfg, card.hyperparameters, in)) ||
            (rc = train_data_load_train(cfg, config_dir, &d)) ||
            (rc = train_data_split(cfg, config_dir, &d, &card)))
                goto out;
        rc = 1;
        if (d.tune->n == 0) {
                fprintf(stderr, "sentistream calibrate: the tune split is empty\n");
                goto out;
        }
        size_t batch = (size_t)ss_config_get_int(cfg, "train.batch.size");
        probs = malloc(d.tune->n * SS_NUM_CLASSES * sizeof(*probs));
        if (!probs || ss_model_score_raw(m, d.tune->texts, d.tune->lens, d.tune->n, batch, probs,
                                         err, sizeof(err))) {
                fprintf(stderr, "sentistream calibrate: scoring the tune split: %s\n",
                        probs ? err : "out of memory");
                goto out;
        }
        float sec[2 * SS_NUM_CLASSES];
        train_calib_fit(probs, d.tune->labels, d.tune->n, &card, sec);
        printf("calibrate  %s: temperature %.4f + top-label map on the tune split of %s (%zu, "
               "scored by this model%s): ECE %.4f -> %.4f -> %.4f\n",
               in, card.temperature, d.all->path, d.tune->n, in_sample ? ", in-sample" : "",
               card.calib_ece_before, card.calib_ece_temperature, card.calib_ece_after);
        float tf = (float)card.temperature;
        ss_mfile_remove(mf, SS_MODEL_TEMPERATURE_SECTION);
        ss_mfile_remove(mf, SS_MODEL_TOPLABEL_SECTION);
        ss_mfile_remove(mf, SS_MODEL_TOPLABEL_RULE_SECTION);
        ss_mfile_version_reset(mf);
        ss_model_destroy(m);
        m = NULL;
        if (train_calib_add(mf, tf, sec, (uint32_t)card.top_rule, err, sizeof(err)) ||
            ss_file_mkdir_parent(out) || ss_mfile_write(mf, out, err, sizeof(err)) ||
            !(m = ss_model_load(out, err, sizeof(err)))) {
                fprintf(stderr, "sentistream calibrate: %s: %s\n", out, err);
                goto out;
        }
        /* the reference distributions of the probabilities follow the calibration */
        if (train_card_complete(&card, m, out, &d, batch, config_dir, "calibrate"))
                goto out;
        ss_card_path(in, card_in, sizeof(card_in));
        ss_card_path(out, card_out, sizeof(card_out));
        if (calib_write_card(&card, card_in, card_out))
                goto out;
        const ss_eval_t *v = &card.validation_eval;
        printf("model      %s (%s, version %s)\ncard       %s\n", out, ss_model_name(m),
               ss_model_version(m), card_out);
        printf("validation n=%lld  AvgRec %.4f  F1-PN %.4f  accuracy %.4f  macro-F1 %.4f\n",
               (long long)v->n, v->avgrec, v->f1_pn, v->accuracy, v->macro_f1);
        rc = 0;
out:
        free(probs);
        ss_model_destroy(m);
        ss_mfile_destroy(mf);
        train_data_free(&d);
        ss_card_clear(&card);
        return rc;
}
