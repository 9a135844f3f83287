/*
 * cardfill: what only the models layer can put into a model card: the
 * evaluation and reference distributions measured by scoring a data set with
 * a model, the model's identity, and data set descriptions. The card format
 * itself (writing and reading) is card.h, which needs no model code.
 */
#ifndef SS_CARDFILL_H
#define SS_CARDFILL_H

#include <stddef.h>

#include "card.h"
#include "dataset.h"
#include "evalm.h"
#include "model.h"

/*
 * Scores every row of ds with m in batches of batch texts; fills ev (finished)
 * and, if ref is non-NULL, the reference distributions. A progress line shows
 * on a terminal under label (NULL: none).
 */
ss_err_t ss_cardfill_evaluate(ss_model_t *m, const ss_dataset_t *ds, size_t batch, ss_eval_t *ev,
                              ss_card_ref_t *ref, const char *label, char *errstr,
                              size_t errstr_size);

/* Fills kind, name, version, file and file_sha256 from a model and its file. */
ss_err_t ss_cardfill_model(ss_card_t *c, const ss_model_t *m, const char *model_path, char *errstr,
                           size_t errstr_size);

/* Fills a data description from a loaded data set. */
void ss_cardfill_data(ss_card_data_t *d, const ss_dataset_t *ds);

#endif /* SS_CARDFILL_H */
