/*
 * train: `sentistream train` below the CLI. Reads the configuration, loads
 * the data, runs the trainer of model.kind (found in the registry of model
 * kinds, models/model.c), writes the model file, loads it back, evaluates it
 * and writes its card. The CLI only parses its arguments and calls
 * ss_train_run(); a new model kind needs nothing here (its trainer gets an
 * ss_train_job_t, model_impl.h).
 */
#ifndef SS_TRAIN_H
#define SS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"

/*
 * Trains model.kind as configured and writes model.out (default
 * models-out/<kind>.ssm) and its card, printing progress lines to stdout and
 * errors to stderr. config_dir may be NULL. Returns the exit status: 0 ok,
 * 1 runtime failure (data, training, I/O), 2 configuration error.
 */
int ss_train_run(const ss_config_t *cfg, const char *config_dir);

/*
 * Called once when a training run ends, before ss_train_run() returns: ok != 0 when the
 * model file and its card were written (card, model_path and card_path are then valid for
 * the call only), ok == 0 on any failure (card may be partly filled; paths may not exist).
 * Returns 0, or non-zero to make the run fail (exit status 1). This is how a caller above
 * models/ (experiment tracking) sees a run without models/ depending on it.
 */
struct ss_card;
typedef int (*ss_train_done_fn)(int ok, const struct ss_card *card, const char *model_path,
                                const char *card_path, void *opaque);

/* ss_train_run() with a completion hook (done may be NULL). */
int ss_train_run_hook(const ss_config_t *cfg, const char *config_dir, ss_train_done_fn done,
                      void *opaque);

/*
 * `sentistream calibrate IN OUT`: fits the temperature and the top-label map (calib.h) of
 * the model file IN on its tune split, scored by IN itself, without training. The split
 * is found as training found it (data.train, model.seed, data.tune.share or
 * data.holdout.share; the seed and shares must be those of IN's hyperparameters section).
 * Writes OUT (IN with its calibration sections replaced; a new version) and OUT's card:
 * IN's tune metrics, validation metrics and reference distributions measured anew through
 * the calibrated model. Kinds whose final model is refit on the tune rows (logreg, minilm)
 * have it fitted at training time on their tune-time model instead: on those, this fit is
 * in-sample and refused (exit 2) unless in_sample is set. Returns the exit status (0, 1
 * runtime failure, 2 configuration error).
 */
int ss_train_calibrate(const ss_config_t *cfg, const char *config_dir, const char *in,
                       const char *out, int in_sample);

/* A relative path that is not found from the current directory is looked up beside
 * config_dir (NULL: not). Writes the path to use into out. */
void ss_train_resolve_path(const char *path, const char *config_dir, char *out, size_t size);

/* Parses "1e-4, 3e-5" into grid (at most max positive numbers). Returns the count, or -1. */
int ss_train_parse_grid(const char *s, double *grid, int max);

#endif /* SS_TRAIN_H */
