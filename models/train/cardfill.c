/*
 * cardfill: fills a model card (card.h) from a trained model and its data.
 *
 * ss_cardfill_evaluate() scores a data set in batches through the generic
 * model interface and counts both the evaluation and the reference
 * distributions in one pass, so the same code serves every model kind and
 * `sentistream eval` reports exactly what the card records.
 */
#include "cardfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_util.h"

ss_err_t ss_cardfill_evaluate(ss_model_t *m, const ss_dataset_t *ds, size_t batch, ss_eval_t *ev,
                              ss_card_ref_t *ref, const char *label, char *errstr,
                              size_t errstr_size)
{
        if (batch == 0)
                batch = 512;
        float *probs = malloc(batch * SS_NUM_CLASSES * sizeof(*probs)); /* [batch][C] */
        ss_input_stats_t *stats = malloc(batch * sizeof(*stats));       /* [batch] */
        if (!probs || !stats) {
                free(probs);
                free(stats);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        ss_eval_init(ev);
        if (ref)
                ss_card_ref_init(ref);
        ss_progress_t prog;
        ss_progress_init(&prog, label ? label : "", ds->n);
        if (!label)
                prog.enabled = 0;
        ss_err_t err = SS_OK;
        for (size_t lo = 0; lo < ds->n; lo += batch) {
                size_t nb = ds->n - lo < batch ? ds->n - lo : batch;
                err = ss_model_score_batch(m, ds->texts + lo, ds->lens + lo, nb, probs,
                                           ref ? stats : NULL, errstr, errstr_size);
                if (err)
                        break;
                for (size_t i = 0; i < nb; i++) {
                        const float *p = probs + i * SS_NUM_CLASSES;
                        ss_eval_add(ev, ds->labels[lo + i], ss_probs_argmax(p));
                        if (ref)
                                ss_card_ref_add(ref, p, &stats[i]);
                }
                ss_progress_update(&prog, lo + nb, NULL);
        }
        ss_progress_done(&prog);
        ss_eval_finish(ev);
        free(probs);
        free(stats);
        return err;
}

ss_err_t ss_cardfill_model(ss_card_t *c, const ss_model_t *m, const char *model_path, char *errstr,
                           size_t errstr_size)
{
        snprintf(c->kind, sizeof(c->kind), "%s", ss_model_kind(m));
        snprintf(c->name, sizeof(c->name), "%s", ss_model_name(m));
        snprintf(c->version, sizeof(c->version), "%s", ss_model_version(m));
        snprintf(c->file, sizeof(c->file), "%s", model_path);
        return ss_sha256_file_hex(model_path, c->file_sha256, errstr, errstr_size);
}

void ss_cardfill_data(ss_card_data_t *d, const ss_dataset_t *ds)
{
        snprintf(d->path, sizeof(d->path), "%s", ds->path);
        memcpy(d->sha256, ds->sha256, sizeof(d->sha256));
        d->n = (int64_t)ds->n;
}
