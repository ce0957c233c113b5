/* SPDX-License-Identifier: Apache-2.0 */
/*
 * intake - the loop thread's side of the hop (docs/wire.md): a SOCK_SEQPACKET
 * listener, one connection per traced process, the shared rings those
 * processes register (rings.c), and the control socket for --stats.
 *
 * Every pass asks flow.c how much it may take (room) and takes no more:
 * records from the rings first, then frames from the sockets, copied into a
 * chunk of entries (entry.h) that flow.c puts in memory or on the spool. A
 * frame is taken whole once read, so the room may be overrun by one frame
 * (256 KiB, at most ~2 MiB of entries; or the memfd of a large point, 8 MiB)
 * before the next pass sees none. A hostile client makes the sidecar hold
 * one frame or memfd at a time, never a partial point across frames. When
 * there is no room the sockets leave the epoll set, so the loop does not
 * spin, and the services' libraries hold their points (docs/design.md,
 * "Flow control"). Nothing is converted or checked deeply here: that
 * happens when a point leaves; the intake only refuses malformed frames and
 * record framing.
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
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "common/hop.h"
#include "common/record.h"
#include "log.h"
#include "rings.h"
#include "stats.h"

#define MAX_CONNS  1024
#define IDLE_MS    50 /* after this long without records, rings may sleep */
#define SLEEP_MS   50 /* a sleeping loop still looks at the rings this often */
#define HELD_MS    5  /* how often a holding-back loop asks for room again */
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

struct osp_intake {
    osp_flow_t *flow;
    osp_rings_t *rings;
    int lfd, ep;
    int ctl_fd; /* <listen_socket>.ctl: answers with the counters */
    char ctl_path[112];
    struct conn conns[MAX_CONNS];
    size_t nconns;
    bool sockets_paused; /* the connections are out of the epoll set */
    char *buf;
    osp_buf_t ext; /* the records of a frame that came in a memfd */
    char path[108];
    char host[256]; /* publisher_policy = local: the only publisher_id; else "" */
    double stats_every_ms, last_stats;
    /* this pass */
    osp_chunk_t *chunk;
    size_t budget;
    int64_t arrival_us;
    uint64_t received;
};

static double now_ms(void) { return osp_sc_mono() * 1e3; }

static int64_t real_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- taking */

static void commit(osp_intake_t *in) {
    if (in->received) {
        osp_flow_received(in->flow, in->received);
        in->received = 0;
    }
    if (in->chunk && in->chunk->used)
        osp_flow_put(in->flow, &in->chunk);
}

/* Copy one point into the pass's chunk. false: no room for it now (a
 * frame's points pass force: they were read already). */
static bool take(osp_intake_t *in, int kind, const char *publisher, size_t publisher_len,
                 const char *body, size_t len, bool force) {
    size_t size = osp_entry_size(publisher_len, len);
    if (size > in->budget && !force)
        return false;
    if (!in->chunk || !osp_chunk_add(in->chunk, kind, in->arrival_us, publisher,
                                     publisher_len, body, len)) {
        commit(in);
        if (!in->chunk || in->chunk->cap < size) {
            osp_chunk_free(in->chunk);
            in->chunk = osp_chunk_new(size);
        }
        if (!in->chunk || !osp_chunk_add(in->chunk, kind, in->arrival_us, publisher,
                                         publisher_len, body, len))
            return false; /* out of memory: it stays with the sender */
    }
    in->budget = size < in->budget ? in->budget - size : 0;
    in->received++;
    return true;
}

static void drop_invalid(osp_intake_t *in, const char *why) {
    in->received++;
    osp_flow_drop(in->flow, OSP_FLOW_DROP_INVALID, 1, why);
}

/* A binary record (ring or frame): its framing is checked now, its texts
 * when it leaves. true: taken or dropped; false: no room. */
static bool take_record(osp_intake_t *in, const char *publisher, size_t publisher_len,
                        const char *rec, size_t len, bool force) {
    osp_rec_t r;
    osp_error_t err;
    if (len > OSP_HOP_MAX_POINT) { /* a ring's records may be larger */
        drop_invalid(in, "a point over 8 MiB");
        return true;
    }
    if (osp__rec_read(rec, len, &r, &err) != OSP_OK) {
        drop_invalid(in, err.text);
        return true;
    }
    return take(in, OSP_ENTRY_RECORD, publisher, publisher_len, rec, len, force);
}

/* A JSON point from a frame: checked as Python would read it when it
 * leaves (entry.c), like a binary record's texts. */
static void take_json(osp_intake_t *in, const char *publisher, const char *rec,
                      size_t len) {
    if (len && rec[len - 1] == '\n')
        len--;
    if (len > OSP_HOP_MAX_POINT) {
        drop_invalid(in, "a point over 8 MiB");
        return;
    }
    if (!take(in, OSP_ENTRY_JSON, publisher, strlen(publisher), rec, len, true)) {
        osp_flow_drop(in->flow, OSP_FLOW_DROP_NOMEM, 1, NULL); /* no memory */
        in->received++;
    }
}

/* ---------------------------------------------------------------- sockets */

static void set_sockets_paused(osp_intake_t *in, bool paused) {
    if (in->sockets_paused == paused)
        return;
    in->sockets_paused = paused;
    for (size_t i = 0; i < in->nconns; i++) {
        struct epoll_event ev = {.events = paused ? 0 : EPOLLIN,
                                 .data.u64 = TAG_CONN | (uint64_t)i << 8};
        epoll_ctl(in->ep, EPOLL_CTL_MOD, in->conns[i].fd, &ev);
    }
}

static void close_conn(osp_intake_t *in, size_t i) {
    int fd = in->conns[i].fd;
    /* Its rings outlive it: the process may have died with records in
     * them. They are read to the end, then let go (rings.c). */
    osp_rings_orphan(in->rings, fd);
    epoll_ctl(in->ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    in->conns[i] = in->conns[--in->nconns];
    if (i < in->nconns) { /* its epoll tag holds its index: refresh it */
        struct epoll_event ev = {.events = in->sockets_paused ? 0 : EPOLLIN,
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

/* Read frames while there is room (up to 64). Returns 1 if more may be
 * waiting, 0 when the socket is drained, -1 when the connection was closed
 * (index i is now another). force: whatever the room (stopping: they would
 * be lost with the socket). */
static int read_conn(osp_intake_t *in, size_t i, bool force) {
    struct conn *c = &in->conns[i];
    for (int budget = 64; budget > 0; budget--) {
        if (!force && !in->budget)
            return 1;
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
            OSP_STAT_ADD(bad_frames, 1);
            OSP_LOG(OSP_LL_NOTICE, "intake", "pid %ld: refused a frame: %s", (long)c->pid,
                    truncated ? "too large" : err.text);
            for (int j = 0; j < nfds; j++)
                close(fds[j]);
            continue;
        }
        memcpy(c->publisher, f.publisher, f.publisher_len);
        c->publisher[f.publisher_len] = '\0';
        apply_publisher_policy(in, c);
        if (f.flags & OSP_HOP_FLAG_RING) {
            osp_rings_add(in->rings, c->fd, c->publisher, fds, nfds);
            continue;
        }
        int ext = OSP_OK;
        if (f.flags & OSP_HOP_FLAG_EXT)
            ext = nfds == 1 ? osp__hop_ext_records(&f, fds[0], &in->ext, &err)
                            : osp__error_set(&err, OSP_EFRAME, "hop", 0,
                                             "a frame with its records in a memfd came "
                                             "with %d descriptors, not one",
                                             nfds);
        for (int j = 0; j < nfds; j++)
            close(fds[j]);
        if (ext != OSP_OK) {
            OSP_STAT_ADD(bad_frames, 1);
            OSP_LOG(OSP_LL_NOTICE, "intake", "pid %ld: refused a frame: %s", (long)c->pid,
                    err.text);
            continue;
        }
        const char *rec;
        size_t len;
        int rc;
        size_t plen = strlen(c->publisher);
        while ((rc = osp__hop_next(&f, &rec, &len)) == 1) {
            if (!(f.flags & OSP_HOP_FLAG_BINARY))
                take_json(in, c->publisher, rec, len);
            else if (!take_record(in, c->publisher, plen, rec, len, true))
                osp_flow_drop(in->flow, OSP_FLOW_DROP_NOMEM, 1, NULL);
        }
        if (rc < 0)
            drop_invalid(in, "a frame's last record is cut short");
        if (in->ext.cap > OSP_HOP_MAX_FRAME)
            osp__buf_free(&in->ext); /* large points are rare: keep RSS small */
    }
    return 1;
}

static const osp_sc_buffers_t *buffers(osp_intake_t *in) {
    static osp_sc_buffers_t b;
    osp_flow_state(in->flow, &b);
    return &b;
}

/* One JSON line of counters per connection to the control socket (what
 * "osprofiler-sidecar --stats" prints). */
static void serve_stats(osp_intake_t *in) {
    int fd = accept4(in->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char out[4096];
    int n = osp_sc_stats_json(out, sizeof out, buffers(in), in->nconns,
                              osp_rings_count(in->rings));
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
        struct epoll_event ev = {.events = in->sockets_paused ? 0 : EPOLLIN,
                                 .data.u64 = TAG_CONN | (uint64_t)i << 8};
        epoll_ctl(in->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* ---------------------------------------------------------------- setup */

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

/* The control socket: same directory and mode as the listener. */
static void open_ctl(osp_intake_t *in, const osp_sc_config_t *cfg) {
    struct stat st;
    struct sockaddr_un ca = {.sun_family = AF_UNIX};
    snprintf(in->ctl_path, sizeof in->ctl_path, "%s.ctl", in->path);
    in->ctl_fd = -1;
    if (strlen(in->ctl_path) >= sizeof ca.sun_path ||
        (lstat(in->ctl_path, &st) == 0 && !S_ISSOCK(st.st_mode)))
        return;
    unlink(in->ctl_path);
    strcpy(ca.sun_path, in->ctl_path);
    in->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
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

int osp_intake_open(osp_intake_t **out, const osp_sc_config_t *cfg, osp_flow_t *flow,
                    osp_error_t *err) {
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
    in->flow = flow;
    in->buf = malloc(OSP_HOP_MAX_FRAME + 1);
    in->chunk = osp_chunk_new(0);
    in->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    in->ep = epoll_create1(EPOLL_CLOEXEC);
    in->rings = osp_rings_new(in->ep, TAG_RING);
    strcpy(a.sun_path, path);
    strcpy(in->path, path);
    if (cfg->publisher_local) {
        if (cfg->host[0])
            snprintf(in->host, sizeof in->host, "%s", cfg->host);
        else if (gethostname(in->host, sizeof in->host - 1) != 0)
            snprintf(in->host, sizeof in->host, "localhost");
    }
    int rc = OSP_OK;
    if (!in->rings || !in->buf || !in->chunk || in->lfd < 0 || in->ep < 0) {
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
    open_ctl(in, cfg);
    *out = in;
    return OSP_OK;
fail:
    if (in->lfd >= 0)
        close(in->lfd);
    osp_rings_free(in->rings, NULL, NULL);
    if (in->ep >= 0)
        close(in->ep);
    osp_chunk_free(in->chunk);
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
    char json[4096];
    int n = osp_sc_stats_json(json, sizeof json, buffers(in), in->nconns,
                              osp_rings_count(in->rings));
    if (n > 0 && json[n - 1] == '\n')
        json[n - 1] = '\0';
    OSP_LOG(OSP_LL_INFO, "stats", "%s", json);
}

/* ---------------------------------------------------------------- loop */

static bool ring_take(const char *publisher, size_t publisher_len, const char *rec,
                      size_t len, void *ud) {
    return take_record(ud, publisher, publisher_len, rec, len, false);
}

void osp_intake_run(osp_intake_t *in, int stop_fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_STOP};
    epoll_ctl(in->ep, EPOLL_CTL_ADD, stop_fd, &ev);
    double last_record = 0;
    for (;;) {
        maybe_log_stats(in);
        in->budget = osp_flow_room(in->flow);
        in->arrival_us = real_us();
        long drained = in->budget ? osp_rings_drain(in->rings, ring_take, in) : 0;
        if (drained)
            last_record = now_ms();
        set_sockets_paused(in, !in->budget);
        int timeout = 1000;
        bool sleeping = false;
        if (!in->budget) {
            timeout = HELD_MS;
        } else if (drained) {
            commit(in);
            usleep(20); /* let a few records gather: no cache-line ping-pong */
            timeout = 0;
        } else if (osp_rings_count(in->rings) && now_ms() - last_record < IDLE_MS) {
            timeout = 1;
        } else if (osp_rings_count(in->rings)) {
            /* Quiet: producers wake us through the eventfds; a wake-up lost
             * to their unfenced check (ring.c) waits SLEEP_MS at most. */
            sleeping = osp_rings_prepare_sleep(in->rings);
            timeout = sleeping ? SLEEP_MS : 0;
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
        if (sleeping)
            osp_rings_wake(in->rings);
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            switch (tag & 0xff) {
            case TAG_STOP:
                commit(in);
                epoll_ctl(in->ep, EPOLL_CTL_DEL, stop_fd, NULL);
                return;
            case TAG_LISTEN:
                accept_conns(in);
                break;
            case TAG_CTL:
                serve_stats(in);
                break;
            case TAG_RING:
                osp_rings_clear_wakeups(in->rings);
                last_record = now_ms();
                break;
            default: {
                size_t idx = (size_t)(tag >> 8);
                if (idx < in->nconns && !in->sockets_paused)
                    read_conn(in, idx, false);
            }
            }
        }
        commit(in);
    }
}

void osp_intake_close(osp_intake_t *in) {
    if (!in)
        return;
    /* Take what clients sent before the stop, whatever the room: frames
     * still queued on each connection would be lost with the socket. Live
     * processes' rings stay with them for the next sidecar; orphaned ones
     * are read out now. */
    in->budget = SIZE_MAX;
    in->arrival_us = real_us();
    accept_conns(in);
    close(in->lfd);
    unlink(in->path);
    for (size_t i = 0; i < in->nconns;) {
        int r;
        while ((r = read_conn(in, i, true)) > 0)
            ;
        if (r == 0)
            i++;
    }
    osp_rings_free(in->rings, ring_take, in);
    commit(in);
    for (size_t i = 0; i < in->nconns; i++)
        close(in->conns[i].fd);
    if (in->ctl_fd >= 0) {
        close(in->ctl_fd);
        unlink(in->ctl_path);
    }
    close(in->ep);
    osp_chunk_free(in->chunk);
    osp__buf_free(&in->ext);
    free(in->buf);
    free(in);
}
