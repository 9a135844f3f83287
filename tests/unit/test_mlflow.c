/*
 * unit.mlflow: the MLflow client's request policy, against a small fake server
 * (libmicrohttpd on an ephemeral loopback port) so that no MLflow is needed:
 * a 5xx is retried with backoff until it succeeds, a 4xx is not retried and its
 * error_code and message reach the error text, a refused connection is retried
 * and then reported with the endpoint, a non-JSON error page is named as such,
 * JSON requests carry Content-Type: application/json, GET bodies become an
 * escaped query string, and models:/ uris parse. The real-server tests are in
 * tests/integration/test_mlflow.sh.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "ss_mlflow.h"
#include "ss_test.h"
#include "ss_util.h"

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static int fake_hits_503, fake_hits_400, fake_fail_first = 2;
static char fake_ctype[128], fake_query_filter[256], fake_body[256];

static enum MHD_Result fake_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
        static int marker;
        if (!*con_cls) {
                *con_cls = &marker;
                return MHD_YES;
        }
        if (*upload_data_size) {
                pthread_mutex_lock(&fake_mu);
                size_t n = strlen(fake_body);
                size_t m = *upload_data_size < sizeof(fake_body) - n - 1
                               ? *upload_data_size
                               : sizeof(fake_body) - n - 1;
                memcpy(fake_body + n, upload_data, m);
                fake_body[n + m] = '\0';
                pthread_mutex_unlock(&fake_mu);
                *upload_data_size = 0;
                return MHD_YES;
        }
        unsigned status = 200;
        const char *body = "{\"ok\": true}";
        pthread_mutex_lock(&fake_mu);
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        snprintf(fake_ctype, sizeof(fake_ctype), "%s", ct ? ct : "");
        if (!strcmp(url, "/api/2.0/mlflow/flaky")) {
                if (fake_hits_503++ < fake_fail_first) {
                        status = 503;
                        body =
                            "{\"error_code\": \"TEMPORARILY_UNAVAILABLE\", \"message\": \"busy\"}";
                }
        } else if (!strcmp(url, "/api/2.0/mlflow/bad")) {
                fake_hits_400++;
                status = 400;
                body =
                    "{\"error_code\": \"INVALID_PARAMETER_VALUE\", \"message\": \"no such alias\"}";
        } else if (!strcmp(url, "/api/2.0/mlflow/query")) {
                const char *f = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "filter");
                snprintf(fake_query_filter, sizeof(fake_query_filter), "%s", f ? f : "");
        } else {
                status = 404;
                body = "<!doctype html><title>404 Not Found</title>";
        }
        pthread_mutex_unlock(&fake_mu);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static void test_policy(void)
{
        /* connection refused (7), timeout (28), 5xx: retried; a 4xx or 2xx: not */
        CHECK(ss_mlflow_retryable(7, 0));
        CHECK(ss_mlflow_retryable(28, 0));
        CHECK(ss_mlflow_retryable(0, 500));
        CHECK(ss_mlflow_retryable(0, 503));
        CHECK(!ss_mlflow_retryable(0, 400));
        CHECK(!ss_mlflow_retryable(0, 404));
        CHECK(!ss_mlflow_retryable(0, 429));
        CHECK(!ss_mlflow_retryable(0, 200));
        ss_mlflow_policy_t p;
        ss_mlflow_policy_default(&p);
        p.backoff_ms = 100;
        p.backoff_max_ms = 500;
        CHECK(ss_mlflow_backoff(&p, 2) == 100);
        CHECK(ss_mlflow_backoff(&p, 3) == 200);
        CHECK(ss_mlflow_backoff(&p, 4) == 400);
        CHECK(ss_mlflow_backoff(&p, 5) == 500);
        CHECK(ss_mlflow_backoff(&p, 9) == 500);
}

static void test_uri_parse(void)
{
        char name[256], alias[128], version[32], err[256];
        CHECK(ss_mlflow_model_uri_parse("models:/sentiment@champion", name, alias, version, err,
                                        sizeof(err)) == SS_OK);
        CHECK_STR_EQ(name, "sentiment");
        CHECK_STR_EQ(alias, "champion");
        CHECK_STR_EQ(version, "");
        CHECK(ss_mlflow_model_uri_parse("models:/sentiment/12", name, alias, version, err,
                                        sizeof(err)) == SS_OK);
        CHECK_STR_EQ(name, "sentiment");
        CHECK_STR_EQ(version, "12");
        CHECK_STR_EQ(alias, "");
        const char *bad[] = {"sentiment@x", "models:/",   "models:/a",    "models:/a/b",
                             "models:/@x",  "models:/a@", "models:/a/b/3"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CHECK(ss_mlflow_model_uri_parse(bad[i], name, alias, version, err, sizeof(err)) ==
                      SS_ERR_PARSE);
                CHECK(strstr(err, bad[i]) != NULL);
        }
}

static void test_fake_server(void)
{
        struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                                fake_answer, NULL, MHD_OPTION_END);
        CHECK(d != NULL);
        if (!d)
                return;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        char uri[64], err[1024];
        snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/", (unsigned)info->port);
        ss_mlflow_policy_t p;
        ss_mlflow_policy_default(&p);
        p.attempts = 4;
        p.backoff_ms = 50;
        p.timeout_ms = 5000;
        ss_mlflow_t *c = ss_mlflow_new(uri, &p, err, sizeof(err));
        CHECK(c != NULL);
        CHECK(ss_mlflow_uri(c)[strlen(ss_mlflow_uri(c)) - 1] != '/');

        /* 503 twice, then 200: three requests, success, with backoff between them */
        cJSON *body = cJSON_CreateObject(), *out = NULL;
        cJSON_AddStringToObject(body, "run_id", "r1");
        double t0 = ss_time_mono();
        CHECK(ss_mlflow_call(c, "POST", "/api/2.0/mlflow/flaky", body, &out, err, sizeof(err)) ==
              SS_OK);
        double took = ss_time_mono() - t0;
        CHECK(fake_hits_503 == 3);
        CHECK(ss_mlflow_requests(c) == 3);
        CHECK(took >= 0.050 + 0.100 - 0.005); /* backoff 50 ms then 100 ms */
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(out, "ok")));
        CHECK_STR_EQ(fake_ctype, "application/json");
        CHECK(strstr(fake_body, "\"run_id\":\"r1\"") != NULL);
        cJSON_Delete(out);

        /* 503 more often than the attempts: the error names endpoint, status and code */
        fake_hits_503 = 0;
        fake_fail_first = 100;
        CHECK(ss_mlflow_call(c, "POST", "/api/2.0/mlflow/flaky", body, NULL, err, sizeof(err)) ==
              SS_ERR_HTTP);
        CHECK(fake_hits_503 == 4);
        CHECK(strstr(err, "POST /api/2.0/mlflow/flaky") != NULL);
        CHECK(strstr(err, "HTTP 503 TEMPORARILY_UNAVAILABLE") != NULL);
        CHECK(strstr(err, "after 4 attempts") != NULL);

        /* a 4xx is never retried */
        uint64_t before = ss_mlflow_requests(c);
        CHECK(ss_mlflow_call(c, "GET", "/api/2.0/mlflow/bad", body, NULL, err, sizeof(err)) ==
              SS_ERR_HTTP);
        CHECK(fake_hits_400 == 1);
        CHECK(ss_mlflow_requests(c) == before + 1);
        CHECK(ss_mlflow_last_status(c) == 400);
        CHECK_STR_EQ(ss_mlflow_last_error_code(c), "INVALID_PARAMETER_VALUE");
        CHECK(strstr(err, "GET /api/2.0/mlflow/bad: HTTP 400 INVALID_PARAMETER_VALUE: no such "
                          "alias") != NULL);

        /* an unknown endpoint answers an HTML 404: named, not retried */
        CHECK(ss_mlflow_call(c, "GET", "/api/2.0/mlflow/nope", NULL, NULL, err, sizeof(err)) ==
              SS_ERR_HTTP);
        CHECK(strstr(err, "HTTP 404") && strstr(err, "not JSON"));

        /* GET: the body's members become an escaped query string */
        cJSON *q = cJSON_CreateObject();
        cJSON_AddStringToObject(q, "filter", "name='a b&c'");
        CHECK(ss_mlflow_call(c, "GET", "/api/2.0/mlflow/query", q, NULL, err, sizeof(err)) ==
              SS_OK);
        CHECK_STR_EQ(fake_query_filter, "name='a b&c'");
        cJSON_Delete(q);
        cJSON_Delete(body);
        ss_mlflow_destroy(c);
        MHD_stop_daemon(d);

        /* nothing listens any more: retried, then the endpoint and the cause */
        p.attempts = 3;
        p.backoff_ms = 10;
        c = ss_mlflow_new(uri, &p, err, sizeof(err));
        CHECK(ss_mlflow_call(c, "POST", "/api/2.0/mlflow/runs/create", NULL, NULL, err,
                             sizeof(err)) == SS_ERR_HTTP);
        CHECK(ss_mlflow_requests(c) == 3);
        CHECK(ss_mlflow_last_status(c) == 0);
        CHECK(strstr(err, "POST /api/2.0/mlflow/runs/create") != NULL);
        CHECK(strstr(err, "after 3 attempts") != NULL);
        ss_mlflow_destroy(c);

        CHECK(ss_mlflow_new("127.0.0.1:5000", NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "127.0.0.1:5000") != NULL);
}

/* Against a real MLflow server, when SS_TEST_MLFLOW_URI names one (tests/integration/test_mlflow.sh
 * sets it): every call of the client once, and the server's quirks it relies on. */
static void test_live(const char *uri)
{
        char err[1024], id1[64], id2[64], path[256], out[256], sha[65], sha2[65];
        ss_mlflow_t *c = ss_mlflow_new(uri, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c)
                return;
        CHECK(ss_mlflow_health(c, err, sizeof(err)) == SS_OK);
        /* get-or-create: the second call finds the first's experiment */
        char exp[64];
        snprintf(exp, sizeof(exp), "unit-%d", (int)getpid());
        CHECK(ss_mlflow_experiment_get_or_create(c, exp, id1, err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_experiment_get_or_create(c, exp, id2, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(id1, id2);

        cJSON *tags = cJSON_CreateObject();
        cJSON_AddStringToObject(tags, "sentistream.unit", "yes");
        ss_mlflow_run_t run;
        CHECK(ss_mlflow_run_create(c, id1, "unit-run", tags, &run, err, sizeof(err)) == SS_OK);
        cJSON_Delete(tags);
        CHECK(!strncmp(run.artifact_uri, "mlflow-artifacts:/", 18));

        /* log-batch: 250 params (three requests), a curve with steps, a NaN */
        ss_mlflow_batch_t *b = ss_mlflow_batch_new();
        for (int i = 0; i < 250; i++) {
                char k[32], v[32];
                snprintf(k, sizeof(k), "p%03d", i);
                snprintf(v, sizeof(v), "%d", i * 7);
                ss_mlflow_batch_param(b, k, v);
        }
        for (int s = 1; s <= 5; s++)
                ss_mlflow_batch_metric(b, "loss", 1.0 / s, s, 0);
        ss_mlflow_batch_metric(b, "odd", NAN, 0, 0);
        ss_mlflow_batch_tag(b, "k", "v");
        CHECK(ss_mlflow_batch_size(b) == 257);
        CHECK(ss_mlflow_batch_log(c, run.run_id, b, err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_batch_size(b) == 0);
        ss_mlflow_batch_destroy(b);
        cJSON *hist = NULL;
        CHECK(ss_mlflow_metric_history(c, run.run_id, "loss", &hist, err, sizeof(err)) == SS_OK);
        CHECK(cJSON_GetArraySize(hist) == 5);
        int steps_ok = 1;
        const cJSON *m;
        cJSON_ArrayForEach(m, hist)
        {
                double st = cJSON_GetObjectItem(m, "step")->valuedouble;
                double v = cJSON_GetObjectItem(m, "value")->valuedouble;
                steps_ok &= st >= 1 && st <= 5 && fabs(v - 1.0 / st) < 1e-12;
        }
        CHECK(steps_ok);
        cJSON_Delete(hist);
        CHECK(ss_mlflow_metric_history(c, run.run_id, "odd", &hist, err, sizeof(err)) == SS_OK);
        const cJSON *nv = cJSON_GetObjectItem(cJSON_GetArrayItem(hist, 0), "value");
        CHECK(cJSON_IsString(nv) && !strcmp(nv->valuestring, "NaN")); /* the server's spelling */
        cJSON_Delete(hist);
        cJSON *rr = NULL;
        ss_mlflow_run_t got;
        CHECK(ss_mlflow_run_get(c, run.run_id, &rr, &got, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(got.artifact_uri, run.artifact_uri);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(rr, "data"), "params")) ==
              250);
        CHECK_STR_EQ(
            ss_mlflow_tag_find(cJSON_GetObjectItem(cJSON_GetObjectItem(rr, "data"), "tags"),
                               "sentistream.unit"),
            "yes");
        cJSON_Delete(rr);

        /* artifacts: upload, list, download verified, a wrong sha256 refused */
        snprintf(path, sizeof(path), "/tmp/ss_test_mlflow_%d.bin", (int)getpid());
        snprintf(out, sizeof(out), "/tmp/ss_test_mlflow_%d.out", (int)getpid());
        FILE *f = fopen(path, "wb");
        for (int i = 0; i < 100000; i++)
                fputc(i * 31 % 251, f);
        fclose(f);
        CHECK(ss_mlflow_artifact_upload(c, run.artifact_uri, "model/blob.bin", path, sha, err,
                                        sizeof(err)) == SS_OK);
        cJSON *files = NULL;
        CHECK(ss_mlflow_artifact_list(c, run.run_id, "model", &files, err, sizeof(err)) == SS_OK);
        CHECK(cJSON_GetArraySize(files) == 1);
        CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(files, 0), "path")->valuestring,
                     "model/blob.bin");
        cJSON_Delete(files);
        CHECK(ss_mlflow_artifact_download(c, run.artifact_uri, "model/blob.bin", out, sha, sha2,
                                          err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(sha, sha2);
        unlink(out);
        char bad[65];
        memset(bad, 'a', 64);
        bad[64] = '\0';
        CHECK(ss_mlflow_artifact_download(c, run.artifact_uri, "model/blob.bin", out, bad, NULL,
                                          err, sizeof(err)) == SS_ERR_CHECKSUM);
        CHECK(access(out, F_OK) != 0); /* nothing left behind */
        CHECK(ss_mlflow_artifact_download(c, run.artifact_uri, "model/none.bin", out, NULL, NULL,
                                          err, sizeof(err)) == SS_ERR_HTTP);
        CHECK(strstr(err, "GET /api/2.0/mlflow-artifacts/artifacts/") != NULL);

        /* registry: create twice, a version (waits for READY), aliases */
        char name[64], version[32];
        snprintf(name, sizeof(name), "unit-model-%d", (int)getpid());
        CHECK(ss_mlflow_model_create(c, name, err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_model_create(c, name, err, sizeof(err)) == SS_OK);
        char source[700];
        snprintf(source, sizeof(source), "%s/model", run.artifact_uri);
        cJSON *vt = cJSON_CreateObject();
        cJSON_AddStringToObject(vt, "sentistream.model_sha256", sha);
        CHECK(ss_mlflow_version_create(c, name, source, run.run_id, vt, 30000, version, err,
                                       sizeof(err)) == SS_OK);
        cJSON_Delete(vt);
        CHECK_STR_EQ(version, "1");
        CHECK(ss_mlflow_version_tag(c, name, version, "stage", "test", err, sizeof(err)) == SS_OK);
        cJSON *mv = NULL;
        CHECK(ss_mlflow_alias_get(c, name, "champion", &mv, err, sizeof(err)) == SS_ERR_EMPTY);
        CHECK(ss_mlflow_last_status(c) == 400);
        CHECK(ss_mlflow_alias_set(c, name, "champion", version, err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_alias_get(c, name, "champion", &mv, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(cJSON_GetObjectItem(mv, "version")->valuestring, "1");
        CHECK_STR_EQ(ss_mlflow_tag_find(cJSON_GetObjectItem(mv, "tags"), "stage"), "test");
        cJSON_Delete(mv);
        char muri[128];
        snprintf(muri, sizeof(muri), "models:/%s@champion", name);
        CHECK(ss_mlflow_model_uri_resolve(c, muri, &mv, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(cJSON_GetObjectItem(mv, "source")->valuestring, source);
        cJSON_Delete(mv);
        CHECK(ss_mlflow_alias_delete(c, name, "champion", err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_model_uri_resolve(c, muri, &mv, err, sizeof(err)) == SS_ERR_EMPTY);
        CHECK(strstr(err, "no alias \"champion\"") != NULL);
        cJSON *vs = NULL;
        CHECK(ss_mlflow_version_search(c, name, &vs, err, sizeof(err)) == SS_OK);
        CHECK(cJSON_GetArraySize(vs) == 1);
        cJSON_Delete(vs);
        /* more versions than one page holds: every page is read, newest first */
        for (int i = 0; i < 4; i++) {
                char v[32];
                CHECK(ss_mlflow_version_create(c, name, source, run.run_id, NULL, 30000, v, err,
                                               sizeof(err)) == SS_OK);
        }
        ss_mlflow_search_page_set(c, 2);
        uint64_t sent = ss_mlflow_requests(c);
        CHECK(ss_mlflow_version_search(c, name, &vs, err, sizeof(err)) == SS_OK);
        CHECK(ss_mlflow_requests(c) - sent == 3); /* pages of 2, 2 and 1 */
        CHECK(cJSON_GetArraySize(vs) == 5);
        for (int i = 0; i < 5; i++) {
                char want[8];
                snprintf(want, sizeof(want), "%d", 5 - i);
                CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(vs, i), "version")->valuestring,
                             want);
        }
        cJSON_Delete(vs);
        ss_mlflow_search_page_set(c, 0);
        cJSON *model = NULL;
        CHECK(ss_mlflow_model_get(c, name, &model, err, sizeof(err)) == SS_OK);
        CHECK_STR_EQ(cJSON_GetObjectItem(model, "name")->valuestring, name);
        cJSON_Delete(model);

        /* runs: search by tag, end */
        cJSON *runs = NULL;
        CHECK(ss_mlflow_run_search(c, id1, "tags.`sentistream.unit` = 'yes'", 10, &runs, err,
                                   sizeof(err)) == SS_OK);
        CHECK(cJSON_GetArraySize(runs) == 1);
        cJSON_Delete(runs);
        CHECK(ss_mlflow_run_search(c, id1, "tags.`sentistream.unit` = 'no'", 10, &runs, err,
                                   sizeof(err)) == SS_OK);
        CHECK(cJSON_GetArraySize(runs) == 0);
        cJSON_Delete(runs);
        CHECK(ss_mlflow_run_end(c, run.run_id, "FINISHED", err, sizeof(err)) == SS_OK);
        /* a 4xx from the real server: named, not retried */
        uint64_t before = ss_mlflow_requests(c);
        CHECK(ss_mlflow_run_get(c, "0123456789abcdef0123456789abcdef", NULL, NULL, err,
                                sizeof(err)) == SS_ERR_HTTP);
        CHECK(ss_mlflow_requests(c) == before + 1);
        CHECK(strstr(err, "GET /api/2.0/mlflow/runs/get: HTTP 404 RESOURCE_DOES_NOT_EXIST") !=
              NULL);
        unlink(path);
        ss_mlflow_destroy(c);
}

int main(void)
{
        test_policy();
        test_uri_parse();
        test_fake_server();
        const char *live = getenv("SS_TEST_MLFLOW_URI");
        if (live && *live)
                test_live(live);
        else
                printf("mlflow: SS_TEST_MLFLOW_URI not set: the live checks run in "
                       "integration.mlflow\n");
        printf("mlflow: %d passed, %d failed\n", ss_test_passed, ss_test_failed);
        return ss_test_failed ? 1 : 0;
}
