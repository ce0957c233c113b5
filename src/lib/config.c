/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config - the [profiler] options of osprofiler (opts.py), set through the
 * API or read from a service's own oslo-style .conf with libinih.
 *
 * Loading is all-or-nothing: options are parsed into a scratch config that
 * replaces the caller's only when the whole file is valid. Error texts name
 * file and line and never quote an hmac_keys value.
 *
 * libinih (Debian r55) reads lines into a fixed 200-byte buffer and would
 * silently cut longer ones, which could truncate a key. Our line reader sees
 * every physical line first: an over-long line in a section we read is an
 * error; elsewhere it is blanked, since we ignore those sections anyway.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/errors.h"
#include "internal.h"

#define MAX_LINE INI_MAX_LINE

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int replace_str(char **slot, const char *value) {
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return OSP_ENOMEM;
    free(*slot);
    *slot = copy;
    return OSP_OK;
}

osp_config_t *osp_config_new(void) {
    osp_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->thread_buffer = OSP_DEFAULT_THREAD_BUFFER;
    cfg->buffer_limit = OSP_DEFAULT_BUFFER_LIMIT;
    cfg->ring_size = OSP_DEFAULT_RING_SIZE;
    if (osp_config_set_hmac_keys(cfg, "SECRET_KEY") ||
        osp_config_set_connection_string(cfg, "messaging://")) {
        osp_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void osp__config_clear(osp_config_t *cfg) {
    osp__free_keys(cfg->hmac_keys, cfg->nkeys);
    free(cfg->connection_string);
    free(cfg->sidecar_socket);
    free(cfg->project);
    free(cfg->service);
    free(cfg->host);
    memset(cfg, 0, sizeof *cfg);
}

void osp_config_free(osp_config_t *cfg) {
    if (!cfg)
        return;
    osp__config_clear(cfg);
    free(cfg);
}

int osp__config_copy(osp_config_t *dst, const osp_config_t *src) {
    memset(dst, 0, sizeof *dst);
    dst->enabled = src->enabled;
    dst->trace_sqlalchemy = src->trace_sqlalchemy;
    dst->filter_error_trace = src->filter_error_trace;
    dst->sidecar_socket_set = src->sidecar_socket_set;
    dst->thread_buffer = src->thread_buffer;
    dst->buffer_limit = src->buffer_limit;
    dst->ring_size = src->ring_size;
    if (src->nkeys) {
        dst->hmac_keys = calloc(src->nkeys, sizeof *dst->hmac_keys);
        if (!dst->hmac_keys)
            goto err;
        dst->nkeys = src->nkeys;
        for (size_t i = 0; i < src->nkeys; i++)
            if (!(dst->hmac_keys[i] = strdup(src->hmac_keys[i])))
                goto err;
    }
#define COPY(f)                                                                          \
    if (src->f && !(dst->f = dup_or_null(src->f)))                                       \
        goto err;
    COPY(connection_string)
    COPY(sidecar_socket)
    COPY(project)
    COPY(service)
    COPY(host)
#undef COPY
    return OSP_OK;
err:
    osp__config_clear(dst);
    return OSP_ENOMEM;
}

void osp_config_set_enabled(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->enabled = on;
}
void osp_config_set_trace_sqlalchemy(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->trace_sqlalchemy = on;
}
void osp_config_set_filter_error_trace(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->filter_error_trace = on;
}

int osp_config_set_hmac_keys(osp_config_t *cfg, const char *keys) {
    if (!cfg)
        return OSP_EINVAL;
    char **list;
    size_t n;
    int rc = osp__split_keys(keys, &list, &n);
    if (rc)
        return rc;
    osp__free_keys(cfg->hmac_keys, cfg->nkeys);
    cfg->hmac_keys = list;
    cfg->nkeys = n;
    return OSP_OK;
}

int osp_config_set_connection_string(osp_config_t *cfg, const char *cs) {
    if (!cfg || !cs || !*cs)
        return OSP_EINVAL;
    /* osprofiler appends "://" to a bare driver name. */
    if (!strstr(cs, "://")) {
        char *full = malloc(strlen(cs) + 4);
        if (!full)
            return OSP_ENOMEM;
        strcpy(full, cs);
        strcat(full, "://");
        free(cfg->connection_string);
        cfg->connection_string = full;
        return OSP_OK;
    }
    return replace_str(&cfg->connection_string, cs);
}

int osp_config_set_sidecar_socket(osp_config_t *cfg, const char *path) {
    if (!cfg)
        return OSP_EINVAL;
    if (path && strlen(path) >= 108) /* sizeof sun_path */
        return OSP_ETOOBIG;
    int rc = replace_str(&cfg->sidecar_socket, path);
    if (rc == OSP_OK)
        cfg->sidecar_socket_set = path != NULL;
    return rc;
}

int osp_config_set_project(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    return replace_str(&cfg->project, v);
}
int osp_config_set_service(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    return replace_str(&cfg->service, v);
}
int osp_config_set_host(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    if (v && strlen(v) > 255)
        return OSP_ETOOBIG;
    return replace_str(&cfg->host, v);
}
int osp_config_set_thread_buffer(osp_config_t *cfg, size_t bytes) {
    if (!cfg || bytes < 4096)
        return OSP_EINVAL;
    cfg->thread_buffer = bytes;
    return OSP_OK;
}

int osp_config_set_buffer_limit(osp_config_t *cfg, size_t bytes) {
    if (!cfg || bytes < 4096)
        return OSP_EINVAL;
    cfg->buffer_limit = bytes;
    return OSP_OK;
}

int osp_config_set_ring_size(osp_config_t *cfg, size_t bytes) {
    if (!cfg || (bytes && (bytes < 4096 || bytes > (64u << 20) || (bytes & (bytes - 1)))))
        return OSP_EINVAL;
    cfg->ring_size = bytes;
    return OSP_OK;
}

bool osp_config_enabled(const osp_config_t *cfg) { return cfg && cfg->enabled; }
bool osp_config_trace_sqlalchemy(const osp_config_t *cfg) {
    return cfg && cfg->trace_sqlalchemy;
}
bool osp_config_filter_error_trace(const osp_config_t *cfg) {
    return cfg && cfg->filter_error_trace;
}
size_t osp_config_hmac_key_count(const osp_config_t *cfg) { return cfg ? cfg->nkeys : 0; }
const char *osp_config_connection_string(const osp_config_t *cfg) {
    return cfg ? cfg->connection_string : NULL;
}
bool osp_config_uses_default_key(const osp_config_t *cfg) {
    if (!cfg)
        return false;
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (strcmp(cfg->hmac_keys[i], "SECRET_KEY") == 0)
            return true;
    return false;
}

/* ---- .conf loading ------------------------------------------------------ */

struct load_ctx {
    osp_config_t scratch;
    const char *source;
    osp_error_t *err;
    int rc;       /* first error, OSP_OK if none */
    int err_line; /* line of the first error we reported ourselves */
    /* line reader state */
    FILE *fp;
    int line;
    char section[64];
    char *linebuf;
    size_t linecap;
};

static void fail(struct load_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct load_ctx *c, int line, const char *fmt, ...) {
    if (c->rc != OSP_OK)
        return; /* keep the first error */
    c->rc = OSP_ECONFIG;
    c->err_line = line;
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    osp__error_set(c->err, OSP_ECONFIG, c->source, line, "%s:%d: %s", c->source, line,
                   text);
}

static bool section_is_read(const char *s) {
    return strcmp(s, "profiler") == 0 || strcmp(s, "DEFAULT") == 0;
}

/* ini_reader: hands libinih one physical line at a time (see file header). */
static char *read_line(char *str, int num, void *stream) {
    struct load_ctx *c = stream;
    ssize_t n = getline(&c->linebuf, &c->linecap, c->fp);
    if (n < 0)
        return NULL;
    c->line++;
    const char *p = c->linebuf;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[' && p == c->linebuf) {
        const char *close = strchr(p, ']');
        size_t len = close ? (size_t)(close - p - 1) : 0;
        if (len >= sizeof c->section)
            len = sizeof c->section - 1;
        memcpy(c->section, p + 1, len);
        c->section[len] = '\0';
    }
    if (n > num - 2) {
        if (section_is_read(c->section))
            fail(c, c->line, "line longer than %d bytes in [%s]", num - 2, c->section);
        strcpy(str, "\n");
        return str;
    }
    memcpy(str, c->linebuf, (size_t)n + 1);
    return str;
}

/* oslo.config's iniparser removes one pair of matching outer quotes. */
static const char *unquote(const char *v, char *tmp, size_t cap) {
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0] && n - 2 < cap) {
        memcpy(tmp, v + 1, n - 2);
        tmp[n - 2] = '\0';
        return tmp;
    }
    return v;
}

/* Debian's libinih is built without INI_HANDLER_LINENO; the reader's line
 * count is the current line, since inih parses each line as it reads it. */
static int on_entry(void *user, const char *section, const char *name,
                    const char *raw_value) {
    struct load_ctx *c = user;
    int lineno = c->line;
    osp_config_t *cfg = &c->scratch;
    char tmp[MAX_LINE];
    const char *value = unquote(raw_value, tmp, sizeof tmp);
    int rc = OSP_OK;
    if (strcmp(section, "DEFAULT") == 0) {
        if (strcmp(name, "host") == 0)
            rc = osp_config_set_host(cfg, value);
    } else if (strcmp(section, "profiler") == 0) {
        bool b;
        bool *flag = NULL;
        if (strcmp(name, "enabled") == 0 || strcmp(name, "profiler_enabled") == 0)
            flag = &cfg->enabled;
        else if (strcmp(name, "trace_sqlalchemy") == 0)
            flag = &cfg->trace_sqlalchemy;
        else if (strcmp(name, "filter_error_trace") == 0)
            flag = &cfg->filter_error_trace;
        if (flag) {
            if (osp__parse_bool(value, &b) != 0) {
                fail(c, lineno, "[profiler] %s: '%.40s' is not a boolean (true/false)",
                     name, value);
                return 0;
            }
            *flag = b;
        } else if (strcmp(name, "hmac_keys") == 0) {
            rc = osp_config_set_hmac_keys(cfg, value);
        } else if (strcmp(name, "connection_string") == 0) {
            rc = osp_config_set_connection_string(cfg, value);
            if (rc == OSP_EINVAL) {
                fail(c, lineno, "[profiler] %s: empty value", name);
                return 0;
            }
        } else if (strcmp(name, "sidecar_socket") == 0) {
            rc = osp_config_set_sidecar_socket(cfg, value);
            if (rc == OSP_ETOOBIG) {
                fail(c, lineno, "[profiler] %s: path longer than 107 bytes", name);
                return 0;
            }
        }
        /* Other options (es_*, socket_timeout, sentinel_service_name, ...)
         * belong to drivers the sidecar owns; ignored here as oslo would. */
    }
    if (rc == OSP_ETOOBIG) {
        fail(c, lineno, "[%s] %s: value too long", section, name);
        return 0;
    }
    if (rc != OSP_OK) {
        c->rc = rc;
        return 0;
    }
    return 1;
}

static int load_stream(osp_config_t *cfg, FILE *fp, const char *source,
                       osp_error_t *err) {
    struct load_ctx c = {.source = source, .err = err, .fp = fp};
    strcpy(c.section, "");
    int rc = osp__config_copy(&c.scratch, cfg);
    if (rc)
        return rc;
    int bad = ini_parse_stream(read_line, &c, on_entry, &c);
    free(c.linebuf);
    if (bad == -2 || c.rc == OSP_ENOMEM) {
        rc = osp__error_set(err, OSP_ENOMEM, source, 0, "out of memory reading %s",
                            source);
    } else if (c.rc != OSP_OK) {
        rc = c.rc;
    } else if (bad > 0) {
        rc = osp__error_set(err, OSP_ECONFIG, source, bad,
                            "%s:%d: syntax error: expected '[section]' or 'name = value'",
                            source, bad);
    }
    if (rc == OSP_OK) {
        osp__config_clear(cfg);
        *cfg = c.scratch;
    } else {
        osp__config_clear(&c.scratch);
    }
    return rc;
}

int osp_config_load_file(osp_config_t *cfg, const char *path, osp_error_t *err) {
    if (!cfg || !path)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL argument");
    FILE *fp = fopen(path, "re");
    if (!fp) {
        int e = errno;
        return osp__error_set(err, OSP_ECONFIGFILE, path, 0, "%s: cannot open: %s", path,
                              strerror(e));
    }
    int rc = load_stream(cfg, fp, path, err);
    fclose(fp);
    return rc;
}

int osp_config_load_string(osp_config_t *cfg, const char *text, const char *name,
                           osp_error_t *err) {
    if (!cfg || !text)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL argument");
    if (!*text)
        return OSP_OK; /* fmemopen refuses a zero size */
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    if (!fp)
        return osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory");
    int rc = load_stream(cfg, fp, name ? name : "<string>", err);
    fclose(fp);
    return rc;
}
