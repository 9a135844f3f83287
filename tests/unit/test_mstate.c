/*
 * test_mstate: the labels stream against a redis-server started here (port
 * SS_TEST_PORT_BASE + 384): labels written with and without their text (older writers,
 * `label --no-text`) are both read back by the monitor's reader (XREAD, text ignored or
 * present) and by the newest-first reader the retrain worker uses (XREVRANGE); MAXLEN ~
 * bounds the stream; a generic command (ss_mstate_command) goes through the same
 * connection. Skipped (reported) when redis-server is not installed.
 */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mstate.h"
#include "ss_log.h"
#include "ss_test.h"
#include "ss_util.h"

typedef struct seen {
        int n;
        char ids[8][32];
        char labels[8][16];
        char texts[8][64]; /* "" = no text field */
} seen_t;

static void on_label(void *opaque, const ss_label_entry_t *e)
{
        seen_t *s = opaque;
        if (s->n >= 8)
                return;
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", e->tweet_id ? e->tweet_id : "?");
        snprintf(s->labels[s->n], sizeof(s->labels[0]), "%s", e->label ? e->label : "?");
        snprintf(s->texts[s->n], sizeof(s->texts[0]), "%s", e->text ? e->text : "");
        if (e->text)
                CHECK(e->text_len == strlen(e->text));
        s->n++;
}

static pid_t redis_start(int port)
{
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
                _exit(127);
        }
        return pid;
}

int main(void)
{
        if (system("command -v redis-server >/dev/null 2>&1") != 0) {
                printf("redis-server not installed: skipped\n");
                return ss_test_finish();
        }
        const char *base = getenv("SS_TEST_PORT_BASE");
        int port = (base ? atoi(base) : 19000) + 384;
        pid_t pid = redis_start(port);
        ss_log_level_set(SS_LOG_ERROR);
        char err[512];
        ss_mstate_t *s = ss_mstate_new("127.0.0.1", port, 500, 100, "t:");
        CHECK(s != NULL);
        ss_err_t rc = SS_ERR_REDIS;
        for (int i = 0; i < 100 && rc != SS_OK; i++) {
                rc = ss_mstate_ensure(s, err, sizeof(err));
                if (rc)
                        usleep(100 * 1000);
        }
        CHECK(rc == SS_OK);

        /* an older writer's entry (no text), then two with text, one of them UTF-8 */
        CHECK(ss_mstate_labels_add(s, "1", "negative", 1000, "old", NULL, 0, err, sizeof(err)) ==
              SS_OK);
        CHECK(ss_mstate_labels_add(s, "2", "positive", 2000, "f.tsv", "great day", 0, err,
                                   sizeof(err)) == SS_OK);
        CHECK(ss_mstate_labels_add(s, "3", "neutral", 3000, "f.tsv", "caf\xc3\xa9 \t x", 0, err,
                                   sizeof(err)) == SS_OK);

        /* the monitor's reader: every entry, in order, text or not */
        seen_t a = {0};
        char last[64] = "0";
        size_t n = 0;
        CHECK(ss_mstate_labels_read(s, last, 100, on_label, &a, &n, err, sizeof(err)) == SS_OK);
        CHECK(n == 3 && a.n == 3);
        CHECK(!strcmp(a.ids[0], "1") && !strcmp(a.labels[0], "negative") && !a.texts[0][0]);
        CHECK(!strcmp(a.ids[1], "2") && !strcmp(a.texts[1], "great day"));
        CHECK(!strcmp(a.ids[2], "3") && !strcmp(a.labels[2], "neutral") &&
              !strcmp(a.texts[2], "caf\xc3\xa9 \t x"));
        CHECK(ss_mstate_labels_read(s, last, 100, on_label, &a, &n, err, sizeof(err)) == SS_OK);
        CHECK(n == 0);

        /* the worker's reader: newest first, bounded by count */
        seen_t b = {0};
        CHECK(ss_mstate_labels_newest(s, 2, on_label, &b, &n, err, sizeof(err)) == SS_OK);
        CHECK(n == 2 && b.n == 2 && !strcmp(b.ids[0], "3") && !strcmp(b.ids[1], "2"));

        /* MAXLEN ~ keeps the stream bounded (approximate trimming: whole macro nodes) */
        for (int i = 0; i < 3000; i++) {
                char id[16];
                snprintf(id, sizeof(id), "m%d", i);
                if (ss_mstate_labels_add(s, id, "positive", 4000 + i, "bulk", "t", 500, err,
                                         sizeof(err)))
                        break;
        }
        redisReply *r = NULL;
        const char *xlen[] = {"XLEN", "t:labels"};
        CHECK(ss_mstate_command(s, 2, xlen, NULL, 1u << REDIS_REPLY_INTEGER, &r, err,
                                sizeof(err)) == SS_OK);
        if (r) {
                printf("labels stream after 3003 adds with maxlen 500: %lld entries\n",
                       (long long)r->integer);
                CHECK(r->integer >= 500 && r->integer < 1000);
                freeReplyObject(r);
        }
        /* a reply of a type not accepted is an error naming the command */
        CHECK(ss_mstate_command(s, 2, xlen, NULL, 1u << REDIS_REPLY_STRING, &r, err, sizeof(err)) ==
              SS_ERR_REDIS);
        CHECK(strstr(err, "XLEN") != NULL);

        ss_mstate_destroy(s);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return ss_test_finish();
}
