/*
 * ss_track: experiment tracking of one `sentistream train` on an MLflow server
 * (tracking.uri). ss_track_begin() opens a run with the resolved configuration
 * as params and the provenance as tags (git commit and dirty flag, config
 * hash, host, binary version) and collects the trainer's curves
 * (ss_trainlog); ss_track_end() adds the data files' sha256, the final
 * metrics, the artifacts (model file, card, evaluation JSON, confusion matrix,
 * resolved config) and ends the run FINISHED or FAILED.
 *
 * Failures: with tracking.required=false a tracking failure never fails the
 * training: it is reported loudly on stderr and the run is left (FAILED if the
 * server still answers). With tracking.required=true it is an error.
 *
 * Tags written on the run (all prefixed "sentistream."): git_commit, git_dirty,
 * config_sha256, host, version, model_kind, model_sha256, model_artifact,
 * card_artifact, data.train.path/.sha256, data.validation.path/.sha256.
 */
#ifndef SS_TRACK_H
#define SS_TRACK_H

#include <stddef.h>

#include "card.h"
#include "ss_config.h"
#include "ss_err.h"
#include "ss_mlflow.h"

typedef struct ss_track ss_track_t;

/* The artifact folders of a run. */
#define SS_TRACK_MODEL_DIR "model"

/*
 * Opens a run for cfg when tracking.uri is set (else *out = NULL and SS_OK). repo_dir is
 * where git is asked for the commit; version is the binary's. On a tracking failure:
 * tracking.required=false prints a warning and returns SS_OK with *out = NULL;
 * tracking.required=true returns the error. Caller ends *out with ss_track_end().
 */
ss_err_t ss_track_begin(const ss_config_t *cfg, const char *repo_dir, const char *version,
                        ss_track_t **out, char *errstr, size_t errstr_size);

/*
 * Ends the run: ok != 0 logs card's metrics and tags and uploads model_path, card_path
 * and the resolved config, then marks the run FINISHED; ok == 0 marks it FAILED. card and
 * paths may be NULL when !ok. Frees t (NULL is fine). Same failure rule as begin.
 */
ss_err_t ss_track_end(ss_track_t *t, int ok, const ss_card_t *card, const char *model_path,
                      const char *card_path, char *errstr, size_t errstr_size);

/* The run id of t ("" when t is NULL). */
const char *ss_track_run_id(const ss_track_t *t);

/* sha256 (hex) of "key=value\n" over every key of cfg except tracking.* and model.out:
 * two configurations that train the same model hash alike. */
void ss_track_config_sha256(const ss_config_t *cfg, char hex[65]);

/* `git status --porcelain` in dir says tracked files changed: 1, clean: 0, no git: -1. */
int ss_track_git_dirty(const char *dir);

#endif /* SS_TRACK_H */
