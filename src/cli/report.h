/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report - the trace report of `osprofiler trace show`, built exactly as
 * Python osprofiler's drivers/base.py does (_append_results, _parse_results,
 * _build_tree; docs/report.md), so --json is byte-identical
 * and --dot identical to the Python CLI's for the same stored messages.
 */
#ifndef OSP_CLI_REPORT_H
#define OSP_CLI_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include <osprofiler/osprofiler.h>

#include "common/buf.h"

typedef struct osp_report osp_report_t;

osp_report_t *osp_report_new(void);
/* Feed one stored message (JSON text), in the store's order. A message that
 * is not a usable trace point (not an object, no string trace_id, name or
 * timestamp, timestamp not %Y-%m-%dT%H:%M:%S.%f) returns OSP_EFRAME with the
 * reason and changes nothing; Python would abort the whole report. */
int osp_report_add(osp_report_t *r, const char *json, size_t len, osp_error_t *err);
/* Distinct points (trace_ids) fed so far. */
size_t osp_report_points(const osp_report_t *r);
/* The report ({"info", "children", "stats"}); frees r. */
json_t *osp_report_finish(osp_report_t *r);
void osp_report_free(osp_report_t *r);

/* json.dumps(report, indent=2, separators=(",", ": ")), no final newline. */
void osp_report_json(osp_buf_t *out, const json_t *report);
/* The Graphviz source Python's _create_dot_graph produces (ends in "}\n").
 * Where Python raises (a wsgi point without request info), the extra label
 * line is left out instead. */
void osp_report_dot(osp_buf_t *out, const json_t *report);

#endif
