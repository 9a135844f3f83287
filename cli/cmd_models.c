/*
 * sentistream models register|list|show|promote|pull ... [key=value ...]
 *
 * The model registry on the MLflow server at tracking.uri:
 *   register MODEL.ssm --name NAME [--alias A]
 *       finds the training run that logged this file (by its sha256 tag) or, when
 *       none did, logs it (and its card) in a new run of tracking.experiment;
 *       creates a version of NAME from the run's model/ folder, tagged with the
 *       file's sha256, its in-file version and the card's validation metrics;
 *       points alias A at it;
 *   list NAME                        every version, newest first, with aliases
 *   show NAME[@ALIAS|/VERSION]       one version: source, run, tags, metrics
 *   promote NAME VERSION --alias A   points alias A at VERSION (creates or moves it) and
 *       publishes a ModelUpdate to topics.model_updates (reason "rollback" when VERSION is
 *       older than the version A pointed at, else "manual"), so that scorers serving
 *       models:/NAME@A follow it as they follow the retrain worker's promotions
 *       (--no-publish: the alias only)
 *   pull models:/NAME@ALIAS|/VERSION OUT.ssm
 *       downloads the file (and its card), refused unless its sha256 is the version's tag.
 * Exit status: 0 ok, 1 registry or file failure, 2 usage or configuration error.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "card.h"
#include "cli_util.h"
#include "cmd.h"
#include "mfile.h"
#include "ss_mlflow.h"
#include "rupdate.h"
#include "ss_modelreg.h"
#include "ss_serde.h"
#include "ss_track.h"
#include "ss_util.h"

#define SS_MODELS_TAG_SHA  "sentistream.model_sha256"
#define SS_MODELS_TAG_FILE "sentistream.model_artifact"
#define SS_MODELS_TAG_CARD "sentistream.card_artifact"
#define SS_MODELS_TAG_VER  "sentistream.model_version"

static void ss_models_usage(FILE *out)
{
        fprintf(out,
                "usage: sentistream models COMMAND ... [key=value ...]   (server: tracking.uri)\n"
                "  register MODEL.ssm --name NAME [--alias A]   register a model file as a new "
                "version\n"
                "  list NAME                                    versions of NAME, newest first\n"
                "  show NAME[@ALIAS|/VERSION]                   one version in detail\n"
                "  promote NAME VERSION --alias A [--no-publish]  point alias A at VERSION and "
                "publish a ModelUpdate\n"
                "  pull models:/NAME@ALIAS|/VERSION OUT.ssm     download, verified by sha256\n");
}

/* The parsed command line. */
typedef struct ss_models_args {
        const char *sub;
        const char *pos[2]; /* positional arguments after the subcommand */
        int npos;
        const char *name, *alias;
        int no_publish; /* promote --no-publish */
} ss_models_args_t;

static ss_mlflow_t *ss_models_client(const ss_config_t *cfg)
{
        char err[1024];
        const char *uri = ss_config_get_str(cfg, "tracking.uri");
        if (!*uri) {
                fprintf(stderr, "sentistream models: tracking.uri is empty: name the MLflow "
                                "server, e.g. tracking.uri=http://127.0.0.1:5000\n");
                return NULL;
        }
        ss_mlflow_policy_t p;
        ss_mlflow_policy_default(&p);
        p.timeout_ms = ss_config_get_int(cfg, "tracking.timeout.ms");
        ss_mlflow_t *c = ss_mlflow_new(uri, &p, err, sizeof(err));
        if (!c)
                fprintf(stderr, "sentistream models: %s\n", err);
        return c;
}

static const char *ss_models_str(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : "";
}

/* "champion,staging" from a version record's aliases array. */
static void ss_models_aliases(const cJSON *mv, char *buf, size_t size)
{
        size_t o = 0;
        buf[0] = '\0';
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(mv, "aliases"))
        {
                if (cJSON_IsString(a) && o < size)
                        o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
                                              a->valuestring);
        }
}

/* ---- register ---- */

/* The validation metrics of the card beside model_path as version tags (none if no card). */
static void ss_models_card_tags(const char *card_path, cJSON *tags)
{
        char *text = NULL;
        size_t len = 0;
        if (ss_file_read_all(card_path, &text, &len, NULL, 0))
                return;
        cJSON *card = cJSON_Parse(text);
        free(text);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(card, "metrics"), "validation");
        const char *keys[] = {"avgrec", "f1_pn", "accuracy", "macro_f1"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
                if (!cJSON_IsNumber(m))
                        continue;
                char k[64], val[32];
                snprintf(k, sizeof(k), "validation_%s", keys[i]);
                snprintf(val, sizeof(val), "%.6f", m->valuedouble);
                cJSON_AddStringToObject(tags, k, val);
        }
        cJSON_Delete(card);
}

/* The run that logged the file with this sha256, if any: fills *run and the artifact names. */
static int ss_models_find_run(ss_mlflow_t *c, const char *exp_id, const char *sha,
                              ss_mlflow_run_t *run, char *model_art, char *card_art, size_t size)
{
        char filter[160], err[1024];
        snprintf(filter, sizeof(filter), "tags.`" SS_MODELS_TAG_SHA "` = '%s'", sha);
        cJSON *runs = NULL;
        if (ss_mlflow_run_search(c, exp_id, filter, 10, &runs, err, sizeof(err))) {
                fprintf(stderr, "sentistream models register: searching runs: %s\n", err);
                return 0;
        }
        const cJSON *r;
        int found = 0;
        cJSON_ArrayForEach(r, runs)
        {
                const cJSON *info = cJSON_GetObjectItemCaseSensitive(r, "info");
                const cJSON *tags = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(r, "data"), "tags");
                const char *art = ss_mlflow_tag_find(tags, "sentistream.model_artifact");
                const char *card = ss_mlflow_tag_find(tags, "sentistream.card_artifact");
                if (!art || strncmp(art, SS_TRACK_MODEL_DIR "/", strlen(SS_TRACK_MODEL_DIR) + 1))
                        continue;
                snprintf(run->run_id, sizeof(run->run_id), "%s", ss_models_str(info, "run_id"));
                snprintf(run->experiment_id, sizeof(run->experiment_id), "%s",
                         ss_models_str(info, "experiment_id"));
                snprintf(run->artifact_uri, sizeof(run->artifact_uri), "%s",
                         ss_models_str(info, "artifact_uri"));
                snprintf(model_art, size, "%s", art + strlen(SS_TRACK_MODEL_DIR) + 1);
                snprintf(card_art, size, "%s",
                         card ? card + (strncmp(card, SS_TRACK_MODEL_DIR "/",
                                                strlen(SS_TRACK_MODEL_DIR) + 1)
                                            ? 0
                                            : strlen(SS_TRACK_MODEL_DIR) + 1)
                              : "");
                found = 1;
                break;
        }
        cJSON_Delete(runs);
        return found;
}

/* Logs model_path (and its card) in a new run, for a file no training run tracked. */
static int ss_models_log_run(ss_mlflow_t *c, const char *exp_id, const char *model_path,
                             const char *card_path, const char *sha, ss_mlflow_run_t *run,
                             char *model_art, char *card_art, size_t size)
{
        char err[1024], mb[1024], cb[1100], path[1200];
        snprintf(mb, sizeof(mb), "%s", model_path);
        snprintf(cb, sizeof(cb), "%s", card_path);
        snprintf(model_art, size, "%s", basename(mb));
        snprintf(card_art, size, "%s", access(card_path, R_OK) == 0 ? basename(cb) : "");
        cJSON *tags = cJSON_CreateObject();
        cJSON_AddStringToObject(tags, SS_MODELS_TAG_SHA, sha);
        snprintf(path, sizeof(path), SS_TRACK_MODEL_DIR "/%s", model_art);
        cJSON_AddStringToObject(tags, SS_MODELS_TAG_FILE, path);
        if (*card_art) {
                snprintf(path, sizeof(path), SS_TRACK_MODEL_DIR "/%s", card_art);
                cJSON_AddStringToObject(tags, SS_MODELS_TAG_CARD, path);
        }
        cJSON_AddStringToObject(tags, "mlflow.source.name", "sentistream models register");
        char run_name[300];
        snprintf(run_name, sizeof(run_name), "register-%.200s", model_art);
        ss_err_t e = ss_mlflow_run_create(c, exp_id, run_name, tags, run, err, sizeof(err));
        cJSON_Delete(tags);
        if (!e) {
                snprintf(path, sizeof(path), SS_TRACK_MODEL_DIR "/%s", model_art);
                e = ss_mlflow_artifact_upload(c, run->artifact_uri, path, model_path, NULL, err,
                                              sizeof(err));
        }
        if (!e && *card_art) {
                snprintf(path, sizeof(path), SS_TRACK_MODEL_DIR "/%s", card_art);
                e = ss_mlflow_artifact_upload(c, run->artifact_uri, path, card_path, NULL, err,
                                              sizeof(err));
        }
        if (!e)
                e = ss_mlflow_run_end(c, run->run_id, "FINISHED", err, sizeof(err));
        if (e) {
                fprintf(stderr, "sentistream models register: %s\n", err);
                return 1;
        }
        printf("logged     %s in new run %s (no training run had logged it)\n", model_path,
               run->run_id);
        return 0;
}

static int ss_models_register(ss_mlflow_t *c, const ss_config_t *cfg, const ss_models_args_t *a)
{
        char err[1024], sha[65], exp_id[64], model_art[512], card_art[512], card_path[1100];
        const char *model_path = a->pos[0];
        ss_mfile_t *mf = ss_mfile_read(model_path, err, sizeof(err));
        if (!mf) {
                fprintf(stderr, "sentistream models register: %s\n", err);
                return 1;
        }
        char inner_version[256];
        snprintf(inner_version, sizeof(inner_version), "%s", ss_mfile_version(mf));
        ss_mfile_destroy(mf);
        ss_card_path(model_path, card_path, sizeof(card_path));
        if (ss_sha256_file_hex(model_path, sha, err, sizeof(err)) ||
            ss_mlflow_experiment_get_or_create(c, ss_config_get_str(cfg, "tracking.experiment"),
                                               exp_id, err, sizeof(err))) {
                fprintf(stderr, "sentistream models register: %s\n", err);
                return 1;
        }
        ss_mlflow_run_t run = {0};
        if (ss_models_find_run(c, exp_id, sha, &run, model_art, card_art, sizeof(model_art)))
                printf("run        %s logged this file (sha256 %.12s...)\n", run.run_id, sha);
        else if (ss_models_log_run(c, exp_id, model_path, card_path, sha, &run, model_art, card_art,
                                   sizeof(model_art)))
                return 1;
        cJSON *tags = cJSON_CreateObject();
        cJSON_AddStringToObject(tags, SS_MODELS_TAG_SHA, sha);
        cJSON_AddStringToObject(tags, SS_MODELS_TAG_FILE, model_art);
        if (*card_art)
                cJSON_AddStringToObject(tags, SS_MODELS_TAG_CARD, card_art);
        cJSON_AddStringToObject(tags, SS_MODELS_TAG_VER, inner_version);
        ss_models_card_tags(card_path, tags);
        char source[700], version[32];
        snprintf(source, sizeof(source), "%s/" SS_TRACK_MODEL_DIR, run.artifact_uri);
        ss_err_t e = ss_mlflow_model_create(c, a->name, err, sizeof(err));
        if (!e)
                e = ss_mlflow_version_create(c, a->name, source, run.run_id, tags, 60000, version,
                                             err, sizeof(err));
        cJSON_Delete(tags);
        if (!e && a->alias)
                e = ss_mlflow_alias_set(c, a->name, a->alias, version, err, sizeof(err));
        if (e) {
                fprintf(stderr, "sentistream models register: %s\n", err);
                return 1;
        }
        printf("registered %s version %s (models:/%s/%s) from run %s, sha256 %s\n", a->name,
               version, a->name, version, run.run_id, sha);
        if (a->alias)
                printf("alias      %s@%s -> version %s\n", a->name, a->alias, version);
        return 0;
}

/* ---- list, show, promote, pull ---- */

static int ss_models_list(ss_mlflow_t *c, const ss_models_args_t *a)
{
        char err[1024];
        cJSON *vs = NULL;
        if (ss_mlflow_version_search(c, a->pos[0], &vs, err, sizeof(err))) {
                fprintf(stderr, "sentistream models list: %s\n", err);
                return 1;
        }
        printf("%-8s %-20s %-8s %-32s %-14s %-8s %s\n", "VERSION", "ALIASES", "STATUS", "RUN",
               "SHA256", "AVGREC", "FILE VERSION");
        const cJSON *mv;
        cJSON_ArrayForEach(mv, vs)
        {
                /* search results carry no aliases: ask for each version */
                cJSON *full = NULL;
                const char *ver = ss_models_str(mv, "version");
                const cJSON *rec =
                    ss_mlflow_version_get(c, a->pos[0], ver, &full, err, sizeof(err)) == SS_OK
                        ? full
                        : mv;
                char aliases[256];
                ss_models_aliases(rec, aliases, sizeof(aliases));
                const cJSON *tags = cJSON_GetObjectItemCaseSensitive(rec, "tags");
                const char *sha = ss_mlflow_tag_find(tags, SS_MODELS_TAG_SHA);
                const char *avg = ss_mlflow_tag_find(tags, "validation_avgrec");
                const char *iv = ss_mlflow_tag_find(tags, SS_MODELS_TAG_VER);
                printf("%-8s %-20s %-8s %-32s %-14.12s %-8.6s %s\n", ver, *aliases ? aliases : "-",
                       ss_models_str(rec, "status"), ss_models_str(rec, "run_id"), sha ? sha : "-",
                       avg ? avg : "-", iv ? iv : "-");
                cJSON_Delete(full);
        }
        if (cJSON_GetArraySize(vs) == 0)
                printf("(no versions of %s)\n", a->pos[0]);
        cJSON_Delete(vs);
        return 0;
}

/* NAME, NAME@ALIAS or NAME/VERSION (or a models:/ uri) to a version record. */
static int ss_models_lookup(ss_mlflow_t *c, const char *cmd, const char *ref, cJSON **mv)
{
        char err[1024], uri[600];
        if (!strncmp(ref, "models:/", 8))
                snprintf(uri, sizeof(uri), "%s", ref);
        else if (strchr(ref, '@') || strchr(ref, '/'))
                snprintf(uri, sizeof(uri), "models:/%s", ref);
        else {
                /* a bare name: its newest version */
                cJSON *vs = NULL;
                if (ss_mlflow_version_search(c, ref, &vs, err, sizeof(err))) {
                        fprintf(stderr, "sentistream models %s: %s\n", cmd, err);
                        return 1;
                }
                const cJSON *first = cJSON_GetArrayItem(vs, 0);
                if (!first) {
                        cJSON_Delete(vs);
                        fprintf(stderr, "sentistream models %s: model %s has no versions\n", cmd,
                                ref);
                        return 1;
                }
                snprintf(uri, sizeof(uri), "models:/%s/%s", ref, ss_models_str(first, "version"));
                cJSON_Delete(vs);
        }
        if (ss_mlflow_model_uri_resolve(c, uri, mv, err, sizeof(err))) {
                fprintf(stderr, "sentistream models %s: %s\n", cmd, err);
                return 1;
        }
        return 0;
}

static int ss_models_show(ss_mlflow_t *c, const ss_models_args_t *a)
{
        cJSON *mv = NULL, *run = NULL;
        if (ss_models_lookup(c, "show", a->pos[0], &mv))
                return 1;
        char aliases[256], err[1024];
        ss_models_aliases(mv, aliases, sizeof(aliases));
        printf("name       %s\nversion    %s\naliases    %s\nstatus     %s\nsource     %s\n"
               "run        %s\n",
               ss_models_str(mv, "name"), ss_models_str(mv, "version"), *aliases ? aliases : "-",
               ss_models_str(mv, "status"), ss_models_str(mv, "source"),
               ss_models_str(mv, "run_id"));
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(mv, "tags"))
        {
                printf("tag        %s = %s\n", ss_models_str(t, "key"), ss_models_str(t, "value"));
        }
        const char *run_id = ss_models_str(mv, "run_id");
        if (*run_id && ss_mlflow_run_get(c, run_id, &run, NULL, err, sizeof(err)) == SS_OK) {
                const cJSON *data = cJSON_GetObjectItemCaseSensitive(run, "data");
                const char *commit = ss_mlflow_tag_find(
                    cJSON_GetObjectItemCaseSensitive(data, "tags"), "sentistream.git_commit");
                printf("git        %s\n", commit ? commit : "-");
                const cJSON *m;
                cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(data, "metrics"))
                {
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
                        if (cJSON_IsNumber(v))
                                printf("metric     %s = %.6g\n", ss_models_str(m, "key"),
                                       v->valuedouble);
                        else
                                printf("metric     %s = %s\n", ss_models_str(m, "key"),
                                       ss_models_str(m, "value"));
                }
        }
        cJSON_Delete(run);
        cJSON_Delete(mv);
        return 0;
}

/* The ModelUpdate of a promotion: reason rollback when the alias goes back to an older
 * version, manual otherwise. */
static int ss_models_publish(const ss_config_t *cfg, const char *config_dir, const cJSON *mv,
                             const char *alias, const char *old_version)
{
        char err[1024];
        const char *version = ss_models_str(mv, "version");
        const char *reason =
            *old_version && strtol(version, NULL, 10) < strtol(old_version, NULL, 10) ? "rollback"
                                                                                      : "manual";
        char *schema_dir = ss_cli_schema_dir(cfg, config_dir);
        ss_serde_ids_t ids = ss_serde_ids_from_config(cfg);
        ss_serde_t *serde = schema_dir ? ss_serde_new(schema_dir, &ids, 0, err, sizeof(err)) : NULL;
        free(schema_dir);
        ss_err_t e = serde ? ss_rupdate_publish(cfg, serde, mv, alias, reason, NULL, NULL, 0, 10000,
                                                err, sizeof(err))
                           : SS_ERR_CONFIG;
        ss_serde_destroy(serde);
        if (e) {
                fprintf(stderr,
                        "sentistream models promote: the alias moved, but the model update was "
                        "not published: %s (scorers still find it by polling the alias)\n",
                        err);
                return 1;
        }
        printf("published  ModelUpdate %s@%s -> version %s (reason %s) to %s\n",
               ss_models_str(mv, "name"), alias, version, reason,
               ss_config_get_str(cfg, "topics.model_updates"));
        return 0;
}

static int ss_models_promote(ss_mlflow_t *c, const ss_config_t *cfg, const char *config_dir,
                             const ss_models_args_t *a)
{
        char err[1024], was[32];
        cJSON *old = NULL, *mv = NULL;
        const char *name = a->pos[0], *version = a->pos[1];
        if (ss_mlflow_version_get(c, name, version, &mv, err, sizeof(err))) {
                fprintf(stderr, "sentistream models promote: %s\n", err);
                return 1;
        }
        ss_err_t ge = ss_mlflow_alias_get(c, name, a->alias, &old, err, sizeof(err));
        if (ss_mlflow_alias_set(c, name, a->alias, version, err, sizeof(err))) {
                cJSON_Delete(old);
                cJSON_Delete(mv);
                fprintf(stderr, "sentistream models promote: %s\n", err);
                return 1;
        }
        snprintf(was, sizeof(was), "%s", ge == SS_OK ? ss_models_str(old, "version") : "");
        printf("alias      %s@%s -> version %s (was %s)\n", name, a->alias, version,
               *was ? was : "unset");
        cJSON_Delete(old);
        int rc = a->no_publish ? 0 : ss_models_publish(cfg, config_dir, mv, a->alias, was);
        cJSON_Delete(mv);
        return rc;
}

static int ss_models_pull(ss_mlflow_t *c, const ss_models_args_t *a)
{
        char err[1024], sha[65];
        cJSON *mv = NULL;
        if (strncmp(a->pos[0], "models:/", 8)) {
                fprintf(stderr,
                        "sentistream models pull: want models:/NAME@ALIAS or "
                        "models:/NAME/VERSION, got '%s'\n",
                        a->pos[0]);
                return 2;
        }
        if (ss_models_lookup(c, "pull", a->pos[0], &mv))
                return 1;
        ss_err_t e = ss_modelreg_fetch(c, mv, a->pos[1], sha, err, sizeof(err));
        if (e) {
                fprintf(stderr, "sentistream models pull: %s\n", err);
                cJSON_Delete(mv);
                return 1;
        }
        printf("pulled     %s version %s -> %s (sha256 %s, verified)\n", ss_models_str(mv, "name"),
               ss_models_str(mv, "version"), a->pos[1], sha);
        cJSON_Delete(mv);
        return 0;
}

/* ---- dispatch ---- */

static const struct {
        const char *name;
        int npos;       /* positional arguments */
        int need_name;  /* --name */
        int need_alias; /* --alias (0: optional, 1: required, -1: not taken) */
} ss_models_subs[] = {
    {"register", 1, 1, 0}, {"list", 1, 0, -1}, {"show", 1, 0, -1},
    {"promote", 2, 0, 1},  {"pull", 2, 0, -1},
};

int ss_cmd_models(int argc, char **argv)
{
        ss_cli_args_t args;
        if (ss_cli_args_init(&args, argc))
                return 1;
        ss_models_args_t a = {0};
        for (int i = 0; i < argc; i++) {
                if (ss_cli_args_take(&args, argc, argv, &i))
                        continue;
                if (!strcmp(argv[i], "--name") && i + 1 < argc)
                        a.name = argv[++i];
                else if (!strcmp(argv[i], "--alias") && i + 1 < argc)
                        a.alias = argv[++i];
                else if (!strcmp(argv[i], "--no-publish"))
                        a.no_publish = 1;
                else if (argv[i][0] != '-' && !a.sub)
                        a.sub = argv[i];
                else if (argv[i][0] != '-' && a.npos < 2)
                        a.pos[a.npos++] = argv[i];
                else
                        return ss_cli_args_reject(&args, "models", argv[i], ss_models_usage);
        }
        int s = -1;
        for (size_t k = 0; a.sub && k < sizeof(ss_models_subs) / sizeof(ss_models_subs[0]); k++)
                if (!strcmp(a.sub, ss_models_subs[k].name))
                        s = (int)k;
        if (s < 0 || a.npos != ss_models_subs[s].npos || (ss_models_subs[s].need_name && !a.name) ||
            (ss_models_subs[s].need_alias == 1 && !a.alias) ||
            (ss_models_subs[s].need_alias == -1 && a.alias) ||
            (!ss_models_subs[s].need_name && a.name)) {
                ss_cli_args_free(&args);
                if (a.sub)
                        fprintf(stderr, "sentistream models: bad arguments for '%s'\n", a.sub);
                ss_models_usage(stderr);
                return 2;
        }
        const char *config_dir = args.config_dir;
        ss_config_t *cfg = ss_cli_args_config(&args);
        if (!cfg)
                return 2;
        ss_mlflow_t *c = ss_models_client(cfg);
        int rc = 2;
        if (c) {
                switch (s) {
                case 0:
                        rc = ss_models_register(c, cfg, &a);
                        break;
                case 1:
                        rc = ss_models_list(c, &a);
                        break;
                case 2:
                        rc = ss_models_show(c, &a);
                        break;
                case 3:
                        rc = ss_models_promote(c, cfg, config_dir, &a);
                        break;
                default:
                        rc = ss_models_pull(c, &a);
                        break;
                }
        }
        ss_mlflow_destroy(c);
        ss_config_destroy(cfg);
        return rc;
}
