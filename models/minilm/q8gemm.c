/*
 * q8gemm: the int8 products of MiniLM's linear layers with SIMD intrinsics.
 *
 * Design. The weights are packed once (ss_q8gemm_pack_new) into the layout the x86 dot-product
 * instructions want: panels of 64 output rows; within a panel, for each group of 4 inputs, the
 * 64 x 4 bytes lie side by side (256 bytes: four AVX-512 registers of 16 outputs, or eight AVX2
 * registers of 8), so that one broadcast of 4 activation bytes times one weight register gives
 * 16 (or 8) partial sums at once, with no horizontal additions. The weights are stored shifted
 * to unsigned (w + 128, an xor with 0x80; padding holds 0x80, a zero weight).
 *
 * AVX-512 VNNI. vpdpbusd multiplies unsigned by signed bytes into int32 without saturation. The
 * weights are its unsigned operand and the activations, as they are, its signed one, so
 * sum_k (w + 128) x = sum_k w x + 128 sum_k x: the row sums of the activations (computed once
 * per block of rows) give the exact correction. The micro-kernel keeps a tile of 6 rows x 64
 * outputs in 24 registers over the whole input dimension; each step loads 4 weight registers
 * and broadcasts 4 bytes of each row (a load, no shuffle), so the loop is 24 dot products for
 * 10 loads and nothing else: two vpdpbusd a cycle is the bound. Rows go in blocks of 192 (their
 * activations stay in L2, their row sums on the stack), and within a block every panel passes
 * over every row tile (a panel at 384 inputs, 24 KiB, stays in L1).
 *
 * AVX2. vpmaddubsw sums two u8 x s8 products into a saturating int16: the weights are shifted
 * back to signed (xor 0x80), the activations go in as |x| and their signs move onto the weights
 * (vpsignb); with |x|, |w| <= 127 a pair is at most 32,258, so nothing saturates. Tiles of 4
 * rows x 16 outputs.
 *
 * Every kernel thus computes the exact integer sums of the plain one, and the float epilogue
 * ((acc * xs) * ws + b, no fused multiply-add) is the same expression as
 * ss_minilm_matmul_q8_ref: outputs are bit-identical (unit.q8gemm checks it).
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

#define Q8_BLOCK 16  /* outputs per AVX-512 register (a block of 16 x 4 bytes) */
#define Q8_PANEL 64  /* outputs per packed panel and per VNNI tile (four blocks) */
#define Q8_MR    6   /* rows per VNNI tile */
#define Q8_MB    192 /* rows per block (row sums on the stack; a multiple of Q8_MR) */

struct ss_q8gemm_pack {
        uint8_t *p;    /* [d_out_pad / 64][k4][64][4] packed weights + 128, 64-byte aligned */
        int d_out;     /* outputs */
        int d_in;      /* inputs */
        int d_out_pad; /* d_out rounded up to Q8_PANEL */
        int k4;        /* ceil(d_in / 4): groups of 4 inputs */
};

/* Offset of weight (o, k) in the packed layout. */
static inline size_t pack_at(const ss_q8gemm_pack_t *w, int o, int k)
{
        return ((size_t)(o / Q8_PANEL) * (size_t)w->k4 + (size_t)(k / 4)) * (Q8_PANEL * 4) +
               (size_t)(o % Q8_PANEL) * 4 + (size_t)(k % 4);
}

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
        if (!w->p) {
                ss_q8gemm_pack_destroy(w);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                           "q8gemm: out of memory packing %d x %d weights", d_out, d_in);
                return NULL;
        }
        memset(w->p, 0x80, bytes); /* padding: weight 0 */
        for (int o = 0; o < d_out; o++)
                for (int k = 0; k < d_in; k++)
                        w->p[pack_at(w, o, k)] =
                            (uint8_t)(q[(size_t)o * (size_t)d_in + (size_t)k] ^ (int8_t)0x80);
        return w;
}

void ss_q8gemm_pack_destroy(ss_q8gemm_pack_t *w)
{
        if (!w)
                return;
        free(w->p);
        free(w);
}

/* The signed weight (o, k) back from the packed layout. */
static inline int32_t pack_weight(const ss_q8gemm_pack_t *w, int o, int k)
{
        return (int32_t)(int8_t)(w->p[pack_at(w, o, k)] ^ 0x80u);
}

/* ---- plain C over the packed layout ---- */

static void matmul_plain(float *out, const int8_t *xq, const float *xs, const ss_q8gemm_pack_t *w,
                         const float *ws, const float *b, int n)
{
        for (int i = 0; i < n; i++) {
                const int8_t *x = xq + (size_t)i * (size_t)w->d_in;
                for (int o = 0; o < w->d_out; o++) {
                        int32_t acc = 0;
                        for (int k = 0; k < w->d_in; k++)
                                acc += (int32_t)x[k] * pack_weight(w, o, k);
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

/* ---- AVX-512 VNNI: tiles of 6 rows x 64 outputs ---- */

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* Row r's 4 products at one step: its 4 activation bytes broadcast, times the 4 weight
 * registers (written out: GCC keeps named accumulators in registers, an array it spills). */
#define VNNI_ROW(r, xv)                                                                            \
        do {                                                                                       \
                __m512i xb_ = _mm512_set1_epi32(xv);                                               \
                a##r##0 = _mm512_dpbusd_epi32(a##r##0, w0, xb_);                                   \
                a##r##1 = _mm512_dpbusd_epi32(a##r##1, w1, xb_);                                   \
                a##r##2 = _mm512_dpbusd_epi32(a##r##2, w2, xb_);                                   \
                a##r##3 = _mm512_dpbusd_epi32(a##r##3, w3, xb_);                                   \
        } while (0)

#define VNNI_ACC(r)                                                                                \
        __m512i a##r##0 = _mm512_setzero_si512(), a##r##1 = a##r##0, a##r##2 = a##r##0,            \
                a##r##3 = a##r##0

/* Row r's 4 accumulators into acc[r][0..3] for the epilogue */
#define VNNI_SAVE(r)                                                                               \
        do {                                                                                       \
                acc[r][0] = a##r##0, acc[r][1] = a##r##1, acc[r][2] = a##r##2,                     \
                acc[r][3] = a##r##3;                                                               \
        } while (0)

static inline int32_t x4_at(const int8_t *x, int g)
{
        int32_t v;
        memcpy(&v, x + 4 * g, 4);
        return v;
}

/*
 * Rows [i0, i0 + rows) (rows <= 6) x outputs [o0, o0 + 64): out = ((acc - 128 sum x) * xs) * ws
 * + b. Rows past `rows` are computed on row i0 again and not stored.
 */
VNNI_TARGET static void vnni_tile(float *out, const int8_t *xq, const float *xs,
                                  const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                  int i0, int rows, int o0, const int32_t *rowsum128)
{
        const int d_in = w->d_in, k4 = w->k4, kfull = d_in / 4;
        const uint8_t *p = w->p + (size_t)(o0 / Q8_PANEL) * (size_t)k4 * (Q8_PANEL * 4);
        const int8_t *x[Q8_MR];
        for (int r = 0; r < Q8_MR; r++)
                x[r] = xq + (size_t)(i0 + (r < rows ? r : 0)) * (size_t)d_in;
        const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5];
        VNNI_ACC(0);
        VNNI_ACC(1);
        VNNI_ACC(2);
        VNNI_ACC(3);
        VNNI_ACC(4);
        VNNI_ACC(5);
        for (int g = 0; g < k4; g++, p += Q8_PANEL * 4) {
                __m512i w0 = _mm512_load_si512((const void *)p);
                __m512i w1 = _mm512_load_si512((const void *)(p + 64));
                __m512i w2 = _mm512_load_si512((const void *)(p + 128));
                __m512i w3 = _mm512_load_si512((const void *)(p + 192));
                if (g < kfull) {
                        VNNI_ROW(0, x4_at(x0, g));
                        VNNI_ROW(1, x4_at(x1, g));
                        VNNI_ROW(2, x4_at(x2, g));
                        VNNI_ROW(3, x4_at(x3, g));
                        VNNI_ROW(4, x4_at(x4, g));
                        VNNI_ROW(5, x4_at(x5, g));
                } else { /* the last 1-3 inputs: zeros after them meet 0x80 padding */
                        VNNI_ROW(0, load_x4(x0, g, d_in));
                        VNNI_ROW(1, load_x4(x1, g, d_in));
                        VNNI_ROW(2, load_x4(x2, g, d_in));
                        VNNI_ROW(3, load_x4(x3, g, d_in));
                        VNNI_ROW(4, load_x4(x4, g, d_in));
                        VNNI_ROW(5, load_x4(x5, g, d_in));
                }
        }
        __m512i acc[Q8_MR][4];
        VNNI_SAVE(0);
        VNNI_SAVE(1);
        VNNI_SAVE(2);
        VNNI_SAVE(3);
        VNNI_SAVE(4);
        VNNI_SAVE(5);
        for (int j = 0; j < 4; j++) {
                int o = o0 + j * Q8_BLOCK;
                int left = w->d_out - o;
                if (left <= 0)
                        break;
                __mmask16 m = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
                __m512 vs = _mm512_maskz_loadu_ps(m, ws + o);
                __m512 vb = b ? _mm512_maskz_loadu_ps(m, b + o) : _mm512_setzero_ps();
                for (int r = 0; r < rows; r++) {
                        __m512i s = _mm512_sub_epi32(acc[r][j], _mm512_set1_epi32(rowsum128[r]));
                        __m512 f = _mm512_cvtepi32_ps(s);
                        f = _mm512_mul_ps(f, _mm512_set1_ps(xs[i0 + r]));
                        f = _mm512_mul_ps(f, vs);
                        f = _mm512_add_ps(f, vb);
                        _mm512_mask_storeu_ps(out + (size_t)(i0 + r) * (size_t)w->d_out + o, m, f);
                }
        }
}

/* 128 * sum_k x[i][k] for rows [i0, i0 + rows) */
VNNI_TARGET static void vnni_rowsums(int32_t *rowsum128, const int8_t *xq, int i0, int rows,
                                     int d_in)
{
        for (int r = 0; r < rows; r++) {
                const int8_t *x = xq + (size_t)(i0 + r) * (size_t)d_in;
                int32_t s = 0;
                for (int k = 0; k < d_in; k++)
                        s += x[k];
                rowsum128[r] = 128 * s;
        }
}

VNNI_TARGET static void matmul_vnni(float *out, const int8_t *xq, const float *xs,
                                    const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                    int n)
{
        int32_t rowsum128[Q8_MB];
        for (int i0 = 0; i0 < n; i0 += Q8_MB) {
                int mb = n - i0 < Q8_MB ? n - i0 : Q8_MB;
                vnni_rowsums(rowsum128, xq, i0, mb, w->d_in);
                for (int o0 = 0; o0 < w->d_out; o0 += Q8_PANEL)
                        for (int r = 0; r < mb; r += Q8_MR)
                                vnni_tile(out, xq, xs, w, ws, b, i0 + r,
                                          mb - r < Q8_MR ? mb - r : Q8_MR, o0, rowsum128 + r);
        }
}

/* ---- AVX2: tiles of MR rows x 16 outputs ---- */

#define AVX2_TARGET __attribute__((target("avx2")))

AVX2_TARGET static inline void avx2_tile(float *out, const int8_t *xq, const float *xs,
                                         const ss_q8gemm_pack_t *w, const float *ws, const float *b,
                                         int i0, int mr_rows, int o0, const int MR)
{
        const int d_in = w->d_in, k4 = w->k4, kfull = d_in / 4;
        /* the block of 16 outputs at o0 within its panel: 64 bytes of every 256 */
        const uint8_t *wb = w->p + (size_t)(o0 / Q8_PANEL) * (size_t)k4 * (Q8_PANEL * 4) +
                            (size_t)(o0 % Q8_PANEL) * 4;
        const __m256i ones = _mm256_set1_epi16(1);
        const __m256i shift = _mm256_set1_epi8((char)0x80);
        __m256i acc[4][2];
        const int8_t *x[4];
        for (int r = 0; r < MR; r++) {
                acc[r][0] = acc[r][1] = _mm256_setzero_si256();
                x[r] = xq + (size_t)(i0 + (r < mr_rows ? r : 0)) * (size_t)d_in;
        }
        for (int g = 0; g < k4; g++) {
                const uint8_t *p = wb + (size_t)g * (Q8_PANEL * 4);
                __m256i a = _mm256_xor_si256(_mm256_load_si256((const __m256i *)p), shift);
                __m256i c = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(p + 32)), shift);
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
        for (int o0 = 0; o0 < w->d_out; o0 += Q8_BLOCK) {
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
