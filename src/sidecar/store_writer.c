/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_writer - buffered points -> store, a batch per transaction.
 *
 * A batch is whatever waits, up to BATCH points: under load each commit
 * (one fsync with synchronous=FULL) carries thousands of points, at a
 * trickle a point is committed at once. The fields a store indexes come
 * decoded with each message (entry.c): no JSON is read here. When a commit fails the
 * batch goes back to the front, the flow is told the store is down (new points go to the
 * spool meanwhile) and the commit is retried with backoff.
 */
#include "store_writer.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "log.h"
#include "stats.h"
#include "store/store.h"

#define BATCH 4096

struct osp_store_writer {
    const osp_sc_config_t *cfg;
    osp_flow_t *flow;
    osp_store_t *store;
    pthread_t thread;
    atomic_bool stop;
    double deadline;
    osp_store_msg_t msgs[BATCH];
};

/* Commit a batch. false (batch kept) when the store refused it. */
static bool commit(osp_store_writer_t *w, osp_msg_t *list) {
    size_t n = 0;
    for (osp_msg_t *m = list; m; m = m->next)
        w->msgs[n++] = (osp_store_msg_t){.json = m->payload,
                                         .len = m->len,
                                         .base_id = m->base_id,
                                         .trace_id = m->trace_id,
                                         .name = m->name,
                                         .timestamp = m->point_timestamp,
                                         .error = m->error};
    osp_error_t err;
    int rc = osp_store_put(w->store, w->msgs, n, &err);
    if (rc != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "store", "%s; retrying", err.text);
        return false;
    }
    OSP_STAT_ADD(stored, n);
    OSP_STAT_ADD(store_commits, 1);
    return true;
}

static void *run(void *arg) {
    osp_store_writer_t *w = arg;
    double backoff = w->cfg->retry_interval;
    for (;;) {
        if (atomic_load(&w->stop) &&
            (osp_sc_mono() >= w->deadline || osp_flow_waiting(w->flow) == 0))
            break;
        osp_msg_t *batch = osp_flow_pop(w->flow, BATCH, 100);
        if (!batch)
            continue;
        if (commit(w, batch)) {
            osp_flow_delivered_list(w->flow, batch);
            if (!osp_flow_sink_up(w->flow))
                OSP_LOG(OSP_LL_NOTICE, "store", "committing again");
            osp_flow_sink(w->flow, true);
            backoff = w->cfg->retry_interval;
            continue;
        }
        osp_flow_return(w->flow, batch);
        osp_flow_sink(w->flow, false); /* new points to the spool meanwhile */
        double until = osp_sc_mono() + backoff;
        while (osp_sc_mono() < until &&
               !(atomic_load(&w->stop) && osp_sc_mono() >= w->deadline))
            usleep(50000);
        backoff = fmin(backoff * w->cfg->retry_backoff, w->cfg->interval_max);
    }
    return NULL;
}

int osp_store_writer_start(osp_store_writer_t **out, const osp_sc_config_t *cfg,
                           osp_flow_t *flow, osp_error_t *err) {
    osp_store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return OSP_ENOMEM;
    w->cfg = cfg;
    w->flow = flow;
    int rc = osp_store_open(cfg->store,
                            OSP_STORE_WRITE |
                                (cfg->filter_error_trace ? OSP_STORE_ERROR_INDEX : 0),
                            &w->store, err);
    if (rc == OSP_OK && pthread_create(&w->thread, NULL, run, w) != 0)
        rc = OSP_ENOMEM;
    if (rc != OSP_OK) {
        osp_store_close(w->store);
        free(w);
        return rc;
    }
    atomic_store(&osp_sc_stats.connected, true);
    *out = w;
    return OSP_OK;
}

void osp_store_writer_stop(osp_store_writer_t *w, double grace) {
    w->deadline = osp_sc_mono() + grace;
    atomic_store(&w->stop, true);
    osp_flow_close(w->flow);
    pthread_join(w->thread, NULL);
    osp_store_close(w->store);
    free(w);
}
