/*
 * ss_config: Hydra-style composition checked against the one key table.
 *
 * A config holds one slot per table row (text, typed value, origin) plus a
 * growable list of pass-through `kafka.*` keys. Loading fills the slots with
 * the table defaults, then splits the overrides into group selections
 * (`model=cnn`: no dot, and CONFIG_DIR/model/ is a directory) and key
 * settings, reads base.yaml (its `defaults:` list names one option per group),
 * applies the group selections from the command line, reads each selected
 * group file in list order, and applies the key overrides last. YAML files are
 * read with libyaml's document API and flattened: nested mappings and dotted
 * keys give the same full key; keys in group files are absolute (a group file
 * may set model.*, data.* and train.* alike). Every scalar is checked against
 * its row at the point it is read, so an error names the key and the
 * file:line of that scalar. Nothing here allocates after loading; getters are
 * linear scans over the table (a few dozen rows, read at startup).
 */
#include "ss_config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define SS_CONF_KAFKA_PREFIX "kafka."
#define SS_CONF_MAX_GROUPS   32

typedef struct ss_conf_slot {
        char *text;   /* normalised value text */
        char *origin; /* "default", "path:line", "command line" */
        int64_t i;
        double d;
        bool b;
} ss_conf_slot_t;

typedef struct ss_conf_pass {
        char *name; /* full key, e.g. "kafka.bootstrap.servers" */
        char *value;
        char *origin;
} ss_conf_pass_t;

struct ss_config {
        int nrows;
        ss_conf_slot_t *slots; /* [nrows], same order as ss_conf_table */
        ss_conf_pass_t *pass;  /* [npass] */
        int npass, pass_cap;
};

/* A group selection: CONFIG_DIR/<group>/<option>.yaml. */
typedef struct ss_conf_group {
        char group[128];
        char option[128];
        char origin[512]; /* where the selection came from */
} ss_conf_group_t;

/* Keys set so far in the file being read, to catch duplicates. */
typedef struct ss_conf_seen {
        char **keys;
        int *lines;
        int n, cap;
} ss_conf_seen_t;

/* ---- table lookups ------------------------------------------------------------------------ */

static int ss_conf_table_size(void)
{
        int n = 0;
        while (ss_conf_table[n].name)
                n++;
        return n;
}

static int ss_conf_row_find(const char *name)
{
        for (int i = 0; ss_conf_table[i].name; i++)
                if (!strcmp(ss_conf_table[i].name, name))
                        return i;
        return -1;
}

static const char *ss_conf_type_name(ss_conf_type_t t)
{
        switch (t) {
        case SS_CONF_INT:
                return "int";
        case SS_CONF_DOUBLE:
                return "double";
        case SS_CONF_BOOL:
                return "bool";
        case SS_CONF_STRING:
                return "string";
        case SS_CONF_ENUM:
                return "enum";
        }
        return "?";
}

static int ss_conf_is_passthrough(const char *name)
{
        size_t n = strlen(SS_CONF_KAFKA_PREFIX);
        return !strncmp(name, SS_CONF_KAFKA_PREFIX, n) && name[n] != '\0';
}

/* Levenshtein distance, capped: returns cap+1 as soon as it is sure to exceed cap. */
static int ss_conf_levenshtein(const char *a, const char *b, int cap)
{
        size_t la = strlen(a), lb = strlen(b);
        if ((la > lb ? la - lb : lb - la) > (size_t)cap)
                return cap + 1;
        int *prev = malloc((lb + 1) * sizeof(int)); /* [lb+1] */
        int *cur = malloc((lb + 1) * sizeof(int));  /* [lb+1] */
        if (!prev || !cur) {
                free(prev);
                free(cur);
                return cap + 1;
        }
        for (size_t j = 0; j <= lb; j++)
                prev[j] = (int)j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = (int)i;
                for (size_t j = 1; j <= lb; j++) {
                        int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        int del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                int *t = prev;
                prev = cur;
                cur = t;
        }
        int d = prev[lb];
        free(prev);
        free(cur);
        return d;
}

/* Writes "; did you mean 'x'?" (or "") for the table key nearest to name. */
static void ss_conf_suggest(const char *name, char *buf, size_t size)
{
        int best = -1, bestd = 3;
        for (int i = 0; ss_conf_table[i].name; i++) {
                int d = ss_conf_levenshtein(name, ss_conf_table[i].name, 2);
                if (d < bestd) {
                        bestd = d;
                        best = i;
                }
        }
        if (best >= 0) {
                snprintf(buf, size, "; did you mean '%s'?", ss_conf_table[best].name);
                return;
        }
        /* A section name used as a key ("consumer.batch: 5"). */
        size_t n = strlen(name);
        for (int i = 0; ss_conf_table[i].name; i++)
                if (!strncmp(ss_conf_table[i].name, name, n) && ss_conf_table[i].name[n] == '.') {
                        snprintf(buf, size, "; '%s' is a section, e.g. '%s'", name,
                                 ss_conf_table[i].name);
                        return;
                }
        buf[0] = '\0';
}

/* ---- scalar parsing ----------------------------------------------------------------------- */

static int ss_conf_enum_has(const char *enums, const char *v)
{
        size_t n = strlen(v);
        const char *p = enums;
        while (p && *p) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                if (len == n && !strncmp(p, v, n))
                        return 1;
                p = bar ? bar + 1 : NULL;
        }
        return 0;
}

static int ss_conf_has_range(const ss_conf_def_t *def)
{
        return !(def->min == 0 && def->max == 0);
}

static int ss_conf_parse_int(const char *s, int64_t *out)
{
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (!isdigit((unsigned char)*p))
                return -1;
        for (; *p; p++)
                if (!isdigit((unsigned char)*p))
                        return -1;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE || *end)
                return -1;
        *out = (int64_t)v;
        return 0;
}

static int ss_conf_parse_double(const char *s, double *out)
{
        /* decimal or exponent notation only: no hex, inf or nan */
        int digits = 0;
        for (const char *p = s; *p; p++) {
                if (isdigit((unsigned char)*p))
                        digits++;
                else if (!strchr("+-.eE", *p))
                        return -1;
        }
        if (!digits)
                return -1;
        errno = 0;
        char *end;
        double v = strtod(s, &end);
        if (errno == ERANGE || *end || !isfinite(v))
                return -1;
        *out = v;
        return 0;
}

static int ss_conf_parse_bool(const char *s, bool *out)
{
        static const char *yes[] = {"true", "yes", "on", "1"};
        static const char *no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
                if (!strcasecmp(s, yes[i])) {
                        *out = true;
                        return 0;
                }
                if (!strcasecmp(s, no[i])) {
                        *out = false;
                        return 0;
                }
        }
        return -1;
}

/* Formats a range bound: integers without a fraction. */
static void ss_conf_fmt_num(double v, char *buf, size_t size)
{
        if (v == floor(v) && fabs(v) < 1e15)
                snprintf(buf, size, "%.0f", v);
        else
                snprintf(buf, size, "%.15g", v);
}

/*
 * Checks text against row `row` and stores it in the slot with its origin.
 * where: "file:line" or "command line" for messages.
 */
static ss_err_t ss_conf_slot_set(ss_config_t *c, int row, const char *text, const char *where,
                                 char *errstr, size_t errstr_size)
{
        const ss_conf_def_t *def = &ss_conf_table[row];
        ss_conf_slot_t tmp = {0};
        char lo[64], hi[64];
        ss_conf_fmt_num(def->min, lo, sizeof(lo));
        ss_conf_fmt_num(def->max, hi, sizeof(hi));
        switch (def->type) {
        case SS_CONF_INT:
                if (ss_conf_parse_int(text, &tmp.i))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: expected an integer, got '%s' (%s)", def->name, text,
                                          where);
                if (ss_conf_has_range(def) &&
                    ((double)tmp.i < def->min || (double)tmp.i > def->max))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: %s is out of range [%s, %s] (%s)", def->name, text,
                                          lo, hi, where);
                tmp.d = (double)tmp.i;
                break;
        case SS_CONF_DOUBLE:
                if (ss_conf_parse_double(text, &tmp.d))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: expected a number, got '%s' (%s)", def->name, text,
                                          where);
                if (ss_conf_has_range(def) && (tmp.d < def->min || tmp.d > def->max))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: %s is out of range [%s, %s] (%s)", def->name, text,
                                          lo, hi, where);
                break;
        case SS_CONF_BOOL:
                if (ss_conf_parse_bool(text, &tmp.b))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: expected a boolean (true/false/yes/no/on/off/1/0), "
                                          "got '%s' (%s)",
                                          def->name, text, where);
                text = tmp.b ? "true" : "false";
                break;
        case SS_CONF_ENUM:
                if (!ss_conf_enum_has(def->enums, text))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: '%s' is not one of %s (%s)", def->name, text,
                                          def->enums, where);
                break;
        case SS_CONF_STRING:
                break;
        }
        char *t = strdup(text), *o = strdup(where);
        if (!t || !o) {
                free(t);
                free(o);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory",
                                  def->name);
        }
        ss_conf_slot_t *s = &c->slots[row];
        free(s->text);
        free(s->origin);
        *s = tmp;
        s->text = t;
        s->origin = o;
        return SS_OK;
}

static ss_err_t ss_conf_pass_set(ss_config_t *c, const char *name, const char *value,
                                 const char *where, char *errstr, size_t errstr_size)
{
        ss_conf_pass_t *p = NULL;
        for (int i = 0; i < c->npass; i++)
                if (!strcmp(c->pass[i].name, name))
                        p = &c->pass[i];
        if (!p) {
                if (c->npass == c->pass_cap) {
                        int cap = c->pass_cap ? 2 * c->pass_cap : 16;
                        ss_conf_pass_t *np = realloc(c->pass, (size_t)cap * sizeof(*np));
                        if (!np)
                                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                  "%s: out of memory", name);
                        c->pass = np;
                        c->pass_cap = cap;
                }
                p = &c->pass[c->npass];
                memset(p, 0, sizeof(*p));
                if (!(p->name = strdup(name)))
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory",
                                          name);
                c->npass++;
        }
        char *v = strdup(value), *o = strdup(where);
        if (!v || !o) {
                free(v);
                free(o);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", name);
        }
        free(p->value);
        free(p->origin);
        p->value = v;
        p->origin = o;
        return SS_OK;
}

/* Sets one key from text: a table key or a kafka.* pass-through; anything else is unknown. */
static ss_err_t ss_conf_set(ss_config_t *c, const char *key, const char *text, const char *where,
                            char *errstr, size_t errstr_size)
{
        int row = ss_conf_row_find(key);
        if (row >= 0)
                return ss_conf_slot_set(c, row, text, where, errstr, errstr_size);
        if (ss_conf_is_passthrough(key))
                return ss_conf_pass_set(c, key, text, where, errstr, errstr_size);
        char hint[256];
        ss_conf_suggest(key, hint, sizeof(hint));
        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "%s: unknown key (%s)%s", key, where,
                          hint);
}

/* ---- YAML files --------------------------------------------------------------------------- */

static void ss_conf_seen_free(ss_conf_seen_t *s)
{
        for (int i = 0; i < s->n; i++)
                free(s->keys[i]);
        free(s->keys);
        free(s->lines);
        memset(s, 0, sizeof(*s));
}

/* Returns the line of an earlier setting of key in this file, else 0 (and records this one). */
static int ss_conf_seen_add(ss_conf_seen_t *s, const char *key, int line)
{
        for (int i = 0; i < s->n; i++)
                if (!strcmp(s->keys[i], key))
                        return s->lines[i];
        if (s->n == s->cap) {
                int cap = s->cap ? 2 * s->cap : 32;
                char **k = realloc(s->keys, (size_t)cap * sizeof(*k));
                if (!k)
                        return 0;
                s->keys = k;
                int *l = realloc(s->lines, (size_t)cap * sizeof(*l));
                if (!l)
                        return 0;
                s->lines = l;
                s->cap = cap;
        }
        char *d = strdup(key);
        if (!d)
                return 0;
        s->keys[s->n] = d;
        s->lines[s->n] = line;
        s->n++;
        return 0;
}

typedef struct ss_conf_file {
        ss_config_t *c;
        const char *path;
        yaml_document_t *doc;
        ss_conf_seen_t seen;
        ss_conf_group_t *groups; /* base.yaml only: the defaults list goes here */
        int *ngroups;
} ss_conf_file_t;

static const char *ss_conf_node_kind(const yaml_node_t *n)
{
        return n->type == YAML_MAPPING_NODE    ? "a mapping"
               : n->type == YAML_SEQUENCE_NODE ? "a list"
                                               : "a scalar";
}

/* Scalar text as a config value: plain empty / ~ / null are the empty string. */
static const char *ss_conf_scalar_text(const yaml_node_t *n)
{
        const char *v = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (!*v || !strcmp(v, "~") || !strcmp(v, "null")))
                return "";
        return v;
}

static ss_err_t ss_conf_file_value(ss_conf_file_t *f, const char *key, yaml_node_t *val,
                                   int key_line, char *errstr, size_t errstr_size);

/* Reads base.yaml's `defaults:` list: [{group: option}, ...]. */
static ss_err_t ss_conf_file_defaults(ss_conf_file_t *f, yaml_node_t *val, char *errstr,
                                      size_t errstr_size)
{
        int line = (int)val->start_mark.line + 1;
        if (!f->groups)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "defaults: a defaults list is only allowed in base.yaml (%s:%d)",
                                  f->path, line);
        if (val->type != YAML_SEQUENCE_NODE)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "defaults: expected a list of {group: option}, got %s (%s:%d)",
                                  ss_conf_node_kind(val), f->path, line);
        for (yaml_node_item_t *it = val->data.sequence.items.start;
             it < val->data.sequence.items.top; it++) {
                yaml_node_t *item = yaml_document_get_node(f->doc, *it);
                int iline = (int)item->start_mark.line + 1;
                if (item->type == YAML_SCALAR_NODE &&
                    !strcmp((const char *)item->data.scalar.value, "_self_"))
                        continue; /* accepted for Hydra compatibility; base always comes first */
                if (item->type != YAML_MAPPING_NODE ||
                    item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "defaults: each item must be one {group: option} "
                                          "pair (%s:%d)",
                                          f->path, iline);
                yaml_node_pair_t *p = item->data.mapping.pairs.start;
                yaml_node_t *k = yaml_document_get_node(f->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(f->doc, p->value);
                if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "defaults: each item must be one {group: option} "
                                          "pair of scalars (%s:%d)",
                                          f->path, iline);
                const char *g = (const char *)k->data.scalar.value;
                const char *o = (const char *)v->data.scalar.value;
                if (!*g || strchr(g, '/') || strchr(g, '.') || !*o || strchr(o, '/') ||
                    strlen(g) >= sizeof(f->groups[0].group) ||
                    strlen(o) >= sizeof(f->groups[0].option))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "defaults: bad group or option '%s: %s' (%s:%d)", g, o,
                                          f->path, iline);
                for (int i = 0; i < *f->ngroups; i++)
                        if (!strcmp(f->groups[i].group, g))
                                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                                  "defaults: group '%s' listed twice (%s:%d)", g,
                                                  f->path, iline);
                if (*f->ngroups == SS_CONF_MAX_GROUPS)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "defaults: more than %d groups (%s:%d)",
                                          SS_CONF_MAX_GROUPS, f->path, iline);
                ss_conf_group_t *grp = &f->groups[(*f->ngroups)++];
                snprintf(grp->group, sizeof(grp->group), "%s", g);
                snprintf(grp->option, sizeof(grp->option), "%s", o);
                snprintf(grp->origin, sizeof(grp->origin), "%s:%d", f->path, iline);
        }
        return SS_OK;
}

static ss_err_t ss_conf_file_mapping(ss_conf_file_t *f, const char *prefix, yaml_node_t *map,
                                     char *errstr, size_t errstr_size)
{
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = yaml_document_get_node(f->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(f->doc, p->value);
                int line = (int)k->start_mark.line + 1;
                if (k->type != YAML_SCALAR_NODE || !*(const char *)k->data.scalar.value)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s%s: keys must be non-empty scalars (%s:%d)", prefix,
                                          *prefix ? "<key>" : "<top level>", f->path, line);
                const char *name = (const char *)k->data.scalar.value;
                if (!*prefix && !strcmp(name, "defaults")) {
                        ss_err_t err = ss_conf_file_defaults(f, v, errstr, errstr_size);
                        if (err)
                                return err;
                        continue;
                }
                char key[512];
                int n = snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name);
                if (n < 0 || (size_t)n >= sizeof(key))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s...: key too long (%s:%d)", prefix, f->path, line);
                ss_err_t err = ss_conf_file_value(f, key, v, line, errstr, errstr_size);
                if (err)
                        return err;
        }
        return SS_OK;
}

static ss_err_t ss_conf_file_value(ss_conf_file_t *f, const char *key, yaml_node_t *val,
                                   int key_line, char *errstr, size_t errstr_size)
{
        int line = (int)val->start_mark.line + 1;
        if (key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "%s: malformed key (%s:%d)",
                                  key, f->path, key_line);
        if (val->type == YAML_MAPPING_NODE) {
                int row = ss_conf_row_find(key);
                if (row >= 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: expected a scalar (%s), got a mapping (%s:%d)", key,
                                          ss_conf_type_name(ss_conf_table[row].type), f->path,
                                          key_line);
                return ss_conf_file_mapping(f, key, val, errstr, errstr_size);
        }
        if (val->type == YAML_SEQUENCE_NODE)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: expected a scalar, got a list (%s:%d)", key, f->path,
                                  key_line);
        int prev = ss_conf_seen_add(&f->seen, key, key_line);
        if (prev)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: duplicate key (%s:%d, first set at line %d)", key, f->path,
                                  key_line, prev);
        char where[600];
        snprintf(where, sizeof(where), "%s:%d", f->path, line);
        return ss_conf_set(f->c, key, ss_conf_scalar_text(val), where, errstr, errstr_size);
}

/*
 * Reads one YAML file into c. groups/ngroups: non-NULL for base.yaml only,
 * receives the defaults list.
 */
static ss_err_t ss_conf_file_load(ss_config_t *c, const char *path, ss_conf_group_t *groups,
                                  int *ngroups, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        if (!fp)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "%s: cannot open: %s", path,
                                  strerror(errno));
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser)) {
                fclose(fp);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: yaml parser init", path);
        }
        yaml_parser_set_input_file(&parser, fp);
        ss_err_t err = SS_OK;
        if (!yaml_parser_load(&parser, &doc)) {
                char ctx[256] = "";
                if (parser.context)
                        snprintf(ctx, sizeof(ctx), ", %s started at line %d", parser.context,
                                 (int)parser.context_mark.line + 1);
                err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                 "%s:%d: malformed YAML: %s (column %d)%s", path,
                                 (int)parser.problem_mark.line + 1,
                                 parser.problem ? parser.problem : "parse error",
                                 (int)parser.problem_mark.column + 1, ctx);
                yaml_parser_delete(&parser);
                fclose(fp);
                return err;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && !(root->type == YAML_SCALAR_NODE && !*ss_conf_scalar_text(root))) {
                if (root->type != YAML_MAPPING_NODE) {
                        err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                         "%s:%d: expected a mapping at the top level, got %s", path,
                                         (int)root->start_mark.line + 1, ss_conf_node_kind(root));
                } else {
                        ss_conf_file_t f = {.c = c,
                                            .path = path,
                                            .doc = &doc,
                                            .groups = groups,
                                            .ngroups = ngroups};
                        err = ss_conf_file_mapping(&f, "", root, errstr, errstr_size);
                        ss_conf_seen_free(&f.seen);
                }
        }
        /* A second document in the file is not supported: say so rather than ignore it. */
        if (!err) {
                yaml_document_t more;
                if (!yaml_parser_load(&parser, &more)) {
                        err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                         "%s:%d: malformed YAML: %s", path,
                                         (int)parser.problem_mark.line + 1,
                                         parser.problem ? parser.problem : "parse error");
                } else {
                        if (yaml_document_get_root_node(&more))
                                err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                                 "%s:%d: more than one YAML document", path,
                                                 (int)more.start_mark.line + 1);
                        yaml_document_delete(&more);
                }
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        fclose(fp);
        return err;
}

/* ---- composition -------------------------------------------------------------------------- */

static int ss_conf_is_dir(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Lists the options of a group ("cnn, logreg") into buf for error messages. */
static void ss_conf_group_options(const char *dir, char *buf, size_t size)
{
        buf[0] = '\0';
        DIR *d = opendir(dir);
        if (!d)
                return;
        size_t used = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name);
                if (n <= 5 || strcmp(e->d_name + n - 5, ".yaml"))
                        continue;
                int w = snprintf(buf + used, size - used, "%s%.*s", used ? ", " : "", (int)(n - 5),
                                 e->d_name);
                if (w < 0 || (size_t)w >= size - used)
                        break;
                used += (size_t)w;
        }
        closedir(d);
}

static ss_err_t ss_conf_group_load(ss_config_t *c, const char *config_dir, const ss_conf_group_t *g,
                                   char *errstr, size_t errstr_size)
{
        char path[4096], dir[4096];
        int n1 = snprintf(dir, sizeof(dir), "%s/%s", config_dir, g->group);
        int n2 = snprintf(path, sizeof(path), "%s/%s/%s.yaml", config_dir, g->group, g->option);
        if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof(path))
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "%s: path too long (%s)",
                                  g->group, g->origin);
        if (access(path, R_OK) != 0) {
                char opts[1024];
                ss_conf_group_options(dir, opts, sizeof(opts));
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: unknown option '%s' (selected at %s): no file %s%s%s",
                                  g->group, g->option, g->origin, path, *opts ? "; options: " : "",
                                  opts);
        }
        return ss_conf_file_load(c, path, NULL, NULL, errstr, errstr_size);
}

/* Strips one level of matching quotes from an override value (in place). */
static char *ss_conf_unquote(char *v)
{
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v[n - 1] = '\0';
                return v + 1;
        }
        return v;
}

/* Splits "key=value" into a copy; returns NULL key on malformed input. */
static ss_err_t ss_conf_override_split(const char *arg, char *buf, size_t size, char **key,
                                       char **val, char *errstr, size_t errstr_size)
{
        const char *eq = strchr(arg, '=');
        if (!eq)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: override without '=', expected key=value (command line)",
                                  arg);
        if (eq == arg)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: override with an empty key (command line)", arg);
        if (strlen(arg) >= size)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%.40s...: override too long (command line)", arg);
        strcpy(buf, arg);
        buf[eq - arg] = '\0';
        *key = buf;
        *val = ss_conf_unquote(buf + (eq - arg) + 1);
        return SS_OK;
}

/* Is key a group selection (no dot, CONFIG_DIR/key/ exists or base.yaml lists it)? */
static int ss_conf_is_group(const char *config_dir, const char *key, const ss_conf_group_t *groups,
                            int ngroups)
{
        if (strchr(key, '.') || strchr(key, '/'))
                return 0;
        for (int i = 0; i < ngroups; i++)
                if (!strcmp(groups[i].group, key))
                        return 1;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", config_dir, key);
        return ss_conf_is_dir(dir);
}

static ss_err_t ss_conf_defaults_fill(ss_config_t *c, char *errstr, size_t errstr_size)
{
        for (int i = 0; i < c->nrows; i++) {
                const ss_conf_def_t *def = &ss_conf_table[i];
                ss_err_t err = ss_conf_slot_set(c, i, def->defval ? def->defval : "", "default",
                                                errstr, errstr_size);
                if (err)
                        return err;
        }
        return SS_OK;
}

static ss_err_t ss_conf_compose(ss_config_t *c, const char *config_dir, int noverrides,
                                char *const *overrides, char *errstr, size_t errstr_size)
{
        ss_conf_group_t groups[SS_CONF_MAX_GROUPS];
        int ngroups = 0;
        char path[4096], buf[4096];
        ss_err_t err;

        /* Every override must be well formed before anything is read. */
        for (int i = 0; i < noverrides; i++) {
                char *k, *v;
                if ((err = ss_conf_override_split(overrides[i], buf, sizeof(buf), &k, &v, errstr,
                                                  errstr_size)))
                        return err;
        }
        if ((err = ss_conf_defaults_fill(c, errstr, errstr_size)))
                return err;

        snprintf(path, sizeof(path), "%s/base.yaml", config_dir);
        if ((err = ss_conf_file_load(c, path, groups, &ngroups, errstr, errstr_size)))
                return err;

        /* group=option overrides re-select (or add) a group before group files are read */
        for (int i = 0; i < noverrides; i++) {
                char *k, *v;
                if (ss_conf_override_split(overrides[i], buf, sizeof(buf), &k, &v, NULL, 0))
                        continue; /* cannot happen: every override was checked above */
                if (!ss_conf_is_group(config_dir, k, groups, ngroups))
                        continue;
                ss_conf_group_t *g = NULL;
                for (int j = 0; j < ngroups; j++)
                        if (!strcmp(groups[j].group, k))
                                g = &groups[j];
                if (!g) {
                        if (ngroups == SS_CONF_MAX_GROUPS)
                                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                                  "%s: more than %d groups (command line)", k,
                                                  SS_CONF_MAX_GROUPS);
                        g = &groups[ngroups++];
                        snprintf(g->group, sizeof(g->group), "%s", k);
                }
                if (!*v || strchr(v, '/') || strlen(v) >= sizeof(g->option))
                        return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                          "%s: bad group option '%s' (command line)", k, v);
                snprintf(g->option, sizeof(g->option), "%s", v);
                snprintf(g->origin, sizeof(g->origin), "command line");
        }

        for (int i = 0; i < ngroups; i++)
                if ((err = ss_conf_group_load(c, config_dir, &groups[i], errstr, errstr_size)))
                        return err;

        /* key=value overrides, last */
        for (int i = 0; i < noverrides; i++) {
                char *k, *v;
                if (ss_conf_override_split(overrides[i], buf, sizeof(buf), &k, &v, NULL, 0))
                        continue; /* cannot happen: every override was checked above */
                if (ss_conf_is_group(config_dir, k, groups, ngroups))
                        continue;
                if ((err = ss_conf_set(c, k, v, "command line", errstr, errstr_size)))
                        return err;
        }
        return SS_OK;
}

ss_config_t *ss_config_load(const char *config_dir, int noverrides, char *const *overrides,
                            char *errstr, size_t errstr_size)
{
        if (!config_dir || noverrides < 0 || (noverrides > 0 && !overrides)) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "ss_config_load: bad arguments");
                return NULL;
        }
        ss_config_t *c = calloc(1, sizeof(*c));
        if (!c) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "config: out of memory");
                return NULL;
        }
        c->nrows = ss_conf_table_size();
        c->slots = calloc((size_t)c->nrows + 1, sizeof(*c->slots));
        if (!c->slots) {
                free(c);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "config: out of memory");
                return NULL;
        }
        if (!ss_conf_is_dir(config_dir)) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "%s: config directory not found",
                           config_dir);
                ss_config_destroy(c);
                return NULL;
        }
        if (ss_conf_compose(c, config_dir, noverrides, overrides, errstr, errstr_size)) {
                ss_config_destroy(c);
                return NULL;
        }
        return c;
}

void ss_config_destroy(ss_config_t *c)
{
        if (!c)
                return;
        for (int i = 0; i < c->nrows; i++) {
                free(c->slots[i].text);
                free(c->slots[i].origin);
        }
        for (int i = 0; i < c->npass; i++) {
                free(c->pass[i].name);
                free(c->pass[i].value);
                free(c->pass[i].origin);
        }
        free(c->slots);
        free(c->pass);
        free(c);
}

/* ---- getters ------------------------------------------------------------------------------ */

static const ss_conf_slot_t *ss_conf_get(const ss_config_t *c, const char *key, int want1,
                                         int want2, const char *what)
{
        int row = ss_conf_row_find(key);
        if (row < 0) {
                fprintf(stderr, "ss_config: BUG: %s of '%s', which is not in the key table\n", what,
                        key);
                abort();
        }
        int t = (int)ss_conf_table[row].type;
        if (t != want1 && t != want2) {
                fprintf(stderr, "ss_config: BUG: %s of '%s', which is of type %s\n", what, key,
                        ss_conf_type_name(ss_conf_table[row].type));
                abort();
        }
        return &c->slots[row];
}

int64_t ss_config_get_int(const ss_config_t *c, const char *key)
{
        return ss_conf_get(c, key, SS_CONF_INT, SS_CONF_INT, "ss_config_get_int")->i;
}

double ss_config_get_double(const ss_config_t *c, const char *key)
{
        return ss_conf_get(c, key, SS_CONF_DOUBLE, SS_CONF_DOUBLE, "ss_config_get_double")->d;
}

bool ss_config_get_bool(const ss_config_t *c, const char *key)
{
        return ss_conf_get(c, key, SS_CONF_BOOL, SS_CONF_BOOL, "ss_config_get_bool")->b;
}

const char *ss_config_get_str(const ss_config_t *c, const char *key)
{
        return ss_conf_get(c, key, SS_CONF_STRING, SS_CONF_ENUM, "ss_config_get_str")->text;
}

const char *ss_config_origin(const ss_config_t *c, const char *key)
{
        int row = ss_conf_row_find(key);
        if (row >= 0)
                return c->slots[row].origin;
        for (int i = 0; i < c->npass; i++)
                if (!strcmp(c->pass[i].name, key))
                        return c->pass[i].origin;
        return NULL;
}

int ss_config_foreach_prefix(const ss_config_t *c, const char *prefix,
                             int (*cb)(const char *name, const char *value, void *opaque),
                             void *opaque)
{
        size_t n = strlen(prefix);
        for (int i = 0; i < c->npass; i++) {
                if (strncmp(c->pass[i].name, prefix, n))
                        continue;
                int r = cb(c->pass[i].name + n, c->pass[i].value, opaque);
                if (r)
                        return r;
        }
        return 0;
}

/* ---- printing ----------------------------------------------------------------------------- */

/* Prints a value as a YAML scalar, quoted when plain style would change its meaning. */
static void ss_conf_print_scalar(FILE *out, const char *v, int is_string)
{
        int quote = !*v || isspace((unsigned char)v[0]) || isspace((unsigned char)v[strlen(v) - 1]);
        if (strpbrk(v, ":#{}[],&*!|>'\"%@`\\") ||
            (is_string && (!strcmp(v, "~") || !strcmp(v, "null"))))
                quote = 1;
        if (!quote) {
                fputs(v, out);
                return;
        }
        fputc('"', out);
        for (const char *p = v; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fputc('\\', out);
                fputc(*p, out);
        }
        fputc('"', out);
}

typedef struct ss_conf_line {
        const char *key, *value, *origin;
        int is_string;
} ss_conf_line_t;

static int ss_conf_line_cmp(const void *a, const void *b)
{
        return strcmp(((const ss_conf_line_t *)a)->key, ((const ss_conf_line_t *)b)->key);
}

void ss_config_print(const ss_config_t *c, FILE *out)
{
        int n = c->nrows + c->npass;
        ss_conf_line_t *lines = malloc((size_t)(n ? n : 1) * sizeof(*lines)); /* [n] */
        if (!lines) {
                fprintf(out, "# out of memory\n");
                return;
        }
        for (int i = 0; i < c->nrows; i++)
                lines[i] =
                    (ss_conf_line_t){ss_conf_table[i].name, c->slots[i].text, c->slots[i].origin,
                                     ss_conf_table[i].type == SS_CONF_STRING};
        for (int i = 0; i < c->npass; i++)
                lines[c->nrows + i] =
                    (ss_conf_line_t){c->pass[i].name, c->pass[i].value, c->pass[i].origin, 1};
        qsort(lines, (size_t)n, sizeof(*lines), ss_conf_line_cmp);
        for (int i = 0; i < n; i++) {
                fprintf(out, "%s: ", lines[i].key);
                ss_conf_print_scalar(out, lines[i].value, lines[i].is_string);
                fprintf(out, "  # %s\n", lines[i].origin);
        }
        free(lines);
}

void ss_config_print_doc(FILE *out)
{
        fprintf(out, "| Key | Type | Default | Allowed | Description |\n");
        fprintf(out, "|-----|------|---------|---------|-------------|\n");
        for (int i = 0; ss_conf_table[i].name; i++) {
                const ss_conf_def_t *d = &ss_conf_table[i];
                char allowed[512] = "";
                if ((d->type == SS_CONF_INT || d->type == SS_CONF_DOUBLE) && ss_conf_has_range(d)) {
                        char lo[64], hi[64];
                        ss_conf_fmt_num(d->min, lo, sizeof(lo));
                        ss_conf_fmt_num(d->max, hi, sizeof(hi));
                        snprintf(allowed, sizeof(allowed), "%s .. %s", lo, hi);
                } else if (d->type == SS_CONF_ENUM && d->enums) {
                        size_t k = 0;
                        for (const char *p = d->enums; *p && k + 3 < sizeof(allowed); p++) {
                                if (*p == '|') {
                                        allowed[k++] = ',';
                                        allowed[k++] = ' ';
                                } else {
                                        allowed[k++] = *p;
                                }
                        }
                        allowed[k] = '\0';
                } else if (d->type == SS_CONF_BOOL) {
                        snprintf(allowed, sizeof(allowed), "true, false");
                }
                fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", d->name,
                        ss_conf_type_name(d->type), d->defval && *d->defval ? d->defval : "\"\"",
                        allowed, d->doc ? d->doc : "");
        }
        fprintf(out, "| `kafka.*` | string | | librdkafka property | passed verbatim to "
                     "rd_kafka_conf_set() |\n");
}
