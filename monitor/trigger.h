/*
 * trigger: when a breach becomes a retraining event.
 *
 * One trigger per model name. Each evaluation stream (e.g. drift over the
 * sliding window, drift over the time window, rolling F1) reports whether its
 * evaluation breached. A stream fires when at least k of its last n
 * evaluations breached (fewer than n evaluations so far count as they are);
 * its history is then cleared, so the next event needs k fresh breaches.
 * After an event the model is in cooldown for cooldown_ms (shared by all
 * streams of the model): a stream that reaches k of n during cooldown keeps
 * its history and reports SS_TRIG_COOLDOWN, and fires at its first
 * evaluation after the cooldown if the breaches still hold.
 *
 * Times are the evaluations' event times (the stream's own clock, not the
 * wall clock), so a replay after a restart takes the same decisions. Streams
 * may run on different clocks (scored_at for drift, labeled_at for F1): an
 * evaluation stamped before the last event counts as inside the cooldown;
 * cooldown_ms = 0 disables the cooldown altogether.
 *
 * Model versions: each evaluation names the version it judged and that
 * version's rank (the card's creation time, or the time the model was switched
 * to it; ties broken by the version string). A switch to a newer version
 * (ss_trigger_switch, or the first evaluation of one) resets the trigger:
 * histories cleared, and the cooldown starts at the switch, so that the new
 * version's first windows, still made of the transition, cannot fire at once
 * (the very first version of a model starts without one). Evaluations of any
 * other version than the current one whose rank is not newer are stale:
 * ignored, reported as SS_TRIG_STALE. The current version stays current
 * whatever rank it is named with (a restart ranks it by its card again).
 */
#ifndef SS_TRIGGER_H
#define SS_TRIGGER_H

#include <stdint.h>

#include "mbuf.h"

#define SS_TRIG_MAX_STREAMS 4
#define SS_TRIG_MAX_N       32
#define SS_TRIG_VERSION_MAX 128

typedef struct ss_trigger_config {
        int k, n;            /* 1 <= k <= n <= SS_TRIG_MAX_N */
        int64_t cooldown_ms; /* >= 0 */
} ss_trigger_config_t;

typedef enum {
        SS_TRIG_QUIET = 0, /* no breach now, no event */
        SS_TRIG_BREACH,    /* breached, fewer than k of the last n */
        SS_TRIG_FIRE,      /* k of the last n: emit an event */
        SS_TRIG_COOLDOWN,  /* k of the last n, but the model is in cooldown */
        SS_TRIG_STALE,     /* evaluation of an older model version: ignored */
} ss_trig_result_t;

typedef struct ss_trigger {
        ss_trigger_config_t cfg;
        char version[SS_TRIG_VERSION_MAX]; /* current version, "" before the first */
        int64_t rank;
        uint32_t hist[SS_TRIG_MAX_STREAMS];  /* bit 0 = latest evaluation */
        uint32_t count[SS_TRIG_MAX_STREAMS]; /* evaluations in hist, <= n */
        int64_t last_fire_ms; /* start of the cooldown: the last event, or the switch to this
                               * version; INT64_MIN: neither */
        uint64_t fired, suppressed, resets;
} ss_trigger_t;

/* Returns 0, or -1 for a config out of range. */
int ss_trigger_init(ss_trigger_t *t, const ss_trigger_config_t *cfg);

/* Records one evaluation of stream (0..SS_TRIG_MAX_STREAMS-1). */
ss_trig_result_t ss_trigger_observe(ss_trigger_t *t, int stream, const char *version, int64_t rank,
                                    int breach, int64_t now_ms);

/* Switches the model to version (rank) at at_ms, when it is newer than the current one:
 * histories cleared, cooldown from at_ms. Returns 1 if switched, 0 if version is the
 * current one, -1 if it is older (nothing changes). */
int ss_trigger_switch(ss_trigger_t *t, const char *version, int64_t rank, int64_t at_ms);

/* Breaches among the stream's last n evaluations. */
int ss_trigger_breaches(const ss_trigger_t *t, int stream);

/* True while the model is in cooldown at now_ms. */
int ss_trigger_cooling(const ss_trigger_t *t, int64_t now_ms);

const char *ss_trig_result_name(ss_trig_result_t r);

void ss_trigger_save(const ss_trigger_t *t, ss_mbuf_t *b);
/* Restores the state (the config stays as initialised); 0 or -1. */
int ss_trigger_load(ss_trigger_t *t, ss_mreader_t *r);

#endif /* SS_TRIGGER_H */
