/* SPDX-License-Identifier: Apache-2.0 */
/* pyjson - JSON text byte-identical to Python's json.dumps: ensure_ascii with
 * lower-case \uXXXX (surrogate pairs above the BMP), float repr, insertion
 * key order; separators ", " / ": " (indent 0) or "," / ": " with indent. */
#ifndef OSP_COMMON_PYJSON_H
#define OSP_COMMON_PYJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* A JSON string literal for n bytes of UTF-8 (invalid sequences are written
 * as U+FFFD, as Python would refuse them anyway). */
void osp__pyjson_string(osp_buf_t *b, const char *s, size_t n);
/* Python repr() of a double, as json.dumps writes floats. */
void osp__pyjson_real(osp_buf_t *b, double v);
/* Called before each object member's value: true when it has written the
 * value itself (e.g. raw JSON text kept in a string). */
typedef bool (*osp_pyjson_member_fn)(osp_buf_t *b, const char *key, size_t key_len,
                                     const json_t *val, int indent, int depth, void *ud);
/* How osp__pyjson_write writes a value. Zeroed fields mean: no bound, no
 * member hook, no flushing. */
typedef struct osp_pyjson_opts {
    int indent;    /* < 0: one line, ", " / ": "; >= 0: json.dumps(indent=N,
                      separators=(",", ": ")) */
    int depth;     /* the level the value is written at (its indentation) */
    int max_depth; /* > 0: fail past this nesting, the value itself being
                      level 1 when it is an object or array (empty too) */
    osp_pyjson_member_fn member;
    void *member_ud;
    /* Called between values once b holds flush_at bytes: it empties b (e.g.
     * writes it out), so memory stays bounded; false stops the write. */
    bool (*flush)(osp_buf_t *b, void *ud);
    void *flush_ud;
    size_t flush_at;
} osp_pyjson_opts_t;
/* The one serializer: iterative (its stack is on the heap), so any nesting
 * is written without deep C recursion. false, with b holding a partial write,
 * when max_depth is passed, flush fails or memory runs out (b->failed). */
bool osp__pyjson_write(osp_buf_t *b, const json_t *v, const osp_pyjson_opts_t *o);
/* osp__pyjson_write with indent and depth only. */
void osp__pyjson_value(osp_buf_t *b, const json_t *v, int indent, int depth);
/* On one line, false (discard b's partial write) past max_depth levels: what
 * the library uses so that a service never serialises more than it sends. */
bool osp__pyjson_value_within(osp_buf_t *b, const json_t *v, int max_depth);
/* Write text (one valid JSON value, e.g. a stored payload) as
 * json.dumps(json.loads(text), indent=indent) would at depth, without a
 * tree. false (b holds a partial write: discard it) when the text needs the
 * jansson path: escaped or repeated keys, deep nesting. */
bool osp__pyjson_reformat(osp_buf_t *b, const char *text, size_t len, int indent,
                          int depth);

#endif
