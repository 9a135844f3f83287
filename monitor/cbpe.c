/*
 * cbpe: a ring of (label, fixed-point probabilities) beside integer sums, so
 * that a row leaves the sums exactly as it entered them; the estimate turns
 * the sums into an expected confusion matrix and scores it like perf.c does a
 * labelled one.
 */
#include "cbpe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ss_cbpe_t *ss_cbpe_new(size_t cap)
{
        ss_cbpe_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->cap = cap;
        if (cap) {
                w->label = malloc(cap);
                w->prob = malloc(cap * 3 * sizeof(uint32_t));
                if (!w->label || !w->prob) {
                        ss_cbpe_destroy(w);
                        return NULL;
                }
        }
        return w;
}

void ss_cbpe_destroy(ss_cbpe_t *w)
{
        if (!w)
                return;
        free(w->label);
        free(w->prob);
        free(w);
}

static uint32_t fixed(float p)
{
        if (!(p > 0))
                return 0;
        if (p >= 1)
                return SS_CBPE_ONE;
        return (uint32_t)(p * (float)SS_CBPE_ONE + 0.5f); /* p * 2^20 is exact in float */
}

/* (t, t') of the six products m2 keeps, in its order */
static const int m2_pair[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};

static uint64_t prod(uint32_t a, uint32_t b)
{
        return ((uint64_t)a * b + (SS_CBPE_ONE >> 1)) >> 20;
}

static void row_add(ss_cbpe_t *w, int label, const uint32_t *q)
{
        w->npred[label]++;
        for (int t = 0; t < 3; t++)
                w->expect[t][label] += q[t];
        for (int j = 0; j < 6; j++)
                w->m2[label][j] += prod(q[m2_pair[j][0]], q[m2_pair[j][1]]);
}

static void row_sub(ss_cbpe_t *w, int label, const uint32_t *q)
{
        w->npred[label]--;
        for (int t = 0; t < 3; t++)
                w->expect[t][label] -= q[t];
        for (int j = 0; j < 6; j++)
                w->m2[label][j] -= prod(q[m2_pair[j][0]], q[m2_pair[j][1]]);
}

void ss_cbpe_quantize(const float *prob, uint32_t *q)
{
        for (int k = 0; k < 3; k++)
                q[k] = fixed(prob[k]);
}

void ss_cbpe_add(ss_cbpe_t *w, int label, const float *prob)
{
        uint32_t q[3];
        ss_cbpe_quantize(prob, q);
        ss_cbpe_add_fixed(w, label, q);
}

void ss_cbpe_add_fixed(ss_cbpe_t *w, int label, const uint32_t *q)
{
        if (label < 0 || label > 2)
                return;
        row_add(w, label, q);
        if (!w->cap) {
                w->len++;
                return;
        }
        uint32_t *slot = w->prob + 3 * w->head;
        if (w->len == w->cap)
                row_sub(w, w->label[w->head], slot);
        else
                w->len++;
        w->label[w->head] = (uint8_t)label;
        slot[0] = q[0];
        slot[1] = q[1];
        slot[2] = q[2];
        if (++w->head == w->cap)
                w->head = 0;
}

void ss_cbpe_clear(ss_cbpe_t *w)
{
        w->len = w->head = 0;
        memset(w->npred, 0, sizeof(w->npred));
        memset(w->expect, 0, sizeof(w->expect));
        memset(w->m2, 0, sizeof(w->m2));
}

uint64_t ss_cbpe_n(const ss_cbpe_t *w)
{
        return w->npred[0] + w->npred[1] + w->npred[2];
}

void ss_cbpe_from_confusion(const double conf[3][3], ss_cbpe_est_t *e)
{
        memset(e, 0, sizeof(*e));
        memcpy(e->confusion, conf, sizeof(e->confusion));
        double correct = 0;
        for (int t = 0; t < 3; t++)
                for (int p = 0; p < 3; p++)
                        e->n += conf[t][p];
        for (int c = 0; c < 3; c++) {
                double tp = conf[c][c], pred = 0, truth = 0;
                for (int k = 0; k < 3; k++) {
                        pred += conf[k][c];
                        truth += conf[c][k];
                }
                correct += tp;
                e->precision[c] = pred > 0 ? tp / pred : 0;
                e->recall[c] = truth > 0 ? tp / truth : 0;
                double s = e->precision[c] + e->recall[c];
                e->f1[c] = s > 0 ? 2 * e->precision[c] * e->recall[c] / s : 0;
                e->macro_f1 += e->f1[c] / 3;
                e->avgrec += e->recall[c] / 3;
                e->true_mix[c] = e->n > 0 ? truth / e->n : 0;
        }
        e->accuracy = e->n > 0 ? correct / e->n : 0;
        e->f1_se = NAN;
}

/* Gradient of macro-F1 = 1/3 sum_c 2 E[c][c] / (pred_c + true_c) with respect to the
 * counts E[t][k]: g[t][k] = 1/3 sum_c (2 [t=k=c] - F1_c ([k=c] + [t=c])) / (pred_c + true_c). */
static void f1_gradient(const double conf[3][3], double g[3][3])
{
        double den[3], f1[3];
        for (int c = 0; c < 3; c++) {
                double pred = 0, truth = 0;
                for (int k = 0; k < 3; k++) {
                        pred += conf[k][c];
                        truth += conf[c][k];
                }
                den[c] = pred + truth;
                f1[c] = den[c] > 0 ? 2 * conf[c][c] / den[c] : 0;
        }
        for (int t = 0; t < 3; t++)
                for (int k = 0; k < 3; k++) {
                        double s = 0;
                        for (int c = 0; c < 3; c++)
                                if (den[c] > 0)
                                        s += (2.0 * (t == c && k == c) -
                                              f1[c] * ((k == c) + (t == c))) /
                                             den[c];
                        g[t][k] = s / 3;
                }
}

void ss_cbpe_estimate(const ss_cbpe_t *w, ss_cbpe_est_t *e)
{
        double conf[3][3];
        for (int t = 0; t < 3; t++)
                for (int p = 0; p < 3; p++)
                        conf[t][p] = (double)w->expect[t][p] / SS_CBPE_ONE;
        ss_cbpe_from_confusion(conf, e);
        if (e->n <= 0)
                return;
        double g[3][3], var = 0;
        f1_gradient(conf, g);
        for (int k = 0; k < 3; k++)
                for (int j = 0; j < 6; j++) {
                        int t = m2_pair[j][0], u = m2_pair[j][1];
                        double s = (double)w->m2[k][j] / SS_CBPE_ONE;
                        var += (t == u ? 1 : 2) * g[t][k] * g[u][k] * s;
                }
        e->f1_se = sqrt(var > 0 ? var : 0);
}

void ss_cbpe_save(const ss_cbpe_t *w, ss_mbuf_t *b)
{
        ss_mbuf_put_u64(b, w->cap);
        ss_mbuf_put_u64(b, w->len);
        if (!w->cap) {
                for (int k = 0; k < 3; k++)
                        ss_mbuf_put_u64(b, w->npred[k]);
                for (int t = 0; t < 3; t++)
                        for (int p = 0; p < 3; p++)
                                ss_mbuf_put_u64(b, w->expect[t][p]);
                for (int k = 0; k < 3; k++)
                        for (int j = 0; j < 6; j++)
                                ss_mbuf_put_u64(b, w->m2[k][j]);
                return;
        }
        size_t first = (w->head + w->cap - w->len) % w->cap;
        for (size_t i = 0; i < w->len; i++) {
                size_t s = (first + i) % w->cap;
                ss_mbuf_put_u8(b, w->label[s]);
                for (int k = 0; k < 3; k++)
                        ss_mbuf_put_u32(b, w->prob[3 * s + (size_t)k]);
        }
}

int ss_cbpe_load(ss_cbpe_t *w, ss_mreader_t *r)
{
        ss_cbpe_clear(w);
        uint64_t cap = ss_mreader_u64(r), len = ss_mreader_u64(r);
        if (r->failed || cap != w->cap || (cap && len > cap))
                return -1;
        if (!cap) {
                for (int k = 0; k < 3; k++)
                        w->npred[k] = ss_mreader_u64(r);
                for (int t = 0; t < 3; t++)
                        for (int p = 0; p < 3; p++)
                                w->expect[t][p] = ss_mreader_u64(r);
                for (int k = 0; k < 3; k++)
                        for (int j = 0; j < 6; j++)
                                w->m2[k][j] = ss_mreader_u64(r);
                w->len = (size_t)len;
                if (r->failed) {
                        ss_cbpe_clear(w);
                        return -1;
                }
                return 0;
        }
        for (uint64_t i = 0; i < len; i++) {
                uint8_t label = ss_mreader_u8(r);
                uint32_t q[3];
                for (int k = 0; k < 3; k++)
                        q[k] = ss_mreader_u32(r);
                if (r->failed || label > 2) {
                        ss_cbpe_clear(w);
                        return -1;
                }
                w->label[w->head] = label;
                memcpy(w->prob + 3 * w->head, q, sizeof(q));
                row_add(w, label, q);
                w->head = (w->head + 1) % w->cap;
                w->len++;
        }
        return 0;
}
