/* Confluent framing + Avro decode of a Prediction (the monitor's input). */
#include "fuzz_serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_prediction_t p;
        char err[512];
        ss_serde_prediction_decode(ss_fuzz_serde(), data, size, &p, err, sizeof(err));
        return 0;
}
