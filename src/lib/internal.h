/* SPDX-License-Identifier: Apache-2.0 */
/* internal - what the library's modules share; nothing here is exported. */
#ifndef OSP_LIB_INTERNAL_H
#define OSP_LIB_INTERNAL_H

#include <osprofiler/osprofiler.h>

#include "../common/buf.h"
#include "../common/keys.h"

struct osp_config {
    bool enabled;
    bool trace_sqlalchemy;
    bool filter_error_trace;
    bool sidecar_socket_set; /* explicitly configured (wins over the env) */
    char **hmac_keys;
    size_t nkeys;
    char *connection_string;
    char *sidecar_socket;
    char *project;
    char *service;
    char *host;
    size_t thread_buffer;
    size_t ring_size;
};

#define OSP_DEFAULT_SIDECAR_SOCKET "/run/osprofiler/sidecar.sock"
#define OSP_DEFAULT_THREAD_BUFFER  (1024 * 1024)
#define OSP_DEFAULT_RING_SIZE      (256 * 1024)

/* config.c */
int osp__config_copy(osp_config_t *dst, const osp_config_t *src);
void osp__config_clear(osp_config_t *cfg);

/* emit.c: the process-wide notifier and the per-thread batch. */
void osp__log(osp_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Make thread exit flush the batch and free the profiler. */
void osp__thread_register(void);
/* The calling thread's batch buffer (NULL when no notifier or no memory). A
 * point is appended in place, then osp__emit_commit() is called with the
 * offset where it began and the profiler depth after it. */
osp_buf_t *osp__emit_buffer(void);
void osp__emit_commit(osp_buf_t *b, size_t start, size_t depth);
void osp__emit_abort(osp_buf_t *b, size_t start);
const char *osp__host(void); /* info.host: gethostname() */
/* Pre-serialised pieces of every payload (built once at setup, emit.c):
 * the host as a JSON string, and , "project": ..., "service": ...} */
const char *osp__host_json(size_t *len);
const char *osp__payload_tail(size_t *len);
const char *const *osp__hmac_keys(size_t *count);
bool osp__db_enabled(void);
void osp__count_web(int code); /* OSP_OK or a rejection code */

/* profiler.c: per-thread state shared with web.c. */
bool *osp__web_active_flag(void);
/* Release the calling thread's profiler (thread exit, osp_clean). */
void osp__profiler_release(void);

#endif
