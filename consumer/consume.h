/*
 * consume: the streaming scorer behind `sentistream consume`.
 *
 * Consumes topics.input in a consumer group (cooperative-sticky), decodes
 * each tweet (Avro Confluent framing, or JSON with consumer.input.format=json),
 * scores a batch with one ss_model_score_batch() call, produces one Prediction
 * per tweet to topics.output (key = tweet id) and one DeadLetter per input it
 * cannot score to topics.dlq, at least once: an input offset is committed
 * only after its output was acknowledged (see sink.h).
 *
 * Signals (the caller installs handlers that call these, which are
 * async-signal-safe): stop finishes the batch in hand, waits for its outputs,
 * commits and returns; reload loads the model file again between batches
 * (a model that fails to load is refused and the old one keeps serving).
 */
#ifndef SS_CONSUME_H
#define SS_CONSUME_H

#include <stddef.h>

#include "ss_config.h"
#include "ss_err.h"
#include "ss_metrics.h"

typedef struct ss_consume ss_consume_t;

/*
 * Sets up the scorer from the configuration: loads the model (unless
 * consumer.mode=passthrough) and the schemas from schema_dir, creates the
 * consumer, the producer and the metrics endpoint (metrics.port > 0).
 * Returns NULL with the reason in errstr. Free with ss_consume_destroy().
 */
ss_consume_t *ss_consume_new(const ss_config_t *c, const char *schema_dir, char *errstr,
                             size_t errstr_size);

/*
 * Runs until ss_stop_request() (ss_stop.h) or a fatal Kafka error. Returns SS_OK
 * after a clean stop (everything acknowledged was committed), otherwise the
 * error with the reason in errstr.
 */
ss_err_t ss_consume_run(ss_consume_t *s, char *errstr, size_t errstr_size);

/* The scorer's metrics registry (owned by s), e.g. for tests. */
ss_metrics_t *ss_consume_metrics(ss_consume_t *s);

/* Closes the consumer (if running ended without it) and frees everything. NULL is allowed. */
void ss_consume_destroy(ss_consume_t *s);

/* Async-signal-safe request to the running scorer of this process to reload its model.
 * Stopping is the process's stop request (ss_stop.h), consumed by the run it stops. */
void ss_consume_request_reload(void);

#endif /* SS_CONSUME_H */
