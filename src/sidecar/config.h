/* SPDX-License-Identifier: Apache-2.0 */
/* config - osprofiler-sidecar's own configuration (libconfuse), with the
 * oslo.messaging options it can import from a service's .conf. */
#ifndef OSP_SIDECAR_CONFIG_H
#define OSP_SIDECAR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <osprofiler/osprofiler.h>

typedef struct osp_sc_config {
    char *listen_socket;
    unsigned listen_mode;
    char *listen_group;   /* "" keeps the sidecar's own group */
    bool publisher_local; /* publisher_policy = local: publisher_id is this host */
    char *host;           /* this host's name for that policy; "" = gethostname() */
    char *transport_url;  /* secret: may hold a password */
    char *control_exchange;
    bool driver_v2; /* messagingv2: the oslo.version 2.0 envelope */
    char **topics;
    size_t ntopics;
    bool amqp_durable_queues, amqp_auto_delete, rabbit_quorum_queue, rabbit_ha_queues;
    long rabbit_quorum_delivery_limit;
    /* TLS, as oslo's [oslo_messaging_rabbit] ssl* options */
    bool ssl, ssl_verify_hostname;
    char *ssl_ca_file, *ssl_cert_file, *ssl_key_file;
    int heartbeat;
    long confirm_window;
    /* seconds the publisher waits on the broker for anything: a connect, a
     * reply, a send, the oldest confirm (docs/design.md, "A hung cluster node") */
    double broker_timeout;
    long memory_limit; /* bytes of messages waiting in memory */
    double shutdown_grace;
    double retry_interval, retry_backoff, interval_max;
    int log_level;
    double stats_interval; /* seconds between stats log lines; 0: never */
    char **oslo_config;    /* a service's .conf files and directories to import */
    size_t noslo_config;
    char *transport_url_file; /* the oslo file that set it, else NULL */
    int transport_url_line;
    char *spool_dir; /* "" disables the disk spool */
    long spool_max_bytes;
    char *store;             /* secret (redis password): where points are stored when
                                there is no broker, and where collect writes */
    bool collect;            /* consume profiler.info into the store */
    char *collector_queue;   /* the collector's own durable queue */
    bool filter_error_trace; /* keep the store's error index */
    /* What local clients may hold (docs/security.md, "Local clients"). */
    long max_connections, max_connections_per_uid;
    long max_rings_per_uid;
    long max_ring_bytes_per_uid; /* mapped bytes of a uid's rings */
    long max_record_bytes;       /* one point, from a ring or a frame */
    double limit_log_interval;   /* seconds between two lines about one limit */
    char *metrics_listen;        /* Prometheus /metrics address; "" = off */
} osp_sc_config_t;

/* Command-line overrides (NULL / false: keep the file's value). */
typedef struct osp_sc_overrides {
    const char *transport_url, *socket, *spool_dir, *store, *metrics_listen;
    bool collect;
} osp_sc_overrides_t;

/* Defaults, then FILE (may be NULL), then the oslo .conf it names, then
 * transport_url query options. On error err names file and line; nothing in
 * err->text is a secret. */
int osp_sc_config_load(osp_sc_config_t *c, const char *file, osp_error_t *err);
/* Apply command-line overrides. Re-applies the URL's query options. */
int osp_sc_config_override(osp_sc_config_t *c, const osp_sc_overrides_t *o,
                           osp_error_t *err);
/* What depends on file and command line together (collect needs a
 * transport_url); after override, before running. */
int osp_sc_config_check(const osp_sc_config_t *c, osp_error_t *err);
void osp_sc_config_free(osp_sc_config_t *c);
/* Every option of the table with its default, one "#name = value" line each,
 * in the table's order: what etc/osprofiler-sidecar.conf must show (the
 * sidecar.sample_config test compares them). */
int osp_sc_config_print_sample(FILE *out);

#endif
