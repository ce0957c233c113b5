/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pg_raw - the PostgreSQL store's writes beside raw libpq writing the
 * same rows.
 *
 *   store_pg_raw URL [--rows N] [--batch B]   (URL from the environment
 *                                              OSP_PG_URL when absent)
 *
 * N points like the store benchmark's (a "db" start with its statement and
 * a stop, a new trace every 2000), B a transaction. Four timed runs, each
 * into an emptied `data` table (Python's sqlalchemy layout, made by opening
 * the store):
 *   store    osp_store_prepare + osp_store_commit (what the sidecar does;
 *            prepare runs off the committing thread there, so prepare and
 *            commit are also timed apart)
 *   copy     BEGIN; COPY data FROM STDIN with the rows the store prepared
 *            (made before timing); COMMIT
 *   insert   BEGIN; one multi-row INSERT ... VALUES ($1..$9), ... of the same
 *            values; COMMIT (the alternative to COPY)
 * Prints one JSON object with points/s of each.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/errors.h"
#include "store/store_impl.h"

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "store_pg_raw: %s: %s\n", what, why);
    exit(1);
}

static void exec_ok(PGconn *c, const char *sql, ExecStatusType want) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != want)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

typedef struct pt {
    char json[640], base[48], trace[48], parent[48], name[16], ts[48];
} pt_t;

static pt_t *make_points(long n) {
    pt_t *p = calloc((size_t)n, sizeof *p);
    for (long i = 0; i < n; i++) {
        long t = i / 2000, k = i / 2;
        snprintf(p[i].base, sizeof p[i].base, "5e1c7a70-0000-4000-8000-%012ld", t);
        snprintf(p[i].trace, sizeof p[i].trace, "00000000-0000-4000-8000-%012ld", k);
        snprintf(p[i].parent, sizeof p[i].parent, "%s", p[i].base);
        snprintf(p[i].name, sizeof p[i].name, i % 2 ? "db-stop" : "db-start");
        snprintf(p[i].ts, sizeof p[i].ts, "2024-01-01T10:%02ld:%02ld.%06ld",
                 (i / 60000000) % 60, (i / 1000000) % 60, i % 1000000);
        snprintf(p[i].json, sizeof p[i].json,
                 "{\"name\": \"%s\", \"base_id\": \"%s\", \"trace_id\": \"%s\", "
                 "\"parent_id\": \"%s\", \"timestamp\": \"%s\", \"info\": {%s\"host\": "
                 "\"bench-host\"}, \"project\": \"nova\", \"service\": \"api\"}",
                 p[i].name, p[i].base, p[i].trace, p[i].parent, p[i].ts,
                 i % 2 ? "" : "\"db\": {\"statement\": \"SELECT 1\", \"params\": {}}, ");
    }
    return p;
}

static osp_store_msg_t *msgs_of(pt_t *p, long n) {
    osp_store_msg_t *m = calloc((size_t)n, sizeof *m);
    for (long i = 0; i < n; i++)
        m[i] = (osp_store_msg_t){.json = p[i].json,
                                 .len = strlen(p[i].json),
                                 .base_id = p[i].base,
                                 .trace_id = p[i].trace,
                                 .name = p[i].name,
                                 .timestamp = p[i].ts};
    return m;
}

int main(int argc, char **argv) {
    const char *url = getenv("OSP_PG_URL");
    long n = 20000, batch = 500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atol(argv[++i]);
        else
            url = argv[i];
    }
    if (!url || n <= 0 || batch <= 0)
        die("usage", "store_pg_raw [URL] [--rows N] [--batch B] (or OSP_PG_URL)");
    pt_t *p = make_points(n);
    osp_store_msg_t *m = msgs_of(p, n);
    osp_store_t *s;
    osp_error_t err;
    if (osp_store_open(url, OSP_STORE_WRITE, &s, &err) != OSP_OK)
        die("open", err.text);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    long nb = (n + batch - 1) / batch;
    osp_store_batch_t **bs = calloc((size_t)nb, sizeof *bs);

    /* store: prepare + commit, timed apart */
    exec_ok(c, "TRUNCATE data", PGRES_COMMAND_OK);
    double prep = 0, commit = 0;
    for (long b = 0; b < nb; b++) {
        long at = b * batch, k = n - at < batch ? n - at : batch;
        bs[b] = osp_store_batch_new();
        double t0 = mono();
        if (osp_store_prepare(s, bs[b], m + at, (size_t)k, &err) != OSP_OK)
            die("prepare", err.text);
        double t1 = mono();
        if (osp_store_commit(s, bs[b], &err) != OSP_OK)
            die("commit", err.text);
        prep += t1 - t0;
        commit += mono() - t1;
    }

    /* copy: the prepared rows, raw */
    exec_ok(c, "TRUNCATE data", PGRES_COMMAND_OK);
    double t0 = mono();
    for (long b = 0; b < nb; b++) {
        exec_ok(c, "BEGIN", PGRES_COMMAND_OK);
        exec_ok(c,
                "COPY data (timestamp, base_id, parent_id, trace_id, project, host, "
                "service, name, data) FROM STDIN",
                PGRES_COPY_IN);
        if (PQputCopyData(c, bs[b]->text.data, (int)bs[b]->text.len) != 1 ||
            PQputCopyEnd(c, NULL) != 1)
            die("copy", PQerrorMessage(c));
        PGresult *r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("copy", PQerrorMessage(c));
        PQclear(r);
        while ((r = PQgetResult(c)))
            PQclear(r);
        exec_ok(c, "COMMIT", PGRES_COMMAND_OK);
    }
    double copy = mono() - t0;

    /* insert: one multi-row INSERT per batch, 9 parameters a row */
    exec_ok(c, "TRUNCATE data", PGRES_COMMAND_OK);
    osp_buf_t sql = OSP_BUF_INIT;
    const char **vals = calloc((size_t)batch * 9, sizeof *vals);
    static const char data[] = "\"{\\\"info\\\": {\\\"host\\\": \\\"bench-host\\\"}}\"";
    t0 = mono();
    for (long b = 0; b < nb; b++) {
        long at = b * batch, k = n - at < batch ? n - at : batch;
        sql.len = 0;
        osp__buf_puts(&sql, "INSERT INTO data (timestamp, base_id, parent_id, trace_id, "
                            "project, host, service, name, data) VALUES ");
        for (long i = 0; i < k; i++) {
            char row[256];
            long q = i * 9;
            snprintf(row, sizeof row, "%s($%ld,$%ld,$%ld,$%ld,$%ld,$%ld,$%ld,$%ld,$%ld)",
                     i ? "," : "", q + 1, q + 2, q + 3, q + 4, q + 5, q + 6, q + 7, q + 8,
                     q + 9);
            osp__buf_puts(&sql, row);
            const pt_t *x = &p[at + i];
            const char *v[9] = {x->ts,        x->base, x->parent, x->trace, "nova",
                                "bench-host", "api",   x->name,   data};
            memcpy(vals + q, v, sizeof v);
        }
        osp__buf_cstr(&sql);
        exec_ok(c, "BEGIN", PGRES_COMMAND_OK);
        PGresult *r = PQexecParams(c, sql.data, (int)(k * 9), NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("insert", PQerrorMessage(c));
        PQclear(r);
        exec_ok(c, "COMMIT", PGRES_COMMAND_OK);
    }
    double insert = mono() - t0;
    exec_ok(c, "TRUNCATE data", PGRES_COMMAND_OK);

    printf("{\"points\": %ld, \"batch\": %ld, \"store_points_per_s\": %.0f, "
           "\"store_prepare_points_per_s\": %.0f, \"store_commit_points_per_s\": %.0f, "
           "\"raw_copy_points_per_s\": %.0f, \"raw_insert_points_per_s\": %.0f}\n",
           n, batch, n / (prep + commit), n / prep, n / commit, n / copy, n / insert);
    for (long b = 0; b < nb; b++)
        osp_store_batch_free(bs[b]);
    free(bs);
    free(vals);
    osp__buf_free(&sql);
    PQfinish(c);
    osp_store_close(s);
    free(m);
    free(p);
    return 0;
}
