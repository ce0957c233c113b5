/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_transport_url - a transport_url from a config file or the command line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/transport_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    osp_transport_url_t u;
    osp_error_t err;
    if (osp__transport_url_parse(s, &u, &err) == OSP_OK) {
        char d[256];
        osp__transport_url_describe(&u, d, sizeof d);
        osp__transport_url_query(&u, "ssl");
        osp__transport_url_free(&u);
    }
    free(s);
    return 0;
}
