/*
 * ss_mlflow: a client of the MLflow tracking server and model registry REST API
 * (MLflow 3.x, `/api/2.0/mlflow/...` and the artifact proxy
 * `/api/2.0/mlflow-artifacts/artifacts/...`), over libcurl with cJSON bodies.
 *
 * Policy: every request has a timeout; connection errors, timeouts and HTTP 5xx
 * are retried with exponential backoff (attempts and backoff configurable), a
 * 4xx never is. An error message names the method and endpoint, the HTTP
 * status and MLflow's error_code and message, e.g.
 *   "POST /api/2.0/mlflow/runs/create: HTTP 400 INVALID_PARAMETER_VALUE: ..."
 * and the last status / error_code stay readable on the client.
 *
 * JSON results are returned as cJSON trees the caller frees with cJSON_Delete();
 * ids come back in caller buffers. A client is not thread-safe (one curl handle).
 */
#ifndef SS_MLFLOW_H
#define SS_MLFLOW_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ss_err.h"

typedef struct ss_mlflow ss_mlflow_t;

/* Request policy. */
typedef struct ss_mlflow_policy {
        long timeout_ms;     /* whole request (default 30000) */
        long connect_ms;     /* TCP connect (default 3000) */
        int attempts;        /* tries for a retryable failure, >= 1 (default 4) */
        long backoff_ms;     /* wait before the second try, doubled each time (default 200) */
        long backoff_max_ms; /* longest wait (default 5000) */
} ss_mlflow_policy_t;

void ss_mlflow_policy_default(ss_mlflow_policy_t *p);

/* 1 if a request that ended with curl_code (a CURLcode, 0 = a response came) and HTTP
 * status is retried under the policy: connection errors, timeouts, 5xx; never 4xx. */
int ss_mlflow_retryable(int curl_code, long status);

/* The wait before try number attempt (2, 3, ...) under p. */
long ss_mlflow_backoff(const ss_mlflow_policy_t *p, int attempt);

/*
 * A client of the server at uri ("http://127.0.0.1:5000", a trailing '/' is fine).
 * p may be NULL (defaults). Returns NULL on a bad uri or no memory (reason in errstr).
 * Caller frees with ss_mlflow_destroy().
 */
ss_mlflow_t *ss_mlflow_new(const char *uri, const ss_mlflow_policy_t *p, char *errstr,
                           size_t errstr_size);
void ss_mlflow_destroy(ss_mlflow_t *c);

/* The server's base URI (no trailing '/'); valid until destroy. */
const char *ss_mlflow_uri(const ss_mlflow_t *c);

/* Of the last request: HTTP status (0: no response) and MLflow error_code ("" if none),
 * and how many requests went out in total (retries counted). */
long ss_mlflow_last_status(const ss_mlflow_t *c);
const char *ss_mlflow_last_error_code(const ss_mlflow_t *c);
uint64_t ss_mlflow_requests(const ss_mlflow_t *c);

/* How many results one search request asks for (default 1000; n <= 0 restores it). The
 * searches follow next_page_token, so this only changes the number of requests. */
void ss_mlflow_search_page_set(ss_mlflow_t *c, int n);

/*
 * One JSON request: method "GET" (body's members become the query string, values
 * URL-escaped), "POST", "PATCH" or "DELETE" (body sent as JSON). endpoint is the path
 * after the uri, e.g. "/api/2.0/mlflow/runs/create". body is borrowed (may be NULL).
 * On success *out (if out is non-NULL) is the parsed response; caller frees.
 */
ss_err_t ss_mlflow_call(ss_mlflow_t *c, const char *method, const char *endpoint, const cJSON *body,
                        cJSON **out, char *errstr, size_t errstr_size);

/* GET /health: 0 if the server answers 200. */
ss_err_t ss_mlflow_health(ss_mlflow_t *c, char *errstr, size_t errstr_size);

/* ---- experiments and runs ---- */

/* The id of the experiment named name, created if missing, into id[64]. */
ss_err_t ss_mlflow_experiment_get_or_create(ss_mlflow_t *c, const char *name, char id[64],
                                            char *errstr, size_t errstr_size);

typedef struct ss_mlflow_run {
        char run_id[64];
        char experiment_id[64];
        char artifact_uri[512]; /* "mlflow-artifacts:/<exp>/<run>/artifacts" */
} ss_mlflow_run_t;

/* Creates a run in experiment_id named run_name (may be NULL) with tags (an object of
 * string values, borrowed, may be NULL); fills *run. */
ss_err_t ss_mlflow_run_create(ss_mlflow_t *c, const char *experiment_id, const char *run_name,
                              const cJSON *tags, ss_mlflow_run_t *run, char *errstr,
                              size_t errstr_size);

/* The run's whole record ({"info", "data", "inputs"}) into *out (caller frees), and
 * its ids and artifact uri into *run (may be NULL). */
ss_err_t ss_mlflow_run_get(ss_mlflow_t *c, const char *run_id, cJSON **out, ss_mlflow_run_t *run,
                           char *errstr, size_t errstr_size);

/* Ends a run with status "FINISHED", "FAILED" or "KILLED". */
ss_err_t ss_mlflow_run_end(ss_mlflow_t *c, const char *run_id, const char *status, char *errstr,
                           size_t errstr_size);

/* Sets one tag on a run. */
ss_err_t ss_mlflow_run_tag(ss_mlflow_t *c, const char *run_id, const char *key, const char *value,
                           char *errstr, size_t errstr_size);

/* Runs of the experiments (ids comma-separated) matching filter (MLflow search syntax,
 * may be NULL), newest first, at most max: *out is the array of runs (caller frees). */
ss_err_t ss_mlflow_run_search(ss_mlflow_t *c, const char *experiment_ids, const char *filter,
                              int max, cJSON **out, char *errstr, size_t errstr_size);

/*
 * A batch of params, metrics and tags for runs/log-batch. Add to it, then log it:
 * ss_mlflow_batch_log() splits it into requests within the server's limits (100 params,
 * 1000 items a request) and empties it. Params longer than 6000 chars are cut.
 */
typedef struct ss_mlflow_batch ss_mlflow_batch_t;

ss_mlflow_batch_t *ss_mlflow_batch_new(void);
void ss_mlflow_batch_destroy(ss_mlflow_batch_t *b);
ss_err_t ss_mlflow_batch_param(ss_mlflow_batch_t *b, const char *key, const char *value);
/* step: the x of the curve; timestamp_ms 0 = now. NaN and infinities are sent as MLflow
 * expects them ("NaN", "Infinity"). */
ss_err_t ss_mlflow_batch_metric(ss_mlflow_batch_t *b, const char *key, double value, int64_t step,
                                int64_t timestamp_ms);
ss_err_t ss_mlflow_batch_tag(ss_mlflow_batch_t *b, const char *key, const char *value);
/* Items waiting in the batch. */
size_t ss_mlflow_batch_size(const ss_mlflow_batch_t *b);
ss_err_t ss_mlflow_batch_log(ss_mlflow_t *c, const char *run_id, ss_mlflow_batch_t *b, char *errstr,
                             size_t errstr_size);

/* A metric's history (array of {"key","value","timestamp","step"}) into *out. */
ss_err_t ss_mlflow_metric_history(ss_mlflow_t *c, const char *run_id, const char *key, cJSON **out,
                                  char *errstr, size_t errstr_size);

/* ---- artifacts (through the server's artifact proxy) ---- */

/* Uploads local_path as <artifact_uri>/<path> (PUT, overwrites); its sha256 into
 * sha256_out[65] (may be NULL). */
ss_err_t ss_mlflow_artifact_upload(ss_mlflow_t *c, const char *artifact_uri, const char *path,
                                   const char *local_path, char *sha256_out, char *errstr,
                                   size_t errstr_size);

/* Downloads <artifact_uri>/<path> to out_path (through a temp file beside it, renamed when
 * complete). With expect_sha256 non-NULL and non-empty a file whose sha256 differs is
 * refused (SS_ERR_CHECKSUM, out_path untouched). Its sha256 into sha256_out (may be NULL). */
ss_err_t ss_mlflow_artifact_download(ss_mlflow_t *c, const char *artifact_uri, const char *path,
                                     const char *out_path, const char *expect_sha256,
                                     char *sha256_out, char *errstr, size_t errstr_size);

/* The artifacts of a run under path ("" = the root): *out is the array of
 * {"path","is_dir","file_size"} (caller frees; empty array when there are none). */
ss_err_t ss_mlflow_artifact_list(ss_mlflow_t *c, const char *run_id, const char *path, cJSON **out,
                                 char *errstr, size_t errstr_size);

/* ---- model registry ---- */

/* Creates the registered model name; one that exists already is fine. */
ss_err_t ss_mlflow_model_create(ss_mlflow_t *c, const char *name, char *errstr, size_t errstr_size);

/* The registered model ({"name", "latest_versions", "aliases", "tags", ...}) into *out. */
ss_err_t ss_mlflow_model_get(ss_mlflow_t *c, const char *name, cJSON **out, char *errstr,
                             size_t errstr_size);

/* Creates a version of name from source (inside run_id's artifacts) with tags (object of
 * strings, borrowed, may be NULL), waits while it is PENDING_REGISTRATION (at most
 * wait_ms), and writes its number into version[32]. FAILED_REGISTRATION is an error. */
ss_err_t ss_mlflow_version_create(ss_mlflow_t *c, const char *name, const char *source,
                                  const char *run_id, const cJSON *tags, long wait_ms,
                                  char version[32], char *errstr, size_t errstr_size);

/* The model version record ({"name","version","source","run_id","status","tags","aliases"})
 * into *out. */
ss_err_t ss_mlflow_version_get(ss_mlflow_t *c, const char *name, const char *version, cJSON **out,
                               char *errstr, size_t errstr_size);

/* Every version of name (array, newest first) into *out. */
ss_err_t ss_mlflow_version_search(ss_mlflow_t *c, const char *name, cJSON **out, char *errstr,
                                  size_t errstr_size);

/* Sets one tag on a model version. */
ss_err_t ss_mlflow_version_tag(ss_mlflow_t *c, const char *name, const char *version,
                               const char *key, const char *value, char *errstr,
                               size_t errstr_size);

/* Points alias at version (creates or moves it). */
ss_err_t ss_mlflow_alias_set(ss_mlflow_t *c, const char *name, const char *alias,
                             const char *version, char *errstr, size_t errstr_size);

/* The version alias points at into *out. A missing alias (MLflow answers 400
 * INVALID_PARAMETER_VALUE) or model gives SS_ERR_EMPTY. */
ss_err_t ss_mlflow_alias_get(ss_mlflow_t *c, const char *name, const char *alias, cJSON **out,
                             char *errstr, size_t errstr_size);

/* Removes alias from name. */
ss_err_t ss_mlflow_alias_delete(ss_mlflow_t *c, const char *name, const char *alias, char *errstr,
                                size_t errstr_size);

/* The string member key of a version's (or run's) tags, NULL if absent. Tags come either as
 * an array of {"key","value"} (REST) or an object; both are read. Valid while tree lives. */
const char *ss_mlflow_tag_find(const cJSON *tags, const char *key);

/*
 * Parses "models:/NAME@ALIAS" or "models:/NAME/VERSION" into name[256] and either
 * alias[128] or version[32] (the other left ""). Returns SS_ERR_PARSE naming the uri.
 */
ss_err_t ss_mlflow_model_uri_parse(const char *uri, char name[256], char alias[128],
                                   char version[32], char *errstr, size_t errstr_size);

/* Resolves "models:/NAME@ALIAS" or "models:/NAME/VERSION" to the version record (*out). */
ss_err_t ss_mlflow_model_uri_resolve(ss_mlflow_t *c, const char *uri, cJSON **out, char *errstr,
                                     size_t errstr_size);

#endif /* SS_MLFLOW_H */
