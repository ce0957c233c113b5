/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis - Python osprofiler's redis driver layout (3.4.3), so the
 * Python CLI reads what the collector stores and the other way round:
 *
 *   LPUSH osprofiler_opt:<base_id> <payload json>    one list per trace
 *   SET   osprofiler_error:<base_id> {"base_id": ..., "timestamp": ...}
 *                                                    error index (filter_error_trace)
 *   osprofiler:<base_id>...                          legacy keys, read only
 *
 * and one key Python never reads: SADD osprofiler_c_seen:<base_id>
 * "<trace_id> <name>", which makes a redelivered message a no-op. A batch is
 * one EVAL, so the check and the push are atomic.
 *
 * URL as redis-py's from_url: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB].
 */
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/pyjson.h"
#include "store_impl.h"

typedef struct redis_store {
    struct osp_store base;
    redisContext *c;
    bool error_index;
} redis_store_t;

/* KEYS: none (the keys depend on each message). ARGV: groups of 5 -
 * base_id, dedup member, payload, "1" when the error index is written,
 * error value. */
static const char put_script[] =
    "for i = 1, #ARGV, 5 do\n"
    "  local b = ARGV[i]\n"
    "  if redis.call('SADD', 'osprofiler_c_seen:' .. b, ARGV[i + 1]) == 1 then\n"
    "    redis.call('LPUSH', 'osprofiler_opt:' .. b, ARGV[i + 2])\n"
    "    if ARGV[i + 3] == '1' then\n"
    "      redis.call('SET', 'osprofiler_error:' .. b, ARGV[i + 4])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return #ARGV / 5\n";

struct url {
    char host[200], user[256], password[256];
    int port, db;
};

static int hexval(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Copy n bytes of s into out (cap), %-decoded. false when it does not fit. */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return true;
}

static int parse_url(const char *url, struct url *u, osp_error_t *err) {
    memset(u, 0, sizeof *u);
    u->port = 6379;
    const char *p = url + strlen("redis://");
    const char *end = p + strcspn(p, "/?#");
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        if (!pct_decode(p, (size_t)(uend - p), u->user, sizeof u->user) ||
            (colon && !pct_decode(colon + 1, (size_t)(at - colon - 1), u->password,
                                  sizeof u->password)))
            return osp__error_set(err, OSP_EINVAL, "store", 0,
                                  "redis store: user or password too long");
        p = at + 1;
    }
    const char *hend = end, *port = NULL;
    if (*p == '[') { /* [IPv6] */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return osp__error_set(err, OSP_EINVAL, "store", 0,
                                  "redis store: unterminated [ in the host");
        p++;
        hend = rb;
        port = rb[1] == ':' ? rb + 2 : NULL;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon)
            hend = colon, port = colon + 1;
    }
    if (hend == p || (size_t)(hend - p) >= sizeof u->host)
        return osp__error_set(
            err, OSP_EINVAL, "store", 0,
            "redis store: expected redis://[:PASSWORD@]HOST[:PORT][/DB]");
    memcpy(u->host, p, (size_t)(hend - p));
    if (port) {
        char *e;
        long v = strtol(port, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return osp__error_set(err, OSP_EINVAL, "store", 0, "redis store: bad port");
        u->port = (int)v;
    }
    if (*end == '/' && end[1] && end[1] != '?' && end[1] != '#') {
        char *e;
        long v = strtol(end + 1, &e, 10);
        if ((*e && *e != '?' && *e != '#') || v < 0 || v > 1000000)
            return osp__error_set(err, OSP_EINVAL, "store", 0,
                                  "redis store: the path must be a database number");
        u->db = (int)v;
    }
    return OSP_OK;
}

/* The reply, or NULL with err set (connection lost, server error). */
static redisReply *command(redis_store_t *s, osp_error_t *err, int argc,
                           const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
    if (!r) {
        osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s", s->base.name,
                       s->c->errstr[0] ? s->c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* server errors never echo an AUTH password */
        osp__error_set(err, OSP_ESTORE, "store", 0, "%s: %s %s", s->base.name, argv[0],
                       r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *cmd(redis_store_t *s, osp_error_t *err, const char *a0, const char *a1,
                       const char *a2) {
    const char *argv[] = {a0, a1, a2};
    size_t lens[] = {strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0};
    return command(s, err, a2 ? 3 : a1 ? 2 : 1, argv, lens);
}

static void redis_close(osp_store_t *base) {
    redis_store_t *s = (redis_store_t *)base;
    if (s->c)
        redisFree(s->c);
    free(s);
}

static int redis_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    struct url u;
    int rc = parse_url(url, &u, err);
    if (rc != OSP_OK)
        return rc;
    redis_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    s->base.ops = &osp_store_redis_ops;
    s->error_index = flags & OSP_STORE_ERROR_INDEX;
    snprintf(s->base.name, sizeof s->base.name, "redis://%s%s%s:%d/%d",
             strchr(u.host, ':') ? "[" : "", u.host, strchr(u.host, ':') ? "]" : "",
             u.port, u.db);
    struct timeval tv = {5, 0};
    s->c = redisConnectWithTimeout(u.host, u.port, tv);
    if (!s->c || s->c->err) {
        rc = osp__error_set(err, OSP_ESTORE, "store", 0, "cannot connect to %s: %s",
                            s->base.name, s->c ? s->c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(s->c, tv);
    redisReply *r = NULL;
    if (u.password[0]) {
        const char *argv[] = {"AUTH", u.user, u.password};
        size_t lens[] = {4, strlen(u.user), strlen(u.password)};
        r = u.user[0] ? command(s, err, 3, argv, lens)
                      : command(s, err, 2, (const char *[]){"AUTH", u.password},
                                (size_t[]){4, strlen(u.password)});
        if (!r) {
            rc = OSP_ESTORE;
            goto out;
        }
        freeReplyObject(r);
    }
    char db[16];
    snprintf(db, sizeof db, "%d", u.db);
    if (u.db && !(r = cmd(s, err, "SELECT", db, NULL))) {
        rc = OSP_ESTORE;
        goto out;
    }
    if (r)
        freeReplyObject(r);
out:
    memset(&u, 0, sizeof u); /* the password */
    if (rc != OSP_OK)
        redis_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

static int redis_put(osp_store_t *base, const osp_store_msg_t *msgs, size_t n,
                     osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    size_t argc = 3 + 5 * n;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    osp_buf_t *bufs = calloc(2 * n, sizeof *bufs); /* dedup member, error value */
    int rc = OSP_ENOMEM;
    if (!argv || !lens || !bufs)
        goto out;
    argv[0] = "EVAL", argv[1] = put_script, argv[2] = "0";
    for (size_t i = 0; i < n; i++) {
        const osp_store_msg_t *m = &msgs[i];
        osp_buf_t *member = &bufs[2 * i], *errv = &bufs[2 * i + 1];
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
        if (!osp__buf_cstr(member) || (index && !osp__buf_cstr(errv)))
            goto out;
        const char **a = &argv[3 + 5 * i];
        size_t *l = &lens[3 + 5 * i];
        a[0] = m->base_id, l[0] = strlen(m->base_id);
        a[1] = member->data, l[1] = member->len;
        a[2] = m->json, l[2] = m->len;
        a[3] = index ? "1" : "0", l[3] = 1;
        a[4] = index ? errv->data : "", l[4] = index ? errv->len : 0;
    }
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = command(s, err, (int)argc, argv, lens);
    rc = r ? OSP_OK : OSP_ESTORE;
    if (r)
        freeReplyObject(r);
out:
    if (rc == OSP_ENOMEM)
        osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    for (size_t i = 0; bufs && i < 2 * n; i++)
        osp__buf_free(&bufs[i]);
    free(bufs);
    free(argv);
    free(lens);
    return rc;
}

/* SCAN MATCH pattern: every key, each passed to cb. */
static int scan(redis_store_t *s, const char *pattern,
                int (*cb)(const char *key, void *ud), void *ud, osp_error_t *err) {
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        size_t lens[6];
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        redisReply *r = command(s, err, 6, argv, lens);
        if (!r)
            return OSP_ESTORE;
        int rc = OSP_OK;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            rc = osp__error_set(err, OSP_ESTORE, "store", 0, "%s: unexpected SCAN reply",
                                s->base.name);
        } else {
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            for (size_t i = 0; rc == OSP_OK && i < r->element[1]->elements; i++)
                rc = cb(r->element[1]->element[i]->str, ud);
        }
        freeReplyObject(r);
        if (rc != OSP_OK)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    return OSP_OK;
}

struct get_ctx {
    redis_store_t *s;
    osp_store_msg_cb cb;
    void *ud;
    osp_error_t *err;
};

static int get_legacy(const char *key, void *ud) {
    struct get_ctx *g = ud;
    redisReply *r = cmd(g->s, g->err, "GET", key, NULL);
    if (!r)
        return OSP_ESTORE;
    int rc = r->type == REDIS_REPLY_STRING ? g->cb(r->str, r->len, g->ud) : 0;
    freeReplyObject(r);
    return rc;
}

static int redis_get(osp_store_t *base, const char *base_id, osp_store_msg_cb cb,
                     void *ud, osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    struct get_ctx g = {s, cb, ud, err};
    char key[512];
    /* as Python's get_report: legacy keys first, then the list as LRANGE
     * returns it (newest first, since notify LPUSHes) */
    snprintf(key, sizeof key, "osprofiler:%s*", base_id);
    int rc = scan(s, key, get_legacy, &g, err);
    if (rc != OSP_OK)
        return rc;
    snprintf(key, sizeof key, "osprofiler_opt:%s", base_id);
    const char *argv[] = {"LRANGE", key, "0", "-1"};
    size_t lens[] = {6, strlen(key), 1, 2};
    redisReply *r = command(s, err, 4, argv, lens);
    if (!r)
        return OSP_ESTORE;
    for (size_t i = 0; rc == OSP_OK && r->type == REDIS_REPLY_ARRAY && i < r->elements;
         i++)
        rc = cb(r->element[i]->str, r->element[i]->len, ud);
    freeReplyObject(r);
    return rc;
}

/* One trace of a listing: base_id and timestamp from a stored JSON text. */
struct entry {
    char *base_id, *timestamp;
};

struct list_ctx {
    redis_store_t *s;
    osp_error_t *err;
    struct entry *v;
    size_t n, cap;
    bool lindex; /* value from LINDEX key 1 (traces) or GET (error index) */
};

static int add_entry(struct list_ctx *l, const char *json, size_t len) {
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *b = json_string_value(json_object_get(o, "base_id"));
    const char *t = json_string_value(json_object_get(o, "timestamp"));
    int rc = OSP_OK;
    if (b && t) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 64;
            struct entry *v = realloc(l->v, cap * sizeof *v);
            if (!v)
                rc = OSP_ENOMEM;
            else
                l->v = v, l->cap = cap;
        }
        if (rc == OSP_OK) {
            l->v[l->n] = (struct entry){strdup(b), strdup(t)};
            l->n++;
        }
    }
    json_decref(o);
    return rc;
}

static int list_key(const char *key, void *ud) {
    struct list_ctx *l = ud;
    redisReply *r;
    if (l->lindex) {
        /* Python reads LINDEX key 1 and fails on a one-message trace;
         * fall back to the only message there is */
        r = cmd(l->s, l->err, "LINDEX", key, "1");
        if (r && r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            r = cmd(l->s, l->err, "LINDEX", key, "0");
        }
    } else {
        r = cmd(l->s, l->err, "GET", key, NULL);
    }
    if (!r)
        return OSP_ESTORE;
    int rc = r->type == REDIS_REPLY_STRING ? add_entry(l, r->str, r->len) : OSP_OK;
    freeReplyObject(r);
    return rc;
}

static int by_timestamp(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    int c = strcmp(x->timestamp, y->timestamp);
    return c ? c : strcmp(x->base_id, y->base_id);
}

static int redis_list(osp_store_t *base, bool error_only, osp_store_trace_cb cb, void *ud,
                      osp_error_t *err) {
    redis_store_t *s = (redis_store_t *)base;
    struct list_ctx l = {.s = s, .err = err, .lindex = !error_only};
    int rc = scan(s, error_only ? "osprofiler_error:*" : "osprofiler_opt:*", list_key, &l,
                  err);
    /* SCAN order is arbitrary: oldest first, as Python sorts the error list */
    if (rc == OSP_OK && l.n)
        qsort(l.v, l.n, sizeof *l.v, by_timestamp);
    for (size_t i = 0; rc == OSP_OK && i < l.n; i++)
        if (l.v[i].base_id && l.v[i].timestamp)
            rc = cb(l.v[i].base_id, l.v[i].timestamp, ud);
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i].base_id);
        free(l.v[i].timestamp);
    }
    free(l.v);
    if (rc == OSP_ENOMEM)
        osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    return rc;
}

static int count_key(const char *key, void *ud) {
    (void)key;
    ++*(size_t *)ud;
    return OSP_OK;
}

static int redis_count(osp_store_t *base, size_t *traces, osp_error_t *err) {
    *traces = 0;
    return scan((redis_store_t *)base, "osprofiler_opt:*", count_key, traces, err);
}

const osp_store_ops_t osp_store_redis_ops = {
    .scheme = "redis",
    .open = redis_open,
    .put = redis_put,
    .get = redis_get,
    .list = redis_list,
    .count = redis_count,
    .close = redis_close,
};
