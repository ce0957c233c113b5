/* SPDX-License-Identifier: Apache-2.0 */
/* clock - monotonic seconds, for the sidecar threads' deadlines and backoff. */
#ifndef OSP_SIDECAR_CLOCK_H
#define OSP_SIDECAR_CLOCK_H

#include <time.h>

static inline double osp_sc_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
