/*
 * test_trigger: k-of-n firing, history cleared after an event, cooldown per
 * model, reset on a newer model version, stale older versions, persistence.
 */
#include <stdint.h>

#include "ss_test.h"
#include "trigger.h"

static ss_trigger_t make(int k, int n, int64_t cooldown)
{
        ss_trigger_t t;
        ss_trigger_config_t c = {k, n, cooldown};
        int rc = ss_trigger_init(&t, &c);
        CHECK(rc == 0);
        return t;
}

static void test_k_of_n(void)
{
        ss_trigger_t t = make(3, 5, 0);
        const char *v = "v1";
        /* breaches at evaluations 1, 3, 5 of 5: fires at the 5th (3 of the last 5) */
        CHECK(ss_trigger_observe(&t, 0, v, 1, 1, 100) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&t, 0, v, 1, 0, 200) == SS_TRIG_QUIET);
        CHECK(ss_trigger_observe(&t, 0, v, 1, 1, 300) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&t, 0, v, 1, 0, 400) == SS_TRIG_QUIET);
        CHECK(ss_trigger_breaches(&t, 0) == 2);
        CHECK(ss_trigger_observe(&t, 0, v, 1, 1, 500) == SS_TRIG_FIRE);
        CHECK(t.fired == 1 && ss_trigger_breaches(&t, 0) == 0); /* history cleared */

        /* breaches spread wider than n never fire: 1 0 0 0 1 0 0 0 1 ... */
        ss_trigger_t u = make(2, 4, 0);
        int fired = 0;
        for (int i = 0; i < 40; i++)
                fired += ss_trigger_observe(&u, 0, v, 1, i % 4 == 0, i) == SS_TRIG_FIRE;
        CHECK(fired == 0);
        /* ... but 1 0 0 1 does (2 of the last 4) */
        ss_trigger_t w = make(2, 4, 0);
        int seq[] = {1, 0, 0, 1};
        ss_trig_result_t last = SS_TRIG_QUIET;
        for (int i = 0; i < 4; i++)
                last = ss_trigger_observe(&w, 0, v, 1, seq[i], i);
        CHECK(last == SS_TRIG_FIRE);

        /* streams keep separate histories */
        ss_trigger_t x = make(2, 3, 0);
        CHECK(ss_trigger_observe(&x, 0, v, 1, 1, 1) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&x, 1, v, 1, 1, 2) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&x, 1, v, 1, 1, 3) == SS_TRIG_FIRE);
        CHECK(ss_trigger_breaches(&x, 0) == 1);
        CHECK(ss_trigger_observe(&x, 9, v, 1, 1, 3) == SS_TRIG_STALE);

        /* k = n = 1: every breach fires */
        ss_trigger_t y = make(1, 1, 0);
        CHECK(ss_trigger_observe(&y, 0, v, 1, 1, 1) == SS_TRIG_FIRE);
        CHECK(ss_trigger_observe(&y, 0, v, 1, 0, 2) == SS_TRIG_QUIET);
        CHECK(ss_trigger_observe(&y, 0, v, 1, 1, 3) == SS_TRIG_FIRE);

        ss_trigger_t bad;
        CHECK(ss_trigger_init(&bad, &(ss_trigger_config_t){3, 2, 0}) == -1);
        CHECK(ss_trigger_init(&bad, &(ss_trigger_config_t){0, 2, 0}) == -1);
        CHECK(ss_trigger_init(&bad, &(ss_trigger_config_t){1, 33, 0}) == -1);
        CHECK(ss_trigger_init(&bad, &(ss_trigger_config_t){1, 2, -1}) == -1);
        ss_trigger_t big = make(32, 32, 0);
        for (int i = 0; i < 31; i++)
                CHECK(ss_trigger_observe(&big, 0, v, 1, 1, i) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&big, 0, v, 1, 1, 31) == SS_TRIG_FIRE);
}

static void test_cooldown(void)
{
        ss_trigger_t t = make(2, 3, 1000);
        const char *v = "v1";
        ss_trigger_observe(&t, 0, v, 5, 1, 0);
        CHECK(ss_trigger_observe(&t, 0, v, 5, 1, 10) == SS_TRIG_FIRE);
        CHECK(ss_trigger_cooling(&t, 500) && !ss_trigger_cooling(&t, 1010));
        /* another stream of the same model also waits */
        ss_trigger_observe(&t, 1, v, 5, 1, 100);
        CHECK(ss_trigger_observe(&t, 1, v, 5, 1, 200) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&t, 0, v, 5, 1, 300) == SS_TRIG_BREACH);
        CHECK(ss_trigger_observe(&t, 0, v, 5, 1, 400) == SS_TRIG_COOLDOWN);
        CHECK(t.suppressed == 2);
        /* history survives the cooldown: the first evaluation after it fires */
        CHECK(ss_trigger_observe(&t, 1, v, 5, 0, 1009) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&t, 1, v, 5, 1, 1010) == SS_TRIG_FIRE);
        CHECK(ss_trigger_observe(&t, 0, v, 5, 1, 1020) == SS_TRIG_COOLDOWN);
        /* once the breaches stop within the window nothing fires after the cooldown */
        ss_trigger_observe(&t, 0, v, 5, 0, 1500);
        ss_trigger_observe(&t, 0, v, 5, 0, 1600);
        CHECK(ss_trigger_observe(&t, 0, v, 5, 0, 5000) == SS_TRIG_QUIET);
        CHECK(t.fired == 2);
}

static void test_clocks(void)
{
        /* no cooldown: an evaluation stamped before the last event still fires */
        ss_trigger_t t = make(1, 1, 0);
        CHECK(ss_trigger_observe(&t, 2, "v1", 1, 1, 5000) == SS_TRIG_FIRE);
        CHECK(!ss_trigger_cooling(&t, 4000));
        CHECK(ss_trigger_observe(&t, 0, "v1", 1, 1, 4000) == SS_TRIG_FIRE);
        /* with a cooldown, an earlier stamp is inside it */
        ss_trigger_t u = make(1, 1, 1000);
        CHECK(ss_trigger_observe(&u, 2, "v1", 1, 1, 5000) == SS_TRIG_FIRE);
        CHECK(ss_trigger_cooling(&u, 3000));
        CHECK(ss_trigger_observe(&u, 0, "v1", 1, 1, 3000) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&u, 0, "v1", 1, 1, 6000) == SS_TRIG_FIRE);
}

static void test_versions(void)
{
        ss_trigger_t t = make(2, 2, 100);
        ss_trigger_observe(&t, 0, "v1", 10, 1, 0);
        CHECK(t.last_fire_ms == INT64_MIN); /* the first version starts without a cooldown */
        CHECK(ss_trigger_observe(&t, 0, "v1", 10, 1, 1) == SS_TRIG_FIRE);
        ss_trigger_observe(&t, 0, "v1", 10, 1, 2);
        CHECK(ss_trigger_observe(&t, 0, "v1", 10, 1, 3) == SS_TRIG_COOLDOWN);
        /* a newer version: history starts empty, the cooldown starts at the switch */
        CHECK(ss_trigger_observe(&t, 0, "v2", 20, 1, 150) == SS_TRIG_BREACH);
        CHECK(t.resets == 2); /* the first version counted as one */
        CHECK_STR_EQ(t.version, "v2");
        CHECK(ss_trigger_observe(&t, 0, "v2", 20, 1, 160) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&t, 0, "v2", 20, 1, 250) == SS_TRIG_FIRE);
        /* the older version's evaluations are stale and change nothing */
        CHECK(ss_trigger_observe(&t, 0, "v1", 10, 1, 400) == SS_TRIG_STALE);
        CHECK(ss_trigger_breaches(&t, 0) == 0);
        /* same rank: the version string breaks the tie */
        CHECK(ss_trigger_observe(&t, 0, "v1b", 20, 1, 401) == SS_TRIG_STALE);
        CHECK(ss_trigger_observe(&t, 0, "v3", 20, 1, 402) == SS_TRIG_BREACH);
        CHECK_STR_EQ(t.version, "v3");
        CHECK(t.fired == 2);
        /* the current version stays current whatever rank it is named with */
        CHECK(ss_trigger_observe(&t, 0, "v3", 5, 1, 600) == SS_TRIG_FIRE);
}

/* An explicit switch (a model update): a rollback to an older card ranks it by the switch
 * time; the version switched away from is stale from then on. */
static void test_switch(void)
{
        ss_trigger_t t = make(1, 1, 1000);
        CHECK(ss_trigger_switch(&t, "v2", 20, 50) == 1);
        CHECK(t.last_fire_ms == INT64_MIN);
        CHECK(ss_trigger_observe(&t, 0, "v2", 20, 1, 100) == SS_TRIG_FIRE);
        CHECK(ss_trigger_switch(&t, "v2", 20, 200) == 0); /* the current one: nothing */
        CHECK(ss_trigger_switch(&t, "v1", 5000, 5000) == 1);
        CHECK(ss_trigger_cooling(&t, 5999) && !ss_trigger_cooling(&t, 6000));
        CHECK(ss_trigger_observe(&t, 0, "v1", 10, 1, 5500) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&t, 0, "v2", 20, 1, 7000) == SS_TRIG_STALE);
        CHECK(ss_trigger_switch(&t, "v2", 20, 7000) == -1); /* older than the switch */
        CHECK(ss_trigger_observe(&t, 0, "v1", 10, 1, 7000) == SS_TRIG_FIRE);
        CHECK_STR_EQ(t.version, "v1");
}

static void test_persist(void)
{
        ss_trigger_t t = make(2, 4, 1000);
        ss_trigger_observe(&t, 0, "v1", 1, 1, 0);
        ss_trigger_observe(&t, 0, "v1", 1, 1, 10); /* fires */
        ss_trigger_observe(&t, 2, "v1", 1, 1, 20);
        ss_mbuf_t b;
        ss_mbuf_init(&b);
        ss_trigger_save(&t, &b);
        ss_trigger_t u = make(2, 4, 1000);
        ss_mreader_t r;
        ss_mreader_init(&r, b.data, b.len);
        CHECK(ss_trigger_load(&u, &r) == 0);
        CHECK_STR_EQ(u.version, "v1");
        CHECK(u.last_fire_ms == 10 && u.fired == 1 && ss_trigger_breaches(&u, 2) == 1);
        /* the restored trigger decides like the original */
        CHECK(ss_trigger_observe(&t, 2, "v1", 1, 1, 30) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&u, 2, "v1", 1, 1, 30) == SS_TRIG_COOLDOWN);
        CHECK(ss_trigger_observe(&u, 2, "v1", 1, 1, 1010) == SS_TRIG_FIRE);
        ss_mreader_init(&r, b.data, 5);
        CHECK(ss_trigger_load(&u, &r) == -1);
        ss_mbuf_free(&b);
}

int main(void)
{
        test_k_of_n();
        test_cooldown();
        test_clocks();
        test_versions();
        test_switch();
        test_persist();
        return ss_test_finish();
}
