/*
 * sentistream lineage models:/NAME/VERSION|models:/NAME@ALIAS|FILE_VERSION@NAME/VERSION
 *                     [--reproduce [--run DIR]] [key=value ...]
 *
 * Where a registered model came from, from the registry on tracking.uri:
 * version -> run -> git commit (and dirty flag) -> data files with sha256 (each
 * compared with the local file of that path) -> the resolved configuration of
 * the training (the run's params). FILE_VERSION@NAME/VERSION is the model_version a
 * prediction of a registry model carries (e.g. logreg-99da3a1b34ba@sentiment/2).
 * --reproduce prints the commands that rebuild the model file: check out the
 * commit, build, verify the data, train with the run's configuration, compare
 * the sha256. It checks out nothing itself. With --run DIR it runs the training
 * step with this binary into DIR/model.ssm (after checking the data files'
 * sha256) and compares the bytes' sha256 with the registered one.
 * Exit status: 0 ok (with --run: identical), 1 failure or a different file,
 * 2 usage or configuration error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "cmd.h"
#include "ss_mlflow.h"
#include "ss_track.h"
#include "ss_util.h"

#define SS_LINEAGE_MAX_ARGS 256

static void ss_lineage_usage(FILE *out)
{
        fprintf(out, "usage: sentistream lineage models:/NAME/VERSION|models:/NAME@ALIAS|"
                     "FILE_VERSION@NAME/VERSION\n"
                     "                           [--reproduce [--run DIR]] [key=value ...]\n"
                     "  the registered version's run, git commit, data files (sha256) and "
                     "configuration;\n"
                     "  --reproduce prints the commands that rebuild it; --run DIR also runs "
                     "the training\n"
                     "  into DIR/model.ssm and compares its sha256\n");
}

static const char *ss_lineage_str(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *ss_lineage_kind = ""; /* model.kind of the run being shown */

/* The params that decide the trained bytes: data.*, model.* (of the run's kind), train.*,
 * runtime.*, except model.out. */
static int ss_lineage_train_key(const char *key)
{
        static const char *kinds[] = {"model.logreg.", "model.cnn.", "model.minilm."};
        if (!strcmp(key, "model.out"))
                return 0;
        for (int i = 0; i < 3; i++)
                if (!strncmp(key, kinds[i], strlen(kinds[i])) &&
                    strncmp(key + 6, ss_lineage_kind, strlen(ss_lineage_kind)))
                        return 0;
        return !strncmp(key, "data.", 5) || !strncmp(key, "model.", 6) ||
               !strncmp(key, "train.", 6) || !strncmp(key, "runtime.", 8);
}

/* Prints s quoted for a POSIX shell when it needs it. */
static void ss_lineage_shell_word(FILE *out, const char *s)
{
        if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "._-/=:,+@%") == strlen(s)) {
                fputs(s, out);
                return;
        }
        fputc('\'', out);
        for (; *s; s++) {
                if (*s == '\'')
                        fputs("'\\''", out);
                else
                        fputc(*s, out);
        }
        fputc('\'', out);
}

/* The data files of a run: name, path, sha256 from its tags. */
typedef struct ss_lineage_data {
        const char *name, *path, *sha256;
} ss_lineage_data_t;

static int ss_lineage_data(const cJSON *tags, ss_lineage_data_t *d, int max)
{
        static const char *names[] = {"train", "validation", "lexicon"};
        int n = 0;
        for (int i = 0; i < 3 && n < max; i++) {
                char kp[96], ks[96];
                snprintf(kp, sizeof(kp), "sentistream.data.%s.path", names[i]);
                snprintf(ks, sizeof(ks), "sentistream.data.%s.sha256", names[i]);
                const char *p = ss_mlflow_tag_find(tags, kp), *s = ss_mlflow_tag_find(tags, ks);
                if (p && s)
                        d[n++] = (ss_lineage_data_t){names[i], p, s};
        }
        return n;
}

/* Runs argv (argv[0] a path) and waits; returns its exit status, or -1. */
static int ss_lineage_exec(char **argv, const char *log_path)
{
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                FILE *f = freopen(log_path, "w", stdout);
                if (f)
                        dup2(fileno(f), 2);
                execv(argv[0], argv);
                _exit(127);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Builds the training command of the run: "train" + every train key + model.out. */
static int ss_lineage_train_argv(const cJSON *params, const char *model_out, char **argv, int max)
{
        int n = 0;
        argv[n++] = strdup("train");
        const cJSON *p;
        cJSON_ArrayForEach(p, params)
        {
                const char *k = ss_lineage_str(p, "key");
                if (!ss_lineage_train_key(k) || n + 2 >= max)
                        continue;
                size_t len = strlen(k) + strlen(ss_lineage_str(p, "value")) + 2;
                char *kv = malloc(len);
                if (kv)
                        snprintf(kv, len, "%s=%s", k, ss_lineage_str(p, "value"));
                argv[n++] = kv;
        }
        size_t len = strlen(model_out) + 16;
        argv[n] = malloc(len);
        if (argv[n])
                snprintf(argv[n], len, "model.out=%s", model_out);
        n++;
        argv[n] = NULL;
        return n;
}

static void ss_lineage_argv_free(char **argv)
{
        for (int i = 0; argv[i]; i++)
                free(argv[i]);
}

/* Runs the training of the run into dir/model.ssm and compares the sha256 with want. */
static int ss_lineage_run(const cJSON *params, const ss_lineage_data_t *d, int nd, const char *dir,
                          const char *want)
{
        char err[1024], sha[65], out[1100], log[1100];
        for (int i = 0; i < nd; i++) {
                if (ss_sha256_file_hex(d[i].path, sha, err, sizeof(err)) ||
                    strcmp(sha, d[i].sha256)) {
                        fprintf(stderr,
                                "sentistream lineage: data %s (%s): %s; the model cannot be "
                                "rebuilt from it\n",
                                d[i].name, d[i].path, *err ? err : "sha256 differs from the run's");
                        return 1;
                }
        }
        if (mkdir(dir, 0755) && errno != EEXIST) {
                fprintf(stderr, "sentistream lineage: %s: %s\n", dir, strerror(errno));
                return 1;
        }
        snprintf(out, sizeof(out), "%s/model.ssm", dir);
        snprintf(log, sizeof(log), "%s/train.log", dir);
        char *argv[SS_LINEAGE_MAX_ARGS + 2] = {0};
        char self[1024];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                fprintf(stderr, "sentistream lineage: /proc/self/exe: %s\n", strerror(errno));
                return 1;
        }
        self[n] = '\0';
        argv[0] = strdup(self);
        ss_lineage_train_argv(params, out, argv + 1, SS_LINEAGE_MAX_ARGS);
        printf("running    %s train ... model.out=%s (log %s)\n", self, out, log);
        fflush(stdout);
        int rc = ss_lineage_exec(argv, log);
        ss_lineage_argv_free(argv);
        if (rc != 0) {
                fprintf(stderr, "sentistream lineage: the training exited %d; see %s\n", rc, log);
                return 1;
        }
        if (ss_sha256_file_hex(out, sha, err, sizeof(err))) {
                fprintf(stderr, "sentistream lineage: %s\n", err);
                return 1;
        }
        int same = !strcmp(sha, want);
        printf("rebuilt    %s sha256 %s: %s\n", out, sha,
               same ? "IDENTICAL to the registered file" : "DIFFERS from the registered file");
        if (!same)
                printf("registered sha256 %s\n", want);
        return same ? 0 : 1;
}

static void ss_lineage_print_reproduce(const cJSON *params, const ss_lineage_data_t *d, int nd,
                                       const char *commit, const char *sha)
{
        printf("\n# rebuild this model file (run from a clone of the repository)\n");
        printf("git checkout %s\n", commit);
        printf("cmake -S . -B build/rel -DCMAKE_BUILD_TYPE=Release && cmake --build build/rel "
               "-j2\n");
        for (int i = 0; i < nd; i++) {
                printf("echo ");
                ss_lineage_shell_word(stdout, d[i].sha256);
                printf("'  '");
                ss_lineage_shell_word(stdout, d[i].path);
                printf(" | sha256sum -c -\n");
        }
        char *argv[SS_LINEAGE_MAX_ARGS + 1] = {0};
        ss_lineage_train_argv(params, "rebuilt.ssm", argv, SS_LINEAGE_MAX_ARGS);
        printf("build/rel/cli/sentistream");
        for (int i = 0; argv[i]; i++) {
                printf(" \\\n    ");
                ss_lineage_shell_word(stdout, argv[i]);
        }
        printf("\necho '%s  rebuilt.ssm' | sha256sum -c -\n", sha);
        ss_lineage_argv_free(argv);
}

int ss_cmd_lineage(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        const char *uri = NULL, *run_dir = NULL;
        int reproduce = 0;
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--reproduce"))
                        reproduce = 1;
                else if (!strcmp(argv[i], "--run") && i + 1 < argc)
                        run_dir = argv[++i];
                else if (!uri && (!strncmp(argv[i], "models:/", 8) || strchr(argv[i], '@')))
                        uri = argv[i];
                else
                        return ss_cli_args_reject(&args, "lineage", argv[i], ss_lineage_usage);
        }
        if (!uri || (run_dir && !reproduce)) {
                ss_cli_args_free(&args);
                ss_lineage_usage(stderr);
                return 2;
        }
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        char err[1024];
        int rc = 1;
        cJSON *mv = NULL, *run = NULL;
        ss_mlflow_t *c = NULL;
        const char *turi = ss_config_get_str(cfg, "tracking.uri");
        if (!*turi) {
                fprintf(stderr, "sentistream lineage: tracking.uri is empty: name the MLflow "
                                "server\n");
                rc = 2;
                goto out;
        }
        char from_pred[600];
        const char *at = strchr(uri, '@');
        if (strncmp(uri, "models:/", 8) && at) {
                /* a prediction's model_version: the file version, then the registry version */
                snprintf(from_pred, sizeof(from_pred), "models:/%s", at + 1);
                uri = from_pred;
        }
        ss_mlflow_run_t info;
        if (!(c = ss_mlflow_new(turi, NULL, err, sizeof(err))) ||
            ss_mlflow_model_uri_resolve(c, uri, &mv, err, sizeof(err)) ||
            ss_mlflow_run_get(c, ss_lineage_str(mv, "run_id"), &run, &info, err, sizeof(err))) {
                fprintf(stderr, "sentistream lineage: %s\n", err);
                goto out;
        }
        const cJSON *vtags = cJSON_GetObjectItemCaseSensitive(mv, "tags");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(run, "data");
        const cJSON *rtags = cJSON_GetObjectItemCaseSensitive(data, "tags");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(data, "params");
        const char *sha = ss_mlflow_tag_find(vtags, "sentistream.model_sha256");
        const char *commit = ss_mlflow_tag_find(rtags, "sentistream.git_commit");
        const char *dirty = ss_mlflow_tag_find(rtags, "sentistream.git_dirty");
        const char *csha = ss_mlflow_tag_find(rtags, "sentistream.config_sha256");
        const char *iv = ss_mlflow_tag_find(vtags, "sentistream.model_version");
        const cJSON *rinfo = cJSON_GetObjectItemCaseSensitive(run, "info");
        const cJSON *p;
        cJSON_ArrayForEach(p, params)
        {
                if (!strcmp(ss_lineage_str(p, "key"), "model.kind"))
                        ss_lineage_kind = ss_lineage_str(p, "value");
        }
        printf("version    %s/%s (file %s, sha256 %s)\n", ss_lineage_str(mv, "name"),
               ss_lineage_str(mv, "version"), iv ? iv : "?", sha ? sha : "?");
        printf("run        %s (%s, status %s) %s/#/experiments/%s/runs/%s\n", info.run_id,
               ss_lineage_str(rinfo, "run_name"), ss_lineage_str(rinfo, "status"), ss_mlflow_uri(c),
               info.experiment_id, info.run_id);
        if (!commit) {
                printf("git        (not recorded: the run was not made by sentistream train; "
                       "no lineage beyond the file)\n");
                rc = reproduce ? 1 : 0;
                goto out;
        }
        printf("git        %s%s\n", commit,
               dirty && !strcmp(dirty, "true") ? " (DIRTY: tracked files had uncommitted changes)"
                                               : "");
        ss_lineage_data_t d[3];
        int nd = ss_lineage_data(rtags, d, 3);
        for (int i = 0; i < nd; i++) {
                char local[65] = "";
                int have = ss_sha256_file_hex(d[i].path, local, NULL, 0) == SS_OK;
                printf("data       %-10s %s sha256 %s (%s)\n", d[i].name, d[i].path, d[i].sha256,
                       !have                         ? "not here"
                       : !strcmp(local, d[i].sha256) ? "the local file matches"
                                                     : "the local file DIFFERS");
        }
        printf("config     sha256 %s; the training's resolved keys:\n", csha ? csha : "?");
        cJSON_ArrayForEach(p, params)
        {
                if (ss_lineage_train_key(ss_lineage_str(p, "key")))
                        printf("  %s = %s\n", ss_lineage_str(p, "key"), ss_lineage_str(p, "value"));
        }
        rc = 0;
        if (reproduce && !sha) {
                fprintf(stderr, "sentistream lineage: the version has no sha256 tag\n");
                rc = 1;
        } else if (reproduce) {
                ss_lineage_print_reproduce(params, d, nd, commit, sha);
                if (run_dir) {
                        printf("\n");
                        rc = ss_lineage_run(params, d, nd, run_dir, sha);
                }
        }
out:
        cJSON_Delete(run);
        cJSON_Delete(mv);
        ss_mlflow_destroy(c);
        ss_config_destroy(cfg);
        return rc;
}
