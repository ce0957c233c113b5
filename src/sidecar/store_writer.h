/* SPDX-License-Identifier: Apache-2.0 */
/* store_writer - with no broker configured, the thread that commits
 * buffered points straight into the store (zero-setup single machine). */
#ifndef OSP_SIDECAR_STORE_WRITER_H
#define OSP_SIDECAR_STORE_WRITER_H

#include "config.h"
#include "flow.h"

typedef struct osp_store_writer osp_store_writer_t;

/* Opens cfg->store for writing (an error there is fatal: reported in err)
 * and starts the thread. */
int osp_store_writer_start(osp_store_writer_t **out, const osp_sc_config_t *cfg,
                           osp_flow_t *flow, osp_error_t *err);
/* Commit what waits within grace seconds, then stop (the caller spills what
 * is left). */
void osp_store_writer_stop(osp_store_writer_t *w, double grace);

#endif
