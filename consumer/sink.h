/*
 * sink: the produce-and-commit step of the scorer, behind one small
 * interface, so that the delivery guarantee is decided here and nowhere else.
 *
 * Two implementations behind the same calls (ss_sink_config_t.exactly_once).
 *
 * At-least-once (the default):
 *   track     enters a consumed input message in the offset ledger;
 *   emit      produces one of its outputs (prediction or dead letter) on the
 *             idempotent producer, with the ledger entry as delivery opaque;
 *   end_batch serves delivery reports: an acknowledged output acks its entry,
 *             a failed one is re-produced later (backoff doubling from
 *             consumer.retry.backoff.ms to .max.ms), never dropped; offsets of
 *             the acknowledged prefix are stored (rd_kafka_offsets_store) and
 *             committed every consumer.commit.interval.ms;
 *   revoke    (rebalance) waits for outstanding outputs, commits the revoked
 *             partitions' offsets synchronously and forgets them;
 *   close     waits for everything, stores and commits synchronously.
 *
 * Exactly-once (KIP-447, shaped like librdkafka's examples/transactions.c):
 *   emit      begins a transaction if none is open and produces in it on the
 *             transactional producer; the sink notes the next input offset of
 *             every partition it produced for;
 *   end_batch commits the transaction once it is consumer.txn.max.ms old or
 *             holds consumer.txn.max.messages inputs: the noted offsets go into
 *             it (rd_kafka_send_offsets_to_transaction with the consumer's
 *             group metadata), then rd_kafka_commit_transaction, so outputs and
 *             offsets become visible to read_committed readers together or not
 *             at all. A failed delivery or an abortable error aborts it and
 *             rewinds the consumer to the committed offsets (the ledger forgets
 *             the partitions' entries, so batches in hand are skipped); a fatal
 *             error (fenced: another process took the transactional.id) fails
 *             the sink, and the scorer stops with a non-zero exit;
 *   revoke    commits the open transaction (aborts it when the assignment was
 *             lost), so that the next owner starts where it ended;
 *   close     commits the open transaction.
 *   An output refused for good (too large...) fails its transaction; the input
 *   is remembered, and when it comes back after the rewind its output goes
 *   straight to the reject callback (a dead letter), so it cannot loop.
 *
 * Single-threaded: everything runs on the scorer's thread (delivery reports
 * are served by the producer poll inside these calls).
 */
#ifndef SS_SINK_H
#define SS_SINK_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "ss_err.h"
#include "ss_metrics.h"

typedef struct ss_sink ss_sink_t;

/*
 * An output the broker refused for good (message too large, invalid record, not
 * authorized: see ss_kafka_err_permanent()). It is never re-produced: the sink hands it
 * to this callback (outside any librdkafka callback), which either emits a replacement
 * for e (a dead letter) and returns SS_OK, or returns an error to say the input cannot be
 * finished (e stays pending and its offset is never committed; the scorer must stop).
 * key/value are the refused output, valid during the call; why names the error.
 */
typedef ss_err_t(ss_sink_reject_fn)(void *opaque, ss_ledger_entry_t *e, const char *topic,
                                    const void *key, size_t keylen, const void *value, size_t len,
                                    const char *why);

typedef struct ss_sink_config {
        int commit_interval_ms;
        int flush_timeout_ms;
        int retry_backoff_ms;
        int retry_backoff_max_ms;
        ss_counter_t
            *produce_errors;       /* counts failed deliveries and refused produces; may be NULL */
        ss_sink_reject_fn *reject; /* permanent refusals; NULL: they stop the sink (fatal) */
        void *reject_opaque;
        int exactly_once;     /* transactions; producer_conf must carry a transactional.id */
        int txn_max_ms;       /* commit a transaction once it is this old ... */
        int txn_max_messages; /* ... or holds this many inputs */
        int txn_timeout_ms;   /* bound of each transactional call */
        ss_counter_t *txn_commits, *txn_aborts; /* may be NULL */
        ss_histogram_t *txn_commit_seconds;     /* the loop's time in each commit; may be NULL */
} ss_sink_config_t;

/*
 * Creates the sink: a producer from producer_conf (taken, also on error) and
 * the ledger; consumer (not owned) is where offsets are stored and committed.
 * Returns NULL with the reason in errstr. Free with ss_sink_destroy().
 */
ss_sink_t *ss_sink_new(rd_kafka_conf_t *producer_conf, rd_kafka_t *consumer,
                       const ss_sink_config_t *cfg, char *errstr, size_t errstr_size);

/* Frees the sink. Outputs still in flight are abandoned (their offsets were never stored). */
void ss_sink_destroy(ss_sink_t *s);

/*
 * Fetches topic's metadata into the producer (up to timeout_ms) and keeps it
 * there, also in a producer re-created after a fatal error, so that the first
 * output to topic does not wait for librdkafka's own metadata refresh (under
 * exactly-once the first commit waited for it, about 0.7 s). SS_ERR_KAFKA
 * with the reason when the broker does not know the topic in time: outputs
 * still work, the caller logs it.
 */
ss_err_t ss_sink_topic_warm(ss_sink_t *s, const char *topic, int timeout_ms, char *errstr,
                            size_t errstr_size);

/* Starts a batch (no-op: a transaction begins with its first output). */
ss_err_t ss_sink_begin_batch(ss_sink_t *s);

/*
 * Enters a consumed message owing `outputs` outputs. Returns its ledger entry,
 * or NULL when its partition is no longer assigned (the message is not ours
 * any more: skip it) or on no memory (*err says which).
 */
ss_ledger_entry_t *ss_sink_track(ss_sink_t *s, const rd_kafka_message_t *rkm, int outputs,
                                 ss_err_t *err);

/* Whether an entry's partition is still assigned (revoked mid-batch: skip the message). */
int ss_sink_live(const ss_ledger_entry_t *e);

/* Gives up an entry whose partition was revoked before its outputs were produced. */
void ss_sink_skip(ss_sink_t *s, ss_ledger_entry_t *e);

/*
 * Produces one output of e (key and value are copied). A produce that librdkafka
 * refuses for now (queue full) is queued for a retry like a failed delivery; one it
 * refuses for good goes to the reject callback. Fails on no memory.
 */
ss_err_t ss_sink_emit(ss_sink_t *s, ss_ledger_entry_t *e, const char *topic, const void *key,
                      size_t keylen, const void *value, size_t len);

/* Ends a batch: serves delivery reports, re-produces due retries, stores acknowledged
 * offsets, commits when the interval has passed. */
ss_err_t ss_sink_end_batch(ss_sink_t *s);

/* Serves delivery reports for up to timeout_ms (while the input is idle). */
void ss_sink_poll(ss_sink_t *s, int timeout_ms);

/*
 * Rebalance: partitions assigned / revoked (lost = the assignment was lost: no commit).
 * The sink remembers the acknowledged offset of every partition it gives up; when one comes
 * back to it (typically after a lost assignment whose last commits were refused) and the
 * group's committed offset is behind what this process already delivered, assign sets the
 * partition's start offset in parts to the remembered one (and commits it soon), so that
 * delivered work is not redone. Call it before rd_kafka_incremental_assign(parts).
 */
ss_err_t ss_sink_assign(ss_sink_t *s, rd_kafka_topic_partition_list_t *parts);
void ss_sink_revoke(ss_sink_t *s, const rd_kafka_topic_partition_list_t *parts, int lost);

/*
 * Waits (up to the flush timeout) for every output, stores and commits
 * synchronously. SS_ERR_TIMEOUT when outputs are still undelivered (their
 * input offsets stay uncommitted and will be consumed again).
 */
ss_err_t ss_sink_close(ss_sink_t *s, char *errstr, size_t errstr_size);

/* Calls cb for each assigned partition (see ss_ledger_foreach_assigned()). */
void ss_sink_foreach_assigned(ss_sink_t *s,
                              void (*cb)(const char *topic, int32_t partition, int64_t committable,
                                         int64_t last_entered, void *opaque),
                              void *opaque);

/* Outputs produced and not yet acknowledged, retries included. */
size_t ss_sink_outstanding(const ss_sink_t *s);

/* 1 if the producer hit a fatal error, or an output was refused for good and its
 * replacement could not be made (the scorer must stop; nothing acknowledged is lost). */
int ss_sink_fatal(ss_sink_t *s);

#endif /* SS_SINK_H */
