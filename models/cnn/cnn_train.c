/*
 * cnn_train: training of the text CNN (cnn.h).
 *
 * Embeddings start from a pretrained source that works offline: the token
 * (input) embedding matrix of all-MiniLM-L6-v2, 30,522 WordPiece tokens x 384,
 * read from the converted encoder file (`sentistream convert minilm`, sections
 * "vocab" and "emb.word"). The matrix is centred and projected onto its top
 * emb_dim principal components (a fixed projection, computed here by subspace
 * iteration from a fixed start, so it is deterministic), then scaled to
 * emb_std. The CNN then fine-tunes the projected rows ("non-static").
 *
 * Every text of the fit and tune splits is encoded once into ids. Each epoch
 * shuffles the fit split with a seeded generator, runs mini-batches of
 * forward / backward / Adam, and scores the tune split; the weights of the
 * epoch with the best tune AvgRec are kept (early stopping after `patience`
 * epochs without a gain). Class weights n / (C * n_c) balance the loss. With
 * tc->ema > 0 it is a moving average of the weights (decay min(ema,
 * (1+t)/(10+t)) at step t) that is scored on the tune split and kept: on
 * SemEval it scored about 0.5 point of AvgRec above the raw weights.
 *
 * Determinism: initialisation, shuffling and dropout draw from generators
 * seeded by tc->seed, every loop runs in a fixed order, and OpenBLAS is set to
 * tc->threads threads for the run, so the same data, config and seed give the
 * same weights bit for bit.
 */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"
#include "ss_trainlog.h"
#include "ss_util.h"
#include "cnn.h"
#include "cnn_distill.h"

void ss_cnn_train_config_default(ss_cnn_train_config_t *tc)
{
        memset(tc, 0, sizeof(*tc));
        ss_cnn_config_default(&tc->net);
        tc->net.emb_dim = 64;
        tc->net.max_batch = 50;
        ss_cnn_adam_default(&tc->adam);
        tc->adam.emb_lr = 3e-4f;
        tc->tok_mode = SS_CNN_TOK_TWEET;
        tc->epochs = 12;
        tc->patience = 3;
        tc->balanced = 1;
        tc->seed = 1;
        tc->threads = 2;
        tc->embeddings = "models-out/minilm-encoder.ssm";
        tc->emb_std = 0.1f;
        tc->ema = 0.995f;
}

/* ---- PCA projection ---- */

/* Orthonormalises the D columns of Z [D0][D] (modified Gram-Schmidt, in double) into Q. */
static void ss_cnn_orthonormalise(float *Q, double *Z, int D0, int D)
{
        for (int c = 0; c < D; c++) {
                for (int p = 0; p < c; p++) {
                        double dot = 0.0;
                        for (int i = 0; i < D0; i++)
                                dot += Z[(size_t)i * D + c] * Q[(size_t)i * D + p];
                        for (int i = 0; i < D0; i++)
                                Z[(size_t)i * D + c] -= dot * Q[(size_t)i * D + p];
                }
                double nn = 0.0;
                for (int i = 0; i < D0; i++)
                        nn += Z[(size_t)i * D + c] * Z[(size_t)i * D + c];
                nn = nn > 0.0 ? 1.0 / sqrt(nn) : 0.0;
                for (int i = 0; i < D0; i++)
                        Q[(size_t)i * D + c] = (float)(Z[(size_t)i * D + c] * nn);
        }
}

double ss_cnn_pca_project(float *out, const float *E, int V, int D0, int D)
{
        double *mu = calloc((size_t)D0, sizeof(double));
        double *cov = calloc((size_t)D0 * D0, sizeof(double)); /* [D0][D0] */
        double *Z = calloc((size_t)D0 * D, sizeof(double));    /* [D0][D] */
        float *X = calloc((size_t)V * D0, sizeof(float));      /* [V][D0] centred */
        float *Q = malloc((size_t)D0 * D * sizeof(float));     /* [D0][D] */
        float *cf = malloc((size_t)D0 * D0 * sizeof(float));   /* [D0][D0] */
        double kept = -1.0;
        if (!mu || !cov || !Z || !X || !Q || !cf)
                goto out;
        for (int v = 0; v < V; v++)
                for (int d = 0; d < D0; d++)
                        mu[d] += E[(size_t)v * D0 + d];
        for (int d = 0; d < D0; d++)
                mu[d] /= V;
        for (int v = 0; v < V; v++)
                for (int d = 0; d < D0; d++)
                        X[(size_t)v * D0 + d] = (float)(E[(size_t)v * D0 + d] - mu[d]);
        /* covariance [D0][D0] = X^T X / V */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D0, V, 1.0f / (float)V, X, D0, 0.0f, cf,
                    D0);
        double total = 0.0;
        for (int i = 0; i < D0; i++) {
                total += cf[(size_t)i * D0 + i];
                for (int j = i; j < D0; j++)
                        cov[(size_t)i * D0 + j] = cov[(size_t)j * D0 + i] = cf[(size_t)i * D0 + j];
        }
        /* Subspace iteration: Q <- orth(cov Q), from a fixed pseudo-random start. */
        uint64_t s = 0x2545f4914f6cdd1dull;
        for (size_t i = 0; i < (size_t)D0 * D; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                Z[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        }
        ss_cnn_orthonormalise(Q, Z, D0, D);
        for (int it = 0; it < 100; it++) {
                for (int i = 0; i < D0; i++)
                        for (int c = 0; c < D; c++) {
                                double acc = 0.0;
                                for (int j = 0; j < D0; j++)
                                        acc += cov[(size_t)i * D0 + j] * Q[(size_t)j * D + c];
                                Z[(size_t)i * D + c] = acc;
                        }
                ss_cnn_orthonormalise(Q, Z, D0, D);
        }
        /* Fix each column's sign: its largest-magnitude entry is positive. */
        for (int c = 0; c < D; c++) {
                int arg = 0;
                for (int i = 1; i < D0; i++)
                        if (fabsf(Q[(size_t)i * D + c]) > fabsf(Q[(size_t)arg * D + c]))
                                arg = i;
                if (Q[(size_t)arg * D + c] < 0.0f)
                        for (int i = 0; i < D0; i++)
                                Q[(size_t)i * D + c] = -Q[(size_t)i * D + c];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, V, D, D0, 1.0f, X, D0, Q, D, 0.0f,
                    out, D);
        double var = 0.0;
        for (size_t i = 0; i < (size_t)V * D; i++)
                var += (double)out[i] * out[i];
        kept = total > 0.0 ? var / V / total : 0.0;
out:
        free(mu);
        free(cov);
        free(Z);
        free(X);
        free(Q);
        free(cf);
        return kept;
}

/* ---- data ---- */

/* A split encoded once: ids [n][T], lens [n], labels [n]. */
typedef struct ss_cnn_encoded {
        int n;
        int32_t *ids;
        int32_t *lens;
        int32_t *labels;
} ss_cnn_encoded_t;

static void ss_cnn_encoded_free(ss_cnn_encoded_t *e)
{
        free(e->ids);
        free(e->lens);
        free(e->labels);
        memset(e, 0, sizeof(*e));
}

static ss_err_t ss_cnn_encode_split(ss_cnn_text_t *tx, const ss_dataset_t *ds, int T,
                                    ss_cnn_encoded_t *e, char *errstr, size_t errstr_size)
{
        size_t n = ds->n ? ds->n : 1;
        e->n = (int)ds->n;
        e->ids = calloc(n * (size_t)T, sizeof(int32_t));
        e->lens = calloc(n, sizeof(int32_t));
        e->labels = calloc(n, sizeof(int32_t));
        if (!e->ids || !e->lens || !e->labels)
                return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                  "cnn: out of memory encoding %zu texts of %s", ds->n, ds->path);
        for (size_t i = 0; i < ds->n; i++) {
                int len =
                    ss_cnn_text_encode(tx, ds->texts[i], ds->lens[i], e->ids + i * (size_t)T, NULL);
                if (len < 0)
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "cnn: out of memory tokenizing %s line %u", ds->path,
                                          ds->lines[i]);
                e->lens[i] = len;
                e->labels[i] = ds->labels[i];
        }
        return SS_OK;
}

/* Metrics of the network on an encoded split (no dropout). */
static ss_err_t ss_cnn_eval_split(ss_cnn_t *m, const ss_cnn_encoded_t *e, ss_eval_t *ev,
                                  char *errstr, size_t errstr_size)
{
        int B = m->cfg.max_batch, T = m->cfg.max_len;
        ss_eval_init(ev);
        for (int i = 0; i < e->n; i += B) {
                int nb = e->n - i < B ? e->n - i : B;
                ss_err_t err = ss_cnn_forward(m, e->ids + (size_t)i * T, e->lens + i, nb, 0, errstr,
                                              errstr_size);
                if (err != SS_OK)
                        return err;
                for (int j = 0; j < nb; j++)
                        ss_eval_add(ev, e->labels[i + j],
                                    ss_probs_argmax(m->a.probs + (size_t)j * SS_NUM_CLASSES));
        }
        ss_eval_finish(ev);
        return SS_OK;
}

/* ---- embeddings source ---- */

typedef struct ss_cnn_source {
        ss_mfile_t *mf;
        const char *vocab; /* points into mf */
        size_t vocab_len;
        const float *emb; /* [V][D0], points into mf */
        int V, D0;
} ss_cnn_source_t;

static ss_err_t ss_cnn_source_open(ss_cnn_source_t *src, const char *path, char *errstr,
                                   size_t errstr_size)
{
        uint64_t cnt, ecnt;
        memset(src, 0, sizeof(*src));
        src->mf = ss_mfile_read(path, errstr, errstr_size);
        if (!src->mf)
                return SS_ERR_IO;
        src->vocab = ss_mfile_get(src->mf, "vocab", SS_MF_STR, 0, &cnt, errstr, errstr_size);
        if (!src->vocab)
                return SS_ERR_FORMAT;
        src->vocab_len = (size_t)cnt;
        /* Lines of vocab.txt (a trailing newline adds no token), as wordpiece.h counts them. */
        int64_t V = 0;
        for (size_t i = 0; i < src->vocab_len; i++)
                V += src->vocab[i] == '\n';
        if (src->vocab_len && src->vocab[src->vocab_len - 1] != '\n')
                V++;
        src->emb = ss_mfile_get(src->mf, "emb.word", SS_MF_F32, 0, &ecnt, errstr, errstr_size);
        if (!src->emb)
                return SS_ERR_FORMAT;
        if (V < 1 || ecnt % (uint64_t)V || ecnt / (uint64_t)V < 1 || ecnt / (uint64_t)V > 4096)
                return ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                  "%s: section emb.word holds %llu floats, not a [%lld][D] "
                                  "matrix for the %lld tokens of section vocab",
                                  path, (unsigned long long)ecnt, (long long)V, (long long)V);
        src->V = (int)V;
        src->D0 = (int)(ecnt / (uint64_t)V);
        return SS_OK;
}

/* ---- training loop ---- */

typedef struct ss_cnn_trainer {
        const ss_cnn_train_config_t *tc;
        ss_cnn_t *net, *best;
        ss_cnn_t *ema; /* weight average (tc->ema > 0), else NULL */
        int64_t steps;
        ss_cnn_encoded_t fit, tune;
        int32_t *perm;     /* [fit.n] visiting order of the current epoch */
        int32_t *b_ids;    /* [B][T] */
        int32_t *b_lens;   /* [B] */
        int32_t *b_labels; /* [B] */
        float *b_soft;     /* [B][C] softened teacher rows of the batch (tc->soft only) */
        float cw[SS_NUM_CLASSES];
        uint64_t shuffle_rng;
} ss_cnn_trainer_t;

static uint64_t ss_cnn_train_rand(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* Fisher-Yates shuffle of perm with the trainer's generator. */
static void ss_cnn_shuffle(ss_cnn_trainer_t *t)
{
        for (int i = t->fit.n - 1; i > 0; i--) {
                int j = (int)(ss_cnn_train_rand(&t->shuffle_rng) % (uint64_t)(i + 1));
                int32_t tmp = t->perm[i];
                t->perm[i] = t->perm[j];
                t->perm[j] = tmp;
        }
}

/* Copies the rows perm[i0 .. i0+nb) into the batch buffers. */
static void ss_cnn_gather(ss_cnn_trainer_t *t, int i0, int nb)
{
        int T = t->net->cfg.max_len;
        for (int j = 0; j < nb; j++) {
                int r = t->perm[i0 + j];
                memcpy(t->b_ids + (size_t)j * T, t->fit.ids + (size_t)r * T,
                       (size_t)T * sizeof(int32_t));
                t->b_lens[j] = t->fit.lens[r];
                t->b_labels[j] = t->fit.labels[r];
                if (t->b_soft)
                        memcpy(t->b_soft + (size_t)j * SS_NUM_CLASSES,
                               t->tc->soft + (size_t)r * SS_NUM_CLASSES,
                               SS_NUM_CLASSES * sizeof(float));
        }
}

/* Loss and gradients of the batch just run forward: the balanced cross-entropy, or with a
 * teacher the distillation loss (cnn_distill.h). */
static double ss_cnn_batch_backward(ss_cnn_trainer_t *t, int nb)
{
        const float *cw = t->tc->balanced ? t->cw : NULL;
        if (!t->b_soft) {
                double loss = ss_cnn_loss(t->net, t->b_labels, cw);
                ss_cnn_backward(t->net, t->b_labels, cw);
                return loss;
        }
        double loss =
            ss_distill_loss(t->net->g->dlogits, t->net->a.logits, t->b_soft, t->b_labels, cw, nb,
                            SS_NUM_CLASSES, t->tc->distill_t, t->tc->distill_alpha);
        ss_cnn_backward_logits(t->net);
        return loss;
}

/* One pass over the fit split; returns the mean loss, or -1 on error. */
static double ss_cnn_epoch(ss_cnn_trainer_t *t, int epoch, char *errstr, size_t errstr_size)
{
        int B = t->net->cfg.max_batch, nbatches = (t->fit.n + B - 1) / B;
        ss_progress_t pr;
        char label[96], extra[64];
        const char *pl = t->tc->progress_label;
        snprintf(label, sizeof(label), "%s epoch %d", pl ? pl : "", epoch + 1);
        if (pl)
                ss_progress_init(&pr, label, (uint64_t)nbatches);
        ss_cnn_shuffle(t);
        double sum = 0.0;
        for (int b = 0; b < nbatches; b++) {
                int i0 = b * B, nb = t->fit.n - i0 < B ? t->fit.n - i0 : B;
                ss_cnn_gather(t, i0, nb);
                if (ss_cnn_forward(t->net, t->b_ids, t->b_lens, nb, 1, errstr, errstr_size))
                        return -1.0;
                sum += ss_cnn_batch_backward(t, nb);
                ss_cnn_adam_step(t->net, &t->tc->adam);
                t->steps++;
                if (t->ema) {
                        /* warm-up: the average forgets the initial weights quickly */
                        float d = (float)(1 + t->steps) / (float)(10 + t->steps);
                        ss_cnn_weights_ema(t->ema, t->net, d < t->tc->ema ? d : t->tc->ema);
                }
                if (pl) {
                        snprintf(extra, sizeof(extra), "loss %.4f", sum / (b + 1));
                        ss_progress_update(&pr, (uint64_t)b + 1, extra);
                }
        }
        if (pl)
                ss_progress_done(&pr);
        return nbatches ? sum / nbatches : 0.0;
}

static void ss_cnn_trainer_free(ss_cnn_trainer_t *t)
{
        ss_cnn_destroy(t->net);
        ss_cnn_destroy(t->best);
        ss_cnn_destroy(t->ema);
        ss_cnn_encoded_free(&t->fit);
        ss_cnn_encoded_free(&t->tune);
        free(t->perm);
        free(t->b_ids);
        free(t->b_lens);
        free(t->b_labels);
        free(t->b_soft);
}

/* Records the configuration and the run in the card's hyperparameters. */
static void ss_cnn_hyper_json(const ss_cnn_train_config_t *tc, const ss_cnn_source_t *src,
                              const ss_cnn_train_result_t *res, cJSON *hyper)
{
        const ss_cnn_config_t *c = &tc->net;
        cJSON *w = cJSON_AddArrayToObject(hyper, "widths");
        for (int i = 0; w && i < c->n_widths; i++)
                cJSON_AddItemToArray(w, cJSON_CreateNumber(c->widths[i]));
        cJSON_AddNumberToObject(hyper, "filters", c->n_filters);
        cJSON_AddNumberToObject(hyper, "emb_dim", c->emb_dim);
        cJSON_AddNumberToObject(hyper, "max_len", c->max_len);
        cJSON_AddNumberToObject(hyper, "dropout", c->dropout);
        cJSON_AddStringToObject(hyper, "tokenizer", ss_cnn_tok_mode_name(tc->tok_mode));
        cJSON_AddStringToObject(hyper, "embeddings", tc->embeddings);
        cJSON_AddStringToObject(hyper, "embeddings_init",
                                "all-MiniLM-L6-v2 token embeddings, PCA-projected");
        cJSON_AddNumberToObject(hyper, "embeddings_source_dim", src->D0);
        cJSON_AddNumberToObject(hyper, "embeddings_pca_variance", res->pca_variance);
        cJSON_AddNumberToObject(hyper, "emb_std", tc->emb_std);
        cJSON_AddNumberToObject(hyper, "weight_ema", tc->ema);
        cJSON_AddStringToObject(hyper, "optimizer", "Adam (lazy on embedding rows)");
        cJSON_AddNumberToObject(hyper, "lr", tc->adam.lr);
        cJSON_AddNumberToObject(hyper, "emb_lr", tc->adam.emb_lr);
        cJSON_AddNumberToObject(hyper, "beta1", tc->adam.beta1);
        cJSON_AddNumberToObject(hyper, "beta2", tc->adam.beta2);
        cJSON_AddNumberToObject(hyper, "weight_decay", tc->adam.weight_decay);
        cJSON_AddNumberToObject(hyper, "max_norm", tc->adam.max_norm);
        cJSON_AddNumberToObject(hyper, "batch_size", c->max_batch);
        cJSON_AddNumberToObject(hyper, "epochs_max", tc->epochs);
        cJSON_AddNumberToObject(hyper, "patience", tc->patience);
        cJSON_AddStringToObject(hyper, "class_weight", tc->balanced ? "balanced" : "none");
        cJSON_AddNumberToObject(hyper, "blas_threads", tc->threads);
        cJSON_AddNumberToObject(hyper, "best_epoch", res->best_epoch + 1);
        cJSON_AddNumberToObject(hyper, "epochs_run", res->epochs_run);
        cJSON *log = cJSON_AddArrayToObject(hyper, "epochs");
        for (int e = 0; log && e < res->epochs_run; e++) {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddNumberToObject(r, "epoch", e + 1);
                cJSON_AddNumberToObject(r, "loss", res->log[e].loss);
                cJSON_AddNumberToObject(r, "tune_avgrec", res->log[e].tune_avgrec);
                cJSON_AddNumberToObject(r, "tune_accuracy", res->log[e].tune_accuracy);
                cJSON_AddItemToArray(log, r);
        }
}

ss_err_t ss_cnn_train(const ss_cnn_train_config_t *tc, const ss_dataset_t *fit,
                      const ss_dataset_t *tune, ss_mfile_t *mf, cJSON *hyper,
                      ss_cnn_train_result_t *res, ss_eval_t *tune_eval, char *errstr,
                      size_t errstr_size)
{
        double t0 = ss_time_mono();
        memset(res, 0, sizeof(*res));
        if (fit->n == 0 || tune->n == 0)
                return ss_err_set(errstr, errstr_size, SS_ERR_EMPTY,
                                  "cnn: the fit (%zu) and tune (%zu) splits must both hold tweets "
                                  "(early stopping needs the tune split)",
                                  fit->n, tune->n);
        if (tc->epochs < 1 || tc->epochs > 256 || tc->patience < 1)
                return ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                  "cnn: epochs %d must be in [1, 256] and patience %d >= 1",
                                  tc->epochs, tc->patience);
        int threads_before = openblas_get_num_threads();
        openblas_set_num_threads(tc->threads);
        ss_cnn_source_t src;
        ss_cnn_trainer_t t;
        memset(&t, 0, sizeof(t));
        t.tc = tc;
        ss_cnn_text_t *tx = NULL;
        float *proj = NULL;
        ss_err_t err = ss_cnn_source_open(&src, tc->embeddings, errstr, errstr_size);
        if (err)
                goto out;
        ss_cnn_config_t cfg = tc->net;
        cfg.vocab_size = src.V;
        if (cfg.emb_dim > src.D0) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_CONFIG,
                                 "cnn: emb_dim %d is larger than the %d dimensions of %s",
                                 cfg.emb_dim, src.D0, tc->embeddings);
                goto out;
        }
        tx = ss_cnn_text_new(src.vocab, src.vocab_len, tc->tok_mode, cfg.max_len, errstr,
                             errstr_size);
        if (!tx) {
                err = SS_ERR_FORMAT;
                goto out;
        }
        if (ss_cnn_text_vocab_size(tx) != src.V) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_FORMAT,
                                 "%s: the tokenizer counts %d tokens in section vocab, %d "
                                 "expected",
                                 tc->embeddings, ss_cnn_text_vocab_size(tx), src.V);
                goto out;
        }
        if (!(t.net = ss_cnn_new(&cfg, errstr, errstr_size)) ||
            !(t.best = ss_cnn_new(&cfg, errstr, errstr_size))) {
                err = SS_ERR_NOMEM;
                goto out;
        }
        /* Embedding init: PCA projection of the source, scaled to emb_std. */
        ss_cnn_init_random(t.net, tc->seed);
        proj = malloc((size_t)src.V * cfg.emb_dim * sizeof(float));
        if (!proj || (res->pca_variance =
                          ss_cnn_pca_project(proj, src.emb, src.V, src.D0, cfg.emb_dim)) < 0) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory (PCA)");
                goto out;
        }
        size_t ne = (size_t)src.V * cfg.emb_dim;
        double ss = 0.0;
        for (size_t i = 0; i < ne; i++)
                ss += (double)proj[i] * proj[i];
        float scale = ss > 0.0 ? (float)(tc->emb_std / sqrt(ss / (double)ne)) : 1.0f;
        for (size_t i = 0; i < ne; i++)
                t.net->w.emb[i] = proj[i] * scale;
        if (tc->ema > 0.0f) {
                if (!(t.ema = ss_cnn_new(&cfg, errstr, errstr_size))) {
                        err = SS_ERR_NOMEM;
                        goto out;
                }
                ss_cnn_weights_copy(t.ema, t.net);
        }
        if ((err = ss_cnn_train_begin(t.net)) != SS_OK) {
                ss_err_set(errstr, errstr_size, err, "cnn: out of memory (gradients)");
                goto out;
        }
        /* Data. */
        if ((err = ss_cnn_encode_split(tx, fit, cfg.max_len, &t.fit, errstr, errstr_size)) ||
            (err = ss_cnn_encode_split(tx, tune, cfg.max_len, &t.tune, errstr, errstr_size)))
                goto out;
        t.perm = malloc((size_t)t.fit.n * sizeof(int32_t));
        t.b_ids = malloc((size_t)cfg.max_batch * cfg.max_len * sizeof(int32_t));
        t.b_lens = malloc((size_t)cfg.max_batch * sizeof(int32_t));
        t.b_labels = malloc((size_t)cfg.max_batch * sizeof(int32_t));
        if (tc->soft)
                t.b_soft = malloc((size_t)cfg.max_batch * SS_NUM_CLASSES * sizeof(float));
        if (!t.perm || !t.b_ids || !t.b_lens || !t.b_labels || (tc->soft && !t.b_soft)) {
                err = ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "cnn: out of memory");
                goto out;
        }
        for (int i = 0; i < t.fit.n; i++)
                t.perm[i] = i;
        int64_t counts[SS_NUM_CLASSES] = {0};
        ss_dataset_label_counts(fit, counts);
        for (int c = 0; c < SS_NUM_CLASSES; c++)
                t.cw[c] = counts[c] ? (float)fit->n / (float)(SS_NUM_CLASSES * counts[c]) : 0.0f;
        t.shuffle_rng = (tc->seed * 0x9e3779b97f4a7c15ull) ^ 0x5851f42d4c957f2dull;
        if (!t.shuffle_rng)
                t.shuffle_rng = 1;
        /* Epochs with early stopping on the tune AvgRec. */
        double best = -1.0;
        for (int e = 0; e < tc->epochs; e++) {
                double te = ss_time_mono();
                double loss = ss_cnn_epoch(&t, e, errstr, errstr_size);
                ss_cnn_t *cur = t.ema ? t.ema : t.net;
                ss_eval_t ev;
                if (loss < 0 || (err = ss_cnn_eval_split(cur, &t.tune, &ev, errstr, errstr_size))) {
                        err = err ? err : SS_ERR_INVALID_ARG;
                        goto out;
                }
                res->log[e].loss = loss;
                res->log[e].tune_avgrec = ev.avgrec;
                res->log[e].tune_accuracy = ev.accuracy;
                res->log[e].seconds = ss_time_mono() - te;
                res->epochs_run = e + 1;
                ss_trainlog_metric("loss", loss, e + 1);
                ss_trainlog_metric("tune_avgrec", ev.avgrec, e + 1);
                ss_trainlog_metric("tune_accuracy", ev.accuracy, e + 1);
                ss_log(tc->progress_label ? SS_LOG_INFO : SS_LOG_DEBUG, "cnn",
                       "epoch %d: loss %.4f, tune AvgRec %.4f, accuracy %.4f (%.1f s)", e + 1, loss,
                       ev.avgrec, ev.accuracy, res->log[e].seconds);
                if (ev.avgrec > best) {
                        best = ev.avgrec;
                        res->best_epoch = e;
                        *tune_eval = ev;
                        ss_cnn_weights_copy(t.best, cur);
                } else if (e - res->best_epoch >= tc->patience) {
                        break;
                }
        }
        res->seconds = ss_time_mono() - t0;
        err = ss_cnn_save(t.best, src.vocab, src.vocab_len, tc->tok_mode, mf, errstr, errstr_size);
        if (!err && hyper)
                ss_cnn_hyper_json(tc, &src, res, hyper);
out:
        openblas_set_num_threads(threads_before);
        free(proj);
        ss_cnn_text_destroy(tx);
        ss_cnn_trainer_free(&t);
        ss_mfile_destroy(src.mf);
        return err;
}
