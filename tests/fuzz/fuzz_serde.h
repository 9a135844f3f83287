/*
 * fuzz_serde: the serde every Avro/JSON target decodes with (the real schemas,
 * ids 1..5, text limit 4096 as configured by default). Created once.
 */
#ifndef SS_FUZZ_SERDE_H
#define SS_FUZZ_SERDE_H

#include "fuzz_util.h"
#include "ss_serde.h"

static inline const ss_serde_t *ss_fuzz_serde(void)
{
        static ss_serde_t *serde;
        if (!serde) {
                char dir[4096], err[512];
                ss_serde_ids_t ids = {1, 2, 3, 4, 5};
                serde = ss_serde_new(ss_fuzz_src("schemas", dir, sizeof(dir)), &ids, 4096, err,
                                     sizeof(err));
                if (!serde) {
                        fprintf(stderr, "fuzz: ss_serde_new: %s\n", err);
                        abort();
                }
        }
        return serde;
}

#endif /* SS_FUZZ_SERDE_H */
