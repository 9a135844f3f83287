/*
 * ss_err: names and descriptions for the project's error enum, plus the
 * helper that fills a caller's errstr buffer. Kept dependency-free so that
 * every layer (models included) can use it.
 */
#include "ss_err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
        const char *name;
        const char *desc;
} ss_err_table[SS_ERR__COUNT] = {
    [SS_OK] = {"SS_OK", "success"},
    [SS_ERR_INVALID_ARG] = {"SS_ERR_INVALID_ARG", "invalid argument"},
    [SS_ERR_NOMEM] = {"SS_ERR_NOMEM", "out of memory"},
    [SS_ERR_IO] = {"SS_ERR_IO", "I/O error"},
    [SS_ERR_PARSE] = {"SS_ERR_PARSE", "malformed input"},
    [SS_ERR_CONFIG] = {"SS_ERR_CONFIG", "invalid configuration"},
    [SS_ERR_FORMAT] = {"SS_ERR_FORMAT", "bad file format"},
    [SS_ERR_CHECKSUM] = {"SS_ERR_CHECKSUM", "checksum mismatch"},
    [SS_ERR_UNSUPPORTED] = {"SS_ERR_UNSUPPORTED", "unsupported"},
    [SS_ERR_DECODE] = {"SS_ERR_DECODE", "undecodable message"},
    [SS_ERR_UTF8] = {"SS_ERR_UTF8", "invalid UTF-8"},
    [SS_ERR_TOO_LARGE] = {"SS_ERR_TOO_LARGE", "input too large"},
    [SS_ERR_EMPTY] = {"SS_ERR_EMPTY", "missing or empty field"},
    [SS_ERR_KAFKA] = {"SS_ERR_KAFKA", "Kafka error"},
    [SS_ERR_REDIS] = {"SS_ERR_REDIS", "Redis error"},
    [SS_ERR_TIMEOUT] = {"SS_ERR_TIMEOUT", "timed out"},
    [SS_ERR_STATE] = {"SS_ERR_STATE", "invalid state"},
    [SS_ERR_RANGE] = {"SS_ERR_RANGE", "value outside its configured range"},
    [SS_ERR_HTTP] = {"SS_ERR_HTTP", "HTTP request failed"},
};

const char *ss_err2name(ss_err_t err)
{
        if ((unsigned)err >= SS_ERR__COUNT)
                return "SS_ERR_UNKNOWN";
        return ss_err_table[err].name;
}

const char *ss_err2str(ss_err_t err)
{
        if ((unsigned)err >= SS_ERR__COUNT)
                return "unknown error";
        return ss_err_table[err].desc;
}

ss_err_t ss_err_set(char *errstr, size_t errstr_size, ss_err_t err, const char *fmt, ...)
{
        if (errstr && errstr_size > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(errstr, errstr_size, fmt, ap);
                va_end(ap);
        }
        return err;
}
