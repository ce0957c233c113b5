/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_pairs - cost of an osp_start()/osp_stop() pair in the traced thread.
 *
 *   bench_pairs --mode MODE [--socket PATH] [--batches N] [--batch N]
 *               [--warmup N] [--timed N] [--ring-size BYTES]
 *
 * MODE:
 *   top     sidecar notifier; every pair is at depth 0, so each stop flushes
 *           one hop frame (one sendmsg per pair).
 *   nested  sidecar notifier; pairs run inside an open "wsgi" point, so points
 *           accumulate in the thread batch and leave at 32 KiB.
 *   off     enabled=false: no notifier, the profiler's own work only.
 *
 * --ring-size 0 keeps every point on the socket (hop frames); otherwise the
 * library offers the receiver a shared-memory ring per thread (docs/wire.md,
 * "Rings") and uses it once the receiver attaches it.
 *
 * Each pair is osp_start("db", {"db": {"statement": "SELECT 1", "params": {}}})
 * then osp_stop(NULL), the same info as the Python reference benchmark.
 *
 * Phase 1: --batches batches of --batch pairs, each batch timed as a whole
 * (CLOCK_MONOTONIC); the figures are the median and p99 over batches of the
 * mean ns per pair. Phase 2: --timed pairs timed one by one, for the per-pair
 * distribution (it includes two clock_gettime calls, ~20-40 ns).
 *
 * Prints one JSON object on stdout; see run.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p) {
    if (n == 0)
        return 0;
    size_t k = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static int fails;

static inline void pair(const json_t *info) {
    if (osp_start("db", info) != 0)
        fails++;
    if (osp_stop(NULL) != 0)
        fails++;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --mode top|nested|off [--socket PATH] [--batches N] [--batch N]"
            " [--warmup N] [--timed N] [--ring-size BYTES (0: frames only; default: the"
            " library's)]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv) {
    const char *mode = NULL, *sock = NULL;
    long batches = 200, batch = 1000, warmup = 5000, timed = 20000, ring_size = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage(argv[0]);
        const char *v = argv[++i];
        if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--socket"))
            sock = v;
        else if (!strcmp(a, "--batches"))
            batches = atol(v);
        else if (!strcmp(a, "--batch"))
            batch = atol(v);
        else if (!strcmp(a, "--warmup"))
            warmup = atol(v);
        else if (!strcmp(a, "--timed"))
            timed = atol(v);
        else if (!strcmp(a, "--ring-size"))
            ring_size = atol(v);
        else
            usage(argv[0]);
    }
    if (!mode || batches < 1 || batch < 1 || warmup < 0 || timed < 0)
        usage(argv[0]);
    int m_top = !strcmp(mode, "top"), m_nested = !strcmp(mode, "nested"),
        m_off = !strcmp(mode, "off");
    if (!(m_top || m_nested || m_off))
        usage(argv[0]);
    if (!m_off && !sock) {
        fprintf(stderr, "bench_pairs: --socket is required for mode %s\n", mode);
        return 2;
    }

    osp_config_t *cfg = osp_config_new();
    if (!cfg)
        return 1;
    osp_config_set_enabled(cfg, !m_off);
    osp_config_set_hmac_keys(cfg, "bench-key");
    osp_config_set_project(cfg, "p");
    osp_config_set_service(cfg, "s");
    osp_config_set_host(cfg, "h");
    if (sock)
        osp_config_set_sidecar_socket(cfg, sock);
    if (ring_size >= 0 && osp_config_set_ring_size(cfg, (size_t)ring_size) != 0) {
        fprintf(stderr, "bench_pairs: bad --ring-size %ld\n", ring_size);
        return 2;
    }
    osp_error_t err;
    int rc = osp_setup(cfg, &err);
    osp_config_free(cfg);
    if (rc != 0) {
        fprintf(stderr, "bench_pairs: osp_setup: %s (%s)\n", osp_strerror(rc), err.text);
        return 1;
    }
    if (!osp_init("bench-key", NULL, NULL)) {
        fprintf(stderr, "bench_pairs: osp_init failed\n");
        return 1;
    }
    json_t *info = json_pack("{s{s:s,s:{}}}", "db", "statement", "SELECT 1", "params");
    if (!info) {
        fprintf(stderr, "bench_pairs: json_pack failed\n");
        return 1;
    }
    if (m_nested && osp_start("wsgi", NULL) != 0) {
        fprintf(stderr, "bench_pairs: outer osp_start failed\n");
        return 1;
    }

    for (long i = 0; i < warmup; i++)
        pair(info);

    /* Phase 1: batches. */
    double *per_batch = malloc(sizeof(double) * (size_t)batches);
    double *per_pair = malloc(sizeof(double) * (size_t)(timed ? timed : 1));
    if (!per_batch || !per_pair)
        return 1;
    double cpu0 = cpu_s();
    int64_t wall0 = now_ns();
    for (long b = 0; b < batches; b++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < batch; i++)
            pair(info);
        per_batch[b] = (double)(now_ns() - t0) / (double)batch;
    }
    int64_t wall = now_ns() - wall0;
    double cpu = cpu_s() - cpu0;

    /* Phase 2: individually timed pairs. */
    for (long i = 0; i < timed; i++) {
        int64_t t0 = now_ns();
        pair(info);
        per_pair[i] = (double)(now_ns() - t0);
    }

    if (m_nested)
        osp_stop(NULL);
    /* Hand over whatever is still buffered (the receiver may lag briefly). */
    int flush_rc = 0;
    for (int tries = 0; tries < 400; tries++) {
        flush_rc = osp_flush();
        if (flush_rc != -EAGAIN)
            break;
        usleep(5000);
    }
    osp_stats_t st;
    osp_get_stats(&st);
    osp_clean();
    osp_teardown();
    json_decref(info);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    long total_pairs = warmup + batches * batch + timed;
    long expected = m_off ? 0 : 2 * total_pairs + (m_nested ? 2 : 0);

    double *sb = malloc(sizeof(double) * (size_t)batches);
    memcpy(sb, per_batch, sizeof(double) * (size_t)batches);
    qsort(sb, (size_t)batches, sizeof(double), cmp_double);
    qsort(per_pair, (size_t)(timed ? timed : 0), sizeof(double), cmp_double);

    printf("{\"mode\": \"%s\", \"batches\": %ld, \"batch\": %ld, \"warmup\": %ld, "
           "\"timed\": %ld, \"fails\": %d, "
           "\"batch_median_ns\": %.1f, \"batch_p99_ns\": %.1f, \"batch_min_ns\": %.1f, "
           "\"batch_max_ns\": %.1f, \"pair_median_ns\": %.1f, \"pair_p99_ns\": %.1f, "
           "\"pair_p999_ns\": %.1f, \"pair_max_ns\": %.1f, "
           "\"wall_ns_per_pair\": %.1f, \"cpu_ns_per_pair\": %.1f, "
           "\"points_expected\": %ld, \"emitted\": %" PRIu64 ", \"sent\": %" PRIu64 ", "
           "\"dropped_no_sidecar\": %" PRIu64 ", \"dropped_backpressure\": %" PRIu64 ", "
           "\"dropped_oversize\": %" PRIu64 ", \"dropped_io\": %" PRIu64
           ", \"dropped_nomem\": %" PRIu64 ", \"lost_unread\": %" PRIu64
           ", \"final_flush_rc\": %d, \"ring_size\": %ld, \"maxrss_kib\": %ld}\n",
           mode, batches, batch, warmup, timed, fails, pct(sb, (size_t)batches, 50),
           pct(sb, (size_t)batches, 99), sb[0], sb[batches - 1],
           pct(per_pair, (size_t)timed, 50), pct(per_pair, (size_t)timed, 99),
           pct(per_pair, (size_t)timed, 99.9), timed ? per_pair[timed - 1] : 0.0,
           (double)wall / (double)(batches * batch),
           cpu * 1e9 / (double)(batches * batch), expected, st.emitted, st.sent,
           st.dropped_no_sidecar, st.dropped_backpressure, st.dropped_oversize,
           st.dropped_io, st.dropped_nomem, st.lost_unread, flush_rc, ring_size,
           ru.ru_maxrss);
    free(sb);
    free(per_batch);
    free(per_pair);
    return fails ? 3 : 0;
}
