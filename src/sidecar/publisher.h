/* SPDX-License-Identifier: Apache-2.0 */
/* publisher - the thread that owns the AMQP connection (rabbitmq-c). */
#ifndef OSP_SIDECAR_PUBLISHER_H
#define OSP_SIDECAR_PUBLISHER_H

#include <stdbool.h>

#include "config.h"
#include "flow.h"

typedef struct osp_publisher osp_publisher_t;

/* Starts the thread; connecting happens there (a broker that is down does not
 * stop the sidecar from starting). */
int osp_publisher_start(osp_publisher_t **out, const osp_sc_config_t *cfg,
                        osp_flow_t *flow);
/* Stop: publish what can be confirmed within grace seconds; unconfirmed
 * points go back to the flow (the caller spills what is left). */
void osp_publisher_stop(osp_publisher_t *p, double grace);
/* Stop at once for a reload: unconfirmed points go back to the flow, for
 * the next publisher. */
void osp_publisher_restart_stop(osp_publisher_t *p);
/* "host:port" of the current broker, or "" (for stats). */
void osp_publisher_current(osp_publisher_t *p, char *out, size_t len);

#endif
