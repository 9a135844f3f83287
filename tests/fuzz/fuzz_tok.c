/* The tweet tokenizer on any bytes (NUL and invalid UTF-8 included). */
#include "fuzz_util.h"
#include "tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ss_tok_buf_t b; /* zero = initialised */
        if (ss_tok_run(&b, (const char *)data, size) == 0) {
                for (size_t i = 0; i < b.n; i++)
                        if (strlen(ss_tok_str(&b, i)) != b.toks[i].len)
                                abort();
        }
        return 0;
}
