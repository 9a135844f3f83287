/*
 * blascore: asks OpenBLAS which kernels it loaded (openblas_get_corename) and the CPU what it
 * supports (__builtin_cpu_supports); on a mismatch, sets OPENBLAS_CORETYPE and re-executes, the
 * only way to change OpenBLAS's choice (its constructor reads the variable once, at load). The
 * variable then being set also ends any further re-execution.
 */
#include "blascore.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ss_blascore_better(void)
{
        const char *core = openblas_get_corename();
        if (!core || strcmp(core, "Prescott") != 0)
                return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
                return "SkylakeX";
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                return "Haswell";
#endif
        return NULL;
}

void ss_blascore_select(char **argv)
{
        const char *better = ss_blascore_better();
        if (getenv("OPENBLAS_CORETYPE") || !better)
                return;
        if (setenv("OPENBLAS_CORETYPE", better, 1) != 0)
                return;
        execv("/proc/self/exe", argv);
        unsetenv("OPENBLAS_CORETYPE"); /* exec failed: run on with the kernels loaded */
}
