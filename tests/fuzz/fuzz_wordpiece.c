/*
 * WordPiece: the first byte picks the part. 0: the input is a vocab.txt for ss_wp_new().
 * Otherwise: the rest is text, tokenized and encoded with a small fixed vocabulary.
 */
#include "fuzz_util.h"
#include "wordpiece.h"

static const char ss_fuzz_vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n##s\nhappy\nsad\n##ly\n"
                                    "good\nbad\n!\n?\n.\n,\n#\n@\nlove\n##ing\nhate\n\xc3\xa9\n"
                                    "##\xc3\xa9\n\xe6\x97\xa5\nun\n##happy\n:\n)\n(\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_wp_t *wp;
        char err[512];
        if (!wp && !(wp = ss_wp_new(ss_fuzz_vocab, sizeof(ss_fuzz_vocab) - 1, err, sizeof(err))))
                abort();
        if (size == 0)
                return 0;
        if (data[0] == 0) {
                ss_wp_t *v = ss_wp_new((const char *)data + 1, size - 1, err, sizeof(err));
                if (v) {
                        size_t n;
                        ss_wp_tokenize(v, "unhappy the", 11, &n);
                        ss_wp_destroy(v);
                }
                return 0;
        }
        size_t n;
        const int32_t *ids = ss_wp_tokenize(wp, (const char *)data + 1, size - 1, &n);
        for (size_t i = 0; ids && i < n; i++)
                if (ids[i] < 0 || ids[i] >= ss_wp_vocab_size(wp))
                        abort();
        int32_t enc[16];
        int k = ss_wp_encode(wp, (const char *)data + 1, size - 1, enc, 16, NULL);
        if (k != -1 && (k < 2 || k > 16))
                abort();
        return 0;
}
