/* SPDX-License-Identifier: Apache-2.0 */
/* hop - the library -> sidecar frame format (docs/wire.md, version 1). */
#ifndef OSP_COMMON_HOP_H
#define OSP_COMMON_HOP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <osprofiler/osprofiler.h>

#include "buf.h"

#define OSP_HOP_MAGIC         "OSPH"
#define OSP_HOP_VERSION       1
#define OSP_HOP_HEADER_FIXED  8
#define OSP_HOP_MAX_FRAME     (256 * 1024) /* whole frame, header included */
#define OSP_HOP_MAX_PUBLISHER 255
/* The largest point: a binary record, or a JSON record without its '\n'.
 * Python has no limit; this one keeps the AMQP body under 16 MiB (RabbitMQ
 * 4's default max_message_size) whatever the escaping of names and ids. */
#define OSP_HOP_MAX_POINT (8 * 1024 * 1024)
/* Its fields that records carry with u16 lengths: ids, name, project,
 * service (Python has no limit; HTTP headers allow far less). */
#define OSP_HOP_MAX_FIELD 65535
/* The records of an OSP_HOP_FLAG_EXT frame: at most one largest point and
 * its framing (u32 length or '\n'), or several smaller ones. */
#define OSP_HOP_MAX_EXT (OSP_HOP_MAX_POINT + 4)
/* Frame flag: this frame registers a shared ring; it carries no records and
 * two descriptors (SCM_RIGHTS): the ring's memfd, then its eventfd. */
#define OSP_HOP_FLAG_RING 0x01
/* Frame flag: the records are binary point records (record.h), each
 * preceded by its length as a little-endian u32, instead of JSON lines. */
#define OSP_HOP_FLAG_BINARY 0x02
/* Frame flag: the records are not in the frame but in a sealed memfd passed
 * with it (SCM_RIGHTS, one descriptor); the frame is its header alone. The
 * way for a point larger than a frame (docs/wire.md, "Large points"). */
#define OSP_HOP_FLAG_EXT    0x04
#define OSP_HOP_FLAGS_KNOWN (OSP_HOP_FLAG_RING | OSP_HOP_FLAG_BINARY | OSP_HOP_FLAG_EXT)

typedef struct osp_hop_frame {
    unsigned flags;
    const char *publisher; /* publisher_id (not NUL-terminated) */
    size_t publisher_len;
    const char *next; /* cursor into the records */
    const char *end;
} osp_hop_frame_t;

/* Write a frame header for publisher into out (at least 8 + 255 bytes).
 * Returns the header length. */
size_t osp__hop_header(char *out, const char *publisher, size_t publisher_len);
#define OSP_HOP_MAX_FDS 4
/* Receive one frame from a SEQPACKET connection without blocking: bytes into
 * buf (cap should be OSP_HOP_MAX_FRAME + 1), descriptors passed with it
 * (close-on-exec; beyond OSP_HOP_MAX_FDS they are closed) into fds.
 * Returns its length, 0 at EOF, -1 with errno (EAGAIN: nothing now).
 * *truncated is set when the frame did not fit in cap. */
ssize_t osp__hop_recv(int fd, void *buf, size_t cap, int fds[OSP_HOP_MAX_FDS], int *nfds,
                      bool *truncated);
/* Check a received frame's header. Returns OSP_OK or OSP_EFRAME with err. */
int osp__hop_parse(const void *buf, size_t len, osp_hop_frame_t *f, osp_error_t *err);
/* An OSP_HOP_FLAG_EXT frame's records: read from fd (the memfd that came
 * with it, not closed here) into buf, and f's records made to be those.
 * fd must be a memfd sealed against writing, growing and shrinking
 * (F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK: its size and bytes cannot change
 * under us, and reading it never waits on I/O), of 1 to OSP_HOP_MAX_EXT
 * bytes. OSP_OK, OSP_EFRAME with err, or OSP_ENOMEM. */
int osp__hop_ext_records(osp_hop_frame_t *f, int fd, osp_buf_t *buf, osp_error_t *err);
/* Next record: one JSON text without its '\n', or with OSP_HOP_FLAG_BINARY
 * one binary record without its length. Returns 1 with a record, 0 at the
 * end, OSP_EFRAME for a truncated last record. */
int osp__hop_next(osp_hop_frame_t *f, const char **rec, size_t *len);
#endif
