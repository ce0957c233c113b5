/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config - one cfg_opt_t table holds every option with its default (the
 * documented copy is etc/osprofiler-sidecar.conf). Values explicitly set in
 * the sidecar's file win over what `oslo_config` imports from a service's
 * .conf files (read as oslo.config reads them, src/common/oslo_conf.c),
 * which win over defaults; a transport_url query (?amqp_durable_queues=true)
 * overrides the matching option, as in oslo.
 */
#include "config.h"

#include <confuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"
#include "common/keys.h"
#include "common/oslo_conf.h"
#include "common/oslo_opts.h"
#include "common/transport_url.h"
#include "log.h"
#include "store/store.h"

static cfg_opt_t opts[] = {
    CFG_STR("listen_socket", "/run/osprofiler/sidecar.sock", CFGF_NONE),
    CFG_STR("listen_mode", "0660", CFGF_NONE),
    CFG_STR("listen_group", "", CFGF_NONE),
    CFG_STR("publisher_policy", "trust", CFGF_NONE),
    CFG_STR("host", "", CFGF_NONE),
    CFG_INT("max_connections", 1024, CFGF_NONE),
    CFG_INT("max_connections_per_uid", 256, CFGF_NONE),
    CFG_INT("max_rings_per_uid", 1024, CFGF_NONE),
    CFG_INT("max_ring_bytes_per_uid", 1024L * 1024 * 1024, CFGF_NONE),
    CFG_INT("max_record_bytes", 8 * 1024 * 1024, CFGF_NONE),
    CFG_FLOAT("limit_log_interval", 10.0, CFGF_NONE),
    CFG_STR("transport_url", "", CFGF_NONE),
    CFG_STR("control_exchange", "openstack", CFGF_NONE),
    CFG_STR("driver", "messaging", CFGF_NONE),
    CFG_STR_LIST("topics", "{profiler}", CFGF_NONE),
    CFG_BOOL("amqp_durable_queues", cfg_false, CFGF_NONE),
    CFG_BOOL("amqp_auto_delete", cfg_false, CFGF_NONE),
    CFG_BOOL("rabbit_quorum_queue", cfg_false, CFGF_NONE),
    CFG_BOOL("rabbit_ha_queues", cfg_false, CFGF_NONE),
    CFG_INT("rabbit_quorum_delivery_limit", 0, CFGF_NONE),
    CFG_BOOL("ssl", cfg_false, CFGF_NONE),
    CFG_STR("ssl_ca_file", "", CFGF_NONE),
    CFG_STR("ssl_cert_file", "", CFGF_NONE),
    CFG_STR("ssl_key_file", "", CFGF_NONE),
    CFG_BOOL("ssl_enforce_hostname_verification", cfg_false, CFGF_NONE),
    CFG_INT("heartbeat", 60, CFGF_NONE),
    CFG_INT("confirm_window", 1000, CFGF_NONE),
    CFG_FLOAT("broker_timeout", 5.0, CFGF_NONE),
    CFG_INT("memory_limit", 8 * 1024 * 1024, CFGF_NONE),
    CFG_FLOAT("shutdown_grace", 5.0, CFGF_NONE),
    CFG_FLOAT("rabbit_retry_interval", 1.0, CFGF_NONE),
    CFG_FLOAT("rabbit_retry_backoff", 2.0, CFGF_NONE),
    CFG_FLOAT("rabbit_interval_max", 30.0, CFGF_NONE),
    CFG_STR("log_level", "info", CFGF_NONE),
    CFG_FLOAT("stats_interval", 60.0, CFGF_NONE),
    CFG_STR_LIST("oslo_config", "{}", CFGF_NONE),
    CFG_STR("spool_dir", "/var/lib/osprofiler/spool", CFGF_NONE),
    CFG_INT("spool_max_bytes", 1024L * 1024 * 1024, CFGF_NONE),
    CFG_STR("store", OSP_STORE_DEFAULT_URL, CFGF_NONE),
    CFG_BOOL("collect", cfg_false, CFGF_NONE),
    CFG_STR("collector_queue", "osprofiler-collector", CFGF_NONE),
    CFG_BOOL("filter_error_trace", cfg_false, CFGF_NONE),
    CFG_STR("metrics_listen", "", CFGF_NONE),
    CFG_END()};

static osp_error_t *cur_err;
static const char *cur_file;

/* One value as the file writes it; a float always has decimals (5.0). */
static void print_value(FILE *out, cfg_opt_t *o, unsigned i) {
    switch (o->type) {
    case CFGT_INT:
        fprintf(out, "%ld", cfg_opt_getnint(o, i));
        break;
    case CFGT_FLOAT: {
        double v = cfg_opt_getnfloat(o, i);
        char text[64];
        for (int prec = 1; prec <= 17; prec++) { /* the shortest that reads back */
            snprintf(text, sizeof text, "%.*f", prec, v);
            if (strtod(text, NULL) == v)
                break;
        }
        fputs(text, out);
        break;
    }
    case CFGT_BOOL:
        fputs(cfg_opt_getnbool(o, i) ? "true" : "false", out);
        break;
    default: { /* CFGT_STR: the only other type the table uses */
        const char *s = cfg_opt_getnstr(o, i);
        fputc('"', out);
        for (; s && *s; s++)
            fprintf(out, "%s%c", *s == '"' || *s == '\\' ? "\\" : "", *s);
        fputc('"', out);
    }
    }
}

int osp_sc_config_print_sample(FILE *out) {
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    if (!cfg)
        return OSP_ENOMEM;
    for (const cfg_opt_t *t = opts; t->name; t++) {
        cfg_opt_t *o = cfg_getopt(cfg, t->name);
        bool list = o->flags & CFGF_LIST;
        fprintf(out, "#%s = %s", o->name, list ? "{" : "");
        for (unsigned i = 0; i < cfg_opt_size(o); i++) {
            fputs(i ? ", " : "", out);
            print_value(out, o, i);
        }
        fputs(list ? "}\n" : "\n", out);
    }
    cfg_free(cfg);
    return OSP_OK;
}

/* libconfuse reports "file:line: text"; keep the first message. */
static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap) {
    if (!cur_err || cur_err->text[0])
        return;
    char msg[140];
    vsnprintf(msg, sizeof msg, fmt, ap);
    osp__error_set(cur_err, OSP_ECONFIG, cur_file, cfg ? cfg->line : 0, "%s:%d: %s",
                   cur_file, cfg ? cfg->line : 0, msg);
}

static bool set_by_file(cfg_t *cfg, const char *name) {
    cfg_opt_t *o = cfg_getopt(cfg, name);
    return o && (o->flags & CFGF_MODIFIED);
}

static int set_str(char **slot, const char *v) {
    char *d = strdup(v);
    if (!d)
        return OSP_ENOMEM;
    free(*slot);
    *slot = d;
    return OSP_OK;
}

/* An [oslo_messaging_rabbit] option, from the oslo .conf or the URL query. */
static int set_rabbit_option(osp_sc_config_t *c, const char *name, const char *value,
                             bool *known) {
    struct {
        const char *name;
        bool *slot;
    } flags[] = {{"amqp_durable_queues", &c->amqp_durable_queues},
                 {"amqp_auto_delete", &c->amqp_auto_delete},
                 {"rabbit_quorum_queue", &c->rabbit_quorum_queue},
                 {"rabbit_ha_queues", &c->rabbit_ha_queues},
                 {"ssl", &c->ssl},
                 {"rabbit_use_ssl", &c->ssl},
                 {"ssl_enforce_hostname_verification", &c->ssl_verify_hostname}};
    struct {
        const char *name;
        char **slot;
    } files[] = {{"ssl_ca_file", &c->ssl_ca_file},
                 {"ssl_cert_file", &c->ssl_cert_file},
                 {"ssl_key_file", &c->ssl_key_file}};
    *known = true;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(name, flags[i].name) == 0)
            return osp__parse_bool(value, flags[i].slot) ? OSP_ECONFIG : OSP_OK;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (strcmp(name, files[i].name) == 0)
            return set_str(files[i].slot, value);
    if (strcmp(name, "heartbeat_timeout_threshold") == 0) {
        c->heartbeat = atoi(value);
        return OSP_OK;
    }
    if (strcmp(name, "rabbit_quorum_delivery_limit") == 0) {
        c->rabbit_quorum_delivery_limit = atol(value);
        return OSP_OK;
    }
    *known = false;
    return OSP_OK;
}

/* What the sidecar imports from oslo.messaging's options (oslo_opts.h has
 * their types, defaults and deprecated names), and the option of its own
 * each fills unless the sidecar's file sets it. Not [oslo_messaging_
 * notifications] driver and topics: osprofiler's notifier always uses
 * driver "messaging" and topic "profiler", whatever the service's own
 * notifications use. */
enum {
    OO_TRANSPORT_URL,
    OO_CONTROL_EXCHANGE,
    OO_NOTIFY_URL,
    OO_DURABLE,
    OO_AUTO_DELETE,
    OO_QUORUM,
    OO_HA,
    OO_SSL,
    OO_SSL_VERIFY,
    OO_SSL_CA,
    OO_SSL_CERT,
    OO_SSL_KEY,
    OO_HEARTBEAT,
    OO_QUORUM_LIMIT,
    OO_RETRY_INTERVAL,
    OO_RETRY_BACKOFF,
    OO_INTERVAL_MAX,
    OO_COUNT
};
#define RABBIT "oslo_messaging_rabbit"
static const struct {
    const char *group, *name, *own;
} imports[OO_COUNT] = {
    [OO_TRANSPORT_URL] = {"DEFAULT", "transport_url", "transport_url"},
    [OO_CONTROL_EXCHANGE] = {"DEFAULT", "control_exchange", "control_exchange"},
    [OO_NOTIFY_URL] = {"oslo_messaging_notifications", "transport_url", "transport_url"},
    [OO_DURABLE] = {RABBIT, "amqp_durable_queues", "amqp_durable_queues"},
    [OO_AUTO_DELETE] = {RABBIT, "amqp_auto_delete", "amqp_auto_delete"},
    [OO_QUORUM] = {RABBIT, "rabbit_quorum_queue", "rabbit_quorum_queue"},
    [OO_HA] = {RABBIT, "rabbit_ha_queues", "rabbit_ha_queues"},
    [OO_SSL] = {RABBIT, "ssl", "ssl"},
    [OO_SSL_VERIFY] = {RABBIT, "ssl_enforce_hostname_verification",
                       "ssl_enforce_hostname_verification"},
    [OO_SSL_CA] = {RABBIT, "ssl_ca_file", "ssl_ca_file"},
    [OO_SSL_CERT] = {RABBIT, "ssl_cert_file", "ssl_cert_file"},
    [OO_SSL_KEY] = {RABBIT, "ssl_key_file", "ssl_key_file"},
    [OO_HEARTBEAT] = {RABBIT, "heartbeat_timeout_threshold", "heartbeat"},
    [OO_QUORUM_LIMIT] = {RABBIT, "rabbit_quorum_delivery_limit",
                         "rabbit_quorum_delivery_limit"},
    [OO_RETRY_INTERVAL] = {RABBIT, "rabbit_retry_interval", "rabbit_retry_interval"},
    [OO_RETRY_BACKOFF] = {RABBIT, "rabbit_retry_backoff", "rabbit_retry_backoff"},
    [OO_INTERVAL_MAX] = {RABBIT, "rabbit_interval_max", "rabbit_interval_max"},
};

static const osp_oslo_opt_t *opt_of(int o) {
    return osp__oslo_known(imports[o].group, imports[o].name);
}

static int import_str(osp_oslo_conf_t *oc, int o, char **slot, osp_oslo_loc_t *at,
                      osp_error_t *err) {
    char *v = NULL;
    int rc = osp__oslo_get_str(oc, opt_of(o), &v, at, err);
    if (rc == OSP_OK && v) {
        if (*slot) {
            memset(*slot, 0, strlen(*slot)); /* transport_url: a password */
            free(*slot);
        }
        *slot = v;
    }
    return rc;
}

/* An integer option; *out changes only when a file sets it. */
static int import_int(osp_oslo_conf_t *oc, int o, long long *out, osp_error_t *err) {
    osp_oslo_loc_t at;
    long long v = *out;
    int rc = osp__oslo_get_int(oc, opt_of(o), &v, &at, err);
    if (rc == OSP_OK && at.file && v < 0) /* oslo sets no minimum; we need one */
        return osp__error_set(err, OSP_ECONFIG, at.file, at.line,
                              "%s:%d: [%s] %s: negative", at.file, at.line,
                              imports[o].group, imports[o].name);
    if (rc == OSP_OK)
        *out = v;
    return rc;
}

/* Where the transport_url came from, for errors about it. */
static int set_origin(osp_sc_config_t *c, const osp_oslo_loc_t *at) {
    c->transport_url_line = at->line;
    return set_str(&c->transport_url_file, at->file);
}

static int import_oslo(osp_sc_config_t *c, cfg_t *cfg, osp_error_t *err) {
    osp_oslo_conf_t *oc = osp__oslo_conf_new(NULL, 0);
    if (!oc)
        return OSP_ENOMEM;
    int rc = OSP_OK;
    for (size_t i = 0; i < c->noslo_config && rc == OSP_OK; i++)
        rc = osp__oslo_conf_read_path(oc, c->oslo_config[i], err);
    bool *flags[OO_COUNT] = {[OO_DURABLE] = &c->amqp_durable_queues,
                             [OO_AUTO_DELETE] = &c->amqp_auto_delete,
                             [OO_QUORUM] = &c->rabbit_quorum_queue,
                             [OO_HA] = &c->rabbit_ha_queues,
                             [OO_SSL] = &c->ssl,
                             [OO_SSL_VERIFY] = &c->ssl_verify_hostname};
    char **strs[OO_COUNT] = {[OO_CONTROL_EXCHANGE] = &c->control_exchange,
                             [OO_SSL_CA] = &c->ssl_ca_file,
                             [OO_SSL_CERT] = &c->ssl_cert_file,
                             [OO_SSL_KEY] = &c->ssl_key_file};
    osp_oslo_loc_t at;
    for (int o = 0; o < OO_COUNT && rc == OSP_OK; o++) {
        if (set_by_file(cfg, imports[o].own))
            continue;
        if (flags[o])
            rc = osp__oslo_get_bool(oc, opt_of(o), flags[o], &at, err);
        else if (strs[o])
            rc = import_str(oc, o, strs[o], &at, err);
    }
    long long ints[OO_COUNT] = {[OO_HEARTBEAT] = c->heartbeat,
                                [OO_QUORUM_LIMIT] = c->rabbit_quorum_delivery_limit,
                                [OO_RETRY_INTERVAL] = (long long)c->retry_interval,
                                [OO_RETRY_BACKOFF] = (long long)c->retry_backoff,
                                [OO_INTERVAL_MAX] = (long long)c->interval_max};
    for (int o = OO_HEARTBEAT; o <= OO_INTERVAL_MAX && rc == OSP_OK; o++) {
        long long before = ints[o];
        if (!set_by_file(cfg, imports[o].own))
            rc = import_int(oc, o, &ints[o], err);
        if (rc != OSP_OK || ints[o] == before)
            continue; /* keep a fractional value of our own file's */
        switch (o) {
        case OO_HEARTBEAT:
            c->heartbeat = (int)(ints[o] > 65535 ? 65535 : ints[o]); /* AMQP's short */
            break;
        case OO_QUORUM_LIMIT:
            c->rabbit_quorum_delivery_limit = (long)ints[o];
            break;
        case OO_RETRY_INTERVAL:
            c->retry_interval = (double)ints[o];
            break;
        case OO_RETRY_BACKOFF:
            c->retry_backoff = (double)ints[o];
            break;
        case OO_INTERVAL_MAX:
            c->interval_max = (double)ints[o];
            break;
        }
    }
    /* get_notification_transport: the notification URL when set and not
     * empty, else the [DEFAULT] one, else oslo's default rabbit://
     * (localhost); an empty [DEFAULT] one oslo.messaging refuses. */
    if (rc == OSP_OK && !set_by_file(cfg, "transport_url")) {
        char *url = NULL;
        rc = osp__oslo_get_str(oc, opt_of(OO_NOTIFY_URL), &url, &at, err);
        if (rc == OSP_OK && (!url || !*url)) {
            free(url);
            url = NULL;
            rc = osp__oslo_get_str(oc, opt_of(OO_TRANSPORT_URL), &url, &at, err);
            if (rc == OSP_OK && url && !*url)
                rc = osp__error_set(
                    err, OSP_ECONFIG, at.file, at.line,
                    "%s:%d: [DEFAULT] transport_url: empty (oslo.messaging "
                    "refuses it; leave it out for rabbit://)",
                    at.file, at.line);
        }
        if (rc == OSP_OK && !url && !(url = strdup(opt_of(OO_TRANSPORT_URL)->def)))
            rc = OSP_ENOMEM;
        if (rc == OSP_OK) {
            memset(c->transport_url, 0, strlen(c->transport_url));
            free(c->transport_url);
            c->transport_url = url;
            url = NULL;
            if (at.file)
                rc = set_origin(c, &at);
        }
        free(url);
    }
    osp__oslo_conf_free(oc);
    return rc;
}

static int apply_url_query(osp_sc_config_t *c, osp_error_t *err) {
    if (!c->transport_url[0])
        return OSP_OK; /* no broker: points go to the store */
    osp_transport_url_t u;
    int rc = osp__transport_url_parse(c->transport_url, &u, err);
    if (rc && err && c->transport_url_file) {
        /* imported: name the file and line that set it */
        char text[sizeof err->text];
        snprintf(text, sizeof text, "%s", err->text);
        osp__error_set(err, rc, c->transport_url_file, c->transport_url_line, "%s:%d: %s",
                       c->transport_url_file, c->transport_url_line, text);
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < u.nquery && rc == OSP_OK; i++) {
        bool known;
        if (set_rabbit_option(c, u.query[i].key, u.query[i].value, &known) != OSP_OK)
            rc = osp__error_set(err, OSP_ECONFIG,
                                c->transport_url_file ? c->transport_url_file
                                                      : "transport_url",
                                c->transport_url_line,
                                "transport_url option %s: '%.40s' is not a boolean",
                                u.query[i].key, u.query[i].value);
        else if (!known)
            OSP_LOG(OSP_LL_WARN, "config", "transport_url option '%s' is not used",
                    u.query[i].key);
    }
    osp__transport_url_free(&u);
    return rc;
}

int osp_sc_config_load(osp_sc_config_t *c, const char *file, osp_error_t *err) {
    memset(c, 0, sizeof *c);
    if (err)
        memset(err, 0, sizeof *err);
    cfg_t *cfg = cfg_init(opts, CFGF_NONE);
    if (!cfg)
        return OSP_ENOMEM;
    cur_err = err;
    cur_file = file ? file : "<defaults>";
    cfg_set_error_function(cfg, on_cfg_error);
    int rc = OSP_OK;
    if (file) {
        int r = cfg_parse(cfg, file);
        if (r == CFG_FILE_ERROR)
            rc = osp__error_set(err, OSP_ECONFIGFILE, file, 0, "%s: cannot open", file);
        else if (r != CFG_SUCCESS)
            rc = err && err->text[0]
                     ? OSP_ECONFIG
                     : osp__error_set(err, OSP_ECONFIG, file, 0, "%s: invalid", file);
        if (rc)
            goto out;
    }
    const char *mode = cfg_getstr(cfg, "listen_mode");
    char *end;
    c->listen_mode = (unsigned)strtoul(mode, &end, 8);
    if (*end || c->listen_mode > 0777) {
        rc =
            osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                           "%s: listen_mode '%.8s' is not an octal mode", cur_file, mode);
        goto out;
    }
    const char *policy = cfg_getstr(cfg, "publisher_policy");
    if (strcmp(policy, "trust") != 0 && strcmp(policy, "local") != 0) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: publisher_policy must be trust or local", cur_file);
        goto out;
    }
    c->publisher_local = strcmp(policy, "local") == 0;
    const char *drv = cfg_getstr(cfg, "driver");
    if (strcmp(drv, "messaging") != 0 && strcmp(drv, "messagingv2") != 0) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: driver must be messaging or messagingv2", cur_file);
        goto out;
    }
    c->driver_v2 = strcmp(drv, "messagingv2") == 0;
    c->log_level = osp__log_level_parse(cfg_getstr(cfg, "log_level"));
    if (c->log_level < 0) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: log_level must be error, warn, notice, info or debug",
                            cur_file);
        goto out;
    }
    c->spool_max_bytes = cfg_getint(cfg, "spool_max_bytes");
    if (set_str(&c->spool_dir, cfg_getstr(cfg, "spool_dir")) ||
        set_str(&c->listen_socket, cfg_getstr(cfg, "listen_socket")) ||
        set_str(&c->listen_group, cfg_getstr(cfg, "listen_group")) ||
        set_str(&c->host, cfg_getstr(cfg, "host")) ||
        set_str(&c->transport_url, cfg_getstr(cfg, "transport_url")) ||
        set_str(&c->control_exchange, cfg_getstr(cfg, "control_exchange")) ||
        set_str(&c->store, cfg_getstr(cfg, "store")) ||
        set_str(&c->collector_queue, cfg_getstr(cfg, "collector_queue")) ||
        set_str(&c->metrics_listen, cfg_getstr(cfg, "metrics_listen"))) {
        rc = OSP_ENOMEM;
        goto out;
    }
    c->ntopics = cfg_size(cfg, "topics");
    c->topics = calloc(c->ntopics ? c->ntopics : 1, sizeof *c->topics);
    for (size_t i = 0; c->topics && i < c->ntopics; i++)
        c->topics[i] = strdup(cfg_getnstr(cfg, "topics", (unsigned)i));
    c->collect = cfg_getbool(cfg, "collect");
    c->filter_error_trace = cfg_getbool(cfg, "filter_error_trace");
    c->amqp_durable_queues = cfg_getbool(cfg, "amqp_durable_queues");
    c->amqp_auto_delete = cfg_getbool(cfg, "amqp_auto_delete");
    c->rabbit_quorum_queue = cfg_getbool(cfg, "rabbit_quorum_queue");
    c->rabbit_ha_queues = cfg_getbool(cfg, "rabbit_ha_queues");
    c->rabbit_quorum_delivery_limit = cfg_getint(cfg, "rabbit_quorum_delivery_limit");
    c->heartbeat = (int)cfg_getint(cfg, "heartbeat");
    c->ssl = cfg_getbool(cfg, "ssl");
    c->ssl_verify_hostname = cfg_getbool(cfg, "ssl_enforce_hostname_verification");
    if (set_str(&c->ssl_ca_file, cfg_getstr(cfg, "ssl_ca_file")) ||
        set_str(&c->ssl_cert_file, cfg_getstr(cfg, "ssl_cert_file")) ||
        set_str(&c->ssl_key_file, cfg_getstr(cfg, "ssl_key_file"))) {
        rc = OSP_ENOMEM;
        goto out;
    }
    c->confirm_window = cfg_getint(cfg, "confirm_window");
    c->memory_limit = cfg_getint(cfg, "memory_limit");
    c->shutdown_grace = cfg_getfloat(cfg, "shutdown_grace");
    c->stats_interval = cfg_getfloat(cfg, "stats_interval");
    c->retry_interval = cfg_getfloat(cfg, "rabbit_retry_interval");
    c->retry_backoff = cfg_getfloat(cfg, "rabbit_retry_backoff");
    c->interval_max = cfg_getfloat(cfg, "rabbit_interval_max");
    c->broker_timeout = cfg_getfloat(cfg, "broker_timeout");
    if (!(c->broker_timeout >= 0.1 && c->broker_timeout <= 3600)) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: broker_timeout must be 0.1 to 3600 seconds", cur_file);
        goto out;
    }
    if (c->confirm_window < 1 || c->memory_limit < 65536 || c->ntopics == 0) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: confirm_window >= 1, memory_limit >= 65536 and at least "
                            "one topic are required",
                            cur_file);
        goto out;
    }
    c->max_connections = cfg_getint(cfg, "max_connections");
    c->max_connections_per_uid = cfg_getint(cfg, "max_connections_per_uid");
    c->max_rings_per_uid = cfg_getint(cfg, "max_rings_per_uid");
    c->max_ring_bytes_per_uid = cfg_getint(cfg, "max_ring_bytes_per_uid");
    c->max_record_bytes = cfg_getint(cfg, "max_record_bytes");
    c->limit_log_interval = cfg_getfloat(cfg, "limit_log_interval");
    if (c->max_connections < 1 || c->max_connections_per_uid < 1 ||
        c->max_rings_per_uid < 0 || c->max_ring_bytes_per_uid < 0 ||
        c->max_record_bytes < 1024 || c->max_record_bytes > 8 * 1024 * 1024 ||
        c->limit_log_interval < 0) {
        rc = osp__error_set(err, OSP_ECONFIG, cur_file, 0,
                            "%s: max_connections and max_connections_per_uid >= 1, "
                            "max_rings_per_uid and max_ring_bytes_per_uid >= 0, "
                            "max_record_bytes from 1024 to 8388608 and "
                            "limit_log_interval >= 0 are required",
                            cur_file);
        goto out;
    }
    c->noslo_config = cfg_size(cfg, "oslo_config");
    if (c->noslo_config) {
        c->oslo_config = calloc(c->noslo_config, sizeof *c->oslo_config);
        for (size_t i = 0; c->oslo_config && i < c->noslo_config; i++)
            if (!(c->oslo_config[i] =
                      strdup(cfg_getnstr(cfg, "oslo_config", (unsigned)i))))
                c->noslo_config = i;
        if (!c->oslo_config || c->noslo_config < cfg_size(cfg, "oslo_config")) {
            rc = OSP_ENOMEM;
            goto out;
        }
        if ((rc = import_oslo(c, cfg, err)))
            goto out;
    }
    rc = apply_url_query(c, err); /* collect without a broker: see override */
out:
    cfg_free(cfg);
    cur_err = NULL;
    if (rc)
        osp_sc_config_free(c);
    return rc;
}

int osp_sc_config_override(osp_sc_config_t *c, const osp_sc_overrides_t *o,
                           osp_error_t *err) {
    if ((o->socket && set_str(&c->listen_socket, o->socket)) ||
        (o->spool_dir && set_str(&c->spool_dir, o->spool_dir)) ||
        (o->store && set_str(&c->store, o->store)) ||
        (o->metrics_listen && set_str(&c->metrics_listen, o->metrics_listen)))
        return OSP_ENOMEM;
    if (o->collect)
        c->collect = true;
    const char *transport_url = o->transport_url;
    if (transport_url) {
        if (set_str(&c->transport_url, transport_url))
            return OSP_ENOMEM;
        free(c->transport_url_file); /* from the command line now */
        c->transport_url_file = NULL;
        int rc = apply_url_query(c, err);
        if (rc)
            return rc;
    }
    return OSP_OK;
}

int osp_sc_config_check(const osp_sc_config_t *c, osp_error_t *err) {
    if (c->collect && !c->transport_url[0])
        return osp__error_set(
            err, OSP_ECONFIG, "config", 0,
            "collect = true needs a transport_url (the broker to collect "
            "from)");
    return OSP_OK;
}

void osp_sc_config_free(osp_sc_config_t *c) {
    free(c->listen_socket);
    free(c->listen_group);
    free(c->host);
    if (c->transport_url) {
        memset(c->transport_url, 0, strlen(c->transport_url));
        free(c->transport_url);
    }
    free(c->control_exchange);
    if (c->store) {
        memset(c->store, 0, strlen(c->store)); /* may hold a redis password */
        free(c->store);
    }
    free(c->collector_queue);
    free(c->metrics_listen);
    osp__free_keys(c->topics, c->ntopics);
    osp__free_keys(c->oslo_config, c->noslo_config);
    free(c->transport_url_file);
    free(c->spool_dir);
    free(c->ssl_ca_file);
    free(c->ssl_cert_file);
    free(c->ssl_key_file);
    memset(c, 0, sizeof *c);
}
