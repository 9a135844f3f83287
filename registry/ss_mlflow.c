/*
 * ss_mlflow: MLflow REST client over libcurl + cJSON.
 *
 * Design: one curl easy handle per client (keep-alive across calls). Every call
 * goes through ss_mlflow_perform(), which owns the retry policy: it sends the
 * request, and on a connection error, a timeout or a 5xx waits the backoff and
 * sends it again, up to policy.attempts tries; a 4xx (or any other answer) ends
 * it at once. The response body is collected into a buffer (or streamed into a
 * file for artifact downloads); JSON errors are read for their error_code and
 * message, which go into the error text with the method, endpoint and status.
 * Facts of the MLflow 3 server this follows: JSON requests need
 * `Content-Type: application/json`; creating an existing experiment or model
 * answers 400 RESOURCE_ALREADY_EXISTS (get-or-create falls back to a get); a
 * missing alias is 400 INVALID_PARAMETER_VALUE; alias deletion is a DELETE with
 * a JSON body; artifacts go through PUT/GET on the artifact proxy under the run's
 * artifact uri minus its "mlflow-artifacts:/" scheme.
 */
#include "ss_mlflow.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ss_util.h"

#define SS_MLFLOW_API       "/api/2.0/mlflow"
#define SS_MLFLOW_ARTIFACTS "/api/2.0/mlflow-artifacts/artifacts/"
#define SS_MLFLOW_SCHEME    "mlflow-artifacts:/"

typedef struct ss_mlflow_buf {
        char *p;
        size_t len, cap;
} ss_mlflow_buf_t;

struct ss_mlflow {
        CURL *curl;
        char *uri; /* no trailing '/' */
        ss_mlflow_policy_t policy;
        long last_status;
        char last_error_code[64];
        uint64_t requests;
        int search_page; /* max_results of one search page */
};

struct ss_mlflow_batch {
        cJSON *params, *metrics, *tags; /* arrays */
};

static pthread_once_t ss_mlflow_once = PTHREAD_ONCE_INIT;

static void ss_mlflow_global_init(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ss_mlflow_policy_default(ss_mlflow_policy_t *p)
{
        p->timeout_ms = 30000;
        p->connect_ms = 3000;
        p->attempts = 4;
        p->backoff_ms = 200;
        p->backoff_max_ms = 5000;
}

int ss_mlflow_retryable(int curl_code, long status)
{
        if (curl_code != CURLE_OK)
                return curl_code == CURLE_COULDNT_CONNECT ||
                       curl_code == CURLE_OPERATION_TIMEDOUT || curl_code == CURLE_GOT_NOTHING ||
                       curl_code == CURLE_SEND_ERROR || curl_code == CURLE_RECV_ERROR ||
                       curl_code == CURLE_PARTIAL_FILE || curl_code == CURLE_COULDNT_RESOLVE_HOST;
        return status >= 500 && status <= 599;
}

long ss_mlflow_backoff(const ss_mlflow_policy_t *p, int attempt)
{
        long w = p->backoff_ms;
        for (int i = 2; i < attempt && w < p->backoff_max_ms; i++)
                w *= 2;
        return w < p->backoff_max_ms ? w : p->backoff_max_ms;
}

ss_mlflow_t *ss_mlflow_new(const char *uri, const ss_mlflow_policy_t *p, char *errstr,
                           size_t errstr_size)
{
        if (!uri || (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8))) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "tracking uri \"%s\" is not an http:// or https:// url",
                           uri ? uri : "(null)");
                return NULL;
        }
        pthread_once(&ss_mlflow_once, ss_mlflow_global_init);
        ss_mlflow_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->uri = strdup(uri)) || !(c->curl = curl_easy_init())) {
                ss_mlflow_destroy(c);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        size_t n = strlen(c->uri);
        while (n > 0 && c->uri[n - 1] == '/')
                c->uri[--n] = '\0';
        if (p)
                c->policy = *p;
        else
                ss_mlflow_policy_default(&c->policy);
        if (c->policy.attempts < 1)
                c->policy.attempts = 1;
        c->search_page = 1000;
        return c;
}

void ss_mlflow_destroy(ss_mlflow_t *c)
{
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->uri);
        free(c);
}

const char *ss_mlflow_uri(const ss_mlflow_t *c)
{
        return c->uri;
}

long ss_mlflow_last_status(const ss_mlflow_t *c)
{
        return c->last_status;
}

const char *ss_mlflow_last_error_code(const ss_mlflow_t *c)
{
        return c->last_error_code;
}

void ss_mlflow_search_page_set(ss_mlflow_t *c, int n)
{
        c->search_page = n > 0 ? n : 1000;
}

uint64_t ss_mlflow_requests(const ss_mlflow_t *c)
{
        return c->requests;
}

/* ---- transport ---- */

static size_t ss_mlflow_buf_write(char *data, size_t size, size_t nmemb, void *opaque)
{
        ss_mlflow_buf_t *b = opaque;
        size_t n = size * nmemb;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p)
                        return 0; /* curl reports CURLE_WRITE_ERROR */
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
        return n;
}

static void ss_mlflow_sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

/* A request to send: JSON body, or a file to upload, or a file to download into. */
typedef struct ss_mlflow_req {
        const char *method;   /* GET POST PATCH DELETE PUT */
        const char *endpoint; /* for messages: the path without the query */
        const char *url;      /* full url */
        const char *json;     /* body, or NULL */
        FILE *upload;         /* PUT body, or NULL */
        curl_off_t upload_size;
        FILE *download; /* the response body goes here (on a 2xx), or NULL */
} ss_mlflow_req_t;

/* Fills errstr for a failed request: method, endpoint, status, error_code, message. */
static ss_err_t ss_mlflow_fail(ss_mlflow_t *c, const ss_mlflow_req_t *r, int cc,
                               const char *curl_msg, const ss_mlflow_buf_t *body, int tries,
                               char *errstr, size_t errstr_size)
{
        char tried[48] = "";
        if (tries > 1)
                snprintf(tried, sizeof(tried), " (after %d attempts)", tries);
        if (cc != CURLE_OK)
                return ss_err_set(errstr, errstr_size,
                                  cc == CURLE_OPERATION_TIMEDOUT ? SS_ERR_TIMEOUT : SS_ERR_HTTP,
                                  "%s %s: %s: %s%s", r->method, r->endpoint, c->uri,
                                  *curl_msg ? curl_msg : curl_easy_strerror((CURLcode)cc), tried);
        const char *msg = "";
        cJSON *j = body->p ? cJSON_Parse(body->p) : NULL;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
        if (cJSON_IsString(code))
                snprintf(c->last_error_code, sizeof(c->last_error_code), "%s", code->valuestring);
        if (cJSON_IsString(m))
                msg = m->valuestring;
        else if (!j)
                msg = "(response is not JSON)";
        ss_err_set(errstr, errstr_size, SS_ERR_HTTP, "%s %s: HTTP %ld%s%s: %.300s%s", r->method,
                   r->endpoint, c->last_status, *c->last_error_code ? " " : "", c->last_error_code,
                   msg, tried);
        cJSON_Delete(j);
        return SS_ERR_HTTP;
}

/* Sends r under the retry policy. On a 2xx returns 0 with the body in *body (unless it
 * went to r->download); else the error. */
static ss_err_t ss_mlflow_perform(ss_mlflow_t *c, const ss_mlflow_req_t *r, ss_mlflow_buf_t *body,
                                  char *errstr, size_t errstr_size)
{
        struct curl_slist *hdr = NULL;
        hdr = curl_slist_append(hdr, r->upload ? "Content-Type: application/octet-stream"
                                               : "Content-Type: application/json");
        hdr = curl_slist_append(hdr, "Accept: application/json");
        hdr = curl_slist_append(hdr, "Expect:");
        if (!hdr)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        char curl_msg[CURL_ERROR_SIZE];
        int cc = CURLE_OK, tries = 0;
        for (;;) {
                tries++;
                CURL *h = c->curl;
                curl_easy_reset(h);
                body->len = 0;
                if (body->p)
                        body->p[0] = '\0';
                curl_msg[0] = '\0';
                c->last_status = 0;
                c->last_error_code[0] = '\0';
                curl_easy_setopt(h, CURLOPT_URL, r->url);
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
                curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->policy.timeout_ms);
                curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->policy.connect_ms);
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ss_mlflow_buf_write);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
                if (r->upload) {
                        rewind(r->upload);
                        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                        curl_easy_setopt(h, CURLOPT_READDATA, r->upload);
                        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, r->upload_size);
                } else if (r->json) {
                        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->json);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                         (curl_off_t)strlen(r->json));
                        if (strcmp(r->method, "POST"))
                                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
                } else if (strcmp(r->method, "GET")) {
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
                }
                c->requests++;
                cc = curl_easy_perform(h);
                if (cc == CURLE_OK)
                        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->last_status);
                int ok = cc == CURLE_OK && c->last_status >= 200 && c->last_status < 300;
                if (ok || !ss_mlflow_retryable(cc, c->last_status) || tries >= c->policy.attempts)
                        break;
                ss_mlflow_sleep_ms(ss_mlflow_backoff(&c->policy, tries + 1));
        }
        curl_slist_free_all(hdr);
        if (cc == CURLE_OK && c->last_status >= 200 && c->last_status < 300) {
                if (r->download && body->len &&
                    fwrite(body->p, 1, body->len, r->download) != body->len)
                        return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s %s: write: %s",
                                          r->method, r->endpoint, strerror(errno));
                return SS_OK;
        }
        return ss_mlflow_fail(c, r, cc, curl_msg, body, tries, errstr, errstr_size);
}

/* Appends "?k=v&..." for the members of q (strings and numbers) to url. */
static ss_err_t ss_mlflow_query(ss_mlflow_t *c, const cJSON *q, ss_mlflow_buf_t *url)
{
        int first = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, q)
        {
                char num[32];
                const char *v = NULL;
                if (cJSON_IsString(it))
                        v = it->valuestring;
                else if (cJSON_IsNumber(it))
                        snprintf(num, sizeof(num), "%.17g", it->valuedouble), v = num;
                else if (cJSON_IsBool(it))
                        v = cJSON_IsTrue(it) ? "true" : "false";
                if (!v)
                        continue;
                char *k = curl_easy_escape(c->curl, it->string, 0);
                char *e = curl_easy_escape(c->curl, v, 0);
                int ok = k && e && ss_mlflow_buf_write(first ? "?" : "&", 1, 1, url) &&
                         ss_mlflow_buf_write(k, 1, strlen(k), url) == strlen(k) &&
                         ss_mlflow_buf_write("=", 1, 1, url) &&
                         (!*e || ss_mlflow_buf_write(e, 1, strlen(e), url) == strlen(e));
                curl_free(k);
                curl_free(e);
                if (!ok)
                        return SS_ERR_NOMEM;
                first = 0;
        }
        return SS_OK;
}

ss_err_t ss_mlflow_call(ss_mlflow_t *c, const char *method, const char *endpoint, const cJSON *body,
                        cJSON **out, char *errstr, size_t errstr_size)
{
        if (out)
                *out = NULL;
        ss_mlflow_buf_t url = {0}, resp = {0};
        char *json = NULL;
        ss_err_t e = SS_ERR_NOMEM;
        if (!ss_mlflow_buf_write(c->uri, 1, strlen(c->uri), &url) ||
            ss_mlflow_buf_write((char *)endpoint, 1, strlen(endpoint), &url) != strlen(endpoint))
                goto out;
        int get = !strcmp(method, "GET");
        if (get && body && ss_mlflow_query(c, body, &url))
                goto out;
        if (!get && !(json = body ? cJSON_PrintUnformatted(body) : strdup("{}")))
                goto out;
        ss_mlflow_req_t r = {method, endpoint, url.p, json, NULL, 0, NULL};
        if ((e = ss_mlflow_perform(c, &r, &resp, errstr, errstr_size)))
                goto out;
        if (out) {
                *out = cJSON_Parse(resp.p ? resp.p : "{}");
                if (!*out)
                        e = ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                       "%s %s: HTTP %ld: response is not JSON: %.200s", method,
                                       endpoint, c->last_status, resp.p ? resp.p : "");
        }
out:
        if (e == SS_ERR_NOMEM)
                ss_err_set(errstr, errstr_size, e, "%s %s: out of memory", method, endpoint);
        free(url.p);
        free(resp.p);
        free(json);
        return e;
}

ss_err_t ss_mlflow_health(ss_mlflow_t *c, char *errstr, size_t errstr_size)
{
        ss_mlflow_buf_t url = {0}, resp = {0};
        if (!ss_mlflow_buf_write(c->uri, 1, strlen(c->uri), &url) ||
            !ss_mlflow_buf_write("/health", 1, 7, &url)) {
                free(url.p);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        ss_mlflow_req_t r = {"GET", "/health", url.p, NULL, NULL, 0, NULL};
        ss_err_t e = ss_mlflow_perform(c, &r, &resp, errstr, errstr_size);
        free(url.p);
        free(resp.p);
        return e;
}

/* ---- small JSON helpers ---- */

static const char *ss_mlflow_str(const cJSON *o, const char *path)
{
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", path);
        const cJSON *cur = o;
        for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && cur;
             k = strtok_r(NULL, ".", &save))
                cur = cJSON_GetObjectItemCaseSensitive(cur, k);
        return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static ss_err_t ss_mlflow_copy(const cJSON *o, const char *path, char *buf, size_t size,
                               const char *what, char *errstr, size_t errstr_size)
{
        const char *v = ss_mlflow_str(o, path);
        if (!v)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: response has no %s", what,
                                  path);
        snprintf(buf, size, "%s", v);
        return SS_OK;
}

/* Takes member key of *tree as the result: detaches it into *out and frees the rest. */
static ss_err_t ss_mlflow_take(cJSON **tree, const char *key, int want_array, cJSON **out,
                               const char *what, char *errstr, size_t errstr_size)
{
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(*tree, key);
        cJSON_Delete(*tree);
        *tree = NULL;
        if (!v && want_array)
                v = cJSON_CreateArray(); /* MLflow leaves out empty lists */
        if (!v)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: response has no %s", what,
                                  key);
        *out = v;
        return SS_OK;
}

const char *ss_mlflow_tag_find(const cJSON *tags, const char *key)
{
        const cJSON *t;
        if (cJSON_IsObject(tags)) {
                t = cJSON_GetObjectItemCaseSensitive(tags, key);
                return cJSON_IsString(t) ? t->valuestring : NULL;
        }
        cJSON_ArrayForEach(t, tags)
        {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "value");
                if (cJSON_IsString(k) && !strcmp(k->valuestring, key) && cJSON_IsString(v))
                        return v->valuestring;
        }
        return NULL;
}

/* [{"key": k, "value": v}, ...] from an object of strings. */
static cJSON *ss_mlflow_kv_array(const cJSON *obj)
{
        cJSON *a = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, obj)
        {
                if (!cJSON_IsString(it))
                        continue;
                cJSON *kv = cJSON_CreateObject();
                cJSON_AddStringToObject(kv, "key", it->string);
                cJSON_AddStringToObject(kv, "value", it->valuestring);
                cJSON_AddItemToArray(a, kv);
        }
        return a;
}

/* ---- experiments and runs ---- */

ss_err_t ss_mlflow_experiment_get_or_create(ss_mlflow_t *c, const char *name, char id[64],
                                            char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "experiment_name", name);
        ss_err_t e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/experiments/get-by-name", q, &r,
                                    errstr, errstr_size);
        if (e && !strcmp(c->last_error_code, "RESOURCE_DOES_NOT_EXIST")) {
                cJSON *b = cJSON_CreateObject();
                cJSON_AddStringToObject(b, "name", name);
                e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/experiments/create", b, &r, errstr,
                                   errstr_size);
                cJSON_Delete(b);
                if (!e)
                        e = ss_mlflow_copy(r, "experiment_id", id, 64, "experiments/create", errstr,
                                           errstr_size);
                else if (!strcmp(c->last_error_code, "RESOURCE_ALREADY_EXISTS")) {
                        /* created by someone else in between */
                        cJSON_Delete(q);
                        return ss_mlflow_experiment_get_or_create(c, name, id, errstr, errstr_size);
                }
        } else if (!e) {
                e = ss_mlflow_copy(r, "experiment.experiment_id", id, 64, "experiments/get-by-name",
                                   errstr, errstr_size);
        }
        cJSON_Delete(q);
        cJSON_Delete(r);
        return e;
}

static ss_err_t ss_mlflow_run_info(const cJSON *info, ss_mlflow_run_t *run, const char *what,
                                   char *errstr, size_t errstr_size)
{
        ss_err_t e;
        if ((e = ss_mlflow_copy(info, "run_id", run->run_id, sizeof(run->run_id), what, errstr,
                                errstr_size)) ||
            (e = ss_mlflow_copy(info, "experiment_id", run->experiment_id,
                                sizeof(run->experiment_id), what, errstr, errstr_size)) ||
            (e = ss_mlflow_copy(info, "artifact_uri", run->artifact_uri, sizeof(run->artifact_uri),
                                what, errstr, errstr_size)))
                return e;
        return SS_OK;
}

ss_err_t ss_mlflow_run_create(ss_mlflow_t *c, const char *experiment_id, const char *run_name,
                              const cJSON *tags, ss_mlflow_run_t *run, char *errstr,
                              size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(b, "experiment_id", experiment_id);
        if (run_name)
                cJSON_AddStringToObject(b, "run_name", run_name);
        cJSON_AddNumberToObject(b, "start_time", (double)ss_time_now_ms());
        if (tags)
                cJSON_AddItemToObject(b, "tags", ss_mlflow_kv_array(tags));
        ss_err_t e =
            ss_mlflow_call(c, "POST", SS_MLFLOW_API "/runs/create", b, &r, errstr, errstr_size);
        if (!e)
                e = ss_mlflow_run_info(cJSON_GetObjectItemCaseSensitive(
                                           cJSON_GetObjectItemCaseSensitive(r, "run"), "info"),
                                       run, "runs/create", errstr, errstr_size);
        cJSON_Delete(b);
        cJSON_Delete(r);
        return e;
}

ss_err_t ss_mlflow_run_get(ss_mlflow_t *c, const char *run_id, cJSON **out, ss_mlflow_run_t *run,
                           char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "run_id", run_id);
        ss_err_t e =
            ss_mlflow_call(c, "GET", SS_MLFLOW_API "/runs/get", q, &r, errstr, errstr_size);
        cJSON_Delete(q);
        if (!e && run)
                e = ss_mlflow_run_info(cJSON_GetObjectItemCaseSensitive(
                                           cJSON_GetObjectItemCaseSensitive(r, "run"), "info"),
                                       run, "runs/get", errstr, errstr_size);
        if (!e && out)
                return ss_mlflow_take(&r, "run", 0, out, "runs/get", errstr, errstr_size);
        cJSON_Delete(r);
        return e;
}

ss_err_t ss_mlflow_run_end(ss_mlflow_t *c, const char *run_id, const char *status, char *errstr,
                           size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "run_id", run_id);
        cJSON_AddStringToObject(b, "status", status);
        cJSON_AddNumberToObject(b, "end_time", (double)ss_time_now_ms());
        ss_err_t e =
            ss_mlflow_call(c, "POST", SS_MLFLOW_API "/runs/update", b, NULL, errstr, errstr_size);
        cJSON_Delete(b);
        return e;
}

ss_err_t ss_mlflow_run_tag(ss_mlflow_t *c, const char *run_id, const char *key, const char *value,
                           char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "run_id", run_id);
        cJSON_AddStringToObject(b, "key", key);
        cJSON_AddStringToObject(b, "value", value);
        ss_err_t e =
            ss_mlflow_call(c, "POST", SS_MLFLOW_API "/runs/set-tag", b, NULL, errstr, errstr_size);
        cJSON_Delete(b);
        return e;
}

ss_err_t ss_mlflow_run_search(ss_mlflow_t *c, const char *experiment_ids, const char *filter,
                              int max, cJSON **out, char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject(), *ids = cJSON_AddArrayToObject(b, "experiment_ids");
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", experiment_ids);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(ids, cJSON_CreateString(t));
        if (filter && *filter)
                cJSON_AddStringToObject(b, "filter", filter);
        cJSON_AddNumberToObject(b, "max_results", max > 0 ? max : 100);
        cJSON *ob = cJSON_AddArrayToObject(b, "order_by");
        cJSON_AddItemToArray(ob, cJSON_CreateString("attributes.start_time DESC"));
        cJSON *r = NULL;
        ss_err_t e =
            ss_mlflow_call(c, "POST", SS_MLFLOW_API "/runs/search", b, &r, errstr, errstr_size);
        cJSON_Delete(b);
        if (e)
                return e;
        return ss_mlflow_take(&r, "runs", 1, out, "runs/search", errstr, errstr_size);
}

/* ---- log-batch ---- */

ss_mlflow_batch_t *ss_mlflow_batch_new(void)
{
        ss_mlflow_batch_t *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->params = cJSON_CreateArray();
        b->metrics = cJSON_CreateArray();
        b->tags = cJSON_CreateArray();
        if (!b->params || !b->metrics || !b->tags) {
                ss_mlflow_batch_destroy(b);
                return NULL;
        }
        return b;
}

void ss_mlflow_batch_destroy(ss_mlflow_batch_t *b)
{
        if (!b)
                return;
        cJSON_Delete(b->params);
        cJSON_Delete(b->metrics);
        cJSON_Delete(b->tags);
        free(b);
}

static ss_err_t ss_mlflow_batch_kv(cJSON *arr, const char *key, const char *value, size_t max)
{
        cJSON *kv = cJSON_CreateObject();
        char *v = strndup(value ? value : "", max);
        if (!kv || !v || !cJSON_AddStringToObject(kv, "key", key) ||
            !cJSON_AddStringToObject(kv, "value", v)) {
                cJSON_Delete(kv);
                free(v);
                return SS_ERR_NOMEM;
        }
        free(v);
        cJSON_AddItemToArray(arr, kv);
        return SS_OK;
}

ss_err_t ss_mlflow_batch_param(ss_mlflow_batch_t *b, const char *key, const char *value)
{
        return ss_mlflow_batch_kv(b->params, key, value, 6000);
}

ss_err_t ss_mlflow_batch_tag(ss_mlflow_batch_t *b, const char *key, const char *value)
{
        return ss_mlflow_batch_kv(b->tags, key, value, 8000);
}

ss_err_t ss_mlflow_batch_metric(ss_mlflow_batch_t *b, const char *key, double value, int64_t step,
                                int64_t timestamp_ms)
{
        cJSON *m = cJSON_CreateObject();
        if (!m)
                return SS_ERR_NOMEM;
        cJSON_AddStringToObject(m, "key", key);
        if (isnan(value))
                cJSON_AddStringToObject(m, "value", "NaN");
        else if (isinf(value))
                cJSON_AddStringToObject(m, "value", value > 0 ? "Infinity" : "-Infinity");
        else
                cJSON_AddNumberToObject(m, "value", value);
        cJSON_AddNumberToObject(m, "timestamp",
                                (double)(timestamp_ms ? timestamp_ms : ss_time_now_ms()));
        cJSON_AddNumberToObject(m, "step", (double)step);
        cJSON_AddItemToArray(b->metrics, m);
        return SS_OK;
}

size_t ss_mlflow_batch_size(const ss_mlflow_batch_t *b)
{
        return (size_t)cJSON_GetArraySize(b->params) + (size_t)cJSON_GetArraySize(b->metrics) +
               (size_t)cJSON_GetArraySize(b->tags);
}

/* Moves up to max items from the front of src to the end of dst; returns how many. */
static int ss_mlflow_move(cJSON *dst, cJSON *src, int max)
{
        int n = 0;
        while (n < max && cJSON_GetArraySize(src) > 0) {
                cJSON_AddItemToArray(dst, cJSON_DetachItemFromArray(src, 0));
                n++;
        }
        return n;
}

ss_err_t ss_mlflow_batch_log(ss_mlflow_t *c, const char *run_id, ss_mlflow_batch_t *b, char *errstr,
                             size_t errstr_size)
{
        while (ss_mlflow_batch_size(b) > 0) {
                cJSON *req = cJSON_CreateObject();
                cJSON_AddStringToObject(req, "run_id", run_id);
                cJSON *p = cJSON_AddArrayToObject(req, "params");
                cJSON *m = cJSON_AddArrayToObject(req, "metrics");
                cJSON *t = cJSON_AddArrayToObject(req, "tags");
                int n = ss_mlflow_move(p, b->params, 100);
                n += ss_mlflow_move(t, b->tags, 100);
                ss_mlflow_move(m, b->metrics, 1000 - n);
                ss_err_t e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/runs/log-batch", req, NULL,
                                            errstr, errstr_size);
                cJSON_Delete(req);
                if (e)
                        return e;
        }
        return SS_OK;
}

ss_err_t ss_mlflow_metric_history(ss_mlflow_t *c, const char *run_id, const char *key, cJSON **out,
                                  char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "run_id", run_id);
        cJSON_AddStringToObject(q, "metric_key", key);
        ss_err_t e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/metrics/get-history", q, &r, errstr,
                                    errstr_size);
        cJSON_Delete(q);
        if (e)
                return e;
        return ss_mlflow_take(&r, "metrics", 1, out, "metrics/get-history", errstr, errstr_size);
}

/* ---- artifacts ---- */

/* url and endpoint of <artifact_uri>/<path> on the artifact proxy. */
static ss_err_t ss_mlflow_artifact_url(ss_mlflow_t *c, const char *artifact_uri, const char *path,
                                       ss_mlflow_buf_t *url, const char **endpoint, char *errstr,
                                       size_t errstr_size)
{
        size_t ns = strlen(SS_MLFLOW_SCHEME);
        if (strncmp(artifact_uri, SS_MLFLOW_SCHEME, ns))
                return ss_err_set(errstr, errstr_size, SS_ERR_UNSUPPORTED,
                                  "artifact uri \"%s\" is not served by the tracking server's "
                                  "artifact proxy (start it with --serve-artifacts)",
                                  artifact_uri);
        const char *rest = artifact_uri + ns;
        while (*rest == '/')
                rest++;
        if (!ss_mlflow_buf_write(c->uri, 1, strlen(c->uri), url))
                return SS_ERR_NOMEM;
        size_t ep = url->len;
        const char *parts[] = {SS_MLFLOW_ARTIFACTS, rest, "/", path};
        for (int i = 0; i < 4; i++) {
                /* escape each path segment, keep the slashes */
                const char *s = parts[i];
                if (i == 0 || i == 2) {
                        if (!ss_mlflow_buf_write((char *)s, 1, strlen(s), url))
                                return SS_ERR_NOMEM;
                        continue;
                }
                while (*s) {
                        size_t seg = strcspn(s, "/");
                        char *e = curl_easy_escape(c->curl, s, (int)seg);
                        int ok = e && (!*e || ss_mlflow_buf_write(e, 1, strlen(e), url));
                        curl_free(e);
                        if (!ok)
                                return SS_ERR_NOMEM;
                        s += seg;
                        if (*s == '/') {
                                if (!ss_mlflow_buf_write("/", 1, 1, url))
                                        return SS_ERR_NOMEM;
                                s++;
                        }
                }
        }
        *endpoint = url->p + ep;
        return SS_OK;
}

ss_err_t ss_mlflow_artifact_upload(ss_mlflow_t *c, const char *artifact_uri, const char *path,
                                   const char *local_path, char *sha256_out, char *errstr,
                                   size_t errstr_size)
{
        char sha[65];
        ss_err_t e = ss_sha256_file_hex(local_path, sha, errstr, errstr_size);
        if (e)
                return e;
        FILE *f = fopen(local_path, "rb");
        if (!f)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", local_path,
                                  strerror(errno));
        fseeko(f, 0, SEEK_END);
        curl_off_t size = (curl_off_t)ftello(f);
        ss_mlflow_buf_t url = {0}, resp = {0};
        const char *ep = NULL;
        e = ss_mlflow_artifact_url(c, artifact_uri, path, &url, &ep, errstr, errstr_size);
        if (!e) {
                ss_mlflow_req_t r = {"PUT", ep, url.p, NULL, f, size, NULL};
                e = ss_mlflow_perform(c, &r, &resp, errstr, errstr_size);
        } else if (e == SS_ERR_NOMEM) {
                ss_err_set(errstr, errstr_size, e, "out of memory");
        }
        fclose(f);
        free(url.p);
        free(resp.p);
        if (!e && sha256_out)
                memcpy(sha256_out, sha, 65);
        return e;
}

ss_err_t ss_mlflow_artifact_download(ss_mlflow_t *c, const char *artifact_uri, const char *path,
                                     const char *out_path, const char *expect_sha256,
                                     char *sha256_out, char *errstr, size_t errstr_size)
{
        char tmp[1100], sha[65];
        snprintf(tmp, sizeof(tmp), "%s.part%ld", out_path, (long)getpid());
        ss_mlflow_buf_t url = {0}, resp = {0};
        const char *ep = NULL;
        ss_err_t e = ss_mlflow_artifact_url(c, artifact_uri, path, &url, &ep, errstr, errstr_size);
        if (e) {
                free(url.p);
                return e == SS_ERR_NOMEM ? ss_err_set(errstr, errstr_size, e, "out of memory") : e;
        }
        FILE *f = fopen(tmp, "wb");
        if (!f) {
                free(url.p);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", tmp, strerror(errno));
        }
        ss_mlflow_req_t r = {"GET", ep, url.p, NULL, NULL, 0, f};
        e = ss_mlflow_perform(c, &r, &resp, errstr, errstr_size);
        if (fclose(f) && !e)
                e = ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", tmp, strerror(errno));
        if (!e)
                e = ss_sha256_file_hex(tmp, sha, errstr, errstr_size);
        if (!e && expect_sha256 && *expect_sha256 && strcmp(sha, expect_sha256))
                e = ss_err_set(errstr, errstr_size, SS_ERR_CHECKSUM,
                               "%s/%s: downloaded file has sha256 %s, the registry says %s; "
                               "refused",
                               artifact_uri, path, sha, expect_sha256);
        if (!e && rename(tmp, out_path))
                e = ss_err_set(errstr, errstr_size, SS_ERR_IO, "rename %s -> %s: %s", tmp, out_path,
                               strerror(errno));
        if (e)
                unlink(tmp);
        else if (sha256_out)
                memcpy(sha256_out, sha, 65);
        free(url.p);
        free(resp.p);
        return e;
}

ss_err_t ss_mlflow_artifact_list(ss_mlflow_t *c, const char *run_id, const char *path, cJSON **out,
                                 char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "run_id", run_id);
        if (path && *path)
                cJSON_AddStringToObject(q, "path", path);
        ss_err_t e =
            ss_mlflow_call(c, "GET", SS_MLFLOW_API "/artifacts/list", q, &r, errstr, errstr_size);
        cJSON_Delete(q);
        if (e)
                return e;
        return ss_mlflow_take(&r, "files", 1, out, "artifacts/list", errstr, errstr_size);
}

/* ---- model registry ---- */

ss_err_t ss_mlflow_model_create(ss_mlflow_t *c, const char *name, char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", name);
        ss_err_t e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/registered-models/create", b, NULL,
                                    errstr, errstr_size);
        cJSON_Delete(b);
        if (e && !strcmp(c->last_error_code, "RESOURCE_ALREADY_EXISTS"))
                return SS_OK;
        return e;
}

ss_err_t ss_mlflow_model_get(ss_mlflow_t *c, const char *name, cJSON **out, char *errstr,
                             size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "name", name);
        ss_err_t e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/registered-models/get", q, &r, errstr,
                                    errstr_size);
        cJSON_Delete(q);
        if (e)
                return e;
        return ss_mlflow_take(&r, "registered_model", 0, out, "registered-models/get", errstr,
                              errstr_size);
}

ss_err_t ss_mlflow_version_get(ss_mlflow_t *c, const char *name, const char *version, cJSON **out,
                               char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "name", name);
        cJSON_AddStringToObject(q, "version", version);
        ss_err_t e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/model-versions/get", q, &r, errstr,
                                    errstr_size);
        cJSON_Delete(q);
        if (e)
                return e;
        return ss_mlflow_take(&r, "model_version", 0, out, "model-versions/get", errstr,
                              errstr_size);
}

ss_err_t ss_mlflow_version_create(ss_mlflow_t *c, const char *name, const char *source,
                                  const char *run_id, const cJSON *tags, long wait_ms,
                                  char version[32], char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(b, "name", name);
        cJSON_AddStringToObject(b, "source", source);
        if (run_id && *run_id)
                cJSON_AddStringToObject(b, "run_id", run_id);
        if (tags)
                cJSON_AddItemToObject(b, "tags", ss_mlflow_kv_array(tags));
        ss_err_t e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/model-versions/create", b, &r,
                                    errstr, errstr_size);
        cJSON_Delete(b);
        if (!e)
                e = ss_mlflow_copy(r, "model_version.version", version, 32, "model-versions/create",
                                   errstr, errstr_size);
        const char *st = ss_mlflow_str(r, "model_version.status");
        double t0 = ss_time_mono();
        char status[64];
        snprintf(status, sizeof(status), "%s", st ? st : "READY");
        cJSON_Delete(r);
        while (!e && !strcmp(status, "PENDING_REGISTRATION")) {
                if ((ss_time_mono() - t0) * 1000 > (double)wait_ms)
                        return ss_err_set(errstr, errstr_size, SS_ERR_TIMEOUT,
                                          "model %s version %s still PENDING_REGISTRATION after "
                                          "%ld ms",
                                          name, version, wait_ms);
                ss_mlflow_sleep_ms(200);
                cJSON *mv = NULL;
                if ((e = ss_mlflow_version_get(c, name, version, &mv, errstr, errstr_size)))
                        break;
                st = ss_mlflow_str(mv, "status");
                snprintf(status, sizeof(status), "%s", st ? st : "READY");
                cJSON_Delete(mv);
        }
        if (!e && !strcmp(status, "FAILED_REGISTRATION"))
                e = ss_err_set(errstr, errstr_size, SS_ERR_HTTP,
                               "model %s version %s: FAILED_REGISTRATION", name, version);
        return e;
}

ss_err_t ss_mlflow_version_search(ss_mlflow_t *c, const char *name, cJSON **out, char *errstr,
                                  size_t errstr_size)
{
        char filter[600], token[1024] = "";
        /* MLflow's filter grammar quotes with ' and has no escape for it */
        if (strchr(name, '\''))
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "model name \"%s\" contains a quote", name);
        snprintf(filter, sizeof(filter), "name='%s'", name);
        cJSON *all = cJSON_CreateArray();
        ss_err_t e = SS_OK;
        /* one page per call; next_page_token names the next one until the last page */
        for (int page = 0; !e; page++) {
                cJSON *q = cJSON_CreateObject(), *r = NULL, *vs = NULL;
                cJSON_AddStringToObject(q, "filter", filter);
                cJSON_AddNumberToObject(q, "max_results", c->search_page);
                cJSON_AddStringToObject(q, "order_by", "version_number DESC");
                if (page > 0)
                        cJSON_AddStringToObject(q, "page_token", token);
                e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/model-versions/search", q, &r, errstr,
                                   errstr_size);
                cJSON_Delete(q);
                if (e)
                        break;
                const char *next = ss_mlflow_str(r, "next_page_token");
                int more = next && *next && strlen(next) < sizeof(token);
                if (more)
                        snprintf(token, sizeof(token), "%s", next);
                else if (next && *next)
                        e = ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                       "model-versions/search: page token of %zu bytes",
                                       strlen(next));
                if (!e)
                        e = ss_mlflow_take(&r, "model_versions", 1, &vs, "model-versions/search",
                                           errstr, errstr_size);
                cJSON_Delete(r);
                if (vs) {
                        cJSON *v;
                        while ((v = cJSON_DetachItemFromArray(vs, 0)))
                                cJSON_AddItemToArray(all, v);
                        cJSON_Delete(vs);
                }
                if (!more)
                        break;
        }
        if (e) {
                cJSON_Delete(all);
                return e;
        }
        *out = all;
        return SS_OK;
}

ss_err_t ss_mlflow_version_tag(ss_mlflow_t *c, const char *name, const char *version,
                               const char *key, const char *value, char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", name);
        cJSON_AddStringToObject(b, "version", version);
        cJSON_AddStringToObject(b, "key", key);
        cJSON_AddStringToObject(b, "value", value);
        ss_err_t e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/model-versions/set-tag", b, NULL,
                                    errstr, errstr_size);
        cJSON_Delete(b);
        return e;
}

ss_err_t ss_mlflow_alias_set(ss_mlflow_t *c, const char *name, const char *alias,
                             const char *version, char *errstr, size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", name);
        cJSON_AddStringToObject(b, "alias", alias);
        cJSON_AddStringToObject(b, "version", version);
        ss_err_t e = ss_mlflow_call(c, "POST", SS_MLFLOW_API "/registered-models/alias", b, NULL,
                                    errstr, errstr_size);
        cJSON_Delete(b);
        return e;
}

ss_err_t ss_mlflow_alias_get(ss_mlflow_t *c, const char *name, const char *alias, cJSON **out,
                             char *errstr, size_t errstr_size)
{
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(q, "name", name);
        cJSON_AddStringToObject(q, "alias", alias);
        ss_err_t e = ss_mlflow_call(c, "GET", SS_MLFLOW_API "/registered-models/alias", q, &r,
                                    errstr, errstr_size);
        cJSON_Delete(q);
        if (e) {
                const char *ec = c->last_error_code;
                if (c->last_status == 404 || !strcmp(ec, "INVALID_PARAMETER_VALUE") ||
                    !strcmp(ec, "RESOURCE_DOES_NOT_EXIST"))
                        return SS_ERR_EMPTY;
                return e;
        }
        return ss_mlflow_take(&r, "model_version", 0, out, "registered-models/alias", errstr,
                              errstr_size);
}

ss_err_t ss_mlflow_alias_delete(ss_mlflow_t *c, const char *name, const char *alias, char *errstr,
                                size_t errstr_size)
{
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", name);
        cJSON_AddStringToObject(b, "alias", alias);
        ss_err_t e = ss_mlflow_call(c, "DELETE", SS_MLFLOW_API "/registered-models/alias", b, NULL,
                                    errstr, errstr_size);
        cJSON_Delete(b);
        return e;
}

ss_err_t ss_mlflow_model_uri_parse(const char *uri, char name[256], char alias[128],
                                   char version[32], char *errstr, size_t errstr_size)
{
        name[0] = alias[0] = version[0] = '\0';
        const char *p = "models:/";
        if (strncmp(uri, p, strlen(p)))
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                  "model uri \"%s\": want models:/NAME@ALIAS or "
                                  "models:/NAME/VERSION",
                                  uri);
        const char *s = uri + strlen(p);
        const char *at = strrchr(s, '@'), *sl = strrchr(s, '/');
        const char *sep = at ? at : sl;
        size_t nl = sep ? (size_t)(sep - s) : 0;
        const char *rest = sep ? sep + 1 : "";
        int ok = sep && nl > 0 && nl < 256 && *rest && !memchr(s, '/', nl) &&
                 (at ? strlen(rest) < 128
                     : strlen(rest) < 32 && strspn(rest, "0123456789") == strlen(rest));
        if (!ok)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE,
                                  "model uri \"%s\": want models:/NAME@ALIAS or "
                                  "models:/NAME/VERSION (VERSION a number)",
                                  uri);
        memcpy(name, s, nl);
        name[nl] = '\0';
        snprintf(at ? alias : version, at ? 128 : 32, "%s", rest);
        return SS_OK;
}

ss_err_t ss_mlflow_model_uri_resolve(ss_mlflow_t *c, const char *uri, cJSON **out, char *errstr,
                                     size_t errstr_size)
{
        char name[256], alias[128], version[32];
        ss_err_t e = ss_mlflow_model_uri_parse(uri, name, alias, version, errstr, errstr_size);
        if (e)
                return e;
        if (*alias) {
                e = ss_mlflow_alias_get(c, name, alias, out, errstr, errstr_size);
                if (e == SS_ERR_EMPTY)
                        ss_err_set(errstr, errstr_size, e,
                                   "%s: model %s has no alias \"%s\" (HTTP %ld %s)", uri, name,
                                   alias, c->last_status, c->last_error_code);
                return e;
        }
        return ss_mlflow_version_get(c, name, version, out, errstr, errstr_size);
}
