/*
 * model: the one interface in front of every model kind (logreg, cnn, minilm).
 *
 * The scorer, the CLI and the benchmarks only ever see this header. A model is
 * loaded from a model file (see mfile.h), scores batches of UTF-8 texts into
 * class probabilities, and reports per-text input statistics that the drift
 * monitor compares with the reference distributions stored in the model card
 * (card.h). Nothing here knows about Kafka or Redis.
 *
 * Threading: a model object owns scratch buffers and is not thread-safe; use
 * one per thread (ss_model_fork() makes more over the same weights). Loading is all-or-nothing: on
 * any error NULL is returned and nothing is half-initialised.
 */
#ifndef SS_MODEL_H
#define SS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"
#include "ss_types.h" /* SS_NUM_CLASSES, ss_label_t, ss_input_stats_t */

typedef struct ss_model ss_model_t;

/*
 * Loads a model file. Checks magic, format version, kind and the payload
 * checksum; a truncated, corrupted or foreign file is refused with a message
 * naming the file and what was wrong. Returns NULL on error. Caller frees with
 * ss_model_destroy().
 */
ss_model_t *ss_model_load(const char *path, char *errstr, size_t errstr_size);

/*
 * A second model object over m's file contents, with its own scratch: what
 * another thread scores with (a model object is not thread-safe). Builds the
 * kind's state again from the container already in memory, without reading
 * or checking the file; for the LR model that is an extractor and scratch
 * over the same weights. Returns NULL with a message on error. The fork
 * borrows m's container: destroy it with ss_model_destroy() before m.
 */
ss_model_t *ss_model_fork(const ss_model_t *m, char *errstr, size_t errstr_size);

/* Frees the model and its scratch. NULL is allowed. */
void ss_model_destroy(ss_model_t *m);

/*
 * Scores n texts (texts[i] holds lens[i] bytes, not necessarily NUL-terminated;
 * invalid UTF-8 is tolerated and replaced by the tokenizer).
 *   probs_out: [n][SS_NUM_CLASSES], row-major, each row sums to 1; calibrated by the
 *              model's temperature (see ss_model_temperature()), then its top-label
 *              map (ss_model_toplabel()).
 *   stats_out: [n] input statistics, or NULL if not wanted.
 * Scratch grows on demand and is reused across calls.
 */
ss_err_t ss_model_score_batch(ss_model_t *m, const char *const *texts, const size_t *lens, size_t n,
                              float *probs_out, ss_input_stats_t *stats_out, char *errstr,
                              size_t errstr_size);

/*
 * Temperature applied to every scored row (calib.h): the model file's
 * "calibration.temperature" section (f32, one value) when it has one, else 1.
 * Setting it changes only this model object (e.g. 1 for the raw probabilities).
 */
#define SS_MODEL_TEMPERATURE_SECTION "calibration.temperature"
double ss_model_temperature(const ss_model_t *m);
void ss_model_set_temperature(ss_model_t *m, double t);

/*
 * Top-label map applied after the temperature (calib.h): the model file's
 * "calibration.toplabel" section (f32 [SS_NUM_CLASSES][2], a and b per predicted class)
 * when it has one, else the identity (older files). It never moves a row's argmax.
 */
#define SS_MODEL_TOPLABEL_SECTION "calibration.toplabel"
/* How far the map may lower the label's probability (u32, one value, SS_CALIB_TOP_RULE_*);
 * absent in files written before the floor, which keep the tie rule. */
#define SS_MODEL_TOPLABEL_RULE_SECTION "calibration.toplabel.rule"
struct ss_calib_top;
void ss_model_toplabel(const ss_model_t *m, struct ss_calib_top *out);

/*
 * Scores texts[n] in batches of batch into probs_out[n][SS_NUM_CLASSES] at temperature 1,
 * and without the top-label map,
 * whatever the model's own: the raw probabilities (to fit a temperature, or to measure the
 * calibration error before it). Same errors as ss_model_score_batch().
 */
ss_err_t ss_model_score_raw(ss_model_t *m, const char *const *texts, const size_t *lens, size_t n,
                            size_t batch, float *probs_out, char *errstr, size_t errstr_size);

/* Model kind ("logreg", "cnn", "minilm"). Pointer valid until ss_model_destroy(). */
const char *ss_model_kind(const ss_model_t *m);

/* Model name (from config, e.g. "sentiment-logreg"). Valid until ss_model_destroy(). */
const char *ss_model_name(const ss_model_t *m);

/* Model version: unique per trained artifact, e.g. "logreg-20261125T073000Z-1a2b3c4d"
 * (the suffix is a prefix of the payload sha256). Valid until ss_model_destroy(). */
const char *ss_model_version(const ss_model_t *m);

#endif /* SS_MODEL_H */
