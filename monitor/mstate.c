/*
 * mstate: a thin hiredis layer. Every command goes through mstate_cmd(),
 * which handles the three outcomes the same way everywhere: an I/O error
 * (connection dropped, timeout) frees the context and arms the reconnection
 * backoff; a Redis error reply is returned as SS_ERR_REDIS with its text; a
 * reply of the expected type goes back to the caller. Binary values travel
 * through redisCommandArgv with explicit lengths.
 */
#include "mstate.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "rconn.h"
#include "ss_log.h"
#include "ss_util.h"

#define BACKOFF_MIN_MS 100

struct ss_mstate {
        char *host;
        int port;
        int timeout_ms;
        int backoff_max_ms;
        char *prefix;
        char *user, *password; /* AUTH after each connect when password is set */
        int tls;
        char *tls_ca, *tls_cert, *tls_key, *tls_name;
        ss_rconn_t *ctx;
        int backoff_ms;  /* current wait between attempts */
        double next_try; /* monotonic seconds */
        int was_up;      /* for one log line per transition */
};

ss_mstate_t *ss_mstate_new(const char *host, int port, int timeout_ms, int backoff_max_ms,
                           const char *prefix)
{
        ss_mstate_t *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->host = strdup(host);
        s->prefix = strdup(prefix);
        if (!s->host || !s->prefix) {
                ss_mstate_destroy(s);
                return NULL;
        }
        s->port = port;
        s->timeout_ms = timeout_ms;
        s->backoff_max_ms = backoff_max_ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : backoff_max_ms;
        s->backoff_ms = BACKOFF_MIN_MS;
        return s;
}

void ss_mstate_destroy(ss_mstate_t *s)
{
        if (!s)
                return;
        ss_rconn_close(s->ctx);
        free(s->tls_ca);
        free(s->tls_cert);
        free(s->tls_key);
        free(s->tls_name);
        free(s->host);
        free(s->prefix);
        free(s->user);
        free(s->password);
        free(s);
}

int ss_mstate_up(const ss_mstate_t *s)
{
        return s->ctx != NULL;
}

const char *ss_mstate_key(const ss_mstate_t *s, const char *suffix, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s", s->prefix, suffix);
        return buf;
}

ss_err_t ss_mstate_tls_set(ss_mstate_t *s, const char *ca, const char *cert, const char *key,
                           const char *server_name)
{
        char *v[4] = {strdup(ca ? ca : ""), strdup(cert ? cert : ""), strdup(key ? key : ""),
                      strdup(server_name ? server_name : "")};
        if (!v[0] || !v[1] || !v[2] || !v[3]) {
                for (int i = 0; i < 4; i++)
                        free(v[i]);
                return SS_ERR_NOMEM;
        }
        free(s->tls_ca);
        free(s->tls_cert);
        free(s->tls_key);
        free(s->tls_name);
        s->tls_ca = v[0], s->tls_cert = v[1], s->tls_key = v[2], s->tls_name = v[3];
        s->tls = 1;
        return SS_OK;
}

ss_err_t ss_mstate_security_from(ss_mstate_t *s, const ss_config_t *c)
{
        ss_err_t err = ss_mstate_auth_set(s, ss_config_get_str(c, "redis.user"),
                                          ss_config_get_str(c, "redis.password"));
        if (!err && ss_config_get_bool(c, "redis.tls.enable"))
                err = ss_mstate_tls_set(s, ss_config_get_str(c, "redis.tls.ca"),
                                        ss_config_get_str(c, "redis.tls.cert"),
                                        ss_config_get_str(c, "redis.tls.key"),
                                        ss_config_get_str(c, "redis.tls.server_name"));
        return err;
}

ss_err_t ss_mstate_auth_set(ss_mstate_t *s, const char *user, const char *password)
{
        char *u = strdup(user ? user : ""), *p = strdup(password ? password : "");
        if (!u || !p) {
                free(u);
                free(p);
                return SS_ERR_NOMEM;
        }
        free(s->user);
        free(s->password);
        s->user = u;
        s->password = p;
        return SS_OK;
}

static void mstate_down(ss_mstate_t *s, const char *why)
{
        ss_rconn_close(s->ctx);
        s->ctx = NULL;
        if (s->was_up)
                ss_warn("redis", "%s:%d unreachable (%s); retrying with backoff", s->host, s->port,
                        why);
        s->was_up = 0;
        s->next_try = ss_time_mono() + s->backoff_ms / 1000.0;
        s->backoff_ms =
            s->backoff_ms * 2 > s->backoff_max_ms ? s->backoff_max_ms : s->backoff_ms * 2;
}

/* AUTH [user] password on a new connection (without a password, a PING: a server that
 * wants one says NOAUTH, where a first real command may only see the connection closed).
 * A refused or missing password is SS_ERR_CONFIG (the caller's backoff still applies: no
 * hot loop); the message never holds the password. */
static ss_err_t mstate_auth(ss_mstate_t *s, ss_rconn_t *c, char *errstr, size_t errstr_size)
{
        const char *argv[3] = {"AUTH", s->user, s->password};
        int argc = 3;
        if (!s->password || !*s->password) {
                argv[0] = "PING";
                argc = 1;
        } else if (!*s->user) {
                argv[1] = s->password;
                argc = 2;
        }
        redisReply *r = ss_rconn_command(c, argc, argv, NULL, errstr, errstr_size);
        ss_err_t err = SS_OK;
        if (!r)
                err = SS_ERR_REDIS;
        else if (r->type == REDIS_REPLY_ERROR && argc == 1)
                err = ss_err_set(
                    errstr, errstr_size, SS_ERR_CONFIG,
                    "redis %s:%d: %s: set redis.password (and redis.user)", s->host, s->port,
                    !strncmp(r->str, "NOAUTH", 6) ? "requires authentication" : r->str);
        else if (r->type == REDIS_REPLY_ERROR)
                err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                 "redis %s:%d: authentication as %s%s%s failed: %s (check "
                                 "redis.user and redis.password)",
                                 s->host, s->port, *s->user ? "user '" : "the default user",
                                 s->user, *s->user ? "'" : "", r->str);
        if (err && err != SS_ERR_REDIS)
                ss_error("redis", "%s; next attempt in %.1f s", errstr ? errstr : "AUTH failed",
                         s->backoff_ms / 1000.0);
        freeReplyObject(r);
        return err;
}

ss_err_t ss_mstate_ensure(ss_mstate_t *s, char *errstr, size_t errstr_size)
{
        if (s->ctx)
                return SS_OK;
        if (ss_time_mono() < s->next_try)
                return ss_err_set(errstr, errstr_size, SS_ERR_REDIS,
                                  "redis %s:%d down, next attempt in %.1f s", s->host, s->port,
                                  s->next_try - ss_time_mono());
        ss_rconn_opts_t o = {s->host,   s->port,     s->timeout_ms, s->tls,
                             s->tls_ca, s->tls_cert, s->tls_key,    s->tls_name};
        ss_rconn_t *c;
        ss_err_t err = ss_rconn_open(&o, &c, errstr, errstr_size);
        if (err) {
                if (err == SS_ERR_CONFIG)
                        ss_error("redis", "%s; next attempt in %.1f s",
                                 errstr ? errstr : "TLS setup failed", s->backoff_ms / 1000.0);
                mstate_down(s, errstr ? errstr : "connect failed");
                return err;
        }
        err = mstate_auth(s, c, errstr, errstr_size);
        if (err) {
                ss_rconn_close(c);
                mstate_down(s, "authentication failed");
                return err;
        }
        s->ctx = c;
        s->backoff_ms = BACKOFF_MIN_MS;
        if (!s->was_up)
                ss_info("redis", "connected to %s:%d", s->host, s->port);
        s->was_up = 1;
        return SS_OK;
}

/* Runs one command; on success *out holds a reply of one of the accepted types (a mask of
 * 1 << REDIS_REPLY_*), which the caller frees. */
static ss_err_t mstate_cmd(ss_mstate_t *s, int argc, const char **argv, const size_t *lens,
                           unsigned accept, redisReply **out, char *errstr, size_t errstr_size)
{
        *out = NULL;
        ss_err_t err = ss_mstate_ensure(s, errstr, errstr_size);
        if (err)
                return err;
        char why[512];
        redisReply *r = ss_rconn_command(s->ctx, argc, argv, lens, why, sizeof(why));
        if (!r) {
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "%s", why);
                mstate_down(s, why); /* frees the connection */
                return SS_ERR_REDIS;
        }
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6)) {
                /* a server that wants a password we do not have: back off as for a lost one */
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "redis %s:%d requires authentication: set redis.password (and "
                           "redis.user)",
                           s->host, s->port);
                freeReplyObject(r);
                if (s->was_up)
                        ss_error("redis", "%s", errstr ? errstr : "NOAUTH");
                mstate_down(s, "authentication required");
                return SS_ERR_CONFIG;
        }
        if (r->type == REDIS_REPLY_ERROR || !(accept & (1u << r->type))) {
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s %s: %s", argv[0],
                           argc > 1 ? argv[1] : "",
                           r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
                freeReplyObject(r);
                return SS_ERR_REDIS;
        }
        *out = r;
        return SS_OK;
}

#define ACCEPT(t) (1u << (t))

ss_err_t ss_mstate_command(ss_mstate_t *s, int argc, const char **argv, const size_t *lens,
                           unsigned accept, redisReply **out, char *errstr, size_t errstr_size)
{
        return mstate_cmd(s, argc, argv, lens, accept, out, errstr, errstr_size);
}

ss_err_t ss_mstate_get(ss_mstate_t *s, const char *suffix, char **data, size_t *len, char *errstr,
                       size_t errstr_size)
{
        char key[512];
        const char *argv[] = {"GET", ss_mstate_key(s, suffix, key, sizeof(key))};
        redisReply *r;
        *data = NULL;
        *len = 0;
        ss_err_t err =
            mstate_cmd(s, 2, argv, NULL, ACCEPT(REDIS_REPLY_STRING) | ACCEPT(REDIS_REPLY_NIL), &r,
                       errstr, errstr_size);
        if (err)
                return err;
        if (r->type == REDIS_REPLY_STRING) {
                *data = malloc(r->len + 1);
                if (!*data) {
                        freeReplyObject(r);
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                }
                memcpy(*data, r->str, r->len);
                (*data)[r->len] = '\0';
                *len = r->len;
        }
        freeReplyObject(r);
        return SS_OK;
}

ss_err_t ss_mstate_set(ss_mstate_t *s, const char *suffix, const void *data, size_t len,
                       char *errstr, size_t errstr_size)
{
        char key[512];
        const char *argv[] = {"SET", ss_mstate_key(s, suffix, key, sizeof(key)), data};
        size_t lens[] = {3, strlen(key), len};
        redisReply *r;
        ss_err_t err =
            mstate_cmd(s, 3, argv, lens, ACCEPT(REDIS_REPLY_STATUS), &r, errstr, errstr_size);
        if (!err)
                freeReplyObject(r);
        return err;
}

ss_err_t ss_mstate_sadd(ss_mstate_t *s, const char *suffix, const char *member, char *errstr,
                        size_t errstr_size)
{
        char key[512];
        const char *argv[] = {"SADD", ss_mstate_key(s, suffix, key, sizeof(key)), member};
        redisReply *r;
        ss_err_t err =
            mstate_cmd(s, 3, argv, NULL, ACCEPT(REDIS_REPLY_INTEGER), &r, errstr, errstr_size);
        if (!err)
                freeReplyObject(r);
        return err;
}

ss_err_t ss_mstate_smembers(ss_mstate_t *s, const char *suffix,
                            void (*cb)(void *opaque, const char *member), void *opaque,
                            char *errstr, size_t errstr_size)
{
        char key[512];
        const char *argv[] = {"SMEMBERS", ss_mstate_key(s, suffix, key, sizeof(key))};
        redisReply *r;
        ss_err_t err =
            mstate_cmd(s, 2, argv, NULL, ACCEPT(REDIS_REPLY_ARRAY), &r, errstr, errstr_size);
        if (err)
                return err;
        for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING)
                        cb(opaque, r->element[i]->str);
        freeReplyObject(r);
        return SS_OK;
}

/* Field value of a stream entry's flat [k1, v1, k2, v2, ...] array, or NULL. */
static const char *entry_field(const redisReply *kv, const char *name, size_t *len)
{
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
                const redisReply *k = kv->element[i], *v = kv->element[i + 1];
                if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                    !strcmp(k->str, name)) {
                        if (len)
                                *len = v->len;
                        return v->str;
                }
        }
        return NULL;
}

ss_err_t ss_mstate_labels_read(ss_mstate_t *s, char *last_id, size_t count,
                               void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque,
                               size_t *n_read, char *errstr, size_t errstr_size)
{
        char key[512], cnt[32];
        snprintf(cnt, sizeof(cnt), "%zu", count);
        const char *argv[] = {
            "XREAD", "COUNT", cnt, "STREAMS", ss_mstate_key(s, "labels", key, sizeof(key)),
            last_id};
        redisReply *r;
        *n_read = 0;
        ss_err_t err =
            mstate_cmd(s, 6, argv, NULL, ACCEPT(REDIS_REPLY_ARRAY) | ACCEPT(REDIS_REPLY_NIL), &r,
                       errstr, errstr_size);
        if (err)
                return err;
        *n_read = ss_mstate_labels_parse(r, last_id, cb, opaque);
        freeReplyObject(r);
        return SS_OK;
}

size_t ss_mstate_labels_parse(const struct redisReply *r, char *last_id,
                              void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque)
{
        size_t n_read = 0;
        /* [[key, [[id, [k, v, ...]], ...]]] */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
                const redisReply *entries = r->element[0]->element[1];
                for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
                     i++) {
                        ss_label_entry_t le;
                        if (ss_mstate_label_entry(entries->element[i], &le))
                                continue;
                        cb(opaque, &le);
                        snprintf(last_id, 64, "%s", le.id);
                        n_read++;
                }
        }
        return n_read;
}

int ss_mstate_label_entry(const redisReply *e, ss_label_entry_t *le)
{
        memset(le, 0, sizeof(*le));
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
                return -1;
        const redisReply *kv = e->element[1];
        le->id = e->element[0]->str;
        if (kv->type == REDIS_REPLY_ARRAY) {
                le->tweet_id = entry_field(kv, "tweet_id", &le->tweet_id_len);
                le->label = entry_field(kv, "label", NULL);
                le->labeled_at = entry_field(kv, "labeled_at", NULL);
                le->source = entry_field(kv, "source", NULL);
                le->text = entry_field(kv, "text", &le->text_len);
        }
        return 0;
}

ss_err_t ss_mstate_labels_newest(ss_mstate_t *s, size_t count,
                                 void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque,
                                 size_t *n_read, char *errstr, size_t errstr_size)
{
        char key[512], cnt[32];
        snprintf(cnt, sizeof(cnt), "%zu", count);
        const char *argv[] = {
            "XREVRANGE", ss_mstate_key(s, "labels", key, sizeof(key)), "+", "-", "COUNT", cnt};
        redisReply *r;
        *n_read = 0;
        ss_err_t err =
            mstate_cmd(s, 6, argv, NULL, ACCEPT(REDIS_REPLY_ARRAY), &r, errstr, errstr_size);
        if (err)
                return err;
        for (size_t i = 0; i < r->elements; i++) {
                ss_label_entry_t le;
                if (ss_mstate_label_entry(r->element[i], &le))
                        continue;
                cb(opaque, &le);
                (*n_read)++;
        }
        freeReplyObject(r);
        return SS_OK;
}

ss_err_t ss_mstate_labels_add(ss_mstate_t *s, const char *tweet_id, const char *label,
                              int64_t labeled_at_ms, const char *source, const char *text,
                              long long maxlen, char *errstr, size_t errstr_size)
{
        char key[512], at[32], ml[32];
        snprintf(at, sizeof(at), "%lld", (long long)labeled_at_ms);
        snprintf(ml, sizeof(ml), "%lld", maxlen);
        const char *argv[16];
        int argc = 0;
        argv[argc++] = "XADD";
        argv[argc++] = ss_mstate_key(s, "labels", key, sizeof(key));
        if (maxlen > 0) {
                argv[argc++] = "MAXLEN";
                argv[argc++] = "~";
                argv[argc++] = ml;
        }
        argv[argc++] = "*";
        argv[argc++] = "tweet_id";
        argv[argc++] = tweet_id;
        argv[argc++] = "label";
        argv[argc++] = label;
        argv[argc++] = "labeled_at";
        argv[argc++] = at;
        argv[argc++] = "source";
        argv[argc++] = source;
        if (text) {
                argv[argc++] = "text";
                argv[argc++] = text;
        }
        redisReply *r;
        ss_err_t err =
            mstate_cmd(s, argc, argv, NULL, ACCEPT(REDIS_REPLY_STRING), &r, errstr, errstr_size);
        if (!err)
                freeReplyObject(r);
        return err;
}
