/*
 * refcard: model card JSON -> reference distributions.
 *
 * The card is parsed with cJSON into a flat struct the monitor keeps for its
 * lifetime. Every check names the card and the JSON path of the offending
 * value: missing model identity, a distribution without name or kind, counts
 * that are not non-negative integers, edges that are not one more than the
 * counts or not strictly ascending, categories that do not match the counts,
 * a duplicate name. The mapping name -> prediction field lives in one table
 * (ref_sources); binning a value is a binary search over the edges.
 */
#include "refcard.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ss_util.h"

static const struct {
        const char *name;
        ss_ref_src_t src;
        ss_ref_kind_t kind;
} ref_sources[] = {
    {"predicted_class", SS_REF_SRC_PRED_CLASS, SS_REF_CATEGORICAL},
    {"prob.negative", SS_REF_SRC_PROB_NEGATIVE, SS_REF_HISTOGRAM},
    {"prob.neutral", SS_REF_SRC_PROB_NEUTRAL, SS_REF_HISTOGRAM},
    {"prob.positive", SS_REF_SRC_PROB_POSITIVE, SS_REF_HISTOGRAM},
    {"input.n_tokens", SS_REF_SRC_N_TOKENS, SS_REF_HISTOGRAM},
    {"input.unk_share", SS_REF_SRC_UNK_SHARE, SS_REF_HISTOGRAM},
    {"input.has_url", SS_REF_SRC_HAS_URL, SS_REF_CATEGORICAL},
    {"input.has_mention", SS_REF_SRC_HAS_MENTION, SS_REF_CATEGORICAL},
    {"input.has_emoji", SS_REF_SRC_HAS_EMOJI, SS_REF_CATEGORICAL},
};

static char *dup_str(const char *s)
{
        size_t n = strlen(s) + 1;
        char *d = malloc(n);
        if (d)
                memcpy(d, s, n);
        return d;
}

void ss_refcard_destroy(ss_refcard_t *c)
{
        if (!c)
                return;
        for (int i = 0; i < c->ndists; i++) {
                free(c->dists[i].name);
                free(c->dists[i].edges);
                free(c->dists[i].counts);
        }
        free(c->dists);
        free(c->path);
        free(c->kind);
        free(c->name);
        free(c->version);
        free(c->created_at);
        free(c);
}

int64_t ss_refcard_parse_time(const char *s)
{
        int y, mo, d, h, mi, n = 0;
        double sec;
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
                return -1;
        if (s[n] != 'Z' || s[n + 1] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
            mi > 59 || sec < 0 || sec >= 61)
                return -1;
        struct tm tm = {
            .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
        time_t t = timegm(&tm);
        return (int64_t)t * 1000 + (int64_t)llround(sec * 1000);
}

/* ---- JSON access with paths in the messages ----------------------------------------- */

typedef struct parse_ctx {
        const char *origin;
        char *errstr;
        size_t errstr_size;
} parse_ctx_t;

static const cJSON *get_obj(parse_ctx_t *p, const cJSON *o, const char *key, const char *path)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsObject(v)) {
                ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s%s%s: %s", p->origin,
                           path, *path ? "." : "", key, v ? "not an object" : "missing");
                return NULL;
        }
        return v;
}

static const char *get_str(parse_ctx_t *p, const cJSON *o, const char *key, const char *path,
                           int required)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (cJSON_IsString(v) && (v->valuestring[0] || !required))
                return v->valuestring;
        if (!v && !required)
                return "";
        ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s.%s: %s", p->origin, path, key,
                   !v                  ? "missing"
                   : cJSON_IsString(v) ? "empty"
                                       : "not a string");
        return NULL;
}

static double opt_num(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Reads an array of numbers into a fresh buffer; counts must be non-negative integers. */
static double *get_nums(parse_ctx_t *p, const cJSON *o, const char *key, const char *path,
                        int counts, int *n_out)
{
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsArray(arr)) {
                ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s.%s: %s", p->origin,
                           path, key, arr ? "not an array" : "missing");
                return NULL;
        }
        int n = cJSON_GetArraySize(arr);
        double *out = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!out) {
                ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "%s: out of memory", p->origin);
                return NULL;
        }
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, arr)
        {
                double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
                int ok = isfinite(x) && (!counts || (x >= 0 && x == floor(x)));
                if (!ok) {
                        ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s.%s[%d]: %s",
                                   p->origin, path, key, i,
                                   counts ? "not a non-negative integer count"
                                          : "not a finite number");
                        free(out);
                        return NULL;
                }
                out[i++] = x;
        }
        *n_out = n;
        return out;
}

/* ---- one distribution --------------------------------------------------------------- */

static int label_index(const char *s)
{
        static const char *const names[3] = {"negative", "neutral", "positive"};
        for (int i = 0; i < 3; i++)
                if (!strcmp(s, names[i]))
                        return i;
        return -1;
}

static int bool_index(const char *s)
{
        if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
                return 0;
        if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
                return 1;
        return -1;
}

static ss_err_t parse_categories(parse_ctx_t *p, const cJSON *jd, const char *path,
                                 ss_ref_dist_t *d)
{
        const cJSON *cats = cJSON_GetObjectItemCaseSensitive(jd, "categories");
        memset(d->cat_bin, SS_REF_NO_BIN, sizeof(d->cat_bin));
        if (!cJSON_IsArray(cats))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s.categories: %s",
                                  p->origin, path, cats ? "not an array" : "missing");
        if (cJSON_GetArraySize(cats) != d->nbins)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s: %d categories but %d counts", p->origin, path,
                                  cJSON_GetArraySize(cats), d->nbins);
        int i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cats)
        {
                if (!cJSON_IsString(c))
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: %s.categories[%d]: not a string", p->origin, path,
                                          i);
                int v = -1;
                if (d->src == SS_REF_SRC_PRED_CLASS)
                        v = label_index(c->valuestring);
                else if (d->src != SS_REF_SRC_UNKNOWN)
                        v = bool_index(c->valuestring);
                if (d->src != SS_REF_SRC_UNKNOWN && v < 0)
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: %s.categories[%d]: unknown category \"%s\"",
                                          p->origin, path, i, c->valuestring);
                if (v >= 0) {
                        if (d->cat_bin[v] != SS_REF_NO_BIN)
                                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                                  "%s: %s.categories[%d]: duplicate \"%s\"",
                                                  p->origin, path, i, c->valuestring);
                        d->cat_bin[v] = (uint8_t)i;
                }
                i++;
        }
        return SS_OK;
}

static ss_err_t parse_edges(parse_ctx_t *p, const cJSON *jd, const char *path, ss_ref_dist_t *d)
{
        int ne;
        d->edges = get_nums(p, jd, "edges", path, 0, &ne);
        if (!d->edges)
                return SS_ERR_FORMAT;
        if (ne != d->nbins + 1)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s: %d edges for %d counts (need counts + 1)", p->origin,
                                  path, ne, d->nbins);
        for (int i = 1; i < ne; i++)
                if (!(d->edges[i] > d->edges[i - 1]))
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: %s.edges[%d]: %g not above the previous edge %g",
                                          p->origin, path, i, d->edges[i], d->edges[i - 1]);
        return SS_OK;
}

static ss_err_t parse_dist(parse_ctx_t *p, const cJSON *jd, int idx, ss_ref_dist_t *d, int *unknown)
{
        char path[96];
        snprintf(path, sizeof(path), "reference.distributions[%d]", idx);
        if (!cJSON_IsObject(jd))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: %s: not an object",
                                  p->origin, path);
        const char *name = get_str(p, jd, "name", path, 1);
        const char *kind = name ? get_str(p, jd, "kind", path, 1) : NULL;
        if (!name || !kind)
                return SS_ERR_FORMAT;
        if (!(d->name = dup_str(name)))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        snprintf(path, sizeof(path), "reference.distributions[%d] (%s)", idx, name);
        if (!strcmp(kind, "categorical"))
                d->kind = SS_REF_CATEGORICAL;
        else if (!strcmp(kind, "histogram"))
                d->kind = SS_REF_HISTOGRAM;
        else
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s.kind: \"%s\" is neither categorical nor histogram",
                                  p->origin, path, kind);
        d->src = SS_REF_SRC_UNKNOWN;
        for (size_t i = 0; i < sizeof(ref_sources) / sizeof(ref_sources[0]); i++) {
                if (strcmp(name, ref_sources[i].name))
                        continue;
                if (ref_sources[i].kind != d->kind)
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: %s.kind: must be %s", p->origin, path,
                                          ref_sources[i].kind ? "histogram" : "categorical");
                d->src = ref_sources[i].src;
        }
        *unknown = d->src == SS_REF_SRC_UNKNOWN;
        if (!(d->counts = get_nums(p, jd, "counts", path, 1, &d->nbins)))
                return SS_ERR_FORMAT;
        if (d->nbins < 1 || d->nbins > SS_REF_MAX_BINS)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s.counts: %d bins, need 1..%d", p->origin, path, d->nbins,
                                  SS_REF_MAX_BINS);
        d->n = 0;
        for (int i = 0; i < d->nbins; i++)
                d->n += d->counts[i];
        if (d->kind == SS_REF_CATEGORICAL)
                return parse_categories(p, jd, path, d);
        return parse_edges(p, jd, path, d);
}

/* ---- the card ----------------------------------------------------------------------- */

/* metrics.validation.confusion: optional (no label-shift estimate without it), but when
 * present a 3 x 3 array of non-negative integers. */
static ss_err_t parse_confusion(parse_ctx_t *p, const cJSON *conf, ss_refcard_t *c)
{
        if (!conf)
                return SS_OK;
        int ok = cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == 3;
        for (int t = 0; ok && t < 3; t++) {
                const cJSON *row = cJSON_GetArrayItem(conf, t);
                ok = cJSON_IsArray(row) && cJSON_GetArraySize(row) == 3;
                for (int k = 0; ok && k < 3; k++) {
                        const cJSON *v = cJSON_GetArrayItem(row, k);
                        ok = cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                             v->valuedouble == floor(v->valuedouble);
                        if (ok)
                                c->val_confusion[t][k] = v->valuedouble;
                }
        }
        if (!ok)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: metrics.validation.confusion: not a 3 x 3 array of "
                                  "non-negative integer counts",
                                  p->origin);
        c->has_confusion = 1;
        return SS_OK;
}

static ss_err_t parse_identity(parse_ctx_t *p, const cJSON *root, ss_refcard_t *c)
{
        const cJSON *model = get_obj(p, root, "model", "");
        if (!model)
                return SS_ERR_FORMAT;
        const char *kind = get_str(p, model, "kind", "model", 1);
        const char *name = kind ? get_str(p, model, "name", "model", 1) : NULL;
        const char *version = name ? get_str(p, model, "version", "model", 1) : NULL;
        if (!version)
                return SS_ERR_FORMAT;
        const char *created = get_str(p, root, "created_at", "card", 0);
        if (!created)
                return SS_ERR_FORMAT;
        c->kind = dup_str(kind);
        c->name = dup_str(name);
        c->version = dup_str(version);
        c->created_at = dup_str(created);
        if (!c->kind || !c->name || !c->version || !c->created_at)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        int64_t t = *created ? ss_refcard_parse_time(created) : 0;
        c->created_at_ms = t < 0 ? 0 : t;
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(root, "metrics");
        val = cJSON_GetObjectItemCaseSensitive(val, "validation");
        c->val_macro_f1 = opt_num(val, "macro_f1");
        c->val_avgrec = opt_num(val, "avgrec");
        return parse_confusion(p, cJSON_GetObjectItemCaseSensitive(val, "confusion"), c);
}

static ss_err_t parse_reference(parse_ctx_t *p, const cJSON *root, ss_refcard_t *c)
{
        const cJSON *ref = get_obj(p, root, "reference", "");
        if (!ref)
                return SS_ERR_FORMAT;
        double n = opt_num(ref, "n");
        if (!(n >= 0) || n != floor(n))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.n: missing or not a non-negative integer",
                                  p->origin);
        c->ref_n = (int64_t)n;
        const cJSON *dists = cJSON_GetObjectItemCaseSensitive(ref, "distributions");
        if (!cJSON_IsArray(dists))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.distributions: %s", p->origin,
                                  dists ? "not an array" : "missing");
        int nd = cJSON_GetArraySize(dists);
        if (nd < 1 || nd > SS_REF_MAX_DISTS)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.distributions: %d entries, need 1..%d", p->origin,
                                  nd, SS_REF_MAX_DISTS);
        if (!(c->dists = calloc((size_t)nd, sizeof(*c->dists))))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        const cJSON *jd;
        cJSON_ArrayForEach(jd, dists)
        {
                int unknown = 0, i = c->ndists++;
                ss_err_t err = parse_dist(p, jd, i, &c->dists[i], &unknown);
                if (err)
                        return err;
                c->n_unknown += unknown;
                for (int j = 0; j < i; j++)
                        if (!strcmp(c->dists[j].name, c->dists[i].name))
                                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                                  "%s: reference.distributions[%d]: duplicate "
                                                  "name \"%s\"",
                                                  p->origin, i, c->dists[i].name);
        }
        return SS_OK;
}

ss_refcard_t *ss_refcard_parse(const char *json, const char *origin, char *errstr,
                               size_t errstr_size)
{
        parse_ctx_t p = {origin, errstr, errstr_size};
        cJSON *root = cJSON_Parse(json);
        if (!root) {
                const char *at = cJSON_GetErrorPtr();
                ss_err_set(errstr, errstr_size, SS_ERR_PARSE, "%s: not valid JSON (at byte %td)",
                           origin, at && at >= json ? at - json : (ptrdiff_t)-1);
                return NULL;
        }
        ss_refcard_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->path = dup_str(origin))) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (!cJSON_IsObject(root)) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT, "%s: not a JSON object", origin);
                goto fail;
        }
        const char *fmt = get_str(&p, root, "format", "card", 1);
        if (!fmt)
                goto fail;
        if (strncmp(fmt, "sentistream-model-card/", 23)) {
                ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                           "%s: format \"%s\" is not a sentistream model card", origin, fmt);
                goto fail;
        }
        if (parse_identity(&p, root, c) || parse_reference(&p, root, c))
                goto fail;
        cJSON_Delete(root);
        return c;
fail:
        cJSON_Delete(root);
        ss_refcard_destroy(c);
        return NULL;
}

ss_refcard_t *ss_refcard_load(const char *path, char *errstr, size_t errstr_size)
{
        char *text = NULL;
        size_t len;
        if (ss_file_read_all(path, &text, &len, errstr, errstr_size) != SS_OK)
                return NULL;
        ss_refcard_t *c = ss_refcard_parse(text, path, errstr, errstr_size);
        free(text);
        return c;
}

int ss_refcard_find(const ss_refcard_t *c, const char *name)
{
        for (int i = 0; i < c->ndists; i++)
                if (!strcmp(c->dists[i].name, name))
                        return i;
        return -1;
}

int ss_ref_dist_bin(const ss_ref_dist_t *d, double v)
{
        if (isnan(v))
                return SS_REF_NO_BIN;
        const double *e = d->edges;
        int nb = d->nbins;
        if (v < e[1])
                return 0;
        if (v >= e[nb - 1])
                return nb - 1;
        /* invariant: e[lo] <= v < e[hi] */
        int lo = 1, hi = nb - 1;
        while (hi - lo > 1) {
                int mid = (lo + hi) / 2;
                if (v >= e[mid])
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

static int obs_categorical(const ss_ref_dist_t *d, int v)
{
        return v >= 0 && v < 3 ? d->cat_bin[v] : SS_REF_NO_BIN;
}

void ss_refcard_bin(const ss_refcard_t *c, const ss_ref_obs_t *o, uint8_t *row)
{
        for (int i = 0; i < c->ndists; i++) {
                const ss_ref_dist_t *d = &c->dists[i];
                int b = SS_REF_NO_BIN;
                switch (d->src) {
                case SS_REF_SRC_PRED_CLASS:
                        b = obs_categorical(d, o->label);
                        break;
                case SS_REF_SRC_PROB_NEGATIVE:
                case SS_REF_SRC_PROB_NEUTRAL:
                case SS_REF_SRC_PROB_POSITIVE:
                        b = ss_ref_dist_bin(d, o->prob[d->src - SS_REF_SRC_PROB_NEGATIVE]);
                        break;
                case SS_REF_SRC_N_TOKENS:
                        b = o->has_stats ? ss_ref_dist_bin(d, o->n_tokens) : SS_REF_NO_BIN;
                        break;
                case SS_REF_SRC_UNK_SHARE:
                        b = o->has_stats ? ss_ref_dist_bin(d, o->unk_share) : SS_REF_NO_BIN;
                        break;
                case SS_REF_SRC_HAS_URL:
                        b = o->has_stats ? obs_categorical(d, o->has_url != 0) : SS_REF_NO_BIN;
                        break;
                case SS_REF_SRC_HAS_MENTION:
                        b = o->has_stats ? obs_categorical(d, o->has_mention != 0) : SS_REF_NO_BIN;
                        break;
                case SS_REF_SRC_HAS_EMOJI:
                        b = o->has_stats ? obs_categorical(d, o->has_emoji != 0) : SS_REF_NO_BIN;
                        break;
                case SS_REF_SRC_UNKNOWN:
                        break;
                }
                row[i] = (uint8_t)b;
        }
}
