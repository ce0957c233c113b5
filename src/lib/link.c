/* SPDX-License-Identifier: Apache-2.0 */
/*
 * link - the process's one connection to osprofiler-sidecar (docs/wire.md).
 *
 * A SOCK_SEQPACKET socket: it keeps frame boundaries and, unlike AF_UNIX
 * datagrams, is not limited to 10 queued messages (net.unix.max_dgram_qlen),
 * only by the send buffer, raised to 4 MiB. Every send is MSG_DONTWAIT: the
 * library never blocks its caller. A point larger than a frame (256 KiB)
 * travels in a sealed memfd passed with a header-only frame.
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
#include <linux/sockios.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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
/* A header-only frame with flag, passing nfds (at most 2) descriptors;
 * sendmsg's result (EINTR retried). */
static ssize_t send_header_with_fds(char flag, const int *fds, size_t nfds) {
    char hdr[OSP_HOP_HEADER_FIXED + OSP_HOP_MAX_PUBLISHER];
    memcpy(hdr, L.header, L.header_len);
    hdr[5] = flag;
    struct iovec iov = {hdr, L.header_len};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    ssize_t r;
    while ((r = sendmsg(L.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return r;
}

enum ext_result { EXT_SENT, EXT_LATER, EXT_NO_MEMFD, EXT_LOST };
#define EXT_MAX_QUEUED 4096 /* unread bytes (~5 frames) a memfd may join */

/* One record too large for a frame ([u32 len][record], n bytes): written to
 * a memfd, sealed so that the sidecar reads what we wrote and nothing can
 * change under it, and sent with a header-only frame (docs/wire.md, "Large
 * points"). One sendmsg, so no other thread's frame can come between parts
 * of the point, and the sidecar keeps no state between frames. */
static enum ext_result send_ext(const char *rec, size_t n, int *err) {
    /* A memfd's bytes are not charged to the socket buffer, so the buffer
     * does not bound them while they wait unread: send one only while the
     * socket holds a few small frames at most (the sidecar keeps up). Else
     * the point stays in the thread buffer, which is bounded, and no memfd
     * is written for nothing. */
    int queued = 0;
    if (ioctl(L.fd, SIOCOUTQ, &queued) == 0 && queued > EXT_MAX_QUEUED) {
        *err = EAGAIN;
        return EXT_LATER;
    }
    int fd = memfd_create("osprofiler-point", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        *err = errno;
        return EXT_NO_MEMFD;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, rec + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *err = w < 0 ? errno : ENOSPC;
            close(fd);
            return EXT_NO_MEMFD;
        }
        off += (size_t)w;
    }
    if (fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
        *err = errno;
        close(fd);
        return EXT_NO_MEMFD;
    }
    ssize_t r = send_header_with_fds(OSP_HOP_FLAG_BINARY | OSP_HOP_FLAG_EXT, &fd, 1);
    *err = r < 0 ? errno : 0;
    close(fd); /* the message holds its own reference */
    if (r >= 0)
        return EXT_SENT;
    /* ETOOMANYREFS: too many descriptors in flight, the sidecar lags */
    return *err == EAGAIN || *err == ENOBUFS || *err == ETOOMANYREFS ? EXT_LATER
                                                                     : EXT_LOST;
}

size_t osp__link_send(const char *recs, size_t len, uint64_t *points, uint64_t *dropped) {
    size_t off = 0;
    *points = *dropped = 0;
    int tries = 0;
    while (off < len && atomic_load(&L.up)) {
        size_t first = 4 + rec_len(recs + off);
        if (L.header_len + first > OSP_HOP_MAX_FRAME) {
            unsigned gen = atomic_load(&L.generation);
            int err;
            enum ext_result r = send_ext(recs + off, first, &err);
            if (r == EXT_SENT || r == EXT_NO_MEMFD) {
                if (r == EXT_NO_MEMFD) {
                    char why[96];
                    snprintf(why, sizeof why,
                             "no memfd to carry a point larger than a frame (%s)",
                             osp_err_name(-err));
                    osp__drop_because(OSP_DROP_NOMEM, 1, why);
                }
                off += first;
                *(r == EXT_SENT ? points : dropped) += 1;
                continue;
            }
            if (r == EXT_LATER)
                break; /* the sidecar is not reading now: keep the rest */
            lost();
            if (tries++ < 2 && atomic_load(&L.generation) == gen && osp__link_connect())
                continue;
            break;
        }
        /* Whole records up to FRAME_TARGET (one may be alone and larger). */
        size_t span = 0, count = 0;
        while (off + span < len) {
            size_t n = 4 + rec_len(recs + off + span);
            /* a record too large for a frame goes alone, above */
            if (count && (L.header_len + span + n > FRAME_TARGET ||
                          L.header_len + n > OSP_HOP_MAX_FRAME))
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
            /* Cannot happen for a frame under OSP_HOP_MAX_FRAME (larger
             * records take a memfd); treat as a broken peer, not loop. */
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
    int fds[2] = {mem_fd, event_fd};
    return send_header_with_fds(OSP_HOP_FLAG_RING, fds, 2) >= 0;
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
