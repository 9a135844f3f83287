/*
 * fuzz_util: what the libFuzzer targets share. Each target defines
 * LLVMFuzzerTestOneInput(); built with SS_FUZZ=ON it links libFuzzer, otherwise
 * replay_main.c replays files through it (the regression run in ctest).
 */
#ifndef SS_FUZZ_UTIL_H
#define SS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The source tree (schemas/, fixtures): SS_SOURCE_DIR, else the one it was built from. */
static inline const char *ss_fuzz_src(const char *rel, char *buf, size_t size)
{
        const char *root = getenv("SS_SOURCE_DIR");
        snprintf(buf, size, "%s/%s", root ? root : SS_FUZZ_SOURCE_DIR, rel);
        return buf;
}

/* A NUL-terminated copy of the input (caller frees). */
static inline char *ss_fuzz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

/* Quiet logs: the targets exercise error paths on purpose. */
static inline void ss_fuzz_quiet(void)
{
        ss_log_level_set(SS_LOG_ERROR);
}

#endif /* SS_FUZZ_UTIL_H */
