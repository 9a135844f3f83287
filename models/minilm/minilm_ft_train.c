/*
 * minilm_ft_train: the fine-tuning loop (see minilm_ft_train.h).
 *
 * Steps: tokenize the fit and tune rows once (WordPiece of the encoder file); build the
 * model (minilm_ft.h) with the top train_layers layers trained and copy the encoder weights;
 * when layers stay frozen, compute the states entering the first trained layer for every
 * text once (the cache); then per epoch: bucket the fit rows by length, and per batch:
 * forward with dropout, backward, clip, AdamW step under the learning-rate schedule; every
 * eval_every steps: AvgRec on the tune rows, keep the best weights, write the checkpoint,
 * stop after `patience` evaluations without improvement. The kept weights go into the model
 * file. Every step is a small static function below; the dataset, batching, optimizer and
 * checkpoint state live in one train_state_t.
 */
#include "minilm_ft_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minilm.h"
#include "minilm_ft.h"
#include "model.h"
#include "ss_util.h"

#define C_ SS_NUM_CLASSES

void ss_minilm_ft_train_config_default(ss_minilm_ft_train_config_t *tc)
{
        memset(tc, 0, sizeof(*tc));
        tc->encoder_path = "models-out/minilm-encoder.ssm";
        tc->checkpoint = "";
        tc->resume = 1;
        tc->train_layers = 2;
        tc->epochs = 3;
        tc->batch_size = 32;
        tc->max_tokens = 4096;
        tc->max_seq_len = 128;
        tc->lr = 1e-4;
        tc->head_lr = 1e-3;
        tc->warmup = 0.06;
        tc->weight_decay = 0.01;
        tc->dropout = 0.1;
        tc->max_norm = 1.0;
        tc->layer_decay = 1.0;
        tc->balanced = 1;
        tc->patience = 3;
        tc->seed = 1;
        tc->log_every = 50;
}

/* Tokenized rows of a data set, and their cached states. */
typedef struct tokset {
        size_t n;
        int32_t *ids;         /* [total] packed, [CLS] ... [SEP] */
        size_t *off;          /* [n] first id of each row */
        int *len;             /* [n] */
        const int8_t *labels; /* [n] (the data set's) */
        size_t total;         /* ids */
        float *x0;            /* [total][D] states entering the first trained layer, or NULL */
} tokset_t;

typedef struct batch_ref {
        size_t start, count; /* into the epoch's row order */
} batch_ref_t;

typedef struct train_state {
        const ss_minilm_ft_train_config_t *tc;
        ss_minilm_t *enc; /* tokenizer and config of the encoder file */
        ss_mfile_t *enc_mf;
        ss_minilm_ft_t *ft;
        int D;
        tokset_t fit, tune;
        /* the epoch's batches */
        size_t *order; /* [fit.n] row indices, batch after batch */
        batch_ref_t *batches;
        size_t n_batches;
        /* one gathered batch */
        int32_t *b_ids; /* [max_tokens] */
        int *b_len;     /* [batch_size] */
        int8_t *b_lab;  /* [batch_size] */
        float *b_x0;    /* [max_tokens][D] (with a cache) */
        /* optimizer over the trained floats [toff, n_params) */
        size_t toff, n_params;
        float *m, *v, *best; /* [n_params - toff] */
        float *avg;          /* [n_params - toff] running mean of the evaluation points, or NULL */
        int avg_n;           /* evaluation points in avg */
        int n_layers;
        int total_steps;
        /* evaluation */
        size_t *eval_order;        /* [tune.n] */
        batch_ref_t *eval_batches; /* [tune.n] */
        int8_t *pred;              /* [tune.n] */
        int bad_evals;
        double t0;
} train_state_t;

static uint64_t mix64(uint64_t z)
{
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* ---- data ---- */

static ss_err_t tokset_build(train_state_t *st, const ss_dataset_t *ds, size_t limit, tokset_t *ts,
                             char *errstr, size_t errstr_size)
{
        int maxlen = st->tc->max_seq_len;
        ts->n = limit && limit < ds->n ? limit : ds->n;
        ts->labels = ds->labels;
        ts->off = malloc((ts->n + 1) * sizeof(*ts->off));
        ts->len = malloc((ts->n + 1) * sizeof(*ts->len));
        size_t cap = ts->n * 32 + (size_t)maxlen;
        ts->ids = malloc(cap * sizeof(*ts->ids));
        if (!ts->off || !ts->len || !ts->ids)
                goto nomem;
        ss_wp_t *wp = ss_minilm_wordpiece(st->enc);
        size_t total = 0;
        for (size_t i = 0; i < ts->n; i++) {
                if (total + (size_t)maxlen > cap) {
                        cap *= 2;
                        int32_t *p = realloc(ts->ids, cap * sizeof(*p));
                        if (!p)
                                goto nomem;
                        ts->ids = p;
                }
                int k = ss_wp_encode(wp, ds->texts[i], ds->lens[i], ts->ids + total, maxlen, NULL);
                if (k < 0)
                        goto nomem;
                ts->off[i] = total;
                ts->len[i] = k;
                total += (size_t)k;
        }
        ts->total = total;
        return SS_OK;
nomem:
        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                          "minilm_ft: out of memory tokenizing %zu rows", ts->n);
}

static void tokset_free(tokset_t *ts)
{
        free(ts->ids);
        free(ts->off);
        free(ts->len);
        free(ts->x0);
}

/* The frozen layers' output for every row (only with frozen layers). */
static ss_err_t tokset_cache(train_state_t *st, tokset_t *ts, const char *what, char *errstr,
                             size_t errstr_size)
{
        ts->x0 = malloc(ts->total * (size_t)st->D * sizeof(float));
        if (!ts->x0)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "minilm_ft: out of memory caching %zu token states (%zu MiB)",
                                  ts->total, ts->total * (size_t)st->D * 4 >> 20);
        ss_progress_t pr;
        ss_progress_init(&pr, what, ts->n);
        size_t step = 256;
        for (size_t s0 = 0; s0 < ts->n; s0 += step) {
                size_t n = s0 + step < ts->n ? step : ts->n - s0;
                ss_err_t err =
                    ss_minilm_ft_hidden(st->ft, ts->ids + ts->off[s0], ts->len + s0, n,
                                        ts->x0 + ts->off[s0] * (size_t)st->D, errstr, errstr_size);
                if (err)
                        return err;
                ss_progress_update(&pr, s0 + n, NULL);
        }
        ss_progress_done(&pr);
        return SS_OK;
}

typedef struct sort_key {
        uint64_t key;
        size_t idx;
} sort_key_t;

static int sort_key_cmp(const void *a, const void *b)
{
        uint64_t x = ((const sort_key_t *)a)->key, y = ((const sort_key_t *)b)->key;
        return x < y ? -1 : x > y;
}

/*
 * Rows sorted by length (ties broken by a hash of seed and row; seed 0: by row), cut into
 * batches of at most batch_size rows and max_tokens tokens; with seed != 0 the batch order is
 * shuffled. Fills order and batches; returns the number of batches (0 when out of memory).
 */
static size_t batches_make(const tokset_t *ts, int batch_size, int max_tokens, uint64_t seed,
                           size_t *order, batch_ref_t *batches)
{
        sort_key_t *k = malloc(ts->n * sizeof(*k));
        if (!k)
                return 0;
        for (size_t i = 0; i < ts->n; i++) {
                uint64_t tie = seed ? mix64(seed ^ mix64(i)) >> 40 : i;
                k[i].key = ((uint64_t)ts->len[i] << 40) | tie;
                k[i].idx = i;
        }
        qsort(k, ts->n, sizeof(*k), sort_key_cmp);
        size_t nb = 0, i = 0;
        while (i < ts->n) {
                size_t start = i;
                int tokens = 0;
                while (i < ts->n && (int)(i - start) < batch_size &&
                       tokens + ts->len[k[i].idx] <= max_tokens)
                        tokens += ts->len[k[i++].idx];
                batches[nb].start = start;
                batches[nb++].count = i - start;
        }
        for (i = 0; i < ts->n; i++)
                order[i] = k[i].idx;
        free(k);
        for (size_t b = nb; seed && b > 1; b--) {
                size_t j = mix64(seed * 31 + b) % b;
                batch_ref_t t = batches[b - 1];
                batches[b - 1] = batches[j];
                batches[j] = t;
        }
        return nb;
}

/* Gathers rows order[start .. start + count) of ts into the batch buffers. */
static void batch_gather(train_state_t *st, const tokset_t *ts, const size_t *order, size_t count,
                         ss_minilm_ft_batch_t *b)
{
        size_t r = 0, D = (size_t)st->D;
        for (size_t i = 0; i < count; i++) {
                size_t row = order[i];
                int L = ts->len[row];
                memcpy(st->b_ids + r, ts->ids + ts->off[row], (size_t)L * sizeof(int32_t));
                if (ts->x0)
                        memcpy(st->b_x0 + r * D, ts->x0 + ts->off[row] * D,
                               (size_t)L * D * sizeof(float));
                st->b_len[i] = L;
                st->b_lab[i] = ts->labels[row];
                r += (size_t)L;
        }
        b->n = count;
        b->len = st->b_len;
        b->ids = st->b_ids;
        b->x0 = ts->x0 ? st->b_x0 : NULL;
        b->labels = st->b_lab;
}

/* ---- optimizer ---- */

static double lr_factor(const ss_minilm_ft_train_config_t *tc, int step, int total)
{
        int warm = (int)(tc->warmup * total + 0.5);
        if (step <= warm)
                return warm > 0 ? (double)step / warm : 1.0;
        double prog = total > warm ? (double)(step - warm) / (double)(total - warm) : 1.0;
        prog = prog > 1.0 ? 1.0 : prog;
        return tc->cosine ? 0.5 * (1.0 + cos(3.14159265358979323846 * prog)) : 1.0 - prog;
}

/* Global gradient norm over the trained floats; scales them to max_norm when above. */
static double grad_clip(train_state_t *st, double max_norm)
{
        size_t n;
        float *g = ss_minilm_ft_grads(st->ft, &n);
        double ss = 0;
        for (size_t i = st->toff; i < n; i++)
                ss += (double)g[i] * g[i];
        double norm = sqrt(ss);
        if (max_norm > 0 && norm > max_norm) {
                float s = (float)(max_norm / norm);
                for (size_t i = st->toff; i < n; i++)
                        g[i] *= s;
        }
        return norm;
}

/* Peak learning rate of a tensor: the head's own; an encoder layer's scaled by
 * layer_decay once per layer above it; the embeddings' once per layer. */
static double lr_of(const train_state_t *st, const char *name)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        if (!strncmp(name, "head.", 5))
                return tc->head_lr;
        int below_top = st->n_layers; /* embeddings: under every layer */
        char *end;
        long l = name[0] == 'L' ? strtol(name + 1, &end, 10) : -1;
        if (l >= 0 && l < st->n_layers && end != name + 1 && *end == '.') /* "L<l>.<tensor>" */
                below_top = st->n_layers - 1 - (int)l;
        return tc->lr * pow(tc->layer_decay, below_top);
}

/* AdamW, PyTorch's form: p -= lr wd p (decayed tensors); p -= lr mhat / (sqrt(vhat) + eps). */
static void adamw_step(train_state_t *st, int step, double factor)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        float c1 = (float)(1.0 - pow(b1, step)), c2 = (float)(1.0 - pow(b2, step));
        size_t n;
        float *p = ss_minilm_ft_params(st->ft, &n), *g = ss_minilm_ft_grads(st->ft, &n);
        int nt;
        const ss_minilm_ft_tensor_t *t = ss_minilm_ft_tensors(st->ft, &nt);
        for (int i = 0; i < nt; i++) {
                if (!t[i].trained)
                        continue;
                float lr = (float)(lr_of(st, t[i].name) * factor);
                float decay = t[i].decay ? 1.0f - lr * (float)tc->weight_decay : 1.0f;
                float *pp = p + t[i].off, *gg = g + t[i].off;
                float *m = st->m + (t[i].off - st->toff), *v = st->v + (t[i].off - st->toff);
                for (size_t k = 0; k < t[i].count; k++) {
                        m[k] = b1 * m[k] + (1.0f - b1) * gg[k];
                        v[k] = b2 * v[k] + (1.0f - b2) * gg[k] * gg[k];
                        pp[k] = pp[k] * decay - lr * (m[k] / c1) / (sqrtf(v[k] / c2) + eps);
                }
        }
}

/* ---- evaluation ---- */

static ss_err_t evaluate(train_state_t *st, ss_eval_t *ev, char *errstr, size_t errstr_size)
{
        const tokset_t *ts = &st->tune;
        size_t nb = batches_make(ts, st->tc->batch_size * 2 > 256 ? 256 : st->tc->batch_size * 2,
                                 st->tc->max_tokens, 0, st->eval_order, st->eval_batches);
        if (!nb && ts->n)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory");
        for (size_t b = 0; b < nb; b++) {
                ss_minilm_ft_batch_t bt;
                const size_t *rows = st->eval_order + st->eval_batches[b].start;
                batch_gather(st, ts, rows, st->eval_batches[b].count, &bt);
                bt.labels = NULL;
                float pr[256 * C_];
                ss_err_t err = ss_minilm_ft_forward(st->ft, &bt, 0, pr, NULL, errstr, errstr_size);
                if (err)
                        return err;
                for (size_t i = 0; i < bt.n; i++)
                        st->pred[rows[i]] = (int8_t)ss_probs_argmax(pr + i * C_);
        }
        ss_eval_init(ev);
        ss_eval_compute(ev, ts->labels, st->pred, ts->n);
        return SS_OK;
}

/* ---- checkpoint ---- */

static void signature(const train_state_t *st, const ss_dataset_t *fit, char *buf, size_t size)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        snprintf(buf, size,
                 "encoder=%s fit=%s:%zu tune=%zu layers=%d emb=%d epochs=%d max_steps=%d "
                 "batch=%d max_tokens=%d seq=%d lr=%g head_lr=%g warmup=%g cosine=%d wd=%g "
                 "dropout=%g clip=%g balanced=%d eval_every=%d seed=%llu",
                 ss_mfile_payload_sha256(st->enc_mf), fit->sha256, st->fit.n, st->tune.n,
                 tc->train_layers, tc->train_embeddings, tc->epochs, tc->max_steps, tc->batch_size,
                 tc->max_tokens, tc->max_seq_len, tc->lr, tc->head_lr, tc->warmup, tc->cosine,
                 tc->weight_decay, tc->dropout, tc->max_norm, tc->balanced, tc->eval_every,
                 (unsigned long long)tc->seed);
        /* settings added later: only when set, so that older checkpoints still match */
        size_t len = strlen(buf);
        if (tc->layer_decay != 1.0 && len < size)
                len += (size_t)snprintf(buf + len, size - len, " layer_decay=%g", tc->layer_decay);
        if (tc->average_from > 0 && len < size)
                snprintf(buf + len, size - len, " average_from=%g", tc->average_from);
}

static ss_err_t checkpoint_write(train_state_t *st, const char *sig, int step,
                                 const ss_minilm_ft_train_result_t *res, char *errstr,
                                 size_t errstr_size)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "signature", sig);
        cJSON_AddNumberToObject(o, "step", step);
        cJSON_AddNumberToObject(o, "best", res->best);
        cJSON_AddNumberToObject(o, "bad_evals", st->bad_evals);
        cJSON_AddNumberToObject(o, "avg_n", st->avg_n);
        cJSON *log = cJSON_AddArrayToObject(o, "log");
        for (int i = 0; i < res->n_log; i++) {
                const ss_minilm_ft_eval_log_t *l = &res->log[i];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "step", l->step);
                cJSON_AddNumberToObject(e, "epoch", l->epoch);
                cJSON_AddNumberToObject(e, "loss", l->loss);
                cJSON_AddNumberToObject(e, "seconds", l->seconds);
                cJSON *cm = cJSON_AddArrayToObject(e, "confusion");
                for (int a = 0; a < C_; a++)
                        for (int b = 0; b < C_; b++)
                                cJSON_AddItemToArray(
                                    cm, cJSON_CreateNumber((double)l->tune.confusion[a][b]));
                cJSON_AddItemToArray(log, e);
        }
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        ss_mfile_t *mf = ss_mfile_new("minilm-ft-checkpoint", "checkpoint", NULL);
        size_t n, cnt = st->n_params - st->toff;
        float *p = ss_minilm_ft_params(st->ft, &n);
        ss_err_t err =
            !txt || !mf ? ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory")
                        : SS_OK;
        if (!err)
                err = ss_mfile_add(mf, "state", SS_MF_STR, txt, strlen(txt), errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "params", SS_MF_F32, p + st->toff, cnt, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "adam.m", SS_MF_F32, st->m, cnt, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "adam.v", SS_MF_F32, st->v, cnt, errstr, errstr_size);
        if (!err)
                err = ss_mfile_add(mf, "best", SS_MF_F32, st->best, cnt, errstr, errstr_size);
        if (!err && st->avg)
                err = ss_mfile_add(mf, "average", SS_MF_F32, st->avg, cnt, errstr, errstr_size);
        if (!err)
                err = ss_mfile_write(mf, st->tc->checkpoint, errstr, errstr_size);
        ss_mfile_destroy(mf);
        free(txt);
        return err;
}

/* Loads a matching checkpoint; returns the step to continue from (0: none or not matching). */
static int checkpoint_read(train_state_t *st, const char *sig, ss_minilm_ft_train_result_t *res)
{
        char err[512];
        ss_mfile_t *mf = ss_mfile_read(st->tc->checkpoint, err, sizeof(err));
        if (!mf)
                return 0;
        int step = 0;
        uint64_t n;
        size_t cnt = st->n_params - st->toff;
        const char *txt = ss_mfile_get(mf, "state", SS_MF_STR, 0, &n, err, sizeof(err));
        cJSON *o = txt ? cJSON_ParseWithLength(txt, n) : NULL;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "signature");
        const float *p = ss_mfile_get(mf, "params", SS_MF_F32, cnt, &n, err, sizeof(err));
        const float *m = ss_mfile_get(mf, "adam.m", SS_MF_F32, cnt, &n, err, sizeof(err));
        const float *v = ss_mfile_get(mf, "adam.v", SS_MF_F32, cnt, &n, err, sizeof(err));
        const float *b = ss_mfile_get(mf, "best", SS_MF_F32, cnt, &n, err, sizeof(err));
        const float *avg =
            st->avg ? ss_mfile_get(mf, "average", SS_MF_F32, cnt, &n, err, sizeof(err)) : NULL;
        const cJSON *an = cJSON_GetObjectItemCaseSensitive(o, "avg_n");
        if (!cJSON_IsString(s) || strcmp(s->valuestring, sig) || !p || !m || !v || !b ||
            (st->avg && (!avg || !cJSON_IsNumber(an)))) {
                printf("checkpoint %s: other settings or unreadable; starting afresh\n",
                       st->tc->checkpoint);
                goto out;
        }
        size_t np_;
        memcpy(ss_minilm_ft_params(st->ft, &np_) + st->toff, p, cnt * 4);
        memcpy(st->m, m, cnt * 4);
        memcpy(st->v, v, cnt * 4);
        memcpy(st->best, b, cnt * 4);
        if (st->avg) {
                memcpy(st->avg, avg, cnt * 4);
                st->avg_n = an->valueint;
        }
        step = cJSON_GetObjectItemCaseSensitive(o, "step")->valueint;
        res->best = cJSON_GetObjectItemCaseSensitive(o, "best")->valueint;
        st->bad_evals = cJSON_GetObjectItemCaseSensitive(o, "bad_evals")->valueint;
        const cJSON *e;
        res->n_log = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "log"))
        {
                if (res->n_log == SS_MINILM_FT_MAX_EVALS)
                        break;
                ss_minilm_ft_eval_log_t *l = &res->log[res->n_log++];
                l->step = cJSON_GetObjectItemCaseSensitive(e, "step")->valueint;
                l->epoch = cJSON_GetObjectItemCaseSensitive(e, "epoch")->valuedouble;
                l->loss = cJSON_GetObjectItemCaseSensitive(e, "loss")->valuedouble;
                l->seconds = cJSON_GetObjectItemCaseSensitive(e, "seconds")->valuedouble;
                ss_eval_init(&l->tune);
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "confusion");
                for (int k = 0; k < C_ * C_; k++)
                        l->tune.confusion[k / C_][k % C_] =
                            (int64_t)cJSON_GetArrayItem(c, k)->valuedouble;
                for (int a = 0; a < C_; a++)
                        for (int bb = 0; bb < C_; bb++)
                                l->tune.n += l->tune.confusion[a][bb];
                ss_eval_finish(&l->tune);
        }
        printf("checkpoint %s: resuming at step %d (%d evaluations)\n", st->tc->checkpoint, step,
               res->n_log);
out:
        cJSON_Delete(o);
        ss_mfile_destroy(mf);
        return step;
}

/* ---- setup ---- */

static ss_err_t state_init(train_state_t *st, const ss_dataset_t *fit, const ss_dataset_t *tune,
                           char *errstr, size_t errstr_size)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        if (!(st->enc_mf = ss_mfile_read(tc->encoder_path, errstr, errstr_size)) ||
            !(st->enc = ss_minilm_new(st->enc_mf, 0, errstr, errstr_size)))
                return SS_ERR_FORMAT;
        ss_minilm_config_t cfg = *ss_minilm_config(st->enc);
        if (tc->max_seq_len < 2 || tc->max_seq_len > cfg.max_seq_len)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: max_seq_len %d outside 2..%d", tc->max_seq_len,
                                  cfg.max_seq_len);
        st->D = cfg.dim;
        st->n_layers = cfg.n_layers;
        ss_err_t err;
        if ((err = tokset_build(st, fit, tc->fit_limit, &st->fit, errstr, errstr_size)) ||
            (err = tokset_build(st, tune, 0, &st->tune, errstr, errstr_size)))
                return err;
        cfg.max_seq_len = tc->max_seq_len;
        if (!(st->ft = ss_minilm_ft_new(&cfg, tc->train_layers, tc->train_embeddings,
                                        tc->max_tokens, errstr, errstr_size)))
                return SS_ERR_INVALID_ARG;
        if ((err = ss_minilm_ft_load(st->ft, st->enc_mf, errstr, errstr_size)))
                return err;
        ss_minilm_ft_head_init(st->ft, tc->seed, 0.02f);
        ss_minilm_ft_set_dropout(st->ft, (float)tc->dropout, tc->seed);
        size_t nmax = st->fit.n > st->tune.n ? st->fit.n : st->tune.n;
        st->toff = ss_minilm_ft_trained_off(st->ft);
        ss_minilm_ft_params(st->ft, &st->n_params);
        size_t cnt = st->n_params - st->toff;
        st->order = malloc((nmax + 1) * sizeof(*st->order));
        st->batches = malloc((nmax + 1) * sizeof(*st->batches));
        st->b_ids = malloc((size_t)tc->max_tokens * sizeof(*st->b_ids));
        st->b_len = malloc((size_t)tc->max_tokens * sizeof(*st->b_len));
        st->b_lab = malloc((size_t)tc->max_tokens);
        st->b_x0 = malloc((size_t)tc->max_tokens * st->D * sizeof(float));
        st->m = calloc(cnt, sizeof(float));
        st->v = calloc(cnt, sizeof(float));
        st->best = malloc(cnt * sizeof(float));
        if (tc->average_from > 0 && !(st->avg = calloc(cnt, sizeof(float))))
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory");
        st->pred = malloc(st->tune.n + 1);
        st->eval_order = malloc((st->tune.n + 1) * sizeof(*st->eval_order));
        st->eval_batches = malloc((st->tune.n + 1) * sizeof(*st->eval_batches));
        if (!st->eval_order || !st->eval_batches || !st->order || !st->batches || !st->b_ids ||
            !st->b_len || !st->b_lab || !st->b_x0 || !st->m || !st->v || !st->best || !st->pred)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "minilm_ft: out of memory");
        size_t np_;
        memcpy(st->best, ss_minilm_ft_params(st->ft, &np_) + st->toff, cnt * sizeof(float));
        /* class weights n / (3 n_c) over the fit rows */
        float cw[C_] = {1.0f, 1.0f, 1.0f};
        double counts[C_] = {0};
        for (size_t i = 0; i < st->fit.n; i++)
                counts[st->fit.labels[i]] += 1;
        for (int c = 0; tc->balanced && c < C_; c++)
                cw[c] = counts[c] > 0 ? (float)(st->fit.n / (C_ * counts[c])) : 0.0f;
        ss_minilm_ft_set_class_weights(st->ft, cw);
        return SS_OK;
}

static void state_free(train_state_t *st)
{
        ss_minilm_ft_destroy(st->ft);
        ss_minilm_destroy(st->enc);
        ss_mfile_destroy(st->enc_mf);
        tokset_free(&st->fit);
        tokset_free(&st->tune);
        free(st->order), free(st->batches), free(st->b_ids), free(st->b_len), free(st->b_lab);
        free(st->b_x0), free(st->m), free(st->v), free(st->best), free(st->pred), free(st->avg);
        free(st->eval_order), free(st->eval_batches);
}

/* ---- the loop ---- */

/* Appends l to the curve; when its tune AvgRec is the best so far, the model's current
 * weights become the kept ones. Returns 1 when it was the best. */
static int log_point(train_state_t *st, ss_minilm_ft_train_result_t *res,
                     const ss_minilm_ft_eval_log_t *l)
{
        int better = res->n_log == 0 || l->tune.avgrec > res->log[res->best].tune.avgrec;
        if (res->n_log < SS_MINILM_FT_MAX_EVALS)
                res->log[res->n_log++] = *l;
        if (better) {
                size_t n;
                res->best = res->n_log - 1;
                memcpy(st->best, ss_minilm_ft_params(st->ft, &n) + st->toff,
                       (st->n_params - st->toff) * sizeof(float));
        }
        return better;
}

/* Adds the model's current weights to the running mean of the evaluation points. */
static void average_add(train_state_t *st)
{
        size_t n;
        const float *p = ss_minilm_ft_params(st->ft, &n) + st->toff;
        float w = 1.0f / (float)++st->avg_n;
        for (size_t k = 0; k < st->n_params - st->toff; k++)
                st->avg[k] += w * (p[k] - st->avg[k]);
}

/* Evaluation at `step`: log, keep the best, checkpoint. Returns 1 when patience ran out. */
static int eval_point(train_state_t *st, const char *sig, int step, double epoch, double loss,
                      ss_minilm_ft_train_result_t *res, ss_err_t *err, char *errstr,
                      size_t errstr_size)
{
        ss_minilm_ft_eval_log_t l;
        memset(&l, 0, sizeof(l));
        l.step = step;
        l.epoch = epoch;
        l.loss = loss;
        if ((*err = evaluate(st, &l.tune, errstr, errstr_size)))
                return 1;
        l.seconds = ss_time_mono() - st->t0;
        if (st->avg && epoch >= st->tc->average_from - 1e-9)
                average_add(st);
        int better = log_point(st, res, &l);
        st->bad_evals = better ? 0 : st->bad_evals + 1;
        printf("eval       step %-6d epoch %.2f  train loss %.4f  tune AvgRec %.4f  neutral "
               "recall %.4f  accuracy %.4f  (%.0f s)%s\n",
               step, epoch, loss, l.tune.avgrec, l.tune.recall[SS_LABEL_NEUTRAL], l.tune.accuracy,
               l.seconds, better ? "  <- best" : "");
        fflush(stdout);
        if (st->tc->checkpoint && st->tc->checkpoint[0] &&
            (*err = checkpoint_write(st, sig, step, res, errstr, errstr_size)))
                return 1;
        return st->bad_evals >= st->tc->patience;
}

/* Stochastic weight averaging (Izmailov et al., 2018): the mean of the weights at the
 * evaluation points from average_from on is evaluated on the tune split like any other
 * point and kept when its AvgRec is the best. Needs two points or more. */
static ss_err_t average_point(train_state_t *st, ss_minilm_ft_train_result_t *res, char *errstr,
                              size_t errstr_size)
{
        if (!st->avg || st->avg_n < 2 || res->n_log == 0 || res->n_log >= SS_MINILM_FT_MAX_EVALS)
                return SS_OK;
        size_t n;
        memcpy(ss_minilm_ft_params(st->ft, &n) + st->toff, st->avg,
               (st->n_params - st->toff) * sizeof(float));
        ss_minilm_ft_eval_log_t l = res->log[res->n_log - 1];
        l.loss = 0;
        l.averaged = 1;
        ss_err_t err = evaluate(st, &l.tune, errstr, errstr_size);
        if (err)
                return err;
        l.seconds = ss_time_mono() - st->t0;
        int better = log_point(st, res, &l);
        printf("eval       average of %d evaluation points from epoch %.2f  tune AvgRec %.4f  "
               "neutral recall %.4f  accuracy %.4f  (%.0f s)%s\n",
               st->avg_n, st->tc->average_from, l.tune.avgrec, l.tune.recall[SS_LABEL_NEUTRAL],
               l.tune.accuracy, l.seconds, better ? "  <- best" : "");
        fflush(stdout);
        return SS_OK;
}

/* A resumed run with nothing left to train (the cache is then not needed). */
static int training_done(train_state_t *st, int step, const ss_minilm_ft_train_result_t *res)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        size_t nb0 = batches_make(&st->fit, tc->batch_size, tc->max_tokens, tc->seed, st->order,
                                  st->batches);
        int total = tc->max_steps > 0 ? tc->max_steps : tc->epochs * (int)nb0;
        return step > 0 && (step >= total || (res->n_log > 0 && st->bad_evals >= tc->patience));
}

static ss_err_t train_loop(train_state_t *st, const char *sig, int step,
                           ss_minilm_ft_train_result_t *res, char *errstr, size_t errstr_size)
{
        const ss_minilm_ft_train_config_t *tc = st->tc;
        ss_err_t err = SS_OK;
        size_t nb0 = batches_make(&st->fit, tc->batch_size, tc->max_tokens, tc->seed, st->order,
                                  st->batches);
        if (!nb0)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: no training rows");
        st->total_steps = tc->max_steps > 0 ? tc->max_steps : tc->epochs * (int)nb0;
        int eval_every = tc->eval_every > 0 ? tc->eval_every : (int)nb0;
        ss_progress_t pr;
        ss_progress_init(&pr, "minilm_ft", (uint64_t)st->total_steps);
        double loss_sum = 0, t_log = ss_time_mono();
        int loss_n = 0, start_step = step, steps_before = 0; /* steps of the earlier epochs */
        int stop = st->bad_evals >= tc->patience && res->n_log > 0;
        for (int epoch = 0; !stop && step < st->total_steps; epoch++) {
                uint64_t eseed = mix64(tc->seed + 1000003ull * (uint64_t)(epoch + 1));
                size_t nb = batches_make(&st->fit, tc->batch_size, tc->max_tokens, eseed, st->order,
                                         st->batches);
                for (size_t b = 0; !stop && b < nb && step < st->total_steps; b++) {
                        if (steps_before + (int)b < step)
                                continue; /* done before the resume */
                        ss_minilm_ft_batch_t bt;
                        batch_gather(st, &st->fit, st->order + st->batches[b].start,
                                     st->batches[b].count, &bt);
                        ss_minilm_ft_set_dropout(st->ft, (float)tc->dropout,
                                                 mix64(tc->seed ^ (uint64_t)step * 7919));
                        float loss;
                        ss_minilm_ft_zero_grad(st->ft);
                        if ((err = ss_minilm_ft_forward(st->ft, &bt, 1, NULL, &loss, errstr,
                                                        errstr_size)) ||
                            (err = ss_minilm_ft_backward(st->ft, errstr, errstr_size)))
                                return err;
                        double gnorm = grad_clip(st, tc->max_norm);
                        step++;
                        double f = lr_factor(tc, step, st->total_steps);
                        adamw_step(st, step, f);
                        loss_sum += loss;
                        loss_n++;
                        char extra[96];
                        snprintf(extra, sizeof(extra), "loss %.4f", loss_sum / loss_n);
                        ss_progress_update(&pr, (uint64_t)step, extra);
                        if (tc->log_every > 0 && step % tc->log_every == 0) {
                                double el = ss_time_mono() - t_log;
                                double rate = (step - start_step) / fmax(el, 1e-9);
                                printf("step       %d/%d  loss %.4f  grad norm %.3f  lr %.3g  "
                                       "%.2f steps/s  ETA %.0f s\n",
                                       step, st->total_steps, loss_sum / loss_n, gnorm, tc->lr * f,
                                       rate, (st->total_steps - step) / rate);
                                fflush(stdout);
                        }
                        if (step % eval_every == 0 || step == st->total_steps) {
                                ss_progress_done(&pr);
                                stop = eval_point(st, sig, step, (double)step / (double)nb0,
                                                  loss_n ? loss_sum / loss_n : 0, res, &err, errstr,
                                                  errstr_size);
                                if (err)
                                        return err;
                                loss_sum = 0;
                                loss_n = 0;
                        }
                }
                steps_before += (int)nb;
        }
        ss_progress_done(&pr);
        if (res->n_log == 0) /* nothing left to do after a resume: evaluate what we have */
                eval_point(st, sig, step, (double)step / (double)nb0, 0, res, &err, errstr,
                           errstr_size);
        res->steps = step;
        return err;
}

ss_err_t ss_minilm_ft_train(const ss_minilm_ft_train_config_t *tc, const ss_dataset_t *fit,
                            const ss_dataset_t *tune, ss_mfile_t *mf, cJSON *hyper,
                            ss_minilm_ft_train_result_t *res, char *errstr, size_t errstr_size)
{
        train_state_t st = {0};
        st.tc = tc;
        memset(res, 0, sizeof(*res));
        st.t0 = ss_time_mono();
        if (tune->n == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "minilm_ft: the tune split is empty (early stopping needs it)");
        ss_err_t err = state_init(&st, fit, tune, errstr, errstr_size);
        char sig[1024];
        int step = 0;
        if (!err) {
                signature(&st, fit, sig, sizeof(sig));
                if (tc->resume && tc->checkpoint && tc->checkpoint[0])
                        step = res->resumed_step = checkpoint_read(&st, sig, res);
        }
        if (!err && ss_minilm_ft_first_layer(st.ft) > 0 && !training_done(&st, step, res)) {
                double t = ss_time_mono();
                if (!(err = tokset_cache(&st, &st.fit, "cache fit", errstr, errstr_size)))
                        err = tokset_cache(&st, &st.tune, "cache tune", errstr, errstr_size);
                res->cache_seconds = ss_time_mono() - t;
                printf("cache      states entering layer %d: %zu + %zu tokens, %.1f s\n",
                       ss_minilm_ft_first_layer(st.ft), st.fit.total, st.tune.total,
                       res->cache_seconds);
                fflush(stdout);
        }
        if (!err)
                err = train_loop(&st, sig, step, res, errstr, errstr_size);
        if (!err)
                err = average_point(&st, res, errstr, errstr_size);
        if (!err) { /* the kept weights into the model file */
                size_t n;
                memcpy(ss_minilm_ft_params(st.ft, &n) + st.toff, st.best,
                       (st.n_params - st.toff) * sizeof(float));
                uint64_t cn, vn;
                const char *cj =
                    ss_mfile_get(st.enc_mf, "config", SS_MF_STR, 0, &cn, errstr, errstr_size);
                const char *vocab =
                    ss_mfile_get(st.enc_mf, "vocab", SS_MF_STR, 0, &vn, errstr, errstr_size);
                cJSON_AddStringToObject(hyper, "trainer", "minilm_ft (fine-tuned encoder)");
                cJSON_AddNumberToObject(hyper, "train_layers", tc->train_layers);
                cJSON_AddBoolToObject(hyper, "train_embeddings", tc->train_embeddings);
                cJSON_AddNumberToObject(hyper, "epochs", tc->epochs);
                cJSON_AddNumberToObject(hyper, "max_steps", tc->max_steps);
                cJSON_AddNumberToObject(hyper, "steps", res->steps);
                cJSON_AddNumberToObject(hyper, "kept_step", res->log[res->best].step);
                cJSON_AddBoolToObject(hyper, "kept_average", res->log[res->best].averaged);
                cJSON_AddNumberToObject(hyper, "batch_size", tc->batch_size);
                cJSON_AddNumberToObject(hyper, "max_tokens", tc->max_tokens);
                cJSON_AddNumberToObject(hyper, "max_seq_len", tc->max_seq_len);
                cJSON_AddNumberToObject(hyper, "fit_rows", (double)st.fit.n);
                cJSON_AddNumberToObject(hyper, "lr", tc->lr);
                cJSON_AddNumberToObject(hyper, "head_lr", tc->head_lr);
                cJSON_AddNumberToObject(hyper, "layer_decay", tc->layer_decay);
                cJSON_AddNumberToObject(hyper, "average_from", tc->average_from);
                cJSON_AddNumberToObject(hyper, "warmup", tc->warmup);
                cJSON_AddStringToObject(hyper, "schedule", tc->cosine ? "cosine" : "linear");
                cJSON_AddNumberToObject(hyper, "weight_decay", tc->weight_decay);
                cJSON_AddNumberToObject(hyper, "dropout", tc->dropout);
                cJSON_AddNumberToObject(hyper, "max_norm", tc->max_norm);
                cJSON_AddStringToObject(hyper, "class_weight", tc->balanced ? "balanced" : "none");
                cJSON_AddNumberToObject(hyper, "patience", tc->patience);
                cJSON *curve = cJSON_AddArrayToObject(hyper, "curve");
                for (int i = 0; i < res->n_log; i++) {
                        cJSON *e = cJSON_CreateObject();
                        cJSON_AddNumberToObject(e, "step", res->log[i].step);
                        cJSON_AddNumberToObject(e, "epoch", res->log[i].epoch);
                        cJSON_AddNumberToObject(e, "loss", res->log[i].loss);
                        cJSON_AddNumberToObject(e, "tune_avgrec", res->log[i].tune.avgrec);
                        cJSON_AddNumberToObject(e, "seconds", res->log[i].seconds);
                        if (res->log[i].averaged)
                                cJSON_AddBoolToObject(e, "averaged", 1);
                        cJSON_AddItemToArray(curve, e);
                }
                char extra[256];
                snprintf(extra, sizeof(extra),
                         "{\"fine_tuned\":true,\"train_layers\":%d,\"kept_step\":%d,"
                         "\"quantize\":\"%s\"}",
                         tc->train_layers, res->log[res->best].step, tc->int8 ? "int8" : "none");
                cJSON_AddStringToObject(hyper, "quantize", tc->int8 ? "int8" : "none");
                err = !cj || !vocab ? SS_ERR_FORMAT
                                    : ss_minilm_ft_save(st.ft, mf, cj, cn, vocab, vn, extra, errstr,
                                                        errstr_size);
        }
        res->seconds = ss_time_mono() - st.t0;
        state_free(&st);
        return err;
}

/* ---- from the configuration ---- */

/* mkdir -p of the directory part of path. */
static int mkdir_parent(const char *path)
{
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        return 0;
}

int ss_minilm_ft_train_from_config(const ss_config_t *c, const ss_dataset_t *fit,
                                   const ss_dataset_t *tune, uint64_t seed, ss_mfile_t *mf,
                                   cJSON *hyper, ss_eval_t *tune_eval, int *has_tune)
{
        char err[1024];
        ss_minilm_ft_train_config_t tc;
        ss_minilm_ft_train_config_default(&tc);
        tc.encoder_path = ss_config_get_str(c, "model.minilm.encoder");
        tc.checkpoint = ss_config_get_str(c, "model.minilm_ft.checkpoint");
        tc.resume = ss_config_get_bool(c, "model.minilm_ft.resume");
        tc.train_layers = (int)ss_config_get_int(c, "model.minilm_ft.train_layers");
        tc.train_embeddings = ss_config_get_bool(c, "model.minilm_ft.train_embeddings");
        tc.epochs = (int)ss_config_get_int(c, "model.minilm_ft.epochs");
        tc.max_steps = (int)ss_config_get_int(c, "model.minilm_ft.max_steps");
        tc.batch_size = (int)ss_config_get_int(c, "model.minilm_ft.batch_size");
        tc.max_tokens = (int)ss_config_get_int(c, "model.minilm_ft.max_tokens");
        tc.max_seq_len = (int)ss_config_get_int(c, "model.minilm_ft.max_seq_len");
        tc.fit_limit = (size_t)ss_config_get_int(c, "model.minilm_ft.fit_limit");
        tc.lr = ss_config_get_double(c, "model.minilm_ft.lr");
        tc.head_lr = ss_config_get_double(c, "model.minilm_ft.head_lr");
        tc.layer_decay = ss_config_get_double(c, "model.minilm_ft.layer_decay");
        tc.average_from = ss_config_get_double(c, "model.minilm_ft.average_from");
        tc.warmup = ss_config_get_double(c, "model.minilm_ft.warmup");
        tc.cosine = !strcmp(ss_config_get_str(c, "model.minilm_ft.schedule"), "cosine");
        tc.weight_decay = ss_config_get_double(c, "model.minilm_ft.weight_decay");
        tc.dropout = ss_config_get_double(c, "model.minilm_ft.dropout");
        tc.max_norm = ss_config_get_double(c, "model.minilm_ft.max_norm");
        tc.balanced = !strcmp(ss_config_get_str(c, "model.minilm_ft.class_weight"), "balanced");
        tc.eval_every = (int)ss_config_get_int(c, "model.minilm_ft.eval_every");
        tc.patience = (int)ss_config_get_int(c, "model.minilm_ft.patience");
        tc.int8 = !strcmp(ss_config_get_str(c, "model.minilm_ft.quantize"), "int8");
        tc.seed = seed;
        if (tc.max_seq_len > tc.max_tokens) {
                fprintf(stderr,
                        "sentistream train: model.minilm_ft.max_seq_len %d exceeds "
                        "model.minilm_ft.max_tokens %d\n",
                        tc.max_seq_len, tc.max_tokens);
                return 2;
        }
        struct stat st;
        if (stat(tc.encoder_path, &st) != 0) {
                const char *src = ss_config_get_str(c, "model.minilm.source");
                printf("convert    %s -> %s\n", src, tc.encoder_path);
                fflush(stdout);
                if (mkdir_parent(tc.encoder_path) ||
                    ss_minilm_convert(src, tc.encoder_path, "all-MiniLM-L6-v2", err, sizeof(err))) {
                        fprintf(stderr, "sentistream train: model.minilm.encoder: %s\n", err);
                        return 1;
                }
        }
        if (tc.checkpoint[0])
                mkdir_parent(tc.checkpoint);
        ss_minilm_ft_train_result_t *res = calloc(1, sizeof(*res));
        if (!res) {
                fprintf(stderr, "sentistream train: out of memory\n");
                return 1;
        }
        ss_err_t e = ss_minilm_ft_train(&tc, fit, tune, mf, hyper, res, err, sizeof(err));
        if (e) {
                fprintf(stderr, "sentistream train: %s\n", err);
                free(res);
                return e == SS_ERR_INVALID_ARG ? 2 : 1;
        }
        for (int i = 0; i < res->n_log; i++) {
                char what[32];
                if (res->log[i].averaged)
                        snprintf(what, sizeof(what), "weight average");
                else
                        snprintf(what, sizeof(what), "loss %.4f", res->log[i].loss);
                printf("epoch %-5.2f step %-6d %s  tune AvgRec %.4f  neutral recall %.4f  "
                       "(%.0f s)%s\n",
                       res->log[i].epoch, res->log[i].step, what, res->log[i].tune.avgrec,
                       res->log[i].tune.recall[SS_LABEL_NEUTRAL], res->log[i].seconds,
                       i == res->best ? "  <- kept" : "");
        }
        printf("fit        minilm_ft: top %d layers%s on %zu tweets (tune %zu): %d steps, %.1f s "
               "(cache %.1f s)\n",
               tc.train_layers, tc.train_embeddings ? " + embeddings" : "",
               tc.fit_limit && tc.fit_limit < fit->n ? tc.fit_limit : fit->n, tune->n, res->steps,
               res->seconds, res->cache_seconds);
        fflush(stdout);
        *tune_eval = res->log[res->best].tune;
        *has_tune = 1;
        free(res);
        return 0;
}
