/* SPDX-License-Identifier: Apache-2.0 */
/* control - <listen_socket>.ctl: answers each connection with the counters
 * (what "osprofiler-sidecar --stats" prints). */
#ifndef OSP_SIDECAR_CONTROL_H
#define OSP_SIDECAR_CONTROL_H

#include <stddef.h>

#include "config.h"
#include "stats.h"

typedef struct osp_control osp_control_t;

/* Bind <listen_socket>.ctl (same mode and group). NULL when it cannot be
 * made: logged, the sidecar runs without --stats. */
osp_control_t *osp_control_open(const osp_sc_config_t *cfg);
int osp_control_fd(const osp_control_t *c);
/* Serve the connections waiting; buffers, connections, rings: the state
 * the counters show. */
void osp_control_serve(osp_control_t *c, const osp_sc_buffers_t *b, size_t connections,
                       size_t rings);
void osp_control_close(osp_control_t *c);

#endif
