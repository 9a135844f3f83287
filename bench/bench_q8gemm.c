/*
 * bench_q8gemm: MiniLM's four linear layers (QKV 384->1152, attention output 384->384,
 * feed-forward 384->1536 and 1536->384) in fp32 (OpenBLAS sgemm, as the encoder calls it) and
 * in int8 (activation quantisation + each int8 kernel), in one run, on one thread, thread
 * CPU time. Prints ms per pass over the four layers, the int8 / fp32 speed ratio per kernel
 * and that every int8 kernel equals the plain reference exactly.
 *
 *   bench_q8gemm [rows] [rounds]      rows: tokens per chunk (default 2048), rounds: 10
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blascore.h"
#include "minilm.h"
#include "q8gemm.h"

#define N_SHAPES 4
static const int shape_in[N_SHAPES] = {384, 384, 384, 1536};
static const int shape_out[N_SHAPES] = {1152, 384, 1536, 384};

/* CPU time of this thread in seconds (the machine is shared). */
static double cpu_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct layer {
        int d_in, d_out;
        float *w;  /* [d_out][d_in] */
        float *b;  /* [d_out] */
        int8_t *q; /* [d_out][d_in] */
        float *ws; /* [d_out] */
        ss_q8gemm_pack_t *pk;
} layer_t;

static uint32_t rng = 7;

static float frand(void)
{
        rng = rng * 1664525u + 1013904223u;
        return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

enum { K_FP32, K_PORTABLE, K_PLAIN, K_AVX2, K_VNNI, K_COUNT };
static const char *kname[K_COUNT] = {"fp32 sgemm", "int8 portable C (previous)",
                                     "int8 plain packed", "int8 avx2", "int8 avx512-vnni"};

/* One pass over the four layers with kernel k; out [rows][1536]. */
static void pass(int k, layer_t *L, const float *x, float *out, int8_t *xq, float *xs, int rows)
{
        for (int s = 0; s < N_SHAPES; s++) {
                layer_t *l = &L[s];
                switch (k) {
                case K_FP32:
                        ss_minilm_matmul_blas(out, x, l->w, l->b, rows, l->d_in, l->d_out);
                        break;
                case K_PORTABLE:
                        ss_minilm_matmul_q8(out, x, l->q, l->ws, l->b, rows, l->d_in, l->d_out, xq,
                                            xs);
                        break;
                default: {
                        ss_q8gemm_isa_t isa = k == K_PLAIN  ? SS_Q8GEMM_PLAIN
                                              : k == K_AVX2 ? SS_Q8GEMM_AVX2
                                                            : SS_Q8GEMM_AVX512_VNNI;
                        ss_minilm_quantize_rows(xq, xs, x, rows, l->d_in);
                        ss_q8gemm_matmul(out, xq, xs, l->pk, l->ws, l->b, rows, isa);
                }
                }
        }
}

int main(int argc, char **argv)
{
        int rows = argc > 1 ? atoi(argv[1]) : 2048, rounds = argc > 2 ? atoi(argv[2]) : 10;
        if (rows <= 0 || rounds <= 0) {
                fprintf(stderr, "usage: bench_q8gemm [rows] [rounds]\n");
                return 2;
        }
        ss_blascore_select(
            argv); /* as sentistream does: the CPU's sgemm kernels (may re-execute) */
        openblas_set_num_threads(1);
        layer_t L[N_SHAPES];
        for (int s = 0; s < N_SHAPES; s++) {
                layer_t *l = &L[s];
                l->d_in = shape_in[s], l->d_out = shape_out[s];
                size_t nw = (size_t)l->d_in * l->d_out;
                l->w = malloc(sizeof(float) * nw), l->q = malloc(nw);
                l->b = malloc(sizeof(float) * l->d_out), l->ws = malloc(sizeof(float) * l->d_out);
                for (size_t i = 0; i < nw; i++)
                        l->w[i] = 0.05f * frand();
                for (int i = 0; i < l->d_out; i++)
                        l->b[i] = 0.1f * frand();
                ss_minilm_quantize_rows(l->q, l->ws, l->w, l->d_out, l->d_in);
                l->pk = ss_q8gemm_pack_new(l->q, l->d_out, l->d_in, NULL, 0);
                if (!l->pk)
                        return 1;
        }
        float *x = malloc(sizeof(float) * (size_t)rows * 1536);
        for (size_t i = 0; i < (size_t)rows * 1536; i++)
                x[i] = frand();
        float *out = malloc(sizeof(float) * (size_t)rows * 1536);
        float *ref = malloc(sizeof(float) * (size_t)rows * 1536);
        int8_t *xq = malloc((size_t)rows * 1536);
        float *xs = malloc(sizeof(float) * (size_t)rows);
        double flop = 0;
        for (int s = 0; s < N_SHAPES; s++)
                flop += 2.0 * rows * shape_in[s] * shape_out[s];
        printf("bench_q8gemm: %d rows x MiniLM's 4 linear layers (%.2f GFLOP per pass), %d "
               "rounds, 1 thread, best kernel here: %s, OpenBLAS kernels: %s\n",
               rows, flop * 1e-9, rounds, ss_q8gemm_isa_name(ss_q8gemm_isa_best()),
               openblas_get_corename());
        /* the last layer's reference output: every int8 kernel must give exactly this */
        pass(K_PLAIN, L, x, ref, xq, xs, rows);
        double best[K_COUNT];
        int ok[K_COUNT];
        for (int k = 0; k < K_COUNT; k++)
                best[k] = -1, ok[k] = 1;
        for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < K_COUNT; k++) {
                        if ((k == K_AVX2 && !ss_q8gemm_isa_supported(SS_Q8GEMM_AVX2)) ||
                            (k == K_VNNI && !ss_q8gemm_isa_supported(SS_Q8GEMM_AVX512_VNNI)))
                                continue;
                        /* the slow plain kernel: one round is enough */
                        if (k == K_PLAIN && r > 0)
                                continue;
                        double t0 = cpu_now();
                        pass(k, L, x, out, xq, xs, rows);
                        double t = cpu_now() - t0;
                        if (best[k] < 0 || t < best[k])
                                best[k] = t;
                        if (k != K_FP32)
                                ok[k] &= memcmp(out, ref, sizeof(float) * (size_t)rows * 384) == 0;
                }
        }
        for (int k = 0; k < K_COUNT; k++) {
                if (best[k] < 0) {
                        printf("  %-28s not supported on this CPU\n", kname[k]);
                        continue;
                }
                printf("  %-28s %8.2f ms/pass  %6.1f GFLOP/s  %5.2fx fp32%s\n", kname[k],
                       best[k] * 1e3, flop / best[k] * 1e-9, best[K_FP32] / best[k],
                       k == K_FP32 ? ""
                                   : (ok[k] ? "  (= reference)" : "  (DIFFERS from reference)"));
        }
        for (int s = 0; s < N_SHAPES; s++) {
                free(L[s].w), free(L[s].b), free(L[s].q), free(L[s].ws);
                ss_q8gemm_pack_destroy(L[s].pk);
        }
        free(x), free(out), free(ref), free(xq), free(xs);
        for (int k = 1; k < K_COUNT; k++)
                if (best[k] >= 0 && !ok[k])
                        return 1;
        return 0;
}
