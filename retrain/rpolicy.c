/*
 * rpolicy: the retrain worker's rules (see rpolicy.h). Everything here is arithmetic over
 * what the caller measured, so that the worker's loop (retrain.c) only gathers figures and
 * acts on the verdicts. The holdout sorts indexes, never the caller's labels.
 */
#include "rpolicy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ss_rpolicy_from_config(ss_rpolicy_t *p, const ss_config_t *c)
{
        p->fresh_min = ss_config_get_int(c, "retrain.fresh.min");
        p->fresh_max = ss_config_get_int(c, "retrain.fresh.max");
        p->fresh_weight = ss_config_get_double(c, "retrain.fresh.weight");
        p->holdout_share = ss_config_get_double(c, "retrain.holdout.share");
        p->few_labels_wait = !strcmp(ss_config_get_str(c, "retrain.few_labels"), "wait");
        p->promote_margin = ss_config_get_double(c, "retrain.promote.margin");
        p->reference_max_drop = ss_config_get_double(c, "retrain.reference.max_drop");
}

/* Newest first: larger labeled_at, then larger seq. Merge sort keeps it deterministic. */
static int label_newer(const ss_rpolicy_label_t *a, const ss_rpolicy_label_t *b)
{
        if (a->labeled_at_ms != b->labeled_at_ms)
                return a->labeled_at_ms > b->labeled_at_ms;
        return a->seq > b->seq;
}

static void sort_newest(const ss_rpolicy_label_t *l, size_t *idx, size_t *tmp, size_t n)
{
        if (n < 2)
                return;
        size_t h = n / 2;
        sort_newest(l, idx, tmp, h);
        sort_newest(l, idx + h, tmp, n - h);
        size_t i = 0, j = h, k = 0;
        while (i < h && j < n)
                tmp[k++] = label_newer(&l[idx[j]], &l[idx[i]]) ? idx[j++] : idx[i++];
        while (i < h)
                tmp[k++] = idx[i++];
        while (j < n)
                tmp[k++] = idx[j++];
        memcpy(idx, tmp, n * sizeof(*idx));
}

size_t ss_rpolicy_holdout(const ss_rpolicy_label_t *labels, size_t n, double share, size_t *order)
{
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        size_t *tmp = n ? malloc(n * sizeof(*tmp)) : NULL;
        if (tmp) {
                sort_newest(labels, order, tmp, n);
                free(tmp);
        } else {
                /* no memory for the merge: insertion sort in place, same order */
                for (size_t i = 1; i < n; i++)
                        for (size_t j = i;
                             j > 0 && label_newer(&labels[order[j]], &labels[order[j - 1]]); j--) {
                                size_t t = order[j];
                                order[j] = order[j - 1];
                                order[j - 1] = t;
                        }
        }
        if (n < 2)
                return 0;
        double k = floor(share * (double)n + 0.5);
        if (!(k >= 1))
                k = 1;
        if (k > (double)(n - 1))
                k = (double)(n - 1);
        return (size_t)k;
}

int ss_rpolicy_replicas(double w)
{
        double r = floor(w + 0.5);
        if (!(r >= 1))
                return 1;
        return r > 1000 ? 1000 : (int)r;
}

ss_rpolicy_verdict_t ss_rpolicy_decide(const ss_rpolicy_t *p, const ss_rpolicy_figures_t *f,
                                       char *why, size_t why_size)
{
        double gain = f->challenger_fresh - f->champion_fresh;
        double drop = f->champion_reference - f->challenger_reference;
        const char *rule;
        ss_rpolicy_verdict_t v = SS_RPOLICY_REJECT;
        if (isnan(gain) || isnan(drop))
                rule = "a figure is missing (NaN)";
        else if (gain < p->promote_margin)
                rule = "fresh-holdout gain below retrain.promote.margin";
        else if (drop > p->reference_max_drop)
                rule = "reference drop above retrain.reference.max_drop";
        else {
                rule = "fresh-holdout gain reaches the margin and the reference holds";
                v = SS_RPOLICY_PROMOTE;
        }
        if (why)
                snprintf(why, why_size,
                         "%s: fresh holdout AvgRec %.4f -> %.4f (gain %+.4f, margin %.4f); "
                         "reference AvgRec %.4f -> %.4f (drop %+.4f, allowed %.4f): %s",
                         v == SS_RPOLICY_PROMOTE ? "promote" : "reject", f->champion_fresh,
                         f->challenger_fresh, gain, p->promote_margin, f->champion_reference,
                         f->challenger_reference, drop, p->reference_max_drop, rule);
        return v;
}

int ss_rpolicy_fence_allows(int64_t champion_token, int64_t mine)
{
        return champion_token < 0 || mine > champion_token;
}

int ss_rpolicy_lock_renew_due(int64_t acquired_ms, int64_t now_ms, int64_t ttl_ms)
{
        return now_ms - acquired_ms >= ttl_ms / 3;
}

int ss_rpolicy_lock_expired(int64_t acquired_ms, int64_t now_ms, int64_t ttl_ms)
{
        return now_ms - acquired_ms >= ttl_ms;
}
