/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool - an append-only disk buffer of entries.
 *
 * Files: DIR/<16 digits>.seg, DIR/lock. The format and the rules for
 * reading past damage are spool_format.h's: one record per entry, each with
 * its own checksums, so a damaged record costs that record only; it is
 * counted (dropped.spool) and logged once per segment. Segments of the
 * previous format (version 2) are replayed after an upgrade; others are
 * left in place, logged.
 *
 * Only what this process may trust is read or written: DIR must be owned by
 * our euid and not writable by group or others; segments are opened with
 * O_NOFOLLOW|O_NONBLOCK (a symlink or a FIFO planted as *.seg neither
 * redirects nor blocks us) and read only when they are regular files owned
 * by our euid; names are exactly 16 digits, ids never wrap; a new segment
 * is created O_EXCL, and a name already taken is skipped, not fatal.
 *
 * Life of a record: the intake appends a chunk's entries (flow.c decides
 * when) with one write(2); the consumer reads them back oldest first in
 * windows and reports entries delivered; a segment is deleted when every
 * entry in it is. A restart finds the segments left and replays them: at
 * least once, duplicates bounded by what was in flight. spool_max_bytes is
 * a limit, not a ring: a full spool takes nothing more (the intake then
 * stops reading; flow.c), it never deletes undelivered points.
 *
 * Writes are not fsynced record by record: a sidecar crash loses nothing
 * written, a machine crash may lose the last unsynced records (a full
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/errors.h"
#include "log.h"
#include "spool_format.h"

#define SEG_MAX       (8u * 1024 * 1024) /* or max_bytes / 4 when smaller */
#define READ_WINDOW   (256u * 1024)      /* bytes read back at a time */
#define RETRY_SECONDS 5.0
#define NAME_TRIES    64   /* taken names skipped by one append at most */
#define LOG_EVERY     60.0 /* seconds between lines about taken names */
#define LOG_FILES_MAX 10   /* lines about odd files at start-up, then a sum */

struct seg {
    uint64_t id, salt;
    uint64_t written, read, done; /* entries (written: of a previous run,
                                     the intact ones and the damaged) */
    off_t size;
    uint32_t records;       /* appended to it: the next one's sequence number */
    osp_spool_cursor_t cur; /* where reading goes on */
    bool sealed;            /* no more appends */
    bool logged;            /* its damage was logged */
};

struct osp_spool {
    pthread_mutex_t mu;
    char dir[4096];
    int dfd;     /* DIR: every file is opened relative to it */
    int lock_fd; /* DIR/lock, flock()ed: one sidecar per spool */
    uid_t euid;
    uint64_t max_bytes, total_bytes, next_id;
    int wfd; /* the open segment, the last of segs */
    struct seg *segs;
    size_t nsegs, cap;
    bool write_failed;
    double retry_at;        /* after a failed write, room is 0 until then */
    double names_logged_at; /* taken names: logged once a minute at most */
    uint64_t names_skipped;
    bool too_big_logged;
    osp_buf_t wbuf, rbuf; /* an append's records; the reader's window */
};

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
    return g;
}

static void drop_seg(osp_spool_t *s, size_t i) {
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof *s->segs);
    s->nsegs--;
}

static void remove_seg(osp_spool_t *s, size_t i) {
    char name[OSP_SPOOL_NAME_LEN + 1];
    osp_spool_fmt_name(s->segs[i].id, name);
    unlinkat(s->dfd, name, 0);
    s->total_bytes -= (uint64_t)s->segs[i].size;
    if (i == s->nsegs - 1 && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    drop_seg(s, i);
}

/* Open segment `name` for reading: a regular file owned by us, reached
 * without following a symlink and without waiting (a FIFO). -1 with the
 * reason in why. */
static int open_seg(osp_spool_t *s, const char *name, struct stat *st, const char **why) {
    struct stat pre;
    if (fstatat(s->dfd, name, &pre, AT_SYMLINK_NOFOLLOW) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (!S_ISREG(pre.st_mode)) { /* never opened: a device could act on it */
        *why = "not a regular file";
        return -1;
    }
    int fd = openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_ino != pre.st_ino ||
        st->st_dev != pre.st_dev) {
        *why = "not a regular file";
    } else if (st->st_uid != s->euid) {
        *why = "not owned by this process's user";
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* The segment's damage, logged once. */
static void log_damage(osp_spool_t *s, struct seg *g, uint64_t lost) {
    if (g->logged || !lost)
        return;
    g->logged = true;
    char name[OSP_SPOOL_NAME_LEN + 1];
    osp_spool_fmt_name(g->id, name);
    OSP_LOG(OSP_LL_ERROR, "spool",
            "%s/%s: %llu damaged point(s) skipped, counted as dropped (spool); the "
            "first at offset %lld: %s; every intact record before and after is "
            "replayed",
            s->dir, name, (unsigned long long)lost, (long long)g->cur.first_off,
            osp_spool_fmt_damage_text(g->cur.first));
}

static int by_id(const void *a, const void *b) {
    uint64_t x = ((const struct seg *)a)->id, y = ((const struct seg *)b)->id;
    return x < y ? -1 : x > y;
}

/* A segment a previous run left: check it, count its points. false when it
 * is not ours to read (logged; left in place). */
static bool scan_seg(osp_spool_t *s, struct seg *g, unsigned *odd) {
    char name[OSP_SPOOL_NAME_LEN + 1];
    osp_spool_fmt_name(g->id, name);
    struct stat st;
    const char *why = NULL;
    unsigned char hdr[4096];
    int fd = open_seg(s, name, &st, &why);
    int version = 0;
    if (fd >= 0) {
        ssize_t n = pread(fd, hdr, sizeof hdr, 0);
        version = n > 0 ? osp_spool_fmt_version(hdr, (size_t)n, &g->salt) : 0;
        if (!version)
            why = "not a spool segment of a version this build reads";
    }
    if (!version) {
        if (fd >= 0)
            close(fd);
        if ((*odd)++ < LOG_FILES_MAX)
            OSP_LOG(OSP_LL_ERROR, "spool", "%s/%s: %s: left in place, not replayed",
                    s->dir, name, why);
        return false;
    }
    g->size = st.st_size;
    g->sealed = true;
    osp_spool_cursor_t cur;
    osp_spool_cursor_init(&cur, version, g->salt, g->size);
    uint64_t intact = 0;
    osp_chunk_t *c;
    while (cur.off < cur.size) {
        if (!(c = osp_spool_fmt_read(fd, &cur, &s->rbuf, 2 * READ_WINDOW))) {
            if (cur.off < cur.size)
                break; /* no memory: reading counts the rest as it goes */
            continue;
        }
        intact += c->count;
        osp_chunk_free(c);
    }
    close(fd);
    g->written = intact + cur.damaged;
    osp_spool_cursor_init(&g->cur, version, g->salt, g->size);
    g->cur.first = cur.first;
    g->cur.first_off = cur.first_off;
    log_damage(s, g, cur.damaged);
    if (version == OSP_SPOOL_VERSION_V2)
        OSP_LOG(OSP_LL_NOTICE, "spool",
                "%s/%s: a segment of the previous format: replayed", s->dir, name);
    return true;
}

static void find_segments(osp_spool_t *s) {
    int dfd = dup(s->dfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0)
        close(dfd);
    struct dirent *e;
    unsigned odd = 0;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".seg") != 0)
            continue;
        uint64_t id = osp_spool_fmt_parse_name(e->d_name);
        if (!id) {
            if (odd++ < LOG_FILES_MAX)
                OSP_LOG(OSP_LL_ERROR, "spool",
                        "%s/%.64s: not a segment name (16 digits, .seg): left in place",
                        s->dir, e->d_name);
            continue;
        }
        if (!add_seg(s, id))
            break;
        if (id >= s->next_id)
            s->next_id = id + 1; /* at most OSP_SPOOL_ID_MAX + 1: no wrap */
    }
    if (d)
        closedir(d);
    if (s->nsegs)
        qsort(s->segs, s->nsegs, sizeof *s->segs, by_id);
    uint64_t found = 0;
    for (size_t i = 0; i < s->nsegs;) {
        if (!scan_seg(s, &s->segs[i], &odd)) {
            drop_seg(s, i);
            continue;
        }
        s->total_bytes += (uint64_t)s->segs[i].size;
        found += s->segs[i].written;
        i++;
    }
    if (odd > LOG_FILES_MAX)
        OSP_LOG(OSP_LL_ERROR, "spool", "%s: %u files left in place in all", s->dir, odd);
    if (found)
        OSP_LOG(OSP_LL_NOTICE, "spool",
                "%llu points from a previous run in %s: replaying",
                (unsigned long long)found, s->dir);
}

/* DIR, made if missing, as a descriptor: ours, a directory, not writable
 * by group or others. -1 with err. */
static int open_dir(const char *dir, osp_error_t *err) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        osp__error_set(err, -errno, dir, 0, "%s: cannot create the spool directory: %s",
                       dir, strerror(errno));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        osp__error_set(err, OSP_ECONFIG, dir, 0, "%s: not a directory (%s)", dir,
                       strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        osp__error_set(err, OSP_ECONFIG, dir, 0,
                       "%s: owned by uid %lu, not by this process's uid %lu: refusing "
                       "to spool there (anyone who owns it can plant points)",
                       dir, (unsigned long)st.st_uid, (unsigned long)geteuid());
        close(dfd);
        return -1;
    }
    if (st.st_mode & 022) {
        osp__error_set(err, OSP_ECONFIG, dir, 0,
                       "%s: group or world writable (mode %o): refusing to spool there",
                       dir, st.st_mode & 0777);
        close(dfd);
        return -1;
    }
    return dfd;
}

osp_spool_t *osp_spool_open(const char *dir, uint64_t max_bytes, osp_error_t *err) {
    int dfd = open_dir(dir, err);
    if (dfd < 0)
        return NULL;
    int lock_fd =
        openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    struct stat st;
    const char *why = NULL;
    if (lock_fd < 0)
        why = strerror(errno);
    else if (fstat(lock_fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
        why = "not a regular file of this user";
    else if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
        why = errno == EWOULDBLOCK ? "" : strerror(errno);
    if (why) {
        if (!why[0])
            osp__error_set(err, OSP_ECONFIG, dir, 0,
                           "%s: another osprofiler-sidecar uses this spool directory "
                           "(give each its own spool_dir)",
                           dir);
        else
            osp__error_set(err, OSP_ECONFIG, dir, 0,
                           "%s/lock: cannot lock the spool directory: %s", dir, why);
        if (lock_fd >= 0)
            close(lock_fd);
        close(dfd);
        return NULL;
    }
    osp_spool_t *s = calloc(1, sizeof *s);
    if (!s) {
        close(lock_fd);
        close(dfd);
        osp__error_set(err, OSP_ENOMEM, dir, 0, "out of memory");
        return NULL;
    }
    s->dfd = dfd;
    s->lock_fd = lock_fd;
    s->euid = geteuid();
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->max_bytes = max_bytes;
    s->wfd = -1;
    s->next_id = 1;
    s->names_logged_at = -LOG_EVERY;
    find_segments(s);
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
    close(s->dfd);
    pthread_mutex_destroy(&s->mu);
    osp__buf_free(&s->wbuf);
    osp__buf_free(&s->rbuf);
    free(s->segs);
    free(s);
}

static uint64_t new_salt(void) {
    uint64_t salt;
    if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != (ssize_t)sizeof salt) {
        struct timespec ts; /* no entropy yet (early boot): still per segment */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        salt = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    }
    return salt;
}

/* A new segment for appending (the last one sealed and synced), at the
 * next free name: a name something else took is skipped. */
static struct seg *open_segment(osp_spool_t *s) {
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (g && s->wfd >= 0) {
        fdatasync(s->wfd); /* a full segment is on disk before the next */
        close(s->wfd);
        s->wfd = -1;
    }
    if (g)
        g->sealed = true;
    char name[OSP_SPOOL_NAME_LEN + 1];
    int fd = -1;
    uint64_t skipped = 0;
    for (int tries = 0; tries < NAME_TRIES && fd < 0; tries++) {
        if (s->next_id > OSP_SPOOL_ID_MAX) {
            errno = ENOSPC;
            OSP_LOG(OSP_LL_ERROR, "spool", "%s: no segment names left (ids end at %llu)",
                    s->dir, (unsigned long long)OSP_SPOOL_ID_MAX);
            return NULL;
        }
        osp_spool_fmt_name(s->next_id, name);
        fd =
            openat(s->dfd, name,
                   O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return NULL;
        if (fd < 0) {
            s->next_id++;
            skipped++;
        }
    }
    if (skipped) {
        s->names_skipped += skipped;
        double now = osp_sc_mono();
        if (now - s->names_logged_at >= LOG_EVERY) {
            s->names_logged_at = now;
            OSP_LOG(OSP_LL_WARN, "spool",
                    "%s: %llu segment name(s) taken by files this sidecar did not write "
                    "so far: skipped, left in place",
                    s->dir, (unsigned long long)s->names_skipped);
        }
    }
    if (fd < 0) {
        errno = EEXIST;
        return NULL;
    }
    uint64_t salt = new_salt();
    unsigned char hdr[OSP_SPOOL_HDR_LEN];
    osp_spool_fmt_header(hdr, salt);
    if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr ||
        !(g = add_seg(s, s->next_id))) {
        int e = errno ? errno : EIO;
        close(fd);
        unlinkat(s->dfd, name, 0);
        errno = e;
        return NULL;
    }
    g->salt = salt;
    g->size = OSP_SPOOL_HDR_LEN;
    osp_spool_cursor_init(&g->cur, OSP_SPOOL_VERSION, salt, g->size);
    s->next_id++;
    s->total_bytes += OSP_SPOOL_HDR_LEN;
    s->wfd = fd;
    return g;
}

/* The chunk's entries as records into s->wbuf. */
static void frame(osp_spool_t *s, const osp_chunk_t *c, uint64_t salt, uint32_t seq) {
    size_t pos = 0;
    osp_entry_t e;
    s->wbuf.len = 0;
    while (pos < c->used) {
        size_t at = pos;
        if (!osp_chunk_entry_at(c, &pos, &e))
            break;
        unsigned char *h = (unsigned char *)s->wbuf.data + s->wbuf.len;
        osp_spool_fmt_rec_header(h, salt, seq++, c->data + at, pos - at);
        memcpy(h + OSP_SPOOL_REC_HDR_LEN, c->data + at, pos - at);
        s->wbuf.len += OSP_SPOOL_REC_HDR_LEN + pos - at;
    }
}

int osp_spool_append(osp_spool_t *s, const osp_chunk_t *c) {
    if (!c->used)
        return OSP_OK;
    /* Its entries: how many, and none beyond what a reader takes back. */
    size_t pos = 0, n = 0, largest = 0;
    osp_entry_t e;
    while (pos < c->used) {
        size_t at = pos;
        if (!osp_chunk_entry_at(c, &pos, &e))
            break;
        n++;
        if (pos - at > largest)
            largest = pos - at;
    }
    size_t framed = c->used + n * OSP_SPOOL_REC_HDR_LEN;
    pthread_mutex_lock(&s->mu);
    int rc = OSP_OK;
    if (largest > OSP_SPOOL_RECORD_MAX) { /* the intake's limits keep it below */
        if (!s->too_big_logged)
            OSP_LOG(OSP_LL_ERROR, "spool",
                    "an entry of %zu bytes is over the spool's record limit (%u): kept "
                    "in memory",
                    largest, OSP_SPOOL_RECORD_MAX);
        s->too_big_logged = true;
        rc = OSP_ETOOBIG;
        goto out;
    }
    if (s->total_bytes + framed + OSP_SPOOL_HDR_LEN > s->max_bytes) {
        rc = OSP_ETOOBIG;
        goto out;
    }
    s->wbuf.len = 0;
    s->wbuf.failed = false;
    if (!osp__buf_reserve(&s->wbuf, framed)) {
        rc = OSP_ENOMEM;
        goto out;
    }
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    off_t seg_max = s->max_bytes / 4 < SEG_MAX ? (off_t)(s->max_bytes / 4) : SEG_MAX;
    errno = 0;
    if (!g || g->sealed || s->wfd < 0 || g->size + (off_t)framed > seg_max)
        if (!(g = open_segment(s)))
            goto fail;
    frame(s, c, g->salt, g->records);
    if (write(s->wfd, s->wbuf.data, s->wbuf.len) != (ssize_t)s->wbuf.len)
        goto fail;
    g->size += (off_t)s->wbuf.len;
    g->written += n;
    g->records += (uint32_t)n;
    s->total_bytes += s->wbuf.len;
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
    if (s->wfd >= 0) { /* a partial record may be there: cut it, seal the segment */
        if (s->nsegs && ftruncate(s->wfd, s->segs[s->nsegs - 1].size) != 0)
            OSP_LOG(OSP_LL_WARN, "spool", "cannot cut a partial write in %s (%s)", s->dir,
                    strerror(errno));
        close(s->wfd);
        s->wfd = -1;
        if (s->nsegs)
            s->segs[s->nsegs - 1].sealed = true;
    }
out:
    if (s->wbuf.cap > 4 * READ_WINDOW) { /* a large point: let its buffer go */
        osp__buf_free(&s->wbuf);
        s->wbuf = (osp_buf_t)OSP_BUF_INIT;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

uint64_t osp_spool_room(osp_spool_t *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t used = s->total_bytes + OSP_SPOOL_REC_HDR_LEN + OSP_SPOOL_HDR_LEN;
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

/* Segment g was read to its end: what it held beyond the intact records
 * read is lost (counted once, logged once). */
static uint64_t finish_reading(osp_spool_t *s, struct seg *g) {
    uint64_t lost = g->written > g->read ? g->written - g->read : 0;
    log_damage(s, g, lost);
    g->done += lost;
    g->written = g->read;
    return lost;
}

osp_chunk_t *osp_spool_read(osp_spool_t *s, uint64_t *lost) {
    *lost = 0;
    osp_chunk_t *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs && !c; i++) {
        struct seg *g = &s->segs[i];
        if (g->read >= g->written)
            continue;
        char name[OSP_SPOOL_NAME_LEN + 1];
        osp_spool_fmt_name(g->id, name);
        struct stat st;
        const char *why = NULL;
        int fd = open_seg(s, name, &st, &why);
        if (fd < 0) { /* gone or replaced under us: what it held is lost */
            g->cur.first = OSP_SPOOL_READ_ERROR;
            g->cur.first_off = g->cur.off;
            OSP_LOG(OSP_LL_ERROR, "spool", "%s/%s: cannot be read back: %s", s->dir, name,
                    why);
            g->logged = true;
            *lost += finish_reading(s, g);
        } else {
            g->cur.size = g->size; /* the open one grows */
            c = osp_spool_fmt_read(fd, &g->cur, &s->rbuf, READ_WINDOW);
            close(fd);
            if (c) {
                g->read += c->count;
                if (g->read > g->written) /* more than counted: never less than read */
                    g->written = g->read;
                c->spool_seg = g->id;
            } else if (g->cur.off >= g->cur.size) {
                *lost += finish_reading(s, g);
            } else {
                break; /* out of memory for the next record: later */
            }
        }
        if (!c && maybe_remove(s, i))
            i--;
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
