/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring - single-producer single-consumer byte ring in shared memory.
 *
 * Why: a syscall per flush costs 1.3-5 us, more than a whole trace point; a
 * ring push is a memcpy and one store. The producer is one traced thread,
 * the consumer the sidecar.
 *
 * Records commit themselves: each starts with a u64 word (lap << 32 | len),
 * stored with release order after the record's bytes, where lap tells this
 * pass over the data area from the last (memory never written reads as lap
 * 0, which no record has). So a record is visible the moment it is written,
 * even in a thread that then blocks for minutes inside a request, and the
 * producer never writes a shared head line per record. Records are padded to
 * 8 bytes and never wrap: when one does not fit before the end, the producer
 * writes an OSP_RING_SKIP word and continues at the start.
 *
 * Wake-ups: the consumer sets consumer_waiting before it sleeps on the
 * eventfd and re-checks the next record; the producer reads the flag after
 * each commit and writes the eventfd if it is set. A push reads it without a
 * fence (a fence per point would cost more than the point), so in a window
 * of a few nanoseconds a consumer may fall asleep unseen: it sleeps with a
 * timeout for that reason. osp__ring_wake fences, for a request's last
 * point, whose latency is measured.
 *
 * The consumer trusts nothing in the mapping: lengths are bounded by the
 * area, a drain takes at most one lap, and each record is copied out before
 * use.
 */
#include "ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* The tag a record word carries at position t: never 0. */
static inline uint32_t lap_tag(const osp_ring_t *r, uint64_t t) {
    return (uint32_t)((t >> r->shift) % 0xffffffffu) + 1;
}

static inline _Atomic uint64_t *word_at(const osp_ring_t *r, uint64_t pos) {
    return (_Atomic uint64_t *)(void *)(r->data + pos);
}

static unsigned log2u(uint64_t v) {
    unsigned s = 0;
    while ((1ull << s) < v)
        s++;
    return s;
}

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
    r->shift = log2u(size);
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

static void wake_if_waiting(osp_ring_t *r) {
    if (atomic_load_explicit(&r->hdr->consumer_waiting, memory_order_relaxed) &&
        atomic_exchange(&r->hdr->consumer_waiting, 0)) {
        uint64_t one = 1;
        ssize_t w = write(r->event_fd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is saturated, the consumer is awake */
    }
}

void *osp__ring_reserve(osp_ring_t *r, uint32_t len) {
    uint64_t head = r->local_head;
    uint64_t need = 8 + pad8(len);
    uint64_t pos = head & (r->size - 1);
    uint64_t skip = r->size - pos < need ? r->size - pos : 0;
    if (len > osp__ring_max_record(r))
        return NULL;
    if (head + skip + need - r->seen_tail > r->size) {
        /* Looks full: only now read the consumer's line. */
        r->seen_tail = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
        if (head + skip + need - r->seen_tail > r->size)
            return NULL;
    }
    if (skip) {
        atomic_store_explicit(word_at(r, pos),
                              (uint64_t)lap_tag(r, head) << 32 | OSP_RING_SKIP,
                              memory_order_release);
        r->local_head = head + skip;
        pos = 0;
    }
    return r->data + pos + 8;
}

void osp__ring_commit(osp_ring_t *r, uint32_t len) {
    uint64_t head = r->local_head;
    atomic_store_explicit(word_at(r, head & (r->size - 1)),
                          (uint64_t)lap_tag(r, head) << 32 | len, memory_order_release);
    r->local_head = head + 8 + pad8(len);
    wake_if_waiting(r);
}

bool osp__ring_push(osp_ring_t *r, const void *rec, uint32_t len) {
    void *p = osp__ring_reserve(r, len);
    if (!p)
        return false;
    memcpy(p, rec, len);
    osp__ring_commit(r, len);
    return true;
}

void osp__ring_wake(osp_ring_t *r) {
    atomic_thread_fence(memory_order_seq_cst);
    wake_if_waiting(r);
}

/* The record at *t (skip words passed): 1 with its offset and length, 0 when
 * nothing is committed there, -1 when its length runs past the area. */
static int next_record(const osp_ring_t *r, uint64_t *t, uint64_t limit, uint64_t *pos,
                       uint32_t *len) {
    while (*t < limit) {
        *pos = *t & (r->size - 1);
        uint64_t w = atomic_load_explicit(word_at(r, *pos), memory_order_acquire);
        if ((uint32_t)(w >> 32) != lap_tag(r, *t))
            return 0;
        *len = (uint32_t)w;
        if (*len != OSP_RING_SKIP)
            return *len > r->size / 2 - 8 || 8 + pad8(*len) > r->size - *pos ? -1 : 1;
        *t += r->size - *pos;
    }
    return 0;
}

size_t osp__ring_pending(const osp_ring_t *r) {
    uint64_t t = atomic_load(&r->hdr->tail), pos;
    uint32_t len;
    size_t n = 0;
    while (next_record(r, &t, r->local_head, &pos, &len) == 1) {
        t += 8 + pad8(len);
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

/* The kernel names an eventfd's inode so; a pipe, /dev/zero or a socket
 * would block or spin a reader, and its O_NONBLOCK is the producer's to
 * clear. The sidecar never reads it (edge-triggered epoll), but refuses
 * anything else to keep the wake-up contract honest. */
static bool is_eventfd(int fd) {
    char path[64], target[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return false;
    target[n] = '\0';
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

const char *osp__ring_attach_error(int rc) {
    switch (rc) {
    case OSP_RING_EUNSEALED:
        return "its memory is not a memfd sealed against shrinking (F_SEAL_SHRINK)";
    case OSP_RING_ENOTEVENT:
        return "its second descriptor is not an eventfd";
    default:
        return "not a ring of this version (docs/wire.md)";
    }
}

int osp__ring_attach(osp_ring_t *r, int mem_fd, int event_fd) {
    memset(r, 0, sizeof *r);
    r->mem_fd = mem_fd;
    r->event_fd = event_fd;
    int rc = OSP_RING_ENOTRING;
    struct stat st;
    /* A file that may shrink under the mapping turns a read into SIGBUS. */
    int seals = fcntl(mem_fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
        rc = OSP_RING_EUNSEALED;
        goto bad;
    }
    if (!is_eventfd(event_fd)) {
        rc = OSP_RING_ENOTEVENT;
        goto bad;
    }
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
    r->shift = log2u(size);
    r->data = (unsigned char *)m + OSP_RING_DATA_OFF;
    /* A ring registered again after a sidecar restart goes on from there. */
    r->consumed = atomic_load(&r->hdr->tail);
    if (r->consumed & 7)
        goto bad;
    close(mem_fd); /* the mapping holds the memory: one descriptor a ring */
    r->mem_fd = -1;
    return 0;
bad:
    osp__ring_destroy(r, false);
    return rc;
}

long osp__ring_drain(osp_ring_t *r, size_t max_bytes, osp_ring_cb cb, void *ud) {
    uint64_t start = r->consumed, t = start;
    /* One lap at most: a producer rewriting tags cannot keep us here. */
    uint64_t limit = start + (max_bytes < r->size ? max_bytes : r->size);
    long n = 0;
    uint64_t pos;
    uint32_t len;
    int got;
    size_t max_record = r->max_record ? r->max_record : OSP_RING_MAX_RECORD;
    while ((got = next_record(r, &t, limit, &pos, &len)) == 1) {
        uint64_t need = 8 + pad8(len);
        if (t + need > limit)
            break;              /* over this call's budget: the next call takes it */
        if (len > max_record) { /* never copied: the scratch stays small */
            r->oversize++;
            t += need;
            continue;
        }
        if (len + 1 > r->scratch_cap) {
            char *grown = realloc(r->scratch, (size_t)len + 1);
            if (!grown)
                break; /* try again later */
            r->scratch = grown;
            r->scratch_cap = (size_t)len + 1;
        }
        memcpy(r->scratch, r->data + pos + 8, len);
        r->scratch[len] = '\0';
        if (!cb(r->scratch, len, ud))
            break; /* not taken: it stays for the next call */
        t += need;
        if (++n % 32 == 0) /* free space early: the producer may be waiting */
            atomic_store_explicit(&r->hdr->tail, t, memory_order_release);
    }
    atomic_store_explicit(&r->hdr->tail, t, memory_order_release);
    r->consumed = t;
    if (r->scratch_cap > OSP_RING_SCRATCH_KEEP) { /* a big record was rare */
        free(r->scratch);
        r->scratch = NULL;
        r->scratch_cap = 0;
    }
    return got < 0 ? -1 : n;
}

bool osp__ring_ready(const osp_ring_t *r) {
    uint64_t t = r->consumed, pos;
    uint32_t len;
    return next_record(r, &t, t + r->size, &pos, &len) != 0;
}

bool osp__ring_prepare_sleep(osp_ring_t *r) {
    atomic_store(&r->hdr->consumer_waiting, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (osp__ring_ready(r)) {
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
