/*
 * cmd_monitor: `sentistream monitor [--config-dir DIR] [key=value ...]`, the
 * drift monitor (monitor/monitor.h), and `sentistream monitor events`, which
 * prints the retraining events of topics.retrain as JSON lines (one per
 * event, oldest first; the same lines as `sentistream tail`) for operators
 * and tests. SIGTERM and SIGINT stop the
 * monitor cleanly (final snapshot, offsets committed, group left).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "card.h"
#include "monitor.h"
#include "ss_modelreg.h"
#include "ss_log.h"
#include "ss_stop.h"

static void ss_monitor_usage(FILE *out)
{
        fprintf(
            out,
            "usage: sentistream monitor [--config-dir DIR] [key=value ...]\n"
            "       sentistream monitor events [--timeout S] [--config-dir DIR] [key=value ...]\n"
            "       sentistream monitor replay MODEL DATA [--labels] [--report FILE] [key=value "
            "...]\n"
            "       sentistream monitor report --html FILE [--json REPORT] [key=value ...]\n"
            "  monitor: watches topics.output for drift (PSI, KL against the model card) and\n"
            "           falling F1 (labels from Redis <redis.prefix>labels); retraining\n"
            "           events go to topics.retrain, the latest report to Redis\n"
            "           <redis.prefix>monitor:report:<model name>\n"
            "  events:  prints every event of topics.retrain as one JSON line and exits\n"
            "           (after the end of the topic, or S seconds, default 10)\n"
            "  replay:  scores DATA with MODEL through the monitor offline; events as JSON\n"
            "           lines, the final report to FILE\n"
            "  report:  the drift report as one self-contained HTML page, from the report in\n"
            "           Redis (model.name) or a saved report JSON\n"
            "  e.g. sentistream monitor monitor.card=models-out/logreg.card.json "
            "monitor.metrics.port=9465\n");
}

/* ss_monitor_card_fetch_fn: models:/NAME/VERSION from tracking.uri into
 * monitor.model.cache_dir (sha256-checked, the card beside the model file). */
static ss_err_t ss_monitor_card_fetch(void *opaque, const char *name, const char *version,
                                      char *card_path, size_t card_path_size, char *errstr,
                                      size_t errstr_size)
{
        const ss_config_t *c = opaque;
        const char *tracking = ss_config_get_str(c, "tracking.uri");
        if (!*tracking)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "tracking.uri is empty");
        char uri[512];
        snprintf(uri, sizeof(uri), "models:/%s/%s", name, version);
        ss_modelreg_pick_t pick;
        ss_err_t e = ss_modelreg_resolve(
            tracking, uri, ss_config_get_str(c, "monitor.model.cache_dir"),
            (long)ss_config_get_int(c, "tracking.timeout.ms"), &pick, errstr, errstr_size);
        if (!e)
                ss_card_path(pick.path, card_path, card_path_size);
        return e;
}

int ss_cmd_monitor(int argc, char **argv)
{
        if (argc > 0 && !strcmp(argv[0], "replay"))
                return ss_cmd_monitor_replay(argc - 1, argv + 1);
        if (argc > 0 && !strcmp(argv[0], "report"))
                return ss_cmd_monitor_report(argc - 1, argv + 1);
        int events = 0;
        double timeout_s = 10;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--timeout")) {
                        if (ss_cli_flag_double("monitor", argv[i],
                                               i + 1 < argc ? argv[i + 1] : NULL, 0.001, 1e9,
                                               &timeout_s)) {
                                ss_cli_args_free(&args);
                                return 2;
                        }
                        i++;
                } else if (!strcmp(argv[i], "events") && i == 0) {
                        events = 1;
                } else {
                        return ss_cli_args_reject(&args, "monitor", argv[i], ss_monitor_usage);
                }
        }
        const char *config_dir = args.config_dir;
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char *schema_dir = ss_cli_schema_dir(c, config_dir);
        ss_stop_install();

        int status = 0;
        if (events) {
                status = ss_cli_tail_topic(c, schema_dir, ss_config_get_str(c, "topics.retrain"), 0,
                                           timeout_s, ss_stop_flag());
        } else {
                char err[1024];
                ss_monitor_t *m = ss_monitor_new(c, schema_dir, err, sizeof(err));
                if (m)
                        ss_monitor_set_card_fetch(m, ss_monitor_card_fetch, c);
                if (!m || ss_monitor_run(m, ss_stop_flag(), err, sizeof(err)) != SS_OK) {
                        fprintf(stderr, "sentistream monitor: %s\n", err);
                        status = 1;
                }
                ss_monitor_destroy(m);
        }
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
