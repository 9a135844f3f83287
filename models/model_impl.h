/*
 * model_impl: what a model kind implements to sit behind models/model.h.
 *
 * A kind is one ss_model_kind_t: a name and three functions. ss_model_load()
 * reads and validates the model file (mfile.h), checks the labels, finds the
 * kind by the file's kind string and calls its load(). The container stays
 * alive as long as the model, so a kind may point straight into its sections
 * (16-byte aligned) instead of copying weights.
 *
 * Adding a kind: implement the three functions in models/<kind>.c, declare its
 * ss_model_kind_t below, and add one line to the registry in models/model.c.
 */
#ifndef SS_MODEL_IMPL_H
#define SS_MODEL_IMPL_H

#include "mfile.h"
#include "model.h"

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

/* The kinds (one line each). */
extern const ss_model_kind_t ss_logreg_kind;
extern const ss_model_kind_t ss_minilm_kind;
extern const ss_model_kind_t ss_cnn_kind;
extern const ss_model_kind_t ss_minilm_ft_kind; /* minilm.c: the minilm kind, fine-tuned */

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
