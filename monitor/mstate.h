/*
 * mstate: the monitor's Redis (hiredis, synchronous, with timeouts).
 *
 * Keys, all under the configured prefix (redis.prefix, default "sentistream:"):
 *   <prefix>labels                        stream of human labels (XADD by `sentistream
 *                                         label`): fields tweet_id, label, labeled_at, source
 *                                         and, when the annotator had it, text (the tweet,
 *                                         what the retrain worker trains on); trimmed to
 *                                         about redis.labels.maxlen entries
 *   <prefix>monitor:snapshot:<group>      binary snapshot: consumed offsets, the labels
 *                                         stream position, windows, join, triggers
 *   <prefix>monitor:sent:<model name>     set of retraining event ids already produced
 *   <prefix>monitor:report:<model name>   the latest report, JSON
 *
 * Redis going away never stops the caller: any I/O error drops the connection
 * and every call fails fast with SS_ERR_REDIS until a reconnection succeeds.
 * Reconnections are attempted from ss_mstate_ensure() no more often than a
 * backoff that starts at 100 ms and doubles up to backoff_max_ms (reset on
 * success). A reply of the wrong type (e.g. WRONGTYPE) is an error too but
 * keeps the connection.
 */
#ifndef SS_MSTATE_H
#define SS_MSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"
#include "ss_err.h"

typedef struct ss_mstate ss_mstate_t;

/* Creates the client (does not connect yet). Caller frees with ss_mstate_destroy(). */
ss_mstate_t *ss_mstate_new(const char *host, int port, int timeout_ms, int backoff_max_ms,
                           const char *prefix);
void ss_mstate_destroy(ss_mstate_t *s);

/* Credentials sent (AUTH [user] password) after every connect; an empty password sends
 * none. A refused AUTH is SS_ERR_CONFIG from ss_mstate_ensure() and the commands, with
 * Redis' reason and without the password; reconnection backs off as for a lost server. */
ss_err_t ss_mstate_auth_set(ss_mstate_t *s, const char *user, const char *password);

/* Applies redis.user, redis.password and redis.tls.* of c (auth_set, tls_set). */
ss_err_t ss_mstate_security_from(ss_mstate_t *s, const ss_config_t *c);

/* TLS for every connection (see rconn.h): ca is required, cert/key optional (a client
 * certificate), server_name the name to verify ("" = the host). A failed handshake or
 * verification is SS_ERR_REDIS with OpenSSL's reason, retried with the backoff. */
ss_err_t ss_mstate_tls_set(ss_mstate_t *s, const char *ca, const char *cert, const char *key,
                           const char *server_name);

/* Connects if not connected and the backoff allows. SS_OK when connected. */
ss_err_t ss_mstate_ensure(ss_mstate_t *s, char *errstr, size_t errstr_size);

/* 1 while connected. */
int ss_mstate_up(const ss_mstate_t *s);

/* The full key for a suffix: prefix + suffix, into buf. */
const char *ss_mstate_key(const ss_mstate_t *s, const char *suffix, char *buf, size_t size);

/* GET: *data = NULL when the key does not exist; otherwise caller frees *data. */
ss_err_t ss_mstate_get(ss_mstate_t *s, const char *suffix, char **data, size_t *len, char *errstr,
                       size_t errstr_size);
ss_err_t ss_mstate_set(ss_mstate_t *s, const char *suffix, const void *data, size_t len,
                       char *errstr, size_t errstr_size);
ss_err_t ss_mstate_sadd(ss_mstate_t *s, const char *suffix, const char *member, char *errstr,
                        size_t errstr_size);
/* Calls cb for every member of the set (NUL-terminated copies valid during the call). */
ss_err_t ss_mstate_smembers(ss_mstate_t *s, const char *suffix,
                            void (*cb)(void *opaque, const char *member), void *opaque,
                            char *errstr, size_t errstr_size);

/* One entry of the labels stream. Strings valid during the callback only; a field the
 * entry lacks is NULL. */
typedef struct ss_label_entry {
        const char *id; /* stream entry id, "1732519800123-0" */
        const char *tweet_id;
        size_t tweet_id_len;
        const char *label;
        const char *labeled_at;
        const char *source;
        const char *text; /* NULL from writers that did not send it (or --no-text) */
        size_t text_len;
} ss_label_entry_t;

/*
 * Reads up to count entries of the labels stream after last_id (in/out, a
 * buffer of at least 64 bytes; "0" reads from the start) and calls cb for
 * each. last_id advances past every entry delivered. *n_read gets the count.
 */
ss_err_t ss_mstate_labels_read(ss_mstate_t *s, char *last_id, size_t count,
                               void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque,
                               size_t *n_read, char *errstr, size_t errstr_size);

/*
 * The walk of ss_mstate_labels_read() over an XREAD reply (hiredis' redisReply):
 * calls cb for each well-formed entry, skips malformed ones, advances last_id.
 * Returns the number of entries delivered. Any reply shape is accepted.
 */
struct redisReply;
size_t ss_mstate_labels_parse(const struct redisReply *r, char *last_id,
                              void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque);

/*
 * Reads the newest count entries of the labels stream, newest first (XREVRANGE + - COUNT),
 * and calls cb for each well-formed one. *n_read gets the count delivered.
 */
ss_err_t ss_mstate_labels_newest(ss_mstate_t *s, size_t count,
                                 void (*cb)(void *opaque, const ss_label_entry_t *e), void *opaque,
                                 size_t *n_read, char *errstr, size_t errstr_size);

/* The fields of one stream entry ([id, [k1, v1, ...]]) into *le; 0, or -1 when it is not
 * an entry. Strings point into e. */
int ss_mstate_label_entry(const struct redisReply *e, ss_label_entry_t *le);

/* XADD of one label (for `sentistream label`). text may be NULL (no text field); maxlen > 0
 * trims the stream to about that many entries (MAXLEN ~), 0 does not trim. */
ss_err_t ss_mstate_labels_add(ss_mstate_t *s, const char *tweet_id, const char *label,
                              int64_t labeled_at_ms, const char *source, const char *text,
                              long long maxlen, char *errstr, size_t errstr_size);

/*
 * Runs one Redis command for a module that keeps its own keys on this connection (the
 * retrain worker's locks and records): same reconnection, backoff and error rules as every
 * call here. accept is a mask of 1 << REDIS_REPLY_* types; on SS_OK *out holds the reply,
 * which the caller frees with freeReplyObject(). lens may be NULL (NUL-terminated argv).
 */
ss_err_t ss_mstate_command(ss_mstate_t *s, int argc, const char **argv, const size_t *lens,
                           unsigned accept, struct redisReply **out, char *errstr,
                           size_t errstr_size);

#endif /* SS_MSTATE_H */
