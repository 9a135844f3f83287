/*
 * cli_util: what every subcommand needs from the command line: telling
 * overrides from options and composing the configuration once.
 */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

ss_config_t *ss_cli_config_load(int noverrides, char **overrides, const char *config_dir)
{
        char errstr[1024];
        if (!config_dir)
                config_dir = ss_cli_config_dir_default();
        ss_config_t *c = ss_config_load(config_dir, noverrides, overrides, errstr, sizeof(errstr));
        if (!c)
                fprintf(stderr, "sentistream: config error: %s\n", errstr);
        return c;
}
