/*
 * rstate: the retrain worker's records in Redis, on the monitor's connection layer
 * (mstate: reconnection, backoff, AUTH, TLS). Keys, under redis.prefix:
 *   <prefix>retrain:done:<event_id>   outcome JSON of a handled event (SET NX, no expiry):
 *                                     the durable "handled once" record, shared by every
 *                                     worker and surviving restarts (with Redis persistence)
 *   <prefix>retrain:lock:<model>      the per-model lock: value = the holder's token,
 *                                     SET NX PX retrain.lock.ttl.ms; renewed and released
 *                                     only by its holder (compare-and-set Lua scripts)
 *   <prefix>retrain:fence:<model>     INCR counter: each lock holder's fencing token
 * Every call returns SS_ERR_REDIS (or SS_ERR_CONFIG for refused credentials) when Redis
 * cannot be used; nothing is assumed then.
 */
#ifndef SS_RSTATE_H
#define SS_RSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "mstate.h"
#include "ss_err.h"

/* *got = 1 when the lock of model is now held with token (it was free or had expired). */
ss_err_t ss_rstate_lock_acquire(ss_mstate_t *s, const char *model, const char *token,
                                int64_t ttl_ms, int *got, char *errstr, size_t errstr_size);

/* Extends the lock's expiry when token still holds it; *held = 0 when it does not (it
 * expired and someone else may have it). */
ss_err_t ss_rstate_lock_renew(ss_mstate_t *s, const char *model, const char *token, int64_t ttl_ms,
                              int *held, char *errstr, size_t errstr_size);

/* Deletes the lock only when token holds it (never another worker's). */
ss_err_t ss_rstate_lock_release(ss_mstate_t *s, const char *model, const char *token, char *errstr,
                                size_t errstr_size);

/* The next fencing token of model (INCR): strictly increasing across workers. */
ss_err_t ss_rstate_fence_next(ss_mstate_t *s, const char *model, int64_t *token, char *errstr,
                              size_t errstr_size);

/* The outcome JSON of event_id into *json (caller frees), NULL when not handled yet. */
ss_err_t ss_rstate_done_get(ss_mstate_t *s, const char *event_id, char **json, char *errstr,
                            size_t errstr_size);

/* Records event_id as handled with its outcome JSON (SET NX); *first = 0 when another
 * record was already there (that one stays). */
ss_err_t ss_rstate_done_set(ss_mstate_t *s, const char *event_id, const char *json, int *first,
                            char *errstr, size_t errstr_size);

#endif /* SS_RSTATE_H */
