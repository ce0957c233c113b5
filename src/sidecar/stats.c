/* SPDX-License-Identifier: Apache-2.0 */
/* stats - the counters, shared by the threads, and their JSON form for
 * "osprofiler-sidecar --stats" and the log. The collector's state is text
 * (its reason), so it sits behind a mutex instead of in an atomic. */
#include "stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

osp_sc_stats_t osp_sc_stats;

static pthread_mutex_t collector_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool on, consuming;
    struct timespec since; /* CLOCK_REALTIME */
    char reason[320];
} collector;

void osp_sc_stats_collector(bool consuming, const char *reason) {
    pthread_mutex_lock(&collector_mu);
    if (!collector.on || collector.consuming != consuming)
        clock_gettime(CLOCK_REALTIME, &collector.since);
    collector.on = true;
    collector.consuming = consuming;
    snprintf(collector.reason, sizeof collector.reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&collector_mu);
}

bool osp_sc_stats_collector_state(bool *consuming) {
    pthread_mutex_lock(&collector_mu);
    bool on = collector.on;
    *consuming = collector.consuming;
    pthread_mutex_unlock(&collector_mu);
    return on;
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void json_string(char *out, size_t len, const char *s) {
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 8 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, len - k, "\\%c", c);
        else if (c < 0x20)
            k += (size_t)snprintf(out + k, len - k, "\\u%04x", c);
        else
            out[k++] = (char)c;
    }
    out[k++] = '"';
    out[k] = '\0';
}

/* ', "collector": {...}' or "" when no collector runs. */
static void collector_json(char *out, size_t len) {
    out[0] = '\0';
    pthread_mutex_lock(&collector_mu);
    if (collector.on) {
        struct tm tm;
        char since[40], reason[1024]; /* escaping may grow it: cut, still a string */
        gmtime_r(&collector.since.tv_sec, &tm);
        size_t n = strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(since + n, sizeof since - n, ".%03ldZ",
                 collector.since.tv_nsec / 1000000);
        if (collector.reason[0])
            json_string(reason, sizeof reason, collector.reason);
        else
            snprintf(reason, sizeof reason, "null");
        snprintf(
            out, len,
            ", \"collector\": {\"consuming\": %s, \"since\": \"%s\", \"reason\": %s, "
            "\"redelivered\": %llu}",
            collector.consuming ? "true" : "false", since, reason,
            (unsigned long long)atomic_load(&osp_sc_stats.collect_redelivered));
    }
    pthread_mutex_unlock(&collector_mu);
}

int osp_sc_stats_json(char *out, size_t len, const osp_sc_buffers_t *b,
                      size_t connections, size_t rings) {
    osp_sc_buffers_t fs = {0};
    if (b)
        fs = *b;
    char col[1200];
    collector_json(col, sizeof col);
#define U(f) (unsigned long long)atomic_load(&osp_sc_stats.f)
    int n = snprintf(
        out, len,
        "{\"received\": %llu, \"delivered\": %llu, \"published\": %llu, \"confirmed\": "
        "%llu, \"nacked\": %llu, \"spooled\": %llu, \"stored\": %llu, \"store_commits\": "
        "%llu, \"collected\": "
        "%llu, "
        "\"dropped\": {\"invalid\": %llu, \"spool\": %llu, \"shutdown\": %llu, "
        "\"nomem\": %llu, \"store\": %llu, \"collect_invalid\": %llu}, \"bad_frames\": "
        "%llu, "
        "\"memory\": {\"points\": %llu, \"bytes\": %llu}, "
        "\"spool\": {\"points\": %llu, \"bytes\": %llu}, "
        "\"holding_back\": %s, \"hold_backs\": %llu, "
        "\"publisher_replaced\": %llu, \"reconnects\": %llu, \"connected\": %s, "
        "\"queued\": %llu, \"connections\": %zu, \"rings\": %zu, \"rings_attached\": "
        "%llu, \"rings_refused\": %llu, \"rings_refused_limit\": %llu, "
        "\"connections_refused\": %llu, \"connections_refused_uid\": %llu, "
        "\"connections_refused_fds\": %llu, \"records_oversize\": %llu%s}\n",
        U(received), U(delivered), U(published), U(confirmed), U(nacked), U(spooled),
        U(stored), U(store_commits), U(collected), U(dropped_invalid), U(dropped_spool),
        U(dropped_shutdown), U(dropped_nomem), U(dropped_store), U(collect_invalid),
        U(bad_frames), (unsigned long long)fs.memory_points,
        (unsigned long long)fs.memory_bytes, (unsigned long long)fs.spool_points,
        (unsigned long long)fs.spool_bytes, fs.holding_back ? "true" : "false",
        (unsigned long long)fs.hold_backs, U(publisher_replaced), U(reconnects),
        atomic_load(&osp_sc_stats.connected) ? "true" : "false",
        (unsigned long long)(fs.memory_points + fs.spool_points), connections, rings,
        U(rings), U(rings_refused), U(rings_refused_limit), U(connections_refused),
        U(connections_refused_uid), U(connections_refused_fds), U(records_oversize), col);
#undef U
    return n < 0 ? 0 : (n >= (int)len ? (int)len - 1 : n);
}
