/* SPDX-License-Identifier: Apache-2.0 */
/* buf - a growable byte buffer. Allocation failure is sticky: once a grow
 * fails, .failed is set and later appends are ignored, so writers can append
 * freely and check once at the end. */
#ifndef OSP_COMMON_BUF_H
#define OSP_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct osp_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} osp_buf_t;

#define OSP_BUF_INIT                                                                     \
    { NULL, 0, 0, false }

bool osp__buf_reserve(osp_buf_t *b, size_t extra);
void osp__buf_append(osp_buf_t *b, const void *p, size_t n);
void osp__buf_puts(osp_buf_t *b, const char *s);
void osp__buf_putc(osp_buf_t *b, char c);
/* Drop the first n bytes (consumed data). */
void osp__buf_consume(osp_buf_t *b, size_t n);
/* NUL-terminate without counting the NUL; returns data or NULL if failed. */
char *osp__buf_cstr(osp_buf_t *b);
void osp__buf_free(osp_buf_t *b);

#endif
