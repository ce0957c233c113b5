/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ring - a shared ring whose producer is hostile: the input becomes the
 * ring's tail and its data area, as a client could write them into the
 * memfd it handed over. The sidecar's drain must stay inside the mapping,
 * hand out only records that lie within it, and end (one lap per call).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ring.h"

static osp_ring_t producer;

static bool check(const char *rec, size_t len, void *ud) {
    (void)ud;
    if (len > producer.size / 2)
        abort();
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
    if (size < 8)
        return 0;
    uint64_t tail;
    memcpy(&tail, data, 8);
    memset(producer.data, 0, producer.size);
    memcpy(producer.data, data + 8,
           size - 8 < producer.size ? size - 8 : (size_t)producer.size);
    atomic_store(&producer.hdr->tail, tail);
    osp_ring_t c;
    if (osp__ring_attach(&c, dup(producer.mem_fd), dup(producer.event_fd)) != 0)
        return 0;
    for (int i = 0; i < 3; i++)
        if (osp__ring_drain(&c, (size_t)-1, check, NULL) <= 0)
            break;
    osp__ring_ready(&c);
    osp__ring_destroy(&c, false);
    return 0;
}
