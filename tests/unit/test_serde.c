/*
 * test_serde: Confluent-framed Avro records and the JSON tweet decoder.
 *
 * - round trips of every record, optional fields null and set, unicode text, and the
 *   negative-count block form of arrays and maps;
 * - golden byte sequences worked out by hand from the Avro spec (zigzag varints,
 *   little-endian floats), so the encoder is checked against the spec, not against itself;
 * - every encoding decoded again by avro-c's generic reader (an independent decoder);
 * - each malformed case gives its own error code and a message naming field / offset;
 * - every truncation and many random mutations of valid messages decode to an error,
 *   never a crash (run under ASan + UBSan);
 * - writes serde_interop.{bin,json} under SS_BINARY_DIR for the fastavro check
 *   (tests/integration/test_serde_interop.sh);
 * - prints the encode/decode rate of Prediction (SS_SERDE_BENCH_N messages, default 200000).
 */
#include <avro.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ss_serde.h"
#include "ss_test.h"
#include "ss_util.h"

static ss_serde_t *serde;
static char err[512];

#define IDS_INIT                                                                                   \
        {                                                                                          \
                .tweet = 1, .prediction = 2, .dead_letter = 3, .retrain_event = 4,                 \
                .model_update = 5                                                                  \
        }
#define MAX_TEXT 1000

static int str_eq(ss_str_t s, const char *want)
{
        return s.ptr && s.len == strlen(want) && !memcmp(s.ptr, want, s.len) && s.ptr[s.len] == 0;
}

static int has(const char *hay, const char *needle)
{
        if (!strstr(hay, needle)) {
                fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", hay, needle);
                return 0;
        }
        return 1;
}

/* ---- fixtures ------------------------------------------------------------------------- */

static ss_tweet_t tweet_fixture(int with_optional)
{
        ss_tweet_t t = {0};
        t.id = ss_str_c("1795591900123456789");
        /* é, CJK, an emoji outside the BMP, and a RTL word */
        t.text = ss_str_c("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 "
                          "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d @user http://t.co/x #tag");
        t.created_at = 1795591900123LL;
        if (with_optional) {
                t.lang = ss_str_c("en");
                t.user = ss_str_c("\xc3\xbcser");
        }
        return t;
}

static ss_prediction_t prediction_fixture(int with_stats)
{
        ss_prediction_t p = {0};
        p.tweet_id = ss_str_c("1795591900123456789");
        p.label = SS_LABEL_NEUTRAL;
        p.probs[0] = 0.125f;
        p.probs[1] = 0.75f;
        p.probs[2] = 0.125f;
        p.model_name = ss_str_c("sentiment-logreg");
        p.model_version = ss_str_c("logreg-20261125T073000Z-1a2b3c4d");
        p.created_at = 1795591900123LL;
        p.scored_at = 1795591900999LL;
        p.has_input_stats = with_stats != 0;
        if (with_stats) {
                p.input_stats.n_tokens = 23;
                p.input_stats.unk_share = 0.1f;
                p.input_stats.has_url = 1;
                p.input_stats.has_mention = 0;
                p.input_stats.has_emoji = 1;
        }
        return p;
}

static const char raw_value_bytes[] = {'\x00', '\x00', '\x00', '\x00', '\x01', '\xff', 'a'};

static ss_dead_letter_t dead_letter_fixture(int with_key)
{
        ss_dead_letter_t d = {0};
        d.source_topic = ss_str_c("tweets");
        d.partition = 7;
        d.offset = 123456789012LL;
        d.error_code = ss_str_c("SS_ERR_UTF8");
        d.error_message = ss_str_c("Tweet: field 'text': invalid UTF-8 at byte 1");
        if (with_key)
                d.raw_key = (ss_str_t){"k\x00y", 3};
        d.raw_value = (ss_str_t){raw_value_bytes, sizeof(raw_value_bytes)};
        d.failed_at = 1795591901000LL;
        if (with_key) { /* a truncated copy: the whole value was larger */
                d.raw_size = 70000;
                d.raw_sha256 =
                    ss_str_c("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        }
        return d;
}

static const ss_retrain_reason_t reasons_fixture[2] = {
    {{"psi.predicted_class", 19}, 0.31, 0.2, false, 0.0, {"", 0}, {"", 0}, 0, 0},
    {{"kl.label_shift", 14},
     0.12,
     0.1,
     true,
     0.05,
     {"label_shift", 11},
     {"label_shift", 11},
     2000,
     20556},
};
static const ss_metric_snapshot_t metrics_fixture[3] = {
    {{"psi.predicted_class", 19}, 0.31, 5000, 3547},
    {{"kl.prob.positive", 16}, 0.12, 5000, 3547},
    {{"f1_pn", 5}, 0.55, 200, 3547},
};

static ss_retrain_event_t retrain_fixture(size_t n_reasons, size_t n_metrics)
{
        ss_retrain_event_t e = {0};
        e.event_id = ss_str_c("logreg-20261125T073000Z-1a2b3c4d:w-1795591800000");
        e.model_name = ss_str_c("sentiment-logreg");
        e.model_version = ss_str_c("logreg-20261125T073000Z-1a2b3c4d");
        e.reasons = n_reasons ? reasons_fixture : NULL;
        e.n_reasons = n_reasons;
        e.metrics = n_metrics ? metrics_fixture : NULL;
        e.n_metrics = n_metrics;
        e.window_start = 1795591800000LL;
        e.window_end = 1795591900000LL;
        e.triggered_at = 1795591900500LL;
        return e;
}

static const ss_model_update_metric_t update_metrics_fixture[3] = {
    {{"fresh_avgrec", 12}, 0.6875},
    {{"reference_avgrec", 16}, 0.625},
    {{"champion.fresh_avgrec", 21}, 0.5},
};

static ss_model_update_t model_update_fixture(int full)
{
        ss_model_update_t u = {0};
        u.model_name = ss_str_c("sentiment-logreg");
        u.version = ss_str_c("7");
        u.alias = ss_str_c("champion");
        u.uri = ss_str_c("models:/sentiment-logreg/7");
        u.sha256 = ss_str_c("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        u.model_version = ss_str_c("logreg-20261207T053000Z-1a2b3c4d");
        u.metrics = full ? update_metrics_fixture : NULL;
        u.n_metrics = full ? 3 : 0;
        u.reason = ss_str_c(full ? "retrain" : "rollback");
        if (full)
                u.event_id = ss_str_c("logreg-20261125T073000Z-1a2b3c4d:w-1795591800000");
        u.updated_at_ms = 1796621400123LL;
        return u;
}

/* ---- round trips ---------------------------------------------------------------------- */

static void check_tweet_eq(const ss_tweet_t *a, const ss_tweet_t *b)
{
        CHECK(a->id.len == b->id.len && !memcmp(a->id.ptr, b->id.ptr, a->id.len));
        CHECK(a->text.len == b->text.len && !memcmp(a->text.ptr, b->text.ptr, a->text.len));
        CHECK(a->created_at == b->created_at);
        CHECK((a->lang.ptr == NULL) == (b->lang.ptr == NULL));
        CHECK((a->user.ptr == NULL) == (b->user.ptr == NULL));
        if (a->lang.ptr && b->lang.ptr)
                CHECK(a->lang.len == b->lang.len && !memcmp(a->lang.ptr, b->lang.ptr, a->lang.len));
        if (a->user.ptr && b->user.ptr)
                CHECK(a->user.len == b->user.len && !memcmp(a->user.ptr, b->user.ptr, a->user.len));
}

static void test_roundtrip_tweet(void)
{
        ss_serde_buf_t buf = {0};
        for (int opt = 0; opt < 2; opt++) {
                ss_tweet_t in = tweet_fixture(opt), out = {0};
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_tweet_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(buf.len > SS_SERDE_HEADER_SIZE && buf.data[0] == 0);
                /* decode from a copy that is freed right after: strings must not point into it */
                uint8_t *copy = malloc(buf.len);
                memcpy(copy, buf.data, buf.len);
                CHECK(ss_serde_tweet_decode(serde, copy, buf.len, &out, err, sizeof(err)) == SS_OK);
                memset(copy, 0xAA, buf.len);
                free(copy);
                check_tweet_eq(&in, &out);
                CHECK(str_eq(out.id, "1795591900123456789"));
                if (opt)
                        CHECK(str_eq(out.user, "\xc3\xbcser"));
                ss_tweet_clear(&out);
        }
        /* append semantics: two messages in one buffer, each decodes from its own span */
        ss_serde_buf_reset(&buf);
        ss_tweet_t a = tweet_fixture(0), b = tweet_fixture(1), out = {0};
        b.id = ss_str_c("2");
        CHECK(ss_serde_tweet_encode(serde, &a, &buf, err, sizeof(err)) == SS_OK);
        size_t split = buf.len;
        CHECK(ss_serde_tweet_encode(serde, &b, &buf, err, sizeof(err)) == SS_OK);
        CHECK(ss_serde_tweet_decode(serde, buf.data, split, &out, err, sizeof(err)) == SS_OK);
        check_tweet_eq(&a, &out);
        CHECK(ss_serde_tweet_decode(serde, buf.data + split, buf.len - split, &out, err,
                                    sizeof(err)) == SS_OK);
        check_tweet_eq(&b, &out);
        ss_tweet_clear(&out);
        ss_serde_buf_free(&buf);
}

static void check_prediction_eq(const ss_prediction_t *a, const ss_prediction_t *b)
{
        CHECK(a->tweet_id.len == b->tweet_id.len &&
              !memcmp(a->tweet_id.ptr, b->tweet_id.ptr, a->tweet_id.len));
        CHECK(a->label == b->label);
        for (int k = 0; k < SS_NUM_CLASSES; k++)
                CHECK(a->probs[k] == b->probs[k]);
        CHECK(a->model_name.len == b->model_name.len &&
              !memcmp(a->model_name.ptr, b->model_name.ptr, a->model_name.len));
        CHECK(a->model_version.len == b->model_version.len &&
              !memcmp(a->model_version.ptr, b->model_version.ptr, a->model_version.len));
        CHECK(a->created_at == b->created_at);
        CHECK(a->scored_at == b->scored_at);
        CHECK(a->has_input_stats == b->has_input_stats);
        if (a->has_input_stats && b->has_input_stats) {
                CHECK(a->input_stats.n_tokens == b->input_stats.n_tokens);
                CHECK(a->input_stats.unk_share == b->input_stats.unk_share);
                CHECK(a->input_stats.has_url == b->input_stats.has_url);
                CHECK(a->input_stats.has_mention == b->input_stats.has_mention);
                CHECK(a->input_stats.has_emoji == b->input_stats.has_emoji);
        }
}

static void test_roundtrip_prediction(void)
{
        ss_serde_buf_t buf = {0};
        ss_prediction_t out = {0};
        for (int st = 0; st < 2; st++) {
                ss_prediction_t in = prediction_fixture(st);
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_prediction_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(ss_serde_prediction_decode(serde, buf.data, buf.len, &out, err,
                                                 sizeof(err)) == SS_OK);
                check_prediction_eq(&in, &out);
        }
        /* extremes: every label, negative and huge longs, INT32 bounds, NaN-free floats */
        const int64_t longs[] = {0, -1, 1, INT64_MIN, INT64_MAX, -1795591900123LL};
        const int32_t ints[] = {0, -1, INT32_MIN, INT32_MAX};
        for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
                ss_prediction_t in = prediction_fixture(1);
                in.label = (int32_t)(i % 3);
                in.created_at = longs[i];
                in.scored_at = longs[(i + 1) % 6];
                in.input_stats.n_tokens = ints[i % 4];
                in.probs[0] = -0.0f;
                in.probs[2] = 3.4e38f;
                in.tweet_id = (ss_str_t){"", 0};
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_prediction_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(ss_serde_prediction_decode(serde, buf.data, buf.len, &out, err,
                                                 sizeof(err)) == SS_OK);
                check_prediction_eq(&in, &out);
                CHECK(out.tweet_id.ptr && out.tweet_id.len == 0 && out.tweet_id.ptr[0] == 0);
        }
        /* label out of range is refused and leaves the buffer as it was */
        ss_prediction_t bad = prediction_fixture(0);
        bad.label = 3;
        size_t before = buf.len;
        CHECK(ss_serde_prediction_encode(serde, &bad, &buf, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        CHECK(buf.len == before && has(err, "label"));
        bad = prediction_fixture(0);
        bad.model_name = (ss_str_t){NULL, 3};
        CHECK(ss_serde_prediction_encode(serde, &bad, &buf, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        CHECK(has(err, "model_name"));
        ss_prediction_clear(&out);
        ss_serde_buf_free(&buf);
}

static void test_roundtrip_dead_letter(void)
{
        ss_serde_buf_t buf = {0};
        ss_dead_letter_t out = {0};
        for (int k = 0; k < 2; k++) {
                ss_dead_letter_t in = dead_letter_fixture(k);
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_dead_letter_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(ss_serde_dead_letter_decode(serde, buf.data, buf.len, &out, err,
                                                  sizeof(err)) == SS_OK);
                CHECK(str_eq(out.source_topic, "tweets"));
                CHECK(out.partition == 7 && out.offset == 123456789012LL);
                CHECK(str_eq(out.error_code, "SS_ERR_UTF8"));
                CHECK(str_eq(out.error_message, "Tweet: field 'text': invalid UTF-8 at byte 1"));
                CHECK((out.raw_key.ptr != NULL) == (k == 1));
                if (k)
                        CHECK(out.raw_key.len == 3 && !memcmp(out.raw_key.ptr, "k\x00y", 3));
                CHECK(out.raw_value.len == sizeof(raw_value_bytes) &&
                      !memcmp(out.raw_value.ptr, raw_value_bytes, sizeof(raw_value_bytes)));
                CHECK(out.failed_at == 1795591901000LL);
                /* raw_size left 0 is written as the raw value's length */
                CHECK(out.raw_size == (k ? 70000 : (int64_t)sizeof(raw_value_bytes)));
                CHECK((out.raw_sha256.ptr != NULL) == (k == 1));
                if (k)
                        CHECK(str_eq(out.raw_sha256, in.raw_sha256.ptr));
        }
        /* A record of an older writer (no raw_size, raw_sha256) decodes with the defaults;
         * one cut inside the new fields is refused. */
        ss_dead_letter_t in0 = dead_letter_fixture(1);
        ss_serde_buf_reset(&buf);
        CHECK(ss_serde_dead_letter_encode(serde, &in0, &buf, err, sizeof(err)) == SS_OK);
        size_t tail = 3 /* raw_size 70000 */ + 1 + 2 + 64; /* union index, length, hex */
        CHECK(ss_serde_dead_letter_decode(serde, buf.data, buf.len - tail, &out, err,
                                          sizeof(err)) == SS_OK);
        CHECK(out.raw_size == -1 && out.raw_sha256.ptr == NULL);
        CHECK(out.failed_at == 1795591901000LL);
        CHECK(ss_serde_dead_letter_decode(serde, buf.data, buf.len - tail + 3, &out, err,
                                          sizeof(err)) == SS_ERR_DECODE);
        /* empty raw value (a tombstone) and an empty key are not null */
        ss_dead_letter_t in = dead_letter_fixture(0);
        in.raw_value = (ss_str_t){NULL, 0};
        in.raw_key = (ss_str_t){"", 0};
        ss_serde_buf_reset(&buf);
        CHECK(ss_serde_dead_letter_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
        CHECK(ss_serde_dead_letter_decode(serde, buf.data, buf.len, &out, err, sizeof(err)) ==
              SS_OK);
        CHECK(out.raw_value.ptr && out.raw_value.len == 0);
        CHECK(out.raw_key.ptr && out.raw_key.len == 0);
        ss_dead_letter_clear(&out);
        ss_serde_buf_free(&buf);
}

static void test_roundtrip_retrain(void)
{
        ss_serde_buf_t buf = {0};
        ss_retrain_event_t out = {0};
        const size_t shapes[][2] = {{0, 0}, {1, 0}, {2, 3}, {0, 3}};
        for (size_t s = 0; s < 4; s++) {
                ss_retrain_event_t in = retrain_fixture(shapes[s][0], shapes[s][1]);
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_retrain_event_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(ss_serde_retrain_event_decode(serde, buf.data, buf.len, &out, err,
                                                    sizeof(err)) == SS_OK);
                CHECK(str_eq(out.event_id, "logreg-20261125T073000Z-1a2b3c4d:w-1795591800000"));
                CHECK(str_eq(out.model_name, "sentiment-logreg"));
                CHECK(str_eq(out.model_version, "logreg-20261125T073000Z-1a2b3c4d"));
                CHECK(out.n_reasons == in.n_reasons && out.n_metrics == in.n_metrics);
                for (size_t i = 0; i < out.n_reasons && i < in.n_reasons; i++) {
                        CHECK(out.reasons[i].metric.len == in.reasons[i].metric.len &&
                              !memcmp(out.reasons[i].metric.ptr, in.reasons[i].metric.ptr,
                                      in.reasons[i].metric.len));
                        CHECK(out.reasons[i].value == in.reasons[i].value);
                        CHECK(out.reasons[i].threshold == in.reasons[i].threshold);
                        CHECK(out.reasons[i].has_critical_value ==
                              in.reasons[i].has_critical_value);
                        CHECK(out.reasons[i].critical_value == in.reasons[i].critical_value);
                        CHECK(out.reasons[i].family.len == in.reasons[i].family.len &&
                              !memcmp(out.reasons[i].family.ptr, in.reasons[i].family.ptr,
                                      in.reasons[i].family.len));
                        CHECK(out.reasons[i].statistic.len == in.reasons[i].statistic.len &&
                              !memcmp(out.reasons[i].statistic.ptr, in.reasons[i].statistic.ptr,
                                      in.reasons[i].statistic.len));
                        CHECK(out.reasons[i].window_n == in.reasons[i].window_n);
                        CHECK(out.reasons[i].reference_n == in.reasons[i].reference_n);
                }
                for (size_t i = 0; i < out.n_metrics && i < in.n_metrics; i++) {
                        CHECK(out.metrics[i].name.len == in.metrics[i].name.len &&
                              !memcmp(out.metrics[i].name.ptr, in.metrics[i].name.ptr,
                                      in.metrics[i].name.len));
                        CHECK(out.metrics[i].value == in.metrics[i].value);
                        CHECK(out.metrics[i].n == in.metrics[i].n);
                        CHECK(out.metrics[i].reference_n == in.metrics[i].reference_n);
                }
                CHECK(out.window_start == in.window_start && out.window_end == in.window_end &&
                      out.triggered_at == in.triggered_at);
        }
        ss_retrain_event_t bad = retrain_fixture(0, 0);
        bad.n_metrics = 2;
        CHECK(ss_serde_retrain_event_encode(serde, &bad, &buf, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        CHECK(has(err, "metrics"));
        ss_retrain_event_clear(&out);
        ss_serde_buf_free(&buf);
}

/* A RetrainEvent whose arrays use the negative-count block form (count < 0, then the block
 * size in bytes), and two blocks for one array: legal Avro that our encoder never writes. */
static void test_retrain_blocks(void)
{
        static const uint8_t msg[] = {
            0,    0,    0,    0,    4, /* header, schema id 4 */
            0x02, 'e',                 /* event_id "e" */
            0x02, 'm',                 /* model_name "m" */
            0x02, 'v',                 /* model_version "v" */
            0x01, 0x2c,                /* reasons: count -1 (zigzag 1), block size 22 (0x2c) */
            0x02, 'a',                 /*   metric "a" */
            0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* value 1.0 */
            0,    0,    0,    0,    0,    0,    0,    0x40, /* threshold 2.0 */
            0x00,                                           /*   critical_value null */
            0x00, 0x00, 0x00, 0x00, /* family "", statistic "", window_n 0, reference_n 0 */
            0x02,                   /* next block: count 1 */
            0x02, 'b',  0,    0,    0,    0,    0,    0,    0x08, 0x40, /* 3.0 */
            0,    0,    0,    0,    0,    0,    0x10, 0x40,             /* 4.0 */
            0x02, 0,    0,    0,    0,    0,    0,    0x14, 0x40,       /* critical_value 5.0 */
            0x02, 'f',  0x02, 's',  0x14, 0x06, /* family "f", statistic "s", 10, 3 */
            0x00,                               /* end of reasons */
            0x00,                               /* metrics: empty */
            0x02, 0x04, 0x06,                   /* window_start 1, window_end 2, triggered_at 3 */
        };
        ss_retrain_event_t e = {0};
        CHECK(ss_serde_retrain_event_decode(serde, msg, sizeof(msg), &e, err, sizeof(err)) ==
              SS_OK);
        CHECK(e.n_reasons == 2 && e.n_metrics == 0);
        if (e.n_reasons == 2) {
                CHECK(str_eq(e.reasons[0].metric, "a") && e.reasons[0].value == 1.0 &&
                      e.reasons[0].threshold == 2.0 && !e.reasons[0].has_critical_value);
                CHECK(str_eq(e.reasons[1].metric, "b") && e.reasons[1].value == 3.0 &&
                      e.reasons[1].has_critical_value && e.reasons[1].critical_value == 5.0);
                CHECK(str_eq(e.reasons[1].family, "f") && str_eq(e.reasons[1].statistic, "s") &&
                      e.reasons[1].window_n == 10 && e.reasons[1].reference_n == 3);
        }
        CHECK(e.window_start == 1 && e.window_end == 2 && e.triggered_at == 3);
        /* an array count the message cannot hold is refused before any allocation */
        static const uint8_t huge[] = {0,    0,   0,    0,    4,    0x02, 'e',  0x02, 'm',
                                       0x02, 'v', 0xfe, 0xff, 0xff, 0xff, 0x0f, /* count 2^31 - 1 */
                                       0x00};
        CHECK(ss_serde_retrain_event_decode(serde, huge, sizeof(huge), &e, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(has(err, "'reasons' at offset 11") && has(err, "cannot fit"));
        ss_retrain_event_clear(&e);
}

static void test_roundtrip_model_update(void)
{
        ss_serde_buf_t buf = {0};
        ss_model_update_t out = {0};
        for (int full = 0; full < 2; full++) {
                ss_model_update_t in = model_update_fixture(full);
                ss_serde_buf_reset(&buf);
                CHECK(ss_serde_model_update_encode(serde, &in, &buf, err, sizeof(err)) == SS_OK);
                CHECK(buf.len > SS_SERDE_HEADER_SIZE && buf.data[4] == 5);
                CHECK(ss_serde_model_update_decode(serde, buf.data, buf.len, &out, err,
                                                   sizeof(err)) == SS_OK);
                CHECK(str_eq(out.model_name, "sentiment-logreg") && str_eq(out.version, "7"));
                CHECK(str_eq(out.alias, "champion") &&
                      str_eq(out.uri, "models:/sentiment-logreg/7"));
                CHECK(str_eq(out.sha256, in.sha256.ptr) &&
                      str_eq(out.model_version, "logreg-20261207T053000Z-1a2b3c4d"));
                CHECK(str_eq(out.reason, full ? "retrain" : "rollback"));
                CHECK(full ? str_eq(out.event_id, in.event_id.ptr) : out.event_id.ptr == NULL);
                CHECK(out.updated_at_ms == in.updated_at_ms);
                CHECK(out.n_metrics == in.n_metrics);
                for (size_t i = 0; i < out.n_metrics && i < in.n_metrics; i++)
                        CHECK(str_eq(out.metrics[i].name, in.metrics[i].name.ptr) &&
                              out.metrics[i].value == in.metrics[i].value);
        }
        /* another schema id is refused, naming the key */
        CHECK(ss_serde_model_update_decode(serde, buf.data, buf.len, &out, err, sizeof(err)) ==
              SS_OK);
        buf.data[4] = 4;
        CHECK(ss_serde_model_update_decode(serde, buf.data, buf.len, &out, err, sizeof(err)) ==
              SS_ERR_UNSUPPORTED);
        CHECK(has(err, "serde.schema_id.model_update"));
        ss_model_update_t bad = model_update_fixture(0);
        bad.n_metrics = 2;
        CHECK(ss_serde_model_update_encode(serde, &bad, &buf, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        CHECK(has(err, "metrics"));
        bad = model_update_fixture(0);
        bad.uri = (ss_str_t){NULL, 3};
        CHECK(ss_serde_model_update_encode(serde, &bad, &buf, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        CHECK(has(err, "'uri'"));
        ss_model_update_clear(&out);
        ss_serde_buf_free(&buf);
}

/* A ModelUpdate whose metrics map uses the negative-count block form and two blocks, and
 * maps whose counts or strings the message cannot hold. */
static void test_model_update_blocks(void)
{
        static const uint8_t msg[] = {
            0,    0,    0,    0,   5, /* header, schema id 5 */
            0x02, 'm',  0x02, 'v',    /* model_name "m", version "v" */
            0x02, 'a',  0x02, 'u',    /* alias "a", uri "u" */
            0x02, 's',  0x02, 'x',    /* sha256 "s", model_version "x" */
            0x01, 0x14,               /* metrics: count -1 (zigzag 1), block size 10 */
            0x02, 'p',  0,    0,   0, 0, 0, 0, 0xf0, 0x3f, /* "p": 1.0 */
            0x02,                                          /* next block: count 1 */
            0x02, 'q',  0,    0,   0, 0, 0, 0, 0,    0x40, /* "q": 2.0 */
            0x00,                                          /* end of map */
            0x02, 'r',                                     /* reason "r" */
            0x00,                                          /* event_id null */
            0x06,                                          /* updated_at 3 */
        };
        ss_model_update_t u = {0};
        CHECK(ss_serde_model_update_decode(serde, msg, sizeof(msg), &u, err, sizeof(err)) == SS_OK);
        CHECK(u.n_metrics == 2);
        if (u.n_metrics == 2)
                CHECK(str_eq(u.metrics[0].name, "p") && u.metrics[0].value == 1.0 &&
                      str_eq(u.metrics[1].name, "q") && u.metrics[1].value == 2.0);
        CHECK(str_eq(u.reason, "r") && u.event_id.ptr == NULL && u.updated_at_ms == 3);
        /* a map count the message cannot hold is refused before any allocation */
        uint8_t huge[sizeof(msg)];
        memcpy(huge, msg, sizeof(msg));
        huge[17] = 0x7e; /* count 63: 567 bytes at least */
        CHECK(ss_serde_model_update_decode(serde, huge, sizeof(huge), &u, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(has(err, "'metrics' at offset 17") && has(err, "cannot fit"));
        /* a union index other than 0 or 1 for event_id */
        memcpy(huge, msg, sizeof(msg));
        huge[sizeof(msg) - 2] = 0x04;
        CHECK(ss_serde_model_update_decode(serde, huge, sizeof(huge), &u, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(has(err, "'event_id'") && has(err, "union index 2"));
        /* every truncation is an error, never a crash */
        int all = 1;
        for (size_t n = 0; n < sizeof(msg); n++)
                all &= ss_serde_model_update_decode(serde, msg, n, &u, err, sizeof(err)) != SS_OK;
        CHECK(all);
        ss_model_update_clear(&u);
}

/* ---- golden bytes (worked out by hand from the Avro 1.11 spec) ------------------------ */

static void test_golden(void)
{
        /*
         * Prediction {tweet_id "42", label positive, probs 0.25/0.25/0.5, model_name "m",
         * model_version "v1", created_at 1700000000000, scored_at 1700000000123,
         * input_stats {n_tokens 300, unk_share 0.125, url yes, mention no, emoji yes}}
         *   string: zigzag(len) varint + bytes: "42" -> 04 34 32
         *   enum index 2 -> zigzag 4 -> 04
         *   float: IEEE 754 little-endian: 0.25 = 0x3e800000 -> 00 00 80 3e; 0.5 -> 00 00 00 3f
         *   long 1700000000000: zigzag 3400000000000 = 0x317a_fe56_a000 -> 7-bit groups
         *     low first: 00 20 2b 7e 79 62 -> with continuation bits 80 a0 ab fe f9 62
         *   long 1700000000123: zigzag 3400000000246 -> f6 a1 ab fe f9 62
         *   union branch 1 -> 02; int 300 -> zigzag 600 = 0x258 -> d8 04
         *   booleans: one byte 01 / 00
         */
        static const uint8_t want[] = {
            0x00, 0x00, 0x00, 0x00, 0x02,                   /* magic, schema id 2 */
            0x04, 0x34, 0x32,                               /* tweet_id */
            0x04,                                           /* label */
            0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0x3e, /* prob_negative, _neutral */
            0x00, 0x00, 0x00, 0x3f,                         /* prob_positive */
            0x02, 0x6d,                                     /* model_name */
            0x04, 0x76, 0x31,                               /* model_version */
            0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62,             /* created_at */
            0xf6, 0xa1, 0xab, 0xfe, 0xf9, 0x62,             /* scored_at */
            0x02,                                           /* input_stats: branch 1 */
            0xd8, 0x04, 0x00, 0x00, 0x00, 0x3e,             /* n_tokens, unk_share */
            0x01, 0x00, 0x01,                               /* url, mention, emoji */
        };
        ss_prediction_t p = {0};
        p.tweet_id = ss_str_c("42");
        p.label = SS_LABEL_POSITIVE;
        p.probs[0] = 0.25f, p.probs[1] = 0.25f, p.probs[2] = 0.5f;
        p.model_name = ss_str_c("m");
        p.model_version = ss_str_c("v1");
        p.created_at = 1700000000000LL;
        p.scored_at = 1700000000123LL;
        p.has_input_stats = true;
        p.input_stats = (ss_input_stats_t){300, 0.125f, 1, 0, 1};
        ss_serde_buf_t buf = {0};
        CHECK(ss_serde_prediction_encode(serde, &p, &buf, err, sizeof(err)) == SS_OK);
        CHECK(buf.len == sizeof(want) && !memcmp(buf.data, want, sizeof(want)));
        if (buf.len != sizeof(want) || memcmp(buf.data, want, sizeof(want))) {
                fprintf(stderr, "  got:");
                for (size_t i = 0; i < buf.len; i++)
                        fprintf(stderr, " %02x", buf.data[i]);
                fprintf(stderr, "\n");
        }
        ss_prediction_t q = {0};
        CHECK(ss_serde_prediction_decode(serde, want, sizeof(want), &q, err, sizeof(err)) == SS_OK);
        check_prediction_eq(&p, &q);
        ss_prediction_clear(&q);

        /* Tweet {id "7", text "é" (c3 a9), created_at -1 (zigzag 1), lang null, user "u"} */
        static const uint8_t want_t[] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x37, 0x04,
                                         0xc3, 0xa9, 0x01, 0x00, 0x02, 0x02, 0x75};
        ss_tweet_t t = {0};
        t.id = ss_str_c("7");
        t.text = ss_str_c("\xc3\xa9");
        t.created_at = -1;
        t.user = ss_str_c("u");
        ss_serde_buf_reset(&buf);
        CHECK(ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err)) == SS_OK);
        CHECK(buf.len == sizeof(want_t) && !memcmp(buf.data, want_t, sizeof(want_t)));
        ss_serde_buf_free(&buf);
}

/* ---- avro-c reads what we write ------------------------------------------------------- */

static avro_schema_t load_schema(const char *file)
{
        char rel[128], path[4096];
        snprintf(rel, sizeof(rel), "schemas/%s", file);
        ss_test_src_path(rel, path, sizeof(path));
        char *json = NULL;
        size_t len = 0;
        avro_schema_t s = NULL;
        if (ss_file_read_all(path, &json, &len, err, sizeof(err)) == SS_OK)
                avro_schema_from_json_length(json, len, &s);
        free(json);
        return s;
}

/* Reads the body of a framed message with avro-c into a fresh generic value of schema s;
 * returns 0 and the value, checking that the body was consumed exactly. */
static int avro_c_read(avro_schema_t s, const ss_serde_buf_t *buf, avro_value_iface_t **iface,
                       avro_value_t *v)
{
        *iface = avro_generic_class_from_schema(s);
        if (!*iface || avro_generic_value_new(*iface, v))
                return -1;
        avro_reader_t r = avro_reader_memory((const char *)buf->data + SS_SERDE_HEADER_SIZE,
                                             (int64_t)(buf->len - SS_SERDE_HEADER_SIZE));
        int rc = avro_value_read(r, v);
        char extra;
        /* avro_reader_is_eof() only works for file readers: try to read one more byte */
        if (rc == 0 && avro_read(r, &extra, 1) == 0)
                rc = -2; /* bytes left over */
        avro_reader_free(r);
        return rc;
}

static int64_t av_long(avro_value_t *rec, const char *name)
{
        avro_value_t f;
        int64_t x = 0;
        if (avro_value_get_by_name(rec, name, &f, NULL) == 0)
                avro_value_get_long(&f, &x);
        return x;
}

static int av_str_eq(avro_value_t *rec, const char *name, ss_str_t want)
{
        avro_value_t f;
        const char *s = NULL;
        size_t n = 0;
        if (avro_value_get_by_name(rec, name, &f, NULL))
                return 0;
        if (avro_value_get_type(&f) == AVRO_UNION) {
                int disc = -1;
                avro_value_get_discriminant(&f, &disc);
                if (disc == 0)
                        return want.ptr == NULL;
                avro_value_t br;
                avro_value_get_current_branch(&f, &br);
                f = br;
        }
        if (avro_value_get_type(&f) == AVRO_BYTES) {
                const void *b = NULL;
                avro_value_get_bytes(&f, &b, &n);
                return want.ptr && n == want.len && (!n || !memcmp(b, want.ptr, n));
        }
        avro_value_get_string(&f, &s, &n); /* n counts the NUL */
        return want.ptr && n == want.len + 1 && !memcmp(s, want.ptr, want.len);
}

static void test_avro_c_reads_ours(void)
{
        ss_serde_buf_t buf = {0};
        avro_value_iface_t *iface;
        avro_value_t v, f, br;

        avro_schema_t st = load_schema("tweet.avsc");
        CHECK(st != NULL);
        for (int opt = 0; opt < 2 && st; opt++) {
                ss_tweet_t t = tweet_fixture(opt);
                ss_serde_buf_reset(&buf);
                ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err));
                CHECK(avro_c_read(st, &buf, &iface, &v) == 0);
                CHECK(av_str_eq(&v, "id", t.id) && av_str_eq(&v, "text", t.text));
                CHECK(av_long(&v, "created_at") == t.created_at);
                CHECK(av_str_eq(&v, "lang", t.lang) && av_str_eq(&v, "user", t.user));
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
        }
        avro_schema_decref(st);

        avro_schema_t sp = load_schema("prediction.avsc");
        CHECK(sp != NULL);
        for (int stt = 0; stt < 2 && sp; stt++) {
                ss_prediction_t p = prediction_fixture(stt);
                ss_serde_buf_reset(&buf);
                ss_serde_prediction_encode(serde, &p, &buf, err, sizeof(err));
                CHECK(avro_c_read(sp, &buf, &iface, &v) == 0);
                CHECK(av_str_eq(&v, "tweet_id", p.tweet_id));
                int sym = -1;
                avro_value_get_by_name(&v, "label", &f, NULL);
                avro_value_get_enum(&f, &sym);
                CHECK(sym == p.label);
                float pf = -1;
                avro_value_get_by_name(&v, "prob_neutral", &f, NULL);
                avro_value_get_float(&f, &pf);
                CHECK(pf == p.probs[1]);
                CHECK(av_str_eq(&v, "model_version", p.model_version));
                CHECK(av_long(&v, "created_at") == p.created_at);
                CHECK(av_long(&v, "scored_at") == p.scored_at);
                int disc = -1;
                avro_value_get_by_name(&v, "input_stats", &f, NULL);
                avro_value_get_discriminant(&f, &disc);
                CHECK(disc == stt);
                if (disc == 1) {
                        int32_t nt = -1;
                        int b = -1;
                        avro_value_get_current_branch(&f, &br);
                        avro_value_get_by_name(&br, "n_tokens", &f, NULL);
                        avro_value_get_int(&f, &nt);
                        CHECK(nt == p.input_stats.n_tokens);
                        avro_value_get_by_name(&br, "has_emoji", &f, NULL);
                        avro_value_get_boolean(&f, &b);
                        CHECK(b == 1);
                }
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
        }
        avro_schema_decref(sp);

        avro_schema_t sd = load_schema("dead_letter.avsc");
        CHECK(sd != NULL);
        for (int k = 0; k < 2 && sd; k++) {
                ss_dead_letter_t d = dead_letter_fixture(k);
                ss_serde_buf_reset(&buf);
                ss_serde_dead_letter_encode(serde, &d, &buf, err, sizeof(err));
                CHECK(avro_c_read(sd, &buf, &iface, &v) == 0);
                CHECK(av_str_eq(&v, "source_topic", d.source_topic));
                CHECK(av_str_eq(&v, "raw_key", d.raw_key) &&
                      av_str_eq(&v, "raw_value", d.raw_value));
                CHECK(av_long(&v, "offset") == d.offset && av_long(&v, "failed_at") == d.failed_at);
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
        }
        avro_schema_decref(sd);

        avro_schema_t sr = load_schema("retrain_event.avsc");
        CHECK(sr != NULL);
        if (sr) {
                ss_retrain_event_t e = retrain_fixture(2, 3);
                ss_serde_buf_reset(&buf);
                ss_serde_retrain_event_encode(serde, &e, &buf, err, sizeof(err));
                CHECK(avro_c_read(sr, &buf, &iface, &v) == 0);
                CHECK(av_str_eq(&v, "event_id", e.event_id));
                size_t n = 0;
                avro_value_get_by_name(&v, "metrics", &f, NULL);
                avro_value_get_size(&f, &n);
                CHECK(n == 3);
                avro_value_get_by_name(&v, "reasons", &f, NULL);
                avro_value_get_size(&f, &n);
                CHECK(n == 2);
                if (n == 2) {
                        avro_value_get_by_index(&f, 1, &br, NULL);
                        double cv = 0;
                        avro_value_t u, ub;
                        avro_value_get_by_name(&br, "critical_value", &u, NULL);
                        avro_value_get_current_branch(&u, &ub);
                        avro_value_get_double(&ub, &cv);
                        CHECK(cv == 0.05);
                }
                CHECK(av_long(&v, "triggered_at") == e.triggered_at);
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
                avro_schema_decref(sr);
        }

        avro_schema_t su = load_schema("model_update.avsc");
        CHECK(su != NULL);
        for (int full = 0; full < 2 && su; full++) {
                ss_model_update_t u = model_update_fixture(full);
                ss_serde_buf_reset(&buf);
                ss_serde_model_update_encode(serde, &u, &buf, err, sizeof(err));
                CHECK(avro_c_read(su, &buf, &iface, &v) == 0);
                CHECK(av_str_eq(&v, "uri", u.uri) && av_str_eq(&v, "event_id", u.event_id));
                CHECK(av_long(&v, "updated_at") == u.updated_at_ms);
                size_t n = 0;
                avro_value_get_by_name(&v, "metrics", &f, NULL);
                avro_value_get_size(&f, &n);
                CHECK(n == u.n_metrics);
                if (full) {
                        double d = 0;
                        CHECK(avro_value_get_by_name(&f, "reference_avgrec", &br, NULL) == 0);
                        avro_value_get_double(&br, &d);
                        CHECK(d == 0.625);
                }
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
        }
        if (su)
                avro_schema_decref(su);
        ss_serde_buf_free(&buf);
}

/* ---- malformed input ------------------------------------------------------------------ */

static ss_err_t dec_tweet(const void *b, size_t n)
{
        ss_tweet_t t = {0};
        err[0] = 0;
        ss_err_t e = ss_serde_tweet_decode(serde, b, n, &t, err, sizeof(err));
        ss_tweet_clear(&t);
        return e;
}

/* Encodes a tweet with the given text (and id) into buf. */
static void enc_tweet_text(ss_serde_buf_t *buf, const char *id, const char *text, size_t len)
{
        ss_tweet_t t = tweet_fixture(0);
        t.id = ss_str_c(id);
        t.text = (ss_str_t){text, len};
        ss_serde_buf_reset(buf);
        ss_serde_tweet_encode(serde, &t, buf, err, sizeof(err));
}

static void test_malformed_framing(void)
{
        ss_serde_buf_t buf = {0};
        enc_tweet_text(&buf, "1", "hello", 5);

        CHECK(dec_tweet(buf.data, 0) == SS_ERR_DECODE && has(err, "shorter"));
        CHECK(dec_tweet(buf.data, 4) == SS_ERR_DECODE && has(err, "4 bytes"));
        buf.data[0] = 0x7b; /* '{': someone sent JSON to the Avro topic */
        CHECK(dec_tweet(buf.data, buf.len) == SS_ERR_DECODE && has(err, "magic byte 0x7b"));
        buf.data[0] = 0;
        buf.data[4] = 99;
        CHECK(dec_tweet(buf.data, buf.len) == SS_ERR_UNSUPPORTED && has(err, "schema id 99"));
        buf.data[1] = 0x80; /* id 2^31 + 99: bigger than any int32 id */
        CHECK(dec_tweet(buf.data, buf.len) == SS_ERR_UNSUPPORTED);
        buf.data[1] = 0;
        buf.data[4] = 1;
        CHECK(dec_tweet(buf.data, buf.len) == SS_OK);

        /* a Prediction on the tweet topic: right framing, other schema id */
        ss_prediction_t p = prediction_fixture(1);
        ss_serde_buf_t pb = {0};
        ss_serde_prediction_encode(serde, &p, &pb, err, sizeof(err));
        CHECK(dec_tweet(pb.data, pb.len) == SS_ERR_UNSUPPORTED && has(err, "schema id 2"));
        int32_t id = -1;
        CHECK(ss_serde_schema_id_peek(pb.data, pb.len, &id, err, sizeof(err)) == SS_OK && id == 2);
        CHECK(ss_serde_schema_id_peek(pb.data, 3, &id, err, sizeof(err)) == SS_ERR_DECODE);
        ss_serde_buf_free(&pb);

        /* trailing byte */
        uint8_t *longer = malloc(buf.len + 1);
        memcpy(longer, buf.data, buf.len);
        longer[buf.len] = 0;
        CHECK(dec_tweet(longer, buf.len + 1) == SS_ERR_DECODE && has(err, "1 trailing byte"));
        free(longer);

        /* every truncation of a valid message is an error, never a crash or an OK */
        ss_tweet_t t = tweet_fixture(1);
        ss_serde_buf_reset(&buf);
        ss_serde_tweet_encode(serde, &t, &buf, err, sizeof(err));
        int all = 1;
        for (size_t n = 0; n < buf.len; n++) {
                ss_err_t e = dec_tweet(buf.data, n);
                all &= e == SS_ERR_DECODE;
        }
        CHECK(all);
        ss_serde_buf_free(&buf);
}

static void test_malformed_body(void)
{
        /* hand-made bodies after a valid header (schema id 1) */
        struct {
                const char *name;
                uint8_t body[24];
                size_t n;
                ss_err_t want;
                const char *msg;
        } cases[] = {
            {"negative string length", {0x01}, 1, SS_ERR_DECODE, "'id' at offset 5: negative"},
            {"length past end",
             {0x02, '1', 0x14, 'a'},
             4,
             SS_ERR_DECODE,
             "'text' at offset 7: length 10 runs past the end (1 bytes left)"},
            {"huge length",
             {0x02, '1', 0x80, 0x80, 0x80, 0x80, 0x80, 0x20},
             8,
             SS_ERR_DECODE,
             "runs past the end"},
            {"varint too long",
             {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
             11,
             SS_ERR_DECODE,
             "'id' at offset 5: varint"},
            {"truncated varint",
             {0x02, '1', 0x02, 'x', 0x80},
             5,
             SS_ERR_DECODE,
             "'created_at' at offset 9: truncated varint"},
            {"union index 2",
             {0x02, '1', 0x02, 'x', 0x00, 0x04},
             6,
             SS_ERR_DECODE,
             "'lang' at offset 10: union index 2"},
            {"union index -1",
             {0x02, '1', 0x02, 'x', 0x00, 0x00, 0x01},
             7,
             SS_ERR_DECODE,
             "'user' at offset 11: union index -1"},
            {"empty text",
             {0x02, '1', 0x00, 0x00, 0x00, 0x00},
             6,
             SS_ERR_EMPTY,
             "'text' is missing or empty"},
            {"empty id",
             {0x00, 0x02, 'x', 0x00, 0x00, 0x00},
             6,
             SS_ERR_EMPTY,
             "'id' is missing or empty"},
            {"invalid UTF-8 in text",
             {0x02, '1', 0x06, 'a', 'b', 0xff, 0x00, 0x00, 0x00},
             9,
             SS_ERR_UTF8,
             "'text': invalid UTF-8 at byte 2 of the text (message offset 10)"},
            {"overlong in text",
             {0x02, '1', 0x04, 0xc0, 0xaf, 0x00, 0x00, 0x00},
             8,
             SS_ERR_UTF8,
             "byte 0 of the text (message offset 8)"},
            {"invalid UTF-8 in id",
             {0x02, 0xfe, 0x02, 'x', 0x00, 0x00, 0x00},
             7,
             SS_ERR_UTF8,
             "'id': invalid UTF-8 at byte 0"},
            {"invalid UTF-8 in user",
             {0x02, '1', 0x02, 'x', 0x00, 0x00, 0x02, 0x02, 0xed},
             9,
             SS_ERR_UTF8,
             "'user'"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                uint8_t msg[64] = {0, 0, 0, 0, 1};
                memcpy(msg + 5, cases[i].body, cases[i].n);
                ss_err_t e = dec_tweet(msg, 5 + cases[i].n);
                if (e != cases[i].want || !strstr(err, cases[i].msg))
                        fprintf(stderr, "  case '%s': got %s \"%s\"\n", cases[i].name,
                                ss_err2name(e), err);
                CHECK(e == cases[i].want);
                CHECK(has(err, cases[i].msg));
        }

        /* size limit: exactly at the limit passes, one more byte is refused */
        ss_serde_buf_t buf = {0};
        char *big = malloc(MAX_TEXT + 1);
        memset(big, 'a', MAX_TEXT + 1);
        enc_tweet_text(&buf, "1", big, MAX_TEXT);
        CHECK(dec_tweet(buf.data, buf.len) == SS_OK);
        enc_tweet_text(&buf, "1", big, MAX_TEXT + 1);
        CHECK(dec_tweet(buf.data, buf.len) == SS_ERR_TOO_LARGE);
        CHECK(has(err, "1001 bytes, over the limit of 1000"));
        free(big);

        /* a UTF-8 error in the text is reported at its message offset */
        static const char bad_text[] = "ok \xe2\x82 cut";
        enc_tweet_text(&buf, "1", bad_text, sizeof(bad_text) - 1);
        size_t at = 0;
        while (at + 1 < buf.len && !(buf.data[at] == 0xe2 && buf.data[at + 1] == 0x82))
                at++;
        char want[96];
        snprintf(want, sizeof(want), "byte 3 of the text (message offset %zu)", at);
        CHECK(dec_tweet(buf.data, buf.len) == SS_ERR_UTF8 && has(err, want));

        /* Prediction: enum index and boolean out of range */
        ss_prediction_t p = prediction_fixture(1), q = {0};
        ss_serde_buf_reset(&buf);
        ss_serde_prediction_encode(serde, &p, &buf, err, sizeof(err));
        size_t label_off = 5 + 1 + p.tweet_id.len;
        buf.data[label_off] = 0x06; /* index 3 */
        CHECK(ss_serde_prediction_decode(serde, buf.data, buf.len, &q, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(has(err, "'label'") && has(err, "index 3"));
        buf.data[label_off] = 0x02;
        buf.data[buf.len - 1] = 2; /* has_emoji */
        CHECK(ss_serde_prediction_decode(serde, buf.data, buf.len, &q, err, sizeof(err)) ==
              SS_ERR_DECODE);
        CHECK(has(err, "input_stats.has_emoji") && has(err, "neither 0 nor 1"));
        buf.data[buf.len - 1] = 1;
        CHECK(ss_serde_prediction_decode(serde, buf.data, buf.len, &q, err, sizeof(err)) == SS_OK);
        ss_prediction_clear(&q);
        ss_serde_buf_free(&buf);
}

/* xorshift64*: deterministic mutations */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

/* Random byte flips, insertions and cuts of valid messages of every record: each decode
 * returns a code from the documented set; ASan/UBSan catch any out-of-bounds access. */
static void test_mutations(void)
{
        ss_serde_buf_t src[5] = {{0}};
        ss_tweet_t t = tweet_fixture(1);
        ss_prediction_t p = prediction_fixture(1);
        ss_dead_letter_t d = dead_letter_fixture(1);
        ss_retrain_event_t e = retrain_fixture(2, 3);
        ss_model_update_t u = model_update_fixture(1);
        ss_serde_tweet_encode(serde, &t, &src[0], err, sizeof(err));
        ss_serde_prediction_encode(serde, &p, &src[1], err, sizeof(err));
        ss_serde_dead_letter_encode(serde, &d, &src[2], err, sizeof(err));
        ss_serde_retrain_event_encode(serde, &e, &src[3], err, sizeof(err));
        ss_serde_model_update_encode(serde, &u, &src[4], err, sizeof(err));

        ss_tweet_t ot = {0};
        ss_prediction_t op = {0};
        ss_dead_letter_t od = {0};
        ss_retrain_event_t oe = {0};
        ss_model_update_t ou = {0};
        uint8_t m[512];
        int ok_codes = 1, n_ok = 0, n_err = 0;
        for (int it = 0; it < 50000; it++) {
                int k = it % 5;
                size_t n = src[k].len;
                memcpy(m, src[k].data, n);
                int flips = 1 + (int)(rng() % 4);
                for (int f = 0; f < flips; f++) {
                        size_t at = SS_SERDE_HEADER_SIZE + rng() % (n - SS_SERDE_HEADER_SIZE);
                        switch (rng() % 4) {
                        case 0:
                                m[at] = (uint8_t)rng();
                                break;
                        case 1:
                                m[at] ^= (uint8_t)(1u << (rng() % 8));
                                break;
                        case 2:
                                n = at;
                                break; /* cut */
                        default:       /* insert a byte */
                                if (n < sizeof(m)) {
                                        memmove(m + at + 1, m + at, n - at);
                                        m[at] = (uint8_t)rng();
                                        n++;
                                }
                        }
                        if (n <= SS_SERDE_HEADER_SIZE)
                                break;
                }
                ss_err_t r;
                switch (k) {
                case 0:
                        r = ss_serde_tweet_decode(serde, m, n, &ot, err, sizeof(err));
                        break;
                case 1:
                        r = ss_serde_prediction_decode(serde, m, n, &op, err, sizeof(err));
                        break;
                case 2:
                        r = ss_serde_dead_letter_decode(serde, m, n, &od, err, sizeof(err));
                        break;
                case 3:
                        r = ss_serde_retrain_event_decode(serde, m, n, &oe, err, sizeof(err));
                        break;
                default:
                        r = ss_serde_model_update_decode(serde, m, n, &ou, err, sizeof(err));
                }
                if (r == SS_OK)
                        n_ok++;
                else
                        n_err++;
                ok_codes &= r == SS_OK || r == SS_ERR_DECODE || r == SS_ERR_UTF8 ||
                            r == SS_ERR_EMPTY || r == SS_ERR_TOO_LARGE;
                if (r != SS_OK)
                        ok_codes &= err[0] != 0;
        }
        CHECK(ok_codes);
        CHECK(n_err > 25000); /* most mutations must be caught */
        printf("mutations: %d decoded, %d refused\n", n_ok, n_err);
        ss_tweet_clear(&ot);
        ss_prediction_clear(&op);
        ss_dead_letter_clear(&od);
        ss_retrain_event_clear(&oe);
        ss_model_update_clear(&ou);
        for (int k = 0; k < 5; k++)
                ss_serde_buf_free(&src[k]);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static ss_err_t dec_json(const char *js, ss_tweet_t *t)
{
        err[0] = 0;
        return ss_serde_tweet_decode_json(serde, js, strlen(js), 4242, t, err, sizeof(err));
}

static void test_json(void)
{
        ss_tweet_t t = {0};
        CHECK(dec_json("{\"id\": \"17\", \"text\": \"caf\\u00e9 \\ud83d\\ude00 \xe6\x97\xa5\", "
                       "\"created_at\": 1795591900123, \"lang\": \"en\", \"user\": null, "
                       "\"extra\": [1, 2]}\n",
                       &t) == SS_OK);
        CHECK(str_eq(t.id, "17"));
        CHECK(str_eq(t.text, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5"));
        CHECK(t.created_at == 1795591900123LL);
        CHECK(str_eq(t.lang, "en") && t.user.ptr == NULL);

        CHECK(dec_json("{\"id\":\"1\",\"text\":\"x\"}", &t) == SS_OK);
        CHECK(t.created_at == 4242 && !t.lang.ptr && !t.user.ptr);
        /* "\\u0000" is an escaped backslash followed by the text u0000: allowed */
        CHECK(dec_json("{\"id\":\"1\",\"text\":\"a\\\\u0000\"}", &t) == SS_OK);
        CHECK(str_eq(t.text, "a\\u0000"));

        struct {
                const char *js;
                ss_err_t want;
                const char *msg;
        } cases[] = {
            {"", SS_ERR_DECODE, "empty"},
            {"{\"id\":\"1\",\"text\":", SS_ERR_DECODE, "not valid JSON"},
            {"[1,2]", SS_ERR_DECODE, "not a JSON object"},
            {"{\"id\":\"1\",\"text\":\"x\"} {}", SS_ERR_DECODE, "2 trailing bytes"},
            {"{\"id\":17,\"text\":\"x\"}", SS_ERR_DECODE, "'id' must be a string"},
            {"{\"text\":\"x\"}", SS_ERR_EMPTY, "'id' is missing"},
            {"{\"id\":\"1\"}", SS_ERR_EMPTY, "'text' is missing"},
            {"{\"id\":\"1\",\"text\":\"\"}", SS_ERR_EMPTY, "'text' is missing or empty"},
            {"{\"id\":\"1\",\"text\":null}", SS_ERR_EMPTY, "'text'"},
            {"{\"id\":\"1\",\"text\":[\"x\"]}", SS_ERR_DECODE, "'text' must be a string"},
            {"{\"id\":\"1\",\"text\":\"a\\u0000b\"}", SS_ERR_DECODE, "\\u0000"},
            {"{\"id\":\"1\",\"text\":\"a\xff\"}", SS_ERR_UTF8, "'text': invalid UTF-8 at byte 1"},
            {"{\"id\":\"1\",\"text\":\"a\xed\xa0\x80\"}", SS_ERR_UTF8, "'text'"},
            {"{\"id\":\"1\",\"text\":\"x\",\"created_at\":1.5}", SS_ERR_DECODE, "created_at"},
            {"{\"id\":\"1\",\"text\":\"x\",\"created_at\":\"1\"}", SS_ERR_DECODE, "created_at"},
            {"{\"id\":\"1\",\"text\":\"x\",\"created_at\":1e300}", SS_ERR_DECODE, "created_at"},
            {"{\"id\":\"1\",\"text\":\"x\",\"lang\":5}", SS_ERR_DECODE, "'lang' must be"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ss_err_t e = dec_json(cases[i].js, &t);
                if (e != cases[i].want)
                        fprintf(stderr, "  json case %zu (%s): got %s \"%s\"\n", i, cases[i].js,
                                ss_err2name(e), err);
                CHECK(e == cases[i].want);
                CHECK(has(err, cases[i].msg));
        }
        /* a raw NUL byte inside the message */
        static const char nul_js[] = "{\"id\":\"1\",\"text\":\"a\0b\"}";
        CHECK(ss_serde_tweet_decode_json(serde, nul_js, sizeof(nul_js) - 1, 0, &t, err,
                                         sizeof(err)) == SS_ERR_DECODE);
        CHECK(has(err, "raw byte) at offset 19"));
        /* text over the limit */
        char *big = malloc(MAX_TEXT + 64);
        int n = snprintf(big, MAX_TEXT + 64, "{\"id\":\"1\",\"text\":\"");
        memset(big + n, 'a', MAX_TEXT + 1);
        strcpy(big + n + MAX_TEXT + 1, "\"}");
        CHECK(dec_json(big, &t) == SS_ERR_TOO_LARGE && has(err, "1001 bytes"));
        big[n + MAX_TEXT] = '"';
        strcpy(big + n + MAX_TEXT + 1, "}");
        CHECK(dec_json(big, &t) == SS_OK && t.text.len == MAX_TEXT);
        free(big);
        /* deep nesting is refused by cJSON's limit, not by the stack */
        char *deep = malloc(20000);
        memset(deep, '[', 19999);
        deep[19999] = 0;
        CHECK(dec_json(deep, &t) == SS_ERR_DECODE);
        free(deep);
        ss_tweet_clear(&t);
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

static void test_utf8(void)
{
        struct {
                const char *s;
                size_t bad; /* SIZE_MAX: valid */
        } cases[] = {
            {"plain ascii text that is longer than eight bytes", SIZE_MAX},
            {"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", SIZE_MAX},
            {"\xf4\x8f\xbf\xbf", SIZE_MAX}, /* U+10FFFF */
            {"\xed\x9f\xbf", SIZE_MAX},     /* U+D7FF */
            {"\xee\x80\x80", SIZE_MAX},     /* U+E000 */
            {"\xf4\x90\x80\x80", 0},        /* above U+10FFFF */
            {"\xc0\xaf", 0},                /* overlong '/' */
            {"\xc1\xbf", 0},                /* overlong */
            {"\xe0\x80\xaf", 0},            /* overlong 3-byte */
            {"\xf0\x80\x80\xaf", 0},        /* overlong 4-byte */
            {"\xed\xa0\x80", 0},            /* surrogate U+D800 */
            {"abc\x80", 3},                 /* lone continuation */
            {"abcdefghij\xe2\x82", 10},     /* truncated after the ASCII fast path */
            {"abcdefgh\xff", 8},
            {"\xe2\x28\xa1", 0}, /* bad continuation */
            {"ok \xf5\x80\x80\x80", 3},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = strlen(cases[i].s);
                size_t want = cases[i].bad == SIZE_MAX ? n : cases[i].bad;
                size_t got = ss_serde_utf8_first_invalid(cases[i].s, n);
                if (got != want)
                        fprintf(stderr, "  utf8 case %zu: got %zu want %zu\n", i, got, want);
                CHECK(got == want);
                CHECK(ss_serde_utf8_valid(cases[i].s, n) == (cases[i].bad == SIZE_MAX));
        }
        CHECK(ss_serde_utf8_valid("", 0));
        CHECK(ss_serde_utf8_valid("a\0b", 3)); /* U+0000 is valid UTF-8 */
}

/* ---- schema files --------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void test_schema_load(void)
{
        char dir[4096];
        ss_test_src_path("schemas", dir, sizeof(dir));
        ss_serde_ids_t ids = IDS_INIT;

        ids.prediction = 1;
        CHECK(ss_serde_new(dir, &ids, 0, err, sizeof(err)) == NULL);
        CHECK(has(err, "serde.schema_id.tweet and serde.schema_id.prediction are both 1"));
        ids = (ss_serde_ids_t)IDS_INIT;
        ids.dead_letter = -3;
        CHECK(ss_serde_new(dir, &ids, 0, err, sizeof(err)) == NULL);
        CHECK(has(err, "serde.schema_id.dead_letter"));
        ids = (ss_serde_ids_t)IDS_INIT;
        CHECK(ss_serde_new("/nonexistent-schema-dir", &ids, 0, err, sizeof(err)) == NULL);
        CHECK(has(err, "/nonexistent-schema-dir/tweet.avsc"));

        /* a copy of the schemas with one field retyped must be refused, naming file and place */
        const char *bin = getenv("SS_BINARY_DIR");
        char tmp[4096], path[4200], src[4200];
        snprintf(tmp, sizeof(tmp), "%s/test_serde_schemas", bin ? bin : ".");
        mkdir(tmp, 0755);
        const char *files[] = {"tweet.avsc", "prediction.avsc", "dead_letter.avsc",
                               "retrain_event.avsc", "model_update.avsc"};
        for (int i = 0; i < 5; i++) {
                snprintf(src, sizeof(src), "%s/%s", dir, files[i]);
                snprintf(path, sizeof(path), "%s/%s", tmp, files[i]);
                char *text = NULL;
                size_t len = 0;
                if (ss_file_read_all(src, &text, &len, err, sizeof(err)) == SS_OK) {
                        if (i == 1) {
                                char *at = strstr(text, "\"prob_neutral\", \"type\": \"float\"");
                                CHECK(at != NULL);
                                if (at)
                                        memcpy(strstr(at, "\"float\""), "\"int\"  ", 7);
                        }
                        write_file(path, text);
                }
                free(text);
        }
        CHECK(ss_serde_new(tmp, &ids, 0, err, sizeof(err)) == NULL);
        CHECK(has(err, "prediction.avsc") && has(err, "prob_neutral:int"));
        snprintf(path, sizeof(path), "%s/prediction.avsc", tmp);
        write_file(path, "{\"type\": \"record\", \"name\": ");
        CHECK(ss_serde_new(tmp, &ids, 0, err, sizeof(err)) == NULL);
        CHECK(has(err, "not an Avro schema"));
}

/* ---- interop fixture for fastavro ----------------------------------------------------- */

static void hex(char *out, const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", (uint8_t)p[i]);
        out[2 * n] = 0;
}

static cJSON *str_json(ss_str_t s, int bytes)
{
        if (!s.ptr)
                return cJSON_CreateNull();
        if (!bytes) {
                char *c = malloc(s.len + 1);
                memcpy(c, s.ptr, s.len);
                c[s.len] = 0;
                cJSON *j = cJSON_CreateString(c);
                free(c);
                return j;
        }
        char *h = malloc(2 * s.len + 1);
        hex(h, s.ptr, s.len);
        cJSON *j = cJSON_CreateString(h);
        free(h);
        return j;
}

static void emit(FILE *bin, cJSON *arr, const char *record, const ss_serde_buf_t *b, cJSON *f)
{
        uint8_t len[4] = {(uint8_t)(b->len >> 24), (uint8_t)(b->len >> 16), (uint8_t)(b->len >> 8),
                          (uint8_t)b->len};
        fwrite(len, 1, 4, bin);
        fwrite(b->data, 1, b->len, bin);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "record", record);
        cJSON_AddItemToObject(o, "fields", f);
        cJSON_AddItemToArray(arr, o);
}

static void write_interop(void)
{
        const char *dir = getenv("SS_BINARY_DIR");
        if (!dir)
                return;
        char path[4096];
        snprintf(path, sizeof(path), "%s/serde_interop.bin", dir);
        FILE *bin = fopen(path, "wb");
        CHECK(bin != NULL);
        if (!bin)
                return;
        cJSON *arr = cJSON_CreateArray();
        ss_serde_buf_t b = {0};
        for (int opt = 0; opt < 2; opt++) {
                ss_tweet_t t = tweet_fixture(opt);
                ss_serde_buf_reset(&b);
                ss_serde_tweet_encode(serde, &t, &b, err, sizeof(err));
                cJSON *f = cJSON_CreateObject();
                cJSON_AddItemToObject(f, "id", str_json(t.id, 0));
                cJSON_AddItemToObject(f, "text", str_json(t.text, 0));
                cJSON_AddNumberToObject(f, "created_at", (double)t.created_at);
                cJSON_AddItemToObject(f, "lang", str_json(t.lang, 0));
                cJSON_AddItemToObject(f, "user", str_json(t.user, 0));
                emit(bin, arr, "Tweet", &b, f);
        }
        for (int st = 0; st < 2; st++) {
                ss_prediction_t p = prediction_fixture(st);
                ss_serde_buf_reset(&b);
                ss_serde_prediction_encode(serde, &p, &b, err, sizeof(err));
                cJSON *f = cJSON_CreateObject();
                cJSON_AddItemToObject(f, "tweet_id", str_json(p.tweet_id, 0));
                cJSON_AddStringToObject(f, "label", ss_label_name(p.label));
                cJSON_AddNumberToObject(f, "prob_negative", p.probs[0]);
                cJSON_AddNumberToObject(f, "prob_neutral", p.probs[1]);
                cJSON_AddNumberToObject(f, "prob_positive", p.probs[2]);
                cJSON_AddItemToObject(f, "model_name", str_json(p.model_name, 0));
                cJSON_AddItemToObject(f, "model_version", str_json(p.model_version, 0));
                cJSON_AddNumberToObject(f, "created_at", (double)p.created_at);
                cJSON_AddNumberToObject(f, "scored_at", (double)p.scored_at);
                if (p.has_input_stats) {
                        cJSON *s = cJSON_CreateObject();
                        cJSON_AddNumberToObject(s, "n_tokens", p.input_stats.n_tokens);
                        cJSON_AddNumberToObject(s, "unk_share", p.input_stats.unk_share);
                        cJSON_AddBoolToObject(s, "has_url", p.input_stats.has_url);
                        cJSON_AddBoolToObject(s, "has_mention", p.input_stats.has_mention);
                        cJSON_AddBoolToObject(s, "has_emoji", p.input_stats.has_emoji);
                        cJSON_AddItemToObject(f, "input_stats", s);
                } else {
                        cJSON_AddNullToObject(f, "input_stats");
                }
                emit(bin, arr, "Prediction", &b, f);
        }
        for (int k = 0; k < 2; k++) {
                ss_dead_letter_t d = dead_letter_fixture(k);
                ss_serde_buf_reset(&b);
                ss_serde_dead_letter_encode(serde, &d, &b, err, sizeof(err));
                cJSON *f = cJSON_CreateObject();
                cJSON_AddItemToObject(f, "source_topic", str_json(d.source_topic, 0));
                cJSON_AddNumberToObject(f, "partition", d.partition);
                cJSON_AddNumberToObject(f, "offset", (double)d.offset);
                cJSON_AddItemToObject(f, "error_code", str_json(d.error_code, 0));
                cJSON_AddItemToObject(f, "error_message", str_json(d.error_message, 0));
                cJSON_AddItemToObject(f, "raw_key", str_json(d.raw_key, 1));
                cJSON_AddItemToObject(f, "raw_value", str_json(d.raw_value, 1));
                cJSON_AddNumberToObject(f, "failed_at", (double)d.failed_at);
                cJSON_AddNumberToObject(
                    f, "raw_size", (double)(d.raw_size ? d.raw_size : (int64_t)d.raw_value.len));
                cJSON_AddItemToObject(f, "raw_sha256", str_json(d.raw_sha256, 0));
                emit(bin, arr, "DeadLetter", &b, f);
        }
        for (int k = 0; k < 2; k++) {
                ss_retrain_event_t e = retrain_fixture(k ? 2 : 0, k ? 3 : 0);
                ss_serde_buf_reset(&b);
                ss_serde_retrain_event_encode(serde, &e, &b, err, sizeof(err));
                cJSON *f = cJSON_CreateObject();
                cJSON_AddItemToObject(f, "event_id", str_json(e.event_id, 0));
                cJSON_AddItemToObject(f, "model_name", str_json(e.model_name, 0));
                cJSON_AddItemToObject(f, "model_version", str_json(e.model_version, 0));
                cJSON *ra = cJSON_AddArrayToObject(f, "reasons");
                for (size_t i = 0; i < e.n_reasons; i++) {
                        cJSON *r = cJSON_CreateObject();
                        cJSON_AddItemToObject(r, "metric", str_json(e.reasons[i].metric, 0));
                        cJSON_AddNumberToObject(r, "value", e.reasons[i].value);
                        cJSON_AddNumberToObject(r, "threshold", e.reasons[i].threshold);
                        if (e.reasons[i].has_critical_value)
                                cJSON_AddNumberToObject(r, "critical_value",
                                                        e.reasons[i].critical_value);
                        else
                                cJSON_AddNullToObject(r, "critical_value");
                        cJSON_AddItemToObject(r, "family", str_json(e.reasons[i].family, 0));
                        cJSON_AddItemToObject(r, "statistic", str_json(e.reasons[i].statistic, 0));
                        cJSON_AddNumberToObject(r, "window_n", (double)e.reasons[i].window_n);
                        cJSON_AddNumberToObject(r, "reference_n", (double)e.reasons[i].reference_n);
                        cJSON_AddItemToArray(ra, r);
                }
                cJSON *ma = cJSON_AddArrayToObject(f, "metrics");
                for (size_t i = 0; i < e.n_metrics; i++) {
                        cJSON *m = cJSON_CreateObject();
                        cJSON_AddItemToObject(m, "name", str_json(e.metrics[i].name, 0));
                        cJSON_AddNumberToObject(m, "value", e.metrics[i].value);
                        cJSON_AddNumberToObject(m, "n", (double)e.metrics[i].n);
                        cJSON_AddNumberToObject(m, "reference_n", (double)e.metrics[i].reference_n);
                        cJSON_AddItemToArray(ma, m);
                }
                cJSON_AddNumberToObject(f, "window_start", (double)e.window_start);
                cJSON_AddNumberToObject(f, "window_end", (double)e.window_end);
                cJSON_AddNumberToObject(f, "triggered_at", (double)e.triggered_at);
                emit(bin, arr, "RetrainEvent", &b, f);
        }
        for (int full = 0; full < 2; full++) {
                ss_model_update_t u = model_update_fixture(full);
                ss_serde_buf_reset(&b);
                ss_serde_model_update_encode(serde, &u, &b, err, sizeof(err));
                cJSON *f = cJSON_CreateObject();
                cJSON_AddItemToObject(f, "model_name", str_json(u.model_name, 0));
                cJSON_AddItemToObject(f, "version", str_json(u.version, 0));
                cJSON_AddItemToObject(f, "alias", str_json(u.alias, 0));
                cJSON_AddItemToObject(f, "uri", str_json(u.uri, 0));
                cJSON_AddItemToObject(f, "sha256", str_json(u.sha256, 0));
                cJSON_AddItemToObject(f, "model_version", str_json(u.model_version, 0));
                cJSON *mo = cJSON_AddObjectToObject(f, "metrics");
                for (size_t i = 0; i < u.n_metrics; i++)
                        cJSON_AddNumberToObject(mo, u.metrics[i].name.ptr, u.metrics[i].value);
                cJSON_AddItemToObject(f, "reason", str_json(u.reason, 0));
                cJSON_AddItemToObject(f, "event_id", str_json(u.event_id, 0));
                cJSON_AddNumberToObject(f, "updated_at", (double)u.updated_at_ms);
                emit(bin, arr, "ModelUpdate", &b, f);
        }
        fclose(bin);
        ss_serde_buf_free(&b);
        cJSON *root = cJSON_CreateObject();
        cJSON *ids = cJSON_AddObjectToObject(root, "schema_ids");
        cJSON_AddNumberToObject(ids, "Tweet", 1);
        cJSON_AddNumberToObject(ids, "Prediction", 2);
        cJSON_AddNumberToObject(ids, "DeadLetter", 3);
        cJSON_AddNumberToObject(ids, "RetrainEvent", 4);
        cJSON_AddNumberToObject(ids, "ModelUpdate", 5);
        cJSON_AddItemToObject(root, "messages", arr);
        char *text = cJSON_Print(root);
        snprintf(path, sizeof(path), "%s/serde_interop.json", dir);
        write_file(path, text);
        free(text);
        cJSON_Delete(root);
}

/* ---- rate ----------------------------------------------------------------------------- */

static void bench(void)
{
        const char *env = getenv("SS_SERDE_BENCH_N");
        long n = env ? atol(env) : 200000;
        if (n <= 0)
                return;
        ss_serde_buf_t b = {0};
        ss_prediction_t p = prediction_fixture(1), q = {0};
        size_t total = 0;
        double t0 = ss_time_mono();
        for (long i = 0; i < n; i++) {
                ss_serde_buf_reset(&b);
                p.scored_at = 1795591900999LL + i;
                p.probs[0] = (float)(i & 1023) / 1024.0f;
                ss_serde_prediction_encode(serde, &p, &b, err, sizeof(err));
                total += b.len;
        }
        double t1 = ss_time_mono();
        int dec_ok = 1;
        for (long i = 0; i < n; i++)
                dec_ok &=
                    ss_serde_prediction_decode(serde, b.data, b.len, &q, err, sizeof(err)) == SS_OK;
        double t2 = ss_time_mono();
        CHECK(dec_ok && total == (size_t)n * b.len);
        printf("Prediction: %ld encodes in %.3f s = %.2f M/s (%zu bytes each); "
               "%ld decodes in %.3f s = %.2f M/s\n",
               n, t1 - t0, n / (t1 - t0) / 1e6, b.len, n, t2 - t1, n / (t2 - t1) / 1e6);
        ss_prediction_clear(&q);
        ss_serde_buf_free(&b);
}

int main(void)
{
        char dir[4096];
        ss_serde_ids_t ids = IDS_INIT;
        serde = ss_serde_new(ss_test_src_path("schemas", dir, sizeof(dir)), &ids, MAX_TEXT, err,
                             sizeof(err));
        if (!serde) {
                fprintf(stderr, "ss_serde_new: %s\n", err);
                return 1;
        }
        test_utf8();
        test_roundtrip_tweet();
        test_roundtrip_prediction();
        test_roundtrip_dead_letter();
        test_roundtrip_retrain();
        test_retrain_blocks();
        test_roundtrip_model_update();
        test_model_update_blocks();
        test_golden();
        test_avro_c_reads_ours();
        test_malformed_framing();
        test_malformed_body();
        test_mutations();
        test_json();
        test_schema_load();
        write_interop();
        bench();
        ss_serde_destroy(serde);
        return ss_test_finish();
}
