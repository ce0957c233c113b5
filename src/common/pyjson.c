/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyjson - serialise JSON exactly as CPython's json.dumps does.
 *
 * Why not json_dumps(): jansson escapes non-ASCII as upper-case \u00E9 and
 * formats reals with %.17g, while the reference's bytes (golden files, HMAC
 * inputs, report output) use lower-case escapes and Python's shortest repr.
 * Keys keep insertion order (jansson >= 2.8 preserves it).
 */
#include "pyjson.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "point.h"

static const char hexdig[] = "0123456789abcdef";

static void put_u16(osp_buf_t *b, unsigned cp) {
    char e[6] = {'\\',
                 'u',
                 hexdig[(cp >> 12) & 15],
                 hexdig[(cp >> 8) & 15],
                 hexdig[(cp >> 4) & 15],
                 hexdig[cp & 15]};
    osp__buf_append(b, e, 6);
}

/* Decode one UTF-8 sequence; returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, *cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, *cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, *cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* 1 for bytes that json.dumps(ensure_ascii=True) writes as they are. */
static const unsigned char verbatim[256] = {
#define R4(x)  x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
    R16(0), R16(0), /* 0x00-0x1f: escaped */
    1,      1,      0,      1,      1,      1,      1,      1,     1,
    1,      1,      1,      1,      1,      1,      1, /* 0x20-0x2f: '"' escaped */
    R16(1), R16(1),                                    /* 0x30-0x4f */
    1,      1,      1,      1,      1,      1,      1,      1,     1,
    1,      1,      1,      0,      1,      1,      1, /* 0x50-0x5f: '\\' escaped */
    R16(1),                                            /* 0x60-0x6f */
    1,      1,      1,      1,      1,      1,      1,      1,     1,
    1,      1,      1,      1,      1,      1,      0, /* 0x70-0x7f: DEL escaped */
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0) /* non-ASCII */
#undef R16
#undef R4
};

/* True when none of 8 bytes needs escaping (SWAR: a byte below 0x20, '"',
 * '\\', DEL or with the high bit set). Hot path: payloads are mostly ids. */
static inline bool word_verbatim(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\'), del = x ^ (ones * 0x7f);
    uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) |
                   ((del - ones) & ~del) | x;
    return (hit & highs) == 0;
}

void osp__pyjson_string(osp_buf_t *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        if (!word_verbatim(w))
            break;
    }
    while (i < n && verbatim[p[i]])
        i++;
    if (i == n && osp__buf_reserve(b, n + 2)) {
        /* The common case (ids, names, SQL): one copy. */
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        b->len += n + 2;
        return;
    }
    osp__buf_putc(b, '"');
    size_t run = 0; /* start of a run of bytes copied verbatim */
    while (i < n) {
        unsigned c = p[i];
        if (verbatim[c]) {
            i++;
            continue;
        }
        osp__buf_append(b, p + run, i - run);
        size_t step = 1;
        switch (c) {
        case '"':
            osp__buf_append(b, "\\\"", 2);
            break;
        case '\\':
            osp__buf_append(b, "\\\\", 2);
            break;
        case '\n':
            osp__buf_append(b, "\\n", 2);
            break;
        case '\r':
            osp__buf_append(b, "\\r", 2);
            break;
        case '\t':
            osp__buf_append(b, "\\t", 2);
            break;
        case '\b':
            osp__buf_append(b, "\\b", 2);
            break;
        case '\f':
            osp__buf_append(b, "\\f", 2);
            break;
        default: {
            unsigned cp;
            step = utf8_decode(p + i, n - i, &cp);
            if (step == 0) {
                step = 1;
                cp = 0xfffd;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                put_u16(b, 0xd800 | (cp >> 10));
                put_u16(b, 0xdc00 | (cp & 0x3ff));
            } else {
                put_u16(b, cp);
            }
        }
        }
        i += step;
        run = i;
    }
    osp__buf_append(b, p + run, n - run);
    osp__buf_putc(b, '"');
}

void osp__pyjson_real(osp_buf_t *b, double v) {
    if (isnan(v)) {
        osp__buf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        osp__buf_puts(b, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    /* Shortest %.Ne that reads back to the same double: Python's repr. */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is [-]d[.ddd]e[+-]XX: collect the digits and the exponent. */
    char digits[20];
    size_t nd = 0;
    const char *q = tmp;
    bool neg = false;
    if (*q == '-') {
        neg = true;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int decpt = exp10 + 1; /* value = 0.digits * 10^decpt */
    if (neg)
        osp__buf_putc(b, '-');
    if (decpt <= -4 || decpt > 16) {
        /* Scientific, as repr: 1e-05, 1.5e+300. */
        osp__buf_putc(b, digits[0]);
        if (nd > 1) {
            osp__buf_putc(b, '.');
            osp__buf_append(b, digits + 1, nd - 1);
        }
        snprintf(tmp, sizeof tmp, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        osp__buf_puts(b, tmp);
    } else if (decpt <= 0) {
        osp__buf_puts(b, "0.");
        for (int i = decpt; i < 0; i++)
            osp__buf_putc(b, '0');
        osp__buf_append(b, digits, nd);
    } else {
        for (int i = 0; i < decpt; i++)
            osp__buf_putc(b, (size_t)i < nd ? digits[i] : '0');
        osp__buf_putc(b, '.');
        if ((size_t)decpt < nd)
            osp__buf_append(b, digits + decpt, nd - (size_t)decpt);
        else
            osp__buf_putc(b, '0');
    }
}

/* A newline and indent * depth spaces, in few appends: indented reports
 * are mostly indentation. */
static void newline_indent(osp_buf_t *b, int indent, int depth) {
    static const char line[] =
        "\n                                                               ";
    size_t n = (size_t)(indent * depth);
    size_t k = n < sizeof line - 2 ? n : sizeof line - 2;
    osp__buf_append(b, line, 1 + k);
    for (n -= k; n; n -= k) {
        k = n < sizeof line - 2 ? n : sizeof line - 2;
        osp__buf_append(b, line + 1, k);
    }
}

static void scalar(osp_buf_t *b, const json_t *v) {
    char num[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        osp__pyjson_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        osp__buf_puts(b, num);
        break;
    case JSON_REAL:
        osp__pyjson_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        osp__buf_puts(b, "true");
        break;
    case JSON_FALSE:
        osp__buf_puts(b, "false");
        break;
    default:
        osp__buf_puts(b, "null");
        break;
    }
}

/* An open object or array: where the writer is in it. */
struct frame {
    const json_t *c;
    void *iter; /* objects: the next member, NULL at the end */
    size_t i;   /* arrays: the next element */
    bool first;
};

/* Iterative: a frame per open container on the heap, never the C stack, so
 * any nesting jansson can hold (a trace report is two levels per point of
 * its deepest chain) is written in O(depth) memory. */
bool osp__pyjson_write(osp_buf_t *b, const json_t *v, const osp_pyjson_opts_t *o) {
    struct frame small[32], *st = small;
    size_t cap = sizeof small / sizeof *small, top = 0;
    const bool pretty = o->indent >= 0;
    const char *sep = pretty ? "," : ", ";
    bool ok = true;
    const json_t *next = v; /* the value to write now */
    while (ok && !b->failed) {
        if (o->flush && b->len >= o->flush_at && !o->flush(b, o->flush_ud)) {
            ok = false;
            break;
        }
        if (next) {
            bool obj = json_is_object(next), arr = json_is_array(next);
            if (!obj && !arr) {
                scalar(b, next);
            } else if (o->max_depth > 0 && top + 1 > (size_t)o->max_depth) {
                ok = false; /* an empty container is a level too */
                break;
            } else if (obj ? json_object_size(next) == 0 : json_array_size(next) == 0) {
                osp__buf_puts(b, obj ? "{}" : "[]");
            } else {
                if (top == cap) {
                    size_t ncap = 2 * cap;
                    struct frame *n = st == small ? malloc(ncap * sizeof *n)
                                                  : realloc(st, ncap * sizeof *n);
                    if (!n) {
                        b->failed = true;
                        break;
                    }
                    if (st == small)
                        memcpy(n, small, sizeof small);
                    st = n, cap = ncap;
                }
                st[top++] = (struct frame){
                    next, obj ? json_object_iter((json_t *)next) : NULL, 0, true};
                osp__buf_putc(b, obj ? '{' : '[');
            }
            next = NULL;
        }
        if (top == 0)
            break;
        struct frame *f = &st[top - 1];
        int depth = o->depth + (int)top - 1; /* the open container's level */
        bool more = json_is_object(f->c) ? f->iter != NULL : f->i < json_array_size(f->c);
        if (!more) {
            if (pretty)
                newline_indent(b, o->indent, depth);
            osp__buf_putc(b, json_is_object(f->c) ? '}' : ']');
            top--;
            continue;
        }
        if (!f->first)
            osp__buf_puts(b, sep);
        f->first = false;
        if (pretty)
            newline_indent(b, o->indent, depth + 1);
        if (json_is_array(f->c)) {
            next = json_array_get(f->c, f->i++);
            continue;
        }
        /* Keys may hold NUL bytes (jansson 2.14), hence the key lengths. */
        const char *key = json_object_iter_key(f->iter);
        size_t key_len = json_object_iter_key_len(f->iter);
        const json_t *val = json_object_iter_value(f->iter);
        f->iter = json_object_iter_next((json_t *)f->c, f->iter);
        osp__pyjson_string(b, key, key_len);
        osp__buf_puts(b, ": ");
        if (!o->member ||
            !o->member(b, key, key_len, val, o->indent, depth + 1, o->member_ud))
            next = val;
    }
    if (st != small)
        free(st);
    return ok && !b->failed;
}

void osp__pyjson_value(osp_buf_t *b, const json_t *v, int indent, int depth) {
    osp_pyjson_opts_t o = {.indent = indent, .depth = depth};
    osp__pyjson_write(b, v, &o);
}

bool osp__pyjson_value_within(osp_buf_t *b, const json_t *v, int max_depth) {
    if (max_depth < 1) { /* 0 would mean "no bound" to osp__pyjson_write */
        if (json_is_object(v) || json_is_array(v))
            return false;
        scalar(b, v);
        return true;
    }
    osp_pyjson_opts_t o = {.indent = -1, .max_depth = max_depth};
    /* false for depth only: the caller checks b->failed for memory */
    return osp__pyjson_write(b, v, &o) || b->failed;
}

/* A JSON string token (p at its opening quote) as json.dumps writes the
 * decoded string. Returns the position after the closing quote. */
static const char *reformat_string(osp_buf_t *b, const char *p, const char *end) {
    const char *s = p + 1, *q = s;
    bool plain = true;
    while (q < end && *q != '"') {
        if (*q == '\\') {
            plain = false;
            q++;
        } else if ((unsigned char)*q >= 0x7f) { /* DEL too: ensure_ascii escapes it */
            plain = false;
        }
        q++;
    }
    if (plain) { /* printable ASCII, no escapes: Python writes it back unchanged */
        osp__buf_append(b, p, (size_t)(q - p) + 1);
    } else {
        osp_jstr_t js = {s, (size_t)(q - s), true};
        char small[256], *tmp = js.len < sizeof small ? small : malloc(js.len + 1);
        if (!tmp) {
            b->failed = true;
        } else {
            size_t n = osp__jstr_decode(&js, tmp, js.len + 1);
            osp__pyjson_string(b, tmp, n);
            if (tmp != small)
                free(tmp);
        }
    }
    return q + 1;
}

bool osp__pyjson_reformat(osp_buf_t *b, const char *text, size_t len, int indent,
                          int depth) {
    enum { MAXD = 128, MAXKEYS = 64 };
    struct level {
        bool object, first;
        size_t nkeys;
        const char *keys[MAXKEYS];
        size_t key_len[MAXKEYS];
    } *st = malloc(MAXD * sizeof *st);
    if (!st)
        return false;
    const char *p = text, *end = text + len;
    int top = -1;
    bool ok = true, expect_key = false;
    while (ok && p < end) {
        char c = *p;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ':') {
            p++;
            continue;
        }
        if (c == ',') {
            p++;
            expect_key = top >= 0 && st[top].object;
            continue;
        }
        if (c == '}' || c == ']') {
            if (top < 0)
                break;
            if (indent >= 0)
                newline_indent(b, indent, depth + top);
            osp__buf_putc(b, c);
            top--;
            p++;
            expect_key = false;
            continue;
        }
        if (expect_key) { /* a member name: "key": */
            struct level *l = &st[top];
            const char *k = p + 1, *q = k;
            while (q < end && *q != '"' && *q != '\\')
                q++;
            if (q >= end || *q == '\\' || l->nkeys == MAXKEYS) {
                ok = false; /* escaped or many keys: let jansson do it */
                break;
            }
            for (size_t i = 0; i < l->nkeys; i++)
                if (l->key_len[i] == (size_t)(q - k) &&
                    memcmp(l->keys[i], k, l->key_len[i]) == 0)
                    ok = false; /* a repeated key: Python keeps the first place */
            l->keys[l->nkeys] = k;
            l->key_len[l->nkeys++] = (size_t)(q - k);
            if (!l->first)
                osp__buf_putc(b, ',');
            if (indent >= 0)
                newline_indent(b, indent, depth + top + 1);
            l->first = false;
            p = reformat_string(b, p, end);
            osp__buf_puts(b, ": ");
            expect_key = false;
            continue;
        }
        /* a value; in an array it needs its separator first */
        if (top >= 0 && !st[top].object) {
            if (!st[top].first)
                osp__buf_putc(b, ',');
            if (indent >= 0)
                newline_indent(b, indent, depth + top + 1);
            st[top].first = false;
        }
        if (c == '{' || c == '[') {
            const char *q = p + 1;
            while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
                q++;
            if (q < end && *q == (c == '{' ? '}' : ']')) {
                osp__buf_puts(b, c == '{' ? "{}" : "[]");
                p = q + 1;
                continue;
            }
            if (top + 1 == MAXD) {
                ok = false;
                break;
            }
            st[++top] = (struct level){.object = c == '{', .first = true};
            osp__buf_putc(b, c);
            p++;
            expect_key = c == '{';
        } else if (c == '"') {
            p = reformat_string(b, p, end);
        } else {
            const char *q = p;
            bool number = c == '-' || (c >= '0' && c <= '9'), real = false;
            while (q < end && !strchr(" \n\r\t,:]}", *q)) {
                real |= *q == '.' || *q == 'e' || *q == 'E';
                q++;
            }
            size_t n = (size_t)(q - p);
            /* a float; true/false/null, NaN and the infinities (no '.', 'e',
             * 'E' in -Infinity) are copied as they are */
            if (number && real) {
                char num[64];
                if (n >= sizeof num) {
                    ok = false;
                    break;
                }
                memcpy(num, p, n);
                num[n] = '\0';
                osp__pyjson_real(b, strtod(num, NULL));
            } else if (n == 2 && p[0] == '-' && p[1] == '0') {
                osp__buf_putc(b, '0'); /* int("-0") is 0 */
            } else {
                osp__buf_append(b, p, n); /* ints keep every digit, as Python's */
            }
            p = q;
        }
    }
    free(st);
    return ok && top == -1 && !b->failed;
}
