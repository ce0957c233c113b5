/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rings - the set of shared rings the intake reads (common/ring.c holds one
 * ring's protocol). A ring belongs to the connection that registered it;
 * when that connection closes the ring is read to its end (its process may
 * have died with records in it) and only then let go. A process that
 * reconnects registers its rings again: the same memfd keeps its one
 * mapping, so nothing is read twice. Draining starts at a different ring
 * each pass, so a short room does not starve the last ones.
 */
#include "rings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ring.h"
#include "log.h"
#include "stats.h"

#define MAX_RINGS 4096

struct ring {
    osp_ring_t r;
    int conn_fd; /* -1: its connection closed */
    dev_t dev;   /* the memfd's identity */
    ino_t ino;
    size_t publisher_len;
    char publisher[256];
};

struct osp_rings {
    int ep;
    unsigned tag;
    struct ring *v;
    size_t n, start;
    unsigned refused_logged;
};

osp_rings_t *osp_rings_new(int ep, unsigned tag) {
    osp_rings_t *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->v = calloc(MAX_RINGS, sizeof *rs->v))) {
        free(rs);
        return NULL;
    }
    rs->ep = ep;
    rs->tag = tag;
    return rs;
}

static void refuse(osp_rings_t *rs, int *fds, int nfds, const char *why) {
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    OSP_STAT_ADD(rings_refused, 1);
    if (rs->refused_logged++ < 10) /* the sender falls back to frames */
        OSP_LOG(OSP_LL_WARN, "intake", "refused a ring: %s", why);
}

void osp_rings_add(osp_rings_t *rs, int conn_fd, const char *publisher, int *fds,
                   int nfds) {
    struct stat st;
    if (nfds != 2 || fstat(fds[0], &st) != 0) {
        refuse(rs, fds, nfds, "a ring frame must carry a memfd and an eventfd");
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
    if (rs->n == MAX_RINGS) {
        refuse(rs, fds, nfds, "4096 rings attached already");
        return;
    }
    struct ring *g = &rs->v[rs->n];
    if (osp__ring_attach(&g->r, fds[0], fds[1]) != 0) { /* closes both */
        refuse(rs, NULL, 0, "not a ring of this version (docs/wire.md)");
        return;
    }
    g->conn_fd = conn_fd;
    g->dev = st.st_dev;
    g->ino = st.st_ino;
    g->publisher_len = strlen(publisher);
    if (g->publisher_len >= sizeof g->publisher)
        g->publisher_len = sizeof g->publisher - 1;
    memcpy(g->publisher, publisher, g->publisher_len);
    g->publisher[g->publisher_len] = '\0';
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = rs->tag};
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
        if (got < 0) {
            OSP_STAT_ADD(bad_frames, 1);
            OSP_LOG(OSP_LL_WARN, "intake", "a ring of %s is corrupt: detached",
                    g->publisher);
            remove_ring(rs, i);
            continue;
        }
        total += got;
        if (closed && !c.refused && !osp__ring_ready(&g->r))
            remove_ring(rs, i); /* read to its end */
    }
    rs->start++;
    return total;
}

size_t osp_rings_count(osp_rings_t *rs) { return rs->n; }

void osp_rings_wake(osp_rings_t *rs) {
    for (size_t i = 0; i < rs->n; i++)
        atomic_store(&rs->v[i].r.hdr->consumer_waiting, 0);
}

bool osp_rings_prepare_sleep(osp_rings_t *rs) {
    for (size_t i = 0; i < rs->n; i++) {
        if (!osp__ring_prepare_sleep(&rs->v[i].r)) {
            osp_rings_wake(rs);
            return false;
        }
    }
    return true;
}

void osp_rings_clear_wakeups(osp_rings_t *rs) {
    uint64_t v;
    for (size_t i = 0; i < rs->n; i++)
        while (read(rs->v[i].r.event_fd, &v, sizeof v) == (ssize_t)sizeof v)
            ;
}

void osp_rings_free(osp_rings_t *rs, osp_rings_take_fn take, void *ud) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        struct ring *g = &rs->v[i];
        if (take && (g->conn_fd < 0 || osp__ring_closed(&g->r))) {
            struct drain_ctx c = {.take = take, .ud = ud, .g = g};
            while (osp__ring_drain(&g->r, (size_t)-1, on_record, &c) > 0 && !c.refused)
                ;
        }
        osp__ring_destroy(&g->r, false);
    }
    free(rs->v);
    free(rs);
}
