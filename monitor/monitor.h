/*
 * monitor: the `sentistream monitor` process. Reads predictions from Kafka
 * (topics.output) and labels from Redis (<prefix>labels), runs them through
 * the processing core (mcore.h), produces retraining events to topics.retrain
 * and keeps its state in Redis (mstate.h).
 *
 * Delivery and restart guarantees:
 *   - an event is produced keyed by model name, and only after librdkafka
 *     acknowledged it is its id recorded in <prefix>monitor:sent:<name>;
 *     after a restart the recorded ids are loaded and an evaluation that fires
 *     an already-sent id again does not produce it (ids are deterministic:
 *     "<version>:<window id>"). A crash between the acknowledgement and the
 *     record can produce an event twice; consumers deduplicate on event_id.
 *   - every monitor.snapshot.interval.ms, when no event is waiting for its
 *     acknowledgement, the whole state (windows, join, triggers, counters),
 *     the next offset of every consumed partition and the labels stream
 *     position are written to Redis in one SET; Kafka offsets are committed
 *     only after that succeeded. On start the snapshot is loaded and the
 *     assigned partitions are positioned at its offsets, so no prediction is
 *     counted twice or lost between the snapshot and the crash.
 *   - Redis unreachable: consumption and evaluations go on, labels wait,
 *     snapshots and event records wait, redis_up is 0; reconnection with
 *     backoff. At start the monitor waits for Redis (it needs the snapshot).
 *   - Kafka unreachable: librdkafka reconnects; events stay queued and are
 *     re-sent after a failed delivery.
 * Cards: monitor.card is resolved again every 10 s; a card file not seen
 * before (a model deployed while the monitor runs, e.g. into a directory named
 * by monitor.card) is loaded and its version monitored from then on; until
 * then its predictions count as unknown versions. A newer version (by the
 * card's created_at) resets its model's trigger.
 * One monitor per consumer group: a second one in the same group would split
 * the partitions and each would see part of the stream.
 */
#ifndef SS_MONITOR_H
#define SS_MONITOR_H

#include <signal.h>
#include <stddef.h>

#include "ss_config.h"
#include "ss_err.h"

typedef struct ss_monitor ss_monitor_t;

/*
 * Loads the cards (monitor.card, see the key's doc), the schemas from
 * schema_dir, connects to Kafka and Redis. Returns NULL with the reason in
 * errstr. c must outlive the monitor. Caller frees with ss_monitor_destroy().
 */
ss_monitor_t *ss_monitor_new(const ss_config_t *c, const char *schema_dir, char *errstr,
                             size_t errstr_size);

/* Runs until *stop becomes non-zero (set it from a signal handler), then saves a final
 * snapshot and leaves the group. Returns SS_OK or the reason it could not go on. */
ss_err_t ss_monitor_run(ss_monitor_t *m, volatile sig_atomic_t *stop, char *errstr,
                        size_t errstr_size);

void ss_monitor_destroy(ss_monitor_t *m);

/*
 * Fetches the model card of registry version name/version (e.g. from tracking.uri into
 * monitor.model.cache_dir) and writes the local card file's path into card_path. Called on
 * the monitor's thread, for a model update naming a version without a card or a prediction
 * of "<card version>@NAME/VERSION" without one. The monitor itself holds no registry client:
 * the caller installs one.
 */
typedef ss_err_t ss_monitor_card_fetch_fn(void *opaque, const char *name, const char *version,
                                          char *card_path, size_t card_path_size, char *errstr,
                                          size_t errstr_size);
/* Installs the fetcher (NULL: registry versions without a card stay unknown). */
void ss_monitor_set_card_fetch(ss_monitor_t *m, ss_monitor_card_fetch_fn *fn, void *opaque);

/*
 * The model card paths named by the configuration: monitor.card split at
 * commas, directories expanded to their *.card.json files (sorted); when
 * monitor.card is empty, the card beside consumer.model.path (or model.out):
 * "<path without .ssm>.card.json", else "<path>.card.json". Returns the count
 * (>= 1) and a NULL-terminated array in *paths (caller frees each and the
 * array), or -1 with the reason in errstr.
 */
int ss_monitor_card_paths(const ss_config_t *c, char ***paths, char *errstr, size_t errstr_size);

#endif /* SS_MONITOR_H */
