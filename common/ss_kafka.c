/*
 * ss_kafka: one place that turns the configuration into librdkafka
 * configurations. Order of settings: role defaults first (so kafka.* keys can
 * change them), then every kafka.* pass-through key, then the invariants the
 * at-least-once scorer relies on (a kafka.* key contradicting one of them is
 * refused rather than silently overwritten). librdkafka's log lines and
 * error events are routed to ss_log; errors are informational unless fatal
 * (librdkafka keeps reconnecting and retrying by itself).
 *
 * ss_producer_t wraps a producer handle whose conf opaque points back at it:
 * the delivery-report callback (served by rd_kafka_poll from the caller's
 * thread) updates the counters and forwards the report to the caller.
 */
#include "ss_kafka.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "ss_config.h"
#include "ss_log.h"
#include "ss_util.h"

ss_err_t ss_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                           const char *origin, char *errstr, size_t errstr_size)
{
        char rderr[512];
        if (rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "kafka.%s=%s (%s): %s", name,
                                  ss_config_is_secret(name) ? SS_CONFIG_REDACTED : value,
                                  origin ? origin : "built-in", rderr);
        return SS_OK;
}

static int ss_kafka_find_protocol(const char *name, const char *value, void *opaque)
{
        if (!strcmp(name, "security.protocol"))
                *(const char **)opaque = value;
        return 0;
}

static void ss_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        ss_log_level_t l = level <= LOG_ERR       ? SS_LOG_ERROR
                           : level == LOG_WARNING ? SS_LOG_WARN
                           : level <= LOG_INFO    ? SS_LOG_INFO
                                                  : SS_LOG_DEBUG;
        ss_log(l, "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* The last authentication failure any client reported (SASL/SSL), for ss_kafka_auth_check(). */
static pthread_mutex_t ss_kafka_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static char ss_kafka_auth_reason[512];

static void ss_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        /* A broker that drops the connection in the middle of a SASL exchange (how Kafka 4
         * answers the SCRAM proof of librdkafka before 2.6.1) refused the login too. */
        if (err == RD_KAFKA_RESP_ERR__TRANSPORT && strstr(reason, "SASL authentication error"))
                err = RD_KAFKA_RESP_ERR__AUTHENTICATION;
        if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
                pthread_mutex_lock(&ss_kafka_auth_lock);
                snprintf(ss_kafka_auth_reason, sizeof(ss_kafka_auth_reason), "%s", reason);
                pthread_mutex_unlock(&ss_kafka_auth_lock);
                ss_error("kafka",
                         "%s: authentication failed: %s (check kafka.sasl.username, "
                         "kafka.sasl.password, kafka.sasl.mechanism)",
                         rd_kafka_name(rk), reason);
        } else if (err == RD_KAFKA_RESP_ERR__SSL) {
                /* a TLS handshake refused (the broker's certificate does not verify against
                 * kafka.ssl.ca.location, or the broker refused ours): retrying cannot cure it */
                pthread_mutex_lock(&ss_kafka_auth_lock);
                snprintf(ss_kafka_auth_reason, sizeof(ss_kafka_auth_reason), "TLS: %s", reason);
                pthread_mutex_unlock(&ss_kafka_auth_lock);
                ss_error("kafka",
                         "%s: TLS handshake failed: %s (check kafka.ssl.ca.location, "
                         "kafka.security.protocol and the broker's certificate)",
                         rd_kafka_name(rk), reason);
        } else if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char fatal[512];
                rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                ss_error("kafka", "%s: FATAL %s: %s", rd_kafka_name(rk), rd_kafka_err2name(ferr),
                         fatal);
        } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE) {
                /* already logged by the log callback (FAIL lines); librdkafka reconnects */
        } else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                ss_warn("kafka", "%s: all brokers down, retrying: %s", rd_kafka_name(rk), reason);
        } else {
                ss_warn("kafka", "%s: %s: %s", rd_kafka_name(rk),
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        }
}

ss_err_t ss_kafka_auth_check(rd_kafka_t *rk, const ss_config_t *c, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
        const char *proto = NULL;
        if (c && ss_config_origin(c, "kafka.security.protocol"))
                ss_config_foreach_prefix(c, "kafka.", ss_kafka_find_protocol, &proto);
        if (!proto || !strcasecmp(proto, "plaintext"))
                return SS_OK;
        double deadline = ss_time_mono() + timeout_ms / 1000.0;
        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 500);
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (!err)
                        return SS_OK;
                /* serve the error events (a consumer's go to its consumer queue; nothing is
                 * subscribed yet, so no message can come back) */
                if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
                        if (m)
                                rd_kafka_message_destroy(m);
                } else {
                        rd_kafka_poll(rk, 0);
                }
                pthread_mutex_lock(&ss_kafka_auth_lock);
                char reason[512];
                snprintf(reason, sizeof(reason), "%s", ss_kafka_auth_reason);
                pthread_mutex_unlock(&ss_kafka_auth_lock);
                if (*reason)
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                          "%s: authentication failed (kafka.security.protocol=%s): "
                                          "%s",
                                          rd_kafka_name(rk), proto, reason);
                if (ss_time_mono() > deadline) {
                        ss_warn("kafka", "%s: no broker answered within %d ms (%s); going on",
                                rd_kafka_name(rk), timeout_ms, rd_kafka_err2str(err));
                        return SS_OK;
                }
        }
}

int ss_kafka_err_permanent(rd_kafka_resp_err_t err)
{
        switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
        case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
                return 1;
        default:
                return 0;
        }
}

int ss_kafka_fatal_check(rd_kafka_t *rk, const char *what)
{
        char fatal[512];
        rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        if (!err)
                return 0;
        ss_error("kafka", "%s: fatal error %s: %s", what, rd_kafka_err2name(err), fatal);
        return 1;
}

/* Properties the at-least-once loop depends on: name, required value, why. */
static const struct {
        ss_kafka_role_t role;
        const char *name, *value, *why;
} ss_kafka_invariants[] = {
    {SS_KAFKA_PRODUCER, "enable.idempotence", "true",
     "keeps per-partition order and no duplicates on retries"},
    {SS_KAFKA_CONSUMER, "enable.auto.commit", "false",
     "offsets are committed only after their outputs are acknowledged"},
    {SS_KAFKA_CONSUMER, "enable.auto.offset.store", "false",
     "offsets are stored only after their outputs are acknowledged"},
};

typedef struct {
        rd_kafka_conf_t *conf;
        const ss_config_t *c;
        ss_kafka_role_t role;
        char *errstr;
        size_t errstr_size;
        ss_err_t err;
} ss_kafka_pass_t;

static int ss_kafka_pass_cb(const char *name, const char *value, void *opaque)
{
        ss_kafka_pass_t *p = opaque;
        char key[256];
        snprintf(key, sizeof(key), "kafka.%s", name);
        const char *origin = ss_config_origin(p->c, key);
        for (size_t i = 0; i < sizeof(ss_kafka_invariants) / sizeof(ss_kafka_invariants[0]); i++) {
                if (ss_kafka_invariants[i].role == p->role &&
                    !strcmp(ss_kafka_invariants[i].name, name) &&
                    strcmp(ss_kafka_invariants[i].value, value)) {
                        p->err = ss_err_set(p->errstr, p->errstr_size, SS_ERR_CONFIG,
                                            "%s=%s (%s): must be %s (%s)", key, value,
                                            origin ? origin : "?", ss_kafka_invariants[i].value,
                                            ss_kafka_invariants[i].why);
                        return 1;
                }
        }
        p->err = ss_kafka_conf_set(p->conf, name, value, origin, p->errstr, p->errstr_size);
        return p->err != SS_OK;
}

rd_kafka_conf_t *ss_kafka_conf_new(const ss_config_t *c, ss_kafka_role_t role, const char *group_id,
                                   char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        static const char *producer_defaults[][2] = {
            {"client.id", "sentistream-producer"},
            {"linger.ms", "5"},
        };
        /* queued.min.messages: librdkafka before 2.2 stops fetching a partition for a fixed
         * 1 s once its local queue holds queued.min.messages (default 100000; librdkafka
         * issue #2879, fetch.queue.backoff.ms since 2.2). A scorer that drains faster than
         * that stalls once a second: ~120k tweets/s flat, whatever the CPU. At 1000000 the
         * queue is bounded by queued.max.messages.kbytes instead (per partition; the
         * scorer sets it from consumer.batch.max.bytes, see consume.c). */
        static const char *consumer_defaults[][2] = {
            {"client.id", "sentistream-consumer"},
            {"partition.assignment.strategy", "cooperative-sticky"},
            {"auto.offset.reset", "earliest"},
            {"queued.min.messages", "1000000"},
            /* librdkafka's default too, said here: aborted transactions are never read
             * (kafka.isolation.level=read_uncommitted reads them) */
            {"isolation.level", "read_committed"},
        };
        size_t n = role == SS_KAFKA_PRODUCER ? 2 : 5;
        for (size_t i = 0; i < n; i++) {
                const char *const *kv =
                    role == SS_KAFKA_PRODUCER ? producer_defaults[i] : consumer_defaults[i];
                if (ss_kafka_conf_set(conf, kv[0], kv[1], NULL, errstr, errstr_size))
                        goto fail;
        }
        if (role == SS_KAFKA_CONSUMER && group_id &&
            ss_kafka_conf_set(conf, "group.id", group_id, "consumer.group.id", errstr, errstr_size))
                goto fail;

        ss_kafka_pass_t pass = {conf, c, role, errstr, errstr_size, SS_OK};
        if (c && ss_config_foreach_prefix(c, "kafka.", ss_kafka_pass_cb, &pass))
                goto fail;

        for (size_t i = 0; i < sizeof(ss_kafka_invariants) / sizeof(ss_kafka_invariants[0]); i++)
                if (ss_kafka_invariants[i].role == role &&
                    ss_kafka_conf_set(conf, ss_kafka_invariants[i].name,
                                      ss_kafka_invariants[i].value, NULL, errstr, errstr_size))
                        goto fail;
        if (role == SS_KAFKA_CONSUMER) {
                char v[64];
                size_t vlen = sizeof(v);
                if (rd_kafka_conf_get(conf, "group.id", v, &vlen) != RD_KAFKA_CONF_OK || !v[0]) {
                        ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                   "a consumer needs a group id (consumer.group.id)");
                        goto fail;
                }
        }
        rd_kafka_conf_set_log_cb(conf, ss_kafka_log_cb);
        rd_kafka_conf_set_error_cb(conf, ss_kafka_error_cb);
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

rd_kafka_t *ss_kafka_consumer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
        char rderr[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "cannot create consumer: %s", rderr);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

struct ss_producer {
        rd_kafka_t *rk;
        ss_producer_dr_fn *dr;
        void *opaque;
        ss_producer_stats_t stats;
        rd_kafka_resp_err_t last_error;               /* of the last failed send */
        rd_kafka_topic_t *warm[SS_PRODUCER_MAX_WARM]; /* held: their leaders stay known */
        int n_warm;
};

static void ss_producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        ss_producer_t *p = opaque;
        if (rkm->err)
                p->stats.failed++;
        else
                p->stats.acked++;
        if (p->dr)
                p->dr(p->opaque, rkm->_private, rkm->err, rkm);
}

ss_producer_t *ss_producer_new(rd_kafka_conf_t *conf, ss_producer_dr_fn *dr, void *opaque,
                               char *errstr, size_t errstr_size)
{
        ss_producer_t *p = calloc(1, sizeof(*p));
        if (!p) {
                rd_kafka_conf_destroy(conf);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "producer: out of memory");
                return NULL;
        }
        p->dr = dr;
        p->opaque = opaque;
        rd_kafka_conf_set_opaque(conf, p);
        rd_kafka_conf_set_dr_msg_cb(conf, ss_producer_dr_cb);
        char rderr[512];
        p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
        if (!p->rk) {
                rd_kafka_conf_destroy(conf);
                free(p);
                ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "cannot create producer: %s", rderr);
                return NULL;
        }
        return p;
}

void ss_producer_destroy(ss_producer_t *p, int timeout_ms)
{
        if (!p)
                return;
        char err[256];
        if (ss_producer_flush(p, timeout_ms, err, sizeof(err)) != SS_OK)
                ss_warn("kafka", "producer closing with undelivered messages: %s", err);
        /* Purge what is left so that its delivery reports (errors) are served now. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
        for (int i = 0; i < p->n_warm; i++)
                rd_kafka_topic_destroy(p->warm[i]);
        rd_kafka_destroy(p->rk);
        free(p);
}

ss_err_t ss_producer_send(ss_producer_t *p, const char *topic, const void *key, size_t keylen,
                          const void *value, size_t len, int64_t timestamp_ms, void *msg_opaque,
                          int block_ms, char *errstr, size_t errstr_size)
{
        int waited = 0;
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_OPAQUE(msg_opaque),
                    RD_KAFKA_V_END);
                p->last_error = err;
                if (!err) {
                        p->stats.produced++;
                        return SS_OK;
                }
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                          "produce to %s (%zu bytes): %s", topic, len,
                                          rd_kafka_err2str(err));
                if (block_ms >= 0 && waited >= block_ms)
                        return ss_err_set(errstr, errstr_size, SS_ERR_TIMEOUT,
                                          "produce to %s: local queue full for %d ms", topic,
                                          waited);
                rd_kafka_poll(p->rk, 10);
                waited += 10;
        }
}

ss_err_t ss_producer_topic_warm(ss_producer_t *p, const char *topic, int timeout_ms, char *errstr,
                                size_t errstr_size)
{
        rd_kafka_topic_t *rkt = NULL;
        for (int i = 0; i < p->n_warm && !rkt; i++)
                if (!strcmp(rd_kafka_topic_name(p->warm[i]), topic))
                        rkt = p->warm[i];
        if (!rkt) {
                if (p->n_warm == SS_PRODUCER_MAX_WARM)
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "producer: more than %d topics to warm up",
                                          SS_PRODUCER_MAX_WARM);
                if (!(rkt = rd_kafka_topic_new(p->rk, topic, NULL)))
                        return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "topic %s: %s", topic,
                                          rd_kafka_err2str(rd_kafka_last_error()));
                p->warm[p->n_warm++] = rkt;
        }
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
        if (!err && md->topic_cnt == 1 && md->topics[0].err)
                err = md->topics[0].err;
        if (md)
                rd_kafka_metadata_destroy(md);
        if (err)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "metadata of topic %s: %s",
                                  topic, rd_kafka_err2str(err));
        return SS_OK;
}

rd_kafka_resp_err_t ss_producer_last_error(const ss_producer_t *p)
{
        return p->last_error;
}

int ss_producer_poll(ss_producer_t *p, int timeout_ms)
{
        return rd_kafka_poll(p->rk, timeout_ms);
}

uint64_t ss_producer_in_flight(const ss_producer_t *p)
{
        return p->stats.produced - p->stats.acked - p->stats.failed;
}

ss_err_t ss_producer_flush(ss_producer_t *p, int timeout_ms, char *errstr, size_t errstr_size)
{
        rd_kafka_flush(p->rk, timeout_ms);
        rd_kafka_poll(p->rk, 0);
        uint64_t left = ss_producer_in_flight(p);
        if (left)
                return ss_err_set(errstr, errstr_size, SS_ERR_TIMEOUT,
                                  "%llu messages still in flight after %d ms",
                                  (unsigned long long)left, timeout_ms);
        return SS_OK;
}

ss_producer_stats_t ss_producer_stats(const ss_producer_t *p)
{
        return p->stats;
}

rd_kafka_t *ss_producer_handle(ss_producer_t *p)
{
        return p->rk;
}
