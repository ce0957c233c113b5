/* SPDX-License-Identifier: Apache-2.0 */
/* stats - the sidecar's counters, updated by any thread. */
#ifndef OSP_SIDECAR_STATS_H
#define OSP_SIDECAR_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct osp_sc_stats {
    atomic_uint_fast64_t received;         /* valid points taken in */
    atomic_uint_fast64_t published;        /* basic.publish sent (per topic) */
    atomic_uint_fast64_t confirmed;        /* basic.ack received (per topic) */
    atomic_uint_fast64_t nacked;           /* basic.nack: republished */
    atomic_uint_fast64_t dropped_invalid;  /* malformed frames or points */
    atomic_uint_fast64_t dropped_memory;   /* memory_limit reached */
    atomic_uint_fast64_t dropped_shutdown; /* still queued when the grace ended */
    atomic_uint_fast64_t dropped_spool;    /* spool_max_bytes, corrupt records */
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t rings;           /* shared rings attached so far */
    atomic_uint_fast64_t spooled;         /* points written to the disk spool */
    atomic_uint_fast64_t stored;          /* points committed to the store (no broker) */
    atomic_uint_fast64_t collected;       /* broker messages committed and acked */
    atomic_uint_fast64_t collect_invalid; /* consumed messages that are no trace point */
    atomic_uint_fast64_t publisher_replaced; /* frames re-labelled by publisher_policy */
    atomic_bool connected;                   /* the publisher has a broker */
} osp_sc_stats_t;

extern osp_sc_stats_t osp_sc_stats;

/* The counters as one JSON line (with '\n'); returns its length. */
int osp_sc_stats_json(char *out, size_t len, size_t queued, size_t connections,
                      size_t rings);

#define OSP_STAT_ADD(field, n)                                                           \
    atomic_fetch_add_explicit(&osp_sc_stats.field, (n), memory_order_relaxed)

#endif
