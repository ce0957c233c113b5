/* SPDX-License-Identifier: Apache-2.0 */
/* store_writer - with no broker configured, the thread that commits
 * buffered points straight into the store (zero-setup single machine). */
#ifndef OSP_SIDECAR_STORE_WRITER_H
#define OSP_SIDECAR_STORE_WRITER_H

#include <stdint.h>

#include "config.h"
#include "flow.h"
#include "store/store.h"

typedef struct osp_store_writer osp_store_writer_t;

/* Opens cfg->store for writing (an error there is fatal: reported in err)
 * and starts the thread. */
int osp_store_writer_start(osp_store_writer_t **out, const osp_sc_config_t *cfg,
                           osp_flow_t *flow, osp_error_t *err);
/* Commit what waits within grace seconds, then stop (the caller spills what
 * is left). */
void osp_store_writer_stop(osp_store_writer_t *w, double grace);

/* Seconds between two log lines about messages a store refused. */
#define OSP_STORE_REFUSED_LOG_INTERVAL 10.0

/* What the last commit of a store refused (osp_store_rejected): counted as
 * dropped "store" in --stats, and logged with the store's reason at most
 * once per OSP_STORE_REFUSED_LOG_INTERVAL (a sender can make every point of
 * a trace fail; one line per point would let it flood the log), the line
 * giving how many since the previous one. Returns how many. One log state
 * per thread that commits. */
typedef struct osp_refused_log {
    double last;    /* when the last line went out (monotonic), 0: never */
    uint64_t since; /* refused since then, not logged yet */
} osp_refused_log_t;
size_t osp_store_writer_refused(osp_store_t *s, osp_refused_log_t *l, const char *comp);

#endif
