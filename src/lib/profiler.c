/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profiler - the per-thread profiler of osprofiler.profiler: init/get/clean,
 * start/stop and the payloads they emit.
 *
 * State lives in a __thread pointer, as Python's threading.local; nothing is
 * shared between threads, so start/stop take no lock. The id stack keeps
 * Python's shape: [base_id, parent_id, trace ids...], so base = stack[0],
 * parent = stack[-2], current = stack[-1].
 *
 * Payloads are written straight into the thread's emit batch as JSON text
 * byte-identical to Python's json.dumps of the same dict: keys name, base_id,
 * trace_id, parent_id, timestamp, info, then project and service (added by the
 * messaging driver). The caller's info keys come first and "host" last; a
 * caller "host" key keeps its position and gets the profiler's value, since
 * Python assigns info["host"] in place.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "../common/ids.h"
#include "../common/pyjson.h"
#include "internal.h"

struct point {
    char id[OSP_ID_MAX];
    size_t name_off; /* into names */
};

struct osp_profiler {
    char *hmac_key;
    char base_id[OSP_ID_MAX];
    char parent_id[OSP_ID_MAX];
    /* base_id and parent_id as JSON strings, escaped once at init: every
     * payload repeats them. Point ids are our own UUIDs: never escaped. */
    osp_buf_t base_json, parent_json;
    struct point *points;
    size_t depth, cap;
    osp_buf_t names; /* NUL-separated stack of point names */
};

static __thread osp_profiler_t *current;
static __thread bool web_active;

bool *osp__web_active_flag(void) { return &web_active; }

static bool id_ok(const char *id) { return id && *id && strlen(id) < OSP_ID_MAX; }

osp_profiler_t *osp_init(const char *hmac_key, const char *base_id,
                         const char *parent_id) {
    if (current)
        return current;
    osp_profiler_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (hmac_key && !(p->hmac_key = strdup(hmac_key))) {
        free(p);
        return NULL;
    }
    if (id_ok(base_id))
        strcpy(p->base_id, base_id);
    else if (osp__uuid4(p->base_id) != 0) {
        free(p->hmac_key);
        free(p);
        return NULL;
    }
    strcpy(p->parent_id, id_ok(parent_id) ? parent_id : p->base_id);
    osp__pyjson_string(&p->base_json, p->base_id, strlen(p->base_id));
    osp__pyjson_string(&p->parent_json, p->parent_id, strlen(p->parent_id));
    if (p->base_json.failed || p->parent_json.failed) {
        osp__buf_free(&p->base_json);
        osp__buf_free(&p->parent_json);
        free(p->hmac_key);
        free(p);
        return NULL;
    }
    osp__host();            /* Python reads the host name when the profiler is made */
    osp__thread_register(); /* free it at thread exit if never cleaned */
    current = p;
    return p;
}

osp_profiler_t *osp_get(void) { return current; }

void osp__profiler_release(void) {
    osp_profiler_t *p = current;
    current = NULL;
    web_active = false;
    if (!p)
        return;
    if (p->hmac_key) {
        memset(p->hmac_key, 0, strlen(p->hmac_key));
        free(p->hmac_key);
    }
    free(p->points);
    osp__buf_free(&p->names);
    osp__buf_free(&p->base_json);
    osp__buf_free(&p->parent_json);
    free(p);
}

void osp_clean(void) {
    osp__profiler_release();
    osp_flush();
}

const char *osp_profiler_base_id(const osp_profiler_t *p) {
    return p ? p->base_id : NULL;
}
const char *osp_profiler_id(const osp_profiler_t *p) {
    if (!p)
        return NULL;
    return p->depth ? p->points[p->depth - 1].id : p->parent_id;
}
const char *osp_profiler_parent_id(const osp_profiler_t *p) {
    if (!p)
        return NULL;
    if (p->depth >= 2)
        return p->points[p->depth - 2].id;
    return p->depth == 1 ? p->parent_id : p->base_id;
}
const char *osp_profiler_hmac_key(const osp_profiler_t *p) {
    return p ? p->hmac_key : NULL;
}
size_t osp_profiler_depth(const osp_profiler_t *p) { return p ? p->depth : 0; }

static void put_key(osp_buf_t *b, const char *key, size_t len) {
    osp__pyjson_string(b, key, len);
    osp__buf_append(b, ": ", 2);
}

/* "info": {caller keys..., "host": host}. extra_first writes keys built by
 * the library (etype/message) before the caller's. */
static void put_info(osp_buf_t *b, const json_t *info) {
    size_t host_len;
    const char *host = osp__host_json(&host_len);
    bool host_written = false, first = true;
    osp__buf_putc(b, '{');
    if (json_is_object(info)) {
        const char *key;
        size_t key_len;
        json_t *val;
        json_object_keylen_foreach((json_t *)info, key, key_len, val) {
            if (!first)
                osp__buf_append(b, ", ", 2);
            first = false;
            put_key(b, key, key_len);
            if (key_len == 4 && memcmp(key, "host", 4) == 0) {
                osp__buf_append(b, host, host_len);
                host_written = true;
            } else {
                osp__pyjson_value(b, val, -1, 0);
            }
        }
    }
    if (!host_written) {
        if (!first)
            osp__buf_append(b, ", ", 2);
        put_key(b, "host", 4);
        osp__buf_append(b, host, host_len);
    }
    osp__buf_putc(b, '}');
}

/* A point id (ours, at stack level i) as a JSON string. */
static void put_uuid(osp_buf_t *b, const char *id) {
    if (!osp__buf_reserve(b, OSP_UUID_LEN + 2))
        return;
    char *d = b->data + b->len;
    d[0] = '"';
    memcpy(d + 1, id, OSP_UUID_LEN);
    d[OSP_UUID_LEN + 1] = '"';
    b->len += OSP_UUID_LEN + 2;
}

/* The id of stack level `level` (0 = the initial parent) as JSON. */
static void put_stack_id(osp_buf_t *b, const osp_profiler_t *p, size_t level) {
    if (level == 0)
        osp__buf_append(b, p->parent_json.data, p->parent_json.len);
    else
        put_uuid(b, p->points[level - 1].id);
}

/* Write "<name><suffix>" for the point at stack level `level` (1-based) and
 * its parent level-1, then hand the payload to the notifier. */
static void emit(osp_profiler_t *p, const char *name, const char *suffix, size_t level,
                 const json_t *info, size_t depth_after) {
    osp_buf_t *b = osp__emit_buffer();
    if (!b)
        return;
    size_t start = b->len;
    char ts[OSP_TS_LEN + 1];
    osp__timestamp(ts);
    osp__buf_append(b, "{\"name\": ", 9);
    /* name + suffix as one JSON string: escape the name, then the suffix. */
    osp__pyjson_string(b, name, strlen(name));
    if (!b->failed) {
        b->len--; /* reopen the string to append the suffix */
        osp__buf_puts(b, suffix);
        osp__buf_putc(b, '"');
    }
    osp__buf_append(b, ", \"base_id\": ", 13);
    osp__buf_append(b, p->base_json.data, p->base_json.len);
    osp__buf_append(b, ", \"trace_id\": ", 14);
    put_stack_id(b, p, level);
    osp__buf_append(b, ", \"parent_id\": ", 15);
    put_stack_id(b, p, level - 1);
    osp__buf_append(b, ", \"timestamp\": \"", 16);
    osp__buf_append(b, ts, OSP_TS_LEN);
    osp__buf_append(b, "\", \"info\": ", 11);
    put_info(b, info);
    size_t tail_len;
    const char *tail = osp__payload_tail(&tail_len);
    osp__buf_append(b, tail, tail_len);
    osp__emit_commit(b, start, depth_after);
}

int osp_start(const char *name, const json_t *info) {
    osp_profiler_t *p = current;
    if (!p)
        return OSP_ENOTRACE;
    if (!name || (info && !json_is_object(info)))
        return OSP_EINVAL;
    if (p->depth == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct point *grown = realloc(p->points, cap * sizeof *grown);
        if (!grown)
            return OSP_ENOMEM;
        p->points = grown;
        p->cap = cap;
    }
    size_t name_off = p->names.len;
    osp__buf_append(&p->names, name, strlen(name) + 1);
    if (p->names.failed) {
        p->names.failed = false;
        p->names.len = name_off;
        return OSP_ENOMEM;
    }
    struct point *pt = &p->points[p->depth];
    int rc = osp__uuid4(pt->id);
    if (rc) {
        p->names.len = name_off;
        return rc;
    }
    pt->name_off = name_off;
    p->depth++;
    /* trace_id = the new top, parent_id = the previous top */
    emit(p, name, "-start", p->depth, info, p->depth);
    return OSP_OK;
}

int osp_stop(const json_t *info) {
    osp_profiler_t *p = current;
    if (!p)
        return OSP_ENOTRACE;
    if (p->depth == 0)
        return OSP_ENOPOINT; /* as upstream 4.4.0: no exception, no message */
    if (info && !json_is_object(info))
        return OSP_EINVAL;
    struct point *pt = &p->points[p->depth - 1];
    const char *name = p->names.data + pt->name_off;
    /* same ids as its start: the top and the one below */
    emit(p, name, "-stop", p->depth, info, p->depth - 1);
    p->depth--;
    p->names.len = pt->name_off;
    return OSP_OK;
}

int osp_stop_error(const char *etype, const char *message) {
    if (!current)
        return OSP_ENOTRACE;
    json_t *info = json_object();
    if (!info)
        return OSP_ENOMEM;
    json_object_set_new(info, "etype", etype ? json_string(etype) : json_null());
    json_object_set_new(info, "message", message ? json_string(message) : json_null());
    int rc = osp_stop(info);
    json_decref(info);
    return rc;
}

int osp_db_start(const char *statement, const json_t *params) {
    if (!current || !osp__db_enabled())
        return OSP_ENOTRACE;
    json_t *p = params ? json_incref((json_t *)params) : json_object();
    /* "o" steals the reference to p, even when json_pack fails. */
    json_t *info = json_pack("{s{s:s?,s:o}}", "db", "statement", statement, "params", p);
    if (!info)
        return OSP_ENOMEM;
    int rc = osp_start("db", info);
    json_decref(info);
    return rc;
}

int osp_db_stop(void) {
    if (!current || !osp__db_enabled())
        return OSP_ENOTRACE;
    return osp_stop(NULL);
}

int osp_db_stop_error(const char *etype, const char *message, const char *chained) {
    if (!current || !osp__db_enabled())
        return OSP_ENOTRACE;
    json_t *info =
        json_pack("{s:s?,s:s?,s{s:s?,s:s}}", "etype", etype, "message", message, "db",
                  "original_exception", message ? message : "None", "chained_exception",
                  chained ? chained : "None");
    if (!info)
        return OSP_ENOMEM;
    int rc = osp_stop(info);
    json_decref(info);
    return rc;
}

void osp__scope_end(osp_scope_t *s) {
    if (!s->started)
        return;
    if (s->etype)
        osp_stop_error(s->etype, s->message);
    else
        osp_stop(NULL);
    s->started = 0;
}

/* s.replace(pat, "") in place. */
static void remove_all(char *s, const char *pat) {
    size_t n = strlen(pat);
    char *w = s;
    for (const char *q = s; *q;) {
        if (strncmp(q, pat, n) == 0)
            q += n;
        else
            *w++ = *q++;
    }
    *w = '\0';
}

/* uuid.UUID(hex) as Python parses it: "urn:" and "uuid:" removed, braces
 * stripped, hyphens anywhere dropped, then exactly 32 hex digits. The result
 * is put in canonical form for libuuid. */
static bool parse_uuid_like_python(const char *id, uuid_t u) {
    char buf[OSP_ID_MAX * 2], hex[33], canon[OSP_UUID_LEN + 1];
    if (strlen(id) >= sizeof buf)
        return false;
    strcpy(buf, id);
    remove_all(buf, "urn:");
    remove_all(buf, "uuid:");
    const char *a = buf, *z = buf + strlen(buf); /* .strip('{}') */
    while (a < z && (*a == '{' || *a == '}'))
        a++;
    while (z > a && (z[-1] == '{' || z[-1] == '}'))
        z--;
    size_t n = 0;
    for (; a < z; a++) {
        if (*a == '-')
            continue;
        if (!isxdigit((unsigned char)*a) || n == 32)
            return false;
        hex[n++] = (char)tolower((unsigned char)*a);
    }
    if (n != 32)
        return false;
    hex[32] = '\0';
    snprintf(canon, sizeof canon, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return uuid_parse(canon, u) == 0;
}

int osp_get_shorten_id(const char *id, char out[17]) {
    uuid_t u;
    char rnd[OSP_UUID_LEN + 1];
    if (!out)
        return OSP_EINVAL;
    if (!id || !parse_uuid_like_python(id, u)) {
        /* Python: an id that does not parse gives a random one's short id. */
        int rc = osp__uuid4(rnd);
        if (rc)
            return rc;
        uuid_parse(rnd, u);
    }
    uint64_t low = 0;
    for (int i = 8; i < 16; i++)
        low = low << 8 | u[i];
    snprintf(out, 17, "%llx", (unsigned long long)low);
    return OSP_OK;
}

int osp_context_capture(osp_context_t *out) {
    osp_profiler_t *p = current;
    if (!out)
        return OSP_EINVAL;
    memset(out, 0, sizeof *out);
    if (!p)
        return OSP_ENOTRACE;
    strcpy(out->base_id, p->base_id);
    strcpy(out->parent_id, osp_profiler_id(p));
    if (p->hmac_key)
        snprintf(out->hmac_key, sizeof out->hmac_key, "%s", p->hmac_key);
    return OSP_OK;
}

osp_profiler_t *osp_context_attach(const osp_context_t *ctx) {
    if (!ctx)
        return NULL;
    return osp_init(ctx->hmac_key[0] ? ctx->hmac_key : NULL, ctx->base_id,
                    ctx->parent_id);
}

int osp_context_setenv(const osp_context_t *ctx) {
    if (!ctx || !id_ok(ctx->base_id))
        return OSP_EINVAL;
    if (setenv(OSP_ENV_BASE_ID, ctx->base_id, 1) ||
        setenv(OSP_ENV_PARENT_ID, id_ok(ctx->parent_id) ? ctx->parent_id : ctx->base_id,
               1))
        return OSP_ENOMEM;
    if (ctx->hmac_key[0] ? setenv(OSP_ENV_HMAC_KEY, ctx->hmac_key, 1)
                         : unsetenv(OSP_ENV_HMAC_KEY))
        return OSP_ENOMEM;
    return OSP_OK;
}

int osp_context_from_env(osp_context_t *out) {
    if (!out)
        return OSP_EINVAL;
    memset(out, 0, sizeof *out);
    const char *base = getenv(OSP_ENV_BASE_ID);
    const char *parent = getenv(OSP_ENV_PARENT_ID);
    const char *key = getenv(OSP_ENV_HMAC_KEY);
    if (!id_ok(base))
        return OSP_ENOTRACE;
    strcpy(out->base_id, base);
    strcpy(out->parent_id, id_ok(parent) ? parent : base);
    if (key && strlen(key) < sizeof out->hmac_key)
        strcpy(out->hmac_key, key);
    return OSP_OK;
}
