/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log - one write(2) per line to stderr (journald picks it up), so any
 * thread may log without interleaving:
 *   2026-11-28T02:01:00.123Z osprofiler-sidecar[1234] warn [publisher] msg
 * Callers never pass secrets (passwords, keys): see transport_url_describe.
 * Callers may pass what clients sent (a publisher_id): the line is escaped
 * here, in one place, so a newline in it cannot forge a second line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/pytext.h"

_Atomic int osp_log_level = OSP_LL_INFO;

static const char *const names[] = {"error", "warn", "notice", "info", "debug"};

int osp__log_level_parse(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

size_t osp__log_escape(char *out, size_t cap, const char *src, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t k = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t n = osp__utf8_len(s + i, s + len); /* 0: not UTF-8 */
        bool plain = n > 1 || (n == 1 && s[i] >= 0x20 && s[i] != 0x7f);
        size_t need = plain ? n : 4;
        if (k + need >= cap)
            break;
        if (plain) {
            memcpy(out + k, s + i, n);
        } else {
            n = 1;
            out[k] = '\\';
            out[k + 1] = 'x';
            out[k + 2] = hex[s[i] >> 4];
            out[k + 3] = hex[s[i] & 15];
        }
        k += need;
        i += n;
    }
    out[k] = '\0';
    return k;
}

static void vlog_line(int level, const char *comp, const char *suffix, const char *fmt,
                      va_list ap) {
    char msg[1024], line[2048];
    struct timespec ts;
    struct tm tm;
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int h = snprintf(line + n, sizeof line - n, ".%03ldZ osprofiler-sidecar[%d] %s [%s] ",
                     ts.tv_nsec / 1000000, (int)getpid(), names[level], comp);
    n += h > 0 ? (size_t)h : 0;
    n += osp__log_escape(line + n, sizeof line - n - 1, msg, mlen);
    if (suffix)
        n += osp__log_escape(line + n, sizeof line - n - 1, suffix, strlen(suffix));
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void osp__log_line(int level, const char *comp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog_line(level, comp, NULL, fmt, ap);
    va_end(ap);
}

static double limit_interval = 10.0;

void osp__log_set_limit_interval(double seconds) { limit_interval = seconds; }

void osp__log_limited(osp_log_limit_t *l, int level, const char *comp, const char *fmt,
                      ...) {
    double now = osp_sc_mono();
    if (!l->since || now - l->since >= limit_interval) {
        l->since = now;
        l->lines = 0;
    } else if (l->lines >= (l->burst ? l->burst : 1)) {
        l->held++;
        return;
    }
    char suffix[96] = "";
    if (l->held)
        snprintf(suffix, sizeof suffix, " (and %llu more like it held back)",
                 (unsigned long long)l->held);
    l->lines++;
    l->held = 0;
    if (level > atomic_load_explicit(&osp_log_level, memory_order_relaxed))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog_line(level, comp, suffix[0] ? suffix : NULL, fmt, ap);
    va_end(ap);
}
