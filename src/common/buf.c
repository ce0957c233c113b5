/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf - growable byte buffer used by the JSON writer, the per-thread batch and
 * the CLI. Grows geometrically; a failed grow sets .failed and leaves the
 * contents intact, so a hot path can append without checking each call.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

bool osp__buf_grow(osp_buf_t *b, size_t extra) {
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void osp__buf_consume(osp_buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

char *osp__buf_cstr(osp_buf_t *b) {
    if (!osp__buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void osp__buf_free(osp_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
