/* SPDX-License-Identifier: Apache-2.0 */
/* intake - receives trace points: the hop socket and the shared rings. */
#ifndef OSP_SIDECAR_INTAKE_H
#define OSP_SIDECAR_INTAKE_H

#include "config.h"
#include "flow.h"

typedef struct osp_intake osp_intake_t;

/* Bind the listener (never unlinking a path that is not a socket). */
int osp_intake_open(osp_intake_t **out, const osp_sc_config_t *cfg, osp_flow_t *flow,
                    osp_error_t *err);
/* Serve until a byte arrives on stop_fd (a signalfd or pipe the caller reads
 * afterwards). Returns when stop_fd is readable. */
void osp_intake_run(osp_intake_t *in, int stop_fd);
/* Log the counters every `seconds` from the loop (0: never). */
void osp_intake_set_stats_interval(osp_intake_t *in, double seconds);
/* Take what the sockets and orphaned rings still hold, close everything,
 * unlink the socket. */
void osp_intake_close(osp_intake_t *in);

#endif
