/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receiver - a minimal stand-in for osprofiler-sidecar, for the benchmarks.
 *
 *   receiver SOCKET_PATH [READY_FILE]
 *
 * Listens on a SOCK_SEQPACKET unix socket at SOCKET_PATH, accepts any number
 * of connections and drains hop frames (src/common/hop.h) with epoll. Each
 * frame's header is checked with osp__hop_parse(); trace points are counted
 * as the '\n' bytes after the header. Nothing is parsed or stored beyond
 * that: the receiver only has to keep up so the sender never sees EAGAIN.
 *
 * Once listening, it creates READY_FILE (if given). On SIGTERM or SIGINT it
 * drains whatever is still queued on its connections, prints one line
 *   frames=N points=N bytes=N bad_frames=N connections=N
 * on stdout, unlinks SOCKET_PATH and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/hop.h"

#define MAX_CONNS 256

static unsigned char frame[OSP_HOP_MAX_FRAME + 1];
static uint64_t n_frames, n_points, n_bytes, n_bad, n_conns;
static int conns[MAX_CONNS];
static int nconns;

static uint64_t count_nl(const unsigned char *p, size_t n) {
    uint64_t c = 0;
    const unsigned char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

/* Read every queued frame on fd. Returns 0 when the peer is gone. */
static int drain(int fd) {
    for (;;) {
        ssize_t r = recv(fd, frame, sizeof frame, MSG_DONTWAIT | MSG_TRUNC);
        if (r > 0) {
            n_frames++;
            n_bytes += (uint64_t)r;
            size_t len = (size_t)r > OSP_HOP_MAX_FRAME ? sizeof frame : (size_t)r;
            osp_hop_frame_t f;
            if ((size_t)r > OSP_HOP_MAX_FRAME || osp__hop_parse(frame, len, &f, NULL) != 0) {
                n_bad++;
                continue;
            }
            size_t hdr = (size_t)((const unsigned char *)f.next - frame);
            n_points += count_nl(frame + hdr, len - hdr);
            continue;
        }
        if (r == 0)
            return 0; /* orderly shutdown: SEQPACKET gives 0 only at EOF */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        return 0;
    }
}

static void drop_conn(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    for (int i = 0; i < nconns; i++)
        if (conns[i] == fd) {
            conns[i] = conns[--nconns];
            break;
        }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SOCKET_PATH [READY_FILE]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
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
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

    if (argc == 3) {
        int rf = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (rf >= 0)
            close(rf);
    }

    int stop = 0;
    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("receiver: epoll_wait");
            break;
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
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else if (!drain(fd)) {
                drop_conn(ep, fd);
            }
        }
    }
    /* Final drain: the senders have finished; take what is still queued. */
    for (int i = nconns - 1; i >= 0; i--)
        drain(conns[i]);
    printf("frames=%" PRIu64 " points=%" PRIu64 " bytes=%" PRIu64 " bad_frames=%" PRIu64
           " connections=%" PRIu64 "\n",
           n_frames, n_points, n_bytes, n_bad, n_conns);
    fflush(stdout);
    unlink(path);
    return 0;
}
