/*
 * mcore: the drift monitor's processing path, without any I/O.
 *
 * Fed encoded predictions (Confluent-framed Avro, as read from Kafka) and
 * labels (as read from Redis), it keeps per model version (one per model
 * card): a sliding window of the last window_size predictions, tumbling time
 * windows of window_ms (by scored_at), the prediction/label join and a rolling
 * performance window. It evaluates, in three streams:
 *
 *   stream 0 "sliding"  every eval_every predictions of a version, window id
 *                       "n<count of that version's predictions>"
 *   stream 1 "time"     when a tumbling window closes, window id "t<start ms>"
 *   stream 2 "perf"     every perf_eval_every joined labels of a version,
 *                       window id "l<count of that version's joined labels>"
 *
 * A drift evaluation computes PSI and KL(current || reference) of every card
 * distribution with their critical values (drift.h); a metric breaches when
 * the window holds >= min_samples values for it and the value is above both
 * its fixed threshold and its critical value. The same evaluation estimates
 * the window's true class mix (label_shift, bbse.h; same two-condition rule
 * with its own thresholds) and its macro-F1 from the probabilities
 * (performance.estimated_f1, cbpe.h; a breach below the card's validation
 * macro-F1 minus f1_max_drop).
 *
 * Every statistic belongs to a family: label_shift, prediction
 * (prediction.class, prediction.prob.*), input (input.*) and performance
 * (performance.f1, performance.estimated_f1). All breaches are reported and
 * logged; only those whose family or statistic is listed in event_families
 * count towards the trigger and become an event's reasons. A performance evaluation
 * breaches when >= perf_min_labels pairs are in the window and macro-F1 is
 * below the F1 threshold (f1_threshold, or when that is 0 the card's
 * validation macro-F1 minus f1_max_drop). Each evaluation goes to the model
 * name's trigger (trigger.h); a FIRE becomes a RetrainEvent whose event_id is
 * "<model version>:<window id>". An event whose id is in the sent set (loaded
 * by the caller from Redis after a restart) is not queued again.
 *
 * Versions: windows are kept per version, each judged against its own card.
 * Events are raised for one version of a model name at a time, the current
 * one: the version switched to last, by a model update (ss_mcore_switch) or
 * by the first prediction of a version whose card is newer. At a switch the
 * trigger's histories are cleared and the cooldown
 * (monitor.trigger.cooldown.s) starts, so the new version's first windows,
 * made during the transition, cannot fire at once; the windows of every other
 * version go on being counted and evaluated (report, gauges) but their
 * evaluations are stale and never raise an event again.
 *
 * Window ids are counts of the stream itself, so replaying the same
 * predictions after a restart from a snapshot reproduces the same ids.
 *
 * Ownership: the core borrows serde and metrics (both must outlive it); it
 * owns the cards added to it. Not thread-safe.
 */
#ifndef SS_MCORE_H
#define SS_MCORE_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"
#include "card.h"
#include "ss_config.h"
#include "ss_err.h"
#include "ss_metrics.h"
#include "ss_serde.h"
#include "trigger.h"

enum { SS_MSTREAM_SLIDING = 0, SS_MSTREAM_TIME = 1, SS_MSTREAM_PERF = 2, SS_MSTREAM__COUNT };

typedef struct ss_mcore_config {
        size_t window_size;
        int64_t window_ms;
        uint64_t eval_every;
        uint64_t min_samples;
        double psi_threshold, kl_threshold, false_alarm;
        size_t perf_window;
        uint64_t perf_min_labels;
        uint64_t perf_eval_every;
        double f1_threshold, f1_max_drop;
        int label_shift, cbpe; /* monitor.label_shift.enabled, monitor.cbpe.enabled */
        double ls_psi_threshold, ls_kl_threshold; /* monitor.label_shift.*.threshold */
        uint64_t ls_min_samples;                  /* monitor.label_shift.min.samples */
        char event_families[256];                 /* monitor.event.families */
        ss_trigger_config_t trigger;
        size_t join_max_pending;
        int64_t join_ttl_ms;
} ss_mcore_config_t;

/* Reads the monitor.* keys. */
void ss_mcore_config_from(ss_mcore_config_t *mc, const ss_config_t *c);

typedef struct ss_mcore ss_mcore_t;

/* Returns NULL with the reason in errstr (a config out of range). */
ss_mcore_t *ss_mcore_new(const ss_mcore_config_t *cfg, const ss_serde_t *serde,
                         ss_metrics_t *metrics, char *errstr, size_t errstr_size);
void ss_mcore_destroy(ss_mcore_t *m);

/* Adds a model card (takes ownership, also on error). A second card with the same
 * version is an SS_ERR_INVALID_ARG. */
ss_err_t ss_mcore_add_card(ss_mcore_t *m, ss_card_view_t *card, char *errstr, size_t errstr_size);
int ss_mcore_ncards(const ss_mcore_t *m);

/*
 * A model update: model name (the registered name; the card's own name is what counts once
 * the card is here) now serves card version from at_ms (the update's time). An
 * update is authoritative: the version is ranked above the current one (at_ms, its card's
 * creation time, or the current rank + 1, whichever is highest), so that a rollback to an
 * older card is followed like a new version: the trigger switches to it (histories
 * cleared, cooldown from at_ms) and the evaluations of every other version are stale from
 * then on (a snapshot keeps the rank of the current version). A version without a card yet is
 * remembered (the last SWITCHES_PENDING) and switched to when its card is added. Returns 1 if the
 * card is known, 0 if remembered. The first prediction of a version ranked above the current one
 * switches the same way (at its scored_at), so a monitor that misses the update still follows.
 */
int ss_mcore_switch(ss_mcore_t *m, const char *name, const char *version, int64_t at_ms);

/*
 * A model update published before this monitor started (read from the topic's tail at
 * start): applied as ss_mcore_switch() only when it says something the monitor does not know
 * yet, i.e. the version is not its model's current one and at_ms is after the current
 * version's rank (a snapshot restores both). Returns -1 when ignored for that reason,
 * otherwise what ss_mcore_switch() returns.
 */
int ss_mcore_switch_if_newer(ss_mcore_t *m, const char *name, const char *version, int64_t at_ms);

/*
 * Asked, inside an ingest, for the card of a prediction's model version that has none
 * (model_version as the prediction carries it, e.g. "<card version>@NAME/VERSION"). It may
 * add the card (ss_mcore_add_card) and return 1: the prediction then goes to it; any other
 * return leaves it counted in unknown_version and skipped. NULL: no source (the default).
 */
typedef int ss_mcore_card_fn(void *opaque, const char *model_name, const char *model_version);
void ss_mcore_set_card_fn(ss_mcore_t *m, ss_mcore_card_fn *fn, void *opaque);

/* The version the model name's events are judged on now (NULL before any). */
const char *ss_mcore_current_version(const ss_mcore_t *m, const char *name);
const ss_card_view_t *ss_mcore_card(const ss_mcore_t *m, int i);

/* Outcome of ingesting one prediction. */
typedef enum {
        SS_MCORE_OK = 0,          /* counted in its model's windows */
        SS_MCORE_UNDECODABLE,     /* counted in decode_errors, skipped */
        SS_MCORE_UNKNOWN_VERSION, /* no card for its model version: counted, skipped */
        SS_MCORE_INVALID          /* NaN, infinite, negative or unnormalised probabilities, or
                                   * a label out of range: counted, logged, kept out of windows */
} ss_mcore_outcome_t;

/* Decodes one Prediction message and feeds it; now_ms is the wall clock (for the join's
 * TTL). Evaluations that fall due run inside. */
ss_mcore_outcome_t ss_mcore_ingest_prediction(ss_mcore_t *m, const void *buf, size_t len,
                                              int64_t now_ms);

/* Feeds one decoded prediction (the benchmark's and tests' entry beside the decoder). */
ss_mcore_outcome_t ss_mcore_ingest_decoded(ss_mcore_t *m, const ss_prediction_t *p, int64_t now_ms);

/* Feeds one label. Returns 1 if it joined a waiting prediction, 0 if it now waits, -1 if
 * refused (bad id or label; counted in label_errors with its reason). */
int ss_mcore_ingest_label(ss_mcore_t *m, const char *tweet_id, size_t len, int label,
                          int64_t labeled_at_ms, int64_t now_ms);

/* Why a label was refused (the reason label of sentistream_monitor_label_errors_total). */
typedef enum {
        SS_MCORE_LABEL_BAD_ID = 0,
        SS_MCORE_LABEL_BAD_LABEL = 1,
        SS_MCORE_LABEL_BAD_TIME = 2, /* labeled_at present but not a positive integer */
} ss_mcore_label_error_t;

/* Counts a label refused before ss_mcore_ingest_label() (e.g. a bad labeled_at). */
void ss_mcore_label_refused(ss_mcore_t *m, ss_mcore_label_error_t why);

/* Periodic work by the wall clock: join expiry, closing a tumbling window that has seen no
 * prediction for window_ms. */
void ss_mcore_tick(ss_mcore_t *m, int64_t now_ms);

/* A retraining event waiting to be produced. */
typedef struct ss_mcore_event {
        char event_id[192];
        char model_name[128];
        ss_serde_buf_t value; /* encoded RetrainEvent */
        char summary[256];    /* reasons, for the log */
} ss_mcore_event_t;

/* The oldest event not yet produced, or NULL. Valid until ss_mcore_event_done(). */
const ss_mcore_event_t *ss_mcore_event_peek(const ss_mcore_t *m);
/* Drops the oldest event after it was produced and acknowledged; its id joins the sent set. */
void ss_mcore_event_done(ss_mcore_t *m);
size_t ss_mcore_events_pending(const ss_mcore_t *m);

/* The sent set: event ids already produced (loaded from Redis at start). */
void ss_mcore_sent_add(ss_mcore_t *m, const char *event_id);
int ss_mcore_sent_contains(const ss_mcore_t *m, const char *event_id);

/*
 * A retraining event read back from the retrain topic (the caller reconciles the sent set with
 * the topic at start, before any ingest: an event acknowledged by the broker just before a
 * crash may be missing from Redis). It is this monitor's when model_name is one of its model
 * names and event_id is "<model_version>:<window id>", the form of its own ids. Returns 1 when
 * its id joined the sent set (it was missing: the caller records it in Redis), 0 when the set
 * held it already, -1 when it is not this monitor's (left out) or could not be stored (out of
 * memory).
 */
int ss_mcore_sent_recover(ss_mcore_t *m, const char *model_name, const char *model_version,
                          const char *event_id);

typedef struct ss_mcore_stats {
        uint64_t predictions;     /* decoded and matched to a card */
        uint64_t unknown_version; /* decoded, no card for the version */
        uint64_t decode_errors;
        uint64_t invalid;      /* decoded but refused (see SS_MCORE_INVALID) */
        uint64_t labels;       /* labels accepted */
        uint64_t label_errors; /* labels refused (bad id or label value) */
        uint64_t evaluations;
        uint64_t events;         /* events queued */
        uint64_t events_deduped; /* fired again after a restart but already sent */
        uint64_t stale;          /* evaluations of a superseded model version */
        uint64_t switches;       /* switches of a model to another version (not its first) */
} ss_mcore_stats_t;

const ss_mcore_stats_t *ss_mcore_stats(const ss_mcore_t *m);
/* The join's counters (joined, expired, evicted, pending ...). */
const struct ss_join_stats *ss_mcore_join_stats(const ss_mcore_t *m);

/*
 * Reports: one per model name, for the newest version of it that has been
 * evaluated. ss_mcore_report_next() returns the index of a model name whose
 * report changed since it was last taken (-1 if none); ss_mcore_report_json()
 * renders it (caller frees) and clears its changed flag.
 */
int ss_mcore_report_next(const ss_mcore_t *m);
/* Marks every model name's report as changed (a final write at shutdown). */
void ss_mcore_report_touch(ss_mcore_t *m);
char *ss_mcore_report_json(ss_mcore_t *m, int name_idx, const char **model_name);
int ss_mcore_nnames(const ss_mcore_t *m);
const char *ss_mcore_name(const ss_mcore_t *m, int name_idx);

/* Snapshot of every window, the join, the triggers and the counters. Restoring matches
 * models by version and triggers by name; state of a version without a card now is
 * skipped. Returns SS_ERR_FORMAT (nothing restored) for a malformed snapshot or one taken
 * with other window shapes. */
void ss_mcore_save(const ss_mcore_t *m, ss_mbuf_t *b);
ss_err_t ss_mcore_load(ss_mcore_t *m, ss_mreader_t *r, char *errstr, size_t errstr_size);

#endif /* SS_MCORE_H */
