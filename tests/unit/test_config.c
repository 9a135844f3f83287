/*
 * test_config: the configuration loader against fixture trees in
 * tests/fixtures/config/<case>/ (composition, group selection, dotted vs
 * nested keys, kafka pass-through, every kind of error with its key and
 * file:line), a check of every row of the global key table (defaults valid,
 * bounds accepted, values past them rejected), and the real config/ tree.
 */
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ss_config.h"
#include "ss_test.h"

static char errbuf[2048];

static const char *fixture(const char *name)
{
        static char buf[4096];
        char rel[512];
        snprintf(rel, sizeof(rel), "tests/fixtures/config/%s", name);
        return ss_test_src_path(rel, buf, sizeof(buf));
}

static ss_config_t *load(const char *name, int n, const char **ov)
{
        errbuf[0] = '\0';
        return ss_config_load(fixture(name), n, (char *const *)ov, errbuf, sizeof(errbuf));
}

/* True if origin ends with suffix ("compose/base.yaml:6"). */
static int origin_is(const ss_config_t *c, const char *key, const char *suffix)
{
        const char *o = ss_config_origin(c, key);
        if (!o)
                return 0;
        size_t lo = strlen(o), ls = strlen(suffix);
        int ok = lo >= ls && !strcmp(o + lo - ls, suffix);
        if (!ok)
                fprintf(stderr, "  origin of %s is '%s', want suffix '%s'\n", key, o, suffix);
        return ok;
}

/* Loads a fixture that must fail; checks SS_ERR_CONFIG-style NULL and each substring. */
static void expect_error(const char *name, int n, const char **ov, const char *const *subs)
{
        ss_config_t *c = load(name, n, ov);
        CHECK(c == NULL);
        ss_config_destroy(c);
        for (int i = 0; subs[i]; i++) {
                int ok = strstr(errbuf, subs[i]) != NULL;
                CHECK(ok);
                if (!ok)
                        fprintf(stderr, "  %s: error '%s' lacks '%s'\n", name, errbuf, subs[i]);
        }
}

static void test_compose_order(void)
{
        ss_config_t *c = load("compose", 0, NULL);
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "  %s\n", errbuf);
                return;
        }
        CHECK_STR_EQ(ss_config_get_str(c, "log.progress"), "auto");
        CHECK_STR_EQ(ss_config_origin(c, "log.progress"), "default");
        CHECK(ss_config_get_int(c, "runtime.blas.threads") == 3);
        CHECK(origin_is(c, "runtime.blas.threads", "compose/base.yaml:9"));
        CHECK_STR_EQ(ss_config_get_str(c, "log.level"), "error"); /* group beats base */
        CHECK(origin_is(c, "log.level", "compose/model/a.yaml:2"));
        /* extra/one.yaml comes after model/a.yaml in the defaults list */
        CHECK(origin_is(c, "kafka.client.id", "compose/extra/one.yaml:3"));
        ss_config_destroy(c);

        const char *ov[] = {"log.level=debug", "kafka.client.id='quoted id'"};
        c = load("compose", 2, ov);
        CHECK(c != NULL);
        if (!c)
                return;
        CHECK_STR_EQ(ss_config_get_str(c, "log.level"), "debug");
        CHECK_STR_EQ(ss_config_origin(c, "log.level"), "command line");
        CHECK_STR_EQ(ss_config_origin(c, "kafka.client.id"), "command line");
        CHECK(ss_config_get_int(c, "runtime.blas.threads") == 3);
        ss_config_destroy(c);
}

static void test_group_reselect(void)
{
        /* the override comes before a key override and still selects the file */
        const char *ov[] = {"log.progress=on", "model=b", "extra=two"};
        ss_config_t *c = load("compose", 3, ov);
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "  %s\n", errbuf);
                return;
        }
        CHECK_STR_EQ(ss_config_get_str(c, "log.level"), "info");
        CHECK(origin_is(c, "log.level", "compose/model/b.yaml:3"));
        CHECK(ss_config_get_int(c, "runtime.blas.threads") == 5);
        CHECK(origin_is(c, "runtime.blas.threads", "compose/model/b.yaml:4"));
        /* extra/two.yaml sets log.progress: off, the key override wins */
        CHECK_STR_EQ(ss_config_get_str(c, "log.progress"), "on");
        CHECK_STR_EQ(ss_config_origin(c, "log.progress"), "command line");
        /* model/a.yaml and extra/one.yaml were not read */
        CHECK(ss_config_origin(c, "kafka.client.id") == NULL);
        ss_config_destroy(c);

        const char *bad[] = {"model=c"};
        const char *subs[] = {"model", "'c'", "model/c.yaml", "command line", "a, b", NULL};
        /* options are listed in directory order: accept either */
        const char *subs2[] = {"model", "'c'", "model/c.yaml", "command line", NULL};
        ss_config_t *c2 = load("compose", 1, bad);
        CHECK(c2 == NULL);
        ss_config_destroy(c2);
        int listed = strstr(errbuf, "a, b") || strstr(errbuf, "b, a");
        CHECK(listed);
        (void)subs;
        expect_error("compose", 1, bad, subs2);
}

static void test_dotted_equals_nested(void)
{
        ss_config_t *d = load("dotted", 0, NULL);
        CHECK(d != NULL);
        ss_config_t *n = load("nested", 0, NULL);
        CHECK(n != NULL);
        if (!d || !n) {
                fprintf(stderr, "  %s\n", errbuf);
                ss_config_destroy(d);
                ss_config_destroy(n);
                return;
        }
        const char *keys[] = {"log.level", "log.progress"};
        for (int i = 0; i < 2; i++)
                CHECK_STR_EQ(ss_config_get_str(d, keys[i]), ss_config_get_str(n, keys[i]));
        CHECK_STR_EQ(ss_config_get_str(n, "log.level"), "debug");
        CHECK_STR_EQ(ss_config_get_str(n, "log.progress"), "on");
        CHECK(ss_config_get_int(d, "runtime.blas.threads") == 7);
        CHECK(ss_config_get_int(n, "runtime.blas.threads") == 7);
        CHECK(origin_is(n, "runtime.blas.threads", "nested/base.yaml:5"));
        CHECK(origin_is(n, "kafka.socket.timeout.ms", "nested/base.yaml:9"));
        CHECK(origin_is(d, "kafka.socket.timeout.ms", "dotted/base.yaml:4"));
        ss_config_destroy(d);
        ss_config_destroy(n);
}

typedef struct {
        char names[8][64], values[8][64];
        int n;
} collected_t;

static int collect(const char *name, const char *value, void *opaque)
{
        collected_t *col = opaque;
        if (col->n < 8) {
                snprintf(col->names[col->n], 64, "%s", name);
                snprintf(col->values[col->n], 64, "%s", value);
        }
        col->n++;
        return 0;
}

static int stop_at_second(const char *name, const char *value, void *opaque)
{
        int *count = opaque;
        return ++*count == 2 ? 42 : 0;
}

static const char *collected_get(const collected_t *col, const char *name)
{
        for (int i = 0; i < col->n && i < 8; i++)
                if (!strcmp(col->names[i], name))
                        return col->values[i];
        return NULL;
}

static void test_kafka_passthrough(void)
{
        const char *ov[] = {"kafka.acks=all"};
        ss_config_t *c = load("compose", 1, ov);
        CHECK(c != NULL);
        if (!c)
                return;
        collected_t col = {0};
        CHECK(ss_config_foreach_prefix(c, "kafka.", collect, &col) == 0);
        CHECK(col.n == 4);
        CHECK_STR_EQ(collected_get(&col, "bootstrap.servers"), "host1:9092");
        CHECK_STR_EQ(collected_get(&col, "socket.timeout.ms"), "100");
        CHECK_STR_EQ(collected_get(&col, "client.id"), "from-extra");
        CHECK_STR_EQ(collected_get(&col, "acks"), "all");
        /* table keys never show up as pass-through */
        collected_t none = {0};
        CHECK(ss_config_foreach_prefix(c, "log.", collect, &none) == 0);
        CHECK(none.n == 0);
        int count = 0;
        CHECK(ss_config_foreach_prefix(c, "kafka.", stop_at_second, &count) == 42);
        CHECK(count == 2);

        /* show lists pass-through keys with their origin, sorted by key */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ss_config_print(c, f);
        fclose(f);
        CHECK(strstr(buf, "kafka.acks: all  # command line\n") != NULL);
        CHECK(strstr(buf, "kafka.bootstrap.servers: \"host1:9092\"  # ") != NULL);
        char *a = strstr(buf, "kafka.acks:"), *l = strstr(buf, "log.level:");
        CHECK(a && l && a < l);
        free(buf);
        ss_config_destroy(c);
}

static void test_errors(void)
{
        {
                const char *s[] = {"log.levle", "unknown key", "err_unknown/base.yaml:2",
                                   "did you mean 'log.level'", NULL};
                expect_error("err_unknown", 0, NULL, s);
        }
        {
                const char *s[] = {"runtime.blas.threads: expected an integer, got 'abc'",
                                   "err_type/base.yaml:4", NULL};
                expect_error("err_type", 0, NULL, s);
        }
        {
                const char *s[] = {"runtime.blas.threads", "out of range [0, 256]",
                                   "err_range/base.yaml:1", NULL};
                expect_error("err_range", 0, NULL, s);
        }
        {
                const char *s[] = {"log.level", "'loud'", "debug|info|warn|error",
                                   "err_enum/base.yaml:2", NULL};
                expect_error("err_enum", 0, NULL, s);
        }
        {
                const char *s[] = {
                    "model",         "'nope'", "err_group/model/nope.yaml", "err_group/base.yaml:2",
                    "options: real", NULL};
                expect_error("err_group", 0, NULL, s);
        }
        {
                const char *s[] = {"malformed YAML", "err_yaml/base.yaml:4", NULL};
                expect_error("err_yaml", 0, NULL, s);
        }
        {
                const char *s[] = {"log.level", "expected a scalar", "mapping",
                                   "err_mapping/base.yaml:2", NULL};
                expect_error("err_mapping", 0, NULL, s);
        }
        {
                const char *s[] = {"log.level", "duplicate key", "err_dup/base.yaml:3", "line 1",
                                   NULL};
                expect_error("err_dup", 0, NULL, s);
        }
        {
                const char *s[] = {"runtime.blas.threads", "list", "err_list/base.yaml:1", NULL};
                expect_error("err_list", 0, NULL, s);
        }
        {
                const char *s[] = {"runtime.blas", "unknown key", "err_section/base.yaml:1",
                                   "section", NULL};
                expect_error("err_section", 0, NULL, s);
        }
        {
                const char *ov[] = {"log.level"};
                const char *s[] = {"log.level", "'='", "command line", NULL};
                expect_error("empty", 1, ov, s);
        }
        {
                const char *ov[] = {"=x"};
                const char *s[] = {"empty key", "command line", NULL};
                expect_error("empty", 1, ov, s);
        }
        {
                const char *ov[] = {"runtime.blas.threads=x1"};
                const char *s[] = {"runtime.blas.threads", "expected an integer", "'x1'",
                                   "command line", NULL};
                expect_error("empty", 1, ov, s);
        }
        {
                const char *ov[] = {"no.such.key=1"};
                const char *s[] = {"no.such.key", "unknown key", "command line", NULL};
                expect_error("empty", 1, ov, s);
        }
        {
                const char *s[] = {"no-such-dir", NULL};
                expect_error("no-such-dir", 0, NULL, s);
        }
}

/* Runs fn in a child; true if it died of SIGABRT. */
static int aborts(void (*fn)(const ss_config_t *), const ss_config_t *c)
{
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                freopen("/dev/null", "w", stderr);
                fn(c);
                _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void get_unknown(const ss_config_t *c)
{
        (void)ss_config_get_int(c, "no.such.key");
}

static void get_wrong_type(const ss_config_t *c)
{
        (void)ss_config_get_int(c, "log.level");
}

static void get_passthrough(const ss_config_t *c)
{
        (void)ss_config_get_str(c, "kafka.bootstrap.servers");
}

static void test_getter_misuse(void)
{
        ss_config_t *c = load("compose", 0, NULL);
        CHECK(c != NULL);
        if (!c)
                return;
        CHECK(aborts(get_unknown, c));
        CHECK(aborts(get_wrong_type, c));
        CHECK(aborts(get_passthrough, c));
        ss_config_destroy(c);
}

/* Loads "empty" with one override; returns 1 if it loads. */
static int try_override(const char *key, const char *value)
{
        char arg[512];
        snprintf(arg, sizeof(arg), "%s=%s", key, value);
        const char *ov[] = {arg};
        ss_config_t *c = load("empty", 1, ov);
        int ok = c != NULL;
        if (!ok && (!strstr(errbuf, key) || !strstr(errbuf, "command line")))
                fprintf(stderr, "  error for %s lacks key or origin: %s\n", arg, errbuf);
        ss_config_destroy(c);
        return ok;
}

/* Every table row: sane definition, valid default, bounds and values checked. */
static void test_table_rows(void)
{
        ss_config_t *c = load("empty", 0, NULL);
        CHECK(c != NULL); /* every default parses against its own row */
        if (!c) {
                fprintf(stderr, "  %s\n", errbuf);
                return;
        }
        int nrows = 0;
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++, nrows++) {
                for (const ss_conf_def_t *e = d + 1; e->name; e++)
                        if (!strcmp(d->name, e->name)) {
                                fprintf(stderr, "  duplicate table key %s\n", d->name);
                                CHECK(0);
                        }
                int sane = d->doc && *d->doc && !strchr(d->doc, '|') && d->defval &&
                           strncmp(d->name, "kafka.", 6) && d->min <= d->max;
                if (!sane)
                        fprintf(stderr, "  bad table row %s\n", d->name);
                CHECK(sane);
                CHECK_STR_EQ(ss_config_origin(c, d->name), "default");
                char v[64];
                switch (d->type) {
                case SS_CONF_INT: {
                        int64_t x = ss_config_get_int(c, d->name);
                        (void)x;
                        if (d->min == 0 && d->max == 0)
                                break;
                        snprintf(v, sizeof(v), "%.0f", d->min);
                        CHECK(try_override(d->name, v));
                        snprintf(v, sizeof(v), "%.0f", d->max);
                        CHECK(try_override(d->name, v));
                        snprintf(v, sizeof(v), "%.0f", d->max + 1);
                        CHECK(!try_override(d->name, v));
                        snprintf(v, sizeof(v), "%.0f", d->min - 1);
                        CHECK(!try_override(d->name, v));
                        CHECK(!try_override(d->name, "1.5"));
                        CHECK(!try_override(d->name, "abc"));
                        break;
                }
                case SS_CONF_DOUBLE: {
                        double x = ss_config_get_double(c, d->name);
                        (void)x;
                        CHECK(!try_override(d->name, "abc"));
                        CHECK(!try_override(d->name, "nan"));
                        if (d->min == 0 && d->max == 0)
                                break;
                        snprintf(v, sizeof(v), "%.17g", d->min);
                        CHECK(try_override(d->name, v));
                        snprintf(v, sizeof(v), "%.17g", d->max);
                        CHECK(try_override(d->name, v));
                        snprintf(v, sizeof(v), "%.17g", d->max + 1e-6 * (1 + d->max));
                        CHECK(!try_override(d->name, v));
                        break;
                }
                case SS_CONF_BOOL: {
                        const char *yes[] = {"true", "yes", "on", "1", "TRUE"};
                        const char *no[] = {"false", "no", "off", "0", "Off"};
                        for (int i = 0; i < 5; i++) {
                                char arg[256];
                                snprintf(arg, sizeof(arg), "%s=%s", d->name, yes[i]);
                                const char *ov[] = {arg};
                                ss_config_t *b = load("empty", 1, ov);
                                CHECK(b && ss_config_get_bool(b, d->name));
                                ss_config_destroy(b);
                                snprintf(arg, sizeof(arg), "%s=%s", d->name, no[i]);
                                b = load("empty", 1, ov);
                                CHECK(b && !ss_config_get_bool(b, d->name));
                                ss_config_destroy(b);
                        }
                        CHECK(!try_override(d->name, "maybe"));
                        break;
                }
                case SS_CONF_ENUM: {
                        CHECK(d->enums && *d->enums);
                        CHECK(ss_config_get_str(c, d->name) != NULL);
                        char one[128];
                        const char *p = d->enums;
                        while (p && *p) {
                                const char *bar = strchr(p, '|');
                                int len = bar ? (int)(bar - p) : (int)strlen(p);
                                snprintf(one, sizeof(one), "%.*s", len, p);
                                CHECK(try_override(d->name, one));
                                p = bar ? bar + 1 : NULL;
                        }
                        CHECK(!try_override(d->name, "no-such-value"));
                        break;
                }
                case SS_CONF_STRING: {
                        CHECK(ss_config_get_str(c, d->name) != NULL);
                        char arg[256];
                        snprintf(arg, sizeof(arg), "%s=\"a b: c\"", d->name);
                        const char *ov[] = {arg};
                        ss_config_t *s = load("empty", 1, ov);
                        CHECK(s && !strcmp(ss_config_get_str(s, d->name), "a b: c"));
                        ss_config_destroy(s);
                        break;
                }
                }
        }
        CHECK(nrows >= 3);
        ss_config_destroy(c);
}

/* The real config/ tree loads, with every option of every group. */
static void test_real_tree(void)
{
        char dir[4096];
        ss_test_src_path("config", dir, sizeof(dir));
        ss_config_t *c = ss_config_load(dir, 0, NULL, errbuf, sizeof(errbuf));
        CHECK(c != NULL);
        if (!c)
                fprintf(stderr, "  config/: %s\n", errbuf);
        ss_config_destroy(c);
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        if (!d)
                return;
        struct dirent *g;
        while ((g = readdir(d))) {
                if (g->d_name[0] == '.')
                        continue;
                char sub[4600];
                snprintf(sub, sizeof(sub), "%s/%s", dir, g->d_name);
                DIR *sd = opendir(sub);
                if (!sd)
                        continue;
                struct dirent *o;
                while ((o = readdir(sd))) {
                        size_t n = strlen(o->d_name);
                        if (n <= 5 || strcmp(o->d_name + n - 5, ".yaml"))
                                continue;
                        char arg[600];
                        snprintf(arg, sizeof(arg), "%s=%.*s", g->d_name, (int)(n - 5), o->d_name);
                        char *ov[] = {arg};
                        ss_config_t *oc = ss_config_load(dir, 1, ov, errbuf, sizeof(errbuf));
                        CHECK(oc != NULL);
                        if (!oc)
                                fprintf(stderr, "  config/ with %s: %s\n", arg, errbuf);
                        ss_config_destroy(oc);
                }
                closedir(sd);
        }
        closedir(d);
}

static void test_doc(void)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ss_config_print_doc(f);
        fclose(f);
        CHECK(strstr(buf, "| Key | Type |") != NULL);
        int lines = 0;
        for (char *p = buf; *p; p++)
                lines += *p == '\n';
        int rows = 0;
        for (const ss_conf_def_t *d = ss_conf_table; d->name; d++) {
                rows++;
                char want[256];
                snprintf(want, sizeof(want), "| `%s` | ", d->name);
                CHECK(strstr(buf, want) != NULL);
        }
        CHECK(lines == rows + 3); /* header, rule, rows, kafka.* */
        CHECK(strstr(buf, "| `log.level` | enum | `info` | debug, info, warn, error |") != NULL);
        free(buf);
}

int main(void)
{
        test_compose_order();
        test_group_reselect();
        test_dotted_equals_nested();
        test_kafka_passthrough();
        test_errors();
        test_getter_misuse();
        test_table_rows();
        test_real_tree();
        test_doc();
        return ss_test_finish();
}
