/*
 * The model file loader (ss_model_load: container, then the kind's own checks of its
 * sections). The sha256 in the header is recomputed over the input before loading (format 2:
 * over the whole file with that field zeroed), so mutations reach the header, section and
 * kind checks instead of stopping at the checksum (which the checksum test of the container
 * covers on its own).
 */
#include <unistd.h>

#include "fuzz_util.h"
#include "model.h"
#include "ss_util.h"

static uint64_t ss_fuzz_le(const uint8_t *p, int n)
{
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* Writes the file's sha256 where the header keeps it, when the layout allows. */
static void ss_fuzz_fix_sha(uint8_t *b, size_t size)
{
        if (size < 16)
                return;
        size_t h = (size_t)ss_fuzz_le(b + 12, 4), off = 16;
        for (int i = 0; i < 3; i++) { /* kind, name, version */
                if (off + 2 > size)
                        return;
                off += 2 + (size_t)ss_fuzz_le(b + off, 2);
        }
        if (off + 2 > size)
                return;
        size_t nlabels = (size_t)ss_fuzz_le(b + off, 2);
        off += 2;
        for (size_t i = 0; i < nlabels; i++) {
                if (off + 2 > size)
                        return;
                off += 2 + (size_t)ss_fuzz_le(b + off, 2);
        }
        if (off + 40 > size || h > size)
                return;
        memset(b + off + 8, 0, 32); /* format 2: the whole file, with the sha256 field as zeros */
        ss_sha256(b, size, b + off + 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char path[64];
        if (!path[0])
                snprintf(path, sizeof(path), "/tmp/ss_fuzz_model_%d.ssm", (int)getpid());
        uint8_t *b = malloc(size ? size : 1);
        if (!b)
                return 0;
        memcpy(b, data, size);
        ss_fuzz_fix_sha(b, size);
        FILE *f = fopen(path, "wb");
        if (f) {
                fwrite(b, 1, size, f);
                fclose(f);
                char err[512];
                ss_model_t *m = ss_model_load(path, err, sizeof(err));
                if (m) {
                        const char *text = "fuzzing :) #test";
                        size_t len = strlen(text);
                        float probs[SS_NUM_CLASSES];
                        ss_model_score_batch(m, &text, &len, 1, probs, NULL, err, sizeof(err));
                        ss_model_destroy(m);
                }
        }
        free(b);
        return 0;
}
