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

/* Class order used everywhere: arrays of SS_NUM_CLASSES are indexed by ss_label_t. */
#define SS_NUM_CLASSES 3
typedef enum { SS_LABEL_NEGATIVE = 0, SS_LABEL_NEUTRAL = 1, SS_LABEL_POSITIVE = 2 } ss_label_t;

/* "negative", "neutral", "positive"; NULL for an out-of-range value. */
const char *ss_label_name(int label);

/* Parses a label name (exact, lower case). Returns the label or -1. */
int ss_label_parse(const char *s, size_t len);

/*
 * Input statistics of one text, computed by the model's own tokenizer while
 * scoring. The card stores reference histograms of the same quantities.
 */
typedef struct ss_input_stats {
        int32_t n_tokens;    /* tokens the model's tokenizer produced */
        float unk_share;     /* share of those tokens unknown to the model, 0..1 */
        uint8_t has_url;     /* 1 if the text holds a URL */
        uint8_t has_mention; /* 1 if the text holds an @mention */
        uint8_t has_emoji;   /* 1 if the text holds an emoji or emoticon */
} ss_input_stats_t;

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
 *              model's temperature (see ss_model_temperature()).
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

/* Model kind ("logreg", "cnn", "minilm"). Pointer valid until ss_model_destroy(). */
const char *ss_model_kind(const ss_model_t *m);

/* Model name (from config, e.g. "sentiment-logreg"). Valid until ss_model_destroy(). */
const char *ss_model_name(const ss_model_t *m);

/* Model version: unique per trained artifact, e.g. "logreg-20261125T073000Z-1a2b3c4d"
 * (the suffix is a prefix of the payload sha256). Valid until ss_model_destroy(). */
const char *ss_model_version(const ss_model_t *m);

/* Index of the largest probability in a row of SS_NUM_CLASSES. */
int ss_probs_argmax(const float *probs);

#endif /* SS_MODEL_H */
