/*
 * The scoring loop against librdkafka's mock cluster with errors injected that a real broker
 * does not give on demand, in both delivery modes (consumer.mode=passthrough: the loop and
 * Kafka only). Each scenario runs on a fresh mock cluster with 200 input tweets:
 *
 *   alos.produce.permanent   Produce answers MSG_SIZE_TOO_LARGE twice: the outputs are not
 *                            retried, their inputs go to the dead-letter topic (SS_ERR_KAFKA)
 *   alos.offsetcommit        OffsetCommit fails 3 times: later commits cover everything
 *   alos.fetch               Fetch fails 3 times (NOT_LEADER_FOR_PARTITION): consumption goes on
 *   eos.addoffsets.abortable AddOffsetsToTxn answers GROUP_AUTHORIZATION_FAILED: the
 *                            transaction is aborted, the consumer rewound, and it goes on
 *   eos.endtxn.retriable     EndTxn answers NOT_COORDINATOR twice: the commit is retried
 *   eos.produce.permanent    Produce answers MSG_SIZE_TOO_LARGE: the transaction is aborted
 *                            and the input, when it comes back, goes to the dead-letter topic
 *   eos.fatal                AddOffsetsToTxn answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 *                            (fatal) once: the transactional producer is re-created with the
 *                            same transactional.id, the consumer rewound, and it goes on
 *   eos.fatal.repeated       the same for every transaction: after 5 re-creations within
 *                            60 s the run stops with an error within seconds, no loop
 *
 *   lag.fresh                after the scorer caught up (lag 0), the broker answers nothing
 *                            for 8 s while 200 more inputs arrive: the lag gauges do not keep
 *                            the 0 from before (librdkafka's cached watermarks, which only
 *                            fetches move, would): they turn unknown (NaN) once the last
 *                            answer is too old
 *
 * Every scenario that goes on must end with every input covered (a prediction or a dead
 * letter); under at-least-once the group's committed offsets must be at the end of the
 * input. The mock cluster of librdkafka 2.0.2 writes no transaction markers and its
 * TxnOffsetCommit handler answers without storing the offsets (rdkafka_mock_handlers.c), so
 * exactly-once output counts and transactional offsets are checked on the real broker
 * (tests/integration/test_consume_eos.sh), not here.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consume.h"
#include "ss_kafka.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include "ss_serde.h"
#include "ss_stop.h"
#include "ss_test.h"
#include "ss_test_kafka.h"
#include "ss_util.h"

#define N_TWEETS 200

/* Kafka protocol API keys */
enum {
        API_PRODUCE = 0,
        API_FETCH = 1,
        API_OFFSET_COMMIT = 8,
        API_ADD_OFFSETS = 25,
        API_END_TXN = 26
};

typedef struct {
        ss_consume_t *s;
        ss_err_t rc;
        char err[512];
        volatile int done;
} ss_run_t;

static void *ss_run_thread(void *p)
{
        ss_run_t *r = p;
        r->rc = ss_consume_run(r->s, r->err, sizeof(r->err));
        r->done = 1;
        return NULL;
}

static void ss_produce_inputs(const char *bs, const ss_serde_t *serde)
{
        char err[512];
        rd_kafka_conf_t *conf = ss_kafka_conf_new(NULL, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        ss_producer_t *p = ss_producer_new(conf, NULL, NULL, err, sizeof(err));
        ss_serde_buf_t buf = {0};
        for (int i = 0; i < N_TWEETS; i++) {
                char id[16], text[64];
                snprintf(id, sizeof(id), "t%d", i);
                snprintf(text, sizeof(text), "tweet number %d :)", i);
                ss_tweet_t t = {0};
                t.id = ss_str_c(id);
                t.text = ss_str_c(text);
                t.created_at = ss_time_now_ms();
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err)) == SS_OK);
                CHECK(ss_producer_send(p, "tweets", id, strlen(id), buf.data, buf.len, 0, NULL,
                                       1000, err, sizeof(err)) == SS_OK);
        }
        CHECK(ss_producer_flush(p, 10000, err, sizeof(err)) == SS_OK);
        ss_serde_buf_free(&buf);
        ss_producer_destroy(p, 1000);
}

/* The group's committed offsets of the input, summed over its 2 partitions. */
static int64_t ss_committed_total(const char *bs)
{
        char err[512];
        rd_kafka_conf_t *conf =
            ss_kafka_conf_new(NULL, SS_KAFKA_CONSUMER, "scorers", err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        rd_kafka_t *rk = ss_kafka_consumer_new(conf, err, sizeof(err));
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(l, "tweets", 0);
        rd_kafka_topic_partition_list_add(l, "tweets", 1);
        int64_t total = -1;
        if (rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                total = (l->elems[0].offset > 0 ? l->elems[0].offset : 0) +
                        (l->elems[1].offset > 0 ? l->elems[1].offset : 0);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return total;
}

typedef struct scenario {
        const char *name;
        int eos;
        void (*inject)(rd_kafka_mock_cluster_t *mc);
        int expect_stop;         /* the run must stop by itself with an error */
        const char *dead_reason; /* a dead letter with this reason is expected, or NULL */
        int want_aborts;         /* at least one transaction aborted */
} scenario_t;

static void inj_produce_too_large(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(mc, API_PRODUCE, 2, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                          RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
}
static void inj_offset_commit(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(
            mc, API_OFFSET_COMMIT, 3, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
}
static void inj_fetch(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(
            mc, API_FETCH, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
}
static void inj_add_offsets_abortable(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(mc, API_ADD_OFFSETS, 1,
                                          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
}
static void inj_end_txn_retriable(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(mc, API_END_TXN, 2, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                          RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
}
static void inj_add_offsets_fatal(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_push_request_errors(mc, API_ADD_OFFSETS, 1,
                                          RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
}
static void inj_add_offsets_fatal_repeated(rd_kafka_mock_cluster_t *mc)
{
        for (int i = 0; i < 20; i++)
                rd_kafka_mock_push_request_errors(
                    mc, API_ADD_OFFSETS, 1,
                    RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
}

/* A one-broker mock cluster (owned by *mrk: destroy it to destroy the cluster) with the
 * scorer's three topics. */
static rd_kafka_mock_cluster_t *ss_mock_new(rd_kafka_t **mrk, char *err, size_t err_size)
{
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, err_size);
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(*mrk, 1);
        rd_kafka_mock_topic_create(mc, "tweets", 2, 1);
        rd_kafka_mock_topic_create(mc, "tweet-predictions", 2, 1);
        rd_kafka_mock_topic_create(mc, "tweets-dlq", 1, 1);
        return mc;
}

static void run_scenario(const scenario_t *sc, const char *schemas)
{
        char err[1024];
        printf("-- %s\n", sc->name);
        rd_kafka_t *mrk;
        rd_kafka_mock_cluster_t *mc = ss_mock_new(&mrk, err, sizeof(err));
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);

        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        ss_serde_t *serde = ss_serde_new(schemas, &ids, 0, err, sizeof(err));
        CHECK(serde != NULL);
        ss_produce_inputs(bs, serde);
        ss_serde_destroy(serde);

        char dir[] = "/tmp/ss_test_consume_faults_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        fprintf(f,
                "kafka:\n  bootstrap.servers: \"%s\"\n  reconnect.backoff.max.ms: 200\n"
                "  log_level: 3\n"
                "consumer:\n  mode: passthrough\n  commit.interval.ms: 100\n"
                "  retry.backoff.ms: 50\n  retry.backoff.max.ms: 200\n"
                "  flush.timeout.ms: 10000\n  group.id: scorers\n  batch.size: 50\n"
                "  delivery: %s\n  instance.id: i1\n  txn.max.ms: 50\n  txn.timeout.ms: 5000\n",
                bs, sc->eos ? "exactly_once" : "at_least_once");
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        unlink(yaml);
        rmdir(dir);
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "config: %s\n", err);
                return;
        }
        sc->inject(mc);

        ss_run_t run = {0};
        run.s = ss_consume_new(c, schemas, err, sizeof(err));
        CHECK(run.s != NULL);
        if (!run.s) {
                fprintf(stderr, "consume: %s\n", err);
                ss_config_destroy(c);
                return;
        }
        double t0 = ss_time_mono();
        pthread_t th;
        pthread_create(&th, NULL, ss_run_thread, &run);

        int seen[N_TWEETS], all = 0;
        if (sc->expect_stop) {
                while (!run.done && ss_time_mono() - t0 < 30)
                        usleep(50000);
                CHECK(run.done); /* stopped by itself ... */
                printf("stopped after %.1f s: %s\n", ss_time_mono() - t0, run.err);
                CHECK(ss_time_mono() - t0 < 30);
        } else {
                for (int round = 0; round < 40 && !all && !run.done; round++) {
                        memset(seen, 0, sizeof(seen));
                        ss_test_topic_read(bs, "tweet-predictions", 2, "read_uncommitted", 5, seen,
                                           N_TWEETS);
                        ss_test_topic_read(bs, "tweets-dlq", 1, "read_uncommitted", 5, seen,
                                           N_TWEETS);
                        all = 1;
                        for (int i = 0; i < N_TWEETS; i++)
                                all &= seen[i] >= 1;
                }
                CHECK(all); /* every input has an output */
                sleep(1);   /* a commit interval / a transaction passes */
                ss_stop_request();
        }
        pthread_join(th, NULL);
        if (sc->expect_stop) {
                CHECK(run.rc != SS_OK); /* ... with an error */
        } else {
                CHECK(run.rc == SS_OK);
                if (run.rc)
                        fprintf(stderr, "run: %s\n", run.err);
        }
        ss_metrics_t *r = ss_consume_metrics(run.s);
        double aborts = ss_test_counter_value(r, "sentistream_transactions_total",
                                              (const char *[]){"result", "abort", NULL});
        double commits = ss_test_counter_value(r, "sentistream_transactions_total",
                                               (const char *[]){"result", "commit", NULL});
        printf("transactions: %.0f committed, %.0f aborted\n", commits, aborts);
        if (sc->want_aborts)
                CHECK(aborts >= 1);
        if (sc->eos && !sc->expect_stop)
                CHECK(commits >= 1);
        if (sc->expect_stop)
                CHECK(aborts <= 6); /* no abort loop: 5 re-creations, then the stop */
        if (sc->dead_reason) {
                double d = ss_test_counter_value(r, "sentistream_dead_lettered_total",
                                                 (const char *[]){"reason", sc->dead_reason, NULL});
                printf("dead letters (%s): %.0f\n", sc->dead_reason, d);
                CHECK(d >= 1);
        }
        ss_consume_destroy(run.s);
        if (!sc->expect_stop && !sc->eos) {
                int64_t committed = ss_committed_total(bs);
                printf("committed %lld of %d\n", (long long)committed, N_TWEETS);
                CHECK(committed == N_TWEETS);
        }
        ss_config_destroy(c);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

/* The sum of the scorer's sentistream_consumer_lag gauges over the 2 input partitions, read
 * from its rendered metrics (looking a series up by name would create it), or -1 while one of
 * them is missing or unknown (NaN). */
static double ss_lag_sum(ss_consume_t *s)
{
        char *txt = NULL;
        size_t len;
        if (ss_metrics_render(ss_consume_metrics(s), &txt, &len) != SS_OK)
                return -1;
        double sum = 0;
        int seen = 0;
        for (char *l = strtok(txt, "\n"); l; l = strtok(NULL, "\n")) {
                static const char prefix[] = "sentistream_consumer_lag{topic=\"tweets\"";
                if (strncmp(l, prefix, sizeof(prefix) - 1))
                        continue;
                double v = strtod(strrchr(l, ' ') + 1, NULL);
                if (!(v >= 0)) {
                        seen = -100;
                        continue;
                }
                sum += v;
                seen++;
        }
        free(txt);
        return seen == 2 ? sum : -1;
}

static void run_lag_fresh(const char *schemas)
{
        char err[1024];
        printf("-- lag.fresh\n");
        rd_kafka_t *mrk;
        rd_kafka_mock_cluster_t *mc = ss_mock_new(&mrk, err, sizeof(err));
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        ss_serde_t *serde = ss_serde_new(schemas, &ids, 0, err, sizeof(err));
        CHECK(serde != NULL);
        ss_produce_inputs(bs, serde);

        char dir[] = "/tmp/ss_test_consume_lag_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        fprintf(f,
                "kafka:\n  bootstrap.servers: \"%s\"\n  log_level: 3\n"
                "consumer:\n  mode: passthrough\n  commit.interval.ms: 100\n"
                "  group.id: scorers\n  batch.size: 50\n  lag.interval.ms: 100\n",
                bs);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        unlink(yaml);
        rmdir(dir);
        CHECK(c != NULL);
        ss_run_t run = {0};
        run.s = c ? ss_consume_new(c, schemas, err, sizeof(err)) : NULL;
        CHECK(run.s != NULL);
        if (!run.s) {
                fprintf(stderr, "consume: %s\n", err);
                ss_config_destroy(c);
                ss_serde_destroy(serde);
                return;
        }
        pthread_t th;
        pthread_create(&th, NULL, ss_run_thread, &run);
        double t0 = ss_time_mono(), lag = -1, consumed = 0;
        while ((lag != 0 || consumed < N_TWEETS) && ss_time_mono() - t0 < 30) {
                usleep(100000);
                lag = ss_lag_sum(run.s);
                consumed = ss_test_counter_value(ss_consume_metrics(run.s),
                                                 "sentistream_consumed_total", NULL);
        }
        printf("caught up: %.0f consumed, lag %.0f after %.1f s\n", consumed, lag,
               ss_time_mono() - t0);
        CHECK(lag == 0 && consumed == N_TWEETS);

        /* The broker stops answering this consumer for 8 s (its next fetch, and what the
         * connection carries after it, answered late) while 200 more inputs arrive ... */
        rd_kafka_mock_broker_push_request_error_rtts(mc, 1, API_FETCH, 1,
                                                     RD_KAFKA_RESP_ERR_NO_ERROR, 8000);
        usleep(500000);
        ss_produce_inputs(bs, serde);
        /* ... the figure from before (lag 0) must not stay: once it is older than the
         * watermarks may be, the lag is unknown (NaN) until the broker answers again */
        int zero = 0, unknown = 0;
        t0 = ss_time_mono();
        while (ss_time_mono() - t0 < 6.5) {
                usleep(100000);
                lag = ss_lag_sum(run.s);
                zero += lag == 0;
                unknown += lag < 0;
        }
        consumed =
            ss_test_counter_value(ss_consume_metrics(run.s), "sentistream_consumed_total", NULL);
        printf("%d more inputs, not fetched yet (%.0f consumed): readings 0: %d, unknown: %d\n",
               N_TWEETS, consumed, zero, unknown);
        CHECK(consumed == N_TWEETS); /* the new inputs were not fetched in the window */
        CHECK(unknown > 0);

        ss_stop_request();
        pthread_join(th, NULL);
        CHECK(run.rc == SS_OK);
        ss_consume_destroy(run.s);
        ss_config_destroy(c);
        ss_serde_destroy(serde);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
}

int main(int argc, char **argv)
{
        char path[512];
        const char *schemas = ss_test_src_path("schemas", path, sizeof(path));
        static const scenario_t scenarios[] = {
            {"alos.produce.permanent", 0, inj_produce_too_large, 0, "SS_ERR_KAFKA", 0},
            {"alos.offsetcommit", 0, inj_offset_commit, 0, NULL, 0},
            {"alos.fetch", 0, inj_fetch, 0, NULL, 0},
            {"eos.addoffsets.abortable", 1, inj_add_offsets_abortable, 0, NULL, 1},
            {"eos.endtxn.retriable", 1, inj_end_txn_retriable, 0, NULL, 0},
            {"eos.produce.permanent", 1, inj_produce_too_large, 0, "SS_ERR_KAFKA", 1},
            {"eos.fatal", 1, inj_add_offsets_fatal, 0, NULL, 1},
            {"eos.fatal.repeated", 1, inj_add_offsets_fatal_repeated, 1, NULL, 1},
        };
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
                if (argc < 2 || strstr(scenarios[i].name, argv[1]))
                        run_scenario(&scenarios[i], schemas);
        if (argc < 2 || strstr("lag.fresh", argv[1]))
                run_lag_fresh(schemas);
        return ss_test_finish();
}
