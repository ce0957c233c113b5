/* SPDX-License-Identifier: Apache-2.0 */
/* rings - the ring consumer: the shared rings services registered
 * (docs/wire.md, "Rings"), one per traced thread, drained by the intake's
 * loop, and when the loop may sleep on them. */
#ifndef OSP_SIDECAR_RINGS_H
#define OSP_SIDECAR_RINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct osp_rings osp_rings_t;

typedef struct osp_rings_limits {
    size_t max_rings;         /* all uids: what the descriptor budget allows */
    size_t max_rings_per_uid; /* max_rings_per_uid */
    uint64_t max_bytes_per_uid;
    size_t max_record; /* max_record_bytes */
} osp_rings_limits_t;

/* Rings' eventfds are added to epoll set ep with tag (edge-triggered: the
 * sidecar never reads them, so no producer can make that read block). */
osp_rings_t *osp_rings_new(int ep, unsigned tag, const osp_rings_limits_t *lim);
/* Register the ring a connection of uid sent (fds: memfd, eventfd; taken).
 * The same ring registered again (a new connection of the same process)
 * keeps its one mapping. Refused rings (bad, over a limit) are counted and
 * logged once per interval; their sender goes on with frames. */
void osp_rings_add(osp_rings_t *rs, int conn_fd, uid_t uid, const char *publisher,
                   int *fds, int nfds);
/* The connection closed: its rings are read to their end, then let go. */
void osp_rings_orphan(osp_rings_t *rs, int conn_fd);
/* Hand each committed record to take() until it returns false; returns
 * how many were taken. A record over max_record is handed over with rec
 * NULL (to be dropped, counted). Corrupt rings are detached (counted). */
typedef bool (*osp_rings_take_fn)(const char *publisher, size_t publisher_len,
                                  const char *rec, size_t len, void *ud);
long osp_rings_drain(osp_rings_t *rs, osp_rings_take_fn take, void *ud);
size_t osp_rings_count(osp_rings_t *rs);
/* How long the loop may wait for the next pass, given what the last drain
 * took: 0 (records flow), 1 (sparse: the caller waits 200 us), SLEEP_MS
 * after the rings agreed to wake us (*sleeping), or `idle` without rings. */
int osp_rings_wait_ms(osp_rings_t *rs, long drained, int idle, bool *sleeping);
/* After the wait: a ring's eventfd fired (woken), and whether we slept. */
void osp_rings_after_wait(osp_rings_t *rs, bool sleeping, bool woken);
/* Stopping: orphaned rings are read out through take (may be NULL), the
 * rest left to their live processes for the next sidecar; then freed. */
void osp_rings_free(osp_rings_t *rs, osp_rings_take_fn take, void *ud);

#endif
