/*
 * card: builds and writes the model card (format in card.h).
 *
 * The card is assembled as a cJSON tree from plain structs: the evaluation
 * (evalm.h) and the reference counts, which ss_card_evaluate() fills in one
 * pass over the validation split through the generic model interface, so the
 * same code serves every model kind. The file is written to a temporary name
 * and renamed, like the model file.
 */
#include "card.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_impl.h"
#include "ss_util.h"

const double ss_card_prob_edges[SS_CARD_PROB_BINS + 1] = {0,   0.1, 0.2, 0.3, 0.4, 0.5,
                                                          0.6, 0.7, 0.8, 0.9, 1};
const double ss_card_ntok_edges[SS_CARD_NTOK_BINS + 1] = {0,  5,  10, 15, 20, 25, 30,
                                                          35, 40, 50, 60, 80, 120};
const double ss_card_unk_edges[SS_CARD_UNK_BINS + 1] = {0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0001};

int ss_card_hist_bin(const double *edges, int nedges, double v)
{
        int nb = nedges - 1;
        if (!(v >= edges[0])) /* below the first edge, or NaN */
                return 0;
        if (v >= edges[nb])
                return nb - 1;
        int lo = 0, hi = nb - 1; /* find the last i with edges[i] <= v */
        while (lo < hi) {
                int mid = (lo + hi + 1) / 2;
                if (edges[mid] <= v)
                        lo = mid;
                else
                        hi = mid - 1;
        }
        return lo;
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
                r->prob[c][ss_card_hist_bin(ss_card_prob_edges, SS_CARD_PROB_BINS + 1, probs[c])]++;
        r->n_tokens[ss_card_hist_bin(ss_card_ntok_edges, SS_CARD_NTOK_BINS + 1, st->n_tokens)]++;
        r->unk_share[ss_card_hist_bin(ss_card_unk_edges, SS_CARD_UNK_BINS + 1, st->unk_share)]++;
        r->has_url[st->has_url ? 1 : 0]++;
        r->has_mention[st->has_mention ? 1 : 0]++;
        r->has_emoji[st->has_emoji ? 1 : 0]++;
}

ss_err_t ss_card_evaluate(ss_model_t *m, const ss_dataset_t *ds, size_t batch, ss_eval_t *ev,
                          ss_card_ref_t *ref, const char *label, char *errstr, size_t errstr_size)
{
        if (batch == 0)
                batch = 512;
        float *probs = malloc(batch * SS_NUM_CLASSES * sizeof(*probs)); /* [batch][C] */
        ss_input_stats_t *stats = malloc(batch * sizeof(*stats));       /* [batch] */
        if (!probs || !stats) {
                free(probs);
                free(stats);
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
        }
        ss_eval_init(ev);
        if (ref)
                ss_card_ref_init(ref);
        ss_progress_t prog;
        ss_progress_init(&prog, label ? label : "", ds->n);
        if (!label)
                prog.enabled = 0;
        ss_err_t err = SS_OK;
        for (size_t lo = 0; lo < ds->n; lo += batch) {
                size_t nb = ds->n - lo < batch ? ds->n - lo : batch;
                err = ss_model_score_batch(m, ds->texts + lo, ds->lens + lo, nb, probs,
                                           ref ? stats : NULL, errstr, errstr_size);
                if (err)
                        break;
                for (size_t i = 0; i < nb; i++) {
                        const float *p = probs + i * SS_NUM_CLASSES;
                        ss_eval_add(ev, ds->labels[lo + i], ss_probs_argmax(p));
                        if (ref)
                                ss_card_ref_add(ref, p, &stats[i]);
                }
                ss_progress_update(&prog, lo + nb, NULL);
        }
        ss_progress_done(&prog);
        ss_eval_finish(ev);
        free(probs);
        free(stats);
        return err;
}

void ss_card_init(ss_card_t *c)
{
        memset(c, 0, sizeof(*c));
        snprintf(c->git_commit, sizeof(c->git_commit), "unknown");
}

void ss_card_clear(ss_card_t *c)
{
        cJSON_Delete(c->hyperparameters);
        c->hyperparameters = NULL;
}

ss_err_t ss_card_set_model(ss_card_t *c, const ss_model_t *m, const char *model_path, char *errstr,
                           size_t errstr_size)
{
        snprintf(c->kind, sizeof(c->kind), "%s", ss_model_kind(m));
        snprintf(c->name, sizeof(c->name), "%s", ss_model_name(m));
        snprintf(c->version, sizeof(c->version), "%s", ss_model_version(m));
        snprintf(c->file, sizeof(c->file), "%s", model_path);
        return ss_sha256_file_hex(model_path, c->file_sha256, errstr, errstr_size);
}

void ss_card_set_data(ss_card_data_t *d, const ss_dataset_t *ds)
{
        snprintf(d->path, sizeof(d->path), "%s", ds->path);
        memcpy(d->sha256, ds->sha256, sizeof(d->sha256));
        d->n = (int64_t)ds->n;
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
        FILE *p = popen(cmd, "r");
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

static cJSON *ss_json_reference(const ss_card_ref_t *r)
{
        static const char *const labels[SS_NUM_CLASSES] = {"negative", "neutral", "positive"};
        static const char *const noyes[2] = {"no", "yes"};
        static const char *const prob_names[SS_NUM_CLASSES] = {"prob.negative", "prob.neutral",
                                                               "prob.positive"};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "split", "validation");
        cJSON_AddNumberToObject(o, "n", (double)r->n);
        cJSON *arr = cJSON_AddArrayToObject(o, "distributions");
        ss_add_cat(arr, "predicted_class", labels, SS_NUM_CLASSES, r->predicted);
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                ss_add_hist(arr, prob_names[c], ss_card_prob_edges, SS_CARD_PROB_BINS, r->prob[c]);
        ss_add_hist(arr, "input.n_tokens", ss_card_ntok_edges, SS_CARD_NTOK_BINS, r->n_tokens);
        ss_add_hist(arr, "input.unk_share", ss_card_unk_edges, SS_CARD_UNK_BINS, r->unk_share);
        ss_add_cat(arr, "input.has_url", noyes, 2, r->has_url);
        ss_add_cat(arr, "input.has_mention", noyes, 2, r->has_mention);
        ss_add_cat(arr, "input.has_emoji", noyes, 2, r->has_emoji);
        return o;
}

cJSON *ss_card_to_json(const ss_card_t *c)
{
        static const char *const labels[SS_NUM_CLASSES] = {"negative", "neutral", "positive"};
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
        cJSON_AddItemToObject(root, "training_data", ss_json_data(&c->training));
        cJSON_AddItemToObject(root, "validation_data", ss_json_data(&c->validation));
        cJSON *met = cJSON_AddObjectToObject(root, "metrics");
        cJSON_AddItemToObject(met, "tune",
                              c->has_tune ? ss_card_eval_json(&c->tune) : cJSON_CreateObject());
        cJSON_AddItemToObject(met, "validation", ss_card_eval_json(&c->validation_eval));
        cJSON_AddItemToObject(root, "labels", ss_json_str_array(labels, SS_NUM_CLASSES));
        cJSON_AddItemToObject(root, "reference", ss_json_reference(&c->ref));
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
