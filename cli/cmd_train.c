/*
 * sentistream train [--config-dir DIR] [key=value ...]
 *
 * Trains the model kind named by model.kind and writes the model file
 * (model.out, default models-out/<kind>.ssm) and its card beside it. The
 * pipeline and every kind's trainer live in models/ (train.h); this command
 * only reads its arguments. Exit status: 0 ok, 1 runtime failure (data,
 * training, I/O), 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "train.h"

static void ss_train_usage(FILE *out)
{
        fprintf(out, "usage: sentistream train [--config-dir DIR] [key=value ...]\n"
                     "  trains model.kind on data.train (tuning on data.tune.share of it),\n"
                     "  writes model.out and its card (metrics on data.validation)\n");
}

static void ss_progress_from_config(const ss_config_t *c)
{
        const char *p = ss_config_get_str(c, "log.progress");
        if (!strcmp(p, "on"))
                setenv("SS_PROGRESS", "1", 1);
        else if (!strcmp(p, "off"))
                setenv("SS_PROGRESS", "0", 1);
}

int ss_cmd_train(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                return ss_cli_args_reject(&args, "train", argv[i], ss_train_usage);
        }
        const char *config_dir = args.config_dir;
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        ss_progress_from_config(cfg);
        int rc = ss_train_run(cfg, config_dir ? config_dir : ss_cli_config_dir_default());
        ss_config_destroy(cfg);
        return rc;
}
