/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sign - the primitives of X-Trace-Info / X-Trace-HMAC.
 *
 * The HMAC is computed over the base64 *text* (not the JSON), with the key
 * encoded as UTF-8, exactly as _utils.generate_hmac. OpenSSL provides
 * HMAC-SHA1 and the constant-time compare (CRYPTO_memcmp).
 */
#include "sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void osp__b64url_encode(osp_buf_t *out, const unsigned char *in, size_t n) {
    if (!osp__buf_reserve(out, (n + 2) / 3 * 4))
        return;
    char *p = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *p++ = b64url[v >> 18];
        *p++ = b64url[(v >> 12) & 63];
        *p++ = b64url[(v >> 6) & 63];
        *p++ = b64url[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        *p++ = b64url[v >> 18];
        *p++ = b64url[(v >> 12) & 63];
        *p++ = i + 1 < n ? b64url[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    out->len = (size_t)(p - out->data);
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+') /* urlsafe_b64decode maps - to + first */
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

bool osp__b64url_decode(osp_buf_t *out, const char *in, size_t n) {
    /* Mirrors binascii.a2b_base64 in its default (non-strict) mode. */
    unsigned leftchar = 0;
    int quad = 0, pads = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=') {
            /* A complete pad sequence ends the input. */
            if (quad >= 2 && quad + ++pads >= 4)
                return !out->failed;
            continue;
        }
        int v = b64_value(c);
        if (v < 0)
            continue; /* junk is discarded */
        pads = 0;
        switch (quad) {
        case 0:
            leftchar = (unsigned)v;
            quad = 1;
            break;
        case 1:
            osp__buf_putc(out, (char)((leftchar << 2) | ((unsigned)v >> 4)));
            leftchar = (unsigned)v & 0x0f;
            quad = 2;
            break;
        case 2:
            osp__buf_putc(out, (char)((leftchar << 4) | ((unsigned)v >> 2)));
            leftchar = (unsigned)v & 0x03;
            quad = 3;
            break;
        default:
            osp__buf_putc(out, (char)((leftchar << 6) | (unsigned)v));
            leftchar = 0;
            quad = 0;
        }
    }
    /* Data left in a quad without its padding: "Incorrect padding". */
    return quad == 0 && !out->failed;
}

bool osp__hmac_sha1_hex(const char *key, size_t keylen, const char *msg, size_t n,
                        char out[41]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* HMAC() with a zero-length key needs a non-NULL pointer. */
    if (!HMAC(EVP_sha1(), keylen ? key : "", (int)keylen, (const unsigned char *)msg, n,
              md, &mdlen) ||
        mdlen != 20)
        return false;
    static const char hexdig[] = "0123456789abcdef";
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hexdig[md[i] >> 4];
        out[2 * i + 1] = hexdig[md[i] & 15];
    }
    out[40] = '\0';
    OPENSSL_cleanse(md, sizeof md);
    return true;
}

bool osp__ct_equal(const char *a, const char *b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}
