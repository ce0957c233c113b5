/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool_format - segment and record layout, segment names, and reading a
 * segment back past damage (the rules are in spool_format.h).
 */
#include "spool_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEG_MAGIC "OSPS"
/* Version 2's blocks were whole chunks; what it wrote, it may be read back. */
#define V2_BLOCK_MAX (64u * 1024 * 1024)
/* A reader's buffer above this is let go after the call (one large record). */
#define BUF_KEEP (1u << 20)

_Static_assert(OSP_SPOOL_RECORD_MAX >= OSP_ENTRY_HEADER + 255 + OSP_HOP_MAX_POINT,
               "the spool must take every point the intake accepts");

/* ---------------------------------------------------------------- CRC32C */

/* CRC32C with the SSE4.2 instruction where the CPU has it, else a table.
 * Kept rather than replaced by a library's checksum: each record has its
 * own now, and measured on 200 bytes (a typical point) this took 34 ns,
 * zlib's crc32 184 ns and libcrypto's SHA-256 308 ns (docs/design.md,
 * "Disk spool"). */
static uint32_t crc32c_table(uint32_t c, const unsigned char *p, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t t = i;
            for (int k = 0; k < 8; k++)
                t = t & 1 ? (t >> 1) ^ 0x82f63b78u : t >> 1;
            table[i] = t;
        }
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t c, const unsigned char *p, size_t n) {
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
    }
    c = (uint32_t)c64;
    for (; n; n--, p++)
        c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#endif

static uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n) {
    uint32_t c = crc ^ 0xffffffffu;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(c, data, n) ^ 0xffffffffu;
#endif
    return crc32c_table(c, data, n) ^ 0xffffffffu;
}

uint32_t osp_spool_crc32c(const void *data, size_t n) {
    return crc32c_extend(0, data, n);
}

/* ---------------------------------------------------------------- layout */

void osp_spool_fmt_header(unsigned char out[OSP_SPOOL_HDR_LEN], uint64_t salt) {
    memcpy(out, SEG_MAGIC, 4);
    out[4] = OSP_SPOOL_VERSION;
    out[5] = out[6] = out[7] = 0;
    memcpy(out + 8, &salt, 8);
    memcpy(out + 16, &salt, 8);
}

static uint32_t header_sum(uint64_t salt, const unsigned char *hdr);

/* Some record header in p[from..n) checks with salt. */
static bool salt_fits(const unsigned char *p, size_t n, size_t from, uint64_t salt) {
    const unsigned char *m = p + from;
    while (n - (size_t)(m - p) >= OSP_SPOOL_REC_HDR_LEN &&
           (m = memmem(m, n - (size_t)(m - p), "OSPr", 4)) &&
           n - (size_t)(m - p) >= OSP_SPOOL_REC_HDR_LEN) {
        uint32_t h;
        memcpy(&h, m + 16, 4);
        if (h == header_sum(salt, m))
            return true;
        m++;
    }
    return false;
}

int osp_spool_fmt_version(const unsigned char *p, size_t n, uint64_t *salt) {
    static const unsigned char v2[8] = {'O', 'S', 'P', 'S', OSP_SPOOL_VERSION_V2,
                                        0,   0,   0},
                               v3[8] = {'O', 'S', 'P', 'S', OSP_SPOOL_VERSION, 0, 0, 0};
    *salt = 0;
    uint64_t s1 = 0, s2 = 0;
    if (n >= OSP_SPOOL_HDR_LEN) {
        memcpy(&s1, p + 8, 8);
        memcpy(&s2, p + 16, 8);
        /* A damaged byte in the header must not cost the segment (even one
         * that turns the version into 2): the salt is there twice, and the
         * copy a record fits wins. */
        if (salt_fits(p, n, OSP_SPOOL_HDR_LEN, s1) ||
            (s1 != s2 && salt_fits(p, n, OSP_SPOOL_HDR_LEN, s2))) {
            *salt = salt_fits(p, n, OSP_SPOOL_HDR_LEN, s1) ? s1 : s2;
            return OSP_SPOOL_VERSION;
        }
    }
    if (n >= 8 && memcmp(p, v2, 8) == 0)
        return OSP_SPOOL_VERSION_V2;
    if (n >= OSP_SPOOL_HDR_LEN && memcmp(p, v3, 8) == 0) {
        *salt = s1; /* no intact record to tell: nothing to lose either */
        return OSP_SPOOL_VERSION;
    }
    return 0;
}

static uint32_t header_sum(uint64_t salt, const unsigned char *hdr) {
    /* the salt's part, once per segment and thread (writer and reader) */
    static __thread uint64_t last_salt;
    static __thread uint32_t last_sum;
    static __thread bool have;
    if (!have || salt != last_salt) {
        last_sum = osp_spool_crc32c(&salt, 8);
        last_salt = salt;
        have = true;
    }
    return crc32c_extend(last_sum, hdr, 16);
}

void osp_spool_fmt_rec_header(unsigned char out[OSP_SPOOL_REC_HDR_LEN], uint64_t salt,
                              uint32_t seq, const void *entry, size_t len) {
    uint32_t magic = OSP_SPOOL_REC_MAGIC, len32 = (uint32_t)len,
             sum = osp_spool_crc32c(entry, len);
    memcpy(out, &magic, 4);
    memcpy(out + 4, &len32, 4);
    memcpy(out + 8, &seq, 4);
    memcpy(out + 12, &sum, 4);
    uint32_t hsum = header_sum(salt, out);
    memcpy(out + 16, &hsum, 4);
}

void osp_spool_fmt_name(uint64_t id, char *out) {
    snprintf(out, OSP_SPOOL_NAME_LEN + 1, "%016llu.seg", (unsigned long long)id);
}

uint64_t osp_spool_fmt_parse_name(const char *name) {
    if (strlen(name) != OSP_SPOOL_NAME_LEN || strcmp(name + 16, ".seg") != 0)
        return 0;
    uint64_t id = 0;
    for (int i = 0; i < 16; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        id = id * 10 + (uint64_t)(name[i] - '0'); /* 16 digits: no overflow */
    }
    return id; /* 0 is no segment either */
}

const char *osp_spool_fmt_damage_text(enum osp_spool_damage d) {
    switch (d) {
    case OSP_SPOOL_OK:
        return "intact";
    case OSP_SPOOL_BAD_SUM:
        return "a record's checksum does not match";
    case OSP_SPOOL_BAD_HEADER:
        return "bytes that are no record header";
    case OSP_SPOOL_BAD_ENTRY:
        return "a record that holds no entry";
    case OSP_SPOOL_TORN:
        return "the segment ends inside a record";
    case OSP_SPOOL_READ_ERROR:
        return "the file cannot be read";
    }
    return "?";
}

/* ---------------------------------------------------------------- reading */

void osp_spool_cursor_init(osp_spool_cursor_t *cur, int version, uint64_t salt,
                           off_t size) {
    memset(cur, 0, sizeof *cur);
    cur->version = version;
    cur->salt = salt;
    cur->off = osp_spool_fmt_data_off(version);
    cur->size = size < cur->off ? cur->off : size;
}

static void damage(osp_spool_cursor_t *cur, enum osp_spool_damage why, off_t at,
                   uint64_t n) {
    if (!n)
        return;
    if (!cur->damaged) {
        cur->first = why;
        cur->first_off = at;
    }
    cur->damaged += n;
}

/* A header that checks, numbered seq, at `at`: the records skipped since
 * the last one are counted (a gap of bytes that held none costs nothing). */
static void close_gap(osp_spool_cursor_t *cur, uint32_t seq, off_t at) {
    damage(cur, OSP_SPOOL_BAD_HEADER, cur->in_gap ? cur->gap_off : at,
           seq - cur->next_seq);
    cur->in_gap = false;
}

/* An entry's own framing (entry.h) fills exactly len bytes. */
static bool entry_ok(const unsigned char *p, size_t len) {
    uint32_t n;
    if (len < OSP_ENTRY_HEADER)
        return false;
    memcpy(&n, p, 4);
    return n == len && (p[4] == OSP_ENTRY_RECORD || p[4] == OSP_ENTRY_JSON) &&
           OSP_ENTRY_HEADER + (size_t)p[5] <= len;
}

/* Add an entry to *c (made with room for want, or for it alone). */
static bool chunk_put(osp_chunk_t **c, const void *entry, size_t len, size_t want) {
    if (!*c && !(*c = osp_chunk_new(len > want ? len : want)))
        return false;
    if ((*c)->cap - (*c)->used < len)
        return false;
    memcpy((*c)->data + (*c)->used, entry, len);
    (*c)->used += len;
    (*c)->count++;
    return true;
}

/* Read n bytes at off into buf; false (counted) on a read error. */
static bool fill(int fd, osp_spool_cursor_t *cur, osp_buf_t *buf, size_t n) {
    buf->len = 0;
    buf->failed = false;
    if (!osp__buf_reserve(buf, n))
        return false;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf->data + got, n - got, cur->off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            damage(cur, OSP_SPOOL_READ_ERROR, cur->off + (off_t)got, 1);
            cur->off = cur->size;
            return false;
        }
        got += (size_t)r;
    }
    buf->len = n;
    return true;
}

/* Version 3: whole records from the window at cur->off. */
static osp_chunk_t *read_v3(int fd, osp_spool_cursor_t *cur, osp_buf_t *buf,
                            size_t want) {
    osp_chunk_t *c = NULL;
    size_t need = want; /* bytes to read next: a window, or one whole record */
    while (cur->off < cur->size && !(c && c->count)) {
        size_t left = (size_t)(cur->size - cur->off);
        size_t n = need < left ? need : left;
        if (!fill(fd, cur, buf, n))
            break;
        const unsigned char *b = (const unsigned char *)buf->data;
        size_t p = 0;
        need = want;
        while (p < n) {
            off_t at = cur->off + (off_t)p;
            uint32_t h[5]; /* magic, len, seq, sum, header sum */
            if (n - p < OSP_SPOOL_REC_HDR_LEN) {
                if (p + OSP_SPOOL_REC_HDR_LEN <= left)
                    break;        /* the header goes on past the window: read from it */
                if (!cur->in_gap) /* a header cut by the segment's end (in a gap,
                                     the gap counts once, below) */
                    damage(cur, OSP_SPOOL_TORN, at, 1);
                p = left;
                break;
            }
            memcpy(h, b + p, sizeof h);
            if (h[0] != OSP_SPOOL_REC_MAGIC || h[4] != header_sum(cur->salt, b + p) ||
                h[1] < OSP_ENTRY_HEADER || h[1] > OSP_SPOOL_RECORD_MAX) {
                /* No record here: search for the next magic (kept when it
                 * may run past the window). */
                if (!cur->in_gap)
                    cur->gap_off = at;
                cur->in_gap = true;
                const unsigned char *m = memmem(b + p + 1, n - p - 1, "OSPr", 4);
                if (m) {
                    p = (size_t)(m - b);
                    continue;
                }
                p = n - 3;
                break; /* read again from where a magic may start */
            }
            size_t total = OSP_SPOOL_REC_HDR_LEN + h[1];
            if (h[2] < cur->next_seq) { /* numbered before one read already */
                p += total <= n - p ? total : 1;
                continue;
            }
            if (total > left - p) { /* runs past the segment's end: torn */
                close_gap(cur, h[2], at);
                damage(cur, OSP_SPOOL_TORN, at, 1);
                p = left;
                break;
            }
            if (total > n - p) { /* whole but beyond the window: read it alone */
                need = total;
                break;
            }
            const unsigned char *entry = b + p + OSP_SPOOL_REC_HDR_LEN;
            bool sum_ok = osp_spool_crc32c(entry, h[1]) == h[3];
            if (sum_ok && entry_ok(entry, h[1]) && !chunk_put(&c, entry, h[1], want)) {
                if (c && c->count)
                    break; /* the chunk is full: the next call goes on from here */
                cur->off += (off_t)p; /* no memory: this record again later */
                return c;
            }
            close_gap(cur, h[2], at);
            if (!sum_ok || !entry_ok(entry, h[1]))
                damage(cur, sum_ok ? OSP_SPOOL_BAD_ENTRY : OSP_SPOOL_BAD_SUM, at, 1);
            cur->next_seq = (uint64_t)h[2] + 1;
            p += total;
        }
        cur->off += (off_t)p;
        if (cur->off > cur->size)
            cur->off = cur->size;
    }
    if (cur->off >= cur->size && cur->in_gap) { /* no record after the damage */
        damage(cur, OSP_SPOOL_BAD_HEADER, cur->gap_off, 1);
        cur->in_gap = false;
    }
    return c;
}

/* Version 2: one block, [u32 len][u32 crc32c][entries], per call. A block
 * whose checksum fails is skipped by its length; a length that cannot be
 * one ends the segment's readable part. */
static osp_chunk_t *read_v2(int fd, osp_spool_cursor_t *cur, osp_buf_t *buf) {
    while (cur->off < cur->size) {
        off_t at = cur->off;
        size_t left = (size_t)(cur->size - cur->off);
        if (left < 8) {
            damage(cur, OSP_SPOOL_TORN, at, 1);
            cur->off = cur->size;
            return NULL;
        }
        if (!fill(fd, cur, buf, 8))
            return NULL;
        uint32_t len, sum;
        memcpy(&len, buf->data, 4);
        memcpy(&sum, buf->data + 4, 4);
        if (len == 0 || len > V2_BLOCK_MAX || len > left - 8) {
            damage(cur,
                   len > left - 8 && len <= V2_BLOCK_MAX ? OSP_SPOOL_TORN
                                                         : OSP_SPOOL_BAD_HEADER,
                   at, 1);
            cur->off = cur->size;
            return NULL;
        }
        osp_chunk_t *c = osp_chunk_new(len);
        if (!c)
            return NULL; /* tried again on the next call */
        cur->off += 8;
        if (!fill(fd, cur, buf, len)) {
            osp_chunk_free(c);
            return NULL;
        }
        cur->off += len;
        if (osp_spool_crc32c(buf->data, len) != sum) {
            /* its entries, as far as their framing can be followed */
            uint64_t k = 0;
            for (size_t p = 0, e; p + 4 <= len; p += e, k++) {
                uint32_t e32;
                memcpy(&e32, buf->data + p, 4);
                e = e32;
                if (e < OSP_ENTRY_HEADER || e > len - p)
                    break;
            }
            damage(cur, OSP_SPOOL_BAD_SUM, at, k ? k : 1);
            osp_chunk_free(c);
            continue;
        }
        /* Keep the entries whose framing holds; a broken one ends the block. */
        size_t p = 0;
        while (p < len) {
            uint32_t n;
            const unsigned char *e = (const unsigned char *)buf->data + p;
            if (len - p < 4 || (memcpy(&n, e, 4), n > len - p) || !entry_ok(e, n)) {
                damage(cur, OSP_SPOOL_BAD_ENTRY, at, 1);
                break;
            }
            chunk_put(&c, e, n, len);
            p += n;
        }
        if (c->count)
            return c;
        osp_chunk_free(c);
    }
    return NULL;
}

osp_chunk_t *osp_spool_fmt_read(int fd, osp_spool_cursor_t *cur, osp_buf_t *buf,
                                size_t want) {
    osp_chunk_t *c = cur->version == OSP_SPOOL_VERSION_V2 ? read_v2(fd, cur, buf)
                                                          : read_v3(fd, cur, buf, want);
    if (buf->cap > BUF_KEEP) {
        osp__buf_free(buf);
        *buf = (osp_buf_t)OSP_BUF_INIT;
    }
    return c;
}
