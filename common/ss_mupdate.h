/*
 * ss_mupdate: a reader of the model-updates topic (topics.model_updates,
 * schemas/model_update.avsc), for the processes that follow a registry alias:
 * the scorer (consume) and the drift monitor.
 *
 * It is a consumer of its own that takes no part in any group: it assigns every
 * partition of the topic itself, at an offset fixed when it is created
 * (ss_mupdate_start_t): the high watermark (only the updates published from then on;
 * the caller resolves the alias after creating it, so nothing falls between the two),
 * the beginning, or the tail (the last SS_MUPDATE_TAIL records of each partition, for a
 * process that was down and must learn the newest update of each model, e.g. a rollback
 * published meanwhile). It reads read_committed and never commits. A topic that does not
 * exist yet is looked up again every few seconds; records published to partitions added
 * later are not read (the topic is keyed by model name and has one partition by default).
 *
 * Polling never waits: it returns at most one decoded update per call.
 */
#ifndef SS_MUPDATE_H
#define SS_MUPDATE_H

#include <stddef.h>

#include "ss_config.h"
#include "ss_err.h"
#include "ss_serde.h"

typedef struct ss_mupdate_reader ss_mupdate_reader_t;

/* Where a reader starts in each partition. */
typedef enum {
        SS_MUPDATE_FROM_END = 0,       /* the high watermark at creation */
        SS_MUPDATE_FROM_BEGINNING = 1, /* the first record kept */
        SS_MUPDATE_FROM_TAIL = 2       /* the last SS_MUPDATE_TAIL records before creation */
} ss_mupdate_start_t;

#define SS_MUPDATE_TAIL 256

/*
 * A reader of topics.model_updates with c's kafka.* keys (group id
 * "<group>-model-updates", only for the client's name: nothing is committed). Returns NULL
 * with the reason in errstr. Caller frees with ss_mupdate_reader_destroy().
 */
ss_mupdate_reader_t *ss_mupdate_reader_new(const ss_config_t *c, const char *group,
                                           ss_mupdate_start_t start, char *errstr,
                                           size_t errstr_size);
void ss_mupdate_reader_destroy(ss_mupdate_reader_t *r);

/* Outcome of one poll. */
typedef enum {
        SS_MUPDATE_NONE = 0, /* nothing new */
        SS_MUPDATE_UPDATE,   /* *u holds a decoded update (caller clears it) */
        SS_MUPDATE_BAD       /* a record that does not decode: the reason (topic, partition,
                                offset, what is wrong) is in errstr */
} ss_mupdate_poll_t;

/* Polls once without waiting. serde decodes (it must know the model_update schema). */
ss_mupdate_poll_t ss_mupdate_reader_poll(ss_mupdate_reader_t *r, const ss_serde_t *serde,
                                         ss_model_update_t *u, char *errstr, size_t errstr_size);

/*
 * Of the record the last poll returned (update or bad): 1 when it was published before the
 * reader was created (below the high watermark read at assignment), 0 when after.
 */
int ss_mupdate_reader_last_in_tail(const ss_mupdate_reader_t *r);

/*
 * 1 once every record published before the reader was created has been returned (each
 * partition reached its end at least once), or SS_MUPDATE_TAIL_WAIT_S after the assignment
 * at the latest; 0 before. 1 at once when the topic did not exist at creation (records of a
 * topic created later are read as new); while it could not be looked up (broker down), 1 once
 * SS_MUPDATE_TAIL_WAIT_S have passed since the creation.
 */
int ss_mupdate_reader_tail_done(const ss_mupdate_reader_t *r);

#define SS_MUPDATE_TAIL_WAIT_S 10.0

/* The topic read. */
const char *ss_mupdate_reader_topic(const ss_mupdate_reader_t *r);

#endif /* SS_MUPDATE_H */
