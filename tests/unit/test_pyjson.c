/* SPDX-License-Identifier: Apache-2.0 */
/* unit.pyjson - JSON text byte-identical to Python's json.dumps. Expected
 * strings below were printed by /usr/bin/python3's json.dumps. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/pyjson.h"
#include "receiver.h"

static char *dump(json_t *v, int indent) {
    osp_buf_t b = OSP_BUF_INIT;
    osp__pyjson_value(&b, v, indent, 0);
    return osp__buf_cstr(&b);
}

static void check(const char *json_in, const char *expect) {
    json_error_t e;
    json_t *v = json_loads(json_in, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    assert_non_null(v);
    char *got = dump(v, -1);
    assert_string_equal(got, expect);
    free(got);
    json_decref(v);
}

static void pyjson__escapes_like_python(void **state) {
    (void)state;
    /* json.dumps("h\u00e9llo \u2603") etc. */
    check("\"h\\u00e9llo \\u2603\"", "\"h\\u00e9llo \\u2603\"");
    check("\"tab\\there\\nnl\\r\\b\\f\"", "\"tab\\there\\nnl\\r\\b\\f\"");
    check("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\\u007f\"");
    check("\"q\\\" b\\\\ /\"", "\"q\\\" b\\\\ /\"");
    /* json.dumps("\U0001F600") == '"\\ud83d\\ude00"' */
    check("\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"");
    check("\"nul\\u0000x\"", "\"nul\\u0000x\"");
}

static void pyjson__separators_and_order(void **state) {
    (void)state;
    check(
        "{\"b\": 1, \"a\": [1, 2, {}], \"c\": {\"x\": null, \"y\": true, \"z\": false}}",
        "{\"b\": 1, \"a\": [1, 2, {}], \"c\": {\"x\": null, \"y\": true, \"z\": false}}");
    check("[]", "[]");
    check("{}", "{}");
    check("-9223372036854775808", "-9223372036854775808");
}

static void pyjson__float_repr(void **state) {
    (void)state;
    /* repr() of each: 1.5, 1e-07, 0.0001, 1e+16, 1000000000000000.0, 0.1, 1.0,
     * -0.0, 123456789.123, 1.7976931348623157e+308, 5e-324, 2.5e-05 */
    static const struct {
        double v;
        const char *repr;
    } cases[] = {{1.5, "1.5"},
                 {1e-7, "1e-07"},
                 {0.0001, "0.0001"},
                 {1e16, "1e+16"},
                 {1e15, "1000000000000000.0"},
                 {0.1, "0.1"},
                 {1.0, "1.0"},
                 {-0.0, "-0.0"},
                 {123456789.123, "123456789.123"},
                 {1.7976931348623157e308, "1.7976931348623157e+308"},
                 {5e-324, "5e-324"},
                 {2.5e-05, "2.5e-05"},
                 {1.0 / 3.0, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        osp_buf_t b = OSP_BUF_INIT;
        osp__pyjson_real(&b, cases[i].v);
        assert_string_equal(osp__buf_cstr(&b), cases[i].repr);
        osp__buf_free(&b);
    }
}

static void pyjson__indent_two(void **state) {
    (void)state;
    /* json.dumps(obj, indent=2, separators=(",", ": ")) */
    json_t *v = json_loads("{\"a\": [1, {\"b\": []}], \"c\": {}}", 0, NULL);
    char *got = dump(v, 2);
    assert_string_equal(got,
                        "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n"
                        "  \"c\": {}\n}");
    free(got);
    json_decref(v);
}

/* The golden AMQP body re-serialised must give back the same bytes: this is
 * the whole format-1.0 message, payload included. */
static void pyjson__golden_bodies_roundtrip(void **state) {
    (void)state;
    static const char *const files[] = {"osprofiler_start.body", "osprofiler_stop.body",
                                        "v2_profiler_info.body"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", OSP_GOLDEN_DIR, files[i]);
        size_t len;
        char *body = test_read_file(path, &len);
        assert_non_null(body);
        json_t *v = json_loadb(body, len, 0, NULL);
        assert_non_null(v);
        char *got = dump(v, -1);
        assert_string_equal(got, body);
        free(got);
        free(body);
        json_decref(v);
    }
}

/* Stored payload text re-indented without a tree equals
 * json.dumps(json.loads(text), indent=2, separators=(",", ": ")) - the
 * expected text below is CPython 3.11's output for the same input. */
static void pyjson__reformat_like_python(void **state) {
    (void)state;
    const char *in =
        "{\"a\": 1e5, \"b\": -0, \"c\": -0.0, \"d\": \"\\u00e9\\/x\", "
        "\"e\": [], \"f\": {}, \"g\": [1, [2, {\"h\": null}]], \"i\": NaN, "
        "\"j\": 1.50, \"k\": 123456789012345678901234567890, "
        "\"l\": \"\xc3\xa9\", \"m\": [true, false, null, -Infinity], \"n\": \"\x7f\"}";
    const char *want =
        "{\n  \"a\": 100000.0,\n  \"b\": 0,\n  \"c\": -0.0,\n  \"d\": "
        "\"\\u00e9/x\",\n  \"e\": [],\n  \"f\": {},\n  \"g\": [\n    1,\n"
        "    [\n      2,\n      {\n        \"h\": null\n      }\n    ]\n  ],\n"
        "  \"i\": NaN,\n  \"j\": 1.5,\n  \"k\": "
        "123456789012345678901234567890,\n  \"l\": \"\\u00e9\",\n  \"m\": [\n    true,\n "
        "   "
        "false,\n    null,\n    -Infinity\n  ],\n  \"n\": \"\\u007f\"\n}";
    osp_buf_t b = OSP_BUF_INIT;
    assert_true(osp__pyjson_reformat(&b, in, strlen(in), 2, 0));
    assert_string_equal(osp__buf_cstr(&b), want);
    osp__buf_free(&b);
    /* a repeated key keeps its first place in Python: left to jansson */
    b = (osp_buf_t)OSP_BUF_INIT;
    assert_false(osp__pyjson_reformat(&b, "{\"a\": 1, \"b\": 2, \"a\": 3}", 24, 2, 0));
    osp__buf_free(&b);
}

/* 200,000 nested arrays, built and freed a level at a time (jansson's own
 * json_decref would recurse once per level). */
enum { DEEP = 200000 };

static json_t *nested(int n) {
    json_t *v = json_array();
    for (int i = 1; i < n; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    return v;
}

static void free_nested(json_t *v) {
    while (v) {
        json_t *kid = json_incref(json_array_get(v, 0));
        json_decref(v); /* kid keeps our reference: nothing below is freed */
        v = kid;
    }
}

struct deep_run {
    json_t *v;
    osp_buf_t out;
    bool within_ok, within_short;
};

static void *write_deep(void *arg) {
    struct deep_run *r = arg;
    osp__pyjson_value(&r->out, r->v, -1, 0);
    osp_buf_t b = OSP_BUF_INIT;
    r->within_ok = osp__pyjson_value_within(&b, r->v, DEEP);
    osp__buf_free(&b);
    b = (osp_buf_t)OSP_BUF_INIT;
    r->within_short = osp__pyjson_value_within(&b, r->v, DEEP - 1);
    osp__buf_free(&b);
    return NULL;
}

/* The serializer keeps its containers on the heap: 200,000 levels on a
 * thread with a 256 KiB stack (a C frame per level would need megabytes). */
static void pyjson__any_depth_without_recursion(void **state) {
    (void)state;
    struct deep_run r = {nested(DEEP), OSP_BUF_INIT, false, true};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    assert_int_equal(pthread_create(&t, &attr, write_deep, &r), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    assert_int_equal(r.out.len, 2 * DEEP);
    for (size_t i = 0; i < DEEP; i++) {
        assert_int_equal(r.out.data[i], '[');
        assert_int_equal(r.out.data[DEEP + i], ']');
    }
    assert_true(r.within_ok);     /* exactly DEEP levels: within the bound */
    assert_false(r.within_short); /* one more than the bound */
    osp__buf_free(&r.out);
    free_nested(r.v);
}

struct chunks {
    osp_buf_t all;
    size_t calls, stop_after;
};

static bool collect(osp_buf_t *b, void *ud) {
    struct chunks *c = ud;
    osp__buf_append(&c->all, b->data, b->len);
    b->len = 0;
    return ++c->calls != c->stop_after;
}

/* Flushing at any size changes nothing of the text; a failing flush stops. */
static void pyjson__flushes_between_values(void **state) {
    (void)state;
    json_t *v = json_loads("{\"a\": [1, 2.5, {\"b\": \"\u00e9\", \"c\": []}], \"d\": {}}",
                           0, NULL);
    char *whole = dump(v, 2);
    for (size_t at = 0; at < 40; at++) {
        struct chunks c = {OSP_BUF_INIT, 0, 0};
        osp_buf_t b = OSP_BUF_INIT;
        osp_pyjson_opts_t o = {
            .indent = 2, .flush = collect, .flush_ud = &c, .flush_at = at};
        assert_true(osp__pyjson_write(&b, v, &o));
        osp__buf_append(&c.all, b.data, b.len);
        assert_string_equal(osp__buf_cstr(&c.all), whole);
        osp__buf_free(&b);
        osp__buf_free(&c.all);
    }
    struct chunks c = {OSP_BUF_INIT, 0, 3};
    osp_buf_t b = OSP_BUF_INIT;
    osp_pyjson_opts_t o = {.indent = 2, .flush = collect, .flush_ud = &c};
    assert_false(osp__pyjson_write(&b, v, &o));
    assert_int_equal(c.calls, 3);
    osp__buf_free(&b);
    osp__buf_free(&c.all);
    free(whole);
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pyjson__any_depth_without_recursion),
        cmocka_unit_test(pyjson__flushes_between_values),
        cmocka_unit_test(pyjson__escapes_like_python),
        cmocka_unit_test(pyjson__separators_and_order),
        cmocka_unit_test(pyjson__float_repr),
        cmocka_unit_test(pyjson__indent_two),
        cmocka_unit_test(pyjson__golden_bodies_roundtrip),
        cmocka_unit_test(pyjson__reformat_like_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
