/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ids - UUID4 and timestamp generation on the traced thread's hot path.
 *
 * libuuid's uuid_generate_random() costs ~1.6 us (6 syscalls a call, see
 * docs/design.md, "UUIDs from a per-thread getrandom pool") and a point needs
 * one; so each thread keeps a 4 KiB pool filled by getrandom(2) and formats
 * version-4 UUIDs from it (~40 ns). The pool is per thread (no locks). After
 * fork() the child must not reuse the parent's remaining bytes or both would
 * emit the same ids: a global generation counter, bumped by a pthread_atfork
 * child handler, makes every thread refill on its next use.
 *
 * Timestamps: clock_gettime + a per-thread cache of the formatted second, so
 * only the microseconds are formatted on most calls.
 */
#include "ids.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define POOL_BYTES 4096

static atomic_uint fork_generation;

struct id_pool {
    unsigned generation;
    size_t used; /* bytes consumed; POOL_BYTES means empty */
    unsigned char bytes[POOL_BYTES];
};

static __thread struct id_pool pool = {0, POOL_BYTES, {0}};

void osp__ids_after_fork(void) { atomic_fetch_add(&fork_generation, 1); }

unsigned osp__fork_generation(void) {
    return atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004 /* Linux 5.6 */
#endif

/* Trace ids need uniqueness, not secrecy (they travel in clear headers), and
 * the library must never block: GRND_INSECURE never waits for the entropy
 * pool at early boot; older kernels get GRND_NONBLOCK, and if even that has
 * nothing yet, a splitmix64 stream seeded from time, pid and address. */
static void refill(unsigned char *buf, size_t n) {
    static const int flags[] = {GRND_INSECURE, GRND_NONBLOCK};
    size_t got = 0;
    for (size_t f = 0; f < 2 && got < n; f++) {
        while (got < n) {
            ssize_t r = getrandom(buf + got, n - got, (unsigned)flags[f]);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    if (got == n)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                 ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)buf;
    for (; got < n; got++) {
        x += 0x9e3779b97f4a7c15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        buf[got] = (unsigned char)(z ^ (z >> 31));
    }
}

static int take16(unsigned char out[16]) {
    unsigned gen = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (pool.generation != gen || pool.used + 16 > POOL_BYTES) {
        refill(pool.bytes, POOL_BYTES);
        pool.used = 0;
        pool.generation = gen;
    }
    memcpy(out, pool.bytes + pool.used, 16);
    /* Wipe what was handed out so a later memory dump does not reveal ids. */
    memset(pool.bytes + pool.used, 0, 16);
    pool.used += 16;
    return 0;
}

static const char hexdig[] = "0123456789abcdef";

int osp__uuid4_raw(uint8_t u[16]) {
    int rc = take16(u);
    if (rc)
        return rc;
    u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
    u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    return 0;
}

void osp__uuid_format(const uint8_t u[16], char out[OSP_UUID_LEN + 1]) {
    /* Byte i goes to column at[i] of 8-4-4-4-12. */
    static const unsigned char at[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                         19, 21, 24, 26, 28, 30, 32, 34};
    for (int i = 0; i < 16; i++) {
        out[at[i]] = hexdig[u[i] >> 4];
        out[at[i] + 1] = hexdig[u[i] & 15];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}

int osp__uuid4(char out[OSP_UUID_LEN + 1]) {
    uint8_t u[16];
    int rc = osp__uuid4_raw(u);
    if (rc == 0)
        osp__uuid_format(u, out);
    return rc;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not canonical: it would not format back */
}

bool osp__uuid_parse_canonical(const char *t, size_t len, uint8_t out[16]) {
    if (len != OSP_UUID_LEN || t[8] != '-' || t[13] != '-' || t[18] != '-' ||
        t[23] != '-')
        return false;
    size_t k = 0;
    for (size_t i = 0; i < OSP_UUID_LEN; i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            i++;
        int h = hexval(t[i]), l = hexval(t[i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[k++] = (uint8_t)(h << 4 | l);
    }
    return k == 16;
}

int osp__uuid4_hex(char out[33]) {
    char s[OSP_UUID_LEN + 1];
    int rc = osp__uuid4(s);
    if (rc)
        return rc;
    char *p = out;
    for (const char *q = s; *q; q++)
        if (*q != '-')
            *p++ = *q;
    *p = '\0';
    return 0;
}

static __thread struct {
    time_t sec;
    char text[20]; /* "%Y-%m-%dT%H:%M:%S" */
} ts_cache = {(time_t)-1, {0}};

static void format_second(time_t sec, char text[20]) {
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(text, 20, "%Y-%m-%dT%H:%M:%S", &tm);
}

void osp__timestamp_us(int64_t us, char out[OSP_TS_LEN + 1]) {
    time_t sec = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    if (sec != ts_cache.sec) {
        format_second(sec, ts_cache.text);
        ts_cache.sec = sec;
    }
    memcpy(out, ts_cache.text, 19);
    out[19] = '.';
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    out[26] = '\0';
}

void osp__timestamp(char out[OSP_TS_LEN + 1]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    osp__timestamp_us((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, out);
}
