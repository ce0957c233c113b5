/* SPDX-License-Identifier: Apache-2.0 */
/* unit.sign - signed_pack/signed_unpack against the golden vectors printed
 * by Python's osprofiler._utils, both directions, and their rejections. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

#include "common/pyjson.h"
#include "common/sign.h"
#include "receiver.h"

static json_t *golden(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/hmac_vectors.json", OSP_GOLDEN_DIR);
    json_t *g = json_load_file(path, 0, NULL);
    assert_non_null(g);
    return g;
}

static void sign__pack_matches_python(void **state) {
    (void)state;
    json_t *g = golden(), *v;
    size_t i;
    json_array_foreach(json_object_get(g, "vectors"), i, v) {
        osp_buf_t j = OSP_BUF_INIT;
        osp__pyjson_value(&j, json_object_get(v, "data"), -1, 0);
        char *info, *hmac;
        assert_int_equal(osp_signed_pack(j.data, j.len,
                                         json_string_value(json_object_get(v, "key")),
                                         &info, &hmac),
                         OSP_OK);
        assert_string_equal(info, json_string_value(json_object_get(v, "x_trace_info")));
        assert_string_equal(hmac, json_string_value(json_object_get(v, "x_trace_hmac")));
        osp_free(info);
        osp_free(hmac);
        osp__buf_free(&j);
    }
    json_decref(g);
}

static void sign__unpack_matches_python(void **state) {
    (void)state;
    json_t *g = golden(), *v;
    size_t i;
    json_array_foreach(json_object_get(g, "vectors"), i, v) {
        const char *keys[] = {"wrong", json_string_value(json_object_get(v, "key"))};
        json_t *out = NULL;
        assert_int_equal(
            osp_signed_unpack(json_string_value(json_object_get(v, "x_trace_info")),
                              json_string_value(json_object_get(v, "x_trace_hmac")), keys,
                              2, &out),
            OSP_OK);
        assert_true(
            json_equal(out, json_object_get(v, "unpacked_with_keys_wrong_then_key")));
        json_decref(out);
    }
    json_decref(g);
}

static void sign__golden_rejections(void **state) {
    (void)state;
    json_t *g = golden(), *v;
    size_t i;
    json_array_foreach(json_object_get(g, "rejections"), i, v) {
        json_t *jk = json_object_get(v, "keys");
        const char *keys[4];
        size_t n = json_array_size(jk);
        for (size_t k = 0; k < n; k++)
            keys[k] = json_string_value(json_array_get(jk, k));
        json_t *out = NULL;
        int rc = osp_signed_unpack(json_string_value(json_object_get(v, "x_trace_info")),
                                   json_string_value(json_object_get(v, "x_trace_hmac")),
                                   keys, n, &out);
        assert_true(json_is_null(json_object_get(v, "unpacked")));
        assert_int_not_equal(rc, OSP_OK);
        assert_null(out);
        const char *c = json_string_value(json_object_get(v, "case"));
        if (strcmp(c, "uppercase hmac") == 0)
            assert_int_equal(rc, OSP_EBADSIG);
        else if (strcmp(c, "empty hmac") == 0)
            assert_int_equal(rc, OSP_ENOHEADER);
        else
            assert_int_equal(rc, OSP_ENOKEYMATCH);
    }
    json_decref(g);
}

static void sign__pack_without_key_has_no_hmac(void **state) {
    (void)state;
    /* signed_pack({"base_id": "x"}, None) -> (b'eyJiYXNlX2lkIjogIngifQ==', None) */
    char *info, *hmac;
    const char *j = "{\"base_id\": \"x\"}";
    assert_int_equal(osp_signed_pack(j, strlen(j), NULL, &info, &hmac), OSP_OK);
    assert_string_equal(info, "eyJiYXNlX2lkIjogIngifQ==");
    assert_null(hmac);
    osp_free(info);
    assert_int_equal(osp_signed_pack(j, strlen(j), "", &info, &hmac), OSP_OK);
    assert_null(hmac);
    osp_free(info);
}

static int unpack_signed(const char *json, const char *key, json_t **out) {
    char *info, *hmac;
    osp_signed_pack(json, strlen(json), key, &info, &hmac);
    const char *keys[] = {key};
    int rc = osp_signed_unpack(info, hmac, keys, 1, out);
    osp_free(info);
    osp_free(hmac);
    return rc;
}

static void sign__bad_payloads(void **state) {
    (void)state;
    json_t *out = NULL;
    /* Validly signed, but not a JSON object. */
    assert_int_equal(unpack_signed("[1, 2]", "k", &out), OSP_EUNDECODABLE);
    assert_int_equal(unpack_signed("\"str\"", "k", &out), OSP_EUNDECODABLE);
    assert_int_equal(unpack_signed("{broken", "k", &out), OSP_EUNDECODABLE);
    assert_null(out);
    /* Validly signed text that is not base64 (padding missing). */
    char hex[41];
    assert_true(osp__hmac_sha1_hex("k", 1, "abcde", 5, hex));
    const char *keys[] = {"k"};
    assert_int_equal(osp_signed_unpack("abcde", hex, keys, 1, &out), OSP_EUNDECODABLE);
    /* Missing pieces. */
    assert_int_equal(osp_signed_unpack(NULL, hex, keys, 1, &out), OSP_ENOHEADER);
    assert_int_equal(osp_signed_unpack("abcd", "  \t", keys, 1, &out), OSP_ENOHEADER);
    assert_int_equal(osp_signed_unpack("abcd", hex, NULL, 0, &out), OSP_ENOKEYS);
    assert_int_equal(osp_signed_unpack("abcd", "zz", keys, 1, &out), OSP_EBADSIG);
    assert_int_equal(osp_signed_unpack("abcd", hex, keys, 1, NULL), OSP_EINVAL);
    /* A huge header is handled, and rejected on its signature. */
    size_t big = 1 << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'A', big);
    huge[big] = '\0';
    assert_int_equal(osp_signed_unpack(huge, hex, keys, 1, &out), OSP_ENOKEYMATCH);
    free(huge);
    /* Surrounding whitespace on the HMAC is stripped, as Python does. */
    char *info, *hmac;
    const char *j = "{\"base_id\": \"b\"}";
    osp_signed_pack(j, strlen(j), "k", &info, &hmac);
    char spaced[64];
    snprintf(spaced, sizeof spaced, "  %s\n", hmac);
    assert_int_equal(osp_signed_unpack(info, spaced, keys, 1, &out), OSP_OK);
    json_decref(out);
    osp_free(info);
    osp_free(hmac);
}

static void sign__b64_decode_like_binascii(void **state) {
    (void)state;
    osp_buf_t b = OSP_BUF_INIT;
    /* base64.urlsafe_b64decode(b"e30=") == b"{}"; junk is skipped */
    assert_true(osp__b64url_decode(&b, "e3!0=", 5));
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "{}", 2);
    b.len = 0;
    assert_false(osp__b64url_decode(&b, "e30", 3)); /* Incorrect padding */
    b.len = 0;
    assert_false(osp__b64url_decode(&b, "e", 1));
    b.len = 0;
    assert_true(osp__b64url_decode(&b, "-_8=", 4)); /* URL-safe alphabet */
    assert_int_equal(b.len, 2);
    assert_int_equal((unsigned char)b.data[0], 0xfb);
    assert_int_equal((unsigned char)b.data[1], 0xff);
    osp__buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign__pack_matches_python),
        cmocka_unit_test(sign__unpack_matches_python),
        cmocka_unit_test(sign__golden_rejections),
        cmocka_unit_test(sign__pack_without_key_has_no_hmac),
        cmocka_unit_test(sign__bad_payloads),
        cmocka_unit_test(sign__b64_decode_like_binascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
