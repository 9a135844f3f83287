/*
 * A Redis label record: the input is a RESP reply as a Redis server (or anyone who can
 * write to the stream) sends it; hiredis' reader, bounded as the monitor's connections are
 * (rconn.h), parses it and the monitor's walk over an XREAD reply delivers its entries.
 */
#include <hiredis/hiredis.h>

#include "fuzz_util.h"
#include "mstate.h"
#include "rconn.h"

static void ss_fuzz_label_cb(void *opaque, const ss_label_entry_t *e)
{
        size_t *sum = opaque;
        *sum += strlen(e->id);
        if (e->tweet_id)
                *sum += e->tweet_id_len + strlen(e->tweet_id);
        if (e->label)
                *sum += strlen(e->label);
        if (e->labeled_at)
                *sum += (size_t)strtoll(e->labeled_at, NULL, 10);
        if (e->source)
                *sum += strlen(e->source);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        redisReader *rd = redisReaderCreate();
        if (!rd)
                return 0;
        long long budget = SS_RCONN_MAX_ELEMENTS; /* as every connection of the monitor */
        ss_rconn_reader_limit(rd, &budget);
        if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
                void *reply = NULL;
                if (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
                        char last_id[64] = "0";
                        size_t sum = 0;
                        ss_mstate_labels_parse(reply, last_id, ss_fuzz_label_cb, &sum);
                        freeReplyObject(reply);
                }
        }
        redisReaderFree(rd);
        return 0;
}
