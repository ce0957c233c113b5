/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_dump - prints, as JSON, every value the library and the sidecar
 * take from a service's .conf files, for the differential tests against
 * oslo.config (test_oslo_config.py).
 *
 *   config_dump lib PATH...      osp_config_load_files on the paths
 *   config_dump sidecar PATH...  the sidecar's config with oslo_config = PATHs
 *
 * Prints {"ok": true, ...values} or {"ok": false, "source", "line",
 * "error"}. Test data only: it prints hmac_keys and transport_url in full.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/internal.h"
#include "sidecar/config.h"

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *failure(const osp_error_t *e) {
    return json_pack("{s:b, s:s, s:i, s:s}", "ok", 0, "source", e->source, "line",
                     e->line, "error", e->text);
}

static json_t *dump_lib(char **paths, size_t n) {
    osp_config_t *c = osp_config_new();
    osp_error_t e = {0};
    if (osp_config_load_files(c, (const char *const *)paths, n, &e) != OSP_OK) {
        osp_config_free(c);
        return failure(&e);
    }
    /* Unset, the library names the host as the service would: gethostname(). */
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    const char *host = c->host ? c->host : name;
    json_t *keys = json_array();
    for (size_t i = 0; i < c->nkeys; i++)
        json_array_append_new(keys, json_string(c->hmac_keys[i]));
    json_t *o = json_pack("{s:b, s:b, s:b, s:b, s:o, s:s, s:o, s:o}", "ok", 1, "enabled",
                          c->enabled, "trace_sqlalchemy", c->trace_sqlalchemy,
                          "filter_error_trace", c->filter_error_trace, "hmac_keys", keys,
                          "connection_string", c->connection_string, "sidecar_socket",
                          str_or_null(c->sidecar_socket), "host", json_string(host));
    osp_config_free(c);
    return o;
}

/* libconfuse's string syntax: "..." with \" and \\ escaped. */
static void put_confuse_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static json_t *dump_sidecar(char **paths, size_t n) {
    char conf[] = "/tmp/osp-config-dump-XXXXXX";
    int fd = mkstemp(conf);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        perror("mkstemp");
        exit(2);
    }
    fputs("oslo_config = {", f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        put_confuse_str(f, paths[i]);
    }
    fputs("}\n", f);
    fclose(f);
    osp_sc_config_t c;
    osp_error_t e = {0};
    int rc = osp_sc_config_load(&c, conf, &e);
    unlink(conf);
    if (rc != OSP_OK)
        return failure(&e);
    json_t *o = json_pack(
        "{s:b, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:s, s:i, s:I, s:f, "
        "s:f, "
        "s:f, s:o}",
        "ok", 1, "transport_url", c.transport_url, "control_exchange", c.control_exchange,
        "amqp_durable_queues", c.amqp_durable_queues, "amqp_auto_delete",
        c.amqp_auto_delete, "rabbit_quorum_queue", c.rabbit_quorum_queue,
        "rabbit_ha_queues", c.rabbit_ha_queues, "ssl", c.ssl,
        "ssl_enforce_hostname_verification", c.ssl_verify_hostname, "ssl_ca_file",
        c.ssl_ca_file, "ssl_cert_file", c.ssl_cert_file, "ssl_key_file", c.ssl_key_file,
        "heartbeat_timeout_threshold", c.heartbeat, "rabbit_quorum_delivery_limit",
        (json_int_t)c.rabbit_quorum_delivery_limit, "rabbit_retry_interval",
        c.retry_interval, "rabbit_retry_backoff", c.retry_backoff, "rabbit_interval_max",
        c.interval_max, "transport_url_line",
        c.transport_url_file ? json_integer(c.transport_url_line) : json_null());
    osp_sc_config_free(&c);
    return o;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "lib") && strcmp(argv[1], "sidecar"))) {
        fprintf(stderr, "usage: config_dump lib|sidecar PATH...\n");
        return 2;
    }
    size_t n = (size_t)(argc - 2);
    json_t *o =
        strcmp(argv[1], "lib") == 0 ? dump_lib(argv + 2, n) : dump_sidecar(argv + 2, n);
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    puts(text);
    free(text);
    json_decref(o);
    return 0;
}
