/* SPDX-License-Identifier: Apache-2.0 */
/*
 * osprofiler-sidecar - takes trace points from libosprofiler (and anything
 * that speaks docs/wire.md) and publishes them to RabbitMQ as oslo.messaging
 * notifications, so ceilometer and any oslo listener ingest them unchanged.
 *
 * Threads: this one runs the intake loop (intake.c); the publisher thread
 * owns the AMQP connection (publisher.c), or with no broker the store
 * writer commits into the store (store_writer.c); flow.c is where points
 * wait between them. Signals are blocked before any thread starts and read
 * through a signalfd by the loop: TERM/INT stop intake, let the consumer
 * deliver what it can within shutdown_grace, put what is left on the spool
 * for the next run, and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "collector.h"
#include "common/transport_url.h"
#include "config.h"
#include "flow.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "publisher.h"
#include "stats.h"
#include "store/store.h"
#include "store_writer.h"

static const char usage[] =
    "usage: osprofiler-sidecar [--config FILE] [--test-config] [--transport-url URL]\n"
    "                          [--socket PATH] [--spool-dir DIR] [--store URL]\n"
    "                          [--collect] [--metrics-listen ADDR:PORT]\n"
    "                          [--log-level LEVEL] [--stats] [--version]\n"
    "  Receives trace points on a local socket and publishes them to RabbitMQ\n"
    "  exactly as oslo.messaging does; with no transport_url, stores them in the\n"
    "  local store instead (sqlite:///PATH, redis://... or postgresql://...). --collect "
    "also\n"
    "  consumes profiler notifications from the broker into the store, for\n"
    "  osprofiler trace show|list. --metrics-listen serves the counters to\n"
    "  Prometheus on GET /metrics (127.0.0.1:9464, [::1]:9464, :9464 = every\n"
    "  address; no authentication). Options override the config file;\n"
    "  $OSPROFILER_TRANSPORT_URL, when set, overrides its transport_url (keeping\n"
    "  a password off the command line, where every local user can read it).\n";

/* The counters, as --stats prints them. */
static void log_stats(const char *why, osp_flow_t *flow) {
    char json[4096];
    osp_sc_buffers_t b;
    osp_flow_state(flow, &b);
    int n = osp_sc_stats_json(json, sizeof json, &b, 0, 0);
    if (n > 0 && json[n - 1] == '\n')
        json[n - 1] = '\0';
    OSP_LOG(OSP_LL_NOTICE, "stats", "%s: %s", why, json);
}

/* systemd Type=notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify_msg(const char *msg) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof a.sun_path)
        return;
    memcpy(a.sun_path, path, n);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    ssize_t w = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&a,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    (void)w;
    close(fd);
}

/* --stats: ask a running sidecar for its counters. */
static int print_stats(const char *listen_socket) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s.ctl", listen_socket) >=
        (int)sizeof a.sun_path)
        return 1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "osprofiler-sidecar: %s: %s (is the sidecar running?)\n",
                a.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    char buf[4096];
    ssize_t n, total = 0;
    while ((n = read(fd, buf + total, sizeof buf - 1 - (size_t)total)) > 0)
        total += n;
    close(fd);
    buf[total] = '\0';
    fputs(buf, stdout);
    return total > 0 ? 0 : 1;
}

static bool same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* What runs: with a broker the publisher (and the collector when collect
 * is on), without one the store writer. */
struct parts {
    osp_flow_t *flow;
    osp_spool_t *spool;
    osp_publisher_t *pub;
    osp_collector_t *col;
    osp_store_writer_t *sw;
};

/* SIGHUP: read the configuration again; an invalid one is refused and the
 * running one stays. The publisher and collector threads restart with the
 * new settings (buffered points stay buffered); the socket, the spool directory,
 * the store and broker-or-not need a restart of the process. */
static void reload(osp_sc_config_t *cfg, const char *file, const osp_sc_overrides_t *ov,
                   const char *level, struct parts *run) {
    osp_sc_config_t next;
    osp_error_t err;
    if (osp_sc_config_load(&next, file, &err) != OSP_OK ||
        osp_sc_config_override(&next, ov, &err) != OSP_OK ||
        osp_sc_config_check(&next, &err) != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "main",
                "SIGHUP: new configuration refused, keeping the "
                "running one: %s",
                err.text);
        return;
    }
    if (!next.transport_url[0] != !cfg->transport_url[0]) {
        OSP_LOG(OSP_LL_ERROR, "main",
                "SIGHUP: adding or removing transport_url (broker or store mode) needs a "
                "restart; keeping the running configuration");
        osp_sc_config_free(&next);
        return;
    }
    if (!same_str(next.listen_socket, cfg->listen_socket) ||
        next.listen_mode != cfg->listen_mode ||
        !same_str(next.spool_dir, cfg->spool_dir) || !same_str(next.store, cfg->store) ||
        !same_str(next.metrics_listen, cfg->metrics_listen))
        OSP_LOG(OSP_LL_WARN, "main",
                "SIGHUP: listen_socket, listen_mode, spool_dir, store and metrics_listen "
                "change only with a restart");
    if (next.max_connections != cfg->max_connections ||
        next.max_connections_per_uid != cfg->max_connections_per_uid ||
        next.max_rings_per_uid != cfg->max_rings_per_uid ||
        next.max_ring_bytes_per_uid != cfg->max_ring_bytes_per_uid ||
        next.max_record_bytes != cfg->max_record_bytes ||
        next.limit_log_interval != cfg->limit_log_interval)
        OSP_LOG(OSP_LL_WARN, "main",
                "SIGHUP: the local clients' limits (max_connections, max_rings_per_uid, "
                "...) change only with a restart");
    osp_log_level = level ? osp__log_level_parse(level) : next.log_level;
    osp_flow_set_limit(run->flow, (size_t)next.memory_limit);
    if (run->sw) { /* no broker: nothing else to restart */
        osp_sc_config_free(&next);
        OSP_LOG(OSP_LL_NOTICE, "main", "SIGHUP: configuration reloaded");
        return;
    }
    /* The running threads read *cfg: stop them before replacing it. */
    osp_publisher_restart_stop(run->pub);
    osp_collector_stop(run->col);
    run->col = NULL;
    char **keep[] = {&next.listen_socket, &next.spool_dir, &next.store};
    char *const old[] = {cfg->listen_socket, cfg->spool_dir, cfg->store};
    for (size_t i = 0; i < 3; i++)
        *keep[i] = (free(*keep[i]), strdup(old[i]));
    next.listen_mode = cfg->listen_mode;
    next.max_connections = cfg->max_connections; /* the running intake's */
    next.max_connections_per_uid = cfg->max_connections_per_uid;
    next.max_rings_per_uid = cfg->max_rings_per_uid;
    next.max_ring_bytes_per_uid = cfg->max_ring_bytes_per_uid;
    next.max_record_bytes = cfg->max_record_bytes;
    next.limit_log_interval = cfg->limit_log_interval;
    osp_sc_config_free(cfg);
    *cfg = next;
    if (osp_publisher_start(&run->pub, cfg, run->flow) != OSP_OK ||
        (cfg->collect && osp_collector_start(&run->col, cfg, &err) != OSP_OK)) {
        OSP_LOG(OSP_LL_ERROR, "main",
                "SIGHUP: cannot restart the publisher or collector; "
                "exiting");
        exit(1);
    }
    OSP_LOG(OSP_LL_NOTICE, "main", "SIGHUP: configuration reloaded");
}

/* --transport-url and --store may hold a password, which /proc/PID/cmdline
 * shows every local user: the sidecar keeps a copy and masks argv's. */
static char *url_arg, *store_arg; /* static: reachable until exit */
static bool password_in_argv;

static const char *secret_arg(char *arg, char **copy) {
    free(*copy);
    if (!(*copy = strdup(arg))) {
        fputs("osprofiler-sidecar: out of memory\n", stderr);
        exit(1);
    }
    password_in_argv |= osp__url_mask_userinfo(arg);
    return *copy;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"test-config", no_argument, 0, 't'},
                                         {"transport-url", required_argument, 0, 'u'},
                                         {"socket", required_argument, 0, 's'},
                                         {"spool-dir", required_argument, 0, 'd'},
                                         {"store", required_argument, 0, 'r'},
                                         {"collect", no_argument, 0, 'C'},
                                         {"metrics-listen", required_argument, 0, 'M'},
                                         {"log-level", required_argument, 0, 'l'},
                                         {"version", no_argument, 0, 'v'},
                                         {"stats", no_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},
                                         /* hidden: for the sample config's test */
                                         {"print-sample-config", no_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    const char *file = NULL, *level = NULL;
    osp_sc_overrides_t ov = {0};
    bool test_only = false, stats_only = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            file = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 'S':
            stats_only = true;
            break;
        case 'u':
            ov.transport_url = secret_arg(optarg, &url_arg);
            break;
        case 's':
            ov.socket = optarg;
            break;
        case 'd':
            ov.spool_dir = optarg;
            break;
        case 'r':
            ov.store = secret_arg(optarg, &store_arg);
            break;
        case 'C':
            ov.collect = true;
            break;
        case 'M':
            ov.metrics_listen = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'v':
            printf("osprofiler-sidecar %s\n", osp_version_string());
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'P':
            return osp_sc_config_print_sample(stdout) == OSP_OK ? 0 : 1;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *env_url = getenv("OSPROFILER_TRANSPORT_URL");
    bool url_from_env = !ov.transport_url && env_url && env_url[0];
    if (url_from_env)
        ov.transport_url = env_url;
    osp_sc_config_t cfg;
    osp_error_t err;
    if (osp_sc_config_load(&cfg, file, &err) != OSP_OK)
        return fprintf(stderr, "osprofiler-sidecar: %s\n", err.text), 1;
    if (osp_sc_config_override(&cfg, &ov, &err) != OSP_OK) {
        fprintf(stderr, "osprofiler-sidecar: %s\n", err.text);
        osp_sc_config_free(&cfg);
        return 1;
    }
    if (stats_only) {
        int rc = print_stats(cfg.listen_socket);
        osp_sc_config_free(&cfg);
        return rc;
    }
    struct sockaddr_storage metrics_addr;
    socklen_t metrics_len;
    if (osp_sc_config_check(&cfg, &err) != OSP_OK ||
        (cfg.metrics_listen[0] &&
         osp_metrics_parse_listen(cfg.metrics_listen, &metrics_addr, &metrics_len,
                                  &err) != OSP_OK)) {
        fprintf(stderr, "osprofiler-sidecar: %s\n", err.text);
        osp_sc_config_free(&cfg);
        return 1;
    }
    osp_log_level = level ? osp__log_level_parse(level) : cfg.log_level;
    if (osp_log_level < 0) {
        fprintf(stderr, "osprofiler-sidecar: unknown log level '%s'\n", level);
        return 2;
    }
    bool direct = !cfg.transport_url[0]; /* no broker: points go to the store */
    char hosts[512] = "";
    if (!direct) {
        osp_transport_url_t u;
        if (osp__transport_url_parse(cfg.transport_url, &u, &err) != OSP_OK) {
            fprintf(stderr, "osprofiler-sidecar: %s\n", err.text);
            return 1;
        }
        osp__transport_url_describe(&u, hosts, sizeof hosts);
        osp__transport_url_free(&u);
    }
    osp_store_t *probe = NULL;
    char store_name[256] = "(none)";
    if (direct || cfg.collect) {
        /* A bad url is a config error, and so is a store that cannot be opened,
         * except for a running collector: it waits for its store (collector.c). */
        int rc = osp_store_open(cfg.store, OSP_STORE_WRITE, &probe, &err);
        if (rc != OSP_OK && (direct || test_only || rc != OSP_ESTORE)) {
            fprintf(stderr, "osprofiler-sidecar: store: %s\n", err.text);
            osp_sc_config_free(&cfg);
            return 1;
        }
        if (rc != OSP_OK)
            snprintf(store_name, sizeof store_name, "the store (not open yet)");
    }
    if (probe)
        snprintf(store_name, sizeof store_name, "%s", osp_store_name(probe));
    osp_store_close(probe);
    if (test_only) {
        char origin[600] = ""; /* which service file named the broker */
        if (cfg.transport_url_file)
            snprintf(origin, sizeof origin, " (from %s:%d)", cfg.transport_url_file,
                     cfg.transport_url_line);
        else if (url_from_env)
            snprintf(origin, sizeof origin, " (from $OSPROFILER_TRANSPORT_URL)");
        if (direct)
            printf("configuration OK: listen %s, no broker: points go to store %s\n",
                   cfg.listen_socket, store_name);
        else
            printf(
                "configuration OK: listen %s, broker %s%s, exchange %s, driver %s, spool "
                "%s%s%s\n",
                cfg.listen_socket, hosts, origin, cfg.control_exchange,
                cfg.driver_v2 ? "messagingv2" : "messaging",
                cfg.spool_dir[0] ? cfg.spool_dir : "(none)",
                cfg.collect ? ", collecting into " : "", cfg.collect ? store_name : "");
        osp_sc_config_free(&cfg);
        return 0;
    }
    if (password_in_argv)
        OSP_LOG(OSP_LL_WARN, "config",
                "a password was given on the command line: it is masked now, but other "
                "local users could read it in /proc/%d/cmdline until then; set it in the "
                "config file (mode 0600), or transport_url in $OSPROFILER_TRANSPORT_URL",
                (int)getpid());
    if (!direct && !cfg.amqp_durable_queues && !cfg.rabbit_quorum_queue)
        OSP_LOG(
            OSP_LL_WARN, "config",
            "the notification queue is not durable (oslo's default): a broker restart "
            "loses what it confirmed; set amqp_durable_queues = true where the "
            "consumers do");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);

    struct parts run = {0};
    osp_metrics_t *metrics = NULL;
    if (cfg.spool_dir[0] &&
        !(run.spool = osp_spool_open(cfg.spool_dir, (uint64_t)cfg.spool_max_bytes, &err)))
        OSP_LOG(OSP_LL_ERROR, "spool",
                "%s; running without a disk spool: beyond memory_limit the services "
                "hold their points, then drop them (counted)",
                err.text);
    run.flow = osp_flow_new((size_t)cfg.memory_limit, run.spool,
                            direct ? "the store" : "the broker");
    if (!run.flow) {
        OSP_LOG(OSP_LL_ERROR, "main", "out of memory");
        goto fail;
    }
    /* Before any point is taken: a port in use is a start-up error. */
    if (cfg.metrics_listen[0] &&
        osp_metrics_start(&metrics, cfg.metrics_listen, run.flow, &err) != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "metrics", "%s", err.text);
        goto fail;
    }
    osp_intake_t *in;
    if (osp_intake_open(&in, &cfg, run.flow, &err) != OSP_OK) {
        OSP_LOG(OSP_LL_ERROR, "intake", "%s", err.text);
        goto fail;
    }
    int rc = direct ? osp_store_writer_start(&run.sw, &cfg, run.flow, &err)
                    : osp_publisher_start(&run.pub, &cfg, run.flow);
    if (rc == OSP_OK && cfg.collect) {
        rc = osp_collector_start(&run.col, &cfg, &err);
        if (rc != OSP_OK)
            osp_publisher_stop(run.pub, 0);
    }
    if (rc != OSP_OK) {
        if (direct || cfg.collect)
            OSP_LOG(OSP_LL_ERROR, "store", "%s", err.text);
        osp_intake_close(in);
        goto fail;
    }
    if (direct)
        OSP_LOG(OSP_LL_NOTICE, "main", "listening on %s; no broker: storing into %s",
                cfg.listen_socket, store_name);
    else
        OSP_LOG(OSP_LL_NOTICE, "main",
                "listening on %s; broker %s; %zu topic(s), driver %s%s%s",
                cfg.listen_socket, hosts, cfg.ntopics,
                cfg.driver_v2 ? "messagingv2" : "messaging",
                cfg.collect ? "; collecting into " : "", cfg.collect ? store_name : "");
    osp_intake_set_stats_interval(in, cfg.stats_interval);
    sd_notify_msg("READY=1");
    for (;;) {
        osp_intake_run(in, sfd);
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        if (si.ssi_signo == SIGHUP) {
            reload(&cfg, file, &ov, level, &run);
            continue;
        }
        OSP_LOG(OSP_LL_NOTICE, "main", "signal %u: stopping (grace %.1f s)", si.ssi_signo,
                cfg.shutdown_grace);
        break;
    }
    sd_notify_msg("STOPPING=1");
    osp_intake_close(in);
    osp_collector_stop(run.col);
    if (run.sw)
        osp_store_writer_stop(run.sw, cfg.shutdown_grace);
    else
        osp_publisher_stop(run.pub, cfg.shutdown_grace);
    uint64_t left = osp_flow_spill(run.flow);
    if (left)
        OSP_LOG(OSP_LL_WARN, "main", "%llu points were neither %s nor kept on the spool",
                (unsigned long long)left, run.sw ? "stored" : "confirmed");
    osp_metrics_stop(metrics); /* served through shutdown_grace: stop it last */
    log_stats("exit", run.flow);
    osp_flow_free(run.flow);
    osp_spool_close(run.spool);
    osp_sc_config_free(&cfg);
    close(sfd);
    return 0;
fail: /* nothing started yet but the flow, the spool, metrics and the signalfd */
    osp_metrics_stop(metrics);
    osp_flow_free(run.flow);
    osp_spool_close(run.spool);
    osp_sc_config_free(&cfg);
    close(sfd);
    return 1;
}
