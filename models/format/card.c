/*
 * card: the model card codec (format in card.h).
 *
 * Writing: the card is assembled as a cJSON tree from plain structs (the
 * evaluation, evalm.h, and the reference counts of ss_card_ref_t) and written
 * to a temporary name and renamed, like the model file.
 *
 * Reading: the card is parsed with cJSON into a flat view the monitor keeps
 * for its lifetime. Every check names the card and the JSON path of the
 * offending value: missing model identity or labels, a distribution without
 * name or kind, counts that are not non-negative integers, edges that are not
 * one more than the counts or not strictly ascending, categories that do not
 * match the counts, a duplicate name. The mapping name -> prediction field
 * lives in one table (ref_sources) plus prob.<label> for each class the card
 * names. Both sides bin with ss_card_hist_bin(), a binary search over the
 * edges that gives NaN no bin.
 */
#include "card.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ss_util.h"

const double ss_card_prob_edges[SS_CARD_PROB_BINS + 1] = {0,   0.1, 0.2, 0.3, 0.4, 0.5,
                                                          0.6, 0.7, 0.8, 0.9, 1};
const double ss_card_ntok_edges[SS_CARD_NTOK_BINS + 1] = {0,  5,  10, 15, 20, 25, 30,
                                                          35, 40, 50, 60, 80, 120};
const double ss_card_unk_edges[SS_CARD_UNK_BINS + 1] = {0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0001};

int ss_card_hist_bin(const double *edges, int nedges, double v)
{
        int nb = nedges - 1;
        if (isnan(v))
                return SS_CARD_NO_BIN;
        if (v < edges[1])
                return 0;
        if (v >= edges[nb - 1])
                return nb - 1;
        /* invariant: edges[lo] <= v < edges[hi] */
        int lo = 1, hi = nb - 1;
        while (hi - lo > 1) {
                int mid = (lo + hi) / 2;
                if (v >= edges[mid])
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

/* Counts v into a histogram of nbins bins; NaN is not counted. */
static void ss_hist_count(int64_t *counts, const double *edges, int nbins, double v)
{
        int b = ss_card_hist_bin(edges, nbins + 1, v);
        if (b != SS_CARD_NO_BIN)
                counts[b]++;
}

void ss_card_ref_init(ss_card_ref_t *r)
{
        memset(r, 0, sizeof(*r));
}

void ss_card_ref_add(ss_card_ref_t *r, const float *probs, const ss_input_stats_t *st)
{
        r->n++;
        r->predicted[ss_probs_argmax(probs)]++;
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                ss_hist_count(r->prob[c], ss_card_prob_edges, SS_CARD_PROB_BINS, probs[c]);
        ss_hist_count(r->n_tokens, ss_card_ntok_edges, SS_CARD_NTOK_BINS, st->n_tokens);
        ss_hist_count(r->unk_share, ss_card_unk_edges, SS_CARD_UNK_BINS, st->unk_share);
        r->has_url[st->has_url ? 1 : 0]++;
        r->has_mention[st->has_mention ? 1 : 0]++;
        r->has_emoji[st->has_emoji ? 1 : 0]++;
}

void ss_card_init(ss_card_t *c)
{
        memset(c, 0, sizeof(*c));
        snprintf(c->git_commit, sizeof(c->git_commit), "unknown");
}

void ss_card_clear(ss_card_t *c)
{
        cJSON_Delete(c->hyperparameters);
        cJSON_Delete(c->validation_split);
        cJSON_Delete(c->lineage);
        c->hyperparameters = NULL;
        c->validation_split = NULL;
        c->lineage = NULL;
}

void ss_card_git_commit(const char *dir, char *buf, size_t size)
{
        snprintf(buf, size, "unknown");
        char cmd[1100];
        if (dir)
                snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD 2>/dev/null", dir);
        else
                snprintf(cmd, sizeof(cmd), "git rev-parse HEAD 2>/dev/null");
        if (dir && strchr(dir, '\''))
                return;
        /* a fixed command; dir is quoted and refused above if it holds a quote */
        FILE *p = popen(cmd, "r"); // NOLINT(cert-env33-c)
        if (!p)
                return;
        char line[128] = "";
        if (fgets(line, sizeof(line), p)) {
                size_t n = strcspn(line, "\r\n");
                line[n] = '\0';
                int hex = n >= 7;
                for (size_t i = 0; i < n; i++)
                        hex = hex && ((line[i] >= '0' && line[i] <= '9') ||
                                      (line[i] >= 'a' && line[i] <= 'f'));
                if (hex)
                        snprintf(buf, size, "%s", line);
        }
        pclose(p);
}

static cJSON *ss_json_int_array(const int64_t *v, int n)
{
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < n; i++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
        return a;
}

static cJSON *ss_json_num_array(const double *v, int n)
{
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < n; i++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
        return a;
}

static cJSON *ss_json_str_array(const char *const *v, int n)
{
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < n; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

cJSON *ss_card_eval_json(const ss_eval_t *e)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", (double)e->n);
        cJSON_AddNumberToObject(o, "avgrec", e->avgrec);
        cJSON_AddNumberToObject(o, "f1_pn", e->f1_pn);
        cJSON_AddNumberToObject(o, "accuracy", e->accuracy);
        cJSON_AddNumberToObject(o, "macro_f1", e->macro_f1);
        cJSON *conf = cJSON_AddArrayToObject(o, "confusion");
        for (int t = 0; t < SS_NUM_CLASSES; t++)
                cJSON_AddItemToArray(conf, ss_json_int_array(e->confusion[t], SS_NUM_CLASSES));
        cJSON *pc = cJSON_AddObjectToObject(o, "per_class");
        for (int c = 0; c < SS_NUM_CLASSES; c++) {
                cJSON *k = cJSON_AddObjectToObject(pc, ss_label_name(c));
                cJSON_AddNumberToObject(k, "precision", e->precision[c]);
                cJSON_AddNumberToObject(k, "recall", e->recall[c]);
                cJSON_AddNumberToObject(k, "f1", e->f1[c]);
                cJSON_AddNumberToObject(k, "support", (double)e->support[c]);
        }
        return o;
}

static cJSON *ss_json_data(const ss_card_data_t *d)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", d->path);
        cJSON_AddStringToObject(o, "sha256", d->sha256);
        cJSON_AddNumberToObject(o, "n", (double)d->n);
        return o;
}

static void ss_add_hist(cJSON *arr, const char *name, const double *edges, int nbins,
                        const int64_t *counts)
{
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name);
        cJSON_AddStringToObject(d, "kind", "histogram");
        cJSON_AddItemToObject(d, "edges", ss_json_num_array(edges, nbins + 1));
        cJSON_AddItemToObject(d, "counts", ss_json_int_array(counts, nbins));
        cJSON_AddItemToArray(arr, d);
}

static void ss_add_cat(cJSON *arr, const char *name, const char *const *cats, int n,
                       const int64_t *counts)
{
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name);
        cJSON_AddStringToObject(d, "kind", "categorical");
        cJSON_AddItemToObject(d, "categories", ss_json_str_array(cats, n));
        cJSON_AddItemToObject(d, "counts", ss_json_int_array(counts, n));
        cJSON_AddItemToArray(arr, d);
}

static cJSON *ss_json_reference(const ss_card_ref_t *r, const ss_eval_t *e)
{
        const char *labels[SS_NUM_CLASSES];
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                labels[c] = ss_label_name(c);
        static const char *const noyes[2] = {"no", "yes"};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "split", "validation");
        cJSON_AddNumberToObject(o, "n", (double)r->n);
        cJSON *arr = cJSON_AddArrayToObject(o, "distributions");
        ss_add_cat(arr, "predicted_class", labels, SS_NUM_CLASSES, r->predicted);
        for (int c = 0; c < SS_NUM_CLASSES; c++) {
                char name[64];
                snprintf(name, sizeof(name), SS_CARD_PROB_PREFIX "%s", labels[c]);
                ss_add_hist(arr, name, ss_card_prob_edges, SS_CARD_PROB_BINS, r->prob[c]);
        }
        ss_add_hist(arr, "input.n_tokens", ss_card_ntok_edges, SS_CARD_NTOK_BINS, r->n_tokens);
        ss_add_hist(arr, "input.unk_share", ss_card_unk_edges, SS_CARD_UNK_BINS, r->unk_share);
        ss_add_cat(arr, "input.has_url", noyes, 2, r->has_url);
        ss_add_cat(arr, "input.has_mention", noyes, 2, r->has_mention);
        ss_add_cat(arr, "input.has_emoji", noyes, 2, r->has_emoji);
        int64_t truth[SS_NUM_CLASSES] = {0};
        cJSON *conf = cJSON_CreateArray();
        for (int t = 0; t < SS_NUM_CLASSES; t++) {
                for (int k = 0; k < SS_NUM_CLASSES; k++)
                        truth[t] += e->confusion[t][k];
                cJSON_AddItemToArray(conf, ss_json_int_array(e->confusion[t], SS_NUM_CLASSES));
        }
        cJSON_AddItemToObject(o, "true_class", ss_json_int_array(truth, SS_NUM_CLASSES));
        cJSON_AddItemToObject(o, "confusion", conf);
        return o;
}

cJSON *ss_card_to_json(const ss_card_t *c)
{
        const char *labels[SS_NUM_CLASSES];
        for (int i = 0; i < SS_NUM_CLASSES; i++)
                labels[i] = ss_label_name(i);
        cJSON *root = cJSON_CreateObject();
        if (!root)
                return NULL;
        cJSON_AddStringToObject(root, "format", SS_CARD_FORMAT);
        cJSON *m = cJSON_AddObjectToObject(root, "model");
        cJSON_AddStringToObject(m, "kind", c->kind);
        cJSON_AddStringToObject(m, "name", c->name);
        cJSON_AddStringToObject(m, "version", c->version);
        cJSON_AddStringToObject(m, "file", c->file);
        cJSON_AddStringToObject(m, "file_sha256", c->file_sha256);
        char ts[40];
        ss_time_iso8601(c->created_at_ms, ts, sizeof(ts));
        cJSON_AddStringToObject(root, "created_at", ts);
        cJSON_AddStringToObject(root, "git_commit", c->git_commit);
        cJSON_AddItemToObject(root, "hyperparameters",
                              c->hyperparameters ? cJSON_Duplicate(c->hyperparameters, 1)
                                                 : cJSON_CreateObject());
        cJSON *train = ss_json_data(&c->training);
        if (c->n_train_files > 0) {
                cJSON *files = cJSON_AddArrayToObject(train, "files");
                for (int i = 0; i < c->n_train_files; i++)
                        cJSON_AddItemToArray(files, ss_json_data(&c->train_files[i]));
        }
        cJSON_AddItemToObject(root, "training_data", train);
        cJSON *val = ss_json_data(&c->validation);
        if (c->validation_split)
                cJSON_AddItemToObject(val, "split", cJSON_Duplicate(c->validation_split, 1));
        cJSON_AddItemToObject(root, "validation_data", val);
        if (c->lineage && c->lineage->child)
                cJSON_AddItemToObject(root, "lineage", cJSON_Duplicate(c->lineage, 1));
        cJSON *met = cJSON_AddObjectToObject(root, "metrics");
        cJSON_AddItemToObject(met, "tune",
                              c->has_tune ? ss_card_eval_json(&c->tune) : cJSON_CreateObject());
        cJSON_AddItemToObject(met, "validation", ss_card_eval_json(&c->validation_eval));
        cJSON_AddItemToObject(root, "labels", ss_json_str_array(labels, SS_NUM_CLASSES));
        if (c->has_calibration) {
                cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
                cJSON_AddStringToObject(cal, "method",
                                        c->has_toplabel ? "temperature+toplabel" : "temperature");
                cJSON_AddNumberToObject(cal, "temperature", c->temperature);
                if (c->has_toplabel) {
                        cJSON *top = cJSON_AddObjectToObject(cal, "toplabel");
                        for (int k = 0; k < SS_NUM_CLASSES; k++) {
                                cJSON *o = cJSON_AddObjectToObject(top, ss_label_name(k));
                                cJSON_AddNumberToObject(o, "a", c->top_a[k]);
                                cJSON_AddNumberToObject(o, "b", c->top_b[k]);
                        }
                        cJSON_AddStringToObject(cal, "toplabel_rule",
                                                c->top_rule ? "floor" : "tie");
                }
                cJSON_AddStringToObject(cal, "fit_on", "tune");
                cJSON_AddNumberToObject(cal, "n", (double)c->calib_n);
                cJSON_AddNumberToObject(cal, "ece_before", c->calib_ece_before);
                if (c->has_toplabel)
                        cJSON_AddNumberToObject(cal, "ece_temperature", c->calib_ece_temperature);
                cJSON_AddNumberToObject(cal, "ece_after", c->calib_ece_after);
        }
        cJSON_AddItemToObject(root, "reference", ss_json_reference(&c->ref, &c->validation_eval));
        return root;
}

ss_err_t ss_card_write(const ss_card_t *c, const char *path, char *errstr, size_t errstr_size)
{
        cJSON *root = ss_card_to_json(c);
        char *text = root ? cJSON_Print(root) : NULL;
        cJSON_Delete(root);
        if (!text)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "%s: out of memory", path);
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f) {
                int e = errno;
                free(text);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", tmp, strerror(e));
        }
        size_t len = strlen(text);
        int ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
        int e = errno;
        ok = fclose(f) == 0 && ok;
        free(text);
        if (!ok || rename(tmp, path) != 0) {
                if (ok)
                        e = errno;
                unlink(tmp);
                return ss_err_set(errstr, errstr_size, SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        return SS_OK;
}

void ss_card_path(const char *model_path, char *buf, size_t size)
{
        size_t n = strlen(model_path);
        if (n > 4 && !strcmp(model_path + n - 4, ".ssm"))
                snprintf(buf, size, "%.*s.card.json", (int)(n - 4), model_path);
        else
                snprintf(buf, size, "%s.card.json", model_path);
}

/* ---- reading ------------------------------------------------------------------------ */

/* The distributions a reader compares, by name; prob.<label> is matched against the labels. */
static const struct {
        const char *name;
        ss_card_src_t src;
        ss_card_dist_kind_t kind;
} ref_sources[] = {
    {"predicted_class", SS_CARD_SRC_PRED_CLASS, SS_CARD_CATEGORICAL},
    {"input.n_tokens", SS_CARD_SRC_N_TOKENS, SS_CARD_HISTOGRAM},
    {"input.unk_share", SS_CARD_SRC_UNK_SHARE, SS_CARD_HISTOGRAM},
    {"input.has_url", SS_CARD_SRC_HAS_URL, SS_CARD_CATEGORICAL},
    {"input.has_mention", SS_CARD_SRC_HAS_MENTION, SS_CARD_CATEGORICAL},
    {"input.has_emoji", SS_CARD_SRC_HAS_EMOJI, SS_CARD_CATEGORICAL},
};

void ss_card_view_destroy(ss_card_view_t *c)
{
        if (!c)
                return;
        for (int i = 0; i < c->ndists; i++) {
                free(c->dists[i].name);
                free(c->dists[i].edges);
                free(c->dists[i].counts);
        }
        free(c->dists);
        for (int i = 0; i < c->nclasses; i++)
                free(c->labels[i]);
        free(c->path);
        free(c->kind);
        free(c->name);
        free(c->version);
        free(c->created_at);
        free(c);
}

int64_t ss_card_parse_time(const char *s)
{
        int y, mo, d, h, mi, n = 0;
        double sec;
        /* fields bounded by their widths, every one range-checked below */
        // NOLINTNEXTLINE(cert-err34-c)
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
                return -1;
        if (s[n] != 'Z' || s[n + 1] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
            mi > 59 || !(sec >= 0 && sec < 61))
                return -1;
        struct tm tm = {
            .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
        time_t t = timegm(&tm);
        return (int64_t)t * 1000 + (int64_t)llround(sec * 1000);
}

/* ---- reading: JSON access with paths in the messages ----------------------------------------- */

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

static int label_index(const ss_card_view_t *c, const char *s)
{
        for (int i = 0; i < c->nclasses; i++)
                if (!strcmp(s, c->labels[i]))
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

static ss_err_t parse_categories(parse_ctx_t *p, const ss_card_view_t *card, const cJSON *jd,
                                 const char *path, ss_card_dist_t *d)
{
        const cJSON *cats = cJSON_GetObjectItemCaseSensitive(jd, "categories");
        memset(d->cat_bin, SS_CARD_NO_BIN, sizeof(d->cat_bin));
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
                if (d->src == SS_CARD_SRC_PRED_CLASS)
                        v = label_index(card, c->valuestring);
                else if (d->src != SS_CARD_SRC_UNKNOWN)
                        v = bool_index(c->valuestring);
                if (d->src != SS_CARD_SRC_UNKNOWN && v < 0)
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: %s.categories[%d]: unknown category \"%s\"",
                                          p->origin, path, i, c->valuestring);
                if (v >= 0) {
                        if (d->cat_bin[v] != SS_CARD_NO_BIN)
                                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                                  "%s: %s.categories[%d]: duplicate \"%s\"",
                                                  p->origin, path, i, c->valuestring);
                        d->cat_bin[v] = (uint8_t)i;
                }
                i++;
        }
        return SS_OK;
}

static ss_err_t parse_edges(parse_ctx_t *p, const cJSON *jd, const char *path, ss_card_dist_t *d)
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

/* The source of a distribution by its name: the table above, or prob.<label>. */
static void dist_source(const ss_card_view_t *c, const char *name, ss_card_src_t *src,
                        ss_card_dist_kind_t *kind, int *cls)
{
        *src = SS_CARD_SRC_UNKNOWN;
        *cls = -1;
        size_t np = strlen(SS_CARD_PROB_PREFIX);
        if (!strncmp(name, SS_CARD_PROB_PREFIX, np) && (*cls = label_index(c, name + np)) >= 0) {
                *src = SS_CARD_SRC_PROB;
                *kind = SS_CARD_HISTOGRAM;
                return;
        }
        for (size_t i = 0; i < sizeof(ref_sources) / sizeof(ref_sources[0]); i++) {
                if (!strcmp(name, ref_sources[i].name)) {
                        *src = ref_sources[i].src;
                        *kind = ref_sources[i].kind;
                }
        }
}

static ss_err_t parse_dist(parse_ctx_t *p, const ss_card_view_t *c, const cJSON *jd, int idx,
                           ss_card_dist_t *d, int *unknown)
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
        if (!(d->name = strdup(name)))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        snprintf(path, sizeof(path), "reference.distributions[%d] (%s)", idx, name);
        if (!strcmp(kind, "categorical"))
                d->kind = SS_CARD_CATEGORICAL;
        else if (!strcmp(kind, "histogram"))
                d->kind = SS_CARD_HISTOGRAM;
        else
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s.kind: \"%s\" is neither categorical nor histogram",
                                  p->origin, path, kind);
        ss_card_dist_kind_t want = d->kind;
        dist_source(c, name, &d->src, &want, &d->cls);
        if (want != d->kind)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s.kind: must be %s", p->origin, path,
                                  want == SS_CARD_HISTOGRAM ? "histogram" : "categorical");
        *unknown = d->src == SS_CARD_SRC_UNKNOWN;
        if (!(d->counts = get_nums(p, jd, "counts", path, 1, &d->nbins)))
                return SS_ERR_FORMAT;
        if (d->nbins < 1 || d->nbins > SS_CARD_MAX_BINS)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s.counts: %d bins, need 1..%d", p->origin, path, d->nbins,
                                  SS_CARD_MAX_BINS);
        d->n = 0;
        for (int i = 0; i < d->nbins; i++)
                d->n += d->counts[i];
        if (d->kind == SS_CARD_CATEGORICAL)
                return parse_categories(p, c, jd, path, d);
        return parse_edges(p, jd, path, d);
}

/* ---- the card ----------------------------------------------------------------------- */

static ss_err_t parse_identity(parse_ctx_t *p, const cJSON *root, ss_card_view_t *c)
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
        c->kind = strdup(kind);
        c->name = strdup(name);
        c->version = strdup(version);
        c->created_at = strdup(created);
        if (!c->kind || !c->name || !c->version || !c->created_at)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        int64_t t = *created ? ss_card_parse_time(created) : 0;
        c->created_at_ms = t < 0 ? 0 : t;
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(root, "metrics");
        val = cJSON_GetObjectItemCaseSensitive(val, "validation");
        c->val_macro_f1 = opt_num(val, "macro_f1");
        c->val_avgrec = opt_num(val, "avgrec");
        return SS_OK;
}

/* The classes, in order: the card's "labels". */
static ss_err_t parse_labels(parse_ctx_t *p, const cJSON *root, ss_card_view_t *c)
{
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
        if (!cJSON_IsArray(labels))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT, "%s: labels: %s",
                                  p->origin, labels ? "not an array" : "missing");
        int n = cJSON_GetArraySize(labels);
        if (n < 2 || n > SS_CARD_MAX_CLASSES)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: labels: %d entries, need 2..%d", p->origin, n,
                                  SS_CARD_MAX_CLASSES);
        const cJSON *l;
        cJSON_ArrayForEach(l, labels)
        {
                int i = c->nclasses;
                if (!cJSON_IsString(l) || !l->valuestring[0])
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: labels[%d]: not a non-empty string", p->origin, i);
                if (label_index(c, l->valuestring) >= 0)
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                          "%s: labels[%d]: duplicate \"%s\"", p->origin, i,
                                          l->valuestring);
                if (!(c->labels[i] = strdup(l->valuestring)))
                        return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
                c->nclasses++;
        }
        return SS_OK;
}

static ss_err_t parse_reference(parse_ctx_t *p, const cJSON *root, ss_card_view_t *c)
{
        const cJSON *ref = get_obj(p, root, "reference", "");
        if (!ref)
                return SS_ERR_FORMAT;
        double n = opt_num(ref, "n");
        /* 2^53: every integer below it is exact, and it converts to int64_t */
        if (!(n >= 0) || n != floor(n) || n > 9007199254740992.0)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.n: missing or not an integer in [0, 2^53]",
                                  p->origin);
        c->ref_n = (int64_t)n;
        const cJSON *dists = cJSON_GetObjectItemCaseSensitive(ref, "distributions");
        if (!cJSON_IsArray(dists))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.distributions: %s", p->origin,
                                  dists ? "not an array" : "missing");
        int nd = cJSON_GetArraySize(dists);
        if (nd < 1 || nd > SS_CARD_MAX_DISTS)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: reference.distributions: %d entries, need 1..%d", p->origin,
                                  nd, SS_CARD_MAX_DISTS);
        if (!(c->dists = calloc((size_t)nd, sizeof(*c->dists))))
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_NOMEM, "out of memory");
        const cJSON *jd;
        cJSON_ArrayForEach(jd, dists)
        {
                int unknown = 0, i = c->ndists++;
                ss_err_t err = parse_dist(p, c, jd, i, &c->dists[i], &unknown);
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

/* reference.confusion, else metrics.validation.confusion: optional, but when present a
 * C x C array of non-negative integer counts. */
static ss_err_t parse_confusion(parse_ctx_t *p, const cJSON *root, ss_card_view_t *c)
{
        const char *path = "reference.confusion";
        const cJSON *conf = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "reference"), "confusion");
        if (!conf) {
                path = "metrics.validation.confusion";
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metrics");
                conf = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(m, "validation"), "confusion");
        }
        const cJSON *cal = cJSON_GetObjectItemCaseSensitive(root, "calibration");
        c->temperature = opt_num(cal, "temperature");
        if (!conf)
                return SS_OK;
        int k = c->nclasses;
        int ok = cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == k;
        for (int t = 0; ok && t < k; t++) {
                const cJSON *row = cJSON_GetArrayItem(conf, t);
                ok = cJSON_IsArray(row) && cJSON_GetArraySize(row) == k;
                for (int j = 0; ok && j < k; j++) {
                        const cJSON *v = cJSON_GetArrayItem(row, j);
                        ok = cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                             v->valuedouble == floor(v->valuedouble);
                        if (ok)
                                c->confusion[t][j] = v->valuedouble;
                }
        }
        if (!ok)
                return ss_err_set(p->errstr, p->errstr_size, SS_ERR_FORMAT,
                                  "%s: %s: not a %d x %d array of non-negative integer counts",
                                  p->origin, path, k, k);
        c->has_confusion = 1;
        return SS_OK;
}

ss_card_view_t *ss_card_view_parse(const char *json, const char *origin, char *errstr,
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
        ss_card_view_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->path = strdup(origin))) {
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
        if (parse_identity(&p, root, c) || parse_labels(&p, root, c) ||
            parse_reference(&p, root, c) || parse_confusion(&p, root, c))
                goto fail;
        cJSON_Delete(root);
        return c;
fail:
        cJSON_Delete(root);
        ss_card_view_destroy(c);
        return NULL;
}

ss_card_view_t *ss_card_view_load(const char *path, char *errstr, size_t errstr_size)
{
        char *text = NULL;
        size_t len;
        if (ss_file_read_all(path, &text, &len, errstr, errstr_size) != SS_OK)
                return NULL;
        ss_card_view_t *c = ss_card_view_parse(text, path, errstr, errstr_size);
        free(text);
        return c;
}

int ss_card_view_find(const ss_card_view_t *c, const char *name)
{
        for (int i = 0; i < c->ndists; i++)
                if (!strcmp(c->dists[i].name, name))
                        return i;
        return -1;
}

int ss_card_dist_bin(const ss_card_dist_t *d, double v)
{
        return ss_card_hist_bin(d->edges, d->nbins + 1, v);
}

static int obs_categorical(const ss_card_dist_t *d, int v)
{
        return v >= 0 && v < SS_CARD_MAX_CLASSES ? d->cat_bin[v] : SS_CARD_NO_BIN;
}

void ss_card_view_bin(const ss_card_view_t *c, const ss_card_obs_t *o, uint8_t *row)
{
        for (int i = 0; i < c->ndists; i++) {
                const ss_card_dist_t *d = &c->dists[i];
                int b = SS_CARD_NO_BIN;
                switch (d->src) {
                case SS_CARD_SRC_PRED_CLASS:
                        b = obs_categorical(d, o->label);
                        break;
                case SS_CARD_SRC_PROB:
                        b = d->cls < o->nprob ? ss_card_dist_bin(d, o->prob[d->cls])
                                              : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_N_TOKENS:
                        b = o->has_stats ? ss_card_dist_bin(d, o->n_tokens) : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_UNK_SHARE:
                        b = o->has_stats ? ss_card_dist_bin(d, o->unk_share) : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_HAS_URL:
                        b = o->has_stats ? obs_categorical(d, o->has_url != 0) : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_HAS_MENTION:
                        b = o->has_stats ? obs_categorical(d, o->has_mention != 0) : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_HAS_EMOJI:
                        b = o->has_stats ? obs_categorical(d, o->has_emoji != 0) : SS_CARD_NO_BIN;
                        break;
                case SS_CARD_SRC_UNKNOWN:
                        break;
                }
                row[i] = (uint8_t)b;
        }
}
