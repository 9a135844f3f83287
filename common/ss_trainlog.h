/*
 * ss_trainlog: where trainers report their curves (loss per L-BFGS iteration,
 * loss and tune metrics per epoch). One process-wide sink, set by whoever wants
 * the curves (experiment tracking in `sentistream train`); without a sink a
 * report costs one load and a branch. The sink may be called from any thread
 * that trains; it must be safe for that.
 */
#ifndef SS_TRAINLOG_H
#define SS_TRAINLOG_H

#include <stdint.h>

/* A sink: key names the curve, step is its x (< 0: the next step of that curve). */
typedef void (*ss_trainlog_fn)(void *opaque, const char *key, double value, int64_t step);

/* Sets the sink (NULL: none). Not thread-safe against concurrent reports: set it before
 * training starts and clear it after. */
void ss_trainlog_set(ss_trainlog_fn fn, void *opaque);

/* Reports one point of a curve to the sink, if any. */
void ss_trainlog_metric(const char *key, double value, int64_t step);

#endif /* SS_TRAINLOG_H */
