/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool - an append-only disk buffer for points the broker cannot take now.
 *
 * Files: DIR/<seq>.seg, each "OSPS" + version + 3 bytes of padding, then
 * records [u32 len][u32 crc32c(body)][body]; body = u8 publisher length,
 * publisher, u16 event_type length, event_type, message_id (36), timestamp
 * (26, NUL padded), payload. A torn or corrupt tail (crash mid-write) ends
 * the segment's readable part and is counted.
 *
 * Life of a record: the intake appends (while the broker is down, or the
 * memory queue is over half full, or earlier records are still on disk so
 * order is kept); the publisher reads the oldest records, publishes them and
 * calls osp_spool_done when the broker confirmed; a segment is deleted when
 * every record in it is done. A restart finds the segments left and replays
 * them: at least once, with duplicates bounded by the confirm window.
 * Beyond max_bytes the oldest segment is dropped (counted).
 *
 * Threads: intake (append) and publisher (read, done) share one mutex.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "log.h"
#include "stats.h"

#define SEG_MAX   (4u * 1024 * 1024) /* or max_bytes / 4 when smaller */
#define SEG_MAGIC "OSPS\x01\0\0\0"
#define HDR_LEN   8

struct seg {
    uint64_t id;
    uint64_t written, read, done;
    off_t size, read_off;
    bool sealed; /* no more appends */
};

struct osp_spool {
    pthread_mutex_t mu;
    char dir[4096];
    uint64_t max_bytes, total_bytes, next_id, dropped;
    int wfd; /* the open segment, the last of segs */
    struct seg *segs;
    size_t nsegs, cap;
    bool write_failed;
};

static uint32_t crc32c(const void *data, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xffffffffu;
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
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

/* Read the record at g->read_off of fd; NULL at the end or on damage. */
static osp_msg_t *read_record(int fd, struct seg *g, bool *damaged) {
    unsigned char h[8];
    *damaged = false;
    if (pread(fd, h, 8, g->read_off) != 8)
        return NULL;
    uint32_t len, crc;
    memcpy(&len, h, 4);
    memcpy(&crc, h + 4, 4);
    if (len < 1 + 2 + 36 + 26 || len > 2 * 1024 * 1024 ||
        g->read_off + 8 + (off_t)len > g->size) {
        *damaged = true;
        return NULL;
    }
    unsigned char *b = malloc(len);
    if (!b || pread(fd, b, len, g->read_off + 8) != (ssize_t)len ||
        crc32c(b, len) != crc) {
        free(b);
        *damaged = true;
        return NULL;
    }
    size_t o = 0, plen = b[o++];
    if (o + plen + 2 > len)
        goto bad;
    const char *pub = (const char *)b + o;
    o += plen;
    uint16_t elen;
    memcpy(&elen, b + o, 2);
    o += 2;
    if (o + elen + 36 + 26 > len || elen < 9)
        goto bad;
    const char *evt = (const char *)b + o;
    o += elen;
    char service[512];
    snprintf(service, sizeof service, "%.*s", (int)(elen - 9), evt + 9); /* "profiler." */
    osp_msg_t *m =
        osp_msg_new((const char *)b + o + 62, len - o - 62, pub, plen, service);
    if (m) {
        memcpy(m->message_id, b + o, 36);
        m->message_id[36] = '\0';
        memcpy(m->timestamp, b + o + 36, 26);
        m->timestamp[26] = '\0';
        m->spool_seg = g->id;
    }
    g->read_off += 8 + (off_t)len;
    free(b);
    return m;
bad:
    free(b);
    *damaged = true;
    return NULL;
}

static int by_id(const void *a, const void *b) {
    uint64_t x = ((const struct seg *)a)->id, y = ((const struct seg *)b)->id;
    return x < y ? -1 : x > y;
}

/* Count the readable records of a segment a previous run left. */
static void scan_seg(osp_spool_t *s, struct seg *g) {
    char path[4200];
    seg_path(s, g->id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    g->size = st.st_size;
    g->sealed = true;
    struct seg probe = *g;
    bool damaged;
    osp_msg_t *m;
    while ((m = read_record(fd, &probe, &damaged))) {
        osp_msg_free(m);
        g->written++;
    }
    if (damaged)
        s->dropped++; /* a torn tail: what follows is unreadable */
    close(fd);
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
    osp_spool_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
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
    for (size_t i = 0; i < s->nsegs; i++) {
        scan_seg(s, &s->segs[i]);
        s->total_bytes += (uint64_t)s->segs[i].size;
        found += s->segs[i].written;
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
    /* Segments fully confirmed are gone already; the rest stays for the next run. */
    pthread_mutex_destroy(&s->mu);
    free(s->segs);
    free(s);
}

bool osp_spool_append(osp_spool_t *s, const osp_msg_t *m) {
    size_t plen = strlen(m->publisher), elen = strlen(m->event_type);
    if (plen > 255)
        plen = 255;
    if (elen > 65535)
        elen = 65535;
    size_t len = 1 + plen + 2 + elen + 36 + 26 + m->len;
    unsigned char *r = malloc(8 + len);
    if (!r)
        return false;
    unsigned char *b = r + 8;
    size_t o = 0;
    b[o++] = (unsigned char)plen;
    memcpy(b + o, m->publisher, plen);
    o += plen;
    uint16_t e16 = (uint16_t)elen;
    memcpy(b + o, &e16, 2);
    o += 2;
    memcpy(b + o, m->event_type, elen);
    o += elen;
    memcpy(b + o, m->message_id, 36);
    o += 36;
    memset(b + o, 0, 26);
    memcpy(b + o, m->timestamp, strlen(m->timestamp));
    o += 26;
    memcpy(b + o, m->payload, m->len);
    uint32_t l32 = (uint32_t)len, crc = crc32c(b, len);
    memcpy(r, &l32, 4);
    memcpy(r + 4, &crc, 4);

    pthread_mutex_lock(&s->mu);
    bool ok = false;
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    off_t seg_max = s->max_bytes / 4 < SEG_MAX ? (off_t)(s->max_bytes / 4) : SEG_MAX;
    if (!g || g->sealed || s->wfd < 0 || g->size + (off_t)(8 + len) > seg_max) {
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
        if (fd < 0 || write(fd, SEG_MAGIC, HDR_LEN) != HDR_LEN) {
            if (fd >= 0) {
                close(fd);
                unlink(path);
            }
            goto fail;
        }
        if (!(g = add_seg(s, s->next_id++))) {
            close(fd);
            goto fail;
        }
        g->size = HDR_LEN;
        s->total_bytes += HDR_LEN;
        s->wfd = fd;
    }
    if (write(s->wfd, r, 8 + len) != (ssize_t)(8 + len))
        goto fail;
    g->size += (off_t)(8 + len);
    g->written++;
    s->total_bytes += 8 + len;
    while (s->total_bytes > s->max_bytes && s->nsegs > 1) {
        /* spool_max_bytes: the oldest segment goes, counted. */
        s->dropped += s->segs[0].written - s->segs[0].done;
        OSP_STAT_ADD(dropped_spool, s->segs[0].written - s->segs[0].done);
        OSP_LOG(OSP_LL_WARN, "spool",
                "spool_max_bytes reached: dropped %llu oldest points",
                (unsigned long long)(s->segs[0].written - s->segs[0].done));
        remove_seg(s, 0);
    }
    if (s->write_failed)
        OSP_LOG(OSP_LL_NOTICE, "spool", "writing to %s works again", s->dir);
    s->write_failed = false;
    ok = true;
    goto out;
fail:
    if (!s->write_failed)
        OSP_LOG(OSP_LL_ERROR, "spool",
                "cannot write to %s (%s): keeping points in memory only", s->dir,
                strerror(errno));
    s->write_failed = true;
    if (s->wfd >= 0) { /* a partial record may be there: seal this segment */
        close(s->wfd);
        s->wfd = -1;
        if (s->nsegs)
            s->segs[s->nsegs - 1].sealed = true;
    }
out:
    pthread_mutex_unlock(&s->mu);
    free(r);
    return ok;
}

uint64_t osp_spool_pending(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        n += s->segs[i].written - s->segs[i].read;
    pthread_mutex_unlock(&s->mu);
    return n;
}

osp_msg_t *osp_spool_read(osp_spool_t *s, size_t max) {
    osp_msg_t *head = NULL, **tail = &head;
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs && n < max; i++) {
        struct seg *g = &s->segs[i];
        if (g->read == g->written)
            continue;
        char path[4200];
        seg_path(s, g->id, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            g->written = g->read; /* gone: nothing more to read */
            continue;
        }
        while (n < max && g->read < g->written) {
            bool damaged;
            osp_msg_t *m = read_record(fd, g, &damaged);
            if (!m) {
                s->dropped += g->written - g->read;
                OSP_STAT_ADD(dropped_spool, g->written - g->read);
                g->done += g->written - g->read;
                g->written = g->read;
                break;
            }
            g->read++;
            *tail = m;
            tail = &m->next;
            n++;
        }
        close(fd);
    }
    pthread_mutex_unlock(&s->mu);
    return head;
}

void osp_spool_done(osp_spool_t *s, const osp_msg_t *m) {
    if (!m->spool_seg)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs; i++) {
        struct seg *g = &s->segs[i];
        if (g->id != m->spool_seg)
            continue;
        g->done++;
        /* All confirmed: delete it, even the open one (the next append
         * starts a new segment), so a restart replays nothing twice. */
        if (g->done >= g->written && g->read >= g->written)
            remove_seg(s, i);
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

uint64_t osp_spool_dropped(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->dropped;
    pthread_mutex_unlock(&s->mu);
    return n;
}
