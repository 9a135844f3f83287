/*
 * ss_config: configuration composed Hydra-style and checked against one table.
 *
 * Composition, later wins:
 *   1. defaults from the key table (ss_config_table.c: name, type, range, default, doc);
 *   2. CONFIG_DIR/base.yaml, whose `defaults:` list selects one file per group,
 *      e.g. `defaults: [{model: logreg}, {kafka: local}, {monitor: default}]`;
 *   3. the selected group files CONFIG_DIR/<group>/<option>.yaml, in list order;
 *   4. command-line overrides: `group=option` re-selects a group file
 *      (e.g. `model=cnn`), `key.sub=value` sets one key (applied last).
 *      An override key without a dot is a group when base.yaml lists it or
 *      CONFIG_DIR/<key>/ exists (a group not in the list is added at its end).
 *
 * YAML files are mappings; nested mappings and dotted keys are the same key
 * (`log: {level: info}` == `log.level: info`). Keys in group files are full
 * keys, not relative to the group (model/cnn.yaml may set model.*, data.*,
 * train.*). Plain empty, `~` and `null` scalars are the empty string.
 *
 * Every key must be in the table, except keys under `kafka.` that are not in
 * the table: those are librdkafka properties, passed through verbatim to
 * rd_kafka_conf_set() (see ss_config_foreach_prefix()). An unknown key, a
 * wrong type or an out-of-range value is an SS_ERR_CONFIG naming the key and
 * the file and line (or "command line" for overrides).
 *
 * Limits (hostile or broken files are refused in milliseconds, before a
 * document is built): a file over 1 MiB, nesting deeper than 16 levels, more
 * than 4096 keys in one file, more than 4096 kafka.* keys in all, and any YAML
 * alias (`*name`; anchors alone are harmless) are errors. A value with a NUL
 * (`"info\0debug"`) or another control character, tab and newline included,
 * is an error naming the key and its file:line.
 */
#ifndef SS_CONFIG_H
#define SS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ss_err.h"

typedef enum {
        SS_CONF_INT,
        SS_CONF_DOUBLE,
        SS_CONF_BOOL,
        SS_CONF_STRING,
        SS_CONF_ENUM
} ss_conf_type_t;

/* One row of the key table. */
typedef struct ss_conf_def {
        const char *name; /* full dotted key, e.g. "consumer.batch.size" */
        ss_conf_type_t type;
        double min, max;    /* inclusive range for INT/DOUBLE (ignored otherwise) */
        const char *enums;  /* for ENUM: allowed values separated by '|' */
        const char *defval; /* default as text, parsed like a YAML scalar */
        const char *doc;    /* one-line description */
} ss_conf_def_t;

/* The table; terminated by a row with name == NULL. */
extern const ss_conf_def_t ss_conf_table[];

typedef struct ss_config ss_config_t;

/*
 * Composes the configuration from config_dir and overrides (argv-style
 * "key=value" strings). Returns NULL on error with the reason in errstr.
 * Caller frees with ss_config_destroy().
 */
ss_config_t *ss_config_load(const char *config_dir, int noverrides, char *const *overrides,
                            char *errstr, size_t errstr_size);

void ss_config_destroy(ss_config_t *c);

/* Typed getters. The key must be a table key of that type: anything else is a
 * programming error and aborts with a message. Strings valid until destroy. */
int64_t ss_config_get_int(const ss_config_t *c, const char *key);
double ss_config_get_double(const ss_config_t *c, const char *key);
bool ss_config_get_bool(const ss_config_t *c, const char *key);
const char *ss_config_get_str(const ss_config_t *c, const char *key); /* STRING and ENUM */

/* Where a key's value came from: "default", "config/base.yaml:12", "command line";
 * NULL for a key that is neither in the table nor a pass-through key that was set.
 * Valid until destroy. */
const char *ss_config_origin(const ss_config_t *c, const char *key);

/*
 * Calls cb(name_without_prefix, value, opaque) for every pass-through key that
 * starts with prefix (e.g. "kafka." gives "bootstrap.servers"). Stops and
 * returns cb's value at the first non-zero return.
 */
int ss_config_foreach_prefix(const ss_config_t *c, const char *prefix,
                             int (*cb)(const char *name, const char *value, void *opaque),
                             void *opaque);

/* Secrets: a key whose name says password, passwd, secret, token, key.pem or
 * sasl.oauthbearer.config (any case). Printed and logged as SS_CONFIG_REDACTED.
 * A whole value `${env:NAME}` or `${file:PATH}` (any key) is read from the environment
 * variable or the file (one trailing newline dropped, at most 8191 bytes); its origin
 * then reads "env:NAME (config/base.yaml:3)". */
#define SS_CONFIG_REDACTED "***"
bool ss_config_is_secret(const char *key);

/*
 * Calls cb(key, value_text, origin, opaque) for every key: the table's keys in table order,
 * then the pass-through keys that were set. Stops and returns cb's value at the first
 * non-zero return, else 0.
 */
int ss_config_foreach(const ss_config_t *c,
                      int (*cb)(const char *key, const char *value, const char *origin,
                                void *opaque),
                      void *opaque);

/* Prints the resolved configuration as YAML, one `key: value  # origin` a line,
 * sorted by key, pass-through keys included; strings are quoted where needed;
 * a non-empty secret is printed as "***" (with its origin). */
void ss_config_print(const ss_config_t *c, FILE *out);

/* Prints the key table as a Markdown table (drives docs/CONFIG.md). */
void ss_config_print_doc(FILE *out);

#endif /* SS_CONFIG_H */
