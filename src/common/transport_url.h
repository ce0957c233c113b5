/* SPDX-License-Identifier: Apache-2.0 */
/* transport_url - oslo.messaging's transport_url, parsed as TransportURL.parse
 * does: driver://[user:pass@]host[:port][,...]/[vhost][?query]. */
#ifndef OSP_COMMON_TRANSPORT_URL_H
#define OSP_COMMON_TRANSPORT_URL_H

#include <stdbool.h>
#include <stddef.h>

#include <osprofiler/osprofiler.h>

typedef struct osp_url_host {
    char *user;     /* %-decoded; "guest" when the URL has none */
    char *password; /* %-decoded; a secret: never logged */
    char *host;     /* without IPv6 brackets */
    int port;       /* 5672 when absent, even with ssl (as oslo) */
} osp_url_host_t;

typedef struct osp_url_query {
    char *key, *value; /* repeated keys are joined with "," as oslo does */
} osp_url_query_t;

typedef struct osp_transport_url {
    char *driver; /* "rabbit" */
    osp_url_host_t *hosts;
    size_t nhosts;
    char *vhost; /* %-decoded; "" means "/" */
    osp_url_query_t *query;
    size_t nquery;
} osp_transport_url_t;

/* Parse; on error err->text says why without quoting any password.
 * Returns OSP_OK or OSP_ECONFIG. */
int osp__transport_url_parse(const char *url, osp_transport_url_t *out, osp_error_t *err);
void osp__transport_url_free(osp_transport_url_t *u);
/* The query value for key, or NULL. */
const char *osp__transport_url_query(const osp_transport_url_t *u, const char *key);
/* "host:port" list for logs: never the user or password. */
void osp__transport_url_describe(const osp_transport_url_t *u, char *out, size_t len);
/* Overwrite, in place, the user:password part of any scheme://...@host URL
 * (a transport_url, a redis:// store) with '*', keeping its length: for
 * argv, which /proc/PID/cmdline shows every local user. true if it did. */
bool osp__url_mask_userinfo(char *url);

#endif
