/* SPDX-License-Identifier: Apache-2.0 */
/* unit.web - the server-side helper (WsgiMiddleware) and the client headers:
 * traced requests, and every reason a request is not traced, counted. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

#include "receiver.h"

static char *points_path;

static void setup_with(bool enabled, const char *keys) {
    static int n;
    char name[64], cs[600];
    snprintf(name, sizeof name, "web-%d.jsonl", n++);
    free(points_path);
    points_path = test_path(name);
    snprintf(cs, sizeof cs, "file://%s", points_path);
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, enabled);
    osp_config_set_hmac_keys(c, keys);
    osp_config_set_connection_string(c, cs);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
}

static int teardown(void **state) {
    (void)state;
    osp_clean();
    osp_teardown();
    return 0;
}

static void sign(const char *json, const char *key, char **info, char **hmac) {
    assert_int_equal(osp_signed_pack(json, strlen(json), key, info, hmac), OSP_OK);
}

static void web__traces_a_signed_request(void **state) {
    (void)state;
    setup_with(true, "foo, SECRET_KEY");
    /* The golden vector: base == parent == 3c1d5c2a-... signed with SECRET_KEY */
    osp_web_request_t req = {
        .x_trace_info =
            "eyJiYXNlX2lkIjogIjNjMWQ1YzJhLTVhMWYtNGM2ZS05YjNlLTFmMmQzYzRiNWE2OSIs"
            "ICJwYXJlbnRfaWQiOiAiM2MxZDVjMmEtNWExZi00YzZlLTliM2UtMWYyZDNjNGI1YTY5"
            "In0=",
        .x_trace_hmac = "beb996edf679825959b1e50c98be4d1eb442f9a0",
        .method = "POST",
        .path = "/v2.1/servers/detail",
        .query = "limit=5&marker=x",
        .scheme = "https"};
    assert_int_equal(osp_web_begin(&req, NULL, 0), OSP_OK);
    osp_profiler_t *p = osp_get();
    assert_string_equal(osp_profiler_hmac_key(p), "SECRET_KEY");
    char wsgi[64];
    strcpy(wsgi, osp_profiler_id(p));
    /* Outgoing headers carry the wsgi point as parent. */
    char *info, *hmac;
    assert_int_equal(osp_web_headers(&info, &hmac), OSP_OK);
    const char *keys[] = {"SECRET_KEY"};
    json_t *ctx;
    assert_int_equal(osp_signed_unpack(info, hmac, keys, 1, &ctx), OSP_OK);
    assert_string_equal(json_string_value(json_object_get(ctx, "parent_id")), wsgi);
    json_decref(ctx);
    osp_free(info);
    osp_free(hmac);
    osp_web_end(NULL, NULL);
    assert_null(osp_get()); /* cleaned */
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 2);
    json_t *start = json_array_get(pts, 0);
    json_t *want = json_pack("{s:s,s:s,s:s,s:s}", "path", "/v2.1/servers/detail", "query",
                             "limit=5&marker=x", "method", "POST", "scheme", "https");
    assert_true(
        json_equal(json_object_get(json_object_get(start, "info"), "request"), want));
    json_decref(want);
    assert_string_equal(json_string_value(json_object_get(start, "parent_id")),
                        "3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69");
    json_decref(pts);
    osp_stats_t st;
    osp_get_stats(&st);
    assert_true(st.web_traced >= 1);
}

static void web__error_finish(void **state) {
    (void)state;
    setup_with(true, "k");
    char *info, *hmac;
    sign("{\"base_id\": \"b\"}", "k", &info, &hmac);
    osp_web_request_t req = {.x_trace_info = info, .x_trace_hmac = hmac, .path = "/x"};
    assert_int_equal(osp_web_begin(&req, NULL, 0), OSP_OK);
    osp_web_end("HTTPInternalServerError", "kaput");
    osp_web_end(NULL, NULL); /* second end: nothing to do */
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 2);
    json_t *inf = json_object_get(json_array_get(pts, 1), "info");
    assert_string_equal(json_string_value(json_object_get(inf, "etype")),
                        "HTTPInternalServerError");
    /* a non-UUID base id is passed through, as Python does */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(pts, 0), "base_id")), "b");
    json_decref(pts);
    osp_free(info);
    osp_free(hmac);
}

/* The path as webob's request.path records it; a path webob cannot decode
 * is not traced and leaves nothing behind. */
static void web__path_as_webob_records_it(void **state) {
    (void)state;
    setup_with(true, "k");
    char *info, *hmac;
    sign("{\"base_id\": \"b\"}", "k", &info, &hmac);
    static const struct {
        const char *raw, *recorded;
    } ok[] = {
        {"/v2.1/%7Eops/a%2Cb/[x]", "/v2.1/~ops/a,b/%5Bx%5D"},
        {"/caf%c3%a9/%zz/%4/%", "/caf%C3%A9/%25zz/%254/%25"},
        {"/a b/\xc3\xa9/%00", "/a%20b/%C3%A9/%00"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        osp_web_request_t req = {
            .x_trace_info = info, .x_trace_hmac = hmac, .path = ok[i].raw};
        assert_int_equal(osp_web_begin(&req, NULL, 0), OSP_OK);
        osp_web_end(NULL, NULL);
    }
    osp_stats_t before, after;
    osp_get_stats(&before);
    static const char *const bad[] = {"/%C3", "/\xff", "/%ED%A0%80", "/%C0%AF"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        osp_web_request_t req = {
            .x_trace_info = info, .x_trace_hmac = hmac, .path = bad[i]};
        assert_int_equal(osp_web_begin(&req, NULL, 0), OSP_EBADPATH);
        assert_null(osp_get());
    }
    osp_get_stats(&after);
    assert_int_equal(after.web_traced, before.web_traced);
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 2 * (sizeof ok / sizeof *ok));
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_t *req = json_object_get(json_object_get(json_array_get(pts, 2 * i), "info"),
                                      "request");
        assert_string_equal(json_string_value(json_object_get(req, "path")),
                            ok[i].recorded);
    }
    json_decref(pts);
    osp_free(info);
    osp_free(hmac);
}

static int begin_with(const char *json, const char *sign_key) {
    char *info, *hmac;
    sign(json, sign_key, &info, &hmac);
    osp_web_request_t req = {.x_trace_info = info, .x_trace_hmac = hmac};
    int rc = osp_web_begin(&req, NULL, 0);
    osp_web_end(NULL, NULL);
    osp_free(info);
    osp_free(hmac);
    return rc;
}

static void web__rejections_have_reasons(void **state) {
    (void)state;
    setup_with(true, "k1, k2");
    osp_stats_t before, after;
    osp_get_stats(&before);
    osp_web_request_t none = {0};
    assert_int_equal(osp_web_begin(&none, NULL, 0), OSP_ENOHEADER);
    assert_int_equal(begin_with("{\"base_id\": \"b\"}", "other"), OSP_ENOKEYMATCH);
    assert_int_equal(begin_with("{\"base_id\": \"b\", \"foo\": 1}", "k2"), OSP_EBADKEYS);
    assert_int_equal(begin_with("{\"parent_id\": \"p\"}", "k1"), OSP_EBADKEYS);
    assert_int_equal(begin_with("{\"base_id\": 5}", "k1"), OSP_EBADKEYS);
    assert_int_equal(begin_with("{}", "k1"), OSP_EBADKEYS);
    /* ids longer than osp_context_t holds (osp__trace_ctx_check, the rule
     * `osprofiler header verify` applies too); 255 bytes are taken */
    char ctx[400];
    snprintf(ctx, sizeof ctx, "{\"base_id\": \"%0300d\"}", 0);
    assert_int_equal(begin_with(ctx, "k1"), OSP_EBADKEYS);
    snprintf(ctx, sizeof ctx, "{\"base_id\": \"%0255d\"}", 0);
    assert_int_equal(begin_with(ctx, "k1"), OSP_OK);
    assert_int_equal(begin_with("[\"base_id\"]", "k1"), OSP_EUNDECODABLE);
    osp_web_request_t upper = {.x_trace_info = "e30=",
                               .x_trace_hmac =
                                   "BEB996EDF679825959B1E50C98BE4D1EB442F9A0"};
    assert_int_equal(osp_web_begin(&upper, NULL, 0), OSP_EBADSIG);
    /* Garbage, huge and non-base64 headers. */
    osp_web_request_t garbage = {.x_trace_info = "%%%\x01\xff",
                                 .x_trace_hmac = "not-hex-at-all"};
    assert_int_equal(osp_web_begin(&garbage, NULL, 0), OSP_EBADSIG);
    const char *nokeys[] = {NULL};
    assert_int_equal(osp_web_begin(&upper, nokeys, 0), OSP_ENOKEYS);
    assert_int_equal(osp_web_begin(NULL, NULL, 0), OSP_EINVAL);
    osp_get_stats(&after);
    assert_int_equal(
        after.web_rejected[OSP_ENOHEADER - OSP_ENOHEADER] - before.web_rejected[0], 1);
    assert_int_equal(after.web_rejected[OSP_ENOHEADER - OSP_ENOKEYMATCH] -
                         before.web_rejected[OSP_ENOHEADER - OSP_ENOKEYMATCH],
                     1);
    assert_int_equal(after.web_rejected[OSP_ENOHEADER - OSP_EBADKEYS] -
                         before.web_rejected[OSP_ENOHEADER - OSP_EBADKEYS],
                     5);
    assert_int_equal(after.web_rejected[OSP_ENOHEADER - OSP_EBADSIG] -
                         before.web_rejected[OSP_ENOHEADER - OSP_EBADSIG],
                     2);
    assert_int_equal(after.web_traced, before.web_traced + 1); /* the 255-byte id */
    assert_null(osp_get());
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 2);
    json_decref(pts);
}

static void web__disabled_traces_nothing(void **state) {
    (void)state;
    setup_with(false, "k");
    assert_false(osp_is_trace_enabled());
    assert_int_equal(begin_with("{\"base_id\": \"b\"}", "k"), OSP_EDISABLED);
    assert_null(osp_get());
}

static void web__client_headers_need_key(void **state) {
    (void)state;
    setup_with(true, "k");
    char *info, *hmac;
    assert_int_equal(osp_web_headers(&info, &hmac), OSP_ENOTRACE);
    osp_init(NULL, "b", NULL);
    assert_int_equal(osp_web_headers(&info, &hmac), OSP_ENOTRACE); /* Python: {} */
    osp_clean();
    osp_init("SECRET_KEY", "3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69", NULL);
    assert_int_equal(osp_web_headers(&info, &hmac), OSP_OK);
    /* get_trace_id_headers() at top level: the golden vector exactly. */
    assert_string_equal(hmac, "beb996edf679825959b1e50c98be4d1eb442f9a0");
    assert_string_equal(
        info, "eyJiYXNlX2lkIjogIjNjMWQ1YzJhLTVhMWYtNGM2ZS05YjNlLTFmMmQzYzRiNWE2OSIs"
              "ICJwYXJlbnRfaWQiOiAiM2MxZDVjMmEtNWExZi00YzZlLTliM2UtMWYyZDNjNGI1YTY5"
              "In0=");
    osp_free(info);
    osp_free(hmac);
}

int main(void) {
#define T(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        T(web__traces_a_signed_request),  T(web__error_finish),
        T(web__path_as_webob_records_it), T(web__rejections_have_reasons),
        T(web__disabled_traces_nothing),  T(web__client_headers_need_key),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(points_path);
    return rc;
}
