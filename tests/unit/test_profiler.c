/* SPDX-License-Identifier: Apache-2.0 */
/* unit.profiler - per-thread profiler semantics and payload bytes, through
 * the JSON-lines file notifier. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "receiver.h"

static char *points_path;

static int setup_file(void **state) {
    (void)state;
    static int n;
    char name[64], cs[600];
    snprintf(name, sizeof name, "points-%d.jsonl", n++);
    points_path = test_path(name);
    snprintf(cs, sizeof cs, "file://%s", points_path);
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_trace_sqlalchemy(c, true);
    osp_config_set_connection_string(c, cs);
    osp_config_set_project(c, "proj");
    osp_config_set_service(c, "svc");
    osp_error_t e;
    assert_int_equal(osp_setup(c, &e), OSP_OK);
    osp_config_free(c);
    return 0;
}

static int teardown_file(void **state) {
    (void)state;
    osp_clean();
    osp_teardown();
    free(points_path);
    return 0;
}

static json_t *points(void) {
    osp_flush();
    return test_read_jsonl(points_path);
}

static const char *field(json_t *arr, size_t i, const char *key) {
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static void profiler__init_returns_existing(void **state) {
    (void)state;
    assert_null(osp_get());
    osp_profiler_t *p = osp_init("key", "base-1", "parent-1");
    assert_non_null(p);
    assert_ptr_equal(osp_init("other", "base-2", NULL), p);
    assert_string_equal(osp_profiler_base_id(p), "base-1");
    assert_string_equal(osp_profiler_hmac_key(p), "key");
    /* stack = [base, parent]: id = parent, parent = base */
    assert_string_equal(osp_profiler_id(p), "parent-1");
    assert_string_equal(osp_profiler_parent_id(p), "base-1");
    osp_clean();
    assert_null(osp_get());
    /* Generated base id: a lower-case UUID4; parent defaults to base. */
    p = osp_init(NULL, NULL, NULL);
    regex_t re;
    regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
            REG_EXTENDED | REG_NOSUB);
    assert_int_equal(regexec(&re, osp_profiler_base_id(p), 0, NULL, 0), 0);
    regfree(&re);
    assert_string_equal(osp_profiler_id(p), osp_profiler_base_id(p));
}

static void profiler__payload_bytes_match_python(void **state) {
    (void)state;
    osp_init("SECRET_KEY", "11111111-2222-3333-4444-555555555555", NULL);
    json_t *info = json_loads("{\"db\": {\"statement\": \"SELECT 1\", \"params\": {}}, "
                              "\"unicode\": \"h\\u00e9llo \\u2603\"}",
                              0, NULL);
    assert_int_equal(osp_start("golden-trace", info), OSP_OK);
    json_decref(info);
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), 1);
    char *line = test_read_file(points_path, NULL);
    /* The golden payload of osprofiler_start.body with our ids, time, host. */
    char host[256];
    gethostname(host, sizeof host);
    char expect[2048];
    snprintf(expect, sizeof expect,
             "{\"name\": \"golden-trace-start\", \"base_id\": "
             "\"11111111-2222-3333-4444-555555555555\", \"trace_id\": \"%s\", "
             "\"parent_id\": \"11111111-2222-3333-4444-555555555555\", \"timestamp\": "
             "\"%s\", \"info\": {\"db\": {\"statement\": \"SELECT 1\", \"params\": {}}, "
             "\"unicode\": \"h\\u00e9llo \\u2603\", \"host\": \"%s\"}, \"project\": "
             "\"proj\", \"service\": \"svc\"}\n",
             field(pts, 0, "trace_id"), field(pts, 0, "timestamp"), host);
    assert_string_equal(line, expect);
    regex_t re;
    regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$",
            REG_EXTENDED | REG_NOSUB);
    assert_int_equal(regexec(&re, field(pts, 0, "timestamp"), 0, NULL, 0), 0);
    regfree(&re);
    free(line);
    json_decref(pts);
}

static void profiler__nesting_and_ids(void **state) {
    (void)state;
    osp_profiler_t *p = osp_init("k", "B", "P");
    osp_start("wsgi", NULL);
    char wsgi[64];
    strcpy(wsgi, osp_profiler_id(p));
    assert_string_equal(osp_profiler_parent_id(p), "P");
    osp_start("db", NULL);
    assert_string_equal(osp_profiler_parent_id(p), wsgi);
    assert_int_equal(osp_profiler_depth(p), 2);
    osp_stop(NULL);
    json_t *extra = json_pack("{s:i}", "extra", 1);
    osp_stop(extra);
    json_decref(extra);
    assert_int_equal(osp_profiler_depth(p), 0);
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), 4);
    assert_string_equal(field(pts, 0, "name"), "wsgi-start");
    assert_string_equal(field(pts, 0, "parent_id"), "P");
    assert_string_equal(field(pts, 0, "trace_id"), wsgi);
    assert_string_equal(field(pts, 1, "name"), "db-start");
    assert_string_equal(field(pts, 1, "parent_id"), wsgi);
    assert_string_equal(field(pts, 2, "name"), "db-stop");
    assert_string_equal(field(pts, 2, "trace_id"), field(pts, 1, "trace_id"));
    assert_string_equal(field(pts, 2, "parent_id"), wsgi);
    assert_string_equal(field(pts, 3, "name"), "wsgi-stop");
    assert_string_equal(field(pts, 3, "parent_id"), "P");
    /* caller's info keys first, host last */
    json_t *inf = json_object_get(json_array_get(pts, 3), "info");
    void *it = json_object_iter(inf);
    assert_string_equal(json_object_iter_key(it), "extra");
    assert_string_equal(json_object_iter_key(json_object_iter_next(inf, it)), "host");
    json_decref(pts);
}

static void profiler__caller_host_keeps_its_place(void **state) {
    (void)state;
    osp_init("k", "B", NULL);
    json_t *info = json_pack("{s:s,s:i}", "host", "spoofed", "z", 1);
    osp_start("x", info);
    json_decref(info);
    osp_flush();
    char *line = test_read_file(points_path, NULL);
    char host[256], want[512];
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "\"info\": {\"host\": \"%s\", \"z\": 1}", host);
    assert_non_null(strstr(line, want));
    assert_null(strstr(line, "spoofed"));
    free(line);
}

static void profiler__stop_without_start_is_noop(void **state) {
    (void)state;
    assert_int_equal(osp_stop(NULL), OSP_ENOTRACE); /* no profiler */
    assert_int_equal(osp_start("x", NULL), OSP_ENOTRACE);
    osp_init("k", NULL, NULL);
    assert_int_equal(osp_stop(NULL), OSP_ENOPOINT);
    assert_int_equal(osp_stop(NULL), OSP_ENOPOINT);
    assert_int_equal(osp_start(NULL, NULL), OSP_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(osp_start("x", arr), OSP_EINVAL);
    json_decref(arr);
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), 0);
    json_decref(pts);
}

static void profiler__error_stop_shape(void **state) {
    (void)state;
    osp_init("k", "B", NULL);
    osp_start("rpc", NULL);
    osp_stop_error("ValueError", "boom");
    osp_start("rpc", NULL);
    osp_stop_error("OSError", NULL);
    json_t *pts = points();
    char host[256];
    gethostname(host, sizeof host);
    json_t *want = json_pack("{s:s,s:s,s:s}", "etype", "ValueError", "message", "boom",
                             "host", host);
    assert_true(json_equal(json_object_get(json_array_get(pts, 1), "info"), want));
    json_decref(want);
    assert_true(json_is_null(
        json_object_get(json_object_get(json_array_get(pts, 3), "info"), "message")));
    json_decref(pts);
}

static void profiler__db_helpers(void **state) {
    (void)state;
    osp_init("k", "B", NULL);
    json_t *params = json_pack("{s:i}", "id", 7);
    assert_int_equal(osp_db_start("SELECT :id", params), OSP_OK);
    json_decref(params);
    assert_int_equal(osp_db_stop(), OSP_OK);
    assert_int_equal(osp_db_start("SELECT 2", NULL), OSP_OK);
    assert_int_equal(osp_db_stop_error("OperationalError", "gone", NULL), OSP_OK);
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), 4);
    assert_string_equal(field(pts, 0, "name"), "db-start");
    json_t *db = json_object_get(json_object_get(json_array_get(pts, 0), "info"), "db");
    assert_string_equal(json_string_value(json_object_get(db, "statement")),
                        "SELECT :id");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(db, "params"), "id")), 7);
    json_t *db2 = json_object_get(json_object_get(json_array_get(pts, 2), "info"), "db");
    assert_int_equal(json_object_size(json_object_get(db2, "params")), 0);
    json_t *err = json_object_get(json_array_get(pts, 3), "info");
    assert_string_equal(json_string_value(json_object_get(err, "etype")),
                        "OperationalError");
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "db"),
                                                          "chained_exception")),
                        "None");
    json_decref(pts);
}

static void profiler__db_switched_by_trace_sqlalchemy(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    char cs[600];
    snprintf(cs, sizeof cs, "file://%s", points_path);
    osp_config_set_connection_string(c, cs);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
    assert_false(osp_is_db_trace_enabled());
    osp_init("k", "B", NULL);
    assert_int_equal(osp_db_start("SELECT 1", NULL), OSP_ENOTRACE);
    assert_int_equal(osp_db_stop(), OSP_ENOTRACE);
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), 0);
    json_decref(pts);
}

static int traced_early_returns(int path) {
    OSP_TRACE_SCOPE("scoped", NULL);
    if (path == 0)
        return 0;
    {
        OSP_TRACE_SCOPE_NAMED(inner, "inner", NULL);
        if (path == 1)
            return 1;
        if (path == 2) {
            osp_scope_fail(&inner, "RuntimeError", "bad path");
            return 2;
        }
    }
    return 3;
}

static void profiler__scope_stops_on_every_path(void **state) {
    (void)state;
    osp_profiler_t *p = osp_init("k", "B", NULL);
    osp_start("outer", NULL); /* keep the batch unflushed until the end */
    for (int path = 0; path < 4; path++) {
        assert_int_equal(traced_early_returns(path), path);
        assert_int_equal(osp_profiler_depth(p), 1);
    }
    osp_stop(NULL);
    json_t *pts = points();
    /* outer + 4 scoped pairs + 3 inner pairs */
    assert_int_equal(json_array_size(pts), 2 + 8 + 6);
    size_t starts = 0, stops = 0, errors = 0;
    for (size_t i = 0; i < json_array_size(pts); i++) {
        const char *n = field(pts, i, "name");
        starts += strstr(n, "-start") != NULL;
        stops += strstr(n, "-stop") != NULL;
        errors += json_object_get(json_object_get(json_array_get(pts, i), "info"),
                                  "etype") != NULL;
    }
    assert_int_equal(starts, stops);
    assert_int_equal(errors, 1);
    json_decref(pts);
    /* Without a profiler the scope does nothing and does not stop. */
    osp_clean();
    assert_int_equal(traced_early_returns(1), 1);
}

#define NTHREADS 8
#define NPOINTS  200

static void *thread_body(void *arg) {
    long n = (long)arg;
    char base[64];
    snprintf(base, sizeof base, "thread-%ld", n);
    osp_profiler_t *p = osp_init("k", base, NULL);
    for (int i = 0; i < NPOINTS; i++) {
        osp_start("t", NULL);
        if (strcmp(osp_profiler_base_id(osp_get()), base) != 0)
            return (void *)1;
        osp_start("inner", NULL);
        osp_stop(NULL);
        osp_stop(NULL);
        if (osp_profiler_depth(p) != 0)
            return (void *)1;
    }
    osp_clean();
    return NULL;
}

static void profiler__threads_stay_separate(void **state) {
    (void)state;
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, thread_body, (void *)i);
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    assert_null(osp_get()); /* this thread never had one */
    json_t *pts = points();
    assert_int_equal(json_array_size(pts), NTHREADS * NPOINTS * 4);
    /* Each inner point's parent is a "t" point of the same thread. */
    json_t *t_ids = json_object();
    for (size_t i = 0; i < json_array_size(pts); i++)
        if (strcmp(field(pts, i, "name"), "t-start") == 0)
            json_object_set_new(t_ids, field(pts, i, "trace_id"),
                                json_string(field(pts, i, "base_id")));
    for (size_t i = 0; i < json_array_size(pts); i++) {
        if (strcmp(field(pts, i, "name"), "inner-start") != 0)
            continue;
        json_t *owner = json_object_get(t_ids, field(pts, i, "parent_id"));
        assert_non_null(owner);
        assert_string_equal(json_string_value(owner), field(pts, i, "base_id"));
    }
    json_decref(t_ids);
    json_decref(pts);
}

static void *forgets_clean(void *arg) {
    (void)arg;
    osp_init("k", "forgetful", NULL);
    osp_start("open", NULL); /* neither stopped nor cleaned */
    return NULL;
}

/* A thread that exits with its profiler alive: the start still leaves (exit
 * flush) and LeakSanitizer (the asan run) sees no leaked profiler. */
static void profiler__thread_exit_releases(void **state) {
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, forgets_clean, NULL);
    pthread_join(t, NULL);
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 1);
    assert_string_equal(field(pts, 0, "base_id"), "forgetful");
    json_decref(pts);
    /* Same with no notifier at all. */
    osp_teardown();
    pthread_create(&t, NULL, forgets_clean, NULL);
    pthread_join(t, NULL);
}

static void *attached(void *arg) {
    osp_context_attach(arg);
    osp_start("child", NULL);
    osp_stop(NULL);
    osp_clean();
    return NULL;
}

static void profiler__context_to_thread_and_env(void **state) {
    (void)state;
    osp_context_t ctx;
    assert_int_equal(osp_context_capture(&ctx), OSP_ENOTRACE);
    osp_init("key-x", "B", NULL);
    osp_start("parent", NULL);
    char parent[64];
    strcpy(parent, osp_profiler_id(osp_get()));
    assert_int_equal(osp_context_capture(&ctx), OSP_OK);
    assert_string_equal(ctx.parent_id, parent);
    assert_string_equal(ctx.hmac_key, "key-x");
    pthread_t t;
    pthread_create(&t, NULL, attached, &ctx);
    pthread_join(t, NULL);
    json_t *pts = test_read_jsonl(points_path);
    assert_int_equal(json_array_size(pts), 2); /* the child thread flushed */
    assert_string_equal(field(pts, 0, "base_id"), "B");
    assert_string_equal(field(pts, 0, "parent_id"), parent);
    json_decref(pts);
    /* Process boundary: the environment. */
    assert_int_equal(osp_context_setenv(&ctx), OSP_OK);
    osp_context_t back;
    assert_int_equal(osp_context_from_env(&back), OSP_OK);
    assert_string_equal(back.base_id, "B");
    assert_string_equal(back.parent_id, parent);
    assert_string_equal(back.hmac_key, "key-x");
    /* An id the struct cannot hold is refused, never cut (a cut id would
     * continue another trace), nor replaced by a fresh one. */
    char long_id[OSP_ID_MAX + 1];
    memset(long_id, 'L', OSP_ID_MAX);
    long_id[OSP_ID_MAX] = '\0';
    setenv(OSP_ENV_BASE_ID, long_id, 1);
    assert_int_equal(osp_context_from_env(&back), OSP_ETOOBIG);
    assert_string_equal(back.base_id, "");
    unsetenv(OSP_ENV_BASE_ID);
    assert_int_equal(osp_context_from_env(&back), OSP_ENOTRACE);
    assert_int_equal(osp_context_capture(NULL), OSP_EINVAL);
    assert_null(osp_context_attach(NULL));
    osp_clean();
    assert_non_null(osp_init(NULL, long_id, NULL)); /* kept whole, as in Python */
    assert_string_equal(osp_profiler_base_id(osp_get()), long_id);
    assert_string_equal(osp_profiler_parent_id(osp_get()), long_id);
    assert_int_equal(osp_context_capture(&ctx), OSP_ETOOBIG);
    osp_clean();
}

static void profiler__shorten_id(void **state) {
    (void)state;
    char out[17];
    /* Values printed by Python's get_shorten_id. */
    assert_int_equal(osp_get_shorten_id("4e3e0ec6-2938-40b1-8504-09eb1d4b0dee", out),
                     OSP_OK);
    assert_string_equal(out, "850409eb1d4b0dee");
    osp_get_shorten_id("00000000-0000-4000-8000-00000000000f", out);
    assert_string_equal(out, "800000000000000f");
    /* Spellings Python's uuid.UUID() accepts too. */
    static const char *const spellings[] = {
        "4e3e0ec6293840b1850409eb1d4b0dee", "{4e3e0ec6-2938-40b1-8504-09eb1d4b0dee}",
        "urn:uuid:4e3e0ec6-2938-40b1-8504-09eb1d4b0dee",
        "4E3E0EC62938-40b1-8504-09eb-1d4b0dee"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(osp_get_shorten_id(spellings[i], out), OSP_OK);
        assert_string_equal(out, "850409eb1d4b0dee");
    }
    assert_int_equal(osp_get_shorten_id("not a uuid", out), OSP_OK);
    assert_true(strlen(out) >= 1 && strlen(out) <= 16);
    assert_int_equal(osp_get_shorten_id(NULL, out), OSP_OK);
    assert_int_equal(osp_get_shorten_id("x", NULL), OSP_EINVAL);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_file, teardown_file)
    const struct CMUnitTest tests[] = {
        T(profiler__init_returns_existing),
        T(profiler__payload_bytes_match_python),
        T(profiler__nesting_and_ids),
        T(profiler__caller_host_keeps_its_place),
        T(profiler__stop_without_start_is_noop),
        T(profiler__error_stop_shape),
        T(profiler__db_helpers),
        T(profiler__db_switched_by_trace_sqlalchemy),
        T(profiler__scope_stops_on_every_path),
        T(profiler__threads_stay_separate),
        T(profiler__thread_exit_releases),
        T(profiler__context_to_thread_and_env),
        T(profiler__shorten_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
