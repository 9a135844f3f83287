/*
 * blascore: the OpenBLAS kernel set for this CPU.
 *
 * OpenBLAS (built with DYNAMIC_ARCH) picks its kernels from the CPU model when the library is
 * loaded. A release that does not know the model (Debian's 0.3.21 on Xeons newer than Sapphire
 * Rapids, CPUID family 6 model 207) falls back to its generic "Prescott" kernels (SSE3), about a
 * third of the AVX-512 kernels' speed, unless OPENBLAS_CORETYPE names the kernels. The choice
 * is made before main() runs, so the fix is to set the variable and run the program again.
 */
#ifndef SS_BLASCORE_H
#define SS_BLASCORE_H

/*
 * The kernel set OpenBLAS should use instead of the one it picked ("SkylakeX" on a CPU with
 * AVX-512, "Haswell" with AVX2 and FMA), or NULL when its pick is not the generic fallback or
 * the CPU has neither. Static string.
 */
const char *ss_blascore_better(void);

/*
 * When OPENBLAS_CORETYPE is unset and ss_blascore_better() names a kernel set: sets the
 * variable and re-executes the running program (/proc/self/exe) with the same argv, so this
 * call does not return. Returns when there is nothing to do or the exec failed (the program
 * then runs on as before). Call first thing in main(), before any thread starts.
 */
void ss_blascore_select(char **argv);

#endif /* SS_BLASCORE_H */
