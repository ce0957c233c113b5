/* SPDX-License-Identifier: Apache-2.0 */
/*
 * link - the process's one connection to osprofiler-sidecar (docs/wire.md).
 *
 * A SOCK_SEQPACKET socket: it keeps frame boundaries and, unlike AF_UNIX
 * datagrams, is not limited to 10 queued messages (net.unix.max_dgram_qlen),
 * only by the send buffer, raised to 4 MiB. Every send is MSG_DONTWAIT: the
 * library never blocks its caller.
 *
 * The descriptor number never changes once created: a reconnect dup3()s the
 * new connection onto it, so a thread sending concurrently never writes into
 * a descriptor the application reopened meanwhile. Reconnects are tried at
 * most every 200 ms (a try-lock, never a wait), so an absent sidecar costs
 * no system call per point; a thread that only writes to its ring learns
 * that the sidecar went away by peeking at the socket, at most every 100 ms
 * process-wide.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/hop.h"
#include "internal.h"

#define RECONNECT_EVERY_MS 200
#define LIVENESS_EVERY_MS  100
#define SOCKET_SNDBUF      (4 * 1024 * 1024)
#define FRAME_TARGET       (64 * 1024)

static struct {
    int fd; /* stable number; -1 when there is no sidecar notifier */
    struct sockaddr_un addr;
    pthread_mutex_t connect_lock;
    atomic_int_fast64_t next_connect_ms, next_liveness_ms;
    atomic_uint generation; /* bumped by each successful (re)connect */
    atomic_bool up;
    char header[OSP_HOP_HEADER_FIXED + OSP_HOP_MAX_PUBLISHER];
    size_t header_len;
} L = {.fd = -1, .connect_lock = PTHREAD_MUTEX_INITIALIZER};

/* Milliseconds on the coarse clock: a vDSO read with no TSC access. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int new_socket(void) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        int sz = SOCKET_SNDBUF;
        (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    return s;
}

int osp__link_open(const char *path, const char *publisher, size_t publisher_len) {
    memset(&L.addr, 0, sizeof L.addr);
    L.addr.sun_family = AF_UNIX;
    strcpy(L.addr.sun_path, path);
    L.header_len = osp__hop_header(L.header, publisher, publisher_len);
    L.header[5] = OSP_HOP_FLAG_BINARY;
    L.fd = new_socket();
    if (L.fd < 0)
        return -errno;
    atomic_store(&L.next_connect_ms, 0);
    atomic_store(&L.up, false);
    return 0;
}

void osp__link_close(void) {
    if (L.fd >= 0)
        close(L.fd);
    L.fd = -1;
    atomic_store(&L.up, false);
}

bool osp__link_up(void) { return atomic_load_explicit(&L.up, memory_order_relaxed); }

unsigned osp__link_generation(void) {
    return atomic_load_explicit(&L.generation, memory_order_acquire);
}

bool osp__link_connect(void) {
    if (L.fd < 0)
        return false;
    unsigned seen = atomic_load(&L.generation);
    int64_t now = now_ms();
    if (now < atomic_load(&L.next_connect_ms))
        return atomic_load(&L.up);
    if (pthread_mutex_trylock(&L.connect_lock) != 0)
        return false;
    bool ok = false;
    if (atomic_load(&L.generation) != seen) {
        ok = atomic_load(&L.up); /* another thread reconnected meanwhile */
        goto out;
    }
    atomic_store(&L.next_connect_ms, now + RECONNECT_EVERY_MS);
    int s = new_socket();
    if (s < 0)
        goto out;
    if (connect(s, (struct sockaddr *)&L.addr, sizeof L.addr) == 0 &&
        dup3(s, L.fd, O_CLOEXEC) >= 0) {
        ok = true;
        atomic_fetch_add(&L.generation, 1);
        if (!atomic_exchange(&L.up, true))
            osp__log(OSP_LOG_INFO, "connected to osprofiler-sidecar at %s",
                     L.addr.sun_path);
    } else if (atomic_exchange(&L.up, false)) {
        osp__log(OSP_LOG_WARN,
                 "osprofiler-sidecar at %s unreachable (%s); trace points wait in each "
                 "thread's ring and buffer until it is back",
                 L.addr.sun_path, strerror(errno));
    }
    close(s);
out:
    pthread_mutex_unlock(&L.connect_lock);
    return ok;
}

static void lost(void) {
    if (atomic_exchange(&L.up, false))
        osp__log(OSP_LOG_WARN,
                 "osprofiler-sidecar at %s went away; trace points wait in each "
                 "thread's ring and buffer until it is back",
                 L.addr.sun_path);
}

void osp__link_check_alive(void) {
    if (L.fd < 0)
        return;
    if (!atomic_load_explicit(&L.up, memory_order_relaxed)) {
        osp__link_connect(); /* at most every 200 ms */
        return;
    }
    int64_t now = now_ms(),
            next = atomic_load_explicit(&L.next_liveness_ms, memory_order_relaxed);
    if (now < next || !atomic_compare_exchange_strong(&L.next_liveness_ms, &next,
                                                      now + LIVENESS_EVERY_MS))
        return;
    char c;
    ssize_t r = recv(L.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        lost();
        osp__link_connect();
    }
}

/* Little-endian u32 at p. */
static size_t rec_len(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
}

size_t osp__link_send(const char *recs, size_t len, uint64_t *points) {
    size_t off = 0;
    *points = 0;
    int tries = 0;
    while (off < len && atomic_load(&L.up)) {
        /* Whole records up to FRAME_TARGET (one may be alone and larger). */
        size_t span = 0, count = 0;
        while (off + span < len) {
            size_t n = 4 + rec_len(recs + off + span);
            if (count && L.header_len + span + n > FRAME_TARGET)
                break;
            span += n;
            count++;
        }
        unsigned gen = atomic_load(&L.generation);
        struct iovec iov[2] = {{L.header, L.header_len}, {(void *)(recs + off), span}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r = sendmsg(L.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0) {
            off += span;
            *points += count;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == ENOBUFS)
            break; /* the sidecar is not reading now: keep the rest */
        if (errno == EMSGSIZE && count == 1) {
            /* Cannot happen for records under OSP_HOP_MAX_FRAME: emit.c
             * checks; treat as a broken peer rather than loop. */
            break;
        }
        lost();
        if (tries++ < 2 && atomic_load(&L.generation) == gen && osp__link_connect())
            continue;
        break;
    }
    return off;
}

bool osp__link_register_ring(int mem_fd, int event_fd) {
    char hdr[OSP_HOP_HEADER_FIXED + OSP_HOP_MAX_PUBLISHER];
    memcpy(hdr, L.header, L.header_len);
    hdr[5] = OSP_HOP_FLAG_RING;
    struct iovec iov = {hdr, L.header_len};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {mem_fd, event_fd};
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    return sendmsg(L.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0;
}

void osp__link_after_fork(void) {
    pthread_mutex_init(&L.connect_lock, NULL);
    if (L.fd < 0)
        return;
    /* Our own connection: do not interleave with the parent's. */
    int s = new_socket();
    if (s >= 0) {
        dup3(s, L.fd, O_CLOEXEC);
        close(s);
    }
    atomic_store(&L.next_connect_ms, 0);
    atomic_fetch_add(&L.generation, 1);
    atomic_store(&L.up, false);
}
