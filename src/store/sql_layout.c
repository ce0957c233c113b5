/* SPDX-License-Identifier: Apache-2.0 */
/* sql_layout - Python osprofiler's sqlalchemy table `data` (sql_layout.h). */
#include "sql_layout.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "common/point.h"
#include "common/pyjson.h"

const char *const osp__sql_column[OSP_SQL_N] = {"timestamp", "base_id", "parent_id",
                                                "trace_id",  "project", "host",
                                                "service",   "name",    "data"};
/* varchar lengths (characters) of the string columns */
static const size_t column_max[OSP_SQL_DATA] = {26, 255, 255, 255, 255, 255, 255, 255};

const char *const osp__sql_refusal[4] = {
    "its JSON cannot be re-encoded here (an integer beyond 64 bits?)",
    "timestamp longer than the data table's varchar(26)",
    "a field longer than the data table's varchar(255)", "out of memory"};

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int osp__sql_row_make(osp_sql_row_t *row, const osp_store_msg_t *m) {
    json_t *p = osp__json_loadb_finite(m->json, m->len, 0, NULL);
    row->payload = p;
    if (!json_is_object(p))
        return 0;
        /* the writer's view has base_id, trace_id, name and timestamp only */
#define STR(o, k) json_string_value(json_object_get((o), (k)))
    const char *host = STR(p, "host");
    if (!host)
        host = STR(json_object_get(p, "info"), "host");
    const char *v[OSP_SQL_DATA] = {
        m->timestamp,      m->base_id, STR(p, "parent_id"), m->trace_id,
        STR(p, "project"), host,       STR(p, "service"),   m->name};
#undef STR
    for (int c = 0; c < OSP_SQL_DATA; c++) {
        if (v[c] && utf8_chars(v[c]) > column_max[c])
            return c == OSP_SQL_TIMESTAMP ? -OSP_SQL_REFUSED_TIMESTAMP
                                          : -OSP_SQL_REFUSED_FIELD;
        row->field[c] = v[c];
    }
    return 1;
}

bool osp__sql_row_data(osp_sql_row_t *row, osp_buf_t tmp[2]) {
    for (int c = 0; c < OSP_SQL_DATA; c++)
        json_object_del(row->payload, osp__sql_column[c]);
    tmp[0].len = tmp[1].len = 0;
    osp__pyjson_value(&tmp[0], row->payload, -1, 0);
    osp__pyjson_string(&tmp[1], tmp[0].data, tmp[0].len);
    return !tmp[0].failed && !tmp[1].failed;
}

void osp__sql_row_done(osp_sql_row_t *row) {
    json_decref(row->payload);
    row->payload = NULL;
}

int osp__sql_row_encode(osp_buf_t *t, osp_buf_t tmp[2], const osp_store_msg_t *m,
                        osp_sql_put_fn *put, const char *open, char sep,
                        const char *close) {
    osp_sql_row_t row;
    int r = osp__sql_row_make(&row, m);
    if (r > 0) {
        osp__buf_puts(t, open);
        for (int c = 0; c < OSP_SQL_DATA; c++) {
            put(t, row.field[c], row.field[c] ? strlen(row.field[c]) : 0);
            osp__buf_putc(t, sep);
        }
        if (osp__sql_row_data(&row, tmp))
            put(t, tmp[1].data, tmp[1].len);
        osp__buf_puts(t, close);
        if (tmp[0].failed || tmp[1].failed || t->failed)
            r = -OSP_SQL_REFUSED_NOMEM;
    }
    osp__sql_row_done(&row);
    return r;
}

void osp__sql_report_row(osp_buf_t *b, const char *const v[OSP_SQL_N],
                         const size_t len[OSP_SQL_N]) {
    b->len = 0;
    b->failed = false;
    osp__buf_putc(b, '{');
    for (int k = 0; k < OSP_SQL_N; k++) {
        osp__buf_puts(b, k ? ", \"" : "\"");
        osp__buf_puts(b, osp__sql_column[k]);
        osp__buf_puts(b, "\": ");
        if (!v[k]) {
            osp__buf_append(b, "null", 4);
        } else if (k != OSP_SQL_DATA) {
            osp__pyjson_string(b, v[k], len[k]);
        } else if (len[k] && *v[k] == '"') {
            json_t *j = json_loadb(v[k], len[k], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (json_is_string(j))
                osp__buf_append(b, json_string_value(j), json_string_length(j));
            else
                osp__buf_append(b, "null", 4);
            json_decref(j);
        } else {
            osp__buf_append(b, len[k] ? v[k] : "null", len[k] ? len[k] : 4);
        }
    }
    osp__buf_putc(b, '}');
}
