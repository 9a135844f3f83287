/*
 * Tests of the consumer's offset ledger: the committable offset is one past
 * the contiguous acknowledged prefix, whatever order acknowledgements come
 * in (checked against a brute-force model on random orders), with offset
 * gaps, several outputs per message, revocation with acknowledgements still
 * in flight, and refusal of unassigned partitions and non-increasing offsets.
 */
#include "ledger.h"
#include "ss_test.h"

typedef struct {
        int *calls;
        int64_t *seen;
} ss_acc_t;

static void cb(const char *topic, int32_t partition, int64_t offset, void *opaque)
{
        ss_acc_t *acc = opaque;
        (*acc->calls)++;
        *acc->seen += offset;
}

static void test_basic(void)
{
        ss_ledger_t *l = ss_ledger_new();
        ss_err_t err;
        CHECK(ss_ledger_enter(l, "t", 0, 5, 1, &err) == NULL && err == SS_ERR_STATE);
        CHECK(ss_ledger_assign(l, "t", 0) == SS_OK);
        CHECK(ss_ledger_committable(l, "t", 0) == -1);
        /* offsets with a gap (10 -> 13), message 11 owes two outputs */
        ss_ledger_entry_t *a = ss_ledger_enter(l, "t", 0, 10, 1, &err);
        ss_ledger_entry_t *b = ss_ledger_enter(l, "t", 0, 13, 2, &err);
        ss_ledger_entry_t *c = ss_ledger_enter(l, "t", 0, 14, 1, &err);
        CHECK(a && b && c);
        CHECK(ss_ledger_enter(l, "t", 0, 14, 1, &err) == NULL && err == SS_ERR_INVALID_ARG);
        CHECK(ss_ledger_entry_offset(b) == 13 && ss_ledger_entry_partition(b) == 0);
        CHECK_STR_EQ(ss_ledger_entry_topic(b), "t");
        CHECK(ss_ledger_pending(l) == 3);

        CHECK(ss_ledger_ack(l, c) == 0); /* out of order: nothing committable yet */
        CHECK(ss_ledger_committable(l, "t", 0) == -1);
        CHECK(ss_ledger_ack(l, b) == 0); /* one of two outputs */
        CHECK(ss_ledger_ack(l, a) == 1); /* a done: prefix is a only */
        CHECK(ss_ledger_committable(l, "t", 0) == 11);
        CHECK(ss_ledger_ack(l, b) == 1); /* b done: b and c pop */
        CHECK(ss_ledger_committable(l, "t", 0) == 15);
        CHECK(ss_ledger_pending(l) == 0);

        /* advanced marks */
        int calls = 0;
        int64_t seen = 0;
        ss_ledger_assign(l, "u", 3);
        ss_ledger_entry_t *u = ss_ledger_enter(l, "u", 3, 0, 1, &err);
        ss_ledger_ack(l, u);
        ss_acc_t acc = {&calls, &seen};
        ss_ledger_foreach_advanced(l, cb, &acc);
        CHECK(calls == 2 && seen == 15 + 1);
        calls = 0;
        ss_ledger_foreach_advanced(l, cb, &acc); /* marks were cleared */
        CHECK(calls == 0);
        ss_ledger_destroy(l);
}

static void test_revoke_in_flight(void)
{
        ss_ledger_t *l = ss_ledger_new();
        ss_err_t err;
        ss_ledger_assign(l, "t", 1);
        ss_ledger_entry_t *e[4];
        for (int i = 0; i < 4; i++)
                e[i] = ss_ledger_enter(l, "t", 1, 100 + i, 1, &err);
        ss_ledger_ack(l, e[0]);
        CHECK(ss_ledger_committable(l, "t", 1) == 101);
        ss_ledger_revoke(l, "t", 1);
        CHECK(!ss_ledger_entry_live(e[1]));
        CHECK(ss_ledger_committable(l, "t", 1) == -1);
        CHECK(ss_ledger_enter(l, "t", 1, 200, 1, &err) == NULL && err == SS_ERR_STATE);
        /* late acks and abandons on the detached partition are safe and report nothing */
        CHECK(ss_ledger_ack(l, e[2]) == 0);
        /* assigned again: a fresh state, independent of the detached one */
        ss_ledger_assign(l, "t", 1);
        ss_ledger_entry_t *f = ss_ledger_enter(l, "t", 1, 101, 1, &err);
        CHECK(f != NULL);
        ss_ledger_abandon(l, e[1]);
        CHECK(ss_ledger_ack(l, e[3]) == 0); /* frees the detached partition */
        CHECK(ss_ledger_pending(l) == 1);
        CHECK(ss_ledger_ack(l, f) == 1);
        CHECK(ss_ledger_committable(l, "t", 1) == 102);
        ss_ledger_destroy(l); /* nothing leaks (ASan) */

        /* destroy with entries in flight, detached and assigned */
        l = ss_ledger_new();
        ss_ledger_assign(l, "t", 0);
        ss_ledger_enter(l, "t", 0, 1, 1, &err);
        ss_ledger_revoke(l, "t", 0);
        ss_ledger_assign(l, "t", 0);
        ss_ledger_enter(l, "t", 0, 1, 2, &err);
        ss_ledger_destroy(l);
}

/* xorshift for reproducible shuffles */
static uint32_t ss_rng = 12345;
static uint32_t ss_rand(void)
{
        ss_rng ^= ss_rng << 13;
        ss_rng ^= ss_rng >> 17;
        ss_rng ^= ss_rng << 5;
        return ss_rng;
}

#define N_MSG 300

static void test_random_orders(void)
{
        for (int round = 0; round < 50; round++) {
                ss_ledger_t *l = ss_ledger_new();
                ss_err_t err;
                const int nparts = 3;
                for (int p = 0; p < nparts; p++)
                        ss_ledger_assign(l, "t", p);
                ss_ledger_entry_t *ent[N_MSG];
                int part[N_MSG], outputs[N_MSG], acked[N_MSG];
                int64_t off[N_MSG], next_off[3] = {0, 0, 0};
                int order[N_MSG * 2], nacks = 0;
                for (int i = 0; i < N_MSG; i++) {
                        part[i] = (int)(ss_rand() % nparts);
                        next_off[part[i]] += 1 + ss_rand() % 3; /* gaps */
                        off[i] = next_off[part[i]];
                        outputs[i] = 1 + (ss_rand() % 5 == 0);
                        acked[i] = 0;
                        ent[i] = ss_ledger_enter(l, "t", part[i], off[i], outputs[i], &err);
                        CHECK(ent[i] != NULL);
                        for (int k = 0; k < outputs[i]; k++)
                                order[nacks++] = i;
                }
                for (int i = nacks - 1; i > 0; i--) {
                        int j = (int)(ss_rand() % (uint32_t)(i + 1));
                        int t = order[i];
                        order[i] = order[j];
                        order[j] = t;
                }
                int ok = 1;
                for (int k = 0; k < nacks; k++) {
                        int i = order[k];
                        acked[i]++;
                        ss_ledger_ack(l, ent[i]);
                        /* model: committable = 1 + offset of the last message of the
                         * contiguous fully acked prefix of the partition */
                        int p = part[i];
                        int64_t want = -1;
                        for (int m = 0; m < N_MSG; m++) {
                                if (part[m] != p)
                                        continue;
                                if (acked[m] < outputs[m])
                                        break;
                                want = off[m] + 1;
                        }
                        if (ss_ledger_committable(l, "t", p) != want)
                                ok = 0;
                }
                CHECK(ok);
                CHECK(ss_ledger_pending(l) == 0);
                for (int p = 0; p < nparts; p++)
                        CHECK(next_off[p] == 0 ||
                              ss_ledger_committable(l, "t", p) == next_off[p] + 1);
                ss_ledger_destroy(l);
        }
}

static void test_resume(void)
{
        ss_ledger_t *l = ss_ledger_new();
        ss_err_t err;
        CHECK(ss_ledger_resume(l, "t", 0, 50) == SS_ERR_STATE); /* not assigned */
        ss_ledger_assign(l, "t", 0);
        CHECK(ss_ledger_resume(l, "t", 0, 50) == SS_OK);
        CHECK(ss_ledger_committable(l, "t", 0) == 50);
        int calls = 0;
        int64_t seen = 0;
        ss_acc_t acc = {&calls, &seen};
        ss_ledger_foreach_advanced(l, cb, &acc); /* reported for storing */
        CHECK(calls == 1 && seen == 50);
        CHECK(ss_ledger_enter(l, "t", 0, 49, 1, &err) == NULL && err == SS_ERR_INVALID_ARG);
        ss_ledger_entry_t *e = ss_ledger_enter(l, "t", 0, 50, 1, &err);
        CHECK(e != NULL);
        CHECK(ss_ledger_resume(l, "t", 0, 60) == SS_ERR_STATE); /* something entered */
        ss_ledger_ack(l, e);
        CHECK(ss_ledger_committable(l, "t", 0) == 51);
        ss_ledger_destroy(l);
}

int main(void)
{
        test_resume();
        test_basic();
        test_revoke_in_flight();
        test_random_orders();
        return ss_test_finish();
}
