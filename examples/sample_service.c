/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample_service - a small traced "API service" showing libosprofiler.
 *
 * It plays one request the way an OpenStack API would see it: a client signs
 * X-Trace-Info/X-Trace-HMAC, the service accepts them (osp_web_begin), runs two
 * DB queries, hands work to a worker thread that continues the same trace,
 * calls a "driver" that fails, and answers. Points go to the notifier chosen
 * by configuration: a JSON-lines file by default (no sidecar needed).
 *
 *   sample_service [--config FILE] [--points FILE] [--requests N]
 *
 * Prints the trace id(s) on stdout, one per request.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

static void on_log(osp_log_level_t level, const char *msg, void *ud) {
    (void)ud;
    static const char *const names[] = {"error", "warn", "info"};
    fprintf(stderr, "sample_service: %s: %s\n", names[level], msg);
}

static int driver_spawn(int flavor) {
    OSP_TRACE_SCOPE_NAMED(scope, "driver", NULL);
    if (flavor < 0) {
        osp_scope_fail(&scope, "NoValidHost", "no host has enough memory");
        return -1; /* the scope's stop records the error */
    }
    usleep(300);
    return 0;
}

static void *worker(void *arg) {
    const osp_context_t *ctx = arg;
    osp_context_attach(ctx); /* same trace, child of the caller's point */
    json_t *info = json_pack("{s{s:s}}", "function", "name", "compute.build_instance");
    osp_start("rpc", info);
    json_decref(info);
    driver_spawn(1);
    driver_spawn(-1);
    osp_stop(NULL);
    osp_clean();
    return NULL;
}

static void handle_request(int i, const char *key) {
    /* A client elsewhere signed these headers for its own trace. */
    char base[64];
    snprintf(base, sizeof base, "5e1c7a70-0000-4000-8000-%012d", i + 1);
    osp_init(key, base, NULL);
    char *info = NULL, *hmac = NULL;
    osp_web_headers(&info, &hmac);
    osp_clean();

    osp_web_request_t req = {.x_trace_info = info,
                             .x_trace_hmac = hmac,
                             .method = "POST",
                             .path = "/v2.1/servers",
                             .query = "",
                             .scheme = "http"};
    int rc = osp_web_begin(&req, NULL, 0);
    if (rc != OSP_OK) {
        fprintf(stderr, "sample_service: request not traced: %s\n", osp_strerror(rc));
        goto out;
    }
    json_t *params = json_pack("{s:i}", "id", i);
    osp_db_start("SELECT * FROM instances WHERE id = %(id)s", params);
    usleep(200);
    osp_db_stop();
    osp_db_start("UPDATE quotas SET in_use = in_use + 1", NULL);
    osp_db_stop();
    json_decref(params);

    osp_context_t ctx;
    osp_context_capture(&ctx);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &ctx) == 0)
        pthread_join(t, NULL);
    printf("%s\n", osp_profiler_base_id(osp_get()));
    osp_web_end(NULL, NULL);
out:
    osp_free(info);
    osp_free(hmac);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"points", required_argument, 0, 'p'},
                                         {"requests", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    const char *conf = NULL, *points = "sample-points.jsonl";
    int requests = 1, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 'p':
            points = optarg;
            break;
        case 'n':
            requests = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [--config FILE] [--points FILE] [--requests N]\n",
                    argv[0]);
            return 2;
        }
    }
    osp_set_log_cb(on_log, NULL);
    osp_config_t *cfg = osp_config_new();
    osp_error_t err;
    if (conf) {
        if (osp_config_load_file(cfg, conf, &err) != OSP_OK) {
            fprintf(stderr, "sample_service: %s\n", err.text);
            return 1;
        }
    } else {
        /* Embedded default: trace everything into a local JSON-lines file. */
        char abs[4200], dir[4096];
        if (points[0] == '/')
            snprintf(abs, sizeof abs, "file://%s", points);
        else
            snprintf(abs, sizeof abs, "file://%s/%s", getcwd(dir, sizeof dir), points);
        osp_config_set_enabled(cfg, true);
        osp_config_set_trace_sqlalchemy(cfg, true);
        osp_config_set_hmac_keys(cfg, "sample-demo-key");
        osp_config_set_connection_string(cfg, abs);
    }
    osp_config_set_service(cfg, "sample-api");
    osp_config_set_project(cfg, "sample");
    if (osp_setup(cfg, &err) != OSP_OK) {
        fprintf(stderr, "sample_service: %s\n", err.text);
        return 1;
    }
    for (int i = 0; i < requests; i++)
        handle_request(i, conf ? getenv(OSP_ENV_HMAC_KEY) : "sample-demo-key");
    osp_stats_t st;
    osp_get_stats(&st);
    fprintf(stderr, "sample_service: %llu points sent, %llu dropped\n",
            (unsigned long long)st.sent,
            (unsigned long long)(st.dropped_no_sidecar + st.dropped_backpressure +
                                 st.dropped_oversize + st.dropped_io + st.dropped_nomem));
    osp_teardown();
    osp_config_free(cfg);
    return 0;
}
