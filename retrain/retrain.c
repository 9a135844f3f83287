/*
 * retrain: the worker's loop (see retrain.h for what it does and why in that order).
 *
 * Design. One event is one job_t, handled by handle_event() in the steps of retrain.h,
 * each a small static function that either fills the job and returns 0, or sets the job's
 * outcome (a final result, or a reason to retry) and returns -1. The loop around it
 * (handle_message) owns the two things that make the worker safe to kill at any point:
 * the offset is committed only after the outcome is recorded in Redis, and an outcome is
 * recorded only when it is final (a retry records nothing). The order inside a job makes
 * every crash resumable: the registered version carries the event id and its verdict, so a
 * worker that finds it finishes the promotion instead of training again; the champion
 * alias moves only when the current champion's fencing token is lower than the job's, so a
 * worker that lost its lock (expired while it trained) cannot overwrite a newer result.
 *
 * Data. The challenger is trained on the champion's own training files (as its card lists
 * them, sha256-checked) plus the fresh labels that are neither in the time-ordered holdout
 * nor in the reference set, each repeated retrain.fresh.weight times (rpolicy.h; the
 * trainers take no sample weights, so a weight is a number of copies, with distinct ids).
 * The reference set is the champion's validation file, or, for a card whose validation
 * was carved from its training files (data.holdout.share), the same rows carved again by
 * the card's rule, so both models are measured on exactly the rows the champion's card was.
 */
#include "retrain.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "card.h"
#include "dataset.h"
#include "evalm.h"
#include "model.h"
#include "mstate.h"
#include "rpolicy.h"
#include "rstate.h"
#include "rupdate.h"
#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_metrics.h"
#include "ss_mlflow.h"
#include "ss_modelreg.h"
#include "ss_serde.h"
#include "ss_stop.h"
#include "ss_track.h"
#include "ss_util.h"
#include "train.h"

#ifndef SS_VERSION
#define SS_VERSION "dev"
#endif

#define TAG_EVENT    "sentistream.event_id"
#define TAG_FENCE    "sentistream.fencing_token"
#define TAG_OUTCOME  "sentistream.retrain.outcome"
#define TAG_DECISION "sentistream.retrain.decision_run"
#define TAG_SHA      "sentistream.model_sha256"
#define TAG_VER      "sentistream.model_version"
#define PUBLISH_MS   30000
#define SCORE_BATCH  256

typedef enum {
        R_PROMOTED,
        R_REJECTED,
        R_SKIPPED,
        R_DUPLICATE,
        R_FAILED,
        R_MALFORMED,
        R__COUNT
} result_t;
static const char *const result_names[R__COUNT] = {"promoted",  "rejected", "skipped",
                                                   "duplicate", "failed",   "malformed"};

typedef enum {
        RETRY_NONE,
        RETRY_REGISTRY,
        RETRY_REDIS,
        RETRY_KAFKA,
        RETRY_LOCK,
        RETRY_FEW_LABELS,
        RETRY__COUNT
} retry_t;
static const char *const retry_names[RETRY__COUNT] = {"",      "registry", "redis",
                                                      "kafka", "lock",     "few_labels"};

struct ss_retrain {
        const ss_config_t *c;
        char *config_dir;
        int noverrides;
        char **overrides; /* [noverrides] copies */
        ss_rpolicy_t pol;
        ss_serde_t *serde;
        ss_mstate_t *redis;
        ss_mlflow_t *mlflow;
        rd_kafka_t *consumer;
        ss_metrics_t *metrics;
        ss_counter_t *c_events[R__COUNT];
        ss_counter_t *c_retries[RETRY__COUNT];
        ss_counter_t *c_no_text;
        ss_gauge_t *g_fresh, *g_duration;
        char token[256]; /* this worker's lock value */
        char work_dir[1024];
        int64_t lock_ttl_ms, wait_ms, backoff_max_ms;
        const char *topic, *registry_name, *experiment;
};

/* One fresh label read from the stream. */
typedef struct fresh {
        char *id, *text; /* owned; text cleaned for TSV (no tab, CR or LF) */
        int label;
        int64_t at_ms;
        uint64_t seq; /* larger = later in the stream */
} fresh_t;

typedef struct fresh_set {
        fresh_t *v; /* [n] of cap */
        size_t n, cap;
        size_t no_text, bad, dup;
} fresh_set_t;

/* One event being handled. */
typedef struct job {
        ss_retrain_event_t ev;
        char event_id[512];
        char model[256]; /* registry name */
        int64_t fence;
        int locked;
        int64_t locked_at_ms;
        /* the outcome */
        result_t result;
        retry_t retry;
        char why[2048];
        char version[32];
        int has_fig;
        ss_rpolicy_figures_t fig;
        size_t n_fresh, n_holdout, n_train_fresh, n_in_reference, n_in_base;
        char dir[1100]; /* this event's work directory */
        char train_run[64], decision_run[64];
        /* the champion */
        char champ_version[32];
        char champ_path[1200], champ_card[1300];
} job_t;

/* ---- outcomes ---------------------------------------------------------------------- */

static int job_final(job_t *j, result_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int job_final(job_t *j, result_t r, const char *fmt, ...)
{
        j->result = r;
        j->retry = RETRY_NONE;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->why, sizeof(j->why), fmt, ap);
        va_end(ap);
        return -1;
}

static int job_retry(job_t *j, retry_t why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int job_retry(job_t *j, retry_t why, const char *fmt, ...)
{
        j->retry = why;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->why, sizeof(j->why), fmt, ap);
        va_end(ap);
        return -1;
}

/* A registry call failed: an unreachable server or a 5xx is retried, anything else is the
 * event's failure. */
static int job_registry_err(ss_retrain_t *w, job_t *j, const char *what, const char *err)
{
        long st = ss_mlflow_last_status(w->mlflow);
        if (st == 0 || st >= 500 || st == 429)
                return job_retry(j, RETRY_REGISTRY, "registry: %s: %s", what, err);
        return job_final(j, R_FAILED, "registry: %s: %s", what, err);
}

static const char *json_str(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- locking ----------------------------------------------------------------------- */

static void job_lock_renew(ss_retrain_t *w, job_t *j)
{
        char err[512];
        int held = 0;
        if (!j->locked ||
            !ss_rpolicy_lock_renew_due(j->locked_at_ms, ss_time_now_ms(), w->lock_ttl_ms))
                return;
        if (ss_rstate_lock_renew(w->redis, j->model, w->token, w->lock_ttl_ms, &held, err,
                                 sizeof(err))) {
                ss_warn("retrain",
                        "%s: lock renewal failed: %s (the fencing token still guards "
                        "the champion)",
                        j->event_id, err);
                return;
        }
        if (!held)
                ss_warn("retrain",
                        "%s: the lock of %s expired while this worker held it; "
                        "going on, the fencing token %" PRId64 " decides",
                        j->event_id, j->model, j->fence);
        else
                j->locked_at_ms = ss_time_now_ms();
}

/* ---- fresh labels ------------------------------------------------------------------ */

static void fresh_free(fresh_set_t *fs)
{
        for (size_t i = 0; i < fs->n; i++) {
                free(fs->v[i].id);
                free(fs->v[i].text);
        }
        free(fs->v);
        memset(fs, 0, sizeof(*fs));
}

static void on_fresh(void *opaque, const ss_label_entry_t *e)
{
        fresh_set_t *fs = opaque;
        if (!e->text) {
                fs->no_text++;
                return;
        }
        int label = e->label ? ss_label_parse(e->label, strlen(e->label)) : -1;
        if (!e->tweet_id || !e->tweet_id_len || label < 0 || !e->text_len ||
            memchr(e->tweet_id, '\t', e->tweet_id_len) ||
            memchr(e->tweet_id, '\n', e->tweet_id_len) ||
            !ss_serde_utf8_valid(e->text, e->text_len)) {
                fs->bad++;
                return;
        }
        if (ss_array_grow((void **)&fs->v, &fs->cap, fs->n + 1, sizeof(*fs->v), 256))
                return;
        fresh_t *f = &fs->v[fs->n];
        f->id = strdup(e->tweet_id);
        f->text = malloc(e->text_len + 1);
        if (!f->id || !f->text) {
                free(f->id);
                free(f->text);
                return;
        }
        for (size_t i = 0; i < e->text_len; i++) {
                char ch = e->text[i];
                f->text[i] = (ch == '\t' || ch == '\n' || ch == '\r') ? ' ' : ch;
        }
        f->text[e->text_len] = '\0';
        f->label = label;
        /* labeled_at, else the stream id's milliseconds */
        f->at_ms = strtoll(e->labeled_at ? e->labeled_at : e->id, NULL, 10);
        f->seq = UINT64_MAX - fs->n; /* the stream is read newest first */
        fs->n++;
}

static int fresh_cmp_id(const void *a, const void *b)
{
        const fresh_t *x = a, *y = b;
        int c = strcmp(x->id, y->id);
        if (c)
                return c;
        return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0; /* newest first */
}

/* Keeps the newest label of each tweet id (a tweet relabelled: its latest label counts). */
static void fresh_dedupe(fresh_set_t *fs)
{
        if (fs->n < 2)
                return;
        qsort(fs->v, fs->n, sizeof(*fs->v), fresh_cmp_id);
        size_t k = 1;
        for (size_t i = 1; i < fs->n; i++) {
                if (!strcmp(fs->v[i].id, fs->v[k - 1].id)) {
                        free(fs->v[i].id);
                        free(fs->v[i].text);
                        fs->dup++;
                        continue;
                }
                fs->v[k++] = fs->v[i];
        }
        fs->n = k;
}

/* ---- the champion's data ----------------------------------------------------------- */

/* What the champion's card says about its data. */
typedef struct champ_data {
        char kind[32], name[128];
        int nfiles;
        char files[SS_CARD_MAX_FILES][1024];
        char sha[SS_CARD_MAX_FILES][65];
        char validation[1024]; /* "" when carved from the training files */
        int carved;            /* validation_data.split: share, seed */
        double carve_share;
        uint64_t carve_seed;
} champ_data_t;

static int card_data_read(ss_retrain_t *w, job_t *j, champ_data_t *d)
{
        char err[1024], *text = NULL;
        size_t len = 0;
        memset(d, 0, sizeof(*d));
        if (ss_file_read_all(j->champ_card, &text, &len, err, sizeof(err)))
                return job_final(j, R_FAILED, "champion version %s has no readable card: %s",
                                 j->champ_version, err);
        cJSON *card = cJSON_Parse(text);
        free(text);
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(card, "model");
        const cJSON *td = cJSON_GetObjectItemCaseSensitive(card, "training_data");
        const cJSON *vd = cJSON_GetObjectItemCaseSensitive(card, "validation_data");
        snprintf(d->kind, sizeof(d->kind), "%s", json_str(model, "kind"));
        snprintf(d->name, sizeof(d->name), "%s", json_str(model, "name"));
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(td, "files"))
        {
                if (d->nfiles >= SS_CARD_MAX_FILES)
                        break;
                ss_train_resolve_path(json_str(f, "path"), w->config_dir, d->files[d->nfiles],
                                      sizeof(d->files[0]));
                snprintf(d->sha[d->nfiles], sizeof(d->sha[0]), "%s", json_str(f, "sha256"));
                d->nfiles++;
        }
        if (d->nfiles == 0 && *json_str(td, "path")) { /* older cards: the one path */
                ss_train_resolve_path(json_str(td, "path"), w->config_dir, d->files[0],
                                      sizeof(d->files[0]));
                snprintf(d->sha[0], sizeof(d->sha[0]), "%s", json_str(td, "sha256"));
                d->nfiles = strchr(d->files[0], ',') ? 0 : 1;
        }
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(vd, "split");
        const cJSON *share = cJSON_GetObjectItemCaseSensitive(split, "share");
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(split, "seed");
        if (cJSON_IsNumber(share) && cJSON_IsNumber(seed)) {
                d->carved = 1;
                d->carve_share = share->valuedouble;
                d->carve_seed = (uint64_t)seed->valuedouble;
        } else if (*json_str(vd, "path")) {
                ss_train_resolve_path(json_str(vd, "path"), w->config_dir, d->validation,
                                      sizeof(d->validation));
        }
        cJSON_Delete(card);
        if (!*d->kind || d->nfiles == 0 || (!d->carved && !*d->validation))
                return job_final(j, R_FAILED,
                                 "champion card %s lacks %s: its lineage cannot be retrained",
                                 j->champ_card,
                                 !*d->kind        ? "model.kind"
                                 : d->nfiles == 0 ? "training_data.files"
                                                  : "validation_data.path");
        for (int i = 0; i < d->nfiles; i++) {
                char sha[65];
                if (ss_sha256_file_hex(d->files[i], sha, err, sizeof(err)))
                        return job_final(j, R_FAILED,
                                         "champion's training file %s (from its card): %s",
                                         d->files[i], err);
                if (*d->sha[i] && strcmp(sha, d->sha[i]))
                        return job_final(j, R_FAILED,
                                         "champion's training file %s changed since it was "
                                         "trained (sha256 %.12s..., card says %.12s...)",
                                         d->files[i], sha, d->sha[i]);
        }
        return 0;
}

/* ---- files of the job -------------------------------------------------------------- */

static int tsv_row(FILE *f, const char *id, const char *suffix, int label, const char *text)
{
        return fprintf(f, "%s%s\t%s\t%s\n", id, suffix, ss_label_name(label), text) < 0;
}

static int ids_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Writes <dir>/train.tsv (base rows + weighted fresh rows), <dir>/holdout.tsv and, for a
 * carved reference, <dir>/reference.tsv; loads the holdout and the reference data sets.
 */
static int job_files(ss_retrain_t *w, job_t *j, const champ_data_t *d, fresh_set_t *fs,
                     const size_t *order, size_t n_hold, char *train_path, char *ref_path,
                     ss_dataset_t **hold_ds, ss_dataset_t **ref_ds)
{
        char err[1024] = "", path[1200];
        snprintf(train_path, 1200, "%s/train.tsv", j->dir);
        snprintf(path, sizeof(path), "%s/holdout.tsv", j->dir);
        FILE *tf = fopen(train_path, "w");
        FILE *hf = fopen(path, "w");
        FILE *rf = NULL;
        int bad = !tf || !hf;
        if (d->carved) {
                snprintf(ref_path, 1200, "%s/reference.tsv", j->dir);
                rf = fopen(ref_path, "w");
                bad |= !rf;
        } else {
                snprintf(ref_path, 1200, "%s", d->validation);
        }
        /* the champion's rows (split again by its rule when its reference was carved); their
         * ids, so that a fresh label the champion was already trained on (an earlier
         * retrain's) is not added again */
        char **base_ids = NULL;
        size_t n_base = 0, cap_base = 0;
        for (int i = 0; !bad && i < d->nfiles; i++) {
                ss_dataset_t *ds = ss_dataset_load(d->files[i], err, sizeof(err));
                if (!ds || ss_array_grow((void **)&base_ids, &cap_base, n_base + ds->n,
                                         sizeof(*base_ids), 1024)) {
                        ss_dataset_destroy(ds);
                        bad = 1;
                        break;
                }
                for (size_t r = 0; r < ds->n && !bad; r++) {
                        FILE *to = d->carved && ss_dataset_is_tune(ds->ids[r], strlen(ds->ids[r]),
                                                                   d->carve_share, d->carve_seed)
                                       ? rf
                                       : tf;
                        bad |= tsv_row(to, ds->ids[r], "", ds->labels[r], ds->texts[r]);
                        if (!(base_ids[n_base++] = strdup(ds->ids[r])))
                                bad = 1;
                }
                ss_dataset_destroy(ds);
        }
        if (!bad)
                qsort(base_ids, n_base, sizeof(*base_ids), ids_cmp);
        if (rf)
                bad |= fclose(rf) != 0;
        if (!bad)
                *ref_ds = ss_dataset_load(ref_path, err, sizeof(err));
        bad |= !bad && !*ref_ds;
        /* fresh rows: the holdout, then the rest (weighted) unless in the reference */
        const char **ref_ids = NULL;
        if (!bad && (ref_ids = malloc(((*ref_ds)->n + 1) * sizeof(*ref_ids)))) {
                memcpy(ref_ids, (*ref_ds)->ids, (*ref_ds)->n * sizeof(*ref_ids));
                qsort(ref_ids, (*ref_ds)->n, sizeof(*ref_ids), ids_cmp);
        }
        bad |= !ref_ids;
        int copies = ss_rpolicy_replicas(w->pol.fresh_weight);
        for (size_t k = 0; !bad && k < fs->n; k++) {
                const fresh_t *f = &fs->v[order[k]];
                if (k < n_hold) {
                        bad |= tsv_row(hf, f->id, "", f->label, f->text);
                        continue;
                }
                const char *key = f->id;
                if (bsearch(&key, ref_ids, (*ref_ds)->n, sizeof(*ref_ids), ids_cmp)) {
                        j->n_in_reference++;
                        continue;
                }
                if (bsearch(&key, base_ids, n_base, sizeof(*base_ids), ids_cmp)) {
                        j->n_in_base++;
                        continue;
                }
                j->n_train_fresh++;
                for (int c = 0; c < copies && !bad; c++) {
                        char suffix[32] = "";
                        if (c)
                                snprintf(suffix, sizeof(suffix), "~w%d", c);
                        bad |= tsv_row(tf, f->id, suffix, f->label, f->text);
                }
        }
        free(ref_ids);
        for (size_t i = 0; i < n_base; i++)
                free(base_ids[i]);
        free(base_ids);
        if (tf)
                bad |= fclose(tf) != 0;
        if (hf)
                bad |= fclose(hf) != 0;
        if (!bad)
                *hold_ds = ss_dataset_load(path, err, sizeof(err));
        if (bad || !*hold_ds)
                return job_final(j, R_FAILED, "writing the training files under %s: %s", j->dir,
                                 *err ? err : strerror(errno));
        return 0;
}

/* ---- training ---------------------------------------------------------------------- */

typedef struct train_hook {
        ss_track_t *track;
        int ended, ok;
        char run_id[64];
        char sha[65], inner_version[128];
} train_hook_t;

static int train_on_done(int ok, const ss_card_t *card, const char *model_path,
                         const char *card_path, void *opaque)
{
        train_hook_t *h = opaque;
        char err[1024];
        h->ended = 1;
        h->ok = ok;
        snprintf(h->run_id, sizeof(h->run_id), "%s", ss_track_run_id(h->track));
        if (ok) {
                snprintf(h->sha, sizeof(h->sha), "%s", card->file_sha256);
                snprintf(h->inner_version, sizeof(h->inner_version), "%s", card->version);
        }
        if (ss_track_end(h->track, ok, ok ? card : NULL, ok ? model_path : NULL,
                         ok ? card_path : NULL, err, sizeof(err))) {
                ss_error("retrain", "tracking the challenger's training: %s", err);
                h->ok = 0;
                return 1;
        }
        return 0;
}

/* Keeps the training set (base rows + weighted fresh rows) in the training run as
 * data/<file name> with its sha256 on the run, so that `sentistream lineage --reproduce
 * --run` rebuilds the challenger byte for byte after the work directory is gone. */
static int job_train_data(ss_retrain_t *w, job_t *j, const char *train_path)
{
        char err[1024], art[300], sha[65], b[1200];
        cJSON *run = NULL;
        ss_mlflow_run_t ri;
        snprintf(b, sizeof(b), "%s", train_path);
        snprintf(art, sizeof(art), "data/%.200s", basename(b));
        ss_err_t e = ss_mlflow_run_get(w->mlflow, j->train_run, &run, &ri, err, sizeof(err));
        cJSON_Delete(run);
        if (!e)
                e = ss_mlflow_artifact_upload(w->mlflow, ri.artifact_uri, art, train_path, sha, err,
                                              sizeof(err));
        if (e)
                return job_retry(j, RETRY_REGISTRY, "keeping the training set in run %s: %s",
                                 j->train_run, err);
        ss_info("retrain", "%s: training set kept as artifact %s of run %s (sha256 %.16s)",
                j->event_id, art, j->train_run, sha);
        return 0;
}

static int job_train(ss_retrain_t *w, job_t *j, const champ_data_t *d, const char *train_path,
                     const char *ref_path, char *model_path, train_hook_t *h)
{
        char err[1024];
        snprintf(model_path, 1200, "%s/challenger.ssm", j->dir);
        char extra[8][1400];
        snprintf(extra[0], sizeof(extra[0]), "data.train=%s", train_path);
        snprintf(extra[1], sizeof(extra[1]), "data.validation=%s", ref_path);
        snprintf(extra[2], sizeof(extra[2]), "model.out=%s", model_path);
        snprintf(extra[3], sizeof(extra[3]), "model.kind=%s", d->kind);
        snprintf(extra[4], sizeof(extra[4]), "model.name=%s", *d->name ? d->name : "sentiment");
        snprintf(extra[5], sizeof(extra[5]), "data.holdout.share=0");
        snprintf(extra[6], sizeof(extra[6]), "tracking.required=true");
        snprintf(extra[7], sizeof(extra[7]), "data.allow_overlap=true");
        int n = w->noverrides + 8;
        char **ov = calloc((size_t)n, sizeof(*ov));
        if (!ov)
                return job_retry(j, RETRY_REGISTRY, "out of memory");
        for (int i = 0; i < w->noverrides; i++)
                ov[i] = w->overrides[i];
        for (int i = 0; i < 8; i++)
                ov[w->noverrides + i] = extra[i];
        ss_config_t *tc = ss_config_load(w->config_dir, n, ov, err, sizeof(err));
        free(ov);
        if (!tc)
                return job_final(j, R_FAILED, "training configuration: %s", err);
        char repo[1100];
        snprintf(repo, sizeof(repo), "%s", w->config_dir ? w->config_dir : ".");
        int rc = 1;
        memset(h, 0, sizeof(*h));
        if (ss_track_begin(tc, dirname(repo), SS_VERSION, &h->track, err, sizeof(err))) {
                ss_config_destroy(tc);
                return job_retry(j, RETRY_REGISTRY, "opening the training run: %s", err);
        }
        ss_info("retrain",
                "%s: training a %s challenger on %s (%zu fresh labels x%d, %zu held "
                "out, %zu left out as in the reference, %zu as already trained on; "
                "reference %s)",
                j->event_id, d->kind, train_path, j->n_train_fresh,
                ss_rpolicy_replicas(w->pol.fresh_weight), j->n_holdout, j->n_in_reference,
                j->n_in_base, ref_path);
        double t0 = ss_time_mono();
        rc = ss_train_run_hook(tc, w->config_dir, train_on_done, h);
        if (!h->ended)
                ss_track_end(h->track, 0, NULL, NULL, NULL, err, sizeof(err));
        ss_config_destroy(tc);
        if (rc == 0 && h->ok) {
                ss_info("retrain", "%s: challenger trained in %.1f s (run %s)", j->event_id,
                        ss_time_mono() - t0, h->run_id);
                snprintf(j->train_run, sizeof(j->train_run), "%s", h->run_id);
                return job_train_data(w, j, train_path);
        }
        if (ss_mlflow_health(w->mlflow, err, sizeof(err)))
                return job_retry(j, RETRY_REGISTRY, "training run not tracked, registry down: %s",
                                 err);
        return job_final(j, R_FAILED,
                         "training the challenger failed (exit status %d; see the "
                         "training output above)",
                         rc);
}

/* AvgRec of the model file at path on ds. */
static ss_err_t model_avgrec(const char *path, const ss_dataset_t *ds, double *avgrec, char *err,
                             size_t err_size)
{
        ss_model_t *m = ss_model_load(path, err, err_size);
        if (!m)
                return SS_ERR_IO;
        float *probs = malloc(ds->n * SS_NUM_CLASSES * sizeof(*probs));
        ss_err_t e = probs ? ss_model_score_raw(m, ds->texts, ds->lens, ds->n, SCORE_BATCH, probs,
                                                err, err_size)
                           : SS_ERR_NOMEM;
        if (!e) {
                ss_eval_t ev;
                ss_eval_init(&ev);
                for (size_t i = 0; i < ds->n; i++)
                        ss_eval_add(&ev, ds->labels[i],
                                    ss_probs_argmax(probs + i * SS_NUM_CLASSES));
                ss_eval_finish(&ev);
                *avgrec = ev.avgrec;
        }
        free(probs);
        ss_model_destroy(m);
        return e;
}

static int job_evaluate(job_t *j, const char *challenger, const ss_dataset_t *hold,
                        const ss_dataset_t *ref)
{
        char err[1024];
        ss_rpolicy_figures_t *f = &j->fig;
        if (model_avgrec(j->champ_path, hold, &f->champion_fresh, err, sizeof(err)) ||
            model_avgrec(challenger, hold, &f->challenger_fresh, err, sizeof(err)) ||
            model_avgrec(j->champ_path, ref, &f->champion_reference, err, sizeof(err)) ||
            model_avgrec(challenger, ref, &f->challenger_reference, err, sizeof(err)))
                return job_final(j, R_FAILED, "scoring champion and challenger: %s", err);
        j->has_fig = 1;
        return 0;
}

/* ---- the registry ------------------------------------------------------------------ */

/* The decision as an MLflow run of tracking.experiment. */
static int job_decision_run(ss_retrain_t *w, job_t *j, const char *verdict, const char *why)
{
        char err[1024], exp_id[64], fence[32], name[700];
        if (ss_mlflow_experiment_get_or_create(w->mlflow, w->experiment, exp_id, err, sizeof(err)))
                return job_registry_err(w, j, "experiment", err);
        snprintf(fence, sizeof(fence), "%" PRId64, j->fence);
        cJSON *tags = cJSON_CreateObject();
        cJSON_AddStringToObject(tags, TAG_EVENT, j->event_id);
        cJSON_AddStringToObject(tags, TAG_FENCE, fence);
        cJSON_AddStringToObject(tags, TAG_OUTCOME, verdict);
        cJSON_AddStringToObject(tags, "sentistream.retrain.reason", why);
        cJSON_AddStringToObject(tags, "sentistream.retrain.training_run", j->train_run);
        cJSON_AddStringToObject(tags, "sentistream.retrain.champion_version", j->champ_version);
        cJSON_AddStringToObject(tags, "mlflow.source.name", "sentistream retrain");
        snprintf(name, sizeof(name), "retrain-decision-%.200s-%s", j->model, fence);
        ss_mlflow_run_t run;
        ss_err_t e = ss_mlflow_run_create(w->mlflow, exp_id, name, tags, &run, err, sizeof(err));
        cJSON_Delete(tags);
        if (e)
                return job_registry_err(w, j, "decision run", err);
        snprintf(j->decision_run, sizeof(j->decision_run), "%s", run.run_id);
        ss_mlflow_batch_t *b = ss_mlflow_batch_new();
        const ss_rpolicy_figures_t *f = &j->fig;
        ss_mlflow_batch_metric(b, "champion_fresh_avgrec", f->champion_fresh, 0, 0);
        ss_mlflow_batch_metric(b, "challenger_fresh_avgrec", f->challenger_fresh, 0, 0);
        ss_mlflow_batch_metric(b, "champion_reference_avgrec", f->champion_reference, 0, 0);
        ss_mlflow_batch_metric(b, "challenger_reference_avgrec", f->challenger_reference, 0, 0);
        ss_mlflow_batch_metric(b, "fresh_labels", (double)j->n_fresh, 0, 0);
        ss_mlflow_batch_metric(b, "fresh_holdout", (double)j->n_holdout, 0, 0);
        ss_mlflow_batch_metric(b, "fresh_trained", (double)j->n_train_fresh, 0, 0);
        char v[64];
        snprintf(v, sizeof(v), "%g", w->pol.promote_margin);
        ss_mlflow_batch_param(b, "retrain.promote.margin", v);
        snprintf(v, sizeof(v), "%g", w->pol.reference_max_drop);
        ss_mlflow_batch_param(b, "retrain.reference.max_drop", v);
        snprintf(v, sizeof(v), "%g", w->pol.holdout_share);
        ss_mlflow_batch_param(b, "retrain.holdout.share", v);
        snprintf(v, sizeof(v), "%g", w->pol.fresh_weight);
        ss_mlflow_batch_param(b, "retrain.fresh.weight", v);
        e = b ? ss_mlflow_batch_log(w->mlflow, run.run_id, b, err, sizeof(err)) : SS_ERR_NOMEM;
        ss_mlflow_batch_destroy(b);
        if (!e)
                e = ss_mlflow_run_end(w->mlflow, run.run_id, "FINISHED", err, sizeof(err));
        if (e)
                return job_registry_err(w, j, "decision run", err);
        return 0;
}

/* Registers the challenger from its training run, tagged with the event and the verdict;
 * alias challenger. */
static int job_register(ss_retrain_t *w, job_t *j, const char *verdict, const train_hook_t *h)
{
        char err[1024], fence[32], num[32];
        cJSON *run = NULL;
        ss_mlflow_run_t ri;
        if (ss_mlflow_run_get(w->mlflow, j->train_run, &run, &ri, err, sizeof(err)))
                return job_registry_err(w, j, "training run", err);
        const cJSON *rtags =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "data"), "tags");
        const char *art = ss_mlflow_tag_find(rtags, "sentistream.model_artifact");
        const char *cart = ss_mlflow_tag_find(rtags, "sentistream.card_artifact");
        size_t pre = strlen(SS_TRACK_MODEL_DIR) + 1;
        cJSON *tags = cJSON_CreateObject();
        cJSON_AddStringToObject(tags, TAG_SHA, h->sha);
        cJSON_AddStringToObject(tags, "sentistream.model_artifact",
                                art && strlen(art) > pre ? art + pre : "challenger.ssm");
        if (cart && strlen(cart) > pre)
                cJSON_AddStringToObject(tags, "sentistream.card_artifact", cart + pre);
        cJSON_AddStringToObject(tags, TAG_VER, h->inner_version);
        cJSON_AddStringToObject(tags, TAG_EVENT, j->event_id);
        snprintf(fence, sizeof(fence), "%" PRId64, j->fence);
        cJSON_AddStringToObject(tags, TAG_FENCE, fence);
        cJSON_AddStringToObject(tags, TAG_OUTCOME, verdict);
        cJSON_AddStringToObject(tags, TAG_DECISION, j->decision_run);
        snprintf(num, sizeof(num), "%.6f", j->fig.challenger_reference);
        cJSON_AddStringToObject(tags, "validation_avgrec", num);
        snprintf(num, sizeof(num), "%.6f", j->fig.challenger_fresh);
        cJSON_AddStringToObject(tags, "sentistream.retrain.fresh_avgrec", num);
        cJSON_Delete(run);
        char source[700];
        snprintf(source, sizeof(source), "%s/" SS_TRACK_MODEL_DIR, ri.artifact_uri);
        ss_err_t e = ss_mlflow_model_create(w->mlflow, j->model, err, sizeof(err));
        if (!e)
                e = ss_mlflow_version_create(w->mlflow, j->model, source, j->train_run, tags, 60000,
                                             j->version, err, sizeof(err));
        cJSON_Delete(tags);
        if (!e)
                e = ss_mlflow_alias_set(w->mlflow, j->model, "challenger", j->version, err,
                                        sizeof(err));
        if (e)
                return job_registry_err(w, j, "registering the challenger", err);
        ss_info("retrain", "%s: registered %s version %s (alias challenger, outcome %s)",
                j->event_id, j->model, j->version, verdict);
        return 0;
}

/*
 * Moves champion to j->version unless a newer result holds it (fencing), then publishes
 * the ModelUpdate. The verdict was "promoted"; the result may still become "rejected"
 * (superseded).
 */
static int job_promote(ss_retrain_t *w, job_t *j, const cJSON *mine)
{
        char err[1024];
        cJSON *cur = NULL;
        ss_err_t e = ss_mlflow_alias_get(w->mlflow, j->model, "champion", &cur, err, sizeof(err));
        long st = ss_mlflow_last_status(w->mlflow);
        if (e && st != 404)
                return job_registry_err(w, j, "champion alias", err);
        const char *cur_version = e ? "" : json_str(cur, "version");
        if (strcmp(cur_version, j->version)) {
                const char *ft = e ? NULL
                                   : ss_mlflow_tag_find(
                                         cJSON_GetObjectItemCaseSensitive(cur, "tags"), TAG_FENCE);
                int64_t champ_token = ft ? strtoll(ft, NULL, 10) : -1;
                const char *mt =
                    ss_mlflow_tag_find(cJSON_GetObjectItemCaseSensitive(mine, "tags"), TAG_FENCE);
                int64_t my_token = mt ? strtoll(mt, NULL, 10) : j->fence;
                if (!ss_rpolicy_fence_allows(champ_token, my_token)) {
                        cJSON_Delete(cur);
                        return job_final(j, R_REJECTED,
                                         "superseded: champion version %s carries fencing token "
                                         "%" PRId64 ", newer than this result's %" PRId64
                                         "; champion left unchanged",
                                         cur_version, champ_token, my_token);
                }
                if (ss_mlflow_alias_set(w->mlflow, j->model, "champion", j->version, err,
                                        sizeof(err))) {
                        cJSON_Delete(cur);
                        return job_registry_err(w, j, "moving champion", err);
                }
                ss_info("retrain", "%s: %s@champion -> version %s (was %s)", j->event_id, j->model,
                        j->version, *cur_version ? cur_version : "unset");
        }
        cJSON_Delete(cur);
        ss_model_update_metric_t m[4] = {
            {ss_str_c("fresh_avgrec"), j->fig.challenger_fresh},
            {ss_str_c("reference_avgrec"), j->fig.challenger_reference},
            {ss_str_c("champion_fresh_avgrec"), j->fig.champion_fresh},
            {ss_str_c("champion_reference_avgrec"), j->fig.champion_reference},
        };
        if (ss_rupdate_publish(w->c, w->serde, mine, "champion", "retrain", j->event_id, m,
                               j->has_fig ? 4 : 0, PUBLISH_MS, err, sizeof(err)))
                return job_retry(j, RETRY_KAFKA, "publishing the model update: %s", err);
        char why[sizeof(j->why)];
        snprintf(why, sizeof(why), "%s", j->why);
        return job_final(j, R_PROMOTED, "%s", why);
}

/* A version of the model already tagged with this event (a worker stopped after
 * registering it): 1 and *mv when there is one. */
static int job_find_version(ss_retrain_t *w, job_t *j, cJSON **mv)
{
        char err[1024];
        cJSON *vs = NULL;
        *mv = NULL;
        if (ss_mlflow_version_search(w->mlflow, j->model, &vs, err, sizeof(err))) {
                job_registry_err(w, j, "searching versions", err);
                return -1;
        }
        const cJSON *v;
        cJSON_ArrayForEach(v, vs)
        {
                const char *ev =
                    ss_mlflow_tag_find(cJSON_GetObjectItemCaseSensitive(v, "tags"), TAG_EVENT);
                if (ev && !strcmp(ev, j->event_id)) {
                        snprintf(j->version, sizeof(j->version), "%s", json_str(v, "version"));
                        break;
                }
        }
        cJSON_Delete(vs);
        if (!*j->version)
                return 0;
        if (ss_mlflow_version_get(w->mlflow, j->model, j->version, mv, err, sizeof(err))) {
                job_registry_err(w, j, "version record", err);
                return -1;
        }
        return 1;
}

/* Finishes the job of a version registered earlier for this event. */
static void job_resume(ss_retrain_t *w, job_t *j, const cJSON *mv)
{
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(mv, "tags");
        const char *outcome = ss_mlflow_tag_find(tags, TAG_OUTCOME);
        const char *fresh = ss_mlflow_tag_find(tags, "sentistream.retrain.fresh_avgrec");
        ss_info("retrain",
                "%s: version %s of %s already carries this event (outcome %s): "
                "resuming instead of training again",
                j->event_id, j->version, j->model, outcome ? outcome : "?");
        char err[512];
        ss_mlflow_alias_set(w->mlflow, j->model, "challenger", j->version, err, sizeof(err));
        if (outcome && !strcmp(outcome, "promoted")) {
                j->fig.challenger_fresh = fresh ? strtod(fresh, NULL) : 0;
                snprintf(j->why, sizeof(j->why), "resumed: version %s was promoted", j->version);
                job_promote(w, j, mv);
        } else {
                job_final(j, R_REJECTED, "resumed: version %s was registered as %s", j->version,
                          outcome ? outcome : "unknown");
        }
}

/* ---- one event --------------------------------------------------------------------- */

static int job_champion(ss_retrain_t *w, job_t *j)
{
        char err[1024];
        cJSON *mv = NULL;
        if (ss_mlflow_alias_get(w->mlflow, j->model, "champion", &mv, err, sizeof(err))) {
                if (ss_mlflow_last_status(w->mlflow) == 404)
                        return job_final(j, R_FAILED,
                                         "%s has no champion in the registry: nothing to retrain "
                                         "from (set one with `sentistream models promote %s "
                                         "VERSION --alias champion`)",
                                         j->model, j->model);
                return job_registry_err(w, j, "champion alias", err);
        }
        snprintf(j->champ_version, sizeof(j->champ_version), "%s", json_str(mv, "version"));
        snprintf(j->champ_path, sizeof(j->champ_path), "%s/champion-v%s.ssm", j->dir,
                 j->champ_version);
        ss_card_path(j->champ_path, j->champ_card, sizeof(j->champ_card));
        ss_err_t e = ss_modelreg_fetch(w->mlflow, mv, j->champ_path, NULL, err, sizeof(err));
        cJSON_Delete(mv);
        if (e)
                return job_registry_err(w, j, "fetching the champion", err);
        return 0;
}

static int job_fresh(ss_retrain_t *w, job_t *j, fresh_set_t *fs)
{
        char err[512];
        size_t n = 0;
        if (ss_mstate_labels_newest(w->redis, (size_t)w->pol.fresh_max, on_fresh, fs, &n, err,
                                    sizeof(err)))
                return job_retry(j, RETRY_REDIS, "reading fresh labels: %s", err);
        fresh_dedupe(fs);
        ss_counter_add(w->c_no_text, (double)fs->no_text);
        ss_gauge_set(w->g_fresh, (double)fs->n);
        j->n_fresh = fs->n;
        if (fs->no_text)
                ss_warn("retrain",
                        "%s: %zu of the newest %zu labels carry no text (older writer "
                        "or `label --no-text`): skipped",
                        j->event_id, fs->no_text, n);
        ss_info("retrain",
                "%s: %zu fresh labels with text (%zu read, %zu without text, %zu "
                "malformed, %zu relabelled)",
                j->event_id, fs->n, n, fs->no_text, fs->bad, fs->dup);
        if ((int64_t)fs->n >= w->pol.fresh_min)
                return 0;
        if (w->pol.few_labels_wait)
                return job_retry(j, RETRY_FEW_LABELS,
                                 "%zu fresh labels with text, retrain.fresh.min is %" PRId64
                                 ": waiting for more (retrain.few_labels=wait)",
                                 fs->n, w->pol.fresh_min);
        return job_final(j, R_SKIPPED,
                         "%zu fresh labels with text, retrain.fresh.min is %" PRId64
                         ": skipped (retrain.few_labels=skip)",
                         fs->n, w->pol.fresh_min);
}

/* Steps 3 and 4 of retrain.h, under the lock. */
static void job_locked(ss_retrain_t *w, job_t *j)
{
        char err[1024];
        if (ss_rstate_fence_next(w->redis, j->model, &j->fence, err, sizeof(err))) {
                job_retry(j, RETRY_REDIS, "fencing token: %s", err);
                return;
        }
        cJSON *mv = NULL;
        int found = job_find_version(w, j, &mv);
        if (found < 0)
                return;
        if (found) {
                job_resume(w, j, mv);
                cJSON_Delete(mv);
                return;
        }
        snprintf(j->dir, sizeof(j->dir), "%.800s/%.200s-%" PRId64, w->work_dir, j->model, j->fence);
        char probe[1200];
        snprintf(probe, sizeof(probe), "%s/x", j->dir);
        if (ss_file_mkdir_parent(probe)) {
                job_final(j, R_FAILED, "cannot create %s: %s", j->dir, strerror(errno));
                return;
        }
        champ_data_t d;
        fresh_set_t fs = {0};
        ss_dataset_t *hold = NULL, *ref = NULL;
        size_t *order = NULL;
        char train_path[1200], ref_path[1200], model_path[1200];
        train_hook_t h;
        if (job_champion(w, j) || card_data_read(w, j, &d) || job_fresh(w, j, &fs))
                goto out;
        ss_rpolicy_label_t *lab = calloc(fs.n, sizeof(*lab));
        order = calloc(fs.n, sizeof(*order));
        if (!lab || !order) {
                free(lab);
                job_retry(j, RETRY_REDIS, "out of memory for %zu labels", fs.n);
                goto out;
        }
        for (size_t i = 0; i < fs.n; i++)
                lab[i] = (ss_rpolicy_label_t){fs.v[i].at_ms, fs.v[i].seq};
        j->n_holdout = ss_rpolicy_holdout(lab, fs.n, w->pol.holdout_share, order);
        free(lab);
        if (job_files(w, j, &d, &fs, order, j->n_holdout, train_path, ref_path, &hold, &ref))
                goto out;
        job_lock_renew(w, j);
        if (job_train(w, j, &d, train_path, ref_path, model_path, &h))
                goto out;
        job_lock_renew(w, j);
        if (job_evaluate(j, model_path, hold, ref))
                goto out;
        ss_rpolicy_verdict_t v = ss_rpolicy_decide(&w->pol, &j->fig, j->why, sizeof(j->why));
        const char *verdict = v == SS_RPOLICY_PROMOTE ? "promoted" : "rejected";
        ss_info("retrain", "%s: %s", j->event_id, j->why);
        char why[2048];
        snprintf(why, sizeof(why), "%s", j->why);
        if (job_decision_run(w, j, verdict, why) || job_register(w, j, verdict, &h))
                goto out;
        if (v != SS_RPOLICY_PROMOTE) {
                job_final(j, R_REJECTED, "%s", why);
                goto out;
        }
        if (ss_mlflow_version_get(w->mlflow, j->model, j->version, &mv, err, sizeof(err))) {
                job_registry_err(w, j, "version record", err);
                goto out;
        }
        snprintf(j->why, sizeof(j->why), "%s", why);
        job_promote(w, j, mv);
        cJSON_Delete(mv);
out:
        free(order);
        ss_dataset_destroy(hold);
        ss_dataset_destroy(ref);
        fresh_free(&fs);
}

/* The outcome JSON recorded under retrain:done:<event_id>. */
static char *job_record(const job_t *j)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event_id", j->event_id);
        cJSON_AddStringToObject(o, "model", j->model);
        cJSON_AddStringToObject(o, "result", result_names[j->result]);
        cJSON_AddStringToObject(o, "version", j->version);
        cJSON_AddNumberToObject(o, "fencing_token", (double)j->fence);
        cJSON_AddStringToObject(o, "why", j->why);
        if (j->has_fig) {
                cJSON_AddNumberToObject(o, "champion_fresh_avgrec", j->fig.champion_fresh);
                cJSON_AddNumberToObject(o, "challenger_fresh_avgrec", j->fig.challenger_fresh);
                cJSON_AddNumberToObject(o, "champion_reference_avgrec", j->fig.champion_reference);
                cJSON_AddNumberToObject(o, "challenger_reference_avgrec",
                                        j->fig.challenger_reference);
        }
        cJSON_AddStringToObject(o, "decision_run", j->decision_run);
        cJSON_AddNumberToObject(o, "handled_at", (double)ss_time_now_ms());
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return s;
}

static void handle_event(ss_retrain_t *w, const rd_kafka_message_t *m, job_t *j)
{
        char err[1024];
        if (ss_serde_retrain_event_decode(w->serde, m->payload, m->len, &j->ev, err, sizeof(err))) {
                snprintf(j->event_id, sizeof(j->event_id), "%s[%" PRId32 "]@%" PRId64,
                         rd_kafka_topic_name(m->rkt), m->partition, m->offset);
                job_final(j, R_MALFORMED, "undecodable retrain event: %s", err);
                return;
        }
        snprintf(j->event_id, sizeof(j->event_id), "%s", j->ev.event_id.ptr);
        snprintf(j->model, sizeof(j->model), "%s",
                 *w->registry_name ? w->registry_name : j->ev.model_name.ptr);
        if (!*j->event_id || !*j->model) {
                job_final(j, R_MALFORMED, "retrain event without %s",
                          *j->event_id ? "model name" : "event id");
                return;
        }
        char *done = NULL;
        if (ss_rstate_done_get(w->redis, j->event_id, &done, err, sizeof(err))) {
                job_retry(j, RETRY_REDIS, "reading the handled-events record: %s", err);
                return;
        }
        if (done) {
                job_final(j, R_DUPLICATE, "already handled: %s", done);
                free(done);
                return;
        }
        int got = 0;
        if (ss_rstate_lock_acquire(w->redis, j->model, w->token, w->lock_ttl_ms, &got, err,
                                   sizeof(err))) {
                job_retry(j, RETRY_REDIS, "taking the lock: %s", err);
                return;
        }
        if (!got) {
                job_retry(j, RETRY_LOCK, "another worker is retraining %s (lock retrain:lock:%s)",
                          j->model, j->model);
                return;
        }
        j->locked = 1;
        j->locked_at_ms = ss_time_now_ms();
        job_locked(w, j);
        if (j->retry == RETRY_NONE) {
                char *rec = job_record(j);
                int first = 0;
                if (!rec ||
                    ss_rstate_done_set(w->redis, j->event_id, rec, &first, err, sizeof(err)))
                        job_retry(j, RETRY_REDIS, "recording the outcome: %s",
                                  rec ? err : "out of memory");
                else if (!first)
                        ss_warn("retrain", "%s: another worker recorded this event first",
                                j->event_id);
                free(rec);
        }
        if (ss_rstate_lock_release(w->redis, j->model, w->token, err, sizeof(err)))
                ss_warn("retrain", "%s: releasing the lock: %s (it expires by itself)", j->event_id,
                        err);
}

/* Sleeps ms in steps, returning early on a stop request. */
static void sleep_stoppable(int64_t ms)
{
        double until = ss_time_mono() + (double)ms / 1000.0;
        while (!ss_stop_requested() && ss_time_mono() < until)
                usleep(50 * 1000);
}

/* Handles one message until its outcome is final, then commits its offset. */
static void handle_message(ss_retrain_t *w, rd_kafka_message_t *m)
{
        int64_t backoff = 1000;
        while (!ss_stop_requested()) {
                job_t *j = calloc(1, sizeof(*j));
                if (!j) {
                        sleep_stoppable(1000);
                        continue;
                }
                double t0 = ss_time_mono();
                handle_event(w, m, j);
                if (j->retry == RETRY_NONE) {
                        ss_counter_inc(w->c_events[j->result]);
                        ss_gauge_set(w->g_duration, ss_time_mono() - t0);
                        if (j->result == R_FAILED || j->result == R_MALFORMED)
                                ss_error("retrain", "%s: %s: %s", j->event_id,
                                         result_names[j->result], j->why);
                        else
                                ss_info("retrain", "%s: %s%s%s: %s", j->event_id,
                                        result_names[j->result], *j->version ? " version " : "",
                                        j->version, j->why);
                        rd_kafka_resp_err_t ke = rd_kafka_commit_message(w->consumer, m, 0);
                        if (ke)
                                ss_warn("retrain",
                                        "%s: offset commit failed: %s (the event is "
                                        "recorded; a redelivery counts as duplicate)",
                                        j->event_id, rd_kafka_err2str(ke));
                        ss_retrain_event_clear(&j->ev);
                        free(j);
                        return;
                }
                int64_t delay = backoff;
                if (j->retry == RETRY_LOCK || j->retry == RETRY_FEW_LABELS)
                        delay = w->wait_ms;
                else
                        backoff = backoff * 2 > w->backoff_max_ms ? w->backoff_max_ms : backoff * 2;
                ss_counter_inc(w->c_retries[j->retry]);
                ss_warn("retrain", "%s: not handled yet (%s): %s; retrying in %.1f s", j->event_id,
                        retry_names[j->retry], j->why, (double)delay / 1000.0);
                ss_retrain_event_clear(&j->ev);
                free(j);
                sleep_stoppable(delay);
        }
}

/* ---- setup ------------------------------------------------------------------------- */

static ss_err_t consumer_start(ss_retrain_t *w, char *errstr, size_t errstr_size)
{
        const ss_config_t *c = w->c;
        rd_kafka_conf_t *conf = ss_kafka_conf_new(
            c, SS_KAFKA_CONSUMER, ss_config_get_str(c, "retrain.group.id"), errstr, errstr_size);
        if (!conf)
                return SS_ERR_CONFIG;
        /* events published before the group's first start are handled too; a retrain can
         * take longer than librdkafka's default poll interval; a worker that died is noticed
         * within 10 s (its partition goes to another worker, which then finds its lock) */
        if ((!ss_config_origin(c, "kafka.auto.offset.reset") &&
             ss_kafka_conf_set(conf, "auto.offset.reset", "earliest", NULL, errstr, errstr_size)) ||
            (!ss_config_origin(c, "kafka.max.poll.interval.ms") &&
             ss_kafka_conf_set(conf, "max.poll.interval.ms", "86400000", NULL, errstr,
                               errstr_size)) ||
            (!ss_config_origin(c, "kafka.session.timeout.ms") &&
             ss_kafka_conf_set(conf, "session.timeout.ms", "10000", NULL, errstr, errstr_size))) {
                rd_kafka_conf_destroy(conf);
                return SS_ERR_CONFIG;
        }
        w->consumer = ss_kafka_consumer_new(conf, errstr, errstr_size);
        if (!w->consumer)
                return SS_ERR_KAFKA;
        if (ss_kafka_auth_check(w->consumer, c, SS_KAFKA_AUTH_CHECK_MS, errstr, errstr_size))
                return SS_ERR_KAFKA;
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, w->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t ke = rd_kafka_subscribe(w->consumer, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (ke)
                return ss_err_set(errstr, errstr_size, SS_ERR_KAFKA, "subscribe to %s: %s",
                                  w->topic, rd_kafka_err2str(ke));
        return SS_OK;
}

static void metrics_register(ss_retrain_t *w)
{
        for (int r = 0; r < R__COUNT; r++)
                w->c_events[r] = ss_metrics_counter(
                    w->metrics, "sentistream_retrain_events_total",
                    "retrain events handled, by result (promoted, rejected, skipped, duplicate, "
                    "failed, malformed)",
                    (const char *[]){"result", result_names[r], NULL}, NULL, 0);
        for (int r = 1; r < RETRY__COUNT; r++)
                w->c_retries[r] = ss_metrics_counter(
                    w->metrics, "sentistream_retrain_retries_total",
                    "attempts at an event that must be retried, by reason (registry, redis, "
                    "kafka, lock, few_labels)",
                    (const char *[]){"reason", retry_names[r], NULL}, NULL, 0);
        w->c_no_text =
            ss_metrics_counter(w->metrics, "sentistream_retrain_labels_without_text_total",
                               "labels read that carry no text (skipped)", NULL, NULL, 0);
        w->g_fresh = ss_metrics_gauge(w->metrics, "sentistream_retrain_fresh_labels",
                                      "usable fresh labels at the last event", NULL, NULL, 0);
        w->g_duration = ss_metrics_gauge(w->metrics, "sentistream_retrain_last_duration_seconds",
                                         "time the last handled event took", NULL, NULL, 0);
}

ss_retrain_t *ss_retrain_new(const ss_config_t *c, const char *config_dir, int noverrides,
                             char *const *overrides, const char *schema_dir, char *errstr,
                             size_t errstr_size)
{
        ss_retrain_t *w = calloc(1, sizeof(*w));
        if (!w) {
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        w->c = c;
        w->config_dir = config_dir ? strdup(config_dir) : NULL;
        w->overrides = calloc((size_t)noverrides + 1, sizeof(*w->overrides));
        if (!w->overrides)
                goto nomem;
        for (int i = 0; i < noverrides; i++)
                if (!(w->overrides[w->noverrides++] = strdup(overrides[i])))
                        goto nomem;
        ss_rpolicy_from_config(&w->pol, c);
        w->topic = ss_config_get_str(c, "topics.retrain");
        w->registry_name = ss_config_get_str(c, "retrain.registry.name");
        w->experiment = ss_config_get_str(c, "tracking.experiment");
        w->lock_ttl_ms = ss_config_get_int(c, "retrain.lock.ttl.ms");
        w->wait_ms = ss_config_get_int(c, "retrain.wait.ms");
        w->backoff_max_ms = ss_config_get_int(c, "retrain.backoff.max.ms");
        snprintf(w->work_dir, sizeof(w->work_dir), "%s", ss_config_get_str(c, "retrain.work.dir"));
        char host[128] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(w->token, sizeof(w->token), "%s:%ld:%" PRId64, host, (long)getpid(),
                 ss_time_now_ms());
        const char *uri = ss_config_get_str(c, "tracking.uri");
        if (!*uri) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                           "tracking.uri is empty: the retrain worker needs the MLflow registry");
                goto fail;
        }
        ss_mlflow_policy_t p;
        ss_mlflow_policy_default(&p);
        p.timeout_ms = ss_config_get_int(c, "tracking.timeout.ms");
        if (!(w->mlflow = ss_mlflow_new(uri, &p, errstr, errstr_size)))
                goto fail;
        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        if (!(w->serde = ss_serde_new(schema_dir, &ids, 0, errstr, errstr_size)))
                goto fail;
        w->redis = ss_mstate_new(ss_config_get_str(c, "redis.host"),
                                 (int)ss_config_get_int(c, "redis.port"),
                                 (int)ss_config_get_int(c, "redis.timeout.ms"),
                                 (int)ss_config_get_int(c, "redis.backoff.max.ms"),
                                 ss_config_get_str(c, "redis.prefix"));
        if (!w->redis || ss_mstate_security_from(w->redis, c) != SS_OK)
                goto nomem;
        if (!(w->metrics = ss_metrics_new()))
                goto nomem;
        metrics_register(w);
        int port = (int)ss_config_get_int(c, "retrain.metrics.port");
        if (port > 0 && ss_metrics_serve_on(w->metrics, ss_config_get_str(c, "metrics.bind"), port,
                                            errstr, errstr_size))
                goto fail;
        return w;
nomem:
        ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "out of memory");
fail:
        ss_retrain_destroy(w);
        return NULL;
}

int ss_retrain_run(ss_retrain_t *w)
{
        char err[1024];
        if (consumer_start(w, err, sizeof(err))) {
                fprintf(stderr, "sentistream retrain: %s\n", err);
                return 1;
        }
        ss_info("retrain", "consuming %s in group %s (worker %s)", w->topic,
                ss_config_get_str(w->c, "retrain.group.id"), w->token);
        while (!ss_stop_requested()) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 200);
                if (!m)
                        continue;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                ss_warn("retrain", "consumer: %s", rd_kafka_message_errstr(m));
                } else {
                        handle_message(w, m);
                }
                rd_kafka_message_destroy(m);
                if (ss_kafka_fatal_check(w->consumer, "retrain consumer"))
                        return 1;
        }
        ss_info("retrain", "stopping");
        return 0;
}

void ss_retrain_destroy(ss_retrain_t *w)
{
        if (!w)
                return;
        if (w->consumer) {
                rd_kafka_consumer_close(w->consumer);
                rd_kafka_destroy(w->consumer);
        }
        ss_metrics_destroy(w->metrics);
        ss_mstate_destroy(w->redis);
        ss_serde_destroy(w->serde);
        ss_mlflow_destroy(w->mlflow);
        for (int i = 0; i < w->noverrides; i++)
                free(w->overrides[i]);
        free(w->overrides);
        free(w->config_dir);
        free(w);
}
