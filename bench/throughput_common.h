/* SPDX-License-Identifier: Apache-2.0 */
/*
 * throughput_common.h - shared by throughput_raw.c and throughput_feed.c: the
 * trace point both benchmarks send, so that the raw rabbitmq-c publisher and
 * the sidecar put the same bytes on the wire (~630-byte notification bodies,
 * the size of a db point's), plus clocks, /proc readers and percentiles.
 *
 * The point is what libosprofiler writes for osp_db_start(): keys name,
 * base_id, trace_id, parent_id, timestamp, info, project, service with
 * json.dumps separators. info carries "t_send_ns" (CLOCK_REALTIME when the
 * point was handed over) so that a consumer can measure the latency.
 */
#ifndef OSP_THROUGHPUT_COMMON_H
#define OSP_THROUGHPUT_COMMON_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TP_HOST      "bench-host"
#define TP_PROJECT   "osprofiler-c-bench"
#define TP_SERVICE   "bench-api"
#define TP_STATEMENT "SELECT 1"
#define TP_PARAMS    "{}"

static inline int64_t tp_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t tp_real_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A uuid4-shaped text from a counter and a salt: unique, and far cheaper than
 * reading /dev/urandom, so the raw publisher's own cost stays minimal. */
static inline void tp_uuid(char out[37], uint64_t salt, uint64_t n) {
    static const char hx[] = "0123456789abcdef";
    uint64_t a = salt ^ (n * 0x9e3779b97f4a7c15ull), b = n ^ (salt << 1);
    char h[32];
    for (int i = 0; i < 16; i++) {
        h[i] = hx[(a >> (4 * i)) & 15];
        h[16 + i] = hx[(b >> (4 * i)) & 15];
    }
    h[12] = '4';
    h[16] = '8';
    int o = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        out[o++] = h[i];
    }
    out[36] = '\0';
}

static inline void tp_hex32(char out[33], uint64_t salt, uint64_t n) {
    char u[37];
    tp_uuid(u, salt, n);
    int o = 0;
    for (int i = 0; i < 36; i++)
        if (u[i] != '-')
            out[o++] = u[i];
    out[32] = '\0';
}

/* "%Y-%m-%dT%H:%M:%S.%f" UTC (sep 'T') or str(datetime) style (sep ' '). */
static inline void tp_timestamp(char out[27], int64_t real_ns, char sep) {
    time_t s = (time_t)(real_ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char t[64];
    snprintf(t, sizeof t, "%04d-%02d-%02d%c%02d:%02d:%02d.%06ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)((real_ns / 1000) % 1000000));
    memcpy(out, t, 26);
    out[26] = '\0';
}

/* The trace point (without '\n'). Returns its length; out needs 1024 bytes. */
static inline size_t tp_point(char *out, size_t cap, uint64_t salt, uint64_t n,
                              const char *name, int64_t t_send_ns) {
    char base[37], trace[37], ts[27];
    tp_uuid(base, salt, n / 64); /* 64 points per trace */
    tp_uuid(trace, salt ^ 0x5555, n);
    tp_timestamp(ts, t_send_ns, 'T');
    int k = snprintf(out, cap,
                     "{\"name\": \"%s\", \"base_id\": \"%s\", \"trace_id\": \"%s\", "
                     "\"parent_id\": \"%s\", \"timestamp\": \"%s\", \"info\": {\"db\": "
                     "{\"statement\": \"%s\", \"params\": %s}, \"t_send_ns\": %" PRId64
                     ", \"host\": \"%s\"}, \"project\": \"%s\", \"service\": \"%s\"}",
                     name, base, trace, base, ts, TP_STATEMENT, TP_PARAMS, t_send_ns,
                     TP_HOST, TP_PROJECT, TP_SERVICE);
    return k < 0 ? 0 : (size_t)k;
}

/* The notification body the sidecar builds around a point (oslo.messaging
 * format 1.0, src/sidecar/notify.c): same keys, order and separators. */
static inline size_t tp_body(char *out, size_t cap, uint64_t salt, uint64_t n,
                             const char *payload, size_t plen, int64_t real_ns) {
    char mid[37], uid[33], ts[27];
    tp_uuid(mid, salt ^ 0xabcdef, n);
    tp_hex32(uid, salt ^ 0x123457, n);
    tp_timestamp(ts, real_ns, ' ');
    int k = snprintf(out, cap,
                     "{\"message_id\": \"%s\", \"publisher_id\": \"%s\", \"event_type\": "
                     "\"profiler.%s\", \"priority\": \"INFO\", \"payload\": %.*s, "
                     "\"timestamp\": \"%s\", \"_unique_id\": \"%s\"}",
                     mid, TP_HOST, TP_SERVICE, (int)plen, payload, ts, uid);
    return k < 0 ? 0 : (size_t)k;
}

/* utime+stime of a process in seconds, or -1. */
static inline double tp_proc_cpu_s(long pid) {
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* after ")": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) !=
        2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "VmRSS:"/"VmHWM:" line of /proc/PID/status in KiB, or -1. */
static inline long tp_proc_kib(long pid, const char *field) {
    if (pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0) {
            v = strtol(line + fl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* CPU used by every process on the machine between two snapshots: the sum
 * of utime+stime over /proc/PID/stat (which the kernel derives from exact
 * runtimes; /proc/stat's per-CPU ticks misjudge short bursts of work).
 * Processes that exit in between are missed; ones started since count from
 * zero. */
#include <dirent.h>

typedef struct {
    long pid;
    double cpu;
} tp_proc_cpu_t;
typedef struct {
    tp_proc_cpu_t *v;
    size_t n;
} tp_cpu_snap_t;

static inline int tp_cmp_pid(const void *a, const void *b) {
    long x = ((const tp_proc_cpu_t *)a)->pid, y = ((const tp_proc_cpu_t *)b)->pid;
    return (x > y) - (x < y);
}

static inline tp_cpu_snap_t tp_cpu_snap(void) {
    tp_cpu_snap_t s = {NULL, 0};
    size_t cap = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        double c = tp_proc_cpu_s(pid);
        if (c < 0)
            continue;
        if (s.n == cap) {
            cap = cap ? cap * 2 : 512;
            tp_proc_cpu_t *g = realloc(s.v, cap * sizeof *g);
            if (!g)
                break;
            s.v = g;
        }
        s.v[s.n].pid = pid;
        s.v[s.n++].cpu = c;
    }
    if (d)
        closedir(d);
    if (s.n)
        qsort(s.v, s.n, sizeof *s.v, tp_cmp_pid);
    return s;
}

/* CPU seconds all processes used since `a`; frees a. */
static inline double tp_cpu_since(tp_cpu_snap_t *a) {
    tp_cpu_snap_t b = tp_cpu_snap();
    double sum = 0;
    for (size_t i = 0; i < b.n; i++) {
        tp_proc_cpu_t key = {b.v[i].pid, 0};
        tp_proc_cpu_t *o = a->n ? bsearch(&key, a->v, a->n, sizeof key, tp_cmp_pid) : NULL;
        double d = b.v[i].cpu - (o ? o->cpu : 0);
        if (d > 0)
            sum += d;
    }
    free(a->v);
    free(b.v);
    a->v = NULL;
    a->n = 0;
    return sum;
}

static inline int tp_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static inline int64_t tp_pct(const int64_t *v, size_t n, double p) {
    if (n == 0)
        return 0;
    size_t k = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

#endif
