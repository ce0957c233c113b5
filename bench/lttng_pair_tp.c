/* SPDX-License-Identifier: Apache-2.0 */
/* The tracepoint provider of lttng_pair_tp.h, linked into osp_load_lttng. */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "lttng_pair_tp.h"
