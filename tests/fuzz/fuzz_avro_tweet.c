/* Confluent framing + Avro decode of a Tweet (the scorer's input). */
#include "fuzz_serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_tweet_t t; /* reused across inputs, as the scorer reuses its structs */
        char err[512];
        if (ss_serde_tweet_decode(ss_fuzz_serde(), data, size, &t, err, sizeof(err)) == SS_OK) {
                if (!t.text.len || memchr(t.text.ptr, 0, t.text.len) || t.text.ptr[t.text.len])
                        abort(); /* a decoded tweet is non-empty, NUL-free, NUL-terminated */
        }
        return 0;
}
