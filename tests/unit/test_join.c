/*
 * test_join: prediction/label join in both arrival orders, TTL expiry and the
 * max-pending bound (oldest first, counted), duplicates, bad ids, snapshot round
 * trip, and a randomised comparison with a brute-force model.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "join.h"
#include "ss_test.h"

static ss_join_pred_t P(uint32_t model, int label, int64_t t)
{
        return (ss_join_pred_t){model, (uint8_t)label, t};
}

static ss_join_label_t L(int label, int64_t t)
{
        return (ss_join_label_t){(uint8_t)label, t};
}

static void test_both_orders(void)
{
        ss_join_t *j = ss_join_new(100, 60000);
        ss_join_pair_t out;
        ss_join_pred_t p = P(3, 2, 1000);
        ss_join_label_t l = L(0, 1500);
        /* prediction first */
        CHECK(ss_join_add_pred(j, "111", 3, &p, 1000, &out) == 0);
        CHECK(ss_join_stats(j)->pending_pred == 1);
        CHECK(ss_join_add_label(j, "111", 3, &l, 1500, &out) == 1);
        CHECK(out.pred.model == 3 && out.pred.label == 2 && out.pred.scored_at_ms == 1000);
        CHECK(out.label.label == 0 && out.label.labeled_at_ms == 1500);
        CHECK(ss_join_stats(j)->pending_pred == 0 && ss_join_stats(j)->joined == 1);
        /* label first */
        memset(&out, 0, sizeof(out));
        CHECK(ss_join_add_label(j, "222", 3, &l, 2000, &out) == 0);
        CHECK(ss_join_stats(j)->pending_label == 1);
        CHECK(ss_join_add_pred(j, "222", 3, &p, 2100, &out) == 1);
        CHECK(out.pred.model == 3 && out.label.label == 0);
        CHECK(ss_join_stats(j)->joined == 2 && ss_join_stats(j)->pending_label == 0);
        /* keys compare by bytes and length: "22" is not "222" */
        CHECK(ss_join_add_pred(j, "22", 2, &p, 2200, &out) == 0);
        CHECK(ss_join_add_label(j, "222", 3, &l, 2200, &out) == 0);
        /* duplicates replace and are counted */
        CHECK(ss_join_add_pred(j, "22", 2, &p, 2300, &out) == 0);
        CHECK(ss_join_stats(j)->dup_pred == 1 && ss_join_stats(j)->pending_pred == 1);
        CHECK(ss_join_add_label(j, "222", 3, &l, 2300, &out) == 0);
        CHECK(ss_join_stats(j)->dup_label == 1 && ss_join_stats(j)->pending_label == 1);
        /* bad ids are refused and counted */
        char longid[SS_JOIN_KEY_MAX + 2];
        memset(longid, '7', sizeof(longid));
        CHECK(ss_join_add_pred(j, longid, SS_JOIN_KEY_MAX + 1, &p, 2400, &out) == -1);
        CHECK(ss_join_add_label(j, "", 0, &l, 2400, &out) == -1);
        CHECK(ss_join_stats(j)->bad_key == 2);
        CHECK(ss_join_add_pred(j, longid, SS_JOIN_KEY_MAX, &p, 2400, &out) == 0);
        ss_join_destroy(j);
        CHECK(ss_join_new(0, 10) == NULL);
        CHECK(ss_join_new(10, 0) == NULL);
}

static void test_ttl(void)
{
        ss_join_t *j = ss_join_new(100, 1000);
        ss_join_pair_t out;
        ss_join_pred_t p = P(0, 1, 0);
        ss_join_label_t l = L(1, 0);
        ss_join_add_pred(j, "a", 1, &p, 0, &out);
        ss_join_add_label(j, "b", 1, &l, 500, &out);
        ss_join_add_pred(j, "c", 1, &p, 900, &out);
        CHECK(ss_join_expire(j, 999) == 0);
        CHECK(ss_join_expire(j, 1000) == 1); /* "a" waited the full TTL */
        CHECK(ss_join_stats(j)->expired_pred == 1);
        /* the expired prediction's label now waits instead of joining */
        CHECK(ss_join_add_label(j, "a", 1, &l, 1001, &out) == 0);
        CHECK(ss_join_expire(j, 1500) == 1); /* "b" */
        CHECK(ss_join_stats(j)->expired_label == 1);
        /* "c" still joins before its TTL */
        CHECK(ss_join_add_label(j, "c", 1, &l, 1899, &out) == 1);
        CHECK(ss_join_expire(j, 10000) == 1); /* the late label for "a" */
        const ss_join_stats_t *st = ss_join_stats(j);
        CHECK(st->expired_label == 2 && st->expired_pred == 1 && st->joined == 1);
        CHECK(st->pending_pred == 0 && st->pending_label == 0);
        /* a replaced duplicate waits from its own arrival */
        ss_join_add_pred(j, "d", 1, &p, 20000, &out);
        ss_join_add_pred(j, "d", 1, &p, 20800, &out);
        CHECK(ss_join_expire(j, 21000) == 0);
        CHECK(ss_join_expire(j, 21800) == 1);
        ss_join_destroy(j);
}

static void test_capacity(void)
{
        ss_join_t *j = ss_join_new(3, 1000000);
        ss_join_pair_t out;
        ss_join_pred_t p = P(0, 0, 0);
        ss_join_label_t l = L(2, 0);
        ss_join_add_pred(j, "1", 1, &p, 1, &out);
        ss_join_add_label(j, "2", 1, &l, 2, &out);
        ss_join_add_pred(j, "3", 1, &p, 3, &out);
        ss_join_add_pred(j, "4", 1, &p, 4, &out); /* evicts "1" */
        CHECK(ss_join_stats(j)->evicted_pred == 1);
        ss_join_add_pred(j, "5", 1, &p, 5, &out); /* evicts label "2" */
        CHECK(ss_join_stats(j)->evicted_label == 1);
        CHECK(ss_join_add_label(j, "1", 1, &l, 6, &out) == 0); /* evicts "3"; "1" is gone */
        CHECK(ss_join_add_label(j, "4", 1, &l, 7, &out) == 1);
        CHECK(ss_join_add_label(j, "5", 1, &l, 8, &out) == 1);
        CHECK(ss_join_stats(j)->evicted_pred == 2 && ss_join_stats(j)->joined == 2);
        ss_join_destroy(j);
}

/* Adds id's prediction (is_label 0) or label at t under key "<prefix><id>"; returns what
 * the join returned, the pair in *out. */
static int add_one(ss_join_t *j, const char *prefix, int id, int is_label, int64_t t,
                   ss_join_pair_t *out)
{
        char key[16];
        int n = snprintf(key, sizeof(key), "%s%d", prefix, id);
        if (is_label) {
                ss_join_label_t l = L(id % 3, t);
                return ss_join_add_label(j, key, (size_t)n, &l, t, out);
        }
        ss_join_pred_t p = P((uint32_t)id, id % 3, t);
        return ss_join_add_pred(j, key, (size_t)n, &p, t, out);
}

/* Random operations against a brute-force list: same joins, same pending counts. */
static void test_random(void)
{
        enum { IDS = 300, OPS = 20000, TTL = 400 };
        ss_join_t *j = ss_join_new(1000, TTL);
        /* model state per id: 0 none, 1 pred waits, 2 label waits; time added */
        static int state[IDS];
        static int64_t added[IDS];
        uint64_t s = 4242, joined = 0, expired = 0;
        int ok = 1;
        for (int64_t t = 0; t < OPS; t++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                int id = (int)((s >> 33) % IDS), is_label = (int)((s >> 20) & 1);
                /* expire first, in the model too */
                size_t ne = ss_join_expire(j, t);
                size_t me = 0;
                for (int i = 0; i < IDS; i++)
                        if (state[i] && added[i] <= t - TTL) {
                                state[i] = 0;
                                me++;
                        }
                ok &= ne == me;
                expired += me;
                ss_join_pair_t out;
                int rc = add_one(j, "id", id, is_label, t, &out);
                int want = state[id] && state[id] != 1 + is_label;
                ok &= rc == want;
                if (want) {
                        joined++;
                        state[id] = 0;
                        ok &= out.pred.model == (uint32_t)id;
                } else {
                        state[id] = 1 + is_label;
                        added[id] = t;
                }
        }
        const ss_join_stats_t *st = ss_join_stats(j);
        CHECK(ok);
        CHECK(st->joined == joined);
        CHECK(st->expired_pred + st->expired_label == expired);
        uint64_t pp = 0, pl = 0;
        for (int i = 0; i < IDS; i++) {
                pp += state[i] == 1;
                pl += state[i] == 2;
        }
        CHECK(st->pending_pred == pp && st->pending_label == pl);
        CHECK(joined > 1000 && expired > 100); /* the test exercised both paths */

        /* snapshot round trip keeps entries, order and counters */
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_join_save(j, &b);
        ss_join_t *k = ss_join_new(1000, TTL);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_join_load(k, &r) == 0);
        CHECK(!memcmp(ss_join_stats(j), ss_join_stats(k), sizeof(ss_join_stats_t)));
        /* both expire the same entries at the same times */
        int same = 1;
        for (int64_t t = OPS; t < OPS + TTL + 1; t += 7)
                same &= ss_join_expire(j, t) == ss_join_expire(k, t);
        CHECK(same);
        CHECK(ss_join_stats(k)->pending_pred == 0);
        ss_mreader_init(&r, b.data, b.len / 2);
        CHECK(ss_join_load(k, &r) == -1);
        CHECK(ss_join_stats(k)->pending_pred == 0 && ss_join_stats(k)->joined == 0);
        ss_mbuf_free(&b);
        ss_join_destroy(k);
        ss_join_destroy(j);
}

/* A small table under many ids: every add beyond the capacity evicts the oldest
 * waiting entry (probe runs shift back on each removal); checked against a model. */
static void test_random_evict(void)
{
        enum { IDS = 2000, CAP = 64, OPS = 50000 };
        ss_join_t *j = ss_join_new(CAP, INT64_MAX / 4);
        /* model per id: 0 none, 1 pred waits, 2 label waits; seq of the add */
        static int state[IDS];
        static int64_t seq[IDS];
        uint64_t s = 977, joined = 0, evicted = 0;
        int ok = 1, waiting = 0;
        for (int64_t t = 0; t < OPS; t++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                /* ids drawn from a window that moves, so some pairs meet before eviction */
                int id = (int)((t / 8 + (int64_t)((s >> 33) % 48)) % IDS);
                int is_label = (int)((s >> 20) & 1);
                ss_join_pair_t out;
                int rc = add_one(j, "k", id, is_label, t, &out);
                int want = state[id] && state[id] != 1 + is_label;
                ok &= rc == want;
                if (want) {
                        joined++;
                        state[id] = 0;
                        waiting--;
                        ok &= out.pred.model == (uint32_t)id;
                        continue;
                }
                if (state[id]) { /* same side again: replaces, waits from now */
                        state[id] = 0;
                        waiting--;
                }
                if (waiting == CAP) { /* the model evicts its oldest */
                        int old = -1;
                        for (int i = 0; i < IDS; i++)
                                if (state[i] && (old < 0 || seq[i] < seq[old]))
                                        old = i;
                        state[old] = 0;
                        waiting--;
                        evicted++;
                }
                state[id] = 1 + is_label;
                seq[id] = t;
                waiting++;
        }
        const ss_join_stats_t *st = ss_join_stats(j);
        CHECK(ok);
        CHECK(st->joined == joined);
        CHECK(st->evicted_pred + st->evicted_label == evicted);
        CHECK(st->pending_pred + st->pending_label == (uint64_t)waiting);
        CHECK(joined > 1000 && evicted > 1000); /* the test exercised both paths */
        ss_join_destroy(j);
}

int main(void)
{
        test_both_orders();
        test_ttl();
        test_capacity();
        test_random();
        test_random_evict();
        return ss_test_finish();
}
