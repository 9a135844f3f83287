/*
 * cmd_tail: `sentistream tail TOPIC [--max N] [--timeout S] [key=value ...]`
 * prints the messages of a topic as JSON lines, decoded by their schema id
 * (Tweet, Prediction, DeadLetter, RetrainEvent; JSON tweets pass through).
 *
 * The reading and decoding is ss_cli_tail_topic() (cli_tail.c), which
 * `monitor events` shares. Exit status: 0, 1 if any message did not decode or the end
 * was not reached in time, 2 on usage or config errors.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "cmd.h"
#include "ss_stop.h"

static void ss_tail_usage(FILE *out)
{
        fprintf(out, "usage: sentistream tail TOPIC [--max N] [--timeout S] [--config-dir DIR] "
                     "[key=value ...]\n"
                     "  prints a topic's messages from the beginning as JSON lines\n"
                     "  e.g. sentistream tail tweet-predictions --max 5\n");
}

int ss_cmd_tail(int argc, char **argv)
{
        const char *topic = NULL;
        long long max = 0;
        double timeout_s = 30;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                int bad = 0;
                if (!strcmp(argv[i], "--max")) {
                        bad = ss_cli_flag_ll("tail", argv[i], v, 0, LLONG_MAX, &max);
                        i++;
                } else if (!strcmp(argv[i], "--timeout")) {
                        bad = ss_cli_flag_double("tail", argv[i], v, 0.001, 1e9, &timeout_s);
                        i++;
                } else if (!topic && argv[i][0] != '-') {
                        topic = argv[i];
                } else {
                        return ss_cli_args_reject(&args, "tail", argv[i], ss_tail_usage);
                }
                if (bad) {
                        ss_cli_args_free(&args);
                        return 2;
                }
        }
        if (!topic) {
                ss_tail_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        const char *config_dir = args.config_dir;
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char *schema_dir = ss_cli_schema_dir(c, config_dir);
        int status = 2;
        if (!schema_dir) {
                fprintf(stderr, "sentistream tail: out of memory\n");
        } else {
                ss_stop_install();
                status = ss_cli_tail_topic(c, schema_dir, topic, max, timeout_s, ss_stop_flag());
        }
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
