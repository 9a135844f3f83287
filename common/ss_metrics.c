/*
 * ss_metrics: families in a linked list (registration order = exposition
 * order), each with its series in a linked list keyed by the rendered label
 * string (`a="x",b="y"`). Creation and rendering hold one mutex; updates are
 * C11 atomics on the series: doubles are kept as their bit patterns in a
 * 64-bit atomic and updated with a compare-and-swap loop, histogram buckets
 * are plain atomic counters (non-cumulative, summed when rendered, so that an
 * observation touches one bucket). The count rendered for a histogram is the
 * sum of its buckets, so `_count` always equals the `+Inf` bucket even while
 * the hot loop updates concurrently.
 *
 * The HTTP endpoint is libmicrohttpd with its internal polling thread; each
 * request renders a fresh copy that libmicrohttpd frees. The probes are
 * answered beside /metrics: /healthz needs nothing but the thread, /readyz
 * calls the readiness callback under its own mutex (not the registry's, so a
 * slow check never holds up the hot loop's series lookups), which is what
 * lets ss_metrics_ready_set() promise that a cleared callback is not running.
 */
#include "ss_metrics.h"

#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"
#include "ss_util.h"

typedef enum { SS_MT_COUNTER, SS_MT_GAUGE, SS_MT_HISTOGRAM } ss_mtype_t;

static const char *ss_mtype_names[] = {"counter", "gauge", "histogram"};

struct ss_series {
        struct ss_family *fam;
        char *labels;                /* rendered pairs without braces, "" for none */
        _Atomic uint64_t value_bits; /* counter/gauge value; histogram sum (double bits) */
        _Atomic uint64_t *buckets;   /* [fam->nbounds + 1] histogram counts, last = +Inf */
        struct ss_series *next;
};

typedef struct ss_family {
        char *name, *help;
        ss_mtype_t type;
        char *label_names; /* names joined by ',' ("" for none), to check later calls */
        double *bounds;    /* [nbounds] histogram upper bounds, ascending */
        size_t nbounds;
        struct ss_series *head;
        struct ss_family *next;
} ss_family_t;

struct ss_metrics {
        pthread_mutex_t lock;
        ss_family_t *head, *tail;
        struct MHD_Daemon *daemon;
        int port;
        pthread_mutex_t ready_lock; /* guards ready_fn, ready_opaque and their calls */
        ss_metrics_ready_fn ready_fn;
        void *ready_opaque;
};

/* A growable text buffer for rendering. */
typedef struct {
        char *p;
        size_t len, cap;
        int oom;
} ss_buf_t;

static void ss_buf_put(ss_buf_t *b, const char *s, size_t n)
{
        if (b->oom)
                return;
        if (ss_array_grow((void **)&b->p, &b->cap, b->len + n + 1, 1, 4096)) {
                b->oom = 1;
                return;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void ss_buf_puts(ss_buf_t *b, const char *s)
{
        ss_buf_put(b, s, strlen(s));
}

/* Formats a double the way Prometheus parses it: shortest exact form, NaN, +Inf, -Inf. */
static void ss_fmt_double(double v, char *out, size_t size)
{
        if (isnan(v)) {
                snprintf(out, size, "NaN");
        } else if (isinf(v)) {
                snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        } else {
                for (int prec = 6; prec <= 17; prec++) {
                        snprintf(out, size, "%.*g", prec, v);
                        if (strtod(out, NULL) == v)
                                return;
                }
        }
}

static double ss_bits2d(uint64_t bits)
{
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
}

static uint64_t ss_d2bits(double d)
{
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return bits;
}

static void ss_atomic_dadd(_Atomic uint64_t *a, double v)
{
        uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(a, &old, ss_d2bits(ss_bits2d(old) + v),
                                                      memory_order_relaxed, memory_order_relaxed))
                ;
}

static int ss_name_ok(const char *s, int allow_colon)
{
        if (!s || !*s)
                return 0;
        for (const char *p = s; *p; p++) {
                int c = (unsigned char)*p;
                int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                            (allow_colon && c == ':');
                if (!alpha && !(p > s && c >= '0' && c <= '9'))
                        return 0;
        }
        return 1;
}

/* Label value escaping of the text format: backslash, double quote, newline. */
static void ss_buf_put_escaped(ss_buf_t *b, const char *s, int quote)
{
        for (const char *p = s; *p; p++) {
                if (*p == '\\')
                        ss_buf_puts(b, "\\\\");
                else if (*p == '\n')
                        ss_buf_puts(b, "\\n");
                else if (quote && *p == '"')
                        ss_buf_puts(b, "\\\"");
                else
                        ss_buf_put(b, p, 1);
        }
}

ss_metrics_t *ss_metrics_new(void)
{
        ss_metrics_t *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        pthread_mutex_init(&r->lock, NULL);
        pthread_mutex_init(&r->ready_lock, NULL);
        return r;
}

static void ss_series_free(struct ss_series *s)
{
        free(s->labels);
        free(s->buckets);
        free(s);
}

void ss_metrics_destroy(ss_metrics_t *r)
{
        if (!r)
                return;
        if (r->daemon)
                MHD_stop_daemon(r->daemon);
        for (ss_family_t *f = r->head, *fn; f; f = fn) {
                fn = f->next;
                for (struct ss_series *s = f->head, *sn; s; s = sn) {
                        sn = s->next;
                        ss_series_free(s);
                }
                free(f->name);
                free(f->help);
                free(f->label_names);
                free(f->bounds);
                free(f);
        }
        pthread_mutex_destroy(&r->lock);
        pthread_mutex_destroy(&r->ready_lock);
        free(r);
}

/* Renders label pairs into b and their names into names; checks the names. */
static ss_err_t ss_labels_render(const char *metric, ss_mtype_t type, const char *const *labels,
                                 ss_buf_t *b, ss_buf_t *names, char *errstr, size_t errstr_size)
{
        ss_buf_puts(b, "");
        ss_buf_puts(names, "");
        for (size_t i = 0; labels && labels[i]; i += 2) {
                if (!labels[i + 1])
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "metric %s: label '%s' has no value", metric, labels[i]);
                if (!ss_name_ok(labels[i], 0) || !strncmp(labels[i], "__", 2) ||
                    (type == SS_MT_HISTOGRAM && !strcmp(labels[i], "le")))
                        return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                          "metric %s: invalid label name '%s'", metric, labels[i]);
                if (i) {
                        ss_buf_puts(b, ",");
                        ss_buf_puts(names, ",");
                }
                ss_buf_puts(names, labels[i]);
                ss_buf_puts(b, labels[i]);
                ss_buf_puts(b, "=\"");
                ss_buf_put_escaped(b, labels[i + 1], 1);
                ss_buf_puts(b, "\"");
        }
        if (b->oom || names->oom)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "metric %s: out of memory",
                                  metric);
        return SS_OK;
}

static struct ss_series *ss_series_get(ss_metrics_t *r, ss_mtype_t type, const char *name,
                                       const char *help, const double *bounds, size_t nbounds,
                                       const char *const *labels, char *errstr, size_t errstr_size)
{
        if (!ss_name_ok(name, 1)) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG, "invalid metric name '%s'",
                           name ? name : "(null)");
                return NULL;
        }
        for (size_t i = 1; type == SS_MT_HISTOGRAM && i < nbounds; i++) {
                if (!(bounds[i] > bounds[i - 1])) {
                        ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                   "histogram %s: bucket bounds not ascending at %zu", name, i);
                        return NULL;
                }
        }
        ss_buf_t lb = {0}, names = {0};
        struct ss_series *s = NULL;
        if (ss_labels_render(name, type, labels, &lb, &names, errstr, errstr_size) != SS_OK)
                goto out;

        pthread_mutex_lock(&r->lock);
        ss_family_t *f = r->head;
        while (f && strcmp(f->name, name))
                f = f->next;
        if (f && (f->type != type || strcmp(f->label_names, names.p))) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "metric %s: registered as %s with labels {%s}, now asked as %s with "
                           "labels {%s}",
                           name, ss_mtype_names[f->type], f->label_names, ss_mtype_names[type],
                           names.p);
                goto unlock;
        }
        if (!f) {
                f = calloc(1, sizeof(*f));
                if (!f)
                        goto oom;
                f->name = strdup(name);
                f->help = strdup(help ? help : "");
                f->label_names = strdup(names.p);
                f->type = type;
                if (type == SS_MT_HISTOGRAM) {
                        f->nbounds = nbounds;
                        f->bounds = malloc((nbounds ? nbounds : 1) * sizeof(double));
                        if (f->bounds)
                                memcpy(f->bounds, bounds, nbounds * sizeof(double));
                }
                if (!f->name || !f->help || !f->label_names ||
                    (type == SS_MT_HISTOGRAM && !f->bounds)) {
                        free(f->name);
                        free(f->help);
                        free(f->label_names);
                        free(f->bounds);
                        free(f);
                        goto oom;
                }
                if (r->tail)
                        r->tail->next = f;
                else
                        r->head = f;
                r->tail = f;
        }
        struct ss_series **tail = &f->head;
        for (s = f->head; s; s = s->next) {
                if (!strcmp(s->labels, lb.p))
                        goto unlock;
                tail = &s->next;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                goto oom;
        s->fam = f;
        s->labels = strdup(lb.p);
        if (type == SS_MT_HISTOGRAM)
                s->buckets = calloc(f->nbounds + 1, sizeof(*s->buckets));
        if (!s->labels || (type == SS_MT_HISTOGRAM && !s->buckets)) {
                ss_series_free(s);
                s = NULL;
                goto oom;
        }
        *tail = s;
        goto unlock;
oom:
        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "metric %s: out of memory", name);
unlock:
        pthread_mutex_unlock(&r->lock);
out:
        free(lb.p);
        free(names.p);
        return s;
}

/* The registration policy (ss_metrics.h): a failure is logged here, once, for every caller. */
static struct ss_series *ss_series_register(ss_metrics_t *r, ss_mtype_t type, const char *name,
                                            const char *help, const double *bounds, size_t nbounds,
                                            const char *const *labels, char *errstr,
                                            size_t errstr_size)
{
        char local[256] = "";
        if (!errstr || !errstr_size) {
                errstr = local;
                errstr_size = sizeof(local);
        }
        struct ss_series *s =
            ss_series_get(r, type, name, help, bounds, nbounds, labels, errstr, errstr_size);
        if (!s)
                ss_warn("metrics", "not registered (its updates are dropped): %s", errstr);
        return s;
}

ss_counter_t *ss_metrics_counter(ss_metrics_t *r, const char *name, const char *help,
                                 const char *const *labels, char *errstr, size_t errstr_size)
{
        return ss_series_register(r, SS_MT_COUNTER, name, help, NULL, 0, labels, errstr,
                                  errstr_size);
}

ss_gauge_t *ss_metrics_gauge(ss_metrics_t *r, const char *name, const char *help,
                             const char *const *labels, char *errstr, size_t errstr_size)
{
        return ss_series_register(r, SS_MT_GAUGE, name, help, NULL, 0, labels, errstr, errstr_size);
}

ss_histogram_t *ss_metrics_histogram(ss_metrics_t *r, const char *name, const char *help,
                                     const double *bounds, size_t nbounds,
                                     const char *const *labels, char *errstr, size_t errstr_size)
{
        return ss_series_register(r, SS_MT_HISTOGRAM, name, help, bounds, nbounds, labels, errstr,
                                  errstr_size);
}

void ss_metrics_remove(ss_metrics_t *r, ss_gauge_t *series)
{
        if (!series)
                return;
        pthread_mutex_lock(&r->lock);
        for (struct ss_series **pp = &series->fam->head; *pp; pp = &(*pp)->next) {
                if (*pp == series) {
                        *pp = series->next;
                        ss_series_free(series);
                        break;
                }
        }
        pthread_mutex_unlock(&r->lock);
}

void ss_counter_add(ss_counter_t *c, double v)
{
        if (c && v > 0)
                ss_atomic_dadd(&c->value_bits, v);
}

void ss_gauge_set(ss_gauge_t *g, double v)
{
        if (g)
                atomic_store_explicit(&g->value_bits, ss_d2bits(v), memory_order_relaxed);
}

void ss_gauge_add(ss_gauge_t *g, double v)
{
        if (g)
                ss_atomic_dadd(&g->value_bits, v);
}

void ss_histogram_observe(ss_histogram_t *h, double v)
{
        if (!h)
                return;
        const double *b = h->fam->bounds;
        size_t lo = 0, hi = h->fam->nbounds; /* first bound >= v, or nbounds (+Inf) */
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (v <= b[mid])
                        hi = mid;
                else
                        lo = mid + 1;
        }
        atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
        ss_atomic_dadd(&h->value_bits, v);
}

double ss_metrics_value(const ss_counter_t *s)
{
        return ss_bits2d(
            atomic_load_explicit(&((ss_counter_t *)s)->value_bits, memory_order_relaxed));
}

unsigned long long ss_histogram_count(const ss_histogram_t *h)
{
        unsigned long long n = 0;
        for (size_t i = 0; i <= h->fam->nbounds; i++)
                n += atomic_load_explicit(&((ss_histogram_t *)h)->buckets[i], memory_order_relaxed);
        return n;
}

double ss_histogram_sum(const ss_histogram_t *h)
{
        return ss_metrics_value(h);
}

/* name{labels[,extra]} value\n */
static void ss_render_sample(ss_buf_t *b, const char *name, const char *suffix, const char *labels,
                             const char *extra, const char *value)
{
        ss_buf_puts(b, name);
        ss_buf_puts(b, suffix);
        if (*labels || extra) {
                ss_buf_puts(b, "{");
                ss_buf_puts(b, labels);
                if (extra) {
                        if (*labels)
                                ss_buf_puts(b, ",");
                        ss_buf_puts(b, extra);
                }
                ss_buf_puts(b, "}");
        }
        ss_buf_puts(b, " ");
        ss_buf_puts(b, value);
        ss_buf_puts(b, "\n");
}

static void ss_render_histogram(ss_buf_t *b, const ss_family_t *f, struct ss_series *s)
{
        char num[64], le[96];
        unsigned long long cum = 0;
        for (size_t i = 0; i <= f->nbounds; i++) {
                cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
                char bound[48];
                if (i < f->nbounds)
                        ss_fmt_double(f->bounds[i], bound, sizeof(bound));
                else
                        snprintf(bound, sizeof(bound), "+Inf");
                snprintf(le, sizeof(le), "le=\"%s\"", bound);
                snprintf(num, sizeof(num), "%llu", cum);
                ss_render_sample(b, f->name, "_bucket", s->labels, le, num);
        }
        ss_fmt_double(ss_bits2d(atomic_load_explicit(&s->value_bits, memory_order_relaxed)), num,
                      sizeof(num));
        ss_render_sample(b, f->name, "_sum", s->labels, NULL, num);
        snprintf(num, sizeof(num), "%llu", cum);
        ss_render_sample(b, f->name, "_count", s->labels, NULL, num);
}

ss_err_t ss_metrics_render(ss_metrics_t *r, char **out, size_t *len)
{
        ss_buf_t b = {0};
        ss_buf_puts(&b, "");
        pthread_mutex_lock(&r->lock);
        for (ss_family_t *f = r->head; f; f = f->next) {
                ss_buf_puts(&b, "# HELP ");
                ss_buf_puts(&b, f->name);
                ss_buf_puts(&b, " ");
                ss_buf_put_escaped(&b, f->help, 0);
                ss_buf_puts(&b, "\n# TYPE ");
                ss_buf_puts(&b, f->name);
                ss_buf_puts(&b, " ");
                ss_buf_puts(&b, ss_mtype_names[f->type]);
                ss_buf_puts(&b, "\n");
                for (struct ss_series *s = f->head; s; s = s->next) {
                        if (f->type == SS_MT_HISTOGRAM) {
                                ss_render_histogram(&b, f, s);
                        } else {
                                char num[64];
                                ss_fmt_double(ss_metrics_value(s), num, sizeof(num));
                                ss_render_sample(&b, f->name, "", s->labels, NULL, num);
                        }
                }
        }
        pthread_mutex_unlock(&r->lock);
        if (b.oom) {
                free(b.p);
                return SS_ERR_NOMEM;
        }
        *out = b.p;
        if (len)
                *len = b.len;
        return SS_OK;
}

void ss_metrics_ready_set(ss_metrics_t *r, ss_metrics_ready_fn fn, void *opaque)
{
        pthread_mutex_lock(&r->ready_lock);
        r->ready_fn = fn;
        r->ready_opaque = opaque;
        pthread_mutex_unlock(&r->ready_lock);
}

/* The response of a probe path (/healthz, /readyz), or NULL for any other url. */
static struct MHD_Response *ss_metrics_probe(ss_metrics_t *r, const char *url, unsigned int *status)
{
        char text[256];
        if (!strcmp(url, "/healthz")) {
                snprintf(text, sizeof(text), "ok\n");
        } else if (!strcmp(url, "/readyz")) {
                char why[192] = "starting";
                pthread_mutex_lock(&r->ready_lock);
                int ready = r->ready_fn && r->ready_fn(r->ready_opaque, why, sizeof(why));
                pthread_mutex_unlock(&r->ready_lock);
                if (!ready)
                        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
                snprintf(text, sizeof(text), ready ? "ready\n" : "not ready: %s\n", why);
        } else {
                return NULL;
        }
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
        if (resp)
                MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        return resp;
}

static enum MHD_Result ss_metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **con_cls)
{
        ss_metrics_t *r = cls;
        struct MHD_Response *resp;
        unsigned int status = MHD_HTTP_OK;
        /* Limits first: no request carries a body. Paths are matched below: /metrics, and
         * any further GET-only path (e.g. health checks) goes beside it. */
        const char *clen =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (*upload_data_size > 0 || (clen && strcmp(clen, "0")) ||
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
                static char msg[] = "request bodies are not accepted\n";
                *upload_data_size = 0;
                resp = MHD_create_response_from_buffer(strlen(msg), msg, MHD_RESPMEM_PERSISTENT);
                if (!resp)
                        return MHD_NO;
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
                enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, resp);
                MHD_destroy_response(resp);
                return ret;
        }
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
                static char msg[] = "method not allowed\n";
                status = MHD_HTTP_METHOD_NOT_ALLOWED;
                resp = MHD_create_response_from_buffer(strlen(msg), msg, MHD_RESPMEM_PERSISTENT);
        } else if ((resp = ss_metrics_probe(r, url, &status)) != NULL) {
                /* /healthz or /readyz */
        } else if (strcmp(url, "/metrics")) {
                static char msg[] = "not found: the metrics are at /metrics, probes at /healthz "
                                    "and /readyz\n";
                status = MHD_HTTP_NOT_FOUND;
                resp = MHD_create_response_from_buffer(strlen(msg), msg, MHD_RESPMEM_PERSISTENT);
        } else {
                char *text;
                size_t len;
                if (ss_metrics_render(r, &text, &len) != SS_OK)
                        return MHD_NO;
                resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
                if (!resp) {
                        free(text);
                        return MHD_NO;
                }
                MHD_add_response_header(resp, "Content-Type",
                                        "text/plain; version=0.0.4; charset=utf-8");
        }
        if (!resp)
                return MHD_NO;
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

ss_err_t ss_metrics_serve(ss_metrics_t *r, int port, char *errstr, size_t errstr_size)
{
        return ss_metrics_serve_on(r, "127.0.0.1", port, errstr, errstr_size);
}

ss_err_t ss_metrics_serve_on(ss_metrics_t *r, const char *bind, int port, char *errstr,
                             size_t errstr_size)
{
        if (r->daemon)
                return ss_err_set(errstr, errstr_size, SS_ERR_STATE,
                                  "metrics endpoint already serving on port %d", r->port);
        if (port < 0 || port > 65535)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "metrics port %d out of range", port);
        struct sockaddr_storage sa = {0};
        struct sockaddr_in *sa4 = (struct sockaddr_in *)&sa;
        struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)&sa;
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
        if (inet_pton(AF_INET, bind, &sa4->sin_addr) == 1) {
                sa4->sin_family = AF_INET;
                sa4->sin_port = htons((uint16_t)port);
        } else if (inet_pton(AF_INET6, bind, &sa6->sin6_addr) == 1) {
                sa6->sin6_family = AF_INET6;
                sa6->sin6_port = htons((uint16_t)port);
                flags |= MHD_USE_IPv6;
        } else {
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "metrics bind address '%s' is not a numeric IPv4 or IPv6 "
                                  "address",
                                  bind);
        }
        r->daemon = MHD_start_daemon(
            flags, (uint16_t)port, NULL, NULL, ss_metrics_answer, r, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned int)SS_METRICS_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned int)SS_METRICS_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            (unsigned int)SS_METRICS_MAX_PER_IP, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)SS_METRICS_MAX_REQUEST_BYTES, MHD_OPTION_END);
        if (!r->daemon)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO,
                                  "cannot serve metrics on %s port %d (port taken?)", bind, port);
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
        r->port = info ? info->port : port;
        return SS_OK;
}

int ss_metrics_port(const ss_metrics_t *r)
{
        return r->daemon ? r->port : 0;
}
