/* SPDX-License-Identifier: Apache-2.0 */
/* unit.record - binary point records: every shape round-trips, the JSON
 * payload is what Python's messaging driver writes for the same point, and
 * a hostile record is refused, never read past its end. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/point.h"
#include "common/record.h"

static const uint8_t TRACE[16] = {0x6c, 0x2f, 0x1a, 0x3e, 0x0d, 0x4b, 0x4b, 0x7e,
                                  0x9c, 0x55, 0x3f, 0x1d, 0x2e, 0x4a, 0x5b, 0x6c};
static const char TRACE_TEXT[] = "6c2f1a3e-0d4b-4b7e-9c55-3f1d2e4a5b6c";

static char *to_json(const osp_rec_t *r) {
    size_t n = osp__rec_size(r);
    uint8_t *buf = malloc(n);
    assert_int_equal(osp__rec_write(r, buf), n);
    osp_rec_t back;
    osp_error_t err;
    assert_int_equal(osp__rec_read(buf, n, &back, &err), OSP_OK);
    osp_buf_t b = OSP_BUF_INIT;
    assert_int_equal(osp__rec_to_json(&back, &b, &err), OSP_OK);
    free(buf);
    char *s = strndup(b.data, b.len);
    osp__buf_free(&b);
    return s;
}

/* Ids as UUIDs and as text, project and service present and null. */
static void record__shapes_round_trip(void **state) {
    (void)state;
    uint8_t base[16], parent[16];
    assert_true(
        osp__uuid_parse_canonical("11111111-2222-4333-8444-555555555555", 36, base));
    assert_true(
        osp__uuid_parse_canonical("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", 36, parent));
    osp_rec_t r = {.stop = false,
                   .timestamp_us = 1764000000123456LL, /* 2025-11-24T16:00:00.123456 */
                   .trace_id = TRACE,
                   .base_id = {.uuid = base},
                   .parent_id = {.uuid = parent},
                   .project = "nova",
                   .project_len = 4,
                   .service = "nova-api",
                   .service_len = 8,
                   .name = "db",
                   .name_len = 2,
                   .info = "{\"a\": 1, \"host\": \"h\"}",
                   .info_len = 21};
    char *s = to_json(&r);
    char want[512];
    snprintf(
        want, sizeof want,
        "{\"name\": \"db-start\", \"base_id\": \"11111111-2222-4333-8444-555555555555\", "
        "\"trace_id\": \"%s\", \"parent_id\": \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\", "
        "\"timestamp\": \"2025-11-24T16:00:00.123456\", \"info\": {\"a\": 1, "
        "\"host\": \"h\"}, \"project\": \"nova\", \"service\": \"nova-api\"}",
        TRACE_TEXT);
    assert_string_equal(s, want);
    free(s);
    /* Text ids (escaped as json.dumps does), nulls, a stop, a name to escape. */
    r.stop = true;
    r.base_id = (osp_rec_id_t){.text = "B\xc3\xa9\"x", .len = 5};
    r.parent_id =
        (osp_rec_id_t){.text = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", .len = 36};
    r.project = NULL;
    r.service = NULL;
    r.name = "w\n\xf0\x9f\x98\x80";
    r.name_len = 6;
    r.info = "{}";
    r.info_len = 2;
    r.timestamp_us = 0;
    s = to_json(&r);
    snprintf(
        want, sizeof want,
        "{\"name\": \"w\\n\\ud83d\\ude00-stop\", \"base_id\": \"B\\u00e9\\\"x\", "
        "\"trace_id\": \"%s\", \"parent_id\": \"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE\", "
        "\"timestamp\": \"1970-01-01T00:00:00.000000\", \"info\": {}, \"project\": null, "
        "\"service\": null}",
        TRACE_TEXT);
    assert_string_equal(s, want);
    osp_point_view_t v;
    osp_error_t err;
    assert_int_equal(osp__point_scan(s, strlen(s), &v, &err), OSP_OK);
    free(s);
}

/* Only canonical UUID text becomes 16 bytes: anything else must be sent as
 * text, or the sidecar would print it differently. */
static void record__uuid_text_is_canonical_only(void **state) {
    (void)state;
    uint8_t u[16];
    char back[37];
    assert_true(osp__uuid_parse_canonical(TRACE_TEXT, 36, u));
    assert_memory_equal(u, TRACE, 16);
    osp__uuid_format(u, back);
    assert_string_equal(back, TRACE_TEXT);
    assert_false(
        osp__uuid_parse_canonical("6C2F1A3E-0D4B-4B7E-9C55-3F1D2E4A5B6C", 36, u));
    assert_false(osp__uuid_parse_canonical("6c2f1a3e0d4b4b7e9c553f1d2e4a5b6c", 32, u));
    assert_false(
        osp__uuid_parse_canonical("6c2f1a3e-0d4b-4b7e-9c55-3f1d2e4a5b6g", 36, u));
    assert_false(
        osp__uuid_parse_canonical("6c2f1a3e-0d4b-4b7e-9c55+3f1d2e4a5b6c", 36, u));
    assert_false(
        osp__uuid_parse_canonical("{6c2f1a3e-0d4b-4b7e-9c55-3f1d2e4a5b}", 36, u));
}

static int read_bytes(const uint8_t *b, size_t n) {
    osp_rec_t r;
    osp_error_t err;
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    memcpy(copy, b, n);
    int rc = osp__rec_read(copy, n, &r, &err);
    if (rc == OSP_OK) {
        osp_buf_t out = OSP_BUF_INIT;
        rc = osp__rec_to_json(&r, &out, &err);
        osp__buf_free(&out);
    }
    free(copy);
    return rc;
}

static void record__hostile_records_refused(void **state) {
    (void)state;
    osp_rec_t r = {.trace_id = TRACE,
                   .base_id = {.text = "b", .len = 1},
                   .parent_id = {.text = "p", .len = 1},
                   .project = "p",
                   .project_len = 1,
                   .service = "s",
                   .service_len = 1,
                   .name = "n",
                   .name_len = 1,
                   .info = "{\"host\": \"h\"}",
                   .info_len = 13};
    size_t n = osp__rec_size(&r);
    uint8_t good[128];
    osp__rec_write(&r, good);
    assert_int_equal(read_bytes(good, n), OSP_OK);
    /* every truncation, and one byte too many */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(read_bytes(good, k), OSP_EFRAME);
    uint8_t b[129];
    memcpy(b, good, n);
    b[n] = ' ';
    assert_int_equal(read_bytes(b, n + 1), OSP_EFRAME);
    /* unknown kind, unknown flag */
    memcpy(b, good, n);
    b[0] = 2;
    assert_int_equal(read_bytes(b, n), OSP_EFRAME);
    memcpy(b, good, n);
    b[1] |= 0x80;
    assert_int_equal(read_bytes(b, n), OSP_EFRAME);
    /* a string length that runs past the end */
    memcpy(b, good, n);
    b[32] = 0xff;
    assert_int_equal(read_bytes(b, n), OSP_EFRAME);
    /* an info length that lies */
    memcpy(b, good, n);
    b[4] = 200;
    assert_int_equal(read_bytes(b, n), OSP_EFRAME);
    /* info that is not a JSON object Python reads: never forwarded */
    const char *bad_info[] = {"[1]",
                              "{\"a\": }",
                              "{\"a\": 1} x",
                              "{\"\\ud800\": 1}",
                              "{\"a\": \"\x01\"}",
                              "{\"a\": \"\xff\"}"};
    for (size_t i = 0; i < sizeof bad_info / sizeof *bad_info; i++) {
        r.info = bad_info[i];
        r.info_len = strlen(bad_info[i]);
        size_t m = osp__rec_size(&r);
        osp__rec_write(&r, b);
        assert_int_equal(read_bytes(b, m), OSP_EFRAME);
    }
}

/* info nested 999 levels makes a payload of 1000 (Python's recursion
 * limit): written; 1000 levels are refused, never forwarded. */
static void record__info_nesting_is_bounded(void **state) {
    (void)state;
    for (size_t depth = 999; depth <= 1000; depth++) {
        char *info = malloc(8 * depth + 16);
        size_t n = 0;
        for (size_t d = 1; d < depth; d++)
            n += (size_t)sprintf(info + n, "{\"a\": ");
        n += (size_t)sprintf(info + n, "{}");
        memset(info + n, '}', depth - 1);
        n += depth - 1;
        osp_rec_t r = {.trace_id = TRACE,
                       .base_id = {.text = "b", .len = 1},
                       .parent_id = {.text = "p", .len = 1},
                       .name = "n",
                       .name_len = 1,
                       .info = info,
                       .info_len = n};
        size_t m = osp__rec_size(&r);
        uint8_t *b = malloc(m);
        osp__rec_write(&r, b);
        assert_int_equal(read_bytes(b, m), depth == 999 ? OSP_OK : OSP_EFRAME);
        free(b);
        free(info);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record__info_nesting_is_bounded),
        cmocka_unit_test(record__shapes_round_trip),
        cmocka_unit_test(record__uuid_text_is_canonical_only),
        cmocka_unit_test(record__hostile_records_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
