/* SPDX-License-Identifier: Apache-2.0 */
/* unit.flow - the sidecar's buffering policy (src/sidecar/flow.c) with a
 * real queue and spool: memory first, the spool beyond half of memory_limit
 * or while the sink is down, order kept across both, holding back when
 * neither may take more, unconfirmed messages first again, invalid points
 * dropped and counted, and what is left at exit kept for the next run. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ids.h"
#include "common/point.h"
#include "common/record.h"
#include "receiver.h" /* test_tmpdir */
#include "sidecar/flow.h"
#include "sidecar/log.h"

static uint8_t rec[512];
static size_t rec_len;

/* Point number i as a binary record (its trace_id carries i). */
static void make_record(unsigned i) {
    uint8_t trace[16] = {0};
    memcpy(trace, &i, sizeof i);
    trace[6] = 0x40;
    trace[8] = 0x80;
    osp_rec_t r = {.trace_id = trace,
                   .base_id = {.text = "b", .len = 1},
                   .parent_id = {.text = "p", .len = 1},
                   .project = "p",
                   .project_len = 1,
                   .service = "svc",
                   .service_len = 3,
                   .name = "n",
                   .name_len = 1,
                   .info =
                       "{\"pad\": \"................................................\"}",
                   .info_len = 59};
    rec_len = osp__rec_write(&r, rec);
}

static unsigned number_of(const osp_msg_t *m) {
    osp_point_view_t v;
    osp_error_t err;
    assert_int_equal(osp__point_scan(m->payload, m->len, &v, &err), OSP_OK);
    char hex[9] = {0};
    memcpy(hex, v.trace_id.raw, 8); /* first 4 bytes: i, little-endian */
    unsigned b[4];
    sscanf(hex, "%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3]);
    return b[0] | b[1] << 8 | b[2] << 16 | (unsigned)b[3] << 24;
}

/* What the intake does: entries into a chunk, the chunk to the flow. */
static size_t put(osp_flow_t *f, unsigned from, unsigned n) {
    osp_chunk_t *c = osp_chunk_new(0);
    size_t taken = 0;
    for (unsigned i = from; i < from + n; i++) {
        make_record(i);
        size_t room = osp_flow_room(f);
        if (osp_entry_size(1, rec_len) > room)
            break;
        if (!osp_chunk_add(c, OSP_ENTRY_RECORD, 0, "h", 1, (char *)rec, rec_len)) {
            osp_flow_put(f, &c);
            assert_true(
                osp_chunk_add(c, OSP_ENTRY_RECORD, 0, "h", 1, (char *)rec, rec_len));
        }
        taken++;
    }
    osp_flow_received(f, taken);
    osp_flow_put(f, &c);
    osp_chunk_free(c);
    return taken;
}

/* Pop everything, checking the numbers come in order from `first`. */
static unsigned pop_all(osp_flow_t *f, unsigned first) {
    unsigned next = first;
    osp_msg_t *m;
    while ((m = osp_flow_pop(f, 100, 0))) {
        while (m) {
            osp_msg_t *n = m->next;
            assert_int_equal(number_of(m), next);
            next++;
            osp_flow_delivered(f, m);
            m = n;
        }
    }
    return next - first;
}

static char *spool_dir(const char *name) {
    char *d = test_path(name);
    mkdir(d, 0700);
    return d;
}

static void flow__memory_then_spool_in_order(void **state) {
    (void)state;
    char *dir = spool_dir("order");
    osp_error_t err;
    osp_spool_t *sp = osp_spool_open(dir, 64 << 20, &err);
    assert_non_null(sp);
    osp_flow_t *f = osp_flow_new(256 << 10, sp, "the store");
    /* 10k points of ~100 bytes: memory until half of 256 KiB, then the spool */
    assert_int_equal(put(f, 0, 10000), 10000);
    osp_sc_buffers_t b;
    osp_flow_state(f, &b);
    assert_true(b.spool_points > 0);
    assert_true(b.memory_bytes <= 256 << 10);
    assert_int_equal(b.memory_points + b.spool_points, 10000);
    /* while the spool holds points, new ones go there too: order kept */
    assert_int_equal(put(f, 10000, 10), 10);
    assert_int_equal(pop_all(f, 0), 10010);
    osp_flow_state(f, &b);
    assert_int_equal(b.spool_points, 0);
    assert_int_equal(osp_flow_waiting(f), 0);
    osp_flow_free(f);
    osp_spool_close(sp);
    free(dir);
}

static void flow__sink_down_spools_and_unconfirmed_go_first(void **state) {
    (void)state;
    char *dir = spool_dir("down");
    osp_error_t err;
    osp_spool_t *sp = osp_spool_open(dir, 64 << 20, &err);
    osp_flow_t *f = osp_flow_new(8 << 20, sp, "the broker");
    osp_flow_sink(f, false);
    assert_int_equal(put(f, 0, 50), 50);
    osp_sc_buffers_t b;
    osp_flow_state(f, &b);
    assert_int_equal(b.spool_points, 50); /* down: straight to disk */
    osp_flow_sink(f, true);
    osp_msg_t *m = osp_flow_pop(f, 10, 0);
    assert_int_equal(number_of(m), 0);
    osp_flow_return(f, m); /* unconfirmed: back to the front */
    assert_int_equal(osp_flow_waiting(f), 50);
    assert_int_equal(pop_all(f, 0), 50);
    osp_flow_free(f);
    osp_spool_close(sp);
    free(dir);
}

static void flow__holds_back_when_full(void **state) {
    (void)state;
    /* no spool: memory_limit is all there is */
    osp_flow_t *f = osp_flow_new(256 << 10, NULL, "the store");
    size_t taken = put(f, 0, 100000);
    assert_true(taken < 100000);
    assert_int_equal(osp_flow_room(f), 0);
    osp_sc_buffers_t b;
    osp_flow_state(f, &b);
    assert_true(b.holding_back);
    assert_int_equal(b.hold_backs, 1);
    /* the consumer delivers: room again, and reading resumes */
    assert_int_equal(pop_all(f, 0), taken);
    assert_true(osp_flow_room(f) > 0);
    osp_flow_state(f, &b);
    assert_false(b.holding_back);
    osp_flow_free(f);
    /* a small spool while the sink is down: full, then hold back */
    char *dir = spool_dir("small");
    osp_error_t err;
    osp_spool_t *sp = osp_spool_open(dir, 256 << 10, &err);
    f = osp_flow_new(8 << 20, sp, "the broker");
    osp_flow_sink(f, false);
    taken = put(f, 0, 100000);
    assert_true(taken > 0 && taken < 100000);
    assert_int_equal(osp_flow_room(f), 0);
    assert_true(osp_spool_bytes(sp) <= 256 << 10);
    osp_flow_sink(f, true);
    assert_int_equal(pop_all(f, 0), taken);
    osp_flow_free(f);
    osp_spool_close(sp);
    free(dir);
}

static void flow__invalid_points_dropped_and_counted(void **state) {
    (void)state;
    osp_flow_t *f = osp_flow_new(8 << 20, NULL, "the store");
    osp_chunk_t *c = osp_chunk_new(0);
    make_record(0);
    rec[4] = 3; /* the info length lies */
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 0, "h", 1, (char *)rec, rec_len));
    make_record(1);
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 0, "h", 1, (char *)rec, rec_len));
    osp_flow_put(f, &c);
    uint64_t before = atomic_load(&osp_sc_stats.dropped_invalid);
    assert_int_equal(pop_all(f, 1), 1);
    assert_int_equal(atomic_load(&osp_sc_stats.dropped_invalid) - before, 1);
    osp_chunk_free(c);
    osp_flow_free(f);
}

/* At exit what memory holds (returned messages included) goes to the spool,
 * and the next run delivers it. */
static void flow__spill_at_exit_and_replay(void **state) {
    (void)state;
    char *dir = spool_dir("spill");
    osp_error_t err;
    osp_spool_t *sp = osp_spool_open(dir, 64 << 20, &err);
    osp_flow_t *f = osp_flow_new(8 << 20, sp, "the store");
    assert_int_equal(put(f, 0, 300), 300);
    osp_msg_t *m = osp_flow_pop(f, 20, 0);
    osp_flow_return(f, m);
    assert_int_equal(osp_flow_spill(f), 0);
    osp_flow_free(f);
    osp_spool_close(sp);
    sp = osp_spool_open(dir, 64 << 20, &err);
    assert_int_equal(osp_spool_pending(sp), 300);
    f = osp_flow_new(8 << 20, sp, "the store");
    assert_int_equal(pop_all(f, 0), 300);
    osp_flow_free(f);
    osp_spool_close(sp);
    /* delivered: no segment left */
    DIR *d = opendir(dir);
    struct dirent *e;
    int segs = 0;
    while ((e = readdir(d)))
        segs += strstr(e->d_name, ".seg") != NULL;
    closedir(d);
    assert_int_equal(segs, 0);
    /* nowhere to spill: counted as dropped at shutdown */
    f = osp_flow_new(8 << 20, NULL, "the store");
    assert_int_equal(put(f, 0, 10), 10);
    uint64_t before = atomic_load(&osp_sc_stats.dropped_shutdown);
    assert_int_equal(osp_flow_spill(f), 10);
    assert_int_equal(atomic_load(&osp_sc_stats.dropped_shutdown) - before, 10);
    osp_flow_free(f);
    free(dir);
}

/* One sidecar per spool directory; segments of another format stay. */
static void flow__spool_lock_and_foreign_segments(void **state) {
    (void)state;
    char *dir = spool_dir("lock");
    osp_error_t err;
    osp_spool_t *a = osp_spool_open(dir, 64 << 20, &err);
    assert_non_null(a);
    assert_null(osp_spool_open(dir, 64 << 20, &err));
    assert_non_null(strstr(err.text, "another osprofiler-sidecar"));
    osp_spool_close(a);
    char path[512];
    snprintf(path, sizeof path, "%s/0000000000000009.seg", dir);
    FILE *fp = fopen(path, "w");
    fputs("OSPS\x01\x00\x00\x00old", fp);
    fclose(fp);
    a = osp_spool_open(dir, 64 << 20, &err);
    assert_non_null(a);
    assert_int_equal(osp_spool_pending(a), 0);
    osp_spool_close(a);
    struct stat st;
    assert_int_equal(stat(path, &st), 0); /* left in place */
    unlink(path);
    free(dir);
}

int main(void) {
    osp_log_level = -1; /* quiet */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flow__memory_then_spool_in_order),
        cmocka_unit_test(flow__sink_down_spools_and_unconfirmed_go_first),
        cmocka_unit_test(flow__holds_back_when_full),
        cmocka_unit_test(flow__invalid_points_dropped_and_counted),
        cmocka_unit_test(flow__spill_at_exit_and_replay),
        cmocka_unit_test(flow__spool_lock_and_foreign_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
