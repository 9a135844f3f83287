/*
 * ss_modelreg: fetch a registered model version with its sha256 checked, and
 * resolve a models:/ uri through a local cache for the scorer.
 *
 * Design: the cache is a folder of immutable files named after the registry
 * version (NAME-vVERSION.ssm, .card.json) plus one small record per uri
 * (<uri, sanitised>.last: version, sha256, path, name) rewritten by rename after
 * each successful resolution. A version already cached with the right sha256 is
 * not downloaded again; when the registry is unreachable the record names the
 * file to serve, and its sha256 is checked again before it is.
 */
#include "ss_modelreg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "card.h"
#include "ss_util.h"

#define SS_MODELREG_SCHEME "mlflow-artifacts:/"

ss_err_t ss_modelreg_fetch(ss_mlflow_t *c, const cJSON *mv, const char *out_path, char *sha256_out,
                           char *errstr, size_t errstr_size)
{
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(mv, "tags");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(mv, "source");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(mv, "name");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(mv, "version");
        const char *n = cJSON_IsString(name) ? name->valuestring : "?";
        const char *v = cJSON_IsString(ver) ? ver->valuestring : "?";
        const char *sha = ss_mlflow_tag_find(tags, "sentistream.model_sha256");
        const char *art = ss_mlflow_tag_find(tags, "sentistream.model_artifact");
        const char *card = ss_mlflow_tag_find(tags, "sentistream.card_artifact");
        if (!sha || strlen(sha) != 64 || !art || !*art)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                  "model %s version %s has no sentistream.model_sha256 / "
                                  "sentistream.model_artifact tag: refusing a file that cannot "
                                  "be verified",
                                  n, v);
        if (!cJSON_IsString(src))
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                  "model %s version %s has no source", n, v);
        ss_err_t e = ss_mlflow_artifact_download(c, src->valuestring, art, out_path, sha,
                                                 sha256_out, errstr, errstr_size);
        if (e || !card || !*card)
                return e;
        char card_path[1100];
        ss_card_path(out_path, card_path, sizeof(card_path));
        return ss_mlflow_artifact_download(c, src->valuestring, card, card_path, NULL, NULL, errstr,
                                           errstr_size);
}

/* ---- the scorer's cache ---- */

static int ss_modelreg_mkdirs(const char *dir)
{
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", dir);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* cache_dir/<uri with every byte outside [A-Za-z0-9._-] as '_'>.last */
static void ss_modelreg_record_path(const char *cache_dir, const char *uri, char *out, size_t size)
{
        char key[300];
        size_t k = 0;
        for (const char *p = uri; *p && k + 1 < sizeof(key); p++)
                key[k++] = isalnum((unsigned char)*p) || strchr("._-", *p) ? *p : '_';
        key[k] = '\0';
        snprintf(out, size, "%s/%s.last", cache_dir, key);
}

static ss_err_t ss_modelreg_record_write(const char *path, const ss_modelreg_pick_t *p,
                                         char *errstr, size_t errstr_size)
{
        char tmp[1500];
        snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", tmp, strerror(errno));
        fprintf(f, "%s\n%s\n%s\n%s\n", p->version, p->sha256, p->path, p->name);
        if (fclose(f) || rename(tmp, path)) {
                unlink(tmp);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(errno));
        }
        return SS_OK;
}

static void ss_modelreg_chomp(char *s)
{
        s[strcspn(s, "\r\n")] = '\0';
}

/* The last resolution of the uri, its file checked against its sha256. */
static ss_err_t ss_modelreg_record_read(const char *path, ss_modelreg_pick_t *p, char *errstr,
                                        size_t errstr_size)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return ss_err_set(errstr, errstr_size, SS_ERR_IO,
                                  "no earlier resolution cached (%s: %s)", path, strerror(errno));
        int ok = fgets(p->version, sizeof(p->version), f) && fgets(p->sha256, sizeof(p->sha256), f);
        ok = ok && fgetc(f) == '\n' && fgets(p->path, sizeof(p->path), f) &&
             fgets(p->name, sizeof(p->name), f);
        fclose(f);
        if (!ok)
                return ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: truncated record", path);
        ss_modelreg_chomp(p->version);
        ss_modelreg_chomp(p->sha256);
        ss_modelreg_chomp(p->path);
        ss_modelreg_chomp(p->name);
        char sha[65];
        ss_err_t e = ss_sha256_file_hex(p->path, sha, errstr, errstr_size);
        if (e)
                return e;
        if (strcmp(sha, p->sha256))
                return ss_err_set(errstr, errstr_size, SS_ERR_CHECKSUM,
                                  "cached %s has sha256 %s, the registry said %s: not served",
                                  p->path, sha, p->sha256);
        return SS_OK;
}

ss_err_t ss_modelreg_resolve(const char *tracking_uri, const char *model_uri, const char *cache_dir,
                             long timeout_ms, ss_modelreg_pick_t *pick, char *errstr,
                             size_t errstr_size)
{
        memset(pick, 0, sizeof(*pick));
        char name[256], alias[128], version[32], record[1400], err[1024];
        ss_err_t e =
            ss_mlflow_model_uri_parse(model_uri, name, alias, version, errstr, errstr_size);
        if (e)
                return e;
        if (!tracking_uri || !*tracking_uri)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "%s: set tracking.uri to the registry's server", model_uri);
        if (ss_modelreg_mkdirs(cache_dir))
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "model cache %s: %s", cache_dir,
                                  strerror(errno));
        ss_modelreg_record_path(cache_dir, model_uri, record, sizeof(record));
        ss_mlflow_policy_t pol;
        ss_mlflow_policy_default(&pol);
        pol.timeout_ms = timeout_ms;
        pol.attempts = 2;
        ss_mlflow_t *c = ss_mlflow_new(tracking_uri, &pol, errstr, errstr_size);
        if (!c)
                return SS_ERR_CONFIG;
        cJSON *mv = NULL;
        e = ss_mlflow_model_uri_resolve(c, model_uri, &mv, err, sizeof(err));
        long status = ss_mlflow_last_status(c);
        if (e && (status == 0 || status >= 500) && e != SS_ERR_PARSE) {
                /* unreachable: the last resolution, if its file is intact */
                char cerr[1024];
                ss_mlflow_destroy(c);
                if (ss_modelreg_record_read(record, pick, cerr, sizeof(cerr)))
                        return ss_err_set(errstr, errstr_size, e,
                                          "%s: registry unreachable (%s) and %s", model_uri, err,
                                          cerr);
                pick->from_cache = 1;
                snprintf(pick->registry_err, sizeof(pick->registry_err), "%s", err);
                snprintf(pick->label, sizeof(pick->label), "%s/%s", pick->name, pick->version);
                return SS_OK;
        }
        if (e) {
                ss_mlflow_destroy(c);
                return ss_err_set(errstr, errstr_size, e, "%s", err);
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(mv, "version");
        snprintf(pick->name, sizeof(pick->name), "%s", name);
        snprintf(pick->version, sizeof(pick->version), "%s",
                 cJSON_IsString(v) ? v->valuestring : "?");
        snprintf(pick->label, sizeof(pick->label), "%s/%s", pick->name, pick->version);
        snprintf(pick->path, sizeof(pick->path), "%s/%s-v%s.ssm", cache_dir, name, pick->version);
        const char *want = ss_mlflow_tag_find(cJSON_GetObjectItemCaseSensitive(mv, "tags"),
                                              "sentistream.model_sha256");
        char have[65] = "";
        if (want && access(pick->path, R_OK) == 0 &&
            ss_sha256_file_hex(pick->path, have, NULL, 0) == SS_OK && !strcmp(have, want)) {
                snprintf(pick->sha256, sizeof(pick->sha256), "%s", have); /* cached already */
        } else {
                e = ss_modelreg_fetch(c, mv, pick->path, pick->sha256, errstr, errstr_size);
        }
        cJSON_Delete(mv);
        ss_mlflow_destroy(c);
        if (!e)
                e = ss_modelreg_record_write(record, pick, errstr, errstr_size);
        return e;
}
