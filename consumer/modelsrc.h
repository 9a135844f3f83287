/*
 * modelsrc: where the scorer's model file comes from. Either a plain file
 * (consumer.model.path, else model.out) or a registry model
 * (consumer.model.uri = models:/NAME@ALIAS or models:/NAME/VERSION on
 * tracking.uri), resolved at startup and again on every reload into the local
 * cache consumer.model.cache_dir (registry/ss_modelreg.h: sha256-checked; when
 * the registry is down the last resolution is served from the cache, with a
 * warning). For a registry model, predictions carry "<file version>@NAME/VERSION"
 * as model_version (the monitor matches the part before '@' with the card).
 */
#ifndef SS_MODELSRC_H
#define SS_MODELSRC_H

#include <stddef.h>

#include "model.h"
#include "ss_config.h"
#include "ss_err.h"
#include "ss_modelreg.h"

typedef struct ss_modelsrc ss_modelsrc_t;

/*
 * The source configured in c (path: the plain file used when consumer.model.uri is empty).
 * A registry source is resolved once here: NULL with the reason in errstr when that fails.
 * Caller frees with ss_modelsrc_destroy().
 */
ss_modelsrc_t *ss_modelsrc_new(const ss_config_t *c, const char *path, char *errstr,
                               size_t errstr_size);
void ss_modelsrc_destroy(ss_modelsrc_t *s);

/* Resolves a registry source again (for a reload); a plain file: nothing to do. On failure
 * the path stays what it was. */
ss_err_t ss_modelsrc_resolve(ss_modelsrc_t *s, char *errstr, size_t errstr_size);

/* The file to load now; valid until the next resolve or destroy. */
const char *ss_modelsrc_path(const ss_modelsrc_t *s);

/* Tells the source that m (loaded from ss_modelsrc_path()) is now served. */
void ss_modelsrc_loaded(ss_modelsrc_t *s, const ss_model_t *m);

/* model_version of the predictions of the model last passed to ss_modelsrc_loaded(). */
const char *ss_modelsrc_version(const ss_modelsrc_t *s);

/* For models:/NAME@ALIAS: 1 with name and alias (valid while s lives); else 0. */
int ss_modelsrc_alias(const ss_modelsrc_t *s, const char **name, const char **alias);

/* The last resolution of a registry source (NULL for a plain file). */
const ss_modelreg_pick_t *ss_modelsrc_pick(const ss_modelsrc_t *s);

/* Registry version and sha256 of the model served now ("" for a plain file or before the
 * first ss_modelsrc_loaded()). */
const char *ss_modelsrc_served_version(const ss_modelsrc_t *s);
const char *ss_modelsrc_served_sha256(const ss_modelsrc_t *s);

#endif /* SS_MODELSRC_H */
