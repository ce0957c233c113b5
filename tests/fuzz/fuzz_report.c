/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_report - stored messages (one per line, as a store hands them to the
 * CLI) through Python's report algorithm, then --json and --dot output:
 * loops in parent_id, odd timestamps, missing fields; and each line through
 * the tree-less re-indenter, differentially against jansson. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/point.h"
#include "common/pyjson.h"

#include "cli/report.h"

/* The tree-less re-indenter must write what jansson + pyjson write (where
 * jansson can hold the value: not NaN, not huge integers). */
static void reformat_agrees(const char *text, size_t len) {
    if (osp__json_check(text, len, NULL) != OSP_OK)
        return;
    json_t *tree = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    osp_buf_t a = OSP_BUF_INIT, b = OSP_BUF_INIT;
    if (osp__pyjson_reformat(&a, text, len, 2, 1) && tree) {
        osp__pyjson_value(&b, tree, 2, 1);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort();
    }
    osp__buf_free(&a);
    osp__buf_free(&b);
    json_decref(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    osp_report_t *r = osp_report_new();
    if (!r)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        osp_error_t err;
        osp_report_add(r, p, n, &err);
        reformat_agrees(p, n);
        p += n + 1;
    }
    json_t *report = osp_report_finish(r);
    osp_buf_t out = OSP_BUF_INIT;
    osp_report_json(&out, report);
    osp_report_dot(&out, report);
    osp__buf_free(&out);
    json_decref(report);
    return 0;
}
