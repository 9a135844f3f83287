/*
 * sentistream score MODEL [--batch N] [--raw] [key=value ...]
 *
 * Reads tweets on stdin, one a line: TSV as in data/ (`id<TAB>label<TAB>text`,
 * the label ignored, or `id<TAB>text`), or a JSON object with "id" and "text"
 * when the line starts with '{'. Writes one JSON line per input line, in input
 * order, to stdout:
 *   {"id":"...","label":"positive","prob_negative":0.1,"prob_neutral":0.2,
 *    "prob_positive":0.7,"model_version":"..."}
 * or, for a line that cannot be scored (no tab, bad JSON, missing text,
 * invalid UTF-8, a \u0000 or lone-surrogate escape, a text over the
 * tokenizer's limit, ...):
 *   {"line":N,"error":"SS_ERR_...","message":"..."}
 * and goes on. Lines are scored in batches of N (default 512). --raw writes the
 * model's raw probabilities, before its temperature and top-label map (to study
 * or refit its calibration); the label is the same either way.
 *
 * Exit status: 0 every line scored; 3 some lines were error records; 1
 * runtime failure (model unreadable, output error); 2 usage or configuration
 * error.
 *
 * The loop per batch: read up to N lines into an arena (parse_lines), score
 * the good ones in one call (score_batch), format every line's record into one
 * buffer and write it (emit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd.h"
#include "dataset.h"
#include "model.h"
#include "ss_util.h"
#include "tok.h"

typedef struct ss_slot {
        uint64_t line;   /* 1-based input line */
        ss_err_t err;    /* SS_OK: scored, row k of the batch */
        const char *msg; /* error message (in the arena) */
        const char *id;  /* id bytes (in the arena) */
        size_t id_len;
} ss_slot_t;

typedef struct ss_score_ctx {
        ss_model_t *model;
        int raw;            /* --raw: before the temperature and the top-label map */
        size_t batch;       /* lines per batch */
        ss_arena_t arena;   /* this batch's lines and decoded strings */
        ss_slot_t *slots;   /* [batch] */
        const char **texts; /* [batch] good texts */
        size_t *lens;       /* [batch] */
        float *probs;       /* [batch][SS_NUM_CLASSES] */
        char *out;          /* output buffer */
        size_t out_len, out_cap;
        char *line; /* getline buffer */
        size_t line_cap;
        uint64_t lineno, errors;
} ss_score_ctx_t;

static int ss_out_reserve(ss_score_ctx_t *c, size_t more)
{
        return ss_array_grow((void **)&c->out, &c->out_cap, c->out_len + more, 1, 1 << 16);
}

static void ss_out_raw(ss_score_ctx_t *c, const char *s, size_t n)
{
        memcpy(c->out + c->out_len, s, n);
        c->out_len += n;
}

/* JSON string body; bytes >= 0x80 pass through when utf8, else become '?'. */
static int ss_out_json_str(ss_score_ctx_t *c, const char *s, size_t n, int utf8)
{
        if (ss_out_reserve(c, n * 6 + 2))
                return -1;
        char *o = c->out + c->out_len;
        *o++ = '"';
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch == '"' || ch == '\\') {
                        *o++ = '\\';
                        *o++ = (char)ch;
                } else if (ch < 0x20) {
                        o += sprintf(o, "\\u%04x", ch);
                } else if (ch >= 0x80 && !utf8) {
                        *o++ = '?';
                } else {
                        *o++ = (char)ch;
                }
        }
        *o++ = '"';
        c->out_len = (size_t)(o - c->out);
        return 0;
}

/* A probability in [0, 1] with six decimals, without printf. */
static void ss_out_prob(ss_score_ctx_t *c, float p)
{
        long v = (long)((double)p * 1e6 + 0.5);
        if (v < 0)
                v = 0;
        if (v > 1000000)
                v = 1000000;
        char *o = c->out + c->out_len;
        *o++ = v == 1000000 ? '1' : '0';
        *o++ = '.';
        v %= 1000000;
        for (int d = 5; d >= 0; d--) {
                o[d] = (char)('0' + v % 10);
                v /= 10;
        }
        c->out_len += 8;
}

static int ss_emit_scored(ss_score_ctx_t *c, const ss_slot_t *s, const float *p,
                          const char *version, size_t vlen)
{
        static const char *const keys[SS_NUM_CLASSES] = {
            ",\"prob_negative\":", ",\"prob_neutral\":", ",\"prob_positive\":"};
        if (ss_out_reserve(c, 200 + vlen) || (ss_out_raw(c, "{\"id\":", 6), 0) ||
            ss_out_json_str(c, s->id, s->id_len, 1) || ss_out_reserve(c, 200 + vlen))
                return -1;
        const char *label = ss_label_name(ss_probs_argmax(p));
        ss_out_raw(c, ",\"label\":\"", 10);
        ss_out_raw(c, label, strlen(label));
        ss_out_raw(c, "\"", 1);
        for (int k = 0; k < SS_NUM_CLASSES; k++) {
                ss_out_raw(c, keys[k], strlen(keys[k]));
                ss_out_prob(c, p[k]);
        }
        ss_out_raw(c, ",\"model_version\":", 17);
        if (ss_out_json_str(c, version, vlen, 1) || ss_out_reserve(c, 2))
                return -1;
        ss_out_raw(c, "}\n", 2);
        return 0;
}

static int ss_emit_error(ss_score_ctx_t *c, const ss_slot_t *s)
{
        char head[96];
        const char *name = ss_err2name(s->err);
        int n = snprintf(head, sizeof(head), "{\"line\":%llu,\"error\":\"%s\",\"message\":",
                         (unsigned long long)s->line, name);
        if (ss_out_reserve(c, (size_t)n) || (ss_out_raw(c, head, (size_t)n), 0) ||
            ss_out_json_str(c, s->msg, strlen(s->msg), 0) || ss_out_reserve(c, 2))
                return -1;
        ss_out_raw(c, "}\n", 2);
        return 0;
}

/* Reads up to batch lines; returns the number of slots filled (0 at EOF), -1 on no memory. */
static long ss_parse_lines(ss_score_ctx_t *c, FILE *in, size_t *ngood)
{
        size_t ns = 0;
        *ngood = 0;
        while (ns < c->batch) {
                ssize_t len = getline(&c->line, &c->line_cap, in);
                if (len < 0)
                        break;
                if (len > 0 && c->line[len - 1] == '\n')
                        len--;
                ss_slot_t *s = &c->slots[ns++];
                memset(s, 0, sizeof(*s));
                s->line = ++c->lineno;
                char msg[256];
                ss_record_t rec;
                const char *copy = ss_arena_strndup(&c->arena, c->line, (size_t)len);
                if (!copy)
                        return -1;
                s->err = ss_record_parse(copy, (size_t)len, 0, &c->arena, &rec, msg, sizeof(msg));
                if (!s->err && rec.text_len > SS_TOK_MAX_LEN) {
                        s->err = SS_ERR_TOO_LARGE;
                        snprintf(msg, sizeof(msg), "text of %zu bytes is over the %zu-byte limit",
                                 rec.text_len, (size_t)SS_TOK_MAX_LEN);
                }
                if (s->err) {
                        if (!(s->msg = ss_arena_strndup(&c->arena, msg, strlen(msg))))
                                return -1;
                        continue;
                }
                s->id = rec.id;
                s->id_len = rec.id_len;
                c->texts[*ngood] = rec.text;
                c->lens[*ngood] = rec.text_len;
                (*ngood)++;
        }
        return (long)ns;
}

static int ss_score_loop(ss_score_ctx_t *c, FILE *in, FILE *out)
{
        const char *version = ss_model_version(c->model);
        size_t vlen = strlen(version);
        char err[1024];
        for (;;) {
                size_t ngood;
                long ns = ss_parse_lines(c, in, &ngood);
                if (ns < 0) {
                        fprintf(stderr, "sentistream score: out of memory\n");
                        return 1;
                }
                if (ns == 0)
                        break;
                ss_err_t e = c->raw ? ss_model_score_raw(c->model, c->texts, c->lens, ngood,
                                                         c->batch, c->probs, err, sizeof(err))
                                    : ss_model_score_batch(c->model, c->texts, c->lens, ngood,
                                                           c->probs, NULL, err, sizeof(err));
                if (e) {
                        fprintf(stderr, "sentistream score: lines %llu..%llu: %s\n",
                                (unsigned long long)c->slots[0].line,
                                (unsigned long long)c->slots[ns - 1].line, err);
                        return 1;
                }
                c->out_len = 0;
                size_t k = 0;
                for (long i = 0; i < ns; i++) {
                        const ss_slot_t *s = &c->slots[i];
                        int r;
                        if (s->err) {
                                c->errors++;
                                r = ss_emit_error(c, s);
                        } else {
                                r = ss_emit_scored(c, s, c->probs + k * SS_NUM_CLASSES, version,
                                                   vlen);
                                k++;
                        }
                        if (r) {
                                fprintf(stderr, "sentistream score: out of memory\n");
                                return 1;
                        }
                }
                if (fwrite(c->out, 1, c->out_len, out) != c->out_len) {
                        fprintf(stderr, "sentistream score: write error on stdout\n");
                        return 1;
                }
                ss_arena_reset(&c->arena);
        }
        if (ferror(in)) {
                fprintf(stderr, "sentistream score: read error on stdin after line %llu\n",
                        (unsigned long long)c->lineno);
                return 1;
        }
        if (fflush(out) != 0) {
                fprintf(stderr, "sentistream score: write error on stdout\n");
                return 1;
        }
        return c->errors ? 3 : 0;
}

static void ss_score_usage(FILE *out)
{
        fprintf(out, "usage: sentistream score MODEL [--batch N] [--raw] [key=value ...] < tweets\n"
                     "  --raw: probabilities before the model's temperature and top-label map\n"
                     "  stdin: TSV (id<TAB>label<TAB>text or id<TAB>text) or JSON lines "
                     "{\"id\",\"text\"}\n"
                     "  stdout: one JSON line per input line, error records for bad lines\n"
                     "  exit: 0 all scored, 3 some lines were errors, 1 failure, 2 usage\n");
}

int ss_cmd_score(int argc, char **argv)
{
        const char *model_path = NULL;
        long long batch = 512;
        int raw = 0;
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(a, "--batch")) {
                        if (ss_cli_flag_ll("score", a, i + 1 < argc ? argv[++i] : NULL, 1, 1 << 20,
                                           &batch)) {
                                ss_cli_args_free(&args);
                                return 2;
                        }
                } else if (!strcmp(a, "--raw")) {
                        raw = 1;
                } else if (a[0] != '-' && !model_path) {
                        model_path = a;
                } else {
                        return ss_cli_args_reject(&args, "score", a, ss_score_usage);
                }
        }
        if (!model_path) {
                ss_score_usage(stderr);
                ss_cli_args_free(&args);
                return 2;
        }
        /* the overrides are checked like everywhere else, though scoring needs none */
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        ss_config_destroy(cfg);

        char err[1024];
        ss_score_ctx_t c = {0};
        ss_arena_init(&c.arena);
        c.batch = (size_t)batch;
        c.raw = raw;
        c.model = ss_model_load(model_path, err, sizeof(err));
        if (!c.model) {
                fprintf(stderr, "sentistream score: %s\n", err);
                return 1;
        }
        c.slots = malloc(c.batch * sizeof(*c.slots));
        c.texts = malloc(c.batch * sizeof(*c.texts));
        c.lens = malloc(c.batch * sizeof(*c.lens));
        c.probs = malloc(c.batch * SS_NUM_CLASSES * sizeof(*c.probs));
        int rc;
        if (!c.slots || !c.texts || !c.lens || !c.probs) {
                fprintf(stderr, "sentistream score: out of memory (batch %zu)\n", c.batch);
                rc = 1;
        } else {
                rc = ss_score_loop(&c, stdin, stdout);
        }
        free(c.slots);
        free(c.texts);
        free(c.lens);
        free(c.probs);
        free(c.out);
        free(c.line);
        ss_arena_free(&c.arena);
        ss_model_destroy(c.model);
        return rc;
}
