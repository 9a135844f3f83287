/*
 * Unit tests of the hashed TF-IDF features (models/text/feat.c): raw n-gram counts
 * worked out by hand, char_wb padding, IDF against hand-computed document
 * frequencies, TF-IDF weighting and L2 norm, determinism, seeds, ordering of
 * the sparse output on real tweets, the unordered counting way against the
 * sorted one, input statistics and config checks.
 */
#include "ss_test.h"

#include <stdint.h>

#include "feat.h"
#include "ss_util.h"

static ss_feat_config_t cfg_words_only(uint32_t word_max)
{
        ss_feat_config_t c;
        ss_feat_config_default(&c);
        c.word_ngram_max = word_max;
        c.char_ngram_min = 0;
        return c;
}

static ss_feat_config_t cfg_chars(uint32_t nmin, uint32_t nmax)
{
        ss_feat_config_t c;
        ss_feat_config_default(&c);
        c.word_ngram_max = 1;
        c.char_ngram_min = nmin;
        c.char_ngram_max = nmax;
        return c;
}

static uint32_t bucket(const ss_feat_t *f, const char *tok)
{
        return ss_feat_word_bucket(f, tok, strlen(tok));
}

/* Value at index j in v, or 0. */
static float value_at(const ss_sparse_t *v, uint32_t j)
{
        for (size_t i = 0; i < v->n; i++)
                if (v->idx[i] == j)
                        return v->val[i];
        return 0.0f;
}

static double sum_values(const ss_sparse_t *v)
{
        double s = 0;
        for (size_t i = 0; i < v->n; i++)
                s += v->val[i];
        return s;
}

/* Number of entries whose value equals x. */
static size_t count_value(const ss_sparse_t *v, float x)
{
        size_t k = 0;
        for (size_t i = 0; i < v->n; i++)
                k += v->val[i] == x;
        return k;
}

static int ascending_unique(const ss_sparse_t *v, uint32_t dim)
{
        for (size_t i = 0; i < v->n; i++) {
                if (v->idx[i] >= dim || (i && v->idx[i] <= v->idx[i - 1]))
                        return 0;
        }
        return 1;
}

static int extract(ss_feat_t *f, const char *text, int raw, ss_sparse_t *v)
{
        return ss_feat_extract(f, text, strlen(text), raw, v, NULL);
}

static void test_hash(void)
{
        /* murmur3 x86_32 reference values (SMHasher). */
        CHECK(ss_feat_hash("", 0, 0) == 0u);
        CHECK(ss_feat_hash("", 0, 1) == 0x514E28B7u);
        CHECK(ss_feat_hash("a", 1, 0x9747b28c) == 0x7FA09EA6u);
        CHECK(ss_feat_hash("abcd", 4, 0x9747b28c) == 0xF0478627u);
        CHECK(ss_feat_hash("Hello, world!", 13, 0x9747b28c) == 0x24884CBAu);
        CHECK(ss_feat_hash("ab", 2, 1) != ss_feat_hash("ab", 2, 2));
}

/* Word n-grams counted by hand. */
static void test_word_counts(void)
{
        ss_sparse_t v;
        ss_sparse_init(&v);
        ss_feat_config_t c = cfg_words_only(1);
        ss_feat_t *f = ss_feat_new(&c, NULL);
        CHECK(f != NULL);
        /* tokens: good good bad -> good:2 bad:1 */
        CHECK(extract(f, "Good GOOD bad", 1, &v) == 0);
        CHECK(bucket(f, "good") != bucket(f, "bad"));
        CHECK(v.n == 2);
        CHECK_NEAR(value_at(&v, bucket(f, "good")), 2.0, 0);
        CHECK_NEAR(value_at(&v, bucket(f, "bad")), 1.0, 0);
        /* placeholders are tokens too: <url> <user> <num> */
        CHECK(extract(f, "http://x.y @bob 42 42", 1, &v) == 0);
        CHECK(v.n == 3);
        CHECK_NEAR(value_at(&v, bucket(f, "<num>")), 2.0, 0);
        CHECK_NEAR(value_at(&v, bucket(f, "<url>")), 1.0, 0);
        ss_feat_destroy(f);

        /* bigrams: good good bad -> unigrams good:2 bad:1, bigrams (good good):1
         * (good bad):1 -> 4 entries, 5 counts. */
        c = cfg_words_only(2);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "good good bad", 1, &v) == 0);
        CHECK(v.n == 4);
        CHECK_NEAR(sum_values(&v), 5.0, 0);
        CHECK_NEAR(value_at(&v, bucket(f, "good")), 2.0, 0);
        /* "bad good good" has the same unigrams but other bigrams. */
        ss_sparse_t w;
        ss_sparse_init(&w);
        CHECK(extract(f, "bad good good", 1, &w) == 0);
        CHECK(w.n == 4);
        size_t shared = 0;
        for (size_t i = 0; i < v.n; i++)
                shared += value_at(&w, v.idx[i]) != 0.0f;
        CHECK(shared == 3); /* good, bad, (good good) */
        ss_feat_destroy(f);

        /* trigrams: a b c d -> 4 + 3 + 2 = 9 entries */
        c = cfg_words_only(3);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "a b c d", 1, &v) == 0);
        CHECK(v.n == 9 && count_value(&v, 1.0f) == 9);
        ss_feat_destroy(f);
        ss_sparse_free(&v);
        ss_sparse_free(&w);
}

/* Char n-grams (char_wb) counted by hand, including the padding rules. */
static void test_char_counts(void)
{
        ss_sparse_t v;
        ss_sparse_init(&v);
        ss_feat_config_t c = cfg_chars(2, 3);
        ss_feat_t *f = ss_feat_new(&c, NULL);
        /* "aa aa": unigram aa:2; " aa " 2-grams " a","aa","a ", 3-grams " aa","aa "
         * each twice -> 6 entries, all 2. */
        CHECK(extract(f, "aa aa", 1, &v) == 0);
        CHECK(v.n == 6 && count_value(&v, 2.0f) == 6);
        /* "ab cd": no n-gram crosses tokens: 2 unigrams + 2 * (3 + 2) = 12 entries. */
        CHECK(extract(f, "ab cd", 1, &v) == 0);
        CHECK(v.n == 12 && count_value(&v, 1.0f) == 12);
        ss_feat_destroy(f);

        /* "abab", 2..2: " a","ab","ba","ab","b " -> ab:2, plus the unigram. */
        c = cfg_chars(2, 2);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "abab", 1, &v) == 0);
        CHECK(v.n == 5 && count_value(&v, 2.0f) == 1 && count_value(&v, 1.0f) == 4);
        ss_feat_destroy(f);

        /* 1..1 on "ab": the padded " ab " has the space twice (both sides). */
        c = cfg_chars(1, 1);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "ab", 1, &v) == 0);
        CHECK(v.n == 4 && count_value(&v, 2.0f) == 1);
        ss_feat_destroy(f);

        /* 4..5: padded tokens shorter than 4 count once, whole (scikit-learn). */
        c = cfg_chars(4, 5);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "a", 1, &v) == 0); /* " a " once + unigram */
        CHECK(v.n == 2);
        CHECK(extract(f, "ab", 1, &v) == 0); /* " ab " once + unigram */
        CHECK(v.n == 2);
        CHECK(extract(f, "abc", 1, &v) == 0); /* " abc","abc "," abc " + unigram */
        CHECK(v.n == 4);
        CHECK(extract(f, "abcdef", 1, &v) == 0); /* 4-grams: 5, 5-grams: 4, + 1 */
        CHECK(v.n == 10);
        ss_feat_destroy(f);

        /* Code points, not bytes: "é" (2 bytes) padded is 3 chars -> 2..5 gives
         * " é","é " and " é " + unigram = 4. */
        c = cfg_chars(2, 5);
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "\xc3\xa9", 1, &v) == 0);
        CHECK(v.n == 4);
        /* Word and char keys never coincide: the word "ab" and the char bigram
         * "ab" (inside " ab ") are distinct entries. 1 + 3 + 2 + 1 = 7. */
        CHECK(extract(f, "ab", 1, &v) == 0);
        CHECK(v.n == 7 && count_value(&v, 1.0f) == 7);
        ss_feat_destroy(f);
        ss_sparse_free(&v);
}

static void test_idf_and_weights(void)
{
        ss_sparse_t v;
        ss_sparse_init(&v);
        ss_feat_config_t c = cfg_words_only(1);
        ss_feat_t *f = ss_feat_new(&c, NULL);
        CHECK(ss_feat_idf(f) == NULL);          /* none yet: all 1.0, no 2^dim_bits array */
        CHECK(extract(f, "a a b", 0, &v) == 0); /* weighted without one: tf only, L2 */
        CHECK(v.n == 2);
        CHECK_NEAR(value_at(&v, bucket(f, "a")), (1 + log(2.0)) / sqrt(pow(1 + log(2.0), 2) + 1),
                   1e-6);
        const char *docs[] = {"a b", "a a", "c"};
        size_t lens[] = {3, 3, 1};
        CHECK(ss_feat_idf_fit(f, docs, lens, 3) == 0);
        /* df: a 2 (counted once in "a a"), b 1, c 1; n = 3 */
        const float *idf = ss_feat_idf(f);
        double idf_a = log(4.0 / 3.0) + 1, idf_b = log(4.0 / 2.0) + 1, idf_none = log(4.0) + 1;
        CHECK_NEAR(idf[bucket(f, "a")], idf_a, 1e-6);
        CHECK_NEAR(idf[bucket(f, "b")], idf_b, 1e-6);
        CHECK_NEAR(idf[bucket(f, "c")], idf_b, 1e-6);
        uint32_t other = bucket(f, "zzz");
        CHECK(other != bucket(f, "a") && other != bucket(f, "b") && other != bucket(f, "c"));
        CHECK_NEAR(idf[other], idf_none, 1e-6);

        /* "a a b": a -> (1 + ln 2) * idf_a, b -> 1 * idf_b, then L2-normalised. */
        CHECK(extract(f, "a a b", 0, &v) == 0);
        double wa = (1 + log(2.0)) * idf_a, wb = idf_b, norm = sqrt(wa * wa + wb * wb);
        CHECK(v.n == 2);
        CHECK_NEAR(value_at(&v, bucket(f, "a")), wa / norm, 1e-6);
        CHECK_NEAR(value_at(&v, bucket(f, "b")), wb / norm, 1e-6);

        /* The IDF is copied into a new extractor and used there. */
        ss_feat_t *g = ss_feat_new(&c, ss_feat_idf(f));
        ss_sparse_t w;
        ss_sparse_init(&w);
        CHECK(extract(g, "a a b", 0, &w) == 0);
        CHECK(w.n == v.n && !memcmp(w.val, v.val, v.n * sizeof(float)));
        ss_feat_destroy(g);

        /* sublinear_tf off: a -> 2 * idf_a. */
        c.sublinear_tf = 0;
        g = ss_feat_new(&c, ss_feat_idf(f));
        CHECK(extract(g, "a a b", 0, &w) == 0);
        wa = 2 * idf_a;
        norm = sqrt(wa * wa + wb * wb);
        CHECK_NEAR(value_at(&w, bucket(g, "a")), wa / norm, 1e-6);
        ss_feat_destroy(g);
        ss_feat_destroy(f);
        ss_sparse_free(&v);
        ss_sparse_free(&w);
}

/* Determinism, seeds, order and norm on real tweets. */
static void test_real_tweets(void)
{
        char path[1024], err[256];
        char *data = NULL;
        size_t len = 0;
        ss_test_src_path("data/semeval-2016test.tsv", path, sizeof(path));
        CHECK(ss_file_read_all(path, &data, &len, err, sizeof(err)) == SS_OK);
        if (!data)
                return;
        ss_feat_config_t c;
        ss_feat_config_default(&c);
        ss_feat_t *f = ss_feat_new(&c, NULL);
        ss_feat_config_t c2 = c;
        c2.seed = c.seed + 1;
        ss_feat_t *g = ss_feat_new(&c2, NULL);
        ss_sparse_t v, w, x;
        ss_sparse_init(&v);
        ss_sparse_init(&w);
        ss_sparse_init(&x);
        int ok_order = 1, ok_norm = 1, ok_det = 1, n_diff_seed = 0, n = 0;
        char *p = data, *end = data + len;
        while (p < end && n < 3000) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *eol = nl ? nl : end;
                char *t1 = memchr(p, '\t', (size_t)(eol - p));
                char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(eol - t1 - 1)) : NULL;
                if (t2) {
                        const char *text = t2 + 1;
                        size_t tl = (size_t)(eol - text);
                        ss_input_stats_t st;
                        CHECK(ss_feat_extract(f, text, tl, 0, &v, &st) == 0);
                        CHECK(ss_feat_extract(f, text, tl, 0, &w, NULL) == 0);
                        CHECK(ss_feat_extract(g, text, tl, 0, &x, NULL) == 0);
                        ok_order &= ascending_unique(&v, 1u << c.dim_bits);
                        double ss = 0;
                        for (size_t i = 0; i < v.n; i++)
                                ss += (double)v.val[i] * v.val[i];
                        ok_norm &= v.n == 0 || fabs(ss - 1.0) < 1e-5;
                        ok_det &= v.n == w.n && !memcmp(v.idx, w.idx, v.n * 4) &&
                                  !memcmp(v.val, w.val, v.n * 4);
                        n_diff_seed += x.n != v.n || memcmp(v.idx, x.idx, v.n * 4) != 0;
                        ok_det &= st.n_tokens == (int32_t)ss_feat_tokens(f)->n;
                        n++;
                }
                p = eol + 1;
        }
        CHECK(n == 3000);
        CHECK(ok_order);
        CHECK(ok_norm);
        CHECK(ok_det);
        CHECK(n_diff_seed == n);
        ss_feat_destroy(f);
        ss_feat_destroy(g);
        ss_sparse_free(&v);
        ss_sparse_free(&w);
        ss_sparse_free(&x);
        free(data);
}

/* n-gram occurrences of the last text, counted from its tokens by the rules
 * (word 1..k-grams; char_wb grams of each padded token). */
static double expected_total(const ss_feat_t *f)
{
        const ss_feat_config_t *c = ss_feat_config(f);
        const ss_tok_buf_t *tb = ss_feat_tokens(f);
        double total = 0;
        for (uint32_t k = 1; k <= c->word_ngram_max; k++)
                total += tb->n >= k ? (double)(tb->n - k + 1) : 0;
        for (size_t t = 0; c->char_ngram_min && t < tb->n; t++) {
                size_t w = 2;
                for (const char *p = ss_tok_str(tb, t); *p; p++)
                        w += ((unsigned char)*p & 0xC0) != 0x80;
                if (w < c->char_ngram_min) {
                        total += 1;
                        continue;
                }
                for (size_t n = c->char_ngram_min; n <= c->char_ngram_max && n <= w; n++)
                        total += (double)(w - n + 1);
        }
        return total;
}

/* Sort and run-length count on every digit layout: the raw counts always add
 * up to the n-gram occurrences, indices ascending and unique in range. */
static void test_counts_across_dims(void)
{
        char path[1024], err[256];
        char *data = NULL;
        size_t len = 0;
        ss_test_src_path("data/semeval-train.tsv", path, sizeof(path));
        CHECK(ss_file_read_all(path, &data, &len, err, sizeof(err)) == SS_OK);
        if (!data)
                return;
        static const uint32_t dims[] = {10, 13, 17, 20, 24};
        ss_sparse_t v;
        ss_sparse_init(&v);
        for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
                ss_feat_config_t c;
                ss_feat_config_default(&c);
                c.dim_bits = dims[d];
                c.word_ngram_max = 1 + (uint32_t)(d % 3);
                ss_feat_t *f = ss_feat_new(&c, NULL);
                int ok_sum = 1, ok_order = 1, n = 0;
                char *p = data, *end = data + len;
                while (p < end && n < 1500) {
                        char *nl = memchr(p, '\n', (size_t)(end - p));
                        char *eol = nl ? nl : end;
                        char *t1 = memchr(p, '\t', (size_t)(eol - p));
                        char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(eol - t1 - 1)) : NULL;
                        if (t2) {
                                CHECK(ss_feat_extract(f, t2 + 1, (size_t)(eol - t2 - 1), 1, &v,
                                                      NULL) == 0);
                                ok_sum &= sum_values(&v) == expected_total(f);
                                ok_order &= ascending_unique(&v, 1u << dims[d]);
                                n++;
                        }
                        p = eol + 1;
                }
                CHECK(n == 1500);
                CHECK(ok_sum);
                CHECK(ok_order);
                ss_feat_destroy(f);
        }
        ss_sparse_free(&v);
        free(data);
}

static void test_stats_and_edges(void)
{
        ss_feat_config_t c;
        ss_feat_config_default(&c);
        ss_feat_t *f = ss_feat_new(&c, NULL);
        ss_sparse_t v;
        ss_sparse_init(&v);
        ss_input_stats_t st;
        const char *t = "@a loves http://t.co/x :) #yes";
        CHECK(ss_feat_extract(f, t, strlen(t), 0, &v, &st) == 0);
        CHECK(st.n_tokens == 5 && st.has_url == 1 && st.has_mention == 1 && st.has_emoji == 1);
        CHECK(st.unk_share == 0.0f);
        CHECK(ss_feat_extract(f, "plain", 5, 0, &v, &st) == 0);
        CHECK(st.n_tokens == 1 && !st.has_url && !st.has_mention && !st.has_emoji);
        CHECK(v.n == 19); /* unigram + " plain " 2..5-grams: 6 + 5 + 4 + 3 */
        /* Empty text: empty vector, zero stats. */
        CHECK(ss_feat_extract(f, "", 0, 0, &v, &st) == 0 && v.n == 0 && st.n_tokens == 0);
        /* 1 MiB of random bytes: works, ordered, the accumulator is left clean. */
        size_t big = (size_t)1 << 20;
        char *s = malloc(big);
        uint32_t x = 7;
        for (size_t i = 0; i < big; i++) {
                x = x * 1664525u + 1013904223u;
                s[i] = (char)(x >> 24);
        }
        CHECK(ss_feat_extract(f, s, big, 1, &v, &st) == 0);
        CHECK(v.n > 10000 && ascending_unique(&v, 1u << c.dim_bits));
        CHECK(sum_values(&v) == expected_total(f));
        free(s);
        CHECK(extract(f, "good", 1, &v) == 0);
        CHECK(v.n > 0 && count_value(&v, 1.0f) == v.n);
        /* Too long: -1, empty output. */
        CHECK(ss_feat_extract(f, "x", SS_TOK_MAX_LEN + 1, 0, &v, NULL) == -1 && v.n == 0);
        ss_feat_destroy(f);

        /* A small space forces collisions: still ascending and unique, sums kept. */
        c.dim_bits = 10;
        f = ss_feat_new(&c, NULL);
        CHECK(extract(f, "the quick brown fox jumps over the lazy dog again and again", 1, &v) ==
              0);
        CHECK(ascending_unique(&v, 1024));
        ss_feat_destroy(f);
        ss_sparse_free(&v);
}

static void test_config_check(void)
{
        char err[256];
        ss_feat_config_t c;
        ss_feat_config_default(&c);
        CHECK(c.dim_bits == 20 && c.word_ngram_max == 2 && c.char_ngram_min == 2 &&
              c.char_ngram_max == 5 && c.sublinear_tf == 1);
        CHECK(ss_feat_config_check(&c, err, sizeof(err)) == SS_OK);
        c.dim_bits = 25;
        CHECK(ss_feat_config_check(&c, err, sizeof(err)) == SS_ERR_CONFIG);
        CHECK(strstr(err, "dim_bits 25") != NULL);
        CHECK(ss_feat_new(&c, NULL) == NULL);
        ss_feat_config_default(&c);
        c.char_ngram_min = 4;
        c.char_ngram_max = 3;
        CHECK(ss_feat_config_check(&c, err, sizeof(err)) == SS_ERR_CONFIG);
        CHECK(strstr(err, "4..3") != NULL);
        ss_feat_config_default(&c);
        c.word_ngram_max = 0;
        CHECK(ss_feat_config_check(&c, err, sizeof(err)) == SS_ERR_CONFIG);
        ss_feat_config_default(&c);
        c.char_ngram_max = 7;
        CHECK(ss_feat_config_check(&c, err, sizeof(err)) == SS_ERR_CONFIG);
}

/* Sorts v's (idx, val) pairs by index, in place (insertion sort: test sizes). */
static void sort_pairs(ss_sparse_t *v)
{
        for (size_t i = 1; i < v->n; i++) {
                uint32_t k = v->idx[i];
                float x = v->val[i];
                size_t j = i;
                for (; j > 0 && v->idx[j - 1] > k; j--) {
                        v->idx[j] = v->idx[j - 1];
                        v->val[j] = v->val[j - 1];
                }
                v->idx[j] = k;
                v->val[j] = x;
        }
}

/* SS_FEAT_UNORDERED gives the sorted way's pairs, in another order: on real
 * tweets, on texts whose keys repeat hundreds of times, across more than 255
 * texts (the slot table's generations wrap) and with 2^24 buckets (many keys
 * share one of the 4096 slots and spill). */
static void test_unordered(void)
{
        static const char *const odd[] = {
            "",
            "a",
            "haha haha haha haha haha haha haha haha haha haha haha haha haha haha haha haha",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "no no no no no no no no no no no no no no no no no no no no no no no no no no no",
        };
        char path[1024], err[256];
        ss_test_src_path("data/semeval-2016test.tsv", path, sizeof(path));
        char *data = NULL;
        size_t len = 0;
        CHECK(ss_file_read_all(path, &data, &len, err, sizeof(err)) == SS_OK);
        for (int dims = 0; dims < 2; dims++) {
                ss_feat_config_t c;
                ss_feat_config_default(&c);
                c.dim_bits = dims ? 24 : 20;
                ss_feat_t *f = ss_feat_new(&c, NULL);
                ss_sparse_t v, w;
                ss_sparse_init(&v);
                ss_sparse_init(&w);
                int same = 1, texts = 0;
                char *p = data, *end = data + (data ? len : 0);
                for (size_t o = 0; o < sizeof(odd) / sizeof(odd[0]) + 1000 && f; o++) {
                        const char *text;
                        size_t tl;
                        if (o < sizeof(odd) / sizeof(odd[0])) {
                                text = odd[o];
                                tl = strlen(text);
                        } else {
                                char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
                                char *eol = nl ? nl : end;
                                char *t2 = p;
                                for (int tabs = 0; t2 && tabs < 2; tabs++) {
                                        t2 = memchr(t2, '\t', (size_t)(eol - t2));
                                        t2 = t2 ? t2 + 1 : NULL;
                                }
                                if (!t2)
                                        break;
                                text = t2;
                                tl = (size_t)(eol - t2);
                                p = eol + 1;
                        }
                        for (int raw = 0; raw < 2; raw++) {
                                CHECK(ss_feat_extract(f, text, tl, raw, &v, NULL) == 0);
                                CHECK(ss_feat_extract(f, text, tl, raw | SS_FEAT_UNORDERED, &w,
                                                      NULL) == 0);
                                sort_pairs(&w);
                                same &= v.n == w.n && (!v.n || !memcmp(v.idx, w.idx, v.n * 4));
                                for (size_t i = 0; same && i < v.n; i++)
                                        same &= raw ? v.val[i] == w.val[i]
                                                    : fabsf(v.val[i] - w.val[i]) < 1e-6f;
                        }
                        texts++;
                }
                CHECK(texts > 1000);
                CHECK(same);
                ss_feat_destroy(f);
                ss_sparse_free(&v);
                ss_sparse_free(&w);
        }
        free(data);
}

int main(void)
{
        test_hash();
        test_word_counts();
        test_char_counts();
        test_idf_and_weights();
        test_real_tweets();
        test_counts_across_dims();
        test_unordered();
        test_stats_and_edges();
        test_config_check();
        return ss_test_finish();
}
