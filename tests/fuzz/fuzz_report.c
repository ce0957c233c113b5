/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_report - stored messages (one per line, as a store hands them to the
 * CLI) through Python's report algorithm, then --json and --dot output:
 * loops in parent_id, odd timestamps, missing fields. */
#include <stdint.h>
#include <string.h>

#include "cli/report.h"

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
