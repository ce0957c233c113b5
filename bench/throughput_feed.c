/* SPDX-License-Identifier: Apache-2.0 */
/*
 * throughput_feed - feeds osprofiler-sidecar for bench/throughput.sh.
 *
 *   throughput_feed burst --socket S --count N [--frame BYTES] [--pid SIDECAR]
 *                         [--broker-pid PID] [--timeout S]
 *   throughput_feed rate  --socket S --rate R --seconds S [--pid SIDECAR]
 *   throughput_feed lib   --socket S --rate R --seconds S [--pid SIDECAR]
 *
 * burst: N trace points (throughput_common.h: the same point and so the
 *   same ~630-byte notification as throughput_raw) in hop frames of up to
 *   --frame bytes (default 65536) over SOCK_SEQPACKET, exactly as
 *   docs/wire.md describes (own encoder, not libosprofiler's), as fast as the
 *   sidecar accepts them: MSG_DONTWAIT, and on EAGAIN poll(POLLOUT) and send
 *   the same frame again (nothing is dropped). Then it reads the sidecar's
 *   counters from <socket>.ctl (what "osprofiler-sidecar --stats" prints)
 *   every 2 ms until "confirmed" grew by N. msgs/s = N / (all confirmed -
 *   first point sent). It first waits until the sidecar reports
 *   "connected": true. Samples the sidecar's VmRSS every 50 ms.
 * rate: R points/s for S seconds, one point per frame (what a top-level
 *   osp_stop() sends without a ring), each carrying t_send_ns = CLOCK_REALTIME
 *   just before its send().
 * lib: the same load through libosprofiler itself (default ring size, so
 *   the shared-memory ring when the sidecar attaches it): R/2 pairs/s of
 *   osp_start("db", {"db": {"statement": "SELECT 1", "params": {}}}) /
 *   osp_stop({"t_send_ns": now}),
 *   each pair at depth 0 (published at the stop), so R points/s.
 *
 * Prints one JSON object on stdout. Every wait is bounded.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>
#include <osprofiler/osprofiler.h>

#include "throughput_common.h"

#define MAX_FRAME (256 * 1024)

static const char *sock_path = NULL;
static long count = 100000, frame_max = 65536, pid = 0, broker_pid = 0;
static double rate = 1000, seconds = 10, timeout_s = 300;

struct ctl {
    long long received, published, confirmed, spooled, dropped_invalid, dropped_other,
        queued;
    bool connected;
};

static long long field(const char *js, const char *key) {
    const char *p = strstr(js, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* One read of <socket>.ctl. */
static bool read_ctl(struct ctl *out) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s.ctl", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return false;
    }
    struct pollfd pf = {fd, POLLIN, 0};
    char buf[2048];
    size_t total = 0;
    while (total < sizeof buf - 1 && poll(&pf, 1, 2000) == 1) {
        ssize_t n = read(fd, buf + total, sizeof buf - 1 - total);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    close(fd);
    buf[total] = '\0';
    if (!strstr(buf, "\"confirmed\""))
        return false;
    out->received = field(buf, "\"received\": ");
    out->published = field(buf, "\"published\": ");
    out->confirmed = field(buf, "\"confirmed\": ");
    out->spooled = field(buf, "\"spooled\": ");
    out->dropped_invalid = field(buf, "\"invalid\": ");
    /* the sidecar's other drops ("spool" comes first inside "dropped") */
    out->dropped_other = field(buf, "\"spool\": ") + field(buf, "\"shutdown\": ") +
                         field(buf, "\"nomem\": ");
    out->queued = field(buf, "\"queued\": ");
    out->connected = strstr(buf, "\"connected\": true") != NULL;
    return true;
}

/* VmRSS samples of the sidecar. */
static long rss_max = -1, rss_n = 0, rss_samples[20000];
static int64_t rss_next = 0;
static void sample_rss(bool force) {
    int64_t now = tp_mono_ns();
    if (!pid || (!force && now < rss_next))
        return;
    rss_next = now + 50000000;
    long v = tp_proc_kib(pid, "VmRSS:");
    if (v < 0)
        return;
    if (v > rss_max)
        rss_max = v;
    if (rss_n < (long)(sizeof rss_samples / sizeof *rss_samples))
        rss_samples[rss_n++] = v;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long rss_median(void) {
    if (!rss_n)
        return -1;
    long *s = malloc((size_t)rss_n * sizeof *s);
    memcpy(s, rss_samples, (size_t)rss_n * sizeof *s);
    qsort(s, (size_t)rss_n, sizeof *s, cmp_long);
    long m = s[rss_n / 2];
    free(s);
    return m;
}

static int open_hop(void) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "throughput_feed: %s: %s\n", sock_path, strerror(errno));
        exit(1);
    }
    int sz = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return fd;
}

/* docs/wire.md: "OSPH", version 1, flags 0, u16le publisher length, publisher. */
static size_t hop_header(char *out) {
    size_t p = strlen(TP_HOST);
    memcpy(out, "OSPH", 4);
    out[4] = 1;
    out[5] = 0;
    out[6] = (char)(p & 0xff);
    out[7] = (char)(p >> 8);
    memcpy(out + 8, TP_HOST, p);
    return 8 + p;
}

/* Send a frame, waiting (poll) while the sidecar's socket buffer is full. */
static long eagains = 0;
static void send_frame(int fd, const char *buf, size_t len, int64_t deadline) {
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            eagains++;
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 100);
            sample_rss(false);
            if (tp_mono_ns() > deadline) {
                fprintf(stderr,
                        "throughput_feed: the sidecar accepts nothing: timed out\n");
                exit(1);
            }
            continue;
        }
        fprintf(stderr, "throughput_feed: send: %s\n", n < 0 ? strerror(errno) : "short");
        exit(1);
    }
}

static bool wait_connected(struct ctl *c) {
    int64_t end = tp_mono_ns() + 30000000000LL;
    while (tp_mono_ns() < end) {
        if (read_ctl(c) && c->connected)
            return true;
        usleep(20000);
    }
    return false;
}

static int do_burst(void) {
    struct ctl c0, c;
    if (!wait_connected(&c0)) {
        fprintf(stderr, "throughput_feed: the sidecar did not report connected\n");
        return 1;
    }
    int fd = open_hop();
    char *frame = malloc(MAX_FRAME), point[1024];
    if (!frame)
        return 1;
    size_t hl = hop_header(frame), len = hl;
    uint64_t salt = (uint64_t)tp_real_ns();
    long frames = 0;
    tp_cpu_snap_t snap0 = tp_cpu_snap();
    double scpu0 = tp_proc_cpu_s(pid), bcpu0 = tp_proc_cpu_s(broker_pid);
    sample_rss(true);
    int64_t t0 = tp_mono_ns(), deadline = t0 + (int64_t)(timeout_s * 1e9);
    for (long i = 0; i < count; i++) {
        size_t pl =
            tp_point(point, sizeof point, salt, (uint64_t)i, "db-start", tp_real_ns());
        if (len + pl + 1 > (size_t)frame_max) {
            send_frame(fd, frame, len, deadline);
            frames++;
            len = hl;
            sample_rss(false);
        }
        memcpy(frame + len, point, pl);
        frame[len + pl] = '\n';
        len += pl + 1;
    }
    if (len > hl) {
        send_frame(fd, frame, len, deadline);
        frames++;
    }
    int64_t t_sent = tp_mono_ns();
    bool ok = false, dropped = false;
    memset(&c, 0, sizeof c);
    /* Confirmed when the last frame was accepted: splits the run into the
     * phase where intake and publisher both work and the drain after it. */
    long long at_sent = read_ctl(&c) ? c.confirmed - c0.confirmed : -1;
    while (tp_mono_ns() < deadline) {
        if (read_ctl(&c)) {
            if (c.confirmed - c0.confirmed >= count) {
                ok = true;
                break;
            }
            if (c.dropped_other > c0.dropped_other ||
                c.dropped_invalid > c0.dropped_invalid) {
                dropped = true;
                if (c.confirmed - c0.confirmed + (c.dropped_other - c0.dropped_other) +
                        (c.dropped_invalid - c0.dropped_invalid) >=
                    count)
                    break;
            }
        }
        sample_rss(false);
        usleep(2000);
    }
    int64_t t1 = tp_mono_ns();
    double scpu1 = tp_proc_cpu_s(pid), bcpu1 = tp_proc_cpu_s(broker_pid),
           mb = tp_cpu_since(&snap0);
    sample_rss(true);
    long rss_done = tp_proc_kib(pid, "VmRSS:");
    usleep(1000000); /* drained and idle for 1 s */
    long rss_idle = tp_proc_kib(pid, "VmRSS:"), hwm = tp_proc_kib(pid, "VmHWM:");
    close(fd);
    double secs = (double)(t1 - t0) / 1e9;
    long long conf = c.confirmed - c0.confirmed;
    printf("{\"mode\": \"burst\", \"count\": %ld, \"frame_max\": %ld, \"frames\": %ld, "
           "\"ok\": %s, \"dropped\": %s, \"confirmed\": %lld, \"seconds\": %.6f, "
           "\"msgs_per_s\": %.1f, \"send_seconds\": %.6f, \"eagain\": %ld, "
           "\"received\": %lld, \"published\": %lld, \"spooled\": %lld, "
           "\"dropped_invalid\": %lld, \"dropped_other\": %lld, "
           "\"sidecar_cpu_s\": %.3f, \"broker_cpu_s\": %.3f, "
           "\"rss_start_kib\": %ld, \"rss_max_kib\": %ld, \"rss_median_kib\": %ld, "
           "\"rss_done_kib\": %ld, \"rss_idle_1s_kib\": %ld, \"vmhwm_kib\": %ld, "
           "\"confirmed_at_sent\": %lld, \"rate_while_sending\": %.1f, "
           "\"rate_after_sending\": %.1f, \"feeder_cpu_s\": %.3f, "
           "\"machine_cpu_pct\": %.1f}\n",
           count, frame_max, frames, ok ? "true" : "false", dropped ? "true" : "false",
           conf, secs, (double)conf / secs, (double)(t_sent - t0) / 1e9, eagains,
           c.received - c0.received, c.published - c0.published, c.spooled - c0.spooled,
           c.dropped_invalid - c0.dropped_invalid, c.dropped_other - c0.dropped_other,
           scpu0 >= 0 && scpu1 >= 0 ? scpu1 - scpu0 : -1.0,
           bcpu0 >= 0 && bcpu1 >= 0 ? bcpu1 - bcpu0 : -1.0, rss_n ? rss_samples[0] : -1,
           rss_max, rss_median(), rss_done, rss_idle, hwm, at_sent,
           at_sent >= 0 ? (double)at_sent / ((double)(t_sent - t0) / 1e9) : -1.0,
           at_sent >= 0 && t1 > t_sent
               ? (double)(conf - at_sent) / ((double)(t1 - t_sent) / 1e9)
               : -1.0,
           tp_proc_cpu_s((long)getpid()), 100.0 * mb / secs);
    free(frame);
    return ok ? 0 : 3;
}

/* Sleep until the absolute monotonic time t (ns). */
static void sleep_until(int64_t t) {
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int do_paced(bool lib) {
    struct ctl c0, c;
    if (!wait_connected(&c0)) {
        fprintf(stderr, "throughput_feed: the sidecar did not report connected\n");
        return 1;
    }
    int fd = -1;
    json_t *start_info = NULL;
    if (lib) {
        osp_config_t *cfg = osp_config_new();
        osp_config_set_enabled(cfg, true);
        osp_config_set_hmac_keys(cfg, "bench-key");
        osp_config_set_project(cfg, TP_PROJECT);
        osp_config_set_service(cfg, TP_SERVICE);
        osp_config_set_host(cfg, TP_HOST);
        osp_config_set_sidecar_socket(cfg, sock_path);
        osp_error_t err;
        if (osp_setup(cfg, &err) != 0 || !osp_init("bench-key", NULL, NULL)) {
            fprintf(stderr, "throughput_feed: osp_setup: %s\n", err.text);
            return 1;
        }
        osp_config_free(cfg);
        start_info =
            json_pack("{s{s:s,s:{}}}", "db", "statement", TP_STATEMENT, "params");
        /* Let the library connect and register its ring before timing. */
        for (int i = 0; i < 50; i++) {
            osp_start("warmup", NULL);
            osp_stop(NULL);
            usleep(10000);
        }
    } else {
        fd = open_hop();
    }
    long per_event = lib ? 2 : 1; /* points per tick */
    double ev_rate = rate / (double)per_event;
    long events = (long)(ev_rate * seconds), late = 0;
    int64_t period = (int64_t)(1e9 / ev_rate);
    char frame[4096], point[1024];
    size_t hl = hop_header(frame);
    uint64_t salt = (uint64_t)tp_real_ns();
    tp_cpu_snap_t snap0 = tp_cpu_snap();
    double scpu0 = tp_proc_cpu_s(pid), bcpu0 = tp_proc_cpu_s(broker_pid);
    sample_rss(true);
    int64_t t0 = tp_mono_ns() + 1000000, deadline = t0 + (int64_t)(seconds * 3e9);
    for (long i = 0; i < events; i++) {
        int64_t due = t0 + i * period;
        if (tp_mono_ns() > due + period)
            late++;
        sleep_until(due);
        if (lib) {
            osp_start("db", start_info);
            json_t *si = json_pack("{s:I}", "t_send_ns", (json_int_t)tp_real_ns());
            osp_stop(si);
            json_decref(si);
        } else {
            size_t pl =
                tp_point(point, sizeof point, salt, (uint64_t)i, "db-stop", tp_real_ns());
            memcpy(frame + hl, point, pl);
            frame[hl + pl] = '\n';
            send_frame(fd, frame, hl + pl + 1, deadline);
        }
        sample_rss(false);
    }
    int64_t t1 = tp_mono_ns();
    double scpu1 = tp_proc_cpu_s(pid), mb = tp_cpu_since(&snap0),
           bcpu = tp_proc_cpu_s(broker_pid) - bcpu0;
    /* Wait (bounded) until the sidecar confirmed what it received. */
    int64_t end = tp_mono_ns() + 10000000000LL;
    memset(&c, 0, sizeof c);
    while (tp_mono_ns() < end) {
        if (read_ctl(&c) && c.confirmed >= c.received && c.queued == 0)
            break;
        usleep(5000);
    }
    long hwm = tp_proc_kib(pid, "VmHWM:");
    osp_stats_t st;
    memset(&st, 0, sizeof st);
    if (lib) {
        osp_get_stats(&st);
        osp_clean();
        osp_teardown();
        json_decref(start_info);
    } else {
        close(fd);
    }
    printf(
        "{\"mode\": \"%s\", \"rate\": %.0f, \"seconds\": %.3f, \"points\": %ld, "
        "\"late_ticks\": %ld, \"eagain\": %ld, \"received\": %lld, \"confirmed\": %lld, "
        "\"lib_sent\": %llu, \"lib_dropped\": %llu, \"sidecar_cpu_s\": %.3f, "
        "\"sidecar_cpu_pct\": %.1f, \"rss_start_kib\": %ld, \"rss_max_kib\": %ld, "
        "\"rss_median_kib\": %ld, \"vmhwm_kib\": %ld, \"machine_cpu_pct\": %.1f, "
        "\"broker_cpu_pct\": %.1f}\n",
        lib ? "lib" : "rate", rate, (double)(t1 - t0) / 1e9, events * per_event, late,
        eagains, c.received - c0.received, c.confirmed - c0.confirmed,
        (unsigned long long)st.sent,
        (unsigned long long)(st.dropped_no_sidecar + st.dropped_backpressure +
                             st.dropped_io + st.dropped_nomem + st.dropped_oversize),
        scpu0 >= 0 && scpu1 >= 0 ? scpu1 - scpu0 : -1.0,
        scpu0 >= 0 && scpu1 >= 0 ? 100.0 * (scpu1 - scpu0) / ((double)(t1 - t0) / 1e9)
                                 : -1.0,
        rss_n ? rss_samples[0] : -1, rss_max, rss_median(), hwm,
        100.0 * mb / ((double)(t1 - t0) / 1e9),
        broker_pid > 0 ? 100.0 * bcpu / ((double)(t1 - t0) / 1e9) : -1.0);
    return 0;
}

static void usage(void) {
    fputs("usage: throughput_feed burst|rate|lib --socket S [--count N] [--frame BYTES]\n"
          "       [--rate R] [--seconds S] [--pid SIDECAR_PID] [--broker-pid PID]\n"
          "       [--timeout S]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--socket"))
            sock_path = v;
        else if (!strcmp(a, "--count"))
            count = atol(v);
        else if (!strcmp(a, "--frame"))
            frame_max = atol(v);
        else if (!strcmp(a, "--rate"))
            rate = atof(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--pid"))
            pid = atol(v);
        else if (!strcmp(a, "--broker-pid"))
            broker_pid = atol(v);
        else if (!strcmp(a, "--timeout"))
            timeout_s = atof(v);
        else
            usage();
    }
    if (!sock_path || count < 1 || frame_max < 1024 || frame_max > MAX_FRAME ||
        rate <= 0 || seconds <= 0)
        usage();
    if (!strcmp(mode, "burst"))
        return do_burst();
    if (!strcmp(mode, "rate"))
        return do_paced(false);
    if (!strcmp(mode, "lib"))
        return do_paced(true);
    usage();
    return 2;
}
