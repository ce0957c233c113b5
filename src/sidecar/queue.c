/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue - the in-memory handoff from intake to publisher. Bounded in bytes so
 * a broker outage cannot eat the machine: beyond the limit the intake counts
 * the point as dropped (the disk spool is the next layer). One mutex; the
 * publisher takes messages in batches, so contention stays low.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/ids.h"

osp_msg_t *osp_msg_new(const char *payload, size_t len, const char *publisher,
                       size_t publisher_len, const char *service) {
    osp_msg_t *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
    m->len = len;
    m->publisher = strndup(publisher, publisher_len);
    size_t sl = strlen(service);
    m->event_type = malloc(sl + 10);
    if (!m->publisher || !m->event_type) {
        osp_msg_free(m);
        return NULL;
    }
    memcpy(m->event_type, "profiler.", 9);
    memcpy(m->event_type + 9, service, sl + 1);
    osp__uuid4(m->message_id);
    /* str(datetime.utcnow()): space separator, no fraction when it is 0 */
    char ts[OSP_TS_LEN + 1];
    osp__timestamp(ts);
    ts[10] = ' ';
    if (strcmp(ts + 20, "000000") == 0)
        ts[19] = '\0';
    memcpy(m->timestamp, ts, sizeof m->timestamp);
    return m;
}

void osp_msg_free(osp_msg_t *m) {
    if (!m)
        return;
    free(m->publisher);
    free(m->event_type);
    free(m);
}

size_t osp_msg_cost(const osp_msg_t *m) { return sizeof *m + m->len + 64; }

void osp_queue_init(osp_queue_t *q, size_t limit) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &a);
    pthread_condattr_destroy(&a);
    q->limit = limit;
    q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* The publisher polls wake_fd beside the broker's socket: signal the
 * empty -> non-empty transition only, one write per burst. */
static void wake(osp_queue_t *q, size_t before) {
    if (before == 0 && q->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(q->wake_fd, &one, sizeof one);
        (void)w;
    }
}

void osp_queue_destroy(osp_queue_t *q) {
    for (osp_msg_t *m = q->head, *n; m; m = n) {
        n = m->next;
        osp_msg_free(m);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    if (q->wake_fd >= 0)
        close(q->wake_fd);
}

bool osp_queue_push(osp_queue_t *q, osp_msg_t *m) {
    size_t cost = osp_msg_cost(m);
    pthread_mutex_lock(&q->mu);
    bool ok = q->bytes + cost <= q->limit;
    if (ok) {
        m->next = NULL;
        if (q->tail)
            q->tail->next = m;
        else
            q->head = m;
        q->tail = m;
        q->bytes += cost;
        wake(q, q->count++);
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void osp_queue_push_front(osp_queue_t *q, osp_msg_t *list) {
    if (!list)
        return;
    osp_msg_t *last = list;
    size_t bytes = 0, count = 0;
    for (osp_msg_t *m = list; m; m = m->next) {
        bytes += osp_msg_cost(m);
        count++;
        last = m;
    }
    pthread_mutex_lock(&q->mu);
    last->next = q->head;
    q->head = list;
    if (!q->tail)
        q->tail = last;
    q->bytes += bytes; /* may exceed the limit briefly: never drop these */
    wake(q, q->count);
    q->count += count;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

osp_msg_t *osp_queue_pop(osp_queue_t *q, size_t max, int timeout_ms) {
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
    osp_msg_t *list = q->head, *last = NULL;
    size_t n = 0;
    for (osp_msg_t *m = q->head; m && n < max; m = m->next) {
        q->bytes -= osp_msg_cost(m);
        last = m;
        n++;
    }
    if (last) {
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
        q->count -= n;
    } else {
        list = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return list;
}

size_t osp_queue_count(osp_queue_t *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void osp_queue_close(osp_queue_t *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    wake(q, 0);
    pthread_mutex_unlock(&q->mu);
}
