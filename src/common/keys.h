/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OSP_COMMON_KEYS_H
#define OSP_COMMON_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* *out is new (osp__free_keys); returns OSP_OK or OSP_ENOMEM. */
int osp__split_keys(const char *text, char ***out, size_t *count);
void osp__free_keys(char **keys, size_t count);
/* An oslo.config boolean: true/false, yes/no, on/off, 1/0, any case.
 * Returns 0, or -1 if v is none of them. */
int osp__parse_bool(const char *v, bool *out);

#endif
