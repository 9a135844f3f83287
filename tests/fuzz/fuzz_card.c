/* The model card reader (what the monitor loads for every model it watches). */
#include "fuzz_util.h"
#include "refcard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *json = ss_fuzz_cstr(data, size), err[512];
        ss_refcard_destroy(ss_refcard_parse(json, "fuzz.card.json", err, sizeof(err)));
        free(json);
        return 0;
}
