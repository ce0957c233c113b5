/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record - binary trace point records (layout in record.h) and their JSON
 * payload. The reader trusts nothing: every length is checked against the
 * record's end, unknown kinds and flags are refused, and the info text must
 * be a JSON object Python reads before it is copied into a payload.
 */
#include "record.h"

#include <string.h>

#include "errors.h"
#include "ids.h"
#include "point.h"
#include "pyjson.h"

static void put16(uint8_t *p, size_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, size_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static size_t get16(const uint8_t *p) { return (size_t)p[0] | (size_t)p[1] << 8; }
static size_t get32(const uint8_t *p) {
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

static size_t id_size(const osp_rec_id_t *id) { return id->uuid ? 16 : 2 + id->len; }

size_t osp__rec_size(const osp_rec_t *r) {
    return OSP_REC_FIXED + id_size(&r->base_id) + id_size(&r->parent_id) +
           (r->project ? 2 + r->project_len : 0) + (r->service ? 2 + r->service_len : 0) +
           r->name_len + r->info_len;
}

static uint8_t *put_id(uint8_t *p, const osp_rec_id_t *id) {
    if (id->uuid) {
        memcpy(p, id->uuid, 16);
        return p + 16;
    }
    put16(p, id->len);
    memcpy(p + 2, id->text, id->len);
    return p + 2 + id->len;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len) {
    if (!s)
        return p;
    put16(p, len);
    memcpy(p + 2, s, len);
    return p + 2 + len;
}

size_t osp__rec_write(const osp_rec_t *r, uint8_t *out) {
    unsigned flags =
        (r->stop ? OSP_REC_STOP : 0) | (r->base_id.uuid ? OSP_REC_BASE_UUID : 0) |
        (r->parent_id.uuid ? OSP_REC_PARENT_UUID : 0) |
        (r->project ? 0 : OSP_REC_PROJECT_NULL) | (r->service ? 0 : OSP_REC_SERVICE_NULL);
    out[0] = OSP_REC_POINT;
    out[1] = (uint8_t)flags;
    put16(out + 2, r->name_len);
    put32(out + 4, r->info_len);
    uint64_t ts = (uint64_t)r->timestamp_us;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(ts >> (8 * i));
    memcpy(out + 16, r->trace_id, 16);
    uint8_t *p = out + OSP_REC_FIXED;
    p = put_id(p, &r->base_id);
    p = put_id(p, &r->parent_id);
    p = put_str(p, r->project, r->project_len);
    p = put_str(p, r->service, r->service_len);
    memcpy(p, r->name, r->name_len);
    p += r->name_len;
    memcpy(p, r->info, r->info_len);
    return (size_t)(p + r->info_len - out);
}

/* A length-prefixed string at *p, within end. */
static bool get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *len) {
    if (end - *p < 2)
        return false;
    size_t n = get16(*p);
    if ((size_t)(end - *p) - 2 < n)
        return false;
    *s = (const char *)*p + 2;
    *len = n;
    *p += 2 + n;
    return true;
}

static bool get_id(const uint8_t **p, const uint8_t *end, bool uuid, osp_rec_id_t *id) {
    memset(id, 0, sizeof *id);
    if (!uuid)
        return get_str(p, end, &id->text, &id->len);
    if (end - *p < 16)
        return false;
    id->uuid = *p;
    *p += 16;
    return true;
}

int osp__rec_read(const void *buf, size_t len, osp_rec_t *r, osp_error_t *err) {
    const uint8_t *b = buf, *end = b + len, *p;
    memset(r, 0, sizeof *r);
    if (len < OSP_REC_FIXED)
        return osp__error_set(err, OSP_EFRAME, "record", 0,
                              "record of %zu bytes: too short", len);
    if (b[0] != OSP_REC_POINT)
        return osp__error_set(err, OSP_EFRAME, "record", 0, "unknown record kind %u",
                              b[0]);
    unsigned flags = b[1];
    if (flags & ~OSP_REC_FLAGS_KNOWN)
        return osp__error_set(err, OSP_EFRAME, "record", 0, "unknown record flags 0x%x",
                              flags);
    r->stop = flags & OSP_REC_STOP;
    r->name_len = get16(b + 2);
    r->info_len = get32(b + 4);
    uint64_t ts = 0;
    for (int i = 7; i >= 0; i--)
        ts = ts << 8 | b[8 + i];
    r->timestamp_us = (int64_t)ts;
    r->trace_id = b + 16;
    p = b + OSP_REC_FIXED;
    const char *proj = NULL, *svc = NULL;
    if (!get_id(&p, end, flags & OSP_REC_BASE_UUID, &r->base_id) ||
        !get_id(&p, end, flags & OSP_REC_PARENT_UUID, &r->parent_id) ||
        (!(flags & OSP_REC_PROJECT_NULL) && !get_str(&p, end, &proj, &r->project_len)) ||
        (!(flags & OSP_REC_SERVICE_NULL) && !get_str(&p, end, &svc, &r->service_len)))
        return osp__error_set(err, OSP_EFRAME, "record", 0,
                              "record fields run past its end");
    r->project = proj;
    r->service = svc;
    if ((size_t)(end - p) != r->name_len + r->info_len)
        return osp__error_set(err, OSP_EFRAME, "record", 0,
                              "record length does not match its name and info");
    r->name = (const char *)p;
    r->info = (const char *)p + r->name_len;
    return OSP_OK;
}

static void put_json_id(osp_buf_t *b, const osp_rec_id_t *id) {
    if (id->uuid) {
        char s[37];
        osp__uuid_format(id->uuid, s);
        osp__buf_putc(b, '"');
        osp__buf_append(b, s, 36);
        osp__buf_putc(b, '"');
    } else {
        osp__pyjson_string(b, id->text, id->len);
    }
}

int osp__rec_to_json(const osp_rec_t *r, osp_buf_t *b, osp_error_t *err) {
    /* the sender's info text: never forwarded unchecked; one level below
     * the payload */
    if (osp__json_check_depth(r->info, r->info_len, OSP_POINT_MAX_DEPTH - 1, err) !=
        OSP_OK)
        return OSP_EFRAME;
    size_t start = b->len;
    char ts[OSP_TS_LEN + 1], tid[37];
    osp__timestamp_us(r->timestamp_us, ts);
    osp__uuid_format(r->trace_id, tid);
    osp__buf_append(b, "{\"name\": ", 9);
    osp__pyjson_string(b, r->name, r->name_len);
    if (!b->failed) {
        b->len--; /* reopen the string for the suffix */
        osp__buf_puts(b, r->stop ? "-stop\"" : "-start\"");
    }
    osp__buf_append(b, ", \"base_id\": ", 13);
    put_json_id(b, &r->base_id);
    osp__buf_append(b, ", \"trace_id\": \"", 15);
    osp__buf_append(b, tid, 36);
    osp__buf_append(b, "\", \"parent_id\": ", 16);
    put_json_id(b, &r->parent_id);
    osp__buf_append(b, ", \"timestamp\": \"", 16);
    osp__buf_append(b, ts, OSP_TS_LEN);
    osp__buf_append(b, "\", \"info\": ", 11);
    osp__buf_append(b, r->info, r->info_len);
    osp__buf_append(b, ", \"project\": ", 13);
    if (r->project)
        osp__pyjson_string(b, r->project, r->project_len);
    else
        osp__buf_append(b, "null", 4);
    osp__buf_append(b, ", \"service\": ", 13);
    if (r->service)
        osp__pyjson_string(b, r->service, r->service_len);
    else
        osp__buf_append(b, "null", 4);
    osp__buf_putc(b, '}');
    if (b->failed) {
        b->len = start;
        return osp__error_set(err, OSP_ENOMEM, "record", 0, "out of memory");
    }
    return OSP_OK;
}
