/* SPDX-License-Identifier: Apache-2.0 */
/* report_html - the self-contained HTML report (`trace show --html`). */
#ifndef OSP_CLI_REPORT_HTML_H
#define OSP_CLI_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Write the HTML report for report_json (the text `trace show --json`
 * prints) to out: one file, no network access. Returns 0, or -1 with errno
 * when writing fails. */
int osp_report_html_write(FILE *out, const char *report_json, size_t len);

#endif
