/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_mysql_raw - the MariaDB store's writes beside raw libmariadb writing
 * the same rows.
 *
 *   store_mysql_raw URL [--rows N] [--batch B]   (URL from the environment
 *                                                 OSP_MYSQL_URL when absent;
 *                                                 mysql+pymysql://USER:PASSWORD
 *                                                 @HOST:PORT/DB only)
 *
 * The points of store_pg_raw (a "db" start and a stop, a new trace every
 * 2000), B a transaction. An untimed store run to warm the server up, then
 * three timed runs, each into an emptied `data` table (made by opening the
 * store):
 *   store    osp_store_prepare + osp_store_commit (prepare and commit also
 *            timed apart: the sidecar prepares off the committing thread)
 *   insert   START TRANSACTION; the multi-row INSERTs the store prepared
 *            (made before timing) sent raw; COMMIT: the floor for this form
 *   single   START TRANSACTION; a prepared one-row INSERT executed per row
 *            with bound parameters; COMMIT (the alternative to multi-row)
 * Prints one JSON object with points/s of each.
 */
#include <mysql.h>
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
    fprintf(stderr, "store_mysql_raw: %s: %s\n", what, why);
    exit(1);
}

static void exec_ok(MYSQL *c, const char *sql) {
    if (mysql_query(c, sql))
        die(sql, mysql_error(c));
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

/* The statements of a prepared batch (store_mysql.c: a row with len
 * starts one), sent raw. */
static void insert_batch(MYSQL *c, const osp_store_batch_t *b) {
    exec_ok(c, "START TRANSACTION");
    for (size_t i = 0; i < b->nrows; i++)
        if (b->rows[i].points && b->rows[i].len &&
            mysql_real_query(c, b->text.data + b->rows[i].text, b->rows[i].len))
            die("insert", mysql_error(c));
    exec_ok(c, "COMMIT");
}

static void single_rows(MYSQL *c, const pt_t *p, long n, long batch) {
    static const char data[] = "\"{\\\"info\\\": {\\\"host\\\": \\\"bench-host\\\"}}\"";
    MYSQL_STMT *st = mysql_stmt_init(c);
    static const char sql[] =
        "INSERT INTO data (timestamp, base_id, parent_id, trace_id, "
        "project, host, service, name, data) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
        die("prepare", mysql_error(c));
    for (long i = 0; i < n; i++) {
        if (i % batch == 0)
            exec_ok(c, "START TRANSACTION");
        const char *v[9] = {p[i].ts,      p[i].base, p[i].parent, p[i].trace, "nova",
                            "bench-host", "api",     p[i].name,   data};
        MYSQL_BIND bind[9];
        unsigned long len[9];
        memset(bind, 0, sizeof bind);
        for (int k = 0; k < 9; k++) {
            len[k] = strlen(v[k]);
            bind[k].buffer_type = MYSQL_TYPE_STRING;
            bind[k].buffer = (void *)v[k];
            bind[k].buffer_length = len[k];
            bind[k].length = &len[k];
        }
        if (mysql_stmt_bind_param(st, bind) || mysql_stmt_execute(st))
            die("execute", mysql_stmt_error(st));
        if (i % batch == batch - 1 || i == n - 1)
            exec_ok(c, "COMMIT");
    }
    mysql_stmt_close(st);
}

int main(int argc, char **argv) {
    const char *url = getenv("OSP_MYSQL_URL");
    long n = 20000, batch = 500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atol(argv[++i]);
        else
            url = argv[i];
    }
    char user[64], pass[128], host[64], db[64];
    unsigned port;
    if (!url || n <= 0 || batch <= 0 ||
        sscanf(url, "mysql+pymysql://%63[^:]:%127[^@]@%63[^:]:%u/%63[^?]", user, pass,
               host, &port, db) != 5)
        die("usage", "store_mysql_raw [URL] [--rows N] [--batch B] (or OSP_MYSQL_URL)");
    pt_t *p = make_points(n);
    osp_store_msg_t *m = msgs_of(p, n);
    osp_store_t *s;
    osp_error_t err;
    if (osp_store_open(url, OSP_STORE_WRITE, &s, &err) != OSP_OK)
        die("open", err.text);
    MYSQL *c = mysql_init(NULL);
    unsigned proto = MYSQL_PROTOCOL_TCP;
    mysql_optionsv(c, MYSQL_OPT_PROTOCOL, &proto);
    mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(c, host, user, pass, db, port, NULL, 0))
        die("connect", mysql_error(c));
    long nb = (n + batch - 1) / batch;
    osp_store_batch_t **bs = calloc((size_t)nb, sizeof *bs);

    /* twice, the first untimed: the runs after it find the server warm */
    double prep = 0, commit = 0;
    for (int run = 0; run < 2; run++)
        for (long b = 0; b < nb; b++) {
            if (b == 0) {
                exec_ok(c, "TRUNCATE data");
                prep = commit = 0;
            }
            long at = b * batch, k = n - at < batch ? n - at : batch;
            if (!bs[b])
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

    exec_ok(c, "TRUNCATE data");
    double t0 = mono();
    for (long b = 0; b < nb; b++)
        insert_batch(c, bs[b]);
    double insert = mono() - t0;

    exec_ok(c, "TRUNCATE data");
    t0 = mono();
    single_rows(c, p, n, batch);
    double single = mono() - t0;
    exec_ok(c, "TRUNCATE data");

    printf("{\"points\": %ld, \"batch\": %ld, \"store_points_per_s\": %.0f, "
           "\"store_prepare_points_per_s\": %.0f, \"store_commit_points_per_s\": %.0f, "
           "\"raw_insert_points_per_s\": %.0f, \"raw_single_row_points_per_s\": %.0f}\n",
           n, batch, n / (prep + commit), n / prep, n / commit, n / insert, n / single);
    for (long b = 0; b < nb; b++)
        osp_store_batch_free(bs[b]);
    free(bs);
    mysql_close(c);
    osp_store_close(s);
    free(m);
    free(p);
    return 0;
}
