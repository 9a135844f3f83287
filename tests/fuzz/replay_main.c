/*
 * replay_main: runs a fuzz target without libFuzzer over files and directories of inputs
 * (the committed seed corpora and crash regressions), so that every build replays them:
 * ctest fuzz.replay.<target>. Exits non-zero on the first input that crashes (ASan/UBSan
 * abort) or when an argument cannot be read.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int ss_replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return -1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        if (!buf || got != (size_t)n) {
                free(buf);
                fprintf(stderr, "%s: cannot read\n", path);
                return -1;
        }
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        return 1;
}

static int ss_replay(const char *path)
{
        struct stat st;
        if (stat(path, &st) != 0) {
                perror(path);
                return -1;
        }
        if (!S_ISDIR(st.st_mode))
                return ss_replay_file(path);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char sub[4096];
                snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                int k = ss_replay(sub);
                if (k < 0) {
                        n = -1;
                        break;
                }
                n += k;
        }
        closedir(d);
        return n;
}

int main(int argc, char **argv)
{
        ss_fuzz_quiet();
        int total = 0;
        for (int i = 1; i < argc; i++) {
                int k = ss_replay(argv[i]);
                if (k < 0)
                        return 1;
                total += k;
        }
        printf("%s: %d inputs replayed, no crash\n", argv[0], total);
        return 0;
}
