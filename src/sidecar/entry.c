/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry - buffered points (layout in entry.h) and the messages they become.
 */
#include "entry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/point.h"
#include "common/record.h"

osp_chunk_t *osp_chunk_new(size_t need) {
    size_t cap = need > OSP_CHUNK_SIZE ? need : OSP_CHUNK_SIZE;
    osp_chunk_t *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->cap = cap;
    return c;
}

void osp_chunk_free(osp_chunk_t *c) { free(c); }

bool osp_chunk_add(osp_chunk_t *c, int kind, int64_t arrival_us, const char *publisher,
                   size_t publisher_len, const char *body, size_t body_len) {
    if (publisher_len > 255)
        publisher_len = 255;
    size_t n = osp_entry_size(publisher_len, body_len);
    if (n > c->cap - c->used || n > UINT32_MAX)
        return false;
    char *p = c->data + c->used;
    uint32_t len32 = (uint32_t)n;
    memcpy(p, &len32, 4);
    p[4] = (char)kind;
    p[5] = (char)publisher_len;
    p[6] = p[7] = 0;
    memcpy(p + 8, &arrival_us, 8);
    memcpy(p + OSP_ENTRY_HEADER, publisher, publisher_len);
    memcpy(p + OSP_ENTRY_HEADER + publisher_len, body, body_len);
    c->used += n;
    c->count++;
    return true;
}

bool osp_chunk_next(osp_chunk_t *c, osp_entry_t *e) {
    if (c->used - c->read < OSP_ENTRY_HEADER)
        return false;
    const char *p = c->data + c->read;
    uint32_t n;
    memcpy(&n, p, 4);
    size_t plen = (unsigned char)p[5];
    if (n < OSP_ENTRY_HEADER + plen || n > c->used - c->read ||
        (p[4] != OSP_ENTRY_RECORD && p[4] != OSP_ENTRY_JSON)) {
        c->read = c->used; /* damaged (a spool block that passed its CRC?): stop */
        c->count = 0;
        return false;
    }
    e->kind = p[4];
    memcpy(&e->arrival_us, p + 8, 8);
    e->publisher = p + OSP_ENTRY_HEADER;
    e->publisher_len = plen;
    e->body = e->publisher + plen;
    e->body_len = n - OSP_ENTRY_HEADER - plen;
    c->read += n;
    if (c->count)
        c->count--;
    return true;
}

/* str(datetime.utcnow()): a space between date and time, no fraction when
 * the microseconds are 0. */
static void notification_timestamp(int64_t us, char out[27]) {
    char ts[OSP_TS_LEN + 1];
    osp__timestamp_us(us, ts);
    ts[10] = ' ';
    if (strcmp(ts + 20, "000000") == 0)
        ts[19] = '\0';
    memcpy(out, ts, 27);
}

static osp_msg_t *msg_new(const char *payload, size_t len, const osp_entry_t *e,
                          const char *service, size_t service_len) {
    osp_msg_t *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
    m->len = len;
    m->publisher = strndup(e->publisher, e->publisher_len);
    m->event_type = malloc(service_len + 10);
    if (!m->publisher || !m->event_type) {
        osp_msg_free(m);
        return NULL;
    }
    memcpy(m->event_type, "profiler.", 9);
    memcpy(m->event_type + 9, service, service_len);
    m->event_type[9 + service_len] = '\0';
    osp__uuid4(m->message_id);
    m->arrival_us = e->arrival_us;
    notification_timestamp(e->arrival_us, m->timestamp);
    return m;
}

/* event_type = "profiler.%s" % service, as the messaging driver: None when
 * the payload has no service. */
static osp_msg_t *from_json(const osp_entry_t *e, osp_error_t *err) {
    osp_point_view_t pt;
    if (osp__point_scan(e->body, e->body_len, &pt, err) != OSP_OK)
        return NULL;
    char small[128] = "None", *service = small;
    size_t slen = 4;
    if (pt.service.raw) {
        size_t cap = pt.service.len + 1; /* decoding never lengthens */
        if (cap > sizeof small && !(service = malloc(cap)))
            service = small, cap = sizeof small;
        slen = osp__jstr_decode(&pt.service, service, cap);
    }
    osp_msg_t *m = msg_new(e->body, e->body_len, e, service, slen);
    if (service != small)
        free(service);
    if (!m)
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    return m;
}

static osp_msg_t *from_record(const osp_entry_t *e, osp_buf_t *json, osp_error_t *err) {
    osp_rec_t r;
    if (osp__rec_read(e->body, e->body_len, &r, err) != OSP_OK)
        return NULL;
    json->len = 0;
    json->failed = false;
    if (osp__rec_to_json(&r, json, err) != OSP_OK)
        return NULL;
    osp_msg_t *m = r.service ? msg_new(json->data, json->len, e, r.service, r.service_len)
                             : msg_new(json->data, json->len, e, "None", 4);
    if (!m)
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    return m;
}

osp_msg_t *osp_msg_from_entry(const osp_entry_t *e, osp_buf_t *scratch,
                              osp_error_t *err) {
    return e->kind == OSP_ENTRY_RECORD ? from_record(e, scratch, err) : from_json(e, err);
}

void osp_msg_free(osp_msg_t *m) {
    if (!m)
        return;
    free(m->publisher);
    free(m->event_type);
    free(m);
}

size_t osp_msg_cost(const osp_msg_t *m) { return sizeof *m + m->len + 64; }

bool osp_chunk_add_msg(osp_chunk_t *c, const osp_msg_t *m) {
    return osp_chunk_add(c, OSP_ENTRY_JSON, m->arrival_us, m->publisher,
                         strlen(m->publisher), m->payload, m->len);
}
