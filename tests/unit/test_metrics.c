/*
 * Tests of ss_metrics: exposition text (names, labels, escaping, histogram
 * buckets), concurrent updates from several threads, the HTTP endpoint, and
 * `promtool check metrics` on a rendered registry when promtool is installed,
 * and the probes /healthz and /readyz with and without a readiness callback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ss_metrics.h"
#include "ss_test.h"

static void test_counter_gauge_text(void)
{
        ss_metrics_t *r = ss_metrics_new();
        char err[256];
        ss_counter_t *c =
            ss_metrics_counter(r, "t_consumed_total", "Messages consumed.", NULL, err, sizeof(err));
        CHECK(c != NULL);
        ss_counter_add(c, 3);
        ss_counter_inc(c);
        ss_counter_add(c, -5); /* ignored: counters never go down */
        CHECK_NEAR(ss_metrics_value(c), 4.0, 0);
        /* the same name and labels give the same series */
        CHECK(ss_metrics_counter(r, "t_consumed_total", "x", NULL, err, sizeof(err)) == c);

        ss_counter_t *d1 =
            ss_metrics_counter(r, "t_dead_total", "Dead \\ letters\nby reason.",
                               (const char *[]){"reason", "SS_ERR_UTF8", NULL}, err, sizeof(err));
        ss_counter_t *d2 =
            ss_metrics_counter(r, "t_dead_total", "",
                               (const char *[]){"reason", "a\"b\\c\nd", NULL}, err, sizeof(err));
        CHECK(d1 && d2 && d1 != d2);
        ss_counter_inc(d1);
        ss_counter_add(d2, 2);
        /* wrong type or label names for an existing family are refused */
        CHECK(ss_metrics_gauge(r, "t_dead_total", "", (const char *[]){"reason", "x", NULL}, err,
                               sizeof(err)) == NULL);
        CHECK(strstr(err, "t_dead_total") != NULL);
        CHECK(ss_metrics_counter(r, "t_dead_total", "", (const char *[]){"why", "x", NULL}, err,
                                 sizeof(err)) == NULL);
        CHECK(ss_metrics_counter(r, "9bad", "", NULL, err, sizeof(err)) == NULL);
        CHECK(ss_metrics_counter(r, "t_x_total", "", (const char *[]){"bad-label", "x", NULL}, err,
                                 sizeof(err)) == NULL);

        ss_gauge_t *g = ss_metrics_gauge(
            r, "t_lag", "Lag.", (const char *[]){"topic", "tweets", "partition", "0", NULL}, err,
            sizeof(err));
        ss_gauge_set(g, 17);
        ss_gauge_add(g, -2.5);
        CHECK_NEAR(ss_metrics_value(g), 14.5, 0);
        ss_gauge_t *g1 = ss_metrics_gauge(
            r, "t_lag", "Lag.", (const char *[]){"topic", "tweets", "partition", "1", NULL}, err,
            sizeof(err));
        ss_gauge_set(g1, 1e-7);

        char *text;
        size_t len;
        CHECK(ss_metrics_render(r, &text, &len) == SS_OK);
        CHECK(strlen(text) == len);
        CHECK(strstr(text, "# HELP t_consumed_total Messages consumed.\n"
                           "# TYPE t_consumed_total counter\n"
                           "t_consumed_total 4\n") != NULL);
        CHECK(strstr(text, "# HELP t_dead_total Dead \\\\ letters\\nby reason.\n") != NULL);
        CHECK(strstr(text, "t_dead_total{reason=\"SS_ERR_UTF8\"} 1\n") != NULL);
        CHECK(strstr(text, "t_dead_total{reason=\"a\\\"b\\\\c\\nd\"} 2\n") != NULL);
        CHECK(strstr(text, "# TYPE t_lag gauge\nt_lag{topic=\"tweets\",partition=\"0\"} 14.5\n") !=
              NULL);
        CHECK(strstr(text, "t_lag{topic=\"tweets\",partition=\"1\"} 1e-07\n") != NULL);
        free(text);

        /* a removed series disappears, its family stays */
        ss_metrics_remove(r, g);
        CHECK(ss_metrics_render(r, &text, &len) == SS_OK);
        CHECK(strstr(text, "partition=\"0\"") == NULL);
        CHECK(strstr(text, "partition=\"1\"") != NULL);
        free(text);
        ss_metrics_destroy(r);
}

static void test_histogram(void)
{
        ss_metrics_t *r = ss_metrics_new();
        char err[256];
        const double bounds[] = {0.125, 0.25, 1, 4};
        ss_histogram_t *h =
            ss_metrics_histogram(r, "t_seconds", "Durations.", bounds, 4, NULL, err, sizeof(err));
        CHECK(h != NULL);
        /* le is inclusive: 0.25 lands in the 0.25 bucket (values exact in binary) */
        const double obs[] = {0.0625, 0.125, 0.1875, 0.25, 0.5, 2, 32};
        double sum = 0;
        for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
                ss_histogram_observe(h, obs[i]);
                sum += obs[i];
        }
        CHECK(ss_histogram_count(h) == 7);
        CHECK_NEAR(ss_histogram_sum(h), sum, 1e-12);
        char *text;
        CHECK(ss_metrics_render(r, &text, NULL) == SS_OK);
        CHECK(strstr(text, "# TYPE t_seconds histogram\n"
                           "t_seconds_bucket{le=\"0.125\"} 2\n"
                           "t_seconds_bucket{le=\"0.25\"} 4\n"
                           "t_seconds_bucket{le=\"1\"} 5\n"
                           "t_seconds_bucket{le=\"4\"} 6\n"
                           "t_seconds_bucket{le=\"+Inf\"} 7\n"
                           "t_seconds_sum 35.125\n"
                           "t_seconds_count 7\n") != NULL);
        free(text);
        /* bounds must ascend; le is reserved */
        const double bad[] = {1, 0.5};
        CHECK(ss_metrics_histogram(r, "t_bad_seconds", "", bad, 2, NULL, err, sizeof(err)) == NULL);
        CHECK(ss_metrics_histogram(r, "t_le_seconds", "", bounds, 4,
                                   (const char *[]){"le", "1", NULL}, err, sizeof(err)) == NULL);
        ss_histogram_t *hl =
            ss_metrics_histogram(r, "t_lab_seconds", "", bounds, 4,
                                 (const char *[]){"kind", "x", NULL}, err, sizeof(err));
        ss_histogram_observe(hl, 0.2);
        CHECK(ss_metrics_render(r, &text, NULL) == SS_OK);
        CHECK(strstr(text, "t_lab_seconds_bucket{kind=\"x\",le=\"0.125\"} 0\n"
                           "t_lab_seconds_bucket{kind=\"x\",le=\"0.25\"} 1\n") != NULL);
        CHECK(strstr(text, "t_lab_seconds_count{kind=\"x\"} 1\n") != NULL);
        free(text);
        ss_metrics_destroy(r);
}

typedef struct {
        ss_counter_t *c;
        ss_histogram_t *h;
} ss_thread_arg_t;

#define N_THREADS 4
#define N_ITER    100000

static void *ss_hammer(void *p)
{
        ss_thread_arg_t *a = p;
        for (int i = 0; i < N_ITER; i++) {
                ss_counter_add(a->c, 0.5);
                ss_histogram_observe(a->h, (double)(i % 3));
        }
        return NULL;
}

static void test_concurrent_updates(void)
{
        ss_metrics_t *r = ss_metrics_new();
        char err[256];
        const double bounds[] = {0.5, 1.5};
        ss_thread_arg_t a = {
            ss_metrics_counter(r, "t_total", "", NULL, err, sizeof(err)),
            ss_metrics_histogram(r, "t_h", "", bounds, 2, NULL, err, sizeof(err)),
        };
        pthread_t th[N_THREADS];
        for (int i = 0; i < N_THREADS; i++)
                pthread_create(&th[i], NULL, ss_hammer, &a);
        for (int i = 0; i < 50; i++) { /* render while the threads write */
                char *text;
                CHECK(ss_metrics_render(r, &text, NULL) == SS_OK);
                free(text);
        }
        for (int i = 0; i < N_THREADS; i++)
                pthread_join(th[i], NULL);
        CHECK_NEAR(ss_metrics_value(a.c), 0.5 * N_THREADS * N_ITER, 0);
        CHECK(ss_histogram_count(a.h) == (unsigned long long)N_THREADS * N_ITER);
        /* i % 3 over 0..N_ITER-1: sum of 0,1,2 repeated */
        double per_thread = 0;
        for (int i = 0; i < N_ITER; i++)
                per_thread += i % 3;
        CHECK_NEAR(ss_histogram_sum(a.h), per_thread * N_THREADS, 0);
        ss_metrics_destroy(r);
}

/* Minimal HTTP GET on 127.0.0.1:port; returns the whole response (caller frees). */
static char *ss_http_get(int port, const char *path)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return NULL;
        }
        char req[256];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
        if (write(fd, req, (size_t)n) != n) {
                close(fd);
                return NULL;
        }
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        ssize_t got;
        while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
                len += (size_t)got;
                if (len + 1 >= cap)
                        buf = realloc(buf, cap *= 2);
        }
        buf[len] = '\0';
        close(fd);
        return buf;
}

static void test_http_and_promtool(void)
{
        ss_metrics_t *r = ss_metrics_new();
        char err[256];
        ss_counter_t *c = ss_metrics_counter(r, "sentistream_test_consumed_total",
                                             "Messages consumed.", NULL, err, sizeof(err));
        ss_counter_add(c, 42);
        const double bounds[] = {0.001, 0.005, 0.025, 0.1};
        ss_histogram_t *h =
            ss_metrics_histogram(r, "sentistream_test_scoring_seconds", "Seconds per batch.",
                                 bounds, 4, NULL, err, sizeof(err));
        ss_histogram_observe(h, 0.003);
        ss_gauge_t *g = ss_metrics_gauge(r, "sentistream_test_model_info", "Model serving.",
                                         (const char *[]){"name", "m", "version", "v1", NULL}, err,
                                         sizeof(err));
        ss_gauge_set(g, 1);

        CHECK(ss_metrics_port(r) == 0);
        CHECK(ss_metrics_serve(r, 0, err, sizeof(err)) == SS_OK);
        int port = ss_metrics_port(r);
        CHECK(port > 0);
        CHECK(ss_metrics_serve(r, 0, err, sizeof(err)) == SS_ERR_STATE);
        /* a second registry cannot take the same port */
        ss_metrics_t *r2 = ss_metrics_new();
        CHECK(ss_metrics_serve(r2, port, err, sizeof(err)) == SS_ERR_IO);
        ss_metrics_destroy(r2);

        char *resp = ss_http_get(port, "/metrics");
        CHECK(resp != NULL);
        if (resp) {
                CHECK(strncmp(resp, "HTTP/1.", 7) == 0 && strstr(resp, " 200 ") != NULL);
                CHECK(strstr(resp, "text/plain; version=0.0.4") != NULL);
                CHECK(strstr(resp, "\nsentistream_test_consumed_total 42\n") != NULL);
                CHECK(strstr(resp, "sentistream_test_scoring_seconds_bucket{le=\"0.005\"} 1\n") !=
                      NULL);
                char *body = strstr(resp, "\r\n\r\n");
                if (body && system("command -v promtool >/dev/null 2>&1") == 0) {
                        char path[] = "/tmp/ss_test_metrics_XXXXXX";
                        int fd = mkstemp(path);
                        size_t blen = strlen(body + 4);
                        CHECK(write(fd, body + 4, blen) == (ssize_t)blen);
                        close(fd);
                        char cmd[256];
                        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
                        CHECK(system(cmd) == 0);
                        unlink(path);
                } else {
                        printf("promtool not installed: lint check skipped\n");
                }
                free(resp);
        }
        resp = ss_http_get(port, "/other");
        CHECK(resp && strstr(resp, " 404 ") != NULL);
        free(resp);
        ss_metrics_destroy(r);
}

typedef struct {
        int ready, calls;
} ss_ready_state_t;

static int ss_test_ready(void *opaque, char *why, size_t why_size)
{
        ss_ready_state_t *st = opaque;
        st->calls++;
        if (!st->ready)
                snprintf(why, why_size, "no partitions assigned");
        return st->ready;
}

static void test_probes(void)
{
        ss_metrics_t *r = ss_metrics_new();
        char err[256];
        CHECK(ss_metrics_serve(r, 0, err, sizeof(err)) == SS_OK);
        int port = ss_metrics_port(r);

        char *resp = ss_http_get(port, "/healthz");
        CHECK(resp && strstr(resp, " 200 ") && strstr(resp, "\r\n\r\nok\n"));
        free(resp);
        /* no callback yet: not ready */
        resp = ss_http_get(port, "/readyz");
        CHECK(resp && strstr(resp, " 503 ") && strstr(resp, "not ready: starting\n"));
        free(resp);

        ss_ready_state_t st = {0, 0};
        ss_metrics_ready_set(r, ss_test_ready, &st);
        resp = ss_http_get(port, "/readyz");
        CHECK(resp && strstr(resp, " 503 ") && strstr(resp, "not ready: no partitions assigned\n"));
        free(resp);
        CHECK(st.calls == 1);
        st.ready = 1;
        resp = ss_http_get(port, "/readyz");
        CHECK(resp && strstr(resp, " 200 ") && strstr(resp, "\r\n\r\nready\n"));
        free(resp);
        /* liveness does not consult the callback */
        resp = ss_http_get(port, "/healthz");
        CHECK(resp && strstr(resp, " 200 "));
        free(resp);
        CHECK(st.calls == 2);

        /* cleared: never called again */
        ss_metrics_ready_set(r, NULL, NULL);
        resp = ss_http_get(port, "/readyz");
        CHECK(resp && strstr(resp, " 503 "));
        free(resp);
        CHECK(st.calls == 2);
        /* the probes are exact paths */
        resp = ss_http_get(port, "/readyz/x");
        CHECK(resp && strstr(resp, " 404 "));
        free(resp);
        ss_metrics_destroy(r);
}

int main(void)
{
        test_counter_gauge_text();
        test_histogram();
        test_concurrent_updates();
        test_http_and_promtool();
        test_probes();
        return ss_test_finish();
}
