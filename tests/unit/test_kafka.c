/*
 * Tests of ss_kafka: configuration pass-through and invariants, and the
 * producer's delivery tracking against librdkafka's mock cluster with faults
 * injected: request errors (retried by librdkafka, no duplicates thanks to
 * idempotence), a broker down long enough for messages to time out (reported
 * as failed, never as delivered) and back up (re-produced messages arrive).
 */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_kafka.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include "ss_test.h"

/* A config composed from a temporary directory holding only base.yaml. */
static ss_config_t *ss_test_config(const char *base_yaml, int n, char **overrides, char *err,
                                   size_t errsize)
{
        char dir[] = "/tmp/ss_test_kafka_XXXXXX";
        if (!mkdtemp(dir))
                return NULL;
        char path[512];
        snprintf(path, sizeof(path), "%s/base.yaml", dir);
        FILE *f = fopen(path, "w");
        fputs(base_yaml, f);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, n, overrides, err, errsize);
        unlink(path);
        rmdir(dir);
        return c;
}

static void test_conf(void)
{
        char err[1024];
        ss_config_t *c = ss_test_config("kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                                        "  linger.ms: 50\n",
                                        0, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "config: %s\n", err);
                return;
        }
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        CHECK(conf != NULL);
        char v[256];
        size_t vlen = sizeof(v);
        CHECK(rd_kafka_conf_get(conf, "bootstrap.servers", v, &vlen) == RD_KAFKA_CONF_OK);
        CHECK_STR_EQ(v, "127.0.0.1:1");
        vlen = sizeof(v);
        rd_kafka_conf_get(conf, "linger.ms", v, &vlen); /* kafka.* overrides the default */
        CHECK_STR_EQ(v, "50");
        vlen = sizeof(v);
        rd_kafka_conf_get(conf, "enable.idempotence", v, &vlen);
        CHECK_STR_EQ(v, "true");
        rd_kafka_conf_destroy(conf);

        conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, "grp", err, sizeof(err));
        CHECK(conf != NULL);
        const char *want[][2] = {{"group.id", "grp"},
                                 {"partition.assignment.strategy", "cooperative-sticky"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"isolation.level", "read_committed"}};
        for (size_t i = 0; i < 5; i++) {
                vlen = sizeof(v);
                CHECK(rd_kafka_conf_get(conf, want[i][0], v, &vlen) == RD_KAFKA_CONF_OK);
                CHECK_STR_EQ(v, want[i][1]);
        }
        rd_kafka_conf_destroy(conf);
        /* a consumer without a group id is refused */
        CHECK(ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "group") != NULL);
        ss_config_destroy(c);

        /* kafka.isolation.level overrides the read_committed default (monitor, tail) */
        c = ss_test_config("kafka:\n  isolation.level: read_uncommitted\n", 0, NULL, err,
                           sizeof(err));
        CHECK(c != NULL);
        if (c) {
                conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, "grp", err, sizeof(err));
                vlen = sizeof(v);
                CHECK(conf &&
                      rd_kafka_conf_get(conf, "isolation.level", v, &vlen) == RD_KAFKA_CONF_OK);
                CHECK_STR_EQ(v, "read_uncommitted");
                rd_kafka_conf_destroy(conf);
                ss_config_destroy(c);
        }
        /* permanent produce errors: never retried */
        CHECK(ss_kafka_err_permanent(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
        CHECK(ss_kafka_err_permanent(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
        CHECK(ss_kafka_err_permanent(RD_KAFKA_RESP_ERR_INVALID_RECORD));
        CHECK(!ss_kafka_err_permanent(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
        CHECK(!ss_kafka_err_permanent(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION));

        /* a property librdkafka refuses: the error names the key and the file */
        c = ss_test_config("kafka:\n  no.such.property: 1\n", 0, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (c) {
                CHECK(ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "kafka.no.such.property") != NULL);
                CHECK(strstr(err, "base.yaml") != NULL);
                ss_config_destroy(c);
        }
        /* a bad value from the command line */
        char *ov[] = {"kafka.linger.ms=never"};
        c = ss_test_config("kafka:\n  bootstrap.servers: x:1\n", 1, ov, err, sizeof(err));
        CHECK(c != NULL);
        if (c) {
                CHECK(ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "kafka.linger.ms") != NULL);
                CHECK(strstr(err, "command line") != NULL);
                ss_config_destroy(c);
        }
        /* the at-least-once invariants cannot be switched off */
        char *ov2[] = {"kafka.enable.auto.commit=true"};
        c = ss_test_config("kafka:\n  bootstrap.servers: x:1\n", 1, ov2, err, sizeof(err));
        CHECK(c != NULL);
        if (c) {
                CHECK(ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, "g", err, sizeof(err)) == NULL);
                CHECK(strstr(err, "kafka.enable.auto.commit") != NULL);
                /* a producer does not care about a consumer property */
                conf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
                CHECK(conf != NULL);
                rd_kafka_conf_destroy(conf);
                ss_config_destroy(c);
        }
        char *ov3[] = {"kafka.enable.idempotence=false"};
        c = ss_test_config("kafka:\n  bootstrap.servers: x:1\n", 1, ov3, err, sizeof(err));
        if (c) {
                CHECK(ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "kafka.enable.idempotence") != NULL);
                ss_config_destroy(c);
        }
}

/* Delivery bookkeeping of the test: one slot per message id. */
typedef struct {
        int acked[64];
        int failed[64];
} ss_test_dr_t;

static void ss_test_dr(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                       const rd_kafka_message_t *rkm)
{
        ss_test_dr_t *t = opaque;
        intptr_t id = (intptr_t)msg_opaque;
        if (err)
                t->failed[id]++;
        else
                t->acked[id]++;
}

static rd_kafka_conf_t *ss_test_producer_conf(const char *bootstraps, const char *timeout_ms)
{
        char err[512];
        rd_kafka_conf_t *conf = ss_kafka_conf_new(NULL, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "message.timeout.ms", timeout_ms, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "retry.backoff.ms", "10", NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "reconnect.backoff.max.ms", "200", NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err)); /* quiet */
        return conf;
}

/* Reads every message of partition 0 of topic; returns the count, fills seen[id]. */
static int ss_test_read_back(const char *bootstraps, const char *topic, int *seen, int nseen)
{
        char err[512];
        rd_kafka_conf_t *conf =
            ss_kafka_conf_new(NULL, SS_KAFKA_CONSUMER, "readback", err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bootstraps, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        rd_kafka_t *rk = ss_kafka_consumer_new(conf, err, sizeof(err));
        CHECK(rk != NULL);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        int n = 0, idle = 0;
        while (idle < 20) { /* 2 s without a message ends the read */
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m) {
                        idle++;
                        continue;
                }
                if (!m->err) {
                        int id = atoi((const char *)m->payload);
                        if (id >= 0 && id < nseen)
                                seen[id]++;
                        n++;
                        idle = 0;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n;
}

static void test_producer_faults(void)
{
        char err[512];
        /* the mock cluster needs a handle for its bookkeeping */
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
        CHECK(mc != NULL);
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, "t", 1, 1);

        ss_test_dr_t t = {0};
        ss_producer_t *p =
            ss_producer_new(ss_test_producer_conf(bs, "1500"), ss_test_dr, &t, err, sizeof(err));
        CHECK(p != NULL);

        /* 1. Retriable produce errors: librdkafka retries, every message acked once. */
        rd_kafka_mock_push_request_errors(
            mc, 0 /* Produce */, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR__TRANSPORT);
        for (intptr_t i = 0; i < 20; i++) {
                char v[16];
                int n = snprintf(v, sizeof(v), "%d", (int)i);
                CHECK(ss_producer_send(p, "t", v, (size_t)n, v, (size_t)n, 0, (void *)i, 1000, err,
                                       sizeof(err)) == SS_OK);
        }
        CHECK(ss_producer_flush(p, 10000, err, sizeof(err)) == SS_OK);
        ss_producer_stats_t st = ss_producer_stats(p);
        CHECK(st.produced == 20 && st.acked == 20 && st.failed == 0);
        for (int i = 0; i < 20; i++)
                CHECK(t.acked[i] == 1 && t.failed[i] == 0);

        /* 2. Broker down past message.timeout.ms: reported failed, not delivered. */
        rd_kafka_mock_broker_set_down(mc, 1);
        for (intptr_t i = 20; i < 30; i++) {
                char v[16];
                int n = snprintf(v, sizeof(v), "%d", (int)i);
                CHECK(ss_producer_send(p, "t", v, (size_t)n, v, (size_t)n, 0, (void *)i, 1000, err,
                                       sizeof(err)) == SS_OK);
        }
        CHECK(ss_producer_flush(p, 8000, err, sizeof(err)) == SS_OK);
        st = ss_producer_stats(p);
        CHECK(st.failed == 10 && st.acked == 20);
        CHECK(ss_producer_in_flight(p) == 0);
        for (int i = 20; i < 30; i++)
                CHECK(t.failed[i] == 1 && t.acked[i] == 0);

        /* 3. Broker back: re-producing what failed (as the scorer does, with a bounded
         * number of rounds here) delivers each message; the failures are not lost. */
        rd_kafka_mock_broker_set_up(mc, 1);
        int rounds = 0, missing = 10;
        while (missing > 0 && rounds++ < 20) {
                for (intptr_t i = 20; i < 30; i++) {
                        if (t.acked[i])
                                continue;
                        char v[16];
                        int n = snprintf(v, sizeof(v), "%d", (int)i);
                        CHECK(ss_producer_send(p, "t", v, (size_t)n, v, (size_t)n, 0, (void *)i,
                                               1000, err, sizeof(err)) == SS_OK);
                }
                CHECK(ss_producer_flush(p, 15000, err, sizeof(err)) == SS_OK);
                missing = 0;
                for (int i = 20; i < 30; i++)
                        missing += !t.acked[i];
        }
        CHECK(missing == 0);
        for (int i = 20; i < 30; i++)
                CHECK(t.acked[i] == 1);

        /* A message over message.max.bytes is refused at once with the reason. */
        char *big = calloc(1, 2000000);
        CHECK(ss_producer_send(p, "t", NULL, 0, big, 2000000, 0, NULL, 0, err, sizeof(err)) ==
              SS_ERR_KAFKA);
        CHECK(strstr(err, "produce to t") != NULL);
        free(big);
        ss_producer_destroy(p, 5000);

        /* On the log: each of the 30 ids exactly once (idempotence: no duplicates from retries). */
        int seen[64] = {0};
        int n = ss_test_read_back(bs, "t", seen, 64);
        CHECK(n == 30);
        for (int i = 0; i < 30; i++)
                CHECK(seen[i] == 1);

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

int main(void)
{
        test_conf();
        test_producer_faults();
        return ss_test_finish();
}
