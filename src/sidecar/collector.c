/* SPDX-License-Identifier: Apache-2.0 */
/*
 * collector - the retrieval side: profiler.info -> store.
 *
 * Python's `trace show --connection-string messaging://` drains the shared
 * profiler.info queue and throws away other traces' messages, which
 * ceilometer then never sees. The collector instead binds its own durable
 * queue (collector_queue) to the same routing keys (<topic>.info) on
 * control_exchange, so every consumer keeps getting every message.
 *
 * At least once, stored once: deliveries are acknowledged (multiple=1) only
 * after the store committed them; a crash before that means redelivery,
 * and the store skips what it already holds (base_id, trace_id, name).
 *
 * No store, no consuming: while the store cannot be opened (Redis down, a
 * database that cannot be created) or after a commit failed, the collector
 * holds no broker connection and takes nothing; what it had not
 * acknowledged goes back to its queue. It declares and binds that queue
 * first, even then, so messages published meanwhile wait in it. It reopens
 * the store (a failed Redis handle stays failed) with backoff
 * (rabbit_retry_interval, rabbit_retry_backoff, rabbit_interval_max) and
 * consumes again once it is open. --stats shows the state, since when and
 * why (osp_sc_stats_collector).
 */
#include "collector.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amqp_conn.h"
#include "clock.h"
#include "common/pyjson.h"
#include "common/transport_url.h"
#include "log.h"
#include "notify.h"
#include "stats.h"
#include "store/store.h"
#include "store_writer.h"

#define CHANNEL 1
#define BATCH   256

struct entry {
    json_t *payload;
    osp_buf_t text;
};

struct osp_collector {
    const osp_sc_config_t *cfg;
    osp_transport_url_t url;
    osp_store_t *store;                   /* NULL while it cannot be opened */
    double store_backoff, store_retry_at; /* monotonic seconds */
    bool queue_declared;                  /* the queue exists: messages wait in it */
    osp_refused_log_t refused_log;
    pthread_t thread;
    atomic_bool stop;
    amqp_connection_state_t conn;
    size_t host;
    struct entry batch[BATCH];
    size_t n;
    uint64_t last_tag; /* newest delivery not yet acknowledged, 0: none */
};

static void clear_batch(osp_collector_t *c) {
    for (size_t i = 0; i < c->n; i++) {
        json_decref(c->batch[i].payload);
        osp__buf_free(&c->batch[i].text);
    }
    c->n = 0;
    c->last_tag = 0;
}

static void disconnect(osp_collector_t *c) {
    clear_batch(c); /* unacknowledged: the broker delivers them again */
    if (!c->conn)
        return;
    amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c->conn);
    c->conn = NULL;
}

/* Exchange as oslo declares it, the collector's queue durable, bound to
 * every <topic>.info; then, when consume, consume with a prefetch of two
 * batches. */
static bool subscribe(osp_collector_t *c, bool consume, char *why, size_t len) {
    const osp_sc_config_t *cfg = c->cfg;
    bool durable = cfg->amqp_durable_queues || cfg->rabbit_quorum_queue;
    amqp_bytes_t ex = amqp_cstring_bytes(cfg->control_exchange);
    amqp_bytes_t queue = amqp_cstring_bytes(cfg->collector_queue);
    amqp_exchange_declare(c->conn, CHANNEL, ex, amqp_cstring_bytes("topic"), 0, durable,
                          cfg->amqp_auto_delete, 0, amqp_empty_table);
    if (!osp_amqp_reply_ok(amqp_get_rpc_reply(c->conn), "exchange.declare", why, len))
        return false;
    /* a quorum queue when the cluster's queues are: a classic queue lives
     * on one node, and what is routed to it while that node is down is lost */
    amqp_table_entry_t e[2];
    amqp_queue_declare(c->conn, CHANNEL, queue, 0, 1, 0, 0,
                       osp_amqp_queue_arguments(cfg, e));
    if (!osp_amqp_reply_ok(amqp_get_rpc_reply(c->conn), "queue.declare (collector_queue)",
                           why, len))
        return false;
    for (size_t i = 0; i < cfg->ntopics; i++) {
        char rk[300];
        snprintf(rk, sizeof rk, "%s.info", cfg->topics[i]);
        amqp_queue_bind(c->conn, CHANNEL, queue, ex, amqp_cstring_bytes(rk),
                        amqp_empty_table);
        if (!osp_amqp_reply_ok(amqp_get_rpc_reply(c->conn), "queue.bind", why, len))
            return false;
    }
    c->queue_declared = true;
    if (!consume)
        return true;
    amqp_basic_qos(c->conn, CHANNEL, 0, 2 * BATCH, 0);
    if (!osp_amqp_reply_ok(amqp_get_rpc_reply(c->conn), "basic.qos", why, len))
        return false;
    amqp_basic_consume(c->conn, CHANNEL, queue, amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return osp_amqp_reply_ok(amqp_get_rpc_reply(c->conn), "basic.consume", why, len);
}

/* Connect to the first host that answers and subscribe; when !consume
 * only declare the queue and close again. */
static bool connect_any(osp_collector_t *c, bool consume) {
    for (size_t i = 0; i < c->url.nhosts; i++) {
        const osp_url_host_t *h = &c->url.hosts[(c->host + i) % c->url.nhosts];
        char why[300], reason[340];
        if (osp_amqp_open(c->cfg, &c->url, h, CHANNEL, &c->conn, why, sizeof why)) {
            if (subscribe(c, consume, why, sizeof why)) {
                c->host = (c->host + i) % c->url.nhosts;
                if (!consume) {
                    amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
                    amqp_destroy_connection(c->conn);
                    c->conn = NULL;
                    OSP_LOG(OSP_LL_NOTICE, "collector",
                            "declared %s on %s:%d; messages wait there for the store",
                            c->cfg->collector_queue, h->host, h->port);
                    return true;
                }
                osp_sc_stats_collector(true, NULL);
                OSP_LOG(OSP_LL_NOTICE, "collector", "consuming %s on %s:%d into %s",
                        c->cfg->collector_queue, h->host, h->port,
                        osp_store_name(c->store));
                return true;
            }
            amqp_destroy_connection(c->conn);
            c->conn = NULL;
        }
        OSP_LOG(OSP_LL_WARN, "collector", "%s:%d: %s", h->host, h->port, why);
        if (consume) {
            snprintf(reason, sizeof reason, "broker %s:%d: %s", h->host, h->port, why);
            osp_sc_stats_collector(false, reason);
        }
    }
    return false;
}

/* Sleep until t (monotonic), or stop. */
static void sleep_until(osp_collector_t *c, double t) {
    while (osp_sc_mono() < t && !atomic_load(&c->stop))
        usleep(50000);
}

/* The store failed (err): close it, so that the next attempt reopens it,
 * and leave the broker alone until then. */
static void store_down(osp_collector_t *c, const char *err) {
    char reason[320];
    snprintf(reason, sizeof reason, "store: %s", err);
    osp_sc_stats_collector(false, reason);
    OSP_LOG(OSP_LL_ERROR, "collector",
            "store: %s; retrying in %.1f s, messages wait in %s meanwhile", err,
            c->store_backoff, c->cfg->collector_queue);
    osp_store_close(c->store);
    c->store = NULL;
    c->store_retry_at = osp_sc_mono() + c->store_backoff;
    c->store_backoff =
        fmin(c->store_backoff * c->cfg->retry_backoff, c->cfg->interval_max);
}

static int store_flags(const osp_sc_config_t *cfg) {
    return OSP_STORE_WRITE | (cfg->filter_error_trace ? OSP_STORE_ERROR_INDEX : 0);
}

/* Open the store when it is time to try again; true when it is open. */
static bool store_up(osp_collector_t *c) {
    if (c->store)
        return true;
    if (osp_sc_mono() < c->store_retry_at)
        return false;
    osp_error_t err;
    if (osp_store_open(c->cfg->store, store_flags(c->cfg), &c->store, &err) != OSP_OK) {
        c->store = NULL;
        store_down(c, err.text);
        return false;
    }
    OSP_LOG(OSP_LL_NOTICE, "collector", "store %s is open", osp_store_name(c->store));
    c->store_backoff = c->cfg->retry_interval;
    return true;
}

static void take(osp_collector_t *c, const amqp_envelope_t *env) {
    c->last_tag = env->delivery_tag;
    if (env->redelivered) /* another consumer died or gave it back unacknowledged */
        OSP_STAT_ADD(collect_redelivered, 1);
    json_t *payload = osp_notify_payload(env->message.body.bytes, env->message.body.len);
    osp_store_msg_t check;
    if (!payload || !osp_store_msg_from_json(payload, "", 0, &check)) {
        json_decref(payload);
        OSP_STAT_ADD(collect_invalid, 1); /* acknowledged with the batch: dropped */
        OSP_LOG(OSP_LL_DEBUG, "collector", "a message on %s is not a trace point",
                c->cfg->collector_queue);
        return;
    }
    struct entry *e = &c->batch[c->n++];
    e->payload = payload;
    e->text = (osp_buf_t)OSP_BUF_INIT;
    osp__pyjson_value(&e->text, payload, -1, 0); /* as Python's drivers store it */
}

/* Commit the batch, then acknowledge everything up to last_tag. false when
 * the store (then closed) or the broker failed: disconnect. */
static bool flush(osp_collector_t *c) {
    if (!c->last_tag)
        return true;
    osp_store_msg_t msgs[BATCH] = {0};
    for (size_t i = 0; i < c->n; i++)
        osp_store_msg_from_json(c->batch[i].payload, c->batch[i].text.data,
                                c->batch[i].text.len, &msgs[i]);
    osp_error_t err;
    if (osp_store_put(c->store, msgs, c->n, &err) != OSP_OK) {
        store_down(c, err.text); /* the caller disconnects: the batch is redelivered */
        return false;
    }
    /* what the store refused one by one is acknowledged with the rest:
     * redelivered, it would be refused again */
    size_t refused = osp_store_writer_refused(c->store, &c->refused_log, "collector");
    if (amqp_basic_ack(c->conn, CHANNEL, c->last_tag, 1) != AMQP_STATUS_OK) {
        OSP_LOG(OSP_LL_WARN, "collector", "basic.ack failed; reconnecting");
        osp_sc_stats_collector(false, "broker: basic.ack failed; reconnecting");
        return false;
    }
    OSP_STAT_ADD(collected, c->n - refused);
    clear_batch(c);
    return true;
}

static void *run(void *arg) {
    osp_collector_t *c = arg;
    double backoff = c->cfg->retry_interval, declare_at = 0;
    while (!atomic_load(&c->stop)) {
        if (!c->conn && !store_up(c)) {
            /* the queue must exist for messages to wait in it */
            if (!c->queue_declared && osp_sc_mono() >= declare_at &&
                !connect_any(c, false))
                declare_at = c->store_retry_at;
            sleep_until(c, c->store_retry_at);
            continue;
        }
        if (!c->conn) {
            if (connect_any(c, true)) {
                backoff = c->cfg->retry_interval;
                continue;
            }
            sleep_until(c, osp_sc_mono() + backoff);
            backoff = fmin(backoff * c->cfg->retry_backoff, c->cfg->interval_max);
            c->host = (c->host + 1) % c->url.nhosts;
            continue;
        }
        amqp_maybe_release_buffers(c->conn);
        struct timeval tv = {0, c->last_tag ? 20000 : 200000};
        amqp_envelope_t env;
        amqp_rpc_reply_t r = amqp_consume_message(c->conn, &env, &tv, 0);
        bool ok = true;
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            take(c, &env);
            amqp_destroy_envelope(&env);
            if (c->n == BATCH)
                ok = flush(c);
        } else if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                   r.library_error == AMQP_STATUS_TIMEOUT) {
            ok = flush(c); /* quiet for a moment: commit what came */
        } else {
            char why[300], reason[340];
            osp_amqp_reply_ok(r, "basic.consume", why, sizeof why);
            OSP_LOG(OSP_LL_WARN, "collector", "%s; reconnecting", why);
            snprintf(reason, sizeof reason, "broker: %s; reconnecting", why);
            osp_sc_stats_collector(false, reason);
            ok = false;
        }
        if (!ok)
            disconnect(c);
    }
    if (c->conn && c->store)
        flush(c);
    disconnect(c);
    return NULL;
}

int osp_collector_start(osp_collector_t **out, const osp_sc_config_t *cfg,
                        osp_error_t *err) {
    osp_collector_t *c = calloc(1, sizeof *c);
    if (!c)
        return OSP_ENOMEM;
    c->cfg = cfg;
    c->store_backoff = cfg->retry_interval;
    int rc = osp__transport_url_parse(cfg->transport_url, &c->url, err);
    if (rc == OSP_OK) {
        osp_sc_stats_collector(false, "starting");
        /* a bad url is fatal; a store that is down is retried by the thread */
        rc = osp_store_open(cfg->store, store_flags(cfg), &c->store, err);
        if (rc == OSP_ESTORE) {
            c->store = NULL;
            store_down(c, err->text);
            rc = OSP_OK;
        }
    }
    if (rc == OSP_OK && pthread_create(&c->thread, NULL, run, c) != 0)
        rc = OSP_ENOMEM;
    if (rc != OSP_OK) {
        osp_store_close(c->store);
        osp__transport_url_free(&c->url);
        free(c);
        return rc;
    }
    *out = c;
    return OSP_OK;
}

void osp_collector_stop(osp_collector_t *c) {
    if (!c)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    osp_store_close(c->store);
    osp__transport_url_free(&c->url);
    free(c);
}
