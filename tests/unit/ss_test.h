/*
 * ss_test: the few macros the unit tests share. A failed check prints the
 * file, line and expression and makes the executable exit non-zero; the
 * closing line reports "N passed, N failed".
 */
#ifndef SS_TEST_H
#define SS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ss_test_passed, ss_test_failed;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (cond) {                                                                        \
                        ss_test_passed++;                                                          \
                } else {                                                                           \
                        ss_test_failed++;                                                          \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
                }                                                                                  \
        } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
        do {                                                                                       \
                const char *ss_a_ = (a), *ss_b_ = (b);                                             \
                if (ss_a_ && ss_b_ && !strcmp(ss_a_, ss_b_)) {                                     \
                        ss_test_passed++;                                                          \
                } else {                                                                           \
                        ss_test_failed++;                                                          \
                        fprintf(stderr, "%s:%d: CHECK_STR_EQ failed: %s == \"%s\", want \"%s\"\n", \
                                __FILE__, __LINE__, #a, ss_a_ ? ss_a_ : "(null)",                  \
                                ss_b_ ? ss_b_ : "(null)");                                         \
                }                                                                                  \
        } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
        do {                                                                                       \
                double ss_a_ = (a), ss_b_ = (b);                                                   \
                if (fabs(ss_a_ - ss_b_) <= (tol)) {                                                \
                        ss_test_passed++;                                                          \
                } else {                                                                           \
                        ss_test_failed++;                                                          \
                        fprintf(stderr,                                                            \
                                "%s:%d: CHECK_NEAR failed: %s = %.9g, want %.9g (tol %g)\n",       \
                                __FILE__, __LINE__, #a, ss_a_, ss_b_, (double)(tol));              \
                }                                                                                  \
        } while (0)

/* Path of a file in the source tree (SS_SOURCE_DIR is set by ctest). */
static inline const char *ss_test_src_path(const char *rel, char *buf, size_t size)
{
        const char *root = getenv("SS_SOURCE_DIR");
        snprintf(buf, size, "%s/%s", root ? root : ".", rel);
        return buf;
}

static inline int ss_test_finish(void)
{
        printf("%d passed, %d failed\n", ss_test_passed, ss_test_failed);
        return ss_test_failed ? 1 : 0;
}

#endif /* SS_TEST_H */
