/*
 * ss_err: the project's one error enum.
 *
 * Functions that can fail return ss_err_t and, where a message helps, take
 * `char *errstr, size_t errstr_size` and write a human-readable reason naming
 * what was wrong and where (file, line, key, offset). errstr may be NULL.
 */
#ifndef SS_ERR_H
#define SS_ERR_H

#include <stddef.h>

typedef enum ss_err {
        SS_OK = 0,
        SS_ERR_INVALID_ARG, /* caller passed something out of contract */
        SS_ERR_NOMEM,       /* allocation failed */
        SS_ERR_IO,          /* read/write/open failed (errno in message) */
        SS_ERR_PARSE,       /* malformed text input (TSV, JSON, YAML) */
        SS_ERR_CONFIG,      /* unknown key, wrong type, out of range */
        SS_ERR_FORMAT,      /* bad binary format: magic, version, truncation */
        SS_ERR_CHECKSUM,    /* payload checksum mismatch */
        SS_ERR_UNSUPPORTED, /* unknown model kind, schema id, feature */
        SS_ERR_DECODE,      /* undecodable message (Avro, framing) */
        SS_ERR_UTF8,        /* invalid UTF-8 where it is not allowed */
        SS_ERR_TOO_LARGE,   /* input over a configured size */
        SS_ERR_EMPTY,       /* missing or empty required field */
        SS_ERR_KAFKA,       /* librdkafka reported an error */
        SS_ERR_REDIS,       /* Redis reported an error or is unreachable */
        SS_ERR_TIMEOUT,     /* an operation did not finish in time */
        SS_ERR_STATE,       /* operation not valid in the object's state */
        SS_ERR_RANGE,       /* a field outside its configured range (e.g. created_at) */
        SS_ERR_HTTP,        /* an HTTP service (MLflow) refused the request or is unreachable */
        SS_ERR__COUNT
} ss_err_t;

/* Short stable name of an error, e.g. "SS_ERR_UTF8"; never NULL. */
const char *ss_err2name(ss_err_t err);

/* Human-readable description of an error; never NULL. */
const char *ss_err2str(ss_err_t err);

/* Writes a printf-style message into errstr (if non-NULL) and returns err. */
ss_err_t ss_err_set(char *errstr, size_t errstr_size, ss_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* SS_ERR_H */
