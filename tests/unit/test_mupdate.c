/*
 * test_mupdate: the model-updates reader against librdkafka's mock cluster.
 *   - from the end: a record published before the reader was created is not read, one
 *     published after is, decoded; a record that is not a ModelUpdate is reported (BAD,
 *     with the partition and offset) and the next one is still read;
 *   - from the start: every record, in order;
 *   - polling never waits: an empty topic answers NONE at once.
 */
#include "ss_kafka.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_config.h"
#include "ss_mupdate.h"
#include "ss_serde.h"
#include "ss_test.h"
#include "ss_util.h"

static ss_serde_t *serde;
static ss_producer_t *prod;

static void publish_raw(const void *buf, size_t len)
{
        char err[512];
        CHECK(ss_producer_send(prod, "model-updates", "m", 1, buf, len, 0, NULL, 1000, err,
                               sizeof(err)) == SS_OK);
        CHECK(ss_producer_flush(prod, 10000, err, sizeof(err)) == SS_OK);
}

static void publish(const char *version)
{
        char err[512];
        ss_model_update_t u = {
            .model_name = ss_str_c("m"),
            .version = ss_str_c(version),
            .alias = ss_str_c("champion"),
            .uri = ss_str_c("models:/m/1"),
            .sha256 = ss_str_c("00"),
            .model_version = ss_str_c("logreg-x"),
            .reason = ss_str_c("manual"),
            .updated_at_ms = 1700000000000,
        };
        ss_serde_buf_t b = {0};
        CHECK(ss_serde_model_update_encode(serde, &u, &b, err, sizeof(err)) == SS_OK);
        publish_raw(b.data, b.len);
        ss_serde_buf_free(&b);
}

/* Polls for up to 10 s until something other than NONE; the version read into out. */
static ss_mupdate_poll_t next(ss_mupdate_reader_t *r, char *out, size_t size, char *err,
                              size_t errsize)
{
        double until = ss_time_mono() + 10;
        while (ss_time_mono() < until) {
                ss_model_update_t u;
                ss_mupdate_poll_t p = ss_mupdate_reader_poll(r, serde, &u, err, errsize);
                if (p == SS_MUPDATE_UPDATE) {
                        snprintf(out, size, "%s", u.version.ptr);
                        ss_model_update_clear(&u);
                }
                if (p != SS_MUPDATE_NONE)
                        return p;
                usleep(20 * 1000);
        }
        return SS_MUPDATE_NONE;
}

int main(void)
{
        char err[1024], path[512], v[64];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rd_kafka_conf_set(mconf, "log_level", "2", NULL, 0);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
        const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
        rd_kafka_mock_topic_create(mc, "model-updates", 1, 1);

        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        serde = ss_serde_new(ss_test_src_path("schemas", path, sizeof(path)), &ids, 0, err,
                             sizeof(err));
        CHECK(serde != NULL);
        rd_kafka_conf_t *pconf = ss_kafka_conf_new(NULL, SS_KAFKA_PRODUCER, NULL, err, sizeof(err));
        ss_kafka_conf_set(pconf, "bootstrap.servers", bs, NULL, err, sizeof(err));
        prod = ss_producer_new(pconf, NULL, NULL, err, sizeof(err));
        CHECK(serde && prod);
        if (!serde || !prod)
                return ss_test_finish();

        char dir[] = "/tmp/ss_test_mupdate_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s/base.yaml", dir);
        FILE *f = fopen(yaml, "w");
        fprintf(f, "kafka:\n  bootstrap.servers: \"%s\"\n  log_level: 3\n", bs);
        fclose(f);
        ss_config_t *c = ss_config_load(dir, 0, NULL, err, sizeof(err));
        unlink(yaml);
        rmdir(dir);
        CHECK(c != NULL);
        if (!c)
                return ss_test_finish();

        publish("1"); /* before the reader: not read from the end */
        ss_mupdate_reader_t *r = ss_mupdate_reader_new(c, "scorers", 0, err, sizeof(err));
        CHECK(r != NULL);
        if (!r)
                return ss_test_finish();
        CHECK_STR_EQ(ss_mupdate_reader_topic(r), "model-updates");
        double t0 = ss_time_mono();
        ss_model_update_t u;
        CHECK(ss_mupdate_reader_poll(r, serde, &u, err, sizeof(err)) == SS_MUPDATE_NONE);
        CHECK(ss_time_mono() - t0 < 0.5); /* no wait */
        publish_raw("\x07junk", 5);
        publish("2");
        CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_BAD);
        CHECK(strstr(err, "model-updates [0] offset 1") != NULL);
        v[0] = '\0';
        CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
        CHECK_STR_EQ(v, "2");
        ss_mupdate_reader_destroy(r);

        /* from the tail: the same three, each marked as published before the reader; then
         * the tail is done (the partition's end), and a new update is not in the tail */
        r = ss_mupdate_reader_new(c, "monitor", SS_MUPDATE_FROM_TAIL, err, sizeof(err));
        CHECK(r != NULL);
        if (r) {
                CHECK(!ss_mupdate_reader_tail_done(r));
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "1");
                CHECK(ss_mupdate_reader_last_in_tail(r) == 1);
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_BAD);
                CHECK(ss_mupdate_reader_last_in_tail(r) == 1);
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "2");
                CHECK(ss_mupdate_reader_last_in_tail(r) == 1);
                double t1 = ss_time_mono();
                while (!ss_mupdate_reader_tail_done(r) && ss_time_mono() - t1 < 5) {
                        ss_model_update_t u2;
                        if (ss_mupdate_reader_poll(r, serde, &u2, err, sizeof(err)) ==
                            SS_MUPDATE_UPDATE)
                                ss_model_update_clear(&u2);
                        usleep(10 * 1000);
                }
                CHECK(ss_mupdate_reader_tail_done(r));
                CHECK(ss_time_mono() - t1 < 5); /* by the partition's end, not the timeout */
                publish("3");
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "3");
                CHECK(ss_mupdate_reader_last_in_tail(r) == 0);
                ss_mupdate_reader_destroy(r);
        }

        /* from the start: 1, the junk, 2, 3 */
        r = ss_mupdate_reader_new(c, "monitor", 1, err, sizeof(err));
        CHECK(r != NULL);
        if (r) {
                v[0] = '\0';
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "1");
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_BAD);
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "2");
                CHECK(next(r, v, sizeof(v), err, sizeof(err)) == SS_MUPDATE_UPDATE);
                CHECK_STR_EQ(v, "3");
                ss_mupdate_reader_destroy(r);
        }

        ss_config_destroy(c);
        ss_producer_destroy(prod, 1000);
        ss_serde_destroy(serde);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mrk);
        return ss_test_finish();
}
