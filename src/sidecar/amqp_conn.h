/* SPDX-License-Identifier: Apache-2.0 */
/* amqp_conn - connection set-up shared by the publisher and the collector. */
#ifndef OSP_SIDECAR_AMQP_CONN_H
#define OSP_SIDECAR_AMQP_CONN_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/transport_url.h"
#include "config.h"

/* true when r is a normal reply; else why tells what failed ("what: ..."),
 * with a hint for 406 PRECONDITION_FAILED. Never holds a password. */
bool osp_amqp_reply_ok(amqp_rpc_reply_t r, const char *what, char *why, size_t len);

/* Connect to host h of url (TLS when c->ssl), log in, open channel. On
 * failure false, why set, nothing left open. */
bool osp_amqp_open(const osp_sc_config_t *c, const osp_transport_url_t *url,
                   const osp_url_host_t *h, int channel, amqp_connection_state_t *out,
                   char *why, size_t len);

/* A queue's x-arguments as oslo gives its queues: quorum (with
 * x-delivery-limit) when rabbit_quorum_queue, else x-ha-policy when
 * rabbit_ha_queues. e holds the entries; the table points into it. */
amqp_table_t osp_amqp_queue_arguments(const osp_sc_config_t *c, amqp_table_entry_t e[2]);

#endif
