/* SPDX-License-Identifier: Apache-2.0 */
/* store.sqlite_api: the embedded store's layout 2 (a row per trace per
 * commit): points come back per trace in the order they were put, a point
 * put twice is shown once, trace list and the error index work, the `data`
 * view shows one row per point, and a layout-1 database (0.1) is read as it
 * is and migrated when opened for writing. Payloads come back strict JSON
 * (NaN and infinities null) whoever stored them, and the database files are
 * created 0600, -wal and -shm included. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

static char dir[] = "/tmp/osp-store-sqlite-XXXXXX";
static char url[300], path[256];

static osp_store_msg_t msg(const char *base, const char *trace, const char *name,
                           const char *ts, bool error, char *buf, size_t cap) {
    snprintf(
        buf, cap,
        "{\"name\": \"%s\", \"base_id\": \"%s\", \"trace_id\": \"%s\", \"parent_id\": "
        "\"%s\", \"timestamp\": \"%s\", \"info\": {%s\"host\": \"h\"}, \"project\": "
        "\"p\", \"service\": \"s\"}",
        name, base, trace, base, ts, error ? "\"etype\": \"E\", " : "");
    return (osp_store_msg_t){.json = buf,
                             .len = strlen(buf),
                             .base_id = base,
                             .trace_id = trace,
                             .name = name,
                             .timestamp = ts,
                             .error = error};
}

struct got {
    size_t n;
    char names[16][32];
};

static int on_msg(const char *json, size_t len, void *ud) {
    struct got *g = ud;
    const char *p = strstr(json, "\"name\": \"");
    assert_non_null(p);
    assert_true(p < json + len);
    sscanf(p + 9, "%31[^\"]", g->names[g->n++]);
    return 0;
}

static int on_trace(const char *base, const char *ts, void *ud) {
    (void)ts;
    char *out = ud;
    strcat(out, base);
    strcat(out, ";");
    return 0;
}

static void sqlite__traces_points_duplicates(void **state) {
    (void)state;
    osp_store_t *s;
    osp_error_t err;
    assert_int_equal(osp_store_open(url, OSP_STORE_WRITE, &s, &err), OSP_OK);
    char b[6][512];
    /* two traces interleaved in one commit, then more of the first */
    osp_store_msg_t batch1[] = {
        msg("A", "a1", "x-start", "2024-01-01T00:00:01.000000", false, b[0], 512),
        msg("B", "b1", "y-start", "2024-01-01T00:00:00.000000", false, b[1], 512),
        msg("A", "a1", "x-stop", "2024-01-01T00:00:02.000000", false, b[2], 512),
        msg("B", "b1", "y-stop", "2024-01-01T00:00:03.000000", true, b[3], 512),
    };
    assert_int_equal(osp_store_put(s, batch1, 4, &err), OSP_OK);
    osp_store_msg_t batch2[] = {
        msg("A", "a2", "z-start", "2024-01-01T00:00:04.000000", false, b[4], 512),
        batch1[0], /* redelivered */
        msg("A", "a2", "z-stop", "2024-01-01T00:00:05.000000", false, b[5], 512),
    };
    assert_int_equal(osp_store_put(s, batch2, 3, &err), OSP_OK);
    struct got g = {0};
    assert_int_equal(osp_store_get(s, "A", on_msg, &g, &err), OSP_OK);
    assert_int_equal(g.n, 4); /* x-start once */
    assert_string_equal(g.names[0], "x-start");
    assert_string_equal(g.names[1], "x-stop");
    assert_string_equal(g.names[2], "z-start");
    assert_string_equal(g.names[3], "z-stop");
    char list[256] = "";
    assert_int_equal(osp_store_list(s, false, on_trace, list, &err), OSP_OK);
    assert_string_equal(list, "B;A;"); /* by first timestamp */
    list[0] = '\0';
    assert_int_equal(osp_store_list(s, true, on_trace, list, &err), OSP_OK);
    assert_string_equal(list, "B;");
    size_t traces;
    assert_int_equal(osp_store_count(s, &traces, &err), OSP_OK);
    assert_int_equal(traces, 2);
    osp_store_close(s);
    /* The view: one row per point stored, the sqlalchemy driver's columns. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), sum(error), "
                                        "count(DISTINCT trace_id || name) FROM data",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 7); /* the duplicate is a row */
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_int_equal(sqlite3_column_int(st, 2), 6);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
}

/* A database of osprofiler-c 0.1: a row per point in a `data` table. */
static void make_layout1(void) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            "CREATE TABLE data (id INTEGER PRIMARY KEY, base_id TEXT NOT NULL,"
            " parent_id TEXT, trace_id TEXT NOT NULL, project TEXT, host TEXT,"
            " service TEXT, name TEXT NOT NULL, timestamp TEXT, error INTEGER"
            " NOT NULL DEFAULT 0, data TEXT NOT NULL,"
            " UNIQUE (base_id, trace_id, name));"
            "INSERT INTO data (base_id, trace_id, name, timestamp, error, data)"
            " VALUES ('O', 'o1', 'old-start', '2023-01-01T00:00:00.000000', 0,"
            " '{\"name\": \"old-start\", \"base_id\": \"O\", \"trace_id\": \"o1\","
            " \"timestamp\": \"2023-01-01T00:00:00.000000\"}'),"
            " ('O', 'o1', 'old-stop', '2023-01-01T00:00:01.000000', 1,"
            " '{\"name\": \"old-stop\", \"base_id\": \"O\", \"trace_id\": \"o1\","
            " \"timestamp\": \"2023-01-01T00:00:01.000000\"}');",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

static void sqlite__layout1_read_then_migrated(void **state) {
    (void)state;
    make_layout1();
    osp_store_t *s;
    osp_error_t err;
    struct got g = {0};
    assert_int_equal(osp_store_open(url, 0, &s, &err), OSP_OK); /* read only: as is */
    assert_int_equal(osp_store_get(s, "O", on_msg, &g, &err), OSP_OK);
    assert_int_equal(g.n, 2);
    char list[64] = "";
    assert_int_equal(osp_store_list(s, true, on_trace, list, &err), OSP_OK);
    assert_string_equal(list, "O;");
    osp_store_close(s);
    assert_int_equal(osp_store_open(url, OSP_STORE_WRITE, &s, &err), OSP_OK);
    char b[512];
    osp_store_msg_t m =
        msg("O", "o2", "new-start", "2023-01-01T00:00:02.000000", false, b, sizeof b);
    assert_int_equal(osp_store_put(s, &m, 1, &err), OSP_OK);
    memset(&g, 0, sizeof g);
    assert_int_equal(osp_store_get(s, "O", on_msg, &g, &err), OSP_OK);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.names[0], "old-start");
    assert_string_equal(g.names[2], "new-start");
    list[0] = '\0';
    assert_int_equal(osp_store_list(s, true, on_trace, list, &err), OSP_OK);
    assert_string_equal(list, "O;");
    osp_store_close(s);
    unlink(path);
}

static mode_t mode_of(const char *p) {
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_mode & 07777;
}

/* Payloads hold SQL statements: no umask makes the store readable by
 * others, and SQLite's -wal and -shm follow the database's mode. */
static void sqlite__files_are_0600(void **state) {
    (void)state;
    mode_t old = umask(0);
    osp_store_t *s, *r;
    osp_error_t err;
    assert_int_equal(osp_store_open(url, OSP_STORE_WRITE, &s, &err), OSP_OK);
    char b[512], side[300];
    osp_store_msg_t m =
        msg("F", "f1", "f-start", "2024-01-01T00:00:00.000000", false, b, sizeof b);
    assert_int_equal(osp_store_put(s, &m, 1, &err), OSP_OK);
    assert_int_equal(osp_store_open(url, 0, &r, &err), OSP_OK); /* a reader beside it */
    struct got g = {0};
    assert_int_equal(osp_store_get(r, "F", on_msg, &g, &err), OSP_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(mode_of(path), 0600);
    snprintf(side, sizeof side, "%s-wal", path);
    assert_int_equal(mode_of(side), 0600);
    snprintf(side, sizeof side, "%s-shm", path);
    assert_int_equal(mode_of(side), 0600);
    osp_store_close(r);
    osp_store_close(s);
    umask(old);
    unlink(path);
}

static int keep_text(const char *json, size_t len, void *ud) {
    char *out = ud;
    size_t n = strlen(out);
    assert_true(n + len + 2 < 1024);
    memcpy(out + n, json, len);
    out[n + len] = '|';
    out[n + len + 1] = '\0';
    return 0;
}

/* NaN and infinities (Python's json.dumps writes them) are stored as null,
 * so SQLite's JSON functions (the view) and every reader take the row; a
 * raw newline (whitespace) does not split a payload; rows an older version
 * stored with NaN are read with null. */
static void sqlite__nonfinite_stored_and_read_as_null(void **state) {
    (void)state;
    osp_store_t *s;
    osp_error_t err;
    assert_int_equal(osp_store_open(url, OSP_STORE_WRITE, &s, &err), OSP_OK);
    const char *json = "{\"name\": \"n-start\", \"base_id\": \"N\", \"trace_id\": "
                       "\"n1\", \"parent_id\": \"N\",\n\"timestamp\": "
                       "\"2024-01-01T00:00:00.000000\", \"info\": {\"a\": NaN, \"b\": "
                       "[Infinity, -Infinity], \"s\": \"NaN\"}}";
    osp_store_msg_t m = {.json = json,
                         .len = strlen(json),
                         .base_id = "N",
                         .trace_id = "n1",
                         .name = "n-start",
                         .timestamp = "2024-01-01T00:00:00.000000"};
    assert_int_equal(osp_store_put(s, &m, 1, &err), OSP_OK);
    char got[1024] = "";
    assert_int_equal(osp_store_get(s, "N", keep_text, got, &err), OSP_OK);
    assert_string_equal(got, "{\"name\": \"n-start\", \"base_id\": \"N\", \"trace_id\": "
                             "\"n1\", \"parent_id\": \"N\", \"timestamp\": "
                             "\"2024-01-01T00:00:00.000000\", \"info\": {\"a\": null, "
                             "\"b\": [null, null], \"s\": \"NaN\"}}|");
    osp_store_close(s);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name, json_extract(data, '$.info.a') IS "
                                        "NULL FROM data WHERE base_id = 'N'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "n-start");
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);
    /* what an older version wrote verbatim */
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO chunks (base_id, first_timestamp, points, data) VALUES "
                     "('O', '2024', 1, '[{\"name\": \"o-start\", \"x\": -Infinity}]')",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(osp_store_open(url, 0, &s, &err), OSP_OK);
    got[0] = '\0';
    assert_int_equal(osp_store_get(s, "O", keep_text, got, &err), OSP_OK);
    assert_string_equal(got, "{\"name\": \"o-start\", \"x\": null}|");
    osp_store_close(s);
    unlink(path);
}

int main(void) {
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    snprintf(url, sizeof url, "sqlite:///%s", path);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite__traces_points_duplicates),
        cmocka_unit_test(sqlite__layout1_read_then_migrated),
        cmocka_unit_test(sqlite__files_are_0600),
        cmocka_unit_test(sqlite__nonfinite_stored_and_read_as_null),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
