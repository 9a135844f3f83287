/*
 * sentistream calibrate IN OUT [--in-sample] [--config-dir DIR] [key=value ...]
 *
 * Fits the temperature and the top-label map of an existing model file on its
 * tune split, without training (models/train/train.h, ss_train_calibrate), and
 * writes OUT and its card. The key=value overrides name the training data and
 * split as `sentistream train` was given them. A kind whose final model saw its
 * tune rows (logreg, minilm) is refused unless --in-sample. Exit status: 0 ok, 1 runtime
 * failure, 2 usage or configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "train.h"

static void ss_calibrate_usage(FILE *out)
{
        fprintf(out, "usage: sentistream calibrate IN.ssm OUT.ssm [--in-sample] [--config-dir "
                     "DIR] [key=value ...]\n"
                     "  fits IN's temperature and top-label map on its tune split of data.train,\n"
                     "  writes OUT and its card (reference distributions through the new map)\n");
}

int ss_cmd_calibrate(int argc, char **argv)
{
        const char *pos[2] = {NULL, NULL};
        int npos = 0, in_sample = 0;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--in-sample"))
                        in_sample = 1;
                else if (argv[i][0] != '-' && npos < 2)
                        pos[npos++] = argv[i];
                else
                        return ss_cli_args_reject(&args, "calibrate", argv[i], ss_calibrate_usage);
        }
        if (npos != 2) {
                ss_calibrate_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        if (!strcmp(pos[0], pos[1])) {
                fprintf(stderr, "sentistream calibrate: OUT must differ from IN\n");
                ss_cli_args_free(&args);
                return 2;
        }
        const char *config_dir = args.config_dir;
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        int rc = ss_train_calibrate(cfg, config_dir ? config_dir : ss_cli_config_dir_default(),
                                    pos[0], pos[1], in_sample);
        ss_config_destroy(cfg);
        return rc;
}
