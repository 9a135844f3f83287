/*
 * sentistream train [--config-dir DIR] [key=value ...]
 *
 * Trains the model kind named by model.kind and writes the model file
 * (model.out, default models-out/<kind>.ssm) and its card beside it. The
 * pipeline and every kind's trainer live in models/ (train.h); this command
 * reads its arguments and, with tracking.uri set, logs the run to MLflow
 * (registry/ss_track.h) through the pipeline's completion hook. Exit status: 0 ok, 1 runtime
 * failure (data, training, I/O), 2 usage or configuration error.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "cli_util.h"
#include "cmd.h"
#include "ss_track.h"
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

/* The tracked run, ended by the pipeline's completion hook (or after it, if the pipeline
 * stopped before reaching it). */
typedef struct train_tracking {
        ss_track_t *track;
        int ended;
} train_tracking_t;

static int train_on_done(int ok, const ss_card_t *card, const char *model_path,
                         const char *card_path, void *opaque)
{
        train_tracking_t *tt = opaque;
        char err[1024];
        tt->ended = 1;
        if (ss_track_end(tt->track, ok, ok ? card : NULL, ok ? model_path : NULL,
                         ok ? card_path : NULL, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        return 0;
}

static int train_tracked(const ss_config_t *cfg, const char *config_dir)
{
        char repo[1024], err[1024];
        snprintf(repo, sizeof(repo), "%s", config_dir ? config_dir : ".");
        const char *repo_dir = dirname(repo); /* git commit and dirty flag are asked here */
        train_tracking_t tt = {0};
        if (ss_track_begin(cfg, repo_dir, SS_VERSION, &tt.track, err, sizeof(err))) {
                fprintf(stderr, "sentistream train: %s\n", err);
                return 1;
        }
        int rc = ss_train_run_hook(cfg, config_dir, train_on_done, &tt);
        if (!tt.ended && ss_track_end(tt.track, 0, NULL, NULL, NULL, err, sizeof(err)))
                fprintf(stderr, "sentistream train: %s\n", err);
        return rc;
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
        int rc = train_tracked(cfg, config_dir ? config_dir : ss_cli_config_dir_default());
        ss_config_destroy(cfg);
        return rc;
}
