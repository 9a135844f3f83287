/*
 * minilm_ft_train: fine-tunes the MiniLM encoder + softmax head (minilm_ft.h) and writes a
 * scoreable "minilm" model (fine-tuned encoder weights + head on the mean-pooled last layer,
 * not normalised).
 *
 * Training: AdamW (decoupled weight decay on the matrices, none on biases and LayerNorm),
 * linear warmup then linear or cosine decay to 0, dropout, gradient clipping by global norm,
 * length-bucketed batches (texts sorted by token count with a random tie-break each epoch,
 * cut into batches of at most batch_size texts and max_tokens tokens, batch order shuffled;
 * packed without padding), class-balanced loss, evaluation on the tune split every
 * eval_every steps (0: every epoch) with early stopping after `patience` evaluations without
 * a better AvgRec, and the best evaluated weights kept. With fewer trained layers than the
 * encoder has, the states entering the first trained layer are computed once for every text
 * (frozen layers) and fed back each step. A checkpoint (weights, AdamW moments, best weights,
 * step and evaluation history) is written after every evaluation; a run with the same
 * settings resumes from it.
 */
#ifndef SS_MINILM_FT_TRAIN_H
#define SS_MINILM_FT_TRAIN_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "dataset.h"
#include "evalm.h"
#include "mfile.h"
#include "ss_config.h"

typedef struct ss_minilm_ft_train_config {
        const char *encoder_path; /* converted encoder (kind minilm-encoder or minilm) */
        const char *checkpoint;   /* checkpoint file; NULL or "" = none */
        int resume;               /* 1: continue from a matching checkpoint */
        int train_layers;         /* top layers trained (1..n_layers) */
        int train_embeddings;     /* 1: embeddings too (needs every layer) */
        int epochs;               /* passes over the fit rows */
        int max_steps;            /* 0 = epochs decide */
        int batch_size;           /* texts per batch */
        int max_tokens;           /* tokens per batch */
        int max_seq_len;          /* tokens per text incl. [CLS]/[SEP] (<= the encoder's) */
        size_t fit_limit;         /* 0 = every fit row, else the first fit_limit (by id hash) */
        double lr, head_lr;       /* peak learning rates: encoder, head */
        double warmup;            /* share of the steps spent warming up */
        int cosine;               /* 1: cosine decay, 0: linear */
        double layer_decay;       /* layer-wise lr decay: layer l of L gets lr decay^(L-1-l),
                                   * the embeddings lr decay^L; 1 = the same lr everywhere */
        double average_from;      /* epoch from which the weights of every evaluation point are
                                   * averaged and the average competes on the tune split; 0 = off */
        double weight_decay;      /* decoupled, on matrices */
        double dropout;           /* probability */
        double max_norm;          /* gradient clipping (0 = none) */
        int balanced;             /* class weights n / (3 n_c) */
        int eval_every;           /* steps between tune evaluations (0 = once per epoch) */
        int patience;             /* evaluations without improvement before stopping */
        uint64_t seed;
        int log_every; /* steps between progress lines on stdout (0 = none) */
        int int8;      /* 1: the written model scores in int8 (minilm.h) */
} ss_minilm_ft_train_config_t;

void ss_minilm_ft_train_config_default(ss_minilm_ft_train_config_t *tc);

/* One evaluation on the tune split. */
typedef struct ss_minilm_ft_eval_log {
        int step;
        double epoch;   /* fractional */
        double loss;    /* mean training loss since the previous evaluation */
        ss_eval_t tune; /* on the tune rows */
        double seconds; /* since the start of training (the cache included) */
        int averaged;   /* 1: the weight average of the evaluation points (average_from) */
} ss_minilm_ft_eval_log_t;

#define SS_MINILM_FT_MAX_EVALS 256

typedef struct ss_minilm_ft_train_result {
        ss_minilm_ft_eval_log_t log[SS_MINILM_FT_MAX_EVALS];
        int n_log;
        int best;       /* index into log of the kept weights */
        int steps;      /* optimizer steps taken (resumed ones included) */
        double seconds; /* wall time of this run */
        double cache_seconds;
        int resumed_step; /* 0 unless resumed */
} ss_minilm_ft_train_result_t;

/*
 * Fine-tunes on fit (early stopping on tune) and adds the sections of a "minilm" model to
 * mf; records the settings in hyper. Progress on stderr when enabled, lines on stdout every
 * log_every steps.
 */
ss_err_t ss_minilm_ft_train(const ss_minilm_ft_train_config_t *tc, const ss_dataset_t *fit,
                            const ss_dataset_t *tune, ss_mfile_t *mf, cJSON *hyper,
                            ss_minilm_ft_train_result_t *res, char *errstr, size_t errstr_size);

/*
 * The trainer of `sentistream train model=minilm_ft`: reads model.minilm_ft.* (and
 * model.minilm.encoder / model.minilm.source, converting the encoder when its file is
 * missing), trains, prints the evaluation curve and fills *tune with the kept weights' tune
 * metrics. Returns 0, or prints the error and returns 1 (runtime) or 2 (configuration).
 */
int ss_minilm_ft_train_from_config(const ss_config_t *cfg, const ss_dataset_t *fit,
                                   const ss_dataset_t *tune, uint64_t seed, ss_mfile_t *mf,
                                   cJSON *hyper, ss_eval_t *tune_eval, int *has_tune);

#endif /* SS_MINILM_FT_TRAIN_H */
