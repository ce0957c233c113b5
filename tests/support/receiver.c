/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receiver - test stand-in for the sidecar's intake: accepts connections on a
 * SOCK_SEQPACKET socket and decodes frames with the same hop decoder the
 * sidecar uses; binary point records (rings, binary frames) are kept as the
 * JSON payload the sidecar would send. Can be paused to simulate a stalled
 * sidecar.
 */
#include "receiver.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/hop.h"
#include "common/record.h"
#include "common/ring.h"

#define MAX_CONN  64
#define MAX_RINGS 256

struct rx_ring {
    osp_ring_t ring;
    int conn; /* fd of the connection that registered it */
};

struct rx {
    int lfd;
    int conns[MAX_CONN];
    size_t nconn;
    struct rx_ring rings[MAX_RINGS];
    size_t nrings;
    atomic_size_t ring_records, rings_attached;
    bool accept_rings;
    pthread_t thr;
    atomic_bool stop, paused;
    atomic_size_t count, bad, accepted, ext_frames;
    bool keep;
    pthread_mutex_t mu;
    json_t *records, *publishers;
    char path[108];
};

/* A binary record as the JSON payload (NULL and counted bad if invalid). */
static json_t *record_json(rx_t *r, const char *rec, size_t len) {
    osp_rec_t pr;
    osp_error_t err;
    osp_buf_t b = OSP_BUF_INIT;
    json_t *out = NULL;
    if (osp__rec_read(rec, len, &pr, &err) == OSP_OK &&
        osp__rec_to_json(&pr, &b, &err) == OSP_OK)
        out = json_stringn(b.data, b.len);
    else
        atomic_fetch_add(&r->bad, 1);
    osp__buf_free(&b);
    return out;
}

static bool on_ring_record(const char *rec, size_t len, void *ud) {
    rx_t *r = ud;
    if (r->keep) {
        json_t *j = record_json(r, rec, len);
        pthread_mutex_lock(&r->mu);
        if (j)
            json_array_append_new(r->records, j);
        pthread_mutex_unlock(&r->mu);
    }
    atomic_fetch_add(&r->count, 1);
    atomic_fetch_add(&r->ring_records, 1);
    return true;
}

/* Drain every ring; drop the ones whose producer is done or corrupt, and
 * (conn >= 0) the ones of a connection that closed. Returns records read. */
static long drain_rings(rx_t *r, int closed_conn) {
    long total = 0;
    for (size_t i = 0; i < r->nrings;) {
        struct rx_ring *g = &r->rings[i];
        bool closed = osp__ring_closed(&g->ring);
        long n = osp__ring_drain(&g->ring, (size_t)-1, on_ring_record, r);
        total += n > 0 ? n : 0;
        if (n < 0 || closed || g->conn == closed_conn) {
            if (!closed && g->conn == closed_conn)
                osp__ring_drain(&g->ring, (size_t)-1, on_ring_record, r);
            osp__ring_destroy(&g->ring, false);
            r->rings[i] = r->rings[--r->nrings];
            continue;
        }
        i++;
    }
    return total;
}

static void handle_frame(rx_t *r, int conn, const char *buf, size_t len, int *fds,
                         int nfds) {
    osp_hop_frame_t f;
    if (osp__hop_parse(buf, len, &f, NULL) != OSP_OK) {
        atomic_fetch_add(&r->bad, 1);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    if (f.flags & OSP_HOP_FLAG_RING) {
        if (nfds == 2 && r->accept_rings && r->nrings < MAX_RINGS &&
            osp__ring_attach(&r->rings[r->nrings].ring, fds[0], fds[1]) == 0) {
            osp__ring_set_attached(&r->rings[r->nrings].ring);
            r->rings[r->nrings++].conn = conn;
            atomic_fetch_add(&r->rings_attached, 1);
        } else {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
        }
        return;
    }
    /* A point larger than a frame: its records in the memfd sent along. */
    osp_buf_t ext = OSP_BUF_INIT;
    int ext_rc = OSP_OK;
    if (f.flags & OSP_HOP_FLAG_EXT) {
        ext_rc = nfds == 1 ? osp__hop_ext_records(&f, fds[0], &ext, NULL) : OSP_EFRAME;
        if (ext_rc == OSP_OK)
            atomic_fetch_add(&r->ext_frames, 1);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (ext_rc != OSP_OK) {
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    const char *rec;
    size_t n;
    int rc;
    size_t got = 0;
    pthread_mutex_lock(&r->mu);
    json_array_append_new(r->publishers, json_stringn(f.publisher, f.publisher_len));
    while ((rc = osp__hop_next(&f, &rec, &n)) == 1) {
        got++;
        if (!r->keep)
            continue;
        json_t *j =
            f.flags & OSP_HOP_FLAG_BINARY ? record_json(r, rec, n) : json_stringn(rec, n);
        if (j)
            json_array_append_new(r->records, j);
    }
    pthread_mutex_unlock(&r->mu);
    osp__buf_free(&ext);
    if (rc < 0)
        atomic_fetch_add(&r->bad, 1);
    atomic_fetch_add(&r->count, got);
}

static void *loop(void *arg) {
    rx_t *r = arg;
    char *buf = malloc(OSP_HOP_MAX_FRAME + 1);
    while (!atomic_load(&r->stop)) {
        if (atomic_load(&r->paused)) {
            usleep(1000);
            continue;
        }
        long drained = drain_rings(r, -1);
        struct pollfd p[MAX_CONN + 1];
        p[0].fd = r->lfd;
        p[0].events = POLLIN;
        for (size_t i = 0; i < r->nconn; i++) {
            p[i + 1].fd = r->conns[i];
            p[i + 1].events = POLLIN;
        }
        /* While rings carry records, come back every 20 us (as the sidecar
         * does; polling non-stop would bounce the rings' cache lines between
         * the CPUs); otherwise every 1 ms: producers never need to wake us. */
        if (drained)
            usleep(20);
        int n = poll(p, r->nconn + 1, drained ? 0 : r->nrings ? 1 : 20);
        if (n <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && r->nconn < MAX_CONN) {
                r->conns[r->nconn++] = c;
                atomic_fetch_add(&r->accepted, 1);
            } else if (c >= 0) {
                close(c);
            }
        }
        for (size_t i = 0; i < r->nconn; i++) {
            if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int fds[OSP_HOP_MAX_FDS], nfds;
            bool truncated;
            ssize_t got = osp__hop_recv(r->conns[i], buf, OSP_HOP_MAX_FRAME + 1, fds,
                                        &nfds, &truncated);
            if (got > 0) {
                handle_frame(r, r->conns[i], buf, (size_t)got, fds, nfds);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                drain_rings(r, r->conns[i]);
                close(r->conns[i]);
                r->conns[i] = r->conns[--r->nconn];
                break; /* the pollfd array is stale now */
            }
        }
    }
    free(buf);
    return NULL;
}

rx_t *rx_start(const char *path, bool keep) { return rx_start_opts(path, keep, true); }

size_t rx_ext_frames(rx_t *r) { return atomic_load(&r->ext_frames); }

rx_t *rx_start_opts(const char *path, bool keep, bool accept_rings) {
    rx_t *r = calloc(1, sizeof *r);
    r->keep = keep;
    r->accept_rings = accept_rings;
    r->records = json_array();
    r->publishers = json_array();
    pthread_mutex_init(&r->mu, NULL);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    unlink(path);
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) || listen(r->lfd, 64)) {
        perror("rx_start");
        abort();
    }
    int sz = 8 << 20;
    setsockopt(r->lfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    pthread_create(&r->thr, NULL, loop, r);
    return r;
}

void rx_pause(rx_t *r, bool paused) { atomic_store(&r->paused, paused); }
size_t rx_count(rx_t *r) { return atomic_load(&r->count); }
size_t rx_bad_frames(rx_t *r) { return atomic_load(&r->bad); }
size_t rx_connections(rx_t *r) { return atomic_load(&r->accepted); }
size_t rx_ring_records(rx_t *r) { return atomic_load(&r->ring_records); }
size_t rx_rings_attached(rx_t *r) { return atomic_load(&r->rings_attached); }

bool rx_wait_count(rx_t *r, size_t n, int timeout_ms) {
    timeout_ms = (int)test_bound(timeout_ms);
    for (int waited = 0; waited < timeout_ms; waited += 2) {
        if (rx_count(r) >= n)
            return true;
        usleep(2000);
    }
    return rx_count(r) >= n;
}

json_t *rx_records(rx_t *r) {
    pthread_mutex_lock(&r->mu);
    json_t *copy = json_deep_copy(r->records);
    pthread_mutex_unlock(&r->mu);
    return copy;
}

json_t *rx_publishers(rx_t *r) {
    pthread_mutex_lock(&r->mu);
    json_t *copy = json_deep_copy(r->publishers);
    pthread_mutex_unlock(&r->mu);
    return copy;
}

void rx_stop(rx_t *r) {
    if (!r)
        return;
    atomic_store(&r->stop, true);
    pthread_join(r->thr, NULL);
    for (size_t i = 0; i < r->nrings; i++)
        osp__ring_destroy(&r->rings[i].ring, false);
    for (size_t i = 0; i < r->nconn; i++)
        close(r->conns[i]);
    close(r->lfd);
    unlink(r->path);
    json_decref(r->records);
    json_decref(r->publishers);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

double test_bound(double seconds) {
    const char *m = getenv("OSP_TEST_TIMEOUT_MULTIPLIER");
    double k = m ? atof(m) : 1.0;
    return seconds * (k > 0 ? k : 1.0);
}

static char tmpdir[256];

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/osp-test-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
    return tmpdir;
}

char *test_path(const char *name) {
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    return p;
}

char *test_read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, fp);
    buf[got] = '\0';
    fclose(fp);
    if (len)
        *len = got;
    return buf;
}

json_t *test_read_jsonl(const char *path) {
    json_t *arr = json_array();
    FILE *fp = fopen(path, "r");
    if (!fp)
        return arr;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        json_t *v = json_loadb(line, (size_t)n, 0, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    free(line);
    fclose(fp);
    return arr;
}
