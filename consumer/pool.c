/*
 * pool: batches scored on worker threads (see pool.h).
 *
 * Hand-over: ss_pool_start() publishes the batch (pointers and slice count)
 * under the mutex, bumps a generation number and broadcasts `go`; each worker
 * that sees a new generation scores its slice, stores its result, message and
 * time in its own slot, and the last one to finish signals `done`, which
 * ss_pool_wait() waits for. A generation number rather than a flag means a
 * worker can never miss a batch or take one twice. The slices' outputs are
 * disjoint rows of the caller's arrays, so the workers share nothing else;
 * the mutex hand-over orders their writes before the caller's reads.
 *
 * Slices are contiguous and near-equal, at least SS_POOL_MIN_SLICE texts each,
 * so a small batch wakes fewer workers (a wake-up costs a few µs, a tweet ~4 µs
 * with the LR model). Without workers the caller's thread scores at start.
 */
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ss_util.h"

#define SS_POOL_MIN_SLICE 32

typedef struct ss_worker {
        ss_pool_t *pool;
        int index; /* slice index 0.. */
        pthread_t tid;
        ss_model_t *model; /* this worker's fork, or NULL before a model is set */
        ss_err_t err;      /* result of its last slice */
        double seconds;    /* time its last slice took */
        char errstr[512];
} ss_worker_t;

struct ss_pool {
        int threads;       /* caller + workers */
        int n_workers;     /* threads - 1 */
        ss_worker_t *w;    /* [n_workers] */
        int started;       /* workers started (all of them, unless ss_pool_new failed) */
        ss_model_t *model; /* the caller's model (not owned) */
        pthread_mutex_t mu;
        pthread_cond_t go, done;
        unsigned long gen; /* bumped once per batch handed over */
        int pending;       /* workers still scoring the current batch */
        int quit;
        /* the current batch (valid from start to wait) */
        const char *const *texts;
        const size_t *lens;
        float *probs;
        ss_input_stats_t *stats;
        size_t n, slices;
        int inline_batch;    /* the current batch was scored at start, on the caller's thread */
        ss_err_t inline_err; /* its result */
        double inline_seconds;
        char inline_errstr[512];
};

/* Scores slice k of the current batch with m; returns the result, *seconds its time. */
static ss_err_t ss_pool_score_slice(ss_model_t *m, const ss_pool_t *p, size_t k, double *seconds,
                                    char *errstr, size_t errstr_size)
{
        size_t lo = p->n * k / p->slices, hi = p->n * (k + 1) / p->slices;
        double t0 = ss_time_mono();
        ss_err_t err = ss_model_score_batch(m, p->texts + lo, p->lens + lo, hi - lo,
                                            p->probs + lo * SS_NUM_CLASSES,
                                            p->stats ? p->stats + lo : NULL, errstr, errstr_size);
        *seconds = ss_time_mono() - t0;
        return err;
}

static void *ss_pool_worker_main(void *arg)
{
        ss_worker_t *w = arg;
        ss_pool_t *p = w->pool;
        pthread_mutex_lock(&p->mu);
        /* Generation 0 is the one before any batch: a worker that starts late (after the first
         * ss_pool_start()) must still see that batch as new, so it never reads p->gen here. */
        unsigned long seen = 0;
        for (;;) {
                while (p->gen == seen && !p->quit)
                        pthread_cond_wait(&p->go, &p->mu);
                if (p->quit)
                        break;
                seen = p->gen;
                if ((size_t)w->index >= p->slices)
                        continue; /* a small batch: not needed this time */
                pthread_mutex_unlock(&p->mu);
                w->err = ss_pool_score_slice(w->model, p, (size_t)w->index, &w->seconds, w->errstr,
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
        p->n_workers = threads - 1;
        p->w = w;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->go, NULL);
        pthread_cond_init(&p->done, NULL);
        for (int i = 0; i < p->n_workers; i++) {
                w[i].pool = p;
                w[i].index = i;
                int rc = pthread_create(&w[i].tid, NULL, ss_pool_worker_main, &w[i]);
                if (rc) {
                        ss_err_set(errstr, errstr_size, SS_ERR_IO,
                                   "scoring pool: starting worker %d of %d failed (error %d)",
                                   i + 1, p->n_workers, rc);
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
        for (int i = 0; i < p->n_workers; i++)
                ss_model_destroy(p->w[i].model);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->mu);
        free(p->w);
        free(p);
}

ss_err_t ss_pool_set_model(ss_pool_t *p, ss_model_t *m, char *errstr, size_t errstr_size)
{
        ss_model_t *forks[SS_POOL_MAX_THREADS];
        for (int i = 0; i < p->n_workers; i++) {
                char err[512];
                forks[i] = ss_model_fork(m, err, sizeof(err));
                if (!forks[i]) {
                        for (int j = 0; j < i; j++)
                                ss_model_destroy(forks[j]);
                        return ss_err_set(errstr, errstr_size, SS_ERR_NOMEM,
                                          "model for scoring worker %d of %d: %s", i + 1,
                                          p->n_workers, err);
                }
        }
        for (int i = 0; i < p->n_workers; i++) { /* workers are asleep between batches */
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

void ss_pool_start(ss_pool_t *p, const char *const *texts, const size_t *lens, size_t n,
                   float *probs_out, ss_input_stats_t *stats_out)
{
        size_t slices = 0; /* 0: scored here, now (no workers, no model or no texts) */
        if (p->model && p->n_workers > 0) {
                slices = (n + SS_POOL_MIN_SLICE - 1) / SS_POOL_MIN_SLICE;
                if (slices > (size_t)p->n_workers)
                        slices = (size_t)p->n_workers;
        }
        pthread_mutex_lock(&p->mu);
        p->texts = texts;
        p->lens = lens;
        p->probs = probs_out;
        p->stats = stats_out;
        p->n = n;
        p->slices = slices;
        p->pending = (int)slices;
        p->inline_batch = slices == 0;
        if (slices > 0) {
                p->gen++;
                pthread_cond_broadcast(&p->go);
        }
        pthread_mutex_unlock(&p->mu);
        if (!p->inline_batch)
                return;
        p->inline_seconds = 0;
        p->inline_err = SS_OK;
        if (!p->model) {
                p->inline_err = ss_err_set(p->inline_errstr, sizeof(p->inline_errstr),
                                           SS_ERR_INVALID_ARG, "scoring pool: no model set");
        } else if (n > 0) {
                p->slices = 1;
                p->inline_err = ss_pool_score_slice(p->model, p, 0, &p->inline_seconds,
                                                    p->inline_errstr, sizeof(p->inline_errstr));
        }
}

ss_err_t ss_pool_wait(ss_pool_t *p, double *seconds, char *errstr, size_t errstr_size)
{
        if (p->inline_batch) {
                if (seconds)
                        *seconds = p->inline_seconds;
                if (p->inline_err)
                        return ss_err_set(errstr, errstr_size, p->inline_err, "%s",
                                          p->inline_errstr);
                return SS_OK;
        }
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0)
                pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
        ss_err_t err = SS_OK;
        double slowest = 0;
        for (size_t k = 0; k < p->slices; k++) {
                const ss_worker_t *w = &p->w[k];
                slowest = w->seconds > slowest ? w->seconds : slowest;
                if (w->err && !err)
                        err = ss_err_set(errstr, errstr_size, w->err, "%s", w->errstr);
        }
        if (seconds)
                *seconds = slowest;
        return err;
}

int ss_pool_done(ss_pool_t *p)
{
        if (p->inline_batch)
                return 1;
        pthread_mutex_lock(&p->mu);
        int done = p->pending == 0;
        pthread_mutex_unlock(&p->mu);
        return done;
}
