/*
 * seeds_gen: writes the Avro seed inputs of the fuzz targets with the project's own
 * encoders (run once; the outputs are committed under tests/fuzz/corpus/):
 *   seeds_gen OUTDIR   writes OUTDIR/avro_tweet/, avro_prediction/, avro_retrain/ and
 *                      avro_model_update/
 */
#include <sys/stat.h>

#include "fuzz_serde.h"

static void ss_seed_write(const char *dir, const char *sub, const char *name,
                          const ss_serde_buf_t *b)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b->data, 1, b->len, f) != b->len)
                abort();
        fclose(f);
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: seeds_gen OUTDIR\n");
                return 2;
        }
        const ss_serde_t *s = ss_fuzz_serde();
        ss_serde_buf_t b = {0};
        char err[512];

        ss_tweet_t t = {0};
        t.id = ss_str_c("1795591900123");
        t.text = ss_str_c("@user loving the new phone :) #happy http://t.co/x caf\xc3\xa9");
        t.created_at = 1795591900123LL;
        if (ss_serde_tweet_encode(s, &t, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_tweet", "plain", &b);
        t.lang = ss_str_c("en");
        t.user = ss_str_c("someone");
        ss_serde_buf_reset(&b);
        if (ss_serde_tweet_encode(s, &t, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_tweet", "optional", &b);

        ss_prediction_t p = {0};
        p.tweet_id = ss_str_c("1795591900123");
        p.label = 2;
        p.probs[0] = 0.1f, p.probs[1] = 0.2f, p.probs[2] = 0.7f;
        p.model_name = ss_str_c("sentiment");
        p.model_version = ss_str_c("logreg-20261207-abcdef01");
        p.created_at = 1795591900123LL;
        p.scored_at = 1795591900456LL;
        ss_serde_buf_reset(&b);
        if (ss_serde_prediction_encode(s, &p, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_prediction", "plain", &b);
        p.has_input_stats = true;
        p.input_stats.n_tokens = 9;
        p.input_stats.has_url = 1;
        ss_serde_buf_reset(&b);
        if (ss_serde_prediction_encode(s, &p, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_prediction", "stats", &b);

        ss_retrain_reason_t reasons[2] = {
            {ss_str_c("psi.label_shift"), 0.3, 0.2, true, 0.25, ss_str_c("label_shift"),
             ss_str_c("label_shift"), 2000, 3000},
            {ss_str_c("performance.f1"), 0.5, 0.6, false, 0, ss_str_c("performance"),
             ss_str_c("performance.f1"), 2000, 0}};
        ss_metric_snapshot_t metrics[1] = {{ss_str_c("psi_predicted_class"), 0.3, 2000, 3000}};
        ss_retrain_event_t e = {0};
        e.event_id = ss_str_c("logreg-20261207-abcdef01:42");
        e.model_name = ss_str_c("sentiment");
        e.model_version = ss_str_c("logreg-20261207-abcdef01");
        e.reasons = reasons;
        e.n_reasons = 2;
        e.metrics = metrics;
        e.n_metrics = 1;
        e.window_start = 1795591900000LL;
        e.window_end = 1795591960000LL;
        e.triggered_at = 1795591961000LL;
        ss_serde_buf_reset(&b);
        if (ss_serde_retrain_event_encode(s, &e, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_retrain", "two_reasons", &b);

        ss_model_update_metric_t um[2] = {{ss_str_c("fresh_avgrec"), 0.626},
                                          {ss_str_c("reference_avgrec"), 0.606}};
        ss_model_update_t u = {0};
        u.model_name = ss_str_c("sentiment");
        u.version = ss_str_c("2");
        u.alias = ss_str_c("champion");
        u.uri = ss_str_c("models:/sentiment/2");
        u.sha256 = ss_str_c("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        u.model_version = ss_str_c("logreg-20261207-abcdef01");
        u.metrics = um;
        u.n_metrics = 2;
        u.reason = ss_str_c("retrain");
        u.event_id = ss_str_c("logreg-20261207-abcdef01:42");
        u.updated_at_ms = 1795591999000LL;
        ss_serde_buf_reset(&b);
        if (ss_serde_model_update_encode(s, &u, &b, err, sizeof(err)))
                abort();
        ss_seed_write(argv[1], "avro_model_update", "retrain", &b);
        ss_serde_buf_free(&b);
        return 0;
}
