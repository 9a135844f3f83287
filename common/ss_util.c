/*
 * ss_util: clocks, hashing (OpenSSL's SHA-256), whole-file reads and a
 * terminal-only progress line. Nothing here allocates behind the caller's back
 * except ss_file_read_all(), whose buffer the caller frees.
 */
#include "ss_util.h"

#include <errno.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t ss_time_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ss_time_mono(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ss_time_iso8601(int64_t ms, char *buf, size_t size)
{
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        char tmp[32];
        strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, size, "%s.%03dZ", tmp, (int)(ms % 1000));
}

void ss_sha256(const void *data, size_t len, uint8_t out[32])
{
        unsigned int n = 32;
        EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static void ss_hex(const uint8_t *raw, size_t n, char *hex)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                hex[2 * i] = digits[raw[i] >> 4];
                hex[2 * i + 1] = digits[raw[i] & 15];
        }
        hex[2 * n] = '\0';
}

void ss_sha256_hex(const void *data, size_t len, char hex[65])
{
        uint8_t raw[32];
        ss_sha256(data, len, raw);
        ss_hex(raw, 32, hex);
}

ss_err_t ss_sha256_file_hex(const char *path, char hex[65], char *errstr, size_t errstr_size)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(errno));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        char buf[1 << 16];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                EVP_DigestUpdate(ctx, buf, n);
        int bad = ferror(f);
        fclose(f);
        uint8_t raw[32];
        unsigned int rn = 32;
        EVP_DigestFinal_ex(ctx, raw, &rn);
        EVP_MD_CTX_free(ctx);
        if (bad)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: read error", path);
        ss_hex(raw, 32, hex);
        return SS_OK;
}

ss_err_t ss_file_read_all(const char *path, char **out, size_t *len, char *errstr,
                          size_t errstr_size)
{
        *out = NULL;
        if (len)
                *len = 0;
        FILE *f = fopen(path, "rb");
        if (!f)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(errno));
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap);
        if (!buf) {
                fclose(f);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", path);
        }
        for (;;) {
                if (cap - n < 2) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                fclose(f);
                                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                                  "%s: out of memory", path);
                        }
                        buf = nb;
                        cap *= 2;
                }
                size_t r = fread(buf + n, 1, cap - n - 1, f);
                n += r;
                if (r == 0)
                        break;
        }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
                free(buf);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: read error", path);
        }
        buf[n] = '\0';
        *out = buf;
        if (len)
                *len = n;
        return SS_OK;
}

void ss_progress_init(ss_progress_t *p, const char *label, uint64_t total)
{
        const char *env = getenv("SS_PROGRESS");
        p->label = label;
        p->total = total;
        p->start = p->last = ss_time_mono();
        p->enabled = env ? strtol(env, NULL, 10) != 0 : isatty(STDERR_FILENO);
}

void ss_progress_update(ss_progress_t *p, uint64_t step, const char *extra)
{
        if (!p->enabled)
                return;
        double now = ss_time_mono();
        if (now - p->last < 0.1 && (p->total == 0 || step < p->total))
                return;
        p->last = now;
        double el = now - p->start;
        double rate = el > 0 ? (double)step / el : 0;
        char eta[32] = "";
        if (p->total && rate > 0 && step <= p->total)
                snprintf(eta, sizeof(eta), "  ETA %.0fs", (double)(p->total - step) / rate);
        if (p->total)
                fprintf(stderr, "\r\033[K%s: %llu/%llu  %.0f/s  %.1fs%s  %s", p->label,
                        (unsigned long long)step, (unsigned long long)p->total, rate, el, eta,
                        extra ? extra : "");
        else
                fprintf(stderr, "\r\033[K%s: %llu  %.0f/s  %.1fs  %s", p->label,
                        (unsigned long long)step, rate, el, extra ? extra : "");
        fflush(stderr);
}

void ss_progress_done(ss_progress_t *p)
{
        if (p->enabled) {
                fprintf(stderr, "\r\033[K");
                fflush(stderr);
        }
}

int ss_array_grow(void **p, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
        if (need <= *cap)
                return 0;
        size_t n = *cap ? *cap : (min_cap ? min_cap : 1);
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -1;
                n *= 2;
        }
        if (elem == 0 || n > SIZE_MAX / elem)
                return -1;
        void *q = realloc(*p, n * elem);
        if (!q)
                return -1;
        *p = q;
        *cap = n;
        return 0;
}

int ss_file_mkdir_parent(const char *path)
{
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", path);
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
                return 0;
        *slash = '\0';
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}
