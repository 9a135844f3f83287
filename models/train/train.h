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

/* A relative path that is not found from the current directory is looked up beside
 * config_dir (NULL: not). Writes the path to use into out. */
void ss_train_resolve_path(const char *path, const char *config_dir, char *out, size_t size);

/* Parses "1e-4, 3e-5" into grid (at most max positive numbers). Returns the count, or -1. */
int ss_train_parse_grid(const char *s, double *grid, int max);

#endif /* SS_TRAIN_H */
