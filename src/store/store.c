/* SPDX-License-Identifier: Apache-2.0 */
/* store - picks the back end by the connection string's scheme. */
#include "store_impl.h"

#include <string.h>

#include "common/errors.h"

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
