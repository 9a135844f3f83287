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

/*
 * Temperature scaling on the tune split (calib.h): on the probabilities the trainer left in
 * job->tune_probs (its tune-time model), else on the tune split scored by the model just
 * written. Adds the section and writes the model again (its version is derived anew from
 * the payload); *m is the reloaded model. Returns 0, or prints the error and returns 1.
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
        double t = ss_calib_fit(probs, tune->labels, tune->n);
        card->has_calibration = 1;
        card->temperature = t;
        card->calib_n = (int64_t)tune->n;
        card->calib_ece_before = ss_calib_ece(probs, tune->labels, tune->n, SS_CALIB_ECE_BINS);
        ss_calib_apply(probs, tune->n, t);
        card->calib_ece_after = ss_calib_ece(probs, tune->labels, tune->n, SS_CALIB_ECE_BINS);
        printf("calibrate  temperature %.4f on the tune split (%zu, %s): ECE %.4f -> %.4f\n", t,
               tune->n, have_probs ? "tune-time model" : "final model", card->calib_ece_before,
               card->calib_ece_after);
        float tf = (float)t;
        ss_model_destroy(*m);
        *m = NULL;
        ss_mfile_version_reset(mf);
        if (ss_mfile_add(mf, SS_MODEL_TEMPERATURE_SECTION, SS_MF_F32, &tf, 1, err, sizeof(err)) ||
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
        if (ss_cardfill_evaluate(m, d.val, batch, &card.validation_eval, &card.ref, "validation",
                                 err, sizeof(err)) ||
            ss_cardfill_model(&card, m, model_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        card.created_at_ms = ss_time_now_ms();
        char repo[1024];
        snprintf(repo, sizeof(repo), "%s", config_dir ? config_dir : ".");
        ss_card_git_commit(dirname(repo), card.git_commit, sizeof(card.git_commit));
        train_data_describe(&d, &card);
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
