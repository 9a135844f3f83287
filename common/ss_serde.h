/*
 * ss_serde: the project's Kafka messages (schemas/, .avsc) in Confluent wire format:
 *
 *   byte 0      magic byte 0x00
 *   bytes 1..4  schema id, 4-byte big-endian (from config: serde.schema_id.*)
 *   bytes 5..   Avro binary body of one record
 *
 * Records: Tweet (input), Prediction (output), DeadLetter (bad input, with the reason),
 * RetrainEvent (monitor's trigger), ModelUpdate (a registry alias moved to a new version). Plus a
 * JSON tweet decoder for producers that do not speak Avro: one object {"id": "...", "text": "...",
 * "created_at": ms, "lang", "user"}.
 *
 * ss_serde_new() reads the five .avsc files once with avro-c and checks that each one
 * describes exactly the layout this module encodes (field names, order, types); a changed
 * schema file is refused at startup instead of producing wrong bytes. Encoding and decoding
 * are then plain loops over the fixed layouts (zigzag varints, IEEE floats little-endian,
 * length-prefixed strings): no per-message schema work, no allocation once buffers are warm,
 * and every length read from a message is checked against the bytes that are left before
 * anything is allocated or copied.
 *
 * Decoders validate and never crash on hostile input. Error codes:
 *   SS_ERR_DECODE       shorter than the header, wrong magic byte, undecodable Avro body
 *                       (truncated, bad varint, length past the end, union/enum index out of
 *                       range, boolean not 0/1), trailing bytes; JSON that is not an object
 *                       of the expected field types
 *   SS_ERR_UNSUPPORTED  schema id other than the configured one for that record
 *   SS_ERR_EMPTY        missing or empty Tweet id or text
 *   SS_ERR_UTF8         a string field that is not valid UTF-8
 *   SS_ERR_TOO_LARGE    Tweet text over max_text_bytes
 * The message names the field and the byte offset in the message.
 *
 * Strings: ss_str_t is a pointer and a length (not necessarily NUL-terminated when the caller
 * fills it for encoding). Strings of a decoded record are NUL-terminated copies held in
 * storage owned by the record struct itself: they stay valid after the input bytes are gone,
 * until the next decode into the same struct or its *_clear(). A struct that is decoded into
 * must start zeroed (= {0}) and be cleared with its *_clear() when done; the storage grows to
 * the largest message seen and is reused.
 *
 * Encoders append to a caller's growable ss_serde_buf_t (reset it to write one message per
 * buffer). They check structure (label range, NULL pointers), not content: a test can encode
 * an empty or invalid-UTF-8 text on purpose to exercise the decoders and the dead-letter path.
 *
 * Thread safety: an ss_serde_t is read-only after ss_serde_new() and may be shared by
 * threads; structs and buffers are per thread. (cJSON stores its last parse error in a
 * process-wide variable that concurrent failing JSON decodes overwrite; nothing here reads it.)
 */
#ifndef SS_SERDE_H
#define SS_SERDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"
#include "ss_err.h"
#include "ss_types.h"

/* Size of the Confluent header: magic byte + 4-byte schema id. */
#define SS_SERDE_HEADER_SIZE 5

/* A byte string: ptr + len. For optional fields, ptr == NULL means null. */
typedef struct ss_str {
        const char *ptr;
        size_t len;
} ss_str_t;

/* ss_str_t of a NUL-terminated string (NULL gives a null ss_str_t). */
static inline ss_str_t ss_str_c(const char *s)
{
        ss_str_t r = {s, 0};
        if (s) {
                while (s[r.len])
                        r.len++;
        }
        return r;
}

/* Growable output buffer, owned by the caller. Zero-initialise or ss_serde_buf_init(). */
typedef struct ss_serde_buf {
        uint8_t *data; /* [cap] bytes, the first len written */
        size_t len;
        size_t cap;
} ss_serde_buf_t;

void ss_serde_buf_init(ss_serde_buf_t *b);
/* Frees the bytes; the buffer is empty and reusable afterwards. */
void ss_serde_buf_free(ss_serde_buf_t *b);
static inline void ss_serde_buf_reset(ss_serde_buf_t *b)
{
        b->len = 0;
}

/* Storage for the strings and arrays of a decoded record. Private to ss_serde.c. */
typedef struct ss_serde_store {
        char *buf; /* [cap] NUL-terminated string copies */
        size_t cap;
        size_t used;
        void *arr[2];      /* record arrays (RetrainEvent reasons, metrics; ModelUpdate metrics) */
        size_t arr_cap[2]; /* elements allocated in arr[i] */
} ss_serde_store_t;

/* io.sentistream.Tweet */
typedef struct ss_tweet {
        ss_str_t id;            /* required, non-empty */
        ss_str_t text;          /* required, non-empty, UTF-8, at most max_text_bytes */
        int64_t created_at;     /* timestamp-millis */
        ss_str_t lang;          /* optional (ptr NULL = null) */
        ss_str_t user;          /* optional (ptr NULL = null) */
        ss_serde_store_t store; /* owned: decoded strings live here */
} ss_tweet_t;

/* io.sentistream.Prediction */
typedef struct ss_prediction {
        ss_str_t tweet_id;
        int32_t label;               /* ss_label_t: enum Sentiment {negative, neutral, positive} */
        float probs[SS_NUM_CLASSES]; /* prob_negative, prob_neutral, prob_positive */
        ss_str_t model_name;
        ss_str_t model_version;
        int64_t created_at;           /* the tweet's, timestamp-millis */
        int64_t scored_at;            /* timestamp-millis */
        bool has_input_stats;         /* false = input_stats null */
        ss_input_stats_t input_stats; /* InputStats, when has_input_stats */
        ss_serde_store_t store;       /* owned: decoded strings live here */
} ss_prediction_t;

/* io.sentistream.DeadLetter */
typedef struct ss_dead_letter {
        ss_str_t source_topic;
        int32_t partition;
        int64_t offset;
        ss_str_t error_code; /* ss_err2name(), e.g. "SS_ERR_UTF8" */
        ss_str_t error_message;
        ss_str_t raw_key; /* bytes, optional (ptr NULL = null) */
        ss_str_t
            raw_value;     /* bytes, required (may be empty); may be a prefix of the source value */
        int64_t failed_at; /* timestamp-millis */
        int64_t raw_size;  /* size of the whole source value; written as raw_value.len when
                              below it (e.g. left 0); -1 when decoded from an older writer */
        ss_str_t raw_sha256; /* hex sha256 of the whole source value, optional (ptr NULL = null) */
        ss_serde_store_t store; /* owned: decoded strings and bytes live here */
} ss_dead_letter_t;

/* io.sentistream.Reason: one threshold that a drift metric crossed. */
typedef struct ss_retrain_reason {
        ss_str_t metric;
        double value;
        double threshold;
        bool has_critical_value; /* false = critical_value null */
        double critical_value;
        ss_str_t family;     /* label_shift, prediction, input, performance ("" from old writers) */
        ss_str_t statistic;  /* what moved, e.g. "label_shift", "input.has_url" */
        int64_t window_n;    /* values in the window */
        int64_t reference_n; /* values in the reference (0: none) */
} ss_retrain_reason_t;

/* io.sentistream.MetricSnapshot */
typedef struct ss_metric_snapshot {
        ss_str_t name;
        double value;
        int64_t n;
        int64_t reference_n;
} ss_metric_snapshot_t;

/* io.sentistream.RetrainEvent */
typedef struct ss_retrain_event {
        ss_str_t event_id; /* model version + ":" + window id (idempotency key) */
        ss_str_t model_name;
        ss_str_t model_version;
        /* For encoding the caller points these at its own arrays; after a decode they point
         * into the struct's storage. */
        const ss_retrain_reason_t *reasons; /* [n_reasons] */
        size_t n_reasons;
        const ss_metric_snapshot_t *metrics; /* [n_metrics] */
        size_t n_metrics;
        int64_t window_start; /* timestamp-millis */
        int64_t window_end;
        int64_t triggered_at;
        ss_serde_store_t store; /* owned: decoded strings and arrays live here */
} ss_retrain_event_t;

/* One entry of ModelUpdate.metrics (an Avro map<string, double>). */
typedef struct ss_model_update_metric {
        ss_str_t name;
        double value;
} ss_model_update_metric_t;

/* io.sentistream.ModelUpdate: a registry alias now points at a new model version. */
typedef struct ss_model_update {
        ss_str_t model_name;    /* registered model name */
        ss_str_t version;       /* registry version number, e.g. "3" */
        ss_str_t alias;         /* the alias that moved, e.g. "champion" */
        ss_str_t uri;           /* models:/NAME/VERSION */
        ss_str_t sha256;        /* hex sha256 of the whole model file */
        ss_str_t model_version; /* the version string inside the model file */
        /* For encoding the caller points this at its own array; after a decode it points into
         * the struct's storage, in the order of the message. Names should be distinct (an Avro
         * map); the codec does not check it. */
        const ss_model_update_metric_t *metrics; /* [n_metrics] */
        size_t n_metrics;
        ss_str_t reason;        /* retrain, rollback or manual */
        ss_str_t event_id;      /* optional (ptr NULL = null): the RetrainEvent behind it */
        int64_t updated_at_ms;  /* timestamp-millis (field updated_at) */
        ss_serde_store_t store; /* owned: decoded strings and the metrics array live here */
} ss_model_update_t;

/* Frees what decoding stored in a struct and zeroes it. NULL is allowed. */
void ss_tweet_clear(ss_tweet_t *t);
void ss_prediction_clear(ss_prediction_t *p);
void ss_dead_letter_clear(ss_dead_letter_t *d);
void ss_retrain_event_clear(ss_retrain_event_t *e);
void ss_model_update_clear(ss_model_update_t *u);

/* Confluent schema ids of the five records (config serde.schema_id.*). */
typedef struct ss_serde_ids {
        int32_t tweet;
        int32_t prediction;
        int32_t dead_letter;
        int32_t retrain_event;
        int32_t model_update;
} ss_serde_ids_t;

/* The ids configured in serde.schema_id.{tweet,prediction,dead_letter,retrain_event,
 * model_update}. */
ss_serde_ids_t ss_serde_ids_from_config(const ss_config_t *c);

typedef struct ss_serde ss_serde_t;

/*
 * Loads and checks schema_dir/{tweet,prediction,dead_letter,retrain_event,model_update}.avsc.
 * ids: the schema ids (each 0..2^31-1; distinct). max_text_bytes: the largest Tweet text
 * the decoders accept (0 = no limit). Returns NULL with the reason (file and what differs)
 * in errstr. Caller frees with ss_serde_destroy().
 */
ss_serde_t *ss_serde_new(const char *schema_dir, const ss_serde_ids_t *ids, size_t max_text_bytes,
                         char *errstr, size_t errstr_size);

void ss_serde_destroy(ss_serde_t *s);

/* Encoders: append one framed message to out. SS_ERR_INVALID_ARG for a NULL pointer with a
 * non-zero length or a label out of range, SS_ERR_NOMEM if out cannot grow. On error out->len
 * is unchanged. */
ss_err_t ss_serde_tweet_encode(const ss_serde_t *s, const ss_tweet_t *t, ss_serde_buf_t *out,
                               char *errstr, size_t errstr_size);
ss_err_t ss_serde_prediction_encode(const ss_serde_t *s, const ss_prediction_t *p,
                                    ss_serde_buf_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_dead_letter_encode(const ss_serde_t *s, const ss_dead_letter_t *d,
                                     ss_serde_buf_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_retrain_event_encode(const ss_serde_t *s, const ss_retrain_event_t *e,
                                       ss_serde_buf_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_model_update_encode(const ss_serde_t *s, const ss_model_update_t *u,
                                      ss_serde_buf_t *out, char *errstr, size_t errstr_size);

/* Decoders: one framed message of len bytes into *out (see the header comment for the
 * error codes and where strings live). On error *out holds no usable record. */
ss_err_t ss_serde_tweet_decode(const ss_serde_t *s, const void *buf, size_t len, ss_tweet_t *out,
                               char *errstr, size_t errstr_size);
ss_err_t ss_serde_prediction_decode(const ss_serde_t *s, const void *buf, size_t len,
                                    ss_prediction_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_dead_letter_decode(const ss_serde_t *s, const void *buf, size_t len,
                                     ss_dead_letter_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_retrain_event_decode(const ss_serde_t *s, const void *buf, size_t len,
                                       ss_retrain_event_t *out, char *errstr, size_t errstr_size);
ss_err_t ss_serde_model_update_decode(const ss_serde_t *s, const void *buf, size_t len,
                                      ss_model_update_t *out, char *errstr, size_t errstr_size);

/*
 * Decodes a JSON tweet (JSON input mode): one object with "id" (string), "text" (string),
 * optional "created_at" (integer milliseconds; default_created_at when absent or null, e.g.
 * the Kafka message timestamp), optional "lang" and "user" (string or null). Other keys are
 * ignored. Same validation and error codes as ss_serde_tweet_decode(); JSON that does not
 * parse, has trailing bytes, or holds a wrong type is SS_ERR_DECODE; "\u0000" in a string is
 * refused (SS_ERR_DECODE) rather than silently truncating it.
 */
ss_err_t ss_serde_tweet_decode_json(const ss_serde_t *s, const void *buf, size_t len,
                                    int64_t default_created_at, ss_tweet_t *out, char *errstr,
                                    size_t errstr_size);

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
bool ss_serde_utf8_valid(const void *buf, size_t len);

/* Offset of the first byte of the first invalid sequence, or len when buf is valid UTF-8. */
size_t ss_serde_utf8_first_invalid(const void *buf, size_t len);

/* The schema id of a framed message, without decoding it. SS_ERR_DECODE if it is too short or
 * the magic byte is wrong. */
ss_err_t ss_serde_schema_id_peek(const void *buf, size_t len, int32_t *id, char *errstr,
                                 size_t errstr_size);

#endif /* SS_SERDE_H */
