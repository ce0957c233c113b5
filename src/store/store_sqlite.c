/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite - the embedded default store (Debian's libsqlite3).
 *
 * URL as SQLAlchemy writes it, since OpenStack operators know that form:
 * sqlite:///relative/path.db, sqlite:////absolute/path.db.
 *
 * One row per message, columns as osprofiler's sqlalchemy driver (base_id,
 * parent_id, trace_id, project, host, service, name, timestamp, data), except
 * that data holds the whole payload text so reports show it verbatim, and an
 * error flag backs `trace list --error-trace`. WAL lets the CLI read while
 * the collector writes; synchronous=FULL makes a returned put survive a
 * crash, which is what lets the collector acknowledge the broker.
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "store_impl.h"

typedef struct sqlite_store {
    struct osp_store base;
    sqlite3 *db;
    sqlite3_stmt *insert;
} sqlite_store_t;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS data ("
    " id INTEGER PRIMARY KEY,"
    " base_id TEXT NOT NULL, parent_id TEXT, trace_id TEXT NOT NULL,"
    " project TEXT, host TEXT, service TEXT, name TEXT NOT NULL,"
    " timestamp TEXT, error INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL,"
    " UNIQUE (base_id, trace_id, name));"
    "CREATE INDEX IF NOT EXISTS data_timestamp ON data (timestamp);"
    "CREATE INDEX IF NOT EXISTS data_error ON data (base_id) WHERE error;";

static int fail(sqlite_store_t *s, osp_error_t *err, const char *what) {
    return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s: %s", s->base.name, what,
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");
}

static void sqlite_close(osp_store_t *base) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    free(s);
}

static int sqlite_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    const char *path = url + strlen("sqlite://");
    if (*path != '/' || !path[1])
        return osp__error_set(err, OSP_EINVAL, "store", 0,
                              "sqlite store: expected sqlite:///RELATIVE/PATH or "
                              "sqlite:////ABSOLUTE/PATH, got %s",
                              url);
    path++;
    sqlite_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    s->base.ops = &osp_store_sqlite_ops;
    snprintf(s->base.name, sizeof s->base.name, "%s", url);
    bool write = flags & OSP_STORE_WRITE;
    struct stat st;
    if (!write && stat(path, &st) != 0) {
        osp__error_set(err, OSP_ESTORE, "store", 0,
                       "%s: no such database (nothing collected there yet?)", url);
        free(s);
        return OSP_ESTORE;
    }
    int oflags =
        write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = OSP_OK;
    if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = fail(s, err, "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000); /* the collector commits often and briefly */
    if (write && (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                               NULL, NULL, NULL) != SQLITE_OK ||
                  sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
                  sqlite3_prepare_v2(s->db,
                                     "INSERT OR IGNORE INTO data (base_id, parent_id, "
                                     "trace_id, project, host, service, name, timestamp, "
                                     "error, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                     -1, &s->insert, NULL) != SQLITE_OK)) {
        rc = fail(s, err, "cannot prepare the database");
        goto out;
    }
out:
    if (rc != OSP_OK)
        sqlite_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int sqlite_put(osp_store_t *base, const osp_store_msg_t *msgs, size_t n,
                      osp_error_t *err) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    if (!s->insert)
        return osp__error_set(err, OSP_EINVAL, "store", 0, "%s: opened read-only",
                              s->base.name);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, "cannot begin a transaction");
    for (size_t i = 0; i < n; i++) {
        const osp_store_msg_t *m = &msgs[i];
        sqlite3_stmt *st = s->insert;
        bind_text(st, 1, m->base_id);
        bind_text(st, 2, m->parent_id);
        bind_text(st, 3, m->trace_id);
        bind_text(st, 4, m->project);
        bind_text(st, 5, m->host);
        bind_text(st, 6, m->service);
        bind_text(st, 7, m->name);
        bind_text(st, 8, m->timestamp);
        sqlite3_bind_int(st, 9, m->error);
        sqlite3_bind_text(st, 10, m->json, (int)m->len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            int ret = fail(s, err, "cannot insert");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return ret;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int ret = fail(s, err, "cannot commit");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
    }
    return OSP_OK;
}

/* Runs sql with one optional text parameter; calls row for each row. */
static int query(sqlite_store_t *s, const char *sql, const char *param,
                 int (*row)(sqlite3_stmt *st, void *ud), void *ud, osp_error_t *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "cannot query (is it an osprofiler-c store?)");
    if (param)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
    int rc, ret = OSP_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = row(st, ud)) != 0)
            break;
    if (!ret && rc != SQLITE_DONE)
        ret = fail(s, err, "cannot read");
    sqlite3_finalize(st);
    return ret;
}

struct cb {
    osp_store_msg_cb msg;
    osp_store_trace_cb trace;
    void *ud;
};

static int msg_row(sqlite3_stmt *st, void *ud) {
    struct cb *c = ud;
    return c->msg((const char *)sqlite3_column_text(st, 0),
                  (size_t)sqlite3_column_bytes(st, 0), c->ud);
}

static int sqlite_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb,
                      void *ud, osp_error_t *err) {
    struct cb c = {.msg = cb, .ud = ud};
    return query((sqlite_store_t *)base,
                 "SELECT data FROM data WHERE base_id = ? ORDER BY id", base_id, msg_row,
                 &c, err);
}

static int trace_row(sqlite3_stmt *st, void *ud) {
    struct cb *c = ud;
    return c->trace((const char *)sqlite3_column_text(st, 0),
                    (const char *)sqlite3_column_text(st, 1), c->ud);
}

static int sqlite_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb,
                       void *ud, osp_error_t *err) {
    struct cb c = {.trace = cb, .ud = ud};
    return query((sqlite_store_t *)base,
                 error_only
                     ? "SELECT base_id, min(timestamp) AS t FROM data WHERE base_id IN "
                       "(SELECT base_id FROM data WHERE error) GROUP BY base_id "
                       "ORDER BY t, base_id"
                     : "SELECT base_id, min(timestamp) AS t FROM data GROUP BY base_id "
                       "ORDER BY t, base_id",
                 NULL, trace_row, &c, err);
}

static int count_row(sqlite3_stmt *st, void *ud) {
    *(size_t *)ud = (size_t)sqlite3_column_int64(st, 0);
    return 0;
}

static int sqlite_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    *traces = 0;
    return query((sqlite_store_t *)base, "SELECT count(DISTINCT base_id) FROM data", NULL,
                 count_row, traces, err);
}

const osp_store_ops_t osp_store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .put = sqlite_put,
    .get = sqlite_get,
    .list = sqlite_list,
    .count = sqlite_count,
    .close = sqlite_close,
};
