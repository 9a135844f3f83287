/*
 * test_config_limits: hostile config files are refused fast with a clear error: an alias
 * bomb, 200,000 kafka.* keys (over the file size limit), 5,000 keys in a small file (over
 * the key limit), nesting past the depth limit, a NUL or a control character in a value
 * (from YAML and from the command line). Each load must fail within 1 s.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_config.h"
#include "ss_test.h"
#include "ss_util.h"

static char dir[256];
static char errbuf[2048];

static void write_base(const char *text, size_t len)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/base.yaml", dir);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (!f)
                exit(1);
        fwrite(text, 1, len, f);
        fclose(f);
}

/* Loads dir with the overrides; must fail within 1 s with every substring in the error. */
static void expect_refused(const char *what, int n, const char **ov, const char *const *subs)
{
        errbuf[0] = '\0';
        double t0 = ss_time_mono();
        ss_config_t *c = ss_config_load(dir, n, (char *const *)ov, errbuf, sizeof(errbuf));
        double dt = ss_time_mono() - t0;
        CHECK(c == NULL);
        ss_config_destroy(c);
        CHECK(dt < 1.0);
        printf("  %-28s refused in %.3f s: %s\n", what, dt, errbuf);
        for (int i = 0; subs[i]; i++) {
                int ok = strstr(errbuf, subs[i]) != NULL;
                CHECK(ok);
                if (!ok)
                        fprintf(stderr, "  %s: error '%s' lacks '%s'\n", what, errbuf, subs[i]);
        }
}

static void test_alias_bomb(void)
{
        /* billion laughs: 9 levels of 9 aliases each = 9^9 scalars once walked */
        char buf[4096];
        size_t n = (size_t)snprintf(buf, sizeof(buf), "a0: &a0 x\n");
        for (int i = 1; i < 10; i++) {
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "a%d: &a%d [", i, i);
                for (int j = 0; j < 9; j++)
                        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s*a%d", j ? ", " : "",
                                              i - 1);
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]\n");
        }
        write_base(buf, n);
        expect_refused("alias bomb", 0, NULL,
                       (const char *[]){"base.yaml:2", "aliases (*a0) are not allowed", NULL});
        /* one harmless alias is refused too: the rule is "no aliases", not "few" */
        const char *one = "log:\n  level: &l warn\nruntime:\n  blas:\n    threads: 1\nx: *l\n";
        write_base(one, strlen(one));
        expect_refused("single alias", 0, NULL, (const char *[]){"base.yaml:6", "*l", NULL});
}

static void test_many_keys(void)
{
        /* 200,000 kafka.* keys: several MiB, over the file size limit */
        size_t cap = 200000 * 40, n = 0;
        char *buf = malloc(cap);
        CHECK(buf != NULL);
        for (int i = 0; i < 200000; i++)
                n += (size_t)snprintf(buf + n, cap - n, "kafka.x.prop%d: v\n", i);
        write_base(buf, n);
        expect_refused("200,000 kafka.* keys", 0, NULL,
                       (const char *[]){"base.yaml", "over the limit of 1048576 bytes", NULL});
        /* 5,000 keys in ~100 KB: under the size limit, over the key limit */
        n = 0;
        for (int i = 0; i < 5000; i++)
                n += (size_t)snprintf(buf + n, cap - n, "kafka.p%d: v\n", i);
        write_base(buf, n);
        expect_refused("5,000 keys", 0, NULL,
                       (const char *[]){"base.yaml:4097", "more than 4096 keys", NULL});
        /* the same as nested mappings are counted the same way */
        n = (size_t)snprintf(buf, cap, "kafka:\n");
        for (int i = 0; i < 5000; i++)
                n += (size_t)snprintf(buf + n, cap - n, "  p%d: v\n", i);
        write_base(buf, n);
        expect_refused("5,000 nested keys", 0, NULL, (const char *[]){"more than 4096 keys", NULL});
        free(buf);
}

static void test_depth(void)
{
        char buf[1024];
        size_t n = 0;
        for (int i = 0; i < 40; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{k%d: ", i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1");
        for (int i = 0; i < 40; i++)
                buf[n++] = '}';
        buf[n++] = '\n';
        write_base(buf, n);
        expect_refused("40 levels of nesting", 0, NULL,
                       (const char *[]){"nested deeper than 16 levels", NULL});
}

static void test_control_chars(void)
{
        const char *nul = "log:\n  level: \"info\\0debug\"\n";
        write_base(nul, strlen(nul));
        expect_refused(
            "NUL in a value", 0, NULL,
            (const char *[]){"log.level", "control character 0x00 at byte 4", "base.yaml:2", NULL});
        const char *esc = "kafka.client.id: \"abc\\x1b[31m\"\n";
        write_base(esc, strlen(esc));
        expect_refused("ESC in a pass-through value", 0, NULL,
                       (const char *[]){"kafka.client.id", "0x1b", "base.yaml:1", NULL});
        const char *ok = "log:\n  level: warn\n";
        write_base(ok, strlen(ok));
        expect_refused("newline in an override", 1, (const char *[]){"redis.host=a\nb"},
                       (const char *[]){"redis.host", "0x0a", "command line", NULL});
        /* the same file loads when nothing is hostile */
        errbuf[0] = '\0';
        ss_config_t *c = ss_config_load(dir, 0, NULL, errbuf, sizeof(errbuf));
        CHECK(c != NULL);
        if (c)
                CHECK_STR_EQ(ss_config_get_str(c, "log.level"), "warn");
        ss_config_destroy(c);
}

int main(void)
{
        snprintf(dir, sizeof(dir), "/tmp/ss_conf_limits_XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_alias_bomb();
        test_many_keys();
        test_depth();
        test_control_chars();
        char path[512];
        snprintf(path, sizeof(path), "%s/base.yaml", dir);
        unlink(path);
        rmdir(dir);
        return ss_test_finish();
}
