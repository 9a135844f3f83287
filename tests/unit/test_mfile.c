/* The model container: round trip, and refusal of truncated, corrupted and foreign files. */
#include <stdint.h>
#include <unistd.h>

#include "mfile.h"
#include "ss_util.h"
#include "ss_test.h"

static ss_mfile_t *make_small(void)
{
        char err[256];
        ss_mfile_t *mf = ss_mfile_new("logreg", "test-model", NULL);
        float f[5] = {1.5f, -2.25f, 0, 3e-8f, 1e30f};
        uint64_t u[3] = {1, UINT64_MAX, 42};
        const char *js = "{\"a\": 1}";
        CHECK(ss_mfile_add(mf, "floats", SS_MF_F32, f, 5, err, sizeof(err)) == SS_OK);
        CHECK(ss_mfile_add(mf, "words", SS_MF_U64, u, 3, err, sizeof(err)) == SS_OK);
        CHECK(ss_mfile_add(mf, "json", SS_MF_STR, js, strlen(js), err, sizeof(err)) == SS_OK);
        CHECK(ss_mfile_add(mf, "empty", SS_MF_I32, NULL, 0, err, sizeof(err)) == SS_OK);
        /* refused additions */
        CHECK(ss_mfile_add(mf, "floats", SS_MF_F32, f, 5, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(ss_mfile_add(mf, "", SS_MF_F32, f, 5, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        CHECK(ss_mfile_add(mf, "x", (ss_mf_type_t)99, f, 5, err, sizeof(err)) ==
              SS_ERR_INVALID_ARG);
        return mf;
}

static uint8_t *dup_buf(const uint8_t *b, size_t n)
{
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b, n);
        return p;
}

static void test_round_trip(void)
{
        char err[256], path[128];
        ss_mfile_t *mf = make_small();
        snprintf(path, sizeof(path), "/tmp/ss_test_mfile_%d.ssm", (int)getpid());
        CHECK(ss_mfile_write(mf, path, err, sizeof(err)) == SS_OK);
        /* default version: kind-sha12, from the content alone */
        const char *ver = ss_mfile_version(mf);
        CHECK(!strncmp(ver, "logreg-", 7));
        CHECK(strlen(ver) == strlen("logreg-1a2b3c4d5e6f"));
        CHECK(!strncmp(ver + 7, ss_mfile_payload_sha256(mf), 12));
        ss_mfile_t *rd = ss_mfile_read(path, err, sizeof(err));
        CHECK(rd != NULL);
        if (rd) {
                CHECK_STR_EQ(ss_mfile_kind(rd), "logreg");
                CHECK_STR_EQ(ss_mfile_name(rd), "test-model");
                CHECK_STR_EQ(ss_mfile_version(rd), ver);
                CHECK_STR_EQ(ss_mfile_payload_sha256(rd), ss_mfile_payload_sha256(mf));
                CHECK(ss_mfile_nlabels(rd) == 3);
                CHECK_STR_EQ(ss_mfile_label(rd, 2), "positive");
                CHECK(ss_mfile_nsections(rd) == 4);
                uint64_t n = 0;
                const float *f = ss_mfile_get(rd, "floats", SS_MF_F32, 0, &n, err, sizeof(err));
                CHECK(f && n == 5 && f[1] == -2.25f && f[4] == 1e30f);
                CHECK(((uintptr_t)f & 15) == 0);
                const uint64_t *u = ss_mfile_get(rd, "words", SS_MF_U64, 3, NULL, err, sizeof(err));
                CHECK(u && u[1] == UINT64_MAX && ((uintptr_t)u & 15) == 0);
                const char *js = ss_mfile_get(rd, "json", SS_MF_STR, 0, &n, err, sizeof(err));
                CHECK(js && n == 8 && !memcmp(js, "{\"a\": 1}", 8));
                CHECK(ss_mfile_get(rd, "empty", SS_MF_I32, 0, &n, err, sizeof(err)) && n == 0);
                /* lookups that must fail name the file and section */
                CHECK(ss_mfile_get(rd, "nope", SS_MF_F32, 0, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, path) && strstr(err, "missing section \"nope\""));
                CHECK(ss_mfile_get(rd, "floats", SS_MF_F64, 0, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "is f32, want f64") != NULL);
                CHECK(ss_mfile_get(rd, "floats", SS_MF_F32, 6, NULL, err, sizeof(err)) == NULL);
                CHECK(strstr(err, "has 5 elements, want 6") != NULL);
                ss_mfile_destroy(rd);
        }
        /* no temp file left behind */
        char tmp[160];
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        CHECK(access(tmp, F_OK) != 0);
        unlink(path);
        CHECK(ss_mfile_read(path, err, sizeof(err)) == NULL);
        CHECK(strstr(err, path) && strstr(err, "No such file"));
        /* writing into a missing directory fails with the path */
        CHECK(ss_mfile_write(mf, "/nonexistent-dir/x.ssm", err, sizeof(err)) == SS_ERR_IO);
        CHECK(strstr(err, "/nonexistent-dir/x.ssm") != NULL);
        ss_mfile_destroy(mf);
}

static void test_refusals(void)
{
        char err[512];
        ss_mfile_t *mf = make_small();
        uint8_t *buf;
        size_t len;
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        /* sanity: the intact buffer parses */
        ss_mfile_t *ok = ss_mfile_parse(dup_buf(buf, len), len, "small", err, sizeof(err));
        CHECK(ok != NULL);
        ss_mfile_destroy(ok);

        /* every truncation is refused, naming the file */
        int refused = 0, named = 0;
        for (size_t cut = 0; cut < len; cut++) {
                ss_mfile_t *t = ss_mfile_parse(dup_buf(buf, cut), cut, "small", err, sizeof(err));
                refused += t == NULL;
                named += t == NULL && !strncmp(err, "small: ", 7);
                ss_mfile_destroy(t);
        }
        CHECK(refused == (int)len);
        CHECK(named == (int)len);
        /* a cut inside the payload says so */
        ss_mfile_t *t = ss_mfile_parse(dup_buf(buf, len - 5), len - 5, "small", err, sizeof(err));
        CHECK(t == NULL && strstr(err, "truncated") != NULL);

        /* flipping any bit pattern of any single byte of the file, header included, is
         * refused; past the fixed header it is the checksum that says so */
        uint32_t hlen = buf[12] | buf[13] << 8 | buf[14] << 16 | (uint32_t)buf[15] << 24;
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        int caught = 0, total = 0, by_sum = 0, in_strings = 0;
        for (size_t i = 0; i < len; i++) {
                for (size_t f = 0; f < sizeof(flips); f++) {
                        uint8_t *c = dup_buf(buf, len);
                        c[i] ^= flips[f];
                        ss_mfile_t *x = ss_mfile_parse(c, len, "small", err, sizeof(err));
                        total++;
                        caught += x == NULL;
                        by_sum += x == NULL && strstr(err, "sha256 mismatch") != NULL;
                        in_strings += i >= 16 && i < hlen && x == NULL;
                        ss_mfile_destroy(x);
                }
        }
        CHECK(total == 3 * (int)len && caught == total);
        CHECK(by_sum >= 3 * (int)(len - hlen)); /* every payload flip at least */
        CHECK(in_strings > 0);
        /* trailing bytes */
        uint8_t *longer = malloc(len + 3);
        memcpy(longer, buf, len);
        memset(longer + len, 0, 3);
        CHECK(ss_mfile_parse(longer, len + 3, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "3 unexpected bytes") != NULL);

        /* wrong magic, future and zero version */
        uint8_t *c = dup_buf(buf, len);
        c[1] = 'X';
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "bad magic") != NULL);
        c = dup_buf(buf, len);
        c[8] = 3;
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "format version 3 is newer") != NULL);
        /* the old format (sha256 over the payload only) is refused with advice */
        c = dup_buf(buf, len);
        c[8] = 1;
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "format version 1") != NULL && strstr(err, "train the model again"));
        c = dup_buf(buf, len);
        c[8] = 0;
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "bad format version 0") != NULL);
        /* header corruption: huge string length, label count */
        c = dup_buf(buf, len);
        c[16] = 0xff;
        c[17] = 0xff;
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        c = dup_buf(buf, len);
        c[12] = 0xf0;
        c[13] = 0xff;
        c[14] = 0xff;
        c[15] = 0x7f;
        CHECK(ss_mfile_parse(c, len, "small", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "header length") != NULL);

        /* random bytes (seeded xorshift) of many sizes: never accepted, never crash */
        uint64_t s = 0x9e3779b97f4a7c15ULL;
        int rejected = 0;
        for (int k = 0; k < 200; k++) {
                size_t n = (size_t)(k * 7 % 600);
                uint8_t *r = malloc(n ? n : 1);
                for (size_t i = 0; i < n; i++) {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        r[i] = (uint8_t)s;
                }
                /* half of them start with the right magic and version */
                if (k % 2 && n >= 16) {
                        memcpy(r, SS_MFILE_MAGIC, 8);
                        r[8] = SS_MFILE_VERSION, r[9] = r[10] = r[11] = 0;
                }
                ss_mfile_t *x = ss_mfile_parse(r, n, "random", err, sizeof(err));
                rejected += x == NULL;
                ss_mfile_destroy(x);
        }
        CHECK(rejected == 200);
        free(buf);
}

/* Offset of the sha256 field: walks the header (three strings, labels, payload length). */
static size_t sha_field_offset(const uint8_t *buf)
{
        size_t p = 16;
        for (int i = 0; i < 3; i++)
                p += 2 + (buf[p] | buf[p + 1] << 8);
        unsigned nl = buf[p] | buf[p + 1] << 8;
        p += 2;
        for (unsigned i = 0; i < nl; i++)
                p += 2 + (buf[p] | buf[p + 1] << 8);
        return p + 8;
}

/* Header strings must be printable UTF-8 of bounded length: the writer refuses others, and
 * the reader refuses a file carrying one even when its checksum is right. */
static void test_header_strings(void)
{
        char err[512];
        static const char *bad[] = {"v\xc3\x28x", "v\x01x", "v\xed\xa0\x80", "v\xc2\x85",
                                    "v\xc0\xafx"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ss_mfile_t *mf = ss_mfile_new("logreg", "m", bad[i]);
                uint8_t *buf = NULL;
                size_t len = 0;
                CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_ERR_INVALID_ARG);
                CHECK(strstr(err, "printable UTF-8") != NULL);
                ss_mfile_destroy(mf);
                free(buf);
        }
        char longv[SS_MFILE_STR_MAX + 2];
        memset(longv, 'v', sizeof(longv) - 1);
        longv[sizeof(longv) - 1] = 0;
        ss_mfile_t *mf = ss_mfile_new("logreg", "m", longv);
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_ERR_INVALID_ARG);
        ss_mfile_destroy(mf);
        free(buf);
        /* accepted: multi-byte UTF-8 */
        mf = ss_mfile_new("logreg", "modèle",
                          "v\xe2\x82\xac"
                          "1");
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        ss_mfile_t *ok = ss_mfile_parse(dup_buf(buf, len), len, "utf8", err, sizeof(err));
        CHECK(ok != NULL && !strcmp(ss_mfile_name(ok), "modèle"));
        ss_mfile_destroy(ok);
        free(buf);
        /* a file whose version is made invalid UTF-8, with its checksum recomputed */
        mf = ss_mfile_new("logreg", "m", "vAAAA");
        CHECK(ss_mfile_serialize(mf, &buf, &len, err, sizeof(err)) == SS_OK);
        ss_mfile_destroy(mf);
        uint8_t *c = dup_buf(buf, len);
        uint8_t *a = memmem(c, len, "vAAAA", 5);
        CHECK(a != NULL);
        if (a) {
                a[1] = 0xc3, a[2] = 0x28; /* an invalid two-byte sequence */
                size_t so = sha_field_offset(c);
                memset(c + so, 0, 32);
                uint8_t sha[32];
                ss_sha256(c, len, sha);
                memcpy(c + so, sha, 32);
        }
        CHECK(ss_mfile_parse(c, len, "badver", err, sizeof(err)) == NULL);
        CHECK(strstr(err, "not printable UTF-8") != NULL);
        free(buf);
}

int main(void)
{
        test_round_trip();
        test_refusals();
        test_header_strings();
        return ss_test_finish();
}
