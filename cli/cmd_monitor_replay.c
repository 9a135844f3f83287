/*
 * sentistream monitor replay MODEL DATA [--labels] [--report FILE] [key=value ...]
 *
 * The drift monitor's processing path offline: scores a labelled data file
 * (TSV or JSON lines, as in data/) with MODEL in file order, feeds every
 * prediction to a monitor core (mcore.h) with the card beside MODEL (or
 * monitor.card) and the monitor.* configuration, and prints each retraining
 * event as one JSON line (as `sentistream monitor events` does). With
 * --labels the rows' labels are joined too (measured F1 beside the estimated
 * one). The final report (the JSON the monitor writes to Redis) goes to
 * --report FILE. Prediction i is stamped scored_at = 1 ms after prediction
 * i - 1, so window ids and events are functions of the file alone.
 *
 * This is how the known answers of the label-shift estimate are checked for
 * every model kind without Kafka or Redis (tests/integration/
 * test_monitor_known_answers.sh). Exit status: 0 ok, 1 runtime failure, 2 usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "cli_util.h"
#include "cmd.h"
#include "dataset.h"
#include "mcore.h"
#include "model.h"
#include "monitor.h"
#include "ss_serde.h"

#define REPLAY_T0    1700000000000LL /* scored_at of the first prediction */
#define REPLAY_BATCH 256

static void replay_usage(FILE *out)
{
        fprintf(out, "usage: sentistream monitor replay MODEL DATA [--labels] [--report FILE] "
                     "[--config-dir DIR] [key=value ...]\n");
}

/* Prints the queued events as JSON lines and drains the queue. */
static void replay_events(ss_mcore_t *core, const ss_serde_t *serde)
{
        const ss_mcore_event_t *e;
        char err[256];
        while ((e = ss_mcore_event_peek(core))) {
                ss_retrain_event_t ev = {0};
                if (ss_serde_retrain_event_decode(serde, e->value.data, e->value.len, &ev, err,
                                                  sizeof(err)) == SS_OK) {
                        cJSON *o = cJSON_CreateObject();
                        ss_cli_event_json(o, &ev);
                        char *s = cJSON_PrintUnformatted(o);
                        if (s)
                                printf("%s\n", s);
                        free(s);
                        cJSON_Delete(o);
                } else {
                        fprintf(stderr, "sentistream monitor replay: event %s: %s\n", e->event_id,
                                err);
                }
                ss_retrain_event_clear(&ev);
                ss_mcore_event_done(core);
        }
}

/* Feeds rows [lo, lo + n) scored into probs/stats. */
static void replay_feed(ss_mcore_t *core, const ss_model_t *m, const ss_dataset_t *ds, size_t lo,
                        size_t n, const float *probs, const ss_input_stats_t *stats, int labels)
{
        for (size_t i = 0; i < n; i++) {
                size_t r = lo + i;
                const float *p = probs + i * SS_NUM_CLASSES;
                int64_t t = REPLAY_T0 + (int64_t)r;
                ss_prediction_t pr = {.tweet_id = ss_str_c(ds->ids[r]),
                                      .label = ss_probs_argmax(p),
                                      .probs = {p[0], p[1], p[2]},
                                      .model_name = ss_str_c(ss_model_name(m)),
                                      .model_version = ss_str_c(ss_model_version(m)),
                                      .created_at = t,
                                      .scored_at = t,
                                      .has_input_stats = true,
                                      .input_stats = stats[i]};
                ss_mcore_ingest_decoded(core, &pr, t);
                if (labels)
                        ss_mcore_ingest_label(core, ds->ids[r], strlen(ds->ids[r]), ds->labels[r],
                                              t, t);
        }
}

static int replay_run(const ss_config_t *c, const char *schema_dir, const char *model_path,
                      const char *data_path, int labels, const char *report_path)
{
        char err[1024];
        int rc = 1;
        ss_model_t *m = NULL;
        ss_dataset_t *ds = NULL;
        ss_serde_t *serde = NULL;
        ss_mcore_t *core = NULL;
        float *probs = malloc(REPLAY_BATCH * SS_NUM_CLASSES * sizeof(float)); /* [B][C] */
        ss_input_stats_t *stats = malloc(REPLAY_BATCH * sizeof(*stats));      /* [B] */
        char card_path[1100];
        const char *cards = ss_config_get_str(c, "monitor.card");
        if (*cards)
                snprintf(card_path, sizeof(card_path), "%s", cards);
        else
                ss_card_path(model_path, card_path, sizeof(card_path));
        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        ss_mcore_config_t mc;
        ss_mcore_config_from(&mc, c);
        if (!probs || !stats || !(m = ss_model_load(model_path, err, sizeof(err))) ||
            !(ds = ss_dataset_load(data_path, err, sizeof(err))) ||
            !(serde = ss_serde_new(schema_dir, &ids, 0, err, sizeof(err))) ||
            !(core = ss_mcore_new(&mc, serde, NULL, err, sizeof(err))))
                goto out;
        ss_card_view_t *card = ss_card_view_load(card_path, err, sizeof(err));
        if (!card || ss_mcore_add_card(core, card, err, sizeof(err)))
                goto out;
        for (size_t lo = 0; lo < ds->n; lo += REPLAY_BATCH) {
                size_t n = ds->n - lo < REPLAY_BATCH ? ds->n - lo : REPLAY_BATCH;
                if (ss_model_score_batch(m, ds->texts + lo, ds->lens + lo, n, probs, stats, err,
                                         sizeof(err)))
                        goto out;
                replay_feed(core, m, ds, lo, n, probs, stats, labels);
                replay_events(core, serde);
        }
        if (report_path) {
                const char *name;
                char *json = ss_mcore_nnames(core) ? ss_mcore_report_json(core, 0, &name) : NULL;
                FILE *f = json ? fopen(report_path, "w") : NULL;
                int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
                ok = (f && fclose(f) == 0) && ok;
                free(json);
                if (!ok) {
                        snprintf(err, sizeof(err), "%s: %s", report_path,
                                 json ? "cannot write"
                                      : "no evaluation (fewer rows than "
                                        "monitor.eval.every?)");
                        goto out;
                }
        }
        rc = 0;
out:
        if (rc)
                fprintf(stderr, "sentistream monitor replay: %s\n", err);
        ss_mcore_destroy(core);
        ss_serde_destroy(serde);
        ss_dataset_destroy(ds);
        ss_model_destroy(m);
        free(probs);
        free(stats);
        return rc;
}

int ss_cmd_monitor_replay(int argc, char **argv)
{
        const char *pos[2] = {NULL, NULL}, *report = NULL;
        int npos = 0, labels = 0;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--labels")) {
                        labels = 1;
                } else if (!strcmp(argv[i], "--report") && i + 1 < argc) {
                        report = argv[++i];
                } else if (argv[i][0] != '-' && npos < 2) {
                        pos[npos++] = argv[i];
                } else {
                        return ss_cli_args_reject(&args, "monitor replay", argv[i], replay_usage);
                }
        }
        if (npos != 2) {
                replay_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        const char *config_dir = args.config_dir;
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char *schema_dir = ss_cli_schema_dir(c, config_dir);
        int rc = replay_run(c, schema_dir, pos[0], pos[1], labels, report);
        free(schema_dir);
        ss_config_destroy(c);
        return rc;
}
