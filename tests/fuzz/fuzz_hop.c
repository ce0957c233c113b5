/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hop - a received hop frame: header, records, point checks.
 *
 * Differential: the single-pass scanner must agree with jansson, except
 * where Python (the consumer) and jansson differ: NaN/Infinity, numbers too
 * large for jansson, \u0000 in a key. Any other disagreement aborts.
 *
 * An input whose header has the EXT flag (records in a memfd) is split:
 * the header is the frame, the rest goes into a sealed memfd that
 * osp__hop_ext_records reads, as the sidecar does.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/hop.h"
#include "common/point.h"
#include "common/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_string(const osp_jstr_t *s, json_t *j) {
    if (!json_is_string(j))
        return false;
    char *tmp = malloc(s->len + 1);
    size_t n = osp__jstr_decode(s, tmp, s->len + 1);
    /* a decoded \u0000 ends the C string in both */
    bool same =
        strcmp(tmp, json_string_value(j)) == 0 && n >= strlen(json_string_value(j));
    free(tmp);
    return same;
}

static void compare(const char *rec, size_t len) {
    osp_point_view_t v;
    json_t *pt = NULL;
    osp_error_t err;
    bool scan_ok = osp__point_scan(rec, len, &v, &err) == OSP_OK;
    bool tree_ok = osp__point_parse(rec, len, &pt, &err) == OSP_OK;
    if (tree_ok && !scan_ok)
        abort(); /* point_parse scans first: cannot happen */
    if (scan_ok && !tree_ok) {
        /* only jansson's refusals of what Python reads may differ: big
         * numbers, NaN/Infinity, and \u0000 inside a key */
        json_error_t je;
        json_t *o = json_loadb(rec, len, JSON_ALLOW_NUL, &je);
        if (o || (!strstr(je.text, "too big") && !strstr(je.text, "overflow") &&
                  !strstr(je.text, "NUL byte in object key") &&
                  !memmem(rec, len, "NaN", 3) && !memmem(rec, len, "Infinity", 8)))
            abort();
        json_decref(o);
        return;
    }
    if (!scan_ok) {
        /* anything jansson alone accepts must break a rule jansson does not
         * check: the point fields, nesting deeper than ours, or a raw NUL
         * after a number (jansson 2.14 takes "[-2\0]", Python refuses it) */
        json_error_t je;
        json_t *o = json_loadb(rec, len, JSON_ALLOW_NUL, &je);
        if (o && json_is_object(o) && json_is_string(json_object_get(o, "name")) &&
            strstr(err.text, "invalid JSON") && !strstr(err.text, "nested too deeply") &&
            !memchr(rec, 0, len))
            abort();
        json_decref(o);
        return;
    }
    if (!same_string(&v.name, json_object_get(pt, "name")) ||
        !same_string(&v.base_id, json_object_get(pt, "base_id")) ||
        !same_string(&v.trace_id, json_object_get(pt, "trace_id")) ||
        !same_string(&v.parent_id, json_object_get(pt, "parent_id")) ||
        !same_string(&v.timestamp, json_object_get(pt, "timestamp")) ||
        (v.service.raw && !same_string(&v.service, json_object_get(pt, "service"))) ||
        (!v.service.raw && json_is_string(json_object_get(pt, "service"))))
        abort();
    json_decref(pt);
}

static void records(osp_hop_frame_t *f) {
    const char *rec;
    size_t len;
    while (osp__hop_next(f, &rec, &len) == 1) {
        if (!(f->flags & OSP_HOP_FLAG_BINARY)) {
            compare(rec, len);
            continue;
        }
        osp_rec_t r;
        osp_buf_t b = OSP_BUF_INIT;
        if (osp__rec_read(rec, len, &r, NULL) == OSP_OK &&
            osp__rec_to_json(&r, &b, NULL) == OSP_OK)
            compare(b.data, b.len); /* what the sidecar publishes is a point */
        osp__buf_free(&b);
    }
}

/* Header-only frame, the records in a sealed memfd. */
static void ext_frame(const uint8_t *data, size_t size) {
    size_t hlen = 8 + ((size_t)data[6] | (size_t)data[7] << 8);
    if (hlen > size || size - hlen > OSP_HOP_MAX_EXT)
        return;
    osp_hop_frame_t f;
    if (size > hlen && osp__hop_parse(data, size, &f, NULL) == OSP_OK)
        abort(); /* such a frame carries its header alone */
    if (osp__hop_parse(data, hlen, &f, NULL) != OSP_OK)
        return;
    int fd = memfd_create("fuzz-ext", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return;
    if (write(fd, data + hlen, size - hlen) == (ssize_t)(size - hlen) &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0) {
        osp_buf_t buf = OSP_BUF_INIT;
        int rc = osp__hop_ext_records(&f, fd, &buf, NULL);
        if ((rc == OSP_OK) != (size > hlen)) /* empty is refused, anything else read */
            abort();
        if (rc == OSP_OK)
            records(&f);
        osp__buf_free(&buf);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    osp_hop_frame_t f;
    osp_error_t err;
    if (size >= 8 && (data[5] & OSP_HOP_FLAG_EXT)) {
        ext_frame(data, size);
        return 0;
    }
    if (osp__hop_parse(data, size, &f, &err) != OSP_OK) {
        compare((const char *)data, size); /* the point checker on its own */
        return 0;
    }
    records(&f);
    return 0;
}
