/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record - the compact binary form of one trace point (docs/wire.md, "Point
 * records"), and its conversion to the JSON payload Python osprofiler
 * writes for the same point.
 *
 * Why: formatting a point as JSON (timestamp text, ids in hex, escaped
 * strings) was about a third of a start/stop pair's cost in the traced
 * thread, and the JSON text is ~4x the size of the point. libosprofiler
 * writes this record; the sidecar (or the library's file notifier) turns it
 * into the JSON text, byte for byte what Python would have written.
 *
 * Layout, little-endian, no padding:
 *    0  u8   kind: OSP_REC_POINT
 *    1  u8   flags: OSP_REC_* below
 *    2  u16  name length (the name without "-start"/"-stop")
 *    4  u32  info length
 *    8  i64  timestamp, microseconds since the epoch, UTC
 *   16  16   trace_id, a UUID as 16 bytes
 *   32  base_id:   16 bytes (OSP_REC_BASE_UUID) or u16 length + bytes
 *       parent_id: 16 bytes (OSP_REC_PARENT_UUID) or u16 length + bytes
 *       project:   u16 length + bytes, absent with OSP_REC_PROJECT_NULL
 *       service:   u16 length + bytes, absent with OSP_REC_SERVICE_NULL
 *       name bytes, then info bytes: the "info" object as JSON text exactly
 *       as json.dumps writes it (the host included)
 * The record's length is known from its framing and must match exactly.
 */
#ifndef OSP_COMMON_RECORD_H
#define OSP_COMMON_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osprofiler/osprofiler.h>

#include "buf.h"

#define OSP_REC_POINT 0x01

#define OSP_REC_STOP         0x01 /* name + "-stop", else name + "-start" */
#define OSP_REC_BASE_UUID    0x02
#define OSP_REC_PARENT_UUID  0x04
#define OSP_REC_PROJECT_NULL 0x08
#define OSP_REC_SERVICE_NULL 0x10
#define OSP_REC_FLAGS_KNOWN  0x1f

#define OSP_REC_FIXED 32 /* bytes before the variable part */

/* A string or a UUID: uuid set, or text/len. */
typedef struct osp_rec_id {
    const uint8_t *uuid; /* 16 bytes, or NULL */
    const char *text;
    size_t len;
} osp_rec_id_t;

/* A decoded record: pointers into the record bytes. */
typedef struct osp_rec {
    bool stop;
    int64_t timestamp_us;
    const uint8_t *trace_id;
    osp_rec_id_t base_id, parent_id;
    const char *project, *service; /* NULL: null */
    size_t project_len, service_len;
    const char *name, *info;
    size_t name_len, info_len;
} osp_rec_t;

/* Bytes a record with these parts takes. */
size_t osp__rec_size(const osp_rec_t *r);
/* Write r into out (osp__rec_size(r) bytes). Returns the length. */
size_t osp__rec_write(const osp_rec_t *r, uint8_t *out);
/* Read a record of exactly len bytes. Checks the framing only (lengths,
 * flags); the texts are checked by osp__rec_to_json. OSP_OK or OSP_EFRAME. */
int osp__rec_read(const void *buf, size_t len, osp_rec_t *r, osp_error_t *err);

/* Append r as the JSON payload Python's messaging driver sends: name,
 * base_id, trace_id, parent_id, timestamp, info, project, service, with
 * json.dumps' separators and escapes. Checks that info is one JSON object
 * Python reads. OSP_OK, or OSP_EFRAME (b unchanged) with err. */
int osp__rec_to_json(const osp_rec_t *r, osp_buf_t *b, osp_error_t *err);

#endif
