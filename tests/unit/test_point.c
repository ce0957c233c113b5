/* SPDX-License-Identifier: Apache-2.0 */
/* unit.point - the sidecar's single-pass point checker accepts what Python's
 * json.loads accepts (and the point rules), finds the fields, and refuses the
 * rest with a reason. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/point.h"

#define IDS                                                                              \
    "\"base_id\": \"b\", \"trace_id\": \"t\", \"parent_id\": \"p\", \"timestamp\": "     \
    "\"ts\""

static int scan(const char *text, osp_point_view_t *v, osp_error_t *e) {
    return osp__point_scan(text, strlen(text), v, e);
}

static char *decoded(const osp_jstr_t *s) {
    static char out[256];
    osp__jstr_decode(s, out, sizeof out);
    return out;
}

static void point__accepts_python_json(void **state) {
    (void)state;
    static const char *ok[] = {
        "{\"name\": \"a-start\", " IDS "}",
        " \t\r\n{\"name\":\"a-stop\"," IDS ",\"info\":{}} \n",
        "{\"name\": \"a-start\", " IDS
        ", \"info\": {\"x\": [1, -0, 0.5, 1e5, 2E-3, -1.5e+10, "
        "true, false, null, NaN, Infinity, -Infinity, [], {}, [[[]]]]}}",
        "{\"name\": \"a-start\", " IDS
        ", \"info\": {\"big\": 123456789012345678901234567890}}",
        "{\"name\": \"a-start\", " IDS
        ", \"s\": \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 "
        "\\ud83d\\ude00 \\u0000\"}",
        "{\"name\": \"a-start\", " IDS
        ", \"u\": \"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"name\": \"x-start\", \"name\": \"a-stop\", " IDS
        "}", /* the last one counts */
        /* a point named "": Python publishes these */
        "{\"name\": \"-start\", " IDS "}",
        "{\"name\": \"-stop\", " IDS "}",
        "{\"name\": \"\\u002dstop\", " IDS "}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        osp_point_view_t v;
        osp_error_t e = {0};
        if (scan(ok[i], &v, &e) != OSP_OK)
            fail_msg("case %zu refused: %s", i, e.text);
    }
}

static void point__refuses_with_a_reason(void **state) {
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"name\": \"a-start\", " IDS "", "expected ','"},
        {"{\"name\": \"a-start\", " IDS ",}", "expected a member name"},
        {"{\"name\": \"a-start\", " IDS "} x", "extra data"},
        {"{\"name\": \"a-start\", " IDS ", \"n\": 01}", "expected ','"},
        {"{\"name\": \"a-start\", " IDS ", \"n\": 1.}", "invalid number"},
        {"{\"name\": \"a-start\", " IDS ", \"n\": -}", "invalid number"},
        {"{\"name\": \"a-start\", " IDS ", \"n\": +1}", "unexpected character"},
        {"{\"name\": \"a-start\", " IDS ", \"n\": tru}", "invalid literal"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\\x\"}", "invalid escape"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\\u12g4\"}", "invalid \\u escape"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\\ud800\"}", "unpaired surrogate"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\\udc00\\ud800\"}",
         "unpaired surrogate"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"a\tb\"}", "control character"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\xc0\xaf\"}", "invalid UTF-8"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\xed\xa0\x80\"}", "invalid UTF-8"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\xf4\x90\x80\x80\"}",
         "invalid UTF-8"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"\xe2\x82\"}", "invalid UTF-8"},
        {"{\"name\": \"a-start\", " IDS ", \"s\": \"abc", "unterminated string"},
        {"{\"name\": \"a-start\", \"base_id\": 1, \"trace_id\": \"t\", \"parent_id\": "
         "\"p\", "
         "\"timestamp\": \"ts\"}",
         "lacks one of the string fields"},
        {"{\"name\": \"a-start\", \"trace_id\": \"t\", \"parent_id\": \"p\", "
         "\"timestamp\": "
         "\"ts\"}",
         "lacks one of the string fields"},
        {"{\"name\": \"a-start\", " IDS ", \"info\": []}", "info is not an object"},
        {"{\"name\": \"a\", " IDS "}", "does not end in -start or -stop"},
        {"{\"name\": \"stop\", " IDS "}", "does not end in -start or -stop"},
        {"{\"name\": \"start\", " IDS "}", "does not end in -start or -stop"},
        {"{\"name\": \"\", " IDS "}", "does not end in -start or -stop"},
        {"{\"name\": \"-sto\", " IDS "}", "does not end in -start or -stop"},
        {"{\"name\": \"a-start\", " IDS ", \"name\": 3}",
         "lacks one of the string fields"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        osp_point_view_t v;
        osp_error_t e = {0};
        if (scan(bad[i].text, &v, &e) != OSP_EFRAME)
            fail_msg("case %zu accepted: %s", i, bad[i].text);
        if (!strstr(e.text, bad[i].why))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.text, bad[i].why);
    }
}

/* A payload nested 1000 levels (Python's recursion limit: no Python
 * publisher sends deeper, no Python consumer reads deeper) passes; 1001
 * does not. */
static void point__nesting_is_bounded(void **state) {
    (void)state;
    assert_int_equal(OSP_POINT_MAX_DEPTH, 1000);
    size_t deep = OSP_POINT_MAX_DEPTH + 1;
    char *t = malloc(64 + sizeof IDS + 2 * deep);
    int n = sprintf(t, "{\"name\": \"a-start\", " IDS ", \"x\": ");
    memset(t + n, '[', deep - 1);
    memset(t + n + deep - 1, ']', deep - 1);
    strcpy(t + n + 2 * (deep - 1), "}");
    osp_point_view_t v;
    osp_error_t e;
    assert_int_equal(scan(t, &v, &e), OSP_EFRAME);
    assert_non_null(strstr(e.text, "nested too deeply"));
    /* one level less than the limit is fine */
    size_t ok = OSP_POINT_MAX_DEPTH - 1; /* the outer object is one level */
    n = sprintf(t, "{\"name\": \"a-start\", " IDS ", \"x\": ");
    memset(t + n, '[', ok);
    memset(t + n + ok, ']', ok);
    strcpy(t + n + 2 * ok, "}");
    assert_int_equal(scan(t, &v, &e), OSP_OK);
    free(t);
}

static void point__fields_found_and_decoded(void **state) {
    (void)state;
    osp_point_view_t v;
    osp_error_t e;
    const char *t =
        "{\"info\": {\"service\": \"inner\", \"name\": \"x\"}, \"n\\u0061me\": "
        "\"db-st\\u006fp\", \"base_id\": \"B\", \"trace_id\": \"T\", "
        "\"parent_id\": \"P\", \"timestamp\": \"2026-11-28T05:00:00.000001\", "
        "\"service\": \"n\\u00e9va \\ud83d\\ude00\"}";
    assert_int_equal(scan(t, &v, &e), OSP_OK);
    assert_true(v.name.escaped);
    assert_string_equal(decoded(&v.name), "db-stop");
    assert_string_equal(decoded(&v.base_id), "B");
    assert_string_equal(decoded(&v.trace_id), "T");
    assert_string_equal(decoded(&v.parent_id), "P");
    assert_string_equal(decoded(&v.timestamp), "2026-11-28T05:00:00.000001");
    assert_string_equal(decoded(&v.service), "n\xc3\xa9va \xf0\x9f\x98\x80");
    /* no service member, or not a string: absent */
    assert_int_equal(scan("{\"name\": \"a-start\", " IDS ", \"service\": 1}", &v, &e),
                     OSP_OK);
    assert_null(v.service.raw);
    /* decoding stops on a character boundary when out is short */
    char out[4];
    assert_int_equal(
        osp__jstr_decode(&(osp_jstr_t){"ab\\u00e9", 8, true}, out, sizeof out), 2);
    assert_string_equal(out, "ab");
}

static void point__tree_for_the_cli(void **state) {
    (void)state;
    json_t *o = NULL;
    osp_error_t e;
    const char *t = "{\"name\": \"a-start\", " IDS ", \"info\": {\"k\": 1}}";
    assert_int_equal(osp__point_parse(t, strlen(t), &o, &e), OSP_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "info"), "k")),
                     1);
    json_decref(o);
    t = "{\"name\": \"a-start\", " IDS ", \"info\": []}";
    assert_int_equal(osp__point_parse(t, strlen(t), &o, &e), OSP_EFRAME);
}

/* The policy: NaN, Infinity and -Infinity outside strings become null; in
 * strings (escaped quotes and backslashes included) nothing changes. */
static char *finite(const char *in, size_t *replaced) {
    static char out[512];
    osp_buf_t b = OSP_BUF_INIT;
    *replaced = osp__json_finite_append(&b, in, strlen(in));
    assert_false(b.failed);
    assert_true(b.len < sizeof out);
    assert_true(b.len <= strlen(in) + strlen(in) / 3);
    memcpy(out, b.data ? b.data : "", b.len);
    out[b.len] = '\0';
    osp__buf_free(&b);
    return out;
}

static void point__nonfinite_become_null(void **state) {
    (void)state;
    size_t n;
    assert_string_equal(finite("{\"a\": NaN, \"b\": [Infinity,-Infinity, 1.5]}", &n),
                        "{\"a\": null, \"b\": [null,null, 1.5]}");
    assert_int_equal(n, 3);
    /* strings are never touched: the tokens, escaped quotes, a backslash
     * before the closing quote */
    const char *kept = "{\"NaN\": \"x\\\" NaN -Infinity\", \"k\\\\\": \"Infinity\"}";
    assert_string_equal(finite(kept, &n), kept);
    assert_int_equal(n, 0);
    assert_int_equal(osp__json_nonfinite_find(kept, strlen(kept)), strlen(kept));
    assert_string_equal(finite("{\"s\\\\\": NaN}", &n), "{\"s\\\\\": null}");
    assert_int_equal(n, 1);
    /* invalid JSON stays invalid; an unterminated string runs to the end */
    assert_string_equal(finite("[-NaN, NaNa, \"NaN", &n), "[-null, nulla, \"NaN");
    assert_string_equal(finite("[Inf, -Inf, Na]", &n), "[Inf, -Inf, Na]");
    assert_int_equal(n, 0);
    const char *t = "{\"a\": [1, NaN]}";
    assert_int_equal(osp__json_nonfinite_find(t, strlen(t)), 10);
    /* what jansson reads */
    json_error_t je;
    json_t *j = osp__json_loadb_finite(t, strlen(t), 0, &je);
    assert_non_null(j);
    assert_true(json_is_null(json_array_get(json_object_get(j, "a"), 1)));
    json_decref(j);
    assert_null(osp__json_loadb_finite("[-NaN]", 6, 0, &je));
}

static void point__tree_for_the_cli_nonfinite(void **state) {
    (void)state;
    json_t *o = NULL;
    osp_error_t e;
    const char *t = "{\"name\": \"a-start\", " IDS ", \"info\": {\"k\": NaN, "
                    "\"i\": -Infinity}}";
    assert_int_equal(osp__point_parse(t, strlen(t), &o, &e), OSP_OK);
    json_t *info = json_object_get(o, "info");
    assert_true(json_is_null(json_object_get(info, "k")));
    assert_true(json_is_null(json_object_get(info, "i")));
    json_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(point__accepts_python_json),
        cmocka_unit_test(point__refuses_with_a_reason),
        cmocka_unit_test(point__nesting_is_bounded),
        cmocka_unit_test(point__fields_found_and_decoded),
        cmocka_unit_test(point__tree_for_the_cli),
        cmocka_unit_test(point__nonfinite_become_null),
        cmocka_unit_test(point__tree_for_the_cli_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
