/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report - Python's report algorithm on jansson trees.
 *
 * jansson objects keep insertion order and keep a key's position when its
 * value is replaced, like Python dicts, which is what makes the key order of
 * the output match. Keys are set with the _nocheck calls: they are constants
 * or come from checked JSON, and UTF-8 checks of every key were measurable. Times are
 * kept as microseconds since the epoch until _parse_results turns them into truncated
 * milliseconds.
 */
#include "report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/point.h"
#include "common/pyjson.h"
#include "term.h"

struct osp_report {
    json_t *by_id; /* trace_id -> node */
    json_t *order; /* nodes in first-seen order (Python dict order) */
    int64_t started_at, finished_at, last_started_at;
    bool any, any_start;
};

osp_report_t *osp_report_new(void) {
    osp_report_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->by_id = json_object();
    r->order = json_array();
    if (!r->by_id || !r->order) {
        osp_report_free(r);
        return NULL;
    }
    return r;
}

void osp_report_free(osp_report_t *r) {
    if (!r)
        return;
    json_decref(r->by_id);
    json_decref(r->order);
    free(r);
}

size_t osp_report_points(const osp_report_t *r) { return json_array_size(r->order); }

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* digits of s[*i..] (at least min, at most max) as a number, -1 if fewer */
static int num(const char *s, size_t *i, int min, int max) {
    int v = 0, k = 0;
    while (k < max && s[*i] >= '0' && s[*i] <= '9')
        v = v * 10 + (s[(*i)++] - '0'), k++;
    return k >= min ? v : -1;
}

static bool month_days_ok(int y, int m, int d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] + (m == 2 && leap);
}

/* strptime(s, "%Y-%m-%dT%H:%M:%S.%f") as microseconds since the epoch. */
static bool parse_ts(const char *s, int64_t *out) {
    size_t i = 0;
    int y = num(s, &i, 4, 4);
    if (y < 1 || s[i++] != '-')
        return false;
    int mo = num(s, &i, 1, 2);
    if (mo < 0 || s[i++] != '-')
        return false;
    int d = num(s, &i, 1, 2);
    if (d < 0 || s[i++] != 'T')
        return false;
    int h = num(s, &i, 1, 2);
    if (h < 0 || h > 23 || s[i++] != ':')
        return false;
    int mi = num(s, &i, 1, 2);
    if (mi < 0 || mi > 59 || s[i++] != ':')
        return false;
    int se = num(s, &i, 1, 2);
    if (se < 0 || se > 61 || s[i++] != '.') /* Python allows 60 and 61 */
        return false;
    size_t f0 = i;
    int us = num(s, &i, 1, 6);
    if (us < 0 || s[i] || !month_days_ok(y, mo, d))
        return false;
    for (size_t k = i - f0; k < 6; k++)
        us *= 10;
    if (se > 59) /* datetime() refuses what strptime accepted */
        return false;
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 * INT64_C(1000000) +
           (int64_t)se * 1000000 + us;
    return true;
}

static const char *str_of(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* A value's text as a jansson value: strings and null directly (the common
 * case), anything else through jansson. NULL when absent. */
static json_t *value_of(osp_jspan_t v) {
    if (!v.text)
        return NULL;
    if (*v.text == '"') {
        osp_jstr_t js = {v.text + 1, v.len - 2,
                         memchr(v.text + 1, '\\', v.len - 2) != NULL};
        if (!js.escaped)
            return json_stringn_nocheck(js.raw, js.len); /* checked JSON: valid UTF-8 */
        char *tmp = malloc(v.len);
        json_t *j =
            tmp ? json_stringn_nocheck(tmp, osp__jstr_decode(&js, tmp, v.len)) : NULL;
        free(tmp);
        return j;
    }
    if (v.len == 4 && memcmp(v.text, "null", 4) == 0)
        return json_null();
    json_t *j =
        osp__json_loadb_finite(v.text, v.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return j ? j : json_null(); /* huge numbers: jansson cannot hold them */
}

/* A field as Python's redis driver reads it: the value, null when absent. */
static json_t *field(osp_jspan_t v) {
    json_t *j = value_of(v);
    return j ? j : json_null();
}

/* Raw payloads stay JSON text (a jansson string) until they are written:
 * parsing 10k of them into trees was most of `trace show`'s time. */
#define RAW_PREFIX "meta.raw_payload."

/* What a stored point gives the report: spans of checked JSON text. */
typedef struct point_spans {
    osp_jspan_t trace_id, name, timestamp, project, service, parent_id, host, etype;
    const char *raw; /* meta.raw_payload.NAME */
    size_t raw_len;
} point_spans_t;

static int add_point(osp_report_t *r, const point_spans_t *p, osp_error_t *err);

int osp_report_add(osp_report_t *r, const char *json, size_t len, osp_error_t *err) {
    if (osp__json_check(json, len, err) != OSP_OK)
        return OSP_EFRAME;
    enum { TRACE_ID, NAME, TIMESTAMP, INFO, PROJECT, SERVICE, PARENT_ID, N };
    static const char *const keys[N] = {"trace_id", "name",    "timestamp", "info",
                                        "project",  "service", "parent_id"};
    static const char *const info_keys[2] = {"host", "etype"};
    osp_jspan_t f[N], inf[2] = {{NULL, 0}, {NULL, 0}};
    osp__json_members(json, len, keys, N, f);
    if (f[INFO].text && *f[INFO].text == '{')
        osp__json_members(f[INFO].text, f[INFO].len, info_keys, 2, inf);
    point_spans_t p = {f[TRACE_ID],  f[NAME], f[TIMESTAMP], f[PROJECT], f[SERVICE],
                       f[PARENT_ID], inf[0],  inf[1],       json,       len};
    return add_point(r, &p, err);
}

/* Python's sqlalchemy driver's get_report: the columns, and `data` (the rest
 * of the payload) as the raw payload, its info.etype the exception. */
int osp_report_add_row(osp_report_t *r, const char *json, size_t len, osp_error_t *err) {
    if (osp__json_check(json, len, err) != OSP_OK)
        return OSP_EFRAME;
    enum { TRACE_ID, NAME, TIMESTAMP, PROJECT, SERVICE, PARENT_ID, HOST, DATA, N };
    static const char *const keys[N] = {"trace_id", "name",      "timestamp", "project",
                                        "service",  "parent_id", "host",      "data"};
    static const char *const info_key[1] = {"info"}, *const etype_key[1] = {"etype"};
    osp_jspan_t f[N], info = {NULL, 0}, etype = {NULL, 0};
    osp__json_members(json, len, keys, N, f);
    if (!f[DATA].text || *f[DATA].text != '{')
        return osp__error_set(err, OSP_EFRAME, "report", 0, "data is not a JSON object");
    osp__json_members(f[DATA].text, f[DATA].len, info_key, 1, &info);
    if (info.text && *info.text == '{')
        osp__json_members(info.text, info.len, etype_key, 1, &etype);
    point_spans_t p = {f[TRACE_ID],  f[NAME], f[TIMESTAMP], f[PROJECT],   f[SERVICE],
                       f[PARENT_ID], f[HOST], etype,        f[DATA].text, f[DATA].len};
    return add_point(r, &p, err);
}

static int add_point(osp_report_t *r, const point_spans_t *p, osp_error_t *err) {
    json_t *trace_id = value_of(p->trace_id), *name = value_of(p->name);
    json_t *ts_text = value_of(p->timestamp);
    const char *tid = json_string_value(trace_id), *nm = json_string_value(name);
    int64_t ts = 0;
    const char *why = NULL;
    if (!tid || !nm || !json_string_value(ts_text))
        why = "not a trace point (trace_id, name, timestamp)";
    else if (!parse_ts(json_string_value(ts_text), &ts))
        why = "timestamp is not %Y-%m-%dT%H:%M:%S.%f";
    json_t *node = why ? NULL : json_object_get(r->by_id, tid);
    if (!why && !node) {
        json_t *info = json_object();
        const char *dash = strchr(nm, '-');
        json_object_set_new_nocheck(
            info, "name", json_stringn(nm, dash ? (size_t)(dash - nm) : strlen(nm)));
        json_object_set_new_nocheck(info, "project", field(p->project));
        json_object_set_new_nocheck(info, "service", field(p->service));
        json_object_set_new_nocheck(info, "host", field(p->host));
        node = json_object();
        json_object_set_new_nocheck(node, "info", info);
        json_object_set_nocheck(node, "trace_id", trace_id);
        json_object_set_new_nocheck(node, "parent_id", field(p->parent_id));
        json_object_set_nocheck(r->by_id, tid, node);
        json_array_append_new(r->order, node);
    }
    if (!why) {
        json_t *info = json_object_get(node, "info");
        char key[512];
        snprintf(key, sizeof key, RAW_PREFIX "%s", nm);
        json_object_set_new_nocheck(info, key, json_stringn_nocheck(p->raw, p->raw_len));
        if (ends_with(nm, "stop")) {
            json_object_set_new_nocheck(info, "finished", json_integer(ts));
            json_t *etype = value_of(p->etype);
            json_object_set_new_nocheck(info, "exception",
                                        etype ? etype : json_string("None"));
        } else {
            json_object_set_new_nocheck(info, "started", json_integer(ts));
            if (!r->any_start || r->last_started_at < ts)
                r->last_started_at = ts;
            r->any_start = true;
        }
        if (!r->any || r->started_at > ts)
            r->started_at = ts;
        if (!r->any || r->finished_at < ts)
            r->finished_at = ts;
        r->any = true;
    }
    json_decref(trace_id);
    json_decref(name);
    json_decref(ts_text);
    return why ? osp__error_set(err, OSP_EFRAME, "report", 0, "%s", why) : OSP_OK;
}

/* msec(td) = int(microseconds / 1000.0): float division, truncated. */
static json_int_t msec(int64_t us) { return (json_int_t)((double)us / 1000.0); }

struct keyed {
    json_int_t started;
    size_t seq;
    json_t *node;
};

static int by_started(const void *a, const void *b) {
    const struct keyed *x = a, *y = b;
    if (x->started != y->started)
        return x->started < y->started ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq; /* stable, as Python's sort */
}

static void sort_by_started(json_t *arr) {
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    struct keyed *k = malloc(n * sizeof *k);
    if (!k)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *node = json_array_get(arr, i);
        k[i] = (struct keyed){
            json_integer_value(json_object_get(json_object_get(node, "info"), "started")),
            i, json_incref(node)};
    }
    qsort(k, n, sizeof *k, by_started);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, k[i].node);
    free(k);
}

/* Marks node and everything below it as reached. */
static void reach(json_t *seen, json_t *node) {
    json_t *stack = json_array();
    json_array_append(stack, node);
    while (json_array_size(stack)) {
        json_t *n = json_incref(json_array_get(stack, json_array_size(stack) - 1));
        json_array_remove(stack, json_array_size(stack) - 1);
        const char *id = str_of(n, "trace_id");
        if (!json_object_get(seen, id)) {
            json_object_set_new_nocheck(seen, id, json_true());
            size_t i;
            json_t *kid;
            json_array_foreach(json_object_get(n, "children"), i, kid)
                json_array_append(stack, kid);
        }
        json_decref(n);
    }
    json_decref(stack);
}

/* Points whose parent_id chain loops (A's parent is B, B's is A) hang from
 * no root: Python fails with "Circular reference detected". Make the first
 * one of each loop a root instead, so the report can be written and freed. */
struct stack {
    json_t **v;
    size_t n, cap;
    bool failed;
};

static void push(struct stack *st, json_t *node) {
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 256;
        json_t **v = realloc(st->v, cap * sizeof *v);
        if (!v) {
            st->failed = true;
            return;
        }
        st->v = v, st->cap = cap;
    }
    st->v[st->n++] = node;
}

/* Nodes reachable from the roots (at most limit + 1 counted). Each node has
 * one parent, so without a loop every node is reached exactly once. */
static size_t count_reached(json_t *tree, size_t limit) {
    struct stack st = {0};
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(tree); i++)
        push(&st, json_array_get(tree, i));
    while (st.n && !st.failed && n <= limit) {
        json_t *kids = json_object_get(st.v[--st.n], "children");
        n++;
        for (size_t i = 0; i < json_array_size(kids); i++)
            push(&st, json_array_get(kids, i));
    }
    free(st.v);
    return st.failed ? 0 : n;
}

static void break_cycles(osp_report_t *r, json_t *tree) {
    if (count_reached(tree, json_array_size(r->order)) == json_array_size(r->order))
        return; /* the usual case: no loop */
    json_t *seen = json_object();
    size_t i;
    json_t *node;
    json_array_foreach(tree, i, node) reach(seen, node);
    json_array_foreach(r->order, i, node) {
        if (json_object_get(seen, str_of(node, "trace_id")))
            continue;
        json_t *kids = json_object_get(
            json_object_get(r->by_id, str_of(node, "parent_id")), "children");
        for (size_t k = 0; k < json_array_size(kids); k++)
            if (json_array_get(kids, k) == node)
                json_array_remove(kids, k--);
        json_array_append(tree, node);
        reach(seen, node);
    }
    json_decref(seen);
}

json_t *osp_report_finish(osp_report_t *r) {
    json_t *stats = json_object();
    size_t i;
    json_t *node;
    json_array_foreach(r->order, i, node) {
        json_t *info = json_object_get(node, "info");
        json_t *st = json_object_get(info, "started"),
               *fi = json_object_get(info, "finished");
        if (!st)
            json_object_set_nocheck(info, "started", st = fi);
        if (!fi)
            json_object_set_nocheck(info, "finished", fi = st);
        json_int_t op_started = msec(json_integer_value(st) - r->started_at);
        json_int_t op_finished = msec(json_integer_value(fi) - r->started_at);
        json_object_set_new_nocheck(info, "started", json_integer(op_started));
        json_object_set_new_nocheck(info, "finished", json_integer(op_finished));
        const char *op = str_of(info, "name");
        json_t *s = json_object_get(stats, op);
        if (!s) {
            s = json_pack("{s:i,s:I}", "count", 1, "duration", op_finished - op_started);
            json_object_set_new_nocheck(stats, op, s);
        } else {
            json_object_set_new_nocheck(
                s, "count",
                json_integer(json_integer_value(json_object_get(s, "count")) + 1));
            json_object_set_new_nocheck(
                s, "duration",
                json_integer(json_integer_value(json_object_get(s, "duration")) +
                             op_finished - op_started));
        }
    }
    /* _build_tree */
    json_t *tree = json_array();
    json_array_foreach(r->order, i, node) {
        if (!json_object_get(node, "children"))
            json_object_set_new_nocheck(node, "children", json_array());
        const char *parent = str_of(node, "parent_id");
        json_t *p = parent ? json_object_get(r->by_id, parent) : NULL;
        if (p) {
            if (!json_object_get(p, "children"))
                json_object_set_new_nocheck(p, "children", json_array());
            json_array_append(json_object_get(p, "children"), node);
        } else {
            json_array_append(tree, node);
        }
    }
    break_cycles(r, tree);
    json_array_foreach(r->order, i, node)
        sort_by_started(json_object_get(node, "children"));
    sort_by_started(tree);

    json_t *total = json_object();
    json_object_set_new_nocheck(total, "name", json_string("total"));
    json_object_set_new_nocheck(total, "started", json_integer(0));
    json_object_set_new_nocheck(
        total, "finished",
        r->any ? json_integer(msec(r->finished_at - r->started_at)) : json_null());
    /* Python raises TypeError when only stops were stored; null instead */
    json_object_set_new_nocheck(
        total, "last_trace_started",
        r->any_start ? json_integer(msec(r->last_started_at - r->started_at))
                     : json_null());
    json_t *report = json_object();
    json_object_set_new_nocheck(report, "info", total);
    json_object_set_new_nocheck(report, "children", tree);
    json_object_set_new_nocheck(report, "stats", stats);
    osp_report_free(r);
    return report;
}

/* A raw payload kept as text: re-indented in place, or through jansson when
 * the text needs it (escaped or repeated keys). */
static bool write_raw(osp_buf_t *b, const char *key, size_t key_len, const json_t *val,
                      int indent, int depth, void *ud) {
    (void)ud;
    if (!json_is_string(val) || key_len < strlen(RAW_PREFIX) ||
        memcmp(key, RAW_PREFIX, strlen(RAW_PREFIX)) != 0)
        return false;
    size_t mark = b->len;
    if (osp__pyjson_reformat(b, json_string_value(val), json_string_length(val), indent,
                             depth))
        return true;
    b->len = mark;
    b->failed = false;
    json_t *tree = osp__json_loadb_finite(json_string_value(val), json_string_length(val),
                                          JSON_ALLOW_NUL, NULL);
    if (!tree)
        return false; /* written as the string it is */
    osp__pyjson_value(b, tree, indent, depth);
    json_decref(tree);
    return true;
}

/* The writer's buffer is handed out at about this size. */
#define CHUNK (1u << 20)

struct sink {
    osp_report_write_fn write;
    void *ud;
    int rc;
};

static bool flush_to(osp_buf_t *b, void *ud) {
    struct sink *k = ud;
    if (k->rc == 0 && b->len)
        k->rc = k->write(b->data, b->len, k->ud);
    b->len = 0;
    return k->rc == 0;
}

/* What a writer ends with: the rest of its buffer out, the first error. */
static int finish_out(osp_buf_t *b, struct sink *k) {
    if (b->failed)
        k->rc = OSP_ENOMEM;
    else
        flush_to(b, k);
    osp__buf_free(b);
    return k->rc;
}

int osp_report_json(const json_t *report, osp_report_write_fn write, void *ud) {
    struct sink k = {write, ud, 0};
    osp_buf_t b = OSP_BUF_INIT;
    osp_pyjson_opts_t o = {.indent = 2,
                           .member = write_raw,
                           .flush = flush_to,
                           .flush_ud = &k,
                           .flush_at = CHUNK};
    osp__pyjson_write(&b, report, &o);
    return finish_out(&b, &k);
}

/* Frames of the iterative walks below: a node and where we are in its
 * children. Reports are as deep as their longest parent_id chain, which any
 * sender can make 100,000 points long: no recursion per level. */
struct walk {
    struct wframe {
        const json_t *node;
        size_t next; /* the next child to visit */
        unsigned id; /* DOT: the node's number */
    } * v;
    size_t n, cap;
};

static bool walk_push(struct walk *w, const json_t *node, unsigned id) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        struct wframe *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return false;
        w->v = v, w->cap = cap;
    }
    w->v[w->n++] = (struct wframe){node, 0, id};
    return true;
}

/* The next child of the top frame, or NULL when it has no more. */
static const json_t *walk_next_child(struct walk *w) {
    struct wframe *f = &w->v[w->n - 1];
    json_t *kids = json_object_get(f->node, "children");
    return f->next < json_array_size(kids) ? json_array_get(kids, f->next++) : NULL;
}

size_t osp_report_depth(const json_t *report) {
    struct walk w = {0};
    size_t deepest = 0;
    if (!walk_push(&w, report, 0))
        return SIZE_MAX; /* no memory: too deep to report */
    while (w.n) {
        const json_t *kid = walk_next_child(&w);
        if (!kid) {
            w.n--;
        } else if (!walk_push(&w, kid, 0)) {
            deepest = SIZE_MAX;
            break;
        } else if (w.n - 1 > deepest) {
            deepest = w.n - 1; /* the report's own frame is the total, not a point */
        }
    }
    free(w.v);
    return deepest;
}

void osp_report_release(json_t *report) {
    /* jansson frees a tree recursively, a C frame per level: take the
     * children of each container we hold the last reference to, so that
     * every json_decref below frees one flat value. */
    size_t n = 1, cap = 256;
    json_t **v = report ? malloc(cap * sizeof *v) : NULL;
    if (!v) {
        json_decref(report); /* recursion it is: better than a leak */
        return;
    }
    v[0] = report;
    while (n) {
        json_t *x = v[--n];
        size_t kids = json_is_object(x) ? json_object_size(x) : json_array_size(x);
        if (x->refcount == 1 && kids && n + kids > cap) {
            size_t ncap = (n + kids) * 2;
            json_t **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                json_decref(x); /* recursion it is: better than a leak */
                continue;
            }
            v = nv, cap = ncap;
        }
        if (x->refcount == 1 && json_is_object(x)) {
            const char *key;
            json_t *val;
            json_object_foreach(x, key, val) v[n++] = json_incref(val);
            json_object_clear(x);
        } else if (x->refcount == 1 && json_is_array(x)) {
            for (size_t i = 0; i < kids; i++)
                v[n++] = json_incref(json_array_get(x, i));
            json_array_clear(x);
        }
        json_decref(x);
    }
    free(v);
}

/* A raw payload as a tree, whether kept as text or read from a report file. */
static json_t *raw_tree(json_t *info, const char *key) {
    json_t *v = json_object_get(info, key);
    if (json_is_string(v))
        return osp__json_loadb_finite(json_string_value(v), json_string_length(v),
                                      JSON_ALLOW_NUL, NULL);
    return v ? json_incref(v) : NULL;
}

/* graphviz.quoting.quote for a label: always quoted here (labels hold
 * spaces), '"' escaped unless already preceded by a backslash. */
static void dot_quote(osp_buf_t *out, const char *s) {
    osp__buf_putc(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' && (p == s || p[-1] != '\\'))
            osp__buf_putc(out, '\\');
        osp__buf_putc(out, *p);
    }
    osp__buf_putc(out, '"');
}

/* The first n characters (code points, as Python slices) of s. */
static size_t utf8_prefix(const char *s, size_t n) {
    size_t i = 0;
    while (s[i] && n) {
        i++;
        while ((s[i] & 0xc0) == 0x80)
            i++;
        n--;
    }
    return i;
}

static void dot_label(osp_buf_t *label, json_t *info) {
    const char *name = str_of(info, "name");
    const char *service = str_of(info, "service");
    char num[32];
    snprintf(num, sizeof num, " - %lld ms",
             (long long)(json_integer_value(json_object_get(info, "finished")) -
                         json_integer_value(json_object_get(info, "started"))));
    if (service) {
        osp__buf_puts(label, service);
        osp__buf_putc(label, ':');
    }
    osp__buf_puts(label, name ? name : "None");
    osp__buf_puts(label, num);
    if (!name)
        return;
    if (strcmp(name, "wsgi") == 0) {
        json_t *raw = raw_tree(info, RAW_PREFIX "wsgi-start");
        json_t *req = json_object_get(json_object_get(raw, "info"), "request");
        const char *method = str_of(req, "method"), *path = str_of(req, "path");
        if (method && path) {
            osp__buf_puts(label, "\\n");
            osp__buf_puts(label, method);
            osp__buf_putc(label, ' ');
            osp__buf_append(label, path, utf8_prefix(path, 30));
            osp__buf_puts(label, "..");
        }
        json_decref(raw);
    } else if (strcmp(name, "rpc") == 0 || strcmp(name, "driver") == 0) {
        char key[64];
        snprintf(key, sizeof key, RAW_PREFIX "%s-start", name);
        json_t *raw = raw_tree(info, key);
        const char *fn =
            str_of(json_object_get(json_object_get(raw, "info"), "function"), "name");
        if (fn) {
            const char *dot = strrchr(fn, '.');
            osp__buf_puts(label, "\\n");
            osp__buf_puts(label, dot ? dot + 1 : fn);
        }
        json_decref(raw);
    }
}

static void dot_node(osp_buf_t *out, const json_t *node, unsigned id) {
    osp_buf_t label = OSP_BUF_INIT, safe = OSP_BUF_INIT;
    dot_label(&label, (json_t *)json_object_get(node, "info"));
    /* Names, services and paths are the senders' text, and the source is
     * printed: control characters go out escaped (Python's are raw). */
    osp_term_escape(&safe, label.data ? label.data : "", label.len, true);
    char head[32];
    snprintf(head, sizeof head, "\t%u [label=", id);
    osp__buf_puts(out, head);
    dot_quote(out, osp__buf_cstr(&safe) ? osp__buf_cstr(&safe) : "");
    osp__buf_puts(out, "]\n");
    if (label.failed || safe.failed)
        out->failed = true;
    osp__buf_free(&label);
    osp__buf_free(&safe);
}

/* Nodes numbered depth first, "\tP -> C" after C's subtree: Python's
 * _create_sub_graph, with the recursion turned into the walk's frames. */
int osp_report_dot(const json_t *report, osp_report_write_fn write, void *ud) {
    struct sink k = {write, ud, 0};
    osp_buf_t b = OSP_BUF_INIT;
    struct walk w = {0};
    unsigned next = 0;
    osp__buf_puts(&b, "digraph {\n");
    if (walk_push(&w, report, next))
        dot_node(&b, report, next++);
    else
        b.failed = true;
    while (w.n && !b.failed && k.rc == 0) {
        const json_t *kid = walk_next_child(&w);
        if (kid) {
            if (!walk_push(&w, kid, next)) {
                b.failed = true;
                break;
            }
            dot_node(&b, kid, next++);
        } else if (--w.n) {
            char edge[32];
            snprintf(edge, sizeof edge, "\t%u -> %u\n", w.v[w.n - 1].id, w.v[w.n].id);
            osp__buf_puts(&b, edge);
        }
        if (b.len >= CHUNK)
            flush_to(&b, &k);
    }
    free(w.v);
    osp__buf_puts(&b, "}\n");
    return finish_out(&b, &k);
}
