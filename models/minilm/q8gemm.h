/*
 * q8gemm: int8 x int8 -> int32 products of a linear layer with SIMD kernels, picked at run time
 * from what the CPU offers (AVX-512 VNNI, else AVX2), beside a plain C kernel over the same
 * packed layout. Every kernel computes the same integer sums, so their outputs are identical
 * to each other and to ss_minilm_matmul_q8_ref.
 */
#ifndef SS_Q8GEMM_H
#define SS_Q8GEMM_H

#include <stdint.h>

#include "ss_err.h"

/* The instruction sets a kernel is written for. */
typedef enum ss_q8gemm_isa {
        SS_Q8GEMM_PLAIN = 0,   /* plain C over the packed layout (any CPU) */
        SS_Q8GEMM_AVX2,        /* vpmaddubsw + vpmaddwd, 8 outputs per vector */
        SS_Q8GEMM_AVX512_VNNI, /* vpdpbusd, 16 outputs per vector */
} ss_q8gemm_isa_t;

/* A linear layer's int8 weights q[d_out][d_in], packed for the kernels: panels of 64 output
 * rows, each panel [ceil(d_in/4)][64][4] (four consecutive inputs of 64 outputs side by side),
 * stored as q + 128 (unsigned), padding (outputs past d_out, inputs past d_in) as weight 0. */
typedef struct ss_q8gemm_pack ss_q8gemm_pack_t;

/* Packs q[d_out][d_in] (copied; q may be freed after). NULL with errstr on bad shape or memory.
 * Caller frees with ss_q8gemm_pack_destroy. */
ss_q8gemm_pack_t *ss_q8gemm_pack_new(const int8_t *q, int d_out, int d_in, char *errstr,
                                     size_t errstr_size);
void ss_q8gemm_pack_destroy(ss_q8gemm_pack_t *p);

/* The fastest kernel this CPU runs (__builtin_cpu_supports, a read of a table filled at start). */
ss_q8gemm_isa_t ss_q8gemm_isa_best(void);
/* 1 when this CPU (and this build) can run the kernel for isa. */
int ss_q8gemm_isa_supported(ss_q8gemm_isa_t isa);
/* "plain", "avx2", "avx512-vnni" */
const char *ss_q8gemm_isa_name(ss_q8gemm_isa_t isa);

/*
 * out[n][d_out] = (xq[n][d_in] . q^T) (int32) * xs[i] * ws[o] + b[o] with the kernel for isa
 * (which must be supported; the plain one always is). xq are the activations quantised per row
 * with scales xs (ss_minilm_quantize_rows, values in [-127, 127]); ws[d_out] the weight row
 * scales; b[d_out] or NULL.
 */
void ss_q8gemm_matmul(float *out, const int8_t *xq, const float *xs, const ss_q8gemm_pack_t *w,
                      const float *ws, const float *b, int n, ss_q8gemm_isa_t isa);

#endif
