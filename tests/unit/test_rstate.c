/*
 * test_rstate: the retrain worker's Redis records against a redis-server started here
 * (port SS_TEST_PORT_BASE + 385):
 * - the lock: one holder at a time; only the holder renews or releases it (another
 *   worker's release leaves it); it expires by itself (PX) and can then be taken;
 * - fencing tokens strictly increase per model, independent across models;
 * - the handled-event record: SET NX, the first outcome stays;
 * - with Redis gone every call is SS_ERR_REDIS, nothing is assumed.
 * Skipped (reported) when redis-server is not installed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rstate.h"
#include "ss_log.h"
#include "ss_test.h"
#include "ss_util.h"

int main(void)
{
        if (system("command -v redis-server >/dev/null 2>&1") != 0) {
                printf("redis-server not installed: skipped\n");
                return ss_test_finish();
        }
        const char *base = getenv("SS_TEST_PORT_BASE");
        int port = (base ? atoi(base) : 19000) + 385;
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
                _exit(127);
        }
        ss_log_level_set(SS_LOG_ERROR);
        char err[512];
        ss_mstate_t *a = ss_mstate_new("127.0.0.1", port, 500, 100, "t:");
        ss_mstate_t *b = ss_mstate_new("127.0.0.1", port, 500, 100, "t:");
        ss_err_t rc = SS_ERR_REDIS;
        for (int i = 0; i < 100 && rc != SS_OK; i++)
                if ((rc = ss_mstate_ensure(a, err, sizeof(err))))
                        usleep(100 * 1000);
        CHECK(rc == SS_OK);

        /* one holder at a time */
        int got = -1, held = -1;
        CHECK(ss_rstate_lock_acquire(a, "m", "worker-a", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 1);
        CHECK(ss_rstate_lock_acquire(b, "m", "worker-b", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 0);
        /* another model's lock is independent */
        CHECK(ss_rstate_lock_acquire(b, "other", "worker-b", 60000, &got, err, sizeof(err)) ==
              SS_OK);
        CHECK(got == 1);
        /* only the holder renews or releases */
        CHECK(ss_rstate_lock_renew(b, "m", "worker-b", 60000, &held, err, sizeof(err)) == SS_OK);
        CHECK(held == 0);
        CHECK(ss_rstate_lock_renew(a, "m", "worker-a", 60000, &held, err, sizeof(err)) == SS_OK);
        CHECK(held == 1);
        CHECK(ss_rstate_lock_release(b, "m", "worker-b", err, sizeof(err)) == SS_OK);
        CHECK(ss_rstate_lock_acquire(b, "m", "worker-b", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 0); /* b's release did not delete a's lock */
        CHECK(ss_rstate_lock_release(a, "m", "worker-a", err, sizeof(err)) == SS_OK);
        CHECK(ss_rstate_lock_acquire(b, "m", "worker-b", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 1);
        CHECK(ss_rstate_lock_release(b, "m", "worker-b", err, sizeof(err)) == SS_OK);

        /* a dead holder's lock expires by itself; the late holder then holds nothing */
        CHECK(ss_rstate_lock_acquire(a, "m", "worker-a", 200, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 1);
        CHECK(ss_rstate_lock_acquire(b, "m", "worker-b", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 0);
        usleep(400 * 1000);
        CHECK(ss_rstate_lock_acquire(b, "m", "worker-b", 60000, &got, err, sizeof(err)) == SS_OK);
        CHECK(got == 1);
        CHECK(ss_rstate_lock_renew(a, "m", "worker-a", 60000, &held, err, sizeof(err)) == SS_OK);
        CHECK(held == 0);

        /* fencing tokens */
        int64_t t1 = 0, t2 = 0, t3 = 0, o1 = 0;
        CHECK(ss_rstate_fence_next(a, "m", &t1, err, sizeof(err)) == SS_OK);
        CHECK(ss_rstate_fence_next(b, "m", &t2, err, sizeof(err)) == SS_OK);
        CHECK(ss_rstate_fence_next(a, "other", &o1, err, sizeof(err)) == SS_OK);
        CHECK(ss_rstate_fence_next(a, "m", &t3, err, sizeof(err)) == SS_OK);
        CHECK(t1 == 1 && t2 == 2 && t3 == 3 && o1 == 1);

        /* handled events */
        char *json = (char *)"x";
        int first = -1;
        CHECK(ss_rstate_done_get(a, "v1:w-1", &json, err, sizeof(err)) == SS_OK);
        CHECK(json == NULL);
        CHECK(ss_rstate_done_set(a, "v1:w-1", "{\"result\":\"promoted\"}", &first, err,
                                 sizeof(err)) == SS_OK);
        CHECK(first == 1);
        CHECK(ss_rstate_done_set(b, "v1:w-1", "{\"result\":\"rejected\"}", &first, err,
                                 sizeof(err)) == SS_OK);
        CHECK(first == 0);
        CHECK(ss_rstate_done_get(b, "v1:w-1", &json, err, sizeof(err)) == SS_OK);
        CHECK(json && !strcmp(json, "{\"result\":\"promoted\"}"));
        free(json);

        /* Redis gone */
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        json = NULL;
        CHECK(ss_rstate_done_get(a, "v1:w-2", &json, err, sizeof(err)) == SS_ERR_REDIS);
        CHECK(ss_rstate_lock_acquire(a, "m", "worker-a", 1000, &got, err, sizeof(err)) ==
              SS_ERR_REDIS);
        CHECK(got == 0);
        CHECK(ss_rstate_fence_next(a, "m", &t1, err, sizeof(err)) == SS_ERR_REDIS);
        ss_mstate_destroy(a);
        ss_mstate_destroy(b);
        return ss_test_finish();
}
