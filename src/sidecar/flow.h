/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow - the sidecar's buffering policy, in one place (docs/design.md, "Flow
 * control"): where a received point waits (memory or the disk spool), when
 * the intake must stop reading from services, in which order points leave,
 * and every drop, counted and logged with its reason.
 *
 *   intake (loop thread)         consumer (publisher or store writer thread)
 *   osp_flow_room / osp_flow_put  osp_flow_pop / osp_flow_return /
 *                                 osp_flow_delivered / osp_flow_sink
 */
#ifndef OSP_SIDECAR_FLOW_H
#define OSP_SIDECAR_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "spool.h"
#include "stats.h"

typedef struct osp_flow osp_flow_t;

/* Why the sidecar dropped a point: the only ones it ever drops. */
enum osp_flow_drop {
    OSP_FLOW_DROP_INVALID,  /* not a trace point Python would read */
    OSP_FLOW_DROP_SPOOL,    /* unreadable on the spool (a torn or corrupt block) */
    OSP_FLOW_DROP_SHUTDOWN, /* still in memory at exit and the spool refused it */
    OSP_FLOW_DROP_NOMEM,    /* taken from a frame, then no memory to keep it */
    OSP_FLOW_DROPS
};

/* sink: what the consumer delivers to, for messages ("the broker", "the
 * store"). spool may be NULL (memory only). */
osp_flow_t *osp_flow_new(size_t memory_limit, osp_spool_t *spool, const char *sink);
void osp_flow_free(osp_flow_t *f);
void osp_flow_set_limit(osp_flow_t *f, size_t memory_limit); /* SIGHUP */

/* ---- intake ---- */
/* Entry bytes the intake may hand over now; 0: stop reading from services
 * (logged once, with the reason, when it starts and when it ends). */
size_t osp_flow_room(osp_flow_t *f);
/* Take the chunk's entries, into memory or onto the spool. *c is emptied or
 * replaced by a fresh chunk (NULL when none could be allocated). */
void osp_flow_put(osp_flow_t *f, osp_chunk_t **c);
/* Count points received (valid or not) and drops, the one place. */
void osp_flow_received(osp_flow_t *f, uint64_t n);
void osp_flow_drop(osp_flow_t *f, enum osp_flow_drop why, uint64_t n, const char *detail);

/* ---- consumer ---- */
/* Up to max messages, oldest first (returned ones, memory, then the spool),
 * waiting up to timeout_ms for the first. Entries that are no valid point
 * are dropped (counted) here. */
osp_msg_t *osp_flow_pop(osp_flow_t *f, size_t max, int timeout_ms);
/* Unconfirmed or uncommitted messages go back to the front, in order. */
void osp_flow_return(osp_flow_t *f, osp_msg_t *list);
/* Never deliverable after all: counted as dropped for why, then freed. */
void osp_flow_discard(osp_flow_t *f, osp_msg_t *m, enum osp_flow_drop why,
                      const char *detail);
/* Delivered (confirmed on every topic, or committed): frees it. */
void osp_flow_delivered(osp_flow_t *f, osp_msg_t *m);
/* The same for a whole list (a committed batch), accounted once. */
void osp_flow_delivered_list(osp_flow_t *f, osp_msg_t *list);
/* The broker is connected / the store commits (up), or not: while it is
 * down new points go to the spool. */
void osp_flow_sink(osp_flow_t *f, bool up);
bool osp_flow_sink_up(osp_flow_t *f);
/* ---- consumer, in batches (the store writer): whole chunks converted
 * into one buffer, nothing allocated per point ---- */
typedef struct osp_flow_batch {
    osp_chunk_t *chunks; /* what it was made from, kept until settled */
    osp_buf_t text;      /* the payloads and fields (items hold offsets) */
    osp_entry_text_t *items;
    size_t n, cap;
    uint64_t invalid, damaged; /* entries no valid point / unreadable */
    osp_buf_t scratch;
    char why[160]; /* the last invalid entry's reason */
} osp_flow_batch_t;
/* Whole chunks into b until it holds max points or nothing more waits
 * (waiting up to timeout_ms for the first). false: it took nothing. b must
 * be settled before it is taken into again. */
bool osp_flow_take_batch(osp_flow_t *f, osp_flow_batch_t *b, size_t max, int timeout_ms);
/* The store committed b (delivered: counted, its spool entries done, its
 * invalid entries dropped and counted), or did not (its chunks go back to
 * the front, to be taken again). */
void osp_flow_settle_batch(osp_flow_t *f, osp_flow_batch_t *b, bool delivered);
void osp_flow_batch_free(osp_flow_batch_t *b);

/* Readable when points arrived for the consumer (poll it). */
int osp_flow_wake_fd(osp_flow_t *f);
/* Points waiting: memory, spool, returned, the chunk being converted (not
 * those out with the consumer). */
uint64_t osp_flow_waiting(osp_flow_t *f);
/* Wake a consumer blocked in osp_flow_pop (stopping). */
void osp_flow_close(osp_flow_t *f);
/* The consumer thread stopped: keep what is left for the next run (onto the
 * spool). Returns how many points could not be kept (counted as dropped
 * "shutdown"). */
uint64_t osp_flow_spill(osp_flow_t *f);

/* ---- stats (any thread) ---- */
void osp_flow_state(osp_flow_t *f, osp_sc_buffers_t *out);

#endif
