/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool - an append-only disk buffer of entry blocks.
 *
 * Files: DIR/<seq>.seg, each "OSPS" + version 2 + 3 bytes of padding, then
 * blocks [u32 len][u32 crc32c(entries)][entries (entry.h)]. One block is one
 * chunk the intake could not keep in memory: one write(2) for many points.
 * A torn or corrupt block (crash mid-write) ends the segment's readable
 * part; what it held is counted lost.
 *
 * Life of a block: the intake appends it (flow.c decides when); the
 * consumer reads blocks oldest first and reports entries delivered; a
 * segment is deleted when every entry in it is. A restart finds the
 * segments left and replays them: at least once, duplicates bounded by what
 * was in flight. spool_max_bytes is a limit, not a ring: a full spool takes
 * nothing more (the intake then stops reading; flow.c), it never deletes
 * undelivered points. Segments of another format are left where they are.
 *
 * Writes are not fsynced block by block: a sidecar crash loses nothing
 * written, a machine crash may lose the last unsynced blocks (a full
 * segment is fdatasynced before the next one opens).
 *
 * Threads: intake (append) and consumer (read, done) share one mutex.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "log.h"

#define SEG_MAX   (8u * 1024 * 1024) /* or max_bytes / 4 when smaller */
#define SEG_MAGIC "OSPS\x02\0\0\0"
#define HDR_LEN   8
#define BLOCK_MAX (64u * 1024 * 1024) /* a block is one chunk: far below this */

struct seg {
    uint64_t id;
    uint64_t written, read, done; /* entries */
    off_t size, read_off;
    bool sealed; /* no more appends */
};

struct osp_spool {
    pthread_mutex_t mu;
    char dir[4096];
    uint64_t max_bytes, total_bytes, next_id;
    int wfd;     /* the open segment, the last of segs */
    int lock_fd; /* DIR/lock, flock()ed: one sidecar per spool */
    struct seg *segs;
    size_t nsegs, cap;
    bool write_failed;
    double retry_at; /* after a failed write, room is 0 until then */
};

#define RETRY_SECONDS 5.0

/* CRC32C (Castagnoli): the SSE4.2 instruction where the CPU has it (a block
 * is a whole chunk: the table loop cost ~1 us per point's worth), else a
 * table. */
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

static uint32_t crc32c(const void *data, size_t n) {
    uint32_t c = 0xffffffffu;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(c, data, n) ^ 0xffffffffu;
#endif
    return crc32c_table(c, data, n) ^ 0xffffffffu;
}

static void seg_path(const osp_spool_t *s, uint64_t id, char *out, size_t len) {
    snprintf(out, len, "%s/%016llu.seg", s->dir, (unsigned long long)id);
}

static struct seg *add_seg(osp_spool_t *s, uint64_t id) {
    if (s->nsegs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct seg *g = realloc(s->segs, cap * sizeof *g);
        if (!g)
            return NULL;
        s->segs = g;
        s->cap = cap;
    }
    struct seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof *g);
    g->id = id;
    g->read_off = HDR_LEN;
    return g;
}

static void remove_seg(osp_spool_t *s, size_t i) {
    char path[4200];
    seg_path(s, s->segs[i].id, path, sizeof path);
    unlink(path);
    s->total_bytes -= (uint64_t)s->segs[i].size;
    if (i == s->nsegs - 1 && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof *s->segs);
    s->nsegs--;
}

/* The block at *off of fd (segment size `size`) as a chunk; NULL at the end
 * or on damage (*damaged). */
static osp_chunk_t *read_block(int fd, off_t *off, off_t size, bool *damaged) {
    unsigned char h[8];
    *damaged = false;
    if (*off >= size)
        return NULL;
    if (pread(fd, h, 8, *off) != 8) {
        *damaged = true;
        return NULL;
    }
    uint32_t len, crc;
    memcpy(&len, h, 4);
    memcpy(&crc, h + 4, 4);
    if (len == 0 || len > BLOCK_MAX || *off + 8 + (off_t)len > size) {
        *damaged = true;
        return NULL;
    }
    osp_chunk_t *c = osp_chunk_new(len);
    if (!c || pread(fd, c->data, len, *off + 8) != (ssize_t)len ||
        crc32c(c->data, len) != crc) {
        osp_chunk_free(c);
        *damaged = true;
        return NULL;
    }
    c->used = len;
    osp_entry_t e; /* count its entries, then rewind */
    uint64_t n = 0;
    while (osp_chunk_next(c, &e))
        n++;
    c->read = 0;
    c->count = n;
    *off += 8 + (off_t)len;
    return c;
}

static int by_id(const void *a, const void *b) {
    uint64_t x = ((const struct seg *)a)->id, y = ((const struct seg *)b)->id;
    return x < y ? -1 : x > y;
}

/* Count the entries of a segment a previous run left; false when it is not
 * ours to read (another format). */
static bool scan_seg(osp_spool_t *s, struct seg *g) {
    char path[4200];
    seg_path(s, g->id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char magic[HDR_LEN];
    if (fd < 0 || fstat(fd, &st) != 0 || pread(fd, magic, HDR_LEN, 0) != HDR_LEN ||
        memcmp(magic, SEG_MAGIC, HDR_LEN) != 0) {
        if (fd >= 0)
            close(fd);
        OSP_LOG(OSP_LL_ERROR, "spool",
                "%s: not a spool segment of this version: left in place, not replayed",
                path);
        return false;
    }
    g->size = st.st_size;
    g->sealed = true;
    off_t off = HDR_LEN;
    bool damaged;
    osp_chunk_t *c;
    while ((c = read_block(fd, &off, g->size, &damaged))) {
        g->written += c->count;
        osp_chunk_free(c);
    }
    if (damaged)
        OSP_LOG(OSP_LL_WARN, "spool", "%s: a torn block at offset %lld ends it", path,
                (long long)off);
    close(fd);
    return true;
}

osp_spool_t *osp_spool_open(const char *dir, uint64_t max_bytes, osp_error_t *err) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        osp__error_set(err, -errno, dir, 0, "%s: cannot create the spool directory: %s",
                       dir, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        osp__error_set(err, OSP_ECONFIG, dir, 0, "%s: not a directory", dir);
        return NULL;
    }
    if (st.st_mode & 022) {
        osp__error_set(err, OSP_ECONFIG, dir, 0,
                       "%s: group or world writable (mode %o): refusing to spool there",
                       dir, st.st_mode & 0777);
        return NULL;
    }
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/lock", dir);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        osp__error_set(err, OSP_ECONFIG, dir, 0,
                       errno == EWOULDBLOCK
                           ? "%s: another osprofiler-sidecar uses this spool directory "
                             "(give each its own spool_dir)"
                           : "%s: cannot lock the spool directory: %s",
                       dir, strerror(errno));
        if (lock_fd >= 0)
            close(lock_fd);
        return NULL;
    }
    osp_spool_t *s = calloc(1, sizeof *s);
    if (!s) {
        close(lock_fd);
        osp__error_set(err, OSP_ENOMEM, dir, 0, "out of memory");
        return NULL;
    }
    s->lock_fd = lock_fd;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->max_bytes = max_bytes;
    s->wfd = -1;
    s->next_id = 1;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long id;
        char tail[8];
        if (sscanf(e->d_name, "%llu.se%1s", &id, tail) == 2 && add_seg(s, id))
            if (id >= s->next_id)
                s->next_id = id + 1;
    }
    if (d)
        closedir(d);
    if (s->nsegs)
        qsort(s->segs, s->nsegs, sizeof *s->segs, by_id);
    uint64_t found = 0;
    for (size_t i = 0; i < s->nsegs;) {
        if (!scan_seg(s, &s->segs[i])) {
            memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof *s->segs);
            s->nsegs--;
            continue;
        }
        s->total_bytes += (uint64_t)s->segs[i].size;
        found += s->segs[i].written;
        i++;
    }
    if (found)
        OSP_LOG(OSP_LL_NOTICE, "spool",
                "%llu points from a previous run in %s: replaying",
                (unsigned long long)found, dir);
    return s;
}

void osp_spool_close(osp_spool_t *s) {
    if (!s)
        return;
    if (s->wfd >= 0) {
        fdatasync(s->wfd);
        close(s->wfd);
    }
    /* Segments fully delivered are gone already; the rest stays for the next run. */
    close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    free(s->segs);
    free(s);
}

/* A new segment for appending (the last one sealed and synced). */
static struct seg *open_segment(osp_spool_t *s) {
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (g && s->wfd >= 0) {
        fdatasync(s->wfd); /* a full segment is on disk before the next */
        close(s->wfd);
        s->wfd = -1;
    }
    if (g)
        g->sealed = true;
    char path[4200];
    seg_path(s, s->next_id, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    if (write(fd, SEG_MAGIC, HDR_LEN) != HDR_LEN || !(g = add_seg(s, s->next_id))) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return NULL;
    }
    s->next_id++;
    g->size = HDR_LEN;
    s->total_bytes += HDR_LEN;
    s->wfd = fd;
    return g;
}

int osp_spool_append(osp_spool_t *s, const osp_chunk_t *c) {
    if (!c->used)
        return OSP_OK;
    uint32_t len = (uint32_t)c->used, crc = crc32c(c->data, c->used);
    unsigned char h[8];
    memcpy(h, &len, 4);
    memcpy(h + 4, &crc, 4);
    pthread_mutex_lock(&s->mu);
    int rc = OSP_OK;
    if (s->total_bytes + 8 + c->used + HDR_LEN > s->max_bytes) {
        rc = OSP_ETOOBIG;
        goto out;
    }
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    off_t seg_max = s->max_bytes / 4 < SEG_MAX ? (off_t)(s->max_bytes / 4) : SEG_MAX;
    if (!g || g->sealed || s->wfd < 0 || g->size + 8 + (off_t)c->used > seg_max)
        if (!(g = open_segment(s)))
            goto fail;
    struct iovec iov[2] = {{h, 8}, {(void *)c->data, c->used}};
    if (writev(s->wfd, iov, 2) != (ssize_t)(8 + c->used))
        goto fail;
    g->size += 8 + (off_t)c->used;
    g->written += c->count;
    s->total_bytes += 8 + c->used;
    if (s->write_failed)
        OSP_LOG(OSP_LL_NOTICE, "spool", "writing to %s works again", s->dir);
    s->write_failed = false;
    goto out;
fail:
    rc = errno ? -errno : -EIO;
    if (!s->write_failed)
        OSP_LOG(OSP_LL_ERROR, "spool", "cannot write to %s (%s)", s->dir, strerror(-rc));
    s->write_failed = true;
    s->retry_at = osp_sc_mono() + RETRY_SECONDS;
    if (s->wfd >= 0) { /* a partial block may be there: seal this segment */
        close(s->wfd);
        s->wfd = -1;
        if (s->nsegs)
            s->segs[s->nsegs - 1].sealed = true;
    }
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

uint64_t osp_spool_room(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t used = s->total_bytes + 8 + HDR_LEN;
    bool resting = s->write_failed && osp_sc_mono() < s->retry_at;
    uint64_t n = resting ? 0 : used < s->max_bytes ? s->max_bytes - used : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool osp_spool_failing(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    bool failing = s->write_failed;
    pthread_mutex_unlock(&s->mu);
    return failing;
}

uint64_t osp_spool_pending(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        n += s->segs[i].written - s->segs[i].read;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t osp_spool_bytes(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->total_bytes;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Delete segment i if everything in it was delivered. */
static bool maybe_remove(osp_spool_t *s, size_t i) {
    struct seg *g = &s->segs[i];
    if (g->done < g->written || g->read < g->written)
        return false;
    /* Even the open one: the next append starts a new segment, so a restart
     * replays nothing twice. */
    remove_seg(s, i);
    return true;
}

osp_chunk_t *osp_spool_read(osp_spool_t *s, uint64_t *lost) {
    *lost = 0;
    osp_chunk_t *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs && !c; i++) {
        struct seg *g = &s->segs[i];
        if (g->read == g->written)
            continue;
        char path[4200];
        seg_path(s, g->id, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool damaged = fd < 0;
        if (fd >= 0) {
            c = read_block(fd, &g->read_off, g->size, &damaged);
            close(fd);
        }
        if (c) {
            g->read += c->count;
            c->spool_seg = g->id;
        } else if (damaged || g->read_off >= g->size) {
            /* What the segment claimed beyond here is unreadable. */
            *lost += g->written - g->read;
            g->done += g->written - g->read;
            g->written = g->read;
            OSP_LOG(OSP_LL_ERROR, "spool",
                    "%s: unreadable from offset %lld: %llu points lost", path,
                    (long long)g->read_off, (unsigned long long)*lost);
            if (maybe_remove(s, i))
                i--;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

void osp_spool_done(osp_spool_t *s, uint64_t seg, uint64_t n) {
    if (!seg || !n)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs; i++) {
        if (s->segs[i].id != seg)
            continue;
        s->segs[i].done += n;
        maybe_remove(s, i);
        break;
    }
    pthread_mutex_unlock(&s->mu);
}
