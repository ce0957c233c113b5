/* SPDX-License-Identifier: Apache-2.0 */
/*
 * osprofiler.h - OpenStack OSProfiler tracing for C programs.
 *
 * The only header a service includes. It mirrors the Python library
 * (osprofiler 3.4.3): a profiler per thread, start/stop trace points, the
 * X-Trace-Info / X-Trace-HMAC headers, and the [profiler] options of an
 * oslo-style .conf file. Trace points leave the process through a notifier:
 * the osprofiler-sidecar (a local SOCK_SEQPACKET socket) or a JSON-lines file.
 *
 * Thread safety
 *  - osp_setup()/osp_teardown() and osp_set_log_cb() are process-wide and not
 *    thread-safe: call them before the first traced thread starts and after
 *    the last one stopped.
 *  - Everything else is safe from any thread. Profiler state is per thread,
 *    as Python's threading.local: a thread sees only its own profiler.
 *  - The library never blocks on its notifier, starts no thread, installs no
 *    signal handler, writes nothing to stdout/stderr, never exits or aborts,
 *    and stays correct across fork() (the child gets fresh ids and its own
 *    sidecar connection).
 *
 * Return codes: 0 (OSP_OK) is success; failures are negative: -errno for OS
 * errors, our own codes from -1000 down (see OSP_ERRNO_MAP). osp_strerror()
 * never returns NULL.
 *
 * Ownership words: "new" means the caller frees it with the named function;
 * "borrowed" means valid until the stated event. Input strings are copied.
 */
#ifndef OSPROFILER_OSPROFILER_H
#define OSPROFILER_OSPROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <osprofiler/export.h>
#include <osprofiler/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Versions and errors                                                  */
/* ------------------------------------------------------------------ */

/** @return OSP_VERSION_HEX of the library actually loaded. @since 0.1 */
OSP_EXPORT unsigned long osp_version(void);
/** @return "MAJOR.MINOR.PATCH" (static storage). @since 0.1 */
OSP_EXPORT const char *osp_version_string(void);

/* Our own error codes, counting down from -1000 in bands: -10xx usage and
 * frames, -11xx configuration, -12xx propagation (headers). */
#define OSP_ERRNO_MAP(XX)                                                                \
    XX(EINVAL, -1000, "invalid argument")                                                \
    XX(ENOMEM, -1001, "out of memory")                                                   \
    XX(ETOOBIG, -1002, "value too large")                                                \
    XX(ENOTRACE, -1003, "no profiler in this thread")                                    \
    XX(EFRAME, -1004, "malformed hop frame")                                             \
    XX(ENOPOINT, -1005, "no trace point is open")                                        \
    XX(EBADPATH, -1006, "request path is not UTF-8 once percent-decoded")                \
    XX(ECONFIG, -1100, "invalid configuration")                                          \
    XX(ECONFIGFILE, -1101, "configuration file cannot be read")                          \
    XX(ENOHEADER, -1200, "trace headers missing")                                        \
    XX(ENOKEYS, -1201, "no hmac key configured")                                         \
    XX(EBADSIG, -1202, "malformed X-Trace-HMAC (not 40 lower-case hex digits)")          \
    XX(ENOKEYMATCH, -1203, "no configured hmac key matches X-Trace-HMAC")                \
    XX(EUNDECODABLE, -1204, "X-Trace-Info is not base64 of a JSON object")               \
    XX(EBADKEYS, -1205, "X-Trace-Info has missing, unexpected or invalid keys")          \
    XX(EDISABLED, -1206, "profiling is disabled ([profiler] enabled = false)")

typedef enum {
    OSP_OK = 0,
#define XX(name, code, text) OSP_##name = (code),
    OSP_ERRNO_MAP(XX)
#undef XX
} osp_errno_t;

/** @return a description of @p err (static storage, never NULL). @since 0.1 */
OSP_EXPORT const char *osp_strerror(int err);
/** @return the symbolic name, e.g. "OSP_ENOKEYMATCH" or "ENOENT". @since 0.1 */
OSP_EXPORT const char *osp_err_name(int err);

/** Detail of a failed parse (config file, header, frame). */
typedef struct osp_error {
    char text[160];   /**< human-readable, never contains a secret */
    char source[128]; /**< file name or "<string>" */
    int line;         /**< 1-based line, 0 when not applicable */
} osp_error_t;

/* ------------------------------------------------------------------ */
/* Configuration ([profiler] options)                                   */
/* ------------------------------------------------------------------ */

typedef struct osp_config osp_config_t;

/** Defaults are osprofiler's: enabled=false, hmac_keys=SECRET_KEY,
 *  trace_sqlalchemy=false, connection_string=messaging://,
 *  filter_error_trace=false. @return new config or NULL. @since 0.1 */
OSP_EXPORT osp_config_t *osp_config_new(void);
/** Accepts NULL. @since 0.1 */
OSP_EXPORT void osp_config_free(osp_config_t *cfg);

/**
 * Read [profiler] (and [DEFAULT] host) from a service's .conf as oslo.config
 * does (docs/oslo-config.md): any line length, continuation lines, repeated
 * sections, quotes, $option substitution. @p path may be a directory: its
 * *.conf files in name order, like --config-dir. All or nothing: on any
 * error @p cfg is unchanged and @p err (may be NULL) names the file and
 * line. Values never appear in the error text.
 * @retval OSP_OK, OSP_ECONFIGFILE (unreadable), OSP_ECONFIG (bad value/line).
 * @since 0.1
 */
OSP_EXPORT int osp_config_load_file(osp_config_t *cfg, const char *path,
                                    osp_error_t *err);
/** Several files and directories read as one configuration, later ones
 *  overriding earlier ones, as a service started with --config-file A
 *  --config-file B --config-dir D reads them ($references see all of
 *  them). Otherwise as osp_config_load_file(). @since 0.2 */
OSP_EXPORT int osp_config_load_files(osp_config_t *cfg, const char *const *paths,
                                     size_t n, osp_error_t *err);
/** Same as osp_config_load_file() on text in memory; @p name labels errors. */
OSP_EXPORT int osp_config_load_string(osp_config_t *cfg, const char *text,
                                      const char *name, osp_error_t *err);

OSP_EXPORT void osp_config_set_enabled(osp_config_t *cfg, bool on);
OSP_EXPORT void osp_config_set_trace_sqlalchemy(osp_config_t *cfg, bool on);
OSP_EXPORT void osp_config_set_filter_error_trace(osp_config_t *cfg, bool on);
/** Comma-separated, items stripped, empty items dropped (osprofiler's split). */
OSP_EXPORT int osp_config_set_hmac_keys(osp_config_t *cfg, const char *keys);
/** messaging:// (the sidecar, default) or file:///path.jsonl. Other schemes
 *  are served by the sidecar too (it owns the collector). */
OSP_EXPORT int osp_config_set_connection_string(osp_config_t *cfg, const char *cs);
/** Sidecar socket path; default $OSPROFILER_SIDECAR, else
 *  /run/osprofiler/sidecar.sock. */
OSP_EXPORT int osp_config_set_sidecar_socket(osp_config_t *cfg, const char *path);
/** The init_from_conf() arguments: payload "project" and "service", and the
 *  notification publisher_id ("host", default gethostname()). */
OSP_EXPORT int osp_config_set_project(osp_config_t *cfg, const char *project);
OSP_EXPORT int osp_config_set_service(osp_config_t *cfg, const char *service);
OSP_EXPORT int osp_config_set_host(osp_config_t *cfg, const char *host);
/** Per-thread buffer cap: points wait there while the sidecar is absent or
 *  holds back and the thread's ring is full (default 16 MiB, ~120,000
 *  points; allocated only while points wait, given back once they left). */
OSP_EXPORT int osp_config_set_thread_buffer(osp_config_t *cfg, size_t bytes);
/** Cap on what all threads of the process hold buffered together (default
 *  64 MiB): however many threads wait for a slow or absent sidecar, the
 *  process spends at most this much on them. @since 0.2 */
OSP_EXPORT int osp_config_set_buffer_limit(osp_config_t *cfg, size_t bytes);
/** Size of each thread's shared-memory ring to the sidecar (docs/wire.md):
 *  a power of two from 4 KiB to 64 MiB, default 1 MiB (~7,000 points);
 *  0 sends every point through the socket instead. */
OSP_EXPORT int osp_config_set_ring_size(osp_config_t *cfg, size_t bytes);

OSP_EXPORT bool osp_config_enabled(const osp_config_t *cfg);
OSP_EXPORT bool osp_config_trace_sqlalchemy(const osp_config_t *cfg);
OSP_EXPORT bool osp_config_filter_error_trace(const osp_config_t *cfg);
/** @return number of hmac keys. */
OSP_EXPORT size_t osp_config_hmac_key_count(const osp_config_t *cfg);
/** @return true if one of the keys is the well-known default "SECRET_KEY". */
OSP_EXPORT bool osp_config_uses_default_key(const osp_config_t *cfg);
/** @return borrowed until the next setter or free. */
OSP_EXPORT const char *osp_config_connection_string(const osp_config_t *cfg);

/* ------------------------------------------------------------------ */
/* Process-wide setup (Python: initializer.init_from_conf)              */
/* ------------------------------------------------------------------ */

/** Log levels passed to the log callback. */
typedef enum { OSP_LOG_ERROR, OSP_LOG_WARN, OSP_LOG_INFO } osp_log_level_t;
typedef void (*osp_log_cb)(osp_log_level_t level, const char *msg, void *ud);
/** The library logs nothing unless a callback is set. Messages never contain
 *  a secret. Set before osp_setup(). @since 0.1 */
OSP_EXPORT void osp_set_log_cb(osp_log_cb cb, void *ud);

/**
 * Install @p cfg (copied) as the process-wide notifier and key set. With
 * enabled=false the notifier is a no-op and osp_web_begin() traces nothing.
 * Warns through the log callback when "SECRET_KEY" is configured. Connecting
 * to the sidecar is lazy and never blocks.
 * @retval OSP_OK, OSP_ENOMEM, OSP_ECONFIG (e.g. file:// path unopenable).
 */
OSP_EXPORT int osp_setup(const osp_config_t *cfg, osp_error_t *err);
/** Flush the calling thread, close the notifier, forget the config. */
OSP_EXPORT void osp_teardown(void);
/** @return true between a successful osp_setup(enabled) and osp_teardown(). */
OSP_EXPORT bool osp_is_trace_enabled(void);
/** @return enabled && trace_sqlalchemy (Python: is_db_trace_enabled()). */
OSP_EXPORT bool osp_is_db_trace_enabled(void);

/** What became of the trace points this process made. Every point is
 *  counted in `emitted`, then in exactly one of `sent`, `buffered` or a
 *  `dropped_*` counter: emitted = sent + buffered + drops. A drop is the
 *  last resort (docs/design.md, "Flow control"): while the sidecar is
 *  absent or holds back, points wait in the thread's ring and buffer. */
typedef struct osp_stats {
    uint64_t emitted; /**< points made (every start and stop while enabled) */
    uint64_t sent;    /**< handed to the sidecar (ring or socket) or the file */
    uint64_t dropped_no_sidecar;   /**< no sidecar reachable, thread buffer full */
    uint64_t dropped_backpressure; /**< the sidecar held back, thread buffer full */
    uint64_t dropped_oversize;     /**< a point too large to deliver: over 8 MiB, a
                                        name, id, project or service over 65535 bytes,
                                        or info nested over 999 levels (the log says
                                        which) */
    uint64_t dropped_io;           /**< the file notifier could not write */
    uint64_t dropped_nomem;        /**< allocation failures */
    uint64_t lost_unread;          /**< part of `sent`: left in a thread's ring when the
                                        thread exited with no sidecar connected */
    uint64_t web_traced;           /**< requests that osp_web_begin() traced */
    uint64_t web_rejected[7];      /**< by reason: index = -(code) - 1200 */
    uint64_t buffered; /**< in thread buffers now, not yet handed over @since 0.2 */
} osp_stats_t;

/** Snapshot the process-wide counters. @since 0.1 */
OSP_EXPORT void osp_get_stats(osp_stats_t *out);
/** Hand over what the calling thread has buffered, as far as the sidecar
 *  takes it now (a point is visible to the sidecar as soon as it is made
 *  while the thread's ring has room; the buffer holds points only while the
 *  sidecar is absent or holds back). Also done when the thread's outermost
 *  point stops, on osp_clean() and at thread exit.
 *  @return OSP_OK, or -EAGAIN when points are still buffered. */
OSP_EXPORT int osp_flush(void);

/* ------------------------------------------------------------------ */
/* Per-thread profiler (Python: osprofiler.profiler)                     */
/* ------------------------------------------------------------------ */

typedef struct osp_profiler osp_profiler_t;

/**
 * Create the calling thread's profiler. If one exists it is returned unchanged
 * and the arguments are ignored (as in 3.4.3). base_id defaults to a new
 * UUID4; parent_id defaults to base_id; both may be of any length, as in
 * Python, but a point whose ids are over 65535 bytes cannot be delivered:
 * it is dropped and counted (dropped_oversize). @p hmac_key signs outgoing
 * headers. @return borrowed until osp_clean() in this thread, or NULL on ENOMEM.
 */
OSP_EXPORT osp_profiler_t *osp_init(const char *hmac_key, const char *base_id,
                                    const char *parent_id);
/** @return the calling thread's profiler (borrowed) or NULL. */
OSP_EXPORT osp_profiler_t *osp_get(void);
/** Flush and drop the calling thread's profiler. */
OSP_EXPORT void osp_clean(void);

/**
 * Start a point: emits "<name>-start". @p info (borrowed, may be NULL) is a
 * JSON object whose keys come first, then "host". Python's host overwrite of
 * a caller "host" key is kept (same position, profiler's value).
 * No-op returning OSP_ENOTRACE when the thread has no profiler.
 * A point is delivered up to 8 MiB (larger than a hop frame, it travels in a
 * memfd), with a name of up to 65535 bytes and info nested up to 999 levels
 * (Python's own json.dumps fails near 960); beyond, it is dropped and
 * counted (osp_get_stats().dropped_oversize), and the log says why.
 */
OSP_EXPORT int osp_start(const char *name, const json_t *info);
/** Stop the innermost point: emits "<name>-stop". A stop without a start is
 *  a no-op (as upstream 4.4.0). @p info may be NULL. */
OSP_EXPORT int osp_stop(const json_t *info);
/** Stop with {"etype": etype, "message": message} as Python's Trace context
 *  manager writes them; @p message NULL gives JSON null. */
OSP_EXPORT int osp_stop_error(const char *etype, const char *message);

/** DB points (Python's sqlalchemy helper, name "db"): emitted only when
 *  osp_is_db_trace_enabled(). @p params (borrowed) may be NULL for {}. */
OSP_EXPORT int osp_db_start(const char *statement, const json_t *params);
OSP_EXPORT int osp_db_stop(void);
/** DB error stop: {"etype", "message", "db": {"original_exception",
 *  "chained_exception"}}; @p chained NULL gives "None" as Python's str(None). */
OSP_EXPORT int osp_db_stop_error(const char *etype, const char *message,
                                 const char *chained);

/** Ids of a profiler (borrowed until the next start/stop/clean). */
OSP_EXPORT const char *osp_profiler_base_id(const osp_profiler_t *p);
OSP_EXPORT const char *osp_profiler_parent_id(const osp_profiler_t *p);
OSP_EXPORT const char *osp_profiler_id(const osp_profiler_t *p);
OSP_EXPORT const char *osp_profiler_hmac_key(const osp_profiler_t *p);
/** Number of open points on this profiler. */
OSP_EXPORT size_t osp_profiler_depth(const osp_profiler_t *p);

/** Python's get_shorten_id: lower 64 bits of the UUID as lower-case hex with
 *  no leading zeros. An unparsable id gives the short id of a random UUID
 *  (as Python). @p out holds at least 17 bytes. */
OSP_EXPORT int osp_get_shorten_id(const char *uuid, char out[17]);

/* Scoped helper: traces the enclosing block and stops on every return path.
 *   void f(void) { OSP_TRACE_SCOPE("driver", NULL); ... }
 * The stop happens when the scope ends, through __attribute__((cleanup)). An
 * error stop can be recorded before leaving with osp_scope_fail(). */
typedef struct osp_scope {
    int started;
    const char *etype;
    const char *message;
} osp_scope_t;
OSP_EXPORT void osp__scope_end(osp_scope_t *s);
#define OSP__CAT2(a, b) a##b
#define OSP__CAT(a, b)  OSP__CAT2(a, b)
#define OSP_TRACE_SCOPE_NAMED(var, name, info)                                           \
    osp_scope_t var __attribute__((cleanup(osp__scope_end))) = {                         \
        osp_start((name), (info)) == 0, NULL, NULL}
#define OSP_TRACE_SCOPE(name, info)                                                      \
    OSP_TRACE_SCOPE_NAMED(OSP__CAT(osp__scope_, __LINE__), name, info)
/** Mark a scope failed: its stop carries etype/message (strings borrowed until
 *  the scope ends). */
static inline void osp_scope_fail(osp_scope_t *s, const char *etype,
                                  const char *message) {
    s->etype = etype;
    s->message = message;
}

/* ------------------------------------------------------------------ */
/* Carrying the context to another thread or process                    */
/* ------------------------------------------------------------------ */

#define OSP_ID_MAX 256 /* osp_context_t holds ids and keys shorter than this */

/** A copy of a thread's trace context: enough to continue the trace. */
typedef struct osp_context {
    char base_id[OSP_ID_MAX];
    char parent_id[OSP_ID_MAX]; /* the current point: the new work's parent */
    char hmac_key[OSP_ID_MAX];
} osp_context_t;

/** Fill @p out from the calling thread's profiler.
 *  @retval OSP_OK, OSP_ENOTRACE (no profiler), OSP_ETOOBIG (an id or the key
 *  does not fit OSP_ID_MAX: refused rather than cut, which would continue
 *  another trace). */
OSP_EXPORT int osp_context_capture(osp_context_t *out);
/** osp_init() from a captured context, in the new thread. */
OSP_EXPORT osp_profiler_t *osp_context_attach(const osp_context_t *ctx);

/* Environment variables for child processes (documented in docs/wire.md):
 * OSPROFILER_BASE_ID, OSPROFILER_PARENT_ID, OSPROFILER_HMAC_KEY. */
#define OSP_ENV_BASE_ID   "OSPROFILER_BASE_ID"
#define OSP_ENV_PARENT_ID "OSPROFILER_PARENT_ID"
#define OSP_ENV_HMAC_KEY  "OSPROFILER_HMAC_KEY"
#define OSP_ENV_SIDECAR   "OSPROFILER_SIDECAR"
#define OSP_ENV_SERVICE   "OSPROFILER_SERVICE"
#define OSP_ENV_PROJECT   "OSPROFILER_PROJECT"
/** setenv() the three context variables (call between fork and exec, or
 *  while single-threaded: setenv is not thread-safe). */
OSP_EXPORT int osp_context_setenv(const osp_context_t *ctx);
/** Read the context variables; @retval OSP_OK, OSP_ENOTRACE if absent,
 *  OSP_ETOOBIG if one does not fit OSP_ID_MAX. */
OSP_EXPORT int osp_context_from_env(osp_context_t *out);

/* ------------------------------------------------------------------ */
/* HTTP propagation (Python: _utils.signed_pack/unpack, web.py)         */
/* ------------------------------------------------------------------ */

#define OSP_HEADER_INFO "X-Trace-Info"
#define OSP_HEADER_HMAC "X-Trace-HMAC"

/**
 * signed_pack: @p info_out = URL-safe base64 (padded) of @p json,
 * @p hmac_out = lower-case hex HMAC-SHA1 of that text under @p key; NULL when
 * @p key is NULL or "". Both new, free with osp_free().
 */
OSP_EXPORT int osp_signed_pack(const char *json, size_t len, const char *key,
                               char **info_out, char **hmac_out);
/**
 * signed_unpack: try @p keys in order with a constant-time compare; on the
 * first match decode the JSON object, set "hmac_key" to the matching key and
 * return it in @p out (new, json_decref). A failed decode stops the search.
 * @retval OSP_OK, OSP_ENOHEADER, OSP_ENOKEYS, OSP_EBADSIG, OSP_ENOKEYMATCH,
 *         OSP_EUNDECODABLE.
 */
OSP_EXPORT int osp_signed_unpack(const char *info, const char *hmac,
                                 const char *const *keys, size_t nkeys, json_t **out);
/** Client side (get_trace_id_headers): sign {"base_id", "parent_id"=current
 *  point} with the profiler's hmac_key. Both new (osp_free).
 *  @retval OSP_OK, OSP_ENOTRACE (no profiler or no key). */
OSP_EXPORT int osp_web_headers(char **info_out, char **hmac_out);

/** What osp_web_begin() needs of an incoming request. */
typedef struct osp_web_request {
    const char *x_trace_info; /* header values, NULL if absent */
    const char *x_trace_hmac;
    const char *method; /* "GET" */
    const char *path;   /* script name + path info as the request carried it
                           (percent-encoded), no query; NULL for "/" */
    const char *query;  /* raw query string or NULL for "" */
    const char *scheme; /* "http" / "https" */
} osp_web_request_t;

/**
 * Server side (WsgiMiddleware): when profiling is enabled and the headers are
 * valid under @p keys (NULL: the configured hmac_keys), init the thread's
 * profiler with the matching key and start a "wsgi" point with the request
 * info. Otherwise nothing is traced and the reason is returned and counted
 * (osp_get_stats().web_rejected).
 * The path is recorded as WebOb's request.path, which the Python middleware
 * records: percent-decoded as a WSGI server does, then quoted again with
 * WebOb's safe characters ("/v2.1/%7Eops/a%2Cb/[x]" -> "/v2.1/~ops/a,b/%5Bx%5D").
 * @retval OSP_OK (traced: call osp_web_end()), or the reason code;
 *         OSP_EBADPATH (not counted) when the decoded path is not UTF-8:
 *         WebOb raises UnicodeDecodeError there and the Python middleware
 *         fails the request, so nothing is traced.
 */
OSP_EXPORT int osp_web_begin(const osp_web_request_t *req, const char *const *keys,
                             size_t nkeys);
/** Stop the wsgi point (with etype/message when @p etype is non-NULL) and
 *  clean the profiler. Safe to call when begin did not trace. */
OSP_EXPORT void osp_web_end(const char *etype, const char *message);

/** Free memory returned by the library. Accepts NULL. */
OSP_EXPORT void osp_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* OSPROFILER_OSPROFILER_H */
