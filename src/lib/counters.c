/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counters - what became of every point, for osp_get_stats().
 *
 * Each point the library makes is counted `emitted` once, then is in exactly
 * one of: `sent` (in a ring the sidecar reads, or a frame the socket took,
 * or a line written to the file), `buffered` (in its thread's buffer, not
 * handed over yet), or one of the drop counters. So emitted = sent +
 * buffered + drops, at every moment a thread is not inside a call.
 *
 * Counters live in the thread that counts (no atomic read-modify-write, no
 * shared cache line on the hot path: a process-wide atomic add per point
 * cost ~100 ns under contention). osp_get_stats sums the listed threads and
 * what exited threads left. A drop is counted in one place, osp__drop, which
 * also logs it.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

__thread osp_thread_counters_t osp__tc;

static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static osp_thread_counters_t *threads; /* listed, live */
static struct {
    uint64_t emitted, sent, lost_unread, dropped[OSP_DROP_REASONS];
    uint64_t buffered; /* left by exited threads, not adopted yet */
} exited;              /* under list_mu */
static atomic_uint_fast64_t web_traced, web_rejected[7];

/* Logging drops, per reason (a flood of one must not hide another): the
 * first after each setup, then at most every 10 s with the count since. */
static atomic_int_fast64_t drop_log_next[OSP_DROP_REASONS];
static atomic_uint_fast64_t drops_unlogged[OSP_DROP_REASONS];

static const char *const drop_why[OSP_DROP_REASONS] = {
    [OSP_DROP_NO_SIDECAR] = "no sidecar is reachable and the thread buffer is full",
    [OSP_DROP_BACKPRESSURE] =
        "the sidecar holds back (it is saturated) and the thread buffer is full",
    [OSP_DROP_OVERSIZE] = "a point too large to deliver",
    [OSP_DROP_IO] = "the file notifier cannot write",
    [OSP_DROP_NOMEM] = "out of memory",
};

void osp__counters_thread_start(void) {
    if (osp__tc.listed)
        return;
    pthread_mutex_lock(&list_mu);
    osp__tc.prev = NULL;
    osp__tc.next = threads;
    if (threads)
        threads->prev = &osp__tc;
    threads = &osp__tc;
    osp__tc.listed = true;
    pthread_mutex_unlock(&list_mu);
}

static void fold(osp_thread_counters_t *c) {
    exited.emitted += atomic_load(&c->emitted);
    exited.sent += atomic_load(&c->sent);
    exited.lost_unread += atomic_load(&c->lost_unread);
    for (int i = 0; i < OSP_DROP_REASONS; i++)
        exited.dropped[i] += atomic_load(&c->dropped[i]);
}

void osp__counters_thread_exit(void) {
    if (!osp__tc.listed)
        return;
    pthread_mutex_lock(&list_mu);
    fold(&osp__tc);
    if (osp__tc.prev)
        osp__tc.prev->next = osp__tc.next;
    else
        threads = osp__tc.next;
    if (osp__tc.next)
        osp__tc.next->prev = osp__tc.prev;
    pthread_mutex_unlock(&list_mu);
    /* A thread-exit handler may still count (its last flush) after this:
     * those go straight to the totals. */
    memset(&osp__tc, 0, sizeof osp__tc);
}

void osp__counters_orphan(uint64_t n) {
    pthread_mutex_lock(&list_mu);
    osp__uncount(&osp__tc.buffered, n);
    exited.buffered += n;
    pthread_mutex_unlock(&list_mu);
}

void osp__counters_adopt(uint64_t n) {
    pthread_mutex_lock(&list_mu);
    exited.buffered -= n;
    osp__count(&osp__tc.buffered, n);
    pthread_mutex_unlock(&list_mu);
}

/* The child of fork() counts its own points from zero; the other threads
 * of the parent do not exist in it. */
void osp__counters_after_fork(void) {
    pthread_mutex_init(&list_mu, NULL);
    memset(&exited, 0, sizeof exited);
    threads = NULL;
    bool listed = osp__tc.listed;
    memset(&osp__tc, 0, sizeof osp__tc);
    if (listed)
        osp__counters_thread_start();
    atomic_store(&web_traced, 0);
    for (int i = 0; i < 7; i++)
        atomic_store(&web_rejected[i], 0);
}

static int64_t mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

void osp__drop(enum osp_drop why, uint64_t n) { osp__drop_because(why, n, NULL); }

void osp__drop_because(enum osp_drop why, uint64_t n, const char *detail) {
    if (!n)
        return;
    if (osp__tc.listed) {
        osp__count(&osp__tc.dropped[why], n);
    } else {
        pthread_mutex_lock(&list_mu);
        exited.dropped[why] += n;
        pthread_mutex_unlock(&list_mu);
    }
    uint64_t pending = atomic_fetch_add(&drops_unlogged[why], n) + n;
    int64_t now = mono_s(), next = atomic_load(&drop_log_next[why]);
    if (now >= next &&
        atomic_compare_exchange_strong(&drop_log_next[why], &next, now + 10)) {
        atomic_fetch_sub(&drops_unlogged[why], pending);
        osp__log(
            OSP_LOG_WARN,
            "dropped %llu trace point(s): %s%s%s (osp_get_stats() counts every drop)",
            (unsigned long long)pending, drop_why[why], detail ? ": " : "",
            detail ? detail : "");
    }
}

void osp__drop_log_reset(void) {
    for (int i = 0; i < OSP_DROP_REASONS; i++)
        atomic_store(&drop_log_next[i], 0);
}

void osp__count_web(int code) {
    if (code == OSP_OK)
        atomic_fetch_add_explicit(&web_traced, 1, memory_order_relaxed);
    else if (code <= OSP_ENOHEADER && code >= OSP_EDISABLED)
        atomic_fetch_add_explicit(&web_rejected[OSP_ENOHEADER - code], 1,
                                  memory_order_relaxed);
}

void osp_get_stats(osp_stats_t *out) {
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    uint64_t dropped[OSP_DROP_REASONS];
    pthread_mutex_lock(&list_mu);
    out->emitted = exited.emitted;
    out->sent = exited.sent;
    out->lost_unread = exited.lost_unread;
    out->buffered = exited.buffered;
    memcpy(dropped, exited.dropped, sizeof dropped);
    for (osp_thread_counters_t *c = threads; c; c = c->next) {
        out->emitted += atomic_load_explicit(&c->emitted, memory_order_relaxed);
        out->sent += atomic_load_explicit(&c->sent, memory_order_relaxed);
        out->buffered += atomic_load_explicit(&c->buffered, memory_order_relaxed);
        out->lost_unread += atomic_load_explicit(&c->lost_unread, memory_order_relaxed);
        for (int i = 0; i < OSP_DROP_REASONS; i++)
            dropped[i] += atomic_load_explicit(&c->dropped[i], memory_order_relaxed);
    }
    pthread_mutex_unlock(&list_mu);
    out->dropped_no_sidecar = dropped[OSP_DROP_NO_SIDECAR];
    out->dropped_backpressure = dropped[OSP_DROP_BACKPRESSURE];
    out->dropped_oversize = dropped[OSP_DROP_OVERSIZE];
    out->dropped_io = dropped[OSP_DROP_IO];
    out->dropped_nomem = dropped[OSP_DROP_NOMEM];
    out->web_traced = atomic_load(&web_traced);
    for (int i = 0; i < 7; i++)
        out->web_rejected[i] = atomic_load(&web_rejected[i]);
}
