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

        /* ---- monitor.*, redis.* (monitor engineer) --------------------------------- */

        {NULL, 0, 0, 0, NULL, NULL, NULL},
};
/* clang-format on */
