/* SPDX-License-Identifier: Apache-2.0 */
/*
 * point - a single-pass JSON checker for trace points.
 *
 * Iterative (an explicit stack of open containers), so hostile nesting
 * cannot exhaust the C stack. It remembers only the top-level members the
 * sidecar needs; everything else is checked and skipped.
 */
#include "point.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "pytext.h"

enum field {
    F_NAME,
    F_BASE_ID,
    F_TRACE_ID,
    F_PARENT_ID,
    F_TIMESTAMP,
    F_SERVICE,
    F_INFO,
    F_N
};

static const struct {
    const char *key;
    size_t len;
} field_keys[F_N] = {
    [F_NAME] = {"name", 4},           [F_BASE_ID] = {"base_id", 7},
    [F_TRACE_ID] = {"trace_id", 8},   [F_PARENT_ID] = {"parent_id", 9},
    [F_TIMESTAMP] = {"timestamp", 9}, [F_SERVICE] = {"service", 7},
    [F_INFO] = {"info", 4},
};

/* Bytes a string's fast path must stop at: controls, '"', '\\', non-ASCII. */
static const unsigned char str_special[256] = {
    [0 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

typedef struct scan {
    const unsigned char *p, *start, *end;
    const char *why;
} scan_t;

static bool fail(scan_t *s, const char *why) {
    s->why = why;
    return false;
}

static void skip_ws(scan_t *s) {
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int hex4(const unsigned char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c - '0' < 10)
            d = c - '0';
        else if ((c | 0x20) - 'a' < 6)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | (int)d;
    }
    return v;
}

/* s->p is at the opening quote. */
static bool scan_string(scan_t *s, osp_jstr_t *out) {
    const unsigned char *p = s->p + 1, *end = s->end, *start = p;
    bool escaped = false;
    for (;;) {
        while (p < end && !str_special[*p])
            p++;
        if (p >= end)
            return fail(s, "unterminated string");
        unsigned c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            if (end - p < 2)
                return fail(s, "unterminated string");
            if (p[1] != 'u') {
                if (!strchr("\"\\/bfnrt", p[1]) || !p[1])
                    return fail(s, "invalid escape in string");
                p += 2;
                continue;
            }
            int u = end - p >= 6 ? hex4(p + 2) : -1;
            if (u < 0)
                return fail(s, "invalid \\u escape");
            p += 6;
            if (u >= 0xdc00 && u <= 0xdfff)
                return fail(s, "unpaired surrogate escape");
            if (u >= 0xd800 && u <= 0xdbff) {
                int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(s, "unpaired surrogate escape");
                p += 6;
            }
            continue;
        }
        if (c < 0x20)
            return fail(s, "control character in string");
        size_t n = osp__utf8_len(p, end);
        if (!n)
            return fail(s, "invalid UTF-8 in string");
        p += n;
    }
    if (out)
        *out = (osp_jstr_t){(const char *)start, (size_t)(p - start), escaped};
    s->p = p + 1;
    return true;
}

static bool is_digit(const unsigned char *p, const unsigned char *end) {
    return p < end && *p - (unsigned)'0' < 10;
}

static bool literal(scan_t *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "invalid literal");
    s->p += n;
    return true;
}

/* Python's grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?, and -Infinity. */
static bool scan_number(scan_t *s) {
    const unsigned char *p = s->p, *end = s->end;
    if (*p == '-') {
        p++;
        if (end - p >= 8 && memcmp(p, "Infinity", 8) == 0) {
            s->p = p + 8;
            return true;
        }
    }
    if (p < end && *p == '0')
        p++;
    else if (is_digit(p, end))
        while (is_digit(p, end))
            p++;
    else
        return fail(s, "invalid number");
    if (p < end && *p == '.') {
        if (!is_digit(++p, end))
            return fail(s, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return fail(s, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    s->p = p;
    return true;
}

static int which_field(const osp_jstr_t *key) {
    char tmp[16];
    const char *k = key->raw;
    size_t n = key->len;
    if (key->escaped) {
        if (n >= 64) /* "\u0070arent_id"-style keys longer than this name no field */
            return -1;
        n = osp__jstr_decode(key, tmp, sizeof tmp);
        k = tmp;
    }
    for (int f = 0; f < F_N; f++)
        if (n == field_keys[f].len && memcmp(k, field_keys[f].key, n) == 0)
            return f;
    return -1;
}

struct found {
    unsigned char type; /* first byte of the value, 0 when absent */
    osp_jstr_t str;
};

/* The whole text: one value, top-level members of the outer object noted. */
static bool scan_json(scan_t *s, struct found found[F_N], size_t max_depth) {
    unsigned char stack[OSP_POINT_MAX_DEPTH];
    size_t depth = 0;
    int field = -1; /* top-level member whose value comes next */

    skip_ws(s);
    if (s->p >= s->end || *s->p != '{')
        return fail(s, "point is not a JSON object");
value:
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of text");
    if (field >= 0) {
        found[field].type = *s->p;
        found[field].str = (osp_jstr_t){0};
    }
    switch (*s->p) {
    case '{':
    case '[':
        if (depth == max_depth)
            return fail(s, "nested too deeply (the payload over 1000 levels, "
                           "Python's recursion limit)");
        stack[depth++] = *s->p++;
        field = -1;
        skip_ws(s);
        if (s->p < s->end && *s->p == (stack[depth - 1] == '{' ? '}' : ']')) {
            s->p++;
            depth--;
            goto after_value;
        }
        if (stack[depth - 1] == '{')
            goto key;
        goto value;
    case '"':
        if (!scan_string(s, field >= 0 ? &found[field].str : NULL))
            return false;
        break;
    case 't':
        if (!literal(s, "true", 4))
            return false;
        break;
    case 'f':
        if (!literal(s, "false", 5))
            return false;
        break;
    case 'n':
        if (!literal(s, "null", 4))
            return false;
        break;
    case 'N':
        if (!literal(s, "NaN", 3))
            return false;
        break;
    case 'I':
        if (!literal(s, "Infinity", 8))
            return false;
        break;
    default:
        if (*s->p != '-' && !is_digit(s->p, s->end))
            return fail(s, "unexpected character");
        if (!scan_number(s))
            return false;
    }
    field = -1;
after_value:
    if (depth == 0) {
        skip_ws(s);
        return s->p == s->end ? true : fail(s, "extra data after the object");
    }
    skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        if (stack[depth - 1] == '{')
            goto key;
        goto value;
    }
    if (s->p < s->end && *s->p == (stack[depth - 1] == '{' ? '}' : ']')) {
        s->p++;
        depth--;
        goto after_value;
    }
    return fail(s, "expected ',' or the end of a container");
key:
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return fail(s, "expected a member name");
    osp_jstr_t k;
    if (!scan_string(s, &k))
        return false;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return fail(s, "expected ':'");
    s->p++;
    field = depth == 1 ? which_field(&k) : -1;
    goto value;
}

/* A point may be named "": Python publishes "-start" and "-stop" for it. */
static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool name_is_start_or_stop(const osp_jstr_t *name) {
    if (!name->escaped)
        return ends_with(name->raw, name->len, "-start") ||
               ends_with(name->raw, name->len, "-stop");
    char *tmp = malloc(name->len + 1); /* decoding never lengthens */
    if (!tmp)
        return false;
    size_t n = osp__jstr_decode(name, tmp, name->len + 1);
    bool ok = ends_with(tmp, n, "-start") || ends_with(tmp, n, "-stop");
    free(tmp);
    return ok;
}

int osp__json_check_depth(const char *text, size_t len, size_t max_depth,
                          osp_error_t *err) {
    scan_t s = {(const unsigned char *)text, (const unsigned char *)text,
                (const unsigned char *)text + len, NULL};
    struct found found[F_N] = {0};
    if (max_depth > OSP_POINT_MAX_DEPTH)
        max_depth = OSP_POINT_MAX_DEPTH;
    if (!scan_json(&s, found, max_depth))
        return osp__error_set(err, OSP_EFRAME, "json", 0, "invalid JSON at byte %zu: %s",
                              (size_t)(s.p - s.start), s.why);
    return OSP_OK;
}

int osp__json_check(const char *text, size_t len, osp_error_t *err) {
    return osp__json_check_depth(text, len, OSP_POINT_MAX_DEPTH, err);
}

/* Bytes skip_value must look at inside a container. */
static const unsigned char structural[256] = {
    ['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1};

/* End of the value starting at p, in checked text. */
static const char *skip_value(const char *p, const char *end) {
    int depth = 0;
    do {
        if (*p == '"') { /* to the first quote not escaped by an odd run of '\\' */
            const char *q = p + 1;
            for (;;) {
                q = memchr(q, '"', (size_t)(end - q));
                if (!q)
                    return end;
                const char *b = q;
                while (b > p + 1 && b[-1] == '\\')
                    b--;
                if ((q - b) % 2 == 0)
                    break;
                q++;
            }
            p = q + 1;
        } else if (*p == '{' || *p == '[') {
            depth++, p++;
        } else if (*p == '}' || *p == ']') {
            depth--, p++;
        } else if (depth) {
            while (p < end && !structural[(unsigned char)*p])
                p++;
        } else {
            while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
                   *p != '\n' && *p != '\r' && *p != '\t')
                p++;
        }
    } while (depth > 0 && p < end);
    return p;
}

static const char *ws_end(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

size_t osp__json_members(const char *obj, size_t len, const char *const *keys, size_t n,
                         osp_jspan_t *out) {
    const char *p = ws_end(obj, obj + len), *end = obj + len;
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (osp_jspan_t){NULL, 0};
    if (p >= end || *p != '{')
        return 0;
    p = ws_end(p + 1, end);
    while (p < end && *p == '"') {
        const char *k = p + 1, *q = skip_value(p, end);
        osp_jstr_t js = {k, (size_t)(q - 1 - k),
                         memchr(k, '\\', (size_t)(q - 1 - k)) != NULL};
        char tmp[128];
        const char *name = k;
        size_t name_len = js.len;
        if (js.escaped) {
            name_len = js.len < sizeof tmp ? osp__jstr_decode(&js, tmp, sizeof tmp) : 0;
            name = tmp;
        }
        p = ws_end(q, end);
        p = ws_end(p + 1, end); /* ':' */
        const char *v = p;
        p = skip_value(p, end);
        for (size_t i = 0; i < n; i++)
            if (strlen(keys[i]) == name_len && memcmp(keys[i], name, name_len) == 0) {
                found += out[i].text == NULL;
                out[i] = (osp_jspan_t){v, (size_t)(p - v)}; /* the last one wins */
            }
        p = ws_end(p, end);
        if (p < end && *p == ',')
            p = ws_end(p + 1, end);
    }
    return found;
}

int osp__point_scan(const char *rec, size_t len, osp_point_view_t *v, osp_error_t *err) {
    scan_t s = {(const unsigned char *)rec, (const unsigned char *)rec,
                (const unsigned char *)rec + len, NULL};
    struct found found[F_N] = {0};
    if (!scan_json(&s, found, OSP_POINT_MAX_DEPTH))
        return osp__error_set(err, OSP_EFRAME, "point", 0, "invalid JSON at byte %zu: %s",
                              (size_t)(s.p - s.start), s.why);
    for (int f = F_NAME; f <= F_TIMESTAMP; f++)
        if (found[f].type != '"')
            return osp__error_set(err, OSP_EFRAME, "point", 0,
                                  "point lacks one of the string fields name, base_id, "
                                  "trace_id, parent_id, timestamp");
    if (found[F_INFO].type && found[F_INFO].type != '{')
        return osp__error_set(err, OSP_EFRAME, "point", 0, "point info is not an object");
    if (!name_is_start_or_stop(&found[F_NAME].str))
        return osp__error_set(err, OSP_EFRAME, "point", 0,
                              "point name does not end in -start or -stop");
    v->name = found[F_NAME].str;
    v->base_id = found[F_BASE_ID].str;
    v->trace_id = found[F_TRACE_ID].str;
    v->parent_id = found[F_PARENT_ID].str;
    v->timestamp = found[F_TIMESTAMP].str;
    v->service = found[F_SERVICE].type == '"' ? found[F_SERVICE].str : (osp_jstr_t){0};
    return OSP_OK;
}

static size_t put_utf8(char *out, uint32_t c) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3f));
    out[2] = (char)(0x80 | (c >> 6 & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

size_t osp__jstr_decode(const osp_jstr_t *s, char *out, size_t cap) {
    const unsigned char *p = (const unsigned char *)s->raw, *end = p + s->len;
    size_t n = 0;
    if (!cap)
        return 0;
    while (p < end) {
        char ch[4];
        size_t k;
        if (*p != '\\') {
            k = osp__utf8_len(p, end);
            if (!k)
                k = 1; /* unchecked input: copy the byte */
            memcpy(ch, p, k);
            p += k;
        } else if (p + 1 < end && p[1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, p[1]);
            ch[0] = at && p[1] ? to[at - from] : (char)p[1];
            k = 1;
            p += 2;
        } else {
            int u = end - p >= 6 ? hex4(p + 2) : -1;
            if (u < 0)
                break;
            p += 6;
            uint32_t c = (uint32_t)u;
            if (u >= 0xd800 && u <= 0xdbff && end - p >= 6 && p[0] == '\\' &&
                p[1] == 'u') {
                int lo = hex4(p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    c = 0x10000 + ((uint32_t)(u - 0xd800) << 10) +
                        (uint32_t)(lo - 0xdc00);
                    p += 6;
                }
            }
            k = put_utf8(ch, c);
        }
        if (n + k > cap - 1)
            break;
        memcpy(out + n, ch, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

int osp__point_parse(const char *rec, size_t len, json_t **out, osp_error_t *err) {
    osp_point_view_t v;
    int rc = osp__point_scan(rec, len, &v, err);
    if (rc != OSP_OK)
        return rc;
    json_error_t je;
    json_t *o = osp__json_loadb_finite(rec, len, JSON_ALLOW_NUL, &je);
    if (!o)
        return osp__error_set(err, OSP_EFRAME, "point", je.line, "unreadable point: %s",
                              je.text);
    *out = o;
    return OSP_OK;
}

/* --- non-finite numbers ----------------------------------------------------- */

/* Bytes that can start a token of interest outside strings, or a string. */
static const unsigned char nf_start[256] = {['"'] = 1, ['N'] = 1, ['I'] = 1, ['-'] = 1};

/* Length of the non-finite token at p (0: none). */
static size_t nf_token(const char *p, const char *end) {
    size_t room = (size_t)(end - p);
    if (*p == 'N')
        return room >= 3 && memcmp(p, "NaN", 3) == 0 ? 3 : 0;
    if (*p == 'I')
        return room >= 8 && memcmp(p, "Infinity", 8) == 0 ? 8 : 0;
    if (*p == '-')
        return room >= 9 && memcmp(p, "-Infinity", 9) == 0 ? 9 : 0;
    return 0;
}

/* Does w occur anywhere in [p, end)? Most payloads hold neither word: two
 * memchr passes then (memmem took ~20x as long as copying the text). */
static bool has_word(const char *p, const char *end, const char *w, size_t n) {
    for (; (p = memchr(p, *w, (size_t)(end - p))); p++)
        if ((size_t)(end - p) >= n && memcmp(p, w, n) == 0)
            return true;
    return false;
}

/* The next non-finite token at or after p, which is outside a string: its
 * start (end when none) and *tok its length. An unterminated string runs to
 * the end. */
static const char *nf_next(const char *p, const char *end, size_t *tok) {
    *tok = 0;
    if (!has_word(p, end, "NaN", 3) && !has_word(p, end, "Infinity", 8))
        return end;
    while (p < end) {
        while (p < end && !nf_start[(unsigned char)*p])
            p++;
        if (p >= end)
            break;
        if (*p != '"') {
            if ((*tok = nf_token(p, end)))
                return p;
            p++;
            continue;
        }
        /* the closing quote: the first one after an even run of '\\' */
        const char *open = p;
        for (p++;; p++) {
            p = memchr(p, '"', (size_t)(end - p));
            if (!p)
                return end;
            const char *b = p;
            while (b > open + 1 && b[-1] == '\\')
                b--;
            if ((p - b) % 2 == 0)
                break;
        }
        p++;
    }
    return end;
}

size_t osp__json_nonfinite_find(const char *text, size_t len) {
    size_t tok;
    return (size_t)(nf_next(text, text + len, &tok) - text);
}

size_t osp__json_finite_append(osp_buf_t *out, const char *text, size_t len) {
    const char *p = text, *end = text + len;
    size_t n = 0, tok;
    for (;;) {
        const char *at = nf_next(p, end, &tok);
        osp__buf_append(out, p, (size_t)(at - p));
        if (at == end)
            return n;
        osp__buf_append(out, "null", 4);
        n++;
        p = at + tok;
    }
}

json_t *osp__json_loadb_finite(const char *text, size_t len, size_t flags,
                               json_error_t *err) {
    if (osp__json_nonfinite_find(text, len) == len)
        return json_loadb(text, len, flags, err);
    osp_buf_t b = OSP_BUF_INIT;
    osp__json_finite_append(&b, text, len);
    json_t *j = NULL;
    if (b.failed) {
        if (err)
            snprintf(err->text, sizeof err->text, "out of memory");
    } else {
        j = json_loadb(b.data ? b.data : "", b.len, flags, err);
    }
    osp__buf_free(&b);
    return j;
}
