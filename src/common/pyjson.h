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
/* Any jansson value. indent < 0: one line with ", " / ": "; indent >= 0:
 * json.dumps(indent=N, separators=(",", ": ")). depth is the current level. */
void osp__pyjson_value(osp_buf_t *b, const json_t *v, int indent, int depth);

/* v on one line as osp__pyjson_value writes it, or false (b then holds a
 * partial write: discard it) when v is nested deeper than max_depth levels,
 * v itself being level 1 when it is an object or array. The recursion stays
 * within that bound: a service's thread stack never sees more. */
bool osp__pyjson_value_within(osp_buf_t *b, const json_t *v, int max_depth);
/* The same, calling fn before each object member's value: when fn returns
 * true it has written the value itself (e.g. raw text kept in a string). */
typedef bool (*osp_pyjson_member_fn)(osp_buf_t *b, const char *key, size_t key_len,
                                     const json_t *val, int indent, int depth, void *ud);
void osp__pyjson_value_with(osp_buf_t *b, const json_t *v, int indent, int depth,
                            osp_pyjson_member_fn fn, void *ud);
/* Write text (one valid JSON value, e.g. a stored payload) as
 * json.dumps(json.loads(text), indent=indent) would at depth, without a
 * tree. false (b holds a partial write: discard it) when the text needs the
 * jansson path: escaped or repeated keys, deep nesting. */
bool osp__pyjson_reformat(osp_buf_t *b, const char *text, size_t len, int indent,
                          int depth);

#endif
