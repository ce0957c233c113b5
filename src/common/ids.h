/* SPDX-License-Identifier: Apache-2.0 */
/* ids - UUID4 strings and UTC timestamps in osprofiler's formats. */
#ifndef OSP_COMMON_IDS_H
#define OSP_COMMON_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSP_UUID_LEN 36 /* without the NUL */
#define OSP_TS_LEN   26 /* %Y-%m-%dT%H:%M:%S.%f */

/* A random RFC 4122 version 4 UUID, lower-case, hyphenated, NUL-terminated.
 * Thread-safe; fresh after fork(). Returns 0 or -errno. */
int osp__uuid4(char out[OSP_UUID_LEN + 1]);
/* The same as 16 bytes (version and variant bits set). */
int osp__uuid4_raw(uint8_t out[16]);
/* 16 bytes as canonical UUID text (8-4-4-4-12, lower case). */
void osp__uuid_format(const uint8_t u[16], char out[OSP_UUID_LEN + 1]);
/* 16 bytes when text is a UUID in exactly that canonical form (so that
 * formatting them gives the same text back). */
bool osp__uuid_parse_canonical(const char *text, size_t len, uint8_t out[16]);
/* 32 lower-case hex digits (uuid4().hex, oslo's _unique_id). */
int osp__uuid4_hex(char out[33]);
/* Now, UTC, as datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f"). */
void osp__timestamp(char out[OSP_TS_LEN + 1]);
/* Format microseconds since the epoch the same way. */
void osp__timestamp_us(int64_t us, char out[OSP_TS_LEN + 1]);
/* Called in the child after fork(): every thread's random pool is stale. */
void osp__ids_after_fork(void);
/* Bumped once per fork() in the child: per-thread caches compare it. */
unsigned osp__fork_generation(void);

#endif
