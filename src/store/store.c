/* SPDX-License-Identifier: Apache-2.0 */
/* store - picks the back end by the connection string's scheme. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/point.h"

static const osp_store_ops_t *const backends[] = {
    &osp_store_sqlite_ops, &osp_store_redis_ops, &osp_store_pg_ops, &osp_store_mysql_ops};

static bool serves(const osp_store_ops_t *ops, const char *scheme, size_t len) {
    for (const char *const *s = ops->schemes; *s; s++)
        if (strlen(*s) == len && memcmp(scheme, *s, len) == 0)
            return true;
    return false;
}

int osp_store_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    const char *sep = url ? strstr(url, "://") : NULL;
    if (sep)
        for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
            if (serves(backends[i], url, (size_t)(sep - url)))
                return backends[i]->open(url, flags, out, err);
    return osp__error_set(err, OSP_EINVAL, "store", 0,
                          "unsupported connection string (expected sqlite:///PATH or "
                          "redis://[:PASSWORD@]HOST[:PORT][/DB] or "
                          "postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DB or "
                          "mysql+pymysql://[USER[:PASSWORD]@][HOST][:PORT]/DB)");
}

osp_store_batch_t *osp_store_batch_new(void) {
    return calloc(1, sizeof(osp_store_batch_t));
}

void osp_store_batch_free(osp_store_batch_t *b) {
    if (!b)
        return;
    osp__buf_free(&b->text);
    free(b->rows);
    free(b->scratch);
    free(b);
}

int osp_store_prepare(osp_store_t *s, osp_store_batch_t *b, const osp_store_msg_t *msgs,
                      size_t n, osp_error_t *err) {
    b->msgs = msgs;
    b->n = n;
    return s->ops->prepare && n ? s->ops->prepare(b, err) : OSP_OK;
}

int osp_store_commit(osp_store_t *s, osp_store_batch_t *b, osp_error_t *err) {
    s->rejected = 0;
    s->rejected_why[0] = '\0';
    if (!b->n)
        return OSP_OK;
    return s->ops->commit ? s->ops->commit(s, b, err)
                          : s->ops->put(s, b->msgs, b->n, err);
}

int osp_store_put(osp_store_t *s, const osp_store_msg_t *msgs, size_t n,
                  osp_error_t *err) {
    s->rejected = 0;
    s->rejected_why[0] = '\0';
    if (!n)
        return OSP_OK;
    if (!s->ops->prepare)
        return s->ops->put(s, msgs, n, err);
    osp_store_batch_t *b = osp_store_batch_new();
    if (!b)
        return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
    int rc = osp_store_prepare(s, b, msgs, n, err);
    if (rc == OSP_OK)
        rc = osp_store_commit(s, b, err);
    osp_store_batch_free(b);
    return rc;
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

int osp__store_batch_reset(osp_store_batch_t *b, size_t n, osp_error_t *err) {
    if (n > b->rows_cap) {
        osp_store_row_t *grown = realloc(b->rows, n * sizeof *grown);
        if (!grown)
            return osp__error_set(err, OSP_ENOMEM, "store", 0, "out of memory");
        b->rows = grown;
        b->rows_cap = n;
    }
    b->text.len = 0;
    b->text.failed = false;
    return OSP_OK;
}

int osp__store_emit(osp_store_msg_cb cb, const char *json, size_t len, void *ud) {
    if (osp__json_nonfinite_find(json, len) == len)
        return cb(json, len, ud);
    osp_buf_t b = OSP_BUF_INIT;
    osp__json_finite_append(&b, json, len);
    int rc = b.failed ? OSP_ENOMEM : cb(b.data, b.len, ud);
    osp__buf_free(&b);
    return rc;
}

size_t osp_store_rejected(const osp_store_t *s, const char **why) {
    if (why)
        *why = s->rejected_why;
    return s->rejected;
}

const char *osp_store_name(const osp_store_t *s) { return s->name; }

bool osp_store_rows(const osp_store_t *s) { return s->ops->rows; }

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
