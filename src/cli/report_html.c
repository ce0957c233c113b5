/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report_html - the template (report.html, embedded at build time) with the
 * report JSON put into its <script type="application/json"> element.
 *
 * Every '<' of the JSON is written as \u003c: still the same JSON, and no
 * payload can close the element ("</script>") or open a comment ("<!--").
 */
#include "report_html.h"

#include <errno.h>
#include <string.h>

extern const char osp_report_template[];
extern const size_t osp_report_template_len;

#define PLACEHOLDER "@OSP_REPORT_JSON@"

static const char *placeholder(void) {
    const char *at = memmem(osp_report_template, osp_report_template_len, PLACEHOLDER,
                            strlen(PLACEHOLDER));
    if (!at)
        errno = EINVAL; /* a broken build: the template lost its placeholder */
    return at;
}

int osp_report_html_begin(FILE *out) {
    const char *at = placeholder();
    if (!at)
        return -1;
    size_t head = (size_t)(at - osp_report_template);
    return fwrite(osp_report_template, 1, head, out) == head ? 0 : -1;
}

/* '<' never reaches the page: a piece may end anywhere, '<' is one byte. */
int osp_report_html_json(FILE *out, const char *json, size_t len) {
    const char *p = json, *end = json + len;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        size_t n = (size_t)((lt ? lt : end) - p);
        if (fwrite(p, 1, n, out) != n || (lt && fputs("\\u003c", out) == EOF))
            return -1;
        p += n + (lt ? 1 : 0);
    }
    return 0;
}

int osp_report_html_end(FILE *out) {
    const char *at = placeholder();
    if (!at)
        return -1;
    const char *tail = at + strlen(PLACEHOLDER);
    size_t rest = osp_report_template_len - (size_t)(tail - osp_report_template);
    return fwrite(tail, 1, rest, out) == rest ? 0 : -1;
}
