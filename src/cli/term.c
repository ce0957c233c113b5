/* SPDX-License-Identifier: Apache-2.0 */
/*
 * term - escaping outside text for the terminal (term.h says why).
 *
 * Always, not only when stdout is a terminal: `ssh host osprofiler trace
 * list`, `| less -R`, `| tee` and `watch` all bring a pipe's bytes to a
 * terminal (docs/report.md, "Terminal output"). Pure functions.
 */
#include "term.h"

#include <stdlib.h>
#include <string.h>

#include "common/pytext.h"

/* \xHH (byte, or code point below 0x100 written as a byte) or \uXXXX */
static void put_escape(osp_buf_t *out, unsigned v, bool wide, bool dot) {
    static const char hex[] = "0123456789abcdef";
    char e[8] = {'\\', wide ? 'u' : 'x'};
    size_t n = 2;
    for (int shift = wide ? 12 : 4; shift >= 0; shift -= 4)
        e[n++] = hex[(v >> shift) & 15];
    if (dot)
        osp__buf_putc(out, '\\');
    osp__buf_append(out, e, n);
}

static unsigned decode(const unsigned char *p, size_t len) {
    if (len == 1)
        return p[0];
    unsigned cp = p[0] & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    return cp;
}

/* Bidirectional formatting (LRE..RLO, LRI..PDI, LRM, RLM, ALM): they
 * reorder what a terminal or a log viewer shows ("Trojan Source"). */
static bool bidi(unsigned cp) {
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

void osp_term_escape(osp_buf_t *out, const char *s, size_t n, bool dot) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t len = osp__utf8_len(p, end);
        unsigned cp = len ? decode(p, len) : 0;
        if (!len) {
            put_escape(out, *p, false, dot);
            len = 1;
        } else if (cp < 0x20 || cp == 0x7f) {
            put_escape(out, cp, false, dot);
        } else if ((cp >= 0x80 && cp <= 0x9f) || bidi(cp)) {
            put_escape(out, cp, true, dot);
        } else {
            osp__buf_append(out, p, len);
        }
        p += len;
    }
}

char *osp_term_escape_str(const char *s) {
    osp_buf_t b = OSP_BUF_INIT;
    osp_term_escape(&b, s, strlen(s), false);
    if (!osp__buf_cstr(&b)) {
        osp__buf_free(&b);
        return NULL;
    }
    return b.data;
}

size_t osp_term_width(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80; /* lead bytes only */
    return w;
}
