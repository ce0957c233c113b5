/* SPDX-License-Identifier: Apache-2.0 */
/*
 * intake - the loop thread's side of the hop (docs/wire.md): a SOCK_SEQPACKET
 * listener, one connection per traced process, and the shared rings those
 * processes register. Every frame and record is checked (hop.c) before it is
 * queued; anything malformed is counted and dropped, alone.
 *
 * Rings are polled: every ~20 us while records flow (polling without pause
 * would bounce the rings' cache lines), every 1 ms for a short while after,
 * then the loop sets consumer_waiting and sleeps on the rings' eventfds.
 * Receiving never waits for the broker: the queue is bounded and a full queue
 * drops (counted) instead of blocking.
 */
#include "intake.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "common/hop.h"
#include "common/point.h"
#include "common/ring.h"
#include "log.h"
#include "stats.h"

#define MAX_CONNS  1024
#define MAX_RINGS  4096
#define IDLE_MS    50 /* after this long without records, rings may sleep */
#define TAG_LISTEN 0
#define TAG_STOP   1
#define TAG_CONN   2 /* + connection index in the upper bits */
#define TAG_RING   3
#define TAG_CTL    4

struct conn {
    pid_t pid; /* the peer, from SO_PEERCRED when it connected */
    uid_t uid;
    bool replaced_logged;
    int fd;
    char publisher[OSP_HOP_MAX_PUBLISHER + 1];
};

struct ring {
    osp_ring_t r;
    struct osp_intake *in; /* for the drain callback */
    int conn_fd;           /* the connection that registered it */
    char publisher[OSP_HOP_MAX_PUBLISHER + 1];
};

struct osp_intake {
    osp_queue_t *q;
    osp_spool_t *spool; /* NULL: memory only */
    int lfd, ep;
    int ctl_fd; /* <listen_socket>.ctl: answers with the counters */
    char ctl_path[112];
    struct conn conns[MAX_CONNS];
    size_t nconns;
    struct ring *rings;
    size_t nrings;
    char *buf;
    char path[108];
    char host[256]; /* publisher_policy = local: the only publisher_id; else "" */
    double last_record;
    double stats_every_ms, last_stats;
    uint64_t dropped_logged;
};

static double now_ms(void) { return osp_sc_mono() * 1e3; }

static void take_point(osp_intake_t *in, const char *rec, size_t len,
                       const char *publisher) {
    osp_point_view_t pt;
    osp_error_t err;
    if (len && rec[len - 1] == '\n')
        len--;
    if (osp__point_scan(rec, len, &pt, &err) != OSP_OK) {
        OSP_STAT_ADD(dropped_invalid, 1);
        OSP_LOG(OSP_LL_DEBUG, "intake", "dropped a point: %s", err.text);
        return;
    }
    /* event_type = "profiler.%s" % service, as the messaging driver */
    char small[128] = "None", *service = small;
    if (pt.service.raw) {
        size_t cap = pt.service.len + 1; /* decoding never lengthens */
        if (cap > sizeof small && !(service = malloc(cap)))
            service = small, cap = sizeof small;
        osp__jstr_decode(&pt.service, service, cap);
    }
    osp_msg_t *m = osp_msg_new(rec, len, publisher, strlen(publisher), service);
    if (service != small)
        free(service);
    /* To disk while the broker is away or slow, and while older points are
     * still there (order). Memory when the disk refuses. */
    if (m && in->spool &&
        (!atomic_load(&osp_sc_stats.connected) || in->q->bytes > in->q->limit / 2 ||
         osp_spool_pending(in->spool) > 0) &&
        osp_spool_append(in->spool, m)) {
        osp_msg_free(m);
        OSP_STAT_ADD(spooled, 1);
        OSP_STAT_ADD(received, 1);
        in->last_record = now_ms();
        return;
    }
    if (!m || !osp_queue_push(in->q, m)) {
        osp_msg_free(m);
        OSP_STAT_ADD(dropped_memory, 1);
        uint64_t n = atomic_load(&osp_sc_stats.dropped_memory);
        if (n >= in->dropped_logged * 2) { /* log at 1, 2, 4, 8, ... */
            OSP_LOG(OSP_LL_WARN, "intake",
                    "memory_limit reached: %llu points dropped so far (broker too slow "
                    "or down)",
                    (unsigned long long)n);
            in->dropped_logged = n;
        }
        return;
    }
    OSP_STAT_ADD(received, 1);
    in->last_record = now_ms();
}

static void on_ring_record(const char *rec, size_t len, void *ud) {
    struct ring *g = ud;
    take_point(g->in, rec, len, g->publisher);
}

static void drop_ring(osp_intake_t *in, size_t i) {
    osp__ring_drain(&in->rings[i].r, on_ring_record, &in->rings[i]);
    epoll_ctl(in->ep, EPOLL_CTL_DEL, in->rings[i].r.event_fd, NULL);
    osp__ring_destroy(&in->rings[i].r, false);
    in->rings[i] = in->rings[--in->nrings];
}

static long drain_rings(osp_intake_t *in) {
    long total = 0;
    for (size_t i = 0; i < in->nrings;) {
        bool closed = osp__ring_closed(&in->rings[i].r);
        long n = osp__ring_drain(&in->rings[i].r, on_ring_record, &in->rings[i]);
        if (n < 0) {
            OSP_STAT_ADD(dropped_invalid, 1);
            OSP_LOG(OSP_LL_WARN, "intake", "a ring of %s is corrupt: detached",
                    in->rings[i].publisher);
        }
        if (n < 0 || closed) {
            drop_ring(in, i);
            continue;
        }
        total += n;
        i++;
    }
    return total;
}

static void add_ring(osp_intake_t *in, struct conn *c, int *fds, int nfds) {
    if (nfds != 2 || in->nrings == MAX_RINGS) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        OSP_STAT_ADD(dropped_invalid, 1);
        return;
    }
    struct ring *g = &in->rings[in->nrings];
    if (osp__ring_attach(&g->r, fds[0], fds[1]) != 0) {
        OSP_STAT_ADD(dropped_invalid, 1);
        return;
    }
    g->conn_fd = c->fd;
    g->in = in;
    memcpy(g->publisher, c->publisher, sizeof g->publisher);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_RING};
    epoll_ctl(in->ep, EPOLL_CTL_ADD, g->r.event_fd, &ev);
    osp__ring_set_attached(&g->r);
    in->nrings++;
    OSP_STAT_ADD(rings, 1);
}

static void close_conn(osp_intake_t *in, size_t i) {
    int fd = in->conns[i].fd;
    /* Its rings stay readable: the process may have died with records in
     * them, and a reconnecting process registers them again. Drain and let
     * go of them now; the process re-registers on its new connection. */
    for (size_t k = 0; k < in->nrings;) {
        if (in->rings[k].conn_fd == fd)
            drop_ring(in, k);
        else
            k++;
    }
    epoll_ctl(in->ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    in->conns[i] = in->conns[--in->nconns];
    if (i < in->nconns) { /* its epoll tag holds its index: refresh it */
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = TAG_CONN | (uint64_t)i << 8};
        epoll_ctl(in->ep, EPOLL_CTL_MOD, in->conns[i].fd, &ev);
    }
}

/* publisher_policy = local: a process may only publish as this host. What it
 * claimed is logged once per connection (printable characters only). */
static void apply_publisher_policy(osp_intake_t *in, struct conn *c) {
    if (!in->host[0] || strcmp(c->publisher, in->host) == 0)
        return;
    if (!c->replaced_logged) {
        char shown[65];
        size_t k = 0;
        for (const char *p = c->publisher; *p && k < sizeof shown - 1; p++)
            shown[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        shown[k] = '\0';
        OSP_LOG(OSP_LL_NOTICE, "intake",
                "pid %ld (uid %ld) sends as publisher '%s': published as '%s' "
                "(publisher_policy = local)",
                (long)c->pid, (long)c->uid, shown, in->host);
        c->replaced_logged = true;
    }
    OSP_STAT_ADD(publisher_replaced, 1);
    snprintf(c->publisher, sizeof c->publisher, "%s", in->host);
}

/* Read up to 64 frames. Returns 1 if more may be waiting, 0 when the socket
 * is drained, -1 when the connection was closed (index i is now another). */
static int read_conn(osp_intake_t *in, size_t i) {
    struct conn *c = &in->conns[i];
    for (int budget = 64; budget > 0; budget--) {
        int fds[OSP_HOP_MAX_FDS], nfds;
        bool truncated;
        ssize_t got =
            osp__hop_recv(c->fd, in->buf, OSP_HOP_MAX_FRAME + 1, fds, &nfds, &truncated);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            close_conn(in, i);
            return -1;
        }
        if (got < 0)
            return errno == EINTR ? 1 : 0;
        osp_hop_frame_t f;
        osp_error_t err;
        if (truncated || osp__hop_parse(in->buf, (size_t)got, &f, &err)) {
            OSP_STAT_ADD(dropped_invalid, 1);
            OSP_LOG(OSP_LL_DEBUG, "intake", "dropped a frame: %s",
                    truncated ? "too large" : err.text);
            for (int j = 0; j < nfds; j++)
                close(fds[j]);
            continue;
        }
        memcpy(c->publisher, f.publisher, f.publisher_len);
        c->publisher[f.publisher_len] = '\0';
        apply_publisher_policy(in, c);
        if (f.flags & OSP_HOP_FLAG_RING) {
            add_ring(in, c, fds, nfds);
            continue;
        }
        for (int j = 0; j < nfds; j++)
            close(fds[j]);
        const char *rec;
        size_t len;
        int rc;
        while ((rc = osp__hop_next(&f, &rec, &len)) == 1)
            take_point(in, rec, len, c->publisher);
        if (rc < 0)
            OSP_STAT_ADD(dropped_invalid, 1); /* truncated last record */
    }
    return 1;
}

/* One JSON line of counters per connection to the control socket (what
 * "osprofiler-sidecar --stats" prints). */
static void serve_stats(osp_intake_t *in) {
    int fd = accept4(in->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char out[1024];
    int n = osp_sc_stats_json(out, sizeof out, osp_queue_count(in->q), in->nconns,
                              in->nrings);
    ssize_t w = send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
}

static void accept_conns(osp_intake_t *in) {
    for (;;) {
        int fd = accept4(in->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (in->nconns == MAX_CONNS) {
            OSP_LOG(OSP_LL_WARN, "intake", "%d connections: refusing more", MAX_CONNS);
            close(fd);
            continue;
        }
        size_t i = in->nconns++;
        struct ucred cred = {0};
        socklen_t cl = sizeof cred;
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
        in->conns[i] = (struct conn){.fd = fd, .pid = cred.pid, .uid = cred.uid};
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = TAG_CONN | (uint64_t)i << 8};
        epoll_ctl(in->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* listen_group: the socket's group, so that members may connect (0660). */
static int set_group(const char *path, const char *group, osp_error_t *err) {
    struct group gr, *found = NULL;
    char buf[4096];
    if (getgrnam_r(group, &gr, buf, sizeof buf, &found) != 0 || !found)
        return osp__error_set(err, OSP_ECONFIG, path, 0,
                              "listen_group '%s': no such group", group);
    if (chown(path, (uid_t)-1, gr.gr_gid) != 0)
        return osp__error_set(err, OSP_ECONFIG, path, 0,
                              "%s: cannot give it group '%s': %s", path, group,
                              strerror(errno));
    return OSP_OK;
}

int osp_intake_open(osp_intake_t **out, const osp_sc_config_t *cfg, osp_queue_t *q,
                    osp_spool_t *spool, osp_error_t *err) {
    const char *path = cfg->listen_socket;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return osp__error_set(err, OSP_ECONFIG, "listen_socket", 0,
                              "listen_socket longer than %zu bytes",
                              sizeof a.sun_path - 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return osp__error_set(err, OSP_ECONFIG, path, 0,
                                  "%s exists and is not a socket: refusing to replace it",
                                  path);
        unlink(path); /* a stale socket of an earlier run */
    }
    osp_intake_t *in = calloc(1, sizeof *in);
    if (!in)
        return OSP_ENOMEM;
    in->q = q;
    in->spool = spool;
    in->rings = calloc(MAX_RINGS, sizeof *in->rings);
    in->buf = malloc(OSP_HOP_MAX_FRAME + 1);
    in->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    in->ep = epoll_create1(EPOLL_CLOEXEC);
    strcpy(a.sun_path, path);
    strcpy(in->path, path);
    if (cfg->publisher_local) {
        if (cfg->host[0])
            snprintf(in->host, sizeof in->host, "%s", cfg->host);
        else if (gethostname(in->host, sizeof in->host - 1) != 0)
            snprintf(in->host, sizeof in->host, "localhost");
    }
    int rc = OSP_OK;
    if (!in->rings || !in->buf || in->lfd < 0 || in->ep < 0) {
        rc = OSP_ENOMEM;
        goto fail;
    }
    mode_t old = umask(0177); /* no window where the socket is wider open */
    int b = bind(in->lfd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (b != 0 || chmod(path, cfg->listen_mode) != 0 || listen(in->lfd, 128) != 0) {
        rc = osp__error_set(err, -errno, path, 0, "%s: cannot listen: %s", path,
                            strerror(errno));
        goto fail;
    }
    if (cfg->listen_group[0] && (rc = set_group(path, cfg->listen_group, err)) != OSP_OK)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
    epoll_ctl(in->ep, EPOLL_CTL_ADD, in->lfd, &ev);
    /* The control socket: same directory and mode as the listener. */
    snprintf(in->ctl_path, sizeof in->ctl_path, "%s.ctl", path);
    struct sockaddr_un ca = {.sun_family = AF_UNIX};
    in->ctl_fd = -1;
    if (strlen(in->ctl_path) < sizeof ca.sun_path &&
        (lstat(in->ctl_path, &st) != 0 || S_ISSOCK(st.st_mode))) {
        unlink(in->ctl_path);
        strcpy(ca.sun_path, in->ctl_path);
        in->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        old = umask(0177);
        if (in->ctl_fd < 0 || bind(in->ctl_fd, (struct sockaddr *)&ca, sizeof ca) != 0 ||
            chmod(in->ctl_path, cfg->listen_mode) != 0 || listen(in->ctl_fd, 16) != 0) {
            OSP_LOG(OSP_LL_WARN, "intake", "%s: no control socket: %s", in->ctl_path,
                    strerror(errno));
            if (in->ctl_fd >= 0)
                close(in->ctl_fd);
            in->ctl_fd = -1;
        } else {
            struct epoll_event cev = {.events = EPOLLIN, .data.u64 = TAG_CTL};
            epoll_ctl(in->ep, EPOLL_CTL_ADD, in->ctl_fd, &cev);
            osp_error_t gerr;
            if (cfg->listen_group[0] && set_group(in->ctl_path, cfg->listen_group, &gerr))
                OSP_LOG(OSP_LL_WARN, "intake", "%s", gerr.text);
        }
        umask(old);
    }
    *out = in;
    return OSP_OK;
fail:
    if (in->lfd >= 0)
        close(in->lfd);
    if (in->ep >= 0)
        close(in->ep);
    free(in->rings);
    free(in->buf);
    free(in);
    return rc;
}

void osp_intake_set_stats_interval(osp_intake_t *in, double seconds) {
    in->stats_every_ms = seconds * 1000.0;
    in->last_stats = now_ms();
}

static void maybe_log_stats(osp_intake_t *in) {
    if (in->stats_every_ms <= 0 || now_ms() - in->last_stats < in->stats_every_ms)
        return;
    in->last_stats = now_ms();
    char json[1024];
    int n = osp_sc_stats_json(json, sizeof json, osp_queue_count(in->q), in->nconns,
                              in->nrings);
    if (n > 0 && json[n - 1] == '\n')
        json[n - 1] = '\0';
    OSP_LOG(OSP_LL_INFO, "stats", "%s", json);
}

void osp_intake_run(osp_intake_t *in, int stop_fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_STOP};
    epoll_ctl(in->ep, EPOLL_CTL_ADD, stop_fd, &ev);
    bool sleeping = false;
    for (;;) {
        maybe_log_stats(in);
        long drained = drain_rings(in);
        int timeout = 1000;
        if (drained) {
            usleep(20);
            timeout = 0;
        } else if (in->nrings && now_ms() - in->last_record < IDLE_MS) {
            timeout = 1;
        } else if (in->nrings) {
            /* Quiet: let producers wake us through the eventfds. */
            bool all = true;
            for (size_t i = 0; i < in->nrings && all; i++)
                all = osp__ring_prepare_sleep(&in->rings[i].r);
            if (!all)
                timeout = 0;
            sleeping = all;
        }
        if (in->stats_every_ms > 0) { /* wake up for the next stats line */
            double left = in->stats_every_ms - (now_ms() - in->last_stats);
            if (left < timeout)
                timeout = left > 0 ? (int)left + 1 : 0;
        }
        struct epoll_event evs[64];
        int n;
        if (timeout == 1) {
            /* Records flow but sparsely: look again after 200 us, not a
             * whole millisecond (epoll_wait's unit), which would add up to
             * 1 ms to every point's way to the broker. */
            struct timespec ts = {0, 200000};
            n = epoll_pwait2(in->ep, evs, 64, &ts, NULL);
        } else {
            n = epoll_wait(in->ep, evs, 64, timeout);
        }
        if (sleeping) {
            for (size_t i = 0; i < in->nrings; i++)
                atomic_store(&in->rings[i].r.hdr->consumer_waiting, 0);
            sleeping = false;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            switch (tag & 0xff) {
            case TAG_STOP:
                epoll_ctl(in->ep, EPOLL_CTL_DEL, stop_fd, NULL);
                return;
            case TAG_LISTEN:
                accept_conns(in);
                break;
            case TAG_CTL:
                serve_stats(in);
                break;
            case TAG_RING: {
                uint64_t v;
                for (size_t k = 0; k < in->nrings; k++) /* clear the wake-ups */
                    while (read(in->rings[k].r.event_fd, &v, sizeof v) ==
                           (ssize_t)sizeof v)
                        ;
                in->last_record = now_ms();
                break;
            }
            default: {
                size_t idx = (size_t)(tag >> 8);
                if (idx < in->nconns)
                    read_conn(in, idx);
            }
            }
        }
    }
}

void osp_intake_close(osp_intake_t *in) {
    if (!in)
        return;
    /* Take what clients sent before the stop: connections still in the
     * backlog, frames still queued on each connection. */
    accept_conns(in);
    close(in->lfd);
    unlink(in->path);
    while (in->nconns) {
        int r;
        while ((r = read_conn(in, 0)) > 0)
            ;
        if (r == 0)
            close_conn(in, 0); /* drained; its rings too */
    }
    if (in->ctl_fd >= 0) {
        close(in->ctl_fd);
        unlink(in->ctl_path);
    }
    while (in->nrings)
        drop_ring(in, 0);
    close(in->ep);
    free(in->rings);
    free(in->buf);
    free(in);
}
