/* SPDX-License-Identifier: Apache-2.0 */
/* stats - the sidecar's counters, updated by any thread. */
#ifndef OSP_SIDECAR_STATS_H
#define OSP_SIDECAR_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct osp_sc_stats {
    atomic_uint_fast64_t received;  /* points taken from services (valid or not) */
    atomic_uint_fast64_t delivered; /* confirmed on every topic, or committed */
    atomic_uint_fast64_t published; /* basic.publish sent (per topic) */
    atomic_uint_fast64_t confirmed; /* basic.ack received (per topic) */
    atomic_uint_fast64_t nacked;    /* basic.nack: republished */
    /* drops, counted by flow.c only */
    atomic_uint_fast64_t dropped_invalid;  /* not a trace point Python reads */
    atomic_uint_fast64_t dropped_shutdown; /* at exit, neither memory nor spool kept it */
    atomic_uint_fast64_t dropped_spool;    /* unreadable spool data */
    atomic_uint_fast64_t dropped_nomem;    /* no memory for a point taken from a frame */
    atomic_uint_fast64_t dropped_store;    /* refused by the store, the rest stored */
    atomic_uint_fast64_t bad_frames; /* frames refused whole (bad header, too big) */
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t rings;                   /* shared rings attached so far */
    atomic_uint_fast64_t rings_refused;           /* ring registrations refused */
    atomic_uint_fast64_t rings_refused_limit;     /* of them: over a limit */
    atomic_uint_fast64_t connections_refused;     /* over a limit (all reasons) */
    atomic_uint_fast64_t connections_refused_uid; /* of them: the uid's limit */
    atomic_uint_fast64_t connections_refused_fds; /* of them: no descriptor left */
    atomic_uint_fast64_t records_oversize;        /* points over max_record_bytes */
    atomic_uint_fast64_t spooled;                 /* points written to the disk spool */
    atomic_uint_fast64_t stored;          /* points committed to the store (no broker) */
    atomic_uint_fast64_t store_commits;   /* transactions that stored them */
    atomic_uint_fast64_t collected;       /* broker messages committed and acked */
    atomic_uint_fast64_t collect_invalid; /* consumed messages that are no trace point */
    atomic_uint_fast64_t
        collect_redelivered; /* consumed messages the broker redelivered */
    atomic_uint_fast64_t publisher_replaced; /* frames re-labelled by publisher_policy */
    atomic_bool connected;                   /* the publisher has a broker */
    /* gauges the intake loop owns, copied here each pass for metrics.c */
    atomic_uint_fast64_t conns_open; /* local connections open now */
    atomic_uint_fast64_t rings_open; /* shared rings attached now */
} osp_sc_stats_t;

extern osp_sc_stats_t osp_sc_stats;

/* Where points wait now (flow.c fills it). */
typedef struct osp_sc_buffers {
    uint64_t memory_points, memory_bytes, spool_points, spool_bytes;
    bool holding_back; /* the intake stopped reading */
    uint64_t hold_backs;
} osp_sc_buffers_t;

/* The collector's state, for --stats: whether it takes messages from the
 * broker now and, when not, why (reason: no secret, as everything logged).
 * "since" is when it last started or stopped consuming. Any thread. */
void osp_sc_stats_collector(bool consuming, const char *reason);

/* Whether a collector runs (then *consuming: it takes messages now). Any
 * thread. */
bool osp_sc_stats_collector_state(bool *consuming);

/* The counters as one JSON line (with '\n'); returns its length. b may be
 * NULL (no buffers to report). With a collector, a "collector" object:
 * {"consuming": bool, "since": "<UTC ISO 8601>", "reason": null|"..."}. */
int osp_sc_stats_json(char *out, size_t len, const osp_sc_buffers_t *b,
                      size_t connections, size_t rings);

/* Returns the value before the addition. */
#define OSP_STAT_ADD(field, n)                                                           \
    atomic_fetch_add_explicit(&osp_sc_stats.field, (n), memory_order_relaxed)

#endif
