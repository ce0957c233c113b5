/* SPDX-License-Identifier: Apache-2.0 */
/* metrics - the counters in the Prometheus text format (0.0.4) on GET
 * /metrics, served by libmicrohttpd on metrics_listen (docs/design.md,
 * "Metrics endpoint"). */
#ifndef OSP_SIDECAR_METRICS_H
#define OSP_SIDECAR_METRICS_H

#include <stddef.h>
#include <sys/socket.h>

#include <osprofiler/osprofiler.h>

#include "flow.h"
#include "stats.h"

typedef struct osp_metrics osp_metrics_t;

/* "127.0.0.1:9464", "[::1]:9464" or ":9464" (every address, IPv6 and
 * IPv4) -> a socket address. An ECONFIG error saying what is wrong. */
int osp_metrics_parse_listen(const char *text, struct sockaddr_storage *out,
                             socklen_t *len, osp_error_t *err);

/* Bind and listen on text, then serve from libmicrohttpd's own thread,
 * reading the counters and flow's buffers (thread-safe). An error names the
 * address and why (the port in use...). */
int osp_metrics_start(osp_metrics_t **out, const char *text, osp_flow_t *flow,
                      osp_error_t *err);
/* Closes the socket, waits for the thread. NULL is fine. */
void osp_metrics_stop(osp_metrics_t *m);

/* The exposition itself (with the trailing '\n'): b may be NULL (no buffers
 * to report). Returns its length, or 0 if out was too small. */
size_t osp_metrics_render(char *out, size_t len, const osp_sc_buffers_t *b);

#endif
