/* SPDX-License-Identifier: Apache-2.0 */
/* unit.emit - the hop to a live sidecar stand-in (tests/support/receiver.c):
 * a 100k-point burst from 4 threads loses nothing; an absent or stalled
 * sidecar never blocks the caller and every drop is counted. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "receiver.h"

static char *sock;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void new_sock_path(void) {
    static int n;
    char name[32];
    snprintf(name, sizeof name, "sc-%d.sock", n++);
    free(sock);
    sock = test_path(name);
}

/* The receiver (if any) must listen before setup: the library connects at
 * setup and then retries at most every 200 ms. */
static void setup_sidecar(size_t thread_buffer) {
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_sidecar_socket(c, sock);
    osp_config_set_service(c, "svc");
    osp_config_set_host(c, "publisher-7");
    if (thread_buffer)
        osp_config_set_thread_buffer(c, thread_buffer);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
}

/* Enabled, this test's socket, a ring of ring_size bytes (0: socket only). */
static void setup_ring(size_t ring_size) {
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_sidecar_socket(c, sock);
    assert_int_equal(osp_config_set_ring_size(c, ring_size), OSP_OK);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
}

static int teardown(void **state) {
    (void)state;
    osp_clean();
    osp_teardown();
    return 0;
}

static uint64_t dropped(const osp_stats_t *s) {
    return s->dropped_no_sidecar + s->dropped_backpressure + s->dropped_oversize +
           s->dropped_io + s->dropped_nomem;
}

/* Flush until the thread buffer is empty (the sidecar may push back). */
static void drain(void) {
    for (int i = 0; i < 5000 && osp_flush() != OSP_OK; i++)
        usleep(1000);
}

#define BURST_THREADS 4
#define BURST_POINTS  25000 /* per thread: 100k in all */

static void *burst(void *arg) {
    (void)arg;
    osp_init("k", NULL, NULL);
    json_t *info = json_pack("{s{s:s,s:{}}}", "db", "statement", "SELECT 1", "params");
    for (int i = 0; i < BURST_POINTS / 2; i++) {
        osp_start("db", info);
        osp_stop(NULL);
    }
    json_decref(info);
    drain();
    osp_clean();
    return NULL;
}

static void emit__burst_from_four_threads_loses_nothing(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_sidecar(0);
    osp_stats_t before;
    osp_get_stats(&before);
    pthread_t t[BURST_THREADS];
    for (int i = 0; i < BURST_THREADS; i++)
        pthread_create(&t[i], NULL, burst, NULL);
    for (int i = 0; i < BURST_THREADS; i++)
        pthread_join(t[i], NULL);
    size_t total = BURST_THREADS * BURST_POINTS;
    bool all = rx_wait_count(rx, total, 20000);
    osp_stats_t st;
    osp_get_stats(&st);
    if (!all)
        fprintf(
            stderr, "received %zu of %zu; sent %llu buffered %llu dropped %llu/%llu\n",
            rx_count(rx), total, (unsigned long long)(st.sent - before.sent),
            (unsigned long long)st.buffered,
            (unsigned long long)(st.dropped_backpressure - before.dropped_backpressure),
            (unsigned long long)(st.dropped_no_sidecar - before.dropped_no_sidecar));
    assert_true(all);
    assert_int_equal(st.sent - before.sent, total);
    assert_int_equal(dropped(&st) - dropped(&before), 0);
    assert_int_equal(rx_count(rx), total);
    assert_int_equal(rx_bad_frames(rx), 0);
    /* The frame header names the configured publisher. */
    json_t *pubs = rx_publishers(rx);
    assert_string_equal(json_string_value(json_array_get(pubs, 0)), "publisher-7");
    json_decref(pubs);
    rx_stop(rx);
}

/* No sidecar: points wait in the thread buffer up to its cap, the rest is
 * dropped and counted; every point is in exactly one counter; nothing
 * blocks or makes a system call per point. When a sidecar appears, what
 * waited is delivered. */
static void emit__absent_sidecar_holds_then_drops(void **state) {
    (void)state;
    new_sock_path();
    setup_sidecar(1 << 20); /* nobody listens on the path */
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_init("k", NULL, NULL);
    double t0 = now_s();
    for (int i = 0; i < 10000; i++) {
        osp_start("x", NULL);
        osp_stop(NULL);
    }
    double took = now_s() - t0;
    osp_get_stats(&after);
    uint64_t held = after.buffered - before.buffered;
    uint64_t lost = after.dropped_no_sidecar - before.dropped_no_sidecar;
    assert_int_equal(after.emitted - before.emitted, 20000);
    assert_int_equal(after.sent - before.sent, 0);
    assert_true(held > 1000 && held < 20000); /* up to the cap */
    assert_int_equal(held + lost, 20000);
    assert_true(took < test_bound(2.0)); /* no blocking, no connect per point */
    /* A sidecar comes: the next point (after the reconnect interval) hands
     * over everything that waited, in order. */
    rx_t *rx = rx_start(sock, false);
    usleep(250000);
    osp_start("y", NULL);
    osp_stop(NULL);
    for (int i = 0; i < 200 && osp_flush() != OSP_OK; i++)
        usleep(10000);
    assert_true(rx_wait_count(rx, held + 2, 5000));
    osp_get_stats(&after);
    assert_int_equal(after.buffered, 0);
    assert_int_equal(after.emitted - before.emitted,
                     after.sent - before.sent + dropped(&after) - dropped(&before));
    rx_stop(rx);
}

static void *absent_thread(void *arg) {
    (void)arg;
    osp_init("k", NULL, NULL);
    for (int i = 0; i < 10000; i++) {
        osp_start("x", NULL);
        osp_stop(NULL);
    }
    osp_clean();
    return NULL; /* its points stay buffered, left to the process */
}

static uint64_t held_by_threads(int nthreads, size_t limit) {
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_sidecar_socket(c, sock); /* nobody listens */
    osp_config_set_thread_buffer(c, 1 << 20);
    assert_int_equal(osp_config_set_buffer_limit(c, limit), OSP_OK);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
    osp_stats_t before, after;
    osp_get_stats(&before);
    pthread_t t[4];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, absent_thread, NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    osp_get_stats(&after);
    uint64_t made = after.emitted - before.emitted;
    assert_int_equal(made, (uint64_t)nthreads * 20000);
    assert_int_equal(after.buffered + dropped(&after) - dropped(&before), made);
    uint64_t held = after.buffered;
    osp_teardown(); /* drops what waited, counted */
    return held;
}

/* buffer_limit bounds what all threads hold together: four threads waiting
 * on an absent sidecar hold what one thread's buffer holds, not four times. */
static void emit__process_buffer_limit(void **state) {
    (void)state;
    new_sock_path();
    uint64_t one = held_by_threads(1, 64 << 20); /* the thread cap binds */
    uint64_t four = held_by_threads(4, 1 << 20); /* the process cap binds */
    uint64_t four_unbound = held_by_threads(4, 64 << 20);
    assert_true(one > 1000);
    assert_true(four <= one && four > one * 9 / 10);
    assert_true(four_unbound > 3 * one);
}

static void emit__stalled_sidecar_never_blocks(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_sidecar(64 * 1024);
    rx_pause(rx, true);
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_init("k", NULL, NULL);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *info = json_pack("{s:s}", "pad", big);
    double t0 = now_s();
    const int pairs = 10000; /* ~45 MB offered: far beyond 8 MiB + 64 KiB */
    for (int i = 0; i < pairs; i++) {
        osp_start("x", info);
        osp_stop(NULL);
    }
    double took = now_s() - t0;
    json_decref(info);
    assert_true(took < test_bound(5.0));
    osp_get_stats(&after);
    uint64_t dropped_bp = after.dropped_backpressure - before.dropped_backpressure;
    assert_true(dropped_bp > 0);
    /* The sidecar comes back: everything not dropped is delivered. */
    rx_pause(rx, false);
    drain();
    osp_get_stats(&after);
    uint64_t sent = after.sent - before.sent;
    assert_int_equal(sent + dropped_bp, 2 * pairs);
    assert_true(rx_wait_count(rx, sent, 10000));
    assert_int_equal(rx_count(rx), sent);
    rx_stop(rx);
}

static void *stalled_thread(void *arg) {
    rx_t *rx = arg;
    osp_init("k", NULL, NULL);
    /* Its ring attached, then the sidecar stops reading. */
    osp_start("warm", NULL);
    osp_stop(NULL);
    for (int i = 0; i < 2000 && rx_rings_attached(rx) == 0; i++)
        usleep(1000);
    rx_wait_count(rx, 2, 5000);
    rx_pause(rx, true);
    for (int i = 0; i < 5000; i++) { /* beyond the 4 KiB ring: buffered */
        osp_start("x", NULL);
        osp_stop(NULL);
    }
    osp_clean(); /* -EAGAIN inside: the sidecar does not read */
    return NULL; /* exits with points still buffered */
}

/* A thread exits while the sidecar holds back: what it had buffered is left
 * to the process, still counted as buffered, and another thread's flush
 * hands it over once the sidecar reads again. */
static void emit__exited_thread_leaves_its_points(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_ring(4096); /* full at once: the buffer takes over */
    osp_stats_t before, after;
    osp_get_stats(&before);
    pthread_t t;
    pthread_create(&t, NULL, stalled_thread, rx);
    pthread_join(t, NULL);
    osp_get_stats(&after);
    uint64_t made = after.emitted - before.emitted;
    assert_int_equal(made, 10002);
    assert_true(rx_rings_attached(rx) == 1 && after.buffered > 0); /* left, not dropped */
    assert_int_equal(dropped(&after) - dropped(&before), 0);
    assert_int_equal(after.sent - before.sent + after.buffered, made);
    rx_pause(rx, false);
    drain(); /* this thread adopts them */
    osp_get_stats(&after);
    assert_int_equal(after.buffered, 0);
    assert_int_equal(after.sent - before.sent, made);
    assert_true(rx_wait_count(rx, made, 10000));
    rx_stop(rx);
}

/* A point larger than half the ring goes through the socket, in its turn
 * (after the points before it, before those after it). A reader of both
 * may see it before or after the ring's records of the same moment. */
static void emit__point_larger_than_the_ring(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, true);
    setup_ring(4096);
    osp_init("k", NULL, NULL);
    osp_start("warm", NULL);
    osp_stop(NULL);
    for (int i = 0; i < 2000 && rx_rings_attached(rx) == 0; i++)
        usleep(1000);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *info = json_pack("{s:s}", "pad", big);
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_start("big", info);
    osp_stop(NULL);
    json_decref(info);
    drain();
    osp_get_stats(&after);
    assert_int_equal(after.sent - before.sent, 2);
    assert_int_equal(dropped(&after) - dropped(&before), 0);
    assert_true(rx_wait_count(rx, 4, 5000));
    json_t *recs = rx_records(rx);
    static const char *const names[] = {"\"warm-start\"", "\"warm-stop\"",
                                        "\"big-start\"", "\"big-stop\""};
    assert_int_equal(json_array_size(recs), 4);
    for (size_t k = 0; k < 4; k++) {
        bool seen = false;
        for (size_t i = 0; i < 4; i++)
            seen |= strstr(json_string_value(json_array_get(recs, i)), names[k]) != NULL;
        assert_true(seen);
    }
    json_decref(recs);
    rx_stop(rx);
}

/* The socket path (rings off): points sent while no sidecar listens are
 * dropped and counted; after the restart points flow again. */
static void emit__reconnects_after_sidecar_restart(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_ring(0);
    osp_init("k", NULL, NULL);
    osp_start("a", NULL);
    osp_stop(NULL);
    assert_true(rx_wait_count(rx, 2, 5000));
    rx_stop(rx);
    usleep(50000);
    osp_start("lost", NULL); /* the old connection is gone: counted */
    osp_stop(NULL);
    rx = rx_start(sock, false);
    usleep(250000); /* past the reconnect interval */
    osp_start("b", NULL);
    osp_stop(NULL);
    assert_true(rx_wait_count(rx, 2, 5000));
    osp_stats_t st;
    osp_get_stats(&st);
    assert_true(st.dropped_no_sidecar >= 2);
    rx_stop(rx);
}

/* The library's log lines, for the reason of a drop. */
static char last_log[512];
static void keep_log(osp_log_level_t level, const char *msg, void *ud) {
    (void)level;
    (void)ud;
    snprintf(last_log, sizeof last_log, "%s", msg);
}

static json_t *padded(size_t n) {
    char *pad = malloc(n + 1);
    memset(pad, 'y', n);
    pad[n] = '\0';
    json_t *info = json_pack("{s:s}", "pad", pad);
    free(pad);
    return info;
}

/* A point larger than a frame (256 KiB) travels in a memfd, as the first
 * point of a thread (no ring yet) and beside a ring too small for it; up to
 * 8 MiB, beyond which it is dropped alone, counted, and the log says why. */
static void emit__large_points_travel_in_a_memfd(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, true);
    osp_set_log_cb(keep_log, NULL);
    setup_sidecar(0);
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_init("k", NULL, NULL);
    static const size_t sizes[] = {300 * 1024, 3 * 1024 * 1024, 8 * 1024 * 1024 - 4096};
    for (size_t i = 0; i < 3; i++) {
        json_t *info = padded(sizes[i]);
        assert_int_equal(osp_start("big", info), OSP_OK);
        osp_stop(NULL);
        json_decref(info);
        drain();
    }
    json_t *info = padded(9 * 1024 * 1024);
    osp_start("outer", NULL);
    osp_start("huge", info);
    osp_stop(NULL);
    osp_stop(NULL);
    json_decref(info);
    drain();
    assert_true(rx_wait_count(rx, 9, 10000));
    osp_get_stats(&after);
    assert_int_equal(after.dropped_oversize - before.dropped_oversize, 1);
    assert_int_equal(after.sent - before.sent, 9);
    assert_int_equal(after.emitted - before.emitted, 10);
    assert_non_null(strstr(last_log, "a point over 8 MiB"));
    assert_true(rx_ext_frames(rx) >= 2); /* 300 KiB may fit the ring, once attached */
    assert_int_equal(rx_bad_frames(rx), 0);
    json_t *recs = rx_records(rx);
    size_t big = 0;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        const char *r = json_string_value(json_array_get(recs, i));
        assert_null(strstr(r, "huge-start"));
        if (strstr(r, "\"big-start\"")) {
            json_t *pt = json_loads(r, 0, NULL);
            const char *pad =
                json_string_value(json_object_get(json_object_get(pt, "info"), "pad"));
            assert_int_equal(strlen(pad), sizes[big++]);
            json_decref(pt);
        }
    }
    assert_int_equal(big, 3);
    json_decref(recs);
    rx_stop(rx);
    osp_set_log_cb(NULL, NULL);
}

/* Large points in memfds escape the socket buffer's bound: while the
 * sidecar does not read, the library keeps them in its (bounded) thread
 * buffer instead of queueing memfds; they all go once it reads again. */
static void emit__memfds_wait_while_the_sidecar_lags(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_ring(0);
    osp_init("k", NULL, NULL);
    osp_start("warm", NULL); /* connected, and the receiver saw us */
    osp_stop(NULL);
    assert_true(rx_wait_count(rx, 2, 5000));
    rx_pause(rx, true);
    osp_stats_t before, during, after;
    osp_get_stats(&before);
    json_t *info = padded(1024 * 1024);
    for (int i = 0; i < 10; i++) {
        osp_start("big", info);
        osp_stop(NULL);
        usleep(2000); /* past the library's 1 ms pause after EAGAIN */
    }
    json_decref(info);
    osp_flush();
    osp_get_stats(&during);
    /* a few memfds may join the first frames unread; the rest waits */
    assert_true(during.sent - before.sent <= 12);
    assert_true(during.buffered >= 8);
    assert_int_equal(dropped(&during) - dropped(&before), 0);
    rx_pause(rx, false);
    drain();
    osp_get_stats(&after);
    assert_int_equal(after.sent - before.sent, 20);
    assert_int_equal(dropped(&after) - dropped(&before), 0);
    assert_true(rx_wait_count(rx, 22, 10000));
    assert_int_equal(rx_ext_frames(rx), 10);
    rx_stop(rx);
}

static json_t *nested(size_t depth) {
    json_t *info = json_object(), *inner = json_object();
    json_object_set_new(info, "n", inner);
    for (size_t d = depth; d > 1; d--) {
        json_t *next = json_object();
        json_object_set_new(inner, "a", next);
        inner = next;
    }
    return info;
}

static char *filled(size_t n, char c) {
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* What a record cannot carry is dropped when the point is made, counted
 * and logged with its reason: a name, base_id or parent_id over 65535
 * bytes, info nested over 999 levels (the payload over 1000, where Python's
 * own json.dumps fails). Just under each limit the point goes. */
static void emit__what_a_record_cannot_carry_is_counted(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, true);
    osp_set_log_cb(keep_log, NULL);
    setup_sidecar(0);
    osp_stats_t before, after;
    char *name_ok = filled(65535, 'n'), *name_long = filled(65536, 'n');
    char *id_ok = filled(65535, 'i'), *id_long = filled(65536, 'i');
    json_t *deep_ok = nested(998), *deep_over = nested(999);

    osp_get_stats(&before);
    osp_init("k", NULL, NULL);
    osp_start(name_long, NULL);
    osp_stop(NULL);
    osp_get_stats(&after);
    assert_int_equal(after.dropped_oversize - before.dropped_oversize, 2);
    assert_non_null(strstr(last_log, "its name is over 65535 bytes"));
    osp_start(name_ok, NULL);
    osp_stop(NULL);
    drain();
    osp_clean();
    setup_sidecar(0); /* drops are logged once per reason and setup (then every 10 s) */
    osp_init("k", NULL, NULL);
    osp_start("deep", deep_over);
    osp_stop(NULL);
    osp_get_stats(&after);
    assert_int_equal(after.dropped_oversize - before.dropped_oversize, 3);
    assert_non_null(strstr(last_log, "nested over 999 levels"));
    osp_start("deep", deep_ok);
    osp_stop(NULL);
    osp_clean();

    drain();
    setup_sidecar(0);
    osp_init("k", id_long, NULL); /* kept, as Python keeps it */
    assert_string_equal(osp_profiler_base_id(osp_get()), id_long);
    osp_start("a", NULL);
    osp_stop(NULL);
    osp_get_stats(&after);
    assert_int_equal(after.dropped_oversize - before.dropped_oversize, 5);
    assert_non_null(strstr(last_log, "base_id or parent_id is over 65535 bytes"));
    osp_context_t ctx;
    assert_int_equal(osp_context_capture(&ctx), OSP_ETOOBIG); /* not cut */
    osp_clean();
    osp_init("k", "b", id_ok);
    osp_start("b", NULL);
    osp_stop(NULL);
    osp_clean();
    drain();

    assert_true(rx_wait_count(rx, 7, 10000));
    osp_get_stats(&after);
    assert_int_equal(after.sent - before.sent, 7);
    assert_int_equal(after.emitted - before.emitted, 12);
    assert_int_equal(rx_bad_frames(rx), 0);
    json_t *recs = rx_records(rx);
    assert_int_equal(json_array_size(recs), 7);
    /* ring and socket may interleave: find each by name */
    size_t found = 0;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *pt = json_loads(json_string_value(json_array_get(recs, i)), 0, NULL);
        const char *name = json_string_value(json_object_get(pt, "name"));
        if (strlen(name) == 65535 + strlen("-start") &&
            strncmp(name, name_ok, 65535) == 0)
            found |= 1;
        if (strcmp(name, "deep-start") == 0)
            found |= 2;
        if (strcmp(name, "b-start") == 0) {
            assert_string_equal(json_string_value(json_object_get(pt, "parent_id")),
                                id_ok);
            found |= 4;
        }
        json_decref(pt);
    }
    assert_int_equal(found, 7);
    json_decref(recs);
    json_decref(deep_ok);
    json_decref(deep_over);
    free(name_ok);
    free(name_long);
    free(id_ok);
    free(id_long);
    rx_stop(rx);
    osp_set_log_cb(NULL, NULL);
}

static void emit__disabled_emits_nothing(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new(); /* enabled = false */
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_init("k", NULL, NULL);
    assert_int_equal(osp_start("x", NULL), OSP_OK); /* ids still work */
    assert_int_equal(osp_stop(NULL), OSP_OK);
    osp_get_stats(&after);
    assert_int_equal(after.emitted, before.emitted);
    assert_int_equal(osp_setup(NULL, NULL), OSP_EINVAL);
}

/* Points go through the shared ring once the sidecar attached it. */
static void emit__ring_carries_points(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, true);
    setup_sidecar(0);
    osp_init("k", "ring-base", NULL);
    osp_start("first", NULL); /* registers the ring; goes by socket */
    osp_stop(NULL);
    for (int i = 0; i < 2000 && rx_rings_attached(rx) == 0; i++)
        usleep(1000);
    assert_int_equal(rx_rings_attached(rx), 1);
    for (int i = 0; i < 500; i++) {
        osp_start("r", NULL);
        osp_stop(NULL);
    }
    assert_true(rx_wait_count(rx, 1002, 5000));
    assert_true(rx_ring_records(rx) >= 1000);
    osp_stats_t st;
    osp_get_stats(&st);
    assert_int_equal(rx_count(rx), 1002);
    /* Records from the ring are whole points. */
    json_t *recs = rx_records(rx);
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *p = json_loads(json_string_value(json_array_get(recs, i)), 0, NULL);
        assert_non_null(p);
        assert_string_equal(json_string_value(json_object_get(p, "base_id")),
                            "ring-base");
        json_decref(p);
    }
    json_decref(recs);
    rx_stop(rx);
}

/* A sidecar that does not take rings still gets every point by socket. */
static void emit__unattached_ring_falls_back(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start_opts(sock, false, false);
    setup_sidecar(0);
    osp_init("k", NULL, NULL);
    for (int i = 0; i < 1000; i++) {
        osp_start("x", NULL);
        osp_stop(NULL);
    }
    assert_true(rx_wait_count(rx, 2000, 5000));
    assert_int_equal(rx_ring_records(rx), 0);
    rx_stop(rx);
}

/* The sidecar restarts while the thread writes only to its ring: the ring
 * keeps what is written meanwhile, the library notices (liveness check),
 * reconnects and hands the same ring to the new sidecar: nothing is lost. */
static void emit__ring_survives_sidecar_restart(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    setup_sidecar(0);
    osp_init("k", NULL, NULL);
    osp_start("a", NULL);
    osp_stop(NULL);
    for (int i = 0; i < 2000 && rx_rings_attached(rx) == 0; i++)
        usleep(1000);
    assert_int_equal(rx_rings_attached(rx), 1);
    assert_true(rx_wait_count(rx, 2, 5000));
    rx_stop(rx);
    /* The sidecar is down: these go into the ring. */
    for (int i = 0; i < 50; i++) {
        osp_start("while-down", NULL);
        osp_stop(NULL);
    }
    rx = rx_start(sock, false);
    /* Keep tracing: within a few liveness periods the ring is handed over. */
    int pairs = 0;
    for (; pairs < 300 && rx_rings_attached(rx) == 0; pairs++) {
        osp_start("after", NULL);
        osp_stop(NULL);
        usleep(10000);
    }
    assert_int_equal(rx_rings_attached(rx), 1);
    /* Everything since the restart arrives, the 50 pairs from downtime too. */
    assert_true(rx_wait_count(rx, 2 * (50 + (size_t)pairs), 5000));
    osp_stats_t st;
    osp_get_stats(&st);
    assert_int_equal(st.lost_unread, 0);
    rx_stop(rx);
}

static void emit__ring_can_be_disabled(void **state) {
    (void)state;
    new_sock_path();
    rx_t *rx = rx_start(sock, false);
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_sidecar_socket(c, sock);
    assert_int_equal(osp_config_set_ring_size(c, 3000), OSP_EINVAL);
    assert_int_equal(osp_config_set_ring_size(c, 0), OSP_OK);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
    osp_init("k", NULL, NULL);
    for (int i = 0; i < 100; i++) {
        osp_start("x", NULL);
        osp_stop(NULL);
        usleep(100);
    }
    assert_true(rx_wait_count(rx, 200, 5000));
    assert_int_equal(rx_rings_attached(rx), 0);
    rx_stop(rx);
}

/* The library never writes to stdout/stderr, whatever goes wrong. */
static void emit__library_is_silent(void **state) {
    (void)state;
    char *out = test_path("stdio.txt");
    FILE *fp = fopen(out, "w");
    fflush(stdout);
    fflush(stderr);
    int saved1 = dup(1), saved2 = dup(2);
    dup2(fileno(fp), 1);
    dup2(fileno(fp), 2);
    /* absent sidecar, broken config, bad headers, stop without start */
    new_sock_path();
    setup_sidecar(0);
    osp_init("k", NULL, NULL);
    osp_stop(NULL);
    osp_start("x", NULL);
    osp_stop(NULL);
    osp_config_t *c = osp_config_new();
    osp_config_load_string(c, "[profiler]\nenabled = maybe\n", "x", NULL);
    osp_config_load_file(c, "/nonexistent", NULL);
    osp_config_set_connection_string(c, "file://relative");
    osp_config_set_enabled(c, true);
    osp_setup(c, NULL);
    osp_config_free(c);
    osp_web_request_t bad = {.x_trace_info = "%%", .x_trace_hmac = "zz"};
    osp_web_begin(&bad, NULL, 0);
    fflush(stdout);
    fflush(stderr);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    fclose(fp);
    size_t len = 1;
    char *text = test_read_file(out, &len);
    assert_int_equal(len, 0);
    free(text);
    free(out);
}

int main(void) {
#define T(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        T(emit__burst_from_four_threads_loses_nothing),
        T(emit__absent_sidecar_holds_then_drops),
        T(emit__process_buffer_limit),
        T(emit__stalled_sidecar_never_blocks),
        T(emit__exited_thread_leaves_its_points),
        T(emit__point_larger_than_the_ring),
        T(emit__reconnects_after_sidecar_restart),
        T(emit__large_points_travel_in_a_memfd),
        T(emit__what_a_record_cannot_carry_is_counted),
        T(emit__memfds_wait_while_the_sidecar_lags),
        T(emit__disabled_emits_nothing),
        T(emit__library_is_silent),
        T(emit__ring_carries_points),
        T(emit__unattached_ring_falls_back),
        T(emit__ring_survives_sidecar_restart),
        T(emit__ring_can_be_disabled),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(sock);
    return rc;
}
