/*
 * q8gemm: the int8 products of MiniLM's linear layers with SIMD intrinsics.
 *
 * Design. The weights are packed once (ss_q8gemm_pack_new) into the layout the x86 dot-product
 * instructions want: for each block of 16 output rows and each group of 4 inputs, the 16 x 4
 * bytes lie side by side (64 bytes, one AVX-512 register, two AVX2 registers), so that one
 * broadcast of 4 activation bytes times one weight register gives 16 (or 8) partial sums at
 * once, with no horizontal additions. A micro-kernel keeps a tile of rows x 32 outputs
 * (AVX-512: 8 x 32 in 16 registers; AVX2: 4 x 16 in 8) in registers over the whole input
 * dimension; the weight panel of 32 outputs (12 KiB at 384 inputs) stays in L1 while all row
 * tiles pass over it.
 *
 * The two instruction sets differ in signedness. vpdpbusd (AVX-512 VNNI) multiplies unsigned
 * by signed bytes into int32 without saturation: the activations are shifted to unsigned
 * (x + 128, an xor with 0x80) and 128 * sum_k w[o][k] is subtracted at the end (exact).
 * vpmaddubsw (AVX2) sums two u8 x s8 products into a saturating int16: the activations go in
 * as |x| and their signs move onto the weights (vpsignb); with |x|, |w| <= 127 a pair is at
 * most 32,258, so nothing saturates. Every kernel thus computes the exact integer sums of the
 * plain one, and the float epilogue ((acc * xs) * ws + b, no fused multiply-add) is the same
 * expression as ss_minilm_matmul_q8_ref: outputs are bit-identical (unit.q8gemm checks it).
 *
 * The kernel is chosen at run time with __builtin_cpu_supports; functions for other targets
 * are compiled with target attributes, so the build needs no -march flag.
 */
#include "q8gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SS_Q8GEMM_X86 1
#include <immintrin.h>
#endif

#define Q8_BLOCK 16 /* outputs per packed block */
#define Q8_PANEL 32 /* outputs per micro-kernel tile (two blocks) */

struct ss_q8gemm_pack {
        int8_t *p;     /* [d_out_pad / 16][k4][16][4] packed weights, 64-byte aligned */
        int32_t *corr; /* [d_out_pad] 128 * sum_k q[o][k] (the unsigned-shift correction) */
        int d_out;     /* outputs */
        int d_in;      /* inputs */
        int d_out_pad; /* d_out rounded up to Q8_PANEL */
        int k4;        /* ceil(d_in / 4): groups of 4 inputs */
};

ss_q8gemm_pack_t *ss_q8gemm_pack_new(const int8_t *q, int d_out, int d_in, char *errstr,
                                     size_t errstr_size)
{
        if (!q || d_out <= 0 || d_in <= 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                           "q8gemm: bad shape %d x %d for packing", d_out, d_in);
                return NULL;
        }
        ss_q8gemm_pack_t *w = calloc(1, sizeof(*w));
        if (!w) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "q8gemm: out of memory");
                return NULL;
        }
        w->d_out = d_out;
        w->d_in = d_in;
        w->d_out_pad = (d_out + Q8_PANEL - 1) / Q8_PANEL * Q8_PANEL;
        w->k4 = (d_in + 3) / 4;
        size_t bytes = (size_t)w->d_out_pad * (size_t)w->k4 * 4;
        w->p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        w->corr = calloc((size_t)w->d_out_pad, sizeof(int32_t));
        if (!w->p || !w->corr) {
                ss_q8gemm_pack_destroy(w);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                           "q8gemm: out of memory packing %d x %d weights", d_out, d_in);
                return NULL;
        }
        memset(w->p, 0, bytes);
        for (int o = 0; o < d_out; o++) {
                int8_t *blk = w->p + (size_t)(o / Q8_BLOCK) * (size_t)w->k4 * 64;
                int32_t sum = 0;
                for (int k = 0; k < d_in; k++) {
                        int8_t v = q[(size_t)o * (size_t)d_in + (size_t)k];
                        blk[(size_t)(k / 4) * 64 + (size_t)(o % Q8_BLOCK) * 4 + (size_t)(k % 4)] =
                            v;
                        sum += v;
                }
                w->corr[o] = 128 * sum;
        }
        return w;
}

void ss_q8gemm_pack_destroy(ss_q8gemm_pack_t *w)
{
        if (!w)
                return;
        free(w->p);
        free(w->corr);
        free(w);
}

/* ---- plain C over the packed layout ---- */

static void matmul_plain(float *out, const int8_t *xq, const float *xs, const ss_q8gemm_pack_t *w,
                         const float *ws, const float *b, int n)
{
        for (int i = 0; i < n; i++) {
                const int8_t *x = xq + (size_t)i * (size_t)w->d_in;
                for (int o = 0; o < w->d_out; o++) {
                        const int8_t *blk = w->p + (size_t)(o / Q8_BLOCK) * (size_t)w->k4 * 64 +
                                            (size_t)(o % Q8_BLOCK) * 4;
                        int32_t acc = 0;
                        for (int k = 0; k < w->d_in; k++)
                                acc += (int32_t)x[k] * blk[(size_t)(k / 4) * 64 + (size_t)(k % 4)];
                        out[(size_t)i * (size_t)w->d_out + (size_t)o] =
                            (float)acc * xs[i] * ws[o] + (b ? b[o] : 0.0f);
                }
        }
}

#ifdef SS_Q8GEMM_X86

/* Four activation bytes x[4g .. 4g+3] of one row as an int32 (zeros past d_in). */
static inline int32_t load_x4(const int8_t *x, int g, int d_in)
{
        int32_t v = 0;
        int k = 4 * g, m = d_in - k < 4 ? d_in - k : 4;
        memcpy(&v, x + k, (size_t)m);
        return v;
}

/* ---- AVX-512 VNNI: tiles of MR rows x 32 outputs ---- */

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI_TARGET static inline void vnni_tile(float *out, const int8_t *xq, const float *xs,
                                         const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                         int i0, int mr_rows, int o0, const int MR)
{
        const int d_in = w->d_in, k4 = w->k4, kfull = d_in / 4;
        const int8_t *w0 = w->p + (size_t)(o0 / Q8_BLOCK) * (size_t)k4 * 64;
        const int8_t *w1 = w0 + (size_t)k4 * 64;
        const __m512i shift = _mm512_set1_epi32((int)0x80808080u);
        __m512i acc[8][2];
        const int8_t *x[8];
        for (int r = 0; r < MR; r++) {
                acc[r][0] = acc[r][1] = _mm512_setzero_si512();
                x[r] = xq + (size_t)(i0 + (r < mr_rows ? r : 0)) * (size_t)d_in;
        }
        for (int g = 0; g < k4; g++) {
                __m512i a = _mm512_load_si512((const void *)(w0 + (size_t)g * 64));
                __m512i c = _mm512_load_si512((const void *)(w1 + (size_t)g * 64));
                for (int r = 0; r < MR; r++) {
                        int32_t v;
                        if (g < kfull)
                                memcpy(&v, x[r] + 4 * g, 4);
                        else
                                v = load_x4(x[r], g, d_in);
                        __m512i u = _mm512_xor_si512(_mm512_set1_epi32(v), shift);
                        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], u, a);
                        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], u, c);
                }
        }
        for (int h = 0; h < 2; h++) {
                int o = o0 + h * Q8_BLOCK;
                int left = w->d_out - o;
                if (left <= 0)
                        break;
                __mmask16 m = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
                __m512i corr = _mm512_loadu_si512((const void *)(w->corr + o));
                __m512 vs = _mm512_maskz_loadu_ps(m, ws + o);
                __m512 vb = b ? _mm512_maskz_loadu_ps(m, b + o) : _mm512_setzero_ps();
                for (int r = 0; r < mr_rows; r++) {
                        __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][h], corr));
                        f = _mm512_mul_ps(f, _mm512_set1_ps(xs[i0 + r]));
                        f = _mm512_mul_ps(f, vs);
                        f = _mm512_add_ps(f, vb);
                        _mm512_mask_storeu_ps(out + (size_t)(i0 + r) * (size_t)w->d_out + o, m, f);
                }
        }
}

VNNI_TARGET static void matmul_vnni(float *out, const int8_t *xq, const float *xs,
                                    const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                    int n)
{
        for (int o0 = 0; o0 < w->d_out_pad; o0 += Q8_PANEL) {
                int i = 0;
                for (; i + 8 <= n; i += 8)
                        vnni_tile(out, xq, xs, w, ws, b, i, 8, o0, 8);
                for (; i + 4 <= n; i += 4)
                        vnni_tile(out, xq, xs, w, ws, b, i, 4, o0, 4);
                for (; i < n; i++)
                        vnni_tile(out, xq, xs, w, ws, b, i, 1, o0, 1);
        }
}

/* ---- AVX2: tiles of MR rows x 16 outputs ---- */

#define AVX2_TARGET __attribute__((target("avx2")))

AVX2_TARGET static inline void avx2_tile(float *out, const int8_t *xq, const float *xs,
                                         const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                         int i0, int mr_rows, int o0, const int MR)
{
        const int d_in = w->d_in, k4 = w->k4, kfull = d_in / 4;
        const int8_t *wb = w->p + (size_t)(o0 / Q8_BLOCK) * (size_t)k4 * 64;
        const __m256i ones = _mm256_set1_epi16(1);
        __m256i acc[4][2];
        const int8_t *x[4];
        for (int r = 0; r < MR; r++) {
                acc[r][0] = acc[r][1] = _mm256_setzero_si256();
                x[r] = xq + (size_t)(i0 + (r < mr_rows ? r : 0)) * (size_t)d_in;
        }
        for (int g = 0; g < k4; g++) {
                __m256i a = _mm256_load_si256((const __m256i *)(wb + (size_t)g * 64));
                __m256i c = _mm256_load_si256((const __m256i *)(wb + (size_t)g * 64 + 32));
                for (int r = 0; r < MR; r++) {
                        int32_t v;
                        if (g < kfull)
                                memcpy(&v, x[r] + 4 * g, 4);
                        else
                                v = load_x4(x[r], g, d_in);
                        __m256i s = _mm256_set1_epi32(v);
                        __m256i u = _mm256_abs_epi8(s);
                        __m256i pa = _mm256_maddubs_epi16(u, _mm256_sign_epi8(a, s));
                        __m256i pc = _mm256_maddubs_epi16(u, _mm256_sign_epi8(c, s));
                        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(pa, ones));
                        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(pc, ones));
                }
        }
        for (int h = 0; h < 2; h++) {
                int o = o0 + h * 8;
                int left = w->d_out - o;
                if (left <= 0)
                        break;
                float vs_[8] = {0}, vb_[8] = {0};
                int m = left < 8 ? left : 8;
                memcpy(vs_, ws + o, sizeof(float) * (size_t)m);
                if (b)
                        memcpy(vb_, b + o, sizeof(float) * (size_t)m);
                __m256 vs = _mm256_loadu_ps(vs_), vb = _mm256_loadu_ps(vb_);
                for (int r = 0; r < mr_rows; r++) {
                        __m256 f = _mm256_cvtepi32_ps(acc[r][h]);
                        f = _mm256_mul_ps(f, _mm256_set1_ps(xs[i0 + r]));
                        f = _mm256_mul_ps(f, vs);
                        f = _mm256_add_ps(f, vb);
                        float *dst = out + (size_t)(i0 + r) * (size_t)w->d_out + o;
                        if (m == 8) {
                                _mm256_storeu_ps(dst, f);
                        } else {
                                float t[8];
                                _mm256_storeu_ps(t, f);
                                memcpy(dst, t, sizeof(float) * (size_t)m);
                        }
                }
        }
}

AVX2_TARGET static void matmul_avx2(float *out, const int8_t *xq, const float *xs,
                                    const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                    int n)
{
        for (int o0 = 0; o0 < w->d_out_pad; o0 += Q8_BLOCK) {
                if (o0 >= w->d_out)
                        break;
                int i = 0;
                for (; i + 4 <= n; i += 4)
                        avx2_tile(out, xq, xs, w, ws, b, i, 4, o0, 4);
                for (; i < n; i++)
                        avx2_tile(out, xq, xs, w, ws, b, i, 1, o0, 1);
        }
}

#endif /* SS_Q8GEMM_X86 */

int ss_q8gemm_isa_supported(ss_q8gemm_isa_t isa)
{
        switch (isa) {
        case SS_Q8GEMM_PLAIN:
                return 1;
#ifdef SS_Q8GEMM_X86
        case SS_Q8GEMM_AVX2:
                return __builtin_cpu_supports("avx2");
        case SS_Q8GEMM_AVX512_VNNI:
                return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vnni");
#endif
        default:
                return 0;
        }
}

ss_q8gemm_isa_t ss_q8gemm_isa_best(void)
{
        if (ss_q8gemm_isa_supported(SS_Q8GEMM_AVX512_VNNI))
                return SS_Q8GEMM_AVX512_VNNI;
        if (ss_q8gemm_isa_supported(SS_Q8GEMM_AVX2))
                return SS_Q8GEMM_AVX2;
        return SS_Q8GEMM_PLAIN;
}

const char *ss_q8gemm_isa_name(ss_q8gemm_isa_t isa)
{
        switch (isa) {
        case SS_Q8GEMM_AVX2:
                return "avx2";
        case SS_Q8GEMM_AVX512_VNNI:
                return "avx512-vnni";
        default:
                return "plain";
        }
}

void ss_q8gemm_matmul(float *out, const int8_t *xq, const float *xs, const ss_q8gemm_pack_t *w,
                      const float *ws, const float *b, int n, ss_q8gemm_isa_t isa)
{
#ifdef SS_Q8GEMM_X86
        if (isa == SS_Q8GEMM_AVX512_VNNI) {
                matmul_vnni(out, xq, xs, w, ws, b, n);
                return;
        }
        if (isa == SS_Q8GEMM_AVX2) {
                matmul_avx2(out, xq, xs, w, ws, b, n);
                return;
        }
#else
        (void)isa;
#endif
        matmul_plain(out, xq, xs, w, ws, b, n);
}
