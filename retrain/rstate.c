/*
 * rstate: the worker's locks, fencing tokens and handled-event records (see rstate.h).
 * Each operation is one Redis command, so each is atomic on the server: SET NX PX takes a
 * lock, a Lua script compares the holder before it extends or deletes (a GET then DEL
 * from the client could delete a lock that expired and was taken by another worker in
 * between), INCR hands out fencing tokens, SET NX records an event once.
 */
#include "rstate.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPT(t) (1u << (t))

static const char *const lua_release =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";
static const char *const lua_renew =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], "
    "ARGV[2]) else return 0 end";

static void rkey(const ss_mstate_t *s, const char *what, const char *id, char *buf, size_t size)
{
        char suffix[600];
        snprintf(suffix, sizeof(suffix), "retrain:%s:%s", what, id);
        ss_mstate_key(s, suffix, buf, size);
}

ss_err_t ss_rstate_lock_acquire(ss_mstate_t *s, const char *model, const char *token,
                                int64_t ttl_ms, int *got, char *errstr, size_t errstr_size)
{
        char key[1024], ttl[32];
        rkey(s, "lock", model, key, sizeof(key));
        snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
        const char *argv[] = {"SET", key, token, "NX", "PX", ttl};
        redisReply *r;
        *got = 0;
        ss_err_t err = ss_mstate_command(s, 6, argv, NULL,
                                         ACCEPT(REDIS_REPLY_STATUS) | ACCEPT(REDIS_REPLY_NIL), &r,
                                         errstr, errstr_size);
        if (err)
                return err;
        *got = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        return SS_OK;
}

static ss_err_t eval_int(ss_mstate_t *s, const char *script, const char *key, const char *a1,
                         const char *a2, long long *out, char *errstr, size_t errstr_size)
{
        const char *argv[] = {"EVAL", script, "1", key, a1, a2};
        redisReply *r;
        ss_err_t err = ss_mstate_command(s, a2 ? 6 : 5, argv, NULL, ACCEPT(REDIS_REPLY_INTEGER), &r,
                                         errstr, errstr_size);
        if (err)
                return err;
        *out = r->integer;
        freeReplyObject(r);
        return SS_OK;
}

ss_err_t ss_rstate_lock_renew(ss_mstate_t *s, const char *model, const char *token, int64_t ttl_ms,
                              int *held, char *errstr, size_t errstr_size)
{
        char key[1024], ttl[32];
        rkey(s, "lock", model, key, sizeof(key));
        snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
        long long v = 0;
        ss_err_t err = eval_int(s, lua_renew, key, token, ttl, &v, errstr, errstr_size);
        *held = !err && v == 1;
        return err;
}

ss_err_t ss_rstate_lock_release(ss_mstate_t *s, const char *model, const char *token, char *errstr,
                                size_t errstr_size)
{
        char key[1024];
        rkey(s, "lock", model, key, sizeof(key));
        long long v = 0;
        return eval_int(s, lua_release, key, token, NULL, &v, errstr, errstr_size);
}

ss_err_t ss_rstate_fence_next(ss_mstate_t *s, const char *model, int64_t *token, char *errstr,
                              size_t errstr_size)
{
        char key[1024];
        rkey(s, "fence", model, key, sizeof(key));
        const char *argv[] = {"INCR", key};
        redisReply *r;
        ss_err_t err = ss_mstate_command(s, 2, argv, NULL, ACCEPT(REDIS_REPLY_INTEGER), &r, errstr,
                                         errstr_size);
        if (err)
                return err;
        *token = r->integer;
        freeReplyObject(r);
        return SS_OK;
}

ss_err_t ss_rstate_done_get(ss_mstate_t *s, const char *event_id, char **json, char *errstr,
                            size_t errstr_size)
{
        char suffix[600];
        size_t len = 0;
        snprintf(suffix, sizeof(suffix), "retrain:done:%s", event_id);
        return ss_mstate_get(s, suffix, json, &len, errstr, errstr_size);
}

ss_err_t ss_rstate_done_set(ss_mstate_t *s, const char *event_id, const char *json, int *first,
                            char *errstr, size_t errstr_size)
{
        char key[1024];
        rkey(s, "done", event_id, key, sizeof(key));
        const char *argv[] = {"SET", key, json, "NX"};
        redisReply *r;
        *first = 0;
        ss_err_t err = ss_mstate_command(s, 4, argv, NULL,
                                         ACCEPT(REDIS_REPLY_STATUS) | ACCEPT(REDIS_REPLY_NIL), &r,
                                         errstr, errstr_size);
        if (err)
                return err;
        *first = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        return SS_OK;
}
