/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics - GET /metrics: the counters of stats.h and flow.c's buffers in
 * the Prometheus text exposition format 0.0.4, for operators' scrapers.
 *
 * libmicrohttpd serves it from one thread of its own (internal polling,
 * poll(2)), so a slow scraper never costs the intake loop anything. That
 * thread reads only what any thread may read: the atomics of osp_sc_stats
 * (the intake loop publishes its connection and ring counts there), the
 * collector's state behind stats.c's mutex, and osp_flow_state (atomics and
 * the queue's and spool's mutexes).
 *
 * What an outsider can make us spend is bounded: 16 connections (4 from one
 * address), 10 s idle before a connection is closed, 8 KiB of memory a
 * connection (its request line and headers must fit: larger ones are
 * refused), and no request body is ever read: the answer is queued on the
 * request's first call, before any body.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "log.h"

#define MAX_CONNS        16
#define MAX_CONNS_PER_IP 4
#define IDLE_SECONDS     10
#define REQUEST_BYTES    8192
#define BODY_BYTES       16384 /* the exposition is about 6 KB */
#define LOG_EVERY        10.0  /* seconds between libmicrohttpd's lines */

struct osp_metrics {
    struct MHD_Daemon *d;
    osp_flow_t *flow;
    char where[80];   /* the address, as metrics_listen wrote it */
    double logged_at; /* on_log's limit: libmicrohttpd's thread only */
    uint64_t held;
};

/* ---------------------------------------------------------------- address */

static int bad_listen(osp_error_t *err, const char *text, const char *why) {
    return osp__error_set(err, OSP_ECONFIG, "metrics_listen", 0,
                          "metrics_listen '%.64s': %s", text, why);
}

int osp_metrics_parse_listen(const char *text, struct sockaddr_storage *out,
                             socklen_t *len, osp_error_t *err) {
    static const char form[] =
        "expected ADDRESS:PORT: 127.0.0.1:9464, [::1]:9464 or :9464 (every address)";
    const char *colon = strrchr(text, ':');
    if (!colon || strlen(text) > 64)
        return bad_listen(err, text, form);
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 1 || port > 65535)
        return bad_listen(err, text, "the port must be a number from 1 to 65535");
    char host[65];
    size_t n = (size_t)(colon - text);
    memcpy(host, text, n);
    host[n] = '\0';
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (n == 0) { /* every address: IPv6's any, which takes IPv4 too */
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
    } else if (host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
            return bad_listen(err, text, "not an IPv6 address between the brackets");
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
    } else {
        return bad_listen(err, text,
                          strchr(host, ':') ? "an IPv6 address needs brackets"
                                            : "not an IP address (no names: "
                                              "one address, no resolver)");
    }
    return OSP_OK;
}

/* Our own socket, so that a failure says why (errno) and ":port" can be
 * dual-stack (IPV6_V6ONLY off) or IPv4 alone where IPv6 is off. */
static int open_socket(const char *text, int *out, osp_error_t *err) {
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = osp_metrics_parse_listen(text, &ss, &len, err);
    if (rc)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 && ss.ss_family == AF_INET6 && text[0] == ':' &&
        errno == EAFNOSUPPORT) { /* no IPv6 here: every IPv4 address */
        struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
        uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;
        memset(&ss, 0, sizeof ss);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = port;
        len = sizeof *v4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    int one = 1, zero = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, MAX_CONNS) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return osp__error_set(err, -e, "metrics_listen", 0,
                              "metrics_listen '%s': cannot listen: %s", text,
                              strerror(e));
    }
    *out = fd;
    return OSP_OK;
}

/* ---------------------------------------------------------------- text */

struct out {
    char *p;
    size_t len, used;
    bool full;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->used)
        o->full = true;
    else
        o->used += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP osprofiler_sidecar_%s %s\n# TYPE osprofiler_sidecar_%s %s\n", name,
        help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v) {
    head(o, name, "counter", help);
    put(o, "osprofiler_sidecar_%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v) {
    head(o, name, "gauge", help);
    put(o, "osprofiler_sidecar_%s %llu\n", name, (unsigned long long)v);
}

static void labelled(struct out *o, const char *name, const char *label,
                     const char *value, uint64_t v) {
    put(o, "osprofiler_sidecar_%s{%s=\"%s\"} %llu\n", name, label, value,
        (unsigned long long)v);
}

#define U(f) ((uint64_t)atomic_load(&osp_sc_stats.f))

/* whole - part, where part was read first and counted first (a subset's
 * counter is added to before its whole's): never below 0. */
static uint64_t rest(uint64_t whole, uint64_t part) {
    return whole > part ? whole - part : 0;
}

/* Points that left without being delivered, by reason: the reasons add up
 * to every drop, so sum() is the total (oversize points are counted once,
 * as oversize, not also as invalid). */
static void drops(struct out *o) {
    uint64_t oversize = U(records_oversize);
    uint64_t invalid = rest(U(dropped_invalid), oversize);
    const struct {
        const char *reason;
        uint64_t n;
    } r[] = {{"invalid", invalid},
             {"oversize", oversize},
             {"shutdown", U(dropped_shutdown)},
             {"spool", U(dropped_spool)},
             {"nomem", U(dropped_nomem)},
             {"store", U(dropped_store)}};
    head(o, "points_dropped_total", "counter",
         "Points dropped, by reason (invalid: not a trace point; oversize: over "
         "max_record_bytes; shutdown: neither memory nor spool kept it at exit; spool: "
         "unreadable spool data; nomem: no memory; store: refused by the store).");
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        labelled(o, "points_dropped_total", "reason", r[i].reason, r[i].n);
}

static void refusals(struct out *o) {
    uint64_t uid = U(connections_refused_uid), fds = U(connections_refused_fds);
    uint64_t all = U(connections_refused);
    head(o, "connections_refused_total", "counter",
         "Local client connections refused, by limit (uid: max_connections_per_uid; "
         "fds: no descriptor left; total: max_connections).");
    labelled(o, "connections_refused_total", "reason", "uid", uid);
    labelled(o, "connections_refused_total", "reason", "fds", fds);
    labelled(o, "connections_refused_total", "reason", "total", rest(all, uid + fds));
    uint64_t limit = U(rings_refused_limit), rings = U(rings_refused);
    head(o, "rings_refused_total", "counter",
         "Shared ring registrations refused (limit: over a per-uid limit; invalid: "
         "a bad ring).");
    labelled(o, "rings_refused_total", "reason", "limit", limit);
    labelled(o, "rings_refused_total", "reason", "invalid", rest(rings, limit));
}

static void gauges(struct out *o, const osp_sc_buffers_t *b) {
    gauge(o, "memory_points", "Points waiting in memory.", b->memory_points);
    gauge(o, "memory_bytes", "Bytes of the points waiting in memory.", b->memory_bytes);
    gauge(o, "spool_points", "Points waiting on the disk spool.", b->spool_points);
    gauge(o, "spool_bytes", "Bytes of the disk spool's segments.", b->spool_bytes);
    gauge(o, "holding_back",
          "1 while the intake stops reading (memory and spool full): services keep "
          "their points.",
          b->holding_back);
    gauge(o, "broker_connected",
          "1 while the sink is there: the publisher has a broker connection (with no "
          "broker: the store is open).",
          atomic_load(&osp_sc_stats.connected));
    gauge(o, "connections", "Local client connections open.", U(conns_open));
    gauge(o, "rings", "Shared rings attached now.", U(rings_open));
    bool consuming;
    if (osp_sc_stats_collector_state(&consuming))
        gauge(o, "collector_consuming",
              "1 while the collector consumes from the broker (collect = true).",
              consuming);
}

size_t osp_metrics_render(char *buf, size_t len, const osp_sc_buffers_t *b) {
    osp_sc_buffers_t none = {0};
    struct out o = {buf, len, 0, len == 0};
    if (!b)
        b = &none;
    counter(&o, "points_received_total", "Points taken from services (valid or not).",
            U(received));
    counter(&o, "points_delivered_total",
            "Points confirmed by the broker on every topic, or committed to the store.",
            U(delivered));
    counter(&o, "messages_published_total",
            "Notifications published to the broker (one a point and topic).",
            U(published));
    counter(&o, "messages_confirmed_total",
            "Publisher confirms (basic.ack) received from the broker.", U(confirmed));
    counter(&o, "messages_nacked_total",
            "Publisher nacks (basic.nack) received: those messages are published again.",
            U(nacked));
    counter(&o, "points_spooled_total", "Points written to the disk spool.", U(spooled));
    counter(&o, "points_stored_total",
            "Points committed to the store (no broker configured).", U(stored));
    counter(&o, "store_commits_total", "Store transactions that committed points.",
            U(store_commits));
    counter(&o, "messages_collected_total",
            "Broker messages the collector committed to the store and acknowledged.",
            U(collected));
    counter(&o, "messages_collected_invalid_total",
            "Consumed broker messages that were no trace point (acknowledged, dropped).",
            U(collect_invalid));
    drops(&o);
    counter(&o, "frames_refused_total",
            "Frames refused whole (a bad header, too big): their points are lost.",
            U(bad_frames));
    counter(&o, "frames_relabelled_total",
            "Frames whose publisher_id publisher_policy replaced.",
            U(publisher_replaced));
    counter(&o, "hold_backs_total", "Times the intake held back (stopped reading).",
            b->hold_backs);
    counter(&o, "reconnects_total", "Broker connections made again after a loss.",
            U(reconnects));
    counter(&o, "rings_attached_total", "Shared rings attached since the start.",
            U(rings));
    refusals(&o);
    gauges(&o, b);
    return o.full ? 0 : o.used;
}

#undef U

/* ---------------------------------------------------------------- server */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *body, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO; /* no memory: MHD closes the connection */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_len, void **state) {
    (void)version, (void)upload, (void)upload_len, (void)state;
    static const char text[] = "text/plain; charset=utf-8";
    osp_metrics_t *m = cls;
    /* Answered on the first call, before any body is read: MHD then
     * closes a connection whose body it did not read. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "only GET\n", 9);
    if (strcmp(url, "/metrics") != 0)
        return answer(c, MHD_HTTP_NOT_FOUND, text, "not found: GET /metrics\n", 24);
    osp_sc_buffers_t b;
    osp_flow_state(m->flow, &b);
    char body[BODY_BYTES];
    size_t n = osp_metrics_render(body, sizeof body, &b);
    if (!n)
        return answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "too long\n", 9);
    return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, n);
}

/* libmicrohttpd's own messages ("Server reached connection limit", a
 * failed accept...), from its thread alone (and the starting one before
 * it): a client can repeat them, so one line each LOG_EVERY seconds, which
 * says how many were held back before it. */
static void on_log(void *cls, const char *fmt, va_list ap) {
    osp_metrics_t *m = cls;
    double now = osp_sc_mono();
    if (m->logged_at && now - m->logged_at < LOG_EVERY) {
        m->held++;
        return;
    }
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[n - 1] = '\0';
    if (m->held)
        OSP_LOG(OSP_LL_WARN, "metrics", "%s (%llu more messages not logged before it)",
                line, (unsigned long long)m->held);
    else
        OSP_LOG(OSP_LL_WARN, "metrics", "%s", line);
    m->logged_at = now;
    m->held = 0;
}

int osp_metrics_start(osp_metrics_t **out, const char *text, osp_flow_t *flow,
                      osp_error_t *err) {
    *out = NULL;
    osp_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return osp__error_set(err, OSP_ENOMEM, "metrics", 0, "out of memory");
    m->flow = flow;
    snprintf(m->where, sizeof m->where, "%s", text);
    int fd = -1, rc = open_socket(text, &fd, err);
    if (rc) {
        free(m);
        return rc;
    }
    m->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, m, MHD_OPTION_EXTERNAL_LOGGER, on_log, m, MHD_OPTION_LISTEN_SOCKET,
        fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_CONNS_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQUEST_BYTES, MHD_OPTION_END);
    if (!m->d) {
        close(fd);
        free(m);
        return osp__error_set(err, OSP_ENOMEM, "metrics", 0,
                              "metrics_listen '%s': libmicrohttpd could not start", text);
    }
    OSP_LOG(OSP_LL_NOTICE, "metrics", "serving /metrics on %s", m->where);
    *out = m;
    return OSP_OK;
}

void osp_metrics_stop(osp_metrics_t *m) {
    if (!m)
        return;
    MHD_stop_daemon(m->d); /* joins its thread, closes the listening socket */
    free(m);
}
