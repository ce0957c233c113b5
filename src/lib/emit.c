/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emit - where a thread's trace point goes (docs/design.md, "Flow control").
 *
 * The hot path: the point is written as a binary record (record.h) straight
 * into the thread's shared-memory ring (ring.c), where the sidecar sees it
 * at once; no system call, no lock, no shared counter. A request's last
 * point also makes sure a sleeping sidecar wakes up.
 *
 * Otherwise the point waits in the thread's buffer, up to its cap
 * (thread_buffer) and the process's (buffer_limit, all threads' buffers
 * and what exited threads left): while the ring is full (the sidecar holds back or lags),
 * while no ring is attached yet (the socket takes it now: the first points
 * of a thread), or while no sidecar is reachable. Buffered points go first
 * whenever the ring or the socket has room again, so a thread's points stay
 * in order. Only a point that finds the buffer full is dropped (counted by
 * counters.c, the one place).
 *
 * The file notifier (file:///x.jsonl) turns records into JSON lines here and
 * writes them when the thread's outermost point stops: one write(2) with
 * O_APPEND, so lines of concurrent writers never interleave.
 *
 * A thread that exits with points still buffered (the sidecar was slow)
 * leaves them to the process: the next thread to flush or end a request
 * adopts them into its own buffer, and osp_teardown makes a last attempt.
 *
 * fork(): the child drops the buffer and ring it inherited (they are the
 * parent's thread's), and counts from zero.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/hop.h"
#include "../common/ids.h"
#include "../common/ring.h"
#include "internal.h"

#define FILE_FLUSH_BYTES (32 * 1024)
#define RING_RETRY_MS    1000 /* a failed ring registration is retried after */
#define SEND_RETRY_MS    1    /* after EAGAIN, the socket is left alone for */

struct thread_state {
    bool registered; /* exit handler armed */
    unsigned fork_gen, setup_gen;
    osp_buf_t pending; /* the thread buffer: [u32 len][record]... */
    uint64_t pending_points;
    osp_buf_t lines; /* file notifier: JSON lines not written yet */
    uint64_t line_points;
    bool has_ring;
    osp_ring_t ring;
    unsigned ring_link_gen; /* connection it was registered on */
    int64_t ring_retry_ms, send_retry_ms;
};
static __thread struct thread_state T;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* Points exited threads left buffered ([u32 len][record]...). */
static struct {
    pthread_mutex_t mu;
    osp_buf_t buf;
    uint64_t points;
    atomic_bool any;
} left = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Bytes buffered by the whole process: thread buffers and leftovers. Only
 * the slow path (a full or missing ring) touches it. */
static atomic_size_t buffered_bytes;

static bool bytes_take(size_t n) {
    size_t was = atomic_fetch_add_explicit(&buffered_bytes, n, memory_order_relaxed);
    if (was + n <= osp__settings.buffer_limit)
        return true;
    atomic_fetch_sub_explicit(&buffered_bytes, n, memory_order_relaxed);
    return false;
}

static void bytes_give(size_t n) {
    atomic_fetch_sub_explicit(&buffered_bytes, n, memory_order_relaxed);
}

/* The thread buffer let go of its first n bytes. */
static void pending_consume(size_t n) {
    osp__buf_consume(&T.pending, n);
    bytes_give(n);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- ring */

/* Is the thread's ring usable now? Creates and registers it on first use,
 * and registers it again on a new connection (a restarted sidecar reads on
 * from where the last one stopped). A ring keeps taking points while no
 * sidecar runs: the next one reads them. */
static bool ring_usable(void) {
    if (!osp__settings.ring_size)
        return false;
    unsigned gen = osp__link_generation();
    if (T.has_ring && T.ring_link_gen == gen)
        return osp__ring_attached(&T.ring);
    if (!osp__link_up() && !osp__link_connect())
        return T.has_ring && osp__ring_attached(&T.ring);
    int64_t now = now_ms();
    if (now >= T.ring_retry_ms) {
        T.ring_retry_ms = now + RING_RETRY_MS;
        gen = osp__link_generation();
        if (T.has_ring) {
            if (osp__link_register_ring(T.ring.mem_fd, T.ring.event_fd))
                T.ring_link_gen = gen;
        } else if (osp__ring_create(&T.ring, osp__settings.ring_size) == 0) {
            if (osp__link_register_ring(T.ring.mem_fd, T.ring.event_fd)) {
                T.has_ring = true;
                T.ring_link_gen = gen;
            } else {
                osp__ring_destroy(&T.ring, false);
            }
        }
    }
    return T.has_ring && osp__ring_attached(&T.ring);
}

/* Give up the ring. ours: false in a forked child, where the mapping is the
 * parent's thread's. Records still in it are read by the sidecar if one is
 * connected; otherwise they are counted lost_unread. */
static void ring_release(bool ours) {
    if (!T.has_ring)
        return;
    if (ours && !osp__link_up())
        osp__count(&osp__tc.lost_unread, osp__ring_pending(&T.ring));
    osp__ring_destroy(&T.ring, ours);
    T.has_ring = false;
}

/* ---------------------------------------------------------------- buffer */

static size_t rec_len_at(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
}

#define BUFFER_KEEP (64 * 1024) /* an emptied buffer larger than this is freed */

/* n buffered points left the buffer: sent, but for `dropped` of them that
 * the socket could not take (link.c counted those drops). */
static void handed_over(uint64_t n, uint64_t dropped) {
    osp__count(&osp__tc.sent, n - dropped);
    osp__uncount(&osp__tc.buffered, n);
    T.pending_points -= n;
    if (!T.pending.len && T.pending.cap > BUFFER_KEEP)
        osp__buf_free(&T.pending); /* a burst is over: give its memory back */
}

/* Move buffered records into the ring, oldest first, while they fit. */
static void pending_to_ring(void) {
    size_t off = 0;
    uint64_t n = 0, dropped = 0;
    while (off < T.pending.len) {
        size_t len = rec_len_at(T.pending.data + off);
        if (len > osp__ring_max_record(&T.ring)) {
            /* Larger than half the ring: the socket carries it (in a memfd
             * when it is larger than a frame too). */
            uint64_t k, d;
            if (!osp__link_send(T.pending.data + off, 4 + len, &k, &d))
                break;
            dropped += d;
        } else if (!osp__ring_push(&T.ring, T.pending.data + off + 4, (uint32_t)len)) {
            break;
        }
        off += 4 + len;
        n++;
    }
    pending_consume(off);
    handed_over(n, dropped);
}

/* Hand over what the buffer holds, as far as the ring or socket take it. */
static void drain_pending(void) {
    if (!T.pending.len)
        return;
    if (ring_usable()) {
        pending_to_ring();
        return;
    }
    if (!osp__link_up() && !osp__link_connect())
        return;
    int64_t now = now_ms();
    if (now < T.send_retry_ms)
        return; /* it said EAGAIN a moment ago: no system call per point */
    uint64_t n, dropped;
    size_t done = osp__link_send(T.pending.data, T.pending.len, &n, &dropped);
    pending_consume(done);
    handed_over(n + dropped, dropped);
    if (T.pending.len)
        T.send_retry_ms = now + SEND_RETRY_MS;
}

/* The last resort: what the thread could not hand over is dropped, counted. */
static void drop_pending(void) {
    osp__uncount(&osp__tc.buffered, T.pending_points);
    osp__drop(osp__link_up() ? OSP_DROP_BACKPRESSURE : OSP_DROP_NO_SIDECAR,
              T.pending_points);
    T.pending_points = 0;
    bytes_give(T.pending.len);
    T.pending.len = 0;
}

/* Keep the record in the thread buffer, or drop it when the buffer is full. */
static void buffer_record(const osp_rec_t *rec, size_t size) {
    if (4 + size > osp__settings.thread_buffer) {
        osp__drop_because(OSP_DROP_OVERSIZE, 1,
                          "it must wait and is larger than the thread buffer "
                          "(thread_buffer)");
        return;
    }
    if (T.pending.len + 4 + size > osp__settings.thread_buffer || !bytes_take(4 + size)) {
        osp__drop(osp__link_up() ? OSP_DROP_BACKPRESSURE : OSP_DROP_NO_SIDECAR, 1);
        return;
    }
    if (!osp__buf_reserve(&T.pending, 4 + size)) {
        T.pending.failed = false;
        bytes_give(4 + size);
        osp__drop(OSP_DROP_NOMEM, 1);
        return;
    }
    unsigned char *p = (unsigned char *)T.pending.data + T.pending.len;
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(size >> (8 * i));
    osp__rec_write(rec, p + 4);
    T.pending.len += 4 + size;
    T.pending_points++;
    osp__count(&osp__tc.buffered, 1);
}

/* ---------------------------------------------------------------- file */

static void file_flush(void) {
    size_t off = 0;
    while (off < T.lines.len) {
        ssize_t r = write(osp__settings.file_fd, T.lines.data + off, T.lines.len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            osp__uncount(&osp__tc.buffered, T.line_points);
            osp__drop(OSP_DROP_IO, T.line_points);
            T.line_points = 0;
            T.lines.len = 0;
            return;
        }
        off += (size_t)r;
    }
    osp__count(&osp__tc.sent, T.line_points);
    osp__uncount(&osp__tc.buffered, T.line_points);
    T.line_points = 0;
    T.lines.len = 0;
}

static void file_emit(const osp_rec_t *rec, bool request_end) {
    osp_error_t err;
    size_t start = T.lines.len;
    if (osp__rec_to_json(rec, &T.lines, &err) != OSP_OK) {
        T.lines.len = start;
        T.lines.failed = false;
        osp__drop(OSP_DROP_NOMEM, 1);
        return;
    }
    osp__buf_putc(&T.lines, '\n');
    if (T.lines.failed) {
        T.lines.len = start;
        T.lines.failed = false;
        osp__drop(OSP_DROP_NOMEM, 1);
        return;
    }
    T.line_points++;
    osp__count(&osp__tc.buffered, 1);
    if (request_end || T.lines.len >= FILE_FLUSH_BYTES)
        file_flush();
}

/* ---------------------------------------------------------------- thread */

/* Let go of what belongs to another process or an older setup. */
static void check_generation(void) {
    unsigned fg = osp__fork_generation(), sg = osp__setup_generation();
    if (T.fork_gen == fg && T.setup_gen == sg)
        return;
    bool ours = T.fork_gen == fg; /* false: inherited through fork() */
    if (ours) {
        /* An older setup's points: its notifier is gone. */
        osp__uncount(&osp__tc.buffered, T.pending_points + T.line_points);
        osp__drop(OSP_DROP_NO_SIDECAR, T.pending_points + T.line_points);
        bytes_give(T.pending.len);
    }
    ring_release(ours);
    T.pending.len = 0;
    T.pending_points = 0;
    T.lines.len = 0;
    T.line_points = 0;
    T.ring_retry_ms = T.send_retry_ms = 0;
    T.fork_gen = fg;
    T.setup_gen = sg;
}

/* Take what exited threads left into this thread's buffer. */
static void adopt_leftovers(void) {
    if (!atomic_load_explicit(&left.any, memory_order_relaxed) ||
        osp__settings.kind != OSP_NOTIFIER_SIDECAR)
        return;
    osp__thread_register(); /* its counters take them over */
    if (pthread_mutex_trylock(&left.mu))
        return;
    if (left.points && osp__buf_reserve(&T.pending, left.buf.len)) {
        memcpy(T.pending.data + T.pending.len, left.buf.data, left.buf.len);
        T.pending.len += left.buf.len;
        T.pending_points += left.points;
        osp__counters_adopt(left.points);
        left.buf.len = 0;
        left.points = 0;
        osp__buf_free(&left.buf);
        atomic_store(&left.any, false);
    }
    pthread_mutex_unlock(&left.mu);
}

/* Leave this exiting thread's buffered points to the process. */
static void leave_leftovers(void) {
    pthread_mutex_lock(&left.mu);
    osp__buf_append(&left.buf, T.pending.data, T.pending.len);
    if (!left.buf.failed) {
        left.points += T.pending_points;
        osp__counters_orphan(T.pending_points);
        T.pending_points = 0;
        T.pending.len = 0; /* its bytes are the process's now */
        atomic_store(&left.any, true);
    } else {
        left.buf.failed = false;
    }
    pthread_mutex_unlock(&left.mu);
}

/* exiting: the thread's own exit, which must not take over what other
 * threads left (it would register itself again while it is torn down). */
static int flush_thread(bool exiting) {
    check_generation();
    if (!exiting)
        adopt_leftovers();
    if (osp__settings.kind == OSP_NOTIFIER_FILE)
        file_flush();
    else
        drain_pending();
    if (T.has_ring)
        osp__ring_wake(&T.ring);
    return T.pending.len || T.lines.len ? -EAGAIN : OSP_OK;
}

int osp_flush(void) { return flush_thread(false); }

static void thread_exit(void *unused) {
    (void)unused;
    T.registered = false;
    flush_thread(true);
    if (T.pending_points && osp__settings.kind == OSP_NOTIFIER_SIDECAR)
        leave_leftovers(); /* another thread hands them over */
    /* What could not even be left (no memory) is dropped, counted. */
    if (T.pending_points)
        drop_pending();
    ring_release(true); /* a connected sidecar drains what is left */
    osp__buf_free(&T.pending);
    osp__buf_free(&T.lines);
    osp__counters_thread_exit();
}

static void after_fork_child(void) {
    pthread_mutex_init(&left.mu, NULL); /* the parent's leftovers are the parent's */
    left.buf.len = 0;
    left.points = 0;
    atomic_store(&buffered_bytes, 0);
    atomic_store(&left.any, false);
    osp__ids_after_fork();
    osp__link_after_fork();
    osp__counters_after_fork();
}

static void init_once(void) {
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(NULL, NULL, after_fork_child);
}

void osp__emit_init(void) { pthread_once(&once, init_once); }

void osp__thread_register(void) {
    if (T.registered)
        return;
    pthread_once(&once, init_once);
    /* The value only needs to be non-NULL for the destructor to run. */
    pthread_setspecific(exit_key, &T);
    T.registered = true;
    osp__counters_thread_start();
}

void osp__emit_teardown(void) {
    flush_thread(false);
    if (T.pending_points)
        drop_pending();
    ring_release(true);
}

/* A request's outermost point stopped: a sleeping sidecar must see its
 * points now, and what waits goes along. */
static void request_ended(void) {
    if (!T.has_ring)
        return;
    osp__ring_wake(&T.ring);
    osp__link_check_alive();
    adopt_leftovers(); /* what exited threads left, if any */
    drain_pending();
}

void osp__emit_dropped(enum osp_drop why, const char *detail, bool request_end) {
    check_generation();
    osp__thread_register();
    osp__count(&osp__tc.emitted, 1);
    osp__drop_because(why, 1, detail);
    if (request_end && osp__settings.kind == OSP_NOTIFIER_SIDECAR)
        request_ended();
}

void osp__emit(const osp_rec_t *rec, bool request_end) {
    check_generation();
    osp__thread_register();
    osp__count(&osp__tc.emitted, 1);
    if (osp__settings.kind == OSP_NOTIFIER_FILE) {
        file_emit(rec, request_end);
        return;
    }
    size_t size = osp__rec_size(rec);
    if (size > OSP_HOP_MAX_POINT) {
        osp__drop_because(OSP_DROP_OVERSIZE, 1, "a point over 8 MiB");
        if (request_end)
            request_ended();
        return;
    }
    if (T.pending.len)
        drain_pending(); /* older points first */
    if (!T.pending.len && ring_usable() && size <= osp__ring_max_record(&T.ring)) {
        void *p = osp__ring_reserve(&T.ring, (uint32_t)size);
        if (p) {
            osp__rec_write(rec, p);
            osp__ring_commit(&T.ring, (uint32_t)size);
            osp__count(&osp__tc.sent, 1);
            if (request_end)
                request_ended();
            return;
        }
    }
    buffer_record(rec, size);
    drain_pending();
    if (request_end && T.has_ring)
        osp__ring_wake(&T.ring);
}
