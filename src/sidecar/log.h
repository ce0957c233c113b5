/* SPDX-License-Identifier: Apache-2.0 */
/* log - the sidecar's log lines: UTC time, program[pid], level, component. */
#ifndef OSP_SIDECAR_LOG_H
#define OSP_SIDECAR_LOG_H

#include <stdatomic.h>

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

void osp__log_line(int level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "error", "warn", ... -> level; -1 if unknown. */
int osp__log_level_parse(const char *name);

#endif
