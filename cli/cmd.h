/*
 * cmd: the subcommands of the `sentistream` binary. Each lives in
 * cli/cmd_<name>.c, takes the arguments after its own name, and returns the
 * process exit status (0 ok, 1 runtime failure, 2 usage or config error).
 */
#ifndef SS_CMD_H
#define SS_CMD_H

#include "ss_config.h"

int ss_cmd_config(int argc, char **argv);
int ss_cmd_train(int argc, char **argv);
int ss_cmd_eval(int argc, char **argv);
int ss_cmd_score(int argc, char **argv);
int ss_cmd_consume(int argc, char **argv);
int ss_cmd_produce(int argc, char **argv);
int ss_cmd_monitor(int argc, char **argv);
int ss_cmd_label(int argc, char **argv);
int ss_cmd_convert(int argc, char **argv);
int ss_cmd_tail(int argc, char **argv);

/*
 * Splits argv into options (`--name` / `--name=value` / `--name value`, left
 * to the caller) and overrides (`key=value`), and composes the configuration
 * from the config directory (--config-dir DIR, else $SS_CONFIG_DIR, else
 * ./config if present, else the source tree's config/). Prints the error and
 * returns NULL on failure. Caller frees with ss_config_destroy().
 */
ss_config_t *ss_cli_config_load(int noverrides, char **overrides, const char *config_dir);

/* Directory of the .avsc files: serde.schema_dir, else schemas/ beside the config
 * directory (config_dir, or the default). Caller frees. (cli/cmd_consume.c) */
char *ss_cli_schema_dir(const ss_config_t *c, const char *config_dir);

/* True if arg looks like an override ("key=value" with no leading '-'). */
int ss_cli_is_override(const char *arg);

/* Default config directory (see ss_cli_config_load). */
const char *ss_cli_config_dir_default(void);

#endif /* SS_CMD_H */
