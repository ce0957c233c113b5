/* SPDX-License-Identifier: Apache-2.0 */
/* collector - consume profiler notifications from the collector's own
 * durable queue into the store (`collect = true`). */
#ifndef OSP_SIDECAR_COLLECTOR_H
#define OSP_SIDECAR_COLLECTOR_H

#include "config.h"

typedef struct osp_collector osp_collector_t;

/* Starts the thread, which connects to the broker and consumes only while
 * cfg->store is open for writing. A store url that is not valid is fatal
 * (in err); a store that cannot be opened now is retried by the thread. */
int osp_collector_start(osp_collector_t **out, const osp_sc_config_t *cfg,
                        osp_error_t *err);
/* Commit and acknowledge what was received, then stop. */
void osp_collector_stop(osp_collector_t *c);

#endif
