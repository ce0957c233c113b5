/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis - Python osprofiler's redis driver layout (3.4.3), so the
 * Python CLI reads what the collector stores and the other way round:
 *
 *   osprofiler_opt:<base_id>     list: LPUSH <payload json> per message, so
 *                                LRANGE 0 -1 gives the newest first
 *   osprofiler_error:<base_id>   string: {"base_id": "...", "timestamp": "..."}
 *                                (jsonutils.dumps), written when the error
 *                                index is on and info.etype is not null; the
 *                                last error wins, as Python's SET
 *   osprofiler:<base_id>...      legacy: one string key per message, read only
 *
 * and one key of ours, which none of Python's patterns (osprofiler:*,
 * osprofiler_opt:*, osprofiler_error:*) matches:
 *
 *   osprofiler_c_seen:<base_id>  set: "<strlen(trace_id)>:<trace_id> <name>"
 *                                per stored message, so a redelivered message
 *                                is not pushed twice
 *
 * put sends one EVAL per chunk of a batch, all chunks pipelined: the check
 * and the push are atomic, and a retried chunk is a no-op. It returns once
 * the server has run every chunk: durable as far as the server's own
 * persistence (appendonly, appendfsync) makes it.
 *
 * URL as redis-py's from_url reads it for the redis driver:
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?db=N&password=...], no unix
 * sockets (osprofiler picks the driver by the scheme).
 */
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/point.h"
#include "common/pyjson.h"
#include "store_impl.h"

#define NS_OPT    "osprofiler_opt:"
#define NS_ERROR  "osprofiler_error:"
#define NS_LEGACY "osprofiler:"
#define NS_SEEN   "osprofiler_c_seen:"

/* A batch is cut into EVALs of at most this many messages or bytes, so one
 * script never blocks the server for long. */
#define CHUNK_MSGS  1000
#define CHUNK_BYTES (8u << 20)

typedef struct redis_store {
    struct osp_store base;
    redisContext *c;
    bool error_index;
    double timeout;  /* seconds per reply */
    char where[300]; /* "redis at HOST:PORT", for messages */
} redis_store_t;

/* ARGV: groups of 4 - base_id, dedup member, payload, error value ('' when
 * the error index is not written). A base_id whose keys have the wrong type
 * (a key planted or left by something else) refuses its messages only, the
 * rest of the chunk is stored: retrying could never store them, and
 * retrying the whole batch stored nothing after them. Its types are checked
 * before its first write, so nothing is half stored. Returns {messages
 * new, {indexes (0-based, in the chunk) refused}, reason of the first}. */
static const char put_script[] =
    "local bad, refused, why, n = {}, {}, false, 0\n"
    "for i = 1, #ARGV, 4 do\n"
    "  local b = ARGV[i]\n"
    "  if bad[b] == nil then\n"
    "    bad[b] = false\n"
    "    for _, kt in ipairs({{'" NS_SEEN "', 'set'}, {'" NS_OPT "', 'list'}}) do\n"
    "      local t = redis.call('TYPE', kt[1] .. b).ok\n"
    "      if not bad[b] and t ~= 'none' and t ~= kt[2] then\n"
    "        bad[b] = 'WRONGTYPE ' .. kt[1] .. b .. ' is a ' .. t\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if bad[b] then\n"
    "    refused[#refused + 1] = (i - 1) / 4\n"
    "    why = why or bad[b]\n"
    "  elseif redis.call('SADD', '" NS_SEEN "' .. b, ARGV[i + 1]) == 1 then\n"
    "    redis.call('LPUSH', '" NS_OPT "' .. b, ARGV[i + 2])\n"
    "    if ARGV[i + 3] ~= '' then\n"
    "      redis.call('SET', '" NS_ERROR "' .. b, ARGV[i + 3])\n"
    "    end\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return {n, refused, why}\n";

/* --- the URL ---------------------------------------------------------------- */

struct url {
    char host[192], user[256], password[256];
    bool has_user, has_password; /* redis-py sends AUTH when either is set */
    int port, db;
    double timeout, connect_timeout; /* seconds */
};

static int hexval(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* n bytes of s into out (cap), %-decoded (and '+' as a space when plus, as
 * parse_qs). false when it does not fit. */
static bool pct_decode(const char *s, size_t n, bool plus, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return true;
}

/* Only ASCII digits, as urlparse's port and our db (no sign, no spaces). */
static bool digits(const char *s, size_t n, long max, long *v) {
    if (n == 0 || n > 9)
        return false;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (x > max)
        return false;
    *v = x;
    return true;
}

static int bad_url(osp_error_t *err, const char *what) {
    return osp__error_set(err, OSP_EINVAL, "store", 0,
                          "redis store: %s (expected "
                          "redis://[:PASSWORD@]HOST[:PORT][/DB])",
                          what);
}

/* The query arguments redis-py would use here: db (wins over the path),
 * password and username (the URL's own win), socket_timeout and
 * socket_connect_timeout. Others are ignored. */
static int parse_query(const char *q, const char *end, struct url *u, bool *db_set,
                       osp_error_t *err) {
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *e = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(e - q));
        char name[64], val[256], v2[256];
        if (eq && eq + 1 < e &&
            pct_decode(q, (size_t)(eq - q), true, name, sizeof name) &&
            pct_decode(eq + 1, (size_t)(e - eq - 1), true, v2, sizeof v2) &&
            pct_decode(v2, strlen(v2), false, val, sizeof val)) { /* unquoted twice */
            long n;
            if (strcmp(name, "db") == 0) {
                if (!digits(val, strlen(val), 1000000000L, &n))
                    return bad_url(err, "db must be a number");
                u->db = (int)n, *db_set = true;
            } else if (strcmp(name, "password") == 0 && !u->has_password) {
                snprintf(u->password, sizeof u->password, "%s", val);
                u->has_password = true;
            } else if (strcmp(name, "username") == 0 && !u->has_user) {
                snprintf(u->user, sizeof u->user, "%s", val);
                u->has_user = true;
            } else if (strcmp(name, "socket_timeout") == 0 ||
                       strcmp(name, "socket_connect_timeout") == 0) {
                char *x;
                double t = strtod(val, &x);
                if (*x || !(t > 0 && t < 1e6))
                    return bad_url(err, "bad socket timeout");
                *(name[7] == 'c' ? &u->connect_timeout : &u->timeout) = t;
            }
        }
        q = amp ? amp + 1 : end;
    }
    return OSP_OK;
}

static int parse_url(const char *url, struct url *u, osp_error_t *err) {
    memset(u, 0, sizeof *u);
    u->port = 6379;
    u->timeout = 30;
    u->connect_timeout = 5;
    const char *p = url + strlen("redis://");
    const char *frag = p + strcspn(p, "#");
    const char *end = p + strcspn(p, "/?#"); /* the netloc */
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        if (!pct_decode(p, (size_t)(uend - p), false, u->user, sizeof u->user) ||
            (colon && !pct_decode(colon + 1, (size_t)(at - colon - 1), false, u->password,
                                  sizeof u->password)))
            return bad_url(err, "user or password too long");
        u->has_user = u->user[0] != '\0';
        u->has_password = u->password[0] != '\0';
        p = at + 1;
    }
    const char *hend = end, *port = NULL;
    if (*p == '[') { /* [IPv6] */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return bad_url(err, "unterminated [ in the host");
        p++;
        hend = rb;
        port = memchr(rb, ':', (size_t)(end - rb));
        port = port ? port + 1 : NULL;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon)
            hend = colon, port = colon + 1;
    }
    if (!pct_decode(p, (size_t)(hend - p), false, u->host, sizeof u->host))
        return bad_url(err, "host too long");
    if (!u->host[0]) /* redis-py's default */
        snprintf(u->host, sizeof u->host, "localhost");
    for (char *h = u->host; *h; h++) /* urlparse's hostname is lower-case */
        *h = (char)tolower((unsigned char)*h);
    if (port && port < end) {
        long v;
        if (!digits(port, (size_t)(end - port), 65535, &v))
            return bad_url(err, "bad port");
        if (v) /* redis-py ignores port 0 */
            u->port = (int)v;
    }
    const char *qs = end + strcspn(end, "?#");
    bool db_set = false;
    if (*qs == '?') {
        int rc = parse_query(qs + 1, frag, u, &db_set, err);
        if (rc != OSP_OK)
            return rc;
    }
    if (*end == '/' && !db_set) {
        /* int(unquote(path).replace("/", "")); a path that is no number is
         * refused here (redis-py would quietly use db 0) */
        char path[64], d[64];
        size_t k = 0;
        if (!pct_decode(end, (size_t)(qs - end), false, path, sizeof path))
            return bad_url(err, "the path must be a database number");
        for (char *c = path; *c; c++)
            if (*c != '/')
                d[k++] = *c;
        long v;
        if (k && !digits(d, k, 1000000000L, &v))
            return bad_url(err, "the path must be a database number");
        u->db = k ? (int)v : 0;
    }
    return OSP_OK;
}

/* --- commands --------------------------------------------------------------- */

/* The connection failed (hiredis keeps the error: the handle stays failed,
 * its user reopens). */
static int lost(redis_store_t *s, osp_error_t *err) {
    if (s->c->err == REDIS_ERR_IO && strstr(s->c->errstr, "temporarily unavailable"))
        return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: no reply within %g s",
                              s->where, s->timeout);
    return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s", s->where,
                          s->c->errstr[0] ? s->c->errstr : "connection lost");
}

/* A server error reply as an error (server errors never echo arguments). */
static int server_error(redis_store_t *s, osp_error_t *err, const char *what,
                        const redisReply *r) {
    return osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s: %.*s", s->where, what,
                          (int)(r->len < 400 ? r->len : 400), r->str);
}

/* The reply (not an error), or NULL with err set. */
static redisReply *command(redis_store_t *s, osp_error_t *err, int argc,
                           const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
    if (!r) {
        lost(s, err);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        server_error(s, err, argv[0], r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *cmd2(redis_store_t *s, osp_error_t *err, const char *a0,
                        const char *a1, size_t a1len) {
    const char *argv[] = {a0, a1};
    size_t lens[] = {strlen(a0), a1len};
    return command(s, err, 2, argv, lens);
}

/* Send n commands (argv/lens rows of argc) and read their n replies into
 * out, in order: one round trip. On failure nothing is left in out. */
static int pipeline(redis_store_t *s, size_t n, int argc, const char *const *argv,
                    const size_t *lens, redisReply **out, osp_error_t *err) {
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(s->c, argc, (const char **)&argv[i * (size_t)argc],
                                   &lens[i * (size_t)argc]) != REDIS_OK)
            return lost(s, err);
    int rc = OSP_OK;
    size_t got = 0;
    for (; got < n; got++) {
        void *r;
        if (redisGetReply(s->c, &r) != REDIS_OK) {
            rc = lost(s, err);
            break;
        }
        out[got] = r;
    }
    for (size_t i = 0; rc == OSP_OK && i < n; i++)
        if (out[i]->type == REDIS_REPLY_ERROR)
            rc = server_error(s, err, argv[i * (size_t)argc], out[i]);
    if (rc != OSP_OK)
        for (size_t i = 0; i < got; i++) {
            freeReplyObject(out[i]);
            out[i] = NULL;
        }
    return rc;
}

/* --- open / close ----------------------------------------------------------- */

static void redis_close(osp_store_t *base) {
    redis_store_t *s = (redis_store_t *)base;
    if (s->c)
        redisFree(s->c);
    free(s);
}

static struct timeval tv_of(double sec) {
    return (struct timeval){(time_t)sec,
                            (suseconds_t)((sec - (double)(time_t)sec) * 1e6)};
}

static int authenticate(redis_store_t *s, const struct url *u, osp_error_t *err) {
    const char *argv[] = {"AUTH", u->user, u->password};
    size_t lens[] = {4, strlen(u->user), strlen(u->password)};
    redisReply *r = u->has_user
                        ? redisCommandArgv(s->c, 3, argv, lens)
                        : redisCommandArgv(s->c, 2, (const char *[]){"AUTH", u->password},
                                           (size_t[]){4, lens[2]});
    if (!r)
        return lost(s, err);
    int rc = OSP_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        /* the server does not echo the password; make sure of it */
        bool echo = u->password[0] && r->str && strstr(r->str, u->password);
        rc = osp__error_set(err, OSP_ESTORE, "store", 0, "%s: AUTH refused: %.*s",
                            s->where, echo ? 0 : (int)(r->len < 400 ? r->len : 400),
                            echo ? "" : r->str);
    }
    freeReplyObject(r);
    return rc;
}

static int redis_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    struct url u;
    int rc = parse_url(url, &u, err);
    if (rc != OSP_OK) {
        memset(&u, 0, sizeof u);
        return rc;
    }
    redis_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        memset(&u, 0, sizeof u);
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    }
    s->base.ops = &osp_store_redis_ops;
    s->error_index = (flags & OSP_STORE_WRITE) && (flags & OSP_STORE_ERROR_INDEX);
    bool v6 = strchr(u.host, ':') != NULL;
    char hostport[208];
    snprintf(hostport, sizeof hostport, "%s%s%s:%d", v6 ? "[" : "", u.host, v6 ? "]" : "",
             u.port);
    snprintf(s->where, sizeof s->where, "redis at %s", hostport);
    /* no password, ever: the user is no secret */
    snprintf(s->base.name, sizeof s->base.name, "redis://%.32s%s%s/%d", u.user,
             u.has_user ? "@" : "", hostport, u.db);
    s->c = redisConnectWithTimeout(u.host, u.port, tv_of(u.connect_timeout));
    if (!s->c || s->c->err) {
        rc = osp__error_set(err, OSP_ESTORE, "store", 0, "cannot connect to %s: %s",
                            s->where, s->c ? s->c->errstr : "out of memory");
        goto out;
    }
    s->timeout = u.timeout;
    if (redisSetTimeout(s->c, tv_of(u.timeout)) != REDIS_OK) {
        rc = lost(s, err);
        goto out;
    }
    if (u.has_user || u.has_password) {
        if ((rc = authenticate(s, &u, err)) != OSP_OK)
            goto out;
    }
    /* SELECT, or PING: a server that wants a password says so now */
    char db[16];
    snprintf(db, sizeof db, "%d", u.db);
    redisReply *r = u.db ? cmd2(s, err, "SELECT", db, strlen(db))
                         : command(s, err, 1, (const char *[]){"PING"}, (size_t[]){4});
    if (!r)
        rc = OSP_ESTORE;
    freeReplyObject(r);
out:
    memset(&u, 0, sizeof u); /* the password */
    if (rc != OSP_OK)
        redis_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

/* --- put -------------------------------------------------------------------- */

static int oom(osp_error_t *err) {
    return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
}

/* A chunk's {new, {refused...}, reason}: the refused are counted on the
 * store (osp_store_rejected), with the first reason. */
static void count_refused(redis_store_t *s, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY || !r->element[1]->elements)
        return;
    if (!s->base.rejected) {
        const redisReply *why = r->elements > 2 ? r->element[2] : NULL;
        snprintf(s->base.rejected_why, sizeof s->base.rejected_why, "%s: %.*s", s->where,
                 why && why->type == REDIS_REPLY_STRING ? (int)why->len : 0,
                 why && why->type == REDIS_REPLY_STRING ? why->str : "");
    }
    s->base.rejected += r->element[1]->elements;
}

static int redis_put(osp_store_t *base, const osp_store_msg_t *msgs, size_t n,
                     osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    /* per message 4 arguments; per chunk 3 more (EVAL script 0) */
    size_t chunks = 0, argc = 0;
    size_t *cut = calloc(n + 1, sizeof *cut); /* chunk k = msgs[cut[k], cut[k+1]) */
    /* dedup member, error value, payload when it must be rewritten */
    osp_buf_t *bufs = calloc(3 * n, sizeof *bufs);
    const char **argv = NULL;
    size_t *lens = NULL;
    redisReply **replies = NULL;
    int rc = OSP_OK;
    if (!cut || !bufs) {
        rc = oom(err);
        goto out;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || i - cut[chunks - 1] >= CHUNK_MSGS || bytes >= CHUNK_BYTES) {
            cut[chunks++] = i;
            bytes = 0;
        }
        bytes += msgs[i].len;
    }
    cut[chunks] = n;
    argc = 3 * chunks + 4 * n;
    argv = calloc(argc, sizeof *argv);
    lens = calloc(argc, sizeof *lens);
    replies = calloc(chunks, sizeof *replies);
    if (!argv || !lens || !replies) {
        rc = oom(err);
        goto out;
    }
    size_t a = 0;
    for (size_t k = 0; k < chunks; k++) {
        argv[a] = "EVAL", lens[a++] = 4;
        argv[a] = put_script, lens[a++] = sizeof put_script - 1;
        argv[a] = "0", lens[a++] = 1;
        for (size_t i = cut[k]; i < cut[k + 1]; i++) {
            const osp_store_msg_t *m = &msgs[i];
            osp_buf_t *member = &bufs[3 * i], *errv = &bufs[3 * i + 1];
            osp_buf_t *json = &bufs[3 * i + 2];
            char len[24];
            snprintf(len, sizeof len, "%zu:", strlen(m->trace_id));
            osp__buf_puts(member, len);
            osp__buf_puts(member, m->trace_id);
            osp__buf_putc(member, ' ');
            osp__buf_puts(member, m->name);
            bool index = s->error_index && m->error;
            if (index) { /* jsonutils.dumps({"base_id": ..., "timestamp": ...}) */
                osp__buf_puts(errv, "{\"base_id\": ");
                osp__pyjson_string(errv, m->base_id, strlen(m->base_id));
                osp__buf_puts(errv, ", \"timestamp\": ");
                osp__pyjson_string(errv, m->timestamp, strlen(m->timestamp));
                osp__buf_putc(errv, '}');
            }
            /* stored as readers take it: NaN and infinities null (point.h) */
            bool rewrite = osp__json_nonfinite_find(m->json, m->len) < m->len;
            if (rewrite)
                osp__json_finite_append(json, m->json, m->len);
            if (!osp__buf_cstr(member) || (index && !osp__buf_cstr(errv)) ||
                (rewrite && !osp__buf_cstr(json))) {
                rc = oom(err);
                goto out;
            }
            argv[a] = m->base_id, lens[a++] = strlen(m->base_id);
            argv[a] = member->data, lens[a++] = member->len;
            argv[a] = rewrite ? json->data : m->json;
            lens[a++] = rewrite ? json->len : m->len;
            argv[a] = index ? errv->data : "", lens[a++] = index ? errv->len : 0;
        }
    }
    /* chunks differ in argc: append each, then read every reply */
    a = 0;
    for (size_t k = 0; k < chunks; k++) {
        int c = (int)(3 + 4 * (cut[k + 1] - cut[k]));
        if (redisAppendCommandArgv(s->c, c, &argv[a], &lens[a]) != REDIS_OK) {
            rc = lost(s, err);
            goto out;
        }
        a += (size_t)c;
    }
    for (size_t k = 0; k < chunks; k++) {
        void *r;
        if (redisGetReply(s->c, &r) != REDIS_OK) {
            rc = lost(s, err);
            goto out;
        }
        replies[k] = r;
        if (rc == OSP_OK && replies[k]->type == REDIS_REPLY_ERROR)
            rc = server_error(s, err, "EVAL", replies[k]);
    }
    for (size_t k = 0; rc == OSP_OK && k < chunks; k++)
        count_refused(s, replies[k]);
out:
    for (size_t k = 0; replies && k < chunks; k++)
        if (replies[k])
            freeReplyObject(replies[k]);
    for (size_t i = 0; bufs && i < 3 * n; i++)
        osp__buf_free(&bufs[i]);
    free(replies);
    free(bufs);
    free(cut);
    free(argv);
    free(lens);
    return rc;
}

/* --- reading ---------------------------------------------------------------- */

/* For every key SCAN MATCH pattern yields, in SCAN's order (the order
 * redis-py's scan_iter yields them: COUNT only changes the page size): cb
 * with the key and the reply of "verb key [arg]" (NULL when verb is NULL).
 * The verbs of a page go in one round trip. */
typedef int (*scan_cb)(void *ud, const redisReply *key, const redisReply *r);

static int scan(redis_store_t *s, const char *pattern, const char *verb, const char *arg,
                scan_cb cb, void *ud, osp_error_t *err) {
    char cursor[32] = "0";
    int rc = OSP_OK;
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        size_t lens[6];
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        redisReply *r = command(s, err, 6, argv, lens);
        if (!r)
            return OSP_ESTORE;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return osp__error_set(err, OSP_ESTORE, "store", 0,
                                  "%s: unexpected SCAN reply", s->where);
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        size_t nk = keys->elements, argc = arg ? 3 : 2;
        redisReply **rs = NULL;
        const char **av = NULL;
        size_t *lv = NULL;
        if (verb && nk) {
            rs = calloc(nk, sizeof *rs);
            av = calloc(nk * argc, sizeof *av);
            lv = calloc(nk * argc, sizeof *lv);
            if (!rs || !av || !lv)
                rc = oom(err);
            for (size_t i = 0; rc == OSP_OK && i < nk; i++) {
                av[i * argc] = verb, lv[i * argc] = strlen(verb);
                av[i * argc + 1] = keys->element[i]->str;
                lv[i * argc + 1] = keys->element[i]->len;
                if (arg)
                    av[i * argc + 2] = arg, lv[i * argc + 2] = strlen(arg);
            }
            if (rc == OSP_OK)
                rc = pipeline(s, nk, (int)argc, av, lv, rs, err);
        }
        for (size_t i = 0; rc == OSP_OK && i < nk; i++)
            rc = cb(ud, keys->element[i], rs ? rs[i] : NULL);
        for (size_t i = 0; rs && i < nk; i++)
            if (rs[i])
                freeReplyObject(rs[i]);
        free(rs);
        free(av);
        free(lv);
        freeReplyObject(r);
    } while (rc == OSP_OK && strcmp(cursor, "0") != 0);
    return rc;
}

/* key + suffix as a NUL-terminated string in b (base_id may be long). */
static const char *key_of(osp_buf_t *b, const char *ns, const char *id, const char *tail,
                          osp_error_t *err) {
    b->len = 0;
    osp__buf_puts(b, ns);
    osp__buf_puts(b, id);
    osp__buf_puts(b, tail);
    const char *k = osp__buf_cstr(b);
    if (!k)
        oom(err);
    return k;
}

struct get_ctx {
    osp_store_msg_cb cb;
    void *ud;
};

static int get_legacy(void *ud, const redisReply *key, const redisReply *r) {
    (void)key;
    struct get_ctx *g = ud;
    /* a key deleted since SCAN saw it */
    return r->type == REDIS_REPLY_STRING ? osp__store_emit(g->cb, r->str, r->len, g->ud)
                                         : OSP_OK;
}

static int redis_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb,
                     void *ud, osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    struct get_ctx g = {cb, ud};
    osp_buf_t kb = OSP_BUF_INIT;
    /* as Python's get_report: the legacy keys in SCAN order (its pattern,
     * glob characters of base_id included), then LRANGE 0 -1 */
    const char *key = key_of(&kb, NS_LEGACY, base_id, "*", err);
    int rc = key ? scan(s, key, "GET", NULL, get_legacy, &g, err) : OSP_ENOMEM;
    if (rc == OSP_OK && !(key = key_of(&kb, NS_OPT, base_id, "", err)))
        rc = OSP_ENOMEM;
    redisReply *r = NULL;
    if (rc == OSP_OK) {
        const char *argv[] = {"LRANGE", key, "0", "-1"};
        size_t lens[] = {6, kb.len, 1, 2};
        r = command(s, err, 4, argv, lens);
        rc = r ? OSP_OK : OSP_ESTORE;
    }
    for (size_t i = 0; rc == OSP_OK && r->type == REDIS_REPLY_ARRAY && i < r->elements;
         i++)
        rc = osp__store_emit(cb, r->element[i]->str, r->element[i]->len, ud);
    freeReplyObject(r);
    osp__buf_free(&kb);
    return rc;
}

/* --- list / count ----------------------------------------------------------- */

struct entry {
    char *base_id, *timestamp;
    size_t seq; /* SCAN order: Python's sort is stable */
};

struct list_ctx {
    redis_store_t *s;
    osp_error_t *err;
    struct entry *v;
    size_t n, cap;
    bool by_lindex; /* the trace lists (LINDEX key 1), not string keys */
};

/* A top-level string member of stored JSON text, decoded (NULL: absent or not
 * a string). Python's json.loads reads what jansson would refuse (NaN), so
 * the text is not parsed into a tree. */
static char *member(const osp_jspan_t *v) {
    if (!v->text || v->len < 2 || v->text[0] != '"')
        return NULL;
    osp_jstr_t js = {v->text + 1, v->len - 2, memchr(v->text, '\\', v->len) != NULL};
    char *out = malloc(js.len + 1); /* decoding never grows the text */
    if (out)
        osp__jstr_decode(&js, out, js.len + 1);
    return out;
}

/* Add the trace of one stored text. Texts that are no JSON object with
 * string base_id and timestamp are skipped (Python's CLI would fail on
 * them). */
static int add_entry(struct list_ctx *l, const char *json, size_t len) {
    static const char *const keys[] = {"base_id", "timestamp"};
    osp_jspan_t v[2];
    if (osp__json_check(json, len, NULL) != OSP_OK ||
        osp__json_members(json, len, keys, 2, v) != 2 || v[0].text[0] != '"' ||
        v[1].text[0] != '"')
        return OSP_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct entry *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return oom(l->err);
        l->v = nv, l->cap = cap;
    }
    struct entry *e = &l->v[l->n];
    *e = (struct entry){member(&v[0]), member(&v[1]), l->n};
    if (!e->base_id || !e->timestamp) {
        free(e->base_id);
        free(e->timestamp);
        return oom(l->err);
    }
    l->n++;
    return OSP_OK;
}

static int list_key(void *ud, const redisReply *key, const redisReply *r) {
    struct list_ctx *l = ud;
    if (r->type == REDIS_REPLY_NIL && l->by_lindex) {
        /* Python reads LINDEX key 1 and fails on a one-message trace; take
         * the only message there is */
        redisReply *r0 = NULL;
        const char *argv[] = {"LINDEX", key->str, "0"};
        size_t lens[] = {6, key->len, 1};
        if (!(r0 = command(l->s, l->err, 3, argv, lens)))
            return OSP_ESTORE;
        int rc = r0->type == REDIS_REPLY_STRING ? add_entry(l, r0->str, r0->len) : OSP_OK;
        freeReplyObject(r0);
        return rc;
    }
    return r->type == REDIS_REPLY_STRING ? add_entry(l, r->str, r->len) : OSP_OK;
}

static int by_timestamp(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    int c = strcmp(x->timestamp, y->timestamp);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_base_id(const void *a, const void *b) {
    const struct entry *const *x = a, *const *y = b;
    int c = strcmp((*x)->base_id, (*y)->base_id);
    return c ? c : ((*x)->seq > (*y)->seq) - ((*x)->seq < (*y)->seq);
}

/* Python's sort by timestamp, then the first entry of each base_id: the
 * legacy list and the error list. Drops the others (base_id set to NULL). */
static int sort_unique(struct list_ctx *l) {
    if (!l->n)
        return OSP_OK;
    qsort(l->v, l->n, sizeof *l->v, by_timestamp);
    struct entry **p = malloc(l->n * sizeof *p);
    if (!p)
        return oom(l->err);
    for (size_t i = 0; i < l->n; i++) {
        l->v[i].seq = i;
        p[i] = &l->v[i];
    }
    qsort(p, l->n, sizeof *p, by_base_id);
    /* within a run of one base_id, all but the first are dropped */
    for (size_t i = 0; i < l->n;) {
        size_t j = i + 1;
        while (j < l->n && strcmp(p[j]->base_id, p[i]->base_id) == 0)
            j++;
        for (size_t k = i + 1; k < j; k++) {
            free(p[k]->base_id);
            p[k]->base_id = NULL;
        }
        i = j;
    }
    free(p);
    return OSP_OK;
}

static void free_entries(struct list_ctx *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].base_id);
        free(l->v[i].timestamp);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int emit(struct list_ctx *l, osp_store_trace_cb cb, void *ud) {
    int rc = OSP_OK;
    for (size_t i = 0; rc == OSP_OK && i < l->n; i++)
        if (l->v[i].base_id)
            rc = cb(l->v[i].base_id, l->v[i].timestamp, ud);
    return rc;
}

/* Python's _list_traces_legacy: the earliest message of each base_id. */
static int legacy_traces(redis_store_t *s, struct list_ctx *l, osp_error_t *err) {
    int rc = scan(s, NS_LEGACY "*", "GET", NULL, list_key, l, err);
    return rc == OSP_OK ? sort_unique(l) : rc;
}

static int redis_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb, void *ud,
                      osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    struct list_ctx l = {.s = s, .err = err};
    int rc;
    if (error_only) {
        /* list_error_traces: sorted by timestamp, one per base_id */
        rc = scan(s, NS_ERROR "*", "GET", NULL, list_key, &l, err);
        if (rc == OSP_OK)
            rc = sort_unique(&l);
        if (rc == OSP_OK)
            rc = emit(&l, cb, ud);
    } else {
        /* list_traces: the legacy traces, then each list in SCAN order
         * with the timestamp of LINDEX key 1 */
        rc = legacy_traces(s, &l, err);
        if (rc == OSP_OK)
            rc = emit(&l, cb, ud);
        free_entries(&l);
        l.by_lindex = true;
        if (rc == OSP_OK)
            rc = scan(s, NS_OPT "*", "LINDEX", "1", list_key, &l, err);
        if (rc == OSP_OK)
            rc = emit(&l, cb, ud);
    }
    free_entries(&l);
    return rc;
}

static int count_key(void *ud, const redisReply *key, const redisReply *r) {
    (void)key, (void)r;
    ++*(size_t *)ud;
    return OSP_OK;
}

/* The rows list_traces would give: the legacy traces and the lists. */
static int redis_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    struct list_ctx l = {.s = s, .err = err};
    size_t n = 0;
    int rc = legacy_traces(s, &l, err);
    for (size_t i = 0; rc == OSP_OK && i < l.n; i++)
        n += l.v[i].base_id != NULL;
    free_entries(&l);
    if (rc == OSP_OK)
        rc = scan(s, NS_OPT "*", NULL, NULL, count_key, &n, err);
    *traces = rc == OSP_OK ? n : 0;
    return rc;
}

const osp_store_ops_t osp_store_redis_ops = {
    .schemes = {"redis"},
    .open = redis_open,
    .put = redis_put,
    .get = redis_get,
    .list = redis_list,
    .count = redis_count,
    .close = redis_close,
};
