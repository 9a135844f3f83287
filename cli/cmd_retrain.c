/*
 * cmd_retrain: `sentistream retrain [--config-dir DIR] [key=value ...]`, the retrain
 * worker (retrain/retrain.h): consumes topics.retrain in group retrain.group.id, retrains
 * each event's model once on fresh labels, promotes the challenger when it wins and
 * publishes a ModelUpdate to topics.model_updates. Needs tracking.uri (the registry),
 * Redis (labels, locks, handled events) and Kafka. SIGTERM and SIGINT stop it between
 * steps; an event in progress is then neither recorded nor committed, and is handled again
 * (or resumed from the registry) by the next worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "retrain.h"
#include "ss_stop.h"

static void ss_retrain_usage(FILE *out)
{
        fprintf(out,
                "usage: sentistream retrain [--config-dir DIR] [key=value ...]\n"
                "  the retrain worker: RetrainEvents of topics.retrain in, a challenger trained\n"
                "  on the champion's training files plus the fresh labels (with text) of Redis\n"
                "  <redis.prefix>labels, judged against the champion on the newest fresh labels\n"
                "  and the reference set, promoted to @champion when it wins; a ModelUpdate to\n"
                "  topics.model_updates. Keys: retrain.* (sentistream config doc)\n"
                "  e.g. sentistream retrain tracking.uri=http://127.0.0.1:5000 "
                "retrain.metrics.port=9466\n");
}

int ss_cmd_retrain(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                return ss_cli_args_reject(&args, "retrain", argv[i], ss_retrain_usage);
        }
        const char *config_dir = args.config_dir ? args.config_dir : ss_cli_config_dir_default();
        ss_config_t *c = ss_cli_config_load(args.noverrides, args.overrides, args.config_dir);
        if (!c) {
                ss_cli_args_free(&args);
                return 2;
        }
        char *schema_dir = ss_cli_schema_dir(c, config_dir);
        char err[1024];
        ss_retrain_t *w = ss_retrain_new(c, config_dir, args.noverrides, args.overrides, schema_dir,
                                         err, sizeof(err));
        ss_cli_args_free(&args);
        int status = 2;
        if (!w) {
                fprintf(stderr, "sentistream retrain: %s\n", err);
        } else {
                ss_stop_install();
                status = ss_retrain_run(w);
        }
        ss_retrain_destroy(w);
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
