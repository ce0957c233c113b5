/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pg - PostgreSQL in Python osprofiler's sqlalchemy layout (libpq).
 *
 * URL as SQLAlchemy takes it: postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DB
 * [?PARAMS] or postgresql+psycopg2://..., handed to libpq as a URI, so its
 * parameters (sslmode, sslrootcert, host=/socket/dir for a Unix socket,
 * connect_timeout, ...) pass through.
 *
 * The layout is the one table `data` Python's sqlalchemy driver creates
 * (drivers/sqlalchemy_driver.py), created the same way when absent: a row per
 * point, the payload's base_id, timestamp, parent_id, trace_id, project,
 * host, service and name in columns and what is left of it in `data`, a json
 * column holding a JSON *string* of that text (the driver hands
 * jsonutils.dumps(rest) to a JSON column, which encodes it once more; its
 * get_report decodes twice). Python writes what we read and reads what we
 * write; get yields rows (osp_store_rows), since Python's report shows the
 * columns and `data`, not the payload as sent.
 *
 * Writes: one transaction per batch, COPY FROM STDIN (measured against a
 * multi-row INSERT in docs/benchmarks.md). A point the table cannot hold
 * (a name longer than varchar(255), a timestamp longer than 26) is refused
 * alone (osp_store_rejected) rather than failing its batch for ever.
 * No unique index: Python's table has none, and a point stored twice (a
 * collector killed between commit and ack) shows once in both readers'
 * reports, which key a point by trace_id and name.
 *
 * Reads stream in single-row mode, so memory holds one row at a time (libpq
 * keeps a row whole: at most PostgreSQL's 1 GB per value).
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/point.h"
#include "common/pyjson.h"
#include "sql_layout.h"
#include "store_impl.h"

typedef struct pg_store {
    struct osp_store base;
    PGconn *conn;
    char *password; /* to keep it out of libpq's messages */
    bool writer;
    bool table; /* `data` exists (a reader finds no trace without it) */
} pg_store_t;

/* The sqlalchemy driver's Table("data", ...) as create_all emits it. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS data (id SERIAL NOT NULL, timestamp VARCHAR(26),"
    " base_id VARCHAR(255), parent_id VARCHAR(255), trace_id VARCHAR(255),"
    " project VARCHAR(255), host VARCHAR(255), service VARCHAR(255),"
    " name VARCHAR(255), data JSON, PRIMARY KEY (id));"
    "CREATE INDEX IF NOT EXISTS ix_data_timestamp ON data (timestamp);"
    "CREATE INDEX IF NOT EXISTS ix_data_project ON data (project);"
    "CREATE INDEX IF NOT EXISTS ix_data_trace_id ON data (trace_id);"
    "CREATE INDEX IF NOT EXISTS ix_data_host ON data (host);"
    "CREATE INDEX IF NOT EXISTS ix_data_name ON data (name);"
    "CREATE INDEX IF NOT EXISTS ix_data_base_id ON data (base_id);"
    "CREATE INDEX IF NOT EXISTS ix_data_service ON data (service);"
    "CREATE INDEX IF NOT EXISTS ix_data_parent_id ON data (parent_id);";

/* A libpq message without the password (libpq does not quote it, but a URL
 * it cannot parse is quoted whole), on one line. */
static void scrub(const pg_store_t *s, const char *msg, char *out, size_t cap) {
    snprintf(out, cap, "%s", msg ? msg : "out of memory");
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    const char *pw = s ? s->password : NULL;
    if (pw && *pw)
        for (char *p; (p = strstr(out, pw));)
            memset(p, '*', strlen(pw));
}

static int fail(pg_store_t *s, osp_error_t *err, const char *what) {
    char why[300];
    scrub(s, s->conn ? PQerrorMessage(s->conn) : NULL, why, sizeof why);
    return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s: %s", s->base.name, what,
                          why);
}

static void pg_close(osp_store_t *base) {
    pg_store_t *s = (pg_store_t *)base;
    PQfinish(s->conn);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s);
}

/* One statement, its result checked and freed. */
static int exec(pg_store_t *s, const char *sql, ExecStatusType want, const char *what,
                osp_error_t *err) {
    PGresult *r = PQexec(s->conn, sql);
    int rc = PQresultStatus(r) == want ? OSP_OK : fail(s, err, what);
    PQclear(r);
    return rc;
}

/* The name: the URL without its password (user, host or socket, port, db). */
static void set_name(pg_store_t *s, const char *scheme, PQconninfoOption *opts) {
    const char *user = "", *host = "", *port = "", *db = "";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val ? o->val : "";
        if (!strcmp(o->keyword, "user"))
            user = v;
        else if (!strcmp(o->keyword, "host"))
            host = v;
        else if (!strcmp(o->keyword, "port"))
            port = v;
        else if (!strcmp(o->keyword, "dbname"))
            db = v;
        else if (!strcmp(o->keyword, "password") && *v && !s->password)
            s->password = strdup(v);
    }
    bool sock = *host == '/';
    snprintf(s->base.name, sizeof s->base.name, "%s://%.40s%s%.64s%s%.6s/%.40s%s%.64s",
             scheme, user, *user ? "@" : "", sock ? "" : host, *port && !sock ? ":" : "",
             sock ? "" : port, db, sock ? "?host=" : "", sock ? host : "");
}

static int open_for_writing(pg_store_t *s, osp_error_t *err) {
    /* competing collectors may create it at once: one at a time */
    int rc = exec(s, "BEGIN", PGRES_COMMAND_OK, "cannot begin", err);
    if (rc == OSP_OK)
        rc = exec(s, "SELECT pg_advisory_xact_lock(7303452756165400435)", PGRES_TUPLES_OK,
                  "cannot lock", err);
    if (rc == OSP_OK)
        rc = exec(s, schema, PGRES_COMMAND_OK, "cannot create the data table", err);
    if (rc == OSP_OK)
        rc = exec(s, "COMMIT", PGRES_COMMAND_OK, "cannot create the data table", err);
    else
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return rc;
}

static int pg_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    const char *rest = strstr(url, "://") + 3;
    const char *scheme = strncmp(url, "postgresql+psycopg2:", 20) == 0
                             ? "postgresql+psycopg2"
                             : "postgresql";
    pg_store_t *s = calloc(1, sizeof *s);
    osp_buf_t uri = OSP_BUF_INIT;
    osp__buf_puts(&uri, "postgresql://");
    osp__buf_puts(&uri, rest);
    if (!s || !osp__buf_cstr(&uri)) {
        free(s);
        osp__buf_free(&uri);
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    }
    s->base.ops = &osp_store_pg_ops;
    s->writer = flags & OSP_STORE_WRITE;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri.data, &perr);
    int rc = OSP_OK;
    if (!opts) {
        /* libpq quotes the part it could not parse: that may be the
         * password, so its message stops at the first quote */
        char why[200];
        snprintf(why, sizeof why, "%s", perr ? perr : "out of memory");
        why[strcspn(why, "\"\n")] = '\0';
        PQfreemem(perr);
        rc = osp__error_set(err, OSP_EINVAL, "store", 0,
                            "%s store: not a valid connection string (expected "
                            "%s://[USER[:PASSWORD]@][HOST][:PORT]/DB[?PARAMS]): %s",
                            scheme, scheme, why);
        goto out;
    }
    set_name(s, scheme, opts);
    PQconninfoFree(opts);
    /* ours first: the URL's own settings win, but client_encoding, which
     * the JSON we write and read needs */
    const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "application_name",
                                "dbname",          "client_encoding",  NULL};
    const char *const vals[] = {"10", "30000", "osprofiler-c", uri.data, "UTF8", NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        rc = fail(s, err, "cannot connect");
        goto out;
    }
    PGresult *r = PQexec(s->conn, "SELECT to_regclass('data') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = fail(s, err, "cannot read the catalog");
    else
        s->table = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (rc == OSP_OK && s->writer && !s->table)
        rc = open_for_writing(s, err);
    if (rc == OSP_OK && s->writer) /* a `data` of another layout: say so now */
        rc = exec(s, "SELECT " OSP_SQL_COLUMNS " FROM data LIMIT 0", PGRES_TUPLES_OK,
                  "the data table is not Python osprofiler's sqlalchemy layout", err);
    s->table |= s->writer;
out:
    memset(uri.data, 0, uri.len); /* the password */
    osp__buf_free(&uri);
    if (rc != OSP_OK)
        pg_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

/* --- write ------------------------------------------------------------------ */

/* One COPY text field: \N for NULL, the rest escaped as COPY wants. */
static void copy_field(osp_buf_t *t, const char *v, size_t len) {
    if (!v) {
        osp__buf_append(t, "\\N", 2);
        return;
    }
    for (size_t i = 0, from = 0; i <= len; i++) {
        char c = i < len ? v[i] : '\0';
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        if (!esc && i < len)
            continue;
        osp__buf_append(t, v + from, i - from);
        if (esc)
            osp__buf_append(t, esc, 2);
        from = i + 1;
    }
}

static int pg_prepare(osp_store_batch_t *b, osp_error_t *err) {
    if (osp__store_batch_reset(b, b->n, err) != OSP_OK)
        return OSP_ENOMEM;
    osp_buf_t tmp[2] = {OSP_BUF_INIT, OSP_BUF_INIT};
    for (size_t i = 0; i < b->n; i++) {
        /* one COPY line: tab-separated fields */
        int r =
            osp__sql_row_encode(&b->text, tmp, &b->msgs[i], copy_field, "", '\t', "\n");
        b->rows[i] = (osp_store_row_t){.points = r > 0, .error = r > 0 ? 0 : -r};
    }
    b->nrows = b->n;
    bool failed = b->text.failed || tmp[0].failed || tmp[1].failed;
    osp__buf_free(&tmp[0]);
    osp__buf_free(&tmp[1]);
    return failed ? osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory") : OSP_OK;
}

/* A connection the server closed (restarted, or down a while) is made again
 * at the next commit: the writer retries with backoff. */
static int ensure_connected(pg_store_t *s, osp_error_t *err) {
    if (PQstatus(s->conn) == CONNECTION_OK)
        return OSP_OK;
    PQreset(s->conn);
    return PQstatus(s->conn) == CONNECTION_OK ? OSP_OK : fail(s, err, "cannot connect");
}

static int copy_rows(pg_store_t *s, const osp_buf_t *t, osp_error_t *err) {
    PGresult *r = PQexec(s->conn, "COPY data (" OSP_SQL_COLUMNS ") FROM STDIN");
    bool in = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!in)
        return fail(s, err, "cannot insert");
    int ok = 1;
    for (size_t at = 0; at < t->len && ok == 1;) {
        size_t n = t->len - at < (1u << 20) ? t->len - at : (1u << 20);
        ok = PQputCopyData(s->conn, t->data + at, (int)n);
        at += n;
    }
    if (ok == 1)
        ok = PQputCopyEnd(s->conn, NULL);
    int rc = ok == 1 ? OSP_OK : fail(s, err, "cannot insert");
    while ((r = PQgetResult(s->conn))) { /* the COPY's outcome */
        if (rc == OSP_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = fail(s, err, "cannot insert");
        PQclear(r);
    }
    return rc;
}

static int pg_commit(osp_store_t *base, osp_store_batch_t *b, osp_error_t *err) {
    pg_store_t *s = (pg_store_t *)base;
    if (!s->writer)
        return osp__error_set(err, OSP_EINVAL, "store", 0, "%s: opened read-only",
                              s->base.name);
    size_t refused = 0;
    for (size_t i = 0; i < b->nrows; i++)
        if (!b->rows[i].points && refused++ == 0)
            snprintf(s->base.rejected_why, sizeof s->base.rejected_why,
                     "trace point %.64s of %.64s: %s", b->msgs[i].trace_id,
                     b->msgs[i].base_id, osp__sql_refusal[b->rows[i].error]);
    int rc = ensure_connected(s, err);
    if (rc != OSP_OK || refused == b->nrows)
        goto out;
    rc = exec(s, "BEGIN", PGRES_COMMAND_OK, "cannot begin a transaction", err);
    if (rc == OSP_OK)
        rc = copy_rows(s, &b->text, err);
    if (rc == OSP_OK)
        rc = exec(s, "COMMIT", PGRES_COMMAND_OK, "cannot commit", err);
    else if (PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
out:
    s->base.rejected = rc == OSP_OK ? refused : 0;
    if (rc != OSP_OK)
        s->base.rejected_why[0] = '\0';
    return rc;
}

/* --- read ------------------------------------------------------------------- */

/* Runs sql (one optional text parameter) in single-row mode: row() sees one
 * row at a time. A non-zero return from row stops the callbacks; the rest
 * of the result is read and dropped. */
static int query(pg_store_t *s, const char *sql, const char *param,
                 int (*row)(PGresult *r, void *ud), void *ud, osp_error_t *err) {
    if (ensure_connected(s, err) != OSP_OK)
        return OSP_ESTORE;
    if (!PQsendQueryParams(s->conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0) ||
        !PQsetSingleRowMode(s->conn))
        return fail(s, err, "cannot query");
    int ret = OSP_OK;
    bool failed = false;
    PGresult *r;
    while ((r = PQgetResult(s->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && ret == OSP_OK)
            ret = row(r, ud);
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !failed && !ret) {
            failed = true;
            ret = fail(s, err, "cannot read (is `data` Python osprofiler's layout?)");
        }
        PQclear(r);
    }
    return ret;
}

struct cb {
    osp_store_msg_cb msg;
    osp_store_trace_cb trace;
    void *ud;
    osp_buf_t row;
};

/* One row as the object osp_report_add_row takes: the columns by name,
 * `data` as JSON text. */
static int msg_row(PGresult *r, void *ud) {
    struct cb *c = ud;
    const char *v[OSP_SQL_N];
    size_t len[OSP_SQL_N];
    for (int k = 0; k < OSP_SQL_N; k++) {
        v[k] = PQgetisnull(r, 0, k) ? NULL : PQgetvalue(r, 0, k);
        len[k] = (size_t)PQgetlength(r, 0, k);
    }
    osp__sql_report_row(&c->row, v, len);
    return c->row.failed ? OSP_ENOMEM
                         : osp__store_emit(c->msg, c->row.data, c->row.len, c->ud);
}

static int pg_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb, void *ud,
                  osp_error_t *err) {
    pg_store_t *s = (pg_store_t *)base;
    if (!s->table)
        return OSP_OK;
    struct cb c = {.msg = cb, .ud = ud, .row = OSP_BUF_INIT};
    /* the driver's get_report has no ORDER BY: its rows come in physical
     * order (ctid: a seq scan, a bitmap scan, or the base_id index, whose
     * equal keys are in heap order), which is not the order of ids (a
     * small row may fill a gap in an earlier page) */
    int rc =
        query(s, "SELECT " OSP_SQL_COLUMNS " FROM data WHERE base_id = $1 ORDER BY ctid",
              base_id, msg_row, &c, err);
    osp__buf_free(&c.row);
    return rc;
}

static int trace_row(PGresult *r, void *ud) {
    struct cb *c = ud;
    return c->trace(PQgetvalue(r, 0, 0),
                    PQgetisnull(r, 0, 1) ? "None" : PQgetvalue(r, 0, 1), c->ud);
}

static int pg_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb, void *ud,
                   osp_error_t *err) {
    pg_store_t *s = (pg_store_t *)base;
    if (error_only)
        return osp__error_set(err, OSP_EINVAL, "store", 0,
                              "%s: --error-trace needs an error index, which Python "
                              "osprofiler's sqlalchemy layout does not have (its driver "
                              "does not implement list_error_traces either)",
                              s->base.name);
    if (!s->table)
        return OSP_OK;
    struct cb c = {.trace = cb, .ud = ud};
    /* list_traces: each trace once, with the timestamp of the first row its
     * seq scan meets, in that order (physical, as in get) */
    return query(s,
                 "SELECT base_id, timestamp FROM (SELECT DISTINCT ON (base_id) base_id, "
                 "timestamp, ctid AS at FROM data WHERE base_id IS NOT NULL ORDER BY "
                 "base_id, ctid) f ORDER BY at",
                 NULL, trace_row, &c, err);
}

static int count_row(PGresult *r, void *ud) {
    *(size_t *)ud = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    return 0;
}

static int pg_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    pg_store_t *s = (pg_store_t *)base;
    *traces = 0;
    return s->table ? query(s, "SELECT count(DISTINCT base_id) FROM data", NULL,
                            count_row, traces, err)
                    : OSP_OK;
}

const osp_store_ops_t osp_store_pg_ops = {
    .schemes = {"postgresql", "postgresql+psycopg2"},
    .rows = true,
    .open = pg_open,
    .prepare = pg_prepare,
    .commit = pg_commit,
    .get = pg_get,
    .list = pg_list,
    .count = pg_count,
    .close = pg_close,
};
