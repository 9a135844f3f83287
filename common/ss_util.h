/*
 * ss_util: small helpers shared by every layer: clocks, sha256, whole-file
 * reads, the growable array, mkdir -p, and a progress line for long work that
 * shows only on a terminal. Strings are duplicated with POSIX strdup()/strndup()
 * (enabled project-wide by _GNU_SOURCE), never a private copy.
 */
#ifndef SS_UTIL_H
#define SS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ss_err.h"

/* Wall clock, milliseconds since the Unix epoch. */
int64_t ss_time_now_ms(void);

/* Monotonic clock in seconds (for durations and rates). */
double ss_time_mono(void);

/* Formats epoch milliseconds as ISO-8601 UTC ("2026-11-25T07:30:00.123Z"). */
void ss_time_iso8601(int64_t ms, char *buf, size_t size);

/* sha256 of a buffer as 64 lowercase hex chars + NUL into hex[65]. */
void ss_sha256_hex(const void *data, size_t len, char hex[65]);

/* sha256 of a buffer, raw 32 bytes. */
void ss_sha256(const void *data, size_t len, uint8_t out[32]);

/* sha256 of a whole file as hex. */
ss_err_t ss_sha256_file_hex(const char *path, char hex[65], char *errstr, size_t errstr_size);

/* Reads a whole file into a NUL-terminated buffer; caller frees *out. */
ss_err_t ss_file_read_all(const char *path, char **out, size_t *len, char *errstr,
                          size_t errstr_size);

/*
 * The one growable array: makes *p (capacity *cap elements of elem bytes)
 * hold at least need elements; the capacity doubles from min_cap and the
 * contents are kept. Returns 0, or -1 when out of memory or when the size
 * would overflow (then *p and *cap are unchanged).
 */
int ss_array_grow(void **p, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* mkdir -p of the directory part of path ("a/b/c.ssm" creates a/ and a/b/). Returns 0, or
 * -1 with errno set. */
int ss_file_mkdir_parent(const char *path);

/*
 * Progress line on stderr for long work: "label: step/total  rate/s  ETA  extra".
 * Silent unless stderr is a terminal (or SS_PROGRESS=1). Redraws at most 10
 * times a second.
 */
typedef struct ss_progress {
        const char *label;
        uint64_t total; /* 0 when unknown */
        double start, last;
        int enabled;
} ss_progress_t;

void ss_progress_init(ss_progress_t *p, const char *label, uint64_t total);
/* extra: optional text such as "loss 0.532"; may be NULL. */
void ss_progress_update(ss_progress_t *p, uint64_t step, const char *extra);
/* Clears the line (if any was drawn). */
void ss_progress_done(ss_progress_t *p);

#endif /* SS_UTIL_H */
