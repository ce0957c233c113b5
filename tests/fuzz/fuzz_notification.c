/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_notification - a body the collector consumes from the broker: the
 * payload found in it, then what the store would be given, which is strict
 * JSON (NaN and infinities in the body are null: point.h). */
#include <stdint.h>
#include <stdlib.h>

#include "common/point.h"
#include "common/pyjson.h"
#include "sidecar/notify.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *payload = osp_notify_payload(data, size);
    if (!payload)
        return 0;
    osp_buf_t text = OSP_BUF_INIT;
    osp__pyjson_value(&text, payload, -1, 0);
    if (osp__json_nonfinite_find(text.data ? text.data : "", text.len) != text.len)
        abort();
    osp_store_msg_t m;
    if (osp_store_msg_from_json(payload, text.data, text.len, &m) &&
        (!m.base_id || !m.trace_id || !m.name || !m.timestamp))
        abort();
    osp__buf_free(&text);
    json_decref(payload);
    return 0;
}
