/*
 * rdkafka_check: checks that the installed librdkafka talks to the local broker in the ways
 * the project relies on. Built and run by tests/integration/test_services.sh:
 *
 *   rdkafka_check BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP
 *
 *   1. idempotent producer (enable.idempotence, acks=all): N keyed messages to IN_TOPIC,
 *      every delivery report must succeed;
 *   2. consumer group with cooperative-sticky assignment, manual commit: reads the N messages,
 *      commits synchronously, and rd_kafka_committed() must give the end offset of every
 *      partition;
 *   3. transactions: commit 10 messages to OUT_TOPIC, abort 7, then commit 3 together with the
 *      group's offsets (send_offsets_to_transaction, the consume-transform-produce step);
 *      a read_committed reader must see 13 messages, a read_uncommitted one 20.
 *
 * Prints one line per step; exits 0 when all hold, 1 with the reason otherwise.
 */
#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_MSGS 200

static const char *bootstrap, *in_topic, *out_topic, *group;
static int delivered_ok, delivered_err;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "rdkafka_check: FAIL: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
        char err[256];
        if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
                die("%s=%s: %s", k, v, err);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        if (m->err) {
                delivered_err++;
                fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        } else {
                delivered_ok++;
        }
}

static rd_kafka_t *producer_new(const char *txn_id)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        conf_set(c, "bootstrap.servers", bootstrap);
        conf_set(c, "enable.idempotence", "true");
        conf_set(c, "acks", "all");
        conf_set(c, "linger.ms", "5");
        if (txn_id)
                conf_set(c, "transactional.id", txn_id);
        rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
        if (!rk)
                die("producer: %s", err);
        return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, int i, const char *tag)
{
        char key[32], val[64];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%s-%d", tag, i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(val, strlen(val)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 100);
        if (e)
                die("produce to %s: %s", topic, rd_kafka_err2str(e));
}

/* 1. idempotent producer */
static void step_idempotent(void)
{
        rd_kafka_t *rk = producer_new(NULL);
        for (int i = 0; i < N_MSGS; i++)
                produce(rk, in_topic, i, "idem");
        rd_kafka_resp_err_t e = rd_kafka_flush(rk, 30000);
        if (e)
                die("flush: %s", rd_kafka_err2str(e));
        if (delivered_ok != N_MSGS || delivered_err)
                die("idempotent producer: %d delivered, %d failed, want %d", delivered_ok,
                    delivered_err, N_MSGS);
        char fatal[256];
        if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal)))
                die("idempotent producer fatal error: %s", fatal);
        rd_kafka_destroy(rk);
        printf("ok idempotent producer: %d messages acknowledged (acks=all)\n", N_MSGS);
}

static int rebalances;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        rd_kafka_error_t *e = NULL;
        rebalances++;
        if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE"))
                die("rebalance protocol is %s, want COOPERATIVE", rd_kafka_rebalance_protocol(rk));
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                e = rd_kafka_incremental_assign(rk, parts);
        else
                e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
                die("incremental (un)assign: %s", rd_kafka_error_string(e));
}

static rd_kafka_t *consumer_new(void)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        conf_set(c, "bootstrap.servers", bootstrap);
        conf_set(c, "group.id", group);
        conf_set(c, "partition.assignment.strategy", "cooperative-sticky");
        conf_set(c, "enable.auto.commit", "false");
        conf_set(c, "auto.offset.reset", "earliest");
        rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
        if (!rk)
                die("consumer: %s", err);
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(t, in_topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, t);
        rd_kafka_topic_partition_list_destroy(t);
        if (e)
                die("subscribe: %s", rd_kafka_err2str(e));
        return rk;
}

/* 2. consumer group: read everything, commit, check the committed offsets */
static void step_group(rd_kafka_t *rk)
{
        int got = 0;
        double deadline = now() + 60;
        while (got < N_MSGS) {
                if (now() > deadline)
                        die("consumer group: %d of %d messages within 60 s", got, N_MSGS);
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
                if (!m)
                        continue;
                if (m->err)
                        die("consume: %s", rd_kafka_message_errstr(m));
                got++;
                rd_kafka_message_destroy(m);
        }
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0 /* sync */);
        if (e)
                die("commit: %s", rd_kafka_err2str(e));

        rd_kafka_topic_partition_list_t *asg = NULL;
        if (rd_kafka_assignment(rk, &asg))
                die("assignment");
        e = rd_kafka_committed(rk, asg, 10000);
        if (e)
                die("committed: %s", rd_kafka_err2str(e));
        int64_t total = 0;
        for (int i = 0; i < asg->cnt; i++) {
                int64_t lo, hi;
                rd_kafka_topic_partition_t *p = &asg->elems[i];
                e = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, 10000);
                if (e)
                        die("watermarks: %s", rd_kafka_err2str(e));
                if (p->offset != hi)
                        die("partition %" PRId32 ": committed %" PRId64 ", end %" PRId64,
                            p->partition, p->offset, hi);
                total += p->offset;
        }
        if (total != N_MSGS)
                die("committed offsets add up to %" PRId64 ", want %d", total, N_MSGS);
        printf("ok consumer group: cooperative-sticky (COOPERATIVE protocol, %d rebalance "
               "callbacks), %d partitions, %d messages, sync commit = end offsets\n",
               rebalances, asg->cnt, got);
        rd_kafka_topic_partition_list_destroy(asg);
}

static void txn_check(rd_kafka_error_t *e, const char *what)
{
        if (e)
                die("%s: %s%s", what, rd_kafka_error_string(e),
                    rd_kafka_error_txn_requires_abort(e) ? " (abortable)" : "");
}

/* Counts the messages of OUT_TOPIC partition 0 up to its end with the given isolation level. */
static int count_out(const char *isolation)
{
        char err[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        conf_set(c, "bootstrap.servers", bootstrap);
        conf_set(c, "group.id", "rdkafka-check-reader");
        conf_set(c, "isolation.level", isolation);
        conf_set(c, "enable.partition.eof", "true");
        conf_set(c, "enable.auto.commit", "false");
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
        if (!rk)
                die("reader: %s", err);
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(t, out_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, t);
        rd_kafka_topic_partition_list_destroy(t);
        int n = 0;
        double deadline = now() + 30;
        for (;;) {
                if (now() > deadline)
                        die("%s reader: no end of partition within 30 s", isolation);
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        rd_kafka_message_destroy(m);
                        break;
                }
                if (m->err)
                        die("%s reader: %s", isolation, rd_kafka_message_errstr(m));
                n++;
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n;
}

/* 3. transactions, including offsets sent to the group coordinator */
static void step_transactions(rd_kafka_t *consumer)
{
        rd_kafka_t *rk = producer_new("rdkafka-check-txn");
        txn_check(rd_kafka_init_transactions(rk, 30000), "init_transactions");

        txn_check(rd_kafka_begin_transaction(rk), "begin");
        for (int i = 0; i < 10; i++)
                produce(rk, out_topic, i, "committed");
        txn_check(rd_kafka_commit_transaction(rk, 30000), "commit");

        txn_check(rd_kafka_begin_transaction(rk), "begin");
        for (int i = 0; i < 7; i++)
                produce(rk, out_topic, i, "aborted");
        rd_kafka_flush(rk, 10000); /* make sure the aborted records reach the log */
        txn_check(rd_kafka_abort_transaction(rk, 30000), "abort");

        txn_check(rd_kafka_begin_transaction(rk), "begin");
        for (int i = 0; i < 3; i++)
                produce(rk, out_topic, i, "with-offsets");
        rd_kafka_topic_partition_list_t *pos = NULL;
        rd_kafka_assignment(consumer, &pos);
        rd_kafka_position(consumer, pos);
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(consumer);
        txn_check(rd_kafka_send_offsets_to_transaction(rk, pos, gm, 30000),
                  "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(gm);
        rd_kafka_topic_partition_list_destroy(pos);
        txn_check(rd_kafka_commit_transaction(rk, 30000), "commit with offsets");
        rd_kafka_destroy(rk);

        int rc = count_out("read_committed"), ru = count_out("read_uncommitted");
        if (rc != 13)
                die("read_committed reader saw %d messages, want 13 (10 + 3 committed)", rc);
        if (ru != 20)
                die("read_uncommitted reader saw %d messages, want 20", ru);
        printf("ok transactions: commit, abort, commit with send_offsets_to_transaction; "
               "read_committed sees %d, read_uncommitted %d\n",
               rc, ru);
}

int main(int argc, char **argv)
{
        if (argc != 5) {
                fprintf(stderr, "usage: %s BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP\n", argv[0]);
                return 2;
        }
        bootstrap = argv[1], in_topic = argv[2], out_topic = argv[3], group = argv[4];
        printf("librdkafka %s\n", rd_kafka_version_str());
        step_idempotent();
        rd_kafka_t *consumer = consumer_new();
        step_group(consumer);
        step_transactions(consumer);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
        printf("ok all\n");
        return 0;
}
