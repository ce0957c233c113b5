/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rings - the ring consumer: the set of shared rings the intake reads
 * (common/ring.c holds one ring's protocol) and the pacing of their drains.
 * A ring belongs to the connection that registered it; when that
 * connection closes the ring is read to its end (its process may have died
 * with records in it) and only then let go. A process that reconnects
 * registers its rings again: the same memfd keeps its one mapping, so
 * nothing is read twice. Draining starts at a different ring each pass, so
 * a short room does not starve the last ones.
 *
 * What a client can make us hold is bounded per uid (rings, mapped bytes)
 * and in all (the descriptor budget: a ring keeps one descriptor, its
 * eventfd; the memfd is closed once mapped). A ring's memory is a memfd
 * sealed against shrinking (ring.c refuses others: truncating it would
 * SIGBUS us), and its eventfd is only watched, never read.
 */
#include "rings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "common/ring.h"
#include "log.h"
#include "stats.h"

#define IDLE_MS  50 /* after this long without records, rings may sleep */
#define SLEEP_MS 50 /* a sleeping loop still looks at the rings this often */

struct ring {
    osp_ring_t r;
    int conn_fd; /* -1: its connection closed */
    uid_t uid;   /* of the process that registered it */
    dev_t dev;   /* the memfd's identity */
    ino_t ino;
    size_t publisher_len;
    char publisher[256];
};

struct osp_rings {
    int ep;
    unsigned tag;
    osp_rings_limits_t lim;
    struct ring *v;
    size_t n, start;
    double last_record; /* monotonic ms of the last drain that took one */
    osp_log_limit_t log_refused, log_limit, log_corrupt;
};

static double now_ms(void) { return osp_sc_mono() * 1e3; }

osp_rings_t *osp_rings_new(int ep, unsigned tag, const osp_rings_limits_t *lim) {
    osp_rings_t *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->v = calloc(lim->max_rings ? lim->max_rings : 1, sizeof *rs->v))) {
        free(rs);
        return NULL;
    }
    rs->ep = ep;
    rs->tag = tag;
    rs->lim = *lim;
    return rs;
}

static void refuse(osp_rings_t *rs, int *fds, int nfds, uid_t uid, const char *why) {
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    OSP_STAT_ADD(rings_refused, 1);
    /* the sender falls back to frames */
    osp__log_limited(&rs->log_refused, OSP_LL_WARN, "rings",
                     "uid %ld: refused a ring: %s", (long)uid, why);
}

/* Over one of the limits? Then the reason, logged once per interval. */
static bool over_limit(osp_rings_t *rs, uid_t uid, uint64_t bytes, int *fds, int nfds) {
    size_t count = 0;
    uint64_t held = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].uid == uid) {
            count++;
            held += rs->v[i].r.map_len;
        }
    char why[160] = "";
    if (rs->n >= rs->lim.max_rings)
        snprintf(why, sizeof why, "%zu rings attached (all the descriptors allow)",
                 rs->n);
    else if (count >= rs->lim.max_rings_per_uid)
        snprintf(why, sizeof why, "it holds %zu rings (max_rings_per_uid)", count);
    else if (held + bytes > rs->lim.max_bytes_per_uid)
        snprintf(why, sizeof why,
                 "its rings would map %llu bytes (max_ring_bytes_per_uid %llu)",
                 (unsigned long long)(held + bytes),
                 (unsigned long long)rs->lim.max_bytes_per_uid);
    if (!why[0])
        return false;
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    OSP_STAT_ADD(rings_refused, 1);
    OSP_STAT_ADD(rings_refused_limit, 1);
    osp__log_limited(&rs->log_limit, OSP_LL_WARN, "rings",
                     "uid %ld: refused a ring: %s; it sends frames instead", (long)uid,
                     why);
    return true;
}

void osp_rings_add(osp_rings_t *rs, int conn_fd, uid_t uid, const char *publisher,
                   int *fds, int nfds) {
    struct stat st;
    if (nfds != 2 || fstat(fds[0], &st) != 0) {
        refuse(rs, fds, nfds, uid, "a ring frame must carry a memfd and an eventfd");
        return;
    }
    for (size_t i = 0; i < rs->n; i++) {
        struct ring *g = &rs->v[i];
        if (g->dev == st.st_dev && g->ino == st.st_ino) {
            g->conn_fd = conn_fd; /* registered again: keep the one mapping */
            close(fds[0]);
            close(fds[1]);
            return;
        }
    }
    if (over_limit(rs, uid, (uint64_t)st.st_size, fds, nfds))
        return;
    struct ring *g = &rs->v[rs->n];
    int rc = osp__ring_attach(&g->r, fds[0], fds[1]); /* takes both */
    if (rc != 0) {
        refuse(rs, NULL, 0, uid, osp__ring_attach_error(rc));
        return;
    }
    g->r.max_record = rs->lim.max_record;
    g->conn_fd = conn_fd;
    g->uid = uid;
    g->dev = st.st_dev;
    g->ino = st.st_ino;
    g->publisher_len = strlen(publisher);
    if (g->publisher_len >= sizeof g->publisher)
        g->publisher_len = sizeof g->publisher - 1;
    memcpy(g->publisher, publisher, g->publisher_len);
    g->publisher[g->publisher_len] = '\0';
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = rs->tag};
    epoll_ctl(rs->ep, EPOLL_CTL_ADD, g->r.event_fd, &ev);
    osp__ring_set_attached(&g->r);
    rs->n++;
    OSP_STAT_ADD(rings, 1);
}

void osp_rings_orphan(osp_rings_t *rs, int conn_fd) {
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].conn_fd == conn_fd)
            rs->v[i].conn_fd = -1;
}

static void remove_ring(osp_rings_t *rs, size_t i) {
    epoll_ctl(rs->ep, EPOLL_CTL_DEL, rs->v[i].r.event_fd, NULL);
    osp__ring_destroy(&rs->v[i].r, false);
    rs->v[i] = rs->v[--rs->n];
}

struct drain_ctx {
    osp_rings_take_fn take;
    void *ud;
    const struct ring *g;
    bool refused; /* take said no: stop for this pass */
};

static bool on_record(const char *rec, size_t len, void *ud) {
    struct drain_ctx *c = ud;
    if (!c->take(c->g->publisher, c->g->publisher_len, rec, len, c->ud)) {
        c->refused = true;
        return false;
    }
    return true;
}

/* Records the drain passed over (over max_record): dropped by take. */
static void hand_oversize(struct ring *g, struct drain_ctx *c) {
    for (; g->r.oversize; g->r.oversize--)
        c->take(g->publisher, g->publisher_len, NULL, g->r.max_record + 1, c->ud);
}

long osp_rings_drain(osp_rings_t *rs, osp_rings_take_fn take, void *ud) {
    long total = 0;
    struct drain_ctx c = {.take = take, .ud = ud};
    size_t n0 = rs->n;
    if (rs->start >= n0)
        rs->start = 0;
    for (size_t k = 0; k < n0 && !c.refused; k++) {
        size_t i = (rs->start + k) % n0;
        if (i >= rs->n)
            continue; /* removed in this pass */
        struct ring *g = &rs->v[i];
        bool closed = osp__ring_closed(&g->r) || g->conn_fd < 0;
        c.g = g;
        long got = osp__ring_drain(&g->r, (size_t)-1, on_record, &c);
        hand_oversize(g, &c);
        if (got < 0) {
            OSP_STAT_ADD(bad_frames, 1);
            osp__log_limited(&rs->log_corrupt, OSP_LL_WARN, "rings",
                             "uid %ld: a ring of publisher '%s' is corrupt: detached",
                             (long)g->uid, g->publisher);
            remove_ring(rs, i);
            continue;
        }
        total += got;
        if (closed && !c.refused && !osp__ring_ready(&g->r))
            remove_ring(rs, i); /* read to its end */
    }
    rs->start++;
    if (total)
        rs->last_record = now_ms();
    return total;
}

size_t osp_rings_count(osp_rings_t *rs) { return rs->n; }

static void wake_all(osp_rings_t *rs) {
    for (size_t i = 0; i < rs->n; i++)
        atomic_store(&rs->v[i].r.hdr->consumer_waiting, 0);
}

int osp_rings_wait_ms(osp_rings_t *rs, long drained, int idle, bool *sleeping) {
    *sleeping = false;
    if (drained)
        return 0;
    if (!rs->n)
        return idle;
    if (now_ms() - rs->last_record < IDLE_MS)
        return 1;
    /* Quiet: producers wake us through the eventfds; a wake-up lost to
     * their unfenced check (ring.c) waits SLEEP_MS at most. */
    for (size_t i = 0; i < rs->n; i++) {
        if (!osp__ring_prepare_sleep(&rs->v[i].r)) {
            wake_all(rs);
            return 0;
        }
    }
    *sleeping = true;
    return SLEEP_MS;
}

void osp_rings_after_wait(osp_rings_t *rs, bool sleeping, bool woken) {
    if (sleeping)
        wake_all(rs);
    if (woken)
        rs->last_record = now_ms();
}

void osp_rings_free(osp_rings_t *rs, osp_rings_take_fn take, void *ud) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        struct ring *g = &rs->v[i];
        if (take && (g->conn_fd < 0 || osp__ring_closed(&g->r))) {
            struct drain_ctx c = {.take = take, .ud = ud, .g = g};
            while (osp__ring_drain(&g->r, (size_t)-1, on_record, &c) > 0 && !c.refused)
                hand_oversize(g, &c);
            hand_oversize(g, &c);
        }
        osp__ring_destroy(&g->r, false);
    }
    free(rs->v);
    free(rs);
}
