/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring - single-producer single-consumer byte ring in shared memory.
 *
 * Why: a syscall per flush costs 1.3-5 us, more than a whole trace point; a
 * ring push is a memcpy and a release store. The producer is one traced
 * thread, the consumer the sidecar. Records are [u32 len][len bytes] padded
 * to 8 bytes and never wrap: when a record does not fit before the end, the
 * producer writes OSP_RING_SKIP and continues at the start.
 *
 * Wake-ups: the consumer sets consumer_waiting before it sleeps on the
 * eventfd and re-checks head; the producer publishes head, then reads the
 * flag. Both sides put a seq_cst fence between their store and their load,
 * so at least one of them sees the other (no lost wake-up). A busy consumer
 * never sets the flag, so producers then make no syscall at all.
 *
 * The consumer trusts nothing in the mapping: head is bounded by size,
 * lengths by what was published, and each record is copied out before use.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

int osp__ring_create(osp_ring_t *r, uint64_t size) {
    memset(r, 0, sizeof *r);
    r->mem_fd = r->event_fd = -1;
    if (size < OSP_RING_MIN_SIZE || size > OSP_RING_MAX_SIZE || (size & (size - 1)))
        return -EINVAL;
    int rc;
    r->mem_fd = memfd_create("osprofiler-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (r->mem_fd < 0)
        return -errno;
    r->map_len = OSP_RING_DATA_OFF + size;
    if (ftruncate(r->mem_fd, (off_t)r->map_len) != 0)
        goto fail;
    /* The sidecar may rely on the size never changing under it. */
    (void)fcntl(r->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    void *m = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->mem_fd, 0);
    if (m == MAP_FAILED)
        goto fail;
    r->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->event_fd < 0) {
        munmap(m, r->map_len);
        goto fail;
    }
    r->hdr = m;
    r->data = (unsigned char *)m + OSP_RING_DATA_OFF;
    r->size = size;
    r->hdr->magic = OSP_RING_MAGIC;
    r->hdr->version = OSP_RING_VERSION;
    r->hdr->size = size;
    return 0;
fail:
    rc = -errno;
    close(r->mem_fd);
    r->mem_fd = -1;
    return rc;
}

bool osp__ring_push(osp_ring_t *r, const void *rec, uint32_t len) {
    uint64_t head = r->local_head;
    uint64_t need = pad8(4 + (uint64_t)len);
    uint64_t pos = head & (r->size - 1);
    uint64_t skip = r->size - pos < need ? r->size - pos : 0;
    if (need > r->size / 2)
        return false;
    if (head + skip + need - r->seen_tail > r->size) {
        /* Looks full: only now read the consumer's line. */
        r->seen_tail = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
        if (head + skip + need - r->seen_tail > r->size)
            return false;
    }
    if (skip) {
        uint32_t marker = OSP_RING_SKIP;
        memcpy(r->data + pos, &marker, 4);
        pos = 0;
    }
    memcpy(r->data + pos, &len, 4);
    memcpy(r->data + pos + 4, rec, len);
    r->local_head = head + skip + need;
    return true;
}

void osp__ring_publish(osp_ring_t *r) {
    atomic_store_explicit(&r->hdr->head, r->local_head, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&r->hdr->consumer_waiting, memory_order_relaxed) &&
        atomic_exchange(&r->hdr->consumer_waiting, 0)) {
        uint64_t one = 1;
        ssize_t w = write(r->event_fd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is saturated, the consumer is awake */
    }
}

/* The record at *t (skip markers passed): 1 with its offset and length,
 * 0 at head, -1 if it runs past head or the end of the area (corrupt). */
static int next_record(const osp_ring_t *r, uint64_t *t, uint64_t head, uint64_t *pos,
                       uint32_t *len) {
    while (*t < head) {
        *pos = *t & (r->size - 1);
        memcpy(len, r->data + *pos, 4);
        if (*len != OSP_RING_SKIP) {
            uint64_t need = pad8(4 + (uint64_t)*len);
            return need > r->size - *pos || *t + need > head ? -1 : 1;
        }
        *t += r->size - *pos;
    }
    return 0;
}

size_t osp__ring_pending(const osp_ring_t *r) {
    uint64_t t = atomic_load(&r->hdr->tail), pos;
    uint32_t len;
    size_t n = 0;
    while (next_record(r, &t, r->local_head, &pos, &len) == 1) {
        t += pad8(4 + (uint64_t)len);
        n++;
    }
    return n;
}

void osp__ring_destroy(osp_ring_t *r, bool close_for_peer) {
    if (r->hdr) {
        if (close_for_peer) {
            atomic_store(&r->hdr->producer_closed, 1);
            uint64_t one = 1;
            ssize_t w = write(r->event_fd, &one, sizeof one);
            (void)w;
        }
        munmap(r->hdr, r->map_len);
    }
    free(r->scratch);
    if (r->mem_fd >= 0)
        close(r->mem_fd);
    if (r->event_fd >= 0)
        close(r->event_fd);
    memset(r, 0, sizeof *r);
    r->mem_fd = r->event_fd = -1;
}

int osp__ring_attach(osp_ring_t *r, int mem_fd, int event_fd) {
    memset(r, 0, sizeof *r);
    r->mem_fd = mem_fd;
    r->event_fd = event_fd;
    struct stat st;
    if (fstat(mem_fd, &st) != 0 || st.st_size < OSP_RING_DATA_OFF + OSP_RING_MIN_SIZE ||
        (uint64_t)st.st_size > OSP_RING_DATA_OFF + (uint64_t)OSP_RING_MAX_SIZE)
        goto bad;
    r->map_len = (size_t)st.st_size;
    void *m = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
    if (m == MAP_FAILED)
        goto bad;
    r->hdr = m;
    uint64_t size = r->hdr->size;
    if (r->hdr->magic != OSP_RING_MAGIC || r->hdr->version != OSP_RING_VERSION ||
        size < OSP_RING_MIN_SIZE || (size & (size - 1)) ||
        OSP_RING_DATA_OFF + size != r->map_len)
        goto bad;
    r->size = size;
    r->data = (unsigned char *)m + OSP_RING_DATA_OFF;
    return 0;
bad:
    osp__ring_destroy(r, false);
    return -EINVAL;
}

long osp__ring_drain(osp_ring_t *r, osp_ring_cb cb, void *ud) {
    uint64_t t = atomic_load_explicit(&r->hdr->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->hdr->head, memory_order_acquire);
    if (head - t > r->size)
        return -1; /* the producer moved head impossibly */
    long n = 0;
    uint64_t pos;
    uint32_t len;
    int got;
    while ((got = next_record(r, &t, head, &pos, &len)) == 1) {
        if (len + 1 > r->scratch_cap) {
            char *grown = realloc(r->scratch, (size_t)len + 1);
            if (!grown)
                break; /* try again later */
            r->scratch = grown;
            r->scratch_cap = (size_t)len + 1;
        }
        memcpy(r->scratch, r->data + pos + 4, len);
        r->scratch[len] = '\0';
        cb(r->scratch, len, ud);
        t += pad8(4 + (uint64_t)len);
        if (++n % 32 == 0) /* free space early: the producer may be waiting */
            atomic_store_explicit(&r->hdr->tail, t, memory_order_release);
    }
    atomic_store_explicit(&r->hdr->tail, t, memory_order_release);
    return got < 0 ? -1 : n;
}

bool osp__ring_prepare_sleep(osp_ring_t *r) {
    atomic_store(&r->hdr->consumer_waiting, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&r->hdr->head) != atomic_load(&r->hdr->tail)) {
        atomic_store(&r->hdr->consumer_waiting, 0);
        return false;
    }
    return true;
}

bool osp__ring_closed(const osp_ring_t *r) {
    return atomic_load(&((osp_ring_t *)r)->hdr->producer_closed) != 0;
}

void osp__ring_set_attached(osp_ring_t *r) {
    atomic_store_explicit(&r->hdr->consumer_attached, 1, memory_order_release);
}

bool osp__ring_attached(const osp_ring_t *r) {
    return atomic_load_explicit(&((osp_ring_t *)r)->hdr->consumer_attached,
                                memory_order_acquire) != 0;
}
