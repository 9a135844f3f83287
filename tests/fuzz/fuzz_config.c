/*
 * The YAML config loader with overrides: the input up to the first 0xFF byte is
 * base.yaml of a scratch config directory; what follows, split at newlines, is up to 8
 * key=value overrides. The directory also holds one group file (kafka/local.yaml).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ss_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char dir[64], base[128];
        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/ss_fuzz_config_%d", (int)getpid());
                mkdir(dir, 0700);
                char sub[128];
                snprintf(sub, sizeof(sub), "%s/kafka", dir);
                mkdir(sub, 0700);
                snprintf(sub, sizeof(sub), "%s/kafka/local.yaml", dir);
                FILE *g = fopen(sub, "w");
                if (g) {
                        fputs("kafka:\n  bootstrap.servers: 127.0.0.1:9092\n", g);
                        fclose(g);
                }
                snprintf(base, sizeof(base), "%s/base.yaml", dir);
        }
        const uint8_t *sep = memchr(data, 0xff, size);
        size_t ylen = sep ? (size_t)(sep - data) : size;
        FILE *f = fopen(base, "wb");
        if (!f)
                return 0;
        fwrite(data, 1, ylen, f);
        fclose(f);
        char *ov[8];
        int nov = 0;
        char *rest = sep ? ss_fuzz_cstr(sep + 1, size - ylen - 1) : NULL;
        for (char *p = rest, *save = NULL; rest && nov < 8; p = NULL) {
                char *line = strtok_r(p, "\n", &save);
                if (!line)
                        break;
                ov[nov++] = line;
        }
        char err[1024];
        ss_config_t *c = ss_config_load(dir, nov, ov, err, sizeof(err));
        if (c) {
                FILE *null = fopen("/dev/null", "w");
                if (null) {
                        ss_config_print(c, null);
                        fclose(null);
                }
                ss_config_destroy(c);
        }
        free(rest);
        return 0;
}
