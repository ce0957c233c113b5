/* SPDX-License-Identifier: Apache-2.0 */
/* store_impl - what a store back end provides (see store.h for meanings). */
#ifndef OSP_STORE_IMPL_H
#define OSP_STORE_IMPL_H

#include "common/buf.h"
#include "store.h"

/* What a back end writes for a batch, made by prepare (no I/O). Back ends
 * without prepare keep the messages for put. */
typedef struct osp_store_row {
    const char *base_id, *first_timestamp;
    size_t text, len; /* into the batch's text */
    int points, error;
} osp_store_row_t;

struct osp_store_batch {
    const osp_store_msg_t *msgs;
    size_t n;
    osp_buf_t text;
    osp_store_row_t *rows;
    size_t nrows, rows_cap;
    size_t *scratch; /* grouping */
    size_t scratch_cap;
};

typedef struct osp_store_ops {
    /* the URL schemes it serves: "sqlite"; SQLAlchemy's dialect+driver
     * spellings of one engine share a back end. NULL after the last. */
    const char *schemes[4];
    bool rows; /* get yields sqlalchemy rows (osp_store_rows) */
    /* url is the whole connection string; fill *out (allocated by the back
     * end, its first member a struct osp_store). */
    int (*open)(const char *url, int flags, osp_store_t **out, osp_error_t *err);
    int (*put)(osp_store_t *s, const osp_store_msg_t *msgs, size_t n, osp_error_t *err);
    /* optional: build b's rows (no I/O), then write them in one unit */
    int (*prepare)(osp_store_batch_t *b, osp_error_t *err);
    int (*commit)(osp_store_t *s, osp_store_batch_t *b, osp_error_t *err);
    int (*get)(osp_store_t *s, const char *base_id, osp_store_msg_cb cb, void *ud,
               osp_error_t *err);
    int (*list)(osp_store_t *s, bool error_only, osp_store_trace_cb cb, void *ud,
                osp_error_t *err);
    int (*count)(osp_store_t *s, size_t *traces, osp_error_t *err);
    void (*close)(osp_store_t *s); /* frees s */
} osp_store_ops_t;

struct osp_store {
    const osp_store_ops_t *ops;
    char name[256]; /* url without password, set by the back end */
    /* messages the last put or commit refused (osp_store_rejected) */
    size_t rejected;
    char rejected_why[400];
};

/* cb(json) with the text as readers take it: NaN and infinities null
 * (point.h). What Python's drivers or an older osprofiler-c stored may hold
 * them; copied only then. */
int osp__store_emit(osp_store_msg_cb cb, const char *json, size_t len, void *ud);

/* Room for n rows in b->rows, and b->text emptied: what every prepare does
 * first. OSP_OK or OSP_ENOMEM (err set). */
int osp__store_batch_reset(osp_store_batch_t *b, size_t n, osp_error_t *err);

extern const osp_store_ops_t osp_store_sqlite_ops;
extern const osp_store_ops_t osp_store_redis_ops;
extern const osp_store_ops_t osp_store_pg_ops;
extern const osp_store_ops_t osp_store_mysql_ops;

#endif
