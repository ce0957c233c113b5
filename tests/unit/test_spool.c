/* SPDX-License-Identifier: Apache-2.0 */
/* unit.spool - the disk spool (src/sidecar/spool.c, spool_format.c) against
 * the damage issue 12 found: a large record and what follows it replayed
 * (item 7); one flipped byte costs one record, counted and logged once
 * (item 8); replayed entries checked as the intake checks them, the
 * directory ours (item 9); FIFOs, symlinks, foreign files and odd names
 * neither block, nor get replayed, nor stop spooling, and ids never wrap
 * (item 10); segments of the previous format still replayed; and a
 * property test of random damage and planted files. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hop.h"
#include "common/point.h"
#include "common/record.h"
#include "receiver.h" /* test_path */
#include "sidecar/log.h"
#include "sidecar/spool.h"
#include "sidecar/spool_format.h"

#define NOBODY 65534

static uint8_t *rec;
static size_t rec_len;

/* Point number i as a binary record whose info is padded by pad bytes. */
static void make_record(unsigned i, size_t pad) {
    static char *info;
    static size_t info_cap;
    if (info_cap < pad + 64) {
        free(info);
        free(rec);
        info_cap = pad + 64;
        info = malloc(info_cap);
        rec = malloc(info_cap + 256);
    }
    size_t n = (size_t)snprintf(info, info_cap, "{\"pad\": \"");
    memset(info + n, '.', pad);
    n += pad;
    n += (size_t)snprintf(info + n, info_cap - n, "\"}");
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
                   .info = info,
                   .info_len = n};
    rec_len = osp__rec_write(&r, rec);
}

/* The number a message's trace_id carries (make_record). */
static unsigned number_of(const osp_msg_t *m) {
    osp_point_view_t v;
    osp_error_t err;
    assert_int_equal(osp__point_scan(m->payload, m->len, &v, &err), OSP_OK);
    if (v.trace_id.raw[0] == 't') /* the JSON points of the version 2 fixture */
        return 1000 + (unsigned)atoi(v.trace_id.raw + 1);
    unsigned b[4];
    assert_int_equal(sscanf(v.trace_id.raw, "%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3]),
                     4);
    return b[0] | b[1] << 8 | b[2] << 16 | (unsigned)b[3] << 24;
}

static char *fresh_dir(const char *name) {
    char *d = test_path(name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(d, 0700), 0);
    return d;
}

/* Points from..from+n-1, `per` to a chunk (one append each). */
static void append(osp_spool_t *s, unsigned from, unsigned n, unsigned per, size_t pad) {
    for (unsigned i = from; i < from + n;) {
        osp_chunk_t *c = NULL;
        for (unsigned k = 0; k < per && i < from + n; k++, i++) {
            make_record(i, pad);
            if (!c)
                c = osp_chunk_new(per * osp_entry_size(1, rec_len));
            assert_true(
                osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "h", 1, (char *)rec, rec_len));
        }
        assert_int_equal(osp_spool_append(s, c), OSP_OK);
        osp_chunk_free(c);
    }
}

typedef struct replayed {
    unsigned *num;
    size_t n, cap;
    uint64_t lost, invalid;
} replayed_t;

/* Read everything back as the consumer does: entries into messages,
 * delivered ones reported done. */
static void drain(osp_spool_t *s, replayed_t *r) {
    osp_buf_t scratch = OSP_BUF_INIT;
    osp_chunk_t *c;
    uint64_t lost;
    while ((c = osp_spool_read(s, &lost)) || lost) {
        r->lost += lost;
        if (!c)
            continue;
        osp_entry_t e;
        uint64_t n = 0;
        while (osp_chunk_next(c, &e)) {
            n++;
            osp_error_t err;
            osp_msg_t *m = osp_msg_from_entry(&e, &scratch, &err);
            if (!m) {
                r->invalid++;
                continue;
            }
            if (r->n == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 64;
                r->num = realloc(r->num, r->cap * sizeof *r->num);
            }
            r->num[r->n++] = number_of(m);
            osp_msg_free(m);
        }
        osp_spool_done(s, c->spool_seg, n);
        osp_chunk_free(c);
    }
    osp__buf_free(&scratch);
}

static replayed_t replay_dir(const char *dir, uint64_t *pending) {
    replayed_t r = {0};
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 1ull << 30, &err);
    assert_non_null(s);
    if (pending)
        *pending = osp_spool_pending(s);
    drain(s, &r);
    assert_int_equal(osp_spool_pending(s), 0);
    osp_spool_close(s);
    return r;
}

static char *read_all(const char *path, size_t *len) {
    char *b = test_read_file(path, len);
    assert_non_null(b);
    return b;
}

static void write_all(const char *path, const void *p, size_t n) {
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static char *seg_path(const char *dir, uint64_t id) {
    char *p = malloc(600);
    snprintf(p, 600, "%s/%016llu.seg", dir, (unsigned long long)id);
    return p;
}

/* Lines the spool logged while f ran, into a file read back. */
static int log_fd = -1, saved_stderr = -1;
static void capture_log(const char *path) {
    fflush(stderr);
    saved_stderr = dup(2);
    log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(log_fd, 2);
    osp_log_level = OSP_LL_NOTICE;
}
static char *end_capture(const char *path) {
    osp_log_level = -1;
    dup2(saved_stderr, 2);
    close(saved_stderr);
    close(log_fd);
    size_t n;
    return read_all(path, &n);
}
static int count_of(const char *text, const char *what) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* ---------------------------------------------------------------- item 7 */

/* A record of several MiB (a large ring's) and the largest the intake
 * takes are replayed with every record after them; one over the spool's
 * limit is refused by the writer (the caller keeps it), never written. */
static void spool__large_records_replayed_with_the_rest(void **state) {
    (void)state;
    char *dir = fresh_dir("large");
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 256u << 20, &err);
    assert_non_null(s);
    make_record(0, 0);
    size_t overhead = rec_len;
    for (unsigned i = 0; i < 16; i++) {
        size_t pad = i == 5    ? 3u << 20
                     : i == 9  ? OSP_HOP_MAX_POINT - overhead /* exactly 8 MiB */
                     : i == 12 ? 2u << 20
                               : 40;
        append(s, i, 1, 1, pad);
        if (i == 9)
            assert_int_equal(rec_len, OSP_HOP_MAX_POINT);
    }
    /* at exit a converted message is spooled as JSON, up to 16 MiB */
    size_t big = 12u << 20;
    char *js = malloc(big);
    int n =
        snprintf(js, big,
                 "{\"name\": \"n-start\", \"base_id\": \"b\", \"trace_id\": "
                 "\"10000000-0000-4000-8000-000000000000\", \"parent_id\": \"p\", "
                 "\"timestamp\": \"2026-11-28T02:08:16.108353\", \"info\": {\"pad\": \"");
    memset(js + n, '.', big - (size_t)n - 3);
    memcpy(js + big - 3, "\"}}", 3);
    osp_chunk_t *c = osp_chunk_new(big + 64);
    assert_true(osp_chunk_add(c, OSP_ENTRY_JSON, 1, "h", 1, js, big));
    assert_int_equal(osp_spool_append(s, c), OSP_OK);
    osp_chunk_free(c);
    append(s, 17, 3, 3, 40); /* and more after it */
    /* beyond the shared limit: refused whole, nothing written */
    uint64_t bytes = osp_spool_bytes(s);
    size_t over = OSP_SPOOL_RECORD_MAX - OSP_ENTRY_HEADER - 1 + 1;
    c = osp_chunk_new(over + 64);
    js = realloc(js, over);
    memset(js, ' ', over);
    assert_true(osp_chunk_add(c, OSP_ENTRY_JSON, 1, "h", 1, js, over));
    assert_int_equal(osp_spool_append(s, c), OSP_ETOOBIG);
    assert_int_equal(osp_spool_bytes(s), bytes);
    osp_chunk_free(c);
    free(js);
    assert_int_equal(osp_spool_pending(s), 20);
    osp_spool_close(s);

    uint64_t pending;
    replayed_t r = replay_dir(dir, &pending);
    assert_int_equal(pending, 20);
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.invalid, 0);
    assert_int_equal(r.n, 20);
    unsigned want[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,
                       10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(r.num[i], want[i]);
    free(r.num);
    free(dir);
}

/* ---------------------------------------------------------------- item 8 */

#define NPTS 30
#define HIT  13

/* Every byte of one record's header, and bytes of its entry, flipped in
 * turn: that record alone is lost, counted as 1, logged once; the 29 before
 * and after are replayed, after a restart and within the same run. */
static void spool__one_flipped_byte_costs_one_record(void **state) {
    (void)state;
    char *dir = fresh_dir("flip");
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 64u << 20, &err);
    assert_non_null(s);
    append(s, 0, NPTS, 6, 100);
    osp_spool_close(s);
    char *path = seg_path(dir, 1);
    size_t len;
    char *orig = read_all(path, &len);
    size_t rlen = OSP_SPOOL_REC_HDR_LEN + OSP_ENTRY_HEADER + 1 + rec_len;
    assert_int_equal(len, OSP_SPOOL_HDR_LEN + NPTS * rlen);
    size_t at0 = OSP_SPOOL_HDR_LEN + HIT * rlen;
    size_t offs[64], n = 0;
    for (size_t i = 0; i < OSP_SPOOL_REC_HDR_LEN; i++)
        offs[n++] = at0 + i; /* magic, length, number, both sums */
    size_t in_entry[] = {0, 4, 5, 8, 16, 17, 40, rlen - OSP_SPOOL_REC_HDR_LEN - 1};
    for (size_t i = 0; i < sizeof in_entry / sizeof *in_entry; i++)
        offs[n++] = at0 + OSP_SPOOL_REC_HDR_LEN + in_entry[i];
    char *logp = test_path("flip.log");
    for (size_t k = 0; k < n; k++) {
        for (int same_run = 0; same_run < 2; same_run++) {
            char *b = malloc(len);
            memcpy(b, orig, len);
            b[offs[k]] ^= 0x20;
            replayed_t r = {0};
            capture_log(logp);
            if (same_run) { /* damaged under a running spool */
                unlink(path);
                s = osp_spool_open(dir, 64u << 20, &err);
                append(s, 0, NPTS, 6, 100);
                size_t l2;
                char *b2 = read_all(path, &l2);
                assert_int_equal(l2, len);
                b2[offs[k]] ^= 0x20;
                write_all(path, b2, len);
                free(b2);
                drain(s, &r);
                osp_spool_close(s);
            } else {
                write_all(path, b, len);
                uint64_t pending;
                r = replay_dir(dir, &pending);
                assert_int_equal(pending, NPTS);
            }
            char *log = end_capture(logp);
            if (r.n != NPTS - 1 || r.lost != 1)
                fail_msg("byte %zu (record offset %zu), %s: %zu replayed, %llu lost",
                         offs[k], offs[k] - at0, same_run ? "same run" : "restart", r.n,
                         (unsigned long long)r.lost);
            for (unsigned i = 0, j = 0; i < NPTS; i++)
                if (i != HIT)
                    assert_int_equal(r.num[j++], i);
            assert_int_equal(count_of(log, "damaged point(s) skipped"), 1);
            free(log);
            free(r.num);
            free(b);
        }
    }
    /* the segment header: one damaged byte anywhere in it costs nothing */
    for (size_t i = 0; i < OSP_SPOOL_HDR_LEN; i++) {
        char *b = malloc(len);
        memcpy(b, orig, len);
        b[i] ^= 0x01;
        write_all(path, b, len);
        replayed_t r = replay_dir(dir, NULL);
        if (r.n != NPTS || r.lost)
            fail_msg("segment header byte %zu: %zu replayed", i, r.n);
        free(r.num);
        free(b);
    }
    /* torn: the last record cut anywhere */
    for (size_t cut = len - rlen + 1; cut < len; cut += 7) {
        write_all(path, orig, cut);
        replayed_t r = replay_dir(dir, NULL);
        assert_int_equal(r.n, NPTS - 1);
        assert_int_equal(r.lost, 1);
        free(r.num);
    }
    free(orig);
    free(path);
    free(logp);
    free(dir);
}

/* ---------------------------------------------------------------- upgrade */

/* A segment written by the previous format (spool.c at c8c99ca, made by
 * spool_v2/gen_v2.c.txt): 16 points in blocks of one and two entries,
 * binary records and JSON texts. */
static void spool__previous_format_replayed(void **state) {
    (void)state;
    char *dir = fresh_dir("v2");
    size_t len;
    char *v2 = read_all(OSP_SPOOL_FIXTURES "/0000000000000001.seg", &len);
    char *path = seg_path(dir, 1);
    write_all(path, v2, len);
    uint64_t pending;
    replayed_t r = replay_dir(dir, &pending);
    assert_int_equal(pending, 16);
    assert_int_equal(r.n, 16);
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.invalid, 0);
    assert_int_equal(access(path, F_OK), -1); /* delivered: deleted */
    free(r.num);
    /* a damaged block is skipped, the blocks after it are replayed */
    v2[8 + 8 + 40] ^= 0x10; /* in the first block's entries */
    write_all(path, v2, len);
    r = replay_dir(dir, NULL);
    assert_int_equal(r.lost, 2); /* its two points, counted */
    assert_int_equal(r.n, 14);
    free(r.num);
    /* and a new segment after the old one gets the next name */
    write_all(path, v2, len);
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 64u << 20, &err);
    append(s, 100, 2, 2, 10);
    char *p2 = seg_path(dir, 2);
    assert_int_equal(access(p2, F_OK), 0);
    osp_spool_close(s);
    free(p2);
    free(v2);
    free(path);
    free(dir);
}

/* ---------------------------------------------------------------- item 9 */

/* Entries read back are checked as the intake checks fresh ones. */
static void spool__replayed_entries_checked_as_the_intake_does(void **state) {
    (void)state;
    char *dir = fresh_dir("check");
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 64u << 20, &err);
    osp_chunk_t *c = osp_chunk_new(0);
    make_record(1, 10);
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "h", 1, (char *)rec, rec_len));
    /* a record whose framing the intake refuses */
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "h", 1, (char *)rec, rec_len - 1));
    /* a publisher_id the intake cannot have kept (a NUL in it) */
    assert_true(
        osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "nova\0x", 6, (char *)rec, rec_len));
    /* JSON that is no trace point */
    assert_true(osp_chunk_add(c, OSP_ENTRY_JSON, 1, "h", 1, "{\"event_type\": 1}", 17));
    make_record(2, 10);
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "h", 1, (char *)rec, rec_len));
    assert_int_equal(osp_spool_append(s, c), OSP_OK);
    osp_chunk_free(c);
    osp_spool_close(s);
    replayed_t r = replay_dir(dir, NULL);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.num[0], 1);
    assert_int_equal(r.num[1], 2);
    assert_int_equal(r.invalid, 3);
    free(r.num);
    /* a record over the intake's 8 MiB, spooled: refused on replay too */
    osp_entry_t e = {.kind = OSP_ENTRY_RECORD, .publisher = "h", .publisher_len = 1};
    make_record(3, OSP_HOP_MAX_POINT);
    e.body = (char *)rec;
    e.body_len = rec_len;
    assert_int_equal(osp_entry_check(&e, &err), OSP_EFRAME);
    assert_non_null(strstr(err.text, "8 MiB"));
    free(dir);
}

/* The directory must be ours and not writable by group or others. */
static void spool__directory_must_be_ours(void **state) {
    (void)state;
    char *dir = fresh_dir("owner");
    osp_error_t err;
    assert_int_equal(chmod(dir, 0770), 0);
    assert_null(osp_spool_open(dir, 64u << 20, &err));
    assert_non_null(strstr(err.text, "group or world writable"));
    assert_int_equal(chmod(dir, 0755), 0);
    if (geteuid() == 0) { /* someone else's 0755 directory */
        assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
        assert_null(osp_spool_open(dir, 64u << 20, &err));
        assert_non_null(strstr(err.text, "owned by uid 65534"));
        assert_int_equal(chown(dir, 0, 0), 0);
    }
    char *link = test_path("owner-link");
    unlink(link);
    assert_int_equal(symlink(dir, link), 0);
    assert_null(osp_spool_open(link, 64u << 20, &err));
    assert_non_null(strstr(err.text, "not a directory"));
    osp_spool_t *s = osp_spool_open(dir, 64u << 20, &err);
    assert_non_null(s);
    osp_spool_close(s);
    /* its lock must be a regular file of ours too (a FIFO would not lock) */
    char lock[600];
    snprintf(lock, sizeof lock, "%s/lock", dir);
    unlink(lock);
    assert_int_equal(mkfifo(lock, 0600), 0);
    assert_null(osp_spool_open(dir, 64u << 20, &err));
    assert_non_null(
        strstr(err.text, "lock: cannot lock the spool directory: not a regular"));
    unlink(lock);
    unlink(link);
    free(link);
    free(dir);
}

/* --------------------------------------------------------------- item 10 */

static void plant_fifo(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(mkfifo(p, 0600), 0);
}

static void plant_file(const char *dir, const char *name, const void *b, size_t n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_all(p, b, n);
}

static bool exists(const char *dir, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return lstat(p, &st) == 0;
}

/* At start-up: a FIFO does not block, a symlink is not followed, a file of
 * another user and odd names are not read; all are left in place and
 * logged; the id after the largest canonical name is used, never a wrap. */
static void spool__planted_files_at_start(void **state) {
    (void)state;
    char *dir = fresh_dir("planted");
    char *other = fresh_dir("planted-other");
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(other, 64u << 20, &err);
    append(s, 500, 4, 4, 10); /* a valid segment to plant copies of */
    osp_spool_close(s);
    size_t vlen;
    char *vpath = seg_path(other, 1);
    char *valid = read_all(vpath, &vlen);
    s = osp_spool_open(dir, 64u << 20, &err);
    append(s, 0, 10, 5, 10);
    osp_spool_close(s);
    plant_fifo(dir, "0000000000000002.seg");
    char p[600];
    snprintf(p, sizeof p, "%s/0000000000000003.seg", dir);
    assert_int_equal(symlink(vpath, p), 0);
    plant_file(dir, "0000000000000004.seg", valid, vlen);
    if (geteuid() == 0) {
        snprintf(p, sizeof p, "%s/0000000000000004.seg", dir);
        assert_int_equal(chown(p, NOBODY, NOBODY), 0);
    }
    plant_file(dir, "18446744073709551615.seg", valid, vlen);
    plant_file(dir, "1.seg", valid, vlen);
    plant_file(dir, "00000000000000005.seg", valid, vlen);
    plant_file(dir, "000000000000000a.seg", valid, vlen);
    plant_file(dir, "0000000000000000.seg", valid, vlen);
    plant_file(dir, "0000000000000006.seg", "random bytes, no segment", 24);
    char *logp = test_path("planted.log");
    capture_log(logp);
    alarm(30); /* a FIFO that blocked would end the test here */
    s = osp_spool_open(dir, 64u << 20, &err);
    alarm(0);
    assert_non_null(s);
    uint64_t pending = osp_spool_pending(s);
    replayed_t r = {0};
    drain(s, &r);
    append(s, 20, 1, 1, 10); /* the next name: after 6, not 0 */
    osp_spool_close(s);
    char *log = end_capture(logp);
    assert_int_equal(pending, geteuid() == 0 ? 10 : 14);
    assert_int_equal(r.n, geteuid() == 0 ? 10 : 14);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(r.num[i], i);
    assert_true(exists(dir, "0000000000000007.seg"));
    const char *left[] = {"0000000000000002.seg",     "0000000000000003.seg",
                          "18446744073709551615.seg", "1.seg",
                          "00000000000000005.seg",    "000000000000000a.seg",
                          "0000000000000000.seg",     "0000000000000006.seg"};
    for (size_t i = 0; i < sizeof left / sizeof *left; i++)
        if (!exists(dir, left[i]))
            fail_msg("%s was not left in place", left[i]);
    assert_non_null(strstr(log, "0000000000000002.seg: not a regular file"));
    assert_non_null(strstr(log, "0000000000000003.seg: not a regular file"));
    if (geteuid() == 0)
        assert_non_null(strstr(log, "0000000000000004.seg: not owned by"));
    assert_non_null(strstr(log, "18446744073709551615.seg: not a segment name"));
    assert_non_null(strstr(log, "0000000000000006.seg: not a spool segment"));
    free(log);
    free(r.num);
    /* a restart replays the new point once, none of the planted ones */
    r = replay_dir(dir, &pending);
    assert_int_equal(pending, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.num[0], 20);
    free(r.num);
    free(valid);
    free(vpath);
    free(logp);
    free(other);
    free(dir);
}

/* While running: files at the next names are skipped (O_EXCL), spooling
 * goes on; more of them than one append skips only delays it. */
static void spool__planted_next_names_do_not_stop_spooling(void **state) {
    (void)state;
    char *dir = fresh_dir("next");
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 64u << 20, &err);
    append(s, 0, 3, 3, 10);
    replayed_t r = {0};
    drain(s, &r); /* delivered: segment 1 deleted, the next append opens 2 */
    assert_int_equal(r.n, 3);
    char name[32];
    for (unsigned id = 2; id < 2 + 70; id++) { /* files, a FIFO, a symlink */
        snprintf(name, sizeof name, "%016u.seg", id);
        if (id == 3)
            plant_fifo(dir, name);
        else if (id == 4) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, name);
            assert_int_equal(symlink("/etc/passwd", p), 0);
        } else
            plant_file(dir, name, "x", 1);
    }
    osp_chunk_t *c = osp_chunk_new(0);
    make_record(10, 10);
    assert_true(osp_chunk_add(c, OSP_ENTRY_RECORD, 1, "h", 1, (char *)rec, rec_len));
    int rc = osp_spool_append(s, c); /* 64 names skipped in one go at most */
    assert_int_equal(rc, -EEXIST);
    assert_true(osp_spool_failing(s));
    assert_int_equal(osp_spool_append(s, c), OSP_OK); /* then it goes on */
    assert_false(osp_spool_failing(s));
    osp_chunk_free(c);
    assert_true(exists(dir, "0000000000000072.seg"));
    free(r.num);
    r = (replayed_t){0};
    drain(s, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.num[0], 10);
    osp_spool_close(s);
    struct stat st;
    char p[600];
    snprintf(p, sizeof p, "%s/0000000000000004.seg", dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(r.num);
    free(dir);
}

/* ---------------------------------------------------------------- property */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64*: reproducible */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Random points in random chunks over several segments, then random damage
 * (flipped bytes, a cut tail) and planted files (random bytes at canonical
 * and odd names, FIFOs, symlinks): every intact record is replayed exactly
 * once and in order, nothing else is, and the damaged ones are counted:
 * exactly where intact records follow them, as one after the last. */
static void spool__random_damage_property(void **state) {
    (void)state;
    char *dir = test_path("prop");
    /* OSP_SPOOL_PROP_SEED / _ITERS: longer runs by hand (failures name the
     * iteration; the seed makes them reproducible) */
    const char *seed = getenv("OSP_SPOOL_PROP_SEED"),
               *iters = getenv("OSP_SPOOL_PROP_ITERS");
    if (seed)
        rng_state = strtoull(seed, NULL, 0) | 1;
    int n_iter = iters ? atoi(iters) : 150;
    for (int iter = 0; iter < n_iter; iter++) {
        free(dir);
        dir = fresh_dir("prop");
        osp_error_t err;
        osp_spool_t *s = osp_spool_open(dir, 512u << 10, &err); /* 128 KiB segments */
        unsigned npts = 20 + (unsigned)below(80);
        for (unsigned i = 0; i < npts;) {
            unsigned per = 1 + (unsigned)below(8);
            if (per > npts - i)
                per = npts - i;
            append(s, i, per, per, below(4) ? below(300) : below(3000));
            i += per;
        }
        osp_spool_close(s);
        /* each segment: its records' places, then damage */
        bool damaged[100] = {0}, gone[100] = {0};
        uint64_t want_min = 0, want_max = 0;
        unsigned next = 0;
        for (uint64_t id = 1;; id++) {
            char *path = seg_path(dir, id);
            size_t len;
            char *b = test_read_file(path, &len);
            if (!b) {
                free(path);
                break;
            }
            size_t starts[100], ends[100], nrec = 0;
            unsigned first = next;
            for (size_t at = OSP_SPOOL_HDR_LEN; at < len; nrec++, next++) {
                uint32_t l;
                memcpy(&l, b + at + 4, 4);
                starts[nrec] = at;
                ends[nrec] = at + OSP_SPOOL_REC_HDR_LEN + l;
                at = ends[nrec];
            }
            int how = (int)below(4); /* 0 none, 1 flips, 2 cut, 3 both */
            if (how & 1)
                for (int k = 0, flips = 1 + (int)below(3); k < flips; k++) {
                    size_t at = OSP_SPOOL_HDR_LEN + below(len - OSP_SPOOL_HDR_LEN);
                    b[at] ^= (char)(1 + below(255));
                    for (size_t j = 0; j < nrec; j++)
                        if (at >= starts[j] && at < ends[j])
                            damaged[first + j] = true;
                }
            if (how & 2) { /* records wholly past the cut are gone unseen (as
                              unsynced writes after a machine crash) */
                size_t cut = OSP_SPOOL_HDR_LEN + below(len - OSP_SPOOL_HDR_LEN);
                for (size_t j = 0; j < nrec; j++)
                    if (starts[j] >= cut)
                        gone[first + j] = true;
                    else if (ends[j] > cut)
                        damaged[first + j] = true;
                len = cut;
            }
            write_all(path, b, len);
            /* expected count: exact up to the last intact record, then 1 */
            size_t last = nrec;
            for (size_t j = nrec; j-- > 0;)
                if (!damaged[first + j] && !gone[first + j]) {
                    last = j;
                    break;
                }
            uint64_t before = 0, after = 0;
            for (size_t j = 0; j < nrec; j++)
                if (damaged[first + j] && !gone[first + j])
                    *(last != nrec && j < last ? &before : &after) += 1;
            want_min += before + (after ? 1 : 0);
            want_max += before + after;
            free(b);
            free(path);
        }
        unsigned maxid = 50; /* above the real ones */
        /* planted: none of them may be replayed, block or count */
        char name[64];
        for (int k = 0, np = (int)below(5); k < np; k++) {
            unsigned id = maxid + (unsigned)below(20);
            snprintf(name, sizeof name, "%016u.seg", id);
            if (exists(dir, name))
                continue;
            int kind = (int)below(4);
            char junk[300];
            for (size_t j = 0; j < sizeof junk; j++)
                junk[j] = (char)rnd();
            size_t jlen = below(sizeof junk);
            if (below(2)) { /* looks like ours, but no record fits its salt: */
                memcpy(junk, "OSPS\x03\0\0\0", 8);
                if (jlen > OSP_SPOOL_HDR_LEN) /* a segment damaged past reading */
                    want_max++;
            }
            if (kind == 0)
                plant_fifo(dir, name);
            else if (kind == 1) {
                char p[600];
                snprintf(p, sizeof p, "%s/%s", dir, name);
                assert_int_equal(symlink("/dev/zero", p), 0);
            } else if (kind == 2)
                plant_file(dir, name, junk, jlen);
            else
                plant_file(dir, below(2) ? "99999999999999999.seg" : "12.seg", junk, 40);
        }
        replayed_t r = replay_dir(dir, NULL);
        size_t j = 0;
        for (unsigned i = 0; i < npts; i++) {
            if (damaged[i] || gone[i])
                continue;
            if (j >= r.n || r.num[j] != i)
                fail_msg("iteration %d: intact point %u not replayed in its place", iter,
                         i);
            j++;
        }
        if (j != r.n)
            fail_msg("iteration %d: %zu replayed, %zu intact", iter, r.n, j);
        if (r.lost < want_min || r.lost > want_max)
            fail_msg("iteration %d: %llu counted lost, want %llu to %llu", iter,
                     (unsigned long long)r.lost, (unsigned long long)want_min,
                     (unsigned long long)want_max);
        assert_int_equal(r.invalid, 0);
        free(r.num);
    }
    free(dir);
}

int main(void) {
    osp_log_level = -1; /* quiet */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spool__large_records_replayed_with_the_rest),
        cmocka_unit_test(spool__one_flipped_byte_costs_one_record),
        cmocka_unit_test(spool__previous_format_replayed),
        cmocka_unit_test(spool__replayed_entries_checked_as_the_intake_does),
        cmocka_unit_test(spool__directory_must_be_ours),
        cmocka_unit_test(spool__planted_files_at_start),
        cmocka_unit_test(spool__planted_next_names_do_not_stop_spooling),
        cmocka_unit_test(spool__random_damage_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
