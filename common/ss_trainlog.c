/*
 * ss_trainlog: a function pointer and its argument; trainers call
 * ss_trainlog_metric() where they already draw their progress lines.
 */
#include "ss_trainlog.h"

#include <stddef.h>

static ss_trainlog_fn ss_trainlog_sink;
static void *ss_trainlog_opaque;

void ss_trainlog_set(ss_trainlog_fn fn, void *opaque)
{
        ss_trainlog_sink = fn;
        ss_trainlog_opaque = opaque;
}

void ss_trainlog_metric(const char *key, double value, int64_t step)
{
        if (ss_trainlog_sink)
                ss_trainlog_sink(ss_trainlog_opaque, key, value, step);
}
