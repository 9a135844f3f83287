/*
 * test_blascore: the OpenBLAS kernel choice.
 *
 *   - ss_blascore_better() names kernels only when OpenBLAS loaded its generic fallback
 *     ("Prescott"), and then one of the two it knows;
 *   - ss_blascore_select() with OPENBLAS_CORETYPE set does nothing;
 *   - re-execution: a child process with the variable unset calls ss_blascore_select(); when
 *     there is something to fix, the program runs again (argv kept: "--child") with the
 *     variable set and OpenBLAS on the named kernels; otherwise it returns and the child goes on.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blascore.h"
#include "ss_test.h"

/* Exit status of the child: 10 = re-executed onto the named kernels, 11 = nothing to do and
 * not re-executed, 1 = anything else. */
static int child(char **argv, int reexecuted)
{
        const char *env = getenv("OPENBLAS_CORETYPE");
        if (reexecuted) /* the second run: the variable is set and OpenBLAS follows it */
                return env && !strcasecmp(openblas_get_corename(), env) ? 10 : 1;
        unsetenv("OPENBLAS_CORETYPE");
        int want = ss_blascore_better() != NULL;
        argv[1] = "--child-again";
        ss_blascore_select(argv);
        return want ? 1 : 11; /* reached only when select returned */
}

int main(int argc, char **argv)
{
        if (argc > 1 && !strcmp(argv[1], "--child"))
                return child(argv, 0);
        if (argc > 1 && !strcmp(argv[1], "--child-again"))
                return child(argv, 1);

        const char *core = openblas_get_corename();
        const char *better = ss_blascore_better();
        printf("blascore: OpenBLAS loaded %s, better: %s (OPENBLAS_CORETYPE %s)\n", core,
               better ? better : "none", getenv("OPENBLAS_CORETYPE") ? "set" : "unset");
        if (strcmp(core, "Prescott") != 0)
                CHECK(better == NULL);
        else
                CHECK(better == NULL || !strcmp(better, "SkylakeX") || !strcmp(better, "Haswell"));

        /* set: nothing happens (no exec: this call returns) */
        setenv("OPENBLAS_CORETYPE", core, 1);
        char *args[] = {argv[0], NULL};
        ss_blascore_select(args);
        CHECK(1);

        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                char *cargs[] = {argv[0], "--child", NULL};
                execv("/proc/self/exe", cargs);
                _exit(1);
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st));
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        printf("blascore: child with the variable unset: %s\n",
               code == 10   ? "re-executed onto the named kernels"
               : code == 11 ? "nothing to fix, not re-executed"
                            : "FAILED");
        CHECK(code == 10 || code == 11);
        return ss_test_finish();
}
