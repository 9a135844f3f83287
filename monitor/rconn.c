/*
 * rconn: a plain connection is hiredis' redisContext with its timeouts; a TLS connection
 * is a blocking TCP socket (connect bounded by poll, send/receive by SO_SNDTIMEO and
 * SO_RCVTIMEO), an OpenSSL client on it (TLS 1.2+, peer and host name verified), the
 * command bytes from redisFormatCommandArgv() and a redisReader fed with what SSL_read()
 * returns until it yields one reply.
 */
#include "rconn.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct ss_rconn {
        long long budget;  /* array elements the current reply may still allocate */
        redisContext *ctx; /* plain */
        int fd;            /* TLS: the socket, SSL on it, the reply parser */
        SSL_CTX *ssl_ctx;
        SSL *ssl;
        redisReader *reader;
        char where[300]; /* "host:port" for messages */
};

/* hiredis' own reply functions, with createArray bounded by the reader's budget. */
static redisReplyObjectFunctions ss_rconn_fns;
static redisReplyObjectFunctions *ss_rconn_default_fns;
static pthread_once_t ss_rconn_fns_once = PTHREAD_ONCE_INIT;

static void *ss_rconn_create_array(const redisReadTask *task, int elements)
{
        long long *budget = task->privdata;
        if (!budget || elements < 0 || elements > *budget)
                return NULL; /* the reader reports it and the connection is dropped */
        *budget -= elements;
        return ss_rconn_default_fns->createArray(task, elements);
}

static void ss_rconn_fns_init(void)
{
        redisReader *r = redisReaderCreate(); /* its fn points at hiredis' static defaults */
        if (!r)
                abort();
        ss_rconn_default_fns = r->fn;
        redisReaderFree(r);
        ss_rconn_fns = *ss_rconn_default_fns;
        ss_rconn_fns.createArray = ss_rconn_create_array;
}

void ss_rconn_reader_limit(redisReader *r, long long *budget)
{
        pthread_once(&ss_rconn_fns_once, ss_rconn_fns_init);
        r->fn = &ss_rconn_fns;
        r->privdata = budget;
}

/* The most recent OpenSSL error as text (or what). */
static const char *ss_rconn_ssl_err(const char *what, char *buf, size_t size)
{
        unsigned long e = ERR_get_error();
        if (!e)
                return what;
        ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

/* A TCP connection to host:port within timeout_ms, with send/receive timeouts set. */
static int ss_rconn_tcp(const ss_rconn_opts_t *o, char *errstr, size_t errstr_size)
{
        char port[16];
        snprintf(port, sizeof(port), "%d", o->port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
        int rc = getaddrinfo(o->host, port, &hints, &res);
        if (rc) {
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s:%d: %s", o->host, o->port,
                           gai_strerror(rc));
                return -1;
        }
        int fd = -1;
        const char *why = "no address";
        for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0)
                        continue;
                int fl = fcntl(fd, F_GETFL);
                fcntl(fd, F_SETFL, fl | O_NONBLOCK);
                if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EINPROGRESS) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        int err = 0;
                        socklen_t len = sizeof(err);
                        if (poll(&p, 1, o->timeout_ms) != 1)
                                err = ETIMEDOUT;
                        else
                                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                        errno = err;
                } else if (errno == 0 || errno == EISCONN) {
                        errno = 0;
                }
                if (errno) {
                        why = strerror(errno);
                        close(fd);
                        fd = -1;
                        continue;
                }
                fcntl(fd, F_SETFL, fl);
                struct timeval tv = {o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        freeaddrinfo(res);
        if (fd < 0)
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s:%d: %s", o->host, o->port,
                           why);
        return fd;
}

static ss_err_t ss_rconn_tls_open(ss_rconn_t *c, const ss_rconn_opts_t *o, char *errstr,
                                  size_t errstr_size)
{
        char buf[256];
        const char *name = o->server_name && *o->server_name ? o->server_name : o->host;
        if (!o->ca_file || !*o->ca_file)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "redis %s: TLS needs redis.tls.ca (the CA that signed the "
                                  "server's certificate)",
                                  c->where);
        c->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ssl_ctx)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "redis %s: SSL_CTX_new",
                                  c->where);
        SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, o->ca_file, NULL) != 1)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "redis %s: cannot load redis.tls.ca %s: %s", c->where, o->ca_file,
                                  ss_rconn_ssl_err("load failed", buf, sizeof(buf)));
        if (o->cert_file && *o->cert_file &&
            (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, o->cert_file) != 1 ||
             SSL_CTX_use_PrivateKey_file(c->ssl_ctx, o->key_file ? o->key_file : "",
                                         SSL_FILETYPE_PEM) != 1))
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "redis %s: cannot load redis.tls.cert %s / redis.tls.key: %s",
                                  c->where, o->cert_file,
                                  ss_rconn_ssl_err("load failed", buf, sizeof(buf)));
        if ((c->fd = ss_rconn_tcp(o, errstr, errstr_size)) < 0)
                return SS_ERR_REDIS;
        if (!(c->ssl = SSL_new(c->ssl_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "redis %s: SSL_new", c->where);
        SSL_set_tlsext_host_name(c->ssl, name);
        /* the certificate must name the server: an IP address literal against its IP
         * SANs, a host name against its DNS names */
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1 ||
                 X509_VERIFY_PARAM_set1_host(vp, name, 0) == 1;
        if (!ok)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "redis %s: bad TLS server name '%s'", c->where, name);
        if (SSL_connect(c->ssl) != 1) {
                /* a server that fails verification is a configuration problem, not an outage */
                long v = SSL_get_verify_result(c->ssl);
                return ss_err_set(errstr, errstr_size,
                                  v != X509_V_OK ? SS_ERR_CONFIG : SS_ERR_REDIS,
                                  "redis %s: TLS handshake failed: %s%s%s", c->where,
                                  ss_rconn_ssl_err("connection closed", buf, sizeof(buf)),
                                  v != X509_V_OK ? "; certificate: " : "",
                                  v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        }
        if (!(c->reader = redisReaderCreate()))
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "redis %s: reader", c->where);
        ss_rconn_reader_limit(c->reader, &c->budget);
        return SS_OK;
}

ss_err_t ss_rconn_open(const ss_rconn_opts_t *o, ss_rconn_t **out, char *errstr, size_t errstr_size)
{
        *out = NULL;
        ss_rconn_t *c = calloc(1, sizeof(*c));
        if (!c)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "redis: out of memory");
        c->fd = -1;
        snprintf(c->where, sizeof(c->where), "%s:%d", o->host, o->port);
        if (o->tls) {
                ss_err_t err = ss_rconn_tls_open(c, o, errstr, errstr_size);
                if (err) {
                        ss_rconn_close(c);
                        return err;
                }
                *out = c;
                return SS_OK;
        }
        struct timeval tv = {o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
        c->ctx = redisConnectWithTimeout(o->host, o->port, tv);
        if (!c->ctx || c->ctx->err) {
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s", c->where,
                           c->ctx ? c->ctx->errstr : "cannot allocate context");
                ss_rconn_close(c);
                return SS_ERR_REDIS;
        }
        redisSetTimeout(c->ctx, tv);
        ss_rconn_reader_limit(c->ctx->reader, &c->budget);
        *out = c;
        return SS_OK;
}

void ss_rconn_close(ss_rconn_t *c)
{
        if (!c)
                return;
        if (c->ctx)
                redisFree(c->ctx);
        if (c->ssl) {
                SSL_shutdown(c->ssl);
                SSL_free(c->ssl);
        }
        if (c->ssl_ctx)
                SSL_CTX_free(c->ssl_ctx);
        if (c->fd >= 0)
                close(c->fd);
        if (c->reader)
                redisReaderFree(c->reader);
        free(c);
}

static redisReply *ss_rconn_tls_command(ss_rconn_t *c, int argc, const char **argv,
                                        const size_t *lens, char *errstr, size_t errstr_size)
{
        char *cmd = NULL, buf[16384], ebuf[256];
        int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
        if (n < 0) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "redis %s: cannot format %s",
                           c->where, argv[0]);
                return NULL;
        }
        int w = SSL_write(c->ssl, cmd, n);
        free(cmd);
        if (w != n) {
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s: write failed: %s",
                           c->where, argv[0],
                           ss_rconn_ssl_err("timeout or closed", ebuf, sizeof(ebuf)));
                return NULL;
        }
        for (;;) {
                void *reply = NULL;
                if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
                        ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s: %s", c->where,
                                   argv[0], c->reader->errstr);
                        return NULL;
                }
                if (reply)
                        return reply;
                int r = SSL_read(c->ssl, buf, sizeof(buf));
                if (r <= 0) {
                        ss_err_set(
                            errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s: read failed: %s",
                            c->where, argv[0],
                            ss_rconn_ssl_err("timeout or connection closed", ebuf, sizeof(ebuf)));
                        return NULL;
                }
                if (redisReaderFeed(c->reader, buf, (size_t)r) != REDIS_OK) {
                        ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s: %s", c->where,
                                   argv[0], c->reader->errstr);
                        return NULL;
                }
        }
}

redisReply *ss_rconn_command(ss_rconn_t *c, int argc, const char **argv, const size_t *lens,
                             char *errstr, size_t errstr_size)
{
        c->budget = SS_RCONN_MAX_ELEMENTS;
        if (c->ssl)
                return ss_rconn_tls_command(c, argc, argv, lens, errstr, errstr_size);
        redisReply *r = redisCommandArgv(c->ctx, argc, argv, lens);
        if (!r)
                ss_err_set(errstr, errstr_size, SS_ERR_REDIS, "redis %s: %s: %s", c->where, argv[0],
                           c->ctx->err ? c->ctx->errstr : "no reply");
        return r;
}
