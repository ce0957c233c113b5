/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web - HTTP propagation: _utils.signed_pack/signed_unpack, the client's
 * get_trace_id_headers() and WsgiMiddleware's server side.
 *
 * Unlike the reference, a request that is not traced says why: each reason
 * is its own return code and counter (osp_get_stats().web_rejected), because
 * "trace not found" with no reason is what operators complain about most.
 * Key material never reaches a log or an error text.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pyjson.h"
#include "../common/pytext.h"
#include "../common/sign.h"
#include "../common/trace_ctx.h"
#include "internal.h"

int osp_signed_pack(const char *json, size_t len, const char *key, char **info_out,
                    char **hmac_out) {
    if (!json || !info_out || !hmac_out)
        return OSP_EINVAL;
    *info_out = *hmac_out = NULL;
    osp_buf_t b = OSP_BUF_INIT;
    osp__b64url_encode(&b, (const unsigned char *)json, len);
    if (!osp__buf_cstr(&b)) {
        osp__buf_free(&b);
        return OSP_ENOMEM;
    }
    if (key && *key) {
        char hex[41];
        if (!osp__hmac_sha1_hex(key, strlen(key), b.data, b.len, hex) ||
            !(*hmac_out = strdup(hex))) {
            osp__buf_free(&b);
            return OSP_ENOMEM;
        }
    }
    *info_out = b.data;
    return OSP_OK;
}

static bool is_lower_hex40(const char *s, size_t n) {
    if (n != 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int osp_signed_unpack(const char *info, const char *hmac, const char *const *keys,
                      size_t nkeys, json_t **out) {
    if (!out)
        return OSP_EINVAL;
    *out = NULL;
    if (!keys || nkeys == 0)
        return OSP_ENOKEYS;
    if (!info || !hmac)
        return OSP_ENOHEADER;
    /* hmac_data.strip() */
    const char *a = hmac, *z = hmac + strlen(hmac);
    while (a < z && isspace((unsigned char)*a))
        a++;
    while (z > a && isspace((unsigned char)z[-1]))
        z--;
    if (a == z || !*info)
        return OSP_ENOHEADER;
    /* Anything but 40 lower-case hex digits can never equal a hexdigest. */
    if (!is_lower_hex40(a, (size_t)(z - a)))
        return OSP_EBADSIG;
    size_t info_len = strlen(info);
    for (size_t i = 0; i < nkeys; i++) {
        char want[41];
        if (!keys[i] ||
            !osp__hmac_sha1_hex(keys[i], strlen(keys[i]), info, info_len, want))
            continue;
        bool match = osp__ct_equal(want, a, 40);
        memset(want, 0, sizeof want);
        if (!match)
            continue;
        /* First match decides: a decoding failure does not try other keys. */
        osp_buf_t raw = OSP_BUF_INIT;
        json_t *obj = NULL;
        if (osp__b64url_decode(&raw, info, info_len) && !raw.failed)
            obj = json_loadb(raw.data ? raw.data : "", raw.len,
                             JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        osp__buf_free(&raw);
        if (!json_is_object(obj)) {
            json_decref(obj);
            return OSP_EUNDECODABLE;
        }
        if (json_object_set_new(obj, "hmac_key", json_string(keys[i])) != 0) {
            json_decref(obj);
            return OSP_ENOMEM;
        }
        *out = obj;
        return OSP_OK;
    }
    return OSP_ENOKEYMATCH;
}

int osp_web_headers(char **info_out, char **hmac_out) {
    if (!info_out || !hmac_out)
        return OSP_EINVAL;
    *info_out = *hmac_out = NULL;
    osp_profiler_t *p = osp_get();
    const char *key = osp_profiler_hmac_key(p);
    if (!p || !key || !*key)
        return OSP_ENOTRACE; /* Python returns {} */
    osp_buf_t b = OSP_BUF_INIT;
    const char *base = osp_profiler_base_id(p), *id = osp_profiler_id(p);
    osp__buf_puts(&b, "{\"base_id\": ");
    osp__pyjson_string(&b, base, strlen(base));
    osp__buf_puts(&b, ", \"parent_id\": ");
    osp__pyjson_string(&b, id, strlen(id));
    osp__buf_putc(&b, '}');
    int rc =
        b.failed ? OSP_ENOMEM : osp_signed_pack(b.data, b.len, key, info_out, hmac_out);
    osp__buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- path */

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Bytes webob's request.path leaves as they are: urllib's always-safe set
 * and webob's PATH_SAFE "/~!$&'()*+,;=:@". */
static bool path_safe(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("_.-~/!$&'()*+,;=:@", c));
}

/* request.path as Python's WsgiMiddleware records it, from the path as the
 * request carried it. A WSGI server percent-decodes the request path into
 * SCRIPT_NAME + PATH_INFO (urllib's unquote: "%" and two hex digits make a
 * byte, any other "%" stays); webob decodes those bytes as UTF-8 (strictly)
 * and quotes them again: url_quote(..., PATH_SAFE). So "/%7Eops/a%2Cb/[x]"
 * is recorded as "/~ops/a,b/%5Bx%5D". false when the decoded bytes are not
 * UTF-8: webob raises UnicodeDecodeError and the middleware fails. */
static bool webob_path(const char *raw, osp_buf_t *out) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(raw), k = 0;
    unsigned char *bytes = malloc(n + 1);
    if (!bytes) {
        out->failed = true;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        /* raw is NUL-terminated: a "%" at its end fails the first test */
        if (raw[i] == '%' && (hi = hex_digit((unsigned char)raw[i + 1])) >= 0 &&
            (lo = hex_digit((unsigned char)raw[i + 2])) >= 0) {
            bytes[k++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else {
            bytes[k++] = (unsigned char)raw[i];
        }
    }
    bool ok = true;
    for (const unsigned char *p = bytes, *end = bytes + k; p < end;) {
        size_t len = osp__utf8_len(p, end);
        if (!len) {
            ok = false;
            break;
        }
        p += len;
    }
    for (size_t i = 0; ok && i < k; i++) {
        if (path_safe(bytes[i])) {
            osp__buf_putc(out, (char)bytes[i]);
        } else {
            char esc[3] = {'%', hex[bytes[i] >> 4], hex[bytes[i] & 15]};
            osp__buf_append(out, esc, 3);
        }
    }
    free(bytes);
    return ok;
}

int osp_web_begin(const osp_web_request_t *req, const char *const *keys, size_t nkeys) {
    int rc;
    json_t *ti = NULL;
    osp_buf_t path = OSP_BUF_INIT;
    if (!req)
        return OSP_EINVAL;
    if (!osp_is_trace_enabled()) {
        rc = OSP_EDISABLED;
        goto out;
    }
    if (!keys)
        keys = osp__hmac_keys(&nkeys);
    rc = osp_signed_unpack(req->x_trace_info, req->x_trace_hmac, keys, nkeys, &ti);
    if (rc)
        goto out;
    rc = osp__trace_ctx_check(ti, NULL); /* the rule header verify applies */
    if (rc)
        goto out;
    /* The path before the profiler: a request Python's middleware fails
     * leaves nothing behind. */
    if (!webob_path(req->path ? req->path : "/", &path)) {
        rc = OSP_EBADPATH;
        goto out;
    }
    if (!osp__buf_cstr(&path)) {
        rc = OSP_ENOMEM;
        goto out;
    }
    const char *parent = json_string_value(json_object_get(ti, "parent_id"));
    if (!osp_init(json_string_value(json_object_get(ti, "hmac_key")),
                  json_string_value(json_object_get(ti, "base_id")), parent)) {
        rc = OSP_ENOMEM;
        goto out;
    }
    json_t *info = json_pack("{s{s:s,s:s,s:s,s:s}}", "request", "path", path.data,
                             "query", req->query ? req->query : "", "method",
                             req->method ? req->method : "GET", "scheme",
                             req->scheme ? req->scheme : "http");
    rc = info ? osp_start("wsgi", info) : OSP_ENOMEM;
    json_decref(info);
    if (rc == OSP_OK)
        *osp__web_active_flag() = true;
    else
        osp_clean();
out:
    json_decref(ti);
    osp__buf_free(&path);
    if (rc != OSP_ENOMEM && rc != OSP_EINVAL && rc != OSP_EBADPATH)
        osp__count_web(rc);
    return rc;
}

void osp_web_end(const char *etype, const char *message) {
    bool *active = osp__web_active_flag();
    if (!*active)
        return;
    *active = false;
    if (etype)
        osp_stop_error(etype, message);
    else
        osp_stop(NULL);
    osp_clean();
}

void osp_free(void *p) { free(p); }
