/*
 * ss_modelreg: model files in the MLflow model registry, the sentistream way.
 *
 * A registered version's source is "<run artifact uri>/model"; the version
 * carries the tags
 *   sentistream.model_sha256    sha256 of the whole .ssm file
 *   sentistream.model_artifact  its file name under model/ (e.g. logreg.ssm)
 *   sentistream.card_artifact   the card's file name under model/ (if any)
 *   sentistream.model_version   the version string inside the .ssm
 * A download is refused unless the file's sha256 equals the tag.
 *
 * The scorer's side (ss_modelreg_resolve): a models:/ uri is resolved to a
 * version, fetched into a local cache (NAME-vVERSION.ssm, its card, and a
 * NAME@ALIAS.last record of the last resolution), and served from there. When
 * the registry cannot be reached the last resolution is served from the cache,
 * if its file still has the recorded sha256 (and the caller is told). A file
 * whose sha256 does not match is never served.
 */
#ifndef SS_MODELREG_H
#define SS_MODELREG_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ss_err.h"
#include "ss_mlflow.h"

/*
 * Downloads the model file of version record mv into out_path (and its card beside it,
 * ss_card_path(out_path), when the version names one), verifying the sha256 tag; the
 * sha256 into sha256_out[65] (may be NULL). A version without the tag is refused.
 */
ss_err_t ss_modelreg_fetch(ss_mlflow_t *c, const cJSON *mv, const char *out_path, char *sha256_out,
                           char *errstr, size_t errstr_size);

/* What a models:/ uri resolved to. */
typedef struct ss_modelreg_pick {
        char path[1024];         /* the local, verified model file */
        char sha256[65];         /* its sha256 */
        char name[256];          /* registered model */
        char version[32];        /* registry version number */
        char label[320];         /* "NAME/VERSION" */
        int from_cache;          /* 1: the registry was not reachable, the last pick is served */
        char registry_err[1024]; /* why, when from_cache */
} ss_modelreg_pick_t;

/*
 * Resolves model_uri on the registry at tracking_uri into cache_dir (created if missing):
 * downloads the version unless the cache holds it with the right sha256. With the registry
 * unreachable (connection error, timeout, 5xx) the last resolution of the same uri is used
 * when its file still matches its sha256 (pick->from_cache = 1). Any other case is an error.
 */
ss_err_t ss_modelreg_resolve(const char *tracking_uri, const char *model_uri, const char *cache_dir,
                             long timeout_ms, ss_modelreg_pick_t *pick, char *errstr,
                             size_t errstr_size);

#endif /* SS_MODELREG_H */
