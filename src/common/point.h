/* SPDX-License-Identifier: Apache-2.0 */
/*
 * point - check one trace point (a JSON text) in a single pass, without
 * building a tree.
 *
 * The sidecar forwards a point's text verbatim as the notification payload,
 * so it only needs to know that the text is JSON Python's json.loads accepts
 * and where a few top-level strings are. A jansson tree per point cost ~40 %
 * of the sidecar's CPU (docs/design.md, "Intake validation").
 */
#ifndef OSP_COMMON_POINT_H
#define OSP_COMMON_POINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <osprofiler/osprofiler.h>

#include "buf.h"

/* Deepest nesting of a payload: Python's default recursion limit, past
 * which its own json.dumps cannot publish a point (measured through the
 * messaging driver: info nested ~960 levels) and its json.loads cannot read
 * one. The payload object is level 1, its info level 2. */
#define OSP_POINT_MAX_DEPTH 1000

/* A JSON string as it appears in the text, between its quotes. */
typedef struct osp_jstr {
    const char *raw;
    size_t len;
    bool escaped; /* contains a backslash: decode with osp__jstr_decode */
} osp_jstr_t;

typedef struct osp_point_view {
    osp_jstr_t name, base_id, trace_id, parent_id, timestamp;
    osp_jstr_t service; /* raw == NULL when absent or not a string */
} osp_point_view_t;

/* Check rec as a trace point: RFC 8259 JSON as Python's json.loads reads it
 * (NaN, Infinity and -Infinity included; strings valid UTF-8 without raw
 * control characters; surrogate escapes paired), a top-level object with
 * string name ending in "-start" or "-stop", base_id, trace_id, parent_id,
 * timestamp, and info an object if present. A repeated key counts once, the
 * last one, as in Python. Returns OSP_OK with *v filled or OSP_EFRAME. */
int osp__point_scan(const char *rec, size_t len, osp_point_view_t *v, osp_error_t *err);

/* Check text as JSON Python reads, a top-level object, without the point
 * rules, nested at most OSP_POINT_MAX_DEPTH levels. OSP_OK or OSP_EFRAME. */
int osp__json_check(const char *text, size_t len, osp_error_t *err);
/* The same, at most max_depth (<= OSP_POINT_MAX_DEPTH) levels: a point's
 * info, one level below the payload, takes OSP_POINT_MAX_DEPTH - 1. */
int osp__json_check_depth(const char *text, size_t len, size_t max_depth,
                          osp_error_t *err);
/* A value's text inside checked JSON text. */
typedef struct osp_jspan {
    const char *text; /* NULL: absent */
    size_t len;
} osp_jspan_t;
/* In a checked object text, one pass: out[i] = the value text of top-level
 * member keys[i] (the last one when repeated, as Python). Returns how many
 * keys were found. */
size_t osp__json_members(const char *obj, size_t len, const char *const *keys, size_t n,
                         osp_jspan_t *out);

/* Decode s (escapes resolved, UTF-8) into out, NUL-terminated; at most cap-1
 * bytes, cut on a character boundary. Returns the decoded length. s must
 * come from osp__point_scan (already checked). */
size_t osp__jstr_decode(const osp_jstr_t *s, char *out, size_t cap);

/* osp__point_scan, then the point as a jansson tree (*out is new on OSP_OK),
 * for the CLI, its non-finite numbers null (below). */
int osp__point_parse(const char *rec, size_t len, json_t **out, osp_error_t *err);

/* Non-finite numbers. Python's json.dumps writes NaN, Infinity and -Infinity
 * by default and its json.loads reads them back; jansson, JavaScript's
 * JSON.parse and SQLite's JSON functions refuse them. The policy
 * (docs/design.md, "Non-finite numbers"): they become null where we first
 * read a payload, so everything we publish, store or report is strict JSON.
 *
 * These take any bytes (checked or not) and look only at tokens outside
 * strings, in one pass with no stack; invalid JSON stays invalid. */

/* Offset of the first NaN, Infinity or -Infinity token outside a string in
 * text, or len when there is none (the common case: nothing to copy). */
size_t osp__json_nonfinite_find(const char *text, size_t len);
/* Append text to out with each such token replaced by null: at most
 * len + len / 3 bytes (NaN, the only token that grows, takes 3). Returns how
 * many were replaced; out->failed on no memory. */
size_t osp__json_finite_append(osp_buf_t *out, const char *text, size_t len);
/* json_loadb of text with its non-finite numbers null (copied only when it
 * has some). A new reference, or NULL with *err (may be NULL) filled. */
json_t *osp__json_loadb_finite(const char *text, size_t len, size_t flags,
                               json_error_t *err);

#endif
