/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ring - a shared ring whose producer is hostile: the input becomes the
 * ring's tail and its data area, as a client could write them into the
 * memfd it handed over, and a script of writes a second thread keeps making
 * to the memory while the sidecar drains it (a producer changing words and
 * bytes under the reader, as another process can at any time). The drain
 * must stay inside the mapping, hand out only records that fit the wire's
 * size / 2 - 8, at most one lap of bytes per call, and end; the memfd must
 * refuse to shrink (a truncated mapping would raise SIGBUS in the sidecar).
 *
 * Input: u64 tail, u16 S, S bytes of script (12-byte steps: u32 offset into
 * the data area, u64 value stored there; an offset of 0xffffffff tries to
 * truncate the memfd instead), then the data area's first bytes.
 *
 * The writer uses its own mapping of the memfd, as the producer process
 * does: the same memory at another address, so ThreadSanitizer does not
 * take the race this target is about for a bug of ours.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/ring.h"

static osp_ring_t producer;

struct writer {
    unsigned char *data; /* the writer's own mapping of the data area */
    const uint8_t *script;
    size_t steps;
    atomic_bool stop;
};

static void *write_concurrently(void *arg) {
    struct writer *w = arg;
    for (unsigned round = 0; round < 64 && !atomic_load(&w->stop); round++) {
        for (size_t i = 0; i < w->steps; i++) {
            uint32_t off;
            uint64_t v;
            memcpy(&off, w->script + i * 12, 4);
            memcpy(&v, w->script + i * 12 + 4, 8);
            if (off == 0xffffffffu) {
                if (ftruncate(producer.mem_fd, 0) == 0)
                    abort(); /* the seal is what keeps the sidecar alive */
                continue;
            }
            off = (off % (uint32_t)producer.size) & ~7u;
            __atomic_store_n((uint64_t *)(void *)(w->data + off), v, __ATOMIC_RELEASE);
        }
    }
    return NULL;
}

struct seen {
    uint64_t bytes;
};

static bool check(const char *rec, size_t len, void *ud) {
    struct seen *s = ud;
    if (len > producer.size / 2 - 8)
        abort();
    s->bytes += 8 + ((len + 7) & ~(size_t)7);
    volatile char sum = 0;
    for (size_t i = 0; i < len; i++) /* the sanitizers see every byte read */
        sum ^= rec[i];
    (void)sum;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!producer.hdr && osp__ring_create(&producer, OSP_RING_MIN_SIZE) != 0)
        return 0;
    if (size < 10)
        return 0;
    uint64_t tail;
    uint16_t script_len;
    memcpy(&tail, data, 8);
    memcpy(&script_len, data + 8, 2);
    data += 10;
    size -= 10;
    if (script_len > size)
        script_len = (uint16_t)size;
    struct writer w = {.script = data, .steps = script_len / 12};
    data += script_len;
    size -= script_len;
    memset(producer.data, 0, producer.size);
    memcpy(producer.data, data, size < producer.size ? size : (size_t)producer.size);
    atomic_store(&producer.hdr->tail, tail);
    osp_ring_t c;
    if (osp__ring_attach(&c, dup(producer.mem_fd), dup(producer.event_fd)) != 0)
        return 0;
    c.max_record = 512; /* some records are passed over as too large */
    void *m = mmap(NULL, producer.map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                   producer.mem_fd, 0);
    pthread_t t;
    bool threaded = false;
    if (m != MAP_FAILED && w.steps) {
        w.data = (unsigned char *)m + OSP_RING_DATA_OFF;
        threaded = pthread_create(&t, NULL, write_concurrently, &w) == 0;
    }
    for (int i = 0; i < 3; i++) {
        struct seen s = {0};
        long got = osp__ring_drain(&c, (size_t)-1, check, &s);
        if (s.bytes > c.size) /* one lap a call, whatever the producer does */
            abort();
        if (got <= 0)
            break;
    }
    osp__ring_ready(&c);
    if (threaded) {
        atomic_store(&w.stop, true);
        pthread_join(t, NULL);
    }
    if (m != MAP_FAILED)
        munmap(m, producer.map_len);
    if (c.scratch_cap > OSP_RING_SCRATCH_KEEP)
        abort(); /* the scratch is let go after a drain */
    osp__ring_destroy(&c, false);
    return 0;
}
