/* SPDX-License-Identifier: Apache-2.0 */
/* sql_layout - Python osprofiler's sqlalchemy table `data`, as the SQL back
 * ends (store_pg.c, store_mysql.c) write and read it: its columns, a point
 * as that driver's notify makes it a row, a row as the report reads it. */
#ifndef OSP_STORE_SQL_LAYOUT_H
#define OSP_STORE_SQL_LAYOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "store.h"

#define OSP_SQL_COLUMNS                                                                  \
    "timestamp, base_id, parent_id, trace_id, project, host, service, name, data"
enum {
    OSP_SQL_TIMESTAMP,
    OSP_SQL_BASE_ID,
    OSP_SQL_PARENT_ID,
    OSP_SQL_TRACE_ID,
    OSP_SQL_PROJECT,
    OSP_SQL_HOST,
    OSP_SQL_SERVICE,
    OSP_SQL_NAME,
    OSP_SQL_DATA, /* the string columns come before it */
    OSP_SQL_N
};
extern const char *const osp__sql_column[OSP_SQL_N];

/* Why a point was refused (a row's `error` when its `points` is 0); the
 * values osp__sql_row_make returns, negated. Back ends may add their own
 * after OSP_SQL_REFUSED_NOMEM. */
enum {
    OSP_SQL_REFUSED_JSON = 0,
    OSP_SQL_REFUSED_TIMESTAMP = 1,
    OSP_SQL_REFUSED_FIELD = 2,
    OSP_SQL_REFUSED_NOMEM = 3
};
extern const char *const osp__sql_refusal[4];

/* The driver's notify, in two steps so a back end can encode the string
 * columns before the rest is dumped. osp__sql_row_make: the columns taken
 * from the payload (host from the top level, else info.host, the host the
 * point came from); returns 1 with field[] the string columns (NULL for SQL
 * NULL), 0 when the payload is no JSON object, or -OSP_SQL_REFUSED_* when a
 * value does not fit the table. Then osp__sql_row_data: the columns popped,
 * the rest as jsonutils.dumps writes it, that text as a JSON string, in
 * tmp[1] (false: no memory; field[] is no longer valid). tmp: two buffers the
 * caller reuses from row to row. osp__sql_row_done in every case. */
typedef struct osp_sql_row {
    const char *field[OSP_SQL_DATA];
    json_t *payload; /* what field[] points into */
} osp_sql_row_t;
int osp__sql_row_make(osp_sql_row_t *row, const osp_store_msg_t *m);
bool osp__sql_row_data(osp_sql_row_t *row, osp_buf_t tmp[2]);
void osp__sql_row_done(osp_sql_row_t *row);

/* The three steps for one row in a back end's own text form: open, each
 * column through put (NULL for SQL NULL) followed by sep, `data` through
 * put, close. Returns as osp__sql_row_make; -OSP_SQL_REFUSED_NOMEM when a
 * buffer failed. */
typedef void osp_sql_put_fn(osp_buf_t *t, const char *v, size_t len);
int osp__sql_row_encode(osp_buf_t *t, osp_buf_t tmp[2], const osp_store_msg_t *m,
                        osp_sql_put_fn *put, const char *open, char sep,
                        const char *close);

/* Append to b the object osp_report_add_row takes for one row read back:
 * each column by name, `data` as the driver's get_report loads it (a JSON
 * string holding the text, decoded; written by something else, the JSON
 * value itself). v[k] NULL is SQL NULL. */
void osp__sql_report_row(osp_buf_t *b, const char *const v[OSP_SQL_N],
                         const size_t len[OSP_SQL_N]);

#endif
