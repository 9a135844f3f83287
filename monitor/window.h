/*
 * window: counts of binned predictions over a sliding count window and over
 * tumbling time windows, for a fixed set of distributions.
 *
 * A prediction arrives as a "row": one bin index per distribution (uint8,
 * SS_CARD_NO_BIN where the prediction has no value for it, e.g. no input
 * statistics). Counts are kept per distribution in one flat array
 * (layout.off[d] .. + layout.nbins[d]) together with n[d], the rows that had a
 * bin for d; both are always exact for the window's current content.
 *
 * Sliding: the last `cap` rows, a ring buffer; adding a row to a full window
 * first removes the oldest row's bins. O(ndists) per row, no allocation.
 *
 * Tumbling: windows [start, start + width) of event time, aligned to
 * multiples of width since the epoch. The caller asks ss_tumble_due() before
 * adding a row; when a row's time lies at or after the end, the caller
 * evaluates the window (counts as they are) and calls ss_tumble_roll(), which
 * clears it and moves it to the window holding that time. A row older than
 * the current window's start is counted into the current window and in
 * `late` (time goes backwards only by reordering across partitions).
 *
 * Both save their exact content into a snapshot and restore it; restoring
 * into a window of another shape fails (the configuration changed).
 */
#ifndef SS_WINDOW_H
#define SS_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"
#include "card.h"

typedef struct ss_win_layout {
        int ndists;
        int nbins[SS_CARD_MAX_DISTS];
        int off[SS_CARD_MAX_DISTS]; /* first count of distribution d */
        int total;                  /* sum of nbins */
} ss_win_layout_t;

/* Fills the layout; returns 0, or -1 if ndists or a bin count is out of range. */
int ss_win_layout_init(ss_win_layout_t *l, int ndists, const int *nbins);

typedef struct ss_slide {
        ss_win_layout_t layout;
        size_t cap;       /* window size in rows */
        size_t len;       /* rows held, <= cap */
        size_t head;      /* slot the next row goes to */
        uint8_t *rows;    /* [cap][ndists] bins of the rows held */
        uint32_t *counts; /* [layout.total] */
        uint32_t *n;      /* [ndists] */
        uint64_t seen;    /* rows ever added */
} ss_slide_t;

/* New empty sliding window of cap >= 1 rows. Caller frees with ss_slide_destroy(). */
ss_slide_t *ss_slide_new(const ss_win_layout_t *l, size_t cap);
void ss_slide_destroy(ss_slide_t *s);
void ss_slide_add(ss_slide_t *s, const uint8_t *row);
void ss_slide_clear(ss_slide_t *s);
void ss_slide_save(const ss_slide_t *s, ss_mbuf_t *b);
/* Restores what ss_slide_save() wrote; 0, or -1 on a truncated buffer or another shape
 * (the window is then cleared). */
int ss_slide_load(ss_slide_t *s, ss_mreader_t *r);

typedef struct ss_tumble {
        ss_win_layout_t layout;
        int64_t width_ms;
        int64_t start_ms; /* start of the current window; INT64_MIN before the first row */
        uint32_t *counts; /* [layout.total] */
        uint32_t *n;      /* [ndists] */
        uint64_t rows;    /* rows in the current window */
        uint64_t late;    /* rows ever counted late */
} ss_tumble_t;

ss_tumble_t *ss_tumble_new(const ss_win_layout_t *l, int64_t width_ms);
void ss_tumble_destroy(ss_tumble_t *t);
/* True if the window holds rows and ts is at or after its end. */
int ss_tumble_due(const ss_tumble_t *t, int64_t ts);
/* Clears the counts and moves to the window holding ts. */
void ss_tumble_roll(ss_tumble_t *t, int64_t ts);
/* Counts a row with event time ts (the first row sets the window). */
void ss_tumble_add(ss_tumble_t *t, int64_t ts, const uint8_t *row);
int64_t ss_tumble_end(const ss_tumble_t *t);
void ss_tumble_save(const ss_tumble_t *t, ss_mbuf_t *b);
int ss_tumble_load(ss_tumble_t *t, ss_mreader_t *r);

#endif /* SS_WINDOW_H */
