/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_mysql - MariaDB/MySQL in Python osprofiler's sqlalchemy layout
 * (libmariadb).
 *
 * URL as SQLAlchemy takes it: mysql[+pymysql|+mysqldb]://[USER[:PASSWORD]@]
 * [HOST][:PORT]/DB[?unix_socket=PATH&charset=utf8mb4&connect_timeout=S], user,
 * password and values percent-decoded. As the Python drivers do: with
 * unix_socket the socket; mysql+pymysql TCP otherwise (pymysql does not use
 * a socket for localhost), mysql:// and mysql+mysqldb:// libmariadb's own
 * choice (localhost is the default socket, as libmysqlclient's). Other
 * parameters are refused by name rather than ignored.
 *
 * The layout is the one table `data` Python's sqlalchemy driver creates, as
 * in store_pg.c (see there and docs/design.md): the columns popped from the
 * payload, the rest in `data` as a JSON string of jsonutils.dumps' text. On
 * MariaDB the JSON column is LONGTEXT with a json_valid CHECK; the table
 * takes the database's character set, as create_all's does.
 *
 * Writes: one transaction per batch, multi-row INSERT statements of about
 * 1 MiB each (measured in docs/benchmarks.md). The text is escaped here (no
 * connection at prepare), so the session's sql_mode is made to take
 * backslash escapes. A point the table cannot hold is refused alone, as in
 * the PostgreSQL store, and so is one whose statement is longer than the
 * server's max_allowed_packet.
 *
 * Reads stream (mysql_use_result): memory holds one row at a time.
 * Python's SELECTs have no ORDER BY; InnoDB answers them in primary-key
 * order (the base_id index's equal keys are ordered by id, a full scan is
 * the clustered index), so ours say ORDER BY id.
 */
#include <errmsg.h>
#include <mysql.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/point.h"
#include "common/pyjson.h"
#include "sql_layout.h"
#include "store_impl.h"

typedef struct my_store {
    struct osp_store base;
    MYSQL *conn; /* NULL while disconnected */
    char *host, *user, *password, *db, *socket;
    unsigned port, connect_timeout;
    bool tcp; /* force TCP (pymysql's behaviour) */
    bool writer;
    bool table; /* `data` exists (a reader finds no trace without it) */
    unsigned long max_packet;
} my_store_t;

/* The sqlalchemy driver's Table("data", ...) as create_all makes it on
 * MariaDB, its indexes inline: one statement, so competing collectors
 * creating it at once need no lock. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS data (id INTEGER NOT NULL AUTO_INCREMENT,"
    " timestamp VARCHAR(26), base_id VARCHAR(255), parent_id VARCHAR(255),"
    " trace_id VARCHAR(255), project VARCHAR(255), host VARCHAR(255),"
    " service VARCHAR(255), name VARCHAR(255), data JSON, PRIMARY KEY (id),"
    " INDEX ix_data_timestamp (timestamp), INDEX ix_data_base_id (base_id),"
    " INDEX ix_data_parent_id (parent_id), INDEX ix_data_trace_id (trace_id),"
    " INDEX ix_data_project (project), INDEX ix_data_host (host),"
    " INDEX ix_data_service (service), INDEX ix_data_name (name))";

/* An INSERT is cut after the row that takes it past this. */
#define STATEMENT_TARGET (1u << 20)

/* --- connection ------------------------------------------------------------- */

/* A server message on one line, without the password (the server does not
 * quote it, but a message may hold anything a client sent). */
static int fail(my_store_t *s, osp_error_t *err, const char *what) {
    char why[300];
    snprintf(why, sizeof why, "%s", s->conn ? mysql_error(s->conn) : "not connected");
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\t' || *p == '\r')
            *p = ' ';
    if (s->password && *s->password)
        for (char *p; (p = strstr(why, s->password));)
            memset(p, '*', strlen(s->password));
    unsigned no = s->conn ? mysql_errno(s->conn) : CR_SERVER_LOST;
    if (no >= CR_MIN_ERROR && no <= CR_MAX_ERROR) { /* the connection is gone */
        mysql_close(s->conn);
        s->conn = NULL;
    }
    return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s: %s", s->base.name, what,
                          why);
}

static void wipe_free(char *p) {
    if (p) {
        memset(p, 0, strlen(p));
        free(p);
    }
}

static void my_close(osp_store_t *base) {
    my_store_t *s = (my_store_t *)base;
    if (s->conn)
        mysql_close(s->conn);
    wipe_free(s->password);
    free(s->host);
    free(s->user);
    free(s->db);
    free(s->socket);
    free(s);
}

static int exec(my_store_t *s, const char *sql, const char *what, osp_error_t *err) {
    if (mysql_query(s->conn, sql))
        return fail(s, err, what);
    MYSQL_RES *r = mysql_store_result(s->conn); /* a statement's rows, dropped */
    if (!r && mysql_field_count(s->conn))
        return fail(s, err, what);
    mysql_free_result(r);
    return OSP_OK;
}

/* One row of one column from sql into out (NULL: empty). */
static int scalar(my_store_t *s, const char *sql, char *out, size_t cap,
                  osp_error_t *err) {
    if (mysql_query(s->conn, sql))
        return fail(s, err, "cannot query");
    MYSQL_RES *r = mysql_store_result(s->conn);
    if (!r)
        return fail(s, err, "cannot query");
    MYSQL_ROW row = mysql_fetch_row(r);
    snprintf(out, cap, "%s", row && row[0] ? row[0] : "");
    mysql_free_result(r);
    return OSP_OK;
}

/* mysql_init runs mysql_library_init the first time, which is not safe to
 * run from two threads at once (stores may open in several). */
static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static void library_init(void) { mysql_library_init(0, NULL, NULL); }

static int connect_server(my_store_t *s, osp_error_t *err) {
    pthread_once(&library_once, library_init);
    s->conn = mysql_init(NULL);
    if (!s->conn)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    /* a server that stops answering is a failed commit, not a hung writer */
    unsigned io_timeout = 60, proto = MYSQL_PROTOCOL_TCP;
    unsigned long packet = 64ul << 20;
    mysql_optionsv(s->conn, MYSQL_OPT_CONNECT_TIMEOUT, &s->connect_timeout);
    mysql_optionsv(s->conn, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(s->conn, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(s->conn, MYSQL_OPT_MAX_ALLOWED_PACKET, &packet);
    mysql_optionsv(s->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4"); /* our JSON's text */
    if (s->tcp && !s->socket)
        mysql_optionsv(s->conn, MYSQL_OPT_PROTOCOL, &proto);
    if (!mysql_real_connect(s->conn, s->host, s->user, s->password, s->db, s->port,
                            s->socket, 0))
        return fail(s, err, "cannot connect");
    /* prepare escapes with backslashes; and a value too long must fail, not
     * be cut (strict), though we refuse those before */
    char v[32];
    int rc = exec(s,
                  "SET SESSION sql_mode = CONCAT_WS(',', REPLACE(@@sql_mode, "
                  "'NO_BACKSLASH_ESCAPES', ''), 'STRICT_TRANS_TABLES')",
                  "cannot set sql_mode", err);
    if (rc == OSP_OK)
        rc = scalar(s, "SELECT @@max_allowed_packet", v, sizeof v, err);
    if (rc == OSP_OK)
        s->max_packet = strtoul(v, NULL, 10);
    return rc;
}

/* A connection that failed (the server restarted, or is down a while) is
 * made again at the next commit or read: the writer retries with backoff. */
static int ensure_connected(my_store_t *s, osp_error_t *err) {
    return s->conn ? OSP_OK : connect_server(s, err);
}

/* --- URL -------------------------------------------------------------------- */

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* [p, p+n) percent-decoded (SQLAlchemy unquotes user, password, database
 * and query values; '+' stays), or NULL for a bad escape or a NUL. */
static char *decode(const char *p, size_t n) {
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        if (p[i] != '%') {
            *o++ = p[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(p[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(p[i + 2]) : -1;
        hi = hi < 0 || lo < 0 || (hi == 0 && lo == 0) ? -1 : hi * 16 + lo;
        if (hi < 0) {
            free(out);
            return NULL;
        }
        *o++ = (char)hi;
        i += 2;
    }
    if (out)
        *o = '\0';
    return out;
}

static int bad_url(const char *scheme, const char *why, osp_error_t *err) {
    return osp__error_set(
        err, OSP_EINVAL, "store", 0,
        "%s store: not a valid connection string (expected "
        "%s://[USER[:PASSWORD]@][HOST][:PORT]/DB[?unix_socket=PATH]): %s",
        scheme, scheme, why);
}

/* key=value of the query string; the ones the Python drivers take that
 * mean something here. */
static int parse_param(my_store_t *s, const char *scheme, const char *kv, size_t n,
                       osp_error_t *err) {
    const char *eq = memchr(kv, '=', n);
    size_t klen = eq ? (size_t)(eq - kv) : n;
    char *v = eq ? decode(eq + 1, n - klen - 1) : NULL;
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int)(klen < 31 ? klen : 31), kv);
    int rc = OSP_OK;
    char *end = NULL;
    if (!v)
        rc = bad_url(scheme, "a parameter without a value or with a bad %-escape", err);
    else if (!strcmp(key, "unix_socket") && *v && !s->socket) {
        s->socket = v;
        v = NULL;
    } else if (!strcmp(key, "charset")) {
        /* ours is utf8mb4 whatever: the JSON text holds any character */
        if (strcmp(v, "utf8mb4") && strcmp(v, "utf8"))
            rc = osp__error_set(err, OSP_EINVAL, "store", 0,
                                "%s store: charset=%.32s: only utf8mb4 (or utf8) is "
                                "supported",
                                scheme, v);
    } else if (!strcmp(key, "connect_timeout")) {
        unsigned long t = strtoul(v, &end, 10);
        if (!*v || *end || t == 0 || t > 3600)
            rc = bad_url(scheme, "connect_timeout is not 1..3600 seconds", err);
        s->connect_timeout = (unsigned)t;
    } else
        rc = osp__error_set(err, OSP_EINVAL, "store", 0,
                            "%s store: parameter %s is not supported (unix_socket, "
                            "charset and connect_timeout are)",
                            scheme, key);
    wipe_free(v);
    return rc;
}

static int parse_url(my_store_t *s, const char *scheme, const char *rest,
                     osp_error_t *err) {
    const char *slash = strchr(rest, '/');
    const char *q = strchr(rest, '?');
    if (!slash || (q && q < slash))
        return bad_url(scheme, "no /DB", err);
    const char *at = memrchr(rest, '@', (size_t)(slash - rest));
    const char *hp = at ? at + 1 : rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t ul = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        s->user = decode(rest, ul);
        if (colon)
            s->password = decode(colon + 1, (size_t)(at - colon - 1));
        if (!s->user || (colon && !s->password))
            return bad_url(scheme, "a bad %-escape in USER:PASSWORD", err);
    }
    /* HOST[:PORT], HOST an IPv6 address in brackets */
    const char *hend = slash, *port = NULL;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(slash - hp));
        if (!rb || (rb + 1 != slash && rb[1] != ':'))
            return bad_url(scheme, "an unclosed [ in HOST", err);
        s->host = strndup(hp + 1, (size_t)(rb - hp - 1));
        port = rb + 1 != slash ? rb + 2 : NULL;
    } else {
        const char *colon = memchr(hp, ':', (size_t)(slash - hp));
        hend = colon ? colon : slash;
        s->host = strndup(hp, (size_t)(hend - hp));
        port = colon ? colon + 1 : NULL;
    }
    if (port) {
        char *end;
        unsigned long p = strtoul(port, &end, 10);
        if (end != slash || p == 0 || p > 65535)
            return bad_url(scheme, "PORT is not 1..65535", err);
        s->port = (unsigned)p;
    }
    const char *dend = q ? q : slash + strlen(slash);
    s->db = decode(slash + 1, (size_t)(dend - slash - 1));
    if (!s->host || !s->db)
        return bad_url(scheme, "a bad %-escape in DB", err);
    if (!*s->db)
        return bad_url(scheme, "no DB", err);
    if (!*s->host) { /* SQLAlchemy's default */
        free(s->host);
        s->host = strdup("localhost");
    }
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n && parse_param(s, scheme, p, n, err) != OSP_OK)
            return OSP_EINVAL;
        p += n + (p[n] == '&');
    }
    return s->host ? OSP_OK
                   : osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
}

static int open_for_writing(my_store_t *s, osp_error_t *err) {
    int rc = exec(s, schema, "cannot create the data table", err);
    if (rc == OSP_OK) /* a `data` of another layout: say so now */
        rc = exec(s, "SELECT " OSP_SQL_COLUMNS " FROM data LIMIT 0",
                  "the data table is not Python osprofiler's sqlalchemy layout", err);
    return rc;
}

static int my_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    const char *rest = strstr(url, "://") + 3;
    const char *scheme = strncmp(url, "mysql+pymysql:", 14) == 0   ? "mysql+pymysql"
                         : strncmp(url, "mysql+mysqldb:", 14) == 0 ? "mysql+mysqldb"
                                                                   : "mysql";
    my_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    s->base.ops = &osp_store_mysql_ops;
    s->writer = flags & OSP_STORE_WRITE;
    s->tcp = !strcmp(scheme, "mysql+pymysql");
    s->connect_timeout = 10;
    int rc = parse_url(s, scheme, rest, err);
    if (rc != OSP_OK)
        goto out;
    char port[12] = "";
    if (s->port)
        snprintf(port, sizeof port, ":%u", s->port);
    bool v6 = strchr(s->host, ':');
    snprintf(s->base.name, sizeof s->base.name, "%s://%.40s%s%s%.64s%s%s/%.40s%s%.80s",
             scheme, s->user ? s->user : "", s->user ? "@" : "", v6 ? "[" : "", s->host,
             v6 ? "]" : "", port, s->db, s->socket ? "?unix_socket=" : "",
             s->socket ? s->socket : "");
    rc = connect_server(s, err);
    char v[8];
    if (rc == OSP_OK)
        rc = scalar(s,
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                    "DATABASE() AND table_name = 'data'",
                    v, sizeof v, err);
    s->table = rc == OSP_OK && v[0] != '0';
    if (rc == OSP_OK && s->writer)
        rc = open_for_writing(s, err);
    s->table |= s->writer;
out:
    if (rc != OSP_OK)
        my_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

/* --- write ------------------------------------------------------------------ */

/* A quoted SQL string as mysql_real_escape_string makes it for utf8mb4
 * (whose multi-byte characters hold no ASCII byte), or NULL. */
static void sql_string(osp_buf_t *t, const char *v, size_t len) {
    if (!v) {
        osp__buf_puts(t, "NULL");
        return;
    }
    osp__buf_putc(t, '\'');
    for (size_t i = 0, from = 0; i <= len; i++) {
        char c = i < len ? v[i] : 'x'; /* x: the end, nothing to escape */
        const char *esc = c == '\\'     ? "\\\\"
                          : c == '\''   ? "\\'"
                          : c == '"'    ? "\\\""
                          : c == '\n'   ? "\\n"
                          : c == '\r'   ? "\\r"
                          : c == '\032' ? "\\Z"
                          : c == '\0'   ? "\\0"
                                        : NULL;
        if (!esc && i < len)
            continue;
        osp__buf_append(t, v + from, i - from);
        if (esc)
            osp__buf_append(t, esc, 2);
        from = i + 1;
    }
    osp__buf_putc(t, '\'');
}

/* Refusal reasons (a row's `error` when its `points` is 0). */
/* Refusal reasons past sql_layout.h's (a row's `error`). */
#define REFUSED_PACKET 4
static const char *refusal(int why) {
    return why == REFUSED_PACKET ? "longer than the server's max_allowed_packet"
                                 : osp__sql_refusal[why];
}

/* The batch's text: INSERT statements one after another; rows[i].text and
 * .len the statement row i is in, the first row of a statement having
 * len != 0 (the others 0). */
static int my_prepare(osp_store_batch_t *b, osp_error_t *err) {
    if (osp__store_batch_reset(b, b->n, err) != OSP_OK)
        return OSP_ENOMEM;
    static const char head[] = "INSERT INTO data (" OSP_SQL_COLUMNS ") VALUES ";
    osp_buf_t tmp[2] = {OSP_BUF_INIT, OSP_BUF_INIT};
    size_t start = 0, first = 0; /* the open statement, its first row */
    bool open = false;
    for (size_t i = 0; i < b->n; i++) {
        size_t at = b->text.len;
        osp__buf_puts(&b->text, open ? "," : head);
        int r =
            osp__sql_row_encode(&b->text, tmp, &b->msgs[i], sql_string, "(", ',', ")");
        b->rows[i] = (osp_store_row_t){.points = r > 0, .error = r > 0 ? 0 : -r};
        if (r <= 0) { /* not in the text */
            b->text.len = at;
            continue;
        }
        if (!open) {
            start = at;
            first = i;
            open = true;
        }
        b->rows[first].text = start;
        b->rows[first].len = b->text.len - start;
        if (b->text.len - start >= STATEMENT_TARGET)
            open = false;
    }
    b->nrows = b->n;
    bool failed = b->text.failed || tmp[0].failed || tmp[1].failed;
    osp__buf_free(&tmp[0]);
    osp__buf_free(&tmp[1]);
    return failed ? osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory") : OSP_OK;
}

/* A statement longer than max_allowed_packet would fail (and close the
 * connection) for ever: a statement of one row is refused alone; one of
 * several is cut when the server allows less than STATEMENT_TARGET. */
static int insert_all(my_store_t *s, osp_store_batch_t *b, osp_error_t *err) {
    for (size_t i = 0; i < b->nrows; i++) {
        osp_store_row_t *r = &b->rows[i];
        if (!r->points || !r->len)
            continue;
        size_t live = 1; /* rows in its statement */
        for (size_t k = i + 1; k < b->nrows && !b->rows[k].len; k++)
            live += b->rows[k].points;
        if (r->len + 64 > s->max_packet) {
            if (live > 1)
                return osp__error_set(err, OSP_ESTORE, "store", 0,
                                      "%s: the server's max_allowed_packet (%lu) is "
                                      "below 2 MiB: raise it",
                                      s->base.name, s->max_packet);
            r->points = 0;
            r->error = REFUSED_PACKET;
            continue;
        }
        if (mysql_real_query(s->conn, b->text.data + r->text, r->len))
            return fail(s, err, "cannot insert");
    }
    return OSP_OK;
}

static int my_commit(osp_store_t *base, osp_store_batch_t *b, osp_error_t *err) {
    my_store_t *s = (my_store_t *)base;
    if (!s->writer)
        return osp__error_set(err, OSP_EINVAL, "store", 0, "%s: opened read-only",
                              s->base.name);
    int rc = ensure_connected(s, err);
    if (rc == OSP_OK)
        rc = exec(s, "START TRANSACTION", "cannot begin a transaction", err);
    if (rc == OSP_OK)
        rc = insert_all(s, b, err);
    if (rc == OSP_OK)
        rc = exec(s, "COMMIT", "cannot commit", err);
    else if (s->conn)
        mysql_query(s->conn, "ROLLBACK");
    size_t refused = 0;
    s->base.rejected_why[0] = '\0';
    for (size_t i = 0; i < b->nrows && rc == OSP_OK; i++)
        if (!b->rows[i].points && refused++ == 0)
            snprintf(s->base.rejected_why, sizeof s->base.rejected_why,
                     "trace point %.64s of %.64s: %s", b->msgs[i].trace_id,
                     b->msgs[i].base_id, refusal(b->rows[i].error));
    s->base.rejected = refused;
    return rc;
}

/* --- read ------------------------------------------------------------------- */

/* Runs sql, rows streamed to row() one at a time. A non-zero return from
 * row stops the callbacks; the rest of the result is read and dropped. */
static int query(my_store_t *s, const char *sql,
                 int (*row)(MYSQL_ROW r, unsigned long *len, void *ud), void *ud,
                 osp_error_t *err) {
    if (ensure_connected(s, err) != OSP_OK)
        return OSP_ESTORE;
    if (mysql_query(s->conn, sql))
        return fail(s, err, "cannot read (is `data` Python osprofiler's layout?)");
    MYSQL_RES *r = mysql_use_result(s->conn);
    if (!r)
        return fail(s, err, "cannot read");
    int ret = OSP_OK;
    MYSQL_ROW v;
    while ((v = mysql_fetch_row(r)))
        if (ret == OSP_OK)
            ret = row(v, mysql_fetch_lengths(r), ud);
    if (ret == OSP_OK && mysql_errno(s->conn))
        ret = fail(s, err, "cannot read");
    mysql_free_result(r);
    return ret;
}

struct cb {
    osp_store_msg_cb msg;
    osp_store_trace_cb trace;
    void *ud;
    osp_buf_t row;
};

static int msg_row(MYSQL_ROW r, unsigned long *len, void *ud) {
    struct cb *c = ud;
    size_t n[OSP_SQL_N];
    for (int k = 0; k < OSP_SQL_N; k++)
        n[k] = len[k];
    osp__sql_report_row(&c->row, (const char *const *)r, n);
    return c->row.failed ? OSP_ENOMEM
                         : osp__store_emit(c->msg, c->row.data, c->row.len, c->ud);
}

static int my_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb, void *ud,
                  osp_error_t *err) {
    my_store_t *s = (my_store_t *)base;
    if (!s->table)
        return OSP_OK;
    if (ensure_connected(s, err) != OSP_OK)
        return OSP_ESTORE;
    osp_buf_t sql = OSP_BUF_INIT;
    osp__buf_puts(&sql, "SELECT " OSP_SQL_COLUMNS " FROM data WHERE base_id = ");
    sql_string(&sql, base_id, strlen(base_id));
    osp__buf_puts(&sql, " ORDER BY id");
    struct cb c = {.msg = cb, .ud = ud, .row = OSP_BUF_INIT};
    int rc = osp__buf_cstr(&sql)
                 ? query(s, sql.data, msg_row, &c, err)
                 : osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    osp__buf_free(&c.row);
    osp__buf_free(&sql);
    return rc;
}

static int trace_row(MYSQL_ROW r, unsigned long *len, void *ud) {
    (void)len;
    struct cb *c = ud;
    return c->trace(r[0], r[1] ? r[1] : "None", c->ud);
}

static int my_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb, void *ud,
                   osp_error_t *err) {
    my_store_t *s = (my_store_t *)base;
    if (error_only)
        return osp__error_set(err, OSP_EINVAL, "store", 0,
                              "%s: --error-trace needs an error index, which Python "
                              "osprofiler's sqlalchemy layout does not have (its driver "
                              "does not implement list_error_traces either)",
                              s->base.name);
    if (!s->table)
        return OSP_OK;
    struct cb c = {.trace = cb, .ud = ud};
    /* list_traces: each trace once (Python's set: byte for byte, not the
     * collation's equality), with the timestamp of its first row in id
     * order, in that order */
    return query(
        s,
        "SELECT d.base_id, d.timestamp FROM data d JOIN (SELECT MIN(id) AS id "
        "FROM data WHERE base_id IS NOT NULL GROUP BY CAST(base_id AS BINARY)) f "
        "ON d.id = f.id ORDER BY d.id",
        trace_row, &c, err);
}

static int count_row(MYSQL_ROW r, unsigned long *len, void *ud) {
    (void)len;
    *(size_t *)ud = strtoull(r[0] ? r[0] : "0", NULL, 10);
    return 0;
}

static int my_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    my_store_t *s = (my_store_t *)base;
    *traces = 0;
    return s->table ? query(s, "SELECT count(DISTINCT CAST(base_id AS BINARY)) FROM data",
                            count_row, traces, err)
                    : OSP_OK;
}

const osp_store_ops_t osp_store_mysql_ops = {
    .schemes = {"mysql", "mysql+pymysql", "mysql+mysqldb"},
    .rows = true,
    .open = my_open,
    .prepare = my_prepare,
    .commit = my_commit,
    .get = my_get,
    .list = my_list,
    .count = my_count,
    .close = my_close,
};
