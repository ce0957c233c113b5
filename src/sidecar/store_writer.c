/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_writer - queue -> store, in batches of one transaction each.
 *
 * The store is a local file (or a Redis next door), so there is no disk
 * spool here: when a commit fails the batch goes back to the front of the
 * queue and is retried with backoff; the queue's memory_limit bounds what
 * waits, and the intake counts what it cannot take.
 */
#include "store_writer.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "stats.h"
#include "store/store.h"

#define BATCH 512

struct osp_store_writer {
    const osp_sc_config_t *cfg;
    osp_queue_t *q;
    osp_store_t *store;
    pthread_t thread;
    atomic_bool stop;
    double deadline;
    size_t left;
};

/* Commit a batch. false (batch kept) when the store refused it. */
static bool commit(osp_store_writer_t *w, osp_msg_t *batch) {
    osp_store_msg_t msgs[BATCH] = {0};
    json_t *parsed[BATCH];
    size_t n = 0;
    for (osp_msg_t *m = batch; m && n < BATCH; m = m->next) {
        /* the intake checked the text; jansson alone refuses NaN/Infinity */
        json_t *p = json_loadb(m->payload, m->len, JSON_ALLOW_NUL, NULL);
        if (!p || !osp_store_msg_from_json(p, m->payload, m->len, &msgs[n])) {
            json_decref(p);
            OSP_STAT_ADD(dropped_invalid, 1);
            continue;
        }
        parsed[n++] = p;
    }
    osp_error_t err;
    int rc = osp_store_put(w->store, msgs, n, &err);
    for (size_t i = 0; i < n; i++)
        json_decref(parsed[i]);
    if (rc != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "store", "%s; retrying", err.text);
        return false;
    }
    OSP_STAT_ADD(stored, n);
    return true;
}

static void free_list(osp_msg_t *m) {
    while (m) {
        osp_msg_t *n = m->next;
        osp_msg_free(m);
        m = n;
    }
}

static void *run(void *arg) {
    osp_store_writer_t *w = arg;
    double backoff = w->cfg->retry_interval;
    for (;;) {
        if (atomic_load(&w->stop) &&
            (osp_sc_mono() >= w->deadline || osp_queue_count(w->q) == 0))
            break;
        osp_msg_t *batch = osp_queue_pop(w->q, BATCH, 100);
        if (!batch)
            continue;
        if (commit(w, batch)) {
            free_list(batch);
            backoff = w->cfg->retry_interval;
            continue;
        }
        osp_queue_push_front(w->q, batch);
        double until = osp_sc_mono() + backoff;
        while (osp_sc_mono() < until &&
               !(atomic_load(&w->stop) && osp_sc_mono() >= w->deadline))
            usleep(50000);
        backoff = fmin(backoff * w->cfg->retry_backoff, w->cfg->interval_max);
    }
    osp_msg_t *rest = osp_queue_pop(w->q, SIZE_MAX, 0);
    for (osp_msg_t *m = rest; m; m = m->next)
        w->left++;
    free_list(rest);
    return NULL;
}

int osp_store_writer_start(osp_store_writer_t **out, const osp_sc_config_t *cfg,
                           osp_queue_t *q, osp_error_t *err) {
    osp_store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return OSP_ENOMEM;
    w->cfg = cfg;
    w->q = q;
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
    atomic_store(&osp_sc_stats.connected, true); /* the intake queues, never spools */
    *out = w;
    return OSP_OK;
}

size_t osp_store_writer_stop(osp_store_writer_t *w, double grace) {
    w->deadline = osp_sc_mono() + grace;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    size_t left = w->left;
    osp_store_close(w->store);
    free(w);
    return left;
}
