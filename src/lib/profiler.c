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
 * A point is handed to emit.c as a binary record (record.h): ids as 16
 * bytes, the time as an integer; the sidecar writes the JSON text Python
 * would have sent. Only the info is serialised here, since the caller's
 * json_t may change once we return: byte-identical to Python's json.dumps of
 * the same dict, the caller's keys first and "host" last; a caller "host"
 * key keeps its position and gets the profiler's value, since Python assigns
 * info["host"] in place.
 *
 * Thread exit frees the profiler (its own key: emit.c, which flushes, does
 * not call back here).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include <time.h>

#include "../common/hop.h"
#include "../common/ids.h"
#include "../common/point.h"
#include "../common/pyjson.h"
#include "internal.h"

struct point {
    uint8_t uuid[16];
    bool id_ready; /* id holds uuid as text (made when asked for) */
    char id[OSP_UUID_LEN + 1];
    size_t name_off; /* into names */
};

struct osp_profiler {
    char *hmac_key;
    char *base_id, *parent_id; /* any length, as in Python */
    /* base_id and parent_id as records carry them: 16 bytes when they are
     * canonical UUIDs, else the text. */
    uint8_t base_uuid[16], parent_uuid[16];
    osp_rec_id_t base_rec, parent_rec;
    bool ids_too_long; /* over what a record carries: every point is dropped */
    struct point *points;
    size_t depth, cap;
    osp_buf_t names; /* NUL-separated stack of point names */
};

static __thread osp_profiler_t *current;
static __thread bool web_active;
static __thread osp_buf_t info_text; /* the info being serialised */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static void release(void);
static void thread_exit(void *unused) {
    (void)unused;
    release();
    osp__buf_free(&info_text);
}
static void make_key(void) { pthread_key_create(&exit_key, thread_exit); }

bool *osp__web_active_flag(void) { return &web_active; }

/* Python: base_id or a fresh UUID, parent_id or base_id ("" counts as none). */
static bool id_ok(const char *id) { return id && *id; }

static void rec_id(const char *text, uint8_t uuid[16], osp_rec_id_t *out) {
    size_t len = strlen(text);
    memset(out, 0, sizeof *out);
    if (osp__uuid_parse_canonical(text, len, uuid)) {
        out->uuid = uuid;
    } else {
        out->text = text;
        out->len = len;
    }
}

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
    char fresh[OSP_UUID_LEN + 1];
    if (!id_ok(base_id) && osp__uuid4(fresh) != 0)
        goto fail;
    p->base_id = strdup(id_ok(base_id) ? base_id : fresh);
    p->parent_id = p->base_id ? strdup(id_ok(parent_id) ? parent_id : p->base_id) : NULL;
    if (!p->parent_id)
        goto fail;
    rec_id(p->base_id, p->base_uuid, &p->base_rec);
    rec_id(p->parent_id, p->parent_uuid, &p->parent_rec);
    p->ids_too_long =
        p->base_rec.len > OSP_HOP_MAX_FIELD || p->parent_rec.len > OSP_HOP_MAX_FIELD;
    osp__host(); /* Python reads the host name when the profiler is made */
    pthread_once(&key_once, make_key);
    pthread_setspecific(exit_key, p); /* free it at thread exit if never cleaned */
    current = p;
    return p;
fail:
    free(p->hmac_key);
    free(p->base_id);
    free(p);
    return NULL;
}

osp_profiler_t *osp_get(void) { return current; }

static void release(void) {
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
    free(p->base_id);
    free(p->parent_id);
    free(p);
}

void osp_clean(void) {
    release();
    osp_flush();
}

const char *osp_profiler_base_id(const osp_profiler_t *p) {
    return p ? p->base_id : NULL;
}
/* A point's id as text, formatted the first time it is asked for. */
static const char *point_id(const struct point *pt) {
    struct point *m = (struct point *)pt;
    if (!m->id_ready) {
        osp__uuid_format(m->uuid, m->id);
        m->id_ready = true;
    }
    return m->id;
}
const char *osp_profiler_id(const osp_profiler_t *p) {
    if (!p)
        return NULL;
    return p->depth ? point_id(&p->points[p->depth - 1]) : p->parent_id;
}
const char *osp_profiler_parent_id(const osp_profiler_t *p) {
    if (!p)
        return NULL;
    if (p->depth >= 2)
        return point_id(&p->points[p->depth - 2]);
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

/* {caller keys..., "host": host} as json.dumps writes it. false when it is
 * nested deeper than a payload may be (its values start at level 3). */
static bool put_info(osp_buf_t *b, const json_t *info) {
    const osp_buf_t *host = &osp__settings.host_json;
    bool host_written = false, first = true;
    osp__buf_putc(b, '{');
    const char *key;
    size_t key_len;
    json_t *val;
    json_object_keylen_foreach((json_t *)info, key, key_len, val) {
        if (!first)
            osp__buf_append(b, ", ", 2);
        first = false;
        put_key(b, key, key_len);
        if (key_len == 4 && memcmp(key, "host", 4) == 0) {
            osp__buf_append(b, host->data, host->len);
            host_written = true;
        } else if (!osp__pyjson_value_within(b, val, OSP_POINT_MAX_DEPTH - 2)) {
            return false;
        }
    }
    if (!host_written) {
        if (!first)
            osp__buf_append(b, ", ", 2);
        put_key(b, "host", 4);
        osp__buf_append(b, host->data, host->len);
    }
    osp__buf_putc(b, '}');
    return true;
}

/* The record of "<name>-start|-stop" for the point at stack level `level`
 * (1-based; its parent is level-1, 0 being the profiler's parent). */
static void emit(osp_profiler_t *p, const char *name, bool stop, size_t level,
                 const json_t *info, size_t depth_after) {
    if (osp__settings.kind == OSP_NOTIFIER_NONE)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    osp_rec_t r = {.stop = stop,
                   .timestamp_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
                   .trace_id = p->points[level - 1].uuid,
                   .base_id = p->base_rec,
                   .project = osp__settings.project,
                   .project_len = osp__settings.project_len,
                   .service = osp__settings.service,
                   .service_len = osp__settings.service_len,
                   .name = name,
                   .name_len = strlen(name)};
    if (level >= 2)
        r.parent_id = (osp_rec_id_t){.uuid = p->points[level - 2].uuid};
    else
        r.parent_id = p->parent_rec;
    bool request_end = depth_after == 0;
    /* What a record cannot carry (u16 lengths, common/hop.h): counted. */
    if (r.name_len > OSP_HOP_MAX_FIELD || p->ids_too_long ||
        r.project_len > OSP_HOP_MAX_FIELD || r.service_len > OSP_HOP_MAX_FIELD) {
        osp__emit_dropped(OSP_DROP_OVERSIZE,
                          r.name_len > OSP_HOP_MAX_FIELD ? "its name is over 65535 bytes"
                          : p->ids_too_long
                              ? "its base_id or parent_id is over 65535 bytes"
                              : "project or service is over 65535 bytes",
                          request_end);
        return;
    }
    if (json_object_size(info)) {
        info_text.len = 0;
        bool within = put_info(&info_text, info);
        if (info_text.failed) {
            info_text.failed = false;
            osp__emit_dropped(OSP_DROP_NOMEM, NULL, request_end);
            return;
        }
        if (!within) {
            osp__emit_dropped(OSP_DROP_OVERSIZE,
                              "its info is nested over 999 levels (the payload over "
                              "1000, Python's recursion limit)",
                              request_end);
            return;
        }
        r.info = info_text.data;
        r.info_len = info_text.len;
    } else {
        r.info = osp__settings.info_host.data; /* {"host": ...}, made once */
        r.info_len = osp__settings.info_host.len;
    }
    osp__emit(&r, request_end);
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
    int rc = osp__uuid4_raw(pt->uuid);
    if (rc) {
        p->names.len = name_off;
        return rc;
    }
    pt->id_ready = false;
    pt->name_off = name_off;
    p->depth++;
    /* trace_id = the new top, parent_id = the previous top */
    emit(p, name, false, p->depth, info, p->depth);
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
    emit(p, name, true, p->depth, info, p->depth - 1);
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

/* Copy s into a context field; false when it does not fit. */
static bool put_field(char out[OSP_ID_MAX], const char *s) {
    size_t n = strlen(s);
    if (n >= OSP_ID_MAX)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

int osp_context_capture(osp_context_t *out) {
    osp_profiler_t *p = current;
    if (!out)
        return OSP_EINVAL;
    memset(out, 0, sizeof *out);
    if (!p)
        return OSP_ENOTRACE;
    /* A cut id would continue another trace: refuse instead. */
    if (!put_field(out->base_id, p->base_id) ||
        !put_field(out->parent_id, osp_profiler_id(p)) ||
        (p->hmac_key && !put_field(out->hmac_key, p->hmac_key))) {
        memset(out, 0, sizeof *out);
        return OSP_ETOOBIG;
    }
    return OSP_OK;
}

osp_profiler_t *osp_context_attach(const osp_context_t *ctx) {
    if (!ctx)
        return NULL;
    return osp_init(ctx->hmac_key[0] ? ctx->hmac_key : NULL, ctx->base_id,
                    ctx->parent_id);
}

int osp_context_setenv(const osp_context_t *ctx) {
    if (!ctx || !id_ok(ctx->base_id) || !memchr(ctx->base_id, 0, OSP_ID_MAX) ||
        !memchr(ctx->parent_id, 0, OSP_ID_MAX) || !memchr(ctx->hmac_key, 0, OSP_ID_MAX))
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
    if (!put_field(out->base_id, base) ||
        !put_field(out->parent_id, id_ok(parent) ? parent : base) ||
        (key && !put_field(out->hmac_key, key))) {
        memset(out, 0, sizeof *out);
        return OSP_ETOOBIG;
    }
    return OSP_OK;
}
