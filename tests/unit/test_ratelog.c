/*
 * test_ratelog: one line per reason per interval, the held-back count on the next line and
 * at destroy, reasons independent, interval 0 logs everything, the shared "other" slot.
 * stderr is captured in a temporary file and its lines counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_ratelog.h"
#include "ss_test.h"

static FILE *cap;
static int saved_fd;

static void capture_begin(void)
{
        fflush(stderr);
        cap = tmpfile();
        saved_fd = dup(2);
        dup2(fileno(cap), 2);
}

/* Ends the capture; returns the captured text (caller frees). */
static char *capture_end(void)
{
        fflush(stderr);
        dup2(saved_fd, 2);
        close(saved_fd);
        long n = ftell(cap);
        char *buf = calloc(1, (size_t)n + 1);
        rewind(cap);
        if (fread(buf, 1, (size_t)n, cap) != (size_t)n)
                buf[0] = '\0';
        fclose(cap);
        return buf;
}

static int count(const char *text, const char *sub)
{
        int n = 0;
        for (const char *p = text; (p = strstr(p, sub)); p++)
                n++;
        return n;
}

static void test_interval(void)
{
        ss_ratelog_t *r = ss_ratelog_new("consume", 10000);
        CHECK(r != NULL);
        capture_begin();
        int logged = 0;
        for (int i = 0; i < 100; i++)
                logged += ss_ratelog_log(r, 1000 + i, SS_LOG_WARN, "SS_ERR_UTF8", "bad %d", i);
        CHECK(ss_ratelog_held(r, "SS_ERR_UTF8") == 99);
        logged += ss_ratelog_log(r, 1050, SS_LOG_WARN, "SS_ERR_DECODE", "other reason");
        /* interval passed: the next line carries the count */
        logged += ss_ratelog_log(r, 11000, SS_LOG_WARN, "SS_ERR_UTF8", "bad again");
        CHECK(ss_ratelog_held(r, "SS_ERR_UTF8") == 0);
        logged += ss_ratelog_log(r, 11001, SS_LOG_WARN, "SS_ERR_UTF8", "held");
        ss_ratelog_destroy(r);
        char *out = capture_end();
        CHECK(logged == 3);
        CHECK(count(out, "\n") == 4); /* 3 lines + the count held back at destroy */
        CHECK(count(out, "bad 0") == 1);
        CHECK(count(out, "bad 1\n") == 0);
        CHECK(count(out, "other reason") == 1);
        CHECK(count(out, "bad again (99 more SS_ERR_UTF8 not logged in the last 10.0 s)") == 1);
        CHECK(count(out, "1 more SS_ERR_UTF8 not logged\n") == 1);
        free(out);
}

static void test_zero_interval_and_other(void)
{
        ss_ratelog_t *r = ss_ratelog_new("x", 0);
        capture_begin();
        int logged = 0;
        for (int i = 0; i < 5; i++)
                logged += ss_ratelog_log(r, 0, SS_LOG_WARN, "R", "line");
        ss_ratelog_destroy(r);
        free(capture_end());
        CHECK(logged == 5);

        r = ss_ratelog_new("x", 1000);
        capture_begin();
        char reason[32];
        logged = 0;
        for (int i = 0; i < SS_RATELOG_MAX_REASONS + 10; i++) {
                snprintf(reason, sizeof(reason), "r%d", i);
                logged += ss_ratelog_log(r, 0, SS_LOG_WARN, reason, "line %d", i);
        }
        ss_ratelog_destroy(r);
        char *out = capture_end();
        /* 31 own slots + the first line of "other"; the rest of "other" is held back */
        CHECK(logged == SS_RATELOG_MAX_REASONS);
        CHECK(count(out, "10 more other not logged") == 1);
        free(out);
}

int main(void)
{
        ss_log_level_set(SS_LOG_INFO);
        test_interval();
        test_zero_interval_and_other();
        return ss_test_finish();
}
