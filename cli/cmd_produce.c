/*
 * cmd_produce: `sentistream produce FILE.tsv [--rate N] [--format avro|json]
 * [--limit N] [--created-at tweet|now] [overrides]` replays a TSV file
 * (tweet_id<TAB>label<TAB>text) into topics.input, one Tweet per line, key =
 * tweet id. created_at is the tweet id's Twitter snowflake time
 * ((id >> 22) + 1288834974657 ms), or the produce time when the id is not a
 * snowflake or with --created-at now (what the latency benchmark uses).
 * --rate paces the sends (messages per second; 0 = as fast as possible). A
 * malformed line is reported with its line number and not sent. At the end it
 * waits for every delivery, prints the count and rate, and exits non-zero if
 * any line was malformed or any delivery failed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "cmd.h"
#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_serde.h"
#include "ss_util.h"

/* Twitter's epoch (2010-11-04T01:42:54.657Z) in Unix milliseconds. */
#define SS_SNOWFLAKE_EPOCH_MS 1288834974657LL

typedef struct ss_produce_opts {
        const char *path, *config_dir, *format;
        double rate;
        long long limit;
        int created_now;
} ss_produce_opts_t;

static void ss_produce_usage(FILE *out)
{
        fprintf(out,
                "usage: sentistream produce FILE.tsv [--rate N] [--format avro|json] [--limit N]\n"
                "                           [--created-at tweet|now] [--config-dir DIR] "
                "[key=value ...]\n"
                "  replays tweet_id<TAB>label<TAB>text lines into topics.input (key = id)\n");
}

/* created_at of a tweet id: the snowflake time, or now when the id is not a snowflake. */
static int64_t ss_produce_created_at(const char *id, size_t len, int64_t now)
{
        if (len == 0 || len > 19)
                return now;
        unsigned long long v = 0;
        for (size_t i = 0; i < len; i++) {
                if (id[i] < '0' || id[i] > '9')
                        return now;
                v = v * 10 + (unsigned long long)(id[i] - '0');
        }
        int64_t ms = (int64_t)(v >> 22) + SS_SNOWFLAKE_EPOCH_MS;
        /* Snowflakes started in November 2010; a small number is an old sequential id. */
        if (v < (1ULL << 32) || ms > now + 86400000LL)
                return now;
        return ms;
}

/* Splits "id\tlabel\ttext" in place. Returns 0, or -1 when the line is malformed. */
static int ss_produce_split(char *line, size_t len, ss_str_t *id, ss_str_t *text)
{
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
        char *t1 = memchr(line, '\t', len);
        if (!t1)
                return -1;
        char *t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line));
        if (!t2)
                return -1;
        *id = (ss_str_t){line, (size_t)(t1 - line)};
        *text = (ss_str_t){t2 + 1, len - (size_t)(t2 + 1 - line)};
        return 0;
}

static ss_err_t ss_produce_encode_json(const ss_tweet_t *t, ss_serde_buf_t *out)
{
        cJSON *o = cJSON_CreateObject();
        char *id = strndup(t->id.ptr, t->id.len), *text = strndup(t->text.ptr, t->text.len);
        if (!o || !id || !text) {
                cJSON_Delete(o);
                free(id);
                free(text);
                return SS_ERR_NOMEM;
        }
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddNumberToObject(o, "created_at", (double)t->created_at);
        char *js = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        free(id);
        free(text);
        if (!js)
                return SS_ERR_NOMEM;
        size_t n = strlen(js);
        ss_serde_buf_reset(out);
        if (ss_array_grow((void **)&out->data, &out->cap, n + 1, 1, 256)) {
                free(js);
                return SS_ERR_NOMEM;
        }
        memcpy(out->data, js, n);
        out->len = n;
        free(js);
        return SS_OK;
}

/* Returns 0, 1 after --help, or 2 on a bad argument (said on stderr). */
static int ss_produce_parse(int argc, char **argv, ss_produce_opts_t *o, ss_cli_args_t *args)
{
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (ss_cli_args_take(args, argc, argv, &i))
                        continue;
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        ss_produce_usage(stdout);
                        return 1;
                } else if (!strcmp(a, "--rate")) {
                        if (ss_cli_flag_double("produce", a, v, 0, 1e9, &o->rate))
                                return 2;
                        i++;
                } else if (!strcmp(a, "--limit")) {
                        if (ss_cli_flag_ll("produce", a, v, 0, LLONG_MAX, &o->limit))
                                return 2;
                        i++;
                } else if (!strcmp(a, "--format") && v &&
                           (!strcmp(v, "avro") || !strcmp(v, "json"))) {
                        o->format = v;
                        i++;
                } else if (!strcmp(a, "--created-at") && v &&
                           (!strcmp(v, "tweet") || !strcmp(v, "now"))) {
                        o->created_now = !strcmp(v, "now");
                        i++;
                } else if (a[0] != '-' && !o->path) {
                        o->path = a;
                } else {
                        fprintf(stderr, "sentistream produce: bad argument '%s'\n", a);
                        ss_produce_usage(stderr);
                        return 2;
                }
        }
        if (!o->path) {
                ss_produce_usage(stderr);
                return 2;
        }
        o->config_dir = args->config_dir;
        return 0;
}

/* Sleeps until message i is due at the configured rate. */
static void ss_produce_pace(const ss_produce_opts_t *o, double start, long long i, ss_producer_t *p)
{
        if (o->rate <= 0)
                return;
        double due = start + (double)i / o->rate;
        for (;;) {
                double left = due - ss_time_mono();
                if (left <= 0)
                        return;
                if (left > 0.002) { /* serve delivery reports while waiting */
                        ss_producer_poll(p, (int)(left * 1000.0) - 1);
                } else {
                        struct timespec ts = {0, (long)(left * 1e9)};
                        nanosleep(&ts, NULL);
                }
        }
}

int ss_cmd_produce(int argc, char **argv)
{
        ss_produce_opts_t o = {.format = "avro"};
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        int rc = ss_produce_parse(argc, argv, &o, &args);
        if (rc) {
                ss_cli_args_free(&args);
                return rc == 1 ? 0 : 2;
        }
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        char err[1024] = "";
        int status = 1;
        FILE *f = NULL;
        ss_serde_t *serde = NULL;
        ss_producer_t *p = NULL;
        char *line = NULL;
        ss_serde_buf_t buf = {0};
        char *schema_dir = ss_cli_schema_dir(c, o.config_dir);
        const char *topic = ss_config_get_str(c, "topics.input");

        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        if (!(serde = ss_serde_new(schema_dir, &ids, 0, err, sizeof(err))))
                goto out;
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        if (!conf || !(p = ss_producer_new(conf, NULL, NULL, err, sizeof(err))))
                goto out;
        if (!(f = fopen(o.path, "r"))) {
                snprintf(err, sizeof(err), "%s: %s", o.path, strerror(errno));
                goto out;
        }

        size_t cap = 0;
        ssize_t n;
        long long lineno = 0, sent = 0, bad = 0;
        double start = ss_time_mono();
        while ((o.limit <= 0 || sent < o.limit) && (n = getline(&line, &cap, f)) > 0) {
                lineno++;
                ss_tweet_t t = {0};
                if (ss_produce_split(line, (size_t)n, &t.id, &t.text)) {
                        fprintf(stderr, "sentistream produce: %s:%lld: not id<TAB>label<TAB>text\n",
                                o.path, lineno);
                        bad++;
                        continue;
                }
                ss_produce_pace(&o, start, sent, p);
                int64_t now = ss_time_now_ms();
                t.created_at = o.created_now ? now : ss_produce_created_at(t.id.ptr, t.id.len, now);
                ss_err_t e;
                if (!strcmp(o.format, "json")) {
                        e = ss_produce_encode_json(&t, &buf);
                } else {
                        ss_serde_buf_reset(&buf);
                        e = ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err));
                }
                if (e == SS_OK)
                        e = ss_producer_send(p, topic, t.id.ptr, t.id.len, buf.data, buf.len, 0,
                                             NULL, -1, err, sizeof(err));
                if (e != SS_OK) {
                        fprintf(stderr, "sentistream produce: %s:%lld: %s\n", o.path, lineno, err);
                        bad++;
                        continue;
                }
                sent++;
                ss_producer_poll(p, 0);
        }
        if (ferror(f)) {
                snprintf(err, sizeof(err), "%s: read error", o.path);
                goto out;
        }
        if (ss_producer_flush(p, 60000, err, sizeof(err)) != SS_OK)
                fprintf(stderr, "sentistream produce: %s\n", err);
        double secs = ss_time_mono() - start;
        ss_producer_stats_t st = ss_producer_stats(p);
        printf("produced %llu of %lld message(s) to %s in %.2f s (%.0f msg/s); %llu failed, "
               "%lld bad line(s)\n",
               (unsigned long long)st.acked, sent, topic, secs,
               secs > 0 ? (double)st.acked / secs : 0.0, (unsigned long long)st.failed, bad);
        status = st.acked == (uint64_t)sent && bad == 0 ? 0 : 1;
        err[0] = '\0';
out:
        if (status && err[0])
                fprintf(stderr, "sentistream produce: %s\n", err);
        if (f)
                fclose(f);
        free(line);
        ss_serde_buf_free(&buf);
        ss_producer_destroy(p, 5000);
        ss_serde_destroy(serde);
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
