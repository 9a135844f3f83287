/*
 * ss_track: one training run on MLflow.
 *
 * Design: begin talks to the server (health, experiment, run, params) before the
 * training starts, so that a server that is down is known before minutes of
 * work; the trainer's curves arrive through the ss_trainlog sink into a batch
 * in memory (under a mutex: a trainer may report from a worker thread) and go
 * out in end together with the final metrics, tags and artifacts, so that the
 * training loop never waits on the network. Every failure goes through
 * ss_track_fail(): an error when tracking.required, else a loud warning and the
 * run is abandoned (marked FAILED when the server still answers).
 */
#include "ss_track.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_trainlog.h"
#include "ss_util.h"

#define SS_TRACK_MAX_CURVES 32

struct ss_track {
        ss_mlflow_t *c;
        ss_mlflow_run_t run;
        const ss_config_t *cfg; /* borrowed: outlives the track */
        char uri[512], experiment[256];
        int required;
        pthread_mutex_t mu;
        ss_mlflow_batch_t *curves; /* trainer curves, under mu */
        struct {
                char key[64];
                int64_t next;
        } steps[SS_TRACK_MAX_CURVES]; /* auto steps of the curves reported with step < 0 */
        int nsteps;
};

const char *ss_track_run_id(const ss_track_t *t)
{
        return t ? t->run.run_id : "";
}

/* ---- provenance ---- */

static int ss_track_hash_key(const char *key, const char *value, const char *origin, void *opaque)
{
        if (!strncmp(key, "tracking.", 9) || !strcmp(key, "model.out") || !strncmp(key, "log.", 4))
                return 0;
        FILE *f = opaque;
        fprintf(f, "%s=%s\n", key, value);
        return 0;
}

void ss_track_config_sha256(const ss_config_t *cfg, char hex[65])
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                snprintf(hex, 65, "unknown");
                return;
        }
        ss_config_foreach(cfg, ss_track_hash_key, f);
        fclose(f);
        ss_sha256_hex(buf, len, hex);
        free(buf);
}

int ss_track_git_dirty(const char *dir)
{
        if (!dir || strchr(dir, '\''))
                return -1;
        char cmd[1200];
        snprintf(cmd, sizeof(cmd),
                 "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null; echo rc=$?",
                 dir);
        /* a fixed command; the one argument is single-quoted and holds no quote */
        FILE *p = popen(cmd, "r"); // NOLINT(cert-env33-c)
        if (!p)
                return -1;
        char line[512];
        int changed = 0, rc = -1;
        while (fgets(line, sizeof(line), p)) {
                if (!strncmp(line, "rc=", 3))
                        rc = (int)strtol(line + 3, NULL, 10);
                else
                        changed = 1;
        }
        pclose(p);
        return rc != 0 ? -1 : changed;
}

/* ---- failures ---- */

static ss_err_t ss_track_fail(ss_track_t *t, ss_err_t e, const char *what, char *errstr,
                              size_t errstr_size)
{
        if (t->required)
                return ss_err_set(errstr, errstr_size, e ? e : SS_ERR_HTTP,
                                  "experiment tracking on %s failed (tracking.required=true): %s",
                                  t->uri, what);
        fprintf(stderr,
                "\n"
                "WARNING: experiment tracking on %s FAILED: %s\n"
                "WARNING: the training goes on and writes its files locally, but this run is "
                "NOT tracked\n"
                "WARNING: (set tracking.required=true to make this an error)\n\n",
                t->uri, what);
        fflush(stderr);
        return SS_OK;
}

static void ss_track_free(ss_track_t *t)
{
        if (!t)
                return;
        if (t->curves)
                pthread_mutex_destroy(&t->mu);
        ss_mlflow_batch_destroy(t->curves);
        ss_mlflow_destroy(t->c);
        free(t);
}

/* ---- curves ---- */

static void ss_track_curve(void *opaque, const char *key, double value, int64_t step)
{
        ss_track_t *t = opaque;
        pthread_mutex_lock(&t->mu);
        if (step < 0) {
                int i = 0;
                while (i < t->nsteps && strcmp(t->steps[i].key, key))
                        i++;
                if (i == t->nsteps && i < SS_TRACK_MAX_CURVES) {
                        snprintf(t->steps[i].key, sizeof(t->steps[i].key), "%s", key);
                        t->steps[i].next = 0;
                        t->nsteps++;
                }
                step = i < SS_TRACK_MAX_CURVES ? ++t->steps[i].next : 0;
        }
        ss_mlflow_batch_metric(t->curves, key, value, step, 0);
        pthread_mutex_unlock(&t->mu);
}

/* ---- begin ---- */

static int ss_track_param(const char *key, const char *value, const char *origin, void *opaque)
{
        return ss_mlflow_batch_param(opaque, key, value) != SS_OK;
}

static void ss_track_tag(cJSON *tags, const char *key, const char *value)
{
        char k[128];
        snprintf(k, sizeof(k), "sentistream.%s", key);
        cJSON_AddStringToObject(tags, k, value);
}

ss_err_t ss_track_begin(const ss_config_t *cfg, const char *repo_dir, const char *version,
                        ss_track_t **out, char *errstr, size_t errstr_size)
{
        *out = NULL;
        const char *uri = ss_config_get_str(cfg, "tracking.uri");
        if (!*uri)
                return SS_OK;
        ss_track_t *t = calloc(1, sizeof(*t));
        if (!t)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        t->cfg = cfg;
        t->required = ss_config_get_bool(cfg, "tracking.required");
        snprintf(t->uri, sizeof(t->uri), "%s", uri);
        snprintf(t->experiment, sizeof(t->experiment), "%s",
                 ss_config_get_str(cfg, "tracking.experiment"));
        if (!(t->curves = ss_mlflow_batch_new())) {
                free(t);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        pthread_mutex_init(&t->mu, NULL);
        ss_mlflow_policy_t pol;
        ss_mlflow_policy_default(&pol);
        pol.timeout_ms = ss_config_get_int(cfg, "tracking.timeout.ms");
        pol.attempts = 3;
        char err[1024], exp_id[64], commit[64], cfg_sha[65], host[256] = "unknown";
        ss_err_t e = SS_OK;
        ss_mlflow_batch_t *params = NULL;
        cJSON *tags = NULL;
        if (!(t->c = ss_mlflow_new(uri, &pol, err, sizeof(err))) ||
            (e = ss_mlflow_health(t->c, err, sizeof(err))) ||
            (e = ss_mlflow_experiment_get_or_create(t->c, t->experiment, exp_id, err, sizeof(err))))
                goto fail;
        ss_card_git_commit(repo_dir, commit, sizeof(commit));
        int dirty = ss_track_git_dirty(repo_dir);
        ss_track_config_sha256(cfg, cfg_sha);
        gethostname(host, sizeof(host) - 1);
        const char *kind = ss_config_get_str(cfg, "model.kind");
        tags = cJSON_CreateObject();
        ss_track_tag(tags, "git_commit", commit);
        ss_track_tag(tags, "git_dirty", dirty < 0 ? "unknown" : dirty ? "true" : "false");
        ss_track_tag(tags, "config_sha256", cfg_sha);
        ss_track_tag(tags, "host", host);
        ss_track_tag(tags, "version", version);
        ss_track_tag(tags, "model_kind", kind);
        cJSON_AddStringToObject(tags, "mlflow.source.name", "sentistream train");
        cJSON_AddStringToObject(tags, "mlflow.source.type", "LOCAL");
        if (strcmp(commit, "unknown"))
                cJSON_AddStringToObject(tags, "mlflow.source.git.commit", commit);
        char run_name[128];
        snprintf(run_name, sizeof(run_name), "%s-%.8s", kind, cfg_sha);
        if ((e = ss_mlflow_run_create(t->c, exp_id, run_name, tags, &t->run, err, sizeof(err))))
                goto fail;
        if (!(params = ss_mlflow_batch_new()) || ss_config_foreach(cfg, ss_track_param, params)) {
                e = SS_ERR_NOMEM;
                snprintf(err, sizeof(err), "out of memory");
                goto fail;
        }
        if ((e = ss_mlflow_batch_log(t->c, t->run.run_id, params, err, sizeof(err))))
                goto fail;
        ss_mlflow_batch_destroy(params);
        cJSON_Delete(tags);
        printf("tracking   run %s (%s) in experiment \"%s\" on %s\n", t->run.run_id, run_name,
               t->experiment, t->uri);
        fflush(stdout);
        ss_trainlog_set(ss_track_curve, t);
        *out = t;
        return SS_OK;
fail:
        ss_mlflow_batch_destroy(params);
        cJSON_Delete(tags);
        if (t->c && *t->run.run_id)
                ss_mlflow_run_end(t->c, t->run.run_id, "FAILED", NULL, 0);
        e = ss_track_fail(t, e, err, errstr, errstr_size);
        ss_track_free(t);
        return e;
}

/* ---- end ---- */

/* Writes text into a new temp file; its path into path[64]. */
static ss_err_t ss_track_tmp(const char *text, char path[64], char *errstr, size_t errstr_size)
{
        const char *dir = getenv("TMPDIR");
        snprintf(path, 64, "%.40s/ss-track.XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(errno));
        size_t n = strlen(text);
        ssize_t w = write(fd, text, n);
        close(fd);
        if (w != (ssize_t)n) {
                unlink(path);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: short write", path);
        }
        return SS_OK;
}

/* Uploads text as the artifact path of the run. */
static ss_err_t ss_track_upload_text(ss_track_t *t, const char *path, const char *text,
                                     char *errstr, size_t errstr_size)
{
        char tmp[64];
        ss_err_t e = ss_track_tmp(text, tmp, errstr, errstr_size);
        if (e)
                return e;
        e = ss_mlflow_artifact_upload(t->c, t->run.artifact_uri, path, tmp, NULL, errstr,
                                      errstr_size);
        unlink(tmp);
        return e;
}

static void ss_track_eval_metrics(ss_mlflow_batch_t *b, const char *prefix, const ss_eval_t *v)
{
        static const char *names[SS_NUM_CLASSES] = {"negative", "neutral", "positive"};
        char k[96];
        const struct {
                const char *name;
                double v;
        } m[] = {{"avgrec", v->avgrec},
                 {"f1_pn", v->f1_pn},
                 {"accuracy", v->accuracy},
                 {"macro_f1", v->macro_f1}};
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
                snprintf(k, sizeof(k), "%s_%s", prefix, m[i].name);
                ss_mlflow_batch_metric(b, k, m[i].v, 0, 0);
        }
        for (int c = 0; c < SS_NUM_CLASSES; c++) {
                snprintf(k, sizeof(k), "%s_recall_%s", prefix, names[c]);
                ss_mlflow_batch_metric(b, k, v->recall[c], 0, 0);
        }
}

/* The confusion matrix as a small text table (rows = true label). */
static void ss_track_confusion_text(const ss_eval_t *v, char *buf, size_t size)
{
        static const char *names[SS_NUM_CLASSES] = {"negative", "neutral", "positive"};
        size_t o = (size_t)snprintf(buf, size,
                                    "%-10s %10s %10s %10s   (rows: true, columns: "
                                    "predicted)\n",
                                    "", names[0], names[1], names[2]);
        for (int r = 0; r < SS_NUM_CLASSES && o < size; r++)
                o += (size_t)snprintf(buf + o, size - o, "%-10s %10lld %10lld %10lld\n", names[r],
                                      (long long)v->confusion[r][0], (long long)v->confusion[r][1],
                                      (long long)v->confusion[r][2]);
}

/* The teachers of a distilled model (the card's lineage): params teacher.<i>.{path,name,sha256}
 * and the same as tags sentistream.teacher.<i>.*, which `sentistream lineage` prints. */
static void ss_track_teachers(ss_mlflow_batch_t *b, const cJSON *lineage)
{
        static const char *fields[] = {"path", "name", "sha256"};
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(lineage, "teachers");
        const cJSON *te;
        int i = 0;
        cJSON_ArrayForEach(te, ts)
        {
                for (int f = 0; f < 3; f++) {
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(te, fields[f]);
                        char key[96];
                        if (!cJSON_IsString(v))
                                continue;
                        snprintf(key, sizeof(key), "teacher.%d.%s", i, fields[f]);
                        ss_mlflow_batch_param(b, key, v->valuestring);
                        snprintf(key, sizeof(key), "sentistream.teacher.%d.%s", i, fields[f]);
                        ss_mlflow_batch_tag(b, key, v->valuestring);
                }
                i++;
        }
}

static ss_err_t ss_track_finish(ss_track_t *t, const ss_card_t *card, const char *model_path,
                                const char *card_path, char *err, size_t err_size)
{
        ss_err_t e;
        ss_mlflow_batch_t *b = t->curves;
        ss_track_eval_metrics(b, "validation", &card->validation_eval);
        if (card->has_tune)
                ss_track_eval_metrics(b, "tune", &card->tune);
        if (card->has_calibration) { /* temperature scaling, fitted and measured on the tune split
                                      */
                ss_mlflow_batch_metric(b, "calibration_temperature", card->temperature, 0, 0);
                ss_mlflow_batch_metric(b, "tune_ece_before", card->calib_ece_before, 0, 0);
                ss_mlflow_batch_metric(b, "tune_ece_after", card->calib_ece_after, 0, 0);
                if (card->has_toplabel) /* after the temperature alone; _after is after both */
                        ss_mlflow_batch_metric(b, "tune_ece_temperature",
                                               card->calib_ece_temperature, 0, 0);
        }
        char mb[256], cb[256], key[128];
        snprintf(mb, sizeof(mb), "%s", model_path);
        snprintf(cb, sizeof(cb), "%s", card_path);
        char model_art[320], card_art[320];
        snprintf(model_art, sizeof(model_art), SS_TRACK_MODEL_DIR "/%s", basename(mb));
        snprintf(card_art, sizeof(card_art), SS_TRACK_MODEL_DIR "/%s", basename(cb));
        ss_mlflow_batch_tag(b, "sentistream.model_sha256", card->file_sha256);
        ss_mlflow_batch_tag(b, "sentistream.model_artifact", model_art);
        ss_mlflow_batch_tag(b, "sentistream.card_artifact", card_art);
        ss_mlflow_batch_tag(b, "sentistream.model_version", card->version);
        const ss_card_data_t *d[2] = {&card->training, &card->validation};
        const char *dn[2] = {"train", "validation"};
        for (int i = 0; i < 2; i++) {
                snprintf(key, sizeof(key), "sentistream.data.%s.path", dn[i]);
                ss_mlflow_batch_tag(b, key, d[i]->path);
                snprintf(key, sizeof(key), "sentistream.data.%s.sha256", dn[i]);
                ss_mlflow_batch_tag(b, key, d[i]->sha256);
        }
        const cJSON *lex = cJSON_GetObjectItemCaseSensitive(card->hyperparameters, "lexicon");
        const cJSON *lexsha =
            cJSON_GetObjectItemCaseSensitive(card->hyperparameters, "lexicon_sha256");
        if (cJSON_IsString(lex) && cJSON_IsString(lexsha)) {
                ss_mlflow_batch_tag(b, "sentistream.data.lexicon.path", lex->valuestring);
                ss_mlflow_batch_tag(b, "sentistream.data.lexicon.sha256", lexsha->valuestring);
        }
        ss_track_teachers(b, card->lineage);
        if ((e = ss_mlflow_batch_log(t->c, t->run.run_id, b, err, err_size)))
                return e;
        if ((e = ss_mlflow_artifact_upload(t->c, t->run.artifact_uri, model_art, model_path, NULL,
                                           err, err_size)) ||
            (e = ss_mlflow_artifact_upload(t->c, t->run.artifact_uri, card_art, card_path, NULL,
                                           err, err_size)))
                return e;
        cJSON *ev = ss_card_eval_json(&card->validation_eval);
        char *evs = ev ? cJSON_Print(ev) : NULL;
        cJSON_Delete(ev);
        char conf[1024];
        ss_track_confusion_text(&card->validation_eval, conf, sizeof(conf));
        char *cfgtext = NULL;
        size_t cfglen = 0;
        FILE *f = open_memstream(&cfgtext, &cfglen);
        if (f) {
                ss_config_print(t->cfg, f);
                fclose(f);
        }
        if (!evs || !cfgtext)
                e = ss_err_set(err, err_size, SS_ERR_NOMEM, "out of memory");
        if (!e)
                e = ss_track_upload_text(t, "eval/validation.json", evs, err, err_size);
        if (!e)
                e = ss_track_upload_text(t, "eval/confusion_matrix.txt", conf, err, err_size);
        if (!e)
                e = ss_track_upload_text(t, "config/resolved.yaml", cfgtext, err, err_size);
        free(evs);
        free(cfgtext);
        if (!e)
                e = ss_mlflow_run_end(t->c, t->run.run_id, "FINISHED", err, err_size);
        return e;
}

ss_err_t ss_track_end(ss_track_t *t, int ok, const ss_card_t *card, const char *model_path,
                      const char *card_path, char *errstr, size_t errstr_size)
{
        if (!t)
                return SS_OK;
        ss_trainlog_set(NULL, NULL);
        char err[1024] = "";
        ss_err_t e = SS_OK;
        if (ok) {
                e = ss_track_finish(t, card, model_path, card_path, err, sizeof(err));
        } else {
                /* the curves so far show where it stopped */
                ss_mlflow_batch_log(t->c, t->run.run_id, t->curves, NULL, 0);
                e = ss_mlflow_run_end(t->c, t->run.run_id, "FAILED", err, sizeof(err));
        }
        if (e) {
                ss_mlflow_run_end(t->c, t->run.run_id, "FAILED", NULL, 0);
                e = ss_track_fail(t, e, err, errstr, errstr_size);
        } else if (ok) {
                printf("tracking   run %s finished: %s/#/experiments/%s/runs/%s\n", t->run.run_id,
                       ss_mlflow_uri(t->c), t->run.experiment_id, t->run.run_id);
                fflush(stdout);
        }
        ss_track_free(t);
        return e;
}
