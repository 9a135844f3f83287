/*
 * join: the waiting room of the prediction/label join.
 *
 * Entries live in a pool allocated once (max_pending of them) and are linked
 * into a FIFO in insertion order, which is also expiry order. The index is an
 * open-addressing table of pool indices (+1, 0 = empty) at least twice the pool
 * size, probed linearly; removal shifts the following run back instead of
 * leaving tombstones, so lookups never degrade. Each slot keeps the entry's
 * full hash beside its index: probing compares hashes and the shift re-homes
 * entries from the slot array alone, and the oldest entry is found by its
 * index, so a pool entry (a cache miss each, the pool being megabytes) is only
 * read for the key compare of a matching hash. That halves the cache misses
 * of an add to a full table (measured with bench_monitor: see README).
 */
#include "join.h"

#include <stdlib.h>
#include <string.h>

enum { KIND_PRED = 0, KIND_LABEL = 1 };
#define NIL UINT32_MAX

typedef struct join_entry {
        uint32_t prev, next; /* FIFO links (pool indices), NIL at the ends */
        uint32_t hash;
        uint8_t kind;
        uint8_t klen;
        char key[SS_JOIN_KEY_MAX];
        int64_t t_ms; /* when it was added */
        union {
                ss_join_pred_t pred;
                ss_join_label_t label;
        } u;
} join_entry_t;

struct ss_join {
        size_t max_pending;
        int64_t ttl_ms;
        join_entry_t *pool; /* [max_pending] */
        uint32_t free_head; /* free list through .next */
        uint32_t fifo_head, fifo_tail;
        uint64_t *slots; /* [mask + 1] hash << 32 | (pool index + 1), 0 = empty */
        size_t mask;
        size_t used;
        ss_join_stats_t st;
};

static uint32_t key_hash(const char *k, size_t n)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix */
        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)k[i];
                h *= 1099511628211ULL;
        }
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        return (uint32_t)h;
}

static void table_reset(ss_join_t *j)
{
        for (size_t i = 0; i < j->max_pending; i++)
                j->pool[i].next = i + 1 < j->max_pending ? (uint32_t)(i + 1) : NIL;
        j->free_head = 0;
        j->fifo_head = j->fifo_tail = NIL;
        memset(j->slots, 0, sizeof(uint64_t) * (j->mask + 1));
        j->used = 0;
        j->st.pending_pred = j->st.pending_label = 0;
}

ss_join_t *ss_join_new(size_t max_pending, int64_t ttl_ms)
{
        if (max_pending < 1 || max_pending >= (size_t)NIL / 4 || ttl_ms < 1)
                return NULL;
        ss_join_t *j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        j->max_pending = max_pending;
        j->ttl_ms = ttl_ms;
        size_t nslots = 16;
        while (nslots < 2 * max_pending)
                nslots *= 2;
        j->mask = nslots - 1;
        j->pool = malloc(sizeof(join_entry_t) * max_pending);
        j->slots = malloc(sizeof(uint64_t) * nslots);
        if (!j->pool || !j->slots) {
                ss_join_destroy(j);
                return NULL;
        }
        table_reset(j);
        return j;
}

void ss_join_destroy(ss_join_t *j)
{
        if (!j)
                return;
        free(j->pool);
        free(j->slots);
        free(j);
}

const ss_join_stats_t *ss_join_stats(const ss_join_t *j)
{
        return &j->st;
}

static uint32_t slot_hash(uint64_t v)
{
        return (uint32_t)(v >> 32);
}

static uint32_t slot_index(uint64_t v) /* pool index + 1, 0 = empty */
{
        return (uint32_t)v;
}

/* Slot holding the entry for key, or the empty slot where it would go. */
static size_t slot_find(const ss_join_t *j, const char *k, size_t n, uint32_t h)
{
        size_t s = h & j->mask;
        for (;;) {
                uint64_t v = j->slots[s];
                if (!v)
                        return s;
                if (slot_hash(v) == h) {
                        const join_entry_t *e = &j->pool[slot_index(v) - 1];
                        if (e->klen == n && !memcmp(e->key, k, n))
                                return s;
                }
                s = (s + 1) & j->mask;
        }
}

/* Slot of pool entry idx (whose hash is h); the entry is in the table. */
static size_t slot_of(const ss_join_t *j, uint32_t idx, uint32_t h)
{
        size_t s = h & j->mask;
        while (slot_index(j->slots[s]) != idx + 1)
                s = (s + 1) & j->mask;
        return s;
}

/* Empties slot s and shifts the rest of its probe run back (no tombstones). */
static void slot_delete(ss_join_t *j, size_t s)
{
        size_t hole = s, i = s;
        for (;;) {
                i = (i + 1) & j->mask;
                uint64_t v = j->slots[i];
                if (!v)
                        break;
                size_t home = slot_hash(v) & j->mask;
                /* move v into the hole unless its home lies cyclically in (hole, i] */
                int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
                if (!stays) {
                        j->slots[hole] = v;
                        hole = i;
                }
        }
        j->slots[hole] = 0;
}

static void fifo_unlink(ss_join_t *j, uint32_t idx)
{
        join_entry_t *e = &j->pool[idx];
        if (e->prev != NIL)
                j->pool[e->prev].next = e->next;
        else
                j->fifo_head = e->next;
        if (e->next != NIL)
                j->pool[e->next].prev = e->prev;
        else
                j->fifo_tail = e->prev;
}

static void fifo_append(ss_join_t *j, uint32_t idx)
{
        join_entry_t *e = &j->pool[idx];
        e->prev = j->fifo_tail;
        e->next = NIL;
        if (j->fifo_tail != NIL)
                j->pool[j->fifo_tail].next = idx;
        else
                j->fifo_head = idx;
        j->fifo_tail = idx;
}

static void pending_count(ss_join_t *j, int kind, int delta)
{
        if (kind == KIND_PRED)
                j->st.pending_pred += (uint64_t)(int64_t)delta;
        else
                j->st.pending_label += (uint64_t)(int64_t)delta;
}

/* Removes entry idx (its slot is s) from the table, the FIFO and the counts. */
static void entry_remove(ss_join_t *j, uint32_t idx, size_t s)
{
        slot_delete(j, s);
        fifo_unlink(j, idx);
        pending_count(j, j->pool[idx].kind, -1);
        j->pool[idx].next = j->free_head;
        j->free_head = idx;
        j->used--;
}

static void entry_remove_oldest(ss_join_t *j, int evicted)
{
        uint32_t idx = j->fifo_head;
        join_entry_t *e = &j->pool[idx];
        int kind = e->kind;
        entry_remove(j, idx, slot_of(j, idx, e->hash));
        if (evicted)
                (*(kind == KIND_PRED ? &j->st.evicted_pred : &j->st.evicted_label))++;
        else
                (*(kind == KIND_PRED ? &j->st.expired_pred : &j->st.expired_label))++;
}

size_t ss_join_expire(ss_join_t *j, int64_t now_ms)
{
        size_t n = 0;
        while (j->fifo_head != NIL && j->pool[j->fifo_head].t_ms <= now_ms - j->ttl_ms) {
                entry_remove_oldest(j, 0);
                n++;
        }
        return n;
}

/* The common path of both adds: kind is what arrives, payload its data. */
static int join_add(ss_join_t *j, int kind, const char *id, size_t len, const void *payload,
                    int64_t now_ms, ss_join_pair_t *out)
{
        if (len == 0 || len > SS_JOIN_KEY_MAX) {
                j->st.bad_key++;
                return -1;
        }
        uint32_t h = key_hash(id, len);
        size_t s = slot_find(j, id, len, h);
        if (j->slots[s]) {
                uint32_t idx = slot_index(j->slots[s]) - 1;
                join_entry_t *e = &j->pool[idx];
                if (e->kind != kind) {
                        if (kind == KIND_PRED) {
                                out->pred = *(const ss_join_pred_t *)payload;
                                out->label = e->u.label;
                        } else {
                                out->pred = e->u.pred;
                                out->label = *(const ss_join_label_t *)payload;
                        }
                        entry_remove(j, idx, s);
                        j->st.joined++;
                        return 1;
                }
                /* same side again: the newer one replaces it and waits from now */
                (*(kind == KIND_PRED ? &j->st.dup_pred : &j->st.dup_label))++;
                entry_remove(j, idx, s);
        }
        if (j->used == j->max_pending)
                entry_remove_oldest(j, 1);
        s = slot_find(j, id, len, h); /* removals may have shifted the run */
        uint32_t idx = j->free_head;
        join_entry_t *e = &j->pool[idx];
        j->free_head = e->next;
        e->hash = h;
        e->kind = (uint8_t)kind;
        e->klen = (uint8_t)len;
        memcpy(e->key, id, len);
        e->t_ms = now_ms;
        if (kind == KIND_PRED)
                e->u.pred = *(const ss_join_pred_t *)payload;
        else
                e->u.label = *(const ss_join_label_t *)payload;
        j->slots[s] = (uint64_t)h << 32 | (idx + 1);
        fifo_append(j, idx);
        pending_count(j, kind, +1);
        j->used++;
        return 0;
}

int ss_join_add_pred(ss_join_t *j, const char *id, size_t len, const ss_join_pred_t *p,
                     int64_t now_ms, ss_join_pair_t *out)
{
        return join_add(j, KIND_PRED, id, len, p, now_ms, out);
}

int ss_join_add_label(ss_join_t *j, const char *id, size_t len, const ss_join_label_t *l,
                      int64_t now_ms, ss_join_pair_t *out)
{
        return join_add(j, KIND_LABEL, id, len, l, now_ms, out);
}

void ss_join_save(const ss_join_t *j, ss_mbuf_t *b)
{
        const ss_join_stats_t *st = &j->st;
        uint64_t counters[] = {st->joined,       st->expired_pred,  st->expired_label,
                               st->evicted_pred, st->evicted_label, st->dup_pred,
                               st->dup_label,    st->bad_key};
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
                ss_mbuf_put_u64(b, counters[i]);
        ss_mbuf_put_u64(b, j->used);
        for (uint32_t idx = j->fifo_head; idx != NIL; idx = j->pool[idx].next) {
                const join_entry_t *e = &j->pool[idx];
                ss_mbuf_put_u8(b, e->kind);
                ss_mbuf_put_str(b, e->key, e->klen);
                ss_mbuf_put_i64(b, e->t_ms);
                if (e->kind == KIND_PRED) {
                        ss_mbuf_put_u32(b, e->u.pred.model);
                        ss_mbuf_put_u8(b, e->u.pred.label);
                        ss_mbuf_put_i64(b, e->u.pred.scored_at_ms);
                } else {
                        ss_mbuf_put_u8(b, e->u.label.label);
                        ss_mbuf_put_i64(b, e->u.label.labeled_at_ms);
                }
        }
}

int ss_join_load(ss_join_t *j, ss_mreader_t *r)
{
        table_reset(j);
        memset(&j->st, 0, sizeof(j->st));
        ss_join_stats_t st = {0};
        uint64_t *counters[] = {&st.joined,       &st.expired_pred,  &st.expired_label,
                                &st.evicted_pred, &st.evicted_label, &st.dup_pred,
                                &st.dup_label,    &st.bad_key};
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
                *counters[i] = ss_mreader_u64(r);
        uint64_t n = ss_mreader_u64(r);
        for (uint64_t i = 0; i < n && !r->failed; i++) {
                int kind = ss_mreader_u8(r);
                const char *key;
                size_t klen = ss_mreader_str(r, &key);
                int64_t t = ss_mreader_i64(r);
                ss_join_pair_t unused;
                int rc;
                if (kind == KIND_PRED) {
                        ss_join_pred_t p;
                        p.model = ss_mreader_u32(r);
                        p.label = ss_mreader_u8(r);
                        p.scored_at_ms = ss_mreader_i64(r);
                        rc = r->failed ? -1 : join_add(j, KIND_PRED, key, klen, &p, t, &unused);
                } else {
                        ss_join_label_t l;
                        l.label = ss_mreader_u8(r);
                        l.labeled_at_ms = ss_mreader_i64(r);
                        rc = r->failed || kind != KIND_LABEL
                                 ? -1
                                 : join_add(j, KIND_LABEL, key, klen, &l, t, &unused);
                }
                if (rc != 0)
                        r->failed = 1;
        }
        if (r->failed) {
                table_reset(j);
                memset(&j->st, 0, sizeof(j->st));
                return -1;
        }
        uint64_t pp = j->st.pending_pred, pl = j->st.pending_label;
        j->st = st;
        j->st.pending_pred = pp;
        j->st.pending_label = pl;
        return 0;
}
