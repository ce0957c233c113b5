/* SPDX-License-Identifier: Apache-2.0 */
/* buf - a growable byte buffer. Allocation failure is sticky: once a grow
 * fails, .failed is set and later appends are ignored, so writers can append
 * freely and check once at the end. */
#ifndef OSP_COMMON_BUF_H
#define OSP_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct osp_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} osp_buf_t;

#define OSP_BUF_INIT                                                                     \
    { NULL, 0, 0, false }

bool osp__buf_grow(osp_buf_t *b, size_t extra);

/* Room for extra more bytes (and a NUL). Inline: it is on the hot path. */
static inline bool osp__buf_reserve(osp_buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return true;
    return osp__buf_grow(b, extra);
}

static inline void osp__buf_append(osp_buf_t *b, const void *p, size_t n) {
    if (n == 0 || !osp__buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void osp__buf_putc(osp_buf_t *b, char c) {
    if (!osp__buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
}

static inline void osp__buf_puts(osp_buf_t *b, const char *s) {
    osp__buf_append(b, s, strlen(s));
}
/* Drop the first n bytes (consumed data). */
void osp__buf_consume(osp_buf_t *b, size_t n);
/* NUL-terminate without counting the NUL; returns data or NULL if failed. */
char *osp__buf_cstr(osp_buf_t *b);
void osp__buf_free(osp_buf_t *b);

#endif
