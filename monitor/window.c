/*
 * window: sliding-count and tumbling-time windows of bin counts.
 *
 * The sliding window keeps the rows themselves (ndists bytes each) in a ring
 * so that the oldest row's bins can be subtracted when it falls out; the
 * counts are therefore exact at every moment without rescanning. The
 * tumbling window keeps only counts and its start. Snapshots write the
 * layout first so that a restore into a differently configured window is
 * refused rather than misread.
 */
#include "window.h"

#include <stdlib.h>
#include <string.h>

int ss_win_layout_init(ss_win_layout_t *l, int ndists, const int *nbins)
{
        memset(l, 0, sizeof(*l));
        if (ndists < 1 || ndists > SS_CARD_MAX_DISTS)
                return -1;
        l->ndists = ndists;
        for (int d = 0; d < ndists; d++) {
                if (nbins[d] < 1 || nbins[d] > SS_CARD_MAX_BINS)
                        return -1;
                l->nbins[d] = nbins[d];
                l->off[d] = l->total;
                l->total += nbins[d];
        }
        return 0;
}

static void layout_save(const ss_win_layout_t *l, ss_mbuf_t *b)
{
        ss_mbuf_put_u32(b, (uint32_t)l->ndists);
        for (int d = 0; d < l->ndists; d++)
                ss_mbuf_put_u32(b, (uint32_t)l->nbins[d]);
}

static int layout_matches(const ss_win_layout_t *l, ss_mreader_t *r)
{
        int ok = ss_mreader_u32(r) == (uint32_t)l->ndists;
        for (int d = 0; ok && d < l->ndists; d++)
                ok = ss_mreader_u32(r) == (uint32_t)l->nbins[d];
        return ok && !r->failed;
}

/* Adds (sign +1) or removes (-1) a row's bins. */
static void counts_apply(const ss_win_layout_t *l, uint32_t *counts, uint32_t *n,
                         const uint8_t *row, int sign)
{
        for (int d = 0; d < l->ndists; d++) {
                if (row[d] == SS_CARD_NO_BIN || row[d] >= l->nbins[d])
                        continue;
                counts[l->off[d] + row[d]] += (uint32_t)sign;
                n[d] += (uint32_t)sign;
        }
}

/* ---- sliding ------------------------------------------------------------------------ */

ss_slide_t *ss_slide_new(const ss_win_layout_t *l, size_t cap)
{
        if (cap < 1)
                return NULL;
        ss_slide_t *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->layout = *l;
        s->cap = cap;
        s->rows = malloc(cap * (size_t)l->ndists);
        s->counts = calloc((size_t)l->total, sizeof(uint32_t));
        s->n = calloc((size_t)l->ndists, sizeof(uint32_t));
        if (!s->rows || !s->counts || !s->n) {
                ss_slide_destroy(s);
                return NULL;
        }
        return s;
}

void ss_slide_destroy(ss_slide_t *s)
{
        if (!s)
                return;
        free(s->rows);
        free(s->counts);
        free(s->n);
        free(s);
}

void ss_slide_add(ss_slide_t *s, const uint8_t *row)
{
        size_t nd = (size_t)s->layout.ndists;
        uint8_t *slot = s->rows + s->head * nd;
        if (s->len == s->cap)
                counts_apply(&s->layout, s->counts, s->n, slot, -1);
        else
                s->len++;
        memcpy(slot, row, nd);
        counts_apply(&s->layout, s->counts, s->n, row, +1);
        s->head = (s->head + 1) % s->cap;
        s->seen++;
}

void ss_slide_clear(ss_slide_t *s)
{
        s->len = s->head = 0;
        s->seen = 0;
        memset(s->counts, 0, sizeof(uint32_t) * (size_t)s->layout.total);
        memset(s->n, 0, sizeof(uint32_t) * (size_t)s->layout.ndists);
}

void ss_slide_save(const ss_slide_t *s, ss_mbuf_t *b)
{
        size_t nd = (size_t)s->layout.ndists;
        layout_save(&s->layout, b);
        ss_mbuf_put_u64(b, s->cap);
        ss_mbuf_put_u64(b, s->seen);
        ss_mbuf_put_u64(b, s->len);
        /* oldest first */
        size_t first = (s->head + s->cap - s->len) % s->cap;
        for (size_t i = 0; i < s->len; i++)
                ss_mbuf_put(b, s->rows + ((first + i) % s->cap) * nd, nd);
}

int ss_slide_load(ss_slide_t *s, ss_mreader_t *r)
{
        ss_slide_clear(s);
        if (!layout_matches(&s->layout, r) || ss_mreader_u64(r) != s->cap)
                return -1;
        uint64_t seen = ss_mreader_u64(r), len = ss_mreader_u64(r);
        if (r->failed || len > s->cap || len > seen)
                return -1;
        uint8_t row[SS_CARD_MAX_DISTS];
        for (uint64_t i = 0; i < len; i++) {
                if (ss_mreader_get(r, row, (size_t)s->layout.ndists)) {
                        ss_slide_clear(s);
                        return -1;
                }
                ss_slide_add(s, row);
        }
        s->seen = seen;
        return 0;
}

/* ---- tumbling ----------------------------------------------------------------------- */

ss_tumble_t *ss_tumble_new(const ss_win_layout_t *l, int64_t width_ms)
{
        if (width_ms < 1)
                return NULL;
        ss_tumble_t *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->layout = *l;
        t->width_ms = width_ms;
        t->start_ms = INT64_MIN;
        t->counts = calloc((size_t)l->total, sizeof(uint32_t));
        t->n = calloc((size_t)l->ndists, sizeof(uint32_t));
        if (!t->counts || !t->n) {
                ss_tumble_destroy(t);
                return NULL;
        }
        return t;
}

void ss_tumble_destroy(ss_tumble_t *t)
{
        if (!t)
                return;
        free(t->counts);
        free(t->n);
        free(t);
}

static int64_t align_down(int64_t ts, int64_t w)
{
        int64_t q = ts / w;
        if (ts % w < 0)
                q--;
        return q * w;
}

int64_t ss_tumble_end(const ss_tumble_t *t)
{
        return t->start_ms == INT64_MIN ? INT64_MIN : t->start_ms + t->width_ms;
}

int ss_tumble_due(const ss_tumble_t *t, int64_t ts)
{
        return t->rows > 0 && ts >= ss_tumble_end(t);
}

void ss_tumble_roll(ss_tumble_t *t, int64_t ts)
{
        memset(t->counts, 0, sizeof(uint32_t) * (size_t)t->layout.total);
        memset(t->n, 0, sizeof(uint32_t) * (size_t)t->layout.ndists);
        t->rows = 0;
        t->start_ms = align_down(ts, t->width_ms);
}

void ss_tumble_add(ss_tumble_t *t, int64_t ts, const uint8_t *row)
{
        if (t->start_ms == INT64_MIN || (t->rows == 0 && ts >= ss_tumble_end(t)))
                t->start_ms = align_down(ts, t->width_ms);
        else if (ts < t->start_ms)
                t->late++;
        counts_apply(&t->layout, t->counts, t->n, row, +1);
        t->rows++;
}

void ss_tumble_save(const ss_tumble_t *t, ss_mbuf_t *b)
{
        layout_save(&t->layout, b);
        ss_mbuf_put_i64(b, t->width_ms);
        ss_mbuf_put_i64(b, t->start_ms);
        ss_mbuf_put_u64(b, t->rows);
        ss_mbuf_put_u64(b, t->late);
        for (int d = 0; d < t->layout.ndists; d++)
                ss_mbuf_put_u32(b, t->n[d]);
        for (int i = 0; i < t->layout.total; i++)
                ss_mbuf_put_u32(b, t->counts[i]);
}

int ss_tumble_load(ss_tumble_t *t, ss_mreader_t *r)
{
        if (!layout_matches(&t->layout, r) || ss_mreader_i64(r) != t->width_ms)
                return -1;
        int64_t start = ss_mreader_i64(r);
        uint64_t rows = ss_mreader_u64(r), late = ss_mreader_u64(r);
        for (int d = 0; d < t->layout.ndists; d++)
                t->n[d] = ss_mreader_u32(r);
        for (int i = 0; i < t->layout.total; i++)
                t->counts[i] = ss_mreader_u32(r);
        if (r->failed) {
                ss_tumble_roll(t, 0);
                t->start_ms = INT64_MIN;
                return -1;
        }
        t->start_ms = start;
        t->rows = rows;
        t->late = late;
        return 0;
}
