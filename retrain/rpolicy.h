/*
 * rpolicy: the retrain worker's decisions, as pure functions (no I/O, no clock of their
 * own), so that each rule is tested on its own:
 *   - which fresh labels are held out (the newest by labelling time, never trained on);
 *   - how many copies of a fresh training row stand for its weight;
 *   - whether a challenger is promoted (beats the champion on the fresh holdout by a
 *     margin AND does not fall on the reference set by more than an allowed drop);
 *   - whether a result may move the champion alias (fencing: never over a newer result);
 *   - when a held lock must be renewed, and whether a lock record has expired.
 */
#ifndef SS_RPOLICY_H
#define SS_RPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"

/* What retrain.* configures. */
typedef struct ss_rpolicy {
        int64_t fresh_min;         /* retrain.fresh.min: fewest usable fresh labels */
        int64_t fresh_max;         /* retrain.fresh.max: newest labels read at most */
        double fresh_weight;       /* retrain.fresh.weight: copies of each fresh training row */
        double holdout_share;      /* retrain.holdout.share: newest share held out */
        int few_labels_wait;       /* retrain.few_labels: 1 = wait, 0 = skip */
        double promote_margin;     /* retrain.promote.margin */
        double reference_max_drop; /* retrain.reference.max_drop */
} ss_rpolicy_t;

void ss_rpolicy_from_config(ss_rpolicy_t *p, const ss_config_t *c);

/* One fresh label as the split sees it. */
typedef struct ss_rpolicy_label {
        int64_t labeled_at_ms;
        uint64_t seq; /* tie-break: the stream order (larger = later) */
} ss_rpolicy_label_t;

/*
 * The time-ordered holdout: fills order[n] with the indexes of labels, newest first (by
 * labeled_at, then seq), and returns how many of the first ones form the holdout:
 * round(share * n), at least 1 and at most n - 1 when n >= 2 (so both parts are never
 * empty), 0 when n < 2.
 */
size_t ss_rpolicy_holdout(const ss_rpolicy_label_t *labels, size_t n, double share, size_t *order);

/* Copies of one fresh training row for weight w: round(w), at least 1. */
int ss_rpolicy_replicas(double w);

/* The four figures a decision is made on (AvgRec). */
typedef struct ss_rpolicy_figures {
        double champion_fresh, challenger_fresh;         /* on the fresh holdout */
        double champion_reference, challenger_reference; /* on the fixed reference set */
} ss_rpolicy_figures_t;

typedef enum { SS_RPOLICY_REJECT = 0, SS_RPOLICY_PROMOTE = 1 } ss_rpolicy_verdict_t;

/*
 * Promote iff challenger_fresh >= champion_fresh + margin AND champion_reference -
 * challenger_reference <= max_drop (NaN anywhere rejects). why gets one line with the
 * figures and the rule that decided.
 */
ss_rpolicy_verdict_t ss_rpolicy_decide(const ss_rpolicy_t *p, const ss_rpolicy_figures_t *f,
                                       char *why, size_t why_size);

/*
 * Fencing: may a result with fencing token mine move the champion alias, whose version
 * carries champion_token (-1: the champion has none, e.g. trained by hand)? Only when
 * mine is greater: a late worker (lower token) never overwrites a newer result.
 */
int ss_rpolicy_fence_allows(int64_t champion_token, int64_t mine);

/* A lock taken at acquired_ms with ttl_ms is renewed once a third of its life is gone. */
int ss_rpolicy_lock_renew_due(int64_t acquired_ms, int64_t now_ms, int64_t ttl_ms);

/* A lock record taken at acquired_ms with ttl_ms has expired at now_ms (what Redis' PX
 * does; the worker relies on Redis, the rule is here to test the fencing story). */
int ss_rpolicy_lock_expired(int64_t acquired_ms, int64_t now_ms, int64_t ttl_ms);

#endif /* SS_RPOLICY_H */
