/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store - where trace messages are kept for `osprofiler trace show|list`.
 *
 * The collector (osprofiler-sidecar) writes, the CLI reads. One message is
 * one trace point as osprofiler's storage drivers keep it: the payload JSON
 * text (with its top-level "project" and "service"). Back ends, chosen by
 * the connection string's scheme:
 *
 *   sqlite:///ABS/PATH.db            embedded default (store_sqlite.c)
 *   redis://[:PASSWORD@]HOST[:PORT][/DB]
 *                                    Python osprofiler's redis layout
 *                                    (store_redis.c)
 *   postgresql[+psycopg2]://[USER[:PASSWORD]@][HOST][:PORT]/DB[?PARAMS]
 *                                    Python osprofiler's sqlalchemy layout
 *                                    (store_pg.c, libpq)
 *   mysql[+pymysql|+mysqldb]://[USER[:PASSWORD]@][HOST][:PORT]/DB
 *       [?unix_socket=PATH&charset=utf8mb4]
 *                                    the same layout on MariaDB/MySQL
 *                                    (store_mysql.c, libmariadb)
 *
 * Every function is synchronous and reports failures in *err (no password in
 * any text). A store handle is used by one thread at a time.
 */
#ifndef OSP_STORE_STORE_H
#define OSP_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <osprofiler/osprofiler.h>

typedef struct osp_store osp_store_t;

/* Where the sidecar stores and the CLI reads when nothing else is said. */
#define OSP_STORE_DEFAULT_URL "sqlite:////var/lib/osprofiler/traces.db"

/* How a writer opens an SQLite store: every commit durable (WAL, fsync at
 * commit), and 16 MiB of page cache, so that the base_id index of a large
 * store stays in memory instead of being read back from the OS at every
 * insert (measured: 15-25 % more points/s on a 500 MB store). */
#define OSP_SQLITE_WRITE_PRAGMAS                                                         \
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;"

/* Errors besides OSP_EINVAL (bad url) and OSP_ENOMEM: */
#define OSP_ESTORE (-3000) /* the store failed: I/O, server, corrupt data */

#define OSP_STORE_WRITE 0x1 /* open for osp_store_put (create what is missing) */
/* With OSP_STORE_WRITE: also keep the error index of [profiler]
 * filter_error_trace (messages with error set), as Python's drivers do. */
#define OSP_STORE_ERROR_INDEX 0x2

/* One message to store. */
typedef struct osp_store_msg {
    const char *json; /* the payload as JSON text, stored verbatim but for
                         NaN and infinities, null (point.h) */
    size_t len;
    const char *base_id, *trace_id, *parent_id, *name, *timestamp; /* from the payload */
    const char *project, *service, *host; /* NULL when absent; host = info.host */
    bool error; /* info.etype present and not null (error index) */
} osp_store_msg_t;

/* Fill m from a parsed trace point: the string fields point into payload,
 * json/len are the text to store. false when base_id, trace_id, name or
 * timestamp is not a string. */
bool osp_store_msg_from_json(const json_t *payload, const char *json, size_t len,
                             osp_store_msg_t *m);

/* Open url. Returns OSP_OK with *out, or OSP_EINVAL (bad url) / OSP_ESTORE. */
int osp_store_open(const char *url, int flags, osp_store_t **out, osp_error_t *err);

/* Store n messages as one unit: on OSP_OK all of them are durable (the
 * collector acknowledges the broker only then). A point delivered twice is
 * read once: redis skips it when storing, sqlite when reading. */
int osp_store_put(osp_store_t *s, const osp_store_msg_t *msgs, size_t n,
                  osp_error_t *err);

/* How many messages the last successful osp_store_put or osp_store_commit
 * refused one by one while it stored the rest, and (*why, valid until the
 * next put or commit; no secret) the first one's reason. Such a message can
 * never be stored as it is (redis: a key of the wrong type where its trace
 * goes), so retrying it would only hold back what comes after it: the
 * caller counts it as dropped. */
size_t osp_store_rejected(const osp_store_t *s, const char **why);

/* The same in two steps, so that a writer prepares the next batch while the
 * previous one commits: prepare builds what will be written, with no I/O
 * (it may run in another thread than commit, never on the same batch at
 * once); commit writes it as one unit, as osp_store_put. msgs must stay
 * valid until the commit. */
typedef struct osp_store_batch osp_store_batch_t;
osp_store_batch_t *osp_store_batch_new(void);
int osp_store_prepare(osp_store_t *s, osp_store_batch_t *b, const osp_store_msg_t *msgs,
                      size_t n, osp_error_t *err);
int osp_store_commit(osp_store_t *s, osp_store_batch_t *b, osp_error_t *err);
void osp_store_batch_free(osp_store_batch_t *b);

/* The messages of one trace, in the order the Python driver for the same
 * layout feeds them to its report (for sqlite: the order they were stored).
 * cb's JSON text is valid only during the call; a non-zero return from cb
 * stops and is returned. Returns OSP_OK with no call when there is none. */
typedef int (*osp_store_msg_cb)(const char *json, size_t len, void *ud);
int osp_store_get(osp_store_t *s, const char *base_id, osp_store_msg_cb cb, void *ud,
                  osp_error_t *err);

/* true when get yields rows of Python's sqlalchemy layout rather than
 * payloads: one JSON object per row, its columns by name (timestamp,
 * base_id, parent_id, trace_id, project, host, service, name; null when
 * NULL) and "data", the rest of the payload as that driver stored it (JSON
 * text). Its report is built from those (osp_report_add_row). */
bool osp_store_rows(const osp_store_t *s);

/* Every trace (or only those with an error message), with the timestamp
 * Python's list_traces shows for it. */
typedef int (*osp_store_trace_cb)(const char *base_id, const char *timestamp, void *ud);
int osp_store_list(osp_store_t *s, bool error_only, osp_store_trace_cb cb, void *ud,
                   osp_error_t *err);

/* How many traces the store holds (for the "not found" help). */
int osp_store_count(osp_store_t *s, size_t *traces, osp_error_t *err);

/* The url without its password, for messages. */
const char *osp_store_name(const osp_store_t *s);

void osp_store_close(osp_store_t *s);

#endif
