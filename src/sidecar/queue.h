/* SPDX-License-Identifier: Apache-2.0 */
/* queue - buffered points in memory: a FIFO of chunks (entry.h) between the
 * intake (loop thread) and the consumer thread (publisher or store writer).
 * How much it may hold is flow.c's decision, not the queue's. */
#ifndef OSP_SIDECAR_QUEUE_H
#define OSP_SIDECAR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"

typedef struct osp_queue osp_queue_t;

osp_queue_t *osp_queue_new(void);
void osp_queue_free(osp_queue_t *q); /* and the chunks it holds */
/* Append c's entries. Small ones are copied into the last chunk (c stays
 * the caller's, emptied: returns false); otherwise c itself is linked in
 * (returns true: the queue owns it now). */
bool osp_queue_put(osp_queue_t *q, osp_chunk_t *c);
/* The oldest chunk, waiting up to timeout_ms for one; NULL if none. */
osp_chunk_t *osp_queue_take(osp_queue_t *q, int timeout_ms);
/* Put a chunk back at the front (the consumer stops: it is not taken). */
void osp_queue_untake(osp_queue_t *q, osp_chunk_t *c);
size_t osp_queue_bytes(osp_queue_t *q);
uint64_t osp_queue_count(osp_queue_t *q); /* entries */
/* An eventfd, readable once the queue turned non-empty (poll it beside a
 * socket); the consumer reads it to clear. */
int osp_queue_wake_fd(osp_queue_t *q);
/* Wake every waiter now (stopping). */
void osp_queue_close(osp_queue_t *q);

#endif
