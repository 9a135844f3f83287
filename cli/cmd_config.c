/*
 * sentistream config: shows the composed configuration or documents the keys.
 *   sentistream config show [--config-dir DIR] [group=option] [key=value ...]
 *   sentistream config doc [--config-dir DIR] [group=option] [key=value ...]
 * `show` prints `key: value  # origin` lines sorted by key (kafka.* pass-through
 * properties included) and exits 2 with the reason on a bad config. `doc`
 * prints the key table (name, type, table default, allowed values) and then
 * every value the configuration files (or overrides) set, with the file that
 * sets it: the table default is
 * what a key is when no file mentions it, the second table what a run with
 * that configuration uses. Every argument that is not an option goes to the
 * loader as an override, so a stray word without '=' is reported, not ignored.
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
                     "       sentistream config doc [--config-dir DIR] [group=option] "
                     "[key=value ...]\n");
}

/* Composes the configuration from the arguments after the action. Returns NULL with
 * *status set (0 after --help, 2 on errors). */
static ss_config_t *ss_cmd_config_load(int argc, char **argv, int *status)
{
        const char *config_dir = NULL;
        char **overrides = calloc((size_t)argc + 1, sizeof(char *)); /* [argc] */
        int n = 0;
        *status = 2;
        if (!overrides) {
                fprintf(stderr, "sentistream config: out of memory\n");
                *status = 1;
                return NULL;
        }
        for (int i = 0; i < argc; i++) {
                if (!strcmp(argv[i], "--config-dir")) {
                        if (i + 1 == argc) {
                                fprintf(stderr, "sentistream config: --config-dir needs a "
                                                "directory\n");
                                free(overrides);
                                return NULL;
                        }
                        config_dir = argv[++i];
                } else if (!strncmp(argv[i], "--config-dir=", 13)) {
                        config_dir = argv[i] + 13;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        ss_cmd_config_usage(stdout);
                        free(overrides);
                        *status = 0;
                        return NULL;
                } else if (argv[i][0] == '-') {
                        fprintf(stderr, "sentistream config: unknown option '%s'\n", argv[i]);
                        ss_cmd_config_usage(stderr);
                        free(overrides);
                        return NULL;
                } else {
                        overrides[n++] = argv[i];
                }
        }
        ss_config_t *c = ss_cli_config_load(n, overrides, config_dir);
        free(overrides);
        return c;
}

/* A key's resolved value as text. */
static void ss_cmd_config_value(const ss_config_t *c, const ss_conf_def_t *d, char *buf,
                                size_t size)
{
        switch (d->type) {
        case SS_CONF_INT:
                snprintf(buf, size, "%lld", (long long)ss_config_get_int(c, d->name));
                break;
        case SS_CONF_DOUBLE:
                snprintf(buf, size, "%g", ss_config_get_double(c, d->name));
                break;
        case SS_CONF_BOOL:
                snprintf(buf, size, "%s", ss_config_get_bool(c, d->name) ? "true" : "false");
                break;
        case SS_CONF_STRING:
        case SS_CONF_ENUM:
                snprintf(buf, size, "%s", ss_config_get_str(c, d->name));
                break;
        }
}

/* The keys whose value comes from a file or an override, not the table's default. */
static void ss_cmd_config_print_resolved(const ss_config_t *c, FILE *out)
{
        fprintf(out,
                "\nValues set by the configuration files or overrides (every other key has the "
                "default above):\n\n");
        fprintf(out, "| Key | Selected value | Set by |\n");
        fprintf(out, "|-----|----------------|--------|\n");
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++) {
                const char *origin = ss_config_origin(c, d->name);
                if (!origin || !strcmp(origin, "default"))
                        continue;
                char v[1024];
                ss_cmd_config_value(c, d, v, sizeof(v));
                fprintf(out, "| `%s` | `%s` | %s |\n", d->name, *v ? v : "\"\"", origin);
        }
}

int ss_cmd_config(int argc, char **argv)
{
        if (argc < 1) {
                ss_cmd_config_usage(stderr);
                return 2;
        }
        if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
                ss_cmd_config_usage(stdout);
                return 0;
        }
        int show = !strcmp(argv[0], "show"), doc = !strcmp(argv[0], "doc");
        if (!show && !doc) {
                fprintf(stderr, "sentistream config: unknown action '%s'\n", argv[0]);
                ss_cmd_config_usage(stderr);
                return 2;
        }
        int status;
        ss_config_t *c = ss_cmd_config_load(argc - 1, argv + 1, &status);
        if (!c)
                return status;
        if (show) {
                ss_config_print(c, stdout);
        } else {
                ss_config_print_doc(stdout);
                ss_cmd_config_print_resolved(c, stdout);
        }
        ss_config_destroy(c);
        return 0;
}
