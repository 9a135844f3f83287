/*
 * sentistream lineage models:/NAME/VERSION|models:/NAME@ALIAS|FILE_VERSION@NAME/VERSION
 *                     | --tweet ID [--scan N] [--timeout S]
 *                     [--reproduce [--run DIR]] [key=value ...]
 *
 * Where a registered model came from, from the registry on tracking.uri:
 * version -> run -> git commit (and dirty flag) -> data files with sha256 (each
 * compared with the local file of that path) -> the resolved configuration of
 * the training (the run's params) -> the retrain event that caused it (the
 * version's sentistream.event_id tag, looked up on topics.retrain for its
 * reasons). FILE_VERSION@NAME/VERSION is the model_version a prediction of a
 * registry model carries (e.g. logreg-99da3a1b34ba@sentiment/2). --tweet ID
 * starts one step earlier: it finds that tweet's newest prediction on
 * topics.output (a bounded scan: the newest N records of each partition,
 * default 1,000,000, within S seconds, default 60) and follows its
 * model_version.
 *
 * Training files: data.train may name several files (e.g. the base training
 * file and a set of fresh labels); the run records their union as the paths
 * joined by commas and the sha256 of their sha256sum-style listing. Each file
 * is checked here, and a file missing here is taken from the run's artifacts
 * (data/<file name>, where the retrain worker stores its fresh training set),
 * checked against the listing's sha256, and used by --run.
 *
 * --reproduce prints the commands that rebuild the model file: check out the
 * commit, build, verify the data, train with the run's configuration, compare
 * the sha256. It checks out nothing itself. With --run DIR it runs the training
 * step with this binary into DIR/model.ssm (after checking the data files'
 * sha256) and compares the bytes' sha256 with the registered one.
 * Exit status: 0 ok (with --run: identical), 1 failure or a different file,
 * 2 usage or configuration error.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "cmd.h"
#include "ss_mlflow.h"
#include "ss_serde.h"
#include "ss_track.h"
#include "ss_util.h"

#define SS_LINEAGE_MAX_ARGS  256
#define SS_LINEAGE_MAX_FILES 16 /* training files of one run */

static void ss_lineage_usage(FILE *out)
{
        fprintf(out, "usage: sentistream lineage models:/NAME/VERSION|models:/NAME@ALIAS|"
                     "FILE_VERSION@NAME/VERSION\n"
                     "                           | --tweet ID [--scan N] [--timeout S]\n"
                     "                           [--reproduce [--run DIR]] [key=value ...]\n"
                     "  the registered version's run, git commit, data files (sha256), "
                     "configuration and\n"
                     "  the retrain event behind it; --tweet starts from that tweet's newest "
                     "prediction\n"
                     "  (the newest N records of each partition of topics.output, default "
                     "1000000);\n"
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

/* The params that decide the trained bytes: data.*, model.* (the keys of other kinds left
 * out: model.<group>.* where group is not the run's kind; minilm_ft also reads minilm's),
 * train.*, runtime.*, except model.out. */
static int ss_lineage_train_key(const char *key)
{
        if (!strcmp(key, "model.out"))
                return 0;
        const char *group = key + 6, *dot = strchr(group, '.');
        if (!strncmp(key, "model.", 6) && dot) {
                size_t len = (size_t)(dot - group);
                int mine = len == strlen(ss_lineage_kind) && !strncmp(group, ss_lineage_kind, len);
                int base = !strcmp(ss_lineage_kind, "minilm_ft") && len == 6 &&
                           !strncmp(group, "minilm", 6);
                return mine || base;
        }
        return !strncmp(key, "data.", 5) || !strncmp(key, "model.", 6) ||
               !strncmp(key, "train.", 6) || !strncmp(key, "runtime.", 8);
}

/* The teachers of a distilled model (tags sentistream.teacher.<i>.*), each checked against
 * the local file of that path. */
static void ss_lineage_teachers(const cJSON *tags)
{
        for (int i = 0; i < 16; i++) {
                char kp[64], ks[64], kn[64], hex[65], err[256];
                snprintf(kp, sizeof(kp), "sentistream.teacher.%d.path", i);
                snprintf(ks, sizeof(ks), "sentistream.teacher.%d.sha256", i);
                snprintf(kn, sizeof(kn), "sentistream.teacher.%d.name", i);
                const char *p = ss_mlflow_tag_find(tags, kp), *s = ss_mlflow_tag_find(tags, ks);
                const char *n = ss_mlflow_tag_find(tags, kn);
                if (!p || !s)
                        break;
                const char *state = ss_sha256_file_hex(p, hex, err, sizeof(err)) ? "not found here"
                                    : strcmp(hex, s) ? "the local file DIFFERS"
                                                     : "the local file matches";
                printf("teacher    %s (%s) sha256 %s (%s)\n", p, n ? n : "?", s, state);
        }
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

/* ---- the training files ---- */

/* One file of a data set: as recorded by the run, and where it is read from here. */
typedef struct ss_lineage_file {
        char path[PATH_MAX];  /* as recorded */
        char local[PATH_MAX]; /* read from here: path, or the run's artifact once fetched */
        char sha256[65];      /* of the file read ("" when none was found) */
        const char *where;    /* "here", "run artifact", "not here" */
} ss_lineage_file_t;

/* A data set of a run (train, validation, lexicon): recorded path (files joined by commas)
 * and sha256 (of the file, or of the files' sha256sum-style listing), and its files. */
typedef struct ss_lineage_data {
        const char *name, *path, *sha256;
        ss_lineage_file_t files[SS_LINEAGE_MAX_FILES];
        int nfiles;
        int ok; /* the files found give the recorded sha256 */
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
                if (!p || !s)
                        continue;
                ss_lineage_data_t *x = &d[n++];
                memset(x, 0, sizeof(*x));
                *x = (ss_lineage_data_t){.name = names[i], .path = p, .sha256 = s};
                /* a single file's path may hold a comma: only train joins several */
                const char *q = p;
                while (x->nfiles < SS_LINEAGE_MAX_FILES) {
                        const char *comma = strcmp(names[i], "train") ? NULL : strchr(q, ',');
                        size_t len = comma ? (size_t)(comma - q) : strlen(q);
                        ss_lineage_file_t *f = &x->files[x->nfiles++];
                        snprintf(f->path, sizeof(f->path), "%.*s", (int)len, q);
                        if (!comma)
                                break;
                        q = comma + 1;
                }
        }
        return n;
}

/* The artifact folder where a run keeps training files made for it (the retrain worker's
 * fresh labelled set). */
#define SS_LINEAGE_DATA_ARTIFACTS "data"

/* Fetches the run's artifact data/<file name> of f into dir; 0 when it came. */
static int ss_lineage_fetch(ss_mlflow_t *c, const ss_mlflow_run_t *run, ss_lineage_file_t *f,
                            const char *dir)
{
        char b[PATH_MAX], art[PATH_MAX + 8], out[PATH_MAX], err[512];
        snprintf(b, sizeof(b), "%s", f->path);
        snprintf(art, sizeof(art), SS_LINEAGE_DATA_ARTIFACTS "/%s", basename(b));
        int n = snprintf(out, sizeof(out), "%s/%s", dir, art);
        if (n < 0 || (size_t)n >= sizeof(out) || ss_file_mkdir_parent(out) ||
            ss_mlflow_artifact_download(c, run->artifact_uri, art, out, NULL, f->sha256, err,
                                        sizeof(err)))
                return -1;
        memcpy(f->local, out, sizeof(out));
        f->where = "run artifact";
        return 0;
}

/* Finds each file of d here, else among the run's artifacts (fetched into fetch_dir when
 * not NULL), and checks the recorded sha256. */
static void ss_lineage_data_check(ss_mlflow_t *c, const ss_mlflow_run_t *run, ss_lineage_data_t *d,
                                  const char *fetch_dir)
{
        char *listing = malloc((size_t)d->nfiles * (PATH_MAX + 72));
        size_t len = 0;
        int found = 1;
        for (int i = 0; i < d->nfiles; i++) {
                ss_lineage_file_t *f = &d->files[i];
                snprintf(f->local, sizeof(f->local), "%s", f->path);
                f->where = "here";
                if (ss_sha256_file_hex(f->path, f->sha256, NULL, 0) != SS_OK) {
                        f->sha256[0] = '\0';
                        f->where = "not here";
                        if (!fetch_dir || ss_lineage_fetch(c, run, f, fetch_dir))
                                found = 0;
                }
                if (listing)
                        len += (size_t)sprintf(listing + len, "%s  %.1000s\n", f->sha256, f->path);
        }
        char sha[65] = "";
        if (d->nfiles == 1)
                snprintf(sha, sizeof(sha), "%s", d->files[0].sha256);
        else if (listing)
                ss_sha256_hex(listing, len, sha);
        d->ok = found && !strcmp(sha, d->sha256);
        free(listing);
}

static void ss_lineage_data_print(const ss_lineage_data_t *d)
{
        if (d->nfiles == 1) {
                const ss_lineage_file_t *f = &d->files[0];
                const char *state =
                    !strcmp(f->where, "here")
                        ? (d->ok ? "the local file matches" : "the local file DIFFERS")
                    : !strcmp(f->where, "run artifact")
                        ? (d->ok ? "not here; the run's copy in " SS_LINEAGE_DATA_ARTIFACTS
                                   "/ matches"
                                 : "not here; the run's copy DIFFERS")
                        : "not here, and the run keeps no copy";
                printf("data       %-10s %s sha256 %s (%s)\n", d->name, d->path, d->sha256, state);
                return;
        }
        printf("data       %-10s %d files, sha256 of their listing %s (%s)\n", d->name, d->nfiles,
               d->sha256,
               d->ok ? "the files found match" : "NOT reproducible from the files found");
        for (int i = 0; i < d->nfiles; i++) {
                const ss_lineage_file_t *f = &d->files[i];
                printf("           %-10s %s sha256 %s (%s%s%s)\n", "", f->path,
                       f->sha256[0] ? f->sha256 : "?", f->where,
                       strcmp(f->where, "run artifact") ? "" : ": ",
                       strcmp(f->where, "run artifact") ? "" : f->local);
        }
}

/* ---- the training command ---- */

/* The value of a param for the rebuild. data.train and data.validation: with local, each
 * recorded file replaced by where it is read here. The lexicon key: the path the training
 * resolved it to (the run's data.lexicon.path), since the model file records that path, so
 * the same bytes need the same string whatever the current folder. */
static char *ss_lineage_data_value(const char *key, const char *value, const ss_lineage_data_t *d,
                                   int nd, int local)
{
        size_t kl = strlen(key);
        int lexicon = !strncmp(key, "model.", 6) && kl > 8 && !strcmp(key + kl - 8, ".lexicon");
        const char *name = !strcmp(key, "data.train")        ? "train"
                           : !strcmp(key, "data.validation") ? "validation"
                           : lexicon && *value               ? "lexicon"
                                                             : NULL;
        for (int i = 0; name && i < nd; i++) {
                if (strcmp(d[i].name, name))
                        continue;
                if (lexicon)
                        return strdup(d[i].path);
                if (!local || strcmp(d[i].path, value))
                        continue;
                size_t len = 1;
                for (int f = 0; f < d[i].nfiles; f++)
                        len += strlen(d[i].files[f].local) + 1;
                char *v = malloc(len);
                if (!v)
                        return NULL;
                v[0] = '\0';
                for (int f = 0; f < d[i].nfiles; f++) {
                        if (f)
                                strcat(v, ",");
                        strcat(v, d[i].files[f].local);
                }
                return v;
        }
        return strdup(value);
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

/* Builds the training command of the run: "train" + every train key + model.out, values as
 * ss_lineage_data_value() gives them (local: data files read from where they were found). */
static int ss_lineage_train_argv(const cJSON *params, const ss_lineage_data_t *d, int nd, int local,
                                 const char *model_out, char **argv, int max)
{
        int n = 0;
        argv[n++] = strdup("train");
        const cJSON *p;
        cJSON_ArrayForEach(p, params)
        {
                const char *k = ss_lineage_str(p, "key");
                if (!ss_lineage_train_key(k) || n + 2 >= max)
                        continue;
                char *v = ss_lineage_data_value(k, ss_lineage_str(p, "value"), d, nd, local);
                size_t len = strlen(k) + (v ? strlen(v) : 0) + 2;
                char *kv = v ? malloc(len) : NULL;
                if (kv)
                        snprintf(kv, len, "%s=%s", k, v);
                free(v);
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
                if (!d[i].ok) {
                        fprintf(stderr,
                                "sentistream lineage: data %s (%s): %s; the model cannot be "
                                "rebuilt from it\n",
                                d[i].name, d[i].path,
                                "a file is missing or its sha256 differs from the run's");
                        return 1;
                }
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
        ss_lineage_train_argv(params, d, nd, 1, out, argv + 1, SS_LINEAGE_MAX_ARGS);
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

static void ss_lineage_print_reproduce(ss_mlflow_t *c, const ss_mlflow_run_t *run,
                                       const cJSON *params, const ss_lineage_data_t *d, int nd,
                                       const char *commit, const char *sha)
{
        printf("\n# rebuild this model file (run from a clone of the repository)\n");
        printf("git checkout %s\n", commit);
        printf("cmake -S . -B build/rel -DCMAKE_BUILD_TYPE=Release && cmake --build build/rel "
               "-j2\n");
        for (int i = 0; i < nd; i++) {
                for (int f = 0; f < d[i].nfiles; f++) {
                        const ss_lineage_file_t *x = &d[i].files[f];
                        char b[PATH_MAX];
                        snprintf(b, sizeof(b), "%s", x->path);
                        if (!strcmp(x->where, "run artifact")) {
                                /* the run keeps it: the artifact proxy's URL */
                                printf("mkdir -p \"$(dirname ");
                                ss_lineage_shell_word(stdout, x->path);
                                printf(")\" && curl -sfo ");
                                ss_lineage_shell_word(stdout, x->path);
                                printf(" %s/api/2.0/mlflow-artifacts/artifacts/%s/%s/%s\n",
                                       ss_mlflow_uri(c),
                                       run->artifact_uri + strlen("mlflow-artifacts:/"),
                                       SS_LINEAGE_DATA_ARTIFACTS, basename(b));
                        }
                }
                if (d[i].nfiles == 1) {
                        printf("echo ");
                        ss_lineage_shell_word(stdout, d[i].sha256);
                        printf("'  '");
                        ss_lineage_shell_word(stdout, d[i].path);
                        printf(" | sha256sum -c -\n");
                        continue;
                }
                /* several files: the sha256 of their listing */
                printf("sha256sum");
                for (int f = 0; f < d[i].nfiles; f++) {
                        printf(" ");
                        ss_lineage_shell_word(stdout, d[i].files[f].path);
                }
                printf(" | sha256sum | grep -q '^%s ' && echo %s: OK\n", d[i].sha256, d[i].name);
        }
        char *argv[SS_LINEAGE_MAX_ARGS + 1] = {0};
        ss_lineage_train_argv(params, d, nd, 0, "rebuilt.ssm", argv, SS_LINEAGE_MAX_ARGS);
        printf("build/rel/cli/sentistream");
        for (int i = 0; argv[i]; i++) {
                printf(" \\\n    ");
                ss_lineage_shell_word(stdout, argv[i]);
        }
        printf("\necho '%s  rebuilt.ssm' | sha256sum -c -\n", sha);
        ss_lineage_argv_free(argv);
}

/* ---- the Kafka side: the prediction of a tweet, the event of a version ---- */

typedef struct ss_lineage_find {
        ss_serde_t *serde;
        ss_serde_ids_t ids;
        const char *want;       /* tweet id or event id */
        ss_prediction_t pred;   /* decode buffer */
        ss_retrain_event_t ev;  /* decode buffer */
        cJSON *best;            /* the newest match, as JSON */
        int64_t best_at;        /* its scored_at / triggered_at */
        long long matches, bad; /* records that matched / did not decode */
} ss_lineage_find_t;

static void ss_lineage_json_str(cJSON *o, const char *name, ss_str_t s)
{
        char *copy = s.ptr ? strndup(s.ptr, s.len) : NULL;
        cJSON_AddStringToObject(o, name, copy ? copy : "");
        free(copy);
}

static int ss_lineage_str_eq(ss_str_t s, const char *z)
{
        return s.ptr && s.len == strlen(z) && !memcmp(s.ptr, z, s.len);
}

/* A prediction keyed by the tweet id: keeps the newest by scored_at. */
static int ss_lineage_find_pred(void *opaque, const ss_cli_record_t *r)
{
        ss_lineage_find_t *f = opaque;
        size_t wl = strlen(f->want);
        int32_t id;
        if (!r->key || r->key_len != wl || memcmp(r->key, f->want, wl) ||
            ss_serde_schema_id_peek(r->value, r->len, &id, NULL, 0) || id != f->ids.prediction)
                return 0;
        if (ss_serde_prediction_decode(f->serde, r->value, r->len, &f->pred, NULL, 0)) {
                f->bad++;
                return 0;
        }
        f->matches++;
        if (f->best && f->pred.scored_at < f->best_at)
                return 0;
        cJSON_Delete(f->best);
        f->best = cJSON_CreateObject();
        f->best_at = f->pred.scored_at;
        cJSON_AddStringToObject(f->best, "label", ss_label_name(f->pred.label));
        cJSON_AddNumberToObject(f->best, "p_negative", f->pred.probs[0]);
        cJSON_AddNumberToObject(f->best, "p_neutral", f->pred.probs[1]);
        cJSON_AddNumberToObject(f->best, "p_positive", f->pred.probs[2]);
        ss_lineage_json_str(f->best, "model_name", f->pred.model_name);
        ss_lineage_json_str(f->best, "model_version", f->pred.model_version);
        cJSON_AddNumberToObject(f->best, "partition", r->partition);
        cJSON_AddNumberToObject(f->best, "offset", (double)r->offset);
        return 0;
}

/* A retrain event with the event id (the key is the model name): keeps the newest. */
static int ss_lineage_find_event(void *opaque, const ss_cli_record_t *r)
{
        ss_lineage_find_t *f = opaque;
        int32_t id;
        if (ss_serde_schema_id_peek(r->value, r->len, &id, NULL, 0) || id != f->ids.retrain_event)
                return 0;
        if (ss_serde_retrain_event_decode(f->serde, r->value, r->len, &f->ev, NULL, 0)) {
                f->bad++;
                return 0;
        }
        if (!ss_lineage_str_eq(f->ev.event_id, f->want))
                return 0;
        f->matches++;
        cJSON_Delete(f->best);
        f->best = cJSON_CreateObject();
        f->best_at = f->ev.triggered_at;
        ss_cli_event_json(f->best, &f->ev);
        cJSON_AddNumberToObject(f->best, "partition", r->partition);
        cJSON_AddNumberToObject(f->best, "offset", (double)r->offset);
        return 0;
}

/* "2026-12-07T05:40:01.123Z" */
static void ss_lineage_time(int64_t ms, char buf[32])
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static void ss_lineage_scan_print(const char *lead, const char *topic, long long newest,
                                  const ss_cli_scan_t *st)
{
        printf("%s%s: the newest %lld records of each of %d partition(s): %lld read, "
               "%lld older left out%s\n",
               lead, topic, newest, st->partitions, st->scanned, st->skipped,
               st->complete ? "" : ", NOT read to the end in time");
}

/* Scans topic with fn for want; the newest match in f->best. Returns 0, or 1 on errors. */
static int ss_lineage_search(const ss_config_t *cfg, const char *lead, const char *topic,
                             long long newest, double timeout_s, ss_cli_scan_fn *fn,
                             ss_lineage_find_t *f)
{
        char err[512];
        ss_cli_scan_t st;
        if (ss_cli_topic_scan(cfg, topic, newest, timeout_s, fn, f, &st, err, sizeof(err))) {
                fprintf(stderr, "sentistream lineage: %s\n", err);
                return 1;
        }
        ss_lineage_scan_print(lead, topic, newest, &st);
        if (f->bad)
                printf("           %lld record(s) did not decode (skipped)\n", f->bad);
        return 0;
}

/* Finds the tweet's newest prediction; its model_version into version. 0 when found. */
static int ss_lineage_tweet(const ss_config_t *cfg, ss_lineage_find_t *f, long long newest,
                            double timeout_s, char *version, size_t version_size)
{
        const char *topic = ss_config_get_str(cfg, "topics.output");
        if (ss_lineage_search(cfg, "searched   ", topic, newest, timeout_s, ss_lineage_find_pred,
                              f))
                return 1;
        if (!f->best) {
                fprintf(stderr,
                        "sentistream lineage: no prediction of tweet %s among the records "
                        "read (--scan N reads more)\n",
                        f->want);
                return 1;
        }
        char at[32];
        ss_lineage_time(f->best_at, at);
        const char *mv = ss_lineage_str(f->best, "model_version");
        printf("prediction tweet %s: %s (negative %.3f, neutral %.3f, positive %.3f) scored %s "
               "by %s %s; %s [%d] offset %.0f\n",
               f->want, ss_lineage_str(f->best, "label"),
               cJSON_GetObjectItem(f->best, "p_negative")->valuedouble,
               cJSON_GetObjectItem(f->best, "p_neutral")->valuedouble,
               cJSON_GetObjectItem(f->best, "p_positive")->valuedouble, at,
               ss_lineage_str(f->best, "model_name"), mv, topic,
               cJSON_GetObjectItem(f->best, "partition")->valueint,
               cJSON_GetObjectItem(f->best, "offset")->valuedouble);
        if (f->matches > 1)
                printf("           %lld predictions of this tweet were read; the newest is "
                       "shown\n",
                       f->matches);
        snprintf(version, version_size, "%s", mv);
        if (!strchr(mv, '@')) {
                fprintf(stderr,
                        "sentistream lineage: model version %s was served from a file, "
                        "not from the registry: no lineage recorded\n",
                        mv);
                return 1;
        }
        return 0;
}

/* Prints the event that caused the version: its id, then what the topic still holds. */
static void ss_lineage_event(const ss_config_t *cfg, ss_lineage_find_t *f, const char *event_id,
                             long long newest, double timeout_s)
{
        if (!event_id) {
                printf("event      none recorded (no sentistream.event_id tag: not made by the "
                       "retrain worker)\n");
                return;
        }
        printf("event      %s\n", event_id);
        const char *topic = ss_config_get_str(cfg, "topics.retrain");
        f->want = event_id;
        f->matches = f->bad = 0;
        cJSON_Delete(f->best);
        f->best = NULL;
        if (ss_lineage_search(cfg, "           searched ", topic, newest, timeout_s,
                              ss_lineage_find_event, f))
                return;
        if (!f->best) {
                printf("           the event is no longer on %s (retention) or beyond the "
                       "records read\n",
                       topic);
                return;
        }
        char at[32], ws[32], we[32];
        ss_lineage_time(f->best_at, at);
        ss_lineage_time((int64_t)cJSON_GetObjectItem(f->best, "window_start")->valuedouble, ws);
        ss_lineage_time((int64_t)cJSON_GetObjectItem(f->best, "window_end")->valuedouble, we);
        printf("           %s [%d] offset %.0f: model %s version %s, window %s .. %s, triggered "
               "%s\n",
               topic, cJSON_GetObjectItem(f->best, "partition")->valueint,
               cJSON_GetObjectItem(f->best, "offset")->valuedouble,
               ss_lineage_str(f->best, "model_name"), ss_lineage_str(f->best, "model_version"), ws,
               we, at);
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(f->best, "reasons"))
        {
                const cJSON *cv = cJSON_GetObjectItem(r, "critical_value");
                printf("  reason   %s %s = %.4g (threshold %.4g", ss_lineage_str(r, "family"),
                       ss_lineage_str(r, "metric"), cJSON_GetObjectItem(r, "value")->valuedouble,
                       cJSON_GetObjectItem(r, "threshold")->valuedouble);
                if (cJSON_IsNumber(cv))
                        printf(", critical value %.4g", cv->valuedouble);
                printf("; window n %.0f, reference n %.0f)\n",
                       cJSON_GetObjectItem(r, "window_n")->valuedouble,
                       cJSON_GetObjectItem(r, "reference_n")->valuedouble);
        }
}

/* Removes the files fetched into the temporary folder dir, then the folder. */
static void ss_lineage_tmp_remove(const char *dir, const ss_lineage_data_t *d, int nd)
{
        char sub[PATH_MAX + 8];
        for (int i = 0; i < nd; i++)
                for (int f = 0; f < d[i].nfiles; f++)
                        if (!strcmp(d[i].files[f].where, "run artifact"))
                                unlink(d[i].files[f].local);
        snprintf(sub, sizeof(sub), "%s/" SS_LINEAGE_DATA_ARTIFACTS, dir);
        rmdir(sub);
        rmdir(dir);
}

/* The retrain worker's decision run behind the version (tag sentistream.retrain.decision_run):
 * its verdict with both models' figures. */
static void ss_lineage_decision(ss_mlflow_t *c, const cJSON *vtags)
{
        const char *id = ss_mlflow_tag_find(vtags, "sentistream.retrain.decision_run");
        if (!id)
                return;
        char err[512];
        cJSON *run = NULL;
        if (ss_mlflow_run_get(c, id, &run, NULL, err, sizeof(err))) {
                printf("decision   run %s: %s\n", id, err);
                return;
        }
        const cJSON *tags =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "data"), "tags");
        const char *why = ss_mlflow_tag_find(tags, "sentistream.retrain.reason");
        const char *champ = ss_mlflow_tag_find(tags, "sentistream.retrain.champion_version");
        printf("decision   run %s (against champion version %s): %s\n", id, champ ? champ : "?",
               why ? why : "?");
        cJSON_Delete(run);
}

/* ---- the command ---- */

typedef struct ss_lineage_opts {
        const char *uri, *tweet, *run_dir;
        int reproduce;
        long long scan;
        double timeout_s;
} ss_lineage_opts_t;

/* Parses argv into o and a; returns -1 to go on, else the exit status. */
static int ss_lineage_args(int argc, char **argv, ss_cli_args_t *a, ss_lineage_opts_t *o)
{
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(a, argc, argv, &i))
                        continue;
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                int bad = 0;
                if (!strcmp(argv[i], "--reproduce")) {
                        o->reproduce = 1;
                } else if (!strcmp(argv[i], "--run") && v) {
                        o->run_dir = argv[++i];
                } else if (!strcmp(argv[i], "--tweet") && v && !o->tweet && !o->uri) {
                        o->tweet = argv[++i];
                } else if (!strcmp(argv[i], "--scan")) {
                        bad = ss_cli_flag_ll("lineage", argv[i], v, 1, LLONG_MAX, &o->scan);
                        i++;
                } else if (!strcmp(argv[i], "--timeout")) {
                        bad = ss_cli_flag_double("lineage", argv[i], v, 0.001, 1e9, &o->timeout_s);
                        i++;
                } else if (!o->uri && !o->tweet &&
                           (!strncmp(argv[i], "models:/", 8) || strchr(argv[i], '@'))) {
                        o->uri = argv[i];
                } else {
                        return ss_cli_args_reject(a, "lineage", argv[i], ss_lineage_usage);
                }
                if (bad) {
                        ss_cli_args_free(a);
                        return 2;
                }
        }
        if ((!o->uri && !o->tweet) || (o->run_dir && !o->reproduce)) {
                ss_cli_args_free(a);
                ss_lineage_usage(stderr);
                return 2;
        }
        return -1;
}

int ss_cmd_lineage(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        ss_lineage_opts_t o = {.scan = 1000000, .timeout_s = 60};
        int rc = ss_lineage_args(argc, argv, &args, &o);
        if (rc >= 0)
                return rc;
        const char *config_dir = args.config_dir;
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        char err[1024];
        rc = 1;
        cJSON *mv = NULL, *run = NULL;
        ss_mlflow_t *c = NULL;
        ss_lineage_find_t find = {.ids = ss_serde_ids_from_config(cfg), .want = o.tweet};
        static ss_lineage_data_t d[3]; /* about 400 KiB of paths: off the stack */
        int nd = 0;
        const char *tmp_dir = NULL;
        char *schema_dir = ss_cli_schema_dir(cfg, config_dir);
        const char *turi = ss_config_get_str(cfg, "tracking.uri");
        if (!*turi) {
                fprintf(stderr, "sentistream lineage: tracking.uri is empty: name the MLflow "
                                "server\n");
                rc = 2;
                goto out;
        }
        if (!schema_dir ||
            !(find.serde = ss_serde_new(schema_dir, &find.ids, 0, err, sizeof(err)))) {
                fprintf(stderr, "sentistream lineage: %s\n", schema_dir ? err : "out of memory");
                goto out;
        }
        char from_pred[600], tweet_version[512];
        const char *uri = o.uri;
        if (o.tweet) {
                if (ss_lineage_tweet(cfg, &find, o.scan, o.timeout_s, tweet_version,
                                     sizeof(tweet_version)))
                        goto out;
                uri = tweet_version;
        }
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
        const char *event_id = ss_mlflow_tag_find(vtags, "sentistream.event_id");
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
                ss_lineage_event(cfg, &find, event_id, o.scan, o.timeout_s);
                rc = o.reproduce ? 1 : 0;
                goto out;
        }
        printf("git        %s%s\n", commit,
               dirty && !strcmp(dirty, "true") ? " (DIRTY: tracked files had uncommitted changes)"
                                               : "");
        nd = ss_lineage_data(rtags, d, 3);
        /* files missing here are fetched from the run into --run DIR, else into a temporary
         * folder removed at the end */
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof(tmp), "%s/sentistream-lineage.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (o.run_dir ? mkdir(o.run_dir, 0755) && errno != EEXIST : !mkdtemp(tmp)) {
                fprintf(stderr, "sentistream lineage: %s: %s\n", o.run_dir ? o.run_dir : tmp,
                        strerror(errno));
                goto out;
        }
        if (!o.run_dir)
                tmp_dir = tmp;
        for (int i = 0; i < nd; i++) {
                ss_lineage_data_check(c, &info, &d[i], o.run_dir ? o.run_dir : tmp_dir);
                ss_lineage_data_print(&d[i]);
        }
        ss_lineage_teachers(rtags);
        printf("config     sha256 %s; the training's resolved keys:\n", csha ? csha : "?");
        cJSON_ArrayForEach(p, params)
        {
                if (ss_lineage_train_key(ss_lineage_str(p, "key")))
                        printf("  %s = %s\n", ss_lineage_str(p, "key"), ss_lineage_str(p, "value"));
        }
        ss_lineage_event(cfg, &find, event_id, o.scan, o.timeout_s);
        ss_lineage_decision(c, vtags);
        rc = 0;
        if (o.reproduce && !sha) {
                fprintf(stderr, "sentistream lineage: the version has no sha256 tag\n");
                rc = 1;
        } else if (o.reproduce) {
                ss_lineage_print_reproduce(c, &info, params, d, nd, commit, sha);
                if (o.run_dir) {
                        printf("\n");
                        rc = ss_lineage_run(params, d, nd, o.run_dir, sha);
                }
        }
out:
        if (tmp_dir)
                ss_lineage_tmp_remove(tmp_dir, d, nd);
        cJSON_Delete(find.best);
        ss_prediction_clear(&find.pred);
        ss_retrain_event_clear(&find.ev);
        ss_serde_destroy(find.serde);
        free(schema_dir);
        cJSON_Delete(run);
        cJSON_Delete(mv);
        ss_mlflow_destroy(c);
        ss_config_destroy(cfg);
        return rc;
}
