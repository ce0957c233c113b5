/* SPDX-License-Identifier: Apache-2.0 */
/* sign - URL-safe base64 and HMAC-SHA1 as osprofiler's _utils uses them. */
#ifndef OSP_COMMON_SIGN_H
#define OSP_COMMON_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* RFC 4648 URL-safe alphabet with '=' padding (base64.urlsafe_b64encode). */
void osp__b64url_encode(osp_buf_t *out, const unsigned char *in, size_t n);
/* base64.urlsafe_b64decode: characters outside the alphabet are skipped (as
 * binascii does); incorrect padding is an error. Returns false on error. */
bool osp__b64url_decode(osp_buf_t *out, const char *in, size_t n);
/* HMAC-SHA1(key, msg) as 40 lower-case hex digits + NUL. */
bool osp__hmac_sha1_hex(const char *key, size_t keylen, const char *msg, size_t n,
                        char out[41]);
/* Constant-time equality of two strings of equal length n. */
bool osp__ct_equal(const char *a, const char *b, size_t n);

#endif
