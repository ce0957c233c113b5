/* SPDX-License-Identifier: Apache-2.0 */
/* notify - the AMQP body of an oslo.messaging notification for one point,
 * and the way back (the collector). */
#ifndef OSP_SIDECAR_NOTIFY_H
#define OSP_SIDECAR_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "queue.h"

/* Format 1.0 (driver "messaging", as osprofiler sends) or, with v2, the
 * {"oslo.version": "2.0", "oslo.message": "..."} envelope of messagingv2.
 * unique_id: uuid4 hex, new for every AMQP message. The payload's NaN and
 * infinities are written as null (point.h). */
void osp_notify_body(osp_buf_t *out, const osp_msg_t *m, const char *unique_id, bool v2);

/* A received body, format 1.0 or the 2.0 envelope: its payload (a new
 * reference) when it is a profiler notification (event_type "profiler.*",
 * payload an object), else NULL. NaN and infinities in it are null. */
json_t *osp_notify_payload(const void *body, size_t len);

#endif
