/*
 * test_metrics_limits: the metrics endpoint binds 127.0.0.1 unless told otherwise, refuses
 * non-numeric bind addresses, answers only GET (and HEAD) /metrics, refuses request bodies
 * and oversized headers, closes a slow client's connection after its timeout while serving
 * others meanwhile, and its /metrics passes `promtool check metrics` (when promtool is
 * installed, as deploy/install-deps.sh does; otherwise that step is reported as skipped).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ss_metrics.h"
#include "ss_test.h"
#include "ss_util.h"

static int ss_connect(int port)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Sends req (len bytes) and reads the whole response (caller frees); NULL on failure. */
static char *ss_http_raw(int port, const char *req, size_t len)
{
        int fd = ss_connect(port);
        if (fd < 0)
                return NULL;
        size_t off = 0;
        while (off < len) {
                ssize_t w = write(fd, req + off, len - off);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap);
        ssize_t got;
        while ((got = read(fd, buf + n, cap - n - 1)) > 0) {
                n += (size_t)got;
                if (n + 1 >= cap)
                        buf = realloc(buf, cap *= 2);
        }
        buf[n] = '\0';
        close(fd);
        return buf;
}

static int ss_status(const char *resp)
{
        int code = 0;
        if (resp)
                sscanf(resp, "HTTP/1.%*d %d", &code);
        return code;
}

static int ss_status_of(int port, const char *req)
{
        char *resp = ss_http_raw(port, req, strlen(req));
        int code = ss_status(resp);
        free(resp);
        return code;
}

static void test_bind(void)
{
        char err[256];
        ss_metrics_t *r = ss_metrics_new();
        CHECK(ss_metrics_serve_on(r, "localhost", 0, err, sizeof(err)) == SS_ERR_CONFIG);
        CHECK(strstr(err, "'localhost' is not a numeric IPv4 or IPv6 address") != NULL);
        CHECK(ss_metrics_serve_on(r, "0.0.0.0", 0, err, sizeof(err)) == SS_OK);
        CHECK(ss_status_of(ss_metrics_port(r), "GET /metrics HTTP/1.0\r\n\r\n") == 200);
        ss_metrics_destroy(r);
}

/* Default 127.0.0.1: not reachable on another address of the host. */
static void test_bind_address_is_loopback(void)
{
        char err[256];
        ss_metrics_t *r = ss_metrics_new();
        CHECK(ss_metrics_serve(r, 0, err, sizeof(err)) == SS_OK);
        int port = ss_metrics_port(r);
        /* connecting to a non-loopback address of this host must fail: use 127.0.0.2, which
         * is loopback-routed but not the bound address */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        CHECK(rc != 0);
        close(fd);
        ss_metrics_destroy(r);
        /* ... while a 0.0.0.0 endpoint answers there */
        r = ss_metrics_new();
        CHECK(ss_metrics_serve_on(r, "0.0.0.0", 0, err, sizeof(err)) == SS_OK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_port = htons((uint16_t)ss_metrics_port(r));
        CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        close(fd);
        ss_metrics_destroy(r);
}

static void test_requests(ss_metrics_t *r)
{
        int port = ss_metrics_port(r);
        CHECK(ss_status_of(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") ==
              200);
        CHECK(ss_status_of(
                  port, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 405);
        CHECK(ss_status_of(port, "DELETE /metrics HTTP/1.0\r\n\r\n") == 405);
        CHECK(ss_status_of(port, "GET /other HTTP/1.0\r\n\r\n") == 404);
        CHECK(ss_status_of(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                 "Content-Length: 5\r\n\r\nhello") == 413);
        CHECK(ss_status_of(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                 "Content-Length: 0\r\n\r\n") == 200);
        /* 64 KiB of headers: over the request limit, never a 200 */
        size_t big = 64 * 1024;
        char *req = malloc(big + 128);
        int n = snprintf(req, big + 128, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(req + n, 'a', big);
        strcpy(req + n + big, "\r\nConnection: close\r\n\r\n");
        char *resp = ss_http_raw(port, req, strlen(req));
        int code = ss_status(resp);
        printf("  64 KiB header: status %d\n", code);
        CHECK(code != 200);
        CHECK(code == 0 || code == 413 || code == 431);
        free(resp);
        free(req);
}

/* A client that sends half a request and stalls is dropped after the timeout; others are
 * served meanwhile. */
static void test_slow_client(ss_metrics_t *r)
{
        int port = ss_metrics_port(r);
        int fds[SS_METRICS_MAX_PER_IP];
        for (int i = 0; i < SS_METRICS_MAX_PER_IP - 1; i++) {
                fds[i] = ss_connect(port);
                CHECK(fds[i] >= 0);
                CHECK(write(fds[i], "GET /met", 8) == 8);
        }
        double t0 = ss_time_mono();
        CHECK(ss_status_of(port, "GET /metrics HTTP/1.0\r\n\r\n") == 200);
        CHECK(ss_time_mono() - t0 < 1.0);
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int ready = poll(&p, 1, (SS_METRICS_TIMEOUT_S + 3) * 1000);
        double waited = ss_time_mono() - t0;
        char c;
        CHECK(ready == 1 && read(fds[0], &c, 1) <= 0);
        printf("  slow client dropped after %.1f s (timeout %d s)\n", waited, SS_METRICS_TIMEOUT_S);
        CHECK(waited >= SS_METRICS_TIMEOUT_S - 1 && waited < SS_METRICS_TIMEOUT_S + 3);
        for (int i = 0; i < SS_METRICS_MAX_PER_IP - 1; i++)
                close(fds[i]);
}

static void test_promtool(ss_metrics_t *r)
{
        if (system("command -v promtool >/dev/null 2>&1") != 0) {
                printf("  promtool not installed: promtool check skipped\n");
                return;
        }
        char *resp = ss_http_raw(ss_metrics_port(r), "GET /metrics HTTP/1.0\r\n\r\n", 25);
        char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
        CHECK(body != NULL);
        if (!body) {
                free(resp);
                return;
        }
        char path[] = "/tmp/ss_metrics_promtool_XXXXXX";
        int fd = mkstemp(path);
        size_t blen = strlen(body + 4);
        CHECK(write(fd, body + 4, blen) == (ssize_t)blen);
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        int rc = system(cmd);
        printf("  promtool check metrics: exit %d\n", rc);
        CHECK(rc == 0);
        unlink(path);
        free(resp);
}

int main(void)
{
        char err[256];
        test_bind();
        test_bind_address_is_loopback();

        ss_metrics_t *r = ss_metrics_new();
        ss_counter_t *c = ss_metrics_counter(r, "sentistream_test_consumed_total",
                                             "Messages consumed.", NULL, err, sizeof(err));
        ss_counter_add(c, 3);
        ss_counter_t *d = ss_metrics_counter(
            r, "sentistream_test_dead_lettered_total", "Dead letters, by reason.",
            (const char *[]){"reason", "quote\" back\\slash\nnewline", NULL}, err, sizeof(err));
        ss_counter_inc(d);
        const double bounds[] = {0.001, 0.01, 0.1};
        ss_histogram_t *h =
            ss_metrics_histogram(r, "sentistream_test_batch_seconds", "Seconds per batch.", bounds,
                                 3, NULL, err, sizeof(err));
        ss_histogram_observe(h, 0.005);
        ss_gauge_t *g =
            ss_metrics_gauge(r, "sentistream_test_lag", "Lag.",
                             (const char *[]){"topic", "tweets", NULL}, err, sizeof(err));
        ss_gauge_set(g, 7);
        CHECK(ss_metrics_serve(r, 0, err, sizeof(err)) == SS_OK);
        test_requests(r);
        test_promtool(r);
        test_slow_client(r);
        ss_metrics_destroy(r);
        return ss_test_finish();
}
