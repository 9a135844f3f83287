/*
 * rupdate: publishing a ModelUpdate (schemas/model_update.avsc) to topics.model_updates,
 * key = registered model name, when an alias moves: by the retrain worker on promotion
 * (reason "retrain", with the event id) and by `sentistream models promote` (reason
 * "rollback" or "manual"). The record is filled from the version record of the registry
 * (its sentistream.model_sha256 and sentistream.model_version tags), so every publisher
 * says the same thing about a version.
 */
#ifndef SS_RUPDATE_H
#define SS_RUPDATE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ss_config.h"
#include "ss_err.h"
#include "ss_serde.h"

/*
 * Builds the ModelUpdate of version record mv (an MLflow ModelVersion object) for alias,
 * encodes it with serde, produces it with a producer made from c's kafka.* keys and waits
 * (up to timeout_ms) for the broker's acknowledgement. event_id may be NULL; metrics may be
 * NULL with n_metrics 0. SS_ERR_INVALID_ARG when mv lacks name, version or the sha256 tag;
 * SS_ERR_KAFKA / SS_ERR_TIMEOUT when it was not acknowledged (the caller retries: a second
 * copy of the same update is harmless, readers act on the version).
 */
ss_err_t ss_rupdate_publish(const ss_config_t *c, const ss_serde_t *serde, const cJSON *mv,
                            const char *alias, const char *reason, const char *event_id,
                            const ss_model_update_metric_t *metrics, size_t n_metrics,
                            int timeout_ms, char *errstr, size_t errstr_size);

#endif /* SS_RUPDATE_H */
