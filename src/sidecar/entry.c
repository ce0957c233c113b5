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

/* A string made of up to two pieces. */
typedef struct piece {
    const char *p[2];
    size_t n[2];
} piece_t;

enum { F_PUBLISHER, F_EVENT_TYPE, F_BASE, F_TRACE, F_NAME, F_TS, F_N };

/* One allocation: the struct, the payload, then each field NUL-terminated. */
static osp_msg_t *msg_new(const char *payload, size_t len, const osp_entry_t *e,
                          const piece_t f[F_N], bool error) {
    size_t size = sizeof(osp_msg_t) + len + 1;
    for (int i = 0; i < F_N; i++)
        size += f[i].n[0] + f[i].n[1] + 1;
    osp_msg_t *m = malloc(size);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
    m->len = len;
    char *w = m->payload + len + 1;
    const char **dst[F_N] = {&m->publisher, &m->event_type, &m->base_id,
                             &m->trace_id,  &m->name,       &m->point_timestamp};
    for (int i = 0; i < F_N; i++) {
        *dst[i] = w;
        for (int k = 0; k < 2; k++) {
            memcpy(w, f[i].p[k], f[i].n[k]);
            w += f[i].n[k];
        }
        *w++ = '\0';
    }
    m->error = error;
    m->arrival_us = e->arrival_us;
    notification_timestamp(e->arrival_us, m->timestamp);
    return m;
}

#define PIECE(s, n)                                                                      \
    {                                                                                    \
        {(s), ""}, { (n), 0 }                                                            \
    }

/* info.etype present and not null (Python: info.get("etype") is not None). */
static bool has_error(const char *info, size_t len) {
    static const char *const key[] = {"etype"};
    osp_jspan_t v;
    osp__json_members(info, len, key, 1, &v);
    return v.text && !(v.len == 4 && memcmp(v.text, "null", 4) == 0);
}

/* A checked JSON string, decoded in place into buf (never longer). */
static piece_t decoded(const osp_jstr_t *s, char *buf) {
    piece_t p = PIECE(buf, osp__jstr_decode(s, buf, s->len + 1));
    return p;
}

/* event_type = "profiler.%s" % service, as the messaging driver: None when
 * the payload has no service. */
static osp_msg_t *from_json(const osp_entry_t *e, osp_error_t *err) {
    osp_point_view_t pt;
    if (osp__point_scan(e->body, e->body_len, &pt, err) != OSP_OK)
        return NULL;
    /* decoding never lengthens: one scratch holds the decoded strings */
    size_t need = pt.service.len + pt.base_id.len + pt.trace_id.len + pt.name.len +
                  pt.timestamp.len + 5;
    char *scratch = malloc(need), *w = scratch;
    if (!scratch) {
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
        return NULL;
    }
    piece_t f[F_N] = {[F_PUBLISHER] = PIECE(e->publisher, e->publisher_len)};
    f[F_EVENT_TYPE] = (piece_t){{"profiler.", "None"}, {9, 4}};
    if (pt.service.raw) {
        f[F_EVENT_TYPE].n[1] = osp__jstr_decode(&pt.service, w, pt.service.len + 1);
        f[F_EVENT_TYPE].p[1] = w;
        w += pt.service.len + 1;
    }
    const osp_jstr_t *js[] = {&pt.base_id, &pt.trace_id, &pt.name, &pt.timestamp};
    for (int i = 0; i < 4; i++) {
        f[F_BASE + i] = decoded(js[i], w);
        w += js[i]->len + 1;
    }
    static const char *const key[] = {"info"};
    osp_jspan_t info;
    osp__json_members(e->body, e->body_len, key, 1, &info);
    osp_msg_t *m =
        msg_new(e->body, e->body_len, e, f, info.text && has_error(info.text, info.len));
    free(scratch);
    if (!m)
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    return m;
}

static piece_t id_piece(const osp_rec_id_t *id, char text[37]) {
    if (!id->uuid) {
        piece_t p = PIECE(id->text, id->len);
        return p;
    }
    osp__uuid_format(id->uuid, text);
    piece_t p = PIECE(text, 36);
    return p;
}

static osp_msg_t *from_record(const osp_entry_t *e, osp_buf_t *json, osp_error_t *err) {
    osp_rec_t r;
    if (osp__rec_read(e->body, e->body_len, &r, err) != OSP_OK)
        return NULL;
    json->len = 0;
    json->failed = false;
    if (osp__rec_to_json(&r, json, err) != OSP_OK)
        return NULL;
    char base[37], trace[37], ts[OSP_TS_LEN + 1];
    osp__uuid_format(r.trace_id, trace);
    osp__timestamp_us(r.timestamp_us, ts);
    piece_t f[F_N] = {
        [F_PUBLISHER] = PIECE(e->publisher, e->publisher_len),
        [F_EVENT_TYPE] = {{"profiler.", r.service ? r.service : "None"},
                          {9, r.service ? r.service_len : 4}},
        [F_BASE] = id_piece(&r.base_id, base),
        [F_TRACE] = PIECE(trace, 36),
        [F_NAME] = {{r.name, r.stop ? "-stop" : "-start"}, {r.name_len, r.stop ? 5 : 6}},
        [F_TS] = PIECE(ts, OSP_TS_LEN),
    };
    osp_msg_t *m = msg_new(json->data, json->len, e, f, has_error(r.info, r.info_len));
    if (!m)
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    return m;
}

osp_msg_t *osp_msg_from_entry(const osp_entry_t *e, osp_buf_t *scratch,
                              osp_error_t *err) {
    return e->kind == OSP_ENTRY_RECORD ? from_record(e, scratch, err) : from_json(e, err);
}

void osp_msg_free(osp_msg_t *m) { free(m); }

size_t osp_msg_cost(const osp_msg_t *m) { return sizeof *m + m->len + 64; }

bool osp_chunk_add_msg(osp_chunk_t *c, const osp_msg_t *m) {
    return osp_chunk_add(c, OSP_ENTRY_JSON, m->arrival_us, m->publisher,
                         strlen(m->publisher), m->payload, m->len);
}
