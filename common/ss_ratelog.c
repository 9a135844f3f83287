/*
 * ss_ratelog: per-reason token of one line per interval. A reason's slot keeps the time of
 * its last logged line and the count held back since; a line is logged when the slot is new
 * or its interval has passed, with the held-back count appended, and the count restarts.
 * Slots are a small fixed array searched linearly (a handful of error names in practice);
 * the last slot is the shared "other" once the array is full. The message is formatted only
 * when it is logged.
 */
#include "ss_ratelog.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ss_ratelog_slot {
        char reason[64];
        int64_t last_ms; /* when its last line was logged */
        uint64_t held;   /* lines held back since */
} ss_ratelog_slot_t;

struct ss_ratelog {
        char component[64];
        int64_t interval_ms;
        pthread_mutex_t lock;
        ss_ratelog_slot_t slots[SS_RATELOG_MAX_REASONS]; /* [nslots] used */
        int nslots;
};

ss_ratelog_t *ss_ratelog_new(const char *component, int64_t interval_ms)
{
        ss_ratelog_t *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        snprintf(r->component, sizeof(r->component), "%s", component ? component : "log");
        r->interval_ms = interval_ms < 0 ? 0 : interval_ms;
        pthread_mutex_init(&r->lock, NULL);
        return r;
}

void ss_ratelog_destroy(ss_ratelog_t *r)
{
        if (!r)
                return;
        for (int i = 0; i < r->nslots; i++)
                if (r->slots[i].held)
                        ss_warn(r->component, "%llu more %s not logged",
                                (unsigned long long)r->slots[i].held, r->slots[i].reason);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

/* The slot of reason, created when new; the shared last slot once the array is full. */
static ss_ratelog_slot_t *ss_ratelog_slot(ss_ratelog_t *r, const char *reason, bool *is_new)
{
        *is_new = false;
        for (int i = 0; i < r->nslots; i++)
                if (!strcmp(r->slots[i].reason, reason))
                        return &r->slots[i];
        if (r->nslots >= SS_RATELOG_MAX_REASONS - 1) {
                ss_ratelog_slot_t *other = &r->slots[SS_RATELOG_MAX_REASONS - 1];
                if (r->nslots < SS_RATELOG_MAX_REASONS) {
                        snprintf(other->reason, sizeof(other->reason), "other");
                        r->nslots = SS_RATELOG_MAX_REASONS;
                        *is_new = true;
                }
                return other;
        }
        ss_ratelog_slot_t *s = &r->slots[r->nslots++];
        snprintf(s->reason, sizeof(s->reason), "%s", reason);
        *is_new = true;
        return s;
}

bool ss_ratelog_log(ss_ratelog_t *r, int64_t now_ms, ss_log_level_t level, const char *reason,
                    const char *fmt, ...)
{
        if (level < ss_log_level_get())
                return false;
        pthread_mutex_lock(&r->lock);
        bool is_new;
        ss_ratelog_slot_t *s = ss_ratelog_slot(r, reason ? reason : "", &is_new);
        if (!is_new && now_ms - s->last_ms < r->interval_ms) {
                s->held++;
                pthread_mutex_unlock(&r->lock);
                return false;
        }
        uint64_t held = s->held;
        int64_t since = now_ms - s->last_ms;
        s->held = 0;
        s->last_ms = now_ms;
        pthread_mutex_unlock(&r->lock);

        char msg[1536];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (held)
                ss_log(level, r->component, "%s (%llu more %s not logged in the last %.1f s)", msg,
                       (unsigned long long)held, s->reason, (double)since / 1000.0);
        else
                ss_log(level, r->component, "%s", msg);
        return true;
}

uint64_t ss_ratelog_held(ss_ratelog_t *r, const char *reason)
{
        uint64_t n = 0;
        pthread_mutex_lock(&r->lock);
        for (int i = 0; i < r->nslots; i++)
                if (!strcmp(r->slots[i].reason, reason))
                        n = r->slots[i].held;
        pthread_mutex_unlock(&r->lock);
        return n;
}
