/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emit - the process-wide notifier and the per-thread batch in front of it.
 *
 * Each thread appends finished payloads ("<json>\n") to its own buffer; no
 * lock is taken on the hot path. The buffer is flushed when the thread's
 * outermost point stops, at 32 KiB, on osp_flush()/osp_clean() and at thread
 * exit. A flush to the sidecar sends hop frames (docs/wire.md) on one
 * process-wide SOCK_SEQPACKET socket with MSG_DONTWAIT: SEQPACKET keeps record
 * boundaries and, unlike AF_UNIX datagrams, is not limited to 10 queued
 * messages (net.unix.max_dgram_qlen), only by the send buffer, raised to
 * 4 MiB. When the sidecar pushes back (EAGAIN) the batch stays in the thread
 * buffer up to its cap; beyond it new points are dropped and counted. When no
 * sidecar listens, points are dropped and counted, and reconnects are tried
 * at most every 200 ms so an absent sidecar costs no syscall per point.
 *
 * The socket's descriptor number never changes once created: a reconnect
 * dup3()s the new connection onto it. Another thread sending concurrently thus
 * never writes into a descriptor the application has reopened meanwhile.
 *
 * The fast path is a shared-memory ring per thread (ring.c, docs/wire.md)
 * that the sidecar attaches: a point is then a memcpy; the ring's head is
 * published (and the sidecar woken if it sleeps) when the outermost point
 * stops and every 64 points, which keeps the traced thread off the cache
 * lines the sidecar writes. The batch + socket path above remains for points
 * that find the ring full or not attached yet, and for senders without rings.
 *
 * fork(): the child replaces the socket with a fresh one (its own connection,
 * its own peer credentials), drops the batch and ring it inherited (they are
 * the parent's) and gets new random ids (ids.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/errors.h"
#include "../common/hop.h"
#include "../common/ids.h"
#include "../common/pyjson.h"
#include "../common/ring.h"
#include "internal.h"

#define FLUSH_BYTES        (32 * 1024)
#define FRAME_TARGET       (64 * 1024)
#define RECONNECT_EVERY_US 200000
#define SOCKET_SNDBUF      (4 * 1024 * 1024)
#define RING_RETRY_US      1000000
#define LIVENESS_EVERY_US  100000
#define RING_PUBLISH_EVERY 64

enum notifier_kind { NOTIFIER_NONE, NOTIFIER_SIDECAR, NOTIFIER_FILE };

static struct {
    bool is_setup;
    osp_config_t cfg;
    enum notifier_kind kind;
    int fd; /* sidecar socket (stable number) or file; -1 if none */
    struct sockaddr_un addr;
    pthread_mutex_t connect_lock;
    atomic_int_fast64_t next_connect_us;
    atomic_uint conn_gen; /* bumped by each successful reconnect */
    atomic_bool connected;
    atomic_int_fast64_t next_liveness_us;
    uint64_t ring_size; /* 0: no rings */
    char hop_header[OSP_HOP_HEADER_FIXED + OSP_HOP_MAX_PUBLISHER];
    size_t hop_header_len;
    char host[256];
    const char *service;
    const char *project;
    osp_buf_t host_json;    /* "host" value, JSON-escaped, with quotes */
    osp_buf_t payload_tail; /* , "project": ..., "service": ...} */
    atomic_uint setup_gen;
    atomic_uint_fast64_t emitted, sent, dropped_no_sidecar, dropped_backpressure,
        dropped_oversize, dropped_io, dropped_nomem, lost_unread, web_traced;
    atomic_uint_fast64_t web_rejected[7];
} G = {.fd = -1, .connect_lock = PTHREAD_MUTEX_INITIALIZER};

static osp_log_cb log_cb;
static void *log_ud;

struct thread_state {
    osp_buf_t batch;
    uint64_t points; /* points in batch */
    unsigned fork_gen;
    unsigned setup_gen;
    bool key_set;
    /* The shared ring to the sidecar (see ring.c), when it has one. */
    bool has_ring;
    osp_ring_t ring;
    unsigned ring_conn_gen;    /* connection it was registered on */
    uint64_t ring_points;      /* pushed, not yet added to the counters */
    unsigned ring_unpublished; /* pushed, not yet visible to the sidecar */
    int64_t ring_retry_us;     /* no new registration before this time */
};
static __thread struct thread_state T;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

void osp_set_log_cb(osp_log_cb cb, void *ud) {
    log_cb = cb;
    log_ud = ud;
}

void osp__log(osp_log_level_t level, const char *fmt, ...) {
    if (!log_cb)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_cb(level, msg, log_ud);
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t count_lines(const char *p, size_t n) {
    size_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

static void add(atomic_uint_fast64_t *ctr, uint64_t n) {
    if (n)
        atomic_fetch_add_explicit(ctr, n, memory_order_relaxed);
}

static int new_socket(void) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        int sz = SOCKET_SNDBUF;
        (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    return s;
}

/* Connect a new socket and move it onto G.fd. Never blocks: a Unix socket
 * connect completes or fails at once, and the lock is only try-locked. */
static bool reconnect(unsigned seen_gen) {
    int64_t now = now_us();
    if (now < atomic_load(&G.next_connect_us))
        return false;
    if (pthread_mutex_trylock(&G.connect_lock) != 0)
        return false;
    bool ok = false;
    if (atomic_load(&G.conn_gen) != seen_gen) {
        ok = true; /* another thread reconnected meanwhile */
        goto out;
    }
    atomic_store(&G.next_connect_us, now + RECONNECT_EVERY_US);
    int s = new_socket();
    if (s < 0)
        goto out;
    if (connect(s, (struct sockaddr *)&G.addr, sizeof G.addr) == 0 &&
        dup3(s, G.fd, O_CLOEXEC) >= 0) {
        ok = true;
        atomic_fetch_add(&G.conn_gen, 1);
        if (!atomic_exchange(&G.connected, true))
            osp__log(OSP_LOG_INFO, "connected to osprofiler-sidecar at %s",
                     G.addr.sun_path);
    } else if (atomic_exchange(&G.connected, false)) {
        osp__log(OSP_LOG_WARN,
                 "osprofiler-sidecar at %s unreachable (%s); trace points are dropped "
                 "and counted until it is back",
                 G.addr.sun_path, strerror(errno));
    }
    close(s);
out:
    pthread_mutex_unlock(&G.connect_lock);
    return ok;
}

/* Send the batch as hop frames. Returns how many bytes were consumed. */
static size_t flush_sidecar(const char *d, size_t len) {
    size_t off = 0;
    int tries = 0;
    /* Known to be disconnected and not yet time to retry: drop at once, with
     * no system call (reconnect() only reads the clock then). */
    if (!atomic_load(&G.connected) && !reconnect(atomic_load(&G.conn_gen))) {
        add(&G.dropped_no_sidecar, count_lines(d, len));
        return len;
    }
    while (off < len) {
        /* Gather whole records up to FRAME_TARGET. */
        size_t span = 0, count = 0;
        while (off + span < len) {
            const char *nl = memchr(d + off + span, '\n', len - off - span);
            size_t rec_end = (size_t)(nl - (d + off)) + 1;
            if (count && G.hop_header_len + rec_end > FRAME_TARGET)
                break;
            span = rec_end;
            count++;
        }
        if (G.hop_header_len + span > OSP_HOP_MAX_FRAME) {
            add(&G.dropped_oversize, count); /* a single record, too big */
            off += span;
            continue;
        }
        unsigned gen = atomic_load(&G.conn_gen);
        struct iovec iov[2] = {{G.hop_header, G.hop_header_len},
                               {(void *)(d + off), span}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r = sendmsg(G.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0) {
            add(&G.sent, count);
            off += span;
            continue;
        }
        switch (errno) {
        case EINTR:
            continue;
        case EAGAIN:
        case ENOBUFS:
            return off; /* the sidecar lags: keep the rest for later */
        case ENOTCONN:
        case EPIPE:
        case ECONNRESET:
        case ECONNREFUSED:
        case EDESTADDRREQ:
            atomic_store(&G.connected, false);
            if (tries++ < 2 && reconnect(gen))
                continue;
            add(&G.dropped_no_sidecar, count_lines(d + off, len - off));
            return len;
        case EMSGSIZE:
            add(&G.dropped_oversize, count);
            off += span;
            continue;
        default:
            add(&G.dropped_io, count);
            off += span;
            continue;
        }
    }
    return off;
}

static size_t flush_file(const char *d, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t r = write(G.fd, d + off, len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            add(&G.dropped_io, count_lines(d + off, len - off));
            return len;
        }
        off += (size_t)r;
    }
    add(&G.sent, count_lines(d, len));
    return len;
}

static void ring_account(void) {
    add(&G.emitted, T.ring_points);
    add(&G.sent, T.ring_points);
    T.ring_points = 0;
}

/* Give up the thread's ring. ours: false in a forked child, where the
 * mapping is the parent's thread's (just let go of it). lost: no sidecar is
 * connected to read what is left, so it is counted. */
static void ring_drop(bool ours, bool lost) {
    if (!T.has_ring)
        return;
    if (ours) {
        osp__ring_publish(&T.ring);
        T.ring_unpublished = 0;
        ring_account();
        if (lost)
            add(&G.lost_unread, osp__ring_pending(&T.ring));
    }
    osp__ring_destroy(&T.ring, ours);
    T.has_ring = false;
}

/* Drop a batch that belongs to another process or another setup. */
static void check_generation(void) {
    unsigned fg = osp__fork_generation(), sg = atomic_load(&G.setup_gen);
    if (T.fork_gen != fg || T.setup_gen != sg) {
        ring_drop(T.fork_gen == fg, false);
        T.batch.len = 0;
        T.points = 0;
        T.ring_points = 0;
        T.ring_retry_us = 0;
        T.fork_gen = fg;
        T.setup_gen = sg;
    }
}

/* Hand a ring to the sidecar: a header-only frame with OSP_HOP_FLAG_RING
 * and the memfd + eventfd attached. Also used after a reconnect, so a
 * restarted sidecar continues where the old one stopped reading. */
static bool ring_send(const osp_ring_t *r) {
    char hdr[OSP_HOP_HEADER_FIXED + OSP_HOP_MAX_PUBLISHER];
    memcpy(hdr, G.hop_header, G.hop_header_len);
    hdr[5] = OSP_HOP_FLAG_RING;
    struct iovec iov = {hdr, G.hop_header_len};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {r->mem_fd, r->event_fd};
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    return sendmsg(G.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0;
}

/* Make sure the thread's ring is known to the current sidecar connection. */
static void ring_register(int64_t now) {
    if (now < T.ring_retry_us || !atomic_load(&G.connected))
        return;
    T.ring_retry_us = now + RING_RETRY_US;
    unsigned gen = atomic_load(&G.conn_gen);
    if (T.has_ring) {
        if (ring_send(&T.ring))
            T.ring_conn_gen = gen;
        return;
    }
    osp_ring_t r;
    if (osp__ring_create(&r, G.ring_size) != 0)
        return;
    if (!ring_send(&r)) {
        osp__ring_destroy(&r, false);
        return;
    }
    T.ring = r;
    T.has_ring = true;
    T.ring_conn_gen = gen;
}

/* Detect a sidecar that went away while we only wrote to rings (no send
 * would have told us): at most every LIVENESS_EVERY_US, process-wide. */
static void check_liveness(int64_t now) {
    int64_t next = atomic_load(&G.next_liveness_us);
    if (now < next || !atomic_compare_exchange_strong(&G.next_liveness_us, &next,
                                                      now + LIVENESS_EVERY_US))
        return;
    char c;
    unsigned gen = atomic_load(&G.conn_gen);
    ssize_t r = recv(G.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        atomic_store(&G.connected, false);
        reconnect(gen);
    }
}

/* Try the ring for the record just appended at b[start..]. */
static bool ring_try(osp_buf_t *b, size_t start, size_t depth) {
    int64_t now = 0;
    if (depth == 0 || !T.has_ring) {
        now = now_us();
        check_liveness(now);
    }
    if (!T.has_ring || T.ring_conn_gen != atomic_load(&G.conn_gen)) {
        /* New, or the sidecar restarted: (re)register. Meanwhile an attached
         * ring keeps buffering: the next sidecar reads what the last left. */
        if (!now)
            now = now_us();
        ring_register(now);
        if (!T.has_ring)
            return false;
    }
    if (!osp__ring_attached(&T.ring))
        return false;
    if (start != 0)
        return false; /* older points wait in the batch: keep their order */
    if (!osp__ring_push(&T.ring, b->data + start, (uint32_t)(b->len - start)))
        return false; /* full: the socket path takes it */
    b->len = start;
    /* Publishing shares cache lines with the sidecar: do it when the
     * request ends, and every RING_PUBLISH_EVERY points of a long one. */
    if (depth == 0 || ++T.ring_unpublished >= RING_PUBLISH_EVERY) {
        osp__ring_publish(&T.ring);
        T.ring_unpublished = 0;
    }
    T.ring_points++;
    if (depth == 0 || T.ring_points >= 256)
        ring_account();
    return true;
}

static int flush_thread(void) {
    check_generation();
    if (T.batch.len == 0)
        return OSP_OK;
    size_t done = 0;
    switch (G.kind) {
    case NOTIFIER_SIDECAR:
        done = flush_sidecar(T.batch.data, T.batch.len);
        break;
    case NOTIFIER_FILE:
        done = flush_file(T.batch.data, T.batch.len);
        break;
    case NOTIFIER_NONE:
        done = T.batch.len;
        break;
    }
    uint64_t left =
        done < T.batch.len ? count_lines(T.batch.data + done, T.batch.len - done) : 0;
    add(&G.emitted, T.points - left);
    T.points = left;
    osp__buf_consume(&T.batch, done);
    return T.batch.len ? -EAGAIN : OSP_OK;
}

int osp_flush(void) {
    if (T.has_ring && osp__ring_unpublished(&T.ring)) {
        osp__ring_publish(&T.ring);
        T.ring_unpublished = 0;
    }
    ring_account();
    return flush_thread();
}

static void thread_exit(void *unused) {
    (void)unused;
    T.key_set = false;
    osp__profiler_release();
    flush_thread();
    ring_drop(true, !atomic_load(&G.connected)); /* else the sidecar drains it */
    osp__buf_free(&T.batch);
}

static void after_fork_child(void) {
    osp__ids_after_fork();
    pthread_mutex_init(&G.connect_lock, NULL);
    if (G.kind == NOTIFIER_SIDECAR && G.fd >= 0) {
        /* Our own connection: do not interleave with the parent's. */
        int s = new_socket();
        if (s >= 0) {
            dup3(s, G.fd, O_CLOEXEC);
            close(s);
        }
        atomic_store(&G.next_connect_us, 0);
        atomic_fetch_add(&G.conn_gen, 1);
        atomic_store(&G.connected, false);
    }
}

static void init_once(void) {
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(NULL, NULL, after_fork_child);
}

void osp__thread_register(void) {
    if (T.key_set)
        return;
    pthread_once(&once, init_once);
    /* The value only needs to be non-NULL for the destructor to run. */
    pthread_setspecific(exit_key, &T);
    T.key_set = true;
}

osp_buf_t *osp__emit_buffer(void) {
    if (G.kind == NOTIFIER_NONE)
        return NULL;
    check_generation();
    osp__thread_register();
    return &T.batch;
}

void osp__emit_abort(osp_buf_t *b, size_t start) {
    b->len = start;
    b->failed = false;
}

void osp__emit_commit(osp_buf_t *b, size_t start, size_t depth) {
    osp__buf_putc(b, '\n');
    if (b->failed) {
        osp__emit_abort(b, start);
        add(&G.dropped_nomem, 1);
        return;
    }
    if (G.ring_size && G.kind == NOTIFIER_SIDECAR && ring_try(b, start, depth))
        return;
    size_t rec = b->len - start;
    T.points++;
    if (depth == 0 || b->len >= FLUSH_BYTES || b->len > G.cfg.thread_buffer)
        flush_thread();
    if (b->len > G.cfg.thread_buffer && b->len >= rec) {
        /* Still over the cap: the sidecar lags. Drop this newest point. */
        b->len -= rec;
        T.points--;
        add(&G.dropped_backpressure, 1);
    }
}

const char *osp__host(void) {
    if (!G.host[0] && gethostname(G.host, sizeof G.host - 1) != 0)
        strcpy(G.host, "localhost");
    return G.host;
}
const char *osp__host_json(size_t *len) {
    *len = G.host_json.len;
    return G.host_json.data;
}
const char *osp__payload_tail(size_t *len) {
    *len = G.payload_tail.len;
    return G.payload_tail.data;
}

/* Serialise once what every payload repeats. */
static bool build_fragments(void) {
    osp__buf_free(&G.host_json);
    osp__buf_free(&G.payload_tail);
    osp__pyjson_string(&G.host_json, G.host, strlen(G.host));
    osp__buf_puts(&G.payload_tail, ", \"project\": ");
    if (G.project)
        osp__pyjson_string(&G.payload_tail, G.project, strlen(G.project));
    else
        osp__buf_puts(&G.payload_tail, "null");
    osp__buf_puts(&G.payload_tail, ", \"service\": ");
    if (G.service)
        osp__pyjson_string(&G.payload_tail, G.service, strlen(G.service));
    else
        osp__buf_puts(&G.payload_tail, "null");
    osp__buf_putc(&G.payload_tail, '}');
    return !G.host_json.failed && !G.payload_tail.failed;
}

const char *const *osp__hmac_keys(size_t *count) {
    *count = G.cfg.nkeys;
    return (const char *const *)G.cfg.hmac_keys;
}
bool osp__db_enabled(void) { return G.cfg.enabled && G.cfg.trace_sqlalchemy; }
bool osp_is_trace_enabled(void) { return G.is_setup && G.cfg.enabled; }
bool osp_is_db_trace_enabled(void) { return G.is_setup && osp__db_enabled(); }

void osp__count_web(int code) {
    if (code == OSP_OK)
        add(&G.web_traced, 1);
    else if (code <= OSP_ENOHEADER && code >= OSP_EDISABLED)
        add(&G.web_rejected[OSP_ENOHEADER - code], 1);
}

void osp_get_stats(osp_stats_t *out) {
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    out->emitted = atomic_load(&G.emitted);
    out->sent = atomic_load(&G.sent);
    out->dropped_no_sidecar = atomic_load(&G.dropped_no_sidecar);
    out->dropped_backpressure = atomic_load(&G.dropped_backpressure);
    out->dropped_oversize = atomic_load(&G.dropped_oversize);
    out->dropped_io = atomic_load(&G.dropped_io);
    out->dropped_nomem = atomic_load(&G.dropped_nomem);
    out->lost_unread = atomic_load(&G.lost_unread);
    out->web_traced = atomic_load(&G.web_traced);
    for (int i = 0; i < 7; i++)
        out->web_rejected[i] = atomic_load(&G.web_rejected[i]);
}

static int open_notifier(osp_error_t *err) {
    const char *cs = G.cfg.connection_string ? G.cfg.connection_string : "messaging://";
    if (strncmp(cs, "file://", 7) == 0) {
        const char *path = cs + 7;
        if (path[0] != '/')
            return osp__error_set(
                err, OSP_ECONFIG, "connection_string", 0,
                "file:// needs an absolute path (file:///var/log/x.jsonl)");
        G.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (G.fd < 0)
            return osp__error_set(err, OSP_ECONFIG, path, 0, "%s: cannot open: %s", path,
                                  strerror(errno));
        G.kind = NOTIFIER_FILE;
        return OSP_OK;
    }
    if (strncmp(cs, "messaging://", 12) != 0) {
        /* redis://, mongodb://, ... are stores the sidecar's collector
         * serves; a C service always hands its points to the sidecar. */
        osp__log(OSP_LOG_INFO,
                 "connection_string scheme of '%.*s' is served by "
                 "osprofiler-sidecar",
                 (int)(strstr(cs, "://") - cs), cs);
    }
    const char *path = G.cfg.sidecar_socket_set ? G.cfg.sidecar_socket : NULL;
    if (!path)
        path = getenv(OSP_ENV_SIDECAR);
    if (!path || !*path)
        path = OSP_DEFAULT_SIDECAR_SOCKET;
    if (strlen(path) >= sizeof G.addr.sun_path)
        return osp__error_set(err, OSP_ECONFIG, "sidecar_socket", 0,
                              "sidecar socket path longer than %zu bytes",
                              sizeof G.addr.sun_path - 1);
    G.addr.sun_family = AF_UNIX;
    strcpy(G.addr.sun_path, path);
    G.fd = new_socket();
    if (G.fd < 0)
        return osp__error_set(err, -errno, "socket", 0, "socket: %s", strerror(errno));
    G.kind = NOTIFIER_SIDECAR;
    atomic_store(&G.next_connect_us, 0);
    if (!reconnect(atomic_load(&G.conn_gen)))
        osp__log(OSP_LOG_WARN,
                 "osprofiler-sidecar not reachable at %s; trace points are dropped "
                 "and counted until it is",
                 G.addr.sun_path);
    return OSP_OK;
}

int osp_setup(const osp_config_t *cfg, osp_error_t *err) {
    if (!cfg)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL config");
    pthread_once(&once, init_once);
    osp_teardown();
    int rc = osp__config_copy(&G.cfg, cfg);
    if (rc)
        return osp__error_set(err, rc, "", 0, "out of memory");
    osp__host();
    G.service = G.cfg.service ? G.cfg.service : getenv(OSP_ENV_SERVICE);
    G.project = G.cfg.project ? G.cfg.project : getenv(OSP_ENV_PROJECT);
    if (!build_fragments()) {
        osp__config_clear(&G.cfg);
        return osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory");
    }
    const char *publisher = G.cfg.host ? G.cfg.host : G.host;
    G.hop_header_len = osp__hop_header(G.hop_header, publisher, strlen(publisher));
    atomic_fetch_add(&G.setup_gen, 1);
    G.kind = NOTIFIER_NONE;
    G.ring_size = G.cfg.ring_size;
    if (G.cfg.enabled) {
        rc = open_notifier(err);
        if (rc) {
            osp__config_clear(&G.cfg);
            G.kind = NOTIFIER_NONE;
            return rc;
        }
        if (osp_config_uses_default_key(&G.cfg))
            osp__log(OSP_LOG_WARN,
                     "[profiler] hmac_keys contains the well-known default "
                     "SECRET_KEY: anyone can trigger tracing; set a private key");
    }
    G.is_setup = true;
    return OSP_OK;
}

void osp_teardown(void) {
    if (!G.is_setup)
        return;
    flush_thread();
    ring_drop(true, false);
    if (G.fd >= 0)
        close(G.fd);
    G.fd = -1;
    G.kind = NOTIFIER_NONE;
    atomic_store(&G.connected, false);
    osp__config_clear(&G.cfg);
    osp__buf_free(&G.host_json);
    osp__buf_free(&G.payload_tail);
    G.service = G.project = NULL;
    atomic_fetch_add(&G.setup_gen, 1);
    G.is_setup = false;
}
