/*
 * ss_ratelog: a rate-limited logger for lines that bad input can repeat without bound
 * (dead letters, refused connections). At most one line per reason per interval goes to
 * ss_log(); the lines held back are counted, and the next line printed for that reason says
 * how many there were ("(41 more SS_ERR_UTF8 not logged in the last 10.0 s)").
 * ss_ratelog_destroy() logs the counts still held back.
 *
 * Reasons are short strings (an error name); up to SS_RATELOG_MAX_REASONS distinct ones
 * are tracked, further ones share one slot "other". Thread-safe (one mutex).
 */
#ifndef SS_RATELOG_H
#define SS_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#include "ss_log.h"

#define SS_RATELOG_MAX_REASONS 32

typedef struct ss_ratelog ss_ratelog_t;

/* interval_ms: at most one line per reason per this many ms; 0 logs every line.
 * component: the ss_log component of every line (copied). NULL when out of memory.
 * Caller frees with ss_ratelog_destroy(). */
ss_ratelog_t *ss_ratelog_new(const char *component, int64_t interval_ms);

/* Logs the counts still held back, then frees. NULL is allowed. */
void ss_ratelog_destroy(ss_ratelog_t *r);

/*
 * Logs one line for reason at level unless a line for reason was logged less than
 * interval_ms before now_ms (a monotonic clock in ms, e.g. ss_time_mono() * 1000).
 * Returns true when the line was logged, false when it was counted and held back.
 */
bool ss_ratelog_log(ss_ratelog_t *r, int64_t now_ms, ss_log_level_t level, const char *reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Lines held back for reason since its last logged line. */
uint64_t ss_ratelog_held(ss_ratelog_t *r, const char *reason);

#endif /* SS_RATELOG_H */
