/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_nonfinite - the rewrite of NaN, Infinity and -Infinity to null
 * (point.h), which every payload from outside passes through before
 * jansson, a store or a report sees it.
 *
 * Properties, on any bytes: the output is bounded (len + len / 3), holds no
 * non-finite token outside strings, equals the input when the input had
 * none (strings are never touched: text jansson reads comes out the same),
 * and what Python's json.loads reads (osp__json_check) jansson reads once
 * rewritten, but for what jansson refuses anyway (numbers too big, \u0000
 * in a key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/point.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    osp_buf_t out = OSP_BUF_INIT;
    size_t first = osp__json_nonfinite_find(in, size);
    size_t n = osp__json_finite_append(&out, in, size);
    if (out.failed)
        abort();
    const char *o = out.data ? out.data : "";
    if (out.len > size + size / 3 || (n == 0) != (first == size))
        abort();
    if (osp__json_nonfinite_find(o, out.len) != out.len)
        abort();
    if (n == 0 && (out.len != size || memcmp(o, in, size) != 0))
        abort();
    json_error_t je;
    json_t *strict = json_loadb(in, size, JSON_ALLOW_NUL, &je);
    if (strict && n != 0) /* jansson read it: no token outside strings */
        abort();
    json_decref(strict);
    if (osp__json_check(in, size, NULL) == OSP_OK) {
        json_t *j = json_loadb(o, out.len, JSON_ALLOW_NUL, &je);
        if (!j && !strstr(je.text, "too big") && !strstr(je.text, "overflow") &&
            !strstr(je.text, "NUL byte in object key"))
            abort();
        json_decref(j);
    }
    osp__buf_free(&out);
    return 0;
}
