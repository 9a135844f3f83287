/*
 * watermarks: one thread that, each time it is woken, asks the broker for the high
 * watermark of every wanted partition (rd_kafka_query_watermark_offsets, bounded) and
 * keeps the answers with the time they came. The wanted list and the answers are behind
 * one mutex, never held across a broker call: the thread copies the list, asks without the
 * lock, and stores each answer under it. Answers of partitions no longer wanted stay until
 * they age out (they are never read then); the table is small (one entry per partition
 * ever assigned to this process).
 */
#include "watermarks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ss_util.h"

typedef struct ss_wm_entry {
        char *topic;
        int32_t partition;
        int64_t lo, hi;
        double at; /* monotonic time of the answer; 0: none yet */
        struct ss_wm_entry *next;
} ss_wm_entry_t;

struct ss_watermarks {
        rd_kafka_t *rk;
        int timeout_ms;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        int stop, kicked;
        rd_kafka_topic_partition_list_t *want; /* guarded by lock */
        ss_wm_entry_t *answers;                /* guarded by lock */
};

static ss_wm_entry_t *ss_wm_find(ss_watermarks_t *w, const char *topic, int32_t partition)
{
        for (ss_wm_entry_t *e = w->answers; e; e = e->next)
                if (e->partition == partition && !strcmp(e->topic, topic))
                        return e;
        return NULL;
}

static void ss_wm_store(ss_watermarks_t *w, const char *topic, int32_t partition, int64_t lo,
                        int64_t hi)
{
        pthread_mutex_lock(&w->lock);
        ss_wm_entry_t *e = ss_wm_find(w, topic, partition);
        if (!e && (e = calloc(1, sizeof(*e)))) {
                if ((e->topic = strdup(topic))) {
                        e->partition = partition;
                        e->next = w->answers;
                        w->answers = e;
                } else {
                        free(e);
                        e = NULL; /* no memory: this answer is lost, the lag stays unknown */
                }
        }
        if (e) {
                e->lo = lo;
                e->hi = hi;
                e->at = ss_time_mono();
        }
        pthread_mutex_unlock(&w->lock);
}

static void *ss_wm_main(void *opaque)
{
        ss_watermarks_t *w = opaque;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->stop && !w->kicked)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->stop)
                        break;
                w->kicked = 0;
                rd_kafka_topic_partition_list_t *l =
                    w->want ? rd_kafka_topic_partition_list_copy(w->want) : NULL;
                pthread_mutex_unlock(&w->lock);
                for (int i = 0; l && i < l->cnt; i++) {
                        int64_t lo, hi;
                        if (!rd_kafka_query_watermark_offsets(w->rk, l->elems[i].topic,
                                                              l->elems[i].partition, &lo, &hi,
                                                              w->timeout_ms) &&
                            hi >= 0)
                                ss_wm_store(w, l->elems[i].topic, l->elems[i].partition, lo, hi);
                }
                if (l)
                        rd_kafka_topic_partition_list_destroy(l);
                pthread_mutex_lock(&w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

ss_watermarks_t *ss_watermarks_new(rd_kafka_t *rk, int timeout_ms)
{
        ss_watermarks_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->rk = rk;
        w->timeout_ms = timeout_ms;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        if (pthread_create(&w->thread, NULL, ss_wm_main, w)) {
                pthread_mutex_destroy(&w->lock);
                pthread_cond_destroy(&w->wake);
                free(w);
                return NULL;
        }
        return w;
}

void ss_watermarks_destroy(ss_watermarks_t *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        if (w->want)
                rd_kafka_topic_partition_list_destroy(w->want);
        for (ss_wm_entry_t *e = w->answers, *n; e; e = n) {
                n = e->next;
                free(e->topic);
                free(e);
        }
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
}

void ss_watermarks_refresh(ss_watermarks_t *w, const rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(parts);
        pthread_mutex_lock(&w->lock);
        if (w->want)
                rd_kafka_topic_partition_list_destroy(w->want);
        w->want = copy;
        w->kicked = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
}

int ss_watermarks_get(ss_watermarks_t *w, const char *topic, int32_t partition, double max_age_s,
                      int64_t *lo, int64_t *hi)
{
        pthread_mutex_lock(&w->lock);
        ss_wm_entry_t *e = ss_wm_find(w, topic, partition);
        int ok = e && e->at > 0 && ss_time_mono() - e->at <= max_age_s;
        if (ok) {
                *lo = e->lo;
                *hi = e->hi;
        }
        pthread_mutex_unlock(&w->lock);
        return ok;
}
