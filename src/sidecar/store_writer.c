/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_writer - buffered points -> store, a batch per transaction.
 *
 * A batch is whatever waits, up to about BATCH points (whole chunks): under
 * load each commit (one fsync with synchronous=FULL) carries thousands of
 * points, at a trickle a point is committed at once. The flow converts a
 * batch into one buffer (payloads and the fields a store indexes, nothing
 * allocated per point: malloc and free were a quarter of the work).
 *
 * Two threads, so that taking the next batch out of the flow (converting
 * each point to its payload) overlaps the commit of the previous one, which
 * mostly waits for the disk: measured, one thread doing both used 60 % of a
 * core and reached half of what SQLite alone commits. The preparing thread
 * is the flow's only consumer (take, settle) and has the store prepare
 * its rows; the committing thread only writes them. When a commit fails the batch goes
 * back to the front (with the one prepared behind it), the flow is told the store is down
 * (new points go to the spool meanwhile) and the commit is retried with backoff.
 * A point the store refuses on its own (osp_store_rejected: a Redis key of
 * the wrong type) is dropped, counted and logged, and the rest of its batch
 * stored: retrying it could never succeed and held back every point after it.
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

/* A batch, its store view, and what the store will write of it. */
struct batch {
    osp_flow_batch_t fb;
    size_t n, refused; /* refused: by the store in its commit (dropped) */
    osp_store_msg_t *view;
    size_t cap;
    osp_store_batch_t *sb;
};

struct osp_store_writer {
    const osp_sc_config_t *cfg;
    osp_flow_t *flow;
    osp_store_t *store;
    pthread_t prep_thread, commit_thread;
    atomic_bool stop;
    double deadline;
    /* handoff: the preparer puts a batch in `todo`, the committer commits it
     * and leaves the result in `done` */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    osp_refused_log_t refused_log; /* the committing thread's */
    struct batch *todo, *done;
    bool done_ok, quit;
    struct batch slots[2];
};

/* The store's view of b's points, and the rows it will write (prepared
 * here, off the committing thread). */
static bool view(osp_store_writer_t *w, struct batch *b) {
    const osp_flow_batch_t *fb = &b->fb;
    if (fb->n > b->cap) {
        osp_store_msg_t *grown = realloc(b->view, fb->n * sizeof *grown);
        if (!grown)
            return false;
        b->view = grown;
        b->cap = fb->n;
    }
    const char *t = fb->text.data;
    for (size_t i = 0; i < fb->n; i++) {
        const osp_entry_text_t *it = &fb->items[i];
        b->view[i] = (osp_store_msg_t){.json = t + it->payload,
                                       .len = it->len,
                                       .base_id = t + it->base_id,
                                       .trace_id = t + it->trace_id,
                                       .name = t + it->name,
                                       .timestamp = t + it->timestamp,
                                       .error = it->error};
    }
    b->n = fb->n;
    osp_error_t err;
    if (osp_store_prepare(w->store, b->sb, b->view, b->n, &err) != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "store", "%s", err.text);
        return false;
    }
    return true;
}

/* The committing thread: the store, nothing else. */
static void *commit_main(void *arg) {
    osp_store_writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->todo && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->todo)
            break;
        struct batch *b = w->todo;
        pthread_mutex_unlock(&w->mu);
        osp_error_t err;
        bool ok = osp_store_commit(w->store, b->sb, &err) == OSP_OK;
        b->refused = 0;
        if (ok) {
            b->refused = osp_store_writer_refused(w->store, &w->refused_log, "store");
            OSP_STAT_ADD(stored, b->n - b->refused);
            OSP_STAT_ADD(store_commits, 1);
        } else {
            OSP_LOG(OSP_LL_ERROR, "store", "%s; retrying", err.text);
        }
        pthread_mutex_lock(&w->mu);
        w->todo = NULL;
        w->done = b;
        w->done_ok = ok;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Wait for the batch in the committer's hands; settle it as delivered, or
 * put it back (then `next`, taken meanwhile, goes back before it, so it
 * ends up behind). Returns whether the store took it (true: none). */
static bool settle(osp_store_writer_t *w, struct batch *next) {
    pthread_mutex_lock(&w->mu);
    while (w->todo)
        pthread_cond_wait(&w->cv, &w->mu);
    struct batch *b = w->done;
    bool ok = w->done_ok;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    if (!b)
        return true;
    if (ok) {
        osp_flow_settle_batch(w->flow, &b->fb, true);
        /* the flow counted the whole batch delivered; the refused were
         * counted dropped instead (calls = delivered + drops holds) */
        atomic_fetch_sub_explicit(&osp_sc_stats.delivered, b->refused,
                                  memory_order_relaxed);
        if (!osp_flow_sink_up(w->flow))
            OSP_LOG(OSP_LL_NOTICE, "store", "committing again");
        osp_flow_sink(w->flow, true);
    } else {
        if (next)
            osp_flow_settle_batch(w->flow, &next->fb, false);
        osp_flow_settle_batch(w->flow, &b->fb, false);
        osp_flow_sink(w->flow, false); /* new points to the spool meanwhile */
    }
    return ok;
}

size_t osp_store_writer_refused(osp_store_t *s, osp_refused_log_t *l, const char *comp) {
    const char *why;
    size_t n = osp_store_rejected(s, &why);
    if (!n)
        return 0;
    OSP_STAT_ADD(dropped_store, n);
    l->since += n;
    double now = osp_sc_mono();
    if (l->last == 0 || now - l->last >= OSP_STORE_REFUSED_LOG_INTERVAL) {
        OSP_LOG(OSP_LL_WARN, comp,
                "dropped %llu point(s) the store refused (%s); the rest of the batch "
                "is stored",
                (unsigned long long)l->since, why);
        l->since = 0;
        l->last = now;
    }
    return n;
}

static void hand_over(osp_store_writer_t *w, struct batch *b) {
    pthread_mutex_lock(&w->mu);
    w->todo = b;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static bool stopping(osp_store_writer_t *w) {
    return atomic_load(&w->stop) &&
           (osp_sc_mono() >= w->deadline || osp_flow_waiting(w->flow) == 0);
}

/* The preparing thread: the flow's consumer. */
static void *prep_main(void *arg) {
    osp_store_writer_t *w = arg;
    double backoff = w->cfg->retry_interval;
    int k = 0;
    bool in_flight = false;
    while (!stopping(w)) {
        struct batch *b = &w->slots[k];
        bool got = osp_flow_take_batch(w->flow, &b->fb, BATCH, in_flight ? 0 : 100);
        if (got && !view(w, b)) {
            osp_flow_settle_batch(w->flow, &b->fb, false); /* no memory: later */
            got = false;
        }
        if (!in_flight && !got)
            continue;
        if (in_flight && !settle(w, got ? b : NULL)) {
            in_flight = false;
            double until = osp_sc_mono() + backoff;
            while (osp_sc_mono() < until &&
                   !(atomic_load(&w->stop) && osp_sc_mono() >= w->deadline))
                usleep(50000);
            backoff = fmin(backoff * w->cfg->retry_backoff, w->cfg->interval_max);
            continue;
        }
        if (in_flight)
            backoff = w->cfg->retry_interval;
        in_flight = got;
        if (got) {
            hand_over(w, b);
            k ^= 1; /* prepare into the other slot meanwhile */
        }
    }
    if (in_flight)
        settle(w, NULL);
    return NULL;
}

int osp_store_writer_start(osp_store_writer_t **out, const osp_sc_config_t *cfg,
                           osp_flow_t *flow, osp_error_t *err) {
    osp_store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return OSP_ENOMEM;
    w->cfg = cfg;
    w->flow = flow;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = osp_store_open(cfg->store,
                            OSP_STORE_WRITE |
                                (cfg->filter_error_trace ? OSP_STORE_ERROR_INDEX : 0),
                            &w->store, err);
    for (int i = 0; i < 2 && rc == OSP_OK; i++)
        if (!(w->slots[i].sb = osp_store_batch_new()))
            rc = OSP_ENOMEM;
    if (rc == OSP_OK && pthread_create(&w->commit_thread, NULL, commit_main, w) != 0)
        rc = OSP_ENOMEM;
    if (rc == OSP_OK && pthread_create(&w->prep_thread, NULL, prep_main, w) != 0) {
        w->quit = true;
        pthread_cond_broadcast(&w->cv);
        pthread_join(w->commit_thread, NULL);
        rc = OSP_ENOMEM;
    }
    if (rc != OSP_OK) {
        osp_store_close(w->store);
        for (int i = 0; i < 2; i++)
            osp_store_batch_free(w->slots[i].sb);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
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
    pthread_join(w->prep_thread, NULL);
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->commit_thread, NULL);
    osp_store_close(w->store);
    for (int i = 0; i < 2; i++) {
        osp_flow_batch_free(&w->slots[i].fb);
        free(w->slots[i].view);
        osp_store_batch_free(w->slots[i].sb);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
