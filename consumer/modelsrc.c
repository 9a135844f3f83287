/*
 * modelsrc: a plain path, or a registry uri resolved through ss_modelreg into
 * a cached, sha256-checked file. Resolution runs at startup and on reloads,
 * between batches, never while scoring. What is served is named by the last
 * ss_modelsrc_loaded(), so a resolution whose file then fails to load does not
 * change the version the predictions carry.
 */
#include "modelsrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"

struct ss_modelsrc {
        char uri[512];          /* "" for a plain file */
        char tracking_uri[512]; /* the registry */
        char cache_dir[512];
        long timeout_ms;
        ss_modelreg_pick_t pick;    /* the last resolution */
        char path[1024];            /* the file to load */
        char version[512];          /* model_version of the served model */
        char name[256], alias[128]; /* models:/NAME@ALIAS, else "" */
        char served_version[32];    /* registry version served, "" for a plain file */
        char served_sha256[65];
};

ss_err_t ss_modelsrc_resolve(ss_modelsrc_t *s, char *errstr, size_t errstr_size)
{
        if (!*s->uri)
                return SS_OK;
        ss_modelreg_pick_t p;
        ss_err_t e = ss_modelreg_resolve(s->tracking_uri, s->uri, s->cache_dir, s->timeout_ms, &p,
                                         errstr, errstr_size);
        if (e)
                return e;
        if (p.from_cache)
                ss_warn("consume",
                        "model registry %s unreachable (%s): serving the cached %s (%s, sha256 "
                        "%.12s..., verified) from the last resolution of %s",
                        s->tracking_uri, p.registry_err, p.label, p.path, p.sha256, s->uri);
        else
                ss_info("consume", "%s -> %s (%s, sha256 %.12s..., verified)", s->uri, p.label,
                        p.path, p.sha256);
        s->pick = p;
        snprintf(s->path, sizeof(s->path), "%s", p.path);
        return SS_OK;
}

ss_modelsrc_t *ss_modelsrc_new(const ss_config_t *c, const char *path, char *errstr,
                               size_t errstr_size)
{
        ss_modelsrc_t *s = calloc(1, sizeof(*s));
        if (!s) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        snprintf(s->uri, sizeof(s->uri), "%s", ss_config_get_str(c, "consumer.model.uri"));
        snprintf(s->tracking_uri, sizeof(s->tracking_uri), "%s",
                 ss_config_get_str(c, "tracking.uri"));
        snprintf(s->cache_dir, sizeof(s->cache_dir), "%s",
                 ss_config_get_str(c, "consumer.model.cache_dir"));
        s->timeout_ms = (long)ss_config_get_int(c, "tracking.timeout.ms");
        snprintf(s->path, sizeof(s->path), "%s", path ? path : "");
        const char *at = strchr(s->uri, '@');
        if (!strncmp(s->uri, "models:/", 8) && at && at > s->uri + 8 && at[1]) {
                snprintf(s->name, sizeof(s->name), "%.*s", (int)(at - s->uri - 8), s->uri + 8);
                snprintf(s->alias, sizeof(s->alias), "%s", at + 1);
        }
        if (ss_modelsrc_resolve(s, errstr, errstr_size)) {
                free(s);
                return NULL;
        }
        return s;
}

void ss_modelsrc_destroy(ss_modelsrc_t *s)
{
        free(s);
}

const char *ss_modelsrc_path(const ss_modelsrc_t *s)
{
        return s->path;
}

void ss_modelsrc_loaded(ss_modelsrc_t *s, const ss_model_t *m)
{
        if (*s->uri) {
                snprintf(s->version, sizeof(s->version), "%s@%s", ss_model_version(m),
                         s->pick.label);
                snprintf(s->served_version, sizeof(s->served_version), "%s", s->pick.version);
                snprintf(s->served_sha256, sizeof(s->served_sha256), "%s", s->pick.sha256);
        } else
                snprintf(s->version, sizeof(s->version), "%s", ss_model_version(m));
}

const char *ss_modelsrc_version(const ss_modelsrc_t *s)
{
        return s && *s->version ? s->version : "none";
}

int ss_modelsrc_alias(const ss_modelsrc_t *s, const char **name, const char **alias)
{
        if (!s || !*s->alias)
                return 0;
        *name = s->name;
        *alias = s->alias;
        return 1;
}

const ss_modelreg_pick_t *ss_modelsrc_pick(const ss_modelsrc_t *s)
{
        return s && *s->uri ? &s->pick : NULL;
}

const char *ss_modelsrc_served_version(const ss_modelsrc_t *s)
{
        return s ? s->served_version : "";
}

const char *ss_modelsrc_served_sha256(const ss_modelsrc_t *s)
{
        return s ? s->served_sha256 : "";
}
