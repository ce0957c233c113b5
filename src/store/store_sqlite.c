/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite - the embedded default store (Debian's libsqlite3).
 *
 * URL as SQLAlchemy writes it, since OpenStack operators know that form:
 * sqlite:///relative/path.db, sqlite:////absolute/path.db.
 *
 * Layout 2 (user_version 2): one row per trace per commit, in `chunks`: the
 * trace's points of that batch as one JSON array of their payload texts
 * (as sent, so reports show them so, but for NaN and infinities, which
 * become null, and raw newlines between tokens, which become spaces: see
 * append_payload), one per line. Why not a row per point (layout 1, osprofiler's
 * sqlalchemy columns): measured here, a row per point with synchronous=FULL went in at
 * 55-90k points/s (and 114k/s with no fsync at all); a trace's batch as one row goes in
 * at 150-180k/s. The view `data` still shows one row per point with the sqlalchemy
 * driver's columns (SQLite's JSON functions), for SQL users and tools.
 *
 * A point delivered twice (the broker redelivers what a crashed collector
 * had not acknowledged; a crashed sidecar replays its spool) may be stored
 * twice: the reader shows it once (the same timestamp, trace_id and name).
 * A unique index would make every insert a lookup in it, which is what
 * layout 1 paid for.
 *
 * WAL lets the CLI read while the sidecar writes; synchronous=FULL makes a
 * returned put survive a crash, which is what lets the collector
 * acknowledge the broker. A layout-1 database is migrated when first opened
 * for writing, and read as it is until then.
 */
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/point.h"
#include "store_impl.h"

typedef struct sqlite_store {
    struct osp_store base;
    sqlite3 *db;
    sqlite3_stmt *insert;
    bool layout1; /* an old database, read as it is */
} sqlite_store_t;

#define CHUNKS                                                                           \
    "CREATE TABLE IF NOT EXISTS chunks ("                                                \
    " id INTEGER PRIMARY KEY,"                                                           \
    " base_id TEXT NOT NULL,"                                                            \
    " first_timestamp TEXT NOT NULL," /* the earliest point's, for trace list */         \
    " points INTEGER NOT NULL,"                                                          \
    " error INTEGER NOT NULL DEFAULT 0," /* a point with info.etype */                   \
    " data TEXT NOT NULL);"                                                              \
    "CREATE INDEX IF NOT EXISTS chunks_base ON chunks (base_id);"                        \
    "CREATE INDEX IF NOT EXISTS chunks_error ON chunks (base_id) WHERE error;"
#define VIEW                                                                             \
    "CREATE VIEW IF NOT EXISTS data AS SELECT"                                           \
    " c.id * 65536 + j.key AS id, c.base_id AS base_id,"                                 \
    " json_extract(j.value, '$.parent_id') AS parent_id,"                                \
    " json_extract(j.value, '$.trace_id') AS trace_id,"                                  \
    " json_extract(j.value, '$.project') AS project,"                                    \
    " json_extract(j.value, '$.info.host') AS host,"                                     \
    " json_extract(j.value, '$.service') AS service,"                                    \
    " json_extract(j.value, '$.name') AS name,"                                          \
    " json_extract(j.value, '$.timestamp') AS timestamp,"                                \
    " json_extract(j.value, '$.info.etype') IS NOT NULL AS error,"                       \
    " j.value AS data FROM chunks c, json_each(c.data) j;"

static const char schema[] = CHUNKS VIEW "PRAGMA user_version = 2;";

/* Layout 1 -> 2: each old row becomes a chunk of one point, ids kept. */
static const char migrate[] =
    "BEGIN IMMEDIATE;" CHUNKS
    "INSERT INTO chunks (id, base_id, first_timestamp, points, error, data)"
    " SELECT id, base_id, coalesce(timestamp, ''), 1, error, '[' || data || ']'"
    " FROM data ORDER BY id;"
    "DROP TABLE data;" VIEW "PRAGMA user_version = 2;"
    "COMMIT;";

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

/* Is `data` a table (layout 1) rather than the view? */
static bool is_layout1(sqlite_store_t *s) {
    sqlite3_stmt *st;
    bool old = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM sqlite_master WHERE name = 'data' AND "
                           "type = 'table'",
                           -1, &st, NULL) == SQLITE_OK)
        old = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return old;
}

static int open_for_writing(sqlite_store_t *s, osp_error_t *err) {
    if (sqlite3_exec(s->db, OSP_SQLITE_WRITE_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, "cannot prepare the database");
    if (is_layout1(s) && sqlite3_exec(s->db, migrate, NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fail(s, err, "cannot bring the database to layout 2");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO chunks (base_id, first_timestamp, points, error, "
                           "data) VALUES (?,?,?,?,?)",
                           -1, &s->insert, NULL) != SQLITE_OK)
        return fail(s, err, "cannot prepare the database");
    return OSP_OK;
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
    /* Payloads hold SQL statements and their parameters: the database is
     * created 0600 whatever the umask, and SQLite gives its -wal and -shm
     * the database file's mode. An existing file keeps the mode its owner
     * gave it. */
    int fd = write ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = fail(s, err, "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000); /* the writer commits often and briefly */
    if (write)
        rc = open_for_writing(s, err);
    else
        s->layout1 = is_layout1(s);
out:
    if (rc != OSP_OK)
        sqlite_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* idx: the messages grouped by trace, each trace's in arrival order and the
 * traces in the order of their first message; starts[k] is where trace k
 * begins (starts[ntraces] = n). Returns ntraces. One hash lookup a message
 * (sorting by base_id cost a dozen string compares each). */
static size_t group_by_trace(const osp_store_msg_t *msgs, size_t n, size_t *idx,
                             size_t *starts, size_t *trace_of, size_t *slots,
                             size_t cap) {
    size_t ntraces = 0;
    memset(slots, 0xff, cap * sizeof *slots); /* SIZE_MAX: empty */
    for (size_t i = 0; i < n; i++) {
        size_t j = fnv1a(msgs[i].base_id) & (cap - 1);
        while (slots[j] != SIZE_MAX && strcmp(msgs[slots[j]].base_id, msgs[i].base_id))
            j = (j + 1) & (cap - 1);
        if (slots[j] == SIZE_MAX) {
            slots[j] = i; /* the trace's first message stands for it */
            starts[ntraces] = 0;
            trace_of[i] = ntraces++;
        } else {
            trace_of[i] = trace_of[slots[j]];
        }
        starts[trace_of[i]]++;
    }
    /* counts -> offsets, then place each message */
    for (size_t k = 0, at = 0; k < ntraces; k++) {
        size_t c = starts[k];
        starts[k] = at;
        at += c;
    }
    starts[ntraces] = n;
    for (size_t i = 0; i < n; i++)
        idx[starts[trace_of[i]]++] = i;
    for (size_t k = ntraces; k > 0; k--) /* shifted by one while placing */
        starts[k] = starts[k - 1];
    starts[0] = 0;
    return ntraces;
}

/* A payload as a row keeps it: strict JSON (NaN and infinities null, the
 * policy in point.h; SQLite's JSON functions, which the view uses, refuse
 * them) on one line (",\n" separates the payloads of a row, and a raw
 * newline in checked JSON can only be whitespace). */
static void append_payload(osp_buf_t *t, const char *json, size_t len) {
    size_t start = t->len;
    osp__json_finite_append(t, json, len);
    if (t->failed)
        return;
    for (char *p = t->data + start, *end = t->data + t->len;
         (p = memchr(p, '\n', (size_t)(end - p)));)
        *p = ' ';
}

/* The row of one trace: msgs[idx[0..k)], in arrival order, as a JSON array
 * of their payloads, one per line. */
static void build_row(osp_store_batch_t *b, const size_t *idx, size_t k,
                      osp_store_row_t *row) {
    const osp_store_msg_t *msgs = b->msgs;
    osp_buf_t *t = &b->text;
    row->base_id = msgs[idx[0]].base_id;
    row->first_timestamp = msgs[idx[0]].timestamp;
    row->text = t->len;
    row->points = (int)k;
    row->error = 0;
    osp__buf_putc(t, '[');
    for (size_t i = 0; i < k; i++) {
        const osp_store_msg_t *m = &msgs[idx[i]];
        if (i)
            osp__buf_append(t, ",\n", 2);
        append_payload(t, m->json, m->len);
        row->error |= m->error;
        if (strcmp(m->timestamp, row->first_timestamp) < 0)
            row->first_timestamp = m->timestamp;
    }
    osp__buf_putc(t, ']');
    row->len = t->len - row->text;
}

static int sqlite_prepare(osp_store_batch_t *b, osp_error_t *err) {
    size_t n = b->n, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t need = 3 * n + 1 + cap;
    if (need > b->scratch_cap) {
        size_t *grown = realloc(b->scratch, need * sizeof *grown);
        if (!grown)
            return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
        b->scratch = grown;
        b->scratch_cap = need;
    }
    size_t *idx = b->scratch, *starts = idx + n, *trace_of = starts + n + 1,
           *slots = trace_of + n;
    size_t ntraces = group_by_trace(b->msgs, n, idx, starts, trace_of, slots, cap);
    if (osp__store_batch_reset(b, ntraces, err) != OSP_OK)
        return OSP_ENOMEM;
    for (size_t k = 0; k < ntraces; k++)
        build_row(b, idx + starts[k], starts[k + 1] - starts[k], &b->rows[k]);
    b->nrows = ntraces;
    return b->text.failed ? osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory")
                          : OSP_OK;
}

static int sqlite_commit(osp_store_t *base, osp_store_batch_t *b, osp_error_t *err) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    if (!s->insert)
        return osp__error_set(err, OSP_EINVAL, "store", 0, "%s: opened read-only",
                              s->base.name);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, "cannot begin a transaction");
    int rc = OSP_OK;
    sqlite3_stmt *st = s->insert;
    for (size_t k = 0; k < b->nrows && rc == OSP_OK; k++) {
        const osp_store_row_t *r = &b->rows[k];
        sqlite3_bind_text(st, 1, r->base_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->first_timestamp, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, r->points);
        sqlite3_bind_int(st, 4, r->error);
        sqlite3_bind_text(st, 5, b->text.data + r->text, (int)r->len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fail(s, err, "cannot insert");
        sqlite3_reset(st);
    }
    if (rc == OSP_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(s, err, "cannot commit");
    if (rc != OSP_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
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

/* The points of a trace seen so far: a point delivered twice is shown once. */
typedef struct seen {
    char **keys;
    size_t n, cap;
} seen_t;

static bool seen_before(seen_t *s, const char *json, size_t len) {
    static const char *const keys[] = {"timestamp", "trace_id", "name"};
    osp_jspan_t v[3];
    osp__json_members(json, len, keys, 3, v);
    size_t klen = v[0].len + v[1].len + v[2].len + 3;
    char *key = malloc(klen);
    if (!key)
        return false;
    snprintf(key, klen, "%.*s|%.*s|%.*s", (int)v[0].len, v[0].text ? v[0].text : "",
             (int)v[1].len, v[1].text ? v[1].text : "", (int)v[2].len,
             v[2].text ? v[2].text : "");
    /* open addressing */
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **grown = calloc(cap, sizeof *grown);
        if (!grown) {
            free(key);
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t j = fnv1a(s->keys[i]) & (cap - 1);
            while (grown[j])
                j = (j + 1) & (cap - 1);
            grown[j] = s->keys[i];
        }
        free(s->keys);
        s->keys = grown;
        s->cap = cap;
    }
    size_t j = fnv1a(key) & (s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (strcmp(s->keys[j], key) == 0) {
            free(key);
            return true;
        }
    s->keys[j] = key;
    s->n++;
    return false;
}

static void seen_free(seen_t *s) {
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
}

struct cb {
    osp_store_msg_cb msg;
    osp_store_trace_cb trace;
    void *ud;
    seen_t seen;
};

/* Layout 1: one payload per row. */
static int msg_row(sqlite3_stmt *st, void *ud) {
    struct cb *c = ud;
    const char *json = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    return seen_before(&c->seen, json, len) ? 0
                                            : osp__store_emit(c->msg, json, len, c->ud);
}

/* Layout 2: "[p1,\np2,\n...]"; payloads hold no raw newline (JSON escapes
 * it), so ",\n" only ever separates them. */
static int chunk_row(sqlite3_stmt *st, void *ud) {
    struct cb *c = ud;
    const char *p = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    if (len < 2 || p[0] != '[' || p[len - 1] != ']')
        return 0;
    const char *end = p + len - 1;
    for (p++; p < end;) {
        const char *sep = memchr(p, '\n', (size_t)(end - p));
        const char *stop = sep ? sep - 1 : end; /* the ',' before '\n' */
        int rc = seen_before(&c->seen, p, (size_t)(stop - p))
                     ? 0
                     : osp__store_emit(c->msg, p, (size_t)(stop - p), c->ud);
        if (rc)
            return rc;
        p = sep ? sep + 1 : end;
    }
    return 0;
}

static int sqlite_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb,
                      void *ud, osp_error_t *err) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    struct cb c = {.msg = cb, .ud = ud};
    int rc = s->layout1
                 ? query(s, "SELECT data FROM data WHERE base_id = ? ORDER BY id",
                         base_id, msg_row, &c, err)
                 : query(s, "SELECT data FROM chunks WHERE base_id = ? ORDER BY id",
                         base_id, chunk_row, &c, err);
    seen_free(&c.seen);
    return rc;
}

static int trace_row(sqlite3_stmt *st, void *ud) {
    struct cb *c = ud;
    return c->trace((const char *)sqlite3_column_text(st, 0),
                    (const char *)sqlite3_column_text(st, 1), c->ud);
}

static int sqlite_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb,
                       void *ud, osp_error_t *err) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    struct cb c = {.trace = cb, .ud = ud};
    static const char *const sql[2][2] = {
        {"SELECT base_id, min(first_timestamp) AS t FROM chunks GROUP BY base_id "
         "ORDER BY t, base_id",
         "SELECT base_id, min(first_timestamp) AS t FROM chunks WHERE base_id IN "
         "(SELECT base_id FROM chunks WHERE error) GROUP BY base_id ORDER BY t, base_id"},
        {"SELECT base_id, min(timestamp) AS t FROM data GROUP BY base_id "
         "ORDER BY t, base_id",
         "SELECT base_id, min(timestamp) AS t FROM data WHERE base_id IN "
         "(SELECT base_id FROM data WHERE error) GROUP BY base_id ORDER BY t, base_id"}};
    return query(s, sql[s->layout1][error_only], NULL, trace_row, &c, err);
}

static int count_row(sqlite3_stmt *st, void *ud) {
    *(size_t *)ud = (size_t)sqlite3_column_int64(st, 0);
    return 0;
}

static int sqlite_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    sqlite_store_t *s = (sqlite_store_t *)base;
    *traces = 0;
    return query(s,
                 s->layout1 ? "SELECT count(DISTINCT base_id) FROM data"
                            : "SELECT count(DISTINCT base_id) FROM chunks",
                 NULL, count_row, traces, err);
}

const osp_store_ops_t osp_store_sqlite_ops = {
    .schemes = {"sqlite"},
    .open = sqlite_open,
    .prepare = sqlite_prepare,
    .commit = sqlite_commit,
    .get = sqlite_get,
    .list = sqlite_list,
    .count = sqlite_count,
    .close = sqlite_close,
};
