/* Confluent framing + Avro decode of a ModelUpdate, then re-encode what decoded. */
#include "fuzz_serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_model_update_t u;
        static ss_serde_buf_t out;
        char err[512];
        if (ss_serde_model_update_decode(ss_fuzz_serde(), data, size, &u, err, sizeof(err)) ==
            SS_OK) {
                ss_serde_buf_reset(&out);
                if (ss_serde_model_update_encode(ss_fuzz_serde(), &u, &out, err, sizeof(err)) !=
                    SS_OK)
                        abort(); /* whatever decodes must encode again */
        }
        return 0;
}
