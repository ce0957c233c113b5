/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_url - parse oslo.messaging transport URLs (14.0.3 semantics):
 * the netloc is split on ',', each host on its last '@', the credentials on
 * the first ':'; user, password and vhost are %-decoded; "[...]" is an IPv6
 * host; no host at all means guest:guest@localhost:5672. Unlike oslo we do not
 * shuffle hosts here (the publisher decides the failover order) and a '/' in a
 * password works. Input is untrusted: every length is checked.
 */
#include "transport_url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define MAX_URL 8192

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* %-decode n bytes (Python's unquote: bad escapes are kept as they are). */
static char *pct_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

void osp__transport_url_free(osp_transport_url_t *u) {
    if (!u)
        return;
    for (size_t i = 0; i < u->nhosts; i++) {
        free(u->hosts[i].user);
        if (u->hosts[i].password) {
            memset(u->hosts[i].password, 0, strlen(u->hosts[i].password));
            free(u->hosts[i].password);
        }
        free(u->hosts[i].host);
    }
    free(u->hosts);
    for (size_t i = 0; i < u->nquery; i++) {
        free(u->query[i].key);
        free(u->query[i].value);
    }
    free(u->query);
    free(u->driver);
    free(u->vhost);
    memset(u, 0, sizeof *u);
}

static int add_host(osp_transport_url_t *u, const char *s, size_t n, osp_error_t *err) {
    osp_url_host_t h = {0};
    const char *at = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    const char *hp = s; /* host[:port] */
    size_t hn = n;
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
        h.user = pct_decode(s, ulen);
        h.password = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1)) : strdup("");
        hp = at + 1;
        hn = n - (size_t)(hp - s);
    } else {
        h.user = strdup("guest");
        h.password = strdup("guest");
    }
    h.port = 5672;
    const char *port = NULL;
    if (hn && hp[0] == '[') {
        const char *close = memchr(hp, ']', hn);
        if (!close)
            goto bad_host;
        h.host = strndup(hp + 1, (size_t)(close - hp - 1));
        if (close + 1 < hp + hn) {
            if (close[1] != ':')
                goto bad_host;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', hn);
        h.host = strndup(hp, colon ? (size_t)(colon - hp) : hn);
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t plen = hn - (size_t)(port - hp);
        if (plen == 0 || plen > 5)
            goto bad_port;
        int v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                goto bad_port;
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            goto bad_port;
        h.port = v;
    }
    if (!h.user || !h.password || !h.host)
        goto nomem;
    if (!*h.host)
        h.host = (free(h.host), strdup("localhost"));
    osp_url_host_t *grown = realloc(u->hosts, (u->nhosts + 1) * sizeof *grown);
    if (!grown)
        goto nomem;
    u->hosts = grown;
    u->hosts[u->nhosts++] = h;
    return OSP_OK;
bad_port:
    osp__error_set(err, OSP_ECONFIG, "transport_url", 0,
                   "transport_url: host %zu has an invalid port", u->nhosts + 1);
    goto out;
bad_host:
    osp__error_set(err, OSP_ECONFIG, "transport_url", 0,
                   "transport_url: host %zu has an unterminated [IPv6] address",
                   u->nhosts + 1);
    goto out;
nomem:
    osp__error_set(err, OSP_ENOMEM, "transport_url", 0, "out of memory");
out:
    free(h.user);
    free(h.password);
    free(h.host);
    return OSP_ECONFIG;
}

static int add_query(osp_transport_url_t *u, const char *s, size_t n) {
    if (n == 0)
        return OSP_OK;
    const char *eq = memchr(s, '=', n);
    char *key = pct_decode(s, eq ? (size_t)(eq - s) : n);
    char *val = eq ? pct_decode(eq + 1, n - (size_t)(eq - s) - 1) : strdup("");
    if (!key || !val)
        goto nomem;
    for (size_t i = 0; i < u->nquery; i++) {
        if (strcmp(u->query[i].key, key) == 0) { /* join repeats with ',' */
            char *joined = malloc(strlen(u->query[i].value) + strlen(val) + 2);
            if (!joined)
                goto nomem;
            strcpy(joined, u->query[i].value);
            strcat(joined, ",");
            strcat(joined, val);
            free(u->query[i].value);
            u->query[i].value = joined;
            free(key);
            free(val);
            return OSP_OK;
        }
    }
    osp_url_query_t *grown = realloc(u->query, (u->nquery + 1) * sizeof *grown);
    if (!grown)
        goto nomem;
    u->query = grown;
    u->query[u->nquery].key = key;
    u->query[u->nquery++].value = val;
    return OSP_OK;
nomem:
    free(key);
    free(val);
    return OSP_ENOMEM;
}

int osp__transport_url_parse(const char *url, osp_transport_url_t *out,
                             osp_error_t *err) {
    memset(out, 0, sizeof *out);
    if (!url || strlen(url) > MAX_URL)
        return osp__error_set(err, OSP_ECONFIG, "transport_url", 0,
                              "transport_url missing or longer than %d bytes", MAX_URL);
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return osp__error_set(err, OSP_ECONFIG, "transport_url", 0,
                              "transport_url has no driver:// prefix");
    out->driver = strndup(url, (size_t)(sep - url));
    const char *rest = sep + 3;
    const char *q = strchr(rest, '?');
    const char *end = q ? q : rest + strlen(rest);
    const char *slash = memchr(rest, '/', (size_t)(end - rest));
    /* A '/' inside credentials would split early: find the path after the
     * last '@' of the netloc. */
    const char *last_at = NULL;
    for (const char *p = rest; p < end; p++)
        if (*p == '@')
            last_at = p;
    if (last_at)
        slash = memchr(last_at, '/', (size_t)(end - last_at));
    const char *net_end = slash ? slash : end;
    int rc = OSP_OK;
    if (net_end > rest) {
        const char *h = rest;
        for (const char *p = rest;; p++) {
            if (p == net_end || *p == ',') {
                if (p > h && (rc = add_host(out, h, (size_t)(p - h), err)) != OSP_OK)
                    goto fail;
                h = p + 1;
                if (p == net_end)
                    break;
            }
        }
    }
    if (out->nhosts == 0 && (rc = add_host(out, "localhost", 9, err)) != OSP_OK)
        goto fail;
    out->vhost = slash ? pct_decode(slash + 1, (size_t)(end - slash - 1)) : strdup("");
    if (q) {
        const char *p = q + 1;
        while (*p) {
            const char *amp = strchr(p, '&');
            size_t n = amp ? (size_t)(amp - p) : strlen(p);
            if ((rc = add_query(out, p, n)) != OSP_OK)
                goto fail;
            p += n + (amp ? 1 : 0);
        }
    }
    if (!out->driver || !out->vhost) {
        rc = osp__error_set(err, OSP_ENOMEM, "transport_url", 0, "out of memory");
        goto fail;
    }
    return OSP_OK;
fail:
    osp__transport_url_free(out);
    return rc == OSP_ENOMEM ? rc : OSP_ECONFIG;
}

const char *osp__transport_url_query(const osp_transport_url_t *u, const char *key) {
    for (size_t i = 0; i < u->nquery; i++)
        if (strcmp(u->query[i].key, key) == 0)
            return u->query[i].value;
    return NULL;
}

void osp__transport_url_describe(const osp_transport_url_t *u, char *out, size_t len) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < u->nhosts && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s:%d", i ? "," : "", u->hosts[i].host,
                              u->hosts[i].port);
}

bool osp__url_mask_userinfo(char *url) {
    char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    /* The userinfo ends at the last '@' before the path: a password may
     * hold '@' only %-encoded, but be generous. */
    char *path = strchr(p, '/'), *at = NULL;
    for (char *q = p; *q && (!path || q < path); q++)
        if (*q == '@')
            at = q;
    if (!at)
        return false;
    memset(p, '*', (size_t)(at - p));
    return true;
}
