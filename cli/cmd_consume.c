/*
 * cmd_consume: `sentistream consume [--config-dir DIR] [key=value ...]`, the
 * streaming scorer (consumer/consume.h). SIGTERM and SIGINT stop it cleanly
 * (finish the batch, wait for outputs, commit, leave the group, exit 0);
 * SIGHUP reloads the model between batches.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "consume.h"
#include "ss_log.h"
#include "ss_stop.h"

static void ss_consume_on_hup(int sig)
{
        (void)sig;
        ss_consume_request_reload();
}

static void ss_consume_usage(FILE *out)
{
        fprintf(out, "usage: sentistream consume [--config-dir DIR] [key=value ...]\n"
                     "  scores topics.input into topics.output (dead letters: topics.dlq)\n"
                     "  signals: TERM/INT stop cleanly, HUP reloads the model\n"
                     "  e.g. consumer.model.path=models-out/logreg.ssm metrics.port=9464\n");
}

int ss_cmd_consume(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                return ss_cli_args_reject(&args, "consume", argv[i], ss_consume_usage);
        }
        const char *config_dir = args.config_dir;
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char *schema_dir = ss_cli_schema_dir(c, config_dir);

        ss_stop_install();
        struct sigaction sa = {0};
        sa.sa_handler = ss_consume_on_hup;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);

        char err[1024];
        int status = 0;
        ss_consume_t *s = ss_consume_new(c, schema_dir, err, sizeof(err));
        if (!s || ss_consume_run(s, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "sentistream consume: %s\n", err);
                status = 1;
        }
        ss_consume_destroy(s);
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
