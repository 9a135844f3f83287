/*
 * sentistream monitor report --html FILE [--json REPORT] [key=value ...]
 *
 * Writes the drift report as one self-contained HTML page (monitor/rhtml.h)
 * to FILE: from a saved report JSON (--json REPORT, e.g. what `monitor
 * replay --report` wrote), or else from Redis, the key
 * <redis.prefix>monitor:report:<model.name> that the running monitor keeps
 * up to date. Prints the page's path. Exit status: 0 ok, 1 runtime failure
 * (no report, Redis unreachable, unwritable file), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "mstate.h"
#include "rhtml.h"
#include "ss_util.h"

static void report_usage(FILE *out)
{
        fprintf(out, "usage: sentistream monitor report --html FILE [--json REPORT] "
                     "[--config-dir DIR] [key=value ...]\n"
                     "  without --json the report is read from Redis "
                     "(<redis.prefix>monitor:report:<model.name>)\n");
}

/* The report text from Redis; caller frees. NULL with the reason in err. */
static char *report_from_redis(const ss_config_t *c, char *err, size_t errsize)
{
        ss_mstate_t *s = ss_mstate_new(ss_config_get_str(c, "redis.host"),
                                       (int)ss_config_get_int(c, "redis.port"),
                                       (int)ss_config_get_int(c, "redis.timeout.ms"), 1000,
                                       ss_config_get_str(c, "redis.prefix"));
        char key[512], full[1024];
        char *data = NULL;
        size_t len = 0;
        snprintf(key, sizeof(key), "monitor:report:%s", ss_config_get_str(c, "model.name"));
        if (!s || ss_mstate_ensure(s, err, errsize) ||
            ss_mstate_get(s, key, &data, &len, err, errsize)) {
                ss_mstate_destroy(s);
                return NULL;
        }
        if (!data)
                snprintf(err, errsize, "Redis has no report at %s (is the monitor running?)",
                         ss_mstate_key(s, key, full, sizeof(full)));
        ss_mstate_destroy(s);
        return data;
}

int ss_cmd_monitor_report(int argc, char **argv)
{
        const char *html = NULL, *json = NULL;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--html") && i + 1 < argc)
                        html = argv[++i];
                else if (!strcmp(argv[i], "--json") && i + 1 < argc)
                        json = argv[++i];
                else
                        return ss_cli_args_reject(&args, "monitor report", argv[i], report_usage);
        }
        if (!html) {
                report_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char err[2048] = "";
        char *text = NULL;
        size_t len = 0;
        if (json) {
                if (ss_file_read_all(json, &text, &len, err, sizeof(err)))
                        text = NULL;
        } else
                text = report_from_redis(c, err, sizeof(err));
        int rc = 1;
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%s.tmp", html);
        FILE *f = text ? fopen(tmp, "w") : NULL;
        if (text && !f)
                snprintf(err, sizeof(err), "%s: cannot write", tmp);
        if (f) {
                ss_err_t e =
                    ss_rhtml_render(text, json ? json : "the report in Redis", f, err, sizeof(err));
                if (fclose(f) == 0 && e == SS_OK && rename(tmp, html) == 0) {
                        printf("%s\n", html);
                        rc = 0;
                } else {
                        remove(tmp);
                        if (e == SS_OK)
                                snprintf(err, sizeof(err), "%s: cannot write", html);
                }
        }
        if (rc)
                fprintf(stderr, "sentistream monitor report: %s\n", err);
        free(text);
        ss_config_destroy(c);
        return rc;
}
