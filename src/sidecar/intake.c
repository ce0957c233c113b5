/* SPDX-License-Identifier: Apache-2.0 */
/*
 * intake - the loop thread's side of the hop (docs/wire.md): the event loop
 * and the connections, one per traced process, on a SOCK_SEQPACKET
 * listener. rings.c consumes the shared rings those processes register,
 * control.c answers --stats, listener.c binds both sockets.
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
 *
 * What a client may hold is bounded (docs/security.md, "Local clients"): the
 * connections in all and per uid, so one uid cannot lock out another. A
 * connection over a limit is still accepted, then refused without losing
 * what it sent: shut for reading (the client's next send fails with EPIPE),
 * what it queued before is read, then it is closed.
 */
#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "common/hop.h"
#include "common/record.h"
#include "control.h"
#include "listener.h"
#include "log.h"
#include "rings.h"
#include "stats.h"

#define HELD_MS     5     /* how often a holding-back loop asks for room again */
#define SPARE_FDS   64    /* descriptors kept for the spool, store, broker, ... */
#define ACCEPT_PASS 64    /* connections accepted a pass: a flood cannot hold the loop */
#define MAX_RINGS   65536 /* whatever the hard RLIMIT_NOFILE: the table's size */
#define TAG_LISTEN  0
#define TAG_STOP    1
#define TAG_CONN    2 /* + connection index in the upper bits */
#define TAG_RING    3
#define TAG_CTL     4

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
    osp_control_t *ctl; /* <listen_socket>.ctl: answers with the counters */
    int lfd, ep;
    struct conn *conns;
    size_t nconns, max_conns, max_conns_per_uid;
    size_t max_record;
    osp_log_limit_t log_refused, log_frames, log_oversize, log_replaced, log_accept;
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

/* A point over max_record_bytes (from a ring, rec was never copied). */
static void drop_oversize(osp_intake_t *in, const char *publisher, size_t len) {
    OSP_STAT_ADD(records_oversize, 1);
    osp__log_limited(&in->log_oversize, OSP_LL_WARN, "intake",
                     "publisher '%s': dropped a point of %zu bytes or more: over "
                     "max_record_bytes (%zu)",
                     publisher, len, in->max_record);
    drop_invalid(in, "a point over max_record_bytes");
}

/* A binary record (ring or frame): its framing is checked now, its texts
 * when it leaves. true: taken or dropped; false: no room. rec NULL: a ring
 * record over max_record, passed over. */
static bool take_record(osp_intake_t *in, const char *publisher, size_t publisher_len,
                        const char *rec, size_t len, bool force) {
    osp_rec_t r;
    osp_error_t err;
    if (!rec || len > in->max_record) {
        drop_oversize(in, publisher, len);
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
    if (len > in->max_record) {
        drop_oversize(in, publisher, len);
        return;
    }
    if (!take(in, OSP_ENTRY_JSON, publisher, strlen(publisher), rec, len, true)) {
        osp_flow_drop(in->flow, OSP_FLOW_DROP_NOMEM, 1, NULL); /* no memory */
        in->received++;
    }
}

/* ---------------------------------------------------------------- sockets */

/* No room: the connections and the listener leave the epoll set. New
 * connections wait in the backlog (their frames in their senders' buffers)
 * rather than being accepted and, over a limit, read whatever the room. */
static void set_sockets_paused(osp_intake_t *in, bool paused) {
    if (in->sockets_paused == paused)
        return;
    in->sockets_paused = paused;
    struct epoll_event lev = {.events = paused ? 0 : EPOLLIN, .data.u64 = TAG_LISTEN};
    epoll_ctl(in->ep, EPOLL_CTL_MOD, in->lfd, &lev);
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
 * claimed is logged once per connection, and at most once per interval. */
static void apply_publisher_policy(osp_intake_t *in, struct conn *c) {
    if (!in->host[0] || strcmp(c->publisher, in->host) == 0)
        return;
    if (!c->replaced_logged) {
        osp__log_limited(&in->log_replaced, OSP_LL_NOTICE, "intake",
                         "pid %ld (uid %ld) sends as publisher '%.64s': published as "
                         "'%s' (publisher_policy = local)",
                         (long)c->pid, (long)c->uid, c->publisher, in->host);
        c->replaced_logged = true;
    }
    OSP_STAT_ADD(publisher_replaced, 1);
    snprintf(c->publisher, sizeof c->publisher, "%s", in->host);
}

static void refuse_frame(osp_intake_t *in, const struct conn *c, const char *why) {
    OSP_STAT_ADD(bad_frames, 1);
    osp__log_limited(&in->log_frames, OSP_LL_NOTICE, "intake",
                     "pid %ld (uid %ld): refused a frame: %s", (long)c->pid, (long)c->uid,
                     why);
}

/* Read frames from c while there is room (up to 64). Returns 1 if more may
 * be waiting, 0 when the socket is drained, -1 when the peer is gone (the
 * caller closes it). force: whatever the room (stopping, or a refused
 * connection: they would be lost with the socket). A refused connection
 * (!may_register) registers no ring. */
static int read_frames(osp_intake_t *in, struct conn *c, bool force, bool may_register) {
    for (int budget = 64; budget > 0; budget--) {
        if (!force && !in->budget)
            return 1;
        int fds[OSP_HOP_MAX_FDS], nfds;
        bool truncated;
        ssize_t got =
            osp__hop_recv(c->fd, in->buf, OSP_HOP_MAX_FRAME + 1, fds, &nfds, &truncated);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (got < 0)
            return errno == EINTR ? 1 : 0;
        osp_hop_frame_t f;
        osp_error_t err;
        if (truncated || osp__hop_parse(in->buf, (size_t)got, &f, &err)) {
            refuse_frame(in, c,
                         truncated ? "too large, or its descriptors did not fit"
                                   : err.text);
            for (int j = 0; j < nfds; j++)
                close(fds[j]);
            continue;
        }
        memcpy(c->publisher, f.publisher, f.publisher_len);
        c->publisher[f.publisher_len] = '\0';
        apply_publisher_policy(in, c);
        if (f.flags & OSP_HOP_FLAG_RING) {
            if (may_register) {
                osp_rings_add(in->rings, c->fd, c->uid, c->publisher, fds, nfds);
            } else { /* its connection is going: the sender keeps its ring */
                for (int j = 0; j < nfds; j++)
                    close(fds[j]);
                OSP_STAT_ADD(rings_refused, 1);
                OSP_STAT_ADD(rings_refused_limit, 1);
            }
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
            refuse_frame(in, c, err.text);
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

/* Connection i: see read_frames; -1 when it was closed (index i is now
 * another). */
static int read_conn(osp_intake_t *in, size_t i, bool force) {
    int r = read_frames(in, &in->conns[i], force, true);
    if (r < 0)
        close_conn(in, i);
    return r;
}

static const osp_sc_buffers_t *buffers(osp_intake_t *in) {
    static osp_sc_buffers_t b;
    osp_flow_state(in->flow, &b);
    return &b;
}

/* A connection over a limit: shut for reading first, so that the client's
 * next send fails (EPIPE) instead of vanishing; then what it had queued is
 * read and taken; then it is closed. */
static void refuse_conn(osp_intake_t *in, struct conn *c, bool no_fds, const char *why) {
    OSP_STAT_ADD(connections_refused, 1);
    osp__log_limited(&in->log_refused, OSP_LL_WARN, "intake",
                     "refused a connection of pid %ld (uid %ld): %s", (long)c->pid,
                     (long)c->uid, why);
    shutdown(c->fd, SHUT_RD);
    while (read_frames(in, c, true, false) > 0)
        ;
    osp_listener_release(c->fd, no_fds);
}

static size_t conns_of(const osp_intake_t *in, uid_t uid) {
    size_t n = 0;
    for (size_t i = 0; i < in->nconns; i++)
        n += in->conns[i].uid == uid;
    return n;
}

/* Up to ACCEPT_PASS connections while there is room: a refused one's
 * queued frames are read whatever the room, so each may overrun it by what
 * its sender had queued, and the next waits for the next pass. */
static void accept_conns(osp_intake_t *in) {
    for (int k = 0; k < ACCEPT_PASS && in->budget; k++) {
        bool no_fds;
        int fd = osp_listener_accept(in->lfd, &no_fds);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
                errno != EINTR)
                osp__log_limited(&in->log_accept, OSP_LL_WARN, "intake", "accept: %s",
                                 strerror(errno));
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return;
        }
        struct ucred cred = {0};
        socklen_t cl = sizeof cred;
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
        struct conn c = {.fd = fd, .pid = cred.pid, .uid = cred.uid};
        char why[128];
        if (no_fds) {
            OSP_STAT_ADD(connections_refused_fds, 1);
            refuse_conn(in, &c, true, "no descriptor left (RLIMIT_NOFILE)");
            continue;
        }
        if (in->nconns == in->max_conns) {
            snprintf(why, sizeof why, "%zu connections (max_connections)", in->nconns);
            refuse_conn(in, &c, false, why);
            continue;
        }
        size_t mine = conns_of(in, c.uid);
        if (mine >= in->max_conns_per_uid) {
            OSP_STAT_ADD(connections_refused_uid, 1);
            snprintf(why, sizeof why,
                     "its uid holds %zu connections "
                     "(max_connections_per_uid)",
                     mine);
            refuse_conn(in, &c, false, why);
            continue;
        }
        size_t i = in->nconns++;
        in->conns[i] = c;
        struct epoll_event ev = {.events = in->sockets_paused ? 0 : EPOLLIN,
                                 .data.u64 = TAG_CONN | (uint64_t)i << 8};
        epoll_ctl(in->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* ---------------------------------------------------------------- setup */

/* The descriptors we may hold: the soft limit raised to the hard one. The
 * connections get at most half of what SPARE_FDS leaves, the rings (one
 * descriptor each) the rest, so that accept() and the spool never meet
 * EMFILE because clients took every descriptor. */
static void fit_limits(osp_intake_t *in, const osp_sc_config_t *cfg,
                       osp_rings_limits_t *rl) {
    struct rlimit lim;
    size_t nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        if (lim.rlim_cur < lim.rlim_max) {
            lim.rlim_cur = lim.rlim_max;
            setrlimit(RLIMIT_NOFILE, &lim);
            getrlimit(RLIMIT_NOFILE, &lim);
        }
        nofile = lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (1u << 20)
                     ? (size_t)1 << 20
                     : (size_t)lim.rlim_cur;
    }
    size_t budget = nofile > 2 * SPARE_FDS ? nofile - SPARE_FDS : SPARE_FDS;
    in->max_conns = (size_t)cfg->max_connections;
    if (in->max_conns > budget / 2) {
        in->max_conns = budget / 2;
        OSP_LOG(OSP_LL_WARN, "intake",
                "max_connections %ld does not fit under RLIMIT_NOFILE %zu: %zu "
                "(raise LimitNOFILE)",
                cfg->max_connections, nofile, in->max_conns);
    }
    in->max_conns_per_uid = (size_t)cfg->max_connections_per_uid;
    if (in->max_conns_per_uid > in->max_conns)
        in->max_conns_per_uid = in->max_conns;
    rl->max_rings = budget - in->max_conns;
    if (rl->max_rings > MAX_RINGS)
        rl->max_rings = MAX_RINGS;
    rl->max_rings_per_uid = (size_t)cfg->max_rings_per_uid;
    rl->max_bytes_per_uid = (uint64_t)cfg->max_ring_bytes_per_uid;
    rl->max_record = (size_t)cfg->max_record_bytes;
    in->max_record = (size_t)cfg->max_record_bytes;
    OSP_LOG(OSP_LL_INFO, "intake",
            "descriptors: %zu (RLIMIT_NOFILE): up to %zu connections (%zu a uid) and "
            "%zu rings (%zu a uid)",
            nofile, in->max_conns, in->max_conns_per_uid, rl->max_rings,
            rl->max_rings_per_uid);
}

int osp_intake_open(osp_intake_t **out, const osp_sc_config_t *cfg, osp_flow_t *flow,
                    osp_error_t *err) {
    const char *path = cfg->listen_socket;
    if (strlen(path) >= sizeof((osp_intake_t *)0)->path)
        return osp__error_set(err, OSP_ECONFIG, "listen_socket", 0,
                              "listen_socket longer than %zu bytes",
                              sizeof((osp_intake_t *)0)->path - 1);
    osp_intake_t *in = calloc(1, sizeof *in);
    if (!in)
        return OSP_ENOMEM;
    osp__log_set_limit_interval(cfg->limit_log_interval);
    in->log_frames.burst = 16; /* a few distinct reasons show, a flood does not */
    osp_rings_limits_t rl;
    fit_limits(in, cfg, &rl);
    in->flow = flow;
    in->lfd = -1;
    in->buf = malloc(OSP_HOP_MAX_FRAME + 1);
    in->chunk = osp_chunk_new(0);
    in->conns = calloc(in->max_conns, sizeof *in->conns);
    in->ep = epoll_create1(EPOLL_CLOEXEC);
    in->rings = osp_rings_new(in->ep, TAG_RING, &rl);
    strcpy(in->path, path);
    if (cfg->publisher_local) {
        if (cfg->host[0])
            snprintf(in->host, sizeof in->host, "%s", cfg->host);
        else if (gethostname(in->host, sizeof in->host - 1) != 0)
            snprintf(in->host, sizeof in->host, "localhost");
    }
    int rc = OSP_OK;
    if (!in->rings || !in->buf || !in->chunk || !in->conns || in->ep < 0) {
        rc = OSP_ENOMEM;
        goto fail;
    }
    rc = osp_listener_open(path, SOCK_SEQPACKET, cfg->listen_mode, cfg->listen_group, 128,
                           &in->lfd, err);
    if (rc != OSP_OK)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
    epoll_ctl(in->ep, EPOLL_CTL_ADD, in->lfd, &ev);
    if ((in->ctl = osp_control_open(cfg))) {
        struct epoll_event cev = {.events = EPOLLIN, .data.u64 = TAG_CTL};
        epoll_ctl(in->ep, EPOLL_CTL_ADD, osp_control_fd(in->ctl), &cev);
    }
    *out = in;
    return OSP_OK;
fail:
    if (in->lfd >= 0)
        close(in->lfd);
    osp_rings_free(in->rings, NULL, NULL);
    if (in->ep >= 0)
        close(in->ep);
    osp_chunk_free(in->chunk);
    free(in->conns);
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
    for (;;) {
        maybe_log_stats(in);
        in->budget = osp_flow_room(in->flow);
        in->arrival_us = real_us();
        long drained = in->budget ? osp_rings_drain(in->rings, ring_take, in) : 0;
        set_sockets_paused(in, !in->budget);
        int timeout = HELD_MS;
        bool sleeping = false;
        if (in->budget)
            timeout = osp_rings_wait_ms(in->rings, drained, 1000, &sleeping);
        if (in->budget && drained) {
            commit(in);
            usleep(20); /* let a few records gather: no cache-line ping-pong */
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
        bool woken = false;
        for (int i = 0; i < n; i++)
            woken |= (evs[i].data.u64 & 0xff) == TAG_RING;
        osp_rings_after_wait(in->rings, sleeping, woken);
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
                osp_control_serve(in->ctl, buffers(in), in->nconns,
                                  osp_rings_count(in->rings));
                break;
            case TAG_RING:
                break; /* edge-triggered: never read (rings.c) */
            default: {
                size_t idx = (size_t)(tag >> 8);
                if (idx < in->nconns && !in->sockets_paused)
                    read_conn(in, idx, false);
            }
            }
        }
        commit(in);
        /* for metrics.c's thread: nconns and the rings are this loop's */
        atomic_store_explicit(&osp_sc_stats.conns_open, in->nconns, memory_order_relaxed);
        atomic_store_explicit(&osp_sc_stats.rings_open, osp_rings_count(in->rings),
                              memory_order_relaxed);
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
    osp_listener_close(in->lfd, in->path);
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
    osp_control_close(in->ctl);
    close(in->ep);
    osp_chunk_free(in->chunk);
    osp__buf_free(&in->ext);
    free(in->conns);
    free(in->buf);
    free(in);
}
