/* SPDX-License-Identifier: Apache-2.0 */
/* pytext - Python's str.strip() on UTF-8 bytes: what oslo.config and
 * osprofiler strip is str.isspace(), which is more than " \t" (\x1c-\x1f,
 * U+00A0, U+2000..U+200A, ...). Safe on any bytes: a sequence that is not
 * a whole whitespace character is not whitespace. */
#ifndef OSP_COMMON_PYTEXT_H
#define OSP_COMMON_PYTEXT_H

#include <stddef.h>

/* Moves *s past leading and *len before trailing whitespace. */
void osp__py_strip(const char **s, size_t *len);
size_t osp__py_lstrip_len(const char *s, size_t len); /* bytes of leading ws */
size_t osp__py_rstrip_len(const char *s, size_t len); /* len without trailing ws */

#endif
