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

        {NULL, 0, 0, 0, NULL, NULL, NULL},
};
/* clang-format on */
