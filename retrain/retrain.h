/*
 * retrain: the retrain worker behind `sentistream retrain`. It consumes RetrainEvents
 * (topics.retrain) in its own consumer group (retrain.group.id) and, for each event, once:
 *
 *   1. skips it when <prefix>retrain:done:<event_id> exists (handled before, by any worker);
 *   2. takes the model's lock (<prefix>retrain:lock:<model>, expiring) and a fencing token;
 *   3. resumes when the registry already holds a version tagged with the event id (a
 *      worker died after registering it): finishes its promotion and publication;
 *   4. otherwise fetches the champion (alias champion), reads the newest fresh labels with
 *      their text from the labels stream, holds out the newest retrain.holdout.share,
 *      trains a challenger on the champion's own training files plus the rest of the fresh
 *      labels (each retrain.fresh.weight times), scores both on the fresh holdout and on the
 *      champion's reference (validation) file, decides by rpolicy.h, logs the decision as an
 *      MLflow run, registers the challenger (alias challenger; tags sentistream.event_id,
 *      sentistream.fencing_token, sentistream.retrain.outcome) and, when it wins and the
 *      fence allows, moves champion and publishes a ModelUpdate;
 *   5. records the outcome under retrain:done:<event_id>, then commits the event's offset.
 *
 * A registry, Redis or Kafka outage leaves the event unrecorded and uncommitted and is
 * retried with a doubling backoff (up to retrain.backoff.max.ms); too few fresh labels wait
 * (retrain.wait.ms) or skip (retrain.few_labels); a training failure, a model without a
 * champion or an undecodable event is recorded, counted and committed. Metrics:
 * sentistream_retrain_events_total{result}, sentistream_retrain_retries_total{reason},
 * sentistream_retrain_labels_without_text_total, sentistream_retrain_fresh_labels,
 * sentistream_retrain_last_duration_seconds, on retrain.metrics.port.
 */
#ifndef SS_RETRAIN_H
#define SS_RETRAIN_H

#include <stddef.h>

#include "ss_config.h"
#include "ss_err.h"

typedef struct ss_retrain ss_retrain_t;

/*
 * A worker for configuration c (borrowed; must outlive the worker). config_dir and
 * overrides[noverrides] ("key=value") are what c was composed from: the challenger's
 * training configuration is composed from the same, plus its data files, so that it is
 * trained as the champion's configuration says. schema_dir: the .avsc files. Connects
 * nothing yet except the metrics endpoint. Returns NULL with the reason in errstr.
 */
ss_retrain_t *ss_retrain_new(const ss_config_t *c, const char *config_dir, int noverrides,
                             char *const *overrides, const char *schema_dir, char *errstr,
                             size_t errstr_size);

/* Consumes and handles events until a stop is requested (ss_stop.h). Returns 0, or 1 when
 * the consumer could not be started (the reason on stderr). */
int ss_retrain_run(ss_retrain_t *w);

void ss_retrain_destroy(ss_retrain_t *w);

#endif /* SS_RETRAIN_H */
