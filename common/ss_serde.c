/*
 * ss_serde: Confluent-framed Avro for the five records of schemas/, and the JSON tweet input.
 *
 * Design. The schemas are fixed contracts, so the codec is written out per record: an
 * encoder first computes an upper bound of the message size, grows the caller's buffer once,
 * then writes the fields with plain pointer stores (zigzag varints, little-endian IEEE
 * floats, length-prefixed strings, Avro spec "Binary Encoding"); a decoder walks a cursor
 * over the message and checks every length against the bytes left before it copies
 * anything. This keeps the hot path free of schema work and allocation, and keeps hostile
 * lengths away from malloc (avro-c's generic reader allocates whatever a string length
 * says). avro-c is used where it is the authority: ss_serde_new() parses the .avsc files
 * and compares a structural signature of each (names, field order, types) with the layout
 * coded here, so the files and the code cannot drift apart silently.
 *
 * Decoded strings are copied, NUL-terminated, into the record's own store, sized once per
 * message at 2 * len + 1 bytes: every string costs at least its length varint (one byte) of
 * the message, so the strings and their terminators always fit and pointers handed out
 * during a decode never move.
 */
#include "ss_serde.h"

#include <avro.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_util.h"

#define SS_SERDE_NRECORDS 5

struct ss_serde {
        ss_serde_ids_t ids;
        size_t max_text_bytes; /* 0 = no limit */
};

/* ---- UTF-8 ------------------------------------------------------------------------------ */

size_t ss_serde_utf8_first_invalid(const void *buf, size_t len)
{
        const uint8_t *s = buf;
        size_t i = 0;

        while (i < len) {
                if (len - i >= 8) {
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        if (!(w & 0x8080808080808080ULL)) {
                                i += 8;
                                continue;
                        }
                }
                uint8_t c = s[i];
                if (c < 0x80) {
                        i++;
                        continue;
                }
                size_t n;                     /* continuation bytes */
                uint8_t lo = 0x80, hi = 0xBF; /* range of the first continuation byte */
                if (c >= 0xC2 && c <= 0xDF) {
                        n = 1;
                } else if (c == 0xE0) {
                        n = 2, lo = 0xA0; /* no overlong 3-byte forms */
                } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
                        n = 2;
                } else if (c == 0xED) {
                        n = 2, hi = 0x9F; /* no UTF-16 surrogates */
                } else if (c == 0xF0) {
                        n = 3, lo = 0x90; /* no overlong 4-byte forms */
                } else if (c >= 0xF1 && c <= 0xF3) {
                        n = 3;
                } else if (c == 0xF4) {
                        n = 3, hi = 0x8F; /* nothing above U+10FFFF */
                } else {
                        return i; /* stray continuation byte, C0/C1, F5..FF */
                }
                if (len - i - 1 < n)
                        return i;
                if (s[i + 1] < lo || s[i + 1] > hi)
                        return i;
                for (size_t k = 2; k <= n; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return i;
                }
                i += n + 1;
        }
        return len;
}

bool ss_serde_utf8_valid(const void *buf, size_t len)
{
        return ss_serde_utf8_first_invalid(buf, len) == len;
}

/* ---- buffers and stores ----------------------------------------------------------------- */

void ss_serde_buf_init(ss_serde_buf_t *b)
{
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

void ss_serde_buf_free(ss_serde_buf_t *b)
{
        free(b->data);
        ss_serde_buf_init(b);
}

/* Makes room for extra more bytes after b->len. */
static ss_err_t buf_reserve(ss_serde_buf_t *b, size_t extra, char *errstr, size_t errstr_size)
{
        if (extra > SIZE_MAX - b->len)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "serde: message too large");
        size_t need = b->len + extra;
        if (ss_array_grow((void **)&b->data, &b->cap, need, 1, 256))
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "serde: cannot grow output buffer to %zu bytes", need);
        return SS_OK;
}

static void store_free(ss_serde_store_t *st)
{
        free(st->buf);
        free(st->arr[0]);
        free(st->arr[1]);
        memset(st, 0, sizeof(*st));
}

/* Readies the store for decoding a message of len bytes (see the design note). */
static ss_err_t store_begin(ss_serde_store_t *st, size_t len, char *errstr, size_t errstr_size)
{
        size_t need = len > (SIZE_MAX - 1) / 2 ? SIZE_MAX : 2 * len + 1;
        st->used = 0;
        if (need <= st->cap)
                return SS_OK;
        free(st->buf);
        st->buf = malloc(need);
        st->cap = st->buf ? need : 0;
        if (!st->buf)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "serde: cannot allocate %zu bytes for decoded strings", need);
        return SS_OK;
}

/* Copies n bytes into the store, NUL-terminated. The caller's bound guarantees room. */
static const char *store_copy(ss_serde_store_t *st, const void *src, size_t n)
{
        if (n + 1 > st->cap - st->used)
                abort(); /* cannot happen: store_begin() sized the store for the message */
        char *dst = st->buf + st->used;
        if (n)
                memcpy(dst, src, n);
        dst[n] = '\0';
        st->used += n + 1;
        return dst;
}

/* Grows st->arr[i] to at least n elements of size elem. */
static void *store_array(ss_serde_store_t *st, int i, size_t n, size_t elem)
{
        return ss_array_grow(&st->arr[i], &st->arr_cap[i], n, elem, 4) ? NULL : st->arr[i];
}

void ss_tweet_clear(ss_tweet_t *t)
{
        if (!t)
                return;
        store_free(&t->store);
        memset(t, 0, sizeof(*t));
}

void ss_prediction_clear(ss_prediction_t *p)
{
        if (!p)
                return;
        store_free(&p->store);
        memset(p, 0, sizeof(*p));
}

void ss_dead_letter_clear(ss_dead_letter_t *d)
{
        if (!d)
                return;
        store_free(&d->store);
        memset(d, 0, sizeof(*d));
}

void ss_retrain_event_clear(ss_retrain_event_t *e)
{
        if (!e)
                return;
        store_free(&e->store);
        memset(e, 0, sizeof(*e));
}

void ss_model_update_clear(ss_model_update_t *u)
{
        if (!u)
                return;
        store_free(&u->store);
        memset(u, 0, sizeof(*u));
}

/* ---- schema files ----------------------------------------------------------------------- */

/*
 * The layouts this file encodes, as structural signatures of the schemas (see sig_put()).
 * Logical types (timestamp-millis) do not change the binary encoding and are not part of
 * the signature; the interop test checks them with an independent Avro implementation.
 */
static const struct {
        const char *file;
        const char *record;
        const char *sig;
} ss_serde_layouts[SS_SERDE_NRECORDS] = {
    {"tweet.avsc", "Tweet",
     "io.sentistream.Tweet{id:string,text:string,created_at:long,lang:union[null,string],"
     "user:union[null,string]}"},
    {"prediction.avsc", "Prediction",
     "io.sentistream.Prediction{tweet_id:string,label:enum Sentiment[negative,neutral,"
     "positive],prob_negative:float,prob_neutral:float,prob_positive:float,"
     "model_name:string,model_version:string,created_at:long,scored_at:long,"
     "input_stats:union[null,InputStats{n_tokens:int,unk_share:float,has_url:boolean,"
     "has_mention:boolean,has_emoji:boolean}]}"},
    {"dead_letter.avsc", "DeadLetter",
     "io.sentistream.DeadLetter{source_topic:string,partition:int,offset:long,"
     "error_code:string,error_message:string,raw_key:union[null,bytes],raw_value:bytes,"
     "failed_at:long,raw_size:long,raw_sha256:union[null,string]}"},
    {"retrain_event.avsc", "RetrainEvent",
     "io.sentistream.RetrainEvent{event_id:string,model_name:string,model_version:string,"
     "reasons:array[Reason{metric:string,value:double,threshold:double,"
     "critical_value:union[null,double],family:string,statistic:string,window_n:long,"
     "reference_n:long}],metrics:array[MetricSnapshot{name:string,"
     "value:double,n:long,reference_n:long}],window_start:long,window_end:long,"
     "triggered_at:long}"},
    {"model_update.avsc", "ModelUpdate",
     "io.sentistream.ModelUpdate{model_name:string,version:string,alias:string,uri:string,"
     "sha256:string,model_version:string,metrics:map[double],reason:string,"
     "event_id:union[null,string],updated_at:long}"},
};

typedef struct sigbuf {
        char s[1024];
        size_t n;
} sigbuf_t;

static void sig_str(sigbuf_t *b, const char *s)
{
        while (*s && b->n + 1 < sizeof(b->s))
                b->s[b->n++] = *s++;
        b->s[b->n] = '\0';
}

/* Appends the structural signature of schema s; top: include the namespace. */
static void sig_put(sigbuf_t *b, avro_schema_t s, int top)
{
        switch (avro_typeof(s)) {
        case AVRO_STRING:
                sig_str(b, "string");
                break;
        case AVRO_BYTES:
                sig_str(b, "bytes");
                break;
        case AVRO_INT32:
                sig_str(b, "int");
                break;
        case AVRO_INT64:
                sig_str(b, "long");
                break;
        case AVRO_FLOAT:
                sig_str(b, "float");
                break;
        case AVRO_DOUBLE:
                sig_str(b, "double");
                break;
        case AVRO_BOOLEAN:
                sig_str(b, "boolean");
                break;
        case AVRO_NULL:
                sig_str(b, "null");
                break;
        case AVRO_RECORD: {
                const char *ns = avro_schema_namespace(s);
                if (top && ns) {
                        sig_str(b, ns);
                        sig_str(b, ".");
                }
                sig_str(b, avro_schema_name(s));
                sig_str(b, "{");
                size_t nf = avro_schema_record_size(s);
                for (size_t i = 0; i < nf; i++) {
                        if (i)
                                sig_str(b, ",");
                        sig_str(b, avro_schema_record_field_name(s, (int)i));
                        sig_str(b, ":");
                        sig_put(b, avro_schema_record_field_get_by_index(s, (int)i), 0);
                }
                sig_str(b, "}");
                break;
        }
        case AVRO_ENUM: {
                sig_str(b, "enum ");
                sig_str(b, avro_schema_name(s));
                sig_str(b, "[");
                int ns = avro_schema_enum_number_of_symbols(s);
                for (int i = 0; i < ns; i++) {
                        if (i)
                                sig_str(b, ",");
                        sig_str(b, avro_schema_enum_get(s, i));
                }
                sig_str(b, "]");
                break;
        }
        case AVRO_ARRAY:
                sig_str(b, "array[");
                sig_put(b, avro_schema_array_items(s), 0);
                sig_str(b, "]");
                break;
        case AVRO_MAP:
                sig_str(b, "map[");
                sig_put(b, avro_schema_map_values(s), 0);
                sig_str(b, "]");
                break;
        case AVRO_UNION: {
                sig_str(b, "union[");
                size_t nb = avro_schema_union_size(s);
                for (size_t i = 0; i < nb; i++) {
                        if (i)
                                sig_str(b, ",");
                        sig_put(b, avro_schema_union_branch(s, (int)i), 0);
                }
                sig_str(b, "]");
                break;
        }
        case AVRO_LINK:
                sig_str(b, "link ");
                sig_str(b, avro_schema_name(avro_schema_link_target(s)));
                break;
        default:
                sig_str(b, avro_schema_type_name(s));
                break;
        }
}

/* Loads dir/file and checks it against layout i. */
static ss_err_t schema_check(const char *dir, int i, char *errstr, size_t errstr_size)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, ss_serde_layouts[i].file);
        char *json = NULL;
        size_t len = 0;
        ss_err_t err = ss_file_read_all(path, &json, &len, errstr, errstr_size);
        if (err)
                return err;
        avro_schema_t s = NULL;
        if (avro_schema_from_json_length(json, len, &s)) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: not an Avro schema: %s",
                                 path, avro_strerror());
                free(json);
                return err;
        }
        free(json);
        sigbuf_t b = {.n = 0};
        b.s[0] = '\0';
        sig_put(&b, s, 1);
        avro_schema_decref(s);
        const char *want = ss_serde_layouts[i].sig;
        if (strcmp(b.s, want)) {
                size_t at = 0;
                while (b.s[at] && b.s[at] == want[at])
                        at++;
                /* show from the start of the field that differs */
                while (at > 0 && !strchr(",{[", want[at - 1]))
                        at--;
                return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                  "%s: schema differs from the %s layout this build encodes, "
                                  "at character %zu of its signature: file has \"%.48s\", "
                                  "expected \"%.48s\"",
                                  path, ss_serde_layouts[i].record, at, b.s + at, want + at);
        }
        return SS_OK;
}

ss_serde_ids_t ss_serde_ids_from_config(const ss_config_t *c)
{
        ss_serde_ids_t ids = {
            (int32_t)ss_config_get_int(c, "serde.schema_id.tweet"),
            (int32_t)ss_config_get_int(c, "serde.schema_id.prediction"),
            (int32_t)ss_config_get_int(c, "serde.schema_id.dead_letter"),
            (int32_t)ss_config_get_int(c, "serde.schema_id.retrain_event"),
            (int32_t)ss_config_get_int(c, "serde.schema_id.model_update"),
        };
        return ids;
}

ss_serde_t *ss_serde_new(const char *schema_dir, const ss_serde_ids_t *ids, size_t max_text_bytes,
                         char *errstr, size_t errstr_size)
{
        if (!schema_dir || !ids) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "serde: schema dir and ids are required");
                return NULL;
        }
        const int32_t idv[SS_SERDE_NRECORDS] = {ids->tweet, ids->prediction, ids->dead_letter,
                                                ids->retrain_event, ids->model_update};
        static const char *const idk[SS_SERDE_NRECORDS] = {"tweet", "prediction", "dead_letter",
                                                           "retrain_event", "model_update"};
        for (int i = 0; i < SS_SERDE_NRECORDS; i++) {
                if (idv[i] < 0) {
                        ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                   "serde.schema_id.%s: %" PRId32 " is negative", idk[i], idv[i]);
                        return NULL;
                }
                for (int j = 0; j < i; j++) {
                        if (idv[i] == idv[j]) {
                                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                           "serde.schema_id.%s and serde.schema_id.%s are both "
                                           "%" PRId32 "; each record needs its own id",
                                           idk[j], idk[i], idv[i]);
                                return NULL;
                        }
                }
        }
        for (int i = 0; i < SS_SERDE_NRECORDS; i++) {
                if (schema_check(schema_dir, i, errstr, errstr_size))
                        return NULL;
        }
        ss_serde_t *s = calloc(1, sizeof(*s));
        if (!s) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "serde: out of memory");
                return NULL;
        }
        s->ids = *ids;
        s->max_text_bytes = max_text_bytes;
        return s;
}

void ss_serde_destroy(ss_serde_t *s)
{
        free(s);
}

/* ---- encoding --------------------------------------------------------------------------- */

#define VARINT_MAX 10 /* bytes of the longest zigzag varint (64 bits) */

static inline uint8_t *put_long(uint8_t *p, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
        while (z >= 0x80) {
                *p++ = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        *p++ = (uint8_t)z;
        return p;
}

static inline uint8_t *put_float(uint8_t *p, float f)
{
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(u >> (8 * i));
        return p + 4;
}

static inline uint8_t *put_double(uint8_t *p, double d)
{
        uint64_t u;
        memcpy(&u, &d, 8);
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(u >> (8 * i));
        return p + 8;
}

static inline uint8_t *put_bool(uint8_t *p, int b)
{
        *p++ = b ? 1 : 0;
        return p;
}

static inline uint8_t *put_str(uint8_t *p, ss_str_t s)
{
        p = put_long(p, (int64_t)s.len);
        if (s.len)
                memcpy(p, s.ptr, s.len);
        return p + s.len;
}

static inline uint8_t *put_header(uint8_t *p, int32_t id)
{
        uint32_t u = (uint32_t)id;
        p[0] = 0;
        p[1] = (uint8_t)(u >> 24);
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 8);
        p[4] = (uint8_t)u;
        return p + SS_SERDE_HEADER_SIZE;
}

/*
 * Size accounting of one message before it is written: checks each string (a NULL pointer
 * with a length is a caller bug) and adds up an upper bound without overflowing.
 */
typedef struct sizer {
        size_t n;
        int bad;               /* set on a NULL pointer with a length or an overflow */
        const char *bad_field; /* first offending field */
} sizer_t;

static void size_add(sizer_t *z, size_t n, const char *field)
{
        if (n > SIZE_MAX - z->n) {
                if (!z->bad)
                        z->bad_field = field;
                z->bad = 1;
                return;
        }
        z->n += n;
}

static void size_str(sizer_t *z, ss_str_t s, const char *field)
{
        if ((!s.ptr && s.len) || s.len > (size_t)INT64_MAX) {
                if (!z->bad)
                        z->bad_field = field;
                z->bad = 1;
                return;
        }
        size_add(z, VARINT_MAX + s.len, field);
}

/* Grows out for a message of at most z->n bytes, or reports why it cannot. */
static ss_err_t enc_begin(const sizer_t *z, const char *record, ss_serde_buf_t *out, char *errstr,
                          size_t errstr_size)
{
        if (z->bad)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "%s: field '%s' has a NULL pointer with a non-zero length "
                                  "(or is too large)",
                                  record, z->bad_field);
        return buf_reserve(out, z->n, errstr, errstr_size);
}

ss_err_t ss_serde_tweet_encode(const ss_serde_t *s, const ss_tweet_t *t, ss_serde_buf_t *out,
                               char *errstr, size_t errstr_size)
{
        sizer_t z = {SS_SERDE_HEADER_SIZE + 3 * VARINT_MAX, 0, NULL};
        size_str(&z, t->id, "id");
        size_str(&z, t->text, "text");
        size_str(&z, t->lang, "lang");
        size_str(&z, t->user, "user");
        ss_err_t err = enc_begin(&z, "Tweet", out, errstr, errstr_size);
        if (err)
                return err;
        uint8_t *p = out->data + out->len;
        p = put_header(p, s->ids.tweet);
        p = put_str(p, t->id);
        p = put_str(p, t->text);
        p = put_long(p, t->created_at);
        p = put_long(p, t->lang.ptr ? 1 : 0);
        if (t->lang.ptr)
                p = put_str(p, t->lang);
        p = put_long(p, t->user.ptr ? 1 : 0);
        if (t->user.ptr)
                p = put_str(p, t->user);
        out->len = (size_t)(p - out->data);
        return SS_OK;
}

ss_err_t ss_serde_prediction_encode(const ss_serde_t *s, const ss_prediction_t *pr,
                                    ss_serde_buf_t *out, char *errstr, size_t errstr_size)
{
        if (pr->label < 0 || pr->label >= SS_NUM_CLASSES)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "Prediction: label %" PRId32 " is out of range 0..%d", pr->label,
                                  SS_NUM_CLASSES - 1);
        /* header, label, 3 floats, 2 longs, union, InputStats (int, float, 3 booleans) */
        sizer_t z = {SS_SERDE_HEADER_SIZE + VARINT_MAX + 12 + 2 * VARINT_MAX + VARINT_MAX +
                         VARINT_MAX + 4 + 3,
                     0, NULL};
        size_str(&z, pr->tweet_id, "tweet_id");
        size_str(&z, pr->model_name, "model_name");
        size_str(&z, pr->model_version, "model_version");
        ss_err_t err = enc_begin(&z, "Prediction", out, errstr, errstr_size);
        if (err)
                return err;
        uint8_t *p = out->data + out->len;
        p = put_header(p, s->ids.prediction);
        p = put_str(p, pr->tweet_id);
        p = put_long(p, pr->label);
        p = put_float(p, pr->probs[SS_LABEL_NEGATIVE]);
        p = put_float(p, pr->probs[SS_LABEL_NEUTRAL]);
        p = put_float(p, pr->probs[SS_LABEL_POSITIVE]);
        p = put_str(p, pr->model_name);
        p = put_str(p, pr->model_version);
        p = put_long(p, pr->created_at);
        p = put_long(p, pr->scored_at);
        if (pr->has_input_stats) {
                const ss_input_stats_t *st = &pr->input_stats;
                p = put_long(p, 1);
                p = put_long(p, st->n_tokens);
                p = put_float(p, st->unk_share);
                p = put_bool(p, st->has_url);
                p = put_bool(p, st->has_mention);
                p = put_bool(p, st->has_emoji);
        } else {
                p = put_long(p, 0);
        }
        out->len = (size_t)(p - out->data);
        return SS_OK;
}

ss_err_t ss_serde_dead_letter_encode(const ss_serde_t *s, const ss_dead_letter_t *d,
                                     ss_serde_buf_t *out, char *errstr, size_t errstr_size)
{
        sizer_t z = {SS_SERDE_HEADER_SIZE + 6 * VARINT_MAX, 0, NULL};
        size_str(&z, d->source_topic, "source_topic");
        size_str(&z, d->error_code, "error_code");
        size_str(&z, d->error_message, "error_message");
        size_str(&z, d->raw_key, "raw_key");
        size_str(&z, d->raw_value, "raw_value");
        size_str(&z, d->raw_sha256, "raw_sha256");
        ss_err_t err = enc_begin(&z, "DeadLetter", out, errstr, errstr_size);
        if (err)
                return err;
        uint8_t *p = out->data + out->len;
        p = put_header(p, s->ids.dead_letter);
        p = put_str(p, d->source_topic);
        p = put_long(p, d->partition);
        p = put_long(p, d->offset);
        p = put_str(p, d->error_code);
        p = put_str(p, d->error_message);
        p = put_long(p, d->raw_key.ptr ? 1 : 0);
        if (d->raw_key.ptr)
                p = put_str(p, d->raw_key);
        p = put_str(p, d->raw_value);
        p = put_long(p, d->failed_at);
        int64_t raw_size = d->raw_size;
        if (raw_size < (int64_t)d->raw_value.len)
                raw_size = (int64_t)d->raw_value.len;
        p = put_long(p, raw_size);
        p = put_long(p, d->raw_sha256.ptr ? 1 : 0);
        if (d->raw_sha256.ptr)
                p = put_str(p, d->raw_sha256);
        out->len = (size_t)(p - out->data);
        return SS_OK;
}

ss_err_t ss_serde_retrain_event_encode(const ss_serde_t *s, const ss_retrain_event_t *e,
                                       ss_serde_buf_t *out, char *errstr, size_t errstr_size)
{
        if (!e->reasons && e->n_reasons)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "RetrainEvent: reasons is NULL with %zu elements", e->n_reasons);
        if (!e->metrics && e->n_metrics)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "RetrainEvent: metrics is NULL with %zu elements", e->n_metrics);
        /* header, 2 arrays (count + end), 3 longs */
        sizer_t z = {SS_SERDE_HEADER_SIZE + 4 * VARINT_MAX + 3 * VARINT_MAX, 0, NULL};
        size_str(&z, e->event_id, "event_id");
        size_str(&z, e->model_name, "model_name");
        size_str(&z, e->model_version, "model_version");
        for (size_t i = 0; i < e->n_reasons; i++) {
                size_str(&z, e->reasons[i].metric, "reasons.metric");
                size_str(&z, e->reasons[i].family, "reasons.family");
                size_str(&z, e->reasons[i].statistic, "reasons.statistic");
                size_add(&z, 8 + 8 + VARINT_MAX + 8 + 2 * VARINT_MAX, "reasons");
        }
        for (size_t i = 0; i < e->n_metrics; i++) {
                size_str(&z, e->metrics[i].name, "metrics.name");
                size_add(&z, 8 + 2 * VARINT_MAX, "metrics");
        }
        ss_err_t err = enc_begin(&z, "RetrainEvent", out, errstr, errstr_size);
        if (err)
                return err;
        uint8_t *p = out->data + out->len;
        p = put_header(p, s->ids.retrain_event);
        p = put_str(p, e->event_id);
        p = put_str(p, e->model_name);
        p = put_str(p, e->model_version);
        if (e->n_reasons) {
                p = put_long(p, (int64_t)e->n_reasons);
                for (size_t i = 0; i < e->n_reasons; i++) {
                        const ss_retrain_reason_t *r = &e->reasons[i];
                        p = put_str(p, r->metric);
                        p = put_double(p, r->value);
                        p = put_double(p, r->threshold);
                        p = put_long(p, r->has_critical_value ? 1 : 0);
                        if (r->has_critical_value)
                                p = put_double(p, r->critical_value);
                        p = put_str(p, r->family);
                        p = put_str(p, r->statistic);
                        p = put_long(p, r->window_n);
                        p = put_long(p, r->reference_n);
                }
        }
        p = put_long(p, 0);
        if (e->n_metrics) {
                p = put_long(p, (int64_t)e->n_metrics);
                for (size_t i = 0; i < e->n_metrics; i++) {
                        const ss_metric_snapshot_t *m = &e->metrics[i];
                        p = put_str(p, m->name);
                        p = put_double(p, m->value);
                        p = put_long(p, m->n);
                        p = put_long(p, m->reference_n);
                }
        }
        p = put_long(p, 0);
        p = put_long(p, e->window_start);
        p = put_long(p, e->window_end);
        p = put_long(p, e->triggered_at);
        out->len = (size_t)(p - out->data);
        return SS_OK;
}

ss_err_t ss_serde_model_update_encode(const ss_serde_t *s, const ss_model_update_t *u,
                                      ss_serde_buf_t *out, char *errstr, size_t errstr_size)
{
        if (!u->metrics && u->n_metrics)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "ModelUpdate: metrics is NULL with %zu elements", u->n_metrics);
        /* header, map (count + end), union index, 1 long */
        sizer_t z = {SS_SERDE_HEADER_SIZE + 2 * VARINT_MAX + VARINT_MAX + VARINT_MAX, 0, NULL};
        size_str(&z, u->model_name, "model_name");
        size_str(&z, u->version, "version");
        size_str(&z, u->alias, "alias");
        size_str(&z, u->uri, "uri");
        size_str(&z, u->sha256, "sha256");
        size_str(&z, u->model_version, "model_version");
        size_str(&z, u->reason, "reason");
        size_str(&z, u->event_id, "event_id");
        for (size_t i = 0; i < u->n_metrics; i++) {
                size_str(&z, u->metrics[i].name, "metrics.name");
                size_add(&z, 8, "metrics");
        }
        ss_err_t err = enc_begin(&z, "ModelUpdate", out, errstr, errstr_size);
        if (err)
                return err;
        uint8_t *p = out->data + out->len;
        p = put_header(p, s->ids.model_update);
        p = put_str(p, u->model_name);
        p = put_str(p, u->version);
        p = put_str(p, u->alias);
        p = put_str(p, u->uri);
        p = put_str(p, u->sha256);
        p = put_str(p, u->model_version);
        if (u->n_metrics) {
                p = put_long(p, (int64_t)u->n_metrics);
                for (size_t i = 0; i < u->n_metrics; i++) {
                        p = put_str(p, u->metrics[i].name);
                        p = put_double(p, u->metrics[i].value);
                }
        }
        p = put_long(p, 0);
        p = put_str(p, u->reason);
        p = put_long(p, u->event_id.ptr ? 1 : 0);
        if (u->event_id.ptr)
                p = put_str(p, u->event_id);
        p = put_long(p, u->updated_at_ms);
        out->len = (size_t)(p - out->data);
        return SS_OK;
}

/* ---- decoding --------------------------------------------------------------------------- */

/* A cursor over one message. On the first error it records the code and message; every
 * later read is a no-op, so a decoder reads all fields and checks rd->err once. */
typedef struct reader {
        const uint8_t *base; /* message start (offsets in messages count from here) */
        const uint8_t *p;
        const uint8_t *end;
        const char *record;
        ss_serde_store_t *st;
        ss_err_t err;
        char *errstr;
        size_t errstr_size;
} reader_t;

static size_t rd_off(const reader_t *r)
{
        return (size_t)(r->p - r->base);
}

static void rd_fail(reader_t *r, const char *field, size_t off, const char *what)
{
        if (r->err)
                return;
        r->err = ss_err_set(r->errstr, r->errstr_size, SS_ERR_DECODE,
                            "%s: field '%s' at offset %zu: %s", r->record, field, off, what);
        r->p = r->end;
}

static int64_t rd_long(reader_t *r, const char *field)
{
        if (r->err)
                return 0;
        size_t off = rd_off(r);
        uint64_t z = 0;
        for (int shift = 0; shift < 64; shift += 7) {
                if (r->p >= r->end) {
                        rd_fail(r, field, off, "truncated varint (message ends)");
                        return 0;
                }
                uint8_t b = *r->p++;
                if (shift == 63 && (b & 0x7e)) {
                        rd_fail(r, field, off, "varint overflows 64 bits");
                        return 0;
                }
                z |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        }
        rd_fail(r, field, off, "varint longer than 10 bytes");
        return 0;
}

static int32_t rd_int(reader_t *r, const char *field)
{
        size_t off = rd_off(r);
        int64_t v = rd_long(r, field);
        if (v < INT32_MIN || v > INT32_MAX) {
                rd_fail(r, field, off, "int value out of 32-bit range");
                return 0;
        }
        return (int32_t)v;
}

static const uint8_t *rd_fixed(reader_t *r, const char *field, size_t n)
{
        if (r->err)
                return NULL;
        if ((size_t)(r->end - r->p) < n) {
                char what[96];
                snprintf(what, sizeof(what), "needs %zu bytes, message has %zu left", n,
                         (size_t)(r->end - r->p));
                rd_fail(r, field, rd_off(r), what);
                return NULL;
        }
        const uint8_t *q = r->p;
        r->p += n;
        return q;
}

static float rd_float(reader_t *r, const char *field)
{
        const uint8_t *q = rd_fixed(r, field, 4);
        if (!q)
                return 0;
        uint32_t u =
            (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        return f;
}

static double rd_double(reader_t *r, const char *field)
{
        const uint8_t *q = rd_fixed(r, field, 8);
        if (!q)
                return 0;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
                u |= (uint64_t)q[i] << (8 * i);
        double d;
        memcpy(&d, &u, 8);
        return d;
}

static bool rd_bool(reader_t *r, const char *field)
{
        size_t off = rd_off(r);
        const uint8_t *q = rd_fixed(r, field, 1);
        if (!q)
                return false;
        if (*q > 1) {
                rd_fail(r, field, off, "boolean byte is neither 0 nor 1");
                return false;
        }
        return *q == 1;
}

/* Avro string or bytes: length varint, then the bytes, copied into the store. utf8: check
 * that it is valid UTF-8 (SS_ERR_UTF8 otherwise). */
static ss_str_t rd_str(reader_t *r, const char *field, bool utf8)
{
        ss_str_t s = {NULL, 0};
        size_t off = rd_off(r);
        int64_t n = rd_long(r, field);
        if (r->err)
                return s;
        if (n < 0) {
                rd_fail(r, field, off, "negative length");
                return s;
        }
        if ((uint64_t)n > (uint64_t)(r->end - r->p)) {
                char what[96];
                snprintf(what, sizeof(what),
                         "length %" PRId64 " runs past the end (%zu bytes left)", n,
                         (size_t)(r->end - r->p));
                rd_fail(r, field, off, what);
                return s;
        }
        size_t data_off = rd_off(r);
        s.len = (size_t)n;
        s.ptr = store_copy(r->st, r->p, s.len);
        r->p += s.len;
        if (utf8) {
                size_t bad = ss_serde_utf8_first_invalid(s.ptr, s.len);
                if (bad != s.len) {
                        r->err = ss_err_set(r->errstr, r->errstr_size, SS_ERR_UTF8,
                                            "%s: field '%s': invalid UTF-8 at byte %zu of the "
                                            "field (message offset %zu)",
                                            r->record, field, bad, data_off + bad);
                        r->p = r->end;
                }
        }
        return s;
}

/* Union index of a ["null", X] union: false for null, true for X. */
static bool rd_optional(reader_t *r, const char *field)
{
        size_t off = rd_off(r);
        int64_t i = rd_long(r, field);
        if (i != 0 && i != 1) {
                char what[64];
                snprintf(what, sizeof(what), "union index %" PRId64 " is not 0 or 1", i);
                rd_fail(r, field, off, what);
                return false;
        }
        return i == 1;
}

/*
 * One block header of an Avro array: the element count (0 ends the array). A negative count
 * is followed by the block's size in bytes (Avro spec). min_elem: the fewest bytes one
 * element takes, so a count the message cannot hold is refused before allocation.
 */
static size_t rd_block(reader_t *r, const char *field, size_t min_elem)
{
        size_t off = rd_off(r);
        int64_t n = rd_long(r, field);
        if (r->err)
                return 0;
        if (n < 0) {
                if (n == INT64_MIN) {
                        rd_fail(r, field, off, "array block count out of range");
                        return 0;
                }
                n = -n;
                int64_t bytes = rd_long(r, field);
                if (!r->err && bytes < 0) {
                        rd_fail(r, field, off, "negative array block size");
                        return 0;
                }
        }
        if ((uint64_t)n > (uint64_t)(r->end - r->p) / min_elem) {
                char what[112];
                snprintf(what, sizeof(what),
                         "array block of %" PRId64 " elements cannot fit in the %zu bytes left", n,
                         (size_t)(r->end - r->p));
                rd_fail(r, field, off, what);
                return 0;
        }
        return (size_t)n;
}

/* Checks the Confluent header and readies reader + store. */
static ss_err_t rd_begin(reader_t *r, const char *record, int32_t want_id, const char *id_key,
                         const void *buf, size_t len, ss_serde_store_t *st, char *errstr,
                         size_t errstr_size)
{
        const uint8_t *b = buf;
        if (!buf && len)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "%s: NULL buffer with length %zu", record, len);
        if (len < SS_SERDE_HEADER_SIZE)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "%s: message of %zu bytes is shorter than the %d-byte "
                                  "Confluent header",
                                  record, len, SS_SERDE_HEADER_SIZE);
        if (b[0] != 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "%s: magic byte 0x%02x at offset 0, expected 0x00 (Confluent "
                                  "wire format)",
                                  record, b[0]);
        uint32_t id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
        if (id != (uint32_t)want_id)
                return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                  "%s: schema id %" PRIu32 " at offset 1 is not the configured "
                                  "%s id %" PRId32 " (serde.schema_id.%s)",
                                  record, id, record, want_id, id_key);
        ss_err_t err = store_begin(st, len, errstr, errstr_size);
        if (err)
                return err;
        r->base = b;
        r->p = b + SS_SERDE_HEADER_SIZE;
        r->end = b + len;
        r->record = record;
        r->st = st;
        r->err = SS_OK;
        r->errstr = errstr;
        r->errstr_size = errstr_size;
        return SS_OK;
}

/* After the last field: the first error, or SS_ERR_DECODE for bytes left over. */
static ss_err_t rd_end(reader_t *r)
{
        if (r->err)
                return r->err;
        if (r->p != r->end)
                return ss_err_set(r->errstr, r->errstr_size, SS_ERR_DECODE,
                                  "%s: %zu trailing bytes after the record at offset %zu",
                                  r->record, (size_t)(r->end - r->p), rd_off(r));
        return SS_OK;
}

/* Content rules of a Tweet (after its structure decoded): non-empty id and text, text size. */
static ss_err_t tweet_check(const ss_serde_t *s, const ss_tweet_t *t, const char *where,
                            char *errstr, size_t errstr_size)
{
        if (!t->id.ptr || t->id.len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                  "Tweet%s: field 'id' is missing or empty", where);
        if (!t->text.ptr || t->text.len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                  "Tweet%s: field 'text' is missing or empty", where);
        if (s->max_text_bytes && t->text.len > s->max_text_bytes)
                return ss_err_set(errstr, errstr_size, SS_ERR_TOO_LARGE,
                                  "Tweet%s: field 'text' has %zu bytes, over the limit of %zu "
                                  "(consumer.max.text.bytes)",
                                  where, t->text.len, s->max_text_bytes);
        /* One rule for both input formats: a NUL in a string field is refused (the JSON
         * decoder refuses it, raw or \u0000, before parsing). */
        const ss_str_t *fields[] = {&t->id, &t->text, &t->lang, &t->user};
        const char *names[] = {"id", "text", "lang", "user"};
        for (int i = 0; i < 4; i++) {
                const char *nul = fields[i]->ptr ? memchr(fields[i]->ptr, 0, fields[i]->len) : NULL;
                if (nul)
                        return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                          "Tweet%s: field '%s': NUL character at byte %zu is not "
                                          "supported",
                                          where, names[i], (size_t)(nul - fields[i]->ptr));
        }
        return SS_OK;
}

ss_err_t ss_serde_tweet_decode(const ss_serde_t *s, const void *buf, size_t len, ss_tweet_t *t,
                               char *errstr, size_t errstr_size)
{
        reader_t r;
        ss_err_t err =
            rd_begin(&r, "Tweet", s->ids.tweet, "tweet", buf, len, &t->store, errstr, errstr_size);
        if (err)
                return err;
        /* The text's UTF-8 is checked last: after the structure, emptiness and size. */
        t->id = rd_str(&r, "id", true);
        t->text = rd_str(&r, "text", false);
        size_t text_off = rd_off(&r) - t->text.len; /* message offset of its first byte */
        t->created_at = rd_long(&r, "created_at");
        t->lang = rd_optional(&r, "lang") ? rd_str(&r, "lang", true) : (ss_str_t){NULL, 0};
        t->user = rd_optional(&r, "user") ? rd_str(&r, "user", true) : (ss_str_t){NULL, 0};
        err = rd_end(&r);
        if (err)
                return err;
        err = tweet_check(s, t, "", errstr, errstr_size);
        if (err)
                return err;
        size_t bad = ss_serde_utf8_first_invalid(t->text.ptr, t->text.len);
        if (bad != t->text.len)
                return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                  "Tweet: field 'text': invalid UTF-8 at byte %zu of the text "
                                  "(message offset %zu)",
                                  bad, text_off + bad);
        return SS_OK;
}

ss_err_t ss_serde_prediction_decode(const ss_serde_t *s, const void *buf, size_t len,
                                    ss_prediction_t *pr, char *errstr, size_t errstr_size)
{
        reader_t r;
        ss_err_t err = rd_begin(&r, "Prediction", s->ids.prediction, "prediction", buf, len,
                                &pr->store, errstr, errstr_size);
        if (err)
                return err;
        pr->tweet_id = rd_str(&r, "tweet_id", true);
        size_t off = rd_off(&r);
        int64_t label = rd_long(&r, "label");
        if (!r.err && (label < 0 || label >= SS_NUM_CLASSES)) {
                char what[64];
                snprintf(what, sizeof(what), "enum Sentiment index %" PRId64 " is out of range",
                         label);
                rd_fail(&r, "label", off, what);
        }
        pr->label = (int32_t)(r.err ? 0 : label);
        pr->probs[SS_LABEL_NEGATIVE] = rd_float(&r, "prob_negative");
        pr->probs[SS_LABEL_NEUTRAL] = rd_float(&r, "prob_neutral");
        pr->probs[SS_LABEL_POSITIVE] = rd_float(&r, "prob_positive");
        pr->model_name = rd_str(&r, "model_name", true);
        pr->model_version = rd_str(&r, "model_version", true);
        pr->created_at = rd_long(&r, "created_at");
        pr->scored_at = rd_long(&r, "scored_at");
        pr->has_input_stats = rd_optional(&r, "input_stats");
        memset(&pr->input_stats, 0, sizeof(pr->input_stats));
        if (pr->has_input_stats) {
                ss_input_stats_t *st = &pr->input_stats;
                st->n_tokens = rd_int(&r, "input_stats.n_tokens");
                st->unk_share = rd_float(&r, "input_stats.unk_share");
                st->has_url = rd_bool(&r, "input_stats.has_url");
                st->has_mention = rd_bool(&r, "input_stats.has_mention");
                st->has_emoji = rd_bool(&r, "input_stats.has_emoji");
        }
        return rd_end(&r);
}

ss_err_t ss_serde_dead_letter_decode(const ss_serde_t *s, const void *buf, size_t len,
                                     ss_dead_letter_t *d, char *errstr, size_t errstr_size)
{
        reader_t r;
        ss_err_t err = rd_begin(&r, "DeadLetter", s->ids.dead_letter, "dead_letter", buf, len,
                                &d->store, errstr, errstr_size);
        if (err)
                return err;
        d->source_topic = rd_str(&r, "source_topic", true);
        d->partition = rd_int(&r, "partition");
        d->offset = rd_long(&r, "offset");
        d->error_code = rd_str(&r, "error_code", true);
        d->error_message = rd_str(&r, "error_message", true);
        d->raw_key =
            rd_optional(&r, "raw_key") ? rd_str(&r, "raw_key", false) : (ss_str_t){NULL, 0};
        d->raw_value = rd_str(&r, "raw_value", false);
        d->failed_at = rd_long(&r, "failed_at");
        /* raw_size and raw_sha256 came later, with defaults: a record of an older writer
         * ends here and gets them (schema evolution, as an Avro reader would resolve it). */
        d->raw_size = -1;
        d->raw_sha256 = (ss_str_t){NULL, 0};
        if (!r.err && r.p == r.end)
                return SS_OK;
        d->raw_size = rd_long(&r, "raw_size");
        if (rd_optional(&r, "raw_sha256"))
                d->raw_sha256 = rd_str(&r, "raw_sha256", true);
        return rd_end(&r);
}

/* Decodes the blocks of one array of RetrainEvent into store array slot. */
static void rd_reasons(reader_t *r, ss_retrain_event_t *e)
{
        ss_retrain_reason_t *arr = NULL;
        size_t n = 0, k;
        /* one Reason takes at least: metric length (1) + 2 doubles (16) + union index (1) +
         * family and statistic lengths (2) + window_n and reference_n (2) */
        while (!r->err && (k = rd_block(r, "reasons", 22)) > 0) {
                arr = store_array(r->st, 0, n + k, sizeof(*arr));
                if (!arr) {
                        r->err = ss_err_set(r->errstr, r->errstr_size, SS_ERR_NOMEM,
                                            "RetrainEvent: out of memory for %zu reasons", n + k);
                        return;
                }
                for (size_t i = n; i < n + k && !r->err; i++) {
                        ss_retrain_reason_t *x = &arr[i];
                        x->metric = rd_str(r, "reasons.metric", true);
                        x->value = rd_double(r, "reasons.value");
                        x->threshold = rd_double(r, "reasons.threshold");
                        x->has_critical_value = rd_optional(r, "reasons.critical_value");
                        x->critical_value =
                            x->has_critical_value ? rd_double(r, "reasons.critical_value") : 0.0;
                        x->family = rd_str(r, "reasons.family", true);
                        x->statistic = rd_str(r, "reasons.statistic", true);
                        x->window_n = rd_long(r, "reasons.window_n");
                        x->reference_n = rd_long(r, "reasons.reference_n");
                }
                n += k;
        }
        e->reasons = arr;
        e->n_reasons = r->err ? 0 : n;
}

static void rd_metrics(reader_t *r, ss_retrain_event_t *e)
{
        ss_metric_snapshot_t *arr = NULL;
        size_t n = 0, k;
        /* one MetricSnapshot takes at least: name length (1) + double (8) + 2 longs (2) */
        while (!r->err && (k = rd_block(r, "metrics", 11)) > 0) {
                arr = store_array(r->st, 1, n + k, sizeof(*arr));
                if (!arr) {
                        r->err = ss_err_set(r->errstr, r->errstr_size, SS_ERR_NOMEM,
                                            "RetrainEvent: out of memory for %zu metrics", n + k);
                        return;
                }
                for (size_t i = n; i < n + k && !r->err; i++) {
                        ss_metric_snapshot_t *x = &arr[i];
                        x->name = rd_str(r, "metrics.name", true);
                        x->value = rd_double(r, "metrics.value");
                        x->n = rd_long(r, "metrics.n");
                        x->reference_n = rd_long(r, "metrics.reference_n");
                }
                n += k;
        }
        e->metrics = arr;
        e->n_metrics = r->err ? 0 : n;
}

ss_err_t ss_serde_retrain_event_decode(const ss_serde_t *s, const void *buf, size_t len,
                                       ss_retrain_event_t *e, char *errstr, size_t errstr_size)
{
        reader_t r;
        ss_err_t err = rd_begin(&r, "RetrainEvent", s->ids.retrain_event, "retrain_event", buf, len,
                                &e->store, errstr, errstr_size);
        if (err)
                return err;
        e->event_id = rd_str(&r, "event_id", true);
        e->model_name = rd_str(&r, "model_name", true);
        e->model_version = rd_str(&r, "model_version", true);
        rd_reasons(&r, e);
        rd_metrics(&r, e);
        e->window_start = rd_long(&r, "window_start");
        e->window_end = rd_long(&r, "window_end");
        e->triggered_at = rd_long(&r, "triggered_at");
        return rd_end(&r);
}

/* ModelUpdate.metrics: the blocks of an Avro map<string, double> (block form as arrays). */
static void rd_update_metrics(reader_t *r, ss_model_update_t *u)
{
        ss_model_update_metric_t *arr = NULL;
        size_t n = 0, k;
        /* one entry takes at least: key length (1) + double (8) */
        while (!r->err && (k = rd_block(r, "metrics", 9)) > 0) {
                arr = store_array(r->st, 0, n + k, sizeof(*arr));
                if (!arr) {
                        r->err = ss_err_set(r->errstr, r->errstr_size, SS_ERR_NOMEM,
                                            "ModelUpdate: out of memory for %zu metrics", n + k);
                        return;
                }
                for (size_t i = n; i < n + k && !r->err; i++) {
                        arr[i].name = rd_str(r, "metrics.key", true);
                        arr[i].value = rd_double(r, "metrics.value");
                }
                n += k;
        }
        u->metrics = arr;
        u->n_metrics = r->err ? 0 : n;
}

ss_err_t ss_serde_model_update_decode(const ss_serde_t *s, const void *buf, size_t len,
                                      ss_model_update_t *u, char *errstr, size_t errstr_size)
{
        reader_t r;
        ss_err_t err = rd_begin(&r, "ModelUpdate", s->ids.model_update, "model_update", buf, len,
                                &u->store, errstr, errstr_size);
        if (err)
                return err;
        u->model_name = rd_str(&r, "model_name", true);
        u->version = rd_str(&r, "version", true);
        u->alias = rd_str(&r, "alias", true);
        u->uri = rd_str(&r, "uri", true);
        u->sha256 = rd_str(&r, "sha256", true);
        u->model_version = rd_str(&r, "model_version", true);
        rd_update_metrics(&r, u);
        u->reason = rd_str(&r, "reason", true);
        u->event_id =
            rd_optional(&r, "event_id") ? rd_str(&r, "event_id", true) : (ss_str_t){NULL, 0};
        u->updated_at_ms = rd_long(&r, "updated_at");
        return rd_end(&r);
}

ss_err_t ss_serde_schema_id_peek(const void *buf, size_t len, int32_t *id, char *errstr,
                                 size_t errstr_size)
{
        const uint8_t *b = buf;
        if (!buf || len < SS_SERDE_HEADER_SIZE)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "message of %zu bytes is shorter than the %d-byte Confluent "
                                  "header",
                                  buf ? len : 0, SS_SERDE_HEADER_SIZE);
        if (b[0] != 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "magic byte 0x%02x at offset 0, expected 0x00 (Confluent wire "
                                  "format)",
                                  b[0]);
        *id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
        return SS_OK;
}

/* ---- JSON tweets ------------------------------------------------------------------------ */

/*
 * cJSON keeps strings NUL-terminated, so a raw NUL byte or a "\u0000" escape would cut a
 * string short without a word. Both are refused up front. Returns the offset of the first
 * one, or len.
 */
static size_t json_nul_scan(const uint8_t *b, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (b[i] == 0)
                        return i;
                if (b[i] == '\\' && i + 1 < len) {
                        if (b[i + 1] == 'u' && len - i >= 6 && !memcmp(b + i + 2, "0000", 4))
                                return i;
                        i++; /* skip the escaped character (e.g. the second '\' of "\\") */
                }
        }
        return len;
}

/* Optional string member: absent or null -> {NULL, 0}; a string -> copy; else an error. */
static ss_err_t json_str(const cJSON *root, const char *key, ss_serde_store_t *st, ss_str_t *out,
                         char *errstr, size_t errstr_size)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
        out->ptr = NULL;
        out->len = 0;
        if (!v || cJSON_IsNull(v))
                return SS_OK;
        if (!cJSON_IsString(v) || !v->valuestring)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): field '%s' must be a string", key);
        size_t n = strlen(v->valuestring);
        out->ptr = store_copy(st, v->valuestring, n);
        out->len = n;
        size_t bad = ss_serde_utf8_first_invalid(out->ptr, n);
        if (bad != n)
                return ss_err_set(errstr, errstr_size, SS_ERR_UTF8,
                                  "Tweet (JSON): field '%s': invalid UTF-8 at byte %zu of the "
                                  "field",
                                  key, bad);
        return SS_OK;
}

static ss_err_t json_tweet_fields(const ss_serde_t *s, const cJSON *root,
                                  int64_t default_created_at, ss_tweet_t *t, char *errstr,
                                  size_t errstr_size)
{
        if (!cJSON_IsObject(root))
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): the message is not a JSON object");
        /* Size before UTF-8: an oversized text is refused without scanning it. */
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
        if (cJSON_IsString(text) && text->valuestring && s->max_text_bytes &&
            strlen(text->valuestring) > s->max_text_bytes)
                return ss_err_set(errstr, errstr_size, SS_ERR_TOO_LARGE,
                                  "Tweet (JSON): field 'text' has %zu bytes, over the limit of "
                                  "%zu (consumer.max.text.bytes)",
                                  strlen(text->valuestring), s->max_text_bytes);
        ss_err_t err;
        if ((err = json_str(root, "id", &t->store, &t->id, errstr, errstr_size)) ||
            (err = json_str(root, "text", &t->store, &t->text, errstr, errstr_size)) ||
            (err = json_str(root, "lang", &t->store, &t->lang, errstr, errstr_size)) ||
            (err = json_str(root, "user", &t->store, &t->user, errstr, errstr_size)))
                return err;
        const cJSON *ca = cJSON_GetObjectItemCaseSensitive(root, "created_at");
        if (!ca || cJSON_IsNull(ca)) {
                t->created_at = default_created_at;
        } else {
                double v = cJSON_IsNumber(ca) ? ca->valuedouble : NAN;
                /* 2^63 is exactly representable; the int64 range is [-2^63, 2^63). */
                if (!isfinite(v) || v != floor(v) || v < -9223372036854775808.0 ||
                    v >= 9223372036854775808.0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                          "Tweet (JSON): field 'created_at' must be an integer "
                                          "number of milliseconds");
                t->created_at = (int64_t)v;
        }
        return tweet_check(s, t, " (JSON)", errstr, errstr_size);
}

ss_err_t ss_serde_tweet_decode_json(const ss_serde_t *s, const void *buf, size_t len,
                                    int64_t default_created_at, ss_tweet_t *t, char *errstr,
                                    size_t errstr_size)
{
        const uint8_t *b = buf;
        if (!buf && len)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "Tweet (JSON): NULL buffer with length %zu", len);
        size_t nul = json_nul_scan(b, len);
        if (nul != len)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): NUL character (%s) at offset %zu is not "
                                  "supported",
                                  b[nul] ? "\\u0000 escape" : "raw byte", nul);
        ss_err_t err = store_begin(&t->store, len, errstr, errstr_size);
        if (err)
                return err;
        memset(&t->id, 0, sizeof(t->id));
        t->text = t->lang = t->user = t->id;
        t->created_at = 0;
        if (len == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): empty message");
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts((const char *)b, len, &end, 0);
        if (!root) {
                size_t off = end ? (size_t)(end - (const char *)b) : 0;
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): not valid JSON near offset %zu", off);
        }
        size_t off = (size_t)(end - (const char *)b);
        while (off < len && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r'))
                off++;
        if (off < len) {
                cJSON_Delete(root);
                return ss_err_set(errstr, errstr_size, SS_ERR_DECODE,
                                  "Tweet (JSON): %zu trailing bytes after the object at offset "
                                  "%zu",
                                  len - off, off);
        }
        err = json_tweet_fields(s, root, default_created_at, t, errstr, errstr_size);
        cJSON_Delete(root);
        return err;
}
