/*
 * sentistream train [--config-dir DIR] [key=value ...]
 *
 * Trains the model kind named by model.kind and writes the model file
 * (model.out, default models-out/<kind>.ssm) and its card beside it:
 *   1. load data.train and data.validation; carve the tune split
 *      (data.tune.share of data.train, by a hash of the tweet id and model.seed);
 *   2. the kind's trainer picks its hyper-parameters on the tune split, then
 *      trains on the whole training file and fills the model container;
 *   3. the file is written, loaded back through the model interface, scored on
 *      the validation file, and the card (metrics, reference distributions,
 *      hyper-parameters, data hashes, git commit) is written next to it.
 * Each kind adds one row to ss_trainers[] below. Exit status: 0 ok, 1 runtime
 * failure (data, training, I/O), 2 usage or configuration error.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "card.h"
#include "cmd.h"
#include "cnn.h"
#include "dataset.h"
#include "logreg.h"
#include "minilm_ft_train.h"
#include "minilm_train.h"
#include "model_impl.h"
#include "ss_util.h"

typedef struct ss_train_job {
        const ss_config_t *cfg;
        const ss_dataset_t *train; /* the whole training file */
        const ss_dataset_t *fit;   /* train minus tune */
        const ss_dataset_t *tune;  /* the tune split */
        uint64_t seed;
        int threads;
        const char *config_dir; /* relative data paths not found from here are tried beside it */
} ss_train_job_t;

/*
 * A kind's trainer: adds the kind's sections to mf, records its
 * hyper-parameters (and search) in hyper, and the chosen model's tune metrics
 * in *tune (*has_tune = 1). Returns 0, or prints the error and returns 1.
 */
typedef int (*ss_trainer_fn)(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper,
                             ss_eval_t *tune, int *has_tune);

static int ss_train_logreg(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                           int *has_tune);
static int ss_train_logreg_run(const ss_train_job_t *job, ss_logreg_train_config_t *tcp,
                               ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune, int *has_tune);
static void ss_resolve_path(const char *path, const char *config_dir, char *out, size_t size);
static int ss_train_minilm(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                           int *has_tune);
static int ss_train_cnn(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                        int *has_tune);
/* Fine-tuned MiniLM encoder + head (models/minilm/minilm_ft_train.h). */
static int ss_train_minilm_ft(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper,
                              ss_eval_t *tune, int *has_tune)
{
        return ss_minilm_ft_train_from_config(job->cfg, job->fit, job->tune, job->seed, mf, hyper,
                                              tune, has_tune);
}

static const struct {
        const char *kind;
        ss_trainer_fn train;
} ss_trainers[] = {
    {"logreg", ss_train_logreg},
    {"minilm", ss_train_minilm},
    {"cnn", ss_train_cnn},
    {"minilm_ft", ss_train_minilm_ft},
};

/* ---- logreg ---- */

static int ss_parse_grid(const char *s, double *grid, int max)
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

static int ss_train_logreg(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
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
                ss_resolve_path(lp, job->config_dir, lexpath, sizeof(lexpath));
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
        int rc = ss_train_logreg_run(job, &tc, mf, hyper, tune, has_tune);
        if (*lp) {
                cJSON_AddStringToObject(hyper, "lexicon", lexpath);
                cJSON_AddStringToObject(hyper, "lexicon_sha256", lexsha);
                cJSON_AddNumberToObject(hyper, "lexicon_scale", tc.lex_scale);
        }
        free((void *)lex.keys);
        free((void *)lex.vals);
        return rc;
}

static int ss_train_logreg_run(const ss_train_job_t *job, ss_logreg_train_config_t *tcp,
                               ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune, int *has_tune)
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
        int ng = ss_parse_grid(gs, grid, 32);
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

/* ---- minilm ---- */

static int ss_mkdir_parent(const char *path);

/* Frozen all-MiniLM-L6-v2 encoder + softmax-regression head (models/minilm/minilm_train.h). The
 * encoder file is converted from model.minilm.source first if it is missing. */
static int ss_train_minilm(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
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
        tc.tune_share = ss_config_get_double(c, "data.tune.share");
        tc.seed = job->seed;
        double grid[32];
        const char *gs = ss_config_get_str(c, "model.minilm.l2");
        int ng = ss_parse_grid(gs, grid, 32);
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
                if (ss_mkdir_parent(tc.encoder_path) ||
                    ss_minilm_convert(src, tc.encoder_path, "all-MiniLM-L6-v2", err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: model.minilm.encoder: %s\n", err);
                        return 1;
                }
        }
        if (tc.cache_dir[0] && ss_mkdir_parent(tc.cache_dir) == 0)
                mkdir(tc.cache_dir, 0755);
        ss_minilm_train_result_t res;
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
        return 0;
}

/* ---- cnn ---- */

/* Kim-2014 text CNN (models/cnn/cnn.h) on all-MiniLM-L6-v2 token embeddings, PCA-projected; the
 * encoder file is converted from model.minilm.source first if it is missing. */
static int ss_train_cnn(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
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
                if (ss_mkdir_parent(tc.embeddings) ||
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

/* ---- common ---- */

/* A relative data path that is not found from here is looked up beside the config dir. */
static void ss_resolve_path(const char *path, const char *config_dir, char *out, size_t size)
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

/* mkdir -p of the directory part of path. */
static int ss_mkdir_parent(const char *path)
{
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", path);
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
                return 0;
        *slash = '\0';
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void ss_train_usage(FILE *out)
{
        fprintf(out, "usage: sentistream train [--config-dir DIR] [key=value ...]\n"
                     "  trains model.kind on data.train (tuning on data.tune.share of it),\n"
                     "  writes model.out and its card (metrics on data.validation)\n");
}

static void ss_progress_from_config(const ss_config_t *c)
{
        const char *p = ss_config_get_str(c, "log.progress");
        if (!strcmp(p, "on"))
                setenv("SS_PROGRESS", "1", 1);
        else if (!strcmp(p, "off"))
                setenv("SS_PROGRESS", "0", 1);
}

static int ss_train_run(const ss_config_t *cfg, const char *config_dir)
{
        char err[1024], path[2100], vpath[2100], model_path[1024], card_path[1100];
        const char *kind = ss_config_get_str(cfg, "model.kind");
        ss_trainer_fn trainer = NULL;
        for (size_t i = 0; i < sizeof(ss_trainers) / sizeof(ss_trainers[0]); i++)
                if (!strcmp(ss_trainers[i].kind, kind))
                        trainer = ss_trainers[i].train;
        if (!trainer) {
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
        ss_resolve_path(ss_config_get_str(cfg, "data.train"), config_dir, path, sizeof(path));
        ss_resolve_path(ss_config_get_str(cfg, "data.validation"), config_dir, vpath,
                        sizeof(vpath));
        double t_start = ss_time_mono();
        int rc = 1;
        ss_dataset_t *train = NULL, *val = NULL, *fit = NULL, *tune = NULL;
        ss_mfile_t *mf = NULL;
        ss_model_t *m = NULL;
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
        ss_train_job_t job = {
            cfg, train, fit, tune, seed, (int)ss_config_get_int(cfg, "train.threads"), config_dir};
        mf = ss_mfile_new(kind, ss_config_get_str(cfg, "model.name"), NULL);
        if (!mf) {
                fprintf(stderr, "sentistream train: out of memory\n");
                goto out;
        }
        int trc = trainer(&job, mf, card.hyperparameters, &card.tune, &card.has_tune);
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
        if (e || ss_mkdir_parent(model_path) || ss_mfile_write(mf, model_path, err, sizeof(err))) {
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
        if (ss_card_evaluate(m, val, batch, &card.validation_eval, &card.ref, "validation", err,
                             sizeof(err)) ||
            ss_card_set_model(&card, m, model_path, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                goto out;
        }
        card.created_at_ms = ss_time_now_ms();
        char repo[1024];
        snprintf(repo, sizeof(repo), "%s", config_dir ? config_dir : ".");
        ss_card_git_commit(dirname(repo), card.git_commit, sizeof(card.git_commit));
        ss_card_set_data(&card.training, train);
        ss_card_set_data(&card.validation, val);
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
        ss_model_destroy(m);
        ss_mfile_destroy(mf);
        ss_dataset_destroy(train);
        ss_dataset_destroy(val);
        ss_dataset_destroy(fit);
        ss_dataset_destroy(tune);
        ss_card_clear(&card);
        return rc;
}

int ss_cmd_train(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                return ss_cli_args_reject(&args, "train", argv[i], ss_train_usage);
        }
        const char *config_dir = args.config_dir;
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        ss_progress_from_config(cfg);
        int rc = ss_train_run(cfg, config_dir ? config_dir : ss_cli_config_dir_default());
        ss_config_destroy(cfg);
        return rc;
}
