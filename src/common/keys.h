/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OSP_COMMON_KEYS_H
#define OSP_COMMON_KEYS_H

#include <stddef.h>

/* *out is new (osp__free_keys); returns OSP_OK or OSP_ENOMEM. */
int osp__split_keys(const char *text, char ***out, size_t *count);
void osp__free_keys(char **keys, size_t count);

#endif
