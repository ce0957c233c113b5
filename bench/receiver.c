/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receiver - a minimal stand-in for osprofiler-sidecar, for the benchmarks.
 *
 *   receiver [--rings] [--spin-us N] [--poll-us N] SOCKET_PATH [READY_FILE]
 *
 * Listens on a SOCK_SEQPACKET unix socket at SOCKET_PATH, accepts any number
 * of connections and drains hop frames (docs/wire.md, src/common/hop.h) with
 * epoll. Each frame's header is checked with osp__hop_parse(); trace points
 * are counted as the '\n' bytes after the header. Nothing else is parsed or
 * stored: the receiver only has to keep up so the sender never sees EAGAIN.
 *
 * Rings (docs/wire.md, "Rings"): without --rings a ring registration (a
 * header-only frame with flag RING and two descriptors) is counted and its
 * descriptors closed, so the sender keeps using frames. With --rings the ring
 * is mapped (osp__ring_attach), marked attached and drained as the sidecar
 * does: continuously while records flow and for --spin-us microseconds after
 * the last one (default 1000), then it announces consumer_waiting and sleeps
 * on the rings' eventfds. --poll-us N (default 0: busy polling) sleeps N us
 * between two drains while records flow. Ring records are counted one point
 * each.
 *
 * Once listening, it creates READY_FILE (if given). On SIGTERM or SIGINT it
 * drains what is still queued on its connections and rings, prints one line
 *   frames=N points=N bytes=N bad_frames=N connections=N ring_regs=N
 *   rings=N ring_points=N wakeups=N max_backlog=BYTES
 * on stdout (points includes ring_points), unlinks SOCKET_PATH and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/hop.h"
#include "common/ring.h"

#define MAX_CONNS 256
#define MAX_RINGS 256

static unsigned char frame[OSP_HOP_MAX_FRAME + 1];
static uint64_t n_frames, n_points, n_bytes, n_bad, n_conns, n_ring_regs, n_rings,
    n_ring_points, n_wakeups, max_backlog;
static int conns[MAX_CONNS];
static int nconns;
static int ep = -1;
static bool accept_rings;

struct ring_slot {
    osp_ring_t ring;
    int conn; /* connection that registered it */
};
static struct ring_slot rings[MAX_RINGS];
static int nrings;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t count_nl(const unsigned char *p, size_t n) {
    uint64_t c = 0;
    const unsigned char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

static void on_ring_record(const char *rec, size_t len, void *ud) {
    (void)rec;
    (void)len;
    (void)ud;
    n_ring_points++;
}

static void ring_remove(int i) {
    epoll_ctl(ep, EPOLL_CTL_DEL, rings[i].ring.event_fd, NULL);
    osp__ring_destroy(&rings[i].ring, false);
    rings[i] = rings[--nrings];
}

/* Drain every ring; drop those whose producer closed or corrupted them, and
 * (closed_conn >= 0) those of a connection that went away. */
static long drain_rings(int closed_conn) {
    long total = 0;
    for (int i = 0; i < nrings;) {
        bool closed = osp__ring_closed(&rings[i].ring);
        uint64_t backlog =
            atomic_load(&rings[i].ring.hdr->head) - atomic_load(&rings[i].ring.hdr->tail);
        if (backlog > max_backlog && backlog <= rings[i].ring.size)
            max_backlog = backlog;
        long n = osp__ring_drain(&rings[i].ring, on_ring_record, NULL);
        total += n > 0 ? n : 0;
        if (n < 0 || closed || rings[i].conn == closed_conn) {
            if (n >= 0 && !closed)
                osp__ring_drain(&rings[i].ring, on_ring_record, NULL);
            ring_remove(i);
            continue;
        }
        i++;
    }
    return total;
}

static void handle_ring_reg(int conn, int *fds, int nfds) {
    n_ring_regs++;
    if (accept_rings && nfds == 2 && nrings < MAX_RINGS) {
        /* A re-registration of a ring we already read replaces the old map. */
        struct ring_slot *s = &rings[nrings];
        if (osp__ring_attach(&s->ring, fds[0], fds[1]) == 0) {
            s->conn = conn;
            osp__ring_set_attached(&s->ring);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->ring.event_fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, s->ring.event_fd, &ev);
            nrings++;
            n_rings++;
        }
        return; /* attach owns the fds, also on failure */
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

/* Read every queued frame on fd. Returns 0 when the peer is gone. */
static int drain_conn(int fd) {
    for (;;) {
        int fds[OSP_HOP_MAX_FDS], nfds;
        bool truncated;
        ssize_t r = osp__hop_recv(fd, frame, sizeof frame, fds, &nfds, &truncated);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (r == 0)
            return 0; /* SEQPACKET gives 0 only at EOF */
        n_frames++;
        n_bytes += (uint64_t)r;
        osp_hop_frame_t f;
        if (truncated || osp__hop_parse(frame, (size_t)r, &f, NULL) != 0) {
            n_bad++;
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            continue;
        }
        if (f.flags & OSP_HOP_FLAG_RING) {
            handle_ring_reg(fd, fds, nfds);
            continue;
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        size_t hdr = (size_t)((const unsigned char *)f.next - frame);
        n_points += count_nl(frame + hdr, (size_t)r - hdr);
    }
}

static void drop_conn(int fd) {
    drain_rings(fd);
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    for (int i = 0; i < nconns; i++)
        if (conns[i] == fd) {
            conns[i] = conns[--nconns];
            break;
        }
}

static bool is_ring_eventfd(int fd) {
    for (int i = 0; i < nrings; i++)
        if (rings[i].ring.event_fd == fd)
            return true;
    return false;
}

int main(int argc, char **argv) {
    long spin_us = 1000, poll_us = 0;
    int ai = 1;
    for (; ai < argc && argv[ai][0] == '-' && argv[ai][1] == '-'; ai++) {
        if (!strcmp(argv[ai], "--rings"))
            accept_rings = true;
        else if (!strcmp(argv[ai], "--spin-us") && ai + 1 < argc)
            spin_us = atol(argv[++ai]);
        else if (!strcmp(argv[ai], "--poll-us") && ai + 1 < argc)
            poll_us = atol(argv[++ai]);
        else
            break;
    }
    if (argc - ai < 1 || argc - ai > 2) {
        fprintf(
            stderr,
            "usage: %s [--rings] [--spin-us N] [--poll-us N] SOCKET_PATH [READY_FILE]\n",
            argv[0]);
        return 2;
    }
    const char *path = argv[ai];
    const char *ready = argc - ai == 2 ? argv[ai + 1] : NULL;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "receiver: socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, path);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ls < 0 || sfd < 0) {
        perror("receiver: socket/signalfd");
        return 1;
    }
    unlink(path);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 128) != 0) {
        perror("receiver: bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

    if (ready) {
        int rf = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (rf >= 0)
            close(rf);
    }

    int stop = 0;
    int64_t last_record_us = 0;
    while (!stop) {
        int timeout = -1;
        if (nrings) {
            if (drain_rings(-1) > 0)
                last_record_us = now_us();
            if (now_us() - last_record_us < spin_us) {
                timeout = 0; /* traffic flows: keep polling the rings */
                if (poll_us > 0) {
                    struct timespec ts = {0, poll_us * 1000};
                    nanosleep(&ts, NULL);
                }
            } else {
                /* Idle: ask producers to wake us, then recheck once. */
                bool sleep_ok = true;
                for (int i = 0; i < nrings; i++)
                    if (!osp__ring_prepare_sleep(&rings[i].ring))
                        sleep_ok = false;
                if (!sleep_ok) {
                    for (int i = 0; i < nrings; i++)
                        atomic_store(&rings[i].ring.hdr->consumer_waiting, 0);
                    last_record_us = now_us();
                    timeout = 0;
                } else {
                    timeout = 1000; /* bounded: a lost wake-up costs 1 s at most */
                }
            }
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("receiver: epoll_wait");
            break;
        }
        if (timeout != 0) {
            for (int i = 0; i < nrings; i++)
                atomic_store(&rings[i].ring.hdr->consumer_waiting, 0);
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd) {
                stop = 1;
            } else if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (nconns == MAX_CONNS) {
                        close(c);
                        continue;
                    }
                    n_conns++;
                    conns[nconns++] = c;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP,
                                              .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else if (is_ring_eventfd(fd)) {
                uint64_t v;
                while (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
                    n_wakeups++;
                last_record_us = now_us();
            } else if (!drain_conn(fd)) {
                drop_conn(fd);
            }
        }
    }
    /* Final drain: the senders have finished; take what is still queued. */
    for (int i = nconns - 1; i >= 0; i--)
        drain_conn(conns[i]);
    drain_rings(-1);
    for (int i = nrings - 1; i >= 0; i--) {
        osp__ring_drain(&rings[i].ring, on_ring_record, NULL);
        ring_remove(i);
    }
    printf("frames=%" PRIu64 " points=%" PRIu64 " bytes=%" PRIu64 " bad_frames=%" PRIu64
           " connections=%" PRIu64 " ring_regs=%" PRIu64 " rings=%" PRIu64
           " ring_points=%" PRIu64 " wakeups=%" PRIu64 " max_backlog=%" PRIu64 "\n",
           n_frames, n_points + n_ring_points, n_bytes, n_bad, n_conns, n_ring_regs,
           n_rings, n_ring_points, n_wakeups, max_backlog);
    fflush(stdout);
    unlink(path);
    return 0;
}
