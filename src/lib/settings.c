/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settings - what osp_setup installed, as the modules below it read it (the
 * notifier, sizes, payload fragments), and the library's log callback. Data
 * only: setup.c writes it, emit.c, link.c and counters.c read it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

osp_settings_t osp__settings = {.file_fd = -1};

static atomic_uint generation;
static osp_log_cb log_cb;
static void *log_ud;

unsigned osp__setup_generation(void) {
    return atomic_load_explicit(&generation, memory_order_relaxed);
}

void osp__settings_changed(void) { atomic_fetch_add(&generation, 1); }

void osp_set_log_cb(osp_log_cb cb, void *ud) {
    log_cb = cb;
    log_ud = ud;
}

void osp__log(osp_log_level_t level, const char *fmt, ...) {
    if (!log_cb)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_cb(level, msg, log_ud);
}
