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
#define OSP_RING_VERSION  2
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
    _Atomic uint64_t reserved; /* was head (version 1); records commit themselves */
    char pad1[56];
    _Atomic uint64_t tail; /* consumer: bytes consumed */
    char pad2[56];
    _Atomic uint32_t consumer_waiting;  /* 1: write the eventfd after committing */
    _Atomic uint32_t producer_closed;   /* 1: no more records will come */
    _Atomic uint32_t consumer_attached; /* 1: the sidecar reads this ring */
};

typedef struct osp_ring {
    struct osp_ring_header *hdr;
    unsigned char *data;
    uint64_t size;
    unsigned shift; /* log2(size) */
    size_t map_len;
    int mem_fd;
    int event_fd;
    /* Producer's private copies, so a push touches no line the consumer
     * writes: bytes written, and the last tail seen. */
    uint64_t local_head, seen_tail;
    /* Consumer's own tail: the copy in the mapping is only published, never
     * read back (the producer could write it). */
    uint64_t consumed;
    /* Consumer's scratch for copying records out: at most max_record + 1
     * bytes while a drain runs, at most OSP_RING_SCRATCH_KEEP between. */
    char *scratch;
    size_t scratch_cap;
    /* Consumer: the largest record it copies out (0: the wire's 8 MiB); a
     * larger one is passed over and counted in oversize. */
    size_t max_record;
    uint64_t oversize;
} osp_ring_t;

#define OSP_RING_SCRATCH_KEEP (64 * 1024)
#define OSP_RING_MAX_RECORD   (8u * 1024 * 1024)

/* --- producer (libosprofiler) --- */
/* Create a ring of `size` data bytes (power of two) in a new memfd, with its
 * eventfd. Returns 0 or -errno. */
int osp__ring_create(osp_ring_t *r, uint64_t size);
/* Largest record a ring of r->size takes. */
static inline uint32_t osp__ring_max_record(const osp_ring_t *r) {
    return (uint32_t)(r->size / 2 - 8);
}
/* Append one record; it is visible to the consumer at once (it commits
 * itself, no shared head to publish). false when it does not fit now. If the
 * consumer said it sleeps, it is woken, unless that check raced with its
 * falling asleep: see osp__ring_wake. */
bool osp__ring_push(osp_ring_t *r, const void *rec, uint32_t len);
/* The same in two steps, to write the record in place: room for len bytes
 * (NULL when they do not fit now), then commit exactly those len bytes. */
void *osp__ring_reserve(osp_ring_t *r, uint32_t len);
void osp__ring_commit(osp_ring_t *r, uint32_t len);
/* The certain wake-up: a full fence, then the consumer_waiting check. Called
 * where latency matters (a request's last point); elsewhere a consumer that
 * fell asleep in the race window wakes by its own timeout. */
void osp__ring_wake(osp_ring_t *r);
/* Records written but not consumed (for drop accounting). */
size_t osp__ring_pending(const osp_ring_t *r);
/* Unmap and close. close_for_peer: mark closed and wake the consumer first. */
void osp__ring_destroy(osp_ring_t *r, bool close_for_peer);

/* --- consumer (sidecar) --- */
/* Map a ring received from a producer; validates the header. Takes ownership
 * of both fds (closed on failure too; the memfd also on success, the mapping
 * keeps it). Refuses a memfd not sealed against shrinking (a truncated
 * mapping raises SIGBUS on the next read) and an event_fd that is not an
 * eventfd. Returns 0 or a negative code (osp__ring_attach_error says it). */
int osp__ring_attach(osp_ring_t *r, int mem_fd, int event_fd);
#define OSP_RING_ENOTRING  (-1) /* not a ring of this version */
#define OSP_RING_EUNSEALED (-2) /* not a memfd sealed against shrinking */
#define OSP_RING_ENOTEVENT (-3) /* the second descriptor is not an eventfd */
const char *osp__ring_attach_error(int rc);
/* Hand each committed record to cb (copied out of shared memory first, so
 * the producer cannot change it under the parser), at most max_bytes of
 * records in all, and none once cb returns false. A record over max_record
 * is passed over (r->oversize counts it); one over size / 2 - 8, which
 * docs/wire.md forbids, is a corrupt ring. Returns the number of records
 * taken, or -1 if the producer corrupted the ring (detach it). */
typedef bool (*osp_ring_cb)(const char *rec, size_t len, void *ud);
long osp__ring_drain(osp_ring_t *r, size_t max_bytes, osp_ring_cb cb, void *ud);
/* True when a committed record waits. */
bool osp__ring_ready(const osp_ring_t *r);
/* Before sleeping on the eventfd: set consumer_waiting, then recheck. Returns
 * false (and clears the flag) when records arrived meanwhile. */
bool osp__ring_prepare_sleep(osp_ring_t *r);
bool osp__ring_closed(const osp_ring_t *r);
/* Tell the producer the ring is read (it keeps using the socket until then). */
void osp__ring_set_attached(osp_ring_t *r);
bool osp__ring_attached(const osp_ring_t *r);

#endif
