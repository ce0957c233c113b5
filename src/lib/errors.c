/* SPDX-License-Identifier: Apache-2.0 */
/* errors - one table (OSP_ERRNO_MAP) gives codes, names and texts. */
#include <osprofiler/osprofiler.h>

#include <stdio.h>
#include <string.h>

#include "../common/errors.h"

const char *osp_strerror(int err) {
    switch (err) {
    case OSP_OK:
        return "success";
#define XX(name, code, text)                                                             \
    case OSP_##name:                                                                     \
        return text;
        OSP_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > -1000) {
        /* strerror() of glibc returns a static table entry for known errnos;
         * strerrordesc_np is the thread-safe form of it. */
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

const char *osp_err_name(int err) {
    switch (err) {
    case OSP_OK:
        return "OSP_OK";
#define XX(name, code, text)                                                             \
    case OSP_##name:                                                                     \
        return "OSP_" #name;
        OSP_ERRNO_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err < 0 && err > -1000) {
        const char *s = strerrorname_np(-err);
        if (s)
            return s;
    }
    return "OSP_EUNKNOWN";
}
