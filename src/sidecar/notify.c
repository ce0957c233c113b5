/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify - build the notification exactly as oslo.messaging's Notifier does
 * for osprofiler: keys message_id, publisher_id, event_type, priority,
 * payload, timestamp, _unique_id, in that order, serialised like json.dumps.
 * The payload is the sender's JSON text, inserted verbatim: libosprofiler
 * already wrote it byte-identical to Python, and re-serialising could only
 * change it. The one exception is the policy on non-finite numbers
 * (point.h): NaN, Infinity and -Infinity go out as null, so consumers that
 * read strict JSON (jansson, JSON.parse, SQLite) can read every point.
 */
#include "notify.h"

#include <string.h>

#include "common/point.h"
#include "common/pyjson.h"

static void body_v1(osp_buf_t *b, const osp_msg_t *m, const char *unique_id) {
    osp__buf_puts(b, "{\"message_id\": \"");
    osp__buf_puts(b, m->message_id);
    osp__buf_puts(b, "\", \"publisher_id\": ");
    osp__pyjson_string(b, m->publisher, strlen(m->publisher));
    osp__buf_puts(b, ", \"event_type\": ");
    osp__pyjson_string(b, m->event_type, strlen(m->event_type));
    osp__buf_puts(b, ", \"priority\": \"INFO\", \"payload\": ");
    osp__json_finite_append(b, m->payload, m->len);
    osp__buf_puts(b, ", \"timestamp\": \"");
    osp__buf_puts(b, m->timestamp);
    osp__buf_puts(b, "\", \"_unique_id\": \"");
    osp__buf_puts(b, unique_id);
    osp__buf_puts(b, "\"}");
}

void osp_notify_body(osp_buf_t *out, const osp_msg_t *m, const char *unique_id, bool v2) {
    if (!v2) {
        body_v1(out, m, unique_id);
        return;
    }
    osp_buf_t inner = OSP_BUF_INIT;
    body_v1(&inner, m, unique_id);
    osp__buf_puts(out, "{\"oslo.version\": \"2.0\", \"oslo.message\": ");
    osp__pyjson_string(out, inner.data ? inner.data : "", inner.len);
    osp__buf_putc(out, '}');
    if (inner.failed)
        out->failed = true;
    osp__buf_free(&inner);
}

/* Python services publish NaN and infinities as json.dumps writes them: read
 * as null (point.h), not refused. */
json_t *osp_notify_payload(const void *body, size_t len) {
    json_t *msg = osp__json_loadb_finite(body, len, 0, NULL);
    json_t *inner = json_object_get(msg, "oslo.message");
    if (json_is_string(inner)) {
        json_t *m = osp__json_loadb_finite(json_string_value(inner),
                                           json_string_length(inner), 0, NULL);
        json_decref(msg);
        msg = m;
    }
    const char *event = json_string_value(json_object_get(msg, "event_type"));
    json_t *payload = json_object_get(msg, "payload");
    if (!event || strncmp(event, "profiler.", 9) != 0 || !json_is_object(payload)) {
        json_decref(msg);
        return NULL;
    }
    json_incref(payload);
    json_decref(msg);
    return payload;
}
