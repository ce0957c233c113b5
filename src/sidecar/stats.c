/* SPDX-License-Identifier: Apache-2.0 */
/* stats - the counters, shared by the threads, and their JSON form for
 * "osprofiler-sidecar --stats" and the log. */
#include "stats.h"

#include <stdio.h>

osp_sc_stats_t osp_sc_stats;

int osp_sc_stats_json(char *out, size_t len, const osp_sc_buffers_t *b,
                      size_t connections, size_t rings) {
    osp_sc_buffers_t fs = {0};
    if (b)
        fs = *b;
#define U(f) (unsigned long long)atomic_load(&osp_sc_stats.f)
    int n = snprintf(
        out, len,
        "{\"received\": %llu, \"delivered\": %llu, \"published\": %llu, \"confirmed\": "
        "%llu, \"nacked\": %llu, \"spooled\": %llu, \"stored\": %llu, \"store_commits\": "
        "%llu, \"collected\": "
        "%llu, "
        "\"dropped\": {\"invalid\": %llu, \"spool\": %llu, \"shutdown\": %llu, "
        "\"nomem\": %llu, \"collect_invalid\": %llu}, \"bad_frames\": %llu, "
        "\"memory\": {\"points\": %llu, \"bytes\": %llu}, "
        "\"spool\": {\"points\": %llu, \"bytes\": %llu}, "
        "\"holding_back\": %s, \"hold_backs\": %llu, "
        "\"publisher_replaced\": %llu, \"reconnects\": %llu, \"connected\": %s, "
        "\"queued\": %llu, \"connections\": %zu, \"rings\": %zu, \"rings_attached\": "
        "%llu, \"rings_refused\": %llu}\n",
        U(received), U(delivered), U(published), U(confirmed), U(nacked), U(spooled),
        U(stored), U(store_commits), U(collected), U(dropped_invalid), U(dropped_spool),
        U(dropped_shutdown), U(dropped_nomem), U(collect_invalid), U(bad_frames),
        (unsigned long long)fs.memory_points, (unsigned long long)fs.memory_bytes,
        (unsigned long long)fs.spool_points, (unsigned long long)fs.spool_bytes,
        fs.holding_back ? "true" : "false", (unsigned long long)fs.hold_backs,
        U(publisher_replaced), U(reconnects),
        atomic_load(&osp_sc_stats.connected) ? "true" : "false",
        (unsigned long long)(fs.memory_points + fs.spool_points), connections, rings,
        U(rings), U(rings_refused));
#undef U
    return n < 0 ? 0 : (n >= (int)len ? (int)len - 1 : n);
}
