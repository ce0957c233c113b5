/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hop - encode and decode the frames libosprofiler sends to the sidecar.
 *
 * A frame is one SOCK_SEQPACKET message: an 8-byte header ("OSPH", version,
 * flags, publisher_id length), the publisher_id, then newline-terminated JSON
 * trace points, or length-prefixed binary point records (record.h); or the
 * header alone, the records in a sealed memfd sent with it (points larger
 * than a frame). The format is
 * specified in docs/wire.md so that any language can feed the sidecar. Everything here
 * treats input as hostile: lengths are checked before use and no record is trusted until
 * osp__point_scan().
 */
#include "hop.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "errors.h"

size_t osp__hop_header(char *out, const char *publisher, size_t publisher_len) {
    if (publisher_len > OSP_HOP_MAX_PUBLISHER)
        publisher_len = OSP_HOP_MAX_PUBLISHER;
    memcpy(out, OSP_HOP_MAGIC, 4);
    out[4] = OSP_HOP_VERSION;
    out[5] = 0; /* flags, none defined in version 1 */
    out[6] = (char)(publisher_len & 0xff);
    out[7] = (char)(publisher_len >> 8);
    memcpy(out + 8, publisher, publisher_len);
    return 8 + publisher_len;
}

ssize_t osp__hop_recv(int fd, void *buf, size_t cap, int fds[OSP_HOP_MAX_FDS], int *nfds,
                      bool *truncated) {
    union {
        char buf[CMSG_SPACE(OSP_HOP_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    *nfds = 0;
    *truncated = false;
    ssize_t got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0)
        return got;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t j = 0; j < k; j++) {
            int d;
            memcpy(&d, CMSG_DATA(h) + j * sizeof(int), sizeof d);
            if (*nfds < OSP_HOP_MAX_FDS)
                fds[(*nfds)++] = d;
            else
                close(d);
        }
    }
    *truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return got;
}

int osp__hop_parse(const void *buf, size_t len, osp_hop_frame_t *f, osp_error_t *err) {
    const unsigned char *p = buf;
    if (len < OSP_HOP_HEADER_FIXED)
        return osp__error_set(err, OSP_EFRAME, "hop", 0,
                              "frame of %zu bytes is shorter than its header", len);
    if (len > OSP_HOP_MAX_FRAME)
        return osp__error_set(err, OSP_EFRAME, "hop", 0, "frame of %zu bytes exceeds %d",
                              len, OSP_HOP_MAX_FRAME);
    if (memcmp(p, OSP_HOP_MAGIC, 4) != 0)
        return osp__error_set(err, OSP_EFRAME, "hop", 0, "bad magic");
    if (p[4] != OSP_HOP_VERSION)
        return osp__error_set(err, OSP_EFRAME, "hop", 0, "unsupported hop version %u",
                              p[4]);
    size_t plen = (size_t)p[6] | (size_t)p[7] << 8;
    if (plen > OSP_HOP_MAX_PUBLISHER || OSP_HOP_HEADER_FIXED + plen > len)
        return osp__error_set(err, OSP_EFRAME, "hop", 0,
                              "publisher_id length %zu out of bounds", plen);
    if (p[5] & ~OSP_HOP_FLAGS_KNOWN)
        return osp__error_set(err, OSP_EFRAME, "hop", 0, "unknown frame flags 0x%x",
                              p[5]);
    if ((p[5] & OSP_HOP_FLAG_EXT) &&
        ((p[5] & OSP_HOP_FLAG_RING) || len != OSP_HOP_HEADER_FIXED + plen))
        return osp__error_set(err, OSP_EFRAME, "hop", 0,
                              "a frame with its records in a memfd carries only its "
                              "header and registers no ring");
    f->flags = p[5];
    f->publisher = (const char *)p + OSP_HOP_HEADER_FIXED;
    f->publisher_len = plen;
    f->next = f->publisher + plen;
    f->end = (const char *)p + len;
    return OSP_OK;
}

int osp__hop_ext_records(osp_hop_frame_t *f, int fd, osp_buf_t *buf, osp_error_t *err) {
    const int need = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
    struct stat st;
    /* F_GET_SEALS fails on anything but a memfd (shmem): no file on a slow
     * or hung file system, no pipe, no device can stall the reader. */
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & need) != need)
        return osp__error_set(err, OSP_EFRAME, "hop", 0,
                              "the records' descriptor is not a memfd sealed against "
                              "writing, growing and shrinking");
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > OSP_HOP_MAX_EXT)
        return osp__error_set(err, OSP_EFRAME, "hop", 0,
                              "the records' memfd holds %lld bytes: 1 to %d allowed",
                              (long long)st.st_size, OSP_HOP_MAX_EXT);
    size_t size = (size_t)st.st_size;
    buf->len = 0;
    if (!osp__buf_reserve(buf, size)) {
        buf->failed = false;
        return osp__error_set(err, OSP_ENOMEM, "hop", 0, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf->data + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return osp__error_set(err, OSP_EFRAME, "hop", 0,
                                  "the records' memfd cannot be read");
        got += (size_t)r;
    }
    buf->len = size;
    f->next = buf->data;
    f->end = buf->data + size;
    return OSP_OK;
}

int osp__hop_next(osp_hop_frame_t *f, const char **rec, size_t *len) {
    if (f->flags & OSP_HOP_FLAG_BINARY) {
        if (f->next == f->end)
            return 0;
        const unsigned char *u = (const unsigned char *)f->next;
        size_t left = (size_t)(f->end - f->next), n;
        if (left < 4 || (n = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 |
                             (size_t)u[3] << 24) > left - 4) {
            f->next = f->end;
            return OSP_EFRAME;
        }
        *rec = f->next + 4;
        *len = n;
        f->next += 4 + n;
        return 1;
    }
    while (f->next < f->end) {
        const char *nl = memchr(f->next, '\n', (size_t)(f->end - f->next));
        if (!nl) {
            f->next = f->end;
            return OSP_EFRAME;
        }
        const char *start = f->next;
        f->next = nl + 1;
        if (nl == start)
            continue; /* tolerate blank lines */
        *rec = start;
        *len = (size_t)(nl - start);
        return 1;
    }
    return 0;
}
