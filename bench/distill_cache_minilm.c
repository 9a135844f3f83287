/*
 * distill_cache_minilm: fills the CNN's distillation cache (models/cnn/cnn_distill.h) for a
 * `minilm` teacher from the embeddings its own training cached, instead of running the encoder
 * over the training set a second time (tens of minutes on a loaded 2-core machine).
 *
 *   distill_cache_minilm TEACHER.ssm DATA.tsv EMB_CACHE.emb CACHE_DIR [CHECK_N]
 *
 * EMB_CACHE.emb is the `minilm` trainer's cache of DATA.tsv (minilm_train.h: "SSEMB001", u32
 * n, u32 dim, float32 [n][dim] normalised pooled embeddings, then the input statistics); the
 * teacher's head (head.w [3][dim], head.b [3]) is applied to every row, which is what the
 * model computes after its encoder. Before anything is written, the first CHECK_N rows
 * (default 200) are scored by the teacher through the model interface
 * (ss_model_score_raw, the encoder included) and compared: the largest difference of a
 * probability must stay under 1e-4, else nothing is written and the exit status is 1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_distill.h"
#include "dataset.h"
#include "mfile.h"
#include "minilm.h"
#include "model.h"

int main(int argc, char **argv)
{
        if (argc < 5) {
                fprintf(stderr, "usage: distill_cache_minilm TEACHER.ssm DATA.tsv EMB_CACHE.emb "
                                "CACHE_DIR [CHECK_N]\n");
                return 2;
        }
        size_t check = argc > 5 ? (size_t)atol(argv[5]) : 200;
        char err[1024];
        int rc = 1;
        float *emb = NULL, *probs = NULL, *ref = NULL;
        ss_model_t *m = NULL;
        ss_mfile_t *mf = NULL;
        FILE *f = NULL;
        ss_dataset_t *ds = ss_dataset_load(argv[2], err, sizeof(err));
        if (!ds || !(mf = ss_mfile_read(argv[1], err, sizeof(err))) ||
            !(m = ss_model_load(argv[1], err, sizeof(err)))) {
                fprintf(stderr, "distill_cache_minilm: %s\n", err);
                goto out;
        }
        if (strcmp(ss_mfile_kind(mf), "minilm")) {
                fprintf(stderr, "distill_cache_minilm: %s is of kind %s, not minilm\n", argv[1],
                        ss_mfile_kind(mf));
                goto out;
        }
        struct {
                char magic[8];
                uint32_t n, dim;
        } h;
        if (!(f = fopen(argv[3], "rb")) || fread(&h, sizeof(h), 1, f) != 1 ||
            memcmp(h.magic, "SSEMB001", 8) || h.n != ds->n) {
                fprintf(stderr,
                        "distill_cache_minilm: %s: not an embedding cache of the %zu rows "
                        "of %s\n",
                        argv[3], ds->n, argv[2]);
                goto out;
        }
        uint64_t cnt;
        const float *W =
            ss_mfile_get(mf, "head.w", SS_MF_F32, 3ull * h.dim, &cnt, err, sizeof(err));
        const float *b =
            W ? ss_mfile_get(mf, "head.b", SS_MF_F32, 3, &cnt, err, sizeof(err)) : NULL;
        if (!W || !b) {
                fprintf(stderr, "distill_cache_minilm: %s (embeddings of dimension %u)\n", err,
                        h.dim);
                goto out;
        }
        emb = malloc((size_t)h.n * h.dim * sizeof(float));
        probs = malloc((size_t)h.n * SS_NUM_CLASSES * sizeof(float));
        if (!emb || !probs || fread(emb, sizeof(float) * h.dim, h.n, f) != h.n) {
                fprintf(stderr, "distill_cache_minilm: %s: short read\n", argv[3]);
                goto out;
        }
        ss_minilm_head_apply(emb, h.n, (int)h.dim, W, b, probs);
        if (check > ds->n)
                check = ds->n;
        ref = malloc((check ? check : 1) * SS_NUM_CLASSES * sizeof(float));
        if (!ref || ss_model_score_raw(m, (const char *const *)ds->texts, ds->lens, check, 64, ref,
                                       err, sizeof(err))) {
                fprintf(stderr, "distill_cache_minilm: scoring: %s\n", ref ? err : "no memory");
                goto out;
        }
        double maxd = 0.0;
        for (size_t k = 0; k < check * SS_NUM_CLASSES; k++)
                maxd = fmax(maxd, fabs((double)probs[k] - ref[k]));
        printf("check      %zu rows scored by %s itself: largest probability difference %.3g\n",
               check, argv[1], maxd);
        if (!(maxd < 1e-4)) {
                fprintf(stderr, "distill_cache_minilm: the cache does not reproduce the teacher; "
                                "nothing written\n");
                goto out;
        }
        char path[1100];
        if (ss_distill_cache_store(argv[1], ds, argv[4], probs, path, sizeof(path), err,
                                   sizeof(err))) {
                fprintf(stderr, "distill_cache_minilm: %s\n", err);
                goto out;
        }
        printf("written    %s (%zu rows of %s)\n", path, ds->n, argv[2]);
        rc = 0;
out:
        if (f)
                fclose(f);
        free(emb);
        free(probs);
        free(ref);
        ss_model_destroy(m);
        ss_mfile_destroy(mf);
        ss_dataset_destroy(ds);
        return rc;
}
