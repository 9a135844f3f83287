/*
 * card: the model card, a JSON file beside every model file
 * (models-out/logreg.ssm -> models-out/logreg.card.json), written for every
 * model kind. Format "sentistream-model-card/1":
 *
 *   {"format", "model": {"kind","name","version","file","file_sha256"},
 *    "created_at" (ISO-8601 UTC), "git_commit", "hyperparameters": {...},
 *    "training_data": {"path","sha256","n"}, "validation_data": {...},
 *    "metrics": {"tune": {...}, "validation": {"n","avgrec","f1_pn","accuracy",
 *                "macro_f1","confusion": [[3x3, rows = true label]],
 *                "per_class": {"negative": {"precision","recall","f1","support"},...}}},
 *    "labels": ["negative","neutral","positive"],
 *    "reference": {"split": "validation", "n": N, "distributions": [...]}}
 *
 * Reference distributions (raw counts over the validation split, in this order):
 *   predicted_class (categorical), prob.negative / prob.neutral / prob.positive
 *   (histograms, edges 0, 0.1, ..., 1), input.n_tokens (histogram,
 *   ss_card_ntok_edges), input.unk_share (histogram, ss_card_unk_edges),
 *   input.has_url / input.has_mention / input.has_emoji (categorical no/yes).
 * Histogram rule: v goes to bin i with edges[i] <= v < edges[i+1]; below the
 * first edge -> bin 0; at or above the last edge -> the last bin.
 */
#ifndef SS_CARD_H
#define SS_CARD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "evalm.h"
#include "model.h"

#define SS_CARD_FORMAT "sentistream-model-card/1"

#define SS_CARD_PROB_BINS 10
#define SS_CARD_NTOK_BINS 12
#define SS_CARD_UNK_BINS  6

extern const double ss_card_prob_edges[SS_CARD_PROB_BINS + 1];
extern const double ss_card_ntok_edges[SS_CARD_NTOK_BINS + 1];
extern const double ss_card_unk_edges[SS_CARD_UNK_BINS + 1];

/* Bin of v in a histogram with nedges edges (nedges - 1 bins), by the rule above. */
int ss_card_hist_bin(const double *edges, int nedges, double v);

/* Reference distributions as raw counts. */
typedef struct ss_card_ref {
        int64_t n;
        int64_t predicted[SS_NUM_CLASSES];
        int64_t prob[SS_NUM_CLASSES][SS_CARD_PROB_BINS];
        int64_t n_tokens[SS_CARD_NTOK_BINS];
        int64_t unk_share[SS_CARD_UNK_BINS];
        int64_t has_url[2], has_mention[2], has_emoji[2]; /* [no, yes] */
} ss_card_ref_t;

void ss_card_ref_init(ss_card_ref_t *r);
/* Counts one scored text: probs [SS_NUM_CLASSES], st its input statistics. */
void ss_card_ref_add(ss_card_ref_t *r, const float *probs, const ss_input_stats_t *st);

/*
 * Scores every row of ds with m in batches of batch texts; fills ev (finished)
 * and, if ref is non-NULL, the reference distributions. A progress line shows
 * on a terminal under label (NULL: none).
 */
ss_err_t ss_card_evaluate(ss_model_t *m, const ss_dataset_t *ds, size_t batch, ss_eval_t *ev,
                          ss_card_ref_t *ref, const char *label, char *errstr, size_t errstr_size);

typedef struct ss_card_data {
        char path[512];
        char sha256[65];
        int64_t n;
} ss_card_data_t;

typedef struct ss_card {
        char kind[32], name[128], version[128];
        char file[512];         /* model file path */
        char file_sha256[65];   /* sha256 of the whole model file */
        int64_t created_at_ms;  /* epoch ms */
        char git_commit[64];    /* "unknown" when not in a git checkout */
        cJSON *hyperparameters; /* object; owned by the card (ss_card_clear frees it) */
        ss_card_data_t training, validation;
        int has_tune;   /* 1: tune metrics below are set */
        ss_eval_t tune; /* on the tune split (the model that chose hyper-parameters) */
        ss_eval_t validation_eval;
        ss_card_ref_t ref; /* over the validation split */
} ss_card_t;

/* Zeroes a card and sets git_commit to "unknown". */
void ss_card_init(ss_card_t *c);
/* Frees what the card owns (hyperparameters). */
void ss_card_clear(ss_card_t *c);

/* Fills kind, name, version, file and file_sha256 from a model and its file. */
ss_err_t ss_card_set_model(ss_card_t *c, const ss_model_t *m, const char *model_path, char *errstr,
                           size_t errstr_size);
/* Fills a data description from a loaded data set. */
void ss_card_set_data(ss_card_data_t *d, const ss_dataset_t *ds);

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

#endif /* SS_CARD_H */
