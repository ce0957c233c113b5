/* SPDX-License-Identifier: Apache-2.0 */
/* spool - points on disk while the broker is down or slow, replayed in order
 * and deleted only after the broker confirmed them. */
#ifndef OSP_SIDECAR_SPOOL_H
#define OSP_SIDECAR_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osprofiler/osprofiler.h>

#include "queue.h"

typedef struct osp_spool osp_spool_t;

/* Open DIR (created 0700 if missing; refused if group/world-writable) and
 * pick up the segments a previous run left. NULL with err on failure. */
osp_spool_t *osp_spool_open(const char *dir, uint64_t max_bytes, osp_error_t *err);
void osp_spool_close(osp_spool_t *s);
/* Append a point (intake thread). false: the disk refused (logged once). */
bool osp_spool_append(osp_spool_t *s, const osp_msg_t *m);
/* Records written and not yet handed out for publishing. */
uint64_t osp_spool_pending(osp_spool_t *s);
/* Up to max records, oldest first, as messages tagged with their segment
 * (publisher thread). */
osp_msg_t *osp_spool_read(osp_spool_t *s, size_t max);
/* The broker confirmed (or gave up on) a message read from the spool. */
void osp_spool_done(osp_spool_t *s, const osp_msg_t *m);
/* Counters for stats: segments dropped by spool_max_bytes, corrupt records. */
uint64_t osp_spool_dropped(osp_spool_t *s);

#endif
