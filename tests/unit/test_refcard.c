/*
 * test_refcard: reading reference distributions from a model card, the
 * histogram binning rule, and the error messages for malformed cards.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "refcard.h"
#include "ss_test.h"
#include "ss_util.h"

static char *fixture_text(void)
{
        char path[1024], err[256];
        char *text = NULL;
        size_t len;
        ss_test_src_path("tests/fixtures/drift/card_valid.json", path, sizeof(path));
        if (ss_file_read_all(path, &text, &len, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        return text;
}

static void test_valid(void)
{
        char path[1024], err[512] = "";
        ss_test_src_path("tests/fixtures/drift/card_valid.json", path, sizeof(path));
        ss_refcard_t *c = ss_refcard_load(path, err, sizeof(err));
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        CHECK_STR_EQ(c->kind, "logreg");
        CHECK_STR_EQ(c->name, "sentiment-logreg");
        CHECK_STR_EQ(c->version, "logreg-20261125T073000Z-1a2b3c4d");
        CHECK(c->created_at_ms == 1795591800250LL); /* 2026-11-25T07:30:00.250Z */
        CHECK_NEAR(c->val_macro_f1, 0.595, 1e-12);
        CHECK_NEAR(c->val_avgrec, 0.61, 1e-12);
        CHECK(c->ref_n == 1000);
        CHECK(c->ndists == 10);
        CHECK(c->n_unknown == 1);

        int pc = ss_refcard_find(c, "predicted_class");
        CHECK(pc == 0);
        CHECK(c->dists[pc].src == SS_REF_SRC_PRED_CLASS);
        CHECK(c->dists[pc].nbins == 3);
        CHECK_NEAR(c->dists[pc].n, 1000, 0);
        CHECK(c->dists[pc].cat_bin[0] == 0 && c->dists[pc].cat_bin[2] == 2);

        /* categories in another order map by name */
        int hm = ss_refcard_find(c, "input.has_mention");
        CHECK(c->dists[hm].src == SS_REF_SRC_HAS_MENTION);
        CHECK(c->dists[hm].cat_bin[0] == 1); /* "no" is the second category */
        CHECK(c->dists[hm].cat_bin[1] == 0);

        int lang = ss_refcard_find(c, "input.lang");
        CHECK(lang == 9 && c->dists[lang].src == SS_REF_SRC_UNKNOWN);
        CHECK(ss_refcard_find(c, "nope") == -1);

        /* the histogram rule: edges[i] <= v < edges[i+1], clamps at both ends */
        const ss_ref_dist_t *pn = &c->dists[ss_refcard_find(c, "prob.neutral")];
        CHECK(pn->src == SS_REF_SRC_PROB_NEUTRAL && pn->nbins == 10 && pn->edges[10] == 1);
        CHECK(ss_ref_dist_bin(pn, 0.0) == 0);
        CHECK(ss_ref_dist_bin(pn, 0.0999) == 0);
        CHECK(ss_ref_dist_bin(pn, 0.1) == 1);
        CHECK(ss_ref_dist_bin(pn, 0.55) == 5);
        CHECK(ss_ref_dist_bin(pn, 0.9) == 9);
        CHECK(ss_ref_dist_bin(pn, 1.0) == 9); /* at the last edge: last bin */
        CHECK(ss_ref_dist_bin(pn, 7.0) == 9);
        CHECK(ss_ref_dist_bin(pn, -0.5) == 0); /* below the first edge: bin 0 */
        CHECK(ss_ref_dist_bin(pn, NAN) == SS_REF_NO_BIN);
        const ss_ref_dist_t *nt = &c->dists[ss_refcard_find(c, "input.n_tokens")];
        int want[] = {0, 0, 1, 1, 2, 3, 6, 7, 8, 8};
        double vals[] = {0, 4.9, 5, 9, 10, 15, 30, 40, 60, 5e6};
        for (int i = 0; i < 10; i++)
                CHECK(ss_ref_dist_bin(nt, vals[i]) == want[i]);
        /* exhaustive agreement with a linear scan */
        int agree = 1;
        for (double v = -1; v < 1.2; v += 0.001) {
                int lin = 0;
                for (int i = 0; i < pn->nbins; i++)
                        if (v >= pn->edges[i])
                                lin = i;
                agree &= ss_ref_dist_bin(pn, v) == lin;
        }
        CHECK(agree);

        /* a prediction binned into every distribution */
        ss_ref_obs_t o = {.label = 2,
                          .prob = {0.05f, 0.25f, 0.75f},
                          .has_stats = 1,
                          .n_tokens = 12,
                          .unk_share = 0.15f,
                          .has_url = 1,
                          .has_mention = 0,
                          .has_emoji = 1};
        uint8_t row[SS_REF_MAX_DISTS];
        ss_refcard_bin(c, &o, row);
        uint8_t want_row[10] = {2, 0, 2, 7, 2, 2, 1, 1, 1, SS_REF_NO_BIN};
        CHECK(!memcmp(row, want_row, 10));
        o.has_stats = 0;
        ss_refcard_bin(c, &o, row);
        CHECK(row[0] == 2 && row[3] == 7);
        for (int i = 4; i < 10; i++)
                CHECK(row[i] == SS_REF_NO_BIN);
        ss_refcard_destroy(c);
}

/* Parses text with bytes [off, off + lf) replaced by to; expects failure naming want. */
static void expect_error_at(const char *text, size_t off, size_t lf, const char *to,
                            const char *want)
{
        size_t lt = strlen(to), n = strlen(text);
        char *mod = malloc(n - lf + lt + 1);
        memcpy(mod, text, off);
        memcpy(mod + off, to, lt);
        strcpy(mod + off + lt, text + off + lf);
        char err[512] = "";
        ss_refcard_t *c = ss_refcard_parse(mod, "card.json", err, sizeof(err));
        CHECK(c == NULL);
        if (!strstr(err, want) || !strstr(err, "card.json")) {
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
                CHECK(0);
        }
        ss_refcard_destroy(c);
        free(mod);
}

/* Replaces the first occurrence of from by to in the fixture, parses, expects failure
 * with an error message containing want. */
static void expect_error(const char *from, const char *to, const char *want)
{
        char *text = fixture_text();
        const char *at = strstr(text, from);
        CHECK(at != NULL);
        if (!at)
                fprintf(stderr, "fixture lacks \"%s\"\n", from);
        else
                expect_error_at(text, (size_t)(at - text), strlen(from), to, want);
        free(text);
}

static void test_errors(void)
{
        expect_error("{", "[", "not valid JSON");
        expect_error("\"format\": \"sentistream-model-card/1\"", "\"format\": \"other/1\"",
                     "not a sentistream model card");
        expect_error("\"version\": \"logreg-20261125T073000Z-1a2b3c4d\"", "\"version\": \"\"",
                     "model.version: empty");
        expect_error("\"version\": \"logreg-20261125T073000Z-1a2b3c4d\",", "",
                     "model.version: missing");
        expect_error("\"reference\"", "\"referencex\"", "reference: missing");
        expect_error("\"n\": 1000, \"distributions\"", "\"n\": -3, \"distributions\"",
                     "reference.n");
        /* found by fuzzing: a huge n was converted to int64_t (undefined behaviour) */
        expect_error("\"n\": 1000, \"distributions\"", "\"n\": 2.2e58, \"distributions\"",
                     "reference.n: missing or not an integer in [0, 2^53]");
        expect_error("\"counts\": [150, 500, 350]", "\"counts\": [150, -1, 350]",
                     "reference.distributions[0] (predicted_class).counts[1]: not a non-negative");
        expect_error("\"counts\": [150, 500, 350]", "\"counts\": [150, 2.5, 350]",
                     "counts[1]: not a non-negative integer");
        expect_error("\"counts\": [150, 500, 350]", "\"counts\": [150, 500]",
                     "3 categories but 2 counts");
        expect_error("\"categories\": [\"negative\", \"neutral\"",
                     "\"categories\": [\"negative\", \"happy\"", "unknown category \"happy\"");
        expect_error("\"counts\": [400, 200, 100, 80, 60, 50, 40, 30, 25, 15]",
                     "\"counts\": [400, 200, 100, 80, 60, 50, 40, 30, 25]",
                     "(prob.negative): 11 edges for 9 counts");
        expect_error("[0,5,10,15,20,25,30,40,60,1000000]", "[0,5,10,15,20,20,30,40,60,1000000]",
                     "(input.n_tokens).edges[5]: 20 not above");
        expect_error("\"kind\": \"histogram\", \"edges\": [0,0.05",
                     "\"kind\": \"bar\", \"edges\": "
                     "[0,0.05",
                     "(input.unk_share).kind: \"bar\"");
        expect_error("{\"name\": \"prob.neutral\", \"kind\": \"histogram\"",
                     "{\"name\": \"prob.neutral\", \"kind\": \"categorical\"", "must be histogram");
        expect_error("{\"name\": \"prob.positive\"", "{\"name\": \"prob.neutral\"",
                     "duplicate name \"prob.neutral\"");
        expect_error("\"name\": \"input.has_url\", ", "",
                     "reference.distributions[6].name: missing");
        expect_error("\"categories\": [\"no\", \"yes\"], \"counts\": [700, 300]",
                     "\"categories\": [\"no\", \"no\"], \"counts\": [700, 300]",
                     "duplicate \"no\"");
        expect_error("\"counts\": [700, 300]", "\"counts\": \"many\"", "counts: not an array");
        char err[256];
        CHECK(ss_refcard_load("/nonexistent/card.json", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "/nonexistent/card.json") != NULL);
}

static void test_time(void)
{
        CHECK(ss_refcard_parse_time("1970-01-01T00:00:00Z") == 0);
        CHECK(ss_refcard_parse_time("1970-01-01T00:00:01.5Z") == 1500);
        CHECK(ss_refcard_parse_time("2026-11-25T07:30:00Z") == 1795591800000LL);
        CHECK(ss_refcard_parse_time("2026-11-25 07:30:00Z") == -1);
        CHECK(ss_refcard_parse_time("2026-11-25T07:30:00") == -1);
        CHECK(ss_refcard_parse_time("2026-13-25T07:30:00Z") == -1);
}

int main(void)
{
        test_valid();
        test_errors();
        test_time();
        return ss_test_finish();
}
