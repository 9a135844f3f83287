/*
 * ss_metrics: a small Prometheus metrics registry and its HTTP endpoint.
 *
 * A registry holds metric families (counter, gauge, histogram), each with a
 * name, a help line and a fixed list of label names; a family has one series
 * per set of label values. Series are created on first use and live until the
 * registry is destroyed (or ss_metrics_remove() is called for gauges whose
 * label set went away, e.g. a revoked partition).
 *
 * Updates (ss_counter_add, ss_gauge_set, ss_histogram_observe) are lock-free
 * atomics, cheap enough for the hot loop; creating or looking up a series
 * takes the registry mutex, so the hot loop looks series up once and keeps the
 * pointer. Rendering (text exposition format 0.0.4) takes the mutex too.
 *
 * ss_metrics_serve() starts a libmicrohttpd daemon (its own thread) that
 * answers GET /metrics with the rendered text, and the two probes used by
 * container orchestrators: GET /healthz (200 while the process answers at
 * all) and GET /readyz (200 when the process's readiness callback says it can
 * do its work, 503 with the reason otherwise; see ss_metrics_ready_set()).
 */
#ifndef SS_METRICS_H
#define SS_METRICS_H

#include <stddef.h>

#include "ss_err.h"

typedef struct ss_metrics ss_metrics_t;
typedef struct ss_series ss_counter_t;
typedef struct ss_series ss_gauge_t;
typedef struct ss_series ss_histogram_t;

/* Creates an empty registry. Returns NULL on no memory. Caller frees with ss_metrics_destroy(). */
ss_metrics_t *ss_metrics_new(void);

/* Stops the endpoint (if serving) and frees every family and series. NULL is allowed. */
void ss_metrics_destroy(ss_metrics_t *r);

/*
 * Returns the series of a family for one set of label values, creating the
 * family (on first call for that name) and the series (on first call for those
 * values). labels is NULL or a NULL-terminated list of "name", "value" pairs,
 * e.g. (const char *[]){"reason", "SS_ERR_UTF8", NULL}; label names must be
 * the same (same order) on every call for one family. Returns NULL with the
 * reason in errstr on a bad name, a type or label-name mismatch with the
 * existing family, or no memory. The pointer is owned by the registry and
 * valid until ss_metrics_destroy() (or ss_metrics_remove() of that series).
 *
 * The registration policy, the same for every caller: a series that cannot be
 * registered is logged here (a warning naming the metric and the reason) and
 * its NULL series is a no-op for every update function, so metrics never stop
 * the product. errstr may be NULL.
 */
ss_counter_t *ss_metrics_counter(ss_metrics_t *r, const char *name, const char *help,
                                 const char *const *labels, char *errstr, size_t errstr_size);
ss_gauge_t *ss_metrics_gauge(ss_metrics_t *r, const char *name, const char *help,
                             const char *const *labels, char *errstr, size_t errstr_size);

/*
 * Histogram with fixed buckets: upper bounds bounds[0] < ... < bounds[n-1]
 * (the +Inf bucket is implicit). The bounds are copied; the first call for a
 * name fixes them for the family.
 */
ss_histogram_t *ss_metrics_histogram(ss_metrics_t *r, const char *name, const char *help,
                                     const double *bounds, size_t nbounds,
                                     const char *const *labels, char *errstr, size_t errstr_size);

/* Removes one series (any type) from its family; the pointer is invalid afterwards.
 * The family stays (with its HELP and TYPE lines). */
void ss_metrics_remove(ss_metrics_t *r, ss_gauge_t *series);

/* Adds v >= 0 to a counter (negative values are ignored: counters never go down). */
void ss_counter_add(ss_counter_t *c, double v);
static inline void ss_counter_inc(ss_counter_t *c)
{
        ss_counter_add(c, 1.0);
}

void ss_gauge_set(ss_gauge_t *g, double v);
void ss_gauge_add(ss_gauge_t *g, double v);

/* Records one observation. */
void ss_histogram_observe(ss_histogram_t *h, double v);

/* Current value of a counter or gauge (for tests and logs). */
double ss_metrics_value(const ss_counter_t *s);

/* Observation count and sum of a histogram (for tests and logs). */
unsigned long long ss_histogram_count(const ss_histogram_t *h);
double ss_histogram_sum(const ss_histogram_t *h);

/*
 * Renders every family in the text exposition format 0.0.4 into a
 * NUL-terminated buffer. Caller frees *out. Returns SS_ERR_NOMEM on no memory.
 */
ss_err_t ss_metrics_render(ss_metrics_t *r, char **out, size_t *len);

/*
 * Serves GET /metrics on 127.0.0.1:port from a background thread (see
 * ss_metrics_serve_on() for another address). port 0 binds any free port (see
 * ss_metrics_port()). Returns SS_ERR_IO naming the port if the daemon cannot
 * start (e.g. the port is taken), SS_ERR_STATE if already serving.
 */
ss_err_t ss_metrics_serve(ss_metrics_t *r, int port, char *errstr, size_t errstr_size);

/*
 * Like ss_metrics_serve() on bind, a numeric IPv4 or IPv6 address ("127.0.0.1",
 * "::1"; "0.0.0.0" or "::" for every interface, only when asked for).
 * SS_ERR_CONFIG for an address that is not numeric. Limits of the endpoint:
 * SS_METRICS_MAX_CONNECTIONS connections (SS_METRICS_MAX_PER_IP from one
 * address), SS_METRICS_MAX_REQUEST_BYTES of request line and headers, no
 * request body (413), SS_METRICS_TIMEOUT_S of inactivity closes a connection
 * (a slow client cannot hold the server), only GET and HEAD (405).
 */
#define SS_METRICS_MAX_CONNECTIONS   32
#define SS_METRICS_MAX_PER_IP        8
#define SS_METRICS_MAX_REQUEST_BYTES (16 * 1024)
#define SS_METRICS_TIMEOUT_S         5
ss_err_t ss_metrics_serve_on(ss_metrics_t *r, const char *bind, int port, char *errstr,
                             size_t errstr_size);

/*
 * Readiness callback: returns 1 when the process can do its work, else 0 with
 * a short reason in why (e.g. "no partitions assigned"). Called from the
 * endpoint's thread for each GET /readyz, so it must only read state that is
 * safe to read from another thread (atomics, thread-safe library calls) and
 * return within about a second.
 */
typedef int (*ss_metrics_ready_fn)(void *opaque, char *why, size_t why_size);

/*
 * Sets (or with fn NULL clears) the readiness callback. Without one, /readyz
 * answers 503 "starting". When this returns, a previous callback is neither
 * running nor called again, so the caller may free what it reads: clear it
 * before destroying that state.
 */
void ss_metrics_ready_set(ss_metrics_t *r, ss_metrics_ready_fn fn, void *opaque);

/* The port the endpoint listens on, or 0 when not serving. */
int ss_metrics_port(const ss_metrics_t *r);

#endif /* SS_METRICS_H */
