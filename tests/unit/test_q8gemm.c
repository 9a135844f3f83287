/*
 * unit.q8gemm: every int8 kernel this CPU runs (AVX-512 VNNI, AVX2, plain over the packed
 * layout) gives outputs bit-identical to ss_minilm_matmul_q8_ref, on MiniLM's shapes and on
 * ragged ones (rows, outputs and inputs that are not multiples of the tiles), with the extreme
 * values -127 and 127 where saturation would show.
 */
#include <stdint.h>

#include "minilm.h"
#include "q8gemm.h"
#include "ss_test.h"

static uint32_t rng = 12345;

static float frand(void)
{
        rng = rng * 1664525u + 1013904223u;
        return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* n rows of d_in against d_out outputs; extreme: weights and activations all at +-max. */
static void check_shape(int n, int d_in, int d_out, int extreme)
{
        float *x = malloc(sizeof(float) * (size_t)n * d_in);
        float *w = malloc(sizeof(float) * (size_t)d_out * d_in);
        float *b = malloc(sizeof(float) * (size_t)d_out);
        for (int i = 0; i < n * d_in; i++)
                x[i] = extreme ? (i % 3 ? 1.0f : -1.0f) : frand();
        for (int i = 0; i < d_out * d_in; i++)
                w[i] = extreme ? (i % 5 ? -1.0f : 1.0f) : frand();
        for (int i = 0; i < d_out; i++)
                b[i] = frand();
        int8_t *wq = malloc((size_t)d_out * d_in), *xq = malloc((size_t)n * d_in);
        float *ws = malloc(sizeof(float) * d_out), *xs = malloc(sizeof(float) * n);
        float *ref = malloc(sizeof(float) * (size_t)n * d_out);
        float *got = malloc(sizeof(float) * (size_t)n * d_out);
        ss_minilm_quantize_rows(wq, ws, w, d_out, d_in);
        char err[256];
        ss_q8gemm_pack_t *pk = ss_q8gemm_pack_new(wq, d_out, d_in, err, sizeof(err));
        CHECK(pk != NULL);
        for (int isa = SS_Q8GEMM_PLAIN; isa <= SS_Q8GEMM_AVX512_VNNI; isa++) {
                if (!ss_q8gemm_isa_supported((ss_q8gemm_isa_t)isa)) {
                        printf("q8gemm: %s not supported here, skipped\n",
                               ss_q8gemm_isa_name((ss_q8gemm_isa_t)isa));
                        continue;
                }
                for (int bias = 0; bias < 2; bias++) {
                        const float *bb = bias ? b : NULL;
                        ss_minilm_matmul_q8_ref(ref, x, wq, ws, bb, n, d_in, d_out, xq, xs);
                        for (int i = 0; i < n * d_out; i++)
                                got[i] = -12345.0f;
                        ss_q8gemm_matmul(got, xq, xs, pk, ws, bb, n, (ss_q8gemm_isa_t)isa);
                        int same = memcmp(ref, got, sizeof(float) * (size_t)n * d_out) == 0;
                        if (!same)
                                fprintf(stderr, "q8gemm: %s differs at n=%d d_in=%d d_out=%d\n",
                                        ss_q8gemm_isa_name((ss_q8gemm_isa_t)isa), n, d_in, d_out);
                        CHECK(same);
                }
        }
        ss_q8gemm_pack_destroy(pk);
        free(x), free(w), free(b), free(wq), free(xq), free(ws), free(xs), free(ref), free(got);
}

int main(void)
{
        printf("q8gemm: best kernel here: %s\n", ss_q8gemm_isa_name(ss_q8gemm_isa_best()));
        CHECK(ss_q8gemm_isa_supported(SS_Q8GEMM_PLAIN));
        /* MiniLM's four linear layers (QKV, attention output, feed-forward in and out) */
        check_shape(37, 384, 1152, 0);
        check_shape(19, 384, 384, 0);
        check_shape(13, 384, 1536, 0);
        check_shape(11, 1536, 384, 0);
        /* ragged: rows 1..9, inputs not a multiple of 4, outputs not a multiple of 8/16/32 */
        for (int n = 1; n <= 9; n++)
                check_shape(n, 5 + 2 * n, 3 + 7 * n, 0);
        check_shape(8, 1, 1, 0);
        check_shape(17, 63, 33, 0);
        /* saturation: every product at 127 x 127 */
        check_shape(9, 256, 48, 1);
        char err[128] = "";
        CHECK(ss_q8gemm_pack_new(NULL, 4, 4, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "bad shape") != NULL);
        return ss_test_finish();
}
