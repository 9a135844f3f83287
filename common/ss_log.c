/*
 * ss_log: minimal leveled logging to stderr with UTC millisecond timestamps.
 * One fprintf per line so that lines from several threads do not interleave.
 */
#include "ss_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int ss_log_level = -1;

static const char *ss_log_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void ss_log_level_set(ss_log_level_t level)
{
        ss_log_level = (int)level;
}

ss_log_level_t ss_log_level_get(void)
{
        if (ss_log_level < 0) {
                const char *env = getenv("SS_LOG_LEVEL");
                ss_log_level = SS_LOG_INFO;
                if (env) {
                        for (int i = 0; i < 4; i++)
                                if (!strcasecmp(env, ss_log_names[i]))
                                        ss_log_level = i;
                        if (!strcasecmp(env, "warning"))
                                ss_log_level = SS_LOG_WARN;
                }
        }
        return (ss_log_level_t)ss_log_level;
}

void ss_log(ss_log_level_t level, const char *component, const char *fmt, ...)
{
        if (level < ss_log_level_get())
                return;
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char when[32];
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", when, ts.tv_nsec / 1000000L, ss_log_names[level],
                component, msg);
}
