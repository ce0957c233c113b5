/* SPDX-License-Identifier: Apache-2.0 */
/* publisher - the thread that owns the AMQP connection (rabbitmq-c). */
#ifndef OSP_SIDECAR_PUBLISHER_H
#define OSP_SIDECAR_PUBLISHER_H

#include <stdbool.h>

#include "config.h"
#include "queue.h"

typedef struct osp_publisher osp_publisher_t;

/* Starts the thread; connecting happens there (a broker that is down does not
 * stop the sidecar from starting). */
int osp_publisher_start(osp_publisher_t **out, const osp_sc_config_t *cfg,
                        osp_queue_t *q);
/* Stop: publish what can be confirmed within grace seconds, then return the
 * number of points left unpublished. */
size_t osp_publisher_stop(osp_publisher_t *p, double grace);
/* "host:port" of the current broker, or "" (for stats). */
void osp_publisher_current(osp_publisher_t *p, char *out, size_t len);

#endif
