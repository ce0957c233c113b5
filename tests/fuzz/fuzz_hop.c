/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hop - a received hop frame: header, records, point checks.
 *
 * Differential: the single-pass scanner must agree with jansson, except
 * where Python (the consumer) and jansson differ: NaN/Infinity, numbers too
 * large for jansson, \u0000 in a key. Any other disagreement aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hop.h"
#include "common/point.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_string(const osp_jstr_t *s, json_t *j) {
    if (!json_is_string(j))
        return false;
    char *tmp = malloc(s->len + 1);
    size_t n = osp__jstr_decode(s, tmp, s->len + 1);
    /* a decoded \u0000 ends the C string in both */
    bool same =
        strcmp(tmp, json_string_value(j)) == 0 && n >= strlen(json_string_value(j));
    free(tmp);
    return same;
}

static void compare(const char *rec, size_t len) {
    osp_point_view_t v;
    json_t *pt = NULL;
    osp_error_t err;
    bool scan_ok = osp__point_scan(rec, len, &v, &err) == OSP_OK;
    bool tree_ok = osp__point_parse(rec, len, &pt, &err) == OSP_OK;
    if (tree_ok && !scan_ok)
        abort(); /* point_parse scans first: cannot happen */
    if (scan_ok && !tree_ok) {
        /* only jansson's refusals of what Python reads may differ: big
         * numbers, NaN/Infinity, and \u0000 inside a key */
        json_error_t je;
        json_t *o = json_loadb(rec, len, JSON_ALLOW_NUL, &je);
        if (o || (!strstr(je.text, "too big") && !strstr(je.text, "overflow") &&
                  !strstr(je.text, "NUL byte in object key") &&
                  !memmem(rec, len, "NaN", 3) && !memmem(rec, len, "Infinity", 8)))
            abort();
        json_decref(o);
        return;
    }
    if (!scan_ok) {
        /* anything jansson alone accepts must break a rule jansson does not
         * check: the point fields, nesting deeper than ours, or a raw NUL
         * after a number (jansson 2.14 takes "[-2\0]", Python refuses it) */
        json_error_t je;
        json_t *o = json_loadb(rec, len, JSON_ALLOW_NUL, &je);
        if (o && json_is_object(o) && json_is_string(json_object_get(o, "name")) &&
            strstr(err.text, "invalid JSON") && !strstr(err.text, "nested too deeply") &&
            !memchr(rec, 0, len))
            abort();
        json_decref(o);
        return;
    }
    if (!same_string(&v.name, json_object_get(pt, "name")) ||
        !same_string(&v.base_id, json_object_get(pt, "base_id")) ||
        !same_string(&v.trace_id, json_object_get(pt, "trace_id")) ||
        !same_string(&v.parent_id, json_object_get(pt, "parent_id")) ||
        !same_string(&v.timestamp, json_object_get(pt, "timestamp")) ||
        (v.service.raw && !same_string(&v.service, json_object_get(pt, "service"))) ||
        (!v.service.raw && json_is_string(json_object_get(pt, "service"))))
        abort();
    json_decref(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    osp_hop_frame_t f;
    osp_error_t err;
    if (osp__hop_parse(data, size, &f, &err) != OSP_OK) {
        compare((const char *)data, size); /* the point checker on its own */
        return 0;
    }
    const char *rec;
    size_t len;
    while (osp__hop_next(&f, &rec, &len) == 1)
        compare(rec, len);
    return 0;
}
