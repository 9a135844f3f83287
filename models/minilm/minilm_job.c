/*
 * minilm_job: the `minilm` kind's trainer as the registry of model kinds calls it
 * (ss_model_train_fn, model_impl.h): reads model.minilm.* and the shared keys from
 * the configuration, converts the encoder first if it is missing, and
 * trains the softmax head over the frozen encoder (minilm_train.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minilm.h"
#include "minilm_train.h"
#include "model_impl.h"
#include "ss_util.h"
#include "train.h"

/* Frozen all-MiniLM-L6-v2 encoder + softmax-regression head (models/minilm/minilm_train.h). The
 * encoder file is converted from model.minilm.source first if it is missing. */
int ss_minilm_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                        int *has_tune)
{
        const ss_config_t *c = job->cfg;
        char err[1024];
        ss_minilm_train_config_t tc;
        ss_minilm_train_config_default(&tc);
        tc.encoder_path = ss_config_get_str(c, "model.minilm.encoder");
        tc.cache_dir = ss_config_get_str(c, "model.minilm.cache_dir");
        tc.epochs = (int)ss_config_get_int(c, "model.minilm.epochs");
        tc.max_tokens = (int)ss_config_get_int(c, "model.minilm.max_tokens");
        tc.int8 = !strcmp(ss_config_get_str(c, "model.minilm.quantize"), "int8");
        tc.tune_share = ss_config_get_double(c, "data.tune.share");
        tc.seed = job->seed;
        double grid[32];
        const char *gs = ss_config_get_str(c, "model.minilm.l2");
        int ng = ss_train_parse_grid(gs, grid, 32);
        if (ng <= 0) {
                fprintf(stderr,
                        "sentistream train: model.minilm.l2: \"%s\" is not a comma-separated "
                        "list of positive numbers\n",
                        gs);
                return 2;
        }
        tc.l2_grid = grid;
        tc.n_l2 = ng;
        const char *ps = ss_config_get_str(c, "model.minilm.pool_layers");
        tc.n_pool = ss_minilm_parse_layers(ps, tc.pool_layers, SS_MINILM_MAX_LAYERS + 1);
        if (tc.n_pool <= 0) {
                fprintf(stderr,
                        "sentistream train: model.minilm.pool_layers: \"%s\" is not a "
                        "comma-separated list of layer numbers\n",
                        ps);
                return 2;
        }
        struct stat st;
        if (stat(tc.encoder_path, &st) != 0) {
                const char *src = ss_config_get_str(c, "model.minilm.source");
                printf("convert    %s -> %s\n", src, tc.encoder_path);
                fflush(stdout);
                if (ss_file_mkdir_parent(tc.encoder_path) ||
                    ss_minilm_convert(src, tc.encoder_path, "all-MiniLM-L6-v2", err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: model.minilm.encoder: %s\n", err);
                        return 1;
                }
        }
        if (tc.cache_dir[0] && ss_file_mkdir_parent(tc.cache_dir) == 0)
                mkdir(tc.cache_dir, 0755);
        ss_minilm_train_result_t res;
        /* the tune split here is the job's (same share, seed and row order) */
        tc.tune_probs_out = job->tune_probs;
        double t0 = ss_time_mono();
        if (ss_minilm_train(&tc, job->train, mf, hyper, &res, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        printf("tune       l2=%-8g AvgRec %.4f  F1-PN %.4f  accuracy %.4f\n", res.l2,
               res.tune.avgrec, res.tune.f1_pn, res.tune.accuracy);
        printf("fit        head on %zu tweets: train AvgRec %.4f, %.1f s (embedding included)\n",
               job->train->n, res.train.avgrec, ss_time_mono() - t0);
        fflush(stdout);
        *tune = res.tune;
        *has_tune = 1;
        if (job->tune_probs_set)
                *job->tune_probs_set = job->tune_probs != NULL;
        return 0;
}
