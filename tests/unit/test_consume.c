/*
 * The scoring loop against librdkafka's mock cluster, with faults injected on the output
 * side: the first Produce requests of the scorer are answered only after 3 s while
 * message.timeout.ms is 1 s, so their deliveries fail. The loop must re-produce them (never
 * drop them), keep its input offsets uncommitted until they are acknowledged, put the one
 * malformed input in the dead-letter topic, and stop cleanly on request: in the end every
 * input has its output (at least once) and the committed offsets cover every input.
 * consumer.mode=passthrough keeps models out of this test (the loop and Kafka only).
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

typedef struct {
        ss_consume_t *s;
        ss_err_t rc;
        char err[512];
} ss_run_t;

static void *ss_run_thread(void *p)
{
        ss_run_t *r = p;
        r->rc = ss_consume_run(r->s, r->err, sizeof(r->err));
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
        static const char garbage[] = "\x07not avro at all";
        CHECK(ss_producer_send(p, "tweets", "bad", 3, garbage, sizeof(garbage) - 1, 0, NULL, 1000,
                               err, sizeof(err)) == SS_OK);
        CHECK(ss_producer_flush(p, 10000, err, sizeof(err)) == SS_OK);
        CHECK(ss_producer_stats(p).acked == N_TWEETS + 1);
        ss_serde_buf_free(&buf);
        ss_producer_destroy(p, 1000);
}

int main(void)
{
        char err[1024], path[512];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, "tweets", 2, 1);
        rd_kafka_mock_topic_create(mc, "tweet-predictions", 2, 1);
        rd_kafka_mock_topic_create(mc, "tweets-dlq", 1, 1);

        const char *schemas = ss_test_src_path("schemas", path, sizeof(path));
        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        ss_serde_t *serde = ss_serde_new(schemas, &ids, 0, err, sizeof(err));
        CHECK(serde != NULL);
        if (!serde) {
                fprintf(stderr, "serde: %s\n", err);
                return ss_test_finish();
        }
        ss_produce_inputs(bs, serde);

        /* the scorer's configuration: a base.yaml in a temporary directory */
        char dir[] = "/tmp/ss_test_consume_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        fprintf(f,
                "kafka:\n  bootstrap.servers: \"%s\"\n  message.timeout.ms: 1000\n"
                "  reconnect.backoff.max.ms: 200\n  log_level: 3\n"
                "consumer:\n  mode: passthrough\n  commit.interval.ms: 100\n"
                "  retry.backoff.ms: 50\n  retry.backoff.max.ms: 200\n"
                "  flush.timeout.ms: 20000\n  group.id: scorers\n",
                bs);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        unlink(yaml);
        rmdir(dir);
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "config: %s\n", err);
                return ss_test_finish();
        }

        /* The scorer's first three Produce requests are answered after 3 s: past
         * message.timeout.ms, so their messages are reported failed. */
        rd_kafka_mock_broker_push_request_error_rtts(
            mc, 1, 0 /* Produce */, 3, RD_KAFKA_RESP_ERR_NO_ERROR, 3000, RD_KAFKA_RESP_ERR_NO_ERROR,
            3000, RD_KAFKA_RESP_ERR_NO_ERROR, 3000);

        ss_run_t run = {0};
        run.s = ss_consume_new(c, schemas, err, sizeof(err));
        CHECK(run.s != NULL);
        if (!run.s) {
                fprintf(stderr, "consume: %s\n", err);
                return ss_test_finish();
        }
        pthread_t th;
        pthread_create(&th, NULL, ss_run_thread, &run);

        /* wait (bounded) until every tweet has its output on the topic */
        int seen[N_TWEETS];
        int all = 0;
        for (int round = 0; round < 30 && !all; round++) {
                memset(seen, 0, sizeof(seen));
                ss_test_topic_read(bs, "tweet-predictions", 2, NULL, 10, seen, N_TWEETS);
                all = 1;
                for (int i = 0; i < N_TWEETS; i++)
                        all &= seen[i] >= 1;
        }
        CHECK(all);
        sleep(1); /* a commit interval passes */
        ss_stop_request();
        pthread_join(th, NULL);
        CHECK(run.rc == SS_OK);
        if (run.rc)
                fprintf(stderr, "run: %s\n", run.err);

        ss_metrics_t *r = ss_consume_metrics(run.s);
        double produce_errors = ss_test_counter_value(r, "sentistream_produce_errors_total", NULL);
        printf("produce errors (re-produced): %.0f\n", produce_errors);
        CHECK(produce_errors > 0); /* the fault was hit ... */
        CHECK(ss_test_counter_value(r, "sentistream_consumed_total", NULL) >= N_TWEETS + 1);
        CHECK(ss_test_counter_value(r, "sentistream_dead_lettered_total",
                                    (const char *[]){"reason", "SS_ERR_DECODE", NULL}) == 1);
        ss_consume_destroy(run.s);

        /* ... and nothing was lost: every tweet once or more, the bad one dead-lettered (also
         * at least once: its first delivery failed like the others) */
        memset(seen, 0, sizeof(seen));
        int n_out = ss_test_topic_read(bs, "tweet-predictions", 2, NULL, 10, seen, N_TWEETS);
        int missing = 0;
        for (int i = 0; i < N_TWEETS; i++)
                missing += seen[i] == 0;
        printf("outputs %d for %d tweets (duplicates %d)\n", n_out, N_TWEETS, n_out - N_TWEETS);
        CHECK(missing == 0);
        CHECK(ss_test_topic_read(bs, "tweets-dlq", 1, NULL, 10, NULL, 0) >= 1);

        /* the group's committed offsets cover every input message */
        rd_kafka_conf_t *conf =
            ss_kafka_conf_new(NULL, SS_KAFKA_CONSUMER, "scorers", err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        rd_kafka_t *rk = ss_kafka_consumer_new(conf, err, sizeof(err));
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(l, "tweets", 0);
        rd_kafka_topic_partition_list_add(l, "tweets", 1);
        CHECK(rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        int64_t committed = 0;
        for (int p = 0; p < 2; p++) {
                int64_t lo, hi;
                CHECK(rd_kafka_query_watermark_offsets(rk, "tweets", p, &lo, &hi, 5000) == 0);
                CHECK(l->elems[p].offset == hi);
                committed += l->elems[p].offset;
        }
        CHECK(committed == N_TWEETS + 1);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);

        ss_config_destroy(c);
        ss_serde_destroy(serde);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
        return ss_test_finish();
}
