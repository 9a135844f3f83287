/*
 * watermarks: the brokers' high watermarks of a consumer's partitions, asked on a thread of
 * their own, for the lag gauges.
 *
 * librdkafka's cached watermarks (rd_kafka_get_watermark_offsets) move only with fetches:
 * right after a broker restart, before the consumer fetches again, they are those from
 * before it, and a lag computed from them reads 0 while input waits. Asking the broker
 * (rd_kafka_query_watermark_offsets) blocks for a round trip, and behind a long-poll fetch
 * on the same connection for up to fetch.wait.max.ms, or for seconds while the broker is
 * away: too long for the scoring loop. So the loop hands the partitions over
 * (ss_watermarks_refresh, never blocks) and reads the last answers with their age
 * (ss_watermarks_get); a partition without a recent answer has an unknown lag.
 */
#ifndef SS_WATERMARKS_H
#define SS_WATERMARKS_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef struct ss_watermarks ss_watermarks_t;

/* Starts the thread; rk (not owned) must outlive the object. timeout_ms bounds each ask.
 * NULL on no memory or when no thread can be started. Free with ss_watermarks_destroy(). */
ss_watermarks_t *ss_watermarks_new(rd_kafka_t *rk, int timeout_ms);

/* Stops the thread (waits for the ask in progress) and frees everything. */
void ss_watermarks_destroy(ss_watermarks_t *w);

/* The partitions to ask about from now on (copied); wakes the thread for one round. */
void ss_watermarks_refresh(ss_watermarks_t *w, const rd_kafka_topic_partition_list_t *parts);

/* 1 and *lo, *hi (the low and high watermarks) when the broker answered for (topic,
 * partition) within the last max_age_s seconds; 0 when not (never asked, no answer, or too
 * old). */
int ss_watermarks_get(ss_watermarks_t *w, const char *topic, int32_t partition, double max_age_s,
                      int64_t *lo, int64_t *hi);

#endif /* SS_WATERMARKS_H */
