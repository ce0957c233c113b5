/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_unpack - X-Trace-Info / X-Trace-HMAC as they arrive on a request.
 * Input: info '\n' hmac. The HMAC is recomputed for half the inputs so the
 * decoder behind the signature check is reached too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

#include "common/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = strchr(buf, '\n');
    const char *hmac = "";
    if (nl) {
        *nl = '\0';
        hmac = nl + 1;
    }
    const char *keys[] = {"fuzz-key"};
    char good[41];
    if (size && (data[0] & 1) &&
        osp__hmac_sha1_hex("fuzz-key", 8, buf, strlen(buf), good))
        hmac = good;
    json_t *out = NULL;
    if (osp_signed_unpack(buf, hmac, keys, 1, &out) == OSP_OK)
        json_decref(out);
    free(buf);
    return 0;
}
