/*
 * dataset: reading labelled tweets and parsing single input lines.
 *
 * A data file is read whole into one buffer; TSV fields are split in place (the
 * tabs and newlines become NULs), so a 29k-line file costs one allocation plus
 * the row arrays. JSON lines go through cJSON, after a pre-scan of the raw
 * line that refuses what cJSON would otherwise pass or mangle: invalid UTF-8,
 * a `\u0000` escape (cJSON would cut the string there) and lone surrogates.
 * The tune split hashes the tweet id (FNV-1a then a splitmix64 finaliser,
 * mixed with the seed), so membership does not depend on the file order.
 */
#include "dataset.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "ss_types.h"
#include "ss_util.h"

/* ---- arena ---- */

struct ss_arena_block {
        ss_arena_block_t *next;
        size_t used, cap;
        char data[];
};

void ss_arena_init(ss_arena_t *a)
{
        a->head = NULL;
}

char *ss_arena_strndup(ss_arena_t *a, const char *s, size_t len)
{
        ss_arena_block_t *b = a->head;
        if (!b || b->cap - b->used < len + 1) {
                size_t cap = len + 1 > 65536 ? len + 1 : 65536;
                ss_arena_block_t *nb = malloc(sizeof(*nb) + cap);
                if (!nb)
                        return NULL;
                nb->next = b;
                nb->used = 0;
                nb->cap = cap;
                a->head = b = nb;
        }
        char *p = b->data + b->used;
        memcpy(p, s, len);
        p[len] = '\0';
        b->used += len + 1;
        return p;
}

void ss_arena_reset(ss_arena_t *a)
{
        if (!a->head)
                return;
        ss_arena_block_t *b = a->head->next;
        while (b) {
                ss_arena_block_t *next = b->next;
                free(b);
                b = next;
        }
        a->head->next = NULL;
        a->head->used = 0;
}

void ss_arena_free(ss_arena_t *a)
{
        ss_arena_block_t *b = a->head;
        while (b) {
                ss_arena_block_t *next = b->next;
                free(b);
                b = next;
        }
        a->head = NULL;
}

/* ---- UTF-8 ---- */

long ss_utf8_check(const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;
        while (i < len) {
                if (len - i >= 8) { /* ASCII fast path: eight bytes at a time */
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        if (!(w & 0x8080808080808080ULL)) {
                                i += 8;
                                continue;
                        }
                }
                unsigned c = s[i];
                if (c < 0x80) {
                        i++;
                        continue;
                }
                size_t n;
                unsigned cp, min;
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1, cp = c & 0x1f, min = 0x80;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2, cp = c & 0x0f, min = 0x800;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        return (long)i;
                }
                if (len - i <= n)
                        return (long)i;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return (long)i;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return (long)i;
                i += n + 1;
        }
        return -1;
}

/* ---- line parsing ---- */

static int ss_hex4(const char *s, size_t avail, unsigned *out)
{
        if (avail < 4)
                return -1;
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
                char c = s[k];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return -1;
        }
        *out = v;
        return 0;
}

/* Refuses \u escapes that do not decode to valid, NUL-free UTF-8. */
static ss_err_t ss_json_escapes_check(const char *s, size_t len, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < len; i++) {
                if (s[i] != '\\')
                        continue;
                if (i + 1 >= len)
                        break; /* cJSON reports it */
                if (s[i + 1] != 'u') {
                        i++;
                        continue;
                }
                unsigned hi;
                if (ss_hex4(s + i + 2, len - i - 2, &hi))
                        return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                          "bad \\u escape at byte %zu", i + 1);
                if (hi == 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                          "\\u0000 (NUL) escape at byte %zu", i + 1);
                if (hi >= 0xdc00 && hi <= 0xdfff)
                        return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                          "lone low surrogate \\u%04x at byte %zu", hi, i + 1);
                if (hi >= 0xd800 && hi <= 0xdbff) {
                        unsigned lo;
                        if (i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u' ||
                            ss_hex4(s + i + 8, len - i - 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
                                return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                                  "high surrogate \\u%04x at byte %zu without a "
                                                  "low surrogate after it",
                                                  hi, i + 1);
                        i += 11;
                        continue;
                }
                i += 5;
        }
        return SS_OK;
}

static ss_err_t ss_json_field(const cJSON *obj, const char *key, int required, ss_arena_t *arena,
                              const char **out, size_t *out_len, char *errstr, size_t errstr_size)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
        *out = NULL;
        *out_len = 0;
        if (!it || cJSON_IsNull(it)) {
                if (required)
                        return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "missing \"%s\" field",
                                          key);
                return SS_OK;
        }
        if (!cJSON_IsString(it) || !it->valuestring)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "\"%s\" is not a string", key);
        size_t n = strlen(it->valuestring);
        char *p = ss_arena_strndup(arena, it->valuestring, n);
        if (!p)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        *out = p;
        *out_len = n;
        return SS_OK;
}

static ss_err_t ss_record_parse_json(const char *line, size_t len, int need_label,
                                     ss_arena_t *arena, ss_record_t *rec, char *errstr,
                                     size_t errstr_size)
{
        ss_err_t err = ss_json_escapes_check(line, len, errstr, errstr_size);
        if (err)
                return err;
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
        if (!obj) {
                const char *at = cJSON_GetErrorPtr();
                size_t off = at && at >= line && at <= line + len ? (size_t)(at - line) : 0;
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "bad JSON at byte %zu",
                                  off + 1);
        }
        while (end && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
                end++;
        if (end && end < line + len) {
                cJSON_Delete(obj);
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                  "trailing characters after the JSON object at byte %zu",
                                  (size_t)(end - line) + 1);
        }
        if (!cJSON_IsObject(obj)) {
                cJSON_Delete(obj);
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "not a JSON object");
        }
        const char *label = NULL;
        size_t label_len = 0;
        err = ss_json_field(obj, "id", 1, arena, &rec->id, &rec->id_len, errstr, errstr_size);
        if (!err)
                err = ss_json_field(obj, "text", 1, arena, &rec->text, &rec->text_len, errstr,
                                    errstr_size);
        if (!err)
                err = ss_json_field(obj, "label", need_label, arena, &label, &label_len, errstr,
                                    errstr_size);
        cJSON_Delete(obj);
        if (err)
                return err;
        if (rec->id_len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "empty \"id\"");
        rec->label = -1;
        if (label && (label_len > 0 || need_label)) {
                rec->label = ss_label_parse(label, label_len);
                if (rec->label < 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                          "unknown label \"%.*s\" (want negative, neutral or "
                                          "positive)",
                                          (int)(label_len > 40 ? 40 : label_len), label);
        }
        return SS_OK;
}

static ss_err_t ss_record_parse_tsv(const char *line, size_t len, int need_label, ss_record_t *rec,
                                    char *errstr, size_t errstr_size)
{
        const char *t1 = memchr(line, '\t', len);
        if (!t1)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                  "no tab: want id<TAB>label<TAB>text");
        rec->id = line;
        rec->id_len = (size_t)(t1 - line);
        if (rec->id_len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "empty tweet id");
        const char *rest = t1 + 1;
        size_t rest_len = len - rec->id_len - 1;
        const char *t2 = memchr(rest, '\t', rest_len);
        rec->label = -1;
        if (!t2) {
                if (need_label)
                        return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                          "one tab only: want id<TAB>label<TAB>text");
                rec->text = rest;
                rec->text_len = rest_len;
                return SS_OK;
        }
        size_t label_len = (size_t)(t2 - rest);
        if (label_len > 0 || need_label) {
                rec->label = ss_label_parse(rest, label_len);
                if (rec->label < 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                          "unknown label \"%.*s\" (want negative, neutral or "
                                          "positive)",
                                          (int)(label_len > 40 ? 40 : label_len), rest);
        }
        rec->text = t2 + 1;
        rec->text_len = rest_len - label_len - 1;
        return SS_OK;
}

ss_err_t ss_record_parse(const char *line, size_t len, int need_label, ss_arena_t *arena,
                         ss_record_t *rec, char *errstr, size_t errstr_size)
{
        memset(rec, 0, sizeof(*rec));
        rec->label = -1;
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "empty line");
        long bad = ss_utf8_check(line, len);
        if (bad >= 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                  "invalid UTF-8 at byte %ld (0x%02x)", bad + 1,
                                  (unsigned char)line[bad]);
        if (line[0] == '{')
                return ss_record_parse_json(line, len, need_label, arena, rec, errstr, errstr_size);
        return ss_record_parse_tsv(line, len, need_label, rec, errstr, errstr_size);
}

/* ---- data sets ---- */

static ss_err_t ss_dataset_grow(ss_dataset_t *ds)
{
        if (ds->n < ds->cap_)
                return SS_OK;
        size_t cap = ds->cap_ ? ds->cap_ * 2 : 1024;
        const char **ids = realloc(ds->ids, cap * sizeof(*ids));
        if (ids)
                ds->ids = ids;
        const char **texts = realloc(ds->texts, cap * sizeof(*texts));
        if (texts)
                ds->texts = texts;
        size_t *lens = realloc(ds->lens, cap * sizeof(*lens));
        if (lens)
                ds->lens = lens;
        int8_t *labels = realloc(ds->labels, cap * sizeof(*labels));
        if (labels)
                ds->labels = labels;
        uint32_t *lines = realloc(ds->lines, cap * sizeof(*lines));
        if (lines)
                ds->lines = lines;
        if (!ids || !texts || !lens || !labels || !lines)
                return SS_ERR_NOMEM;
        ds->cap_ = cap;
        return SS_OK;
}

ss_dataset_t *ss_dataset_new(void)
{
        ss_dataset_t *ds = calloc(1, sizeof(*ds));
        if (ds)
                ss_arena_init(&ds->arena_);
        return ds;
}

void ss_dataset_destroy(ss_dataset_t *ds)
{
        if (!ds)
                return;
        free(ds->ids);
        free(ds->texts);
        free(ds->lens);
        free(ds->labels);
        free(ds->lines);
        free(ds->buf_);
        ss_arena_free(&ds->arena_);
        free(ds);
}

/* Appends a row whose strings already live in ds (buffer or arena). */
static ss_err_t ss_dataset_push(ss_dataset_t *ds, const char *id, const char *text, size_t len,
                                int label, uint32_t line)
{
        if (ss_dataset_grow(ds))
                return SS_ERR_NOMEM;
        ds->ids[ds->n] = id;
        ds->texts[ds->n] = text;
        ds->lens[ds->n] = len;
        ds->labels[ds->n] = (int8_t)label;
        ds->lines[ds->n] = line;
        ds->n++;
        return SS_OK;
}

ss_err_t ss_dataset_add(ss_dataset_t *ds, const char *id, const char *text, size_t len, int label,
                        uint32_t line)
{
        const char *i = ss_arena_strndup(&ds->arena_, id, strlen(id));
        const char *t = ss_arena_strndup(&ds->arena_, text, len);
        if (!i || !t)
                return SS_ERR_NOMEM;
        return ss_dataset_push(ds, i, t, len, label, line);
}

/* The loader; bad == NULL: the first bad line fails the load. */
static ss_dataset_t *ss_dataset_read(const char *path, ss_dataset_bad_fn bad, void *opaque,
                                     size_t *nbad, char *errstr, size_t errstr_size)
{
        ss_dataset_t *ds = ss_dataset_new();
        if (!ds) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
        }
        snprintf(ds->path, sizeof(ds->path), "%s", path);
        size_t size;
        if (ss_file_read_all(path, &ds->buf_, &size, errstr, errstr_size))
                goto fail;
        ss_sha256_hex(ds->buf_, size, ds->sha256);
        char *p = ds->buf_, *end = ds->buf_ + size;
        uint32_t lineno = 0;
        while (p < end) {
                lineno++;
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl : end;
                ss_record_t rec;
                char msg[256];
                ss_err_t err =
                    ss_record_parse(p, (size_t)(le - p), 1, &ds->arena_, &rec, msg, sizeof(msg));
                if (err && (bad == NULL || err == SS_ERR_NOMEM)) {
                        ss_err_set(errstr, errstr_size, err, "%s:%u: %s", path, lineno, msg);
                        goto fail;
                }
                if (err) {
                        char where[1024];
                        snprintf(where, sizeof(where), "%s:%u: %s", path, lineno, msg);
                        bad(err, where, opaque);
                        (*nbad)++;
                        p = le + 1;
                        continue;
                }
                /* TSV fields live in the buffer: terminate them in place. */
                if (rec.id >= ds->buf_ && rec.id < end)
                        ((char *)rec.id)[rec.id_len] = '\0';
                if (rec.text >= ds->buf_ && rec.text <= end)
                        ((char *)rec.text)[rec.text_len] = '\0';
                if (ss_dataset_push(ds, rec.id, rec.text, rec.text_len, rec.label, lineno)) {
                        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", path);
                        goto fail;
                }
                p = le + 1;
        }
        if (ds->n == 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_EMPTY, "%s: no data lines", path);
                goto fail;
        }
        return ds;
fail:
        ss_dataset_destroy(ds);
        return NULL;
}

ss_dataset_t *ss_dataset_load(const char *path, char *errstr, size_t errstr_size)
{
        return ss_dataset_read(path, NULL, NULL, NULL, errstr, errstr_size);
}

ss_dataset_t *ss_dataset_load_lenient(const char *path, ss_dataset_bad_fn bad, void *opaque,
                                      size_t *nbad, char *errstr, size_t errstr_size)
{
        *nbad = 0;
        return ss_dataset_read(path, bad, opaque, nbad, errstr, errstr_size);
}

void ss_dataset_label_counts(const ss_dataset_t *ds, int64_t *counts)
{
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                counts[c] = 0;
        for (size_t i = 0; i < ds->n; i++)
                if (ds->labels[i] >= 0 && ds->labels[i] < SS_NUM_CLASSES)
                        counts[ds->labels[i]]++;
}

static uint64_t ss_id_hash(const char *id, size_t len, uint64_t seed)
{
        uint64_t h = 0xcbf29ce484222325ULL ^ seed;
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)id[i];
                h *= 0x100000001b3ULL;
        }
        h += seed * 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        return h ^ (h >> 31);
}

int ss_dataset_is_tune(const char *id, size_t len, double share, uint64_t seed)
{
        double u = (double)(ss_id_hash(id, len, seed) >> 11) * 0x1.0p-53;
        return u < share;
}

ss_err_t ss_dataset_split(const ss_dataset_t *ds, double share, uint64_t seed, ss_dataset_t **fit,
                          ss_dataset_t **tune, char *errstr, size_t errstr_size)
{
        if (!(share >= 0 && share < 1))
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "tune share %g outside [0, 1)", share);
        ss_dataset_t *parts[2] = {ss_dataset_new(), ss_dataset_new()};
        if (!parts[0] || !parts[1])
                goto nomem;
        for (size_t i = 0; i < ds->n; i++) {
                int t = ss_dataset_is_tune(ds->ids[i], strlen(ds->ids[i]), share, seed);
                if (ss_dataset_add(parts[t], ds->ids[i], ds->texts[i], ds->lens[i], ds->labels[i],
                                   ds->lines[i]))
                        goto nomem;
        }
        for (int k = 0; k < 2; k++) {
                snprintf(parts[k]->path, sizeof(parts[k]->path), "%s", ds->path);
                memcpy(parts[k]->sha256, ds->sha256, sizeof(ds->sha256));
        }
        if (fit)
                *fit = parts[0];
        else
                ss_dataset_destroy(parts[0]);
        if (tune)
                *tune = parts[1];
        else
                ss_dataset_destroy(parts[1]);
        return SS_OK;
nomem:
        ss_dataset_destroy(parts[0]);
        ss_dataset_destroy(parts[1]);
        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory splitting",
                          ds->path);
}
