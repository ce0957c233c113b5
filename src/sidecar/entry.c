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
#include "common/hop.h"
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

bool osp_chunk_entry_at(const osp_chunk_t *c, size_t *pos, osp_entry_t *e) {
    if (*pos > c->used || c->used - *pos < OSP_ENTRY_HEADER)
        return false;
    const char *p = c->data + *pos;
    uint32_t n;
    memcpy(&n, p, 4);
    size_t plen = (unsigned char)p[5];
    if (n < OSP_ENTRY_HEADER + plen || n > c->used - *pos ||
        (p[4] != OSP_ENTRY_RECORD && p[4] != OSP_ENTRY_JSON)) {
        *pos = c->used; /* damaged (a spool block that passed its CRC?): stop */
        return false;
    }
    e->kind = p[4];
    memcpy(&e->arrival_us, p + 8, 8);
    e->publisher = p + OSP_ENTRY_HEADER;
    e->publisher_len = plen;
    e->body = e->publisher + plen;
    e->body_len = n - OSP_ENTRY_HEADER - plen;
    *pos += n;
    return true;
}

bool osp_chunk_next(osp_chunk_t *c, osp_entry_t *e) {
    if (!osp_chunk_entry_at(c, &c->read, e)) {
        c->count = 0;
        return false;
    }
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

#define PIECE(s, n)                                                                      \
    {                                                                                    \
        {(s), ""}, { (n), 0 }                                                            \
    }

/* What an entry converts to: the payload text (in the caller's scratch or
 * the entry itself) and the fields, as pieces into them. */
typedef struct converted {
    const char *payload;
    size_t len;
    piece_t f[F_N];
    bool error;
    char base[37], trace[37], ts[OSP_TS_LEN + 1]; /* texts the pieces may use */
} converted_t;

/* info.etype present and not null (Python: info.get("etype") is not None). */
static bool has_error(const char *info, size_t len) {
    static const char *const key[] = {"etype"};
    osp_jspan_t v;
    osp__json_members(info, len, key, 1, &v);
    return v.text && !(v.len == 4 && memcmp(v.text, "null", 4) == 0);
}

/* A checked JSON string, decoded into buf (never longer). */
static piece_t decoded(const osp_jstr_t *s, char *buf) {
    piece_t p = PIECE(buf, osp__jstr_decode(s, buf, s->len + 1));
    return p;
}

/* event_type = "profiler.%s" % service, as the messaging driver: None when
 * the payload has no service. The decoded strings go to scratch; the fields
 * a store indexes only when asked (the publisher needs none). */
static int convert_json(const osp_entry_t *e, osp_buf_t *scratch, bool fields,
                        converted_t *c, osp_error_t *err) {
    osp_point_view_t pt;
    if (osp__point_scan(e->body, e->body_len, &pt, err) != OSP_OK)
        return OSP_EFRAME;
    /* decoding never lengthens: the scratch holds every decoded string */
    size_t need = pt.service.len + pt.base_id.len + pt.trace_id.len + pt.name.len +
                  pt.timestamp.len + 5;
    scratch->len = 0;
    if (!osp__buf_reserve(scratch, need))
        return osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    char *w = scratch->data;
    c->payload = e->body;
    c->len = e->body_len;
    c->f[F_EVENT_TYPE] = (piece_t){{"profiler.", "None"}, {9, 4}};
    if (pt.service.raw) {
        c->f[F_EVENT_TYPE].n[1] = osp__jstr_decode(&pt.service, w, pt.service.len + 1);
        c->f[F_EVENT_TYPE].p[1] = w;
        w += pt.service.len + 1;
    }
    if (!fields)
        return OSP_OK;
    const osp_jstr_t *js[] = {&pt.base_id, &pt.trace_id, &pt.name, &pt.timestamp};
    for (int i = 0; i < 4; i++) {
        c->f[F_BASE + i] = decoded(js[i], w);
        w += js[i]->len + 1;
    }
    static const char *const key[] = {"info"};
    osp_jspan_t info;
    osp__json_members(e->body, e->body_len, key, 1, &info);
    c->error = info.text && has_error(info.text, info.len);
    return OSP_OK;
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

/* A binary record: its payload written into json (and the fields a store
 * indexes when asked). */
static int convert_record(const osp_entry_t *e, osp_buf_t *json, bool fields,
                          converted_t *c, osp_error_t *err) {
    osp_rec_t r;
    if (osp__rec_read(e->body, e->body_len, &r, err) != OSP_OK)
        return OSP_EFRAME;
    size_t start = json->len;
    int rc = osp__rec_to_json(&r, json, err);
    if (rc != OSP_OK)
        return rc;
    c->payload = json->data + start;
    c->len = json->len - start;
    c->f[F_EVENT_TYPE] = (piece_t){{"profiler.", r.service ? r.service : "None"},
                                   {9, r.service ? r.service_len : 4}};
    if (!fields)
        return OSP_OK;
    osp__uuid_format(r.trace_id, c->trace);
    osp__timestamp_us(r.timestamp_us, c->ts);
    c->f[F_BASE] = id_piece(&r.base_id, c->base);
    c->f[F_TRACE] = (piece_t)PIECE(c->trace, 36);
    c->f[F_NAME] =
        (piece_t){{r.name, r.stop ? "-stop" : "-start"}, {r.name_len, r.stop ? 5 : 6}};
    c->f[F_TS] = (piece_t)PIECE(c->ts, OSP_TS_LEN);
    c->error = has_error(r.info, r.info_len);
    return OSP_OK;
}

static int convert(const osp_entry_t *e, osp_buf_t *scratch, bool fields, converted_t *c,
                   osp_error_t *err) {
    c->f[F_PUBLISHER] = (piece_t)PIECE(e->publisher, e->publisher_len);
    return e->kind == OSP_ENTRY_RECORD ? convert_record(e, scratch, fields, c, err)
                                       : convert_json(e, scratch, fields, c, err);
}

int osp_entry_check(const osp_entry_t *e, osp_error_t *err) {
    if (memchr(e->publisher, '\0', e->publisher_len))
        return osp__error_set(err, OSP_EFRAME, "entry", 0, "a publisher_id with a NUL");
    if (e->kind == OSP_ENTRY_RECORD) {
        osp_rec_t r;
        if (e->body_len > OSP_HOP_MAX_POINT)
            return osp__error_set(err, OSP_EFRAME, "entry", 0, "a point over 8 MiB");
        return osp__rec_read(e->body, e->body_len, &r, err) == OSP_OK ? OSP_OK
                                                                      : OSP_EFRAME;
    }
    if (e->kind != OSP_ENTRY_JSON || e->body_len > OSP_ENTRY_MAX_JSON)
        return osp__error_set(err, OSP_EFRAME, "entry", 0,
                              e->kind == OSP_ENTRY_JSON ? "a point over 16 MiB"
                                                        : "an entry of unknown kind");
    return OSP_OK;
}

/* One allocation: the struct, the payload, then publisher and event_type. */
static osp_msg_t *msg_new(const osp_entry_t *e, const converted_t *c) {
    size_t size = sizeof(osp_msg_t) + c->len + 1;
    for (int i = F_PUBLISHER; i <= F_EVENT_TYPE; i++)
        size += c->f[i].n[0] + c->f[i].n[1] + 1;
    osp_msg_t *m = malloc(size);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    memcpy(m->payload, c->payload, c->len);
    m->payload[c->len] = '\0';
    m->len = c->len;
    char *w = m->payload + c->len + 1;
    const char **dst[] = {&m->publisher, &m->event_type};
    for (int i = F_PUBLISHER; i <= F_EVENT_TYPE; i++) {
        *dst[i] = w;
        for (int k = 0; k < 2; k++) {
            memcpy(w, c->f[i].p[k], c->f[i].n[k]);
            w += c->f[i].n[k];
        }
        *w++ = '\0';
    }
    m->arrival_us = e->arrival_us;
    notification_timestamp(e->arrival_us, m->timestamp);
    return m;
}

osp_msg_t *osp_msg_from_entry(const osp_entry_t *e, osp_buf_t *scratch,
                              osp_error_t *err) {
    converted_t c;
    scratch->len = 0;
    scratch->failed = false;
    if (osp_entry_check(e, err) != OSP_OK ||
        convert(e, scratch, false, &c, err) != OSP_OK)
        return NULL;
    osp_msg_t *m = msg_new(e, &c);
    if (!m)
        osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    return m;
}

/* Append a piece and a NUL; returns where it starts. */
static size_t put_piece(osp_buf_t *b, const piece_t *p) {
    size_t at = b->len;
    osp__buf_append(b, p->p[0], p->n[0]);
    osp__buf_append(b, p->p[1], p->n[1]);
    osp__buf_putc(b, '\0');
    return at;
}

int osp_entry_to_text(const osp_entry_t *e, osp_buf_t *b, osp_buf_t *scratch,
                      osp_entry_text_t *out, osp_error_t *err) {
    converted_t c;
    size_t start = b->len;
    int rc = osp_entry_check(e, err);
    if (rc != OSP_OK)
        return rc;
    if (e->kind == OSP_ENTRY_RECORD) { /* the payload straight into b */
        c.f[F_PUBLISHER] = (piece_t)PIECE(e->publisher, e->publisher_len);
        rc = convert_record(e, b, true, &c, err);
        out->payload = start;
        out->len = c.len;
        if (rc == OSP_OK)
            osp__buf_putc(b, '\0');
    } else {
        scratch->len = 0;
        scratch->failed = false;
        rc = convert(e, scratch, true, &c, err);
        out->payload = b->len;
        out->len = c.len;
        if (rc == OSP_OK) {
            osp__buf_append(b, c.payload, c.len);
            osp__buf_putc(b, '\0');
        }
    }
    if (rc != OSP_OK) {
        b->len = start;
        return rc;
    }
    out->base_id = put_piece(b, &c.f[F_BASE]);
    out->trace_id = put_piece(b, &c.f[F_TRACE]);
    out->name = put_piece(b, &c.f[F_NAME]);
    out->timestamp = put_piece(b, &c.f[F_TS]);
    out->error = c.error;
    if (b->failed) {
        b->len = start;
        return osp__error_set(err, OSP_ENOMEM, "entry", 0, "out of memory");
    }
    return OSP_OK;
}

void osp_msg_free(osp_msg_t *m) { free(m); }

size_t osp_msg_cost(const osp_msg_t *m) { return sizeof *m + m->len + 64; }

bool osp_chunk_add_msg(osp_chunk_t *c, const osp_msg_t *m) {
    return osp_chunk_add(c, OSP_ENTRY_JSON, m->arrival_us, m->publisher,
                         strlen(m->publisher), m->payload, m->len);
}
