/* SPDX-License-Identifier: Apache-2.0 */
/* internal - what the library's modules share; nothing here is exported.
 *
 * Modules, each with one job; calls go down this list, never up:
 *   web.c       signed headers, the WSGI middleware's begin/end
 *   profiler.c  the per-thread profiler: ids, start/stop, point records
 *   setup.c     osp_setup/osp_teardown: installs the configuration
 *   emit.c      where a thread's record goes: its ring, its buffer, the
 *               socket or the file; flushing; thread exit
 *   link.c      the process's one connection to the sidecar
 *   counters.c  what happened to every point, per thread, and drops
 *   settings.c  what setup installed, as the modules above read it; logging
 *   config.c    osp_config_t and the oslo .conf reader
 */
#ifndef OSP_LIB_INTERNAL_H
#define OSP_LIB_INTERNAL_H

#include <osprofiler/osprofiler.h>
#include <stdatomic.h>
#include <sys/un.h>

#include "../common/buf.h"
#include "../common/keys.h"
#include "../common/record.h"

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
    size_t buffer_limit;
    size_t ring_size;
};

#define OSP_DEFAULT_SIDECAR_SOCKET "/run/osprofiler/sidecar.sock"
#define OSP_DEFAULT_THREAD_BUFFER  (16 * 1024 * 1024)
#define OSP_DEFAULT_BUFFER_LIMIT   (64 * 1024 * 1024)
#define OSP_DEFAULT_RING_SIZE      (1024 * 1024)

/* config.c */
int osp__config_copy(osp_config_t *dst, const osp_config_t *src);
void osp__config_clear(osp_config_t *cfg);

/* ---- settings.c: the installed configuration (setup.c writes it) ---- */
enum osp_notifier { OSP_NOTIFIER_NONE, OSP_NOTIFIER_SIDECAR, OSP_NOTIFIER_FILE };
typedef struct osp_settings {
    enum osp_notifier kind;
    int file_fd; /* the file notifier's descriptor */
    size_t thread_buffer, buffer_limit;
    uint64_t ring_size;            /* 0: no rings */
    const char *project, *service; /* NULL: null in payloads */
    size_t project_len, service_len;
    osp_buf_t info_host; /* {"host": <host>}: the info of a point without one */
    osp_buf_t host_json; /* the host as a JSON string */
} osp_settings_t;
extern osp_settings_t osp__settings;
/* Bumped by every osp_setup/osp_teardown: per-thread state of an older
 * setup is dropped when a thread sees it. */
unsigned osp__setup_generation(void);
void osp__settings_changed(void);
void osp__log(osp_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- setup.c ---- */
const char *osp__host(void); /* gethostname(), read once */
const char *const *osp__hmac_keys(size_t *count);
bool osp__db_enabled(void);

/* ---- link.c: the connection to the sidecar ---- */
/* Open the (not yet connected) socket for path. 0 or -errno. */
int osp__link_open(const char *path, const char *publisher, size_t publisher_len);
void osp__link_close(void);
/* Connected now, as far as we know (no system call). */
bool osp__link_up(void);
/* Bumped by each successful (re)connect: a ring registered on an older
 * connection must be registered again. */
unsigned osp__link_generation(void);
/* Try to (re)connect, at most every 200 ms whatever the callers (no system
 * call in between). true when connected. */
bool osp__link_connect(void);
/* Detect a sidecar that went away while a thread only wrote to its ring, at
 * most every 100 ms process-wide; while it is away, try to reconnect. */
void osp__link_check_alive(void);
/* Send records ([u32 len][record]..., whole ones) as binary frames; a
 * record too large for a frame goes alone, in a memfd (docs/wire.md, "Large
 * points"). Returns bytes consumed (whole records): *points sent, and
 * *dropped when no memfd could be made (counted and logged here). Stops at
 * EAGAIN (the sidecar is not reading: 0 bytes), or when not connected. */
size_t osp__link_send(const char *recs, size_t len, uint64_t *points, uint64_t *dropped);
/* Hand a ring (memfd + eventfd) to the sidecar. */
bool osp__link_register_ring(int mem_fd, int event_fd);
void osp__link_after_fork(void);

/* ---- emit.c: per-thread delivery ---- */
/* Deliver one point; request_end: the thread's outermost point stopped. */
void osp__emit(const osp_rec_t *rec, bool request_end);
void osp__emit_teardown(void);
/* Arm the fork handler (osp_setup). */
void osp__emit_init(void);
/* Make thread exit flush the thread's records. */
void osp__thread_register(void);

/* ---- counters.c ---- */
/* Why a point was dropped: the one place each side counts a drop. */
enum osp_drop {
    OSP_DROP_NO_SIDECAR,   /* no sidecar, and the thread buffer is full */
    OSP_DROP_BACKPRESSURE, /* the sidecar holds back, and the thread buffer is full */
    OSP_DROP_OVERSIZE,     /* a point over the hop's limits (common/hop.h) */
    OSP_DROP_IO,           /* the file notifier's write failed */
    OSP_DROP_NOMEM,        /* no memory to build it */
    OSP_DROP_REASONS
};
/* Per-thread counters, written by their thread only (plain stores), read by
 * osp_get_stats from any thread. */
typedef struct osp_thread_counters {
    _Atomic uint64_t emitted, sent, buffered, lost_unread;
    _Atomic uint64_t dropped[OSP_DROP_REASONS];
    struct osp_thread_counters *prev, *next;
    bool listed;
} osp_thread_counters_t;
extern __thread osp_thread_counters_t osp__tc;
static inline void osp__count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void osp__uncount(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}
/* Count n points dropped for `why`, and log it (rate-limited), with the
 * precise reason when detail is not NULL. */
void osp__drop(enum osp_drop why, uint64_t n);
void osp__drop_because(enum osp_drop why, uint64_t n, const char *detail);
/* A new setup: the next drop of each reason is logged at once. */
void osp__drop_log_reset(void);
/* emit.c: a point that cannot be made (too large, no memory) is counted as
 * emitted and dropped for why (detail: the precise reason, for the log). */
void osp__emit_dropped(enum osp_drop why, const char *detail, bool request_end);
/* List this thread's counters (first use), fold them in at thread exit. */
void osp__counters_thread_start(void);
void osp__counters_thread_exit(void);
void osp__counters_after_fork(void);
/* An exiting thread leaves n buffered points to the process (still counted
 * as buffered); another thread adopts them into its own buffer. */
void osp__counters_orphan(uint64_t n);
void osp__counters_adopt(uint64_t n);
void osp__count_web(int code); /* OSP_OK or a rejection code */

/* ---- profiler.c: per-thread state shared with web.c ---- */
bool *osp__web_active_flag(void);

#endif
