/*
 * train: the training pipeline behind `sentistream train` (train.h).
 *
 *   1. load data.train and data.validation; carve the tune split
 *      (data.tune.share of data.train, by a hash of the tweet id and model.seed);
 *   2. the kind's trainer (the registry, model_impl.h) picks its
 *      hyper-parameters on the tune split, then trains and fills the model
 *      container;
 *   3. the file is written, loaded back through the model interface, scored on
 *      the validation file, and the card (metrics, reference distributions,
 *      hyper-parameters, data hashes, git commit) is written next to it.
 */
#include "train.h"

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
        if (!have_probs && ss_calib_score_raw(*m, tune->texts, tune->lens, tune->n, batch, probs,
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
        char err[1024], path[2100], vpath[2100], model_path[1024], card_path[1100];
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
        ss_train_resolve_path(ss_config_get_str(cfg, "data.train"), config_dir, path, sizeof(path));
        ss_train_resolve_path(ss_config_get_str(cfg, "data.validation"), config_dir, vpath,
                              sizeof(vpath));
        double t_start = ss_time_mono();
        int rc = 1;
        ss_dataset_t *train = NULL, *val = NULL, *fit = NULL, *tune = NULL;
        ss_mfile_t *mf = NULL;
        ss_model_t *m = NULL;
        float *tune_probs = NULL; /* [tune n][C] */
        int tune_probs_set = 0;
        ss_card_t card;
        ss_card_init(&card);
        card.hyperparameters = cJSON_CreateObject();
        if (!(train = ss_dataset_load(path, err, sizeof(err))) ||
            !(val = ss_dataset_load(vpath, err, sizeof(err)))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        uint64_t seed = (uint64_t)ss_config_get_int(cfg, "model.seed");
        double share = ss_config_get_double(cfg, "data.tune.share");
        if (ss_dataset_split(train, share, seed, &fit, &tune, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        printf("data       train %s: %zu tweets (fit %zu, tune %zu); validation %s: %zu\n", path,
               train->n, fit->n, tune->n, vpath, val->n);
        fflush(stdout);
        tune_probs = malloc((tune->n ? tune->n : 1) * SS_NUM_CLASSES * sizeof(float));
        if (!tune_probs) {
                fprintf(stderr, "sentistream train: out of memory\n");
                goto out;
        }
        ss_train_job_t job = {cfg,        train,      fit,
                              tune,       seed,       (int)ss_config_get_int(cfg, "train.threads"),
                              config_dir, tune_probs, &tune_probs_set};
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
        if (ss_cardfill_evaluate(m, val, batch, &card.validation_eval, &card.ref, "validation", err,
                                 sizeof(err)) ||
            ss_cardfill_model(&card, m, model_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        card.created_at_ms = ss_time_now_ms();
        char repo[1024];
        snprintf(repo, sizeof(repo), "%s", config_dir ? config_dir : ".");
        ss_card_git_commit(dirname(repo), card.git_commit, sizeof(card.git_commit));
        ss_cardfill_data(&card.training, train);
        ss_cardfill_data(&card.validation, val);
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
        free(tune_probs);
        ss_model_destroy(m);
        ss_mfile_destroy(mf);
        ss_dataset_destroy(train);
        ss_dataset_destroy(val);
        ss_dataset_destroy(fit);
        ss_dataset_destroy(tune);
        ss_card_clear(&card);
        return rc;
}
