/* SPDX-License-Identifier: Apache-2.0 */
/* stats - the counters, shared by the threads, and their JSON form for
 * "osprofiler-sidecar --stats" and the log. */
#include "stats.h"

#include <stdio.h>

osp_sc_stats_t osp_sc_stats;

int osp_sc_stats_json(char *out, size_t len, size_t queued, size_t connections,
                      size_t rings) {
#define U(f) (unsigned long long)atomic_load(&osp_sc_stats.f)
    int n = snprintf(
        out, len,
        "{\"received\": %llu, \"published\": %llu, \"confirmed\": %llu, \"nacked\": "
        "%llu, "
        "\"spooled\": %llu, \"stored\": %llu, \"collected\": %llu, \"dropped\": "
        "{\"invalid\": %llu, \"memory\": %llu, \"shutdown\": %llu, \"spool\": %llu, "
        "\"collect_invalid\": %llu}, \"publisher_replaced\": %llu, \"reconnects\": %llu, "
        "\"connected\": %s, "
        "\"queued\": %zu, \"connections\": %zu, \"rings\": %zu, \"rings_attached\": "
        "%llu}\n",
        U(received), U(published), U(confirmed), U(nacked), U(spooled), U(stored),
        U(collected), U(dropped_invalid), U(dropped_memory), U(dropped_shutdown),
        U(dropped_spool), U(collect_invalid), U(publisher_replaced), U(reconnects),
        atomic_load(&osp_sc_stats.connected) ? "true" : "false", queued, connections,
        rings, U(rings));
#undef U
    return n < 0 ? 0 : (n >= (int)len ? (int)len - 1 : n);
}
