/* SPDX-License-Identifier: Apache-2.0 */
/* pytext - Python's text rules on UTF-8 bytes: its strict decoder, and
 * str.strip(), which removes str.isspace() — more than " \t" (\x1c-\x1f,
 * U+00A0, U+2000..U+200A, ...). Safe on any bytes: a sequence that is not
 * a whole whitespace character is not whitespace. */
#ifndef OSP_COMMON_PYTEXT_H
#define OSP_COMMON_PYTEXT_H

#include <stddef.h>

/* Moves *s past leading and *len before trailing whitespace. */
void osp__py_strip(const char **s, size_t *len);
size_t osp__py_lstrip_len(const char *s, size_t len); /* bytes of leading ws */
size_t osp__py_rstrip_len(const char *s, size_t len); /* len without trailing ws */

/* Length of the UTF-8 sequence at p (1 for ASCII), 0 when Python's strict
 * decoder refuses it: overlong, a surrogate, beyond U+10FFFF, cut short. */
size_t osp__utf8_len(const unsigned char *p, const unsigned char *end);

#endif
