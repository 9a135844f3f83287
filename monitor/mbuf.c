/*
 * mbuf: byte buffer and reader for snapshots. Doubling growth; every put
 * funnels through ss_mbuf_put() and every get through ss_mreader_get(), which
 * hold the only capacity and bounds checks.
 */
#include "mbuf.h"

#include <stdlib.h>
#include <string.h>

#include "ss_util.h"

void ss_mbuf_init(ss_mbuf_t *b)
{
        memset(b, 0, sizeof(*b));
}

void ss_mbuf_free(ss_mbuf_t *b)
{
        free(b->data);
        ss_mbuf_init(b);
}

void ss_mbuf_reset(ss_mbuf_t *b)
{
        b->len = 0;
        b->failed = 0;
}

void ss_mbuf_put(ss_mbuf_t *b, const void *p, size_t n)
{
        if (b->failed)
                return;
        if (ss_array_grow((void **)&b->data, &b->cap, b->len + n, 1, 256)) {
                b->failed = 1;
                return;
        }
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void put_le(ss_mbuf_t *b, uint64_t v, int bytes)
{
        uint8_t t[8];
        for (int i = 0; i < bytes; i++)
                t[i] = (uint8_t)(v >> (8 * i));
        ss_mbuf_put(b, t, (size_t)bytes);
}

void ss_mbuf_put_u8(ss_mbuf_t *b, uint8_t v)
{
        ss_mbuf_put(b, &v, 1);
}

void ss_mbuf_put_u32(ss_mbuf_t *b, uint32_t v)
{
        put_le(b, v, 4);
}

void ss_mbuf_put_u64(ss_mbuf_t *b, uint64_t v)
{
        put_le(b, v, 8);
}

void ss_mbuf_put_i64(ss_mbuf_t *b, int64_t v)
{
        put_le(b, (uint64_t)v, 8);
}

void ss_mbuf_put_f64(ss_mbuf_t *b, double v)
{
        uint64_t u;
        memcpy(&u, &v, 8);
        put_le(b, u, 8);
}

void ss_mbuf_put_str(ss_mbuf_t *b, const char *s, size_t n)
{
        ss_mbuf_put_u32(b, (uint32_t)n);
        ss_mbuf_put(b, s, n);
}

void ss_mreader_init(ss_mreader_t *r, const void *p, size_t len)
{
        r->p = p;
        r->len = len;
        r->off = 0;
        r->failed = 0;
}

int ss_mreader_get(ss_mreader_t *r, void *out, size_t n)
{
        if (r->failed || n > r->len - r->off) {
                r->failed = 1;
                memset(out, 0, n);
                return -1;
        }
        if (n)
                memcpy(out, r->p + r->off, n);
        r->off += n;
        return 0;
}

static uint64_t get_le(ss_mreader_t *r, int bytes)
{
        uint8_t t[8];
        uint64_t v = 0;
        ss_mreader_get(r, t, (size_t)bytes);
        for (int i = 0; i < bytes; i++)
                v |= (uint64_t)t[i] << (8 * i);
        return v;
}

uint8_t ss_mreader_u8(ss_mreader_t *r)
{
        return (uint8_t)get_le(r, 1);
}

uint32_t ss_mreader_u32(ss_mreader_t *r)
{
        return (uint32_t)get_le(r, 4);
}

uint64_t ss_mreader_u64(ss_mreader_t *r)
{
        return get_le(r, 8);
}

int64_t ss_mreader_i64(ss_mreader_t *r)
{
        return (int64_t)get_le(r, 8);
}

double ss_mreader_f64(ss_mreader_t *r)
{
        uint64_t u = get_le(r, 8);
        double v;
        memcpy(&v, &u, 8);
        return v;
}

size_t ss_mreader_str(ss_mreader_t *r, const char **s)
{
        uint32_t n = ss_mreader_u32(r);
        if (r->failed || n > r->len - r->off) {
                r->failed = 1;
                *s = "";
                return 0;
        }
        *s = (const char *)(r->p + r->off);
        r->off += n;
        return n;
}
