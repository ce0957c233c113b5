/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow - where received points wait, and when the intake holds back.
 *
 * Memory first, while the sink (broker or store) takes points and the queue
 * is under half of memory_limit. Beyond that, or while the sink is down,
 * points go to the disk spool, and keep going there until it is empty again
 * (so they leave in the order they came: memory holds the older ones).
 * When neither may take more - the spool is full, failing or absent, and
 * memory is at its limit - the intake stops reading rings and sockets: the
 * services' libraries then hold points in their rings and buffers, and drop
 * (counted there) only when those are full. The sidecar itself drops only
 * what can never be delivered: invalid points, unreadable spool data, and
 * at exit what neither memory nor the spool can keep.
 *
 * Threads: the intake calls room/put, the consumer pop/return/delivered;
 * the queue and the spool lock themselves; what the consumer holds is
 * counted in atomics the intake reads.
 */
#include "flow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "log.h"
#include "queue.h"
#include "stats.h"

struct osp_flow {
    osp_queue_t *mem;
    osp_spool_t *spool;
    const char *sink_name;
    atomic_size_t limit;
    atomic_bool sink_up;
    /* intake side */
    bool spilling; /* new points go to the spool until it is empty */
    bool holding;  /* room was 0 last time */
    double hold_since;
    atomic_uint_fast64_t hold_backs;
    atomic_bool holding_pub;
    /* consumer side */
    osp_msg_t *returned, *returned_tail;
    osp_chunk_t *cur; /* being converted */
    osp_buf_t scratch;
    atomic_size_t held_bytes;        /* cur + returned + out with the consumer */
    atomic_uint_fast64_t returned_n; /* points in returned */
    atomic_uint_fast64_t cur_n;      /* points in cur not yet converted */
    osp_chunk_t *front;              /* chunks of batches not committed: first */
    atomic_uint_fast64_t front_n;
    /* drops: logged at 1, 2, 4, 8, ... of each reason */
    atomic_uint_fast64_t drop_logged[OSP_FLOW_DROPS];
};

osp_flow_t *osp_flow_new(size_t memory_limit, osp_spool_t *spool, const char *sink) {
    osp_flow_t *f = calloc(1, sizeof *f);
    if (!f || !(f->mem = osp_queue_new())) {
        free(f);
        return NULL;
    }
    f->spool = spool;
    f->sink_name = sink;
    atomic_store(&f->limit, memory_limit);
    atomic_store(&f->sink_up, true);
    f->spilling = spool && osp_spool_pending(spool) > 0; /* a previous run's, first */
    return f;
}

void osp_flow_free(osp_flow_t *f) {
    if (!f)
        return;
    for (osp_msg_t *m = f->returned, *n; m; m = n) {
        n = m->next;
        osp_msg_free(m);
    }
    osp_chunk_free(f->cur);
    for (osp_chunk_t *c = f->front, *n; c; c = n) {
        n = c->next;
        osp_chunk_free(c);
    }
    osp__buf_free(&f->scratch);
    osp_queue_free(f->mem);
    free(f);
}

void osp_flow_set_limit(osp_flow_t *f, size_t memory_limit) {
    atomic_store(&f->limit, memory_limit);
}

/* ---------------------------------------------------------------- drops */

void osp_flow_received(osp_flow_t *f, uint64_t n) {
    (void)f;
    OSP_STAT_ADD(received, n);
}

void osp_flow_drop(osp_flow_t *f, enum osp_flow_drop why, uint64_t n,
                   const char *detail) {
    static const char *const what[] = {
        [OSP_FLOW_DROP_INVALID] = "not a valid trace point",
        [OSP_FLOW_DROP_SPOOL] = "unreadable on the spool",
        [OSP_FLOW_DROP_SHUTDOWN] = "still in memory at exit and the spool cannot keep it",
        [OSP_FLOW_DROP_NOMEM] = "out of memory",
    };
    if (!n)
        return;
    uint64_t total = 0;
    switch (why) {
    case OSP_FLOW_DROP_INVALID:
        total = OSP_STAT_ADD(dropped_invalid, n) + n;
        break;
    case OSP_FLOW_DROP_SPOOL:
        total = OSP_STAT_ADD(dropped_spool, n) + n;
        break;
    case OSP_FLOW_DROP_SHUTDOWN:
        total = OSP_STAT_ADD(dropped_shutdown, n) + n;
        break;
    case OSP_FLOW_DROP_NOMEM:
    case OSP_FLOW_DROPS:
        total = OSP_STAT_ADD(dropped_nomem, n) + n;
        break;
    }
    uint64_t logged = atomic_load(&f->drop_logged[why]);
    if (total >= logged * 2 &&
        atomic_compare_exchange_strong(&f->drop_logged[why], &logged, total))
        OSP_LOG(why == OSP_FLOW_DROP_INVALID ? OSP_LL_NOTICE : OSP_LL_WARN, "flow",
                "dropped %llu point(s) so far: %s%s%s", (unsigned long long)total,
                what[why], detail ? ": " : "", detail ? detail : "");
}

/* ---------------------------------------------------------------- intake */

static size_t memory_bytes(osp_flow_t *f) {
    return osp_queue_bytes(f->mem) + atomic_load(&f->held_bytes);
}

/* Where new points go now: the spool (true) or memory. */
static bool to_spool(osp_flow_t *f, size_t mem, size_t limit) {
    if (!f->spool)
        return false;
    if (f->spilling && osp_spool_pending(f->spool) == 0 && mem <= limit / 2 &&
        atomic_load(&f->sink_up))
        f->spilling = false; /* caught up: memory again */
    if (!f->spilling && (!atomic_load(&f->sink_up) || mem > limit / 2))
        f->spilling = true;
    return f->spilling;
}

static void hold(osp_flow_t *f, const char *why) {
    if (f->holding)
        return;
    f->holding = true;
    f->hold_since = osp_sc_mono();
    atomic_fetch_add(&f->hold_backs, 1);
    atomic_store(&f->holding_pub, true);
    OSP_LOG(OSP_LL_WARN, "flow",
            "holding back: %s; services keep their points in their rings and buffers "
            "(and count what those cannot hold) until %s takes more",
            why, f->sink_name);
}

static void release(osp_flow_t *f) {
    if (!f->holding)
        return;
    f->holding = false;
    atomic_store(&f->holding_pub, false);
    OSP_LOG(OSP_LL_NOTICE, "flow", "reading from services again after %.1f s",
            osp_sc_mono() - f->hold_since);
}

size_t osp_flow_room(osp_flow_t *f) {
    size_t limit = atomic_load(&f->limit), mem = memory_bytes(f);
    size_t room;
    const char *why = NULL;
    if (to_spool(f, mem, limit)) {
        uint64_t r = osp_spool_room(f->spool);
        room = r > SIZE_MAX ? SIZE_MAX : (size_t)r;
        if (room < OSP_CHUNK_SIZE)
            why = osp_spool_failing(f->spool) ? "the spool cannot be written"
                                              : "the spool is full (spool_max_bytes)";
    } else {
        room = mem < limit ? limit - mem : 0;
        if (room < OSP_CHUNK_SIZE)
            why = f->spool ? "memory_limit reached" : "memory_limit reached and no spool";
    }
    if (why) {
        hold(f, why);
        return 0;
    }
    release(f);
    return room;
}

void osp_flow_put(osp_flow_t *f, osp_chunk_t **cp) {
    osp_chunk_t *c = *cp;
    if (!c || !c->used)
        return;
    size_t limit = atomic_load(&f->limit);
    if (to_spool(f, memory_bytes(f), limit)) {
        uint64_t n = c->count;
        if (osp_spool_append(f->spool, c) == OSP_OK) {
            OSP_STAT_ADD(spooled, n);
            c->used = c->read = 0;
            c->count = 0;
            return;
        }
        /* Taken from the services already: memory, even over the limit
         * (by one chunk); room is 0 from now on until the spool works. */
        f->spilling = false;
    }
    if (osp_queue_put(f->mem, c))
        *cp = osp_chunk_new(0);
}

/* ---------------------------------------------------------------- consumer */

int osp_flow_wake_fd(osp_flow_t *f) { return osp_queue_wake_fd(f->mem); }

void osp_flow_sink(osp_flow_t *f, bool up) { atomic_store(&f->sink_up, up); }
bool osp_flow_sink_up(osp_flow_t *f) { return atomic_load(&f->sink_up); }

static void held(osp_flow_t *f, ssize_t delta) {
    atomic_fetch_add(&f->held_bytes, (size_t)delta);
}

/* The next chunk to convert: memory first (older), then the spool. */
static osp_chunk_t *next_chunk(osp_flow_t *f, int timeout_ms) {
    osp_chunk_t *c = osp_queue_take(f->mem, 0);
    if (!c && f->spool && osp_spool_pending(f->spool) > 0) {
        uint64_t lost = 0;
        c = osp_spool_read(f->spool, &lost);
        osp_flow_drop(f, OSP_FLOW_DROP_SPOOL, lost, NULL);
    }
    if (!c && timeout_ms > 0)
        c = osp_queue_take(f->mem, timeout_ms);
    return c;
}

osp_msg_t *osp_flow_pop(osp_flow_t *f, size_t max, int timeout_ms) {
    osp_msg_t *head = NULL, **tail = &head;
    size_t n = 0;
    while (n < max && f->returned) {
        osp_msg_t *m = f->returned;
        f->returned = m->next;
        m->next = NULL;
        *tail = m;
        tail = &m->next;
        n++;
    }
    if (!f->returned)
        f->returned_tail = NULL;
    atomic_fetch_sub(&f->returned_n, n); /* their bytes stay held: out now */
    while (n < max) {
        if (!f->cur) {
            f->cur = next_chunk(f, head ? 0 : timeout_ms);
            if (!f->cur)
                break;
            held(f, (ssize_t)f->cur->cap);
            atomic_store(&f->cur_n, f->cur->count);
        }
        osp_entry_t e;
        bool got = osp_chunk_next(f->cur, &e);
        atomic_store(&f->cur_n, f->cur->count);
        if (!got) {
            uint64_t lost = f->cur->count; /* a damaged entry ends the chunk */
            osp_flow_drop(f, OSP_FLOW_DROP_SPOOL, lost, "a damaged entry");
            if (f->spool && f->cur->spool_seg)
                osp_spool_done(f->spool, f->cur->spool_seg, lost);
            held(f, -(ssize_t)f->cur->cap);
            osp_chunk_free(f->cur);
            f->cur = NULL;
            atomic_store(&f->cur_n, 0);
            continue;
        }
        osp_error_t err;
        osp_msg_t *m = osp_msg_from_entry(&e, &f->scratch, &err);
        if (!m) {
            osp_flow_drop(f, OSP_FLOW_DROP_INVALID, 1, err.text);
            if (f->spool && f->cur->spool_seg)
                osp_spool_done(f->spool, f->cur->spool_seg, 1);
        } else {
            m->spool_seg = f->cur->spool_seg;
            held(f, (ssize_t)osp_msg_cost(m));
            *tail = m;
            tail = &m->next;
            n++;
        }
        if (f->cur->read == f->cur->used) {
            held(f, -(ssize_t)f->cur->cap);
            osp_chunk_free(f->cur);
            f->cur = NULL;
            atomic_store(&f->cur_n, 0);
        }
    }
    return head;
}

/* ---------------------------------------------------------------- batches */

bool osp_flow_take_batch(osp_flow_t *f, osp_flow_batch_t *b, size_t max, int timeout_ms) {
    osp_chunk_t **tail = &b->chunks;
    b->n = 0;
    b->text.len = 0;
    b->text.failed = false;
    b->invalid = b->damaged = 0;
    while (b->n < max) {
        osp_chunk_t *c = f->front;
        if (c) {
            f->front = c->next;
            atomic_fetch_sub(&f->front_n, c->count);
        } else if ((c = next_chunk(f, b->chunks ? 0 : timeout_ms))) {
            held(f, (ssize_t)c->cap);
        } else {
            break;
        }
        c->next = NULL;
        *tail = c;
        tail = &c->next;
        size_t pos = 0;
        uint64_t seen = 0;
        osp_entry_t e;
        while (osp_chunk_entry_at(c, &pos, &e)) {
            seen++;
            if (b->n == b->cap) {
                size_t cap = b->cap ? 2 * b->cap : 1024;
                osp_entry_text_t *grown = realloc(b->items, cap * sizeof *grown);
                if (!grown) { /* the rest of this chunk waits for the next batch */
                    b->invalid++;
                    snprintf(b->why, sizeof b->why, "out of memory");
                    continue;
                }
                b->items = grown;
                b->cap = cap;
            }
            osp_error_t err;
            if (osp_entry_to_text(&e, &b->text, &b->scratch, &b->items[b->n], &err) ==
                OSP_OK) {
                b->n++;
            } else {
                b->invalid++;
                snprintf(b->why, sizeof b->why, "%s", err.text);
            }
        }
        if (seen < c->count)
            b->damaged += c->count - seen; /* a damaged entry ends a chunk */
    }
    return b->chunks != NULL;
}

void osp_flow_settle_batch(osp_flow_t *f, osp_flow_batch_t *b, bool delivered) {
    if (!b->chunks)
        return;
    if (!delivered) {
        osp_chunk_t *last = b->chunks;
        uint64_t n = last->count;
        while (last->next) {
            last = last->next;
            n += last->count;
        }
        last->next = f->front;
        f->front = b->chunks;
        atomic_fetch_add(&f->front_n, n);
        b->chunks = NULL;
        return;
    }
    for (osp_chunk_t *c = b->chunks, *n; c; c = n) {
        n = c->next;
        if (f->spool && c->spool_seg)
            osp_spool_done(f->spool, c->spool_seg, c->count);
        held(f, -(ssize_t)c->cap);
        osp_chunk_free(c);
    }
    b->chunks = NULL;
    OSP_STAT_ADD(delivered, b->n);
    osp_flow_drop(f, OSP_FLOW_DROP_INVALID, b->invalid, b->why);
    osp_flow_drop(f, OSP_FLOW_DROP_SPOOL, b->damaged, "a damaged entry");
}

void osp_flow_batch_free(osp_flow_batch_t *b) {
    osp__buf_free(&b->text);
    osp__buf_free(&b->scratch);
    free(b->items);
    memset(b, 0, sizeof *b);
}

void osp_flow_return(osp_flow_t *f, osp_msg_t *list) {
    if (!list)
        return;
    osp_msg_t *last = list;
    uint64_t n = 1;
    while (last->next) {
        last = last->next;
        n++;
    }
    last->next = f->returned;
    f->returned = list;
    if (!f->returned_tail)
        f->returned_tail = last;
    atomic_fetch_add(&f->returned_n, n);
}

void osp_flow_discard(osp_flow_t *f, osp_msg_t *m, enum osp_flow_drop why,
                      const char *detail) {
    if (f->spool && m->spool_seg)
        osp_spool_done(f->spool, m->spool_seg, 1);
    held(f, -(ssize_t)osp_msg_cost(m));
    osp_flow_drop(f, why, 1, detail);
    osp_msg_free(m);
}

void osp_flow_delivered(osp_flow_t *f, osp_msg_t *m) {
    if (f->spool && m->spool_seg)
        osp_spool_done(f->spool, m->spool_seg, 1);
    held(f, -(ssize_t)osp_msg_cost(m));
    OSP_STAT_ADD(delivered, 1);
    osp_msg_free(m);
}

void osp_flow_delivered_list(osp_flow_t *f, osp_msg_t *list) {
    uint64_t n = 0, seg = 0, seg_n = 0;
    size_t bytes = 0;
    for (osp_msg_t *m = list, *next; m; m = next) {
        next = m->next;
        if (f->spool && m->spool_seg != seg) { /* a batch is one or two segments */
            osp_spool_done(f->spool, seg, seg_n);
            seg = m->spool_seg;
            seg_n = 0;
        }
        seg_n++;
        bytes += osp_msg_cost(m);
        n++;
        osp_msg_free(m);
    }
    if (f->spool)
        osp_spool_done(f->spool, seg, seg_n);
    held(f, -(ssize_t)bytes);
    OSP_STAT_ADD(delivered, n);
}

uint64_t osp_flow_waiting(osp_flow_t *f) {
    return osp_queue_count(f->mem) + (f->spool ? osp_spool_pending(f->spool) : 0) +
           atomic_load(&f->returned_n) + atomic_load(&f->cur_n) +
           atomic_load(&f->front_n);
}

void osp_flow_close(osp_flow_t *f) { osp_queue_close(f->mem); }

/* Keep a chunk's unread entries on the spool; false when it refused. */
static bool spill_chunk(osp_flow_t *f, osp_chunk_t *c) {
    if (c->read) { /* partly converted: keep only the rest */
        memmove(c->data, c->data + c->read, c->used - c->read);
        c->used -= c->read;
        c->read = 0;
    }
    if (!c->count)
        return true;
    return f->spool && osp_spool_append(f->spool, c) == OSP_OK;
}

/* Spill the returned messages (they were converted: back as JSON entries). */
static void spill_returned(osp_flow_t *f, uint64_t *kept, uint64_t *lost) {
    osp_chunk_t *c = osp_chunk_new(0);
    for (osp_msg_t *m = f->returned, *n; m; m = n) {
        n = m->next;
        if (!m->spool_seg) { /* else still in its segment: replayed from there */
            if (c && !osp_chunk_add_msg(c, m)) {
                uint64_t k = c->count;
                *(spill_chunk(f, c) ? kept : lost) += k;
                osp_chunk_free(c);
                c = osp_chunk_new(osp_entry_size(strlen(m->publisher), m->len));
                if (c && !osp_chunk_add_msg(c, m))
                    (*lost)++;
            } else if (!c) {
                (*lost)++;
            }
        }
        osp_msg_free(m);
    }
    f->returned = f->returned_tail = NULL;
    atomic_store(&f->returned_n, 0);
    if (c) {
        uint64_t k = c->count;
        *(spill_chunk(f, c) ? kept : lost) += k;
        osp_chunk_free(c);
    }
}

uint64_t osp_flow_spill(osp_flow_t *f) {
    uint64_t lost = 0, kept = 0;
    spill_returned(f, &kept, &lost);
    if (f->cur) { /* the chunk being converted goes first, then the front */
        f->cur->next = f->front;
        f->front = f->cur;
        f->cur = NULL;
    }
    atomic_store(&f->cur_n, 0);
    osp_chunk_t *c = f->front;
    if (c) {
        f->front = c->next;
        c->next = NULL;
    }
    do {
        if (!c)
            continue;
        uint64_t n = c->count;
        if (c->spool_seg)
            ; /* its entries are still in their segment: the next run reads them */
        else if (spill_chunk(f, c))
            kept += n;
        else
            lost += n;
        osp_chunk_free(c);
        if ((c = f->front)) {
            f->front = c->next;
            c->next = NULL;
        }
    } while (c || (c = osp_queue_take(f->mem, 0)));
    atomic_store(&f->front_n, 0);
    atomic_store(&f->held_bytes, 0);
    if (kept)
        OSP_STAT_ADD(spooled, kept);
    osp_flow_drop(f, OSP_FLOW_DROP_SHUTDOWN, lost, NULL);
    return lost;
}

void osp_flow_state(osp_flow_t *f, osp_sc_buffers_t *out) {
    out->memory_points = osp_queue_count(f->mem) + atomic_load(&f->returned_n) +
                         atomic_load(&f->cur_n) + atomic_load(&f->front_n);
    out->memory_bytes = memory_bytes(f);
    out->spool_points = f->spool ? osp_spool_pending(f->spool) : 0;
    out->spool_bytes = f->spool ? osp_spool_bytes(f->spool) : 0;
    out->holding_back = atomic_load(&f->holding_pub);
    out->hold_backs = atomic_load(&f->hold_backs);
}
