/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log - one write(2) per line to stderr (journald picks it up), so any
 * thread may log without interleaving:
 *   2026-11-28T02:01:00.123Z osprofiler-sidecar[1234] warn [publisher] msg
 * Callers never pass secrets (passwords, keys): see transport_url_describe.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

_Atomic int osp_log_level = OSP_LL_INFO;

static const char *const names[] = {"error", "warn", "notice", "info", "debug"};

int osp__log_level_parse(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void osp__log_line(int level, const char *comp, const char *fmt, ...) {
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n,
                  ".%03ldZ osprofiler-sidecar[%d] %s [%s] ", ts.tv_nsec / 1000000,
                  (int)getpid(), names[level], comp);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
