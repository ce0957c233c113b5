/* SPDX-License-Identifier: Apache-2.0 */
/* store - picks the back end by the connection string's scheme. */
#include "store_impl.h"

#include <string.h>

#include "common/errors.h"
#include "common/point.h"

static const osp_store_ops_t *const backends[] = {&osp_store_sqlite_ops,
                                                  &osp_store_redis_ops};

int osp_store_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    const char *sep = url ? strstr(url, "://") : NULL;
    if (sep)
        for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
            if (strlen(backends[i]->scheme) == (size_t)(sep - url) &&
                memcmp(url, backends[i]->scheme, (size_t)(sep - url)) == 0)
                return backends[i]->open(url, flags, out, err);
    return osp__error_set(err, OSP_EINVAL, "store", 0,
                          "unsupported connection string (expected sqlite:///PATH or "
                          "redis://[:PASSWORD@]HOST[:PORT][/DB])");
}

int osp_store_put(osp_store_t *s, const osp_store_msg_t *msgs, size_t n,
                  osp_error_t *err) {
    return n ? s->ops->put(s, msgs, n, err) : OSP_OK;
}

int osp_store_get(osp_store_t *s, const char *base_id, osp_store_msg_cb cb, void *ud,
                  osp_error_t *err) {
    return s->ops->get(s, base_id, cb, ud, err);
}

int osp_store_list(osp_store_t *s, bool error_only, osp_store_trace_cb cb, void *ud,
                   osp_error_t *err) {
    return s->ops->list(s, error_only, cb, ud, err);
}

int osp_store_count(osp_store_t *s, size_t *traces, osp_error_t *err) {
    return s->ops->count(s, traces, err);
}

const char *osp_store_name(const osp_store_t *s) { return s->name; }

void osp_store_close(osp_store_t *s) {
    if (s)
        s->ops->close(s);
}

bool osp_store_msg_from_json(const json_t *payload, const char *json, size_t len,
                             osp_store_msg_t *m) {
#define STR(o, k) json_string_value(json_object_get((o), (k)))
    json_t *info = json_object_get(payload, "info");
    json_t *etype = json_object_get(info, "etype");
    *m = (osp_store_msg_t){
        .json = json,
        .len = len,
        .base_id = STR(payload, "base_id"),
        .trace_id = STR(payload, "trace_id"),
        .parent_id = STR(payload, "parent_id"),
        .name = STR(payload, "name"),
        .timestamp = STR(payload, "timestamp"),
        .project = STR(payload, "project"),
        .service = STR(payload, "service"),
        .host = STR(info, "host"),
        .error =
            etype && !json_is_null(etype), /* Python: info.get("etype") is not None */
    };
#undef STR
    return m->base_id && m->trace_id && m->name && m->timestamp;
}

/* Append a decoded string and its NUL; returns its offset, or -1. */
static ptrdiff_t put_jstr(osp_buf_t *b, const osp_jstr_t *js) {
    size_t off = b->len;
    if (!osp__buf_reserve(b, js->len + 1))
        return -1;
    b->len += osp__jstr_decode(js, b->data + off, js->len + 1) + 1;
    return (ptrdiff_t)off;
}

/* A member's value text as a string: its decoded offset, or -1 when absent
 * or not a string (the columns then hold NULL). */
static ptrdiff_t put_span(osp_buf_t *b, const osp_jspan_t *v) {
    if (!v->text || v->len < 2 || v->text[0] != '"')
        return -1;
    osp_jstr_t js = {v->text + 1, v->len - 2, memchr(v->text, '\\', v->len) != NULL};
    return put_jstr(b, &js);
}

int osp_store_msg_from_text(const char *json, size_t len, osp_store_msg_t *m,
                            osp_buf_t *strings, osp_error_t *err) {
    osp_point_view_t v;
    if (osp__point_scan(json, len, &v, err) != OSP_OK)
        return OSP_EFRAME;
    static const char *const top_keys[] = {"project", "info"};
    static const char *const info_keys[] = {"host", "etype"};
    osp_jspan_t top[2], info[2] = {{NULL, 0}, {NULL, 0}};
    osp__json_members(json, len, top_keys, 2, top);
    if (top[1].text)
        osp__json_members(top[1].text, top[1].len, info_keys, 2, info);
    strings->len = 0;
    strings->failed = false;
    ptrdiff_t off[8] = {
        put_jstr(strings, &v.base_id),
        put_jstr(strings, &v.trace_id),
        put_jstr(strings, &v.parent_id),
        put_jstr(strings, &v.name),
        put_jstr(strings, &v.timestamp),
        put_span(strings, &top[0]),
        v.service.raw ? put_jstr(strings, &v.service) : -1,
        put_span(strings, &info[0]),
    };
    if (strings->failed)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
#define AT(i) (off[i] < 0 ? NULL : strings->data + off[i])
    *m = (osp_store_msg_t){
        .json = json,
        .len = len,
        .base_id = AT(0),
        .trace_id = AT(1),
        .parent_id = AT(2),
        .name = AT(3),
        .timestamp = AT(4),
        .project = AT(5),
        .service = AT(6),
        .host = AT(7),
        /* Python: info.get("etype") is not None */
        .error =
            info[1].text && !(info[1].len == 4 && memcmp(info[1].text, "null", 4) == 0),
    };
#undef AT
    return OSP_OK;
}
