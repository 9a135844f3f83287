/*
 * ledger: partitions in a short linked list (a consumer holds a handful; the
 * last one looked up is cached because consecutive messages mostly share a
 * partition), entries in a singly linked FIFO per partition. Entries are
 * allocated one by one and recycled through a free list, so the steady state
 * allocates nothing. A partition keeps a count of its live entries; a
 * detached partition is freed with its last entry.
 */
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

typedef struct ss_ledger_part {
        char *topic;
        int32_t partition;
        int detached;         /* revoked: no longer reports offsets */
        int advanced;         /* committable moved since the last foreach_advanced */
        int64_t committable;  /* next offset after the done prefix, -1 = none yet */
        int64_t last_entered; /* offset of the last entered message, -1 = none */
        size_t n_entries;     /* entries in the FIFO */
        struct ss_ledger_entry *head, *tail;
        struct ss_ledger_part *next;
} ss_ledger_part_t;

struct ss_ledger_entry {
        ss_ledger_part_t *part;
        int64_t offset;
        int pending; /* outputs not yet acknowledged */
        struct ss_ledger_entry *next;
};

struct ss_ledger {
        ss_ledger_part_t *parts;    /* assigned partitions */
        ss_ledger_part_t *detached; /* revoked partitions with entries left */
        ss_ledger_part_t *last;     /* lookup cache */
        ss_ledger_entry_t *free_entries;
        size_t pending;
};

ss_ledger_t *ss_ledger_new(void)
{
        return calloc(1, sizeof(ss_ledger_t));
}

static void ss_ledger_part_free(ss_ledger_part_t *p)
{
        for (ss_ledger_entry_t *e = p->head, *n; e; e = n) {
                n = e->next;
                free(e);
        }
        free(p->topic);
        free(p);
}

void ss_ledger_destroy(ss_ledger_t *l)
{
        if (!l)
                return;
        for (ss_ledger_part_t *lists[2] = {l->parts, l->detached}, **pl = lists; pl < lists + 2;
             pl++) {
                for (ss_ledger_part_t *p = *pl, *n; p; p = n) {
                        n = p->next;
                        ss_ledger_part_free(p);
                }
        }
        for (ss_ledger_entry_t *e = l->free_entries, *n; e; e = n) {
                n = e->next;
                free(e);
        }
        free(l);
}

static ss_ledger_part_t *ss_ledger_find(const ss_ledger_t *l, const char *topic, int32_t partition)
{
        if (l->last && l->last->partition == partition && !strcmp(l->last->topic, topic))
                return l->last;
        for (ss_ledger_part_t *p = l->parts; p; p = p->next)
                if (p->partition == partition && !strcmp(p->topic, topic))
                        return ((ss_ledger_t *)l)->last = p;
        return NULL;
}

ss_err_t ss_ledger_assign(ss_ledger_t *l, const char *topic, int32_t partition)
{
        if (ss_ledger_find(l, topic, partition))
                return SS_OK;
        ss_ledger_part_t *p = calloc(1, sizeof(*p));
        if (!p || !(p->topic = strdup(topic))) {
                free(p);
                return SS_ERR_NOMEM;
        }
        p->partition = partition;
        p->committable = -1;
        p->last_entered = -1;
        p->next = l->parts;
        l->parts = p;
        return SS_OK;
}

ss_err_t ss_ledger_resume(ss_ledger_t *l, const char *topic, int32_t partition, int64_t offset)
{
        ss_ledger_part_t *p = ss_ledger_find(l, topic, partition);
        if (!p || p->last_entered >= 0 || offset < 0)
                return SS_ERR_STATE;
        p->committable = offset;
        p->last_entered = offset - 1;
        p->advanced = 1;
        return SS_OK;
}

/* Unlinks p from list *pl. */
static void ss_ledger_unlink(ss_ledger_part_t **pl, ss_ledger_part_t *p)
{
        for (; *pl; pl = &(*pl)->next) {
                if (*pl == p) {
                        *pl = p->next;
                        return;
                }
        }
}

void ss_ledger_revoke(ss_ledger_t *l, const char *topic, int32_t partition)
{
        ss_ledger_part_t *p = ss_ledger_find(l, topic, partition);
        if (!p)
                return;
        if (l->last == p)
                l->last = NULL;
        ss_ledger_unlink(&l->parts, p);
        if (!p->head) {
                ss_ledger_part_free(p);
                return;
        }
        p->detached = 1;
        p->next = l->detached;
        l->detached = p;
}

ss_ledger_entry_t *ss_ledger_enter(ss_ledger_t *l, const char *topic, int32_t partition,
                                   int64_t offset, int outputs, ss_err_t *err)
{
        ss_ledger_part_t *p = ss_ledger_find(l, topic, partition);
        *err = SS_OK;
        if (!p) {
                *err = SS_ERR_STATE;
                return NULL;
        }
        if (outputs < 1 || offset <= p->last_entered) {
                *err = SS_ERR_INVALID_ARG;
                return NULL;
        }
        ss_ledger_entry_t *e = l->free_entries;
        if (e)
                l->free_entries = e->next;
        else if (!(e = malloc(sizeof(*e)))) {
                *err = SS_ERR_NOMEM;
                return NULL;
        }
        e->part = p;
        e->offset = offset;
        e->pending = outputs;
        e->next = NULL;
        if (p->tail)
                p->tail->next = e;
        else
                p->head = e;
        p->tail = e;
        p->n_entries++;
        p->last_entered = offset;
        l->pending++;
        return e;
}

/* Pops the done prefix of p's FIFO; frees p if it is detached and empty. Returns 1 if any. */
static int ss_ledger_pop(ss_ledger_t *l, ss_ledger_part_t *p)
{
        int popped = 0;
        while (p->head && p->head->pending == 0) {
                ss_ledger_entry_t *e = p->head;
                p->head = e->next;
                if (!p->head)
                        p->tail = NULL;
                p->n_entries--;
                p->committable = e->offset + 1;
                e->next = l->free_entries;
                l->free_entries = e;
                popped = 1;
        }
        if (p->detached && !p->head) {
                ss_ledger_unlink(&l->detached, p);
                ss_ledger_part_free(p);
                return 0;
        }
        if (popped && !p->detached)
                p->advanced = 1;
        return popped && !p->detached;
}

int ss_ledger_ack(ss_ledger_t *l, ss_ledger_entry_t *e)
{
        if (e->pending <= 0)
                return 0;
        if (--e->pending > 0)
                return 0;
        l->pending--;
        return ss_ledger_pop(l, e->part);
}

void ss_ledger_abandon(ss_ledger_t *l, ss_ledger_entry_t *e)
{
        if (e->pending <= 0)
                return;
        e->pending = 0;
        l->pending--;
        ss_ledger_pop(l, e->part);
}

int ss_ledger_entry_live(const ss_ledger_entry_t *e)
{
        return !e->part->detached;
}

int64_t ss_ledger_entry_offset(const ss_ledger_entry_t *e)
{
        return e->offset;
}

const char *ss_ledger_entry_topic(const ss_ledger_entry_t *e)
{
        return e->part->topic;
}

int32_t ss_ledger_entry_partition(const ss_ledger_entry_t *e)
{
        return e->part->partition;
}

int64_t ss_ledger_committable(const ss_ledger_t *l, const char *topic, int32_t partition)
{
        const ss_ledger_part_t *p = ss_ledger_find(l, topic, partition);
        return p ? p->committable : -1;
}

void ss_ledger_foreach_advanced(ss_ledger_t *l,
                                void (*cb)(const char *topic, int32_t partition, int64_t offset,
                                           void *opaque),
                                void *opaque)
{
        for (ss_ledger_part_t *p = l->parts; p; p = p->next) {
                if (p->advanced) {
                        p->advanced = 0;
                        cb(p->topic, p->partition, p->committable, opaque);
                }
        }
}

void ss_ledger_foreach_assigned(ss_ledger_t *l,
                                void (*cb)(const char *topic, int32_t partition,
                                           int64_t committable, int64_t last_entered, void *opaque),
                                void *opaque)
{
        for (ss_ledger_part_t *p = l->parts; p; p = p->next)
                cb(p->topic, p->partition, p->committable, p->last_entered, opaque);
}

size_t ss_ledger_pending(const ss_ledger_t *l)
{
        return l->pending;
}
