/*
 * cli_util: what every subcommand needs from the command line: telling
 * overrides from options and composing the configuration once. After a
 * successful load the process-wide settings of the config (log level,
 * progress lines, BLAS threads) are applied here, so that every subcommand
 * behaves the same. Also the schema directory, which several commands need.
 */
#include "cli_util.h"

#include <cblas.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss_log.h"

int ss_cli_is_override(const char *arg)
{
        return arg[0] != '-' && strchr(arg, '=') != NULL;
}

const char *ss_cli_config_dir_default(void)
{
        const char *env = getenv("SS_CONFIG_DIR");
        if (env && *env)
                return env;
        struct stat st;
        if (stat("config/base.yaml", &st) == 0)
                return "config";
        return SS_SOURCE_CONFIG_DIR;
}

/* Applies log.*, runtime.* to this process. Explicit settings only: defaults leave env alone. */
static void ss_cli_config_apply(const ss_config_t *c)
{
        static const char *levels[] = {"debug", "info", "warn", "error"};
        if (strcmp(ss_config_origin(c, "log.level"), "default")) {
                const char *lv = ss_config_get_str(c, "log.level");
                for (int i = 0; i < 4; i++)
                        if (!strcmp(lv, levels[i]))
                                ss_log_level_set((ss_log_level_t)i);
        }
        const char *progress = ss_config_get_str(c, "log.progress");
        if (!strcmp(progress, "on"))
                setenv("SS_PROGRESS", "1", 1);
        else if (!strcmp(progress, "off"))
                setenv("SS_PROGRESS", "0", 1);
        int64_t threads = ss_config_get_int(c, "runtime.blas.threads");
        if (threads > 0)
                openblas_set_num_threads((int)threads);
}

ss_config_t *ss_cli_config_load(int noverrides, char **overrides, const char *config_dir)
{
        char errstr[1024];
        if (!config_dir)
                config_dir = ss_cli_config_dir_default();
        ss_config_t *c = ss_config_load(config_dir, noverrides, overrides, errstr, sizeof(errstr));
        if (!c) {
                fprintf(stderr, "sentistream: config error: %s\n", errstr);
                return NULL;
        }
        ss_cli_config_apply(c);
        return c;
}

int ss_cli_flag_double(const char *cmd, const char *flag, const char *v, double lo, double hi,
                       double *out)
{
        char *end = NULL;
        errno = 0;
        double x = v ? strtod(v, &end) : 0;
        if (!v || end == v || *end || errno || !(x >= lo && x <= hi)) {
                fprintf(stderr, "sentistream %s: %s wants a number in %g..%g, got '%s'\n", cmd,
                        flag, lo, hi, v ? v : "(nothing)");
                return -1;
        }
        *out = x;
        return 0;
}

int ss_cli_flag_ll(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                   long long *out)
{
        char *end = NULL;
        errno = 0;
        long long x = v ? strtoll(v, &end, 10) : 0;
        if (!v || end == v || *end || errno || x < lo || x > hi) {
                fprintf(stderr, "sentistream %s: %s wants a whole number in %lld..%lld, got '%s'\n",
                        cmd, flag, lo, hi, v ? v : "(nothing)");
                return -1;
        }
        *out = x;
        return 0;
}

int ss_cli_args_init(ss_cli_args_t *a, int argc)
{
        a->config_dir = NULL;
        a->noverrides = 0;
        a->overrides = calloc((size_t)argc + 1, sizeof(char *));
        return a->overrides ? 0 : -1;
}

int ss_cli_args_take(ss_cli_args_t *a, int argc, char **argv, int *i)
{
        if (!strcmp(argv[*i], "--config-dir") && *i + 1 < argc) {
                a->config_dir = argv[++*i];
                return 1;
        }
        if (ss_cli_is_override(argv[*i])) {
                a->overrides[a->noverrides++] = argv[*i];
                return 1;
        }
        return 0;
}

int ss_cli_args_reject(ss_cli_args_t *a, const char *cmd, const char *arg, void (*usage)(FILE *out))
{
        ss_cli_args_free(a);
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
                usage(stdout);
                return 0;
        }
        fprintf(stderr, "sentistream %s: unexpected argument '%s'\n", cmd, arg);
        usage(stderr);
        return 2;
}

ss_config_t *ss_cli_args_config(ss_cli_args_t *a)
{
        ss_config_t *c = ss_cli_config_load(a->noverrides, a->overrides, a->config_dir);
        ss_cli_args_free(a);
        return c;
}

void ss_cli_args_free(ss_cli_args_t *a)
{
        free(a->overrides);
        a->overrides = NULL;
        a->noverrides = 0;
}

char *ss_cli_schema_dir(const ss_config_t *c, const char *config_dir)
{
        const char *d = ss_config_get_str(c, "serde.schema_dir");
        if (d && *d)
                return strdup(d);
        char *copy = strdup(config_dir ? config_dir : ss_cli_config_dir_default());
        if (!copy)
                return NULL;
        char *parent = dirname(copy);
        size_t n = strlen(parent) + sizeof("/schemas");
        char *out = malloc(n);
        if (out)
                snprintf(out, n, "%s/schemas", parent);
        free(copy);
        return out;
}
