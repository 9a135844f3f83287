/*
 * ss_ktail: reads the tail of a topic once, for a process that must learn at start what was
 * published before it (the drift monitor: the retraining events it sent, to reconcile its
 * sent set after a crash).
 *
 * It is a consumer of its own that takes no part in any group: creation looks the topic up,
 * reads each partition's watermarks and assigns it at the high watermark minus tail (or its
 * first record kept, whichever is later); it reads read_committed and never commits. The
 * high watermarks read then are the end: records published later are not returned, and the
 * reader is done once every partition has reached its end (partition EOF, or a record at or
 * past it). A topic that does not exist holds nothing to read: the reader is done at once.
 */
#ifndef SS_KTAIL_H
#define SS_KTAIL_H

#include <stddef.h>
#include <stdint.h>

#include "ss_config.h"
#include "ss_err.h"

typedef struct ss_ktail ss_ktail_t;

/*
 * A reader of the last tail (>= 1) records of every partition of topic, with c's kafka.*
 * keys (group id "<group>-tail", only for the client's name: nothing is committed);
 * timeout_ms bounds the lookup of the topic and of each partition's watermarks. Returns NULL
 * with the reason in errstr when the topic could not be looked up (broker away) or the client
 * not created. Caller frees with ss_ktail_destroy().
 */
ss_ktail_t *ss_ktail_new(const ss_config_t *c, const char *topic, const char *group, int64_t tail,
                         int timeout_ms, char *errstr, size_t errstr_size);
void ss_ktail_destroy(ss_ktail_t *t);

/* One record of the tail. The pointers are the reader's: valid until the next
 * ss_ktail_poll() or ss_ktail_destroy(). */
typedef struct ss_ktail_record {
        const void *value;
        size_t len;
        int32_t partition;
        int64_t offset;
} ss_ktail_record_t;

/* Outcome of one poll. */
typedef enum {
        SS_KTAIL_NONE = 0, /* nothing within the timeout (or an error, logged) */
        SS_KTAIL_RECORD,   /* *rec holds the next record */
        SS_KTAIL_DONE      /* every partition read up to its end at creation */
} ss_ktail_poll_t;

/* Waits up to timeout_ms for the next record of the tail. */
ss_ktail_poll_t ss_ktail_poll(ss_ktail_t *t, int timeout_ms, ss_ktail_record_t *rec);

/* Partitions of the topic at creation (0: the topic does not exist). */
int ss_ktail_partitions(const ss_ktail_t *t);

#endif /* SS_KTAIL_H */
