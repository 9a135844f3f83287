/*
 * rconn: one Redis connection, plain or TLS. The Debian hiredis (0.14) has no TLS support
 * (hiredis_ssl arrived in hiredis 1.0), so a TLS connection is an OpenSSL client over a
 * socket, with hiredis still doing the protocol: redisFormatCommandArgv() writes each
 * command and a redisReader parses the replies. A plain connection is a redisContext.
 * Either way a command returns hiredis' redisReply.
 *
 * TLS always verifies the server: its chain against ca_file and its name against
 * server_name (the host when empty); a client certificate is sent when cert_file is set.
 */
#ifndef SS_RCONN_H
#define SS_RCONN_H

#include <stddef.h>

#include "ss_err.h"

struct redisReply;
struct redisReader;

/* Most array elements in one reply, all levels together (a reply header such as
 * `*1251980012` otherwise makes hiredis 0.14 allocate 10 GB before any element arrives). */
#define SS_RCONN_MAX_ELEMENTS (4 * 1024 * 1024)

/* Bounds the array elements a hiredis reader may allocate: *budget is decreased by each
 * array's size and a reply that would take it below zero fails as a protocol error ("Out
 * of memory" from hiredis) instead of allocating. Reset *budget before each reply. */
void ss_rconn_reader_limit(struct redisReader *r, long long *budget);

typedef struct ss_rconn_opts {
        const char *host;
        int port;
        int timeout_ms;          /* connect, and each command's send and reply */
        int tls;                 /* 0: plain */
        const char *ca_file;     /* TLS: CA bundle (PEM) the server's chain must lead to */
        const char *cert_file;   /* TLS: client certificate (PEM), or NULL/"" */
        const char *key_file;    /* TLS: its private key (PEM) */
        const char *server_name; /* TLS: name to verify and send as SNI; NULL/"" = host */
} ss_rconn_opts_t;

typedef struct ss_rconn ss_rconn_t;

/* Connects (and completes the TLS handshake) into *out; caller frees with ss_rconn_close().
 * SS_ERR_REDIS when the server cannot be reached or the connection drops, SS_ERR_CONFIG for
 * bad TLS settings or a server that fails verification (wrong CA, wrong name). */
ss_err_t ss_rconn_open(const ss_rconn_opts_t *o, ss_rconn_t **out, char *errstr,
                       size_t errstr_size);

void ss_rconn_close(ss_rconn_t *c);

/* Sends one command and reads its reply (caller frees with freeReplyObject()). NULL on an
 * I/O or protocol error, with the reason in errstr: the connection is then unusable. */
struct redisReply *ss_rconn_command(ss_rconn_t *c, int argc, const char **argv, const size_t *lens,
                                    char *errstr, size_t errstr_size);

#endif /* SS_RCONN_H */
