/*
 * join: matches predictions with human labels by tweet id, whichever arrives
 * first.
 *
 * The one not yet matched waits in a table keyed by tweet id: a prediction
 * waits for its label, a label for its prediction. When the other side
 * arrives the entry leaves the table and the pair is returned. Entries wait at
 * most ttl_ms (by the caller's clock, the time they were added) and at most
 * max_pending entries wait at once; beyond either bound the oldest go first.
 * Every outcome is counted (see ss_join_stats_t): nothing is dropped silently.
 *
 * A second prediction for an id whose prediction still waits replaces it
 * (e.g. the scorer reprocessed a batch after a restart), likewise a second
 * label; both are counted as duplicates. A label whose prediction was already
 * joined waits like any label (and expires if no prediction comes again).
 *
 * Ids are byte strings of 1..SS_JOIN_KEY_MAX bytes. Adding is O(1) on average
 * (open addressing, linear probing, backward-shift deletion); expiry walks a
 * FIFO list in insertion order. The caller's clock must not go backwards by
 * more than the TTL (entries are expired in insertion order).
 */
#ifndef SS_JOIN_H
#define SS_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"

#define SS_JOIN_KEY_MAX 48

typedef struct ss_join_pred {
        uint32_t model;       /* caller's index of the model version that scored it */
        uint8_t label;        /* predicted label */
        int64_t scored_at_ms; /* when it was scored */
} ss_join_pred_t;

typedef struct ss_join_label {
        uint8_t label;         /* true label */
        int64_t labeled_at_ms; /* when it was labelled */
} ss_join_label_t;

typedef struct ss_join_pair {
        ss_join_pred_t pred;
        ss_join_label_t label;
} ss_join_pair_t;

typedef struct ss_join_stats {
        uint64_t joined;
        uint64_t expired_pred;                /* predictions that waited ttl_ms without a label */
        uint64_t expired_label;               /* labels that waited ttl_ms without a prediction */
        uint64_t evicted_pred;                /* predictions pushed out by max_pending */
        uint64_t evicted_label;               /* labels pushed out by max_pending */
        uint64_t dup_pred;                    /* replaced a waiting prediction of the same id */
        uint64_t dup_label;                   /* replaced a waiting label of the same id */
        uint64_t bad_key;                     /* empty or longer than SS_JOIN_KEY_MAX, refused */
        uint64_t pending_pred, pending_label; /* waiting now */
} ss_join_stats_t;

typedef struct ss_join ss_join_t;

/* max_pending >= 1, ttl_ms >= 1. Caller frees with ss_join_destroy(). */
ss_join_t *ss_join_new(size_t max_pending, int64_t ttl_ms);
void ss_join_destroy(ss_join_t *j);

/*
 * Adds a prediction (or a label) for id[len] at time now_ms. Returns 1 and
 * fills *out when the other side was waiting (the pair leaves the table), 0
 * when it now waits, -1 for a refused id (counted in bad_key).
 */
int ss_join_add_pred(ss_join_t *j, const char *id, size_t len, const ss_join_pred_t *p,
                     int64_t now_ms, ss_join_pair_t *out);
int ss_join_add_label(ss_join_t *j, const char *id, size_t len, const ss_join_label_t *l,
                      int64_t now_ms, ss_join_pair_t *out);

/* Drops entries added at or before now_ms - ttl_ms; returns how many. */
size_t ss_join_expire(ss_join_t *j, int64_t now_ms);

const ss_join_stats_t *ss_join_stats(const ss_join_t *j);

/* Snapshot of the waiting entries and the counters; load replaces the content
 * (0, or -1 on a malformed buffer, then the table is emptied). */
void ss_join_save(const ss_join_t *j, ss_mbuf_t *b);
int ss_join_load(ss_join_t *j, ss_mreader_t *r);

#endif /* SS_JOIN_H */
