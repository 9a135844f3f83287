/*
 * feat_speed: tokenize + hashed-feature extraction throughput on one core.
 *
 *   feat_speed [tsv] [rounds]
 *
 * Reads a `id<TAB>label<TAB>text` file (default data/semeval-2016test.tsv under
 * SS_SOURCE_DIR or "."), fits nothing (IDF all 1.0, which costs the same as a
 * fitted IDF), then times `rounds` passes (default 20) over all tweets, first
 * tokenizing only, then tokenize + ss_feat_extract. Prints tweets/s and the
 * mean microseconds per tweet of the best pass, in thread CPU time; the
 * checksum keeps the work from being optimised away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feat.h"
#include "ss_util.h"

/* CPU time of this thread in seconds: excludes time the core spent on other
 * processes, which matters on a shared machine. */
static double cpu_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct text {
        const char *s;
        size_t len;
} text_t;

static size_t split_texts(char *data, size_t len, text_t **out)
{
        size_t cap = 1024, n = 0;
        text_t *t = malloc(cap * sizeof(*t));
        char *p = data, *end = data + len;
        while (t && p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *eol = nl ? nl : end;
                char *t1 = memchr(p, '\t', (size_t)(eol - p));
                char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(eol - t1 - 1)) : NULL;
                if (t2) {
                        if (n == cap) {
                                cap *= 2;
                                text_t *x = realloc(t, cap * sizeof(*t));
                                if (!x)
                                        break;
                                t = x;
                        }
                        t[n].s = t2 + 1;
                        t[n].len = (size_t)(eol - t2 - 1);
                        n++;
                }
                p = eol + 1;
        }
        *out = t;
        return t ? n : 0;
}

int main(int argc, char **argv)
{
        char path[1024], err[256];
        const char *root = getenv("SS_SOURCE_DIR");
        if (argc > 1)
                snprintf(path, sizeof(path), "%s", argv[1]);
        else
                snprintf(path, sizeof(path), "%s/data/semeval-2016test.tsv", root ? root : ".");
        int rounds = argc > 2 ? atoi(argv[2]) : 20;
        const char *bits = getenv("SS_FEAT_DIM_BITS"); /* to study cache effects */
        if (rounds < 1)
                rounds = 1;
        char *data;
        size_t len;
        if (ss_file_read_all(path, &data, &len, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "feat_speed: %s\n", err);
                return 1;
        }
        text_t *texts;
        size_t n = split_texts(data, len, &texts);
        if (!n) {
                fprintf(stderr, "feat_speed: %s: no tweets\n", path);
                return 1;
        }
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += texts[i].len;

        ss_feat_config_t cfg;
        ss_feat_config_default(&cfg);
        if (bits)
                cfg.dim_bits = (uint32_t)atoi(bits);
        ss_feat_t *f = ss_feat_new(&cfg, NULL);
        ss_tok_buf_t tb;
        ss_tok_buf_init(&tb);
        ss_sparse_t v;
        ss_sparse_init(&v);
        if (!f) {
                fprintf(stderr, "feat_speed: out of memory\n");
                return 1;
        }

        double best_tok = 1e30, best_feat = 1e30, best_raw = 1e30, best_unord = 1e30, check = 0;
        size_t toks = 0, nnz = 0;
        for (int r = 0; r < rounds; r++) {
                double t0 = cpu_now();
                for (size_t i = 0; i < n; i++) {
                        if (ss_tok_run(&tb, texts[i].s, texts[i].len))
                                return 1;
                        toks += tb.n;
                }
                double t1 = cpu_now();
                for (size_t i = 0; i < n; i++) {
                        if (ss_feat_extract(f, texts[i].s, texts[i].len, 0, &v, NULL))
                                return 1;
                        nnz += v.n;
                        check += v.n ? v.val[0] : 0;
                }
                double t2 = cpu_now();
                for (size_t i = 0; i < n; i++) {
                        if (ss_feat_extract(f, texts[i].s, texts[i].len, SS_FEAT_RAW, &v, NULL))
                                return 1;
                        check += v.n ? v.val[0] : 0;
                }
                double t3 = cpu_now();
                for (size_t i = 0; i < n; i++) {
                        if (ss_feat_extract(f, texts[i].s, texts[i].len,
                                            SS_FEAT_RAW | SS_FEAT_UNORDERED, &v, NULL))
                                return 1;
                        check += v.n ? v.val[0] : 0;
                }
                double t4 = cpu_now();
                if (t4 - t3 < best_unord)
                        best_unord = t4 - t3;
                if (t3 - t2 < best_raw)
                        best_raw = t3 - t2;
                if (t1 - t0 < best_tok)
                        best_tok = t1 - t0;
                if (t2 - t1 < best_feat)
                        best_feat = t2 - t1;
        }
        printf("file: %s\ntweets: %zu  mean bytes: %.1f  mean tokens: %.1f  mean nnz: %.1f\n", path,
               n, (double)bytes / n, (double)toks / rounds / n, (double)nnz / rounds / n);
        printf("tokenize:            %10.0f tweets/s  %.3f us/tweet\n", n / best_tok,
               1e6 * best_tok / n);
        printf("tokenize + extract:  %10.0f tweets/s  %.3f us/tweet  (tf-idf, L2)\n", n / best_feat,
               1e6 * best_feat / n);
        printf("tokenize + raw:      %10.0f tweets/s  %.3f us/tweet  (raw counts)\n", n / best_raw,
               1e6 * best_raw / n);
        printf("tokenize + unordered:%10.0f tweets/s  %.3f us/tweet  (raw counts, slot table)\n",
               n / best_unord, 1e6 * best_unord / n);
        printf("best of %d passes, dim_bits %u, thread CPU time\n", rounds, cfg.dim_bits);
        printf("checksum: %.6f\n", check);
        ss_sparse_free(&v);
        ss_tok_buf_free(&tb);
        ss_feat_destroy(f);
        free(texts);
        free(data);
        return 0;
}
