/* Data files and input lines: parsing, errors naming file and line, the tune split. */
#include <stdint.h>
#include <unistd.h>

#include "dataset.h"
#include "model.h"
#include "ss_test.h"

static const char *write_tmp(const char *content, size_t len, char *path, size_t size)
{
        snprintf(path, size, "/tmp/ss_test_dataset_%d.tsv", (int)getpid());
        FILE *f = fopen(path, "wb");
        fwrite(content, 1, len, f);
        fclose(f);
        return path;
}

static void test_parse_lines(void)
{
        ss_arena_t a;
        ss_arena_init(&a);
        ss_record_t r;
        char err[256];
        const char *l1 = "123\tpositive\tgood day :)";
        CHECK(ss_record_parse(l1, strlen(l1), 1, &a, &r, err, sizeof(err)) == SS_OK);
        CHECK(r.id_len == 3 && !memcmp(r.id, "123", 3));
        CHECK(r.label == SS_LABEL_POSITIVE);
        CHECK(r.text_len == 11 && !memcmp(r.text, "good day :)", 11));
        /* CRLF and a tab inside the text */
        const char *l2 = "9\tneutral\ta\tb\r";
        CHECK(ss_record_parse(l2, strlen(l2), 1, &a, &r, err, sizeof(err)) == SS_OK);
        CHECK(r.text_len == 3 && !memcmp(r.text, "a\tb", 3));
        /* two fields are fine for scoring, not for training */
        const char *l3 = "7\thello";
        CHECK(ss_record_parse(l3, strlen(l3), 0, &a, &r, err, sizeof(err)) == SS_OK);
        CHECK(r.label == -1 && r.text_len == 5);
        CHECK(ss_record_parse(l3, strlen(l3), 1, &a, &r, err, sizeof(err)) == SS_ERR_PARSE);
        CHECK(strstr(err, "tab") != NULL);
        /* errors */
        CHECK(ss_record_parse("no tab here", 11, 0, &a, &r, err, sizeof(err)) == SS_ERR_PARSE);
        CHECK(ss_record_parse("\tpositive\tx", 11, 0, &a, &r, err, sizeof(err)) == SS_ERR_EMPTY);
        CHECK(ss_record_parse("1\tgood\tx", 8, 1, &a, &r, err, sizeof(err)) == SS_ERR_PARSE);
        CHECK(strstr(err, "unknown label \"good\"") != NULL);
        CHECK(ss_record_parse("", 0, 0, &a, &r, err, sizeof(err)) == SS_ERR_EMPTY);
        CHECK(ss_record_parse("1\tneutral\t\xff\xfe", 12, 0, &a, &r, err, sizeof(err)) ==
              SS_ERR_UTF8);
        CHECK(strstr(err, "byte 11") != NULL);
        /* JSON */
        const char *j1 = "{\"id\": \"42\", \"text\": \"caf\\u00e9 \\ud83d\\ude00\", \"lang\": "
                         "\"en\", \"created_at\": 1, \"user\": null}";
        CHECK(ss_record_parse(j1, strlen(j1), 0, &a, &r, err, sizeof(err)) == SS_OK);
        CHECK(r.id_len == 2 && !strcmp(r.id, "42"));
        CHECK(r.text_len == strlen("caf\xc3\xa9 \xf0\x9f\x98\x80"));
        CHECK(!memcmp(r.text, "caf\xc3\xa9 \xf0\x9f\x98\x80", r.text_len));
        CHECK(r.label == -1);
        const char *j2 = "{\"id\":\"1\",\"label\":\"negative\",\"text\":\"meh\"}";
        CHECK(ss_record_parse(j2, strlen(j2), 1, &a, &r, err, sizeof(err)) == SS_OK);
        CHECK(r.label == SS_LABEL_NEGATIVE);
        struct {
                const char *line;
                ss_err_t want;
                const char *msg;
        } bad[] = {
            {"{\"id\":\"1\",\"text\":\"a\\u0000b\"}", SS_ERR_UTF8, "\\u0000"},
            {"{\"id\":\"1\",\"text\":\"a\\ud800b\"}", SS_ERR_UTF8, "surrogate"},
            {"{\"id\":\"1\",\"text\":\"a\\udc00\"}", SS_ERR_UTF8, "surrogate"},
            {"{\"id\":\"1\",\"text\":\"a\\uzz00\"}", SS_ERR_PARSE, "escape"},
            {"{\"id\":\"1\"}", SS_ERR_EMPTY, "\"text\""},
            {"{\"text\":\"x\"}", SS_ERR_EMPTY, "\"id\""},
            {"{\"id\":1,\"text\":\"x\"}", SS_ERR_PARSE, "not a string"},
            {"{\"id\":\"1\",\"text\":\"x\"", SS_ERR_PARSE, "bad JSON"},
            {"{\"id\":\"1\",\"text\":\"x\"} junk", SS_ERR_PARSE, "trailing"},
            {"{\"id\":\"\",\"text\":\"x\"}", SS_ERR_EMPTY, "id"},
            {"{\"id\":\"1\",\"text\":\"x\",\"label\":\"meh\"}", SS_ERR_PARSE, "label"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                ss_err_t e =
                    ss_record_parse(bad[i].line, strlen(bad[i].line), 0, &a, &r, err, sizeof(err));
                CHECK(e == bad[i].want);
                CHECK(strstr(err, bad[i].msg) != NULL);
                if (e != bad[i].want || !strstr(err, bad[i].msg))
                        fprintf(stderr, "  line %zu: %s -> %s: %s\n", i, bad[i].line,
                                ss_err2name(e), err);
        }
        /* label required in JSON when training */
        const char *j3 = "{\"id\":\"1\",\"text\":\"x\"}";
        CHECK(ss_record_parse(j3, strlen(j3), 1, &a, &r, err, sizeof(err)) == SS_ERR_EMPTY);
        ss_arena_free(&a);
}

static void test_utf8(void)
{
        CHECK(ss_utf8_check("plain", 5) == -1);
        CHECK(ss_utf8_check("\xc3\xa9", 2) == -1);
        CHECK(ss_utf8_check("ab\xc3", 3) == 2);            /* truncated */
        CHECK(ss_utf8_check("\xc0\xaf", 2) == 0);          /* overlong */
        CHECK(ss_utf8_check("x\xed\xa0\x80", 4) == 1);     /* surrogate */
        CHECK(ss_utf8_check("\xf4\x90\x80\x80", 4) == 0);  /* > U+10FFFF */
        CHECK(ss_utf8_check("\xf0\x9f\x98\x80", 4) == -1); /* emoji */
        CHECK(ss_utf8_check("\xe0\x80\x80", 3) == 0);      /* overlong 3-byte */
}

typedef struct bad_seen {
        int n;
        char msg[4][256];
        ss_err_t err[4];
} bad_seen_t;

static void on_bad(ss_err_t err, const char *msg, void *opaque)
{
        bad_seen_t *s = opaque;
        if (s->n < 4) {
                snprintf(s->msg[s->n], sizeof(s->msg[0]), "%s", msg);
                s->err[s->n] = err;
        }
        s->n++;
}

static void test_load_file(void)
{
        char path[128], err[512];
        const char good[] = "1\tpositive\tgreat\n"
                            "{\"id\":\"2\",\"label\":\"neutral\",\"text\":\"j\\u00e9son\"}\n"
                            "3\tnegative\tbad\r\n"
                            "4\tneutral\tno newline at end";
        write_tmp(good, sizeof(good) - 1, path, sizeof(path));
        ss_dataset_t *ds = ss_dataset_load(path, err, sizeof(err));
        CHECK(ds != NULL);
        if (ds) {
                CHECK(ds->n == 4);
                CHECK_STR_EQ(ds->ids[0], "1");
                CHECK_STR_EQ(ds->texts[0], "great");
                CHECK_STR_EQ(ds->ids[1], "2");
                CHECK_STR_EQ(ds->texts[1], "j\xc3\xa9son");
                CHECK_STR_EQ(ds->texts[2], "bad");
                CHECK(ds->lens[2] == 3);
                CHECK_STR_EQ(ds->texts[3], "no newline at end");
                CHECK(ds->labels[0] == 2 && ds->labels[1] == 1 && ds->labels[2] == 0);
                CHECK(ds->lines[3] == 4);
                CHECK(strlen(ds->sha256) == 64);
                int64_t counts[3];
                ss_dataset_label_counts(ds, counts);
                CHECK(counts[0] == 1 && counts[1] == 2 && counts[2] == 1);
                ss_dataset_destroy(ds);
        }
        /* a bad line names the file and the line */
        const char bad[] = "1\tpositive\tok\n2\tpositive\tok\n\n4\tneutral\tx\n";
        write_tmp(bad, sizeof(bad) - 1, path, sizeof(path));
        CHECK(ss_dataset_load(path, err, sizeof(err)) == NULL);
        char want[160];
        snprintf(want, sizeof(want), "%s:3: empty line", path);
        CHECK_STR_EQ(err, want);
        /* the lenient load reports each bad line with file:line and keeps the rest */
        const char mixed[] = "1\tpositive\tok\n2\tnegative\tbad \xff byte\n\n4\tneutral\tx\n";
        write_tmp(mixed, sizeof(mixed) - 1, path, sizeof(path));
        bad_seen_t seen = {0};
        size_t nbad = 99;
        ss_dataset_t *ld = ss_dataset_load_lenient(path, on_bad, &seen, &nbad, err, sizeof(err));
        CHECK(ld != NULL && ld->n == 2 && nbad == 2 && seen.n == 2);
        CHECK(ld && ld->lines[0] == 1 && ld->lines[1] == 4);
        snprintf(want, sizeof(want), "%s:2: invalid UTF-8", path);
        CHECK(strncmp(seen.msg[0], want, strlen(want)) == 0 && seen.err[0] == SS_ERR_UTF8);
        snprintf(want, sizeof(want), "%s:3: empty line", path);
        CHECK_STR_EQ(seen.msg[1], want);
        ss_dataset_destroy(ld);
        write_tmp(bad, 14, path, sizeof(path)); /* "1\tpositive\tok\n" only: nothing bad */
        ld = ss_dataset_load_lenient(path, on_bad, &seen, &nbad, err, sizeof(err));
        CHECK(ld != NULL && nbad == 0);
        ss_dataset_destroy(ld);
        write_tmp("\n\n", 2, path, sizeof(path)); /* no good line: still an error */
        CHECK(ss_dataset_load_lenient(path, on_bad, &seen, &nbad, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "no data lines") != NULL);
        const char bad2[] = "1\tpositive\tok\n2\tpositiv\tok\n";
        write_tmp(bad2, sizeof(bad2) - 1, path, sizeof(path));
        CHECK(ss_dataset_load(path, err, sizeof(err)) == NULL);
        CHECK(strstr(err, ":2: unknown label \"positiv\"") != NULL);
        write_tmp("", 0, path, sizeof(path));
        CHECK(ss_dataset_load(path, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "no data lines") != NULL);
        unlink(path);
        CHECK(ss_dataset_load(path, err, sizeof(err)) == NULL);
        CHECK(strstr(err, path) != NULL);
}

static void test_real_file_and_split(void)
{
        char path[512], err[512];
        ss_dataset_t *ds = ss_dataset_load(
            ss_test_src_path("data/semeval-train.tsv", path, sizeof(path)), err, sizeof(err));
        CHECK(ds != NULL);
        if (!ds) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        /* counts from data/README.md */
        int64_t c[3];
        ss_dataset_label_counts(ds, c);
        CHECK(ds->n == 29014);
        CHECK(c[SS_LABEL_POSITIVE] == 12597 && c[SS_LABEL_NEUTRAL] == 11907 &&
              c[SS_LABEL_NEGATIVE] == 4510);
        ss_dataset_t *fit = NULL, *tune = NULL, *fit2 = NULL, *tune2 = NULL;
        CHECK(ss_dataset_split(ds, 0.1, 7, &fit, &tune, err, sizeof(err)) == SS_OK);
        CHECK(fit->n + tune->n == ds->n);
        CHECK(tune->n > 2600 && tune->n < 3200); /* ~10% */
        /* deterministic, independent of order: same seed gives the same rows */
        CHECK(ss_dataset_split(ds, 0.1, 7, &fit2, &tune2, err, sizeof(err)) == SS_OK);
        CHECK(tune2->n == tune->n);
        int same = 1;
        for (size_t i = 0; i < tune->n && same; i++)
                same = !strcmp(tune->ids[i], tune2->ids[i]) &&
                       !strcmp(tune->texts[i], tune2->texts[i]) &&
                       tune->labels[i] == tune2->labels[i];
        CHECK(same);
        for (size_t i = 0; i < tune->n; i++)
                if (!ss_dataset_is_tune(tune->ids[i], strlen(tune->ids[i]), 0.1, 7))
                        same = 0;
        CHECK(same);
        ss_dataset_destroy(fit2);
        ss_dataset_destroy(tune2);
        /* another seed gives another split */
        CHECK(ss_dataset_split(ds, 0.1, 8, NULL, &tune2, err, sizeof(err)) == SS_OK);
        CHECK(tune2->n != tune->n || strcmp(tune2->ids[0], tune->ids[0]) != 0);
        ss_dataset_destroy(tune2);
        CHECK(ss_dataset_split(ds, 1.5, 7, NULL, &tune2, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        ss_dataset_destroy(fit);
        ss_dataset_destroy(tune);
        ss_dataset_destroy(ds);
}

int main(void)
{
        test_parse_lines();
        test_utf8();
        test_load_file();
        test_real_file_and_split();
        return ss_test_finish();
}
