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

/* `trace show --max-depth` by default: points on the longest parent_id
 * chain (docs/report.md, "Deep traces"). */
#define OSP_REPORT_MAX_DEPTH 1000

osp_report_t *osp_report_new(void);
/* Feed one stored message (JSON text), in the store's order. A message that
 * is not a usable trace point (not an object, no string trace_id, name or
 * timestamp, timestamp not %Y-%m-%dT%H:%M:%S.%f) returns OSP_EFRAME with the
 * reason and changes nothing; Python would abort the whole report. */
int osp_report_add(osp_report_t *r, const char *json, size_t len, osp_error_t *err);
/* The same for a row of Python's sqlalchemy layout (osp_store_rows). */
int osp_report_add_row(osp_report_t *r, const char *json, size_t len, osp_error_t *err);
/* Distinct points (trace_ids) fed so far. */
size_t osp_report_points(const osp_report_t *r);
/* The report ({"info", "children", "stats"}); frees r. */
json_t *osp_report_finish(osp_report_t *r);
void osp_report_free(osp_report_t *r);

/* Where report text goes, a chunk (about 1 MiB) at a time, so that memory
 * stays bounded whatever the size of the report: returns 0, or an error
 * that stops the writing and is returned by the writer. */
typedef int (*osp_report_write_fn)(const char *text, size_t len, void *ud);

/* json.dumps(report, indent=2, separators=(",", ": ")), no final newline.
 * Returns 0, write's error, or OSP_ENOMEM. */
int osp_report_json(const json_t *report, osp_report_write_fn write, void *ud);
/* The Graphviz source Python's _create_dot_graph produces (ends in "}\n").
 * Where Python raises (a wsgi point without request info), the extra label
 * line is left out instead. Returns as osp_report_json. */
int osp_report_dot(const json_t *report, osp_report_write_fn write, void *ud);

/* Points on the report's longest root-to-leaf chain (0: no point;
 * SIZE_MAX when memory runs out), found without recursion. */
size_t osp_report_depth(const json_t *report);
/* json_decref(report) without jansson's recursion (a C frame per level of
 * the tree, two per trace level): reports are as deep as a sender makes
 * them. */
void osp_report_release(json_t *report);

#endif
