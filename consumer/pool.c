/*
 * pool: one batch scored on several threads (see pool.h).
 *
 * Hand-over: the caller publishes the batch (pointers and slice bounds) under
 * the mutex, bumps a generation number and broadcasts `go`; each worker that
 * sees a new generation scores its slice, stores its result code and message
 * in its own slot, and the last one to finish signals `done`. The caller
 * scores slice 0 meanwhile, then waits for `done`. A generation number rather
 * than a flag means a worker can never miss a batch or take one twice. The
 * outputs of a slice are disjoint rows of the caller's arrays, so the workers
 * share nothing else; the mutex hand-over orders their writes before the
 * caller's reads.
 *
 * Slices are contiguous and near-equal; a slice has at least SS_POOL_MIN_SLICE
 * texts, so a small batch uses fewer threads (a wake-up costs a few µs, a
 * tweet ~4 µs with the LR model).
 */
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SS_POOL_MIN_SLICE 32

typedef struct ss_worker {
        ss_pool_t *pool;
        int index; /* slice index, 1.. (the caller has slice 0) */
        pthread_t tid;
        ss_model_t *model; /* this worker's fork, or NULL before a model is set */
        ss_err_t err;      /* result of the last slice */
        char errstr[512];
} ss_worker_t;

struct ss_pool {
        int threads;       /* caller + workers */
        ss_worker_t *w;    /* [threads - 1] */
        int started;       /* workers started (all of them, unless ss_pool_new failed) */
        ss_model_t *model; /* the caller's model (not owned) */
        pthread_mutex_t mu;
        pthread_cond_t go, done;
        unsigned long gen; /* bumped once per batch handed over */
        int pending;       /* workers still scoring the current batch */
        int quit;
        /* the current batch (valid while pending > 0) */
        const char *const *texts;
        const size_t *lens;
        float *probs;
        ss_input_stats_t *stats;
        size_t n, slices;
};

/* Bounds of slice k of n texts cut into `slices` near-equal parts. */
static void ss_pool_slice(size_t n, size_t slices, size_t k, size_t *lo, size_t *hi)
{
        *lo = n * k / slices;
        *hi = n * (k + 1) / slices;
}

static ss_err_t ss_pool_score_slice(ss_model_t *m, const ss_pool_t *p, size_t k, char *errstr,
                                    size_t errstr_size)
{
        size_t lo, hi;
        ss_pool_slice(p->n, p->slices, k, &lo, &hi);
        return ss_model_score_batch(m, p->texts + lo, p->lens + lo, hi - lo,
                                    p->probs + lo * SS_NUM_CLASSES, p->stats ? p->stats + lo : NULL,
                                    errstr, errstr_size);
}

static void *ss_pool_worker_main(void *arg)
{
        ss_worker_t *w = arg;
        ss_pool_t *p = w->pool;
        pthread_mutex_lock(&p->mu);
        unsigned long seen = p->gen;
        for (;;) {
                while (p->gen == seen && !p->quit)
                        pthread_cond_wait(&p->go, &p->mu);
                if (p->quit)
                        break;
                seen = p->gen;
                if ((size_t)w->index >= p->slices)
                        continue; /* a small batch: not needed this time */
                pthread_mutex_unlock(&p->mu);
                w->err = ss_pool_score_slice(w->model, p, (size_t)w->index, w->errstr,
                                             sizeof(w->errstr));
                pthread_mutex_lock(&p->mu);
                if (--p->pending == 0)
                        pthread_cond_signal(&p->done);
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

ss_pool_t *ss_pool_new(int threads, char *errstr, size_t errstr_size)
{
        if (threads < 1 || threads > SS_POOL_MAX_THREADS) {
                ss_err_set(errstr, errstr_size, SS_ERR_CONFIG, "scoring threads %d not in 1..%d",
                           threads, SS_POOL_MAX_THREADS);
                return NULL;
        }
        ss_pool_t *p = calloc(1, sizeof(*p));
        ss_worker_t *w = threads > 1 ? calloc((size_t)threads - 1, sizeof(*w)) : NULL;
        if (!p || (threads > 1 && !w)) {
                free(p);
                free(w);
                ss_err_set(errstr, errstr_size, SS_ERR_NOMEM, "scoring pool: out of memory");
                return NULL;
        }
        p->threads = threads;
        p->w = w;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->go, NULL);
        pthread_cond_init(&p->done, NULL);
        for (int i = 0; i < threads - 1; i++) {
                w[i].pool = p;
                w[i].index = i + 1;
                int rc = pthread_create(&w[i].tid, NULL, ss_pool_worker_main, &w[i]);
                if (rc) {
                        ss_err_set(errstr, errstr_size, SS_ERR_IO,
                                   "scoring pool: starting thread %d of %d failed (error %d)",
                                   i + 2, threads, rc);
                        ss_pool_destroy(p);
                        return NULL;
                }
                p->started++;
        }
        return p;
}

void ss_pool_destroy(ss_pool_t *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->mu);
        p->quit = 1;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->started; i++)
                pthread_join(p->w[i].tid, NULL);
        for (int i = 0; i < p->threads - 1; i++)
                ss_model_destroy(p->w[i].model);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->mu);
        free(p->w);
        free(p);
}

ss_err_t ss_pool_set_model(ss_pool_t *p, ss_model_t *m, char *errstr, size_t errstr_size)
{
        int nw = p->threads - 1;
        ss_model_t *forks[SS_POOL_MAX_THREADS];
        for (int i = 0; i < nw; i++) {
                char err[512];
                forks[i] = ss_model_fork(m, err, sizeof(err));
                if (!forks[i]) {
                        for (int j = 0; j < i; j++)
                                ss_model_destroy(forks[j]);
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "model for scoring thread %d of %d: %s", i + 2,
                                          p->threads, err);
                }
        }
        for (int i = 0; i < nw; i++) { /* workers are asleep between batches */
                ss_model_destroy(p->w[i].model);
                p->w[i].model = forks[i];
        }
        p->model = m;
        return SS_OK;
}

int ss_pool_threads(const ss_pool_t *p)
{
        return p->threads;
}

ss_err_t ss_pool_score(ss_pool_t *p, const char *const *texts, const size_t *lens, size_t n,
                       float *probs_out, ss_input_stats_t *stats_out, char *errstr,
                       size_t errstr_size)
{
        if (!p->model)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "scoring pool: no model set");
        size_t slices = (n + SS_POOL_MIN_SLICE - 1) / SS_POOL_MIN_SLICE;
        if (slices > (size_t)p->threads)
                slices = (size_t)p->threads;
        if (slices <= 1)
                return ss_model_score_batch(p->model, texts, lens, n, probs_out, stats_out, errstr,
                                            errstr_size);
        pthread_mutex_lock(&p->mu);
        p->texts = texts;
        p->lens = lens;
        p->probs = probs_out;
        p->stats = stats_out;
        p->n = n;
        p->slices = slices;
        p->pending = (int)slices - 1;
        p->gen++;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);

        ss_err_t err = ss_pool_score_slice(p->model, p, 0, errstr, errstr_size);

        pthread_mutex_lock(&p->mu);
        while (p->pending > 0)
                pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
        for (size_t k = 1; k < slices && !err; k++) {
                const ss_worker_t *w = &p->w[k - 1];
                if (w->err)
                        err = ss_err_set(errstr, errstr_size, w->err, "%s", w->errstr);
        }
        return err;
}
