/* One JSON input line (consumer.input.format=json). */
#include "fuzz_serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_tweet_t t;
        char err[512];
        if (ss_serde_tweet_decode_json(ss_fuzz_serde(), data, size, 1, &t, err, sizeof(err)) ==
            SS_OK) {
                if (!t.text.len || memchr(t.text.ptr, 0, t.text.len))
                        abort();
        }
        return 0;
}
