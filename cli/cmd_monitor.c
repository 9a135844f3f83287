/*
 * cmd_monitor: `sentistream monitor [--config-dir DIR] [key=value ...]`, the
 * drift monitor (monitor/monitor.h), and `sentistream monitor events`, which
 * prints the retraining events of topics.retrain as JSON lines (one per
 * event, oldest first) for operators and tests. SIGTERM and SIGINT stop the
 * monitor cleanly (final snapshot, offsets committed, group left).
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "monitor.h"
#include "ss_kafka.h"
#include "ss_log.h"
#include "ss_serde.h"
#include "ss_util.h"

static volatile sig_atomic_t ss_monitor_stop;

static void ss_monitor_on_signal(int sig)
{
        (void)sig;
        ss_monitor_stop = 1;
}

static void ss_monitor_usage(FILE *out)
{
        fprintf(
            out,
            "usage: sentistream monitor [--config-dir DIR] [key=value ...]\n"
            "       sentistream monitor events [--timeout S] [--config-dir DIR] [key=value ...]\n"
            "  monitor: watches topics.output for drift (PSI, KL against the model card) and\n"
            "           falling F1 (labels from Redis <redis.prefix>labels); retraining\n"
            "           events go to topics.retrain, the latest report to Redis\n"
            "           <redis.prefix>monitor:report:<model name>\n"
            "  events:  prints every event of topics.retrain as one JSON line and exits\n"
            "           (after the end of the topic, or S seconds, default 10)\n"
            "  e.g. sentistream monitor monitor.card=models-out/logreg.card.json "
            "monitor.metrics.port=9465\n");
}

static char *str_dup_n(ss_str_t s)
{
        char *d = malloc(s.len + 1);
        if (d) {
                memcpy(d, s.ptr ? s.ptr : "", s.len);
                d[s.len] = '\0';
        }
        return d;
}

static void add_str(cJSON *o, const char *k, ss_str_t s)
{
        char *d = str_dup_n(s);
        cJSON_AddStringToObject(o, k, d ? d : "");
        free(d);
}

static void print_event(const ss_retrain_event_t *e, const rd_kafka_message_t *msg)
{
        cJSON *o = cJSON_CreateObject();
        char *key = str_dup_n((ss_str_t){msg->key, msg->key_len});
        cJSON_AddStringToObject(o, "key", key ? key : "");
        free(key);
        cJSON_AddNumberToObject(o, "partition", msg->partition);
        cJSON_AddNumberToObject(o, "offset", (double)msg->offset);
        add_str(o, "event_id", e->event_id);
        add_str(o, "model_name", e->model_name);
        add_str(o, "model_version", e->model_version);
        cJSON *rs = cJSON_AddArrayToObject(o, "reasons");
        for (size_t i = 0; i < e->n_reasons; i++) {
                cJSON *r = cJSON_CreateObject();
                add_str(r, "metric", e->reasons[i].metric);
                cJSON_AddNumberToObject(r, "value", e->reasons[i].value);
                cJSON_AddNumberToObject(r, "threshold", e->reasons[i].threshold);
                if (e->reasons[i].has_critical_value)
                        cJSON_AddNumberToObject(r, "critical_value", e->reasons[i].critical_value);
                else
                        cJSON_AddNullToObject(r, "critical_value");
                cJSON_AddItemToArray(rs, r);
        }
        cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
        for (size_t i = 0; i < e->n_metrics; i++) {
                cJSON *x = cJSON_CreateObject();
                add_str(x, "name", e->metrics[i].name);
                cJSON_AddNumberToObject(x, "value", e->metrics[i].value);
                cJSON_AddNumberToObject(x, "n", (double)e->metrics[i].n);
                cJSON_AddNumberToObject(x, "reference_n", (double)e->metrics[i].reference_n);
                cJSON_AddItemToArray(ms, x);
        }
        cJSON_AddNumberToObject(o, "window_start", (double)e->window_start);
        cJSON_AddNumberToObject(o, "window_end", (double)e->window_end);
        cJSON_AddNumberToObject(o, "triggered_at", (double)e->triggered_at);
        char *s = cJSON_PrintUnformatted(o);
        if (s)
                printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
}

/* True when every assigned partition has reached its end since it was assigned. */
static int all_at_eof(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *eof)
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

static int ss_monitor_events(const ss_config_t *c, const char *schema_dir, double timeout_s)
{
        char err[1024], group[96];
        ss_serde_ids_t ids = ss_serde_ids_from_config(c);
        ss_serde_t *serde = ss_serde_new(schema_dir, &ids, 0, err, sizeof(err));
        if (!serde) {
                fprintf(stderr, "sentistream monitor events: %s\n", err);
                return 1;
        }
        /* a throwaway group that never commits: always the whole topic */
        snprintf(group, sizeof(group), "sentistream-events-%d-%lld", (int)getpid(),
                 (long long)ss_time_now_ms());
        rd_kafka_conf_t *conf = ss_kafka_conf_new(c, SS_KAFKA_CONSUMER, group, err, sizeof(err));
        if (conf && rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)))
                rd_kafka_conf_destroy(conf), conf = NULL;
        rd_kafka_t *rk = conf ? ss_kafka_consumer_new(conf, err, sizeof(err)) : NULL;
        if (!rk) {
                fprintf(stderr, "sentistream monitor events: %s\n", err);
                ss_serde_destroy(serde);
                return 1;
        }
        const char *topic = ss_config_get_str(c, "topics.retrain");
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        rd_kafka_topic_partition_list_t *eof = rd_kafka_topic_partition_list_new(4);
        ss_retrain_event_t ev = {0};
        double until = ss_time_mono() + timeout_s;
        int status = 0, bad = 0;
        while (ss_time_mono() < until && !ss_monitor_stop) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
                if (msg) {
                        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (!rd_kafka_topic_partition_list_find(
                                        eof, rd_kafka_topic_name(msg->rkt), msg->partition))
                                        rd_kafka_topic_partition_list_add(
                                            eof, rd_kafka_topic_name(msg->rkt), msg->partition);
                        } else if (msg->err) {
                                ss_debug("monitor", "events: %s", rd_kafka_message_errstr(msg));
                        } else if (ss_serde_retrain_event_decode(serde, msg->payload, msg->len, &ev,
                                                                 err, sizeof(err))) {
                                fprintf(stderr, "sentistream monitor events: %s[%d]@%lld: %s\n",
                                        topic, msg->partition, (long long)msg->offset, err);
                                bad++;
                        } else {
                                print_event(&ev, msg);
                        }
                        rd_kafka_message_destroy(msg);
                }
                if (all_at_eof(rk, eof))
                        break;
        }
        fflush(stdout);
        if (!all_at_eof(rk, eof)) {
                fprintf(stderr, "sentistream monitor events: end of %s not reached in %.0f s\n",
                        topic, timeout_s);
                status = 1;
        }
        if (bad)
                status = 1;
        ss_retrain_event_clear(&ev);
        rd_kafka_topic_partition_list_destroy(eof);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        ss_serde_destroy(serde);
        return status;
}

int ss_cmd_monitor(int argc, char **argv)
{
        const char *config_dir = NULL;
        int events = 0;
        double timeout_s = 10;
        char **overrides = calloc((size_t)argc + 1, sizeof(char *));
        int nover = 0;
        for (int i = 0; i < argc; i++) {
                if (!strcmp(argv[i], "--config-dir") && i + 1 < argc) {
                        config_dir = argv[++i];
                } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
                        timeout_s = atof(argv[++i]);
                } else if (!strcmp(argv[i], "events") && i == 0) {
                        events = 1;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        ss_monitor_usage(stdout);
                        free(overrides);
                        return 0;
                } else if (ss_cli_is_override(argv[i])) {
                        overrides[nover++] = argv[i];
                } else {
                        fprintf(stderr, "sentistream monitor: unexpected argument '%s'\n", argv[i]);
                        ss_monitor_usage(stderr);
                        free(overrides);
                        return 2;
                }
        }
        ss_config_t *c = ss_cli_config_load(nover, overrides, config_dir);
        free(overrides);
        if (!c)
                return 2;
        char *schema_dir = ss_cli_schema_dir(c, config_dir);
        struct sigaction sa = {0};
        sa.sa_handler = ss_monitor_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        int status = 0;
        if (events) {
                status = ss_monitor_events(c, schema_dir, timeout_s);
        } else {
                char err[1024];
                ss_monitor_t *m = ss_monitor_new(c, schema_dir, err, sizeof(err));
                if (!m) {
                        fprintf(stderr, "sentistream monitor: %s\n", err);
                        status = 1;
                } else if (ss_monitor_run(m, &ss_monitor_stop, err, sizeof(err)) != SS_OK) {
                        fprintf(stderr, "sentistream monitor: %s\n", err);
                        status = 1;
                }
                ss_monitor_destroy(m);
        }
        free(schema_dir);
        ss_config_destroy(c);
        return status;
}
