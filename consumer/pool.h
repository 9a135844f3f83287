/*
 * pool: scores batches on worker threads while the caller does other work.
 *
 * ss_pool_start() hands a batch to the workers and returns at once; the
 * caller goes on (the scorer emits the previous batch and collects the next)
 * and later collects the result with ss_pool_wait(). The batch is cut into
 * contiguous, near-equal slices, one per worker, each scored on the worker's
 * own fork of the model (ss_model_fork(): same weights, own scratch); the
 * outputs land where one ss_model_score_batch() call over the whole batch
 * would put them, bit for bit. A batch too small to be worth splitting uses
 * fewer workers.
 *
 * With one thread there are no workers: ss_pool_start() scores the batch on
 * the caller's model before returning, and ss_pool_wait() only reports.
 *
 * One batch at a time: every ss_pool_start() is followed by ss_pool_wait()
 * before the next start or a model swap. While a batch is out the workers
 * never touch the caller's model itself, so the caller may keep using it.
 * Not thread-safe otherwise: one thread (the scorer's) calls everything.
 */
#ifndef SS_POOL_H
#define SS_POOL_H

#include <stddef.h>

#include "model.h"
#include "ss_err.h"

typedef struct ss_pool ss_pool_t;

#define SS_POOL_MAX_THREADS 64

/*
 * Creates a pool of `threads` threads in all (1..SS_POOL_MAX_THREADS), the
 * caller's included: threads - 1 workers are started and score every batch. Returns NULL with a
 * message on a bad count or when a thread cannot be started. Caller frees with
 * ss_pool_destroy().
 */
ss_pool_t *ss_pool_new(int threads, char *errstr, size_t errstr_size);

/* Stops the workers and destroys the forks. NULL is allowed. The model set
 * last stays the caller's. */
void ss_pool_destroy(ss_pool_t *p);

/*
 * Scores with m from now on: forks m once per worker. Not while a batch is
 * out. m stays owned by the caller, who must keep it alive until the next
 * ss_pool_set_model() or ss_pool_destroy() (the forks borrow it). All-or-nothing: on error (a fork
 * failed) the previous model and forks stay in place and the error names the
 * cause.
 */
ss_err_t ss_pool_set_model(ss_pool_t *p, ss_model_t *m, char *errstr, size_t errstr_size);

/* Threads in the pool, the caller's included. */
int ss_pool_threads(const ss_pool_t *p);

/*
 * Starts scoring texts[0..n) with the model set last (see ss_model_score_batch()
 * for the arguments). texts, lens, probs_out and stats_out must stay valid and
 * untouched until ss_pool_wait(). With workers it returns at once.
 */
void ss_pool_start(ss_pool_t *p, const char *const *texts, const size_t *lens, size_t n,
                   float *probs_out, ss_input_stats_t *stats_out);

/*
 * Waits for the batch started last and returns its result: SS_OK, or the
 * error of the first failing slice with its message (the other slices'
 * outputs are written; the caller should treat the batch as failed).
 * *seconds (if non-NULL) gets the time the slowest slice took to score.
 */
ss_err_t ss_pool_wait(ss_pool_t *p, double *seconds, char *errstr, size_t errstr_size);

/*
 * 1 when the batch started last is scored (ss_pool_wait() would return at
 * once), 0 while a worker still scores it. Does not wait.
 */
int ss_pool_done(ss_pool_t *p);

#endif /* SS_POOL_H */
