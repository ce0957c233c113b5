/* SPDX-License-Identifier: Apache-2.0 */
/* queue - trace points waiting for the broker: a byte-bounded FIFO between
 * the intake (loop thread) and the publisher thread. */
#ifndef OSP_SIDECAR_QUEUE_H
#define OSP_SIDECAR_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct osp_msg {
    struct osp_msg *next;
    char message_id[37]; /* one per point, the same for every topic (oslo) */
    char timestamp[27];  /* str(utcnow()) when the point arrived */
    char *publisher;     /* publisher_id */
    char *event_type;    /* profiler.<service> */
    unsigned acks_left;  /* publisher: topics not yet confirmed */
    uint64_t spool_seg;  /* segment it was read from, 0 if it never hit disk */
    size_t len;
    char payload[]; /* the point's JSON text, as the sender wrote it */
} osp_msg_t;

typedef struct osp_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    osp_msg_t *head, *tail;
    size_t bytes, count, limit;
    bool closed;
    int wake_fd; /* eventfd: readable once the queue turned non-empty */
} osp_queue_t;

osp_msg_t *osp_msg_new(const char *payload, size_t len, const char *publisher,
                       size_t publisher_len, const char *service);
void osp_msg_free(osp_msg_t *m);
/* Size a message is charged against the limit. */
size_t osp_msg_cost(const osp_msg_t *m);

void osp_queue_init(osp_queue_t *q, size_t limit);
void osp_queue_destroy(osp_queue_t *q);
/* false (message not taken) when the limit would be exceeded. */
bool osp_queue_push(osp_queue_t *q, osp_msg_t *m);
/* Put messages back at the front (unconfirmed after a reconnect). */
void osp_queue_push_front(osp_queue_t *q, osp_msg_t *list);
/* Up to max messages as a list; waits up to timeout_ms for the first. */
osp_msg_t *osp_queue_pop(osp_queue_t *q, size_t max, int timeout_ms);
size_t osp_queue_count(osp_queue_t *q);
void osp_queue_close(osp_queue_t *q);

#endif
