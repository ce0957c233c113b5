/* SPDX-License-Identifier: Apache-2.0 */
/* errors - filling an osp_error_t; the code table itself is in src/lib. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

int osp__error_set(osp_error_t *e, int code, const char *source, int line,
                   const char *fmt, ...) {
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    snprintf(e->source, sizeof e->source, "%s", source ? source : "");
    e->line = line;
    return code;
}
