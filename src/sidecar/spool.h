/* SPDX-License-Identifier: Apache-2.0 */
/* spool - buffered points on disk, while the broker or store cannot take
 * them or memory is half full; replayed in order and deleted only once
 * delivered. */
#ifndef OSP_SIDECAR_SPOOL_H
#define OSP_SIDECAR_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osprofiler/osprofiler.h>

#include "entry.h"

typedef struct osp_spool osp_spool_t;

/* Open DIR (created 0700 if missing; refused unless owned by our euid and
 * not group/world-writable) and pick up the segments a previous run left
 * (files that are not ours to read are logged and left in place). NULL
 * with err on failure. */
osp_spool_t *osp_spool_open(const char *dir, uint64_t max_bytes, osp_error_t *err);
void osp_spool_close(osp_spool_t *s);
/* Append a chunk's entries, one record each, with one write (intake
 * thread). OSP_OK; OSP_ETOOBIG when spool_max_bytes would be exceeded or an
 * entry is over OSP_SPOOL_RECORD_MAX (nothing written: the caller keeps
 * the chunk); or -errno when the disk refused (logged once until it works
 * again). */
int osp_spool_append(osp_spool_t *s, const osp_chunk_t *c);
/* Bytes that can still be appended before spool_max_bytes. */
uint64_t osp_spool_room(osp_spool_t *s);
/* The last append failed (the disk refused); room is 0 for a while. */
bool osp_spool_failing(osp_spool_t *s);
/* Entries written and not yet read back for delivery. */
uint64_t osp_spool_pending(osp_spool_t *s);
/* Bytes on disk. */
uint64_t osp_spool_bytes(osp_spool_t *s);
/* The oldest unread entries as a chunk tagged with its segment (consumer
 * thread); NULL when none. Points lost to damage are counted via *lost
 * (once, when their segment is read to its end; logged once a segment). */
osp_chunk_t *osp_spool_read(osp_spool_t *s, uint64_t *lost);
/* n entries read from segment seg were delivered (or dropped for good). */
void osp_spool_done(osp_spool_t *s, uint64_t seg, uint64_t n);

#endif
