/* SPDX-License-Identifier: Apache-2.0 */
/* unit.metrics - the Prometheus text of src/sidecar/metrics.c: values from
 * the counters and buffers, drops split by reason so that they add up,
 * # HELP and # TYPE before every family, the collector's gauge only with a
 * collector, a buffer too small refused whole; metrics_listen's forms; a
 * port in use is an error that says so. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sidecar/log.h"
#include "sidecar/metrics.h"

static char text[16384];

static void render(const osp_sc_buffers_t *b) {
    assert_true(osp_metrics_render(text, sizeof text, b) > 0);
}

static void has(const char *line) {
    if (!strstr(text, line))
        fail_msg("no line '%s' in:\n%s", line, text);
}

static void metrics__values_and_drops(void **state) {
    (void)state;
    memset(&osp_sc_stats, 0, sizeof osp_sc_stats);
    atomic_store(&osp_sc_stats.received, 12345678901234ULL);
    atomic_store(&osp_sc_stats.dropped_invalid, 5); /* 2 of them oversize */
    atomic_store(&osp_sc_stats.records_oversize, 2);
    atomic_store(&osp_sc_stats.dropped_store, 4);
    atomic_store(&osp_sc_stats.connections_refused, 10);
    atomic_store(&osp_sc_stats.connections_refused_uid, 3);
    atomic_store(&osp_sc_stats.connections_refused_fds, 1);
    atomic_store(&osp_sc_stats.conns_open, 9);
    atomic_store(&osp_sc_stats.connected, true);
    osp_sc_buffers_t b = {
        .memory_points = 11, .spool_bytes = 4096, .holding_back = true, .hold_backs = 2};
    render(&b);
    has("\nosprofiler_sidecar_points_received_total 12345678901234\n");
    has("\nosprofiler_sidecar_points_dropped_total{reason=\"invalid\"} 3\n");
    has("\nosprofiler_sidecar_points_dropped_total{reason=\"oversize\"} 2\n");
    has("\nosprofiler_sidecar_points_dropped_total{reason=\"store\"} 4\n");
    has("\nosprofiler_sidecar_points_dropped_total{reason=\"shutdown\"} 0\n");
    has("\nosprofiler_sidecar_connections_refused_total{reason=\"total\"} 6\n");
    has("\nosprofiler_sidecar_connections_refused_total{reason=\"uid\"} 3\n");
    has("\nosprofiler_sidecar_memory_points 11\n");
    has("\nosprofiler_sidecar_spool_bytes 4096\n");
    has("\nosprofiler_sidecar_holding_back 1\n");
    has("\nosprofiler_sidecar_hold_backs_total 2\n");
    has("\nosprofiler_sidecar_broker_connected 1\n");
    has("\nosprofiler_sidecar_connections 9\n");
    has("# TYPE osprofiler_sidecar_points_dropped_total counter\n");
    has("# TYPE osprofiler_sidecar_memory_points gauge\n");
    /* a whole over its part read first never goes below 0 */
    atomic_store(&osp_sc_stats.records_oversize, 6);
    render(NULL);
    has("\nosprofiler_sidecar_points_dropped_total{reason=\"invalid\"} 0\n");
    has("\nosprofiler_sidecar_memory_points 0\n");
}

/* Every sample's family has # HELP then # TYPE before it; lines end in
 * '\n'; counters, and only they, end in _total. */
static void metrics__format(void **state) {
    (void)state;
    render(NULL);
    assert_int_equal(text[strlen(text) - 1], '\n');
    char family[128] = "", type[16] = "";
    bool help = false;
    int samples = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        char name[128];
        if (sscanf(line, "# HELP %127s", name) == 1) {
            snprintf(family, sizeof family, "%s", name);
            help = true;
        } else if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
            assert_string_equal(name, family);
            assert_true(help);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
        } else {
            size_t n = strcspn(line, "{ ");
            assert_int_equal(n, strlen(family));
            assert_memory_equal(line, family, n);
            bool total = n > 6 && memcmp(line + n - 6, "_total", 6) == 0;
            assert_int_equal(total, strcmp(type, "counter") == 0);
            samples++;
        }
        *nl = '\n';
    }
    assert_true(samples >= 30);
}

static void metrics__collector_gauge_and_small_buffer(void **state) {
    (void)state;
    render(NULL);
    assert_null(strstr(text, "collector_consuming"));
    osp_sc_stats_collector(true, NULL);
    render(NULL);
    has("\nosprofiler_sidecar_collector_consuming 1\n");
    osp_sc_stats_collector(false, "the store is down");
    render(NULL);
    has("\nosprofiler_sidecar_collector_consuming 0\n");
    char small[200];
    assert_int_equal(osp_metrics_render(small, sizeof small, NULL), 0);
}

static void metrics__listen_forms(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    osp_error_t err;
    assert_int_equal(osp_metrics_parse_listen("127.0.0.1:9464", &ss, &len, &err), OSP_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
    assert_int_equal(osp_metrics_parse_listen("[::1]:9464", &ss, &len, &err), OSP_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(osp_metrics_parse_listen(":9464", &ss, &len, &err), OSP_OK);
    assert_int_equal(ss.ss_family, AF_INET6); /* dual-stack any */
    const char *bad[] = {"9464",        "127.0.0.1",        "127.0.0.1:0",
                         "127.0.0.1:x", "127.0.0.1:65536",  "localhost:9464",
                         "::1:9464",    "[127.0.0.1]:9464", "127.0.0.1:9464 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(osp_metrics_parse_listen(bad[i], &ss, &len, &err), OSP_ECONFIG);
        assert_non_null(strstr(err.text, "metrics_listen '"));
    }
}

static void metrics__port_in_use(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%u", ntohs(a.sin_port));
    osp_flow_t *flow = osp_flow_new(65536, NULL, "the store");
    osp_metrics_t *m = NULL;
    osp_error_t err;
    assert_int_not_equal(osp_metrics_start(&m, where, flow, &err), OSP_OK);
    assert_null(m);
    assert_non_null(strstr(err.text, "Address already in use"));
    close(fd); /* free now: it starts and stops */
    assert_int_equal(osp_metrics_start(&m, where, flow, &err), OSP_OK);
    osp_metrics_stop(m);
    osp_flow_free(flow);
}

int main(void) {
    osp_log_level = -1; /* quiet */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics__values_and_drops),
        cmocka_unit_test(metrics__format),
        cmocka_unit_test(metrics__collector_gauge_and_small_buffer),
        cmocka_unit_test(metrics__listen_forms),
        cmocka_unit_test(metrics__port_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
