/*
 * cnn_job: the `cnn` kind's trainer as the registry of model kinds calls it
 * (ss_model_train_fn, model_impl.h): reads model.cnn.* and the shared keys from
 * the configuration, converts the MiniLM embeddings first if they are
 * missing, and trains the CNN with early stopping on the tune split (cnn.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn.h"
#include "minilm.h"
#include "model_impl.h"
#include "ss_util.h"
#include "train.h"

/* Kim-2014 text CNN (models/cnn/cnn.h) on all-MiniLM-L6-v2 token embeddings, PCA-projected; the
 * encoder file is converted from model.minilm.source first if it is missing. */
int ss_cnn_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                     int *has_tune)
{
        const ss_config_t *c = job->cfg;
        char err[1024];
        ss_cnn_train_config_t tc;
        ss_cnn_train_config_default(&tc);
        const char *ws = ss_config_get_str(c, "model.cnn.widths");
        int nw = 0;
        for (const char *p = ws; *p;) {
                char *end;
                long k = strtol(p, &end, 10);
                if (end == p || k < 1 || k > 16 || nw == SS_CNN_MAX_WIDTHS) {
                        nw = -1;
                        break;
                }
                tc.net.widths[nw++] = (int32_t)k;
                p = end + strspn(end, " ");
                if (*p == ',')
                        p += 1 + strspn(p + 1, " ");
                else if (*p) {
                        nw = -1;
                        break;
                }
        }
        if (nw <= 0) {
                fprintf(stderr,
                        "sentistream train: model.cnn.widths: \"%s\" is not a comma-separated "
                        "list of 1..%d ascending widths in [1, 16]\n",
                        ws, SS_CNN_MAX_WIDTHS);
                return 2;
        }
        tc.net.n_widths = nw;
        tc.net.emb_dim = (int32_t)ss_config_get_int(c, "model.cnn.emb_dim");
        tc.net.max_len = (int32_t)ss_config_get_int(c, "model.cnn.max_len");
        tc.net.n_filters = (int32_t)ss_config_get_int(c, "model.cnn.filters");
        tc.net.dropout = (float)ss_config_get_double(c, "model.cnn.dropout");
        tc.net.max_batch = (int32_t)ss_config_get_int(c, "model.cnn.batch_size");
        tc.net.vocab_size = 1; /* checked here for the shape only; the embeddings set it */
        if (ss_cnn_config_check(&tc.net, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: model.cnn: %s\n", err);
                return 2;
        }
        tc.adam.lr = (float)ss_config_get_double(c, "model.cnn.lr");
        tc.adam.emb_lr = (float)ss_config_get_double(c, "model.cnn.emb_lr");
        tc.adam.weight_decay = (float)ss_config_get_double(c, "model.cnn.weight_decay");
        tc.adam.max_norm = (float)ss_config_get_double(c, "model.cnn.max_norm");
        tc.tok_mode = ss_cnn_tok_mode_parse(ss_config_get_str(c, "model.cnn.tokenizer"));
        tc.epochs = (int)ss_config_get_int(c, "model.cnn.epochs");
        tc.patience = (int)ss_config_get_int(c, "model.cnn.patience");
        tc.balanced = !strcmp(ss_config_get_str(c, "model.cnn.class_weight"), "balanced");
        tc.emb_std = (float)ss_config_get_double(c, "model.cnn.emb_std");
        tc.ema = (float)ss_config_get_double(c, "model.cnn.ema");
        tc.embeddings = ss_config_get_str(c, "model.cnn.embeddings");
        tc.seed = job->seed;
        tc.threads = job->threads;
        tc.progress_label = "cnn";
        struct stat st;
        if (stat(tc.embeddings, &st) != 0) {
                const char *src = ss_config_get_str(c, "model.minilm.source");
                printf("convert    %s -> %s\n", src, tc.embeddings);
                fflush(stdout);
                if (ss_file_mkdir_parent(tc.embeddings) ||
                    ss_minilm_convert(src, tc.embeddings, "all-MiniLM-L6-v2", err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: model.cnn.embeddings: %s\n", err);
                        return 1;
                }
        }
        ss_cnn_train_result_t res;
        if (ss_cnn_train(&tc, job->fit, job->tune, mf, hyper, &res, tune, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        for (int e = 0; e < res.epochs_run; e++)
                printf("epoch %-4d loss %.4f  tune AvgRec %.4f  accuracy %.4f  (%.1f s)%s\n", e + 1,
                       res.log[e].loss, res.log[e].tune_avgrec, res.log[e].tune_accuracy,
                       res.log[e].seconds, e == res.best_epoch ? "  <- kept" : "");
        printf("fit        cnn on %zu tweets (tune %zu): %d epochs, %.1f s; embeddings keep %.1f%% "
               "of the source variance\n",
               job->fit->n, job->tune->n, res.epochs_run, res.seconds, 100.0 * res.pca_variance);
        fflush(stdout);
        *has_tune = 1;
        return 0;
}
