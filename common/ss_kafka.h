/*
 * ss_kafka: librdkafka setup shared by every process, and a producer that
 * tracks its deliveries.
 *
 * Configuration: every pass-through `kafka.*` key of the configuration goes
 * verbatim to rd_kafka_conf_set(); a property librdkafka refuses is an
 * SS_ERR_CONFIG naming the key and where it was set. On top of that:
 *   - producers get enable.idempotence=true and a small linger.ms
 *     (defaults, overridable, except enable.idempotence which must stay true);
 *   - consumers get isolation.level=read_committed (overridable: the monitor and
 *     `sentistream tail` then never see aborted outputs), group.id,
 *     partition.assignment.strategy=cooperative-sticky,
 *     enable.auto.commit=false and enable.auto.offset.store=false; the last two
 *     carry the at-least-once guarantee, so a kafka.* key setting them
 *     otherwise is refused;
 *   - librdkafka's log and error callbacks go to ss_log (component "kafka").
 *
 * The one `kafka:` section serves both roles: librdkafka logs a warning (and
 * ignores it) when a producer property reaches a consumer or the reverse.
 */
#ifndef SS_KAFKA_H
#define SS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"
#include "ss_err.h"

typedef enum { SS_KAFKA_PRODUCER, SS_KAFKA_CONSUMER } ss_kafka_role_t;

/*
 * Sets one property, with the error naming the key ("kafka.<name>") and
 * origin (e.g. "config/kafka/local.yaml:3"; may be NULL).
 */
ss_err_t ss_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                           const char *origin, char *errstr, size_t errstr_size);

/*
 * Builds a configuration for role from c's kafka.* keys plus the role's
 * defaults and invariants above, with ss_log callbacks. group_id is used for
 * consumers (ignored for producers; a kafka.group.id key overrides it).
 * Returns NULL with the reason in errstr. Caller owns the result (pass it to
 * rd_kafka_new(), which takes it, or free it with rd_kafka_conf_destroy()).
 */
rd_kafka_conf_t *ss_kafka_conf_new(const ss_config_t *c, ss_kafka_role_t role, const char *group_id,
                                   char *errstr, size_t errstr_size);

/*
 * Creates a high-level consumer from conf (which it takes, also on error),
 * with the consumer queue redirected so that rd_kafka_consumer_poll() serves
 * everything. Returns NULL with the reason in errstr. Caller closes with
 * rd_kafka_consumer_close() and frees with rd_kafka_destroy().
 */
rd_kafka_t *ss_kafka_consumer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);

/*
 * 1 for a produce or delivery error that retrying cannot cure: the message is too large,
 * an invalid record or timestamp, a policy violation, no authorization.
 */
int ss_kafka_err_permanent(rd_kafka_resp_err_t err);

/* Logs a fatal error of rk, if any, and returns 1 when there is one. */
int ss_kafka_fatal_check(rd_kafka_t *rk, const char *what);

/*
 * Startup check of credentials, for a client just created (a consumer not yet subscribed):
 * when c sets kafka.security.protocol to anything but plaintext (SASL_PLAINTEXT, SASL_SSL,
 * SSL), waits up to timeout_ms for a metadata answer. An authentication failure reported
 * meanwhile (a refused SASL login, or a TLS handshake that failed, e.g. a broker certificate
 * that does not verify against kafka.ssl.ca.location) is SS_ERR_KAFKA with librdkafka's
 * reason (never the password), so that a wrong password or CA stops the process at startup
 * instead of retrying forever; no answer at all is only a warning (the broker may come
 * later). SS_OK at once for plaintext.
 */
#define SS_KAFKA_AUTH_CHECK_MS 15000
ss_err_t ss_kafka_auth_check(rd_kafka_t *rk, const ss_config_t *c, int timeout_ms, char *errstr,
                             size_t errstr_size);

/*
 * A producer with delivery tracking: every message produced is counted as in
 * flight until its delivery report, which goes to the caller's callback (with
 * the msg_opaque given at produce time) and to the counters.
 */
typedef struct ss_producer ss_producer_t;

/*
 * Delivery callback: err is RD_KAFKA_RESP_ERR_NO_ERROR on success. rkm (topic,
 * partition, key, payload, timestamp) is valid only during the call.
 */
typedef void(ss_producer_dr_fn)(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                                const rd_kafka_message_t *rkm);

/*
 * Creates a producer from conf (which it takes, also on error). dr may be
 * NULL (counters only). Returns NULL with the reason in errstr. Caller frees
 * with ss_producer_destroy().
 */
ss_producer_t *ss_producer_new(rd_kafka_conf_t *conf, ss_producer_dr_fn *dr, void *opaque,
                               char *errstr, size_t errstr_size);

/* Flushes (up to timeout_ms), then frees. Messages still in flight are reported as lost. */
void ss_producer_destroy(ss_producer_t *p, int timeout_ms);

/*
 * Produces one message (key and value are copied). timestamp_ms 0 lets
 * librdkafka stamp it. When librdkafka's queue is full, serves delivery
 * reports and retries for up to block_ms (-1: forever) before giving up with
 * SS_ERR_TIMEOUT. Other errors (unknown topic, message too large) are
 * SS_ERR_KAFKA with the reason.
 */
ss_err_t ss_producer_send(ss_producer_t *p, const char *topic, const void *key, size_t keylen,
                          const void *value, size_t len, int64_t timestamp_ms, void *msg_opaque,
                          int block_ms, char *errstr, size_t errstr_size);

/* Topics one producer can hold warm (ss_producer_topic_warm()). */
#define SS_PRODUCER_MAX_WARM 8

/*
 * Fetches topic's metadata (up to timeout_ms) and holds the topic until
 * ss_producer_destroy(), so that its partition leaders are known before the
 * first message: without it the first send to a topic waits for librdkafka's
 * own metadata refresh (measured: about 0.7 s, and a transaction's commit
 * waits for it). Returns SS_ERR_KAFKA with the reason when the broker does not
 * know the topic or does not answer in time; sends still work afterwards.
 */
ss_err_t ss_producer_topic_warm(ss_producer_t *p, const char *topic, int timeout_ms, char *errstr,
                                size_t errstr_size);

/* The librdkafka error of the last ss_producer_send() that failed (0 after a success). */
rd_kafka_resp_err_t ss_producer_last_error(const ss_producer_t *p);

/* Serves delivery reports for up to timeout_ms. Returns the number served. */
int ss_producer_poll(ss_producer_t *p, int timeout_ms);

/*
 * Waits until nothing is in flight or timeout_ms passes (-1: no bound).
 * Returns SS_OK or SS_ERR_TIMEOUT with the count left in errstr.
 */
ss_err_t ss_producer_flush(ss_producer_t *p, int timeout_ms, char *errstr, size_t errstr_size);

/* Delivery counters: produced (accepted by ss_producer_send), acked, failed. */
typedef struct ss_producer_stats {
        uint64_t produced, acked, failed;
} ss_producer_stats_t;

ss_producer_stats_t ss_producer_stats(const ss_producer_t *p);

/* Messages produced and not yet reported. */
uint64_t ss_producer_in_flight(const ss_producer_t *p);

/* The librdkafka handle (owned by p). */
rd_kafka_t *ss_producer_handle(ss_producer_t *p);

#endif /* SS_KAFKA_H */
