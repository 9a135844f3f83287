/*
 * ledger: which input offsets may be committed.
 *
 * Every consumed input message is entered, in consumption order, into the
 * FIFO of its partition with the number of outputs it owes (a prediction or a
 * dead letter: 1). Outputs are acknowledged in any order (across partitions,
 * and after retries); an entry is done when all its outputs are acknowledged,
 * and the partition's committable offset is one past the last entry of the
 * contiguous done prefix of its FIFO. Gaps in offsets (compaction, transaction
 * markers) need no special care: offsets are taken from the messages.
 *
 * A partition that is revoked is detached: its state stays alive, owned by
 * its remaining entries, so that late acknowledgements find valid memory, but
 * it no longer reports committable offsets; it is freed when its last entry
 * is. A partition assigned again gets a fresh state.
 *
 * Not thread-safe: the scorer's one thread calls everything (delivery reports
 * are served by rd_kafka_poll on that thread).
 */
#ifndef SS_LEDGER_H
#define SS_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"

typedef struct ss_ledger ss_ledger_t;
typedef struct ss_ledger_entry ss_ledger_entry_t;

/* Creates an empty ledger. NULL on no memory. Caller frees with ss_ledger_destroy(). */
ss_ledger_t *ss_ledger_new(void);

/* Frees every partition (detached ones included) and entry. NULL is allowed. */
void ss_ledger_destroy(ss_ledger_t *l);

/* Starts tracking topic/partition (on assignment). Already tracked: no change. */
ss_err_t ss_ledger_assign(ss_ledger_t *l, const char *topic, int32_t partition);

/* Sets the committable offset of an assigned partition that nothing was entered in yet
 * (resuming where this process left it) and marks it advanced. SS_ERR_STATE otherwise. */
ss_err_t ss_ledger_resume(ss_ledger_t *l, const char *topic, int32_t partition, int64_t offset);

/* Stops tracking topic/partition (on revocation); its entries stay valid until done. */
void ss_ledger_revoke(ss_ledger_t *l, const char *topic, int32_t partition);

/*
 * Enters an input message owing `outputs` (>= 1) outputs. Returns the entry
 * (owned by the ledger, valid until it is done and popped: pass it as the
 * outputs' delivery opaque), or NULL with SS_ERR_STATE in *err when the
 * partition is not assigned, SS_ERR_INVALID_ARG when offset is not above the
 * partition's last entered offset, SS_ERR_NOMEM.
 */
ss_ledger_entry_t *ss_ledger_enter(ss_ledger_t *l, const char *topic, int32_t partition,
                                   int64_t offset, int outputs, ss_err_t *err);

/*
 * One output of e was acknowledged. When that completes e and it heads its
 * partition's FIFO, the done prefix is popped (e may be freed) and the
 * partition's committable offset advances. Returns 1 if it advanced.
 */
int ss_ledger_ack(ss_ledger_t *l, ss_ledger_entry_t *e);

/* Gives up on e's remaining outputs (its partition was revoked before they were
 * produced); same popping as ss_ledger_ack(). */
void ss_ledger_abandon(ss_ledger_t *l, ss_ledger_entry_t *e);

/* Whether e's partition is still assigned. */
int ss_ledger_entry_live(const ss_ledger_entry_t *e);

/* The input offset, topic and partition of an entry. */
int64_t ss_ledger_entry_offset(const ss_ledger_entry_t *e);
const char *ss_ledger_entry_topic(const ss_ledger_entry_t *e);
int32_t ss_ledger_entry_partition(const ss_ledger_entry_t *e);

/*
 * Committable offset of an assigned partition (next offset to consume after
 * the done prefix), or -1 if nothing of it was completed since assignment.
 */
int64_t ss_ledger_committable(const ss_ledger_t *l, const char *topic, int32_t partition);

/*
 * Calls cb for each assigned partition whose committable offset advanced
 * since the last call (and clears that mark). For offsets_store batching.
 */
void ss_ledger_foreach_advanced(ss_ledger_t *l,
                                void (*cb)(const char *topic, int32_t partition, int64_t offset,
                                           void *opaque),
                                void *opaque);

/* Calls cb for each assigned partition with its last entered offset (-1 if none). */
void ss_ledger_foreach_assigned(ss_ledger_t *l,
                                void (*cb)(const char *topic, int32_t partition,
                                           int64_t committable, int64_t last_entered, void *opaque),
                                void *opaque);

/* Entries not yet done, over every partition (detached ones included). */
size_t ss_ledger_pending(const ss_ledger_t *l);

#endif /* SS_LEDGER_H */
