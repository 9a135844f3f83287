/*
 * bench_model: in-process scoring throughput of a model file through the model
 * interface (ss_model_score_batch), and for a CNN model the split between its
 * text front end (tokenizer + WordPiece) and the network's forward pass.
 *
 *   bench_model MODEL.ssm DATA.tsv [batch] [repeats]
 *
 * Scores every text of DATA.tsv `repeats` times in batches of `batch` (the
 * consumer's default, 512) and prints the best of three passes as
 * "score: N tweets/s", and the same pass's rate per CPU-second of this process
 * ("cpu: N tweets per CPU-second"): on a machine shared with other work the
 * wall-clock rate falls, the CPU-time rate much less. OpenBLAS threads come
 * from OPENBLAS_NUM_THREADS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn.h"
#include "dataset.h"
#include "model.h"
#include "ss_util.h"

/* CPU seconds used by this process (all its threads). */
static double bench_cpu(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass of the model interface over the data; returns seconds, *cpu the CPU seconds. */
static double bench_score(ss_model_t *m, const ss_dataset_t *ds, size_t batch, int repeats,
                          float *probs, ss_input_stats_t *st, double *cpu)
{
        char err[512];
        double c0 = bench_cpu(), t0 = ss_time_mono();
        for (int r = 0; r < repeats; r++)
                for (size_t i = 0; i < ds->n; i += batch) {
                        size_t nb = ds->n - i < batch ? ds->n - i : batch;
                        if (ss_model_score_batch(m, ds->texts + i, ds->lens + i, nb, probs, st, err,
                                                 sizeof(err))) {
                                fprintf(stderr, "bench_model: %s\n", err);
                                exit(1);
                        }
                }
        *cpu = bench_cpu() - c0;
        return ss_time_mono() - t0;
}

/* For a CNN file: time the front end alone and the forward pass alone. */
static void bench_model_cnn_split(const char *path, const ss_dataset_t *ds, int repeats)
{
        char err[512];
        ss_mfile_t *mf = ss_mfile_read(path, err, sizeof(err));
        if (!mf || strcmp(ss_mfile_kind(mf), SS_CNN_KIND)) {
                ss_mfile_destroy(mf);
                return;
        }
        int mode;
        const char *vocab;
        size_t vlen;
        ss_cnn_t *net = ss_cnn_load(mf, 256, &mode, &vocab, &vlen, err, sizeof(err));
        ss_cnn_text_t *tx =
            net ? ss_cnn_text_new(vocab, vlen, mode, net->cfg.max_len, err, sizeof(err)) : NULL;
        if (!net || !tx) {
                fprintf(stderr, "bench_model: %s\n", err);
                exit(1);
        }
        int T = net->cfg.max_len;
        int32_t *ids = malloc(ds->n * (size_t)T * sizeof(int32_t));
        int32_t *lens = malloc(ds->n * sizeof(int32_t));
        ss_input_stats_t st;
        double best_tok = 1e30, best_fwd = 1e30, best_tab = 1e30, cold_tab = 0;
        /* a second copy of the network scores by table lookup */
        ss_cnn_t *tab = ss_cnn_load(mf, 256, &mode, &vocab, &vlen, err, sizeof(err));
        if (!tab || ss_cnn_table_enable(tab, err, sizeof(err)) != SS_OK) {
                fprintf(stderr, "bench_model: %s\n", err);
                exit(1);
        }
        long total = 0;
        for (int pass = 0; pass < 3; pass++) {
                double t0 = ss_time_mono();
                for (int r = 0; r < repeats; r++)
                        for (size_t i = 0; i < ds->n; i++)
                                lens[i] = ss_cnn_text_encode(tx, ds->texts[i], ds->lens[i],
                                                             ids + i * (size_t)T, &st);
                double t1 = ss_time_mono();
                for (int r = 0; r < repeats; r++)
                        for (size_t i = 0; i < ds->n; i += 256) {
                                int nb = ds->n - i < 256 ? (int)(ds->n - i) : 256;
                                ss_cnn_forward(net, ids + i * (size_t)T, lens + i, nb, 0, NULL, 0);
                        }
                double t2 = ss_time_mono();
                /* the same batches by table lookup (what the model kind scores with): the table
                 * is built in the first pass (rows computed on first use) and reused after */
                for (int r = 0; r < repeats; r++)
                        for (size_t i = 0; i < ds->n; i += 256) {
                                int nb = ds->n - i < 256 ? (int)(ds->n - i) : 256;
                                ss_cnn_forward(tab, ids + i * (size_t)T, lens + i, nb, 0, NULL, 0);
                        }
                double t3 = ss_time_mono();
                if (pass == 0)
                        cold_tab = t3 - t2;
                best_tok = t1 - t0 < best_tok ? t1 - t0 : best_tok;
                best_fwd = t2 - t1 < best_fwd ? t2 - t1 : best_fwd;
                best_tab = t3 - t2 < best_tab ? t3 - t2 : best_tab;
        }
        for (size_t i = 0; i < ds->n; i++)
                total += lens[i];
        double n = (double)ds->n * repeats;
        printf("cnn front end: %.0f tweets/s (%.1f ids per tweet, tokenizer + WordPiece, 1 "
               "thread)\n",
               n / best_tok, (double)total / (double)ds->n);
        printf("cnn forward:   %.0f tweets/s (D=%d, widths", n / best_fwd, net->cfg.emb_dim);
        for (int w = 0; w < net->cfg.n_widths; w++)
                printf("%s%d", w ? "," : " ", net->cfg.widths[w]);
        printf(" x %d filters, batch 256, im2col + sgemm)\n", net->cfg.n_filters);
        printf(
            "cnn forward:   %.0f tweets/s by table lookup (%.0f in the first pass, which computes "
            "the rows of %lld distinct ids)\n",
            n / best_tab, n / cold_tab, (long long)ss_cnn_table_ids(tab));
        ss_cnn_destroy(tab);
        free(ids);
        free(lens);
        ss_cnn_text_destroy(tx);
        ss_cnn_destroy(net);
        ss_mfile_destroy(mf);
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: bench_model MODEL.ssm DATA.tsv [batch] [repeats]\n");
                return 2;
        }
        size_t batch = argc > 3 ? (size_t)atoi(argv[3]) : 512;
        int repeats = argc > 4 ? atoi(argv[4]) : 1;
        char err[512];
        ss_dataset_t *ds = ss_dataset_load(argv[2], err, sizeof(err));
        ss_model_t *m = ds ? ss_model_load(argv[1], err, sizeof(err)) : NULL;
        if (!ds || !m || batch < 1 || repeats < 1) {
                fprintf(stderr, "bench_model: %s\n", ds && m ? "bad batch or repeats" : err);
                return 1;
        }
        float *probs = malloc(batch * SS_NUM_CLASSES * sizeof(float));
        ss_input_stats_t *st = malloc(batch * sizeof(*st));
        double best = 1e30, best_cpu = 0.0;
        for (int pass = 0; pass < 3; pass++) {
                double cpu, s = bench_score(m, ds, batch, repeats, probs, st, &cpu);
                if (s < best) {
                        best = s;
                        best_cpu = cpu;
                }
        }
        double n = (double)ds->n * repeats;
        printf("score: %.0f tweets/s (%s %s, %.0f tweets in %.3f s, batch %zu, best of 3)\n",
               n / best, ss_model_kind(m), ss_model_version(m), n, best, batch);
        printf("cpu: %.0f tweets per CPU-second (%.3f CPU-s in that pass)\n", n / best_cpu,
               best_cpu);
        bench_model_cnn_split(argv[1], ds, repeats);
        free(probs);
        free(st);
        ss_model_destroy(m);
        ss_dataset_destroy(ds);
        return 0;
}
