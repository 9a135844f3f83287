/*
 * bench_minilm_embed: the C MiniLM encoder's throughput, fp32 and int8 linear layers, at several
 * batch sizes, for the side-by-side run against ONNX Runtime (bench/bench_onnx.sh).
 *
 * Reads the texts of a TSV (id, label, text), sorts them by token count (as the peer does, so
 * both systems see the same batches), writes the sorted texts' token ids (ids.txt: one text a
 * line, [CLS] .. [SEP]) for the peer, then for each batch size embeds all texts in batches of
 * that size, fp32 then int8 (one encoder, ss_minilm_set_int8 toggled), and prints one line per
 * run: "rate<TAB>ours-fp32<TAB>BATCH<TAB>TWEETS_PER_S<TAB>WALL_S<TAB>CPU_S". The times cover
 * ss_minilm_embed (tokenization, the encoder, mean pooling), model loading excluded: wall clock
 * and the process's CPU time (all threads). The mean
 * pooled last-layer states (not normalised) of the last run of each precision are written as
 * ours-fp32.f32 / ours-int8.f32 ([n][D] little-endian floats, sorted order).
 *
 *   bench_minilm_embed ENCODER.ssm TWEETS.tsv OUT_DIR BATCHES [MAX_TOKENS]
 *       BATCHES: comma-separated batch sizes, e.g. 1,8,32,128,512 ("-": write ids.txt only)
 *       MAX_TOKENS: tokens per forward chunk (default: the encoder's, 4096)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blascore.h"
#include "mfile.h"
#include "minilm.h"
#include "ss_util.h"
#include "wordpiece.h"

#define MAX_BATCHES 16

typedef struct text {
        const char *s; /* into the file buffer */
        size_t len;
        int n_tok; /* ids incl. [CLS]/[SEP] */
} text_t;

static double clock_now(clockid_t id)
{
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_tokens(const void *a, const void *b)
{
        const text_t *x = a, *y = b;
        if (x->n_tok != y->n_tok)
                return x->n_tok - y->n_tok;
        return x->s < y->s ? -1 : x->s > y->s;
}

/* The third tab-separated field of each line, in place; returns the number of texts. */
static size_t texts_parse(char *buf, size_t len, text_t **out)
{
        size_t cap = 1024, n = 0;
        text_t *t = malloc(cap * sizeof(*t));
        char *p = buf, *end = buf + len;
        while (t && p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl : end;
                char *t1 = memchr(p, '\t', (size_t)(le - p));
                char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(le - t1 - 1)) : NULL;
                if (t2) {
                        if (n == cap) {
                                text_t *g = realloc(t, 2 * cap * sizeof(*t));
                                if (!g) {
                                        free(t);
                                        return 0;
                                }
                                t = g;
                                cap *= 2;
                        }
                        t[n].s = t2 + 1;
                        t[n].len = (size_t)(le - t2 - 1);
                        t[n++].n_tok = 0;
                }
                p = le + 1;
        }
        *out = t;
        return t ? n : 0;
}

/* Counts tokens, sorts, writes ids.txt. */
static int texts_sort_write(ss_minilm_t *e, text_t *t, size_t n, const char *dir)
{
        const ss_minilm_config_t *c = ss_minilm_config(e);
        int32_t *ids = malloc((size_t)c->max_seq_len * sizeof(*ids));
        if (!ids)
                return -1;
        for (size_t i = 0; i < n; i++)
                t[i].n_tok = ss_wp_encode(ss_minilm_wordpiece(e), t[i].s, t[i].len, ids,
                                          c->max_seq_len, NULL);
        qsort(t, n, sizeof(*t), by_tokens);
        char path[1024];
        snprintf(path, sizeof(path), "%s/ids.txt", dir);
        FILE *f = fopen(path, "w");
        for (size_t i = 0; f && i < n; i++) {
                int k = ss_wp_encode(ss_minilm_wordpiece(e), t[i].s, t[i].len, ids, c->max_seq_len,
                                     NULL);
                for (int j = 0; j < k; j++)
                        fprintf(f, j ? " %d" : "%d", ids[j]);
                fputc('\n', f);
        }
        free(ids);
        if (!f || fclose(f) != 0) {
                fprintf(stderr, "bench_minilm_embed: cannot write %s\n", path);
                return -1;
        }
        return 0;
}

/* Embeds all texts in batches of `batch`; returns wall seconds (*cpu: CPU seconds), or -1.
 * pooled [n][D]. */
static double embed_all(ss_minilm_t *e, const char **s, const size_t *len, size_t n, int batch,
                        float *pooled, double *cpu)
{
        char err[256];
        int D = ss_minilm_embed_dim(e);
        double t0 = clock_now(CLOCK_MONOTONIC), c0 = clock_now(CLOCK_PROCESS_CPUTIME_ID);
        for (size_t i = 0; i < n; i += (size_t)batch) {
                size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
                if (ss_minilm_embed(e, s + i, len + i, k, 0, pooled + i * (size_t)D, NULL, err,
                                    sizeof(err)) != SS_OK) {
                        fprintf(stderr, "bench_minilm_embed: %s\n", err);
                        return -1;
                }
        }
        *cpu = clock_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        return clock_now(CLOCK_MONOTONIC) - t0;
}

static int floats_write(const char *dir, const char *name, const float *v, size_t count)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(v, sizeof(*v), count, f) != count || fclose(f) != 0) {
                fprintf(stderr, "bench_minilm_embed: cannot write %s\n", path);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        ss_blascore_select(argv); /* as sentistream does */
        if (argc < 5) {
                fprintf(stderr, "usage: bench_minilm_embed ENCODER.ssm TWEETS.tsv OUT_DIR "
                                "BATCHES [MAX_TOKENS]\n");
                return 2;
        }
        int batches[MAX_BATCHES], nb = 0;
        for (char *p = argv[4]; strcmp(argv[4], "-") != 0 && *p && nb < MAX_BATCHES;) {
                batches[nb] = (int)strtol(p, &p, 10);
                if (batches[nb] < 1) {
                        fprintf(stderr, "bench_minilm_embed: bad batch list %s\n", argv[4]);
                        return 2;
                }
                nb++;
                if (*p == ',')
                        p++;
        }
        int max_tokens = argc > 5 ? atoi(argv[5]) : 0;
        char err[512];
        ss_mfile_t *mf = ss_mfile_read(argv[1], err, sizeof(err));
        ss_minilm_t *e = mf ? ss_minilm_new(mf, max_tokens, err, sizeof(err)) : NULL;
        char *buf = NULL;
        size_t blen = 0;
        if (!e || ss_file_read_all(argv[2], &buf, &blen, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "bench_minilm_embed: %s\n", err);
                return 1;
        }
        text_t *t = NULL;
        size_t n = texts_parse(buf, blen, &t);
        if (n == 0) {
                fprintf(stderr, "bench_minilm_embed: no texts in %s\n", argv[2]);
                return 1;
        }
        if (texts_sort_write(e, t, n, argv[3]) != 0)
                return 1;
        int D = ss_minilm_embed_dim(e);
        const char **s = malloc(n * sizeof(*s));
        size_t *len = malloc(n * sizeof(*len));
        float *pooled = malloc(n * (size_t)D * sizeof(*pooled));
        if (!s || !len || !pooled)
                return 1;
        for (size_t i = 0; i < n; i++) {
                s[i] = t[i].s;
                len[i] = t[i].len;
        }
        int rc = 0;
        for (int q = 0; q < 2 && nb > 0 && rc == 0; q++) {
                if (ss_minilm_set_int8(e, q, err, sizeof(err)) != SS_OK) {
                        fprintf(stderr, "bench_minilm_embed: %s\n", err);
                        return 1;
                }
                for (int b = 0; b < nb && rc == 0; b++) {
                        double cpu, secs = embed_all(e, s, len, n, batches[b], pooled, &cpu);
                        if (secs < 0) {
                                rc = 1;
                                break;
                        }
                        printf("rate\tours-%s\t%d\t%.1f\t%.3f\t%.3f\n", q ? "int8" : "fp32",
                               batches[b], (double)n / secs, secs, cpu);
                        fflush(stdout);
                }
                if (rc == 0)
                        rc = floats_write(argv[3], q ? "ours-int8.f32" : "ours-fp32.f32", pooled,
                                          n * (size_t)D) != 0;
        }
        free(pooled);
        free(len);
        free(s);
        free(t);
        free(buf);
        ss_minilm_destroy(e);
        ss_mfile_destroy(mf);
        return rc;
}
