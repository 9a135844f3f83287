/*
 * test_card: the model card codec. Reading a card written by an earlier
 * version (the fixture), the histogram binning rule and its NaN rule on both
 * sides, the number of classes taken from the card, a written card read back
 * unchanged, and the error messages for malformed cards.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "card.h"
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
        ss_card_view_t *c = ss_card_view_load(path, err, sizeof(err));
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
        CHECK(c->nclasses == 3);
        CHECK_STR_EQ(c->labels[2], "positive");
        CHECK(c->ndists == 10);
        CHECK(c->n_unknown == 1);

        int pc = ss_card_view_find(c, "predicted_class");
        CHECK(pc == 0);
        CHECK(c->dists[pc].src == SS_CARD_SRC_PRED_CLASS);
        CHECK(c->dists[pc].nbins == 3);
        CHECK_NEAR(c->dists[pc].n, 1000, 0);
        CHECK(c->dists[pc].cat_bin[0] == 0 && c->dists[pc].cat_bin[2] == 2);

        /* categories in another order map by name */
        int hm = ss_card_view_find(c, "input.has_mention");
        CHECK(c->dists[hm].src == SS_CARD_SRC_HAS_MENTION);
        CHECK(c->dists[hm].cat_bin[0] == 1); /* "no" is the second category */
        CHECK(c->dists[hm].cat_bin[1] == 0);

        int lang = ss_card_view_find(c, "input.lang");
        CHECK(lang == 9 && c->dists[lang].src == SS_CARD_SRC_UNKNOWN);
        CHECK(ss_card_view_find(c, "nope") == -1);

        /* the histogram rule: edges[i] <= v < edges[i+1], clamps at both ends */
        const ss_card_dist_t *pn = &c->dists[ss_card_view_find(c, "prob.neutral")];
        CHECK(pn->src == SS_CARD_SRC_PROB && pn->cls == 1 && pn->nbins == 10 && pn->edges[10] == 1);
        CHECK(ss_card_dist_bin(pn, 0.0) == 0);
        CHECK(ss_card_dist_bin(pn, 0.0999) == 0);
        CHECK(ss_card_dist_bin(pn, 0.1) == 1);
        CHECK(ss_card_dist_bin(pn, 0.55) == 5);
        CHECK(ss_card_dist_bin(pn, 0.9) == 9);
        CHECK(ss_card_dist_bin(pn, 1.0) == 9); /* at the last edge: last bin */
        CHECK(ss_card_dist_bin(pn, 7.0) == 9);
        CHECK(ss_card_dist_bin(pn, -0.5) == 0); /* below the first edge: bin 0 */
        CHECK(ss_card_dist_bin(pn, NAN) == SS_CARD_NO_BIN);
        const ss_card_dist_t *nt = &c->dists[ss_card_view_find(c, "input.n_tokens")];
        int want[] = {0, 0, 1, 1, 2, 3, 6, 7, 8, 8};
        double vals[] = {0, 4.9, 5, 9, 10, 15, 30, 40, 60, 5e6};
        for (int i = 0; i < 10; i++)
                CHECK(ss_card_dist_bin(nt, vals[i]) == want[i]);
        /* exhaustive agreement with a linear scan */
        int agree = 1;
        for (double v = -1; v < 1.2; v += 0.001) {
                int lin = 0;
                for (int i = 0; i < pn->nbins; i++)
                        if (v >= pn->edges[i])
                                lin = i;
                agree &= ss_card_dist_bin(pn, v) == lin;
        }
        CHECK(agree);

        /* a prediction binned into every distribution */
        ss_card_obs_t o = {.label = 2,
                           .prob = (const float[]){0.05f, 0.25f, 0.75f},
                           .nprob = 3,
                           .has_stats = 1,
                           .n_tokens = 12,
                           .unk_share = 0.15f,
                           .has_url = 1,
                           .has_mention = 0,
                           .has_emoji = 1};
        uint8_t row[SS_CARD_MAX_DISTS];
        ss_card_view_bin(c, &o, row);
        uint8_t want_row[10] = {2, 0, 2, 7, 2, 2, 1, 1, 1, SS_CARD_NO_BIN};
        CHECK(!memcmp(row, want_row, 10));
        o.has_stats = 0;
        ss_card_view_bin(c, &o, row);
        CHECK(row[0] == 2 && row[3] == 7);
        for (int i = 4; i < 10; i++)
                CHECK(row[i] == SS_CARD_NO_BIN);
        ss_card_view_destroy(c);
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
        ss_card_view_t *c = ss_card_view_parse(mod, "card.json", err, sizeof(err));
        CHECK(c == NULL);
        if (!strstr(err, want) || !strstr(err, "card.json")) {
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
                CHECK(0);
        }
        ss_card_view_destroy(c);
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
        expect_error("\"labels\"", "\"labelz\"", "labels: missing");
        expect_error("\"positive\"]", "\"neutral\"]", "labels[2]: duplicate \"neutral\"");
        char err[256];
        CHECK(ss_card_view_load("/nonexistent/card.json", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "/nonexistent/card.json") != NULL);
}

static void test_time(void)
{
        CHECK(ss_card_parse_time("1970-01-01T00:00:00Z") == 0);
        CHECK(ss_card_parse_time("1970-01-01T00:00:01.5Z") == 1500);
        CHECK(ss_card_parse_time("2026-11-25T07:30:00Z") == 1795591800000LL);
        CHECK(ss_card_parse_time("2026-11-25 07:30:00Z") == -1);
        CHECK(ss_card_parse_time("2026-11-25T07:30:00") == -1);
        CHECK(ss_card_parse_time("2026-13-25T07:30:00Z") == -1);
}

static void test_hist_bin(void)
{
        const double *e = ss_card_prob_edges;
        CHECK(ss_card_hist_bin(e, 11, 0.0) == 0);
        CHECK(ss_card_hist_bin(e, 11, 0.05) == 0);
        CHECK(ss_card_hist_bin(e, 11, 0.1) == 1); /* edges[i] <= v */
        CHECK(ss_card_hist_bin(e, 11, 0.95) == 9);
        CHECK(ss_card_hist_bin(e, 11, 1.0) == 9); /* at the last edge -> last bin */
        CHECK(ss_card_hist_bin(e, 11, 7.0) == 9);
        CHECK(ss_card_hist_bin(e, 11, -1.0) == 0);             /* below the first edge -> bin 0 */
        CHECK(ss_card_hist_bin(e, 11, NAN) == SS_CARD_NO_BIN); /* NaN: no bin */
        const double *u = ss_card_unk_edges;
        CHECK(ss_card_hist_bin(u, 7, 1.0) == 5);
        CHECK(ss_card_hist_bin(u, 7, 0.3) == 4);
        CHECK(ss_card_hist_bin(u, 7, 0.2999) == 3);
        const double *t = ss_card_ntok_edges;
        CHECK(ss_card_hist_bin(t, SS_CARD_NTOK_BINS + 1, 4) == 0);
        CHECK(ss_card_hist_bin(t, SS_CARD_NTOK_BINS + 1, 5) == 1);
        CHECK(ss_card_hist_bin(t, SS_CARD_NTOK_BINS + 1, 1000) == SS_CARD_NTOK_BINS - 1);
        char p[64];
        ss_card_path("models-out/logreg.ssm", p, sizeof(p));
        CHECK_STR_EQ(p, "models-out/logreg.card.json");
        ss_card_path("m.bin", p, sizeof(p));
        CHECK_STR_EQ(p, "m.bin.card.json");
}

/* The NaN rule: a NaN has no bin on the writing side (not counted) and on the reading side. */
static void test_nan_rule(void)
{
        CHECK(ss_card_hist_bin(ss_card_prob_edges, SS_CARD_PROB_BINS + 1, NAN) == SS_CARD_NO_BIN);
        CHECK(ss_card_hist_bin(ss_card_prob_edges, SS_CARD_PROB_BINS + 1, -INFINITY) == 0);
        CHECK(ss_card_hist_bin(ss_card_prob_edges, SS_CARD_PROB_BINS + 1, INFINITY) == 9);
        ss_card_ref_t r;
        ss_card_ref_init(&r);
        ss_input_stats_t st = {.n_tokens = 7, .unk_share = NAN};
        ss_card_ref_add(&r, (const float[]){NAN, 0.5f, 0.5f}, &st);
        int64_t sum_neg = 0, sum_neu = 0, sum_unk = 0;
        for (int b = 0; b < SS_CARD_PROB_BINS; b++) {
                sum_neg += r.prob[0][b];
                sum_neu += r.prob[1][b];
        }
        for (int b = 0; b < SS_CARD_UNK_BINS; b++)
                sum_unk += r.unk_share[b];
        CHECK(r.n == 1 && sum_neg == 0 && sum_neu == 1 && sum_unk == 0);
        CHECK(r.n_tokens[1] == 1);
}

/* A card written with ss_card_write() reads back with the same identity, classes and counts. */
static void test_round_trip(void)
{
        ss_card_t card;
        ss_card_init(&card);
        snprintf(card.kind, sizeof(card.kind), "logreg");
        snprintf(card.name, sizeof(card.name), "rt");
        snprintf(card.version, sizeof(card.version), "logreg-rt-1");
        card.created_at_ms = 1795591800250LL;
        card.validation_eval.macro_f1 = 0.5;
        card.validation_eval.avgrec = 0.625;
        ss_card_ref_init(&card.ref);
        uint32_t x = 12345;
        for (int i = 0; i < 500; i++) {
                float p[3];
                for (int c = 0; c < 3; c++) {
                        x = x * 1103515245u + 12345u;
                        p[c] = (float)((x >> 8) & 0xffff) / 65536.0f;
                }
                float s = p[0] + p[1] + p[2] + 1e-6f;
                for (int c = 0; c < 3; c++)
                        p[c] /= s;
                ss_input_stats_t st = {.n_tokens = i % 97,
                                       .unk_share = (float)(i % 11) / 10.0f,
                                       .has_url = (uint8_t)(i % 3 == 0),
                                       .has_mention = (uint8_t)(i % 5 == 0),
                                       .has_emoji = (uint8_t)(i % 7 == 0)};
                ss_card_ref_add(&card.ref, p, &st);
        }
        char path[256], err[512] = "";
        snprintf(path, sizeof(path), "/tmp/ss_test_card_rt_%d.card.json", (int)getpid());
        CHECK(ss_card_write(&card, path, err, sizeof(err)) == SS_OK);
        ss_card_view_t *v = ss_card_view_load(path, err, sizeof(err));
        CHECK(v != NULL);
        if (!v) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        CHECK_STR_EQ(v->kind, "logreg");
        CHECK_STR_EQ(v->version, "logreg-rt-1");
        CHECK(v->created_at_ms == card.created_at_ms);
        CHECK_NEAR(v->val_avgrec, 0.625, 0);
        CHECK(v->nclasses == SS_NUM_CLASSES && v->ref_n == 500 && v->n_unknown == 0);
        CHECK(v->ndists == 9);
        for (int c = 0; c < SS_NUM_CLASSES; c++) {
                CHECK_STR_EQ(v->labels[c], ss_label_name(c));
                char name[64];
                snprintf(name, sizeof(name), SS_CARD_PROB_PREFIX "%s", ss_label_name(c));
                const ss_card_dist_t *d = &v->dists[ss_card_view_find(v, name)];
                CHECK(d->src == SS_CARD_SRC_PROB && d->cls == c && d->nbins == SS_CARD_PROB_BINS);
                for (int b = 0; b < SS_CARD_PROB_BINS; b++)
                        CHECK(d->counts[b] == (double)card.ref.prob[c][b]);
                const ss_card_dist_t *pc = &v->dists[ss_card_view_find(v, "predicted_class")];
                CHECK(pc->counts[pc->cat_bin[c]] == (double)card.ref.predicted[c]);
        }
        const ss_card_dist_t *nt = &v->dists[ss_card_view_find(v, "input.n_tokens")];
        for (int b = 0; b < SS_CARD_NTOK_BINS; b++)
                CHECK(nt->counts[b] == (double)card.ref.n_tokens[b]);
        for (int b = 0; b <= SS_CARD_NTOK_BINS; b++)
                CHECK(nt->edges[b] == ss_card_ntok_edges[b]);
        const ss_card_dist_t *hu = &v->dists[ss_card_view_find(v, "input.has_url")];
        CHECK(hu->counts[hu->cat_bin[1]] == (double)card.ref.has_url[1]);
        /* the reader bins a value where the writer counted it */
        int agree = 1;
        for (double val = -0.5; val < 1.5; val += 0.01)
                agree &= ss_card_dist_bin(nt, val * 130) ==
                         ss_card_hist_bin(ss_card_ntok_edges, SS_CARD_NTOK_BINS + 1, val * 130);
        CHECK(agree);
        ss_card_view_destroy(v);
        ss_card_clear(&card);
        unlink(path);
}

/* The classes come from the card's labels: a two-class card maps its own names. */
static void test_classes_from_card(void)
{
        const char *json =
            "{\"format\": \"sentistream-model-card/1\", \"model\": {\"kind\": \"k\", \"name\": "
            "\"n\", \"version\": \"v\"}, \"labels\": [\"bad\", \"good\"], \"reference\": {\"n\": "
            "4, \"distributions\": [{\"name\": \"predicted_class\", \"kind\": \"categorical\", "
            "\"categories\": [\"good\", \"bad\"], \"counts\": [3, 1]}, {\"name\": \"prob.good\", "
            "\"kind\": \"histogram\", \"edges\": [0, 0.5, 1], \"counts\": [1, 3]}, {\"name\": "
            "\"prob.neutral\", \"kind\": \"histogram\", \"edges\": [0, 1], \"counts\": [4]}]}}";
        char err[512] = "";
        ss_card_view_t *c = ss_card_view_parse(json, "two.json", err, sizeof(err));
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        CHECK(c->nclasses == 2 && c->n_unknown == 1);
        CHECK(c->dists[0].cat_bin[0] == 1 && c->dists[0].cat_bin[1] == 0);
        CHECK(c->dists[1].src == SS_CARD_SRC_PROB && c->dists[1].cls == 1);
        CHECK(c->dists[2].src == SS_CARD_SRC_UNKNOWN); /* "neutral" is no class of this card */
        ss_card_obs_t o = {.label = 1, .prob = (const float[]){0.2f, 0.8f}, .nprob = 2};
        uint8_t row[SS_CARD_MAX_DISTS];
        ss_card_view_bin(c, &o, row);
        CHECK(row[0] == 0 && row[1] == 1 && row[2] == SS_CARD_NO_BIN);
        o.label = 2; /* a label the card does not have */
        o.nprob = 1; /* and no probability for class 1 */
        ss_card_view_bin(c, &o, row);
        CHECK(row[0] == SS_CARD_NO_BIN && row[1] == SS_CARD_NO_BIN);
        ss_card_view_destroy(c);
}

int main(void)
{
        test_hist_bin();
        test_valid();
        test_errors();
        test_time();
        test_nan_rule();
        test_round_trip();
        test_classes_from_card();
        return ss_test_finish();
}
