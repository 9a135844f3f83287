/*
 * sentistream eval MODEL DATA [--json] [--batch N] [key=value ...]
 *
 * Scores a labelled data file (TSV or JSON lines, as in data/) with a model
 * file and prints AvgRec, F1-PN, accuracy, macro-F1, per-class precision /
 * recall / F1 and the confusion matrix: a table for people, or one JSON object
 * with --json ({"model": {...}, "data": {...}, "metrics": {...}}, the metrics
 * object having the card's layout), and the expected calibration error (15
 * bins) of the raw probabilities, after the model's temperature, and after
 * the temperature and its top-label map (the probabilities the model scores
 * with, calib.h). A bad line of DATA (unparsable, invalid
 * UTF-8, empty text, no label) is reported on stderr as
 * "sentistream eval: FILE:LINE: reason (line skipped)", the rest is evaluated,
 * and the report counts the skipped lines. Exit status: 0 ok, 1 runtime failure
 * (model or data unreadable, no good line), 2 usage or configuration error,
 * 3 evaluated with some lines skipped (as `score` exits 3 with error records).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "card.h"
#include "cardfill.h"
#include "cli_util.h"
#include "cmd.h"
#include "dataset.h"
#include "model.h"

static void ss_eval_usage(FILE *out)
{
        fprintf(out, "usage: sentistream eval MODEL DATA [--json] [--batch N] [key=value ...]\n");
}

static void ss_eval_on_bad_line(ss_err_t err, const char *msg, void *opaque)
{
        (void)opaque;
        fprintf(stderr, "sentistream eval: %s [%s] (line skipped)\n", msg, ss_err2name(err));
}

/* Expected calibration error: raw (before), after the temperature, after both (after). */
typedef struct ss_eval_calib {
        double temperature, ece_before, ece_temperature, ece_after;
        int has_toplabel;
} ss_eval_calib_t;

/* Scores ds once raw: the metrics (neither step of the calibration changes an argmax) and the
 * ECE of the raw, the tempered and the calibrated probabilities. */
static ss_err_t ss_eval_score(ss_model_t *m, const ss_dataset_t *ds, size_t batch, ss_eval_t *e,
                              ss_eval_calib_t *cal, char *errstr, size_t errstr_size)
{
        float *probs = malloc((ds->n ? ds->n : 1) * SS_NUM_CLASSES * sizeof(float)); /* [n][C] */
        if (!probs)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        ss_err_t err =
            ss_model_score_raw(m, ds->texts, ds->lens, ds->n, batch, probs, errstr, errstr_size);
        if (!err) {
                ss_eval_init(e);
                for (size_t i = 0; i < ds->n; i++)
                        ss_eval_add(e, ds->labels[i], ss_probs_argmax(probs + i * SS_NUM_CLASSES));
                ss_eval_finish(e);
                cal->temperature = ss_model_temperature(m);
                cal->ece_before = ss_calib_ece(probs, ds->labels, ds->n, SS_CALIB_ECE_BINS);
                ss_calib_apply(probs, ds->n, cal->temperature);
                cal->ece_temperature = ss_calib_ece(probs, ds->labels, ds->n, SS_CALIB_ECE_BINS);
                ss_calib_top_t top;
                ss_model_toplabel(m, &top);
                cal->has_toplabel = !ss_calib_top_is_identity(&top);
                ss_calib_top_apply(&top, probs, ds->n);
                cal->ece_after = ss_calib_ece(probs, ds->labels, ds->n, SS_CALIB_ECE_BINS);
        }
        free(probs);
        return err;
}

static void ss_eval_print_table(const ss_model_t *m, const char *model_path, const ss_dataset_t *ds,
                                const ss_eval_t *e, size_t skipped, const ss_eval_calib_t *cal)
{
        printf("model     %s  (%s, %s, %s)\n", model_path, ss_model_kind(m), ss_model_name(m),
               ss_model_version(m));
        printf("data      %s  (%lld tweets", ds->path, (long long)e->n);
        if (skipped)
                printf("; %zu bad lines skipped, see stderr", skipped);
        printf(")\n\n");
        printf("AvgRec    %.4f\nF1-PN     %.4f\naccuracy  %.4f\nmacro-F1  %.4f\n\n", e->avgrec,
               e->f1_pn, e->accuracy, e->macro_f1);
        printf("confusion (rows = true label, columns = predicted)\n");
        printf("%-10s %10s %10s %10s\n", "", "negative", "neutral", "positive");
        for (int t = 0; t < SS_NUM_CLASSES; t++)
                printf("%-10s %10lld %10lld %10lld\n", ss_label_name(t),
                       (long long)e->confusion[t][0], (long long)e->confusion[t][1],
                       (long long)e->confusion[t][2]);
        printf("\n%-10s %10s %10s %10s %10s\n", "class", "precision", "recall", "f1", "support");
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                printf("%-10s %10.4f %10.4f %10.4f %10lld\n", ss_label_name(c), e->precision[c],
                       e->recall[c], e->f1[c], (long long)e->support[c]);
        printf("\ncalibration temperature %.4f%s: ECE (%d bins) %.4f before, %.4f after the "
               "temperature, %.4f after\n",
               cal->temperature, cal->has_toplabel ? " + top-label map" : "", SS_CALIB_ECE_BINS,
               cal->ece_before, cal->ece_temperature, cal->ece_after);
}

static int ss_eval_print_json(const ss_model_t *m, const char *model_path, const ss_dataset_t *ds,
                              const ss_eval_t *e, size_t skipped, const ss_eval_calib_t *cal)
{
        cJSON *root = cJSON_CreateObject();
        cJSON *mo = cJSON_AddObjectToObject(root, "model");
        cJSON_AddStringToObject(mo, "file", model_path);
        cJSON_AddStringToObject(mo, "kind", ss_model_kind(m));
        cJSON_AddStringToObject(mo, "name", ss_model_name(m));
        cJSON_AddStringToObject(mo, "version", ss_model_version(m));
        cJSON *d = cJSON_AddObjectToObject(root, "data");
        cJSON_AddStringToObject(d, "path", ds->path);
        cJSON_AddStringToObject(d, "sha256", ds->sha256);
        cJSON_AddNumberToObject(d, "n", (double)ds->n);
        cJSON_AddNumberToObject(d, "skipped", (double)skipped);
        cJSON_AddItemToObject(root, "metrics", ss_card_eval_json(e));
        cJSON *c = cJSON_AddObjectToObject(root, "calibration");
        cJSON_AddNumberToObject(c, "temperature", cal->temperature);
        cJSON_AddNumberToObject(c, "ece_bins", SS_CALIB_ECE_BINS);
        cJSON_AddBoolToObject(c, "toplabel", cal->has_toplabel);
        cJSON_AddNumberToObject(c, "ece_before", cal->ece_before);
        cJSON_AddNumberToObject(c, "ece_temperature", cal->ece_temperature);
        cJSON_AddNumberToObject(c, "ece_after", cal->ece_after);
        char *s = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!s)
                return 1;
        printf("%s\n", s);
        free(s);
        return 0;
}

int ss_cmd_eval(int argc, char **argv)
{
        const char *pos[2] = {NULL, NULL};
        int npos = 0, json = 0;
        long long batch = 0;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(a, "--json")) {
                        json = 1;
                } else if (!strcmp(a, "--batch")) {
                        if (ss_cli_flag_ll("eval", a, i + 1 < argc ? argv[++i] : NULL, 1, 1 << 20,
                                           &batch)) {
                                ss_cli_args_free(&args);
                                return 2;
                        }
                } else if (a[0] != '-' && npos < 2) {
                        pos[npos++] = a;
                } else {
                        return ss_cli_args_reject(&args, "eval", a, ss_eval_usage);
                }
        }
        if (npos != 2) {
                ss_eval_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        const char *p = ss_config_get_str(cfg, "log.progress");
        if (strcmp(p, "auto"))
                setenv("SS_PROGRESS", strcmp(p, "on") ? "0" : "1", 1);
        if (!batch)
                batch = (long long)ss_config_get_int(cfg, "train.batch.size");
        ss_config_destroy(cfg);

        char err[1024];
        int rc = 1;
        ss_dataset_t *ds = NULL;
        size_t skipped = 0;
        ss_model_t *m = ss_model_load(pos[0], err, sizeof(err));
        if (!m || !(ds = ss_dataset_load_lenient(pos[1], ss_eval_on_bad_line, NULL, &skipped, err,
                                                 sizeof(err)))) {
                fprintf(stderr, "sentistream eval: %s\n", err);
                goto out;
        }
        ss_eval_t e;
        ss_eval_calib_t cal = {1, 0, 0, 0, 0};
        if (ss_eval_score(m, ds, (size_t)batch, &e, &cal, err, sizeof(err))) {
                fprintf(stderr, "sentistream eval: %s\n", err);
                goto out;
        }
        if (json)
                rc = ss_eval_print_json(m, pos[0], ds, &e, skipped, &cal);
        else {
                ss_eval_print_table(m, pos[0], ds, &e, skipped, &cal);
                rc = 0;
        }
        if (rc == 0 && skipped)
                rc = 3;
out:
        ss_dataset_destroy(ds);
        ss_model_destroy(m);
        return rc;
}
