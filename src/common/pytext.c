/* SPDX-License-Identifier: Apache-2.0 */
/* pytext - Python's text rules on UTF-8 bytes (see pytext.h). */
#include "pytext.h"

#include <string.h>

/* Every character str.isspace() accepts, as UTF-8. */
static const char *const spaces[] = {
    "\x09",         "\x0a",         "\x0b",         "\x0c",         "\x0d",
    "\x1c",         "\x1d",         "\x1e",         "\x1f",         "\x20",
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
    "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
    "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
    "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
#define NSPACES (sizeof spaces / sizeof *spaces)

/* Length of the whitespace character at s (avail bytes there), or 0. */
static size_t space_at(const char *s, size_t avail) {
    for (size_t i = 0; i < NSPACES; i++) {
        size_t n = strlen(spaces[i]);
        if (n <= avail && memcmp(s, spaces[i], n) == 0)
            return n;
    }
    return 0;
}

/* Length of the whitespace character that ends at s + len, or 0. */
static size_t space_before(const char *s, size_t len) {
    for (size_t i = 0; i < NSPACES; i++) {
        size_t n = strlen(spaces[i]);
        if (n <= len && memcmp(s + len - n, spaces[i], n) == 0)
            return n;
    }
    return 0;
}

size_t osp__py_lstrip_len(const char *s, size_t len) {
    size_t i = 0, n;
    while (i < len && (n = space_at(s + i, len - i)))
        i += n;
    return i;
}

size_t osp__py_rstrip_len(const char *s, size_t len) {
    size_t n;
    while (len && (n = space_before(s, len)))
        len -= n;
    return len;
}

void osp__py_strip(const char **s, size_t *len) {
    size_t l = osp__py_lstrip_len(*s, *len);
    *s += l;
    *len = osp__py_rstrip_len(*s, *len - l);
}

size_t osp__utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0], v, min;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    return v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? 0 : n;
}
