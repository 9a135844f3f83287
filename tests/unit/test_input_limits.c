/*
 * test_input_limits: hostile input bounds in the scoring loop, against librdkafka's mock
 * cluster in passthrough mode. created_at of +-2^62 ms and of 1999 go to the dead-letter
 * topic as SS_ERR_RANGE; a NUL inside an Avro text goes there as SS_ERR_DECODE, the same
 * rule as for JSON (checked on the decoder directly); 300 undecodable messages give one
 * dead-letter log line per reason (plus the count of the ones held back), not 300.
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "consume.h"
#include "ss_kafka.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include "ss_serde.h"
#include "ss_stop.h"
#include "ss_test.h"
#include "ss_test_kafka.h"
#include "ss_util.h"

#define N_GOOD    10
#define N_GARBAGE 300

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

static void ss_send_tweet(ss_producer_t *p, const ss_serde_t *serde, const char *id,
                          const char *text, size_t text_len, int64_t created_at)
{
        char err[512];
        ss_serde_buf_t buf = {0};
        ss_tweet_t t = {0};
        t.id = ss_str_c(id);
        t.text = (ss_str_t){text, text_len};
        t.created_at = created_at;
        CHECK(ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err)) == SS_OK);
        CHECK(ss_producer_send(p, "tweets", id, strlen(id), buf.data, buf.len, 0, NULL, 1000, err,
                               sizeof(err)) == SS_OK);
        ss_serde_buf_free(&buf);
}

static void ss_produce_inputs(const char *bs, const ss_serde_t *serde)
{
        char err[512];
        rd_kafka_conf_t *conf = ss_kafka_conf_new(NULL, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        ss_kafka_conf_set(conf, "log_level", "2", NULL, err, sizeof(err));
        ss_producer_t *p = ss_producer_new(conf, NULL, NULL, err, sizeof(err));
        int64_t now = ss_time_now_ms();
        for (int i = 0; i < N_GOOD; i++) {
                char id[16];
                snprintf(id, sizeof(id), "t%d", i);
                ss_send_tweet(p, serde, id, "fine :)", 7, now);
        }
        ss_send_tweet(p, serde, "far", "x", 1, (int64_t)1 << 62);
        ss_send_tweet(p, serde, "neg", "x", 1, -((int64_t)1 << 62));
        ss_send_tweet(p, serde, "y1999", "x", 1, 915148800000LL); /* 1999-01-01 */
        ss_send_tweet(p, serde, "nul", "a\0b", 3, now);
        static const char garbage[] = "\x07not avro at all";
        for (int i = 0; i < N_GARBAGE; i++)
                CHECK(ss_producer_send(p, "tweets", "bad", 3, garbage, sizeof(garbage) - 1, 0, NULL,
                                       1000, err, sizeof(err)) == SS_OK);
        CHECK(ss_producer_flush(p, 10000, err, sizeof(err)) == SS_OK);
        ss_producer_destroy(p, 1000);
}

static int ss_count_sub(const char *text, const char *sub)
{
        int n = 0;
        for (const char *p = text; (p = strstr(p, sub)); p++)
                n++;
        return n;
}

/* The JSON decoder and the Avro decoder refuse a NUL in the text with the same code. */
static void test_nul_rule(const ss_serde_t *serde)
{
        char err[512];
        ss_tweet_t t = {0};
        static const char js[] = "{\"id\":\"1\",\"text\":\"a\\u0000b\"}";
        CHECK(ss_serde_tweet_decode_json(serde, js, sizeof(js) - 1, 0, &t, err, sizeof(err)) ==
              SS_ERR_DECODE);
        ss_serde_buf_t buf = {0};
        ss_tweet_t in = {0};
        in.id = ss_str_c("1");
        in.text = (ss_str_t){"a\0b", 3};
        in.created_at = 1;
        CHECK(ss_serde_tweet_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
        CHECK(ss_serde_tweet_decode(serde, buf.data, buf.len, &t, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(strstr(err, "field 'text': NUL character at byte 1") != NULL);
        in.text = ss_str_c("ok");
        in.user = (ss_str_t){"u\0", 2};
        ss_serde_buf_reset(&buf);
        CHECK(ss_serde_tweet_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
        CHECK(ss_serde_tweet_decode(serde, buf.data, buf.len, &t, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(strstr(err, "field 'user'") != NULL);
        ss_serde_buf_free(&buf);
        ss_tweet_clear(&t);
}

int main(void)
{
        char err[1024], path[512];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, "tweets", 1, 1);
        rd_kafka_mock_topic_create(mc, "tweet-predictions", 1, 1);
        rd_kafka_mock_topic_create(mc, "tweets-dlq", 1, 1);

        const char *schemas = ss_test_src_path("schemas", path, sizeof(path));
        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        ss_serde_t *serde = ss_serde_new(schemas, &ids, 0, err, sizeof(err));
        CHECK(serde != NULL);
        if (!serde)
                return ss_test_finish();
        test_nul_rule(serde);
        ss_produce_inputs(bs, serde);

        char dir[] = "/tmp/ss_test_limits_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        fprintf(f,
                "kafka:\n  bootstrap.servers: \"%s\"\n  log_level: 3\n"
                "consumer:\n  mode: passthrough\n  commit.interval.ms: 100\n"
                "  group.id: scorers\n",
                bs);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        unlink(yaml);
        rmdir(dir);
        CHECK(c != NULL);
        if (!c)
                return ss_test_finish();

        /* stderr to a file while the loop runs: its dead-letter lines are counted */
        char logpath[] = "/tmp/ss_test_limits_log_XXXXXX";
        int logfd = mkstemp(logpath);
        fflush(stderr);
        int saved = dup(2);
        dup2(logfd, 2);

        ss_run_t run = {0};
        run.s = ss_consume_new(c, schemas, err, sizeof(err));
        CHECK(run.s != NULL);
        if (!run.s)
                return ss_test_finish();
        pthread_t th;
        pthread_create(&th, NULL, ss_run_thread, &run);
        int want_dlq = 4 + N_GARBAGE, dlq = 0, out = 0;
        for (int round = 0; round < 30 && (dlq < want_dlq || out < N_GOOD); round++) {
                dlq = ss_test_topic_read(bs, "tweets-dlq", 1, NULL, 5, NULL, 0);
                out = ss_test_topic_read(bs, "tweet-predictions", 1, NULL, 5, NULL, 0);
        }
        ss_stop_request();
        pthread_join(th, NULL);
        ss_metrics_t *r = ss_consume_metrics(run.s);
        double range = ss_test_counter_value(r, "sentistream_dead_lettered_total",
                                             (const char *[]){"reason", "SS_ERR_RANGE", NULL});
        double decode = ss_test_counter_value(r, "sentistream_dead_lettered_total",
                                              (const char *[]){"reason", "SS_ERR_DECODE", NULL});
        ss_consume_destroy(run.s);

        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        off_t n = lseek(logfd, 0, SEEK_END);
        char *log = calloc(1, (size_t)n + 1);
        CHECK(pread(logfd, log, (size_t)n, 0) == n);
        close(logfd);
        unlink(logpath);

        printf("dead letters %d, predictions %d, SS_ERR_RANGE %.0f, SS_ERR_DECODE %.0f\n", dlq, out,
               range, decode);
        CHECK(run.rc == SS_OK);
        CHECK(dlq == want_dlq);
        CHECK(out == N_GOOD);
        CHECK(range == 3);
        CHECK(decode == 1 + N_GARBAGE);
        int lines = ss_count_sub(log, "dead letter:");
        printf("dead-letter log lines: %d for %d dead letters\n", lines, want_dlq);
        CHECK(lines == 2); /* one per reason within the 10 s interval */
        CHECK(ss_count_sub(log, "'created_at' = 4611686018427387904 ms is outside") == 1);
        CHECK(ss_count_sub(log, "more SS_ERR_DECODE not logged") == 1);
        CHECK(ss_count_sub(log, "2 more SS_ERR_RANGE not logged") == 1);
        if (lines != 2)
                fputs(log, stderr);
        free(log);

        ss_config_destroy(c);
        ss_serde_destroy(serde);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
        return ss_test_finish();
}
