/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_report - stored messages (one per line, as a store hands them to the
 * CLI) through Python's report algorithm, then --json and --dot output:
 * loops in parent_id, odd timestamps, missing fields; and each line through
 * the tree-less re-indenter, differentially against jansson, and through the
 * serializer flushing after every byte, differentially against no flushing. */
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

static bool append_out(osp_buf_t *b, void *ud) {
    osp__buf_append(ud, b->data, b->len);
    b->len = 0;
    return true;
}

/* Flushing between any two values changes nothing of the text. */
static void flushing_agrees(const json_t *tree) {
    osp_buf_t whole = OSP_BUF_INIT, part = OSP_BUF_INIT, out = OSP_BUF_INIT;
    osp__pyjson_value(&whole, tree, 2, 0);
    osp_pyjson_opts_t o = {.indent = 2, .flush = append_out, .flush_ud = &out};
    osp__pyjson_write(&part, tree, &o);
    osp__buf_append(&out, part.data, part.len);
    if (whole.len != out.len || memcmp(whole.data, out.data, out.len) != 0)
        abort();
    osp__buf_free(&whole);
    osp__buf_free(&part);
    osp__buf_free(&out);
}

static int to_buf(const char *text, size_t len, void *ud) {
    osp__buf_append(ud, text, len);
    return 0;
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
    size_t points = osp_report_points(r);
    json_t *report = osp_report_finish(r);
    osp_buf_t out = OSP_BUF_INIT;
    if (osp_report_depth(report) > points)
        abort(); /* the loops are broken: no chain is longer than the points */
    osp_report_json(report, to_buf, &out);
    osp_report_dot(report, to_buf, &out);
    flushing_agrees(report);
    osp__buf_free(&out);
    osp_report_release(report);
    return 0;
}
