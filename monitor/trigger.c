/*
 * trigger: k-of-n breach histories as bit masks (bit 0 the latest
 * evaluation), one per stream, with a per-model cooldown and a reset on a
 * switch to a newer model version (which starts the cooldown). Pure state, no clock of its own: the
 * caller passes the evaluation's event time.
 */
#include "trigger.h"

#include <stdio.h>
#include <string.h>

int ss_trigger_init(ss_trigger_t *t, const ss_trigger_config_t *cfg)
{
        memset(t, 0, sizeof(*t));
        if (cfg->k < 1 || cfg->n < cfg->k || cfg->n > SS_TRIG_MAX_N || cfg->cooldown_ms < 0)
                return -1;
        t->cfg = *cfg;
        t->last_fire_ms = INT64_MIN;
        return 0;
}

static uint32_t window_mask(int n)
{
        return n >= 32 ? UINT32_MAX : ((uint32_t)1 << n) - 1;
}

int ss_trigger_breaches(const ss_trigger_t *t, int stream)
{
        return __builtin_popcount(t->hist[stream] & window_mask(t->cfg.n));
}

int ss_trigger_cooling(const ss_trigger_t *t, int64_t now_ms)
{
        /* streams run on different clocks (scored_at, labeled_at): an evaluation stamped
         * before the last event is inside the cooldown too, unless there is none */
        return t->cfg.cooldown_ms > 0 && t->last_fire_ms != INT64_MIN &&
               now_ms - t->last_fire_ms < t->cfg.cooldown_ms;
}

/* The switch to a newer version at at_ms: the cooldown starts there (none for the first
 * version of the model). */
static void trigger_reset(ss_trigger_t *t, const char *version, int64_t rank, int64_t at_ms)
{
        int first = !t->version[0];
        snprintf(t->version, sizeof(t->version), "%s", version);
        t->rank = rank;
        memset(t->hist, 0, sizeof(t->hist));
        memset(t->count, 0, sizeof(t->count));
        t->last_fire_ms = first ? INT64_MIN : at_ms;
        t->resets++;
}

/* >0 if (version, rank) is newer than the current one, 0 same, <0 older. */
static int version_cmp(const ss_trigger_t *t, const char *version, int64_t rank)
{
        if (!t->version[0])
                return 1;
        if (!strncmp(version, t->version, sizeof(t->version) - 1))
                return 0;
        if (rank != t->rank)
                return rank > t->rank ? 1 : -1;
        return strncmp(version, t->version, sizeof(t->version) - 1);
}

ss_trig_result_t ss_trigger_observe(ss_trigger_t *t, int stream, const char *version, int64_t rank,
                                    int breach, int64_t now_ms)
{
        if (stream < 0 || stream >= SS_TRIG_MAX_STREAMS)
                return SS_TRIG_STALE;
        int cmp = version_cmp(t, version, rank);
        if (cmp < 0)
                return SS_TRIG_STALE;
        if (cmp > 0)
                trigger_reset(t, version, rank, now_ms);
        t->hist[stream] = ((t->hist[stream] << 1) | (breach ? 1u : 0u)) & window_mask(t->cfg.n);
        if (t->count[stream] < (uint32_t)t->cfg.n)
                t->count[stream]++;
        if (ss_trigger_breaches(t, stream) < t->cfg.k)
                return breach ? SS_TRIG_BREACH : SS_TRIG_QUIET;
        if (ss_trigger_cooling(t, now_ms)) {
                t->suppressed++;
                return SS_TRIG_COOLDOWN;
        }
        t->hist[stream] = 0;
        t->count[stream] = 0;
        t->last_fire_ms = now_ms;
        t->fired++;
        return SS_TRIG_FIRE;
}

int ss_trigger_switch(ss_trigger_t *t, const char *version, int64_t rank, int64_t at_ms)
{
        int cmp = version_cmp(t, version, rank);
        if (cmp > 0)
                trigger_reset(t, version, rank, at_ms);
        return cmp > 0 ? 1 : cmp < 0 ? -1 : 0;
}

const char *ss_trig_result_name(ss_trig_result_t r)
{
        static const char *const names[] = {"quiet", "breach", "fire", "cooldown", "stale"};
        return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

void ss_trigger_save(const ss_trigger_t *t, ss_mbuf_t *b)
{
        ss_mbuf_put_str(b, t->version, strlen(t->version));
        ss_mbuf_put_i64(b, t->rank);
        for (int s = 0; s < SS_TRIG_MAX_STREAMS; s++) {
                ss_mbuf_put_u32(b, t->hist[s]);
                ss_mbuf_put_u32(b, t->count[s]);
        }
        ss_mbuf_put_i64(b, t->last_fire_ms);
        ss_mbuf_put_u64(b, t->fired);
        ss_mbuf_put_u64(b, t->suppressed);
        ss_mbuf_put_u64(b, t->resets);
}

int ss_trigger_load(ss_trigger_t *t, ss_mreader_t *r)
{
        ss_trigger_t n;
        if (ss_trigger_init(&n, &t->cfg))
                return -1;
        const char *v;
        size_t vlen = ss_mreader_str(r, &v);
        if (vlen >= sizeof(n.version))
                return -1;
        memcpy(n.version, v, vlen);
        n.version[vlen] = '\0';
        n.rank = ss_mreader_i64(r);
        for (int s = 0; s < SS_TRIG_MAX_STREAMS; s++) {
                n.hist[s] = ss_mreader_u32(r) & window_mask(n.cfg.n);
                n.count[s] = ss_mreader_u32(r);
        }
        n.last_fire_ms = ss_mreader_i64(r);
        n.fired = ss_mreader_u64(r);
        n.suppressed = ss_mreader_u64(r);
        n.resets = ss_mreader_u64(r);
        if (r->failed)
                return -1;
        *t = n;
        return 0;
}
