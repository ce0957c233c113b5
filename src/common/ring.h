/* SPDX-License-Identifier: Apache-2.0 */
/* ring - the shared-memory fast path of the hop (docs/wire.md, "Rings"): one
 * single-producer single-consumer byte ring per traced thread, in a memfd the
 * library hands to the sidecar. */
#ifndef OSP_COMMON_RING_H
#define OSP_COMMON_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSP_RING_MAGIC    0x5250534fu /* "OSPR" little-endian */
#define OSP_RING_VERSION  1
#define OSP_RING_DATA_OFF 256
#define OSP_RING_SKIP     0xffffffffu /* record length that means "wrap now" */
#define OSP_RING_MIN_SIZE 4096
#define OSP_RING_MAX_SIZE (64u * 1024 * 1024)

/* The header at the start of the mapping. Fields the two sides write live on
 * their own cache lines. */
struct osp_ring_header {
    uint32_t magic;
    uint32_t version;
    uint64_t size; /* data bytes, a power of two */
    char pad0[48];
    _Atomic uint64_t head; /* producer: bytes published */
    char pad1[56];
    _Atomic uint64_t tail; /* consumer: bytes consumed */
    char pad2[56];
    _Atomic uint32_t consumer_waiting;  /* 1: write the eventfd after publishing */
    _Atomic uint32_t producer_closed;   /* 1: no more records will come */
    _Atomic uint32_t consumer_attached; /* 1: the sidecar reads this ring */
};

typedef struct osp_ring {
    struct osp_ring_header *hdr;
    unsigned char *data;
    uint64_t size;
    size_t map_len;
    int mem_fd;
    int event_fd;
    /* Producer's private copies, so a push touches no line the consumer
     * writes: head not yet published, and the last tail seen. */
    uint64_t local_head, seen_tail;
    /* Consumer's scratch for copying records out. */
    char *scratch;
    size_t scratch_cap;
} osp_ring_t;

/* --- producer (libosprofiler) --- */
/* Create a ring of `size` data bytes (power of two) in a new memfd, with its
 * eventfd. Returns 0 or -errno. */
int osp__ring_create(osp_ring_t *r, uint64_t size);
/* Append one record (not yet visible); false when it does not fit now. */
bool osp__ring_push(osp_ring_t *r, const void *rec, uint32_t len);
/* Make pushed records visible and wake the consumer if it sleeps. Called
 * once per batch of pushes: it is the only step that shares cache lines. */
void osp__ring_publish(osp_ring_t *r);
/* Records pushed but not published yet. */
static inline bool osp__ring_unpublished(const osp_ring_t *r) {
    return r->local_head != atomic_load_explicit(&r->hdr->head, memory_order_relaxed);
}
/* Records published but not consumed (for drop accounting). */
size_t osp__ring_pending(const osp_ring_t *r);
/* Unmap and close. close_for_peer: mark closed and wake the consumer first. */
void osp__ring_destroy(osp_ring_t *r, bool close_for_peer);

/* --- consumer (sidecar) --- */
/* Map a ring received from a producer; validates the header. Takes ownership
 * of both fds (closed on failure too). Returns 0 or a negative code. */
int osp__ring_attach(osp_ring_t *r, int mem_fd, int event_fd);
/* Hand each complete record to cb (copied out of shared memory first, so the
 * producer cannot change it under the parser). Returns the number of records,
 * or -1 if the producer corrupted the ring (detach it). */
typedef void (*osp_ring_cb)(const char *rec, size_t len, void *ud);
long osp__ring_drain(osp_ring_t *r, osp_ring_cb cb, void *ud);
/* Before sleeping on the eventfd: set consumer_waiting, then recheck. Returns
 * false (and clears the flag) when records arrived meanwhile. */
bool osp__ring_prepare_sleep(osp_ring_t *r);
bool osp__ring_closed(const osp_ring_t *r);
/* Tell the producer the ring is read (it keeps using the socket until then). */
void osp__ring_set_attached(osp_ring_t *r);
bool osp__ring_attached(const osp_ring_t *r);

#endif
