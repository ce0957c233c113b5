/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.redis_api - the redis back end through the store API, against the
 * private redis-server of redis_fixture.sh (OSP_REDIS_PORT), with a direct
 * hiredis connection to look at the keys Python's driver reads.
 */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/store.h"

static int port;
static redisContext *adm; /* ours, to look at the keys */

/* --- helpers ---------------------------------------------------------------- */

/* u with "PORT" replaced by the fixture's port */
static const char *url(const char *u) {
    static char buf[512];
    const char *p = strstr(u, "PORT");
    assert_non_null(p);
    snprintf(buf, sizeof buf, "%.*s%d%s", (int)(p - u), u, port, p + 4);
    return buf;
}

static redisReply *R(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(adm, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long R_int(const char *fmt, const char *arg) {
    redisReply *r = R(fmt, arg);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* A string reply as a new string, NULL for nil. */
static char *R_str(const char *fmt, const char *arg) {
    redisReply *r = R(fmt, arg);
    char *s = r->type == REDIS_REPLY_STRING ? strndup(r->str, r->len) : NULL;
    freeReplyObject(r);
    return s;
}

struct tmsg {
    char json[4400], base[2100], trace[64], name[64], ts[32];
    osp_store_msg_t m;
};

/* A trace point as Python stores it; info may be NULL. */
static osp_store_msg_t *mk(struct tmsg *t, const char *base, const char *trace,
                           const char *name, const char *ts, const char *info) {
    snprintf(t->base, sizeof t->base, "%s", base);
    snprintf(t->trace, sizeof t->trace, "%s", trace);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->ts, sizeof t->ts, "%s", ts);
    int n = snprintf(t->json, sizeof t->json,
                     "{\"name\": \"%s\", \"base_id\": \"%s\", \"trace_id\": \"%s\", "
                     "\"parent_id\": \"%s\", \"timestamp\": \"%s\", \"info\": %s, "
                     "\"project\": \"nova\", \"service\": \"api\"}",
                     name, base, trace, base, ts, info ? info : "{\"host\": \"ctl-1\"}");
    assert_true(n > 0 && (size_t)n < sizeof t->json);
    t->m = (osp_store_msg_t){.json = t->json,
                             .len = (size_t)n,
                             .base_id = t->base,
                             .trace_id = t->trace,
                             .parent_id = t->base,
                             .name = t->name,
                             .timestamp = t->ts,
                             .project = "nova",
                             .service = "api",
                             .host = "ctl-1",
                             .error = info && strstr(info, "\"etype\": \"")};
    return &t->m;
}

static osp_store_t *open_ok(const char *u, int flags) {
    osp_store_t *s = NULL;
    osp_error_t err = {{0}};
    int rc = osp_store_open(u, flags, &s, &err);
    if (rc != OSP_OK)
        fail_msg("open %s: %s", u, err.text);
    return s;
}

static void put_ok(osp_store_t *s, const osp_store_msg_t *msgs, size_t n) {
    osp_error_t err = {{0}};
    if (osp_store_put(s, msgs, n, &err) != OSP_OK)
        fail_msg("put: %s", err.text);
}

/* put of single messages given as pointers, as one batch */
static void put_ptrs(osp_store_t *s, osp_store_msg_t **p, size_t n) {
    osp_store_msg_t v[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        v[i] = *p[i];
    put_ok(s, v, n);
}

struct got {
    char *v[4096];
    size_t n;
    int stop_after; /* 0: never */
};

static int collect(const char *json, size_t len, void *ud) {
    struct got *g = ud;
    assert_true(g->n < 4096);
    g->v[g->n++] = strndup(json, len);
    return g->stop_after && (int)g->n == g->stop_after ? 7 : 0;
}

static void got_free(struct got *g) {
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i]);
    g->n = 0;
}

static void get_ok(osp_store_t *s, const char *base, struct got *g) {
    osp_error_t err = {{0}};
    if (osp_store_get(s, base, collect, g, &err) != OSP_OK)
        fail_msg("get: %s", err.text);
}

struct rows {
    char base[32][2100], ts[32][32];
    size_t n;
};

static int add_row(const char *base_id, const char *timestamp, void *ud) {
    struct rows *r = ud;
    assert_true(r->n < 32);
    snprintf(r->base[r->n], sizeof r->base[0], "%s", base_id);
    snprintf(r->ts[r->n], sizeof r->ts[0], "%s", timestamp);
    r->n++;
    return 0;
}

static void list_ok(osp_store_t *s, bool errors, struct rows *r) {
    osp_error_t err = {{0}};
    memset(r, 0, sizeof *r);
    if (osp_store_list(s, errors, add_row, r, &err) != OSP_OK)
        fail_msg("list: %s", err.text);
}

static size_t count_ok(osp_store_t *s) {
    osp_error_t err = {{0}};
    size_t n = 99;
    if (osp_store_count(s, &n, &err) != OSP_OK)
        fail_msg("count: %s", err.text);
    return n;
}

static int open_err(const char *u, osp_error_t *err) {
    osp_store_t *s = NULL;
    memset(err, 0, sizeof *err);
    int rc = osp_store_open(u, OSP_STORE_WRITE, &s, err);
    assert_null(s);
    return rc;
}

static int setup(void **state) {
    (void)state;
    freeReplyObject(R("FLUSHALL"));
    return 0;
}

/* --- tests ------------------------------------------------------------------ */

static void bad_urls(void **state) {
    (void)state;
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"redis://127.0.0.1:abc", "bad port"},
        {"redis://127.0.0.1:70000", "bad port"},
        {"redis://127.0.0.1:+1", "bad port"},
        {"redis://[::1", "unterminated"},
        {"redis://127.0.0.1/zero", "database number"},
        {"redis://127.0.0.1/-1", "database number"},
        {"redis://127.0.0.1/?db=x", "db must be a number"},
        {"redis://:hunter2@127.0.0.1:abc/0", "bad port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        osp_error_t err;
        assert_int_equal(open_err(bad[i].url, &err), OSP_EINVAL);
        if (!strstr(err.text, bad[i].says))
            fail_msg("%s: %s", bad[i].url, err.text);
        assert_non_null(strstr(err.text, "redis://[:PASSWORD@]HOST[:PORT][/DB]"));
        assert_null(strstr(err.text, "hunter2"));
    }
}

static void connection_refused(void **state) {
    (void)state;
    /* bound, never listening: connections are refused, and no one else
     * takes the port meanwhile */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    int p = ntohs(a.sin_port);
    char u[128], want[128];
    snprintf(u, sizeof u, "redis://:hunter2@127.0.0.1:%d/0", p);
    snprintf(want, sizeof want, "cannot connect to redis at 127.0.0.1:%d: ", p);
    osp_error_t err;
    assert_int_equal(open_err(u, &err), OSP_ESTORE);
    if (!strstr(err.text, want) || !strstr(err.text, "refused"))
        fail_msg("%s", err.text);
    assert_null(strstr(err.text, "hunter2"));
    close(fd);
}

static void name_and_database(void **state) {
    (void)state;
    struct tmsg t;
    char want[128];
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT/3"), OSP_STORE_WRITE);
    snprintf(want, sizeof want, "redis://127.0.0.1:%d/3", port);
    assert_string_equal(osp_store_name(s), want);
    put_ok(s, mk(&t, "b-db", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL), 1);
    osp_store_close(s);
    /* ?db= wins over the path, as in redis-py */
    s = open_ok(url("redis://127.0.0.1:PORT/3?db=5&socket_timeout=10"), OSP_STORE_WRITE);
    put_ok(s, mk(&t, "b-db5", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL), 1);
    osp_store_close(s);
    assert_int_equal(R_int("EXISTS %s", "osprofiler_opt:b-db"), 0);
    freeReplyObject(R("SELECT 3"));
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:b-db"), 1);
    freeReplyObject(R("SELECT 5"));
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:b-db5"), 1);
    freeReplyObject(R("SELECT 0"));
    /* redis-py's defaults: host localhost; db 0 */
    s = open_ok(url("redis://localhost:PORT"), 0);
    snprintf(want, sizeof want, "redis://localhost:%d/0", port);
    assert_string_equal(osp_store_name(s), want);
    osp_store_close(s);
    s = open_ok(url("redis://:PORT/"), 0);
    assert_string_equal(osp_store_name(s), want);
    osp_store_close(s);
}

static void round_trip_and_order(void **state) {
    (void)state;
    struct tmsg t[5];
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    const char *b = "5e1c7a70-0000-4000-8000-000000000000";
    osp_store_msg_t *m[] = {
        mk(&t[0], b, "t1", "wsgi-start", "2024-01-01T10:00:00.000000", NULL),
        mk(&t[1], b, "t2", "db-start", "2024-01-01T10:00:00.001000",
           "{\"host\": \"ctl-1\", \"x\": NaN, \"caf\\u00e9\": \"\\ud83d\\ude00\"}"),
        mk(&t[2], b, "t2", "db-stop", "2024-01-01T10:00:00.002000", NULL),
        mk(&t[3], b, "t1", "wsgi-stop", "2024-01-01T10:00:00.003000", NULL),
    };
    put_ptrs(s, m, 3);
    /* the text is len bytes, not up to a NUL */
    size_t len = m[3]->len;
    strcat(t[3].json, "GARBAGE");
    put_ptrs(s, &m[3], 1);
    t[3].json[len] = '\0';
    /* NaN is stored as null (the policy on non-finite numbers, point.h) */
    char *x = strstr(t[1].json, "\"x\": NaN");
    assert_non_null(x);
    memmove(x + 9, x + 8, strlen(x + 8) + 1);
    memcpy(x + 5, "null", 4);

    struct got g = {0};
    get_ok(s, b, &g);
    assert_int_equal(g.n, 4);
    for (size_t i = 0; i < 4; i++) /* LPUSH: newest first */
        assert_string_equal(g.v[i], t[3 - i].json);
    got_free(&g);

    /* exactly Python's layout */
    redisReply *r = R("LRANGE osprofiler_opt:%s 0 -1", b);
    assert_int_equal(r->elements, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(r->element[i]->str, t[3 - i].json);
    freeReplyObject(r);
    r = R("KEYS *");
    assert_int_equal(r->elements, 2);
    freeReplyObject(r);
    assert_int_equal(
        R_int("EXISTS %s", "osprofiler_opt:5e1c7a70-0000-4000-8000-000000000000"), 1);
    assert_int_equal(
        R_int("SCARD %s", "osprofiler_c_seen:5e1c7a70-0000-4000-8000-000000000000"), 4);

    /* nothing stored: no call; a callback's non-zero stops the walk */
    get_ok(s, "11111111-2222-4333-8444-555555555555", &g);
    assert_int_equal(g.n, 0);
    g.stop_after = 2;
    osp_error_t err;
    assert_int_equal(osp_store_get(s, b, collect, &g, &err), 7);
    assert_int_equal(g.n, 2);
    got_free(&g);
    osp_store_close(s);
}

static void duplicates_are_stored_once(void **state) {
    (void)state;
    struct tmsg t[8];
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    osp_store_msg_t *a =
        mk(&t[0], "B", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL);
    osp_store_msg_t *b =
        mk(&t[1], "B", "t1", "x-stop", "2024-01-01T10:00:00.100000", NULL);
    osp_store_msg_t *c =
        mk(&t[2], "B", "t2", "x-start", "2024-01-01T10:00:00.200000", NULL);
    /* the same ids elsewhere are another message */
    osp_store_msg_t *d =
        mk(&t[3], "B2", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL);
    /* no ambiguity between "a b"+"c" and "a"+"b c" */
    osp_store_msg_t *e = mk(&t[4], "B", "a b", "c", "2024-01-01T10:00:00.300000", NULL);
    osp_store_msg_t *f = mk(&t[5], "B", "a", "b c", "2024-01-01T10:00:00.400000", NULL);
    put_ptrs(s, (osp_store_msg_t *[]){a, a, b}, 3); /* within a batch */
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:B"), 2);
    put_ptrs(s, (osp_store_msg_t *[]){a, c, b}, 3); /* across batches */
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:B"), 3);
    put_ptrs(s, (osp_store_msg_t *[]){d, e, f}, 3);
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:B"), 5);
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:B2"), 1);
    struct got g = {0};
    get_ok(s, "B", &g);
    const char *want[] = {f->json, e->json, c->json, b->json, a->json};
    assert_int_equal(g.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(g.v[i], want[i]);
    got_free(&g);
    /* another handle (a restarted collector) sees the same set */
    osp_store_close(s);
    s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    put_ptrs(s, (osp_store_msg_t *[]){a, b, c, d, e, f}, 6);
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:B"), 5);
    osp_store_close(s);
}

static void error_index_only_with_the_flag(void **state) {
    (void)state;
    struct tmsg t[5];
    const char *etype = "{\"host\": \"ctl-1\", \"etype\": \"OperationalError\"}";
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    put_ok(s, mk(&t[0], "E0", "t1", "x-stop", "2024-01-01T10:00:00.100000", etype), 1);
    osp_store_close(s);
    assert_int_equal(R_int("EXISTS %s", "osprofiler_error:E0"), 0);

    s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE | OSP_STORE_ERROR_INDEX);
    osp_store_msg_t *ok = mk(&t[0], "E1", "t1", "x-start", "2024-01-01T10:00:00.000000",
                             "{\"host\": \"ctl-1\", \"etype\": null}");
    put_ptrs(s, &ok, 1);
    assert_int_equal(R_int("EXISTS %s", "osprofiler_error:E1"), 0); /* etype null */
    osp_store_msg_t *e1 =
        mk(&t[1], "E1", "t1", "x-stop", "2024-01-01T10:00:00.100000", etype);
    osp_store_msg_t *e2 =
        mk(&t[2], "E1", "t2", "y-stop", "2024-01-01T10:00:00.200000", etype);
    put_ptrs(s, &e1, 1);
    char *v = R_str("GET %s", "osprofiler_error:E1");
    /* jsonutils.dumps({"base_id": ..., "timestamp": ...}) */
    assert_string_equal(
        v, "{\"base_id\": \"E1\", \"timestamp\": \"2024-01-01T10:00:00.100000\"}");
    free(v);
    put_ptrs(s, (osp_store_msg_t *[]){e2, e1}, 2); /* the last new error wins */
    v = R_str("GET %s", "osprofiler_error:E1");
    assert_string_equal(
        v, "{\"base_id\": \"E1\", \"timestamp\": \"2024-01-01T10:00:00.200000\"}");
    free(v);
    /* ensure_ascii, as Python */
    put_ok(s, mk(&t[3], "b\xc3\xa9", "t1", "x-stop", "2024-01-01T10:00:00.300000", etype),
           1);
    v = R_str("GET %s", "osprofiler_error:b\xc3\xa9");
    assert_string_equal(
        v, "{\"base_id\": \"b\\u00e9\", \"timestamp\": \"2024-01-01T10:00:00.300000\"}");
    free(v);
    osp_store_close(s);
}

/* The keys SCAN yields for pattern, in its order. */
static size_t scan_order(const char *pattern, char out[][64], size_t cap) {
    size_t n = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = R("SCAN %s MATCH %s", cursor, pattern);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements && n < cap; i++)
            snprintf(out[n++], 64, "%s", r->element[1]->element[i]->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

static void list_and_count(void **state) {
    (void)state;
    struct tmsg t[3];
    const char *etype = "{\"host\": \"ctl-1\", \"etype\": \"E\"}";
    osp_store_t *s =
        open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE | OSP_STORE_ERROR_INDEX);
    char base[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(base[i], sizeof base[i], "trace-%02d", i);
        char ts[3][48];
        for (int k = 0; k < 3; k++) /* trace i's messages at 10:<i>:0<k> */
            snprintf(ts[k], sizeof ts[k], "2024-01-01T10:%02d:0%d.000000", 30 - i, k);
        /* trace 11 has one message; errors in 3 and 7, 3's later */
        int n = i == 11 ? 1 : 3;
        const char *info2 = i == 3 || i == 7 ? etype : NULL;
        osp_store_msg_t v[3] = {
            *mk(&t[0], base[i], "t1", "a-start", ts[0], NULL),
            *mk(&t[1], base[i], "t2", "b-start", ts[1], "{\"host\": \"h\", \"v\": NaN}"),
            *mk(&t[2], base[i], "t2", "b-stop", ts[2], info2)};
        put_ok(s, v, (size_t)n);
    }
    struct rows r;
    list_ok(s, false, &r);
    char order[32][64];
    size_t n = scan_order("osprofiler_opt:*", order, 32);
    assert_int_equal(n, 12);
    assert_int_equal(r.n, 12);
    for (size_t i = 0; i < n; i++) {
        /* SCAN's order, as Python; the timestamp of LINDEX key 1 (the
         * second newest), or of the only message */
        int k = atoi(order[i] + strlen("osprofiler_opt:trace-"));
        char ts[48];
        snprintf(ts, sizeof ts, "2024-01-01T10:%02d:0%d.000000", 30 - k, k == 11 ? 0 : 1);
        assert_string_equal(r.base[i], order[i] + strlen("osprofiler_opt:"));
        assert_string_equal(r.ts[i], ts);
    }
    list_ok(s, true, &r); /* sorted by timestamp: 7 (10:23) before 3 (10:27) */
    assert_int_equal(r.n, 2);
    assert_string_equal(r.base[0], "trace-07");
    assert_string_equal(r.ts[0], "2024-01-01T10:23:02.000000");
    assert_string_equal(r.base[1], "trace-03");
    assert_int_equal(count_ok(s), 12);

    /* legacy keys (one per message): first, sorted, the earliest message of
     * each trace; get reads them before the list */
    const char *legacy[][2] = {
        {"osprofiler:L1_t1_a", "2024-01-01T09:00:05.000000"},
        {"osprofiler:L1_t1_b", "2024-01-01T09:00:01.000000"},
        {"osprofiler:L2_t1_a", "2024-01-01T09:00:03.000000"},
    };
    for (size_t i = 0; i < 3; i++) {
        char b[3] = {legacy[i][0][11], legacy[i][0][12], 0};
        mk(&t[0], b, "t1", "x-start", legacy[i][1], NULL);
        freeReplyObject(R("SET %s %s", legacy[i][0], t[0].json));
    }
    put_ok(s, mk(&t[0], "L1", "t9", "y-start", "2024-01-01T09:00:09.000000", NULL), 1);
    list_ok(s, false, &r);
    assert_int_equal(r.n, 15); /* as Python: L1 twice, legacy and list */
    assert_string_equal(r.base[0], "L1");
    assert_string_equal(r.ts[0], "2024-01-01T09:00:01.000000");
    assert_string_equal(r.base[1], "L2");
    assert_string_equal(r.ts[1], "2024-01-01T09:00:03.000000");
    assert_int_equal(count_ok(s), 15);
    struct got g = {0};
    get_ok(s, "L1", &g);
    assert_int_equal(g.n, 3);
    assert_non_null(strstr(g.v[0], "x-start"));
    assert_non_null(strstr(g.v[1], "x-start"));
    assert_non_null(strstr(g.v[2], "y-start"));
    got_free(&g);
    osp_store_close(s);
}

/* A trace whose key has the wrong type (planted, or left by something else)
 * refuses its own points only: the rest of the batch, before and after it
 * and in another EVAL chunk, is stored, and the refused are reported with
 * the server's reason. Before, the whole batch failed, and was retried
 * forever: nothing after it was ever stored. */
static void a_wrong_type_refuses_only_its_points(void **state) {
    (void)state;
    enum { N = 1203 }; /* two EVAL chunks; X's points in both */
    static struct tmsg t[N];
    static osp_store_msg_t v[N];
    freeReplyObject(R("SET osprofiler_opt:X %s", "not a list"));
    freeReplyObject(R("SET osprofiler_c_seen:Z %s", "not a set"));
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    size_t refused_expected = 0;
    for (size_t i = 0; i < N; i++) {
        const char *base = i % 100 == 1 ? "X" : i == 700 ? "Z" : "Y";
        char trace[32];
        snprintf(trace, sizeof trace, "t%zu", i);
        v[i] = *mk(&t[i], base, trace, "x-start", "2024-01-01T10:00:00.000000", NULL);
        refused_expected += *base != 'Y';
    }
    osp_error_t err;
    assert_int_equal(osp_store_put(s, v, N, &err), OSP_OK);
    const char *why = NULL;
    assert_int_equal(osp_store_rejected(s, &why), refused_expected);
    if (!strstr(why, "WRONGTYPE osprofiler_opt:X is a string") ||
        !strstr(why, "redis at 127.0.0.1:"))
        fail_msg("%s", why);
    assert_int_equal(R_int("LLEN %s", "osprofiler_opt:Y"), N - refused_expected);
    assert_int_equal(R_int("EXISTS %s", "osprofiler_c_seen:X"), 0);
    assert_int_equal(R_int("EXISTS %s", "osprofiler_opt:Z"), 0);
    char *planted = R_str("GET %s", "osprofiler_opt:X");
    assert_string_equal(planted, "not a list");
    free(planted);
    /* the next put starts from zero */
    put_ok(s, v, 1);
    assert_int_equal(osp_store_rejected(s, NULL), 0);
    osp_store_close(s);
}

/* NaN and infinities (Python's json.dumps writes them) are stored as null;
 * what Python's driver stored with them is read with null. */
static void nonfinite_stored_and_read_as_null(void **state) {
    (void)state;
    struct tmsg t;
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    put_ok(s,
           mk(&t, "F", "t1", "x-start", "2024-01-01T10:00:00.000000",
              "{\"v\": NaN, \"w\": [Infinity, -Infinity], \"s\": \"NaN\"}"),
           1);
    char *stored = R_str("LINDEX %s 0", "osprofiler_opt:F");
    assert_non_null(strstr(stored, "\"info\": {\"v\": null, \"w\": [null, null], "
                                   "\"s\": \"NaN\"}"));
    free(stored);
    freeReplyObject(R("LPUSH osprofiler_opt:F %s",
                      "{\"name\": \"x-stop\", \"info\": {\"v\": -Infinity}}"));
    struct got g = {0};
    get_ok(s, "F", &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.v[0], "{\"name\": \"x-stop\", \"info\": {\"v\": null}}");
    got_free(&g);
    osp_store_close(s);
}

static void a_big_batch_and_a_long_base_id(void **state) {
    (void)state;
    enum { N = 2500 }; /* more than one EVAL chunk */
    struct tmsg *t = calloc(N, sizeof *t);
    osp_store_msg_t *v = calloc(N, sizeof *v);
    assert_non_null(t);
    assert_non_null(v);
    char big[2001];
    memset(big, 'b', 2000);
    big[2000] = '\0';
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%05d", i);
        v[i] = *mk(&t[i], big, id, "x-start", "2024-01-01T10:00:00.000000", NULL);
    }
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    put_ok(s, v, N);
    put_ok(s, v, N); /* a redelivered batch */
    char key[2100];
    snprintf(key, sizeof key, "osprofiler_opt:%s", big);
    assert_int_equal(R_int("LLEN %s", key), N);
    struct got *g = calloc(1, sizeof *g);
    assert_non_null(g);
    get_ok(s, big, g);
    assert_int_equal(g->n, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(g->v[i], t[N - 1 - i].json);
    got_free(g);
    struct rows r;
    list_ok(s, false, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.base[0], big);
    osp_store_close(s);
    free(g);
    free(t);
    free(v);
}

static void password(void **state) {
    (void)state;
    struct tmsg t;
    const char *pw = "p@ss:w/rd%x";
    freeReplyObject(R("CONFIG SET requirepass %s", pw)); /* adm stays logged in */
    osp_error_t err;
    assert_int_equal(open_err(url("redis://127.0.0.1:PORT/0"), &err), OSP_ESTORE);
    if (!strstr(err.text, "NOAUTH"))
        fail_msg("%s", err.text);
    assert_int_equal(open_err(url("redis://:wrongpw@127.0.0.1:PORT/0"), &err),
                     OSP_ESTORE);
    if (!strstr(err.text, "AUTH refused") || strstr(err.text, "wrongpw"))
        fail_msg("%s", err.text);
    const char *good[] = {
        "redis://:p%40ss%3Aw%2Frd%25x@127.0.0.1:PORT/1",
        "redis://default:p%40ss%3Aw%2Frd%25x@127.0.0.1:PORT/1",
        "redis://127.0.0.1:PORT/1?password=p%2540ss%253Aw%252Frd%2525x",
    };
    for (size_t i = 0; i < 3; i++) {
        osp_store_t *s = open_ok(url(good[i]), OSP_STORE_WRITE);
        assert_null(strstr(osp_store_name(s), "p@ss"));
        assert_null(strstr(osp_store_name(s), "p%40ss"));
        put_ok(s, mk(&t, "PW", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL), 1);
        struct got g = {0};
        get_ok(s, "PW", &g);
        assert_int_equal(g.n, 1);
        got_free(&g);
        osp_store_close(s);
    }
}

static int no_password(void **state) {
    (void)state;
    freeReplyObject(R("CONFIG SET requirepass %s", ""));
    return 0;
}

static void connection_lost(void **state) {
    (void)state;
    struct tmsg t;
    osp_store_t *s = open_ok(url("redis://127.0.0.1:PORT"), OSP_STORE_WRITE);
    freeReplyObject(R("CLIENT KILL TYPE normal SKIPME yes"));
    osp_error_t err;
    char want[64];
    snprintf(want, sizeof want, "redis at 127.0.0.1:%d: ", port);
    assert_int_equal(
        osp_store_put(s, mk(&t, "L", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL),
                      1, &err),
        OSP_ESTORE);
    if (!strstr(err.text, want))
        fail_msg("%s", err.text);
    struct rows r;
    assert_int_equal(osp_store_list(s, false, add_row, &r, &err), OSP_ESTORE);
    osp_store_close(s);
}

static void no_reply_in_time(void **state) {
    (void)state;
    struct tmsg t;
    osp_store_t *s =
        open_ok(url("redis://127.0.0.1:PORT/0?socket_timeout=0.2"), OSP_STORE_WRITE);
    freeReplyObject(R("CLIENT PAUSE 1000 WRITE")); /* the EVAL waits */
    osp_error_t err;
    assert_int_equal(
        osp_store_put(s, mk(&t, "P", "t1", "x-start", "2024-01-01T10:00:00.000000", NULL),
                      1, &err),
        OSP_ESTORE);
    if (!strstr(err.text, "no reply within 0.2 s"))
        fail_msg("%s", err.text);
    osp_store_close(s);
}

int main(void) {
    const char *p = getenv("OSP_REDIS_PORT");
    if (!p) {
        fprintf(stderr, "OSP_REDIS_PORT not set: run under redis_fixture.sh\n");
        return 77;
    }
    port = atoi(p);
    adm = redisConnect("127.0.0.1", port);
    if (!adm || adm->err) {
        fprintf(stderr, "cannot reach the fixture's redis on %d\n", port);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(bad_urls, setup),
        cmocka_unit_test_setup(connection_refused, setup),
        cmocka_unit_test_setup(name_and_database, setup),
        cmocka_unit_test_setup(round_trip_and_order, setup),
        cmocka_unit_test_setup(duplicates_are_stored_once, setup),
        cmocka_unit_test_setup(error_index_only_with_the_flag, setup),
        cmocka_unit_test_setup(list_and_count, setup),
        cmocka_unit_test_setup(a_wrong_type_refuses_only_its_points, setup),
        cmocka_unit_test_setup(nonfinite_stored_and_read_as_null, setup),
        cmocka_unit_test_setup(a_big_batch_and_a_long_base_id, setup),
        cmocka_unit_test_setup_teardown(password, setup, no_password),
        cmocka_unit_test_setup(connection_lost, setup),
        cmocka_unit_test_setup(no_reply_in_time, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    redisFree(adm);
    return rc;
}
