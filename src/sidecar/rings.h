/* SPDX-License-Identifier: Apache-2.0 */
/* rings - the shared rings services registered (docs/wire.md, "Rings"): one
 * per traced thread, drained by the intake's loop. */
#ifndef OSP_SIDECAR_RINGS_H
#define OSP_SIDECAR_RINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct osp_rings osp_rings_t;

/* Rings' eventfds are added to epoll set ep with tag. */
osp_rings_t *osp_rings_new(int ep, unsigned tag);
/* Register the ring a connection sent (fds: memfd, eventfd; taken). The
 * same ring registered again (a new connection of the same process) keeps
 * its one mapping. Refused rings are counted and logged. */
void osp_rings_add(osp_rings_t *rs, int conn_fd, const char *publisher, int *fds,
                   int nfds);
/* The connection closed: its rings are read to their end, then let go. */
void osp_rings_orphan(osp_rings_t *rs, int conn_fd);
/* Hand each committed record to take() until it returns false; returns
 * how many were taken. Corrupt rings are detached (counted). */
typedef bool (*osp_rings_take_fn)(const char *publisher, size_t publisher_len,
                                  const char *rec, size_t len, void *ud);
long osp_rings_drain(osp_rings_t *rs, osp_rings_take_fn take, void *ud);
size_t osp_rings_count(osp_rings_t *rs);
/* Before sleeping: true when every ring agreed to wake us; false when
 * records arrived meanwhile. */
bool osp_rings_prepare_sleep(osp_rings_t *rs);
/* After waking: producers need not write the eventfds any more. */
void osp_rings_wake(osp_rings_t *rs);
void osp_rings_clear_wakeups(osp_rings_t *rs);
/* Stopping: orphaned rings are read out through take (may be NULL), the
 * rest left to their live processes for the next sidecar; then freed. */
void osp_rings_free(osp_rings_t *rs, osp_rings_take_fn take, void *ud);

#endif
