/* SPDX-License-Identifier: Apache-2.0 */
/* store_redis - placeholder until the redis back end lands. */
#include "store_impl.h"

#include "common/errors.h"

static int redis_open(const char *url, int flags, osp_store_t **out, osp_error_t *err) {
    (void)url, (void)flags, (void)out;
    return osp__error_set(err, OSP_EINVAL, "store", 0, "redis store not built yet");
}

const osp_store_ops_t osp_store_redis_ops = {.scheme = "redis", .open = redis_open};
