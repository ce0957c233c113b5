/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oslo_conf - oslo.config's file reader, line for line (iniparser.py and
 * cfg.py of Debian's python3-oslo.config; docs/oslo-config.md says what is
 * followed and where we stop).
 *
 * Files are kept as lists of assignments (section, key, value, line) in the
 * order read; a lookup walks the files newest first and takes the last
 * assignment of the first file that has one, as cfg.py's _get_file_value
 * does. Nothing is looked up while reading: $substitution happens when a
 * value is read, against everything read by then, like oslo's.
 *
 * Text handling follows Python's: a file is UTF-8 (invalid UTF-8 is an
 * error, as Python's decoder raises); lines end at \n, \r\n or \r
 * (universal newlines); strip() removes Python's whitespace, which includes
 * \x1c-\x1f and Unicode spaces, not only " \t". A NUL byte is refused: no C
 * string can carry the value a Python service would see.
 */
#include "oslo_conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "errors.h"
#include "keys.h"
#include "oslo_opts.h"
#include "pyjson.h"
#include "pytext.h"

#define MAX_FILE_BYTES (64u << 20) /* far beyond any real .conf */
#define MAX_DEPTH                                                                        \
    64 /* $a -> $b -> ...: Python would hit its                                          \
          recursion limit; we say so sooner */

struct assignment {
    char *section; /* normalized: DEFAULT as is, others lower case */
    char *key;
    char *value; /* quotes removed, continuation lines joined with '\n' */
    int line;
};

struct source {
    char *name;
    struct assignment *a;
    size_t n, cap;
    char **sections; /* every normalized section header, even empty ones */
    size_t nsections, sections_cap;
};

struct osp_oslo_conf {
    const osp_oslo_opt_t *opts;
    size_t nopts;
    struct source *src;
    size_t nsrc, src_cap;
};

/* ---------------------------------------------------------------- text */

/* Decode one UTF-8 sequence at s (validated text). */
static uint32_t decode_at(const unsigned char *s, size_t *len) {
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *len = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *len = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
               (s[2] & 0x3f);
    }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Offset of the first byte Python's strict decoder refuses, or len. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len) {
    size_t i = 0, n;
    while (i < len && (n = osp__utf8_len(s + i, s + len)))
        i += n;
    return i;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* oslo's _normalize_group_name: DEFAULT stays, others go lower case (ASCII
 * letters; no group we read has a letter Unicode would lower otherwise). */
static char *normalize_group(const char *s, size_t n) {
    char *d = dup_n(s, n);
    if (d && strcmp(d, "DEFAULT") != 0)
        for (char *p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return d;
}

/* ---------------------------------------------------------------- parse */

struct parser {
    osp_oslo_conf_t *conf;
    struct source *src;
    osp_error_t *err;
    int lineno;
    char *section; /* normalized, NULL before the first header */
    bool has_key;
    int key_line;
    osp_buf_t key, value;
};

static int parse_fail(struct parser *p, const char *msg) {
    return osp__error_set(p->err, OSP_ECONFIG, p->src->name, p->lineno, "%s:%d: %s",
                          p->src->name, p->lineno, msg);
}

static int nomem(osp_error_t *err) {
    return osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory reading configuration");
}

static int add_section(struct parser *p, const char *s, size_t n) {
    char *norm = normalize_group(s, n);
    if (!norm)
        return nomem(p->err);
    free(p->section);
    p->section = norm;
    struct source *src = p->src;
    for (size_t i = 0; i < src->nsections; i++)
        if (strcmp(src->sections[i], norm) == 0)
            return OSP_OK;
    if (src->nsections == src->sections_cap) {
        size_t cap = src->sections_cap ? 2 * src->sections_cap : 8;
        char **grown = realloc(src->sections, cap * sizeof *grown);
        if (!grown)
            return nomem(p->err);
        src->sections = grown;
        src->sections_cap = cap;
    }
    if (!(src->sections[src->nsections] = strdup(norm)))
        return nomem(p->err);
    src->nsections++;
    return OSP_OK;
}

/* The assignment that ended: oslo checks the section only now. */
static int flush(struct parser *p) {
    if (!p->has_key)
        return OSP_OK;
    p->has_key = false;
    if (!p->section)
        return parse_fail(p, "Section must be started before assignment");
    if (p->key.failed || p->value.failed)
        return nomem(p->err);
    struct source *src = p->src;
    if (src->n == src->cap) {
        size_t cap = src->cap ? 2 * src->cap : 32;
        struct assignment *grown = realloc(src->a, cap * sizeof *grown);
        if (!grown)
            return nomem(p->err);
        src->a = grown;
        src->cap = cap;
    }
    struct assignment *a = &src->a[src->n];
    a->section = strdup(p->section);
    a->key = dup_n(p->key.data ? p->key.data : "", p->key.len);
    a->value = dup_n(p->value.data ? p->value.data : "", p->value.len);
    a->line = p->key_line;
    if (!a->section || !a->key || !a->value) {
        free(a->section);
        free(a->key);
        free(a->value);
        return nomem(p->err);
    }
    src->n++;
    return OSP_OK;
}

/* BaseParser._split_key_value */
static int key_value(struct parser *p, const char *line, size_t len) {
    const char *colon = memchr(line, ':', len), *equal = memchr(line, '=', len);
    if (!colon && !equal)
        return parse_fail(p, "No ':' or '=' found in assignment");
    const char *sep = !colon || (equal && equal < colon) ? equal : colon;
    const char *k = line, *v = sep + 1;
    size_t kl = (size_t)(sep - line), vl = len - kl - 1;
    osp__py_strip(&k, &kl);
    osp__py_strip(&v, &vl);
    if (vl && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
        /* value[1:-1]: a lone quote becomes "" */
        v++;
        vl = vl >= 2 ? vl - 2 : 0;
    }
    if (!kl)
        return parse_fail(p, "Key cannot be empty");
    p->key.len = p->value.len = 0;
    osp__buf_append(&p->key, k, kl);
    osp__buf_append(&p->value, v, vl);
    p->has_key = true;
    p->key_line = p->lineno;
    return OSP_OK;
}

static int parse_line(struct parser *p, const char *line, size_t len) {
    len = osp__py_rstrip_len(line, len);
    if (!len)
        return flush(p); /* a blank line ends a multi-line value */
    if (line[0] == ' ' || line[0] == '\t') {
        if (!p->has_key)
            return parse_fail(p, "Unexpected continuation line");
        size_t l = osp__py_lstrip_len(line, len);
        osp__buf_putc(&p->value, '\n');
        osp__buf_append(&p->value, line + l, len - l);
        return OSP_OK;
    }
    int rc = flush(p);
    if (rc)
        return rc;
    if (line[0] == '[') {
        if (line[len - 1] != ']')
            return parse_fail(p, "Invalid section (must end with ])");
        if (len <= 2)
            return parse_fail(p, "Empty section name");
        return add_section(p, line + 1, len - 2);
    }
    if (line[0] == '#' || line[0] == ';')
        return OSP_OK;
    return key_value(p, line, len);
}

static void source_free(struct source *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->a[i].section);
        free(s->a[i].key);
        if (s->a[i].value) {
            memset(s->a[i].value, 0, strlen(s->a[i].value)); /* may be a password */
            free(s->a[i].value);
        }
    }
    free(s->a);
    for (size_t i = 0; i < s->nsections; i++)
        free(s->sections[i]);
    free(s->sections);
    free(s->name);
    memset(s, 0, sizeof *s);
}

int osp__oslo_conf_read_text(osp_oslo_conf_t *c, const char *name, const char *text,
                             size_t len, osp_error_t *err) {
    if (memchr(text, '\0', len)) {
        size_t at = (size_t)((const char *)memchr(text, '\0', len) - text);
        int line = 1;
        for (size_t i = 0; i < at; i++)
            line += text[i] == '\n' || (text[i] == '\r' && text[i + 1] != '\n');
        return osp__error_set(err, OSP_ECONFIG, name, line, "%s:%d: a NUL byte", name,
                              line);
    }
    size_t ok = utf8_valid_prefix((const unsigned char *)text, len);
    if (ok < len) {
        int line = 1;
        for (size_t i = 0; i < ok; i++)
            line += text[i] == '\n' || (text[i] == '\r' && text[i + 1] != '\n');
        return osp__error_set(err, OSP_ECONFIG, name, line, "%s:%d: not UTF-8", name,
                              line);
    }
    if (c->nsrc == c->src_cap) {
        size_t cap = c->src_cap ? 2 * c->src_cap : 4;
        struct source *grown = realloc(c->src, cap * sizeof *grown);
        if (!grown)
            return nomem(err);
        c->src = grown;
        c->src_cap = cap;
    }
    struct source *src = &c->src[c->nsrc];
    memset(src, 0, sizeof *src);
    if (!(src->name = strdup(name)))
        return nomem(err);
    struct parser p = {.conf = c, .src = src, .err = err};
    int rc = OSP_OK;
    size_t i = 0;
    while (i < len && rc == OSP_OK) {
        size_t start = i;
        while (i < len && text[i] != '\n' && text[i] != '\r')
            i++;
        size_t line_len = i - start;
        if (i < len)
            i += text[i] == '\r' && i + 1 < len && text[i + 1] == '\n' ? 2 : 1;
        p.lineno++;
        rc = parse_line(&p, text + start, line_len);
    }
    if (rc == OSP_OK)
        rc = flush(&p);
    free(p.section);
    osp__buf_free(&p.key);
    if (p.value.data)
        memset(p.value.data, 0, p.value.cap);
    osp__buf_free(&p.value);
    if (rc != OSP_OK) {
        source_free(src);
        return rc;
    }
    c->nsrc++;
    return OSP_OK;
}

/* ---------------------------------------------------------------- files */

static int read_file(osp_oslo_conf_t *c, const char *path, osp_error_t *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: cannot open: %s", path,
                              strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: is a directory", path);
    }
    osp_buf_t b = OSP_BUF_INIT;
    for (;;) {
        if (b.len > MAX_FILE_BYTES) {
            close(fd);
            osp__buf_free(&b);
            return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: larger than %u MiB",
                                  path, MAX_FILE_BYTES >> 20);
        }
        if (!osp__buf_reserve(&b, 65536)) {
            close(fd);
            osp__buf_free(&b);
            return nomem(err);
        }
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            osp__buf_free(&b);
            return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: cannot read: %s",
                                  path, strerror(e));
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
    }
    close(fd);
    int rc = osp__oslo_conf_read_text(c, path, b.data ? b.data : "", b.len, err);
    if (b.data)
        memset(b.data, 0, b.len);
    osp__buf_free(&b);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* oslo's --config-dir: the directory's "*.conf" files sorted by name, as glob()
 * finds them (dot files skipped). */
static int read_dir(osp_oslo_conf_t *c, const char *path, osp_error_t *err) {
    DIR *d = opendir(path);
    if (!d)
        return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: cannot open: %s", path,
                              strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = OSP_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 5, ".conf") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *grown);
            if (!grown) {
                rc = nomem(err);
                break;
            }
            names = grown;
        }
        if (!(names[n] = malloc(strlen(path) + l + 2))) {
            rc = nomem(err);
            break;
        }
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (rc == OSP_OK && n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && rc == OSP_OK; i++)
        rc = read_file(c, names[i], err);
    osp__free_keys(names, n);
    return rc;
}

int osp__oslo_conf_read_path(osp_oslo_conf_t *c, const char *path, osp_error_t *err) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return read_dir(c, path, err);
    return read_file(c, path, err);
}

osp_oslo_conf_t *osp__oslo_conf_new(const osp_oslo_opt_t *opts, size_t nopts) {
    osp_oslo_conf_t *c = calloc(1, sizeof *c);
    if (c) {
        c->opts = opts;
        c->nopts = nopts;
    }
    return c;
}

void osp__oslo_conf_free(osp_oslo_conf_t *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->nsrc; i++)
        source_free(&c->src[i]);
    free(c->src);
    free(c);
}

/* ---------------------------------------------------------------- lookup */

/* The names oslo tries for an option, current first (_get_from_namespace). */
static size_t names_of(const osp_oslo_opt_t *o, const char *group, const char *name,
                       const char *g[4], const char *k[4]) {
    size_t n = 0;
    g[n] = group, k[n++] = name;
    for (int i = 0; o && i < 3; i++) {
        if (!o->deprecated[i].group && !o->deprecated[i].name)
            break;
        g[n] = o->deprecated[i].group ? o->deprecated[i].group : group;
        k[n++] = o->deprecated[i].name ? o->deprecated[i].name : name;
    }
    return n;
}

static const struct assignment *last_in(const struct source *s, const char *group,
                                        const char *key) {
    for (size_t i = s->n; i-- > 0;)
        if (strcmp(s->a[i].key, key) == 0 && strcmp(s->a[i].section, group) == 0)
            return &s->a[i];
    return NULL;
}

/* _get_file_value, for one value: the newest file with any of the names. */
static const struct assignment *find(const osp_oslo_conf_t *c, const osp_oslo_opt_t *o,
                                     const char *group, const char *name,
                                     const struct source **from) {
    const char *g[4], *k[4];
    size_t n = names_of(o, group, name, g, k);
    for (size_t s = c->nsrc; s-- > 0;)
        for (size_t i = 0; i < n; i++) {
            const struct assignment *a = last_in(&c->src[s], g[i], k[i]);
            if (a) {
                *from = &c->src[s];
                return a;
            }
        }
    return NULL;
}

/* [DEFAULT] host, which every OpenStack service registers with the
 * machine's name as its default (nova, cinder, neutron: socket.gethostname()). */
static char hostname[256];
static osp_oslo_opt_t host_opt = {"DEFAULT", "host", OSP_OPT_STR, hostname,
                                  NULL,      NULL,   {{0}}};
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void read_hostname(void) {
    if (gethostname(hostname, sizeof hostname - 1) != 0)
        hostname[0] = '\0';
}

const osp_oslo_opt_t *osp__oslo_known(const char *group, const char *name) {
    if (strcmp(group, "DEFAULT") == 0 && strcmp(name, "host") == 0) {
        pthread_once(&hostname_once, read_hostname);
        return &host_opt;
    }
    for (size_t i = 0; i < osp__oslo_known_opts_count; i++)
        if (strcmp(osp__oslo_known_opts[i].group, group) == 0 &&
            strcmp(osp__oslo_known_opts[i].name, name) == 0)
            return &osp__oslo_known_opts[i];
    return NULL;
}

static const osp_oslo_opt_t *registered_opt(const osp_oslo_conf_t *c, const char *group,
                                            const char *name) {
    for (size_t i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].group, group) == 0 && strcmp(c->opts[i].name, name) == 0)
            return &c->opts[i];
    return osp__oslo_known(group, name);
}

/* Options the caller did not register count as registered strings where a
 * file sets them: what a service reading the same files has registered is
 * unknowable here, and this is the most a file can tell. */
static bool set_in_files(const osp_oslo_conf_t *c, const char *group, const char *name) {
    for (size_t s = 0; s < c->nsrc; s++)
        if (last_in(&c->src[s], group, name))
            return true;
    return false;
}

static bool group_known(const osp_oslo_conf_t *c, const char *group) {
    if (strcmp(group, "DEFAULT") == 0)
        return false; /* DEFAULT is no group oslo can name in ${group.opt} */
    for (size_t i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].group, group) == 0)
            return true;
    for (size_t i = 0; i < osp__oslo_known_opts_count; i++)
        if (strcmp(osp__oslo_known_opts[i].group, group) == 0)
            return true;
    for (size_t s = 0; s < c->nsrc; s++)
        for (size_t i = 0; i < c->src[s].nsections; i++)
            if (strcmp(c->src[s].sections[i], group) == 0)
                return true;
    return false;
}

/* ---------------------------------------------------------------- $subst */

/* Never names the reference: "$word" may be the tail of a password. */
static int fail_at(osp_error_t *err, const char *file, int line, const char *msg) {
    if (!file)
        return osp__error_set(err, OSP_ECONFIG, "", 0, "%s", msg);
    return osp__error_set(err, OSP_ECONFIG, file, line, "%s:%d: %s", file, line, msg);
}

/* A character of string.Template's idpattern [_a-z][._a-z0-9]* under
 * re.IGNORECASE, which in Python also matches U+0131, U+017F and U+212A
 * (dotless i, long s, Kelvin sign). Returns its length, 0 if none. */
static size_t id_char(const char *s, bool first) {
    unsigned char c = (unsigned char)s[0];
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    if (!first && (c == '.' || (c >= '0' && c <= '9')))
        return 1;
    if (!strncmp(s, "\xc4\xb1", 2) || !strncmp(s, "\xc5\xbf", 2))
        return 2;
    if (!strncmp(s, "\xe2\x84\xaa", 3))
        return 3;
    return 0;
}

static size_t id_len(const char *s) {
    size_t n = id_char(s, true), k;
    if (!n)
        return 0;
    while ((k = id_char(s + n, false)))
        n += k;
    return n;
}

/* Python's repr() of a str, as str(list) writes each item. Non-ASCII is
 * taken as printable except the common control and format characters. */
static void py_repr_str(osp_buf_t *b, const char *s) {
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    osp__buf_putc(b, q);
    for (size_t i = 0; s[i];) {
        size_t n;
        uint32_t cp = decode_at((const unsigned char *)s + i, &n);
        char esc[12];
        if (cp == '\\' || cp == (uint32_t)q) {
            osp__buf_putc(b, '\\');
            osp__buf_putc(b, (char)cp);
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            osp__buf_puts(b, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : "\\t");
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) {
            snprintf(esc, sizeof esc, "\\x%02x", cp);
            osp__buf_puts(b, esc);
        } else if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
                   (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff ||
                   cp == 0x1680) {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            osp__buf_puts(b, esc);
        } else {
            osp__buf_append(b, s + i, n);
        }
        i += n;
    }
    osp__buf_putc(b, q);
}

/* types.List of strings: strip, drop trailing commas, split, strip each. */
static int split_list(const char *text, char ***out, size_t *count) {
    const char *s = text;
    size_t len = strlen(text);
    osp__py_strip(&s, &len);
    while (len && s[len - 1] == ',')
        len--;
    size_t n = 0, cap = 0;
    char **items = NULL;
    *out = NULL;
    *count = 0;
    if (!len)
        return OSP_OK;
    for (size_t i = 0;;) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        const char *it = s + i;
        size_t il = j - i;
        osp__py_strip(&it, &il);
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            char **grown = realloc(items, cap * sizeof *grown);
            if (!grown) {
                osp__free_keys(items, n);
                return OSP_ENOMEM;
            }
            items = grown;
        }
        if (!(items[n] = dup_n(it, il))) {
            osp__free_keys(items, n);
            return OSP_ENOMEM;
        }
        n++;
        if (j >= len)
            break;
        i = j + 1;
    }
    *out = items;
    *count = n;
    return OSP_OK;
}

/* Python's int()/float() digits: ASCII digits, single '_' between two. */
static bool digits(const char **p, bool need) {
    const char *s = *p;
    if (!(*s >= '0' && *s <= '9'))
        return !need;
    while ((*s >= '0' && *s <= '9') || (*s == '_' && s[1] >= '0' && s[1] <= '9'))
        s++;
    *p = s;
    return true;
}

/* The stripped text without underscores, into tmp. 1: empty. */
static int number_text(const char *text, char *tmp, size_t cap, const char **start,
                       size_t *len) {
    const char *s = text;
    size_t l = strlen(text);
    osp__py_strip(&s, &l);
    if (!l)
        return 1;
    if (l >= cap)
        return -1;
    memcpy(tmp, s, l);
    tmp[l] = '\0';
    *start = tmp;
    *len = l;
    return 0;
}

static void drop_underscores(char *s) {
    char *w = s;
    for (char *r = s; *r; r++)
        if (*r != '_')
            *w++ = *r;
    *w = '\0';
}

int osp__oslo_parse_int(const char *text, long long *out) {
    char tmp[96];
    const char *s;
    size_t l;
    int rc = number_text(text, tmp, sizeof tmp, &s, &l);
    if (rc)
        return rc;
    const char *p = s + (*s == '+' || *s == '-');
    if (!digits(&p, true) || *p)
        return -1;
    drop_underscores(tmp);
    errno = 0;
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (errno == ERANGE || *end)
        return -1; /* beyond what we can hold: no option of ours needs it */
    *out = v;
    return 0;
}

int osp__oslo_parse_float(const char *text, double *out) {
    char tmp[96];
    const char *s;
    size_t l;
    int rc = number_text(text, tmp, sizeof tmp, &s, &l);
    if (rc)
        return rc;
    const char *p = s + (*s == '+' || *s == '-');
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        *out = strtod(s, NULL);
        return 0;
    }
    bool whole = digits(&p, true);
    bool frac = false;
    if (*p == '.') {
        p++;
        frac = *p >= '0' && *p <= '9';
        if (!digits(&p, false))
            return -1;
    }
    if (!whole && !frac)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        if (!digits(&p, true) || !(p[-1] >= '0' && p[-1] <= '9'))
            return -1;
    }
    if (*p)
        return -1;
    drop_underscores(tmp);
    *out = strtod(tmp, NULL);
    return 0;
}

/* oslo's Integer/Float min and max; false when v is outside. */
static bool within_bounds(const osp_oslo_opt_t *o, double v) {
    return !o || ((!o->min || v >= strtod(o->min, NULL)) &&
                  (!o->max || v <= strtod(o->max, NULL)));
}

struct subst {
    osp_oslo_conf_t *c;
    osp_error_t *err;
    const char *file; /* where the value being read was set */
    int line;
};

static int substitute(struct subst *x, const char *group, const char *text, int depth,
                      osp_buf_t *out);

/* The text oslo's StrSubWrapper gives for a registered option: its value,
 * substituted and converted to its type, then str(); None is "". */
static int registered_value(struct subst *x, const char *group, const char *name,
                            int depth, osp_buf_t *out) {
    const osp_oslo_opt_t *o = registered_opt(x->c, group, name);
    osp_opt_type_t type = o ? o->type : OSP_OPT_STR;
    osp_buf_t raw = OSP_BUF_INIT;
    int rc = OSP_OK;
    if (type == OSP_OPT_MULTI) {
        /* every value of every file, oldest first, as a list */
        const char *g[4], *k[4];
        size_t n = names_of(o, group, name, g, k);
        osp__buf_putc(out, '[');
        bool any = false;
        for (size_t s = 0; s < x->c->nsrc && rc == OSP_OK; s++)
            for (size_t i = n; i-- > 0 && rc == OSP_OK;)
                for (size_t a = 0; a < x->c->src[s].n && rc == OSP_OK; a++) {
                    const struct assignment *as = &x->c->src[s].a[a];
                    if (strcmp(as->key, k[i]) || strcmp(as->section, g[i]))
                        continue;
                    raw.len = 0;
                    rc = substitute(x, group, as->value, depth + 1, &raw);
                    if (any)
                        osp__buf_puts(out, ", ");
                    any = true;
                    py_repr_str(out, osp__buf_cstr(&raw) ? raw.data : "");
                }
        osp__buf_putc(out, ']');
        osp__buf_free(&raw);
        return rc;
    }
    const struct source *from;
    const struct assignment *a = find(x->c, o, group, name, &from);
    const char *text = a ? a->value : o ? o->def : NULL;
    if (!text)
        return OSP_OK; /* None */
    rc = substitute(x, group, text, depth + 1, &raw);
    const char *v = osp__buf_cstr(&raw) ? raw.data : "";
    if (rc == OSP_OK && raw.failed)
        rc = nomem(x->err);
    if (rc == OSP_OK) {
        bool bv;
        long long iv;
        double fv;
        char num[40];
        switch (type) {
        case OSP_OPT_STR:
        case OSP_OPT_MULTI:
            osp__buf_puts(out, v);
            break;
        case OSP_OPT_BOOL:
            if (osp__parse_bool(v, &bv))
                rc = fail_at(x->err, x->file, x->line,
                             "a $reference to a boolean option that is not one");
            else
                osp__buf_puts(out, bv ? "True" : "False");
            break;
        case OSP_OPT_INT:
            switch (osp__oslo_parse_int(v, &iv)) {
            case 0:
                if (!within_bounds(o, (double)iv)) {
                    rc = fail_at(x->err, x->file, x->line,
                                 "a $reference to an integer option out of its bounds");
                    break;
                }
                snprintf(num, sizeof num, "%lld", iv);
                osp__buf_puts(out, num);
                break;
            case -1:
                rc = fail_at(x->err, x->file, x->line,
                             "a $reference to an integer option that is not one");
                break;
            } /* 1: empty, None */
            break;
        case OSP_OPT_FLOAT:
            switch (osp__oslo_parse_float(v, &fv)) {
            case 0:
                if (!within_bounds(o, fv)) {
                    rc = fail_at(x->err, x->file, x->line,
                                 "a $reference to a float option out of its bounds");
                    break;
                }
                if (isinf(fv))
                    osp__buf_puts(out, fv > 0 ? "inf" : "-inf");
                else if (isnan(fv))
                    osp__buf_puts(out, "nan");
                else
                    osp__pyjson_real(out, fv);
                break;
            case -1:
                rc = fail_at(x->err, x->file, x->line,
                             "a $reference to a float option that is not one");
                break;
            }
            break;
        case OSP_OPT_LIST: {
            char **items;
            size_t n;
            if (split_list(v, &items, &n) != OSP_OK) {
                rc = nomem(x->err);
                break;
            }
            osp__buf_putc(out, '[');
            for (size_t i = 0; i < n; i++) {
                if (i)
                    osp__buf_puts(out, ", ");
                py_repr_str(out, items[i]);
            }
            osp__buf_putc(out, ']');
            osp__free_keys(items, n);
            break;
        }
        }
    }
    osp__buf_free(&raw);
    return rc;
}

/* StrSubWrapper.__getitem__: "group.opt" names a group's option (an
 * unknown group is an error, an unknown option falls back to a DEFAULT
 * option of the whole name); a plain name is the reading option's group's
 * option, else DEFAULT's. */
static int lookup(struct subst *x, const char *group, const char *key, int depth,
                  osp_buf_t *out) {
    const char *dot = strchr(key, '.');
    const char *g = group;
    char *opt_group = NULL;
    const char *opt = key;
    if (dot) {
        opt_group = dup_n(key, (size_t)(dot - key));
        if (!opt_group)
            return nomem(x->err);
        if (!group_known(x->c, opt_group)) {
            free(opt_group);
            return fail_at(x->err, x->file, x->line,
                           "a ${group.option} reference names no group in the files "
                           "read (\\$ writes a literal $)");
        }
        g = opt_group;
        opt = dot + 1;
    }
    int rc;
    if (registered_opt(x->c, g, opt) || set_in_files(x->c, g, opt))
        rc = registered_value(x, g, opt, depth, out);
    else if (registered_opt(x->c, "DEFAULT", key) || set_in_files(x->c, "DEFAULT", key))
        rc = registered_value(x, "DEFAULT", key, depth, out);
    else
        rc = fail_at(x->err, x->file, x->line,
                     "a $reference to an option neither oslo's nor set in the files "
                     "(\\$ for a literal $)");
    free(opt_group);
    return rc;
}

/* ConfigOpts._substitute: "\$" is "$$" first; then string.Template's
 * safe_substitute: $$ is $, $name and ${name} are looked up, any other $
 * stays. */
static int substitute(struct subst *x, const char *group, const char *text, int depth,
                      osp_buf_t *out) {
    if (depth > MAX_DEPTH)
        return fail_at(x->err, x->file, x->line,
                       "$references nested too deep (circular?)");
    if (!strchr(text, '$')) {
        osp__buf_puts(out, text);
        return out->failed ? nomem(x->err) : OSP_OK;
    }
    osp_buf_t t = OSP_BUF_INIT;
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] == '$') {
            osp__buf_puts(&t, "$$");
            p++;
        } else {
            osp__buf_putc(&t, *p);
        }
    }
    const char *s = osp__buf_cstr(&t);
    if (!s)
        return nomem(x->err);
    int rc = OSP_OK;
    for (size_t i = 0; s[i] && rc == OSP_OK;) {
        if (s[i] != '$') {
            osp__buf_putc(out, s[i++]);
            continue;
        }
        size_t n;
        if (s[i + 1] == '$') {
            osp__buf_putc(out, '$');
            i += 2;
        } else if ((n = id_len(s + i + 1))) {
            char *key = dup_n(s + i + 1, n);
            rc = key ? lookup(x, group, key, depth, out) : nomem(x->err);
            free(key);
            i += 1 + n;
        } else if (s[i + 1] == '{' && (n = id_len(s + i + 2)) && s[i + 2 + n] == '}') {
            char *key = dup_n(s + i + 2, n);
            rc = key ? lookup(x, group, key, depth, out) : nomem(x->err);
            free(key);
            i += 3 + n;
        } else {
            osp__buf_putc(out, '$');
            i++;
        }
    }
    osp__buf_free(&t);
    if (rc == OSP_OK && out->failed)
        rc = nomem(x->err);
    return rc;
}

/* ---------------------------------------------------------------- getters */

/* The option's value from the files, substituted, into out; *found false
 * (and OSP_OK) when no file sets it. */
static int file_value(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, osp_buf_t *out,
                      bool *found, osp_oslo_loc_t *loc, osp_error_t *err) {
    const struct source *from;
    const struct assignment *a = find(c, opt, opt->group, opt->name, &from);
    *found = a != NULL;
    if (loc)
        *loc = (osp_oslo_loc_t){a ? from->name : NULL, a ? a->line : 0};
    if (!a)
        return OSP_OK;
    struct subst x = {c, err, from->name, a->line};
    int rc = substitute(&x, opt->group, a->value, 0, out);
    if (rc == OSP_OK && !osp__buf_cstr(out))
        rc = nomem(err);
    return rc;
}

static int not_a(osp_error_t *err, const osp_oslo_opt_t *opt, const osp_oslo_loc_t *loc,
                 const char *what) {
    return osp__error_set(err, OSP_ECONFIG, loc->file, loc->line,
                          "%s:%d: [%s] %s is not %s", loc->file, loc->line, opt->group,
                          opt->name, what);
}

static void wipe(osp_buf_t *b) {
    if (b->data)
        memset(b->data, 0, b->cap);
    osp__buf_free(b);
}

int osp__oslo_get_str(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, char **out,
                      osp_oslo_loc_t *loc, osp_error_t *err) {
    osp_buf_t b = OSP_BUF_INIT;
    bool found;
    osp_oslo_loc_t l;
    int rc = file_value(c, opt, &b, &found, &l, err);
    if (loc)
        *loc = l;
    if (rc == OSP_OK && found) {
        char *v = dup_n(b.data, b.len);
        if (!v)
            rc = nomem(err);
        else {
            free(*out);
            *out = v;
        }
    }
    wipe(&b);
    return rc;
}

int osp__oslo_get_bool(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, bool *out,
                       osp_oslo_loc_t *loc, osp_error_t *err) {
    osp_buf_t b = OSP_BUF_INIT;
    bool found;
    osp_oslo_loc_t l;
    int rc = file_value(c, opt, &b, &found, &l, err);
    if (loc)
        *loc = l;
    if (rc == OSP_OK && found && osp__parse_bool(b.data, out))
        rc = not_a(err, opt, &l, "a boolean (true/false, yes/no, on/off, 1/0)");
    wipe(&b);
    return rc;
}

/* An integer (iv) or a float (fv) option, converted and bounded as oslo's
 * Integer and Float types do. */
static int get_number(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, long long *iv,
                      double *fv, osp_oslo_loc_t *loc, osp_error_t *err) {
    osp_buf_t b = OSP_BUF_INIT;
    bool found;
    osp_oslo_loc_t l;
    int rc = file_value(c, opt, &b, &found, &l, err);
    if (loc)
        *loc = l;
    if (rc == OSP_OK && found) {
        int r = iv ? osp__oslo_parse_int(b.data, iv) : osp__oslo_parse_float(b.data, fv);
        if (r == 1)
            rc = not_a(err, opt, &l, "set (empty: oslo would read None)");
        else if (r)
            rc = not_a(err, opt, &l, iv ? "an integer" : "a number");
        else if (!within_bounds(opt, iv ? (double)*iv : *fv))
            rc = not_a(err, opt, &l, "within the option's bounds");
    }
    wipe(&b);
    return rc;
}

int osp__oslo_get_int(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, long long *out,
                      osp_oslo_loc_t *loc, osp_error_t *err) {
    return get_number(c, opt, out, NULL, loc, err);
}

int osp__oslo_get_float(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, double *out,
                        osp_oslo_loc_t *loc, osp_error_t *err) {
    return get_number(c, opt, NULL, out, loc, err);
}

/* MULTI: every assignment of every file, oldest first (cfg.py's multi
 * lookup, deprecated names before the current one within a file). */
static int multi_values(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, char ***out,
                        size_t *count, osp_oslo_loc_t *loc, osp_error_t *err) {
    const char *g[4], *k[4];
    size_t nn = names_of(opt, opt->group, opt->name, g, k);
    char **items = NULL;
    size_t n = 0, cap = 0;
    int rc = OSP_OK;
    for (size_t s = 0; s < c->nsrc && rc == OSP_OK; s++)
        for (size_t i = nn; i-- > 0 && rc == OSP_OK;)
            for (size_t a = 0; a < c->src[s].n && rc == OSP_OK; a++) {
                const struct assignment *as = &c->src[s].a[a];
                if (strcmp(as->key, k[i]) || strcmp(as->section, g[i]))
                    continue;
                if (loc)
                    *loc = (osp_oslo_loc_t){c->src[s].name, as->line};
                osp_buf_t b = OSP_BUF_INIT;
                struct subst x = {c, err, c->src[s].name, as->line};
                rc = substitute(&x, opt->group, as->value, 0, &b);
                if (rc == OSP_OK && n == cap) {
                    cap = cap ? 2 * cap : 4;
                    char **grown = realloc(items, cap * sizeof *grown);
                    if (grown)
                        items = grown;
                    else
                        rc = nomem(err);
                }
                if (rc == OSP_OK && !(items[n++] = dup_n(b.data ? b.data : "", b.len)))
                    rc = nomem(err);
                wipe(&b);
            }
    if (rc != OSP_OK) {
        osp__free_keys(items, n);
        return rc;
    }
    if (n) {
        osp__free_keys(*out, *count);
        *out = items;
        *count = n;
    }
    return OSP_OK;
}

int osp__oslo_get_list(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, char ***out,
                       size_t *n, osp_oslo_loc_t *loc, osp_error_t *err) {
    if (loc)
        *loc = (osp_oslo_loc_t){NULL, 0};
    if (opt->type == OSP_OPT_MULTI)
        return multi_values(c, opt, out, n, loc, err);
    osp_buf_t b = OSP_BUF_INIT;
    bool found;
    int rc = file_value(c, opt, &b, &found, loc, err);
    if (rc == OSP_OK && found) {
        char **items;
        size_t count;
        if (split_list(b.data, &items, &count) != OSP_OK) {
            rc = nomem(err);
        } else {
            osp__free_keys(*out, *n);
            *out = items;
            *n = count;
        }
    }
    wipe(&b);
    return rc;
}
