/*
 * pool: scores one batch on several threads.
 *
 * The scorer's thread hands a batch to ss_pool_score(), which cuts it into as
 * many contiguous slices as there are threads, scores the first slice itself
 * on the caller's model and the others on worker threads, each with its own
 * fork of that model (ss_model_fork(): same weights, own scratch), and
 * returns when every slice is done. The results land where one
 * ss_model_score_batch() call over the whole batch would put them, so the
 * caller cannot tell the difference; a batch too small to be worth the
 * hand-over is scored on the caller's thread alone.
 *
 * Workers only run inside ss_pool_score(): between calls they sleep, so the
 * caller may swap the model (ss_pool_set_model()) between batches. With one
 * thread there are no workers and ss_pool_score() is ss_model_score_batch().
 *
 * Not thread-safe: one thread (the scorer's) calls everything.
 */
#ifndef SS_POOL_H
#define SS_POOL_H

#include <stddef.h>

#include "model.h"
#include "ss_err.h"

typedef struct ss_pool ss_pool_t;

#define SS_POOL_MAX_THREADS 64

/*
 * Creates a pool of `threads` scoring threads in all (1..SS_POOL_MAX_THREADS),
 * the caller's included: threads - 1 workers are started. Returns NULL with a
 * message on a bad count or when a thread cannot be started. Caller frees with
 * ss_pool_destroy().
 */
ss_pool_t *ss_pool_new(int threads, char *errstr, size_t errstr_size);

/* Stops the workers and destroys the forks. NULL is allowed. The model set
 * last stays the caller's. */
void ss_pool_destroy(ss_pool_t *p);

/*
 * Scores with m from now on: forks m once per worker. m stays owned by the
 * caller, who must keep it alive until the next ss_pool_set_model() or
 * ss_pool_destroy() (the forks borrow it). All-or-nothing: on error (a fork
 * failed) the previous model and forks stay in place and the error names the
 * cause.
 */
ss_err_t ss_pool_set_model(ss_pool_t *p, ss_model_t *m, char *errstr, size_t errstr_size);

/* Threads in the pool, the caller's included. */
int ss_pool_threads(const ss_pool_t *p);

/*
 * As ss_model_score_batch() on the model set last, over the pool's threads.
 * On error the message names the first failing slice; the outputs of the
 * other slices are written but the caller should treat the batch as failed.
 */
ss_err_t ss_pool_score(ss_pool_t *p, const char *const *texts, const size_t *lens, size_t n,
                       float *probs_out, ss_input_stats_t *stats_out, char *errstr,
                       size_t errstr_size);

#endif /* SS_POOL_H */
