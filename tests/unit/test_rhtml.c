/*
 * rhtml: the drift report page from a report that mcore wrote (a shifted class
 * mix through a core with label shift and CBPE on). The page is self-contained
 * (no script, no external URL), carries the report's figures under their
 * data-key, names the event, and draws its charts; malformed input and a
 * non-report are refused with the reason.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mcore.h"
#include "rhtml.h"
#include "ss_log.h"
#include "ss_test.h"

static uint64_t rng = 99;
static double uni(void)
{
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng >> 11) * 0x1.0p-53;
}

/* A report: 4000 predictions, the second half with three times the negatives. */
static char *make_report(ss_serde_t *serde)
{
        char path[1024], err[512];
        ss_test_src_path("tests/fixtures/drift/card_valid.json", path, sizeof(path));
        ss_card_view_t *card = ss_card_view_load(path, err, sizeof(err));
        if (!card)
                return NULL;
        for (int t = 0; t < 3; t++) /* a reference confusion matrix: 80 % on the diagonal */
                for (int k = 0; k < 3; k++)
                        card->confusion[t][k] = (t == k ? 800.0 : 100.0) * (t == 1 ? 3 : 1);
        card->has_confusion = 1;
        ss_mcore_config_t mc = {.window_size = 1000,
                                .window_ms = 3600 * 1000,
                                .eval_every = 250,
                                .min_samples = 250,
                                .psi_threshold = 0.2,
                                .kl_threshold = 0.1,
                                .false_alarm = 0.01,
                                .perf_window = 400,
                                .perf_min_labels = 200,
                                .perf_eval_every = 100,
                                .f1_max_drop = 0.1,
                                .label_shift = 1,
                                .cbpe = 1,
                                .ls_psi_threshold = 0.1,
                                .ls_kl_threshold = 0.05,
                                .ls_min_samples = 1000,
                                .event_families = "label_shift,performance",
                                .trigger = {3, 5, 3600 * 1000},
                                .join_max_pending = 100000,
                                .join_ttl_ms = 3600 * 1000};
        ss_mcore_t *m = ss_mcore_new(&mc, serde, NULL, err, sizeof(err));
        if (!m || ss_mcore_add_card(m, card, err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                ss_mcore_destroy(m);
                return NULL;
        }
        const ss_card_view_t *c = ss_mcore_card(m, 0);
        char id[32];
        for (long i = 0; i < 4000; i++) {
                double mix[3] = {i < 2000 ? 0.2 : 0.6, 0.5, 0.3};
                double u = uni() * (mix[0] + mix[1] + mix[2]);
                int label = u < mix[0] ? 0 : (u < mix[0] + mix[1] ? 1 : 2);
                ss_prediction_t p = {0};
                snprintf(id, sizeof(id), "%ld", 5000000 + i);
                p.tweet_id = ss_str_c(id);
                p.label = label;
                for (int k = 0; k < 3; k++)
                        p.probs[k] = k == label ? 0.6f : 0.2f;
                p.model_name = ss_str_c(c->name);
                p.model_version = ss_str_c(c->version);
                p.scored_at = 1700000000000 + i;
                ss_mcore_ingest_decoded(m, &p, p.scored_at);
                while (ss_mcore_event_peek(m))
                        ss_mcore_event_done(m);
        }
        const char *name;
        char *json = ss_mcore_report_json(m, 0, &name);
        ss_mcore_destroy(m);
        return json;
}

/* True if the page shows value v (%.4f) under data-key key. */
static int shows(const char *html, const char *key, double v)
{
        char want[160];
        snprintf(want, sizeof(want), "data-key=\"%s\">%.4f<", key, v);
        return strstr(html, want) != NULL;
}

int main(void)
{
        char dir[1024], err[512];
        ss_log_level_set(SS_LOG_WARN);
        ss_test_src_path("schemas", dir, sizeof(dir));
        ss_serde_ids_t ids = {1, 2, 3, 4, 5};
        ss_serde_t *serde = ss_serde_new(dir, &ids, 0, err, sizeof(err));
        char *json = serde ? make_report(serde) : NULL;
        CHECK(json != NULL);
        if (!json)
                return ss_test_finish();
        char *html = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&html, &len);
        CHECK(ss_rhtml_render(json, "test", f, err, sizeof(err)) == SS_OK);
        fclose(f);
        cJSON *r = cJSON_Parse(json);
        const cJSON *ls = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(r, "windows"), "sliding"), "label_shift");
        CHECK(ls != NULL);
        if (ls) {
                CHECK(shows(html, "label_shift.psi", cJSON_GetObjectItem(ls, "psi")->valuedouble));
                CHECK(shows(html, "label_shift.psi_critical",
                            cJSON_GetObjectItem(ls, "psi_critical")->valuedouble));
                const char *cls[3] = {"negative", "neutral", "positive"};
                for (int k = 0; k < 3; k++) {
                        char key[64];
                        snprintf(key, sizeof(key), "estimated_mix.%s", cls[k]);
                        CHECK(shows(html, key,
                                    cJSON_GetArrayItem(cJSON_GetObjectItem(ls, "estimated_mix"), k)
                                        ->valuedouble));
                }
        }
        const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "events_recent"), 0);
        CHECK(ev != NULL); /* the shift fired */
        if (ev)
                CHECK(strstr(html, cJSON_GetObjectItem(ev, "event_id")->valuestring) != NULL);
        CHECK(strstr(html, "<svg") && strstr(html, "<polyline"));
        CHECK(!strstr(html, "<script") && !strstr(html, "http://") && !strstr(html, "https://"));
        CHECK(strstr(html, "</html>") != NULL);
        cJSON_Delete(r);
        free(html);
        /* refused: not JSON, not a report */
        f = open_memstream(&html, &len);
        CHECK(ss_rhtml_render("{nope", "x.json", f, err, sizeof(err)) == SS_ERR_PARSE);
        CHECK(strstr(err, "x.json") != NULL);
        CHECK(ss_rhtml_render("{\"format\": \"other\"}", "y.json", f, err, sizeof(err)) ==
              SS_ERR_FORMAT);
        CHECK(strstr(err, "y.json") && strstr(err, "other"));
        fclose(f);
        free(html);
        free(json);
        ss_serde_destroy(serde);
        return ss_test_finish();
}
