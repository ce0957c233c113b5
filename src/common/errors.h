/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OSP_COMMON_ERRORS_H
#define OSP_COMMON_ERRORS_H

#include <osprofiler/osprofiler.h>

/* Fill *e (if not NULL) and return code, so callers can `return set(...)`. */
int osp__error_set(osp_error_t *e, int code, const char *source, int line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
