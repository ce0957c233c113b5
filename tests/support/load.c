/* SPDX-License-Identifier: Apache-2.0 */
/*
 * osp_load - a traced service under load, for the delivery-path tests and
 * benchmarks: threads making start/stop pairs through libosprofiler (or,
 * built with OSP_LOAD_LTTNG, through an LTTng-UST tracepoint pair carrying
 * the same fields), paced or flat out, against a real osprofiler-sidecar.
 *
 *   osp_load pairs --socket S [--threads N] [--pairs M] [--rate R] [--group G]
 *                  [--shape top|nested] [--trace-pairs K]
 *   osp_load visibility --socket S [--trials N] [--hold-ms MS]
 *
 * pairs: each thread makes M pairs of osp_start("db", {"db": {"statement":
 *   "SELECT 1", "params": {}}}) / osp_stop(NULL), at depth 0 (top) or inside
 *   an open "wsgi" point (nested); --rate R paces each thread at R pairs/s
 *   (0: flat out). --trace-pairs K > 0 begins a new trace (osp_clean(), then
 *   osp_init(): a new base_id; nested: its own "wsgi" point) every K pairs,
 *   as a service serving short requests does; 0 (the default) keeps one
 *   trace per thread. The store groups its rows by trace, so the trace
 *   length shapes its work. Paced threads run groups of --group G (10)
 *   pairs, one group per period. Thread CPU time per pair: flat out, the
 *   loop's; paced, measured around each group (the sleeps are not in it)
 *   less the median cost of reading the thread clock. Prints one JSON
 *   object: calls made and their results, thread CPU and wall per
 *   pair, and osp_get_stats() after every thread ended and a final flush -
 *   the left side of the delivery invariant (calls made = delivered +
 *   counted drops).
 * visibility: a request ("wsgi") starts and stays open; the time until the
 *   sidecar's counters (<socket>.ctl) show it received is that trial's start
 *   visibility. N trials in fresh threads (their first point; the first
 *   trial is also the process's first), then N in one thread whose ring the
 *   sidecar reads, each after a quiet spell (the sidecar sleeps). Prints
 *   the latencies (-1: not within --hold-ms).
 *
 * Every wait is bounded.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <osprofiler/osprofiler.h>

#ifdef OSP_LOAD_LTTNG
#include "lttng_pair_tp.h"
#endif

static const char *sock_path;
static long nthreads = 1, npairs = 100000, trials = 5, hold_ms = 300, group = 10;
static double rate = 0;
static long trace_pairs = 0; /* 0: one trace per thread */
static bool nested = false;
static json_t *info;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ backends */

#ifdef OSP_LOAD_LTTNG
/* The same fields a pair of osprofiler points carries: name, the point's
 * and its parent's ids, and the info text. */
static const char info_text[] = "{\"db\": {\"statement\": \"SELECT 1\", \"params\": {}}}";
static const char lt_trace[] = "6c2f1a3e-0d4b-4b7e-9c55-3f1d2e4a5b6c";
static const char lt_parent[] = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d";
static const char *backend_name = "lttng-ust";
static bool pair_once(void) {
    lttng_ust_tracepoint(osp_load, point, "db-start", lt_trace, lt_parent, info_text);
    lttng_ust_tracepoint(osp_load, point, "db-stop", lt_trace, lt_parent, "{}");
    return true;
}
static bool thread_begin(void) { return true; }
static void thread_end(void) {}
static long thread_traces(void) { return 1; }
#else
static const char *backend_name = "libosprofiler";
/* The calling thread's traces begun and pairs made in the current one. */
static _Thread_local long traces, trace_left;
static bool thread_begin(void) {
    trace_left = trace_pairs;
    if (!osp_init("load-key", NULL, NULL) ||
        (nested && osp_start("wsgi", NULL) != OSP_OK))
        return false;
    traces++;
    return true;
}
static void thread_end(void) {
    if (nested)
        osp_stop(NULL);
    osp_clean();
}
static bool pair_once(void) {
    /* Inside the timed loop on purpose: ending a trace and beginning the next
     * is part of what a short-request service pays per pair. */
    if (trace_pairs > 0 && trace_left-- == 0) {
        thread_end();
        thread_begin();
        trace_left--;
    }
    int a = osp_start("db", info);
    int b = osp_stop(NULL);
    return a == OSP_OK && b == OSP_OK;
}
static long thread_traces(void) { return traces; }
#endif

/* ------------------------------------------------------------ pairs */

struct worker {
    pthread_t th;
    long ok, failed, traces;
    int64_t cpu_ns, wall_ns;
};

static pthread_barrier_t go;

/* The pacing loop: n iterations at `rate` per second, each calling fn.
 * Returns the thread CPU time spent in fn: flat out, the whole loop's; paced,
 * the sum over iterations (so sleeping costs nothing in the figure) minus
 * what reading the clock itself costs. */
static int64_t clock_cost_ns;

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median thread CPU time of an empty measured interval. */
static void calibrate_clock(void) {
    enum { N = 2001 };
    static int64_t v[N];
    for (int i = 0; i < N; i++) {
        int64_t c0 = thread_cpu_ns();
        v[i] = thread_cpu_ns() - c0;
    }
    qsort(v, N, sizeof *v, cmp_i64);
    clock_cost_ns = v[N / 2];
}

static int64_t paced(long n, bool (*fn)(void), long *ok, long *failed) {
    if (rate <= 0) {
        int64_t c0 = thread_cpu_ns();
        for (long i = 0; i < n; i++)
            fn() ? (*ok)++ : (*failed)++;
        return thread_cpu_ns() - c0;
    }
    /* Groups of `group` pairs, one group per period: reading the thread CPU
     * clock is a system call (~0.4 us here), so it is paid once a group. */
    int64_t t0 = mono_ns(), period = (int64_t)(1e9 * (double)group / rate), cpu = 0;
    for (long i = 0, k = 0; i < n; k++) {
        int64_t due = t0 + k * period;
        if (mono_ns() < due) {
            struct timespec ts = {due / 1000000000, due % 1000000000};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
        int64_t c0 = thread_cpu_ns();
        for (long g = 0; g < group && i < n; g++, i++)
            fn() ? (*ok)++ : (*failed)++;
        cpu += thread_cpu_ns() - c0 - clock_cost_ns;
    }
    return cpu;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    bool ready = thread_begin();
    pthread_barrier_wait(&go);
    if (!ready) {
        w->failed = npairs;
        return NULL;
    }
    int64_t t0 = mono_ns();
    w->cpu_ns = paced(npairs, pair_once, &w->ok, &w->failed);
    w->wall_ns = mono_ns() - t0;
    thread_end();
    w->traces = thread_traces();
    return NULL;
}

static int do_pairs(void) {
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    if (!w)
        return 1;
    calibrate_clock();
    pthread_barrier_init(&go, NULL, (unsigned)nthreads);
    for (long i = 0; i < nthreads; i++)
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    long ok = 0, failed = 0, ntraces = 0;
    int64_t cpu = 0, wall = 0;
    for (long i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        ntraces += w[i].traces;
        cpu += w[i].cpu_ns;
        if (w[i].wall_ns > wall)
            wall = w[i].wall_ns;
    }
    long pairs = nthreads * npairs;
    double cpu_pair = pairs ? (double)cpu / (double)pairs : 0;
    printf("{\"backend\": \"%s\", \"threads\": %ld, \"pairs_per_thread\": %ld, "
           "\"rate_per_thread\": %.0f, \"shape\": \"%s\", \"trace_pairs\": %ld, "
           "\"traces\": %ld, \"pairs_ok\": %ld, "
           "\"pairs_failed\": %ld, \"cpu_ns_per_pair\": %.1f, \"clock_cost_ns\": %" PRId64
           ", "
           "\"wall_s\": %.3f, \"wall_ns_per_pair\": %.1f",
           backend_name, nthreads, npairs, rate, nested ? "nested" : "top", trace_pairs,
           ntraces, ok, failed, cpu_pair, clock_cost_ns, (double)wall / 1e9,
           npairs ? (double)wall / (double)npairs : 0);
#ifndef OSP_LOAD_LTTNG
    /* Points made: 2 a pair, plus the wsgi start/stop of each nested trace.
     * Then hand over what is still buffered and read the counters. */
    long calls = 2 * ok + (nested ? 2 * ntraces : 0);
    /* What the exited threads left buffered (the sidecar lagged) is handed
     * over by a flush, as a service would at shutdown; bounded. */
    int64_t until = mono_ns() + 60 * (int64_t)1000000000;
    while (osp_flush() == -EAGAIN && mono_ns() < until)
        usleep(1000);
    osp_stats_t st;
    osp_get_stats(&st);
    printf(", \"calls\": %ld, \"stats\": {\"emitted\": %" PRIu64 ", \"sent\": %" PRIu64
           ", \"buffered\": %" PRIu64 ", \"dropped_no_sidecar\": %" PRIu64
           ", \"dropped_backpressure\": %" PRIu64 ", \"dropped_oversize\": %" PRIu64
           ", \"dropped_io\": %" PRIu64 ", \"dropped_nomem\": %" PRIu64
           ", \"lost_unread\": %" PRIu64 "}",
           calls, st.emitted, st.sent, st.buffered, st.dropped_no_sidecar,
           st.dropped_backpressure, st.dropped_oversize, st.dropped_io, st.dropped_nomem,
           st.lost_unread);
#endif
    printf("}\n");
    free(w);
    return failed ? 3 : 0;
}

/* ------------------------------------------------------------ visibility */

/* "received" from the sidecar's control socket; -1 when unreadable. */
static long long sidecar_received(void) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s.ctl", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char buf[4096];
    size_t total = 0;
    struct pollfd pf = {fd, POLLIN, 0};
    while (total < sizeof buf - 1 && poll(&pf, 1, 2000) == 1) {
        ssize_t n = read(fd, buf + total, sizeof buf - 1 - total);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    close(fd);
    buf[total] = '\0';
    const char *p = strstr(buf, "\"received\": ");
    return p ? strtoll(p + 12, NULL, 10) : -1;
}

/* Start a request ("wsgi") and keep it open until the sidecar counted it;
 * returns the milliseconds that took, -1 when not within hold_ms. */
static double start_visibility(void) {
    double ms = -1;
#ifndef OSP_LOAD_LTTNG
    long long before = sidecar_received();
    int64_t t0 = mono_ns();
    if (osp_start("wsgi", NULL) != OSP_OK)
        return -1;
    /* The request runs on: its start must reach the sidecar meanwhile. */
    while (mono_ns() - t0 < (int64_t)hold_ms * 1000000) {
        if (sidecar_received() > before) {
            ms = (double)(mono_ns() - t0) / 1e6;
            break;
        }
        usleep(200);
    }
    osp_stop(NULL);
#endif
    return ms;
}

#ifndef OSP_LOAD_LTTNG
/* A fresh thread's first point (the first trial: the process's first too). */
static void *fresh_main(void *arg) {
    double *ms = arg;
    *ms = -1;
    if (osp_init("load-key", NULL, NULL)) {
        *ms = start_visibility();
        osp_clean();
    }
    return NULL;
}

/* A thread whose ring the sidecar reads, after a quiet spell long enough for
 * the sidecar to sleep. */
static void *warm_main(void *arg) {
    double *ms = arg;
    if (!osp_init("load-key", NULL, NULL))
        return NULL;
    for (long i = 0; i < trials; i++) {
        osp_start("warm-up", NULL);
        osp_stop(NULL);
        usleep(300000);
        ms[i] = start_visibility();
    }
    osp_clean();
    return NULL;
}
#else
static void *fresh_main(void *arg) {
    *(double *)arg = -1;
    return NULL;
}
static void *warm_main(void *arg) { return arg; }
#endif

static int print_trials(const char *name, const double *ms, long n, bool last) {
    int rc = 0;
    printf("\"%s\": [", name);
    for (long i = 0; i < n; i++) {
        printf("%s%.3f", i ? ", " : "", ms[i]);
        if (ms[i] < 0)
            rc = 3;
    }
    printf("]%s", last ? "" : ", ");
    return rc;
}

static int do_visibility(void) {
    double *fresh = calloc((size_t)trials, sizeof *fresh);
    double *warm = calloc((size_t)trials, sizeof *warm);
    if (!fresh || !warm)
        return 1;
    pthread_t th;
    for (long i = 0; i < trials; i++) {
        pthread_create(&th, NULL, fresh_main, &fresh[i]);
        pthread_join(th, NULL);
        usleep(200000); /* let the sidecar go quiet */
    }
    pthread_create(&th, NULL, warm_main, warm);
    pthread_join(th, NULL);
    printf("{\"hold_ms\": %ld, ", hold_ms);
    int rc = print_trials("fresh_thread_ms", fresh, trials, false);
    rc |= print_trials("warm_thread_ms", warm, trials, true);
    printf("}\n");
    free(fresh);
    free(warm);
    return rc;
}

/* ------------------------------------------------------------ main */

static void usage(void) {
    fputs("usage: osp_load pairs --socket S [--threads N] [--pairs M] [--rate R]"
          " [--group G] [--shape top|nested]\n"
          "                      [--trace-pairs K]\n"
          "       osp_load visibility --socket S [--trials N] [--hold-ms MS]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--socket"))
            sock_path = v;
        else if (!strcmp(a, "--threads"))
            nthreads = atol(v);
        else if (!strcmp(a, "--pairs"))
            npairs = atol(v);
        else if (!strcmp(a, "--rate"))
            rate = atof(v);
        else if (!strcmp(a, "--shape"))
            nested = !strcmp(v, "nested");
        else if (!strcmp(a, "--group"))
            group = atol(v);
        else if (!strcmp(a, "--trace-pairs"))
            trace_pairs = atol(v);
        else if (!strcmp(a, "--trials"))
            trials = atol(v);
        else if (!strcmp(a, "--hold-ms"))
            hold_ms = atol(v);
        else
            usage();
    }
    if (nthreads < 1 || npairs < 0 || group < 1 || trace_pairs < 0)
        usage();
#ifndef OSP_LOAD_LTTNG
    if (!sock_path)
        usage();
    osp_config_t *cfg = osp_config_new();
    osp_config_set_enabled(cfg, true);
    osp_config_set_hmac_keys(cfg, "load-key");
    osp_config_set_project(cfg, "load");
    osp_config_set_service(cfg, "load-api");
    osp_config_set_sidecar_socket(cfg, sock_path);
    osp_error_t err;
    if (osp_setup(cfg, &err) != OSP_OK) {
        fprintf(stderr, "osp_load: osp_setup: %s\n", err.text);
        return 1;
    }
    osp_config_free(cfg);
    info = json_pack("{s{s:s,s:{}}}", "db", "statement", "SELECT 1", "params");
#endif
    int rc;
    if (!strcmp(cmd, "pairs"))
        rc = do_pairs();
    else if (!strcmp(cmd, "visibility"))
        rc = do_visibility();
    else
        usage();
#ifndef OSP_LOAD_LTTNG
    json_decref(info);
    osp_teardown();
#endif
    return rc;
}
