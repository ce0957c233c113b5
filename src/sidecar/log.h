/* SPDX-License-Identifier: Apache-2.0 */
/* log - the sidecar's log lines: UTC time, program[pid], level, component. */
#ifndef OSP_SIDECAR_LOG_H
#define OSP_SIDECAR_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { OSP_LL_ERROR, OSP_LL_WARN, OSP_LL_NOTICE, OSP_LL_INFO, OSP_LL_DEBUG };
/* Atomic: SIGHUP changes it while the other threads log. */
extern _Atomic int osp_log_level;

/* Arguments are not evaluated when the level is off. */
#define OSP_LOG(lvl, comp, ...)                                                          \
    do {                                                                                 \
        if ((lvl) > atomic_load_explicit(&osp_log_level, memory_order_relaxed))          \
            break;                                                                       \
        osp__log_line((lvl), (comp), __VA_ARGS__);                                       \
    } while (0)

/* Every line goes through here; control characters and invalid UTF-8 in the
 * formatted text (a client's publisher_id, a broker's error) are written as
 * \xNN, so no argument can start a line of its own. */
void osp__log_line(int level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "error", "warn", ... -> level; -1 if unknown. */
int osp__log_level_parse(const char *name);
/* src as a log line shows it (see osp__log_line), NUL-terminated, cut to fit
 * out (never in the middle of an escape); returns the bytes written. */
size_t osp__log_escape(char *out, size_t cap, const char *src, size_t len);

/* Once per interval: for events an outsider can repeat (refused connections,
 * rings, frames). The first `burst` lines of an interval (1 when 0) are
 * written at once, the rest held back until limit_log_interval seconds have
 * passed; the next line says how many were. Loop thread only (not atomic). */
typedef struct osp_log_limit {
    unsigned burst;
    unsigned lines; /* written in this interval */
    double since;   /* monotonic seconds the interval began; 0: never */
    uint64_t held;  /* events not logged since the last line */
} osp_log_limit_t;
/* Seconds between two lines of one limiter (limit_log_interval). */
void osp__log_set_limit_interval(double seconds);
void osp__log_limited(osp_log_limit_t *l, int level, const char *comp, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

#endif
