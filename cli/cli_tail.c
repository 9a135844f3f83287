/*
 * cli_tail: prints the messages of a project topic as JSON lines, decoded by
 * their schema id (Tweet, Prediction, DeadLetter, RetrainEvent, ModelUpdate; JSON tweets
 * pass through); `sentistream tail` and `sentistream monitor events` use it.
 *
 * It reads from the beginning of every partition in a throwaway consumer
 * group that never commits, and stops at the end of the topic, after max
 * messages, or after timeout_s seconds. A message that does not decode is
 * printed as {"error": ..., "message": ...} with its position: nothing is
 * skipped silently.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "ss_kafka.h"
#include "ss_serde.h"
#include "ss_util.h"

typedef struct ss_tail {
        const ss_config_t *c;
        ss_serde_t *serde;
        ss_serde_ids_t ids;
        ss_tweet_t tweet;
        ss_prediction_t pred;
        ss_dead_letter_t dead;
        ss_retrain_event_t event;
        ss_model_update_t update;
        long long printed, bad;
} ss_tail_t;

static void ss_json_add_str(cJSON *o, const char *name, ss_str_t s)
{
        if (!s.ptr) {
                cJSON_AddNullToObject(o, name);
                return;
        }
        char *copy = strndup(s.ptr, s.len);
        cJSON_AddStringToObject(o, name, copy ? copy : "");
        free(copy);
}

static void ss_tail_add_prediction(cJSON *o, const ss_prediction_t *p)
{
        ss_json_add_str(o, "tweet_id", p->tweet_id);
        cJSON_AddStringToObject(o, "label", ss_label_name(p->label));
        cJSON_AddNumberToObject(o, "prob_negative", p->probs[SS_LABEL_NEGATIVE]);
        cJSON_AddNumberToObject(o, "prob_neutral", p->probs[SS_LABEL_NEUTRAL]);
        cJSON_AddNumberToObject(o, "prob_positive", p->probs[SS_LABEL_POSITIVE]);
        ss_json_add_str(o, "model_name", p->model_name);
        ss_json_add_str(o, "model_version", p->model_version);
        cJSON_AddNumberToObject(o, "created_at", (double)p->created_at);
        cJSON_AddNumberToObject(o, "scored_at", (double)p->scored_at);
        if (p->has_input_stats) {
                cJSON *s = cJSON_AddObjectToObject(o, "input_stats");
                cJSON_AddNumberToObject(s, "n_tokens", p->input_stats.n_tokens);
                cJSON_AddNumberToObject(s, "unk_share", p->input_stats.unk_share);
                cJSON_AddBoolToObject(s, "has_url", p->input_stats.has_url);
                cJSON_AddBoolToObject(s, "has_mention", p->input_stats.has_mention);
                cJSON_AddBoolToObject(s, "has_emoji", p->input_stats.has_emoji);
        } else {
                cJSON_AddNullToObject(o, "input_stats");
        }
}

static void ss_tail_add_tweet(cJSON *o, const ss_tweet_t *t)
{
        ss_json_add_str(o, "id", t->id);
        ss_json_add_str(o, "text", t->text);
        cJSON_AddNumberToObject(o, "created_at", (double)t->created_at);
        ss_json_add_str(o, "lang", t->lang);
        ss_json_add_str(o, "user", t->user);
}

static void ss_tail_add_dead_letter(cJSON *o, const ss_dead_letter_t *d)
{
        ss_json_add_str(o, "source_topic", d->source_topic);
        cJSON_AddNumberToObject(o, "partition", d->partition);
        cJSON_AddNumberToObject(o, "offset", (double)d->offset);
        ss_json_add_str(o, "error_code", d->error_code);
        ss_json_add_str(o, "error_message", d->error_message);
        cJSON_AddNumberToObject(o, "raw_value_bytes", (double)d->raw_value.len);
        cJSON_AddNumberToObject(o, "failed_at", (double)d->failed_at);
}

void ss_cli_event_json(cJSON *o, const ss_retrain_event_t *e)
{
        ss_json_add_str(o, "event_id", e->event_id);
        ss_json_add_str(o, "model_name", e->model_name);
        ss_json_add_str(o, "model_version", e->model_version);
        cJSON *reasons = cJSON_AddArrayToObject(o, "reasons");
        for (size_t i = 0; i < e->n_reasons; i++) {
                cJSON *r = cJSON_CreateObject();
                ss_json_add_str(r, "metric", e->reasons[i].metric);
                cJSON_AddNumberToObject(r, "value", e->reasons[i].value);
                cJSON_AddNumberToObject(r, "threshold", e->reasons[i].threshold);
                if (e->reasons[i].has_critical_value)
                        cJSON_AddNumberToObject(r, "critical_value", e->reasons[i].critical_value);
                else
                        cJSON_AddNullToObject(r, "critical_value");
                ss_json_add_str(r, "family", e->reasons[i].family);
                ss_json_add_str(r, "statistic", e->reasons[i].statistic);
                cJSON_AddNumberToObject(r, "window_n", (double)e->reasons[i].window_n);
                cJSON_AddNumberToObject(r, "reference_n", (double)e->reasons[i].reference_n);
                cJSON_AddItemToArray(reasons, r);
        }
        cJSON *metrics = cJSON_AddArrayToObject(o, "metrics");
        for (size_t i = 0; i < e->n_metrics; i++) {
                cJSON *x = cJSON_CreateObject();
                ss_json_add_str(x, "name", e->metrics[i].name);
                cJSON_AddNumberToObject(x, "value", e->metrics[i].value);
                cJSON_AddNumberToObject(x, "n", (double)e->metrics[i].n);
                cJSON_AddNumberToObject(x, "reference_n", (double)e->metrics[i].reference_n);
                cJSON_AddItemToArray(metrics, x);
        }
        cJSON_AddNumberToObject(o, "window_start", (double)e->window_start);
        cJSON_AddNumberToObject(o, "window_end", (double)e->window_end);
        cJSON_AddNumberToObject(o, "triggered_at", (double)e->triggered_at);
}

static void ss_tail_add_update(cJSON *o, const ss_model_update_t *u)
{
        ss_json_add_str(o, "model_name", u->model_name);
        ss_json_add_str(o, "version", u->version);
        ss_json_add_str(o, "alias", u->alias);
        ss_json_add_str(o, "uri", u->uri);
        ss_json_add_str(o, "sha256", u->sha256);
        ss_json_add_str(o, "model_version", u->model_version);
        cJSON *m = cJSON_AddObjectToObject(o, "metrics");
        for (size_t i = 0; i < u->n_metrics; i++) {
                char *k = strndup(u->metrics[i].name.ptr, u->metrics[i].name.len);
                cJSON_AddNumberToObject(m, k ? k : "", u->metrics[i].value);
                free(k);
        }
        ss_json_add_str(o, "reason", u->reason);
        ss_json_add_str(o, "event_id", u->event_id);
        cJSON_AddNumberToObject(o, "updated_at", (double)u->updated_at_ms);
}

/* Decodes one message into o by its schema id (or as a JSON tweet). Returns the error. */
static ss_err_t ss_tail_decode(ss_tail_t *t, const rd_kafka_message_t *m, cJSON *o, char *err,
                               size_t errsize)
{
        if (m->len > 0 && ((const char *)m->payload)[0] == '{') {
                ss_err_t e = ss_serde_tweet_decode_json(t->serde, m->payload, m->len, 0, &t->tweet,
                                                        err, errsize);
                if (!e) {
                        cJSON_AddStringToObject(o, "record", "Tweet(json)");
                        ss_tail_add_tweet(o, &t->tweet);
                }
                return e;
        }
        int32_t id;
        ss_err_t e = ss_serde_schema_id_peek(m->payload, m->len, &id, err, errsize);
        if (e)
                return e;
        if (id == t->ids.prediction) {
                if (!(e = ss_serde_prediction_decode(t->serde, m->payload, m->len, &t->pred, err,
                                                     errsize))) {
                        cJSON_AddStringToObject(o, "record", "Prediction");
                        ss_tail_add_prediction(o, &t->pred);
                }
        } else if (id == t->ids.tweet) {
                if (!(e = ss_serde_tweet_decode(t->serde, m->payload, m->len, &t->tweet, err,
                                                errsize))) {
                        cJSON_AddStringToObject(o, "record", "Tweet");
                        ss_tail_add_tweet(o, &t->tweet);
                }
        } else if (id == t->ids.dead_letter) {
                if (!(e = ss_serde_dead_letter_decode(t->serde, m->payload, m->len, &t->dead, err,
                                                      errsize))) {
                        cJSON_AddStringToObject(o, "record", "DeadLetter");
                        ss_tail_add_dead_letter(o, &t->dead);
                }
        } else if (id == t->ids.retrain_event) {
                if (!(e = ss_serde_retrain_event_decode(t->serde, m->payload, m->len, &t->event,
                                                        err, errsize))) {
                        cJSON_AddStringToObject(o, "record", "RetrainEvent");
                        ss_cli_event_json(o, &t->event);
                }
        } else if (id == t->ids.model_update) {
                if (!(e = ss_serde_model_update_decode(t->serde, m->payload, m->len, &t->update,
                                                       err, errsize))) {
                        cJSON_AddStringToObject(o, "record", "ModelUpdate");
                        ss_tail_add_update(o, &t->update);
                }
        } else {
                e = ss_err_set(err, errsize, SS_ERR_UNSUPPORTED, "unknown schema id %d", (int)id);
        }
        return e;
}

/* Prints one message as a JSON line. */
static void ss_tail_print(ss_tail_t *t, const rd_kafka_message_t *m)
{
        char err[512];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic", rd_kafka_topic_name(m->rkt));
        cJSON_AddNumberToObject(o, "partition", m->partition);
        cJSON_AddNumberToObject(o, "offset", (double)m->offset);
        ss_json_add_str(o, "key", (ss_str_t){m->key, m->key_len});
        ss_err_t e = ss_tail_decode(t, m, o, err, sizeof(err));
        if (e) {
                cJSON_AddStringToObject(o, "error", ss_err2name(e));
                cJSON_AddStringToObject(o, "message", err);
                t->bad++;
        }
        char *js = cJSON_PrintUnformatted(o);
        if (js)
                puts(js);
        free(js);
        cJSON_Delete(o);
        t->printed++;
}

/* True when every assigned partition has reported its end. */
static int ss_tail_at_end(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *eof)
{
        rd_kafka_topic_partition_list_t *a = NULL;
        if (rd_kafka_assignment(rk, &a) || !a)
                return 0;
        int done = a->cnt > 0;
        for (int i = 0; done && i < a->cnt; i++)
                done = rd_kafka_topic_partition_list_find(eof, a->elems[i].topic,
                                                          a->elems[i].partition) != NULL;
        rd_kafka_topic_partition_list_destroy(a);
        return done;
}

static rd_kafka_t *ss_tail_consumer_new(const ss_config_t *c, const char *topic)
{
        char err[512], group[96];
        snprintf(group, sizeof(group), "sentistream-tail-%d-%lld", (int)getpid(),
                 (long long)ss_time_now_ms());
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, group, err, sizeof(err));
        if (conf && (rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) ||
                     rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err))))
                rd_kafka_conf_destroy(conf), conf = NULL;
        rd_kafka_t *rk = conf ? ss_kafka_consumer_new(conf, err, sizeof(err)) : NULL;
        if (!rk) {
                fprintf(stderr, "sentistream tail: %s\n", err);
                return NULL;
        }
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e) {
                fprintf(stderr, "sentistream tail: subscribe %s: %s\n", topic, rd_kafka_err2str(e));
                rd_kafka_destroy(rk);
                return NULL;
        }
        return rk;
}

static int ss_tail_run(ss_tail_t *t, const char *topic, long long max, double timeout_s,
                       volatile sig_atomic_t *stop)
{
        rd_kafka_t *rk = ss_tail_consumer_new(t->c, topic);
        if (!rk)
                return 1;
        rd_kafka_topic_partition_list_t *eof = rd_kafka_topic_partition_list_new(4);
        double until = ss_time_mono() + timeout_s;
        int reached = 0;
        while (!*stop && ss_time_mono() < until && (max <= 0 || t->printed < max)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (m) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (!rd_kafka_topic_partition_list_find(
                                        eof, rd_kafka_topic_name(m->rkt), m->partition))
                                        rd_kafka_topic_partition_list_add(
                                            eof, rd_kafka_topic_name(m->rkt), m->partition);
                        } else if (m->err) {
                                fprintf(stderr, "sentistream tail: %s\n",
                                        rd_kafka_message_errstr(m));
                        } else {
                                ss_tail_print(t, m);
                        }
                        rd_kafka_message_destroy(m);
                }
                if ((reached = ss_tail_at_end(rk, eof)))
                        break;
        }
        fflush(stdout);
        int status = t->bad ? 1 : 0;
        if (!reached && !*stop && (max <= 0 || t->printed < max)) {
                fprintf(stderr, "sentistream tail: end of %s not reached in %.0f s\n", topic,
                        timeout_s);
                status = 1;
        }
        rd_kafka_topic_partition_list_destroy(eof);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return status;
}

int ss_cli_tail_topic(const ss_config_t *c, const char *schema_dir, const char *topic,
                      long long max, double timeout_s, volatile sig_atomic_t *stop)
{
        ss_tail_t t = {.c = c};
        t.ids = ss_serde_ids_from_config(c);
        char err[1024];
        t.serde = ss_serde_new(schema_dir, &t.ids, 0, err, sizeof(err));
        int status = 2;
        if (!t.serde)
                fprintf(stderr, "sentistream tail: %s\n", err);
        else
                status = ss_tail_run(&t, topic, max, timeout_s, stop);
        ss_tweet_clear(&t.tweet);
        ss_prediction_clear(&t.pred);
        ss_dead_letter_clear(&t.dead);
        ss_retrain_event_clear(&t.event);
        ss_model_update_clear(&t.update);
        ss_serde_destroy(t.serde);
        return status;
}
