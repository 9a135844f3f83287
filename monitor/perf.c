/*
 * perf: a ring of labelled pairs with an incrementally maintained confusion
 * matrix. Adding a pair is O(1); a report is O(N) for the lag quantiles
 * (quickselect over a scratch copy allocated once) and O(1) for the rest.
 */
#include "perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ss_perf_t *ss_perf_new(size_t cap)
{
        if (cap < 1)
                return NULL;
        ss_perf_t *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->cap = cap;
        p->ring = calloc(cap, sizeof(*p->ring));
        p->scratch = calloc(cap, sizeof(*p->scratch));
        if (!p->ring || !p->scratch) {
                ss_perf_destroy(p);
                return NULL;
        }
        return p;
}

void ss_perf_destroy(ss_perf_t *p)
{
        if (!p)
                return;
        free(p->ring);
        free(p->scratch);
        free(p);
}

int ss_perf_add(ss_perf_t *p, int pred, int truth, int64_t lag_ms, int64_t t_ms)
{
        if (pred < 0 || pred > 2 || truth < 0 || truth > 2)
                return -1;
        ss_perf_pair_t *slot = &p->ring[p->head];
        if (p->len == p->cap)
                p->conf[slot->truth][slot->pred]--;
        else
                p->len++;
        slot->pred = (uint8_t)pred;
        slot->truth = (uint8_t)truth;
        slot->lag_ms = lag_ms < 0 ? 0 : lag_ms;
        slot->t_ms = t_ms;
        p->conf[truth][pred]++;
        p->head = (p->head + 1) % p->cap;
        p->total++;
        return 0;
}

static void swap64(int64_t *a, int64_t *b)
{
        int64_t t = *a;
        *a = *b;
        *b = t;
}

/* k-th smallest (0-based): quickselect with a three-way partition, so runs of equal
 * values (common: many lags of 0) stay linear. */
static int64_t select_kth(int64_t *v, size_t n, size_t k)
{
        ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
        while (lo < hi) {
                int64_t pivot = v[lo + (hi - lo) / 2];
                ptrdiff_t lt = lo, gt = hi, i = lo;
                while (i <= gt) {
                        if (v[i] < pivot)
                                swap64(&v[lt++], &v[i++]);
                        else if (v[i] > pivot)
                                swap64(&v[i], &v[gt--]);
                        else
                                i++;
                }
                /* [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot */
                if (kk < lt)
                        hi = lt - 1;
                else if (kk > gt)
                        lo = gt + 1;
                else
                        return pivot;
        }
        return v[kk];
}

int64_t ss_quantile_i64(int64_t *v, size_t n, double q)
{
        if (n == 0)
                return 0;
        double r = ceil(q * (double)n);
        size_t k = r < 1 ? 0 : (size_t)r - 1;
        if (k >= n)
                k = n - 1;
        return select_kth(v, n, k);
}

void ss_perf_report(ss_perf_t *p, ss_perf_report_t *r)
{
        memset(r, 0, sizeof(*r));
        r->n = p->len;
        memcpy(r->confusion, p->conf, sizeof(r->confusion));
        uint32_t correct = 0;
        for (int c = 0; c < 3; c++) {
                uint32_t tp = p->conf[c][c], pred = 0, truth = 0;
                for (int k = 0; k < 3; k++) {
                        pred += p->conf[k][c];
                        truth += p->conf[c][k];
                }
                correct += tp;
                r->precision[c] = pred ? (double)tp / pred : 0;
                r->recall[c] = truth ? (double)tp / truth : 0;
                double s = r->precision[c] + r->recall[c];
                r->f1[c] = s > 0 ? 2 * r->precision[c] * r->recall[c] / s : 0;
                r->macro_f1 += r->f1[c] / 3;
                r->avgrec += r->recall[c] / 3;
        }
        r->f1_pn = 0.5 * (r->f1[0] + r->f1[2]);
        r->accuracy = p->len ? (double)correct / (double)p->len : 0;
        for (size_t i = 0; i < p->len; i++)
                p->scratch[i] = p->ring[i].lag_ms;
        if (p->len) {
                r->t_first = p->ring[(p->head + p->cap - p->len) % p->cap].t_ms;
                r->t_last = p->ring[(p->head + p->cap - 1) % p->cap].t_ms;
        }
        r->lag_p50_s = (double)ss_quantile_i64(p->scratch, p->len, 0.5) / 1000.0;
        r->lag_p95_s = (double)ss_quantile_i64(p->scratch, p->len, 0.95) / 1000.0;
}

void ss_perf_save(const ss_perf_t *p, ss_mbuf_t *b)
{
        ss_mbuf_put_u64(b, p->cap);
        ss_mbuf_put_u64(b, p->total);
        ss_mbuf_put_u64(b, p->len);
        size_t first = (p->head + p->cap - p->len) % p->cap;
        for (size_t i = 0; i < p->len; i++) {
                const ss_perf_pair_t *e = &p->ring[(first + i) % p->cap];
                ss_mbuf_put_u8(b, e->pred);
                ss_mbuf_put_u8(b, e->truth);
                ss_mbuf_put_i64(b, e->lag_ms);
                ss_mbuf_put_i64(b, e->t_ms);
        }
}

static void perf_clear(ss_perf_t *p)
{
        p->len = p->head = 0;
        p->total = 0;
        memset(p->conf, 0, sizeof(p->conf));
}

int ss_perf_load(ss_perf_t *p, ss_mreader_t *r)
{
        perf_clear(p);
        uint64_t cap = ss_mreader_u64(r), total = ss_mreader_u64(r), len = ss_mreader_u64(r);
        if (r->failed || cap != p->cap || len > cap || len > total)
                return -1;
        for (uint64_t i = 0; i < len; i++) {
                int pred = ss_mreader_u8(r), truth = ss_mreader_u8(r);
                int64_t lag = ss_mreader_i64(r), t = ss_mreader_i64(r);
                if (r->failed || ss_perf_add(p, pred, truth, lag, t)) {
                        perf_clear(p);
                        return -1;
                }
        }
        p->total = total;
        return 0;
}
