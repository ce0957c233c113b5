/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_record - a binary point record from a hostile local client (a ring or
 * a binary frame): read it, turn it into the JSON payload. Whatever is
 * accepted must come out as a trace point Python reads, with the record's
 * name and suffix; nothing may be read past the record's end (the input is
 * copied to an exact-size buffer for the sanitizers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/point.h"
#include "common/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    osp_rec_t r;
    osp_error_t err;
    osp_buf_t out = OSP_BUF_INIT;
    if (osp__rec_read(copy, size, &r, &err) == OSP_OK &&
        osp__rec_to_json(&r, &out, &err) == OSP_OK) {
        osp_point_view_t v;
        if (osp__point_scan(out.data, out.len, &v, &err) != OSP_OK)
            abort(); /* a payload ceilometer could not read */
        /* The name comes back with its suffix (when it is clean ASCII). */
        bool plain = true;
        for (size_t i = 0; i < r.name_len; i++)
            plain = plain && r.name[i] >= 0x20 && r.name[i] < 0x7f && r.name[i] != '"' &&
                    r.name[i] != '\\';
        const char *suffix = r.stop ? "-stop" : "-start";
        if (plain && (v.name.len != r.name_len + strlen(suffix) ||
                      memcmp(v.name.raw, r.name, r.name_len) != 0 ||
                      memcmp(v.name.raw + r.name_len, suffix, strlen(suffix)) != 0))
            abort();
    }
    osp__buf_free(&out);
    free(copy);
    return 0;
}
