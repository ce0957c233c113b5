/* SPDX-License-Identifier: Apache-2.0 */
/* receiver - a live hop receiver for tests: a thread that accepts
 * SOCK_SEQPACKET connections on a path and decodes every frame. */
#ifndef OSP_TEST_RECEIVER_H
#define OSP_TEST_RECEIVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct rx rx_t;

/* keep: store every record text (json array of strings). Rings (the shared
 * memory fast path) are accepted unless accept_rings is false. */
rx_t *rx_start(const char *path, bool keep);
rx_t *rx_start_opts(const char *path, bool keep, bool accept_rings);
size_t rx_ring_records(rx_t *r); /* records that came through rings */
size_t rx_rings_attached(rx_t *r);
void rx_pause(rx_t *r, bool paused);
size_t rx_count(rx_t *r);       /* records received */
size_t rx_bad_frames(rx_t *r);  /* frames that failed to parse */
size_t rx_ext_frames(rx_t *r);  /* frames whose records came in a memfd */
size_t rx_connections(rx_t *r); /* connections accepted so far */
/* Wait until at least n records arrived; false on timeout. */
bool rx_wait_count(rx_t *r, size_t n, int timeout_ms);
/* New reference to the stored records (array of strings). */
json_t *rx_records(rx_t *r);
/* Publisher ids of the frames, as received (array of strings). */
json_t *rx_publishers(rx_t *r);
void rx_stop(rx_t *r);

/* Time bounds in tests are scaled by $OSP_TEST_TIMEOUT_MULTIPLIER (sanitizers
 * slow everything down); returns seconds * multiplier. */
double test_bound(double seconds);

/* A fresh temp dir (mkdtemp) and helpers for files in it. */
const char *test_tmpdir(void);
char *test_path(const char *name); /* malloc'd */
/* Read a JSON-lines file into an array of parsed objects (new). */
json_t *test_read_jsonl(const char *path);
char *test_read_file(const char *path, size_t *len); /* malloc'd */

#endif
