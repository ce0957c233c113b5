/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool_format - the spool's files, byte by byte, and the rules for reading
 * them back after damage. The writer (spool.c) and every reader (spool.c at
 * start-up and replay, the fuzz target, the tests) use only this module, so
 * the format and its one record size limit cannot drift apart.
 *
 * A segment, DIR/<16 decimal digits>.seg (ids 1 to OSP_SPOOL_ID_MAX):
 *    "OSPS", u8 version, 3 zero bytes, and in version 3 a u64 salt (random
 *    per segment), twice (one damaged byte must not cost the segment)
 * Version 3 (written now): records back to back, each one entry (entry.h):
 *    0 u32 magic OSP_SPOOL_REC_MAGIC ("OSPr")
 *    4 u32 length of the entry, OSP_ENTRY_HEADER to OSP_SPOOL_RECORD_MAX
 *    8 u32 sequence number of the record in its segment, from 0
 *   12 u32 crc32c of the entry
 *   16 u32 crc32c of the salt and bytes 0-15: a damaged length is caught
 *      before it is used, and a record a service hid inside a point's bytes
 *      never passes for one when the reader searches past damage (the
 *      service does not know the salt)
 *   20 the entry
 * Host byte order: a spool never leaves its machine.
 * Version 2 (0.2's format, still read after an upgrade, never written):
 * blocks [u32 len][u32 crc32c][entries], one block per chunk.
 *
 * Recovery: a record whose header checks but whose entry does not is skipped
 * by its length; where no header checks, the reader searches forward for the
 * next magic whose header does. Every intact record before and after the
 * damage is read. The sequence numbers count what was skipped exactly (the
 * records between two intact ones); after the last intact record, a torn
 * one (a crash mid-write) or bytes that are no record count as one.
 */
#ifndef OSP_SIDECAR_SPOOL_FORMAT_H
#define OSP_SIDECAR_SPOOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/hop.h"
#include "entry.h"

#define OSP_SPOOL_HDR_LEN     24 /* version 3; version 2's is 8 */
#define OSP_SPOOL_HDR_LEN_V2  8
#define OSP_SPOOL_VERSION     3
#define OSP_SPOOL_VERSION_V2  2
#define OSP_SPOOL_REC_MAGIC   0x7250534fu /* "OSPr" on a little-endian host */
#define OSP_SPOOL_REC_HDR_LEN 20
/* The largest entry the spool writes or reads. The intake takes points of
 * up to OSP_HOP_MAX_POINT (a ring's records or a memfd's point); at exit a
 * converted message is spooled as its JSON text, which wire.md's limits keep
 * under 16 MiB (the AMQP bound). Plus the entry header and publisher. */
#define OSP_SPOOL_RECORD_MAX (16u * 1024 * 1024 + OSP_ENTRY_HEADER + 255)
/* Segment ids: names are exactly 16 digits, so 10^16 - 1 is the last; an id
 * never wraps (no new segment beyond it). */
#define OSP_SPOOL_ID_MAX   9999999999999999ull
#define OSP_SPOOL_NAME_LEN 20 /* 16 digits + ".seg" */

/* The segment header of the version written now, with its salt. */
void osp_spool_fmt_header(unsigned char out[OSP_SPOOL_HDR_LEN], uint64_t salt);
/* The version the first n bytes of a segment announce (and its salt), or 0
 * when they are no spool segment this build reads. Pass a few KiB: where the
 * header is damaged, the records after it tell. */
int osp_spool_fmt_version(const unsigned char *hdr, size_t n, uint64_t *salt);
/* Where a segment of that version starts its records. */
static inline off_t osp_spool_fmt_data_off(int version) {
    return version == OSP_SPOOL_VERSION_V2 ? OSP_SPOOL_HDR_LEN_V2 : OSP_SPOOL_HDR_LEN;
}

/* A record's header for an entry of len bytes (len <= OSP_SPOOL_RECORD_MAX),
 * record number seq of its segment. */
void osp_spool_fmt_rec_header(unsigned char out[OSP_SPOOL_REC_HDR_LEN], uint64_t salt,
                              uint32_t seq, const void *entry, size_t len);

/* "<id>.seg" for id (1 to OSP_SPOOL_ID_MAX) into out (at least 21 bytes). */
void osp_spool_fmt_name(uint64_t id, char *out);
/* The id of a canonical segment name; 0 when the name is not one (wrong
 * length, not all digits, 0, or a ".seg" that is no segment of ours). */
uint64_t osp_spool_fmt_parse_name(const char *name);

/* Why a part of a segment could not be read. */
enum osp_spool_damage {
    OSP_SPOOL_OK,
    OSP_SPOOL_BAD_SUM,    /* a record's checksum does not match its entry */
    OSP_SPOOL_BAD_HEADER, /* bytes where a record header should be */
    OSP_SPOOL_BAD_ENTRY,  /* a record whose checksum matches but holds no entry */
    OSP_SPOOL_TORN,       /* the segment ends inside a record */
    OSP_SPOOL_READ_ERROR, /* the file could not be read */
};
const char *osp_spool_fmt_damage_text(enum osp_spool_damage d);

/* Reading a segment: where it is, and what was found so far. */
typedef struct osp_spool_cursor {
    int version;
    uint64_t salt;
    off_t off, size;             /* next byte to read; where the segment ends */
    uint64_t damaged;            /* points counted damaged so far */
    uint64_t next_seq;           /* the sequence number the next record should have */
    enum osp_spool_damage first; /* the first damage's reason, and where */
    off_t first_off;
    bool in_gap; /* skipping bytes that are no record, since gap_off */
    off_t gap_off;
} osp_spool_cursor_t;

/* Start reading a segment of `size` bytes whose header says version, salt. */
void osp_spool_cursor_init(osp_spool_cursor_t *cur, int version, uint64_t salt,
                           off_t size);
/* The next intact entries of fd from cur->off, at least one unless the
 * segment is read to its end (then NULL): a chunk of whole entries, about
 * `want` bytes (one entry may be larger), advancing the cursor past
 * whatever damage it skipped (counted in cur). buf: the reader's buffer,
 * kept between calls. NULL with cur->off == cur->size at the end; on a read
 * error the rest of the segment is counted as one damaged point. NULL with
 * cur->off < cur->size: no memory for the next record (call again later). */
osp_chunk_t *osp_spool_fmt_read(int fd, osp_spool_cursor_t *cur, osp_buf_t *buf,
                                size_t want);

/* CRC32C (Castagnoli). */
uint32_t osp_spool_crc32c(const void *data, size_t n);

#endif
