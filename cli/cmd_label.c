/*
 * cmd_label: `sentistream label FILE.tsv [--rate N] [--delay S] [--limit N]
 * [--source NAME] [--no-text] [key=value ...]` pushes human labels into the Redis stream
 * <redis.prefix>labels (XADD with fields tweet_id, label, labeled_at, source, text)
 * that the drift monitor joins with the predictions and the retrain worker trains on.
 *
 * FILE.tsv has the data files' format: tweet_id<TAB>label<TAB>text. The text goes with
 * the label (the annotator had it; the worker needs it and must not depend on the tweets
 * topic still holding the tweet) unless --no-text. The stream is trimmed to about
 * redis.labels.maxlen entries (XADD MAXLEN ~), so it stays bounded. Lines are read at --rate per
 * second (0 = as fast as possible); with --delay S each label is pushed S seconds after it was
 * read, to mimic annotation lag (the waiting queue grows to at most 1,000,000 labels; reading
 * pauses when that many are waiting). labeled_at is the moment of the push. A line with a
 * missing field or an unknown label is reported (file:line) and skipped; the
 * exit status is then 1. Redis errors are retried for up to 30 s per label.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "cmd.h"
#include "mstate.h"
#include "ss_log.h"
#include "ss_stop.h"
#include "ss_util.h"

#define LABEL_QUEUE_MAX 1000000
#define LABEL_DELAY_MAX 3600.0
#define ID_MAX          128

typedef struct label_item {
        double due; /* monotonic seconds */
        char id[ID_MAX];
        const char *label; /* static name */
        char *text;        /* owned; NULL with --no-text */
} label_item_t;

typedef struct label_queue {
        label_item_t *items; /* ring of cap */
        size_t head, len, cap;
} label_queue_t;

static void ss_label_usage(FILE *out)
{
        fprintf(out, "usage: sentistream label FILE.tsv [--rate N] [--delay S] [--limit N] "
                     "[--source NAME] [--no-text] [key=value ...]\n"
                     "  pushes the labels of FILE.tsv (tweet_id<TAB>label<TAB>text), with the "
                     "text, to the Redis stream <redis.prefix>labels\n"
                     "  --rate N    labels read per second (default 0 = no limit)\n"
                     "  --delay S   push each label S seconds after reading it (0..3600, default "
                     "0)\n"
                     "  --limit N   stop after N labels (default 0 = all)\n"
                     "  --source    the source field (default: the file's name)\n"
                     "  --no-text   leave the text out (the retrain worker then skips these "
                     "labels)\n");
}

static const char *label_name(const char *s, size_t n)
{
        static const char *const names[3] = {"negative", "neutral", "positive"};
        for (int i = 0; i < 3; i++)
                if (strlen(names[i]) == n && !memcmp(s, names[i], n))
                        return names[i];
        return NULL;
}

/* Doubles the ring up to max entries; 0, or -1 when it cannot grow. The entries from head
 * to the old end move to the new end, so the ring stays in order. */
static int queue_grow(label_queue_t *q, size_t max)
{
        if (q->cap == 0 || q->cap >= max)
                return -1;
        size_t ncap = q->cap * 2 > max ? max : q->cap * 2;
        label_item_t *ni = realloc(q->items, sizeof(label_item_t) * ncap);
        if (!ni)
                return -1;
        size_t tail = q->cap - q->head; /* entries from head to the old end */
        memmove(ni + ncap - tail, ni + q->head, sizeof(label_item_t) * tail);
        q->head = ncap - tail;
        q->items = ni;
        q->cap = ncap;
        return 0;
}

/* Pushes one label, retrying a lost Redis for up to 30 s. */
static int push(ss_mstate_t *r, const label_item_t *it, const char *source, long long maxlen)
{
        char err[512];
        double until = ss_time_mono() + 30;
        for (;;) {
                ss_err_t rc = ss_mstate_labels_add(r, it->id, it->label, ss_time_now_ms(), source,
                                                   it->text, maxlen, err, sizeof(err));
                if (rc == SS_OK)
                        return 0;
                /* a refused password is not a lost Redis: no point in retrying */
                if (ss_time_mono() > until || ss_stop_requested() || rc == SS_ERR_CONFIG) {
                        fprintf(stderr, "sentistream label: %s\n", err);
                        return -1;
                }
                usleep(100 * 1000);
        }
}

typedef struct label_opts {
        const char *file, *source;
        double rate, delay;
        long long limit;
        long long maxlen; /* redis.labels.maxlen */
        int no_text;
} label_opts_t;

/* Pushes every queued label that is due (all of them when flush is set). */
static int drain(ss_mstate_t *r, label_queue_t *q, const label_opts_t *o, const char *source,
                 int flush, uint64_t *pushed)
{
        while (q->len) {
                label_item_t *it = &q->items[q->head];
                double now = ss_time_mono();
                if (it->due > now) {
                        if (!flush)
                                return 0;
                        usleep((useconds_t)((it->due - now) * 1e6) + 1);
                        if (ss_stop_requested())
                                return -1;
                        continue;
                }
                if (push(r, it, source, o->maxlen))
                        return -1;
                (*pushed)++;
                free(it->text);
                it->text = NULL;
                q->head = (q->head + 1) % q->cap;
                q->len--;
        }
        return 0;
}

/* Returns 0, 1 after --help, or 2 on a bad argument (said on stderr). */
static int parse_args(int argc, char **argv, label_opts_t *o, ss_cli_args_t *args)
{
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (ss_cli_args_take(args, argc, argv, &i))
                        continue;
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        ss_label_usage(stdout);
                        return 1;
                } else if (!strcmp(a, "--rate")) {
                        if (ss_cli_flag_double("label", a, v, 0, 1e9, &o->rate))
                                return 2;
                        i++;
                } else if (!strcmp(a, "--delay")) {
                        if (ss_cli_flag_double("label", a, v, 0, LABEL_DELAY_MAX, &o->delay))
                                return 2;
                        i++;
                } else if (!strcmp(a, "--limit")) {
                        if (ss_cli_flag_ll("label", a, v, 0, LLONG_MAX, &o->limit))
                                return 2;
                        i++;
                } else if (!strcmp(a, "--no-text")) {
                        o->no_text = 1;
                } else if (!strcmp(a, "--source") && v) {
                        o->source = v;
                        i++;
                } else if (a[0] != '-' && !o->file) {
                        o->file = a;
                } else {
                        fprintf(stderr, "sentistream label: unexpected argument '%s'\n", a);
                        return 2;
                }
        }
        if (!o->file) {
                fprintf(stderr, "sentistream label: FILE.tsv is required\n");
                return 2;
        }
        return 0;
}

/* Reads the file and queues/pushes labels. Returns the exit status. */
static int label_run(ss_mstate_t *r, const label_opts_t *o, FILE *f, const char *source)
{
        label_queue_t q = {0};
        size_t max = o->delay > 0 ? LABEL_QUEUE_MAX : 1;
        q.cap = o->delay > 0 ? 1024 : 1;
        q.items = malloc(sizeof(label_item_t) * q.cap);
        if (!q.items) {
                fprintf(stderr, "sentistream label: out of memory\n");
                return 1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long long lineno = 0, bad = 0, read = 0;
        uint64_t pushed = 0;
        double start = ss_time_mono();
        int status = 0;
        while (!ss_stop_requested() && (o->limit == 0 || read < o->limit) &&
               (n = getline(&line, &cap, f)) >= 0) {
                lineno++;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                char *t1 = strchr(line, '\t');
                char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
                size_t idl = t1 ? (size_t)(t1 - line) : 0;
                const char *name = t2 ? label_name(t1 + 1, (size_t)(t2 - t1 - 1)) : NULL;
                if (!t2 || !name || idl == 0 || idl >= ID_MAX) {
                        if (++bad <= 10)
                                fprintf(stderr, "sentistream label: %s:%lld: %s, skipped\n",
                                        o->file, lineno,
                                        !t2     ? "expected tweet_id<TAB>label<TAB>text"
                                        : !name ? "label is not negative, neutral or positive"
                                                : "bad tweet_id length");
                        continue;
                }
                if (o->rate > 0) {
                        double due = start + (double)read / o->rate;
                        double now = ss_time_mono();
                        while (due > now && !ss_stop_requested()) {
                                /* push what falls due while waiting for the next read */
                                if (drain(r, &q, o, source, 0, &pushed)) {
                                        status = 1;
                                        goto done;
                                }
                                double w = due - now;
                                usleep((useconds_t)((w > 0.01 ? 0.01 : w) * 1e6) + 1);
                                now = ss_time_mono();
                        }
                }
                read++;
                while (q.len == q.cap && queue_grow(&q, max)) {
                        if (drain(r, &q, o, source, q.cap == 1, &pushed)) {
                                status = 1;
                                goto done;
                        }
                        if (q.len == q.cap)
                                usleep(1000);
                }
                label_item_t *it = &q.items[(q.head + q.len) % q.cap];
                memcpy(it->id, line, idl);
                it->id[idl] = '\0';
                it->label = name;
                it->text = NULL;
                if (!o->no_text && !(it->text = strdup(t2 + 1))) {
                        fprintf(stderr, "sentistream label: out of memory\n");
                        status = 1;
                        goto done;
                }
                it->due = ss_time_mono() + o->delay;
                q.len++;
                if (drain(r, &q, o, source, 0, &pushed)) {
                        status = 1;
                        goto done;
                }
        }
        if (drain(r, &q, o, source, 1, &pushed))
                status = 1;
done:
        fprintf(stderr,
                "sentistream label: %llu labels pushed from %s (%lld lines, %lld bad) "
                "in %.1f s\n",
                (unsigned long long)pushed, o->file, lineno, bad, ss_time_mono() - start);
        free(line);
        for (size_t i = 0; i < q.len; i++)
                free(q.items[(q.head + i) % q.cap].text);
        free(q.items);
        return status ? status : bad ? 1 : 0;
}

int ss_cmd_label(int argc, char **argv)
{
        label_opts_t o = {0};
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        int rc = parse_args(argc, argv, &o, &args);
        if (rc) {
                if (rc == 2)
                        ss_label_usage(stderr);
                ss_cli_args_free(&args);
                return rc == 1 ? 0 : 2;
        }
        ss_config_t *c = ss_cli_args_config(&args);
        if (!c)
                return 2;
        o.maxlen = ss_config_get_int(c, "redis.labels.maxlen");
        FILE *f = fopen(o.file, "r");
        if (!f) {
                perror(o.file);
                ss_config_destroy(c);
                return 1;
        }
        char *fcopy = strdup(o.file);
        const char *source = o.source ? o.source : fcopy ? basename(fcopy) : "file";
        ss_mstate_t *r = ss_mstate_new(ss_config_get_str(c, "redis.host"),
                                       (int)ss_config_get_int(c, "redis.port"),
                                       (int)ss_config_get_int(c, "redis.timeout.ms"),
                                       (int)ss_config_get_int(c, "redis.backoff.max.ms"),
                                       ss_config_get_str(c, "redis.prefix"));
        if (r && ss_mstate_security_from(r, c) != SS_OK) {
                ss_mstate_destroy(r);
                r = NULL;
        }
        ss_stop_install();
        int status = r ? label_run(r, &o, f, source) : 1;
        ss_mstate_destroy(r);
        free(fcopy);
        fclose(f);
        ss_config_destroy(c);
        return status;
}
