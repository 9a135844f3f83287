/* Confluent framing + Avro decode of a RetrainEvent, then re-encode what decoded. */
#include "fuzz_serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_retrain_event_t e;
        static ss_serde_buf_t out;
        char err[512];
        if (ss_serde_retrain_event_decode(ss_fuzz_serde(), data, size, &e, err, sizeof(err)) ==
            SS_OK) {
                ss_serde_buf_reset(&out);
                if (ss_serde_retrain_event_encode(ss_fuzz_serde(), &e, &out, err, sizeof(err)) !=
                    SS_OK)
                        abort(); /* whatever decodes must encode again */
        }
        return 0;
}
