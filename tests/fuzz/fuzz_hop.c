/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_hop - a received hop frame: header, records, point validation. */
#include <stdint.h>

#include "common/hop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    osp_hop_frame_t f;
    osp_error_t err;
    if (osp__hop_parse(data, size, &f, &err) != OSP_OK)
        return 0;
    const char *rec;
    size_t len;
    while (osp__hop_next(&f, &rec, &len) == 1) {
        json_t *pt = NULL;
        if (osp__point_parse(rec, len, &pt, &err) == OSP_OK)
            json_decref(pt);
    }
    return 0;
}
