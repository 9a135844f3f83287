/*
 * mbuf: a growable byte buffer for the monitor's snapshots, and a bounds-checked
 * reader for it. Integers are little-endian fixed width, doubles their IEEE
 * bits, strings a u32 length then bytes. The writer records an out-of-memory
 * failure and the reader an overrun in a sticky flag, so a sequence of puts or
 * gets is checked once at the end.
 */
#ifndef SS_MBUF_H
#define SS_MBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss_mbuf {
        uint8_t *data; /* [cap], owned */
        size_t len, cap;
        int failed; /* an allocation failed: contents incomplete */
} ss_mbuf_t;

void ss_mbuf_init(ss_mbuf_t *b);
void ss_mbuf_free(ss_mbuf_t *b);
void ss_mbuf_reset(ss_mbuf_t *b); /* len = 0, keeps the memory */
void ss_mbuf_put(ss_mbuf_t *b, const void *p, size_t n);
void ss_mbuf_put_u8(ss_mbuf_t *b, uint8_t v);
void ss_mbuf_put_u32(ss_mbuf_t *b, uint32_t v);
void ss_mbuf_put_u64(ss_mbuf_t *b, uint64_t v);
void ss_mbuf_put_i64(ss_mbuf_t *b, int64_t v);
void ss_mbuf_put_f64(ss_mbuf_t *b, double v);
void ss_mbuf_put_str(ss_mbuf_t *b, const char *s, size_t n);

typedef struct ss_mreader {
        const uint8_t *p; /* borrowed: valid while the reader is used */
        size_t len, off;
        int failed; /* a read went past the end */
} ss_mreader_t;

void ss_mreader_init(ss_mreader_t *r, const void *p, size_t len);
int ss_mreader_get(ss_mreader_t *r, void *out, size_t n); /* 0 or -1 */
uint8_t ss_mreader_u8(ss_mreader_t *r);
uint32_t ss_mreader_u32(ss_mreader_t *r);
uint64_t ss_mreader_u64(ss_mreader_t *r);
int64_t ss_mreader_i64(ss_mreader_t *r);
double ss_mreader_f64(ss_mreader_t *r);
/* Points *s at the string's bytes inside the buffer (not NUL-terminated); returns its
 * length, or 0 with failed set on overrun. */
size_t ss_mreader_str(ss_mreader_t *r, const char **s);

#endif /* SS_MBUF_H */
