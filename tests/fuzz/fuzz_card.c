/* The model card reader (what the monitor loads for every model it watches). */
#include "card.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *json = ss_fuzz_cstr(data, size), err[512];
        ss_card_view_destroy(ss_card_view_parse(json, "fuzz.card.json", err, sizeof(err)));
        free(json);
        return 0;
}
