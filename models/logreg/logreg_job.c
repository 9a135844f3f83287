/*
 * logreg_job: the `logreg` kind's trainer as the registry of model kinds calls it
 * (ss_model_train_fn, model_impl.h): reads model.logreg.* and the shared keys from
 * the configuration, tunes the L2 strength on the tune split
 * (warm-started), refits on every training row and fills the model container.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logreg.h"
#include "model_impl.h"
#include "ss_util.h"
#include "train.h"

static int logreg_job_run(const ss_train_job_t *job, ss_logreg_train_config_t *tcp, ss_mfile_t *mf,
                          cJSON *hyper, ss_eval_t *tune, int *has_tune)
{
        const ss_config_t *c = job->cfg;
        char err[1024];
        ss_logreg_train_config_t tc = *tcp;
        if (ss_feat_config_check(&tc.model.feat, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: model.logreg: %s\n", err);
                return 2;
        }
        double grid[32];
        const char *gs = ss_config_get_str(c, "model.logreg.l2");
        int ng = ss_train_parse_grid(gs, grid, 32);
        if (ng <= 0) {
                fprintf(stderr,
                        "sentistream train: model.logreg.l2: \"%s\" is not a comma-separated "
                        "list of 1..32 positive numbers\n",
                        gs);
                return 2;
        }
        int best = 0;
        ss_logreg_tune_result_t res[32];
        size_t nwarm = ss_logreg_rows(&tc.model) * SS_NUM_CLASSES + SS_NUM_CLASSES;
        float *warm = malloc(nwarm * sizeof(*warm)); /* [D][C] then [C]: the refit's start */
        if (!warm) {
                fprintf(stderr, "sentistream train: out of memory\n");
                return 1;
        }
        if (ng > 1 || job->tune->n > 0) {
                if (job->tune->n == 0 || job->fit->n == 0) {
                        fprintf(stderr,
                                "sentistream train: the tune split is empty (data.tune.share "
                                "%g of %zu rows): cannot choose among %d l2 values\n",
                                ss_config_get_double(c, "data.tune.share"), job->train->n, ng);
                        free(warm);
                        return 2;
                }
                tc.tune_probs_out = job->tune_probs;
                if (ss_logreg_tune(&tc, grid, ng, job->fit, job->tune, res, &best, warm, err,
                                   sizeof(err))) {
                        fprintf(stderr, "sentistream train: tuning: %s\n", err);
                        free(warm);
                        return 1;
                }
                tc.warm = warm;
                for (int g = 0; g < ng; g++)
                        printf("tune       l2=%-8g AvgRec %.4f  F1-PN %.4f  accuracy %.4f  (%d "
                               "iterations, %.1f s)%s\n",
                               res[g].l2, res[g].tune.avgrec, res[g].tune.f1_pn,
                               res[g].tune.accuracy, res[g].iters, res[g].seconds,
                               g == best ? "  <- chosen" : "");
                fflush(stdout);
                *tune = res[best].tune;
                *has_tune = 1;
                if (job->tune_probs_set)
                        *job->tune_probs_set = job->tune_probs != NULL;
                tc.tune_probs_out = NULL;
        }
        tc.l2 = grid[best];
        ss_logreg_t *lr = NULL;
        double loss = 0;
        int iters = 0;
        double t0 = ss_time_mono();
        ss_err_t terr = ss_logreg_train(&tc, job->train, &lr, &loss, &iters, err, sizeof(err));
        free(warm);
        if (terr) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        printf("fit        l2=%-8g on %zu tweets: loss %.5f, %d iterations, %.1f s\n", tc.l2,
               job->train->n, loss, iters, ss_time_mono() - t0);
        if (ss_logreg_save(&lr->cfg, &lr->w, mf, err, sizeof(err))) {
                ss_logreg_destroy(lr);
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        ss_logreg_destroy(lr);
        cJSON_AddNumberToObject(hyper, "l2", tc.l2);
        cJSON_AddNumberToObject(hyper, "dim_bits", tc.model.feat.dim_bits);
        cJSON_AddNumberToObject(hyper, "word_ngram_max", tc.model.feat.word_ngram_max);
        cJSON_AddNumberToObject(hyper, "char_ngram_min", tc.model.feat.char_ngram_min);
        cJSON_AddNumberToObject(hyper, "char_ngram_max", tc.model.feat.char_ngram_max);
        cJSON_AddBoolToObject(hyper, "sublinear_tf", tc.model.feat.sublinear_tf != 0);
        cJSON_AddNumberToObject(hyper, "feature_seed", tc.model.feat.seed);
        cJSON_AddNumberToObject(hyper, "vocab_bits", tc.model.vocab_bits);
        cJSON_AddStringToObject(hyper, "class_weight", tc.balanced ? "balanced" : "none");
        cJSON_AddStringToObject(hyper, "optimizer", "L-BFGS");
        cJSON_AddBoolToObject(hyper, "refit_warm_start", *has_tune);
        cJSON_AddNumberToObject(hyper, "max_iter", tc.max_iter);
        cJSON_AddNumberToObject(hyper, "tol", tc.tol);
        cJSON_AddNumberToObject(hyper, "history", tc.history);
        cJSON_AddNumberToObject(hyper, "iterations", iters);
        cJSON_AddNumberToObject(hyper, "final_loss", loss);
        cJSON *search = cJSON_AddArrayToObject(hyper, "search");
        for (int g = 0; *has_tune && g < ng; g++) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddNumberToObject(r, "l2", res[g].l2);
                cJSON_AddNumberToObject(r, "tune_avgrec", res[g].tune.avgrec);
                cJSON_AddNumberToObject(r, "tune_f1_pn", res[g].tune.f1_pn);
                cJSON_AddNumberToObject(r, "tune_accuracy", res[g].tune.accuracy);
                cJSON_AddNumberToObject(r, "iterations", res[g].iters);
                cJSON_AddItemToArray(search, r);
        }
        return 0;
}

int ss_logreg_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                        int *has_tune)
{
        const ss_config_t *c = job->cfg;
        char err[1024];
        ss_logreg_train_config_t tc;
        ss_logreg_train_config_default(&tc);
        tc.model.feat.dim_bits = (uint32_t)ss_config_get_int(c, "model.logreg.dim_bits");
        tc.model.feat.word_ngram_max =
            (uint32_t)ss_config_get_int(c, "model.logreg.word_ngram_max");
        tc.model.feat.char_ngram_min =
            (uint32_t)ss_config_get_int(c, "model.logreg.char_ngram_min");
        tc.model.feat.char_ngram_max =
            (uint32_t)ss_config_get_int(c, "model.logreg.char_ngram_max");
        tc.model.feat.sublinear_tf = ss_config_get_bool(c, "model.logreg.sublinear_tf");
        tc.model.vocab_bits = (uint32_t)ss_config_get_int(c, "model.logreg.vocab_bits");
        tc.max_iter = (int)ss_config_get_int(c, "model.logreg.max_iter");
        tc.tol = ss_config_get_double(c, "model.logreg.tol");
        tc.history = (int)ss_config_get_int(c, "model.logreg.history");
        tc.balanced = !strcmp(ss_config_get_str(c, "model.logreg.class_weight"), "balanced");
        tc.threads = job->threads;
        tc.progress_label = "L-BFGS";
        char lexpath[2100];
        ss_lexicon_t lex = {0};
        const char *lp = ss_config_get_str(c, "model.logreg.lexicon");
        char lexsha[65] = "";
        if (*lp) {
                ss_train_resolve_path(lp, job->config_dir, lexpath, sizeof(lexpath));
                if (ss_lexicon_load(lexpath, &lex, err, sizeof(err)) ||
                    ss_sha256_file_hex(lexpath, lexsha, err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: model.logreg.lexicon: %s\n", err);
                        free((void *)lex.keys);
                        free((void *)lex.vals);
                        return 1;
                }
                tc.model.lex_feats = SS_LOGREG_LEX_FEATS;
                tc.lex = &lex;
                tc.lex_scale = (float)ss_config_get_double(c, "model.logreg.lexicon_scale");
        }
        int rc = logreg_job_run(job, &tc, mf, hyper, tune, has_tune);
        if (*lp) {
                cJSON_AddStringToObject(hyper, "lexicon", lexpath);
                cJSON_AddStringToObject(hyper, "lexicon_sha256", lexsha);
                cJSON_AddNumberToObject(hyper, "lexicon_scale", tc.lex_scale);
        }
        free((void *)lex.keys);
        free((void *)lex.vals);
        return rc;
}
