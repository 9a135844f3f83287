/*
 * rupdate: one ModelUpdate out, acknowledged (see rupdate.h). Alias moves are rare, so a
 * producer is made for each and destroyed after the acknowledgement: nothing stays open
 * between promotions, and a broker outage is an error the caller sees and retries.
 */
#include "rupdate.h"

#include <stdio.h>
#include <string.h>

#include "ss_kafka.h"
#include "ss_mlflow.h"
#include "ss_util.h"

static const char *json_str(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

ss_err_t ss_rupdate_publish(const ss_config_t *c, const ss_serde_t *serde, const cJSON *mv,
                            const char *alias, const char *reason, const char *event_id,
                            const ss_model_update_metric_t *metrics, size_t n_metrics,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
        const char *name = json_str(mv, "name"), *version = json_str(mv, "version");
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(mv, "tags");
        const char *sha = ss_mlflow_tag_find(tags, "sentistream.model_sha256");
        const char *inner = ss_mlflow_tag_find(tags, "sentistream.model_version");
        if (!name || !version || !sha)
                return ss_err_set(errstr, errstr_size, SS_ERR_INVALID_ARG,
                                  "model update: the version record lacks %s",
                                  !name      ? "its name"
                                  : !version ? "its version"
                                             : "the sentistream.model_sha256 tag");
        char uri[600];
        snprintf(uri, sizeof(uri), "models:/%s/%s", name, version);
        ss_model_update_t u = {0};
        u.model_name = ss_str_c(name);
        u.version = ss_str_c(version);
        u.alias = ss_str_c(alias);
        u.uri = ss_str_c(uri);
        u.sha256 = ss_str_c(sha);
        u.model_version = ss_str_c(inner ? inner : "");
        u.metrics = metrics;
        u.n_metrics = metrics ? n_metrics : 0;
        u.reason = ss_str_c(reason);
        u.event_id = ss_str_c(event_id);
        u.updated_at_ms = ss_time_now_ms();
        ss_serde_buf_t buf = {0};
        ss_err_t err = ss_serde_model_update_encode(serde, &u, &buf, errstr, errstr_size);
        if (err)
                return err;
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        ss_producer_t *p = conf ? ss_producer_new(conf, NULL, NULL, errstr, errstr_size) : NULL;
        if (!p) {
                ss_serde_buf_free(&buf);
                return conf ? SS_ERR_KAFKA : SS_ERR_CONFIG;
        }
        const char *topic = ss_config_get_str(c, "topics.model_updates");
        err = ss_producer_send(p, topic, name, strlen(name), buf.data, buf.len, 0, NULL, timeout_ms,
                               errstr, errstr_size);
        if (!err)
                err = ss_producer_flush(p, timeout_ms, errstr, errstr_size);
        if (!err && ss_producer_stats(p).acked != 1)
                err = ss_err_set(errstr, errstr_size, SS_ERR_KAFKA,
                                 "model update for %s/%s to %s was not acknowledged: %s", name,
                                 version, topic, rd_kafka_err2str(ss_producer_last_error(p)));
        ss_producer_destroy(p, 0);
        ss_serde_buf_free(&buf);
        return err;
}
