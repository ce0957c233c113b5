/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace_ctx - the acceptance rule for an incoming trace context.
 *
 * Python's middleware takes any JSON value of any size as an id; we take
 * only what a consumer can use and what osp_context_t can carry
 * (docs/design.md, "Headers: reasons instead of silence"). Pure function,
 * any thread.
 */
#include "trace_ctx.h"

#include <string.h>

#include "errors.h"

int osp__trace_ctx_check(const json_t *ctx, osp_error_t *err) {
    const char *key;
    json_t *v;
    bool has_base = false;
    if (!json_is_object(ctx))
        return osp__error_set(err, OSP_EBADKEYS, "trace context", 0, "not an object");
    json_object_foreach((json_t *)ctx, key, v) {
        if (strcmp(key, "hmac_key") == 0)
            continue;
        if (strcmp(key, "base_id") != 0 && strcmp(key, "parent_id") != 0)
            return osp__error_set(err, OSP_EBADKEYS, "trace context", 0,
                                  "unexpected key (only base_id and parent_id)");
        const char *why = NULL;
        if (!json_is_string(v))
            why = "is not a string";
        else if (json_string_length(v) == 0)
            why = "is empty";
        else if (strlen(json_string_value(v)) != json_string_length(v))
            why = "holds a NUL byte";
        else if (json_string_length(v) > OSP_TRACE_CTX_ID_MAX)
            return osp__error_set(err, OSP_EBADKEYS, "trace context", 0,
                                  "%s is longer than %d bytes", key,
                                  OSP_TRACE_CTX_ID_MAX);
        if (why)
            return osp__error_set(err, OSP_EBADKEYS, "trace context", 0, "%s %s", key,
                                  why);
        has_base |= strcmp(key, "base_id") == 0;
    }
    if (!has_base)
        return osp__error_set(err, OSP_EBADKEYS, "trace context", 0, "no base_id");
    return OSP_OK;
}
