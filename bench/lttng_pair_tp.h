/* SPDX-License-Identifier: Apache-2.0 */
/* The LTTng-UST tracepoint the benchmark anchors on: one event carrying what
 * an osprofiler point carries (name, its id and its parent's, the info
 * text), so a start/stop pair of them is the physical limit to compare the
 * library's pair with. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER osp_load

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./lttng_pair_tp.h"

#if !defined(OSP_LTTNG_PAIR_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define OSP_LTTNG_PAIR_TP_H

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(
    osp_load, point,
    LTTNG_UST_TP_ARGS(const char *, name, const char *, trace_id, const char *, parent_id,
                      const char *, info),
    LTTNG_UST_TP_FIELDS(lttng_ust_field_string(name, name)
                            lttng_ust_field_string(trace_id, trace_id)
                                lttng_ust_field_string(parent_id, parent_id)
                                    lttng_ust_field_string(info, info)))

#endif

#include <lttng/tracepoint-event.h>
