/*
 * cnn_job: the `cnn` kind's trainer as the registry of model kinds calls it
 * (ss_model_train_fn, model_impl.h): reads model.cnn.* and the shared keys from
 * the configuration, converts the MiniLM embeddings first if they are
 * missing, and trains the CNN with early stopping on the tune split (cnn.h). With
 * model.cnn.distill.teacher set, the teachers score the training set first (cached) and the
 * CNN learns from their softened probabilities mixed with the true labels (cnn_distill.h);
 * the card's hyper-parameters and lineage name every teacher file with its sha256.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn.h"
#include "cnn_distill.h"
#include "minilm.h"
#include "model_impl.h"
#include "ss_util.h"
#include "train.h"

/* The teachers' soft labels of the fit split at the configured temperature: scored over the
 * whole training set (or read from the cache), then picked in the fit split's order. Also
 * prints the teachers' tune-split metrics when the tune rows were among those scored.
 * Returns 0, or prints the error and returns the exit status. */
static int ss_cnn_job_teach(const ss_train_job_t *job, const char *teachers,
                            ss_cnn_train_config_t *tc, ss_distill_soft_t *soft, float **q_out)
{
        const ss_config_t *c = job->cfg;
        char err[1024], dir[1100];
        ss_train_resolve_path(ss_config_get_str(c, "model.cnn.distill.cache_dir"), NULL, dir,
                              sizeof(dir));
        size_t batch = (size_t)ss_config_get_int(c, "train.batch.size");
        printf("distill    teachers %s on %s (%zu tweets)\n", teachers, job->train->path,
               job->train->n);
        fflush(stdout);
        ss_err_t e =
            ss_distill_soft_labels(teachers, job->train, dir, batch, 1, soft, err, sizeof(err));
        if (e) {
                fprintf(stderr, "sentistream train: model.cnn.distill.teacher: %s\n", err);
                return e == SS_ERR_CONFIG ? 2 : 1;
        }
        for (int i = 0; i < soft->n_teachers; i++) {
                const ss_distill_teacher_t *t = &soft->teachers[i];
                printf("teacher    %s (%s %s, sha256 %.12s...): soft labels %s %s\n", t->path,
                       t->kind, t->version, t->sha256,
                       t->from_cache      ? "read from"
                       : t->cache_path[0] ? "written to"
                                          : "scored,",
                       t->cache_path[0] ? t->cache_path : "no cache");
        }
        printf("distill    %d teacher(s), %.1f s; T %g, alpha %g\n", soft->n_teachers,
               soft->seconds, (double)tc->distill_t, (double)tc->distill_alpha);
        size_t nf = job->fit->n, nt = job->tune->n;
        int32_t *rows = malloc((nf > nt ? nf : nt) * sizeof(int32_t) + 1);
        float *q = malloc(nf * SS_NUM_CLASSES * sizeof(float) + 1);
        if (!rows || !q) {
                free(rows);
                free(q);
                fprintf(stderr, "sentistream train: out of memory\n");
                return 1;
        }
        if (ss_distill_rows(rows, job->fit, job->train, err, sizeof(err))) {
                free(rows);
                free(q);
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        for (size_t i = 0; i < nf; i++)
                memcpy(q + i * SS_NUM_CLASSES, soft->probs + (size_t)rows[i] * SS_NUM_CLASSES,
                       SS_NUM_CLASSES * sizeof(float));
        ss_distill_soften(q, q, nf, SS_NUM_CLASSES, tc->distill_t);
        /* The teachers on the tune split (with a held-out split it was not scored). */
        if (ss_distill_rows(rows, job->tune, job->train, err, sizeof(err)) == SS_OK) {
                ss_eval_t ev;
                ss_eval_init(&ev);
                for (size_t i = 0; i < nt; i++)
                        ss_eval_add(
                            &ev, job->tune->labels[i],
                            ss_probs_argmax(soft->probs + (size_t)rows[i] * SS_NUM_CLASSES));
                ss_eval_finish(&ev);
                soft->tune_avgrec = ev.avgrec;
                printf("teachers   on the tune split (%zu): AvgRec %.4f  accuracy %.4f\n", nt,
                       ev.avgrec, ev.accuracy);
        }
        fflush(stdout);
        free(rows);
        tc->soft = q;
        *q_out = q;
        return 0;
}

/* The card's record of the distillation: hyperparameters.distill and the lineage's teachers. */
static void ss_cnn_job_distill_json(const ss_cnn_train_config_t *tc, const ss_distill_soft_t *soft,
                                    cJSON *hyper, cJSON *lineage)
{
        cJSON *d = cJSON_AddObjectToObject(hyper, "distill");
        cJSON_AddStringToObject(d, "loss",
                                "alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * "
                                "class-weighted cross-entropy");
        cJSON_AddNumberToObject(d, "temperature", tc->distill_t);
        cJSON_AddNumberToObject(d, "alpha", tc->distill_alpha);
        cJSON_AddStringToObject(d, "teacher_probabilities",
                                soft->n_teachers > 1 ? "mean of the teachers' raw probabilities"
                                                     : "the teacher's raw probabilities");
        if (soft->tune_avgrec >= 0)
                cJSON_AddNumberToObject(d, "teachers_tune_avgrec", soft->tune_avgrec);
        cJSON *ta = cJSON_AddArrayToObject(d, "teachers");
        cJSON *la = lineage ? cJSON_AddArrayToObject(lineage, "teachers") : NULL;
        for (int i = 0; i < soft->n_teachers; i++) {
                const ss_distill_teacher_t *t = &soft->teachers[i];
                for (int k = 0; k < 2; k++) {
                        cJSON *arr = k ? la : ta;
                        cJSON *o = arr ? cJSON_CreateObject() : NULL;
                        if (!o)
                                continue;
                        cJSON_AddStringToObject(o, "path", t->path);
                        cJSON_AddStringToObject(o, "sha256", t->sha256);
                        cJSON_AddStringToObject(o, "kind", t->kind);
                        cJSON_AddStringToObject(o, "name", t->name);
                        cJSON_AddStringToObject(o, "version", t->version);
                        cJSON_AddItemToArray(arr, o);
                }
        }
}

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
        ss_distill_soft_t soft = {0};
        float *q = NULL; /* [fit n][C] softened teacher rows in the fit split's order */
        const char *teachers = ss_config_get_str(c, "model.cnn.distill.teacher");
        if (*teachers) {
                tc.distill_t = (float)ss_config_get_double(c, "model.cnn.distill.temperature");
                tc.distill_alpha = (float)ss_config_get_double(c, "model.cnn.distill.alpha");
                int rc = ss_cnn_job_teach(job, teachers, &tc, &soft, &q);
                if (rc)
                        return rc;
        }
        ss_cnn_train_result_t res;
        if (ss_cnn_train(&tc, job->fit, job->tune, mf, hyper, &res, tune, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                free(q);
                ss_distill_soft_clear(&soft);
                return 1;
        }
        if (q)
                ss_cnn_job_distill_json(&tc, &soft, hyper, job->lineage);
        free(q);
        ss_distill_soft_clear(&soft);
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
