/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_raw - the physical limit for the sidecar's store writer: the same
 * rows, inserted straight with libsqlite3 or pipelined with hiredis, nothing
 * of ours in the timed loop.
 *
 *   store_raw sqlite --db PATH --rows N --batch B [--trace-points T] [--skip K]
 *   store_raw redis --port P --rows N --batch B [--trace-points T] [--skip K]
 *
 * Points: N trace points like the benchmark's (osp_load's "db" pairs: a
 * start with {"db": {"statement": "SELECT 1", "params": {}}} and a stop), a
 * new trace every T points (2000), their payloads written and their fields
 * decoded before timing starts, by the code the sidecar uses (record.c,
 * the sidecar's entry.c).
 * sqlite: the schema is made by opening the file as a store (untimed); then
 *   the same pragmas (WAL, synchronous=FULL) and the same rows the store
 *   writes (one per trace per transaction: its points as a JSON array, built
 *   before timing), B points per transaction, as the sidecar's mean commit.
 * redis: LPUSH osprofiler_opt:<base_id> <payload> (Python's layout),
 *   pipelined B at a time, every reply read.
 * --skip K: the first K points (whole transactions) are written untimed, so
 *   that the timed part grows the database over the same range as the
 *   sidecar's drain (inserts get slower as the indexes grow).
 * Prints {"points": N, "batch": B, ..., "timed_points": M, "seconds": S,
 * "points_per_s": M / S}.
 */
#include <hiredis/hiredis.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/ids.h"
#include "common/record.h"
#include "sidecar/entry.h"
#include "store/store.h"

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct row {
    osp_buf_t text; /* the payload and fields, as the store writer has them */
    osp_store_msg_t m;
};

static long trace_points = 2000;

static struct row *make_rows(long n) {
    struct row *rows = calloc((size_t)n, sizeof *rows);
    uint8_t base[16], trace[16];
    osp_buf_t scratch = OSP_BUF_INIT;
    static const char start_info[] = "{\"db\": {\"statement\": \"SELECT 1\", \"params\": "
                                     "{}}, \"host\": \"bench-host\"}";
    static const char stop_info[] = "{\"host\": \"bench-host\"}";
    osp__uuid4_raw(base);
    for (long i = 0; i < n; i++) {
        if (i % 2 == 0)
            osp__uuid4_raw(trace);
        if (i % trace_points == 0)
            osp__uuid4_raw(base);
        bool stop = i % 2;
        osp_rec_t r = {.stop = stop,
                       .timestamp_us = 1764000000000000LL + i,
                       .trace_id = trace,
                       .base_id = {.uuid = base},
                       .parent_id = {.uuid = base},
                       .project = "load",
                       .project_len = 4,
                       .service = "load-api",
                       .service_len = 8,
                       .name = "db",
                       .name_len = 2,
                       .info = stop ? stop_info : start_info,
                       .info_len = stop ? sizeof stop_info - 1 : sizeof start_info - 1};
        uint8_t rec[512];
        size_t len = osp__rec_write(&r, rec);
        osp_entry_t e = {.kind = OSP_ENTRY_RECORD,
                         .publisher = "bench-host",
                         .publisher_len = 10,
                         .body = (const char *)rec,
                         .body_len = len};
        osp_error_t err;
        osp_entry_text_t t;
        osp_buf_t *b = &rows[i].text;
        if (osp_entry_to_text(&e, b, &scratch, &t, &err) != OSP_OK) {
            fprintf(stderr, "store_raw: %s\n", err.text);
            exit(1);
        }
        rows[i].m = (osp_store_msg_t){.json = b->data + t.payload,
                                      .len = t.len,
                                      .base_id = b->data + t.base_id,
                                      .trace_id = b->data + t.trace_id,
                                      .name = b->data + t.name,
                                      .timestamp = b->data + t.timestamp,
                                      .error = t.error};
    }
    osp__buf_free(&scratch);
    return rows;
}

/* One chunk row: a trace's points of one transaction. */
struct chunk {
    const osp_store_msg_t *first;
    int points, error;
    osp_buf_t text;
};

static long skip;

static double run_sqlite(const char *path, struct row *rows, long n, long batch) {
    char url[4200];
    snprintf(url, sizeof url, "sqlite:///%s", path);
    osp_store_t *s;
    osp_error_t err;
    if (osp_store_open(url, OSP_STORE_WRITE, &s, &err) != OSP_OK) {
        fprintf(stderr, "store_raw: %s\n", err.text);
        exit(1);
    }
    osp_store_close(s); /* the schema, as the sidecar makes it */
    /* Untimed: each transaction's rows (points arrive in trace order here). */
    long ntx = (n + batch - 1) / batch, nchunks = 0;
    struct chunk *chunks = calloc((size_t)n, sizeof *chunks);
    long *tx_end = calloc((size_t)ntx, sizeof *tx_end);
    for (long t = 0, i = 0; t < ntx; t++) {
        for (long k = 0; k < batch && i < n; k++, i++) {
            const osp_store_msg_t *m = &rows[i].m;
            struct chunk *c = &chunks[nchunks - 1];
            if (!k || strcmp(c->first->base_id, m->base_id) != 0) {
                if (nchunks)
                    osp__buf_putc(&c->text, ']');
                c = &chunks[nchunks++];
                c->first = m;
                osp__buf_putc(&c->text, '[');
            } else {
                osp__buf_append(&c->text, ",\n", 2);
            }
            osp__buf_append(&c->text, m->json, m->len);
            c->points++;
            c->error |= m->error;
        }
        tx_end[t] = nchunks;
    }
    osp__buf_putc(&chunks[nchunks - 1].text, ']');
    sqlite3 *db;
    sqlite3_stmt *ins;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ||
        sqlite3_exec(db, OSP_SQLITE_WRITE_PRAGMAS, 0, 0, 0) ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO chunks (base_id, first_timestamp, points, error, "
                           "data) VALUES (?,?,?,?,?)",
                           -1, &ins, NULL)) {
        fprintf(stderr, "store_raw: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    double t0 = mono();
    for (long t = 0, c = 0; t < ntx; t++) {
        if (t == skip / batch)
            t0 = mono(); /* the timed part starts */
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        for (; c < tx_end[t]; c++) {
            sqlite3_bind_text(ins, 1, chunks[c].first->base_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, chunks[c].first->timestamp, -1, SQLITE_STATIC);
            sqlite3_bind_int(ins, 3, chunks[c].points);
            sqlite3_bind_int(ins, 4, chunks[c].error);
            sqlite3_bind_text(ins, 5, chunks[c].text.data, (int)chunks[c].text.len,
                              SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                fprintf(stderr, "store_raw: %s\n", sqlite3_errmsg(db));
                exit(1);
            }
            sqlite3_reset(ins);
        }
        if (sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK) {
            fprintf(stderr, "store_raw: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
    }
    double dt = mono() - t0;
    sqlite3_finalize(ins);
    sqlite3_close(db);
    for (long c = 0; c < nchunks; c++)
        osp__buf_free(&chunks[c].text);
    free(chunks);
    free(tx_end);
    return dt;
}

static double run_redis(int port, struct row *rows, long n, long batch) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "store_raw: redis: %s\n", c ? c->errstr : "no memory");
        exit(1);
    }
    double t0 = mono();
    for (long i = 0; i < n;) {
        if (i == skip / batch * batch)
            t0 = mono(); /* the timed part starts */
        long k = 0;
        for (; k < batch && i + k < n; k++) {
            const osp_store_msg_t *m = &rows[i + k].m;
            redisAppendCommand(c, "LPUSH osprofiler_opt:%s %b", m->base_id, m->json,
                               m->len);
        }
        for (long j = 0; j < k; j++) {
            void *reply;
            if (redisGetReply(c, &reply) != REDIS_OK) {
                fprintf(stderr, "store_raw: redis: %s\n", c->errstr);
                exit(1);
            }
            freeReplyObject(reply);
        }
        i += k;
    }
    double dt = mono() - t0;
    redisFree(c);
    return dt;
}

int main(int argc, char **argv) {
    const char *db = NULL;
    long n = 200000, batch = 1000;
    int port = 0;
    if (argc < 2)
        goto usage;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!strcmp(argv[i], "--rows"))
            n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--trace-points"))
            trace_points = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--skip"))
            skip = atol(argv[i + 1]);
        else
            goto usage;
    }
    if (n < 1 || batch < 1 || trace_points < 1 || skip < 0 || skip >= n)
        goto usage;
    long timed = n - skip / batch * batch;
    struct row *rows = make_rows(n);
    double dt;
    if (!strcmp(argv[1], "sqlite") && db)
        dt = run_sqlite(db, rows, n, batch);
    else if (!strcmp(argv[1], "redis") && port)
        dt = run_redis(port, rows, n, batch);
    else
        goto usage;
    printf(
        "{\"points\": %ld, \"batch\": %ld, \"trace_points\": %ld, \"timed_points\": %ld, "
        "\"seconds\": %.3f, \"points_per_s\": %.0f}\n",
        n, batch, trace_points, timed, dt, (double)timed / dt);
    for (long i = 0; i < n; i++)
        osp__buf_free(&rows[i].text);
    free(rows);
    return 0;
usage:
    fputs("usage: store_raw sqlite --db PATH [--rows N] [--batch B] [--trace-points T]"
          " [--skip K]\n"
          "       store_raw redis --port P [--rows N] [--batch B] [--trace-points T]"
          " [--skip K]\n",
          stderr);
    return 2;
}
