/*
 * cli_util: what several subcommands share: arguments and configuration
 * (cli_util.c), the schema directory, printing a topic as decoded JSON
 * lines (cli_tail.c) and a bounded scan of a topic's newest records
 * (cli_find.c). Subcommands include this, never each other.
 */
#ifndef SS_CLI_UTIL_H
#define SS_CLI_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ss_config.h"
#include "ss_err.h"

/*
 * Splits argv into options (`--name` / `--name=value` / `--name value`, left
 * to the caller) and overrides (`key=value`), and composes the configuration
 * from the config directory (--config-dir DIR, else $SS_CONFIG_DIR, else
 * ./config if present, else the source tree's config/). Prints the error and
 * returns NULL on failure. Caller frees with ss_config_destroy().
 */
ss_config_t *ss_cli_config_load(int noverrides, char **overrides, const char *config_dir);

/* Directory of the .avsc files: serde.schema_dir, else schemas/ beside the config
 * directory (config_dir, or the default). Caller frees. */
char *ss_cli_schema_dir(const ss_config_t *c, const char *config_dir);

/*
 * Prints the messages of topic, from the beginning, as decoded JSON lines (cli_tail.c):
 * until the end of the topic, max messages (0 = no limit), timeout_s seconds, or *stop.
 * Returns 0, 1 if a message did not decode or the end was not reached, 2 on setup errors.
 */
int ss_cli_tail_topic(const ss_config_t *c, const char *schema_dir, const char *topic,
                      long long max, double timeout_s, volatile sig_atomic_t *stop);

/* Adds a decoded RetrainEvent's fields to o (what `tail` prints for one event). */
struct cJSON;
struct ss_retrain_event;
void ss_cli_event_json(struct cJSON *o, const struct ss_retrain_event *e);

/* One record of a topic scan; the pointers are valid during the callback only. */
typedef struct ss_cli_record {
        const void *key; /* may be NULL */
        size_t key_len;
        const void *value;
        size_t len;
        int32_t partition;
        int64_t offset;
} ss_cli_record_t;

/* What a scan covered. */
typedef struct ss_cli_scan {
        int partitions;    /* of the topic */
        long long scanned; /* records read */
        long long skipped; /* older records the bound left out */
        int complete;      /* every partition was read to its end */
        int stopped;       /* the callback ended the scan */
} ss_cli_scan_t;

/* Called for each record of a scan, in offset order within a partition; non-zero stops. */
typedef int ss_cli_scan_fn(void *opaque, const ss_cli_record_t *r);

/*
 * Reads the newest `newest` records of every partition of topic (cli_find.c): assigns each
 * partition from max(low, high - newest) without joining a group or committing, and reads
 * until every partition reported its end, fn returns non-zero, or timeout_s passed. Fills
 * *st. Returns SS_OK, or SS_ERR_KAFKA naming the topic (missing, broker unreachable).
 */
ss_err_t ss_cli_topic_scan(const ss_config_t *c, const char *topic, long long newest,
                           double timeout_s, ss_cli_scan_fn *fn, void *opaque, ss_cli_scan_t *st,
                           char *errstr, size_t errstr_size);

/* The arguments every subcommand shares: --config-dir DIR and key=value overrides. */
typedef struct ss_cli_args {
        const char *config_dir; /* NULL: ss_cli_config_dir_default() */
        char **overrides;       /* [argc] pointers into argv; owned, see ss_cli_args_free() */
        int noverrides;
} ss_cli_args_t;

/* Prepares a for at most argc arguments. Returns 0, or -1 when out of memory. */
int ss_cli_args_init(ss_cli_args_t *a, int argc);

/* Takes argv[*i] when it is `--config-dir DIR` (then *i moves past DIR) or an override.
 * Returns 1 when taken, 0 when the argument is the caller's. */
int ss_cli_args_take(ss_cli_args_t *a, int argc, char **argv, int *i);

/*
 * Ends a subcommand's argument loop on an argument it does not take: -h or --help prints
 * the usage to stdout and returns 0; anything else prints "sentistream CMD: unexpected
 * argument 'ARG'" and the usage to stderr and returns 2 (the exit status). Frees a.
 */
int ss_cli_args_reject(ss_cli_args_t *a, const char *cmd, const char *arg,
                       void (*usage)(FILE *out));

/* Composes the configuration of a (ss_cli_config_load()) and frees a's overrides. */
ss_config_t *ss_cli_args_config(ss_cli_args_t *a);

void ss_cli_args_free(ss_cli_args_t *a);

/*
 * The value of a numeric flag: all of v must be a number in [lo, hi]. On error prints
 * "sentistream CMD: FLAG wants a number in LO..HI, got 'V'" to stderr and returns -1
 * (*out untouched); else 0. v may be NULL (the flag was last): also an error.
 */
int ss_cli_flag_double(const char *cmd, const char *flag, const char *v, double lo, double hi,
                       double *out);
int ss_cli_flag_ll(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                   long long *out);

/* True if arg looks like an override ("key=value" with no leading '-'). */
int ss_cli_is_override(const char *arg);

/* Default config directory (see ss_cli_config_load). */
const char *ss_cli_config_dir_default(void);

#endif /* SS_CLI_UTIL_H */
