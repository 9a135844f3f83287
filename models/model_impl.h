/*
 * model_impl: what a model kind implements to sit behind models/model.h.
 *
 * A kind is one ss_model_kind_t: a name and three functions. ss_model_load()
 * reads and validates the model file (mfile.h), checks the labels, finds the
 * kind by the file's kind string and calls its load(). The container stays
 * alive as long as the model, so a kind may point straight into its sections
 * (16-byte aligned) instead of copying weights.
 *
 * The registry of model kinds (models/model.c, one ss_model_entry_t a kind)
 * ties each kind to its inference (ss_model_kind_t), its trainer
 * (ss_model_train_fn, run by `sentistream train` through train.h) and its
 * configuration keys (model.<kind>.* in the key table).
 *
 * Adding a kind: implement the three functions in models/<kind>/<kind>.c and
 * the trainer in models/<kind>/<kind>_job.c, declare both below, add one line
 * to the registry in models/model.c, its keys to the key table and its value
 * to model.kind's list there (unit.model checks that the two agree), and,
 * optionally, a group file config/model/<kind>.yaml.
 */
#ifndef SS_MODEL_IMPL_H
#define SS_MODEL_IMPL_H

#include <cjson/cJSON.h>

#include "dataset.h"
#include "evalm.h"
#include "mfile.h"
#include "model.h"
#include "ss_config.h"

typedef struct ss_model_kind {
        const char *kind; /* the kind string stored in the model file */
        /* Builds the kind's state from a validated container; mf outlives it.
         * Returns NULL with a message naming the file and section on error. */
        void *(*load)(const ss_mfile_t *mf, char *errstr, size_t errstr_size);
        /* As ss_model_score_batch(), on the kind's state. */
        ss_err_t (*score_batch)(void *impl, const char *const *texts, const size_t *lens, size_t n,
                                float *probs_out, ss_input_stats_t *stats_out, char *errstr,
                                size_t errstr_size);
        void (*destroy)(void *impl);
} ss_model_kind_t;

/* What a kind's trainer gets from the training pipeline (train.c). */
typedef struct ss_train_job {
        const ss_config_t *cfg;
        const ss_dataset_t *train; /* what the final model is fitted on */
        const ss_dataset_t *fit;   /* train minus tune (train itself with a held-out split) */
        const ss_dataset_t *tune;  /* the tune split (early stopping, hyper-parameter choice) */
        uint64_t seed;
        int threads;
        const char *config_dir; /* relative data paths not found from here are tried beside it */
        /* [tune n][C]: a trainer whose final model also trained on the tune rows writes here
         * the probabilities of its tune-time model (which did not) and sets *tune_probs_set;
         * the temperature is then fitted on those (calib.h). Otherwise the final model
         * scores the tune split. */
        float *tune_probs;
        int *tune_probs_set;
        /* The card's "lineage" object (owned by the card): a trainer built from other models
         * (a distilled student) names them here, e.g. "teachers": [{path, sha256, ...}]. */
        cJSON *lineage;
} ss_train_job_t;

/*
 * A kind's trainer: adds the kind's sections to mf, records its
 * hyper-parameters (and search) in hyper, and the chosen model's tune metrics
 * in *tune (*has_tune = 1). Returns 0, or prints the error and returns the
 * exit status (1 runtime failure, 2 configuration error).
 */
typedef int (*ss_model_train_fn)(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper,
                                 ss_eval_t *tune, int *has_tune);

/* One row of the registry. */
typedef struct ss_model_entry {
        const ss_model_kind_t *ops; /* inference */
        ss_model_train_fn train;
        const char *config_prefix; /* its keys in the key table: "model.<kind>." */
        int refits_on_tune;        /* 1: the final model is fitted on the tune rows too (its
                                    * calibration is fitted on the tune-time model's) */
} ss_model_entry_t;

/* The kinds (two lines each). */
extern const ss_model_kind_t ss_logreg_kind;
int ss_logreg_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                        int *has_tune);
extern const ss_model_kind_t ss_minilm_kind;
int ss_minilm_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                        int *has_tune);
extern const ss_model_kind_t ss_cnn_kind;
int ss_cnn_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                     int *has_tune);
extern const ss_model_kind_t ss_minilm_ft_kind; /* minilm.c: the minilm kind, fine-tuned */
int ss_minilm_ft_train_job(const ss_train_job_t *job, ss_mfile_t *mf, cJSON *hyper, ss_eval_t *tune,
                           int *has_tune);

/* The registry entry of the kind with this name, or NULL. */
const ss_model_entry_t *ss_model_entry_find(const char *kind);

/* The registry: *n entries. */
const ss_model_entry_t *ss_model_entries(size_t *n);

/* The registered kind with this name, or NULL. */
const ss_model_kind_t *ss_model_kind_find(const char *kind);

/*
 * Builds a model from a container that is already in memory (e.g. just
 * trained, or parsed from a buffer in a test). Takes ownership of mf, also on
 * failure. Returns NULL on error.
 */
ss_model_t *ss_model_from_mfile(ss_mfile_t *mf, char *errstr, size_t errstr_size);

/* The container behind a model (sections, sha256). Valid until ss_model_destroy(). */
const ss_mfile_t *ss_model_mfile(const ss_model_t *m);

/* Numerically stable in-place softmax of one row of n logits. */
void ss_softmax(float *row, int n);

#endif /* SS_MODEL_IMPL_H */
