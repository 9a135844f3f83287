/*
 * sentistream config: shows the composed configuration or documents the keys.
 *   sentistream config show [--config-dir DIR] [group=option] [key=value ...]
 *   sentistream config doc
 * `show` prints `key: value  # origin` lines sorted by key (kafka.* pass-through
 * properties included) and exits 2 with the reason on a bad config. Every
 * argument that is not an option goes to the loader as an override, so a stray
 * word without '=' is reported, not ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"

static void ss_cmd_config_usage(FILE *out)
{
        fprintf(out, "usage: sentistream config show [--config-dir DIR] [group=option] "
                     "[key=value ...]\n"
                     "       sentistream config doc\n");
}

static int ss_cmd_config_show(int argc, char **argv)
{
        const char *config_dir = NULL;
        char **overrides = calloc((size_t)argc + 1, sizeof(char *)); /* [argc] */
        int n = 0;
        if (!overrides) {
                fprintf(stderr, "sentistream config: out of memory\n");
                return 1;
        }
        for (int i = 0; i < argc; i++) {
                if (!strcmp(argv[i], "--config-dir")) {
                        if (i + 1 == argc) {
                                fprintf(stderr, "sentistream config: --config-dir needs a "
                                                "directory\n");
                                free(overrides);
                                return 2;
                        }
                        config_dir = argv[++i];
                } else if (!strncmp(argv[i], "--config-dir=", 13)) {
                        config_dir = argv[i] + 13;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        ss_cmd_config_usage(stdout);
                        free(overrides);
                        return 0;
                } else if (argv[i][0] == '-') {
                        fprintf(stderr, "sentistream config: unknown option '%s'\n", argv[i]);
                        ss_cmd_config_usage(stderr);
                        free(overrides);
                        return 2;
                } else {
                        overrides[n++] = argv[i];
                }
        }
        ss_config_t *c = ss_cli_config_load(n, overrides, config_dir);
        free(overrides);
        if (!c)
                return 2;
        ss_config_print(c, stdout);
        ss_config_destroy(c);
        return 0;
}

int ss_cmd_config(int argc, char **argv)
{
        if (argc < 1) {
                ss_cmd_config_usage(stderr);
                return 2;
        }
        if (!strcmp(argv[0], "show"))
                return ss_cmd_config_show(argc - 1, argv + 1);
        if (!strcmp(argv[0], "doc")) {
                if (argc > 1) {
                        ss_cmd_config_usage(stderr);
                        return 2;
                }
                ss_config_print_doc(stdout);
                return 0;
        }
        if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
                ss_cmd_config_usage(stdout);
                return 0;
        }
        fprintf(stderr, "sentistream config: unknown action '%s'\n", argv[0]);
        ss_cmd_config_usage(stderr);
        return 2;
}
