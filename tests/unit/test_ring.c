/* SPDX-License-Identifier: Apache-2.0 */
/* unit.ring - the shared ring's producer and consumer: records visible the
 * moment they are written, budgets, refusals, wake-ups, and a producer that
 * corrupts the ring (the sidecar must detach, never crash or loop). */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/ring.h"

struct seen {
    size_t n;
    char last[512];
};

static bool collect(const char *rec, size_t len, void *ud) {
    struct seen *s = ud;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, rec);
    return true;
}

/* Says no while one record was seen. */
static bool refuse_second(const char *rec, size_t len, void *ud) {
    struct seen *s = ud;
    if (s->n == 1)
        return false;
    return collect(rec, len, ud);
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
        assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 2);
        assert_string_equal(s.last, rec);
    }
    assert_int_equal(s.n, 200);
    assert_int_equal(osp__ring_pending(&p), 0);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

static void ring__full_budget_and_refusal(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    char rec[1000];
    memset(rec, 'x', sizeof rec);
    size_t pushed = 0;
    while (osp__ring_push(&p, rec, sizeof rec))
        pushed++;
    assert_int_equal(pushed, 4); /* 4 x (8 + 1000) bytes fit in 4096 */
    assert_int_equal(osp__ring_pending(&p), 4);
    struct seen s = {0};
    /* Visible without any publish step; a budget of 2 records takes 2. */
    assert_true(osp__ring_ready(&c));
    assert_int_equal(osp__ring_drain(&c, 2 * 1008, collect, &s), 2);
    /* A consumer that says no leaves that record for the next call. */
    s.n = 1;
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, refuse_second, &s), 0);
    s.n = 0;
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 2);
    assert_false(osp__ring_ready(&c));
    assert_int_equal(osp__ring_pending(&p), 0);
    assert_true(osp__ring_push(&p, rec, sizeof rec)); /* space again */
    /* A record over half the ring never fits. */
    char *big = calloc(1, 3000);
    assert_false(osp__ring_push(&p, big, 3000));
    free(big);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

/* The sidecar restarted: a new consumer maps the same ring and goes on from
 * where the last one stopped, reading what was written meanwhile. */
static void ring__reattach_goes_on(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    struct seen s = {0};
    assert_true(osp__ring_push(&p, "one", 3));
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 1);
    osp__ring_destroy(&c, false);
    assert_true(osp__ring_push(&p, "two", 3)); /* nobody reading */
    attach_copy(&c, &p);
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 1);
    assert_string_equal(s.last, "two");
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
    struct pollfd pfd = {.fd = c.event_fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    /* Awake consumers are not woken again. */
    uint64_t v;
    assert_int_equal(read(c.event_fd, &v, sizeof v), (ssize_t)sizeof v);
    osp__ring_push(&p, "{}\n", 3);
    osp__ring_wake(&p);
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
    /* a committed length that runs past the area */
    uint64_t evil = (uint64_t)1 << 32 | 4000;
    memcpy(p.data, &evil, 8);
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), -1);
    assert_int_equal(s.n, 0);
    /* tags that claim every slot forever: one lap per call at most */
    for (uint64_t pos = 0; pos < 4096; pos += 16) {
        uint64_t w = (uint64_t)1 << 32 | 8;
        memcpy(p.data + pos, &w, 8);
    }
    osp__ring_destroy(&c, false);
    attach_copy(&c, &p);
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 256);
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 0); /* lap 2: tag 2 */
    osp__ring_destroy(&c, false);
    /* attach refuses a bad header */
    p.hdr->magic = 0;
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    p.hdr->magic = OSP_RING_MAGIC;
    p.hdr->version = 1; /* the JSON-record rings of 0.1 */
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    p.hdr->version = OSP_RING_VERSION;
    atomic_store(&p.hdr->tail, 3); /* a tail no record can start at */
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    atomic_store(&p.hdr->tail, 0);
    p.hdr->size = 8192; /* does not match the mapping */
    assert_int_not_equal(osp__ring_attach(&c, dup(p.mem_fd), dup(p.event_fd)), 0);
    osp__ring_destroy(&p, false);
    /* not a memfd of the right size at all */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_not_equal(osp__ring_attach(&c, fds[0], fds[1]), 0);
    assert_int_not_equal(osp__ring_create(&p, 5000), 0); /* not a power of two */
}

/* What a hostile producer hands over instead of a ring (issue 12): memory
 * it could shrink under the mapping (SIGBUS), a "wake-up" descriptor that
 * is a pipe, which a reader would block on. */
static void ring__attach_refuses_unsealed_and_non_eventfd(void **state) {
    (void)state;
    osp_ring_t p, c;
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    int unsealed = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(unsealed >= 0);
    assert_int_equal(ftruncate(unsealed, (off_t)p.map_len), 0);
    void *m = mmap(NULL, p.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, unsealed, 0);
    assert_true(m != MAP_FAILED);
    memcpy(m, p.hdr, OSP_RING_DATA_OFF); /* a valid header, no seal */
    munmap(m, p.map_len);
    assert_int_equal(osp__ring_attach(&c, unsealed, dup(p.event_fd)), OSP_RING_EUNSEALED);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(osp__ring_attach(&c, dup(p.mem_fd), fds[0]), OSP_RING_ENOTEVENT);
    close(fds[1]);
    assert_non_null(strstr(osp__ring_attach_error(OSP_RING_EUNSEALED), "F_SEAL_SHRINK"));
    /* The sealed ring cannot shrink; attached, it keeps one descriptor. */
    assert_int_not_equal(ftruncate(p.mem_fd, 0), 0);
    attach_copy(&c, &p);
    assert_int_equal(c.mem_fd, -1);
    assert_true(c.event_fd >= 0);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

/* Records over the consumer's max_record are passed over, never copied
 * (counted); the scratch a big record needed is let go after the drain;
 * one over size / 2 - 8, which the wire forbids, is corruption. */
static void ring__record_limits_and_scratch(void **state) {
    (void)state;
    osp_ring_t p, c;
    struct seen s = {0};
    assert_int_equal(osp__ring_create(&p, 1 << 20), 0);
    attach_copy(&c, &p);
    c.max_record = 200 * 1024;
    char *big = calloc(1, 300 * 1024);
    assert_true(osp__ring_push(&p, big, 300 * 1024)); /* over max_record */
    assert_true(osp__ring_push(&p, big, 100 * 1024)); /* under: taken */
    assert_true(osp__ring_push(&p, "ok", 2));
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), 2);
    assert_int_equal(c.oversize, 1);
    assert_string_equal(s.last, "ok");
    assert_true(c.scratch_cap <= OSP_RING_SCRATCH_KEEP);
    free(big);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
    assert_int_equal(osp__ring_create(&p, 4096), 0);
    attach_copy(&c, &p);
    uint64_t w = (uint64_t)1 << 32 | (4096 / 2 - 4); /* fits the area, not the wire */
    memcpy(p.data, &w, 8);
    assert_int_equal(osp__ring_drain(&c, (size_t)-1, collect, &s), -1);
    osp__ring_destroy(&c, false);
    osp__ring_destroy(&p, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring__roundtrip_with_wrap),
        cmocka_unit_test(ring__full_budget_and_refusal),
        cmocka_unit_test(ring__reattach_goes_on),
        cmocka_unit_test(ring__wakes_a_sleeping_consumer),
        cmocka_unit_test(ring__corruption_is_detected),
        cmocka_unit_test(ring__attach_refuses_unsealed_and_non_eventfd),
        cmocka_unit_test(ring__record_limits_and_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
