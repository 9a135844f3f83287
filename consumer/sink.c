/*
 * sink (at-least-once): an idempotent producer whose delivery reports drive
 * the offset ledger. The delivery opaque of every output is its input's
 * ledger entry; a success acks the entry, a failure copies the message into a
 * retry list that is re-produced once its backoff has passed. The backoff is
 * one for the whole sink: it doubles with every failure in a row (up to the
 * maximum) and resets at the first success, which is what a broker outage
 * needs, without a timer per message. Acknowledged offsets are stored after
 * each batch and committed asynchronously on an interval; revocation and
 * close commit synchronously after waiting for what is in flight.
 *
 * An output the broker refuses for good (ss_kafka_err_permanent()) is never
 * retried: it is kept on a reject list (delivery reports only queue) and handed
 * to the reject callback after the poll, which replaces it with a dead letter;
 * if that is impossible the sink is failed and the scorer stops with the input
 * uncommitted.
 */
#include "sink.h"

#include <stdlib.h>
#include <string.h>

#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_stop.h"
#include "ss_util.h"

/* The acknowledged offset of a partition this process gave up (revoked or lost). */
typedef struct ss_sink_mem {
        char *topic;
        int32_t partition;
        int64_t offset;
        struct ss_sink_mem *next;
} ss_sink_mem_t;

typedef struct ss_retry {
        ss_ledger_entry_t *entry;
        char *topic;
        void *key, *value;
        size_t keylen, len;
        char why[256]; /* rejects: the broker's refusal */
        struct ss_retry *next;
} ss_retry_t;

struct ss_sink {
        ss_producer_t *producer;
        rd_kafka_t *consumer; /* not owned */
        ss_ledger_t *ledger;
        ss_sink_config_t cfg;
        ss_retry_t *retries, *retries_tail; /* failed outputs, FIFO */
        size_t n_retries;
        ss_retry_t *rejects, *rejects_tail; /* outputs refused for good, waiting for the reject
                                               callback, FIFO */
        size_t n_rejects;
        int failed;       /* a refused output could not be replaced: stop */
        double retry_due; /* monotonic time of the next retry round */
        int fail_streak;  /* failures since the last success */
        double last_commit;
        double hold_until; /* no periodic commit before this (a rebalance is under way) */
        int hold_assigns;  /* assignments still expected before the hold ends */
        uint64_t failures_logged, failures_total;
        double last_fail_log;
        ss_sink_mem_t *mem; /* partitions given up, with their acknowledged offsets */

        /* exactly-once */
        int txn_open;               /* a transaction was begun and not yet ended */
        int txn_failed;             /* it must be aborted (failed delivery, abortable error) */
        double txn_started;         /* monotonic */
        int txn_inputs;             /* inputs produced for in it */
        int txn_undelivered;        /* its outputs whose delivery failed */
        ss_sink_mem_t *txn_offsets; /* next input offset per partition produced for in it */
        ss_sink_mem_t *poison; /* inputs whose output was refused for good (offset = input's) */
        rd_kafka_conf_t *producer_conf;   /* a copy, to re-create the transactional producer */
        int txn_fatal;                    /* the producer hit a fatal error: re-create it */
        int txn_fenced;                   /* ... and it was a fencing (epoch) error */
        double last_fenced;               /* monotonic time of the last fencing, 0: none */
        double recreated[4];              /* monotonic times of the last re-creations */
        char *warm[SS_PRODUCER_MAX_WARM]; /* topics kept warm in every producer (owned) */
        int n_warm;
};

static void ss_sink_retry_free(ss_retry_t *r)
{
        free(r->topic);
        free(r->key);
        free(r->value);
        free(r);
}

/* Appends r to the retry list (kept in produce order). */
static void ss_sink_retry_append(ss_sink_t *s, ss_retry_t *r)
{
        r->next = NULL;
        if (s->retries_tail)
                s->retries_tail->next = r;
        else
                s->retries = r;
        s->retries_tail = r;
        s->n_retries++;
}

/* A copy of an output; NULL on no memory. */
static ss_retry_t *ss_sink_retry_copy(ss_ledger_entry_t *e, const char *topic, const void *key,
                                      size_t keylen, const void *value, size_t len)
{
        ss_retry_t *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->entry = e;
        r->topic = strdup(topic);
        r->keylen = keylen;
        r->len = len;
        r->key = keylen ? malloc(keylen) : NULL;
        r->value = malloc(len ? len : 1);
        if (!r->topic || (keylen && !r->key) || !r->value) {
                ss_sink_retry_free(r);
                return NULL;
        }
        if (keylen)
                memcpy(r->key, key, keylen);
        memcpy(r->value, value, len);
        return r;
}

/* Queues a copy of a failed output for re-producing; NOMEM is the only failure. */
static ss_err_t ss_sink_retry_add(ss_sink_t *s, ss_ledger_entry_t *e, const char *topic,
                                  const void *key, size_t keylen, const void *value, size_t len)
{
        ss_retry_t *r = ss_sink_retry_copy(e, topic, key, keylen, value, len);
        if (!r)
                return SS_ERR_NOMEM;
        ss_sink_retry_append(s, r);
        return SS_OK;
}

/* Hands an output refused for good to the reject callback; without one, or when it cannot
 * replace the output, the sink is failed (the entry stays pending, never committed). */
static void ss_sink_reject(ss_sink_t *s, ss_ledger_entry_t *e, const char *topic, const void *key,
                           size_t keylen, const void *value, size_t len, const char *why)
{
        ss_counter_inc(s->cfg.produce_errors);
        if (!ss_ledger_entry_live(e)) { /* revoked: the next owner redoes the input */
                ss_ledger_abandon(s->ledger, e);
                return;
        }
        ss_warn("sink", "output of %s [%d] offset %lld to %s (%zu bytes) refused for good: %s",
                ss_ledger_entry_topic(e), (int)ss_ledger_entry_partition(e),
                (long long)ss_ledger_entry_offset(e), topic, len, why);
        if (s->cfg.reject &&
            s->cfg.reject(s->cfg.reject_opaque, e, topic, key, keylen, value, len, why) == SS_OK)
                return;
        ss_error("sink",
                 "cannot finish input %s [%d] offset %lld: its output to %s was refused (%s) "
                 "and no replacement could be delivered; stopping with it uncommitted",
                 ss_ledger_entry_topic(e), (int)ss_ledger_entry_partition(e),
                 (long long)ss_ledger_entry_offset(e), topic, why);
        s->failed = 1;
}

/* Runs the reject callback for the refusals that delivery reports queued. */
static void ss_sink_rejects_run(ss_sink_t *s)
{
        while (s->rejects) {
                ss_retry_t *r = s->rejects;
                s->rejects = r->next;
                if (!s->rejects)
                        s->rejects_tail = NULL;
                s->n_rejects--;
                ss_sink_reject(s, r->entry, r->topic, r->key, r->keylen, r->value, r->len, r->why);
                ss_sink_retry_free(r);
        }
}

static void ss_sink_note_failure(ss_sink_t *s, const char *topic, const char *why)
{
        s->failures_total++;
        ss_counter_inc(s->cfg.produce_errors);
        if (s->fail_streak < 30)
                s->fail_streak++;
        double backoff = s->cfg.retry_backoff_ms;
        for (int i = 1; i < s->fail_streak && backoff < s->cfg.retry_backoff_max_ms; i++)
                backoff *= 2;
        if (backoff > s->cfg.retry_backoff_max_ms)
                backoff = s->cfg.retry_backoff_max_ms;
        double now = ss_time_mono();
        s->retry_due = now + backoff / 1000.0;
        /* One line per failure would flood the log during an outage: one every 5 s. */
        if (now - s->last_fail_log >= 5.0) {
                ss_warn("sink",
                        "output to %s not delivered (%s); %llu failure(s) since the last report, "
                        "re-producing in %.0f ms",
                        topic, why, (unsigned long long)(s->failures_total - s->failures_logged),
                        backoff);
                s->failures_logged = s->failures_total;
                s->last_fail_log = now;
        }
}

/* ---- exactly-once -------------------------------------------------------------------- */

static void ss_sink_dr(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                       const rd_kafka_message_t *rkm);

static void ss_sink_mem_free(ss_sink_mem_t **list)
{
        for (ss_sink_mem_t *m = *list, *n; m; m = n) {
                n = m->next;
                free(m->topic);
                free(m);
        }
        *list = NULL;
}

/* Sets (topic, partition) -> offset in a list; 0 on success. */
static int ss_sink_mem_set(ss_sink_mem_t **list, const char *topic, int32_t partition,
                           int64_t offset)
{
        for (ss_sink_mem_t *m = *list; m; m = m->next)
                if (m->partition == partition && !strcmp(m->topic, topic)) {
                        m->offset = offset;
                        return 0;
                }
        ss_sink_mem_t *m = calloc(1, sizeof(*m));
        if (!m || !(m->topic = strdup(topic))) {
                free(m);
                return -1;
        }
        m->partition = partition;
        m->offset = offset;
        m->next = *list;
        *list = m;
        return 0;
}

/* Whether e's input was refused for good in an aborted transaction (and forgets it). */
static int ss_sink_poison_take(ss_sink_t *s, const ss_ledger_entry_t *e)
{
        for (ss_sink_mem_t **pp = &s->poison; *pp; pp = &(*pp)->next) {
                ss_sink_mem_t *m = *pp;
                if (m->partition == ss_ledger_entry_partition(e) &&
                    m->offset == ss_ledger_entry_offset(e) &&
                    !strcmp(m->topic, ss_ledger_entry_topic(e))) {
                        *pp = m->next;
                        free(m->topic);
                        free(m);
                        return 1;
                }
        }
        return 0;
}

static int ss_sink_err_fenced(rd_kafka_resp_err_t code)
{
        return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
               code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* Logs a transactional error; a fatal one marks the producer for re-creation
 * (ss_sink_txn_reset), an abortable one the transaction for abort. Frees error. */
static void ss_sink_txn_error(ss_sink_t *s, const char *what, rd_kafka_error_t *error)
{
        if (rd_kafka_error_is_fatal(error)) {
                ss_error("sink", "%s: fatal: %s", what, rd_kafka_error_string(error));
                s->txn_fatal = 1;
                s->txn_fenced |= ss_sink_err_fenced(rd_kafka_error_code(error));
        } else {
                ss_warn("sink", "%s: %s", what, rd_kafka_error_string(error));
        }
        s->txn_failed = 1;
        rd_kafka_error_destroy(error);
}

static void ss_sink_txn_begin(ss_sink_t *s)
{
        if (s->txn_open || s->failed)
                return;
        rd_kafka_error_t *error = rd_kafka_begin_transaction(ss_producer_handle(s->producer));
        if (error) {
                ss_sink_txn_error(s, "begin transaction", error);
                s->txn_fatal = 1; /* begin only fails on a state that no abort cures */
                return;
        }
        s->txn_open = 1;
        s->txn_failed = 0;
        s->txn_inputs = 0;
        s->txn_undelivered = 0;
        s->txn_started = ss_time_mono();
}

/* Seeks every assigned partition back to its committed offset (the start when none) and
 * gives the ledger fresh partitions, so that the batches in hand are skipped. The group
 * coordinator may be unavailable for a while (a broker restart): asked again until it
 * answers or the scorer is asked to stop. */
static void ss_sink_rewind(ss_sink_t *s)
{
        rd_kafka_topic_partition_list_t *a = NULL;
        rd_kafka_resp_err_t err = rd_kafka_assignment(s->consumer, &a);
        if (err || !a) {
                ss_error("sink", "rewind: no assignment: %s", rd_kafka_err2str(err));
                s->failed = 1;
                return;
        }
        for (int i = 0; i < a->cnt; i++) {
                ss_ledger_revoke(s->ledger, a->elems[i].topic, a->elems[i].partition);
                ss_ledger_assign(s->ledger, a->elems[i].topic, a->elems[i].partition);
        }
        if (a->cnt > 0) {
                while ((err = rd_kafka_committed(s->consumer, a, s->cfg.txn_timeout_ms)) &&
                       !ss_stop_requested()) {
                        ss_warn("sink", "rewind: committed offsets: %s; again",
                                rd_kafka_err2str(err));
                        ss_producer_poll(s->producer, 500);
                }
                if (err) {
                        ss_error("sink", "rewind: committed offsets: %s", rd_kafka_err2str(err));
                        s->failed = 1;
                } else {
                        for (int i = 0; i < a->cnt; i++)
                                if (a->elems[i].offset < 0)
                                        a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                        /* -1: librdkafka 2.0.2 mishandles a finite timeout here */
                        rd_kafka_error_t *error = rd_kafka_seek_partitions(s->consumer, a, -1);
                        if (error) {
                                ss_error("sink", "rewind: seek: %s", rd_kafka_error_string(error));
                                rd_kafka_error_destroy(error);
                                s->failed = 1;
                        }
                }
        }
        ss_info("sink", "rewound %d partition(s) to their committed offsets", a->cnt);
        rd_kafka_topic_partition_list_destroy(a);
}

/* Initialises transactions on the current producer: fences an earlier producer with the
 * same transactional.id and aborts what it left open. A coordinator that does not answer
 * (timeout: retriable) is asked again, each try bounded by consumer.txn.timeout.ms, until
 * it answers or (forever = 0, at startup) 6 tries have passed or a stop is requested. */
static ss_err_t ss_sink_txn_init(ss_sink_t *s, int forever, char *errstr, size_t errstr_size)
{
        double deadline = ss_time_mono() + 6.0 * s->cfg.txn_timeout_ms / 1000.0;
        rd_kafka_error_t *error;
        while ((error = rd_kafka_init_transactions(ss_producer_handle(s->producer),
                                                   s->cfg.txn_timeout_ms)) &&
               !rd_kafka_error_is_fatal(error) && !ss_stop_requested() &&
               (forever || ss_time_mono() < deadline)) {
                ss_warn("sink", "init transactions: %s; again", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        if (!error)
                return SS_OK;
        ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "init transactions: %s",
                   rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return SS_ERR_KAFKA;
}

/* Waits up to 2 heartbeats for the consumer's own fatal error. A live process with the same
 * consumer.instance.id also took this one's group.instance.id, which the group coordinator
 * answers with FENCED_INSTANCE_ID (fatal) at this consumer's next heartbeat. Returns 1 then. */
static int ss_sink_fenced_by_live_instance(ss_sink_t *s)
{
        double deadline = ss_time_mono() + 7.0;
        for (;;) {
                if (rd_kafka_fatal_error(s->consumer, NULL, 0))
                        return 1;
                if (ss_time_mono() >= deadline || ss_stop_requested())
                        return 0;
                ss_producer_poll(s->producer, 100);
        }
}

/*
 * Recovers from a fatal error of the transactional producer (a fencing, or an abort that
 * could not finish because the coordinator stayed away): the producer is destroyed (its
 * open transaction with it), a new one with the same transactional.id is created, and its
 * init_transactions bumps the producer epoch, which fences the old one and aborts what it
 * left open on the broker; then the consumer is rewound to the committed offsets, as after
 * an abort. Stops instead (s->failed) when another live process runs with this
 * transactional.id (its consumer took ours: see above; or a second fencing within 60 s),
 * when the new producer's init fails for good (not authorised...), or after 4
 * re-creations within 60 s.
 */
static void ss_sink_txn_reset(ss_sink_t *s, int rewind)
{
        double now = ss_time_mono();
        int fenced = s->txn_fenced;
        s->txn_fatal = s->txn_fenced = 0;
        if (fenced) {
                if (ss_sink_fenced_by_live_instance(s) ||
                    (s->last_fenced > 0 && now - s->last_fenced < 60.0)) {
                        ss_error("sink", "fenced: another process runs with this transactional.id "
                                         "(give each scorer its own consumer.instance.id); "
                                         "stopping");
                        s->failed = 1;
                        return;
                }
                s->last_fenced = now;
        }
        if (s->recreated[0] > 0 && now - s->recreated[0] < 60.0) {
                ss_error("sink", "the transactional producer failed 5 times within 60 s; "
                                 "stopping");
                s->failed = 1;
                return;
        }
        memmove(s->recreated, s->recreated + 1, sizeof(s->recreated) - sizeof(s->recreated[0]));
        s->recreated[3] = now;
        ss_warn("sink",
                "re-creating the transactional producer (%s); the open transaction of %d "
                "input(s) is aborted by the new one",
                fenced ? "fenced without a live successor: the coordinator ended a transaction "
                         "that outlived transaction.timeout.ms"
                       : "fatal error",
                s->txn_inputs);
        s->txn_open = 0; /* the purged outputs' delivery reports only abandon their entries */
        s->txn_failed = 0;
        ss_sink_mem_free(&s->txn_offsets);
        ss_counter_inc(s->cfg.txn_aborts);
        ss_producer_destroy(s->producer, 0);
        s->producer = NULL;
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_dup(s->producer_conf);
        if (!(s->producer = ss_producer_new(conf, ss_sink_dr, s, err, sizeof(err))) ||
            ss_sink_txn_init(s, 1, err, sizeof(err)) != SS_OK) {
                ss_error("sink", "re-creating the transactional producer: %s; stopping", err);
                s->failed = 1;
                return;
        }
        ss_info("sink", "transactional producer re-created");
        for (int i = 0; i < s->n_warm; i++)
                if (ss_producer_topic_warm(s->producer, s->warm[i], s->cfg.txn_timeout_ms, err,
                                           sizeof(err)) != SS_OK)
                        ss_warn("sink", "%s", err);
        if (rewind)
                ss_sink_rewind(s);
}

/* Aborts the open transaction, serves its purged deliveries, and rewinds (unless the
 * assignment is being given up: rewind = 0). A coordinator that does not answer is asked
 * again for up to 6 transaction timeouts; past that, or on a fatal error, the producer is
 * re-created (ss_sink_txn_reset), which aborts the transaction on the broker. */
static void ss_sink_txn_abort(ss_sink_t *s, int rewind)
{
        rd_kafka_t *p = ss_producer_handle(s->producer);
        double deadline = ss_time_mono() + 6.0 * s->cfg.txn_timeout_ms / 1000.0;
        while (!s->txn_fatal) {
                rd_kafka_error_t *error = rd_kafka_abort_transaction(p, s->cfg.txn_timeout_ms);
                if (!error)
                        break;
                if (rd_kafka_error_is_retriable(error) && ss_time_mono() < deadline &&
                    !ss_stop_requested()) {
                        ss_warn("sink", "abort transaction: %s; again",
                                rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                        continue;
                }
                ss_sink_txn_error(s, "abort transaction", error);
                s->txn_fatal = 1; /* an abort that cannot finish: a new producer ends it */
        }
        if (s->txn_fatal) {
                ss_sink_txn_reset(s, rewind);
                return;
        }
        /* The purged outputs' delivery reports belong to this transaction: serve them now. */
        while (ss_producer_in_flight(s->producer) > 0 && ss_time_mono() < deadline)
                ss_producer_poll(s->producer, 10);
        ss_counter_inc(s->cfg.txn_aborts);
        ss_warn("sink", "transaction of %d input(s) aborted (%d output(s) not delivered)",
                s->txn_inputs, s->txn_undelivered);
        s->txn_open = 0;
        s->txn_failed = 0;
        ss_sink_mem_free(&s->txn_offsets);
        if (rewind && !s->failed)
                ss_sink_rewind(s);
}

/* Sends the noted offsets to the transaction and commits it; a retriable error (timeout,
 * coordinator moving) is retried for up to 6 transaction timeouts, an abortable one aborts
 * (and rewinds when rewind), a fatal one re-creates the producer. Returns 1 when
 * committed. */
static int ss_sink_txn_commit(ss_sink_t *s, int rewind)
{
        if (!s->txn_open && !s->txn_fatal)
                return 1;
        rd_kafka_t *p = ss_producer_handle(s->producer);
        double t0 = ss_time_mono();
        ss_producer_poll(s->producer, 0);
        if (!s->txn_failed && s->txn_offsets) {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
                for (ss_sink_mem_t *m = s->txn_offsets; m; m = m->next)
                        rd_kafka_topic_partition_list_add(l, m->topic, m->partition)->offset =
                            m->offset;
                rd_kafka_consumer_group_metadata_t *md =
                    rd_kafka_consumer_group_metadata(s->consumer);
                double deadline = ss_time_mono() + 6.0 * s->cfg.txn_timeout_ms / 1000.0;
                rd_kafka_error_t *error;
                while ((error = rd_kafka_send_offsets_to_transaction(p, l, md,
                                                                     s->cfg.txn_timeout_ms)) &&
                       rd_kafka_error_is_retriable(error) && ss_time_mono() < deadline &&
                       !ss_stop_requested()) {
                        ss_warn("sink", "send offsets to transaction: %s; again",
                                rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                }
                rd_kafka_consumer_group_metadata_destroy(md);
                rd_kafka_topic_partition_list_destroy(l);
                if (error)
                        ss_sink_txn_error(s, "send offsets to transaction", error);
        }
        double deadline = ss_time_mono() + 6.0 * s->cfg.txn_timeout_ms / 1000.0;
        while (!s->txn_failed) {
                rd_kafka_error_t *error = rd_kafka_commit_transaction(p, s->cfg.txn_timeout_ms);
                if (!error) {
                        ss_producer_poll(s->producer, 0); /* the last delivery reports */
                        ss_counter_inc(s->cfg.txn_commits);
                        ss_histogram_observe(s->cfg.txn_commit_seconds, ss_time_mono() - t0);
                        s->txn_open = 0;
                        ss_sink_mem_free(&s->txn_offsets);
                        return 1;
                }
                if (rd_kafka_error_is_retriable(error) && ss_time_mono() < deadline &&
                    !ss_stop_requested()) {
                        ss_warn("sink", "commit transaction: %s; again",
                                rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                        continue;
                }
                if (rd_kafka_error_is_retriable(error)) { /* out of time: abort it */
                        ss_warn("sink", "commit transaction: %s; giving up on it",
                                rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                        s->txn_failed = 1;
                        break;
                }
                ss_sink_txn_error(s, "commit transaction", error);
        }
        if (s->txn_fatal)
                ss_sink_txn_reset(s, rewind);
        else
                ss_sink_txn_abort(s, rewind);
        return 0;
}

/* Commits the open transaction when it is old or big enough (or must be aborted), and
 * re-creates a producer that failed. */
static void ss_sink_txn_maybe_commit(ss_sink_t *s)
{
        if (s->txn_fatal && !s->failed) {
                ss_sink_txn_reset(s, 1);
                return;
        }
        if (!s->txn_open)
                return;
        if (s->txn_failed || (ss_time_mono() - s->txn_started) * 1000.0 >= s->cfg.txn_max_ms ||
            s->txn_inputs >= s->cfg.txn_max_messages)
                ss_sink_txn_commit(s, 1);
}

/* Produces one output of e in the open transaction (beginning one if needed). */
static ss_err_t ss_sink_txn_emit(ss_sink_t *s, ss_ledger_entry_t *e, const char *topic,
                                 const void *key, size_t keylen, const void *value, size_t len)
{
        if (s->poison && ss_sink_poison_take(s, e)) {
                ss_sink_reject(s, e, topic, key, keylen, value, len,
                               "refused for good in an earlier, aborted transaction");
                return SS_OK;
        }
        ss_sink_txn_begin(s);
        if (!s->txn_open)
                return SS_OK; /* failed: the scorer stops, nothing is committed */
        char err[512];
        if (ss_producer_send(s->producer, topic, key, keylen, value, len, 0, e, -1, err,
                             sizeof(err)) != SS_OK) {
                if (ss_kafka_err_permanent(ss_producer_last_error(s->producer))) {
                        ss_sink_reject(s, e, topic, key, keylen, value, len, err);
                        return SS_OK;
                }
                ss_warn("sink", "%s; aborting the transaction", err);
                s->txn_failed = 1;
                return SS_OK;
        }
        if (ss_sink_mem_set(&s->txn_offsets, ss_ledger_entry_topic(e), ss_ledger_entry_partition(e),
                            ss_ledger_entry_offset(e) + 1))
                return SS_ERR_NOMEM;
        s->txn_inputs++;
        return SS_OK;
}

/* A delivery report in a transaction: a failure dooms the transaction (nothing retried);
 * a permanent refusal also marks the input, so that its retry is a dead letter. */
static void ss_sink_txn_dr(ss_sink_t *s, ss_ledger_entry_t *e, rd_kafka_resp_err_t err,
                           const rd_kafka_message_t *rkm)
{
        if (!err) {
                ss_ledger_ack(s->ledger, e);
                return;
        }
        if (err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT &&
            s->txn_open) {
                ss_counter_inc(s->cfg.produce_errors);
                s->txn_failed = 1;
                if (ss_kafka_err_permanent(err) &&
                    ss_sink_mem_set(&s->poison, ss_ledger_entry_topic(e),
                                    ss_ledger_entry_partition(e), ss_ledger_entry_offset(e)))
                        ss_error("sink", "out of memory remembering a refused input");
                if (s->txn_undelivered++ == 0) /* one line per transaction, not per output */
                        ss_warn("sink",
                                "output to %s of %s [%d] offset %lld not delivered (%s); the "
                                "transaction will be aborted",
                                rd_kafka_topic_name(rkm->rkt), ss_ledger_entry_topic(e),
                                (int)ss_ledger_entry_partition(e),
                                (long long)ss_ledger_entry_offset(e), rd_kafka_err2str(err));
        }
        ss_ledger_abandon(s->ledger, e);
}

static void ss_sink_dr(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                       const rd_kafka_message_t *rkm)
{
        ss_sink_t *s = opaque;
        ss_ledger_entry_t *e = msg_opaque;
        if (s->cfg.exactly_once) {
                ss_sink_txn_dr(s, e, err, rkm);
                return;
        }
        if (!err) {
                s->fail_streak = 0;
                ss_ledger_ack(s->ledger, e);
                return;
        }
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        if (ss_kafka_err_permanent(err)) {
                /* Not retried. The callback may produce: run it after the poll. */
                ss_retry_t *r =
                    ss_sink_retry_copy(e, topic, rkm->key, rkm->key_len, rkm->payload, rkm->len);
                if (r) {
                        snprintf(r->why, sizeof(r->why), "%s: %s", rd_kafka_err2name(err),
                                 rd_kafka_err2str(err));
                        r->next = NULL;
                        if (s->rejects_tail)
                                s->rejects_tail->next = r;
                        else
                                s->rejects = r;
                        s->rejects_tail = r;
                        s->n_rejects++;
                        return;
                }
        }
        ss_sink_note_failure(s, topic, rd_kafka_err2str(err));
        if (ss_sink_retry_add(s, e, topic, rkm->key, rkm->key_len, rkm->payload, rkm->len) !=
            SS_OK) {
                /* Without memory the output cannot be kept: its offset is never stored, so
                 * the input is consumed again after a restart. Say so loudly. */
                ss_error("sink", "out of memory keeping a failed output of %s [%d] offset %lld",
                         ss_ledger_entry_topic(e), (int)ss_ledger_entry_partition(e),
                         (long long)ss_ledger_entry_offset(e));
        }
}

ss_sink_t *ss_sink_new(rd_kafka_conf_t *producer_conf, rd_kafka_t *consumer,
                       const ss_sink_config_t *cfg, char *errstr, size_t errstr_size)
{
        ss_sink_t *s = calloc(1, sizeof(*s));
        if (!s || !(s->ledger = ss_ledger_new())) {
                rd_kafka_conf_destroy(producer_conf);
                if (s)
                        ss_ledger_destroy(s->ledger);
                free(s);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "sink: out of memory");
                return NULL;
        }
        s->consumer = consumer;
        s->cfg = *cfg;
        s->last_commit = 0; /* the first acknowledged offsets are committed at once */
        if (cfg->exactly_once && !(s->producer_conf = rd_kafka_conf_dup(producer_conf))) {
                rd_kafka_conf_destroy(producer_conf);
                ss_ledger_destroy(s->ledger);
                free(s);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "sink: out of memory");
                return NULL;
        }
        s->producer = ss_producer_new(producer_conf, ss_sink_dr, s, errstr, errstr_size);
        if (!s->producer) {
                if (s->producer_conf)
                        rd_kafka_conf_destroy(s->producer_conf);
                ss_ledger_destroy(s->ledger);
                free(s);
                return NULL;
        }
        if (cfg->exactly_once && ss_sink_txn_init(s, 0, errstr, errstr_size) != SS_OK) {
                ss_sink_destroy(s);
                return NULL;
        }
        return s;
}

void ss_sink_destroy(ss_sink_t *s)
{
        if (!s)
                return;
        /* An open transaction is aborted (its outputs never become visible). */
        if (s->txn_open && !s->failed && s->producer) {
                rd_kafka_error_t *error =
                    rd_kafka_abort_transaction(ss_producer_handle(s->producer), 5000);
                if (error)
                        rd_kafka_error_destroy(error);
                s->txn_open = 0;
        }
        /* The producer first: its last delivery reports still reach the ledger. */
        ss_producer_destroy(s->producer, 0);
        for (ss_retry_t *r = s->retries, *n; r; r = n) {
                n = r->next;
                ss_sink_retry_free(r);
        }
        for (ss_retry_t *r = s->rejects, *n; r; r = n) {
                n = r->next;
                ss_sink_retry_free(r);
        }
        ss_sink_mem_free(&s->mem);
        ss_sink_mem_free(&s->txn_offsets);
        ss_sink_mem_free(&s->poison);
        if (s->producer_conf)
                rd_kafka_conf_destroy(s->producer_conf);
        for (int i = 0; i < s->n_warm; i++)
                free(s->warm[i]);
        ss_ledger_destroy(s->ledger);
        free(s);
}

ss_err_t ss_sink_topic_warm(ss_sink_t *s, const char *topic, int timeout_ms, char *errstr,
                            size_t errstr_size)
{
        int known = 0;
        for (int i = 0; i < s->n_warm && !known; i++)
                known = !strcmp(s->warm[i], topic);
        if (!known && s->n_warm < SS_PRODUCER_MAX_WARM) {
                if (!(s->warm[s->n_warm] = strdup(topic)))
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "sink: out of memory");
                s->n_warm++;
        }
        return ss_producer_topic_warm(s->producer, topic, timeout_ms, errstr, errstr_size);
}

ss_err_t ss_sink_begin_batch(ss_sink_t *s)
{
        return SS_OK;
}

ss_ledger_entry_t *ss_sink_track(ss_sink_t *s, const rd_kafka_message_t *rkm, int outputs,
                                 ss_err_t *err)
{
        return ss_ledger_enter(s->ledger, rd_kafka_topic_name(rkm->rkt), rkm->partition,
                               rkm->offset, outputs, err);
}

int ss_sink_live(const ss_ledger_entry_t *e)
{
        return ss_ledger_entry_live(e);
}

void ss_sink_skip(ss_sink_t *s, ss_ledger_entry_t *e)
{
        ss_ledger_abandon(s->ledger, e);
}

ss_err_t ss_sink_emit(ss_sink_t *s, ss_ledger_entry_t *e, const char *topic, const void *key,
                      size_t keylen, const void *value, size_t len)
{
        if (s->cfg.exactly_once)
                return ss_sink_txn_emit(s, e, topic, key, keylen, value, len);
        char err[512];
        /* Wait up to 1 s while librdkafka's queue is full (back-pressure), then retry later. */
        if (ss_producer_send(s->producer, topic, key, keylen, value, len, 0, e, 1000, err,
                             sizeof(err)) == SS_OK)
                return SS_OK;
        if (ss_kafka_err_permanent(ss_producer_last_error(s->producer))) {
                ss_sink_reject(s, e, topic, key, keylen, value, len, err);
                return SS_OK;
        }
        ss_sink_note_failure(s, topic, err);
        return ss_sink_retry_add(s, e, topic, key, keylen, value, len);
}

/* Re-produces the retry list once its backoff is due (or when forced). */
static void ss_sink_retry_run(ss_sink_t *s, int force)
{
        if (!s->retries || (!force && ss_time_mono() < s->retry_due))
                return;
        ss_retry_t *list = s->retries;
        s->retries = s->retries_tail = NULL;
        s->n_retries = 0;
        for (ss_retry_t *r = list, *n; r; r = n) {
                n = r->next;
                if (!ss_ledger_entry_live(r->entry)) {
                        /* Revoked: its offset was not committed, the next owner redoes it. */
                        ss_ledger_abandon(s->ledger, r->entry);
                        ss_sink_retry_free(r);
                        continue;
                }
                char err[512];
                if (ss_producer_send(s->producer, r->topic, r->key, r->keylen, r->value, r->len, 0,
                                     r->entry, 0, err, sizeof(err)) == SS_OK) {
                        ss_sink_retry_free(r);
                        continue;
                }
                if (ss_kafka_err_permanent(ss_producer_last_error(s->producer))) {
                        ss_sink_reject(s, r->entry, r->topic, r->key, r->keylen, r->value, r->len,
                                       err);
                        ss_sink_retry_free(r);
                        continue;
                }
                ss_sink_note_failure(s, r->topic, err);
                ss_sink_retry_append(s, r); /* kept, the rest in order, for the next round */
        }
}

static void ss_sink_store_cb(const char *topic, int32_t partition, int64_t offset, void *opaque)
{
        rd_kafka_topic_partition_list_t *l = opaque;
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
}

/* Stores the offsets that advanced since the last call. A fresh list each time:
 * rd_kafka_offsets_store() keeps partition references in the elements, which only
 * rd_kafka_topic_partition_list_destroy() releases. */
static void ss_sink_store(ss_sink_t *s)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
        ss_ledger_foreach_advanced(s->ledger, ss_sink_store_cb, l);
        if (l->cnt > 0) {
                rd_kafka_resp_err_t err = rd_kafka_offsets_store(s->consumer, l);
                if (err)
                        ss_warn("sink", "storing offsets: %s", rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(l);
}

static void ss_sink_commit_async(ss_sink_t *s)
{
        double now = ss_time_mono();
        if ((now - s->last_commit) * 1000.0 < s->cfg.commit_interval_ms || now < s->hold_until)
                return;
        s->last_commit = now;
        rd_kafka_resp_err_t err = rd_kafka_commit(s->consumer, NULL, 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                ss_warn("sink", "commit: %s", rd_kafka_err2str(err));
}

ss_err_t ss_sink_end_batch(ss_sink_t *s)
{
        ss_producer_poll(s->producer, 0);
        ss_sink_rejects_run(s);
        if (s->cfg.exactly_once) {
                ss_sink_txn_maybe_commit(s);
                return SS_OK;
        }
        ss_sink_retry_run(s, 0);
        ss_sink_store(s);
        ss_sink_commit_async(s);
        return SS_OK;
}

void ss_sink_poll(ss_sink_t *s, int timeout_ms)
{
        ss_producer_poll(s->producer, timeout_ms);
        ss_sink_rejects_run(s);
        ss_sink_retry_run(s, 0);
}

void ss_sink_foreach_assigned(ss_sink_t *s,
                              void (*cb)(const char *topic, int32_t partition, int64_t committable,
                                         int64_t last_entered, void *opaque),
                              void *opaque)
{
        ss_ledger_foreach_assigned(s->ledger, cb, opaque);
}

size_t ss_sink_outstanding(const ss_sink_t *s)
{
        return (size_t)ss_producer_in_flight(s->producer) + s->n_retries + s->n_rejects;
}

int ss_sink_fatal(ss_sink_t *s)
{
        if (s->failed)
                return 1;
        if (!s->cfg.exactly_once)
                return ss_kafka_fatal_check(ss_producer_handle(s->producer), "producer");
        /* A transactional producer that failed is re-created (ss_sink_txn_reset) */
        char why[512];
        rd_kafka_resp_err_t err =
            rd_kafka_fatal_error(ss_producer_handle(s->producer), why, sizeof(why));
        if (err) {
                ss_error("sink", "transactional producer: fatal error %s: %s",
                         rd_kafka_err2name(err), why);
                s->txn_fatal = 1;
                s->txn_fenced |= ss_sink_err_fenced(err);
                ss_sink_txn_reset(s, 1);
        }
        return s->failed;
}

/* Serves deliveries and retries until nothing is outstanding or the flush timeout passes. */
static int ss_sink_drain(ss_sink_t *s)
{
        double deadline = ss_time_mono() + s->cfg.flush_timeout_ms / 1000.0;
        while (ss_sink_outstanding(s) > 0 && ss_time_mono() < deadline) {
                ss_producer_poll(s->producer, 50);
                ss_sink_rejects_run(s);
                ss_sink_retry_run(s, 0);
                if (ss_sink_fatal(s))
                        break;
        }
        return ss_sink_outstanding(s) == 0;
}

static ss_sink_mem_t *ss_sink_mem_find(ss_sink_t *s, const char *topic, int32_t partition)
{
        for (ss_sink_mem_t *m = s->mem; m; m = m->next)
                if (m->partition == partition && !strcmp(m->topic, topic))
                        return m;
        return NULL;
}

static void ss_sink_mem_put(ss_sink_t *s, const char *topic, int32_t partition, int64_t offset)
{
        ss_sink_mem_t *m = ss_sink_mem_find(s, topic, partition);
        if (!m) {
                if (!(m = calloc(1, sizeof(*m))) || !(m->topic = strdup(topic))) {
                        free(m);
                        return; /* only an optimisation is lost */
                }
                m->partition = partition;
                m->next = s->mem;
                s->mem = m;
        }
        m->offset = offset;
}

/* For partitions coming back: start at what this process delivered when the group's
 * committed offset is behind it (asks the broker, bounded; on error nothing changes). */
static void ss_sink_resume(ss_sink_t *s, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
                if (ss_sink_mem_find(s, parts->elems[i].topic, parts->elems[i].partition))
                        rd_kafka_topic_partition_list_add(q, parts->elems[i].topic,
                                                          parts->elems[i].partition);
        if (q->cnt > 0 && !rd_kafka_committed(s->consumer, q, 5000)) {
                for (int i = 0; i < q->cnt; i++) {
                        rd_kafka_topic_partition_t *c = &q->elems[i];
                        ss_sink_mem_t *m = ss_sink_mem_find(s, c->topic, c->partition);
                        ss_debug("sink", "%s [%d] back: committed %lld (%s), delivered %lld",
                                 c->topic, (int)c->partition, (long long)c->offset,
                                 rd_kafka_err2name(c->err), (long long)m->offset);
                        if (c->err || c->offset >= m->offset)
                                continue;
                        rd_kafka_topic_partition_t *a =
                            rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
                        if (!a || ss_ledger_resume(s->ledger, c->topic, c->partition, m->offset))
                                continue;
                        a->offset = m->offset;
                        ss_info("sink",
                                "%s [%d] back: resuming at offset %lld, delivered by this process "
                                "(the group had committed %lld)",
                                c->topic, (int)c->partition, (long long)m->offset,
                                (long long)c->offset);
                }
        }
        rd_kafka_topic_partition_list_destroy(q);
}

ss_err_t ss_sink_assign(ss_sink_t *s, rd_kafka_topic_partition_list_t *parts)
{
        if (s->cfg.exactly_once) { /* the committed offsets are the truth: start there */
                for (int i = 0; i < parts->cnt; i++)
                        if (ss_ledger_assign(s->ledger, parts->elems[i].topic,
                                             parts->elems[i].partition))
                                return SS_ERR_NOMEM;
                return SS_OK;
        }
        if (s->hold_assigns > 0 && --s->hold_assigns == 0)
                s->hold_until = 0;
        for (int i = 0; i < parts->cnt; i++)
                if (ss_ledger_assign(s->ledger, parts->elems[i].topic, parts->elems[i].partition))
                        return SS_ERR_NOMEM;
        if (s->mem)
                ss_sink_resume(s, parts);
        return SS_OK;
}

void ss_sink_revoke(ss_sink_t *s, const rd_kafka_topic_partition_list_t *parts, int lost)
{
        if (s->cfg.exactly_once) {
                /* What was produced so far is committed with its offsets (aborted when the
                 * assignment was lost: another member may own the partitions already). */
                if (lost && s->txn_open)
                        ss_sink_txn_abort(s, 0);
                else if (s->txn_open && !s->failed)
                        ss_sink_txn_commit(s, 0);
                for (int i = 0; i < parts->cnt; i++)
                        ss_ledger_revoke(s->ledger, parts->elems[i].topic,
                                         parts->elems[i].partition);
                return;
        }
        /* A member that revoked partitions under the cooperative protocol rejoins at once and
         * takes part in a second round that hands them over. A commit sent during that round
         * carries the old generation; librdkafka 2.0.2 then drops the whole assignment
         * uncommitted (ILLEGAL_GENERATION) and the work is redone. So periodic commits wait
         * for the assignments that end the rebalance (two rounds when cooperative, one when
         * eager; bounded: 15 s). */
        s->hold_until = ss_time_mono() + 15.0;
        s->hold_assigns = !strcmp(rd_kafka_rebalance_protocol(s->consumer), "COOPERATIVE") ? 2 : 1;
        if (!lost) {
                if (!ss_sink_drain(s))
                        ss_warn("sink",
                                "revoke: %zu output(s) still outstanding after %d ms; "
                                "their inputs will be consumed again by the next owner",
                                ss_sink_outstanding(s), s->cfg.flush_timeout_ms);
                ss_sink_store(s);
                rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(parts->cnt);
                for (int i = 0; i < parts->cnt; i++) {
                        int64_t off = ss_ledger_committable(s->ledger, parts->elems[i].topic,
                                                            parts->elems[i].partition);
                        if (off >= 0)
                                rd_kafka_topic_partition_list_add(c, parts->elems[i].topic,
                                                                  parts->elems[i].partition)
                                    ->offset = off;
                }
                if (c->cnt > 0) {
                        rd_kafka_resp_err_t err = rd_kafka_commit(s->consumer, c, 0);
                        if (err)
                                ss_warn("sink", "commit on revoke: %s", rd_kafka_err2str(err));
                        else
                                ss_info("sink", "committed %d revoked partition(s)", c->cnt);
                }
                rd_kafka_topic_partition_list_destroy(c);
        }
        for (int i = 0; i < parts->cnt; i++) {
                const char *t = parts->elems[i].topic;
                int32_t p = parts->elems[i].partition;
                int64_t off = ss_ledger_committable(s->ledger, t, p);
                if (off >= 0)
                        ss_sink_mem_put(s, t, p, off);
                ss_ledger_revoke(s->ledger, t, p);
        }
}

ss_err_t ss_sink_close(ss_sink_t *s, char *errstr, size_t errstr_size)
{
        if (s->cfg.exactly_once) {
                ss_sink_rejects_run(s);
                if (s->failed)
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                          "the transactional producer failed (see the log); "
                                          "nothing after the last committed transaction is "
                                          "visible or committed");
                if (!ss_sink_txn_commit(s, 0))
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                          "the last transaction was aborted; its inputs stay "
                                          "uncommitted and will be consumed again");
                return SS_OK;
        }
        int drained = ss_sink_drain(s);
        ss_sink_store(s);
        rd_kafka_resp_err_t err = rd_kafka_commit(s->consumer, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                ss_warn("sink", "final commit: %s", rd_kafka_err2str(err));
        if (!drained)
                return ss_err_set(errstr, errstr_size, SS_ERR_TIMEOUT,
                                  "%zu output(s) undelivered after %d ms; their inputs stay "
                                  "uncommitted",
                                  ss_sink_outstanding(s), s->cfg.flush_timeout_ms);
        return SS_OK;
}
