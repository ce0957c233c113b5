/* SPDX-License-Identifier: Apache-2.0 */
/* unit.ring - the shared ring's producer and consumer, including a producer
 * that corrupts the ring (the sidecar must detach, never crash). */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ring.h"

struct seen {
    size_t n;
    char last[512];
};

static void collect(const char *rec, size_t len, void *ud) {
    struct seen *s = ud;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, rec);
}

/* A consumer view of the producer's ring, as the sidecar would map it. */
static void attach_copy(osp_ring_t *consumer, const osp_ring_t *producer) {
    assert_int_equal(
        osp__ring_attach(consumer, dup(producer->mem_fd), dup(producer->event_fd)), 0);
}

static void ring__roundtrip_with_wrap(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    struct seen s = {0};
    char rec[300];
    for (int round = 0; round < 100; round++) { /* ~30 KB through 4 KiB */
        int len = snprintf(rec, sizeof rec, "{\"n\": %d, \"pad\": \"%0*d\"}\n", round,
                           100 + round, 0);
        assert_true(osp__ring_push(&p, rec, (uint32_t)len));
        assert_true(osp__ring_push(&p, rec, (uint32_t)len));
        osp__ring_publish(&p);
        assert_int_equal(osp__ring_drain(&c, collect, &s), 2);
        assert_string_equal(s.last, rec);
    }
    assert_int_equal(s.n, 200);
    assert_int_equal(osp__ring_pending(&p), 0);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

static void ring__full_and_unpublished(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    char rec[1000];
    memset(rec, 'x', sizeof rec);
    size_t pushed = 0;
    while (osp__ring_push(&p, rec, sizeof rec))
        pushed++;
    assert_int_equal(pushed, 4); /* 4 x 1008 bytes fit in 4096 */
    struct seen s = {0};
    /* Not published yet: the consumer sees nothing. */
    assert_int_equal(osp__ring_drain(&c, collect, &s), 0);
    assert_true(osp__ring_unpublished(&p));
    osp__ring_publish(&p);
    assert_int_equal(osp__ring_drain(&c, collect, &s), 4);
    assert_true(osp__ring_push(&p, rec, sizeof rec)); /* space again */
    /* A record over half the ring never fits. */
    char *big = calloc(1, 3000);
    assert_false(osp__ring_push(&p, big, 3000));
    free(big);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

static void ring__wakes_a_sleeping_consumer(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    assert_true(osp__ring_prepare_sleep(&c)); /* empty: may sleep */
    assert_true(osp__ring_push(&p, "{}\n", 3));
    osp__ring_publish(&p);
    struct pollfd pfd = {.fd = c.event_fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    /* Awake consumers are not woken again. */
    uint64_t v;
    assert_int_equal(read(c.event_fd, &v, sizeof v), (ssize_t)sizeof v);
    osp__ring_push(&p, "{}\n", 3);
    osp__ring_publish(&p);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* Records present: prepare_sleep says "do not sleep". */
    assert_false(osp__ring_prepare_sleep(&c));
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, true);
}

static void ring__corruption_is_detected(void **state) {
    (void)state;
    osp_ring_t p, c;
    struct seen s = {0};
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    /* head far beyond tail */
    atomic_store(&p.hdr->head, 1u << 20);
    assert_int_equal(osp__ring_drain(&c, collect, &s), -1);
    /* a length that runs past head */
    atomic_store(&p.hdr->head, 0);
    atomic_store(&p.hdr->tail, 0);
    p.local_head = 0;
    osp__ring_push(&p, "{}\n", 3);
    osp__ring_publish(&p);
    uint32_t evil = 4000;
    memcpy(p.data, &evil, 4);
    assert_int_equal(osp__ring_drain(&c, collect, &s), -1);
    assert_int_equal(s.n, 0);
    osp__ring_destroy(&c, false);
    /* attach refuses a bad header */
    p.hdr->magic = 0;
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    p.hdr->magic = OSP_RING_MAGIC;
    p.hdr->size = 8192; /* does not match the mapping */
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    osp__ring_destroy(&p, false);
    /* not a memfd of the right size at all */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_not_equal(osp__ring_attach(&c, fds[0], fds[1]), 0);
    assert_int_not_equal(osp__ring_create(&p, 5000), 0); /* not a power of two */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring__roundtrip_with_wrap),
        cmocka_unit_test(ring__full_and_unpublished),
        cmocka_unit_test(ring__wakes_a_sleeping_consumer),
        cmocka_unit_test(ring__corruption_is_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
