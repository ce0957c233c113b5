/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry - a received trace point as the sidecar buffers it (memory chunks
 * and spool blocks alike), and the message it becomes for the broker or the
 * store.
 *
 * The intake only copies: a point from a ring or a binary frame is kept as
 * the sender's binary record, a JSON frame's point as its text; the
 * conversion to the notification payload (and its checks) happens on the
 * consumer's thread, when the point leaves. So a burst costs the intake a
 * memcpy per point and the sidecar keeps up with its services.
 *
 * Entry layout (host byte order; never leaves this machine but on its spool):
 *    0 u32 length of the whole entry
 *    4 u8  kind: OSP_ENTRY_RECORD or OSP_ENTRY_JSON
 *    5 u8  publisher length
 *    6 u16 0
 *    8 i64 arrival, microseconds since the epoch (the notification timestamp)
 *   16 publisher bytes, then the body
 */
#ifndef OSP_SIDECAR_ENTRY_H
#define OSP_SIDECAR_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osprofiler/osprofiler.h>

#include "common/buf.h"

#define OSP_ENTRY_RECORD 1 /* body: a binary point record (common/record.h) */
#define OSP_ENTRY_JSON   2 /* body: the payload's JSON text, as a frame carried it */
#define OSP_ENTRY_HEADER 16

/* A run of entries back to back. */
typedef struct osp_chunk {
    struct osp_chunk *next;
    size_t used, cap, read; /* read: the consumer's cursor */
    uint64_t count;         /* entries in it, not yet read */
    uint64_t spool_seg;     /* the spool segment it was read from, 0 if none */
    char data[];
} osp_chunk_t;

#define OSP_CHUNK_SIZE (64 * 1024)

/* A chunk with room for at least `need` bytes (OSP_CHUNK_SIZE or more). */
osp_chunk_t *osp_chunk_new(size_t need);
void osp_chunk_free(osp_chunk_t *c);
/* Bytes an entry takes. */
static inline size_t osp_entry_size(size_t publisher_len, size_t body_len) {
    return OSP_ENTRY_HEADER + publisher_len + body_len;
}
/* Append an entry; false when the chunk has no room for it. */
bool osp_chunk_add(osp_chunk_t *c, int kind, int64_t arrival_us, const char *publisher,
                   size_t publisher_len, const char *body, size_t body_len);
/* The next entry at c->read (checked against the chunk's end): its parts, or
 * false at the end or on a damaged entry (which ends the chunk). Advances
 * read and counts the entry off count. */
typedef struct osp_entry {
    int kind;
    int64_t arrival_us;
    const char *publisher, *body;
    size_t publisher_len, body_len;
} osp_entry_t;
bool osp_chunk_next(osp_chunk_t *c, osp_entry_t *e);
/* The same at *pos, leaving the chunk as it is. */
bool osp_chunk_entry_at(const osp_chunk_t *c, size_t *pos, osp_entry_t *e);

/* The intake's checks of an entry, made again when it leaves (a spooled
 * entry read back is checked exactly as a fresh one): a body the intake
 * takes (a record of at most OSP_HOP_MAX_POINT with sound framing, a JSON
 * text of at most OSP_ENTRY_MAX_JSON) and a publisher_id without NUL (the
 * intake keeps it as a C string). The texts are checked by the conversion.
 * OSP_OK or OSP_EFRAME with err. */
int osp_entry_check(const osp_entry_t *e, osp_error_t *err);
/* A JSON entry: a frame's point (8 MiB) or, at exit, a converted message,
 * whose payload the point limits keep under 16 MiB (docs/wire.md). */
#define OSP_ENTRY_MAX_JSON (16u * 1024 * 1024)

/* What the publisher sends: one allocation, the strings after the payload. */
typedef struct osp_msg {
    struct osp_msg *next;
    char message_id[37]; /* one per point, the same for every topic and every
                            retry (oslo); made by the publisher when first sent */
    char timestamp[27];  /* str(utcnow()) when the point arrived */
    int64_t arrival_us;
    const char *publisher;  /* publisher_id */
    const char *event_type; /* profiler.<service> */
    unsigned acks_left;     /* publisher: topics not yet confirmed */
    uint64_t spool_seg;     /* segment it was read from, 0 if it never hit disk */
    size_t len;
    char payload[]; /* the point's JSON text, as Python would have written it */
} osp_msg_t;

/* The message of an entry: the payload JSON (a record is converted and its
 * info checked), publisher and event type. NULL with err when the entry is not a
 * valid point (err->code OSP_EFRAME) or memory ran out (OSP_ENOMEM).
 * scratch: a buffer the caller keeps for the conversion. */
osp_msg_t *osp_msg_from_entry(const osp_entry_t *e, osp_buf_t *scratch, osp_error_t *err);
void osp_msg_free(osp_msg_t *m);

/* An entry converted into a caller's buffer (the store writer's batches: no
 * allocation per point): offsets into it of the payload and the fields,
 * each NUL-terminated. */
typedef struct osp_entry_text {
    size_t payload, len, base_id, trace_id, name, timestamp;
    bool error;
} osp_entry_text_t;
/* Append e's payload and fields to b (scratch: a buffer for the decoding).
 * OSP_OK, OSP_EFRAME (not a valid point) or OSP_ENOMEM, b as it was. */
int osp_entry_to_text(const osp_entry_t *e, osp_buf_t *b, osp_buf_t *scratch,
                      osp_entry_text_t *out, osp_error_t *err);
/* Bytes a message is charged against memory_limit. */
size_t osp_msg_cost(const osp_msg_t *m);
/* Append the message back as a JSON entry (for the spool at shutdown). */
bool osp_chunk_add_msg(osp_chunk_t *c, const osp_msg_t *m);

#endif
