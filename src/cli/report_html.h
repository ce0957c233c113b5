/* SPDX-License-Identifier: Apache-2.0 */
/* report_html - the self-contained HTML report (`trace show --html`). */
#ifndef OSP_CLI_REPORT_HTML_H
#define OSP_CLI_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* The HTML report for the report JSON (the text `trace show --json`
 * prints), written in three steps so that the JSON can be streamed: the
 * template up to the JSON, the JSON in pieces of any size, the rest. One
 * file, no network access. Each returns 0, or -1 with errno. */
int osp_report_html_begin(FILE *out);
int osp_report_html_json(FILE *out, const char *json, size_t len);
int osp_report_html_end(FILE *out);

#endif
