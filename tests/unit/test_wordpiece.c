/*
 * test_wordpiece: the WordPiece tokenizer against the reference ids of
 * transformers' BertTokenizer (tests/fixtures/minilm/tokens.json, written by
 * tests/gen_minilm_fixtures.py), plus the vocabulary parser, truncation,
 * statistics and hostile input.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_test.h"
#include "ss_util.h"
#include "wordpiece.h"

static char *read_file(const char *rel, size_t *len)
{
        char path[1024], err[256];
        char *buf = NULL;
        ss_test_src_path(rel, path, sizeof(path));
        if (ss_file_read_all(path, &buf, len, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "%s\n", err);
                return NULL;
        }
        return buf;
}

static void print_ids(const char *what, const ss_wp_t *wp, const int32_t *ids, size_t n)
{
        fprintf(stderr, "  %s:", what);
        for (size_t i = 0; i < n && i < 40; i++)
                fprintf(stderr, " %s", ss_wp_token(wp, ids[i]) ? ss_wp_token(wp, ids[i]) : "?");
        fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* Every fixture case: untruncated ids, tokenize(), truncation to 256 and the counts. */
static void test_reference(ss_wp_t *wp)
{
        size_t len;
        char *json = read_file("tests/fixtures/minilm/tokens.json", &len);
        CHECK(json != NULL);
        if (!json)
                return;
        cJSON *root = cJSON_ParseWithLength(json, len);
        CHECK(root != NULL);
        cJSON *cases = cJSON_GetObjectItem(root, "cases");
        CHECK(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) >= 300);

        int ncases = 0, bad = 0, nreal_len = 0;
        size_t cap = 8192;
        int32_t *got = malloc(cap * sizeof(*got));
        int32_t *want = malloc(cap * sizeof(*want));
        cJSON *c;
        cJSON_ArrayForEach(c, cases)
        {
                const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
                cJSON *ids = cJSON_GetObjectItem(c, "ids");
                size_t nw = (size_t)cJSON_GetArraySize(ids);
                if (!text || nw < 2 || nw > cap) {
                        CHECK(!"malformed fixture case");
                        continue;
                }
                for (size_t i = 0; i < nw; i++)
                        want[i] = (int32_t)cJSON_GetArrayItem(ids, (int)i)->valueint;
                ncases++;

                /* untruncated */
                ss_wp_stats_t st;
                int n = ss_wp_encode(wp, text, strlen(text), got, (int)cap, &st);
                int same = n == (int)nw && !memcmp(got, want, nw * sizeof(*got));
                if (!same) {
                        if (bad++ < 10) {
                                fprintf(stderr, "mismatch on \"%s\"\n", text);
                                print_ids("want", wp, want, nw);
                                print_ids("got ", wp, got, n > 0 ? (size_t)n : 0);
                        }
                        continue;
                }
                int32_t unk = 0;
                for (size_t i = 1; i + 1 < nw; i++)
                        unk += want[i] == ss_wp_unk_id(wp);
                CHECK(st.n_pieces == (int32_t)nw - 2);
                CHECK(st.n_unk == unk);

                size_t np;
                const int32_t *p = ss_wp_tokenize(wp, text, strlen(text), &np);
                CHECK(p && np == nw - 2 && !memcmp(p, want + 1, np * sizeof(*p)));

                /* truncated as sentence-transformers does (max_seq_length 256) */
                int32_t t256[256];
                n = ss_wp_encode(wp, text, strlen(text), t256, 256, NULL);
                if (nw <= 256) {
                        CHECK(n == (int)nw && !memcmp(t256, want, nw * sizeof(*want)));
                } else {
                        nreal_len++;
                        CHECK(n == 256 && !memcmp(t256, want, 255 * sizeof(*want)) &&
                              t256[255] == ss_wp_sep_id(wp));
                }
        }
        printf("wordpiece: %d of %d reference cases identical (%d longer than 256)\n", ncases - bad,
               ncases, nreal_len);
        CHECK(bad == 0);
        CHECK(ncases >= 300);
        CHECK(nreal_len >= 1);
        free(got);
        free(want);
        cJSON_Delete(root);
        free(json);
}

static void test_vocab_parse(void)
{
        char err[256] = "";
        /* no trailing newline: the last line still counts; a duplicate maps to the later id */
        const char *v = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\n##c\nab";
        ss_wp_t *wp = ss_wp_new(v, strlen(v), err, sizeof(err));
        CHECK(wp != NULL);
        if (!wp)
                return;
        CHECK(ss_wp_vocab_size(wp) == 7);
        CHECK(ss_wp_pad_id(wp) == 0 && ss_wp_unk_id(wp) == 1 && ss_wp_cls_id(wp) == 2 &&
              ss_wp_sep_id(wp) == 3);
        CHECK(ss_wp_lookup(wp, "ab", 2) == 6);
        CHECK(ss_wp_lookup(wp, "##c", 3) == 5);
        CHECK(ss_wp_lookup(wp, "abc", 3) == -1);
        CHECK_STR_EQ(ss_wp_token(wp, 4), "ab");
        CHECK(ss_wp_token(wp, 7) == NULL && ss_wp_token(wp, -1) == NULL);
        int32_t ids[8];
        ss_wp_stats_t st;
        int n = ss_wp_encode(wp, "ABC abd", 7, ids, 8, &st);
        CHECK(n == 5 && ids[0] == 2 && ids[1] == 6 && ids[2] == 5 && ids[3] == 1 && ids[4] == 3);
        CHECK(st.n_pieces == 3 && st.n_unk == 1);
        /* max_len 2: only [CLS] [SEP]; max_len 1 is refused */
        CHECK(ss_wp_encode(wp, "ab ab ab", 8, ids, 2, &st) == 2 && ids[1] == 3 && st.n_pieces == 3);
        CHECK(ss_wp_encode(wp, "ab", 2, ids, 1, NULL) == -1);
        ss_wp_destroy(wp);

        const char *missing = "[PAD]\n[UNK]\n[CLS]\n";
        CHECK(ss_wp_new(missing, strlen(missing), err, sizeof(err)) == NULL);
        CHECK(strstr(err, "[SEP]") != NULL);
        CHECK(ss_wp_new("", 0, err, sizeof(err)) == NULL);
        CHECK(ss_wp_load("/nonexistent/vocab.txt", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "/nonexistent/vocab.txt") != NULL);
}

static int encode_eq(ss_wp_t *wp, const char *a, size_t alen, const char *b)
{
        int32_t x[64], y[64];
        int nx = ss_wp_encode(wp, a, alen, x, 64, NULL);
        int ny = ss_wp_encode(wp, b, strlen(b), y, 64, NULL);
        return nx > 0 && nx == ny && !memcmp(x, y, (size_t)nx * sizeof(*x));
}

static void test_hostile(ss_wp_t *wp)
{
        /* invalid UTF-8 decodes to U+FFFD, which clean-up removes (as for a decoded U+FFFD) */
        CHECK(encode_eq(wp,
                        "ab\xff"
                        "cd",
                        5, "abcd"));
        CHECK(encode_eq(wp, "ok \xc3", 4, "ok"));            /* truncated sequence */
        CHECK(encode_eq(wp, "x\xe0\x80\xafy", 5, "xy"));     /* overlong '/' */
        CHECK(encode_eq(wp, "a\xed\xa0\x80z", 5, "az"));     /* UTF-16 surrogate */
        CHECK(encode_eq(wp, "a\xf4\x90\x80\x80z", 6, "az")); /* above U+10FFFF */
        CHECK(encode_eq(wp, "nul\0byte", 8, "nulbyte"));
        CHECK(encode_eq(wp, "[CLS", 4, "[ cls")); /* a partial special token */

        /* 1 MiB of one word and 1 MiB of short words: no crash, sane counts */
        size_t big = 1 << 20;
        char *s = malloc(big);
        memset(s, 'a', big);
        size_t n;
        const int32_t *p = ss_wp_tokenize(wp, s, big, &n);
        CHECK(p && n == 1 && p[0] == ss_wp_unk_id(wp));
        for (size_t i = 0; i < big; i++)
                s[i] = (i % 4 == 3) ? ' ' : "cat"[i % 4];
        p = ss_wp_tokenize(wp, s, big, &n);
        CHECK(p && n == big / 4);
        for (size_t i = 0; i < big; i++)
                s[i] = (char)(0x80 + i % 64); /* continuation bytes only */
        p = ss_wp_tokenize(wp, s, big, &n);
        CHECK(p && n == 0);
        free(s);
}

int main(void)
{
        char path[1024], err[256];
        ss_wp_t *wp =
            ss_wp_load(ss_test_src_path("tests/fixtures/minilm/vocab.txt", path, sizeof(path)), err,
                       sizeof(err));
        CHECK(wp != NULL);
        if (!wp) {
                fprintf(stderr, "%s\n", err);
                return ss_test_finish();
        }
        CHECK(ss_wp_vocab_size(wp) == 30522);
        CHECK(ss_wp_cls_id(wp) == 101 && ss_wp_sep_id(wp) == 102 && ss_wp_pad_id(wp) == 0 &&
              ss_wp_unk_id(wp) == 100);
        test_reference(wp);
        test_vocab_parse();
        test_hostile(wp);
        ss_wp_destroy(wp);
        return ss_test_finish();
}
