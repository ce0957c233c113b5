/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace_ctx - whether a decoded X-Trace-Info (what osp_signed_unpack
 * returns) is a context a service continues. One function, so that
 * osp_web_begin and `osprofiler header verify` can never disagree.
 */
#ifndef OSP_COMMON_TRACE_CTX_H
#define OSP_COMMON_TRACE_CTX_H

#include <jansson.h>

#include <osprofiler/osprofiler.h>

/* Longest id a context may carry: what osp_context_t holds (OSP_ID_MAX
 * with its NUL), so a traced request can always be followed into other
 * threads. */
#define OSP_TRACE_CTX_ID_MAX (OSP_ID_MAX - 1)

/* WsgiMiddleware's rule (base_id present, parent_id the only other key;
 * hmac_key, which osp_signed_unpack adds, is skipped) plus ours: both ids
 * non-empty strings without NUL, at most OSP_TRACE_CTX_ID_MAX bytes.
 * Returns OSP_OK, or OSP_EBADKEYS with the reason in err (no id text: an
 * id is outside data). */
int osp__trace_ctx_check(const json_t *ctx, osp_error_t *err);

#endif
