/*
 * ss_config_table: the one table of configuration keys. It drives parsing,
 * validation, `sentistream config show` and `sentistream config doc`.
 *
 * One section per owner (see the key namespaces in ss_config.h); add rows
 * only inside your own section, keep them sorted by name within it.
 *
 * Row: {name, type, min, max, enums, default, doc}
 *   - min/max: inclusive range for SS_CONF_INT and SS_CONF_DOUBLE;
 *     SS_CONF_NORANGE (min == max == 0) means unbounded.
 *   - enums: for SS_CONF_ENUM only, allowed values separated by '|'.
 *   - default: text parsed like a YAML scalar of the row's type ("" is a valid
 *     STRING default). The unit test checks every default against its row.
 *   - doc: one line, no '|'.
 * Keys under `kafka.` are librdkafka properties passed through verbatim and are
 * not listed here.
 */
#include "ss_config.h"

#define SS_CONF_NORANGE 0, 0

/* clang-format off */
const ss_conf_def_t ss_conf_table[] = {
        /* ---- log.*, runtime.* (config engineer) ------------------------------------ */
        {"log.level", SS_CONF_ENUM, SS_CONF_NORANGE, "debug|info|warn|error", "info",
         "lowest level logged to stderr (SS_LOG_LEVEL applies when this is left at its default)"},
        {"log.progress", SS_CONF_ENUM, SS_CONF_NORANGE, "auto|on|off", "auto",
         "progress lines for long work: auto = only when stderr is a terminal"},
        {"runtime.blas.threads", SS_CONF_INT, 0, 256, NULL, "0",
         "OpenBLAS threads; 0 = leave the library default (OPENBLAS_NUM_THREADS)"},

        /* ---- model.* common, model.logreg.*, data.*, train.* (LR engineer) -------- */

        /* ---- model.cnn.* (CNN engineer) ---------------------------------------------- */

        /* ---- model.minilm.* (MiniLM engineer) ---------------------------------------- */

        /* ---- topics.*, consumer.*, serde.*, metrics.* (consumer engineer) ---------- */
        {"consumer.batch.size", SS_CONF_INT, 1, 65536, NULL, "512",
         "most messages scored in one batch (one ss_model_score_batch call)"},
        {"consumer.batch.timeout.ms", SS_CONF_INT, 0, 60000, NULL, "5",
         "longest wait for a batch to fill once its first message arrived"},
        {"consumer.commit.interval.ms", SS_CONF_INT, 10, 600000, NULL, "1000",
         "how often stored (acknowledged) offsets are committed; also on revoke and shutdown"},
        {"consumer.flush.timeout.ms", SS_CONF_INT, 100, 600000, NULL, "30000",
         "longest wait for outstanding outputs on shutdown and on partition revocation"},
        {"consumer.group.id", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "sentistream-scorer",
         "Kafka consumer group of the scorers (kafka.group.id overrides it)"},
        {"consumer.input.format", SS_CONF_ENUM, SS_CONF_NORANGE, "avro|json", "avro",
         "input messages: Confluent-framed Avro Tweet, or one JSON object per message"},
        {"consumer.lag.interval.ms", SS_CONF_INT, 100, 3600000, NULL, "5000",
         "how often the consumer_lag gauges are refreshed (between batches)"},
        {"consumer.max.text.bytes", SS_CONF_INT, 1, 1048576, NULL, "4096",
         "longest tweet text accepted in bytes; longer ones go to the dead-letter topic"},
        {"consumer.mode", SS_CONF_ENUM, SS_CONF_NORANGE, "score|passthrough", "score",
         "score: the model scores each tweet; passthrough: no model, fixed uniform output (benchmark baseline only)"},
        {"consumer.model.path", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "",
         "model file the scorer serves; empty = model.out"},
        {"consumer.model.watch", SS_CONF_BOOL, SS_CONF_NORANGE, NULL, "false",
         "reload the model between batches when its file's mtime or size changes (SIGHUP always reloads)"},
        {"consumer.model.watch.interval.ms", SS_CONF_INT, 100, 3600000, NULL, "1000",
         "how often the model file is checked when consumer.model.watch is on"},
        {"consumer.retry.backoff.max.ms", SS_CONF_INT, 1, 600000, NULL, "10000",
         "longest wait before re-producing an output whose delivery failed"},
        {"consumer.retry.backoff.ms", SS_CONF_INT, 1, 600000, NULL, "100",
         "first wait before re-producing an output whose delivery failed (doubles each time)"},
        {"metrics.port", SS_CONF_INT, 0, 65535, NULL, "0",
         "Prometheus endpoint port (GET /metrics); 0 = off"},
        {"serde.schema_dir", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "",
         "directory of the .avsc files; empty = schemas/ beside the config directory"},
        {"serde.schema_id.dead_letter", SS_CONF_INT, 0, 2147483647, NULL, "3",
         "Confluent schema id of DeadLetter messages"},
        {"serde.schema_id.prediction", SS_CONF_INT, 0, 2147483647, NULL, "2",
         "Confluent schema id of Prediction messages"},
        {"serde.schema_id.retrain_event", SS_CONF_INT, 0, 2147483647, NULL, "4",
         "Confluent schema id of RetrainEvent messages"},
        {"serde.schema_id.tweet", SS_CONF_INT, 0, 2147483647, NULL, "1",
         "Confluent schema id of Tweet messages"},
        {"topics.dlq", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "tweets-dlq",
         "dead-letter topic: input that cannot be scored, with the reason"},
        {"topics.input", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "tweets",
         "topic of incoming tweets"},
        {"topics.output", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "tweet-predictions",
         "topic of predictions (key = tweet id)"},
        {"topics.retrain", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "model-retrain-triggers",
         "topic of retraining events from the drift monitor"},

        /* ---- monitor.*, redis.* (monitor engineer) --------------------------------- */
        {"monitor.card", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "",
         "model cards to monitor, comma-separated files or directories of *.card.json; empty = the card beside consumer.model.path (or model.out)"},
        {"monitor.eval.every", SS_CONF_INT, 1, 100000000, NULL, "500",
         "the sliding window is evaluated every this many predictions of a model version"},
        {"monitor.f1.max_drop", SS_CONF_DOUBLE, 0, 1, NULL, "0.1",
         "F1 breach when rolling macro-F1 < the card's validation macro-F1 minus this (if monitor.f1.threshold is 0)"},
        {"monitor.f1.threshold", SS_CONF_DOUBLE, 0, 1, NULL, "0",
         "F1 breach when rolling macro-F1 is below this; 0 = use the card's validation macro-F1 minus monitor.f1.max_drop"},
        {"monitor.false_alarm", SS_CONF_DOUBLE, 1e-12, 0.5, NULL, "0.01",
         "false-alarm rate of the PSI/KL critical values (chi-square quantile for the window's size)"},
        {"monitor.group.id", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "sentistream-monitor",
         "Kafka consumer group of the monitor; also names its snapshot in Redis"},
        {"monitor.join.max.pending", SS_CONF_INT, 1, 100000000, NULL, "200000",
         "most predictions and labels waiting for their other half; beyond it the oldest go (counted)"},
        {"monitor.join.ttl.s", SS_CONF_INT, 1, 31536000, NULL, "3600",
         "longest a prediction waits for its label (or a label for its prediction)"},
        {"monitor.kl.threshold", SS_CONF_DOUBLE, 0, 100, NULL, "0.1",
         "fixed threshold of KL(current to reference); a drift needs KL above this and above the critical value"},
        {"monitor.labels.batch", SS_CONF_INT, 1, 100000, NULL, "2000",
         "most labels read from the Redis stream per loop iteration"},
        {"monitor.metrics.port", SS_CONF_INT, 0, 65535, NULL, "0",
         "the monitor's Prometheus endpoint port (GET /metrics); 0 = off"},
        {"monitor.min.samples", SS_CONF_INT, 1, 100000000, NULL, "500",
         "fewest predictions in a window before its PSI/KL can count as a drift"},
        {"monitor.perf.eval.every", SS_CONF_INT, 1, 100000000, NULL, "100",
         "rolling performance is evaluated every this many joined labels of a model version"},
        {"monitor.perf.min.labels", SS_CONF_INT, 1, 100000000, NULL, "200",
         "fewest labelled predictions in the performance window before an F1 drop can count"},
        {"monitor.perf.window", SS_CONF_INT, 1, 100000000, NULL, "1000",
         "rolling performance over the last this many labelled predictions"},
        {"monitor.psi.threshold", SS_CONF_DOUBLE, 0, 100, NULL, "0.2",
         "fixed PSI threshold; a drift needs PSI above this and above the critical value"},
        {"monitor.report.interval.ms", SS_CONF_INT, 10, 3600000, NULL, "1000",
         "most frequent rewrite of the JSON report in Redis (after evaluations)"},
        {"monitor.snapshot.interval.ms", SS_CONF_INT, 10, 3600000, NULL, "5000",
         "how often windows, join and trigger state plus consumed offsets are saved to Redis (offsets are committed after)"},
        {"monitor.trigger.cooldown.s", SS_CONF_INT, 0, 31536000, NULL, "3600",
         "after a retraining event, no other for the same model for this long (a new model version resets it)"},
        {"monitor.trigger.k", SS_CONF_INT, 1, 32, NULL, "3",
         "an event fires when k of the last n evaluations of one kind breached"},
        {"monitor.trigger.n", SS_CONF_INT, 1, 32, NULL, "5",
         "evaluations remembered per kind for the k-of-n rule"},
        {"monitor.window.seconds", SS_CONF_INT, 1, 31536000, NULL, "300",
         "length of the tumbling time windows (by the predictions' scored_at)"},
        {"monitor.window.size", SS_CONF_INT, 1, 100000000, NULL, "2000",
         "sliding window: the last this many predictions of a model version"},
        {"redis.backoff.max.ms", SS_CONF_INT, 10, 600000, NULL, "10000",
         "longest wait between reconnection attempts when Redis is unreachable (doubles from 100 ms)"},
        {"redis.host", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "127.0.0.1",
         "Redis host (labels stream, monitor state and reports)"},
        {"redis.port", SS_CONF_INT, 1, 65535, NULL, "6380",
         "Redis port (deploy/local/redis.sh uses SS_REDIS_PORT, default 6380)"},
        {"redis.prefix", SS_CONF_STRING, SS_CONF_NORANGE, NULL, "sentistream:",
         "prefix of every Redis key: <prefix>labels, <prefix>monitor:report:<model name>, ..."},
        {"redis.timeout.ms", SS_CONF_INT, 10, 600000, NULL, "1000",
         "connect and command timeout for Redis"},

        {NULL, 0, 0, 0, NULL, NULL, NULL},
};
/* clang-format on */
