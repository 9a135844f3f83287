/*
 * sentistream: one binary, many subcommands. main() only dispatches; each
 * subcommand parses its own arguments (cli/cmd_<name>.c).
 */
#include <stdio.h>
#include <string.h>

#include "blascore.h"
#include "cmd.h"

static int ss_cmd_version(int argc, char **argv)
{
        printf("sentistream %s\n", SS_VERSION);
        return 0;
}

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *usage;
} ss_cmds[] = {
    /* one row per subcommand, in the order `sentistream --help` lists them */
    {"version", ss_cmd_version, "version                           print the program version"},
    {"config", ss_cmd_config,
     "config show|doc [key=value ...]   print the config or document its keys"},
    {"train", ss_cmd_train,
     "train [key=value ...]             train model.kind, write model.out and its card"},
    {"calibrate", ss_cmd_calibrate,
     "calibrate IN OUT [key=value ...]  fit IN's temperature and top-label map on its tune split"},
    {"eval", ss_cmd_eval,
     "eval MODEL DATA [--json]          AvgRec, F1-PN, accuracy, confusion, ECE on labelled data"},
    {"score", ss_cmd_score,
     "score MODEL [--batch N] [--raw] < tweets  score TSV/JSON lines from stdin to JSON lines"},
    {"consume", ss_cmd_consume,
     "consume [key=value ...]           score topics.input into topics.output (Kafka)"},
    {"produce", ss_cmd_produce,
     "produce FILE.tsv [--rate N] ...   replay a TSV of tweets into topics.input"},
    {"monitor", ss_cmd_monitor,
     "monitor [events] [key=value ...]  watch predictions for drift and F1 drops; events prints "
     "them"},
    {"label", ss_cmd_label,
     "label FILE.tsv [--rate N] ...     push human labels to Redis for the monitor"},
    {"tail", ss_cmd_tail,
     "tail TOPIC [--max N] ...          print a topic's messages as decoded JSON lines"},
    {"retrain", ss_cmd_retrain,
     "retrain [key=value ...]           the retrain worker: events in, a better champion out"},
    {"models", ss_cmd_models,
     "models register|list|show|promote|pull ...  the model registry on tracking.uri (MLflow)"},
    {"lineage", ss_cmd_lineage,
     "lineage models:/NAME/VERSION [--reproduce [--run DIR]]  run, commit, data, config of a "
     "version"},
    {"convert", ss_cmd_convert,
     "convert minilm SRC_DIR OUT.ssm    convert a sentence-transformers model folder into a model "
     "file"},
};

static void ss_usage(FILE *out)
{
        fprintf(out, "usage: sentistream COMMAND [args]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(ss_cmds) / sizeof(ss_cmds[0]); i++)
                fprintf(out, "  %s\n", ss_cmds[i].usage);
        fprintf(out, "\noverrides: key=value (e.g. model=cnn consumer.batch.size=256)\n");
}

int main(int argc, char **argv)
{
        ss_blascore_select(argv); /* the CPU's OpenBLAS kernels (may re-execute) */
        if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
            !strcmp(argv[1], "help")) {
                ss_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        for (size_t i = 0; i < sizeof(ss_cmds) / sizeof(ss_cmds[0]); i++)
                if (!strcmp(argv[1], ss_cmds[i].name))
                        return ss_cmds[i].run(argc - 2, argv + 2);
        fprintf(stderr, "sentistream: unknown command '%s'\n\n", argv[1]);
        ss_usage(stderr);
        return 2;
}
