/* SPDX-License-Identifier: Apache-2.0 */
/*
 * publisher - publishes buffered points to RabbitMQ exactly as oslo.messaging's
 * rabbit driver does for notifications (docs/oslo-messaging.md):
 * exchange <control_exchange> (topic), queue and binding "<topic>.info" with
 * the durable/auto_delete/arguments oslo derives from its options, then
 * confirm.select and basic.publish with properties 0xf800.
 *
 * Threads: only this thread touches rabbitmq-c (a connection must not be
 * shared, and amqp_basic_publish can block on a stalled broker, so intake
 * never waits for it). Confirms are windowed: up to confirm_window messages
 * are unconfirmed at once, instead of oslo's one round trip per message.
 *
 * Delivery is at least once: a message is delivered (flow.c frees it, and
 * its spool entry) only when every topic's copy is acked; on a connection
 * loss everything unconfirmed goes back to the front and is published again
 * after reconnecting. Hosts of
 * the transport_url are tried in turn, with rabbit_retry_interval growing by
 * rabbit_retry_backoff up to rabbit_interval_max between full rounds.
 */
#include "publisher.h"

#include <amqp.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "amqp_conn.h"
#include "clock.h"
#include "common/ids.h"
#include "common/transport_url.h"
#include "log.h"
#include "notify.h"
#include "stats.h"

#define CHANNEL       1
#define CHECK_CHANNEL 2 /* passive declares: a 404 closes it, not CHANNEL */

struct inflight {
    osp_msg_t *m;
    uint64_t tag;
    double sent; /* monotonic seconds: the oldest one's age bounds the wait */
    bool acked;
};

struct osp_publisher {
    const osp_sc_config_t *cfg;
    osp_transport_url_t url;
    osp_flow_t *flow;
    pthread_t thread;
    atomic_bool stop;
    double grace_deadline; /* monotonic seconds, set by stop */
    amqp_connection_state_t conn;
    size_t host;    /* index of the host in use or to try next */
    uint64_t freed; /* messages freed since the last malloc_trim */
    uint64_t next_tag;
    struct inflight *fl; /* FIFO ring of unconfirmed messages */
    size_t fl_cap, fl_head, fl_count;
    char **routing_keys; /* "<topic>.info" for each topic, built once */
    /* Backoff: it grows while no host takes a connection or the broker
     * refuses (nacks, closes the channel), and is reset only by an ack, not
     * by a connect: a broker that accepts connections but refuses every
     * message is not hammered. */
    double backoff;
    bool refused, acked; /* nacked or closed by the broker; acked: since read_confirms */
    bool declared;       /* this process declared and bound every topic's queue */
    pthread_mutex_t cur_mu;
    char current[300];
};

static void set_current(osp_publisher_t *p, const char *s) {
    pthread_mutex_lock(&p->cur_mu);
    snprintf(p->current, sizeof p->current, "%s", s);
    pthread_mutex_unlock(&p->cur_mu);
}

void osp_publisher_current(osp_publisher_t *p, char *out, size_t len) {
    pthread_mutex_lock(&p->cur_mu);
    snprintf(out, len, "%s", p->current);
    pthread_mutex_unlock(&p->cur_mu);
}

/* graceful: send connection.close and wait (up to broker_timeout) for its
 * reply; not on a connection that failed, or a hung node would hold the
 * fail-over that long again. */
static void disconnect(osp_publisher_t *p, bool graceful) {
    atomic_store(&osp_sc_stats.connected, false);
    osp_flow_sink(p->flow, false);
    if (!p->conn)
        return;
    if (graceful)
        amqp_connection_close(p->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(p->conn);
    p->conn = NULL;
    set_current(p, "");
}

/* Everything unconfirmed goes back to the front, in order. */
static void requeue_inflight(osp_publisher_t *p) {
    osp_msg_t *head = NULL, **tail = &head;
    for (size_t i = 0; i < p->fl_count; i++) {
        struct inflight *e = &p->fl[(p->fl_head + i) % p->fl_cap];
        if (e->m && e->m->acks_left != UINT32_MAX) {
            e->m->acks_left = UINT32_MAX; /* marks "already requeued" */
            *tail = e->m;
            tail = &e->m->next;
        }
    }
    *tail = NULL;
    p->fl_head = p->fl_count = 0;
    osp_flow_return(p->flow, head);
}

static bool confirm_select(osp_publisher_t *p, char *why, size_t len) {
    amqp_confirm_select(p->conn, CHANNEL);
    return osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "confirm.select", why, len);
}

/* true when the exchange and every topic's queue exist: passive declares,
 * which read and never write the cluster's metadata, on a channel of their
 * own (a missing one closes it with 404). false: something is missing
 * (declare all again) or the broker did not answer (why says which). */
static bool all_exist(osp_publisher_t *p, bool *answered, char *why, size_t len) {
    const osp_sc_config_t *c = p->cfg;
    *answered = false;
    amqp_channel_open(p->conn, CHECK_CHANNEL);
    if (!osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "channel.open", why, len))
        return false;
    amqp_exchange_declare(p->conn, CHECK_CHANNEL, amqp_cstring_bytes(c->control_exchange),
                          amqp_cstring_bytes("topic"), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(p->conn);
    for (size_t i = 0; r.reply_type == AMQP_RESPONSE_NORMAL && i < c->ntopics; i++) {
        amqp_queue_declare(p->conn, CHECK_CHANNEL, amqp_cstring_bytes(p->routing_keys[i]),
                           1, 0, 0, 0, amqp_empty_table);
        r = amqp_get_rpc_reply(p->conn);
    }
    *answered = r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION;
    if (!osp_amqp_reply_ok(r, "passive declare", why, len)) {
        if (*answered) { /* the broker closed CHECK_CHANNEL: acknowledge it */
            amqp_channel_close_ok_t ok = {0};
            amqp_send_method(p->conn, CHECK_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        }
        return false;
    }
    amqp_channel_close(p->conn, CHECK_CHANNEL, AMQP_REPLY_SUCCESS);
    return osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "channel.close", why, len);
}

/* oslo's sequence for every topic: exchange, queue, bind, exchange again. */
static bool declare_all(osp_publisher_t *p, char *why, size_t len) {
    const osp_sc_config_t *c = p->cfg;
    bool durable = c->amqp_durable_queues || c->rabbit_quorum_queue;
    amqp_bytes_t ex = amqp_cstring_bytes(c->control_exchange);
    amqp_table_entry_t e[2];
    amqp_table_t qargs = osp_amqp_queue_arguments(c, e);
    for (size_t i = 0; i < c->ntopics; i++) {
        amqp_bytes_t key = amqp_cstring_bytes(p->routing_keys[i]);
        /* The same sequence as oslo: exchange, queue, bind, exchange again. */
        amqp_exchange_declare(p->conn, CHANNEL, ex, amqp_cstring_bytes("topic"), 0,
                              durable, c->amqp_auto_delete, 0, amqp_empty_table);
        if (!osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "exchange.declare", why, len))
            return false;
        amqp_queue_declare(p->conn, CHANNEL, key, 0, durable, 0, c->amqp_auto_delete,
                           qargs);
        if (!osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "queue.declare", why, len))
            return false;
        amqp_queue_bind(p->conn, CHANNEL, key, ex, key, amqp_empty_table);
        if (!osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "queue.bind", why, len))
            return false;
        amqp_exchange_declare(p->conn, CHANNEL, ex, amqp_cstring_bytes("topic"), 0,
                              durable, c->amqp_auto_delete, 0, amqp_empty_table);
        if (!osp_amqp_reply_ok(amqp_get_rpc_reply(p->conn), "exchange.declare", why, len))
            return false;
    }
    return true;
}

/* Once per process, oslo's full sequence; on a reconnect only checks that
 * it all still exists. A queue.bind (a metadata write) blocks on every node
 * while one member of the cluster hangs, so re-binding on each connect
 * would stall the fail-over until that node is declared down
 * (docs/design.md, "A hung cluster node"). */
static bool declare(osp_publisher_t *p, char *why, size_t len) {
    if (p->declared) {
        bool answered;
        if (all_exist(p, &answered, why, len))
            return confirm_select(p, why, len);
        if (!answered)
            return false;
        OSP_LOG(OSP_LL_NOTICE, "publisher", "%s: declaring the queues again", why);
    }
    if (!declare_all(p, why, len))
        return false;
    p->declared = true;
    return confirm_select(p, why, len);
}

static bool connect_host(osp_publisher_t *p, const osp_url_host_t *h, char *why,
                         size_t len) {
    if (!osp_amqp_open(p->cfg, &p->url, h, CHANNEL, &p->conn, why, len))
        return false;
    if (!declare(p, why, len)) {
        amqp_destroy_connection(p->conn);
        p->conn = NULL;
        return false;
    }
    p->next_tag = 1;
    return true;
}

/* One round over the hosts, starting with the last good one. */
static bool connect_any(osp_publisher_t *p) {
    for (size_t i = 0; i < p->url.nhosts; i++) {
        const osp_url_host_t *h = &p->url.hosts[(p->host + i) % p->url.nhosts];
        char why[300];
        if (connect_host(p, h, why, sizeof why)) {
            p->host = (p->host + i) % p->url.nhosts;
            char cur[300];
            snprintf(cur, sizeof cur, "%s:%d", h->host, h->port);
            set_current(p, cur);
            atomic_store(&osp_sc_stats.connected, true);
            osp_flow_sink(p->flow, true);
            OSP_STAT_ADD(reconnects, 1);
            OSP_LOG(OSP_LL_NOTICE, "publisher", "connected to %s (exchange %s)", cur,
                    p->cfg->control_exchange);
            return true;
        }
        /* why never holds the password: rabbitmq-c and the broker do not echo it */
        OSP_LOG(OSP_LL_WARN, "publisher", "%s:%d: %s", h->host, h->port, why);
    }
    return false;
}

static void fl_push(osp_publisher_t *p, osp_msg_t *m, uint64_t tag) {
    struct inflight *e = &p->fl[(p->fl_head + p->fl_count++) % p->fl_cap];
    e->m = m;
    e->tag = tag;
    e->sent = osp_sc_mono();
    e->acked = false;
}

/* Publish one point to every topic. false: the connection broke. */
static bool publish(osp_publisher_t *p, osp_msg_t *m) {
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                   AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_PRIORITY_FLAG; /* 0xf800, as kombu */
    props.content_type = amqp_cstring_bytes("application/json");
    props.content_encoding = amqp_cstring_bytes("utf-8");
    props.headers = amqp_empty_table;
    props.delivery_mode = 2;
    props.priority = 0;
    m->acks_left = (unsigned)p->cfg->ntopics;
    if (!m->message_id[0])
        osp__uuid4(m->message_id); /* kept for every retry */
    for (size_t i = 0; i < p->cfg->ntopics; i++) {
        char uid[33];
        osp__uuid4_hex(uid); /* _unique_id: new for every AMQP message */
        osp_buf_t body = OSP_BUF_INIT;
        osp_notify_body(&body, m, uid, p->cfg->driver_v2);
        amqp_bytes_t b = {body.len, body.data};
        int rc = amqp_basic_publish(
            p->conn, CHANNEL, amqp_cstring_bytes(p->cfg->control_exchange),
            amqp_cstring_bytes(p->routing_keys[i]), 0, 0, &props, b);
        osp__buf_free(&body);
        /* Track it even if the send failed: requeue_inflight puts it back. */
        fl_push(p, m, p->next_tag++);
        if (rc != AMQP_STATUS_OK) {
            OSP_LOG(OSP_LL_WARN, "publisher", "publish: %s", amqp_error_string2(rc));
            return false;
        }
        OSP_STAT_ADD(published, 1);
    }
    return true;
}

/* A batch of publishes leaves in full TCP segments instead of one segment
 * per message (rabbitmq-c flushes at each body frame): the broker reads
 * fewer, larger segments, which is its CPU on a machine it shares.
 * Uncorked at the end of the batch, so nothing waits for a timer. */
static void cork(osp_publisher_t *p, bool on) {
    int fd = amqp_get_sockfd(p->conn), v = on;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

/* Release confirmed messages from the front of the window. */
static void settle(osp_publisher_t *p, uint64_t tag, bool multiple) {
    for (size_t i = 0; i < p->fl_count; i++) {
        struct inflight *e = &p->fl[(p->fl_head + i) % p->fl_cap];
        if (e->tag == tag || (multiple && e->tag <= tag))
            e->acked = true;
        else if (e->tag > tag)
            break;
    }
    while (p->fl_count && p->fl[p->fl_head].acked) {
        struct inflight *e = &p->fl[p->fl_head];
        OSP_STAT_ADD(confirmed, 1);
        if (--e->m->acks_left == 0) {
            osp_flow_delivered(p->flow, e->m); /* may delete its spool segment */
            p->freed++;
        }
        e->m = NULL;
        p->fl_head = (p->fl_head + 1) % p->fl_cap;
        p->fl_count--;
    }
}

/* Read frames for up to timeout_ms: acks, nacks, closes. false: broken. */
static bool read_confirms(osp_publisher_t *p, int timeout_ms) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    for (;;) {
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(p->conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            return true;
        if (rc != AMQP_STATUS_OK) {
            OSP_LOG(OSP_LL_WARN, "publisher", "connection lost: %s",
                    amqp_error_string2(rc));
            return false;
        }
        tv.tv_sec = 0;
        tv.tv_usec = 0; /* drain what is buffered, then return */
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            settle(p, a->delivery_tag, a->multiple);
            p->acked = true;
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            /* The broker refused it: publish again later (oslo would drop),
             * after the backoff (run). */
            OSP_STAT_ADD(nacked, 1);
            OSP_LOG(OSP_LL_WARN, "publisher",
                    "broker nacked a message (a queue limit, a resource alarm?); "
                    "reconnecting in %.1f s",
                    p->backoff);
            p->refused = true;
            return false;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_rpc_reply_t r = {AMQP_RESPONSE_SERVER_EXCEPTION, f.payload.method, 0};
            char why[300];
            osp_amqp_reply_ok(r, "broker closed the channel", why, sizeof why);
            OSP_LOG(OSP_LL_ERROR, "publisher", "%s; reconnecting in %.1f s", why,
                    p->backoff);
            p->refused = true;
            return false;
        }
        default:
            break;
        }
        if (p->fl_count == 0)
            return true;
    }
}

/* A node that hangs (stopped, partitioned, stuck on a disk) neither acks
 * nor closes: the heartbeat sees it only after up to twice its interval.
 * The oldest unconfirmed message older than broker_timeout says the same
 * sooner; the caller fails over and publishes it again elsewhere (a
 * duplicate at most, if the node did take it), while new points wait on the
 * spool. */
static bool hung(osp_publisher_t *p) {
    if (p->fl_count == 0)
        return false;
    double age = osp_sc_mono() - p->fl[p->fl_head].sent;
    if (age <= p->cfg->broker_timeout)
        return false;
    char cur[300];
    osp_publisher_current(p, cur, sizeof cur);
    OSP_LOG(OSP_LL_WARN, "publisher",
            "%s: no confirm for %.1f s (broker_timeout %.1f s): taking the node as hung, "
            "%zu unconfirmed message(s) go to the next host",
            cur, age, p->cfg->broker_timeout, p->fl_count);
    return true;
}

/* Sleep until the broker sent something or the queue got points, at most
 * timeout_ms. Without this the loop would spin while confirms are pending,
 * taking a core from the broker on a small machine. */
static void wait_io(osp_publisher_t *p, int timeout_ms) {
    if (amqp_frames_enqueued(p->conn) || amqp_data_in_buffer(p->conn))
        return;
    struct pollfd fds[2] = {{amqp_get_sockfd(p->conn), POLLIN, 0},
                            {osp_flow_wake_fd(p->flow), POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) > 0 && (fds[1].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(fds[1].fd, &v, sizeof v);
        (void)r;
    }
}

/* Stopping: done when everything was confirmed, or nothing can be. */
static bool done_stopping(osp_publisher_t *p) {
    return osp_sc_mono() >= p->grace_deadline ||
           (p->fl_count == 0 && (!p->conn || osp_flow_waiting(p->flow) == 0));
}

/* Wait the backoff (or until stopping is done), then make it longer. */
static void back_off(osp_publisher_t *p) {
    const osp_sc_config_t *c = p->cfg;
    double until = osp_sc_mono() + p->backoff;
    while (osp_sc_mono() < until && !(atomic_load(&p->stop) && done_stopping(p)))
        usleep(50000);
    p->backoff = fmin(p->backoff * c->retry_backoff, c->interval_max);
}

static void *run(void *arg) {
    osp_publisher_t *p = arg;
    const osp_sc_config_t *c = p->cfg;
    p->backoff = c->retry_interval;
    size_t window_points = (size_t)c->confirm_window / c->ntopics;
    if (window_points == 0)
        window_points = 1;
    for (;;) {
        if (atomic_load(&p->stop) && done_stopping(p))
            break;
        if (!p->conn) {
            if (connect_any(p))
                continue;
            OSP_LOG(OSP_LL_WARN, "publisher", "no broker reachable; retrying in %.1f s",
                    p->backoff);
            back_off(p);
            continue;
        }
        size_t room = p->fl_count / c->ntopics < window_points
                          ? window_points - p->fl_count / c->ntopics
                          : 0;
        bool ok = true, sent = false;
        if (room) {
            osp_msg_t *batch = osp_flow_pop(p->flow, room, 0);
            sent = batch != NULL;
            bool corked = batch && batch->next;
            if (corked)
                cork(p, true);
            while (batch && ok) {
                osp_msg_t *m = batch;
                batch = m->next;
                m->next = NULL;
                ok = publish(p, m);
            }
            if (corked && ok)
                cork(p, false);
            /* Not sent: back to the front, behind what requeue_inflight adds. */
            osp_flow_return(p->flow, batch);
        }
        if (ok && !sent && p->fl_count == 0 && p->freed > 10000) {
            /* A burst is over: give its memory back to the system, or the
             * heap keeps the sidecar's RSS at its peak. */
            malloc_trim(0);
            p->freed = 0;
        }
        if (ok && !sent)
            wait_io(p, 100); /* confirms, new points, or heartbeat time */
        if (ok)
            ok = read_confirms(p, 0);
        if (ok)
            ok = !hung(p);
        if (p->acked) /* the broker takes messages again */
            p->backoff = c->retry_interval;
        p->acked = false;
        if (!ok) {
            requeue_inflight(p);
            disconnect(p, false);
            p->host = (p->host + 1) % p->url.nhosts; /* fail over */
            if (p->refused) /* a lost connection fails over at once */
                back_off(p);
            p->refused = false;
        }
    }
    requeue_inflight(p);
    disconnect(p, true);
    return NULL;
}

static void free_routing_keys(char **keys, size_t n) {
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

/* oslo's notification queues and routing keys are "<topic>.<priority>". */
static char **make_routing_keys(const osp_sc_config_t *cfg) {
    char **keys = calloc(cfg->ntopics ? cfg->ntopics : 1, sizeof *keys);
    for (size_t i = 0; keys && i < cfg->ntopics; i++) {
        size_t len = strlen(cfg->topics[i]) + sizeof ".info";
        keys[i] = malloc(len);
        if (!keys[i]) {
            free_routing_keys(keys, i);
            return NULL;
        }
        snprintf(keys[i], len, "%s.info", cfg->topics[i]);
    }
    return keys;
}

int osp_publisher_start(osp_publisher_t **out, const osp_sc_config_t *cfg,
                        osp_flow_t *flow) {
    osp_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return OSP_ENOMEM;
    osp_error_t err;
    int rc = osp__transport_url_parse(cfg->transport_url, &p->url, &err);
    if (rc) {
        OSP_LOG(OSP_LL_ERROR, "publisher", "%s", err.text);
        free(p);
        return rc;
    }
    p->cfg = cfg;
    p->flow = flow;
    p->fl_cap = (size_t)cfg->confirm_window + cfg->ntopics;
    p->fl = calloc(p->fl_cap, sizeof *p->fl);
    p->routing_keys = make_routing_keys(cfg);
    pthread_mutex_init(&p->cur_mu, NULL);
    if (!p->fl || !p->routing_keys || pthread_create(&p->thread, NULL, run, p) != 0) {
        osp__transport_url_free(&p->url);
        free_routing_keys(p->routing_keys, cfg->ntopics);
        pthread_mutex_destroy(&p->cur_mu);
        free(p->fl);
        free(p);
        return OSP_ENOMEM;
    }
    *out = p;
    return OSP_OK;
}

static void stop(osp_publisher_t *p, double grace, bool final) {
    p->grace_deadline = osp_sc_mono() + grace;
    atomic_store(&p->stop, true);
    if (final)
        osp_flow_close(p->flow);
    pthread_join(p->thread, NULL);
    osp__transport_url_free(&p->url);
    free_routing_keys(p->routing_keys, p->cfg->ntopics);
    free(p->fl);
    pthread_mutex_destroy(&p->cur_mu);
    free(p);
}

void osp_publisher_stop(osp_publisher_t *p, double grace) { stop(p, grace, true); }

void osp_publisher_restart_stop(osp_publisher_t *p) { stop(p, 0, false); }
