/* SPDX-License-Identifier: Apache-2.0 */
/*
 * term - outside text made safe for a terminal. What a store or a points
 * file holds was written by whoever could send a trace point; printed raw,
 * an escape sequence in a base_id or a service name would drive the
 * operator's terminal (move the cursor over other rows, set the title,
 * write the clipboard with OSC 52, answer a query into the input line).
 */
#ifndef OSP_CLI_TERM_H
#define OSP_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Appends s (n bytes) to out with what a terminal would act on escaped:
 * C0 controls and DEL as \xHH, C1 controls (U+0080-U+009F, 8-bit CSI and
 * OSC among them) and bidirectional overrides as \uXXXX, bytes that are not
 * UTF-8 as \xHH. Anything else, backslashes too, is copied, so ordinary
 * text reads exactly as Python's CLI prints it. With dot, each backslash
 * written is doubled: graphviz shows "\x1b" rather than reading an escape. */
void osp_term_escape(osp_buf_t *out, const char *s, size_t n, bool dot);
/* The same for a C string, as a new string (free it); NULL without memory. */
char *osp_term_escape_str(const char *s);
/* Columns s takes on a terminal once escaped: one a code point, as
 * prettytable counts narrow characters. */
size_t osp_term_width(const char *s);

#endif
