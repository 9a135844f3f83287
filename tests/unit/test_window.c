/*
 * test_window: sliding-count and tumbling-time windows against brute-force
 * recounts, eviction order, late rows, and snapshot round trips.
 */
#include <stdint.h>
#include <string.h>

#include "ss_test.h"
#include "window.h"

/* Brute-force counts of rows[lo, hi) for distribution d, bin b. */
static uint32_t recount(const uint8_t (*rows)[3], size_t lo, size_t hi, int d, int b)
{
        uint32_t c = 0;
        for (size_t i = lo; i < hi; i++)
                c += rows[i][d] == b;
        return c;
}

static uint64_t rng = 12345;
static uint32_t next_rand(void)
{
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(rng >> 33);
}

static void test_layout(void)
{
        ss_win_layout_t l;
        CHECK(ss_win_layout_init(&l, 3, (int[]){3, 10, 2}) == 0);
        CHECK(l.total == 15 && l.off[0] == 0 && l.off[1] == 3 && l.off[2] == 13);
        CHECK(ss_win_layout_init(&l, 0, (int[]){3}) == -1);
        CHECK(ss_win_layout_init(&l, 1, (int[]){0}) == -1);
        CHECK(ss_win_layout_init(&l, 1, (int[]){SS_CARD_MAX_BINS + 1}) == -1);
}

static void test_slide(void)
{
        enum { CAP = 50, N = 437 };
        int nbins[3] = {3, 10, 2};
        ss_win_layout_t l;
        ss_win_layout_init(&l, 3, nbins);
        ss_slide_t *s = ss_slide_new(&l, CAP);
        CHECK(s != NULL);
        CHECK(ss_slide_new(&l, 0) == NULL);
        static uint8_t rows[N][3];
        int all_ok = 1;
        for (size_t i = 0; i < N; i++) {
                rows[i][0] = (uint8_t)(next_rand() % 3);
                rows[i][1] = (uint8_t)(next_rand() % 10);
                /* distribution 2 is missing on every 7th row */
                rows[i][2] = i % 7 == 0 ? SS_CARD_NO_BIN : (uint8_t)(next_rand() % 2);
                ss_slide_add(s, rows[i]);
                size_t lo = i + 1 > CAP ? i + 1 - CAP : 0;
                for (int d = 0; d < 3; d++) {
                        uint32_t n = 0;
                        for (int b = 0; b < nbins[d]; b++) {
                                uint32_t want = recount(rows, lo, i + 1, d, b);
                                all_ok &= s->counts[l.off[d] + b] == want;
                                n += want;
                        }
                        all_ok &= s->n[d] == n;
                }
                all_ok &= s->len == (i + 1 < CAP ? i + 1 : CAP);
        }
        CHECK(all_ok);
        CHECK(s->seen == N);
        CHECK(s->n[0] == CAP);
        CHECK(s->n[2] < CAP); /* rows without a bin are not counted */

        /* snapshot round trip, then both windows evolve identically */
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_slide_save(s, &b);
        CHECK(!b.failed);
        ss_slide_t *s2 = ss_slide_new(&l, CAP);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_slide_load(s2, &r) == 0);
        CHECK(r.off == b.len);
        CHECK(s2->seen == s->seen && s2->len == s->len);
        for (int i = 0; i < 30; i++) {
                uint8_t row[3] = {(uint8_t)(i % 3), (uint8_t)(i % 10), (uint8_t)(i % 2)};
                ss_slide_add(s, row);
                ss_slide_add(s2, row);
        }
        CHECK(!memcmp(s->counts, s2->counts, sizeof(uint32_t) * (size_t)l.total));
        CHECK(!memcmp(s->n, s2->n, sizeof(uint32_t) * 3));

        /* restoring into another shape or from a truncated buffer fails */
        ss_slide_t *other = ss_slide_new(&l, CAP + 1);
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_slide_load(other, &r) == -1);
        ss_mreader_init(&r, b.data, b.len - 1);
        CHECK(ss_slide_load(s2, &r) == -1);
        CHECK(s2->len == 0 && s2->n[0] == 0);
        ss_slide_destroy(other);
        ss_slide_destroy(s2);

        ss_slide_clear(s);
        CHECK(s->len == 0 && s->counts[0] == 0 && s->n[1] == 0);
        ss_slide_destroy(s);
        ss_mbuf_free(&b);
}

static void test_tumble(void)
{
        ss_win_layout_t l;
        ss_win_layout_init(&l, 1, (int[]){3});
        ss_tumble_t *t = ss_tumble_new(&l, 1000);
        CHECK(t != NULL);
        CHECK(ss_tumble_new(&l, 0) == NULL);
        CHECK(!ss_tumble_due(t, 5000)); /* empty: nothing to close */
        uint8_t r0[1] = {0}, r1[1] = {1}, r2[1] = {2};
        ss_tumble_add(t, 10500, r0);
        CHECK(t->start_ms == 10000 && ss_tumble_end(t) == 11000);
        ss_tumble_add(t, 10999, r1);
        ss_tumble_add(t, 9000, r2); /* late: counted here, and as late */
        CHECK(t->late == 1 && t->rows == 3 && t->n[0] == 3 && t->counts[2] == 1);
        CHECK(!ss_tumble_due(t, 10999));
        CHECK(ss_tumble_due(t, 11000));
        CHECK(ss_tumble_due(t, 25000));
        /* the caller evaluates, then rolls to the window holding the new row */
        ss_tumble_roll(t, 25000);
        CHECK(t->start_ms == 25000 && t->rows == 0 && t->n[0] == 0 && t->counts[0] == 0);
        ss_tumble_add(t, 25001, r1);
        CHECK(t->counts[1] == 1 && t->late == 1);

        /* negative times align down too */
        ss_tumble_t *neg = ss_tumble_new(&l, 1000);
        ss_tumble_add(neg, -1, r0);
        CHECK(neg->start_ms == -1000);
        ss_tumble_destroy(neg);

        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_tumble_save(t, &b);
        ss_tumble_t *t2 = ss_tumble_new(&l, 1000);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_tumble_load(t2, &r) == 0);
        CHECK(t2->start_ms == 25000 && t2->rows == 1 && t2->counts[1] == 1 && t2->late == 1);
        ss_tumble_t *t3 = ss_tumble_new(&l, 2000);
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_tumble_load(t3, &r) == -1); /* other width */
        ss_tumble_destroy(t3);
        ss_tumble_destroy(t2);
        ss_tumble_destroy(t);
        ss_mbuf_free(&b);
}

static void test_mbuf(void)
{
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_mbuf_put_u8(&b, 7);
        ss_mbuf_put_u32(&b, 0xdeadbeef);
        ss_mbuf_put_i64(&b, -5);
        ss_mbuf_put_f64(&b, 0.25);
        ss_mbuf_put_str(&b, "abc", 3);
        for (int i = 0; i < 1000; i++)
                ss_mbuf_put_u64(&b, (uint64_t)i);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_mreader_u8(&r) == 7);
        CHECK(ss_mreader_u32(&r) == 0xdeadbeef);
        CHECK(ss_mreader_i64(&r) == -5);
        CHECK(ss_mreader_f64(&r) == 0.25);
        const char *s;
        CHECK(ss_mreader_str(&r, &s) == 3 && !memcmp(s, "abc", 3));
        int ok = 1;
        for (int i = 0; i < 1000; i++)
                ok &= ss_mreader_u64(&r) == (uint64_t)i;
        CHECK(ok && !r.failed);
        ss_mreader_u8(&r);
        CHECK(r.failed); /* past the end: sticky failure */
        ss_mbuf_free(&b);
}

int main(void)
{
        test_layout();
        test_slide();
        test_tumble();
        test_mbuf();
        return ss_test_finish();
}
