/* SPDX-License-Identifier: Apache-2.0 */
/*
 * amqp_conn - open one AMQP connection as oslo.messaging's rabbit driver
 * would (TCP or TLS with py-amqp's verification rules, login, a channel),
 * shared by the publisher and the collector.
 */
#include "amqp_conn.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

/* One text for any failed rabbitmq-c call: library errors through
 * amqp_error_string2, server exceptions with the close method's code. */
bool osp_amqp_reply_ok(amqp_rpc_reply_t r, const char *what, char *why, size_t len) {
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return true;
    case AMQP_RESPONSE_NONE:
        snprintf(why, len, "%s: no reply", what);
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(why, len, "%s: %s", what, amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
        const amqp_bytes_t *text = NULL;
        unsigned code = 0;
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *c = r.reply.decoded;
            code = c->reply_code;
            text = &c->reply_text;
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *c = r.reply.decoded;
            code = c->reply_code;
            text = &c->reply_text;
        }
        snprintf(why, len, "%s: server error %u %.*s", what, code,
                 text ? (int)text->len : 0, text ? (const char *)text->bytes : "");
        if (code == 406)
            snprintf(why + strlen(why), len - strlen(why),
                     " (the queue exists with other flags: set amqp_durable_queues, "
                     "amqp_auto_delete and rabbit_quorum_queue as the consumers do; "
                     "points stay queued)");
        break;
    }
    }
    return false;
}

/* rabbitmq-c waits without a deadline for room to send a frame (a publish);
 * a peer that stopped reading (a hung node) would hold it until the
 * heartbeat, or for ever when the kernel still ACKs zero-window probes.
 * TCP_USER_TIMEOUT makes the kernel fail the connection once sent data (or
 * a zero-window probe) stays unacknowledged that long. */
static void bound_sends(int fd, double timeout) {
    unsigned ms = (unsigned)(timeout * 1000);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
}

bool osp_amqp_open(const osp_sc_config_t *c, const osp_transport_url_t *url,
                   const osp_url_host_t *h, int channel, amqp_connection_state_t *out,
                   char *why, size_t len) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *s = NULL;
    if (conn)
        s = c->ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
    if (!s) {
        snprintf(why, len, c->ssl ? "cannot set up TLS" : "out of memory");
        goto fail;
    }
    if (c->ssl) {
        /* As py-amqp: the peer is always verified (system CAs unless
         * ssl_ca_file); the host name when ssl_enforce_hostname_verification. */
        amqp_ssl_socket_set_verify_peer(s, 1);
        amqp_ssl_socket_set_verify_hostname(s, c->ssl_verify_hostname);
        if (c->ssl_ca_file[0] && amqp_ssl_socket_set_cacert(s, c->ssl_ca_file) != 0) {
            snprintf(why, len, "ssl_ca_file %s cannot be loaded", c->ssl_ca_file);
            goto fail;
        }
        if (c->ssl_cert_file[0] &&
            amqp_ssl_socket_set_key(s, c->ssl_cert_file, c->ssl_key_file) != 0) {
            snprintf(why, len, "ssl_cert_file/ssl_key_file %s cannot be loaded",
                     c->ssl_cert_file);
            goto fail;
        }
    }
    /* broker_timeout bounds every wait on the broker: a hung cluster node
     * must not hold the caller longer (docs/design.md, "A hung cluster node"). */
    struct timeval tv = {
        (time_t)c->broker_timeout,
        (suseconds_t)((c->broker_timeout - (time_t)c->broker_timeout) * 1e6)};
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    int rc = amqp_socket_open_noblock(s, h->host, h->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        if (c->ssl && (rc == AMQP_STATUS_SSL_ERROR ||
                       rc == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED ||
                       rc == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
                       rc == AMQP_STATUS_SSL_CONNECTION_FAILED))
            snprintf(
                why, len,
                "TLS: %s (check ssl_ca_file, and that the broker's certificate names "
                "the host of the transport_url)",
                amqp_error_string2(rc));
        else
            snprintf(why, len, "connect: %s", amqp_error_string2(rc));
        goto fail;
    }
    bound_sends(amqp_get_sockfd(conn), c->broker_timeout);
    const char *vhost = url->vhost[0] ? url->vhost : "/";
    if (!osp_amqp_reply_ok(amqp_login(conn, vhost, 0, 131072, c->heartbeat,
                                      AMQP_SASL_METHOD_PLAIN, h->user, h->password),
                           "login", why, len))
        goto fail;
    amqp_channel_open(conn, (amqp_channel_t)channel);
    if (!osp_amqp_reply_ok(amqp_get_rpc_reply(conn), "channel.open", why, len))
        goto fail;
    *out = conn;
    return true;
fail:
    if (conn)
        amqp_destroy_connection(conn);
    return false;
}

amqp_table_t osp_amqp_queue_arguments(const osp_sc_config_t *c, amqp_table_entry_t e[2]) {
    int n = 0;
    if (c->rabbit_quorum_queue) {
        e[n].key = amqp_cstring_bytes("x-queue-type");
        e[n].value.kind = AMQP_FIELD_KIND_UTF8;
        e[n++].value.value.bytes = amqp_cstring_bytes("quorum");
        if (c->rabbit_quorum_delivery_limit > 0) {
            e[n].key = amqp_cstring_bytes("x-delivery-limit");
            e[n].value.kind = AMQP_FIELD_KIND_I32;
            e[n++].value.value.i32 = (int32_t)c->rabbit_quorum_delivery_limit;
        }
    } else if (c->rabbit_ha_queues) {
        e[n].key = amqp_cstring_bytes("x-ha-policy");
        e[n].value.kind = AMQP_FIELD_KIND_UTF8;
        e[n++].value.value.bytes = amqp_cstring_bytes("all");
    }
    amqp_table_t t = {n, n ? e : NULL};
    return t;
}
