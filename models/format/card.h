/*
 * card: the model card codec. A card is a JSON file beside every model file
 * (models-out/logreg.ssm -> models-out/logreg.card.json); trainers write it,
 * the drift monitor reads it. Both sides use this one module, so the format,
 * the class list, the histogram edges and the binning rule exist once.
 * Format "sentistream-model-card/1":
 *
 *   {"format", "model": {"kind","name","version","file","file_sha256"},
 *    "created_at" (ISO-8601 UTC), "git_commit", "hyperparameters": {...},
 *    "training_data": {"path","sha256","n","files": [{"path","sha256","n"}...]},
 *    "validation_data": {"path","sha256","n"[,"split": {...}]},
 *    "metrics": {"tune": {...}, "validation": {"n","avgrec","f1_pn","accuracy",
 *                "macro_f1","confusion": [[CxC, rows = true label]],
 *                "per_class": {"negative": {"precision","recall","f1","support"},...}}},
 *    "labels": ["negative","neutral","positive"],
 *    "calibration": {"method": "temperature", "temperature", "fit_on": "tune", "n",
 *                    "ece_before", "ece_after"}   (when the model has a temperature;
 *                    with a top-label map: "method": "temperature+toplabel", "toplabel":
 *                    {"<label>": {"a", "b"}...}, "ece_temperature", and "ece_after" after both),
 *    "reference": {"split": "validation", "n": N, "distributions": [...],
 *                  "true_class": [C counts], "confusion": [[CxC, rows = true label]]}}
 *
 * reference.true_class and reference.confusion are the labelled side of the
 * reference data (the true class mix and the confusion matrix the drift
 * monitor's label-shift estimate needs); a reader of an older card without
 * them takes metrics.validation.confusion, measured on the same split.
 *
 * training_data: "path" the comma-separated files, "sha256" that of the one
 * file or, for several, of their sha256sum listing ("<sha256>  <path>\n" each),
 * "n" the rows trained on, "files" each file as loaded (older cards lack it).
 * validation_data.split, when present: how the validation set was carved from
 * the training files ({"of","rule","share","seed","used_for"}, the release
 * layout) or {"overlap_with_training": N} when it shares N tweet ids with them
 * (allowed only with data.allow_overlap=true).
 *
 * "labels" gives the classes and their order; a reader takes the number of
 * classes from it. Reference distributions (raw counts over the validation
 * split, in this order):
 *   predicted_class (categorical over the labels), prob.<label> for each label
 *   (histograms, edges 0, 0.1, ..., 1), input.n_tokens (histogram,
 *   ss_card_ntok_edges), input.unk_share (histogram, ss_card_unk_edges),
 *   input.has_url / input.has_mention / input.has_emoji (categorical no/yes).
 * A reader keeps a distribution with any other name but never compares it.
 *
 * Histogram rule (writer and reader alike): v goes to bin i with
 * edges[i] <= v < edges[i+1]; below the first edge -> bin 0; at or above the
 * last edge -> the last bin; NaN has no bin (not counted, not compared).
 *
 * This module needs only cJSON and the base layer: the monitor links it
 * without any model kernel. Filling a card by scoring a data set through a
 * model is models/train/cardfill.h.
 */
#ifndef SS_CARD_H
#define SS_CARD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "evalm.h"
#include "ss_err.h"
#include "ss_types.h"

#define SS_CARD_FORMAT "sentistream-model-card/1"

#define SS_CARD_PROB_BINS 10
#define SS_CARD_NTOK_BINS 12
#define SS_CARD_UNK_BINS  6
/* Name of the histogram of one class probability: this prefix + the label name. */
#define SS_CARD_PROB_PREFIX "prob."

/* Bin indices travel as uint8: at most SS_CARD_MAX_BINS bins, SS_CARD_NO_BIN = no value. */
#define SS_CARD_MAX_BINS 254
#define SS_CARD_NO_BIN   255
/* Most distributions one card may hold, most classes it may name. */
#define SS_CARD_MAX_DISTS   32
#define SS_CARD_MAX_CLASSES 16

extern const double ss_card_prob_edges[SS_CARD_PROB_BINS + 1];
extern const double ss_card_ntok_edges[SS_CARD_NTOK_BINS + 1];
extern const double ss_card_unk_edges[SS_CARD_UNK_BINS + 1];

/* Bin of v in a histogram with nedges ascending edges (nedges - 1 bins), by the
 * rule above; SS_CARD_NO_BIN for NaN. */
int ss_card_hist_bin(const double *edges, int nedges, double v);

/* ---- writing ------------------------------------------------------------------------- */

/* Reference distributions as raw counts, as a trainer measures them. */
typedef struct ss_card_ref {
        int64_t n; /* texts counted */
        int64_t predicted[SS_NUM_CLASSES];
        int64_t prob[SS_NUM_CLASSES][SS_CARD_PROB_BINS];
        int64_t n_tokens[SS_CARD_NTOK_BINS];
        int64_t unk_share[SS_CARD_UNK_BINS];
        int64_t has_url[2], has_mention[2], has_emoji[2]; /* [no, yes] */
} ss_card_ref_t;

void ss_card_ref_init(ss_card_ref_t *r);
/* Counts one scored text: probs [SS_NUM_CLASSES], st its input statistics. */
void ss_card_ref_add(ss_card_ref_t *r, const float *probs, const ss_input_stats_t *st);

/* One data file (or the union of several, or a split of them). */
typedef struct ss_card_data {
        char path[512];
        char sha256[65];
        int64_t n;
} ss_card_data_t;

#define SS_CARD_MAX_FILES 8

typedef struct ss_card {
        char kind[32], name[128], version[128];
        char file[512];         /* model file path */
        char file_sha256[65];   /* sha256 of the whole model file */
        int64_t created_at_ms;  /* epoch ms */
        char git_commit[64];    /* "unknown" when not in a git checkout */
        cJSON *hyperparameters; /* object; owned by the card (ss_card_clear frees it) */
        ss_card_data_t training, validation;
        int n_train_files; /* > 0: training_data.files lists these */
        ss_card_data_t train_files[SS_CARD_MAX_FILES];
        cJSON *validation_split; /* NULL, or an object describing how validation was carved
                                  * (validation_data.split); owned by the card */
        int has_tune;            /* 1: tune metrics below are set */
        ss_eval_t tune;          /* on the tune split (the model that chose hyper-parameters) */
        ss_eval_t validation_eval;
        ss_card_ref_t ref; /* over the validation split */
        /* temperature scaling (calib.h); has_calibration 0: none */
        int has_calibration;
        double temperature;
        int64_t calib_n; /* rows it was fitted on */
        double calib_ece_before, calib_ece_after;
        /* the top-label map after the temperature (calib.h); has_toplabel 0: none. ECE:
         * raw (before), after the temperature, after both (after) */
        int has_toplabel;
        double top_a[SS_NUM_CLASSES], top_b[SS_NUM_CLASSES];
        int top_rule; /* SS_CALIB_TOP_RULE_* (0 tie, 1 floor), "toplabel_rule" */
        double calib_ece_temperature;
        /* NULL, or the models this one was built from (e.g. the "teachers" of a distilled
         * model), written as "lineage" when not empty; owned by the card */
        cJSON *lineage;
} ss_card_t;

/* Zeroes a card and sets git_commit to "unknown". */
void ss_card_init(ss_card_t *c);
/* Frees what the card owns (hyperparameters, validation_split, lineage). */
void ss_card_clear(ss_card_t *c);

/* `git rev-parse HEAD` run in dir (NULL: current directory), else "unknown". */
void ss_card_git_commit(const char *dir, char *buf, size_t size);

/* The metrics object of one evaluation (also what `sentistream eval --json` prints). */
cJSON *ss_card_eval_json(const ss_eval_t *e);

/* The whole card as a cJSON tree; caller frees with cJSON_Delete(). NULL on no memory. */
cJSON *ss_card_to_json(const ss_card_t *c);

/* Writes the card as pretty JSON to path (temp file + rename). */
ss_err_t ss_card_write(const ss_card_t *c, const char *path, char *errstr, size_t errstr_size);

/* Card path of a model file: a trailing ".ssm" is replaced by ".card.json", else appended. */
void ss_card_path(const char *model_path, char *buf, size_t size);

/* ---- reading ------------------------------------------------------------------------- */

typedef enum { SS_CARD_CATEGORICAL = 0, SS_CARD_HISTOGRAM = 1 } ss_card_dist_kind_t;

/* The prediction field a distribution is computed from. */
typedef enum {
        SS_CARD_SRC_UNKNOWN = 0,
        SS_CARD_SRC_PRED_CLASS, /* the predicted label */
        SS_CARD_SRC_PROB,       /* the probability of class ss_card_dist_t.cls */
        SS_CARD_SRC_N_TOKENS,
        SS_CARD_SRC_UNK_SHARE,
        SS_CARD_SRC_HAS_URL,
        SS_CARD_SRC_HAS_MENTION,
        SS_CARD_SRC_HAS_EMOJI,
} ss_card_src_t;

typedef struct ss_card_dist {
        char *name; /* e.g. "prob.neutral" */
        ss_card_dist_kind_t kind;
        ss_card_src_t src;
        int cls;        /* SS_CARD_SRC_PROB: the class index into the card's labels */
        int nbins;      /* 1..SS_CARD_MAX_BINS */
        double *edges;  /* [nbins + 1] ascending; histograms only, else NULL */
        double *counts; /* [nbins] raw reference counts */
        double n;       /* sum of counts */
        /* categorical only: bin of value v (a label index, or 0 = no / 1 = yes), or
         * SS_CARD_NO_BIN if the card has no such category */
        uint8_t cat_bin[SS_CARD_MAX_CLASSES];
} ss_card_dist_t;

/* What a reader keeps of a card: identity, validation figures, classes, distributions. */
typedef struct ss_card_view {
        char *path;            /* where it was read from */
        char *kind;            /* model.kind */
        char *name;            /* model.name */
        char *version;         /* model.version: the key predictions are matched on */
        char *created_at;      /* ISO-8601 text, "" if absent */
        int64_t created_at_ms; /* parsed, 0 if absent or unparsable */
        double val_macro_f1;   /* metrics.validation.macro_f1, NAN if absent */
        double val_avgrec;     /* metrics.validation.avgrec, NAN if absent */
        int nclasses;          /* entries of labels, 2..SS_CARD_MAX_CLASSES */
        char *labels[SS_CARD_MAX_CLASSES];
        int64_t ref_n; /* reference.n */
        /* reference.confusion (or metrics.validation.confusion): counts [true][predicted] on
         * the reference data; has_confusion 0 if the card has neither */
        int has_confusion;
        double confusion[SS_CARD_MAX_CLASSES][SS_CARD_MAX_CLASSES];
        double temperature; /* calibration.temperature, NAN if absent */
        int ndists;
        ss_card_dist_t *dists; /* [ndists] */
        int n_unknown;         /* distributions with SS_CARD_SRC_UNKNOWN */
} ss_card_view_t;

/*
 * Parses card JSON text; origin names it in error messages (a path). Returns
 * NULL on error with the reason (origin and the JSON path, e.g.
 * "reference.distributions[2].counts[4]") in errstr. Caller frees with
 * ss_card_view_destroy().
 */
ss_card_view_t *ss_card_view_parse(const char *json, const char *origin, char *errstr,
                                   size_t errstr_size);

/* Reads and parses a card file. Same contract as ss_card_view_parse(). */
ss_card_view_t *ss_card_view_load(const char *path, char *errstr, size_t errstr_size);

void ss_card_view_destroy(ss_card_view_t *c);

/* Index of the distribution called name, or -1. */
int ss_card_view_find(const ss_card_view_t *c, const char *name);

/* Bin of a histogram value by the rule above; SS_CARD_NO_BIN for NaN. */
int ss_card_dist_bin(const ss_card_dist_t *d, double v);

/* What one prediction offers to the reference distributions. */
typedef struct ss_card_obs {
        int label;         /* predicted label, an index into the card's labels */
        const float *prob; /* [nprob] class probabilities, in the card's label order */
        int nprob;
        int has_stats; /* 0: the prediction carries no input statistics */
        int32_t n_tokens;
        float unk_share;
        uint8_t has_url, has_mention, has_emoji;
} ss_card_obs_t;

/* Bins an observation for every distribution of the card: row[ndists], SS_CARD_NO_BIN
 * where the observation has no value (unknown distribution, no input statistics, a
 * category or class the card lacks, NaN). */
void ss_card_view_bin(const ss_card_view_t *c, const ss_card_obs_t *o, uint8_t *row);

/* Parses ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS[.fff]Z" into epoch ms; -1 if malformed. */
int64_t ss_card_parse_time(const char *s);

#endif /* SS_CARD_H */
