/*
 * test_rpolicy: the retrain worker's rules.
 * - holdout: the newest labels by labeled_at (ties by stream order) are held out, in the
 *   right count (rounded share, never all, never none), whatever order they were read in;
 * - replicas: the weight as a number of copies;
 * - promotion: the margin on the fresh holdout AND the allowed reference drop, at and
 *   around each boundary, NaN rejects, and the reason names the rule;
 * - fencing and lock expiry over a fake clock: a worker whose lock expired while it trained
 *   and a later worker both finish; only the later result may move the champion.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rpolicy.h"
#include "ss_test.h"

static ss_rpolicy_t policy(void)
{
        ss_rpolicy_t p = {0};
        p.promote_margin = 0.01;
        p.reference_max_drop = 0.02;
        p.holdout_share = 0.3;
        p.fresh_weight = 2;
        return p;
}

static void test_holdout(void)
{
        /* read in stream order, newest first, but labeled_at disagrees for two of them */
        ss_rpolicy_label_t l[10];
        for (int i = 0; i < 10; i++)
                l[i] = (ss_rpolicy_label_t){1000 - 10 * i, (uint64_t)(100 - i)};
        l[7].labeled_at_ms = 5000; /* labelled last, though read late */
        l[2].labeled_at_ms = 0;    /* labelled first */
        size_t order[10];
        size_t k = ss_rpolicy_holdout(l, 10, 0.3, order);
        CHECK(k == 3);
        CHECK(order[0] == 7 && order[1] == 0 && order[2] == 1); /* 5000, 1000, 990 */
        CHECK(order[9] == 2);
        /* every held-out label is at least as new as every trained one */
        int ok = 1;
        for (size_t i = 0; i < k; i++)
                for (size_t j = k; j < 10; j++)
                        ok &= l[order[i]].labeled_at_ms >= l[order[j]].labeled_at_ms;
        CHECK(ok);
        /* ties on labeled_at: the later stream entry is newer */
        ss_rpolicy_label_t t[3] = {{7, 1}, {7, 3}, {7, 2}};
        CHECK(ss_rpolicy_holdout(t, 3, 0.34, order) == 1 && order[0] == 1 && order[1] == 2);
        /* counts: rounded, at least 1, never everything; nothing for fewer than 2 */
        CHECK(ss_rpolicy_holdout(l, 10, 0.01, order) == 1);
        CHECK(ss_rpolicy_holdout(l, 10, 0.9, order) == 9);
        CHECK(ss_rpolicy_holdout(l, 10, 0.99, order) == 9);
        CHECK(ss_rpolicy_holdout(l, 10, 0.25, order) == 3); /* 2.5 rounds up */
        CHECK(ss_rpolicy_holdout(l, 2, 0.3, order) == 1);
        CHECK(ss_rpolicy_holdout(l, 1, 0.3, order) == 0 && order[0] == 0);
        CHECK(ss_rpolicy_holdout(l, 0, 0.3, order) == 0);
}

static void test_replicas(void)
{
        CHECK(ss_rpolicy_replicas(0) == 1);
        CHECK(ss_rpolicy_replicas(1) == 1);
        CHECK(ss_rpolicy_replicas(1.4) == 1);
        CHECK(ss_rpolicy_replicas(2.5) == 3);
        CHECK(ss_rpolicy_replicas(5) == 5);
        CHECK(ss_rpolicy_replicas(NAN) == 1);
}

static void test_decide(void)
{
        ss_rpolicy_t p = policy();
        char why[512];
        ss_rpolicy_figures_t f = {0.50, 0.52, 0.60, 0.59};
        CHECK(ss_rpolicy_decide(&p, &f, why, sizeof(why)) == SS_RPOLICY_PROMOTE);
        CHECK(strstr(why, "promote") && strstr(why, "0.5000 -> 0.5200"));
        /* exactly at the margin (values exact in binary) promotes; just below rejects */
        p.promote_margin = 0.125;
        f = (ss_rpolicy_figures_t){0.5, 0.625, 0.5, 0.5};
        CHECK(ss_rpolicy_decide(&p, &f, NULL, 0) == SS_RPOLICY_PROMOTE);
        f.challenger_fresh = 0.624;
        CHECK(ss_rpolicy_decide(&p, &f, why, sizeof(why)) == SS_RPOLICY_REJECT);
        CHECK(strstr(why, "retrain.promote.margin") != NULL);
        /* a good fresh gain with too large a reference drop is rejected */
        p = policy();
        f = (ss_rpolicy_figures_t){0.50, 0.70, 0.60, 0.57};
        CHECK(ss_rpolicy_decide(&p, &f, why, sizeof(why)) == SS_RPOLICY_REJECT);
        CHECK(strstr(why, "retrain.reference.max_drop") != NULL);
        /* the drop exactly at the allowance promotes */
        p.reference_max_drop = 0.25;
        f = (ss_rpolicy_figures_t){0.5, 0.75, 0.75, 0.5};
        CHECK(ss_rpolicy_decide(&p, &f, NULL, 0) == SS_RPOLICY_PROMOTE);
        /* a challenger worse everywhere, and missing figures */
        p = policy();
        f = (ss_rpolicy_figures_t){0.60, 0.40, 0.60, 0.40};
        CHECK(ss_rpolicy_decide(&p, &f, NULL, 0) == SS_RPOLICY_REJECT);
        f = (ss_rpolicy_figures_t){0.50, NAN, 0.60, 0.60};
        CHECK(ss_rpolicy_decide(&p, &f, why, sizeof(why)) == SS_RPOLICY_REJECT);
        CHECK(strstr(why, "NaN") != NULL);
        /* a negative margin allows a small loss on the fresh holdout */
        p.promote_margin = -0.05;
        f = (ss_rpolicy_figures_t){0.50, 0.47, 0.60, 0.60};
        CHECK(ss_rpolicy_decide(&p, &f, NULL, 0) == SS_RPOLICY_PROMOTE);
}

/* Two workers over a fake clock: A takes the lock (token 1) and stalls past the TTL; B
 * takes the expired lock (token 2) and finishes first. A's late result must not move the
 * champion; B's must; a champion trained by hand (no token) can always be replaced. */
static void test_fencing(void)
{
        const int64_t ttl = 60000;
        int64_t now = 1000000;
        int64_t a_at = now, a_token = 1;
        CHECK(!ss_rpolicy_lock_expired(a_at, now + ttl - 1, ttl));
        CHECK(!ss_rpolicy_lock_renew_due(a_at, now + ttl / 3 - 1, ttl));
        CHECK(ss_rpolicy_lock_renew_due(a_at, now + ttl / 3, ttl));
        now += ttl; /* A stalls: no renewal */
        CHECK(ss_rpolicy_lock_expired(a_at, now, ttl));
        int64_t b_token = 2; /* B: the lock is free, INCR gives 2 */
        int64_t champion = -1;
        CHECK(ss_rpolicy_fence_allows(champion, b_token));
        champion = b_token;
        CHECK(!ss_rpolicy_fence_allows(champion, a_token)); /* A arrives late */
        CHECK(!ss_rpolicy_fence_allows(champion, b_token)); /* the same token twice: no */
        CHECK(ss_rpolicy_fence_allows(champion, 3));
        CHECK(ss_rpolicy_fence_allows(-1, 0) && ss_rpolicy_fence_allows(-1, 1));
}

int main(void)
{
        test_holdout();
        test_replicas();
        test_decide();
        test_fencing();
        return ss_test_finish();
}
