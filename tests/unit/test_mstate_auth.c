/*
 * test_mstate_auth: a wrong Redis password is retried with the reconnection backoff, never
 * in a hot loop: against a redis-server started here with requirepass (port
 * SS_TEST_PORT_BASE + 383), 2 s of calls to ss_mstate_ensure() make at most 6 attempts
 * (100, 200, 400, 800 ms waits), each SS_ERR_CONFIG with Redis' reason and without the
 * password; once the right password is set, the next attempt connects. Skipped (reported)
 * when redis-server is not installed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mstate.h"
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
        int port = (base ? atoi(base) : 19000) + 383;
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        pid_t pid = fork();
        if (pid == 0) {
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                       "--requirepass", "right-pw", "--save", "", "--appendonly", "no",
                       "--loglevel", "warning", (char *)NULL);
                _exit(127);
        }
        ss_log_level_set(SS_LOG_ERROR);
        char err[512];
        ss_mstate_t *s = ss_mstate_new("127.0.0.1", port, 500, 10000, "test:");
        CHECK(s != NULL);
        /* wait for the server: a refused connection is SS_ERR_REDIS, a refused AUTH is not */
        CHECK(ss_mstate_auth_set(s, "", "wrong-pw") == SS_OK);
        ss_err_t rc = SS_ERR_REDIS;
        for (int i = 0; i < 100 && rc == SS_ERR_REDIS; i++) {
                ss_mstate_t *probe = ss_mstate_new("127.0.0.1", port, 500, 100, "test:");
                ss_mstate_auth_set(probe, "", "wrong-pw");
                rc = ss_mstate_ensure(probe, err, sizeof(err));
                ss_mstate_destroy(probe);
                if (rc == SS_ERR_REDIS)
                        usleep(100 * 1000);
        }
        CHECK(rc == SS_ERR_CONFIG);

        int attempts = 0, calls = 0;
        double t0 = ss_time_mono();
        while (ss_time_mono() - t0 < 2.0) {
                rc = ss_mstate_ensure(s, err, sizeof(err));
                calls++;
                if (rc == SS_ERR_CONFIG) {
                        attempts++;
                        CHECK(strstr(err, "WRONGPASS") != NULL);
                        CHECK(strstr(err, "wrong-pw") == NULL);
                } else {
                        CHECK(rc == SS_ERR_REDIS && strstr(err, "next attempt in") != NULL);
                }
                usleep(1000);
        }
        printf("wrong password: %d attempts in 2 s (%d calls)\n", attempts, calls);
        CHECK(attempts >= 3 && attempts <= 6);
        CHECK(!ss_mstate_up(s));

        CHECK(ss_mstate_auth_set(s, "", "right-pw") == SS_OK);
        t0 = ss_time_mono();
        while ((rc = ss_mstate_ensure(s, err, sizeof(err))) != SS_OK && ss_time_mono() - t0 < 5)
                usleep(10 * 1000);
        CHECK(rc == SS_OK && ss_mstate_up(s));
        CHECK(ss_mstate_set(s, "k", "v", 1, err, sizeof(err)) == SS_OK);
        ss_mstate_destroy(s);

        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return ss_test_finish();
}
