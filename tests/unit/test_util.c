/*
 * test_util: the base layer's growable array (capacity doubling, contents kept,
 * overflow refused) and mkdir -p of a file's directory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ss_test.h"
#include "ss_util.h"

static void test_array_grow(void)
{
        int *a = NULL;
        size_t cap = 0;
        CHECK(ss_array_grow((void **)&a, &cap, 0, sizeof(*a), 4) == 0 && a == NULL && cap == 0);
        CHECK(ss_array_grow((void **)&a, &cap, 3, sizeof(*a), 4) == 0 && cap == 4);
        for (int i = 0; i < 4; i++)
                a[i] = i;
        CHECK(ss_array_grow((void **)&a, &cap, 5, sizeof(*a), 4) == 0 && cap == 8);
        CHECK(ss_array_grow((void **)&a, &cap, 33, sizeof(*a), 4) == 0 && cap == 64);
        int kept = 1;
        for (int i = 0; i < 4; i++)
                kept &= a[i] == i;
        CHECK(kept);
        int *before = a;
        CHECK(ss_array_grow((void **)&a, &cap, 64, sizeof(*a), 4) == 0 && a == before);
        /* a size that overflows is refused and leaves the array alone */
        CHECK(ss_array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(*a), 4) == -1);
        CHECK(a == before && cap == 64);
        free(a);
}

static void test_mkdir_parent(void)
{
        char dir[128], path[256];
        snprintf(dir, sizeof(dir), "/tmp/ss_test_util_%d", (int)getpid());
        snprintf(path, sizeof(path), "%s/a/b/model.ssm", dir);
        CHECK(ss_file_mkdir_parent(path) == 0);
        struct stat st;
        snprintf(path, sizeof(path), "%s/a/b", dir);
        CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
        snprintf(path, sizeof(path), "%s/a/b/model.ssm", dir);
        CHECK(ss_file_mkdir_parent(path) == 0); /* existing: fine */
        CHECK(ss_file_mkdir_parent("model.ssm") == 0);
        snprintf(path, sizeof(path), "%s/a/b", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/a", dir);
        rmdir(path);
        rmdir(dir);
}

int main(void)
{
        test_array_grow();
        test_mkdir_parent();
        return ss_test_finish();
}
