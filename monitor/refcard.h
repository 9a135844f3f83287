/*
 * refcard: the parts of a model card (models/format/card.c writes it, JSON) that the
 * drift monitor needs: the model's identity, its validation F1 and confusion
 * matrix (the label-shift estimate's C and reference class mix, bbse.h), and
 * the reference distributions measured on the validation split.
 *
 * Read with cJSON only: the monitor never links a model's scoring code, so it
 * works for every model kind. Each reference distribution is tied to the
 * prediction field that feeds it:
 *
 *   predicted_class                    categorical over label names
 *   prob.negative|neutral|positive     histogram of that class probability
 *   input.n_tokens, input.unk_share    histogram of the input statistic
 *   input.has_url|has_mention|has_emoji categorical "no"/"yes"
 *
 * A distribution with any other name is kept but marked SS_REF_SRC_UNKNOWN
 * (counted in n_unknown, never compared). Histogram rule: value v goes to bin
 * i with edges[i] <= v < edges[i+1]; below the first edge to bin 0, at or
 * above the last edge to the last bin; NaN has no bin.
 */
#ifndef SS_REFCARD_H
#define SS_REFCARD_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"

/* Most bins one distribution may have (bin indices travel as uint8, 255 = no value). */
#define SS_REF_MAX_BINS 254
#define SS_REF_NO_BIN   255
/* Most distributions one card may hold. */
#define SS_REF_MAX_DISTS 32

typedef enum { SS_REF_CATEGORICAL = 0, SS_REF_HISTOGRAM = 1 } ss_ref_kind_t;

/* The prediction field a distribution is computed from. */
typedef enum {
        SS_REF_SRC_UNKNOWN = 0,
        SS_REF_SRC_PRED_CLASS,
        SS_REF_SRC_PROB_NEGATIVE,
        SS_REF_SRC_PROB_NEUTRAL,
        SS_REF_SRC_PROB_POSITIVE,
        SS_REF_SRC_N_TOKENS,
        SS_REF_SRC_UNK_SHARE,
        SS_REF_SRC_HAS_URL,
        SS_REF_SRC_HAS_MENTION,
        SS_REF_SRC_HAS_EMOJI,
} ss_ref_src_t;

typedef struct ss_ref_dist {
        char *name; /* e.g. "prob.neutral" */
        ss_ref_kind_t kind;
        ss_ref_src_t src;
        int nbins;      /* 1..SS_REF_MAX_BINS */
        double *edges;  /* [nbins + 1] ascending; histograms only, else NULL */
        double *counts; /* [nbins] raw reference counts */
        double n;       /* sum of counts */
        /* categorical only: bin of value v (a label 0..2, or 0 = no / 1 = yes), or
         * SS_REF_NO_BIN if the card has no such category */
        uint8_t cat_bin[3];
} ss_ref_dist_t;

typedef struct ss_refcard {
        char *path;            /* where it was read from */
        char *kind;            /* model.kind */
        char *name;            /* model.name */
        char *version;         /* model.version: the key predictions are matched on */
        char *created_at;      /* ISO-8601 text, "" if absent */
        int64_t created_at_ms; /* parsed, 0 if absent or unparsable */
        double val_macro_f1;   /* metrics.validation.macro_f1, NAN if absent */
        double val_avgrec;     /* metrics.validation.avgrec, NAN if absent */
        /* metrics.validation.confusion: counts [true][predicted] on the reference data (the
         * split the distributions below were measured on); has_confusion 0 if absent */
        int has_confusion;
        double val_confusion[3][3];
        int64_t ref_n; /* reference.n */
        int ndists;
        ss_ref_dist_t *dists; /* [ndists] */
        int n_unknown;        /* distributions with SS_REF_SRC_UNKNOWN */
} ss_refcard_t;

/*
 * Parses card JSON text; origin names it in error messages (a path). Returns
 * NULL on error with the reason (origin and the JSON path, e.g.
 * "reference.distributions[2].counts[4]") in errstr. Caller frees with
 * ss_refcard_destroy().
 */
ss_refcard_t *ss_refcard_parse(const char *json, const char *origin, char *errstr,
                               size_t errstr_size);

/* Reads and parses a card file. Same contract as ss_refcard_parse(). */
ss_refcard_t *ss_refcard_load(const char *path, char *errstr, size_t errstr_size);

void ss_refcard_destroy(ss_refcard_t *c);

/* Index of the distribution called name, or -1. */
int ss_refcard_find(const ss_refcard_t *c, const char *name);

/* Bin of a histogram value by the rule above; SS_REF_NO_BIN for NaN. */
int ss_ref_dist_bin(const ss_ref_dist_t *d, double v);

/* What one prediction offers to the reference distributions. */
typedef struct ss_ref_obs {
        int label;     /* predicted label 0..2 */
        float prob[3]; /* class probabilities */
        int has_stats; /* 0: the prediction carries no input statistics */
        int32_t n_tokens;
        float unk_share;
        uint8_t has_url, has_mention, has_emoji;
} ss_ref_obs_t;

/* Bins an observation for every distribution of the card: row[ndists], SS_REF_NO_BIN
 * where the observation has no value (unknown distribution, no input statistics, a
 * category the card lacks). */
void ss_refcard_bin(const ss_refcard_t *c, const ss_ref_obs_t *o, uint8_t *row);

/* Parses ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS[.fff]Z" into epoch ms; -1 if malformed. */
int64_t ss_refcard_parse_time(const char *s);

#endif /* SS_REFCARD_H */
