/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue - the in-memory FIFO of chunks from the intake to the consumer. One
 * mutex, taken once per intake pass and once per chunk taken, never per
 * point. Bytes are counted by chunk capacity: what malloc really holds.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct osp_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    osp_chunk_t *head, *tail;
    size_t bytes;
    uint64_t count;
    bool closed;
    int wake_fd;
};

osp_queue_t *osp_queue_new(void) {
    osp_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &a);
    pthread_condattr_destroy(&a);
    q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return q;
}

void osp_queue_free(osp_queue_t *q) {
    if (!q)
        return;
    for (osp_chunk_t *c = q->head, *n; c; c = n) {
        n = c->next;
        osp_chunk_free(c);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    if (q->wake_fd >= 0)
        close(q->wake_fd);
    free(q);
}

/* The consumer polls wake_fd beside the broker's socket: signal only the
 * empty -> non-empty transition, one write per burst. */
static void wake(osp_queue_t *q) {
    uint64_t one = 1;
    ssize_t w = write(q->wake_fd, &one, sizeof one);
    (void)w;
    pthread_cond_signal(&q->cv);
}

bool osp_queue_put(osp_queue_t *q, osp_chunk_t *c) {
    if (!c->used)
        return false;
    pthread_mutex_lock(&q->mu);
    bool was_empty = q->head == NULL, linked = false;
    osp_chunk_t *t = q->tail;
    if (t && t->cap - t->used >= c->used && c->used < c->cap / 2) {
        memcpy(t->data + t->used, c->data, c->used);
        t->used += c->used;
        t->count += c->count;
    } else {
        c->next = NULL;
        if (t)
            t->next = c;
        else
            q->head = c;
        q->tail = c;
        q->bytes += c->cap;
        linked = true;
    }
    q->count += c->count;
    if (was_empty)
        wake(q);
    pthread_mutex_unlock(&q->mu);
    if (!linked) {
        c->used = 0;
        c->count = 0;
    }
    return linked;
}

static osp_chunk_t *unlink_head(osp_queue_t *q) {
    osp_chunk_t *c = q->head;
    if (!c)
        return NULL;
    q->head = c->next;
    if (!q->head)
        q->tail = NULL;
    c->next = NULL;
    q->bytes -= c->cap;
    q->count -= c->count;
    return c;
}

osp_chunk_t *osp_queue_take(osp_queue_t *q, int timeout_ms) {
    pthread_mutex_lock(&q->mu);
    if (!q->head && !q->closed && timeout_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!q->head && !q->closed &&
               pthread_cond_timedwait(&q->cv, &q->mu, &until) != ETIMEDOUT)
            ;
    }
    osp_chunk_t *c = unlink_head(q);
    pthread_mutex_unlock(&q->mu);
    return c;
}

void osp_queue_untake(osp_queue_t *q, osp_chunk_t *c) {
    pthread_mutex_lock(&q->mu);
    c->next = q->head;
    q->head = c;
    if (!q->tail)
        q->tail = c;
    q->bytes += c->cap;
    q->count += c->count;
    pthread_mutex_unlock(&q->mu);
}

size_t osp_queue_bytes(osp_queue_t *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->bytes;
    pthread_mutex_unlock(&q->mu);
    return n;
}

uint64_t osp_queue_count(osp_queue_t *q) {
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int osp_queue_wake_fd(osp_queue_t *q) { return q->wake_fd; }

void osp_queue_close(osp_queue_t *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    uint64_t one = 1;
    ssize_t w = write(q->wake_fd, &one, sizeof one);
    (void)w;
    pthread_mutex_unlock(&q->mu);
}
