/* SPDX-License-Identifier: Apache-2.0 */
/* unit.config - [profiler] options from oslo-style .conf text: defaults,
 * parsing as oslo.config does, all-or-nothing errors with file and line, and
 * no secret in any error text. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <osprofiler/osprofiler.h>

#include "receiver.h"

static void config__defaults_are_osprofilers(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    assert_false(osp_config_enabled(c));
    assert_false(osp_config_trace_sqlalchemy(c));
    assert_false(osp_config_filter_error_trace(c));
    assert_int_equal(osp_config_hmac_key_count(c), 1);
    assert_true(osp_config_uses_default_key(c));
    assert_string_equal(osp_config_connection_string(c), "messaging://");
    osp_config_free(c);
    osp_config_free(NULL);
}

static void config__reads_profiler_section(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    osp_error_t e;
    const char *text = "[DEFAULT]\nhost = ctl-1\n"
                       "[other]\nenabled = nonsense-here-is-ignored\n"
                       "[profiler]\n"
                       "enabled = True\n"
                       "trace_sqlalchemy: yes\n"
                       "filter_error_trace = 1\n"
                       "hmac_keys = ' k1 , ,k2,, '\n"
                       "connection_string = redis\n";
    assert_int_equal(osp_config_load_string(c, text, "nova.conf", &e), OSP_OK);
    assert_true(osp_config_enabled(c));
    assert_true(osp_config_trace_sqlalchemy(c));
    assert_true(osp_config_filter_error_trace(c));
    assert_int_equal(osp_config_hmac_key_count(c), 2);
    assert_false(osp_config_uses_default_key(c));
    /* osprofiler appends :// to a bare driver name */
    assert_string_equal(osp_config_connection_string(c), "redis://");
    /* The deprecated name still works. */
    assert_int_equal(
        osp_config_load_string(c, "[profiler]\nprofiler_enabled = off\n", NULL, &e),
        OSP_OK);
    assert_false(osp_config_enabled(c));
    osp_config_free(c);
}

static void expect_error(const char *text, int line, const char *needle) {
    osp_config_t *c = osp_config_new();
    osp_config_set_hmac_keys(c, "before");
    osp_error_t e;
    memset(&e, 0, sizeof e);
    assert_int_equal(osp_config_load_string(c, text, "svc.conf", &e), OSP_ECONFIG);
    assert_int_equal(e.line, line);
    assert_string_equal(e.source, "svc.conf");
    assert_non_null(strstr(e.text, needle));
    char where[32];
    snprintf(where, sizeof where, "svc.conf:%d:", line);
    assert_non_null(strstr(e.text, where));
    /* All or nothing: nothing of the broken file was applied. */
    assert_false(osp_config_enabled(c));
    assert_int_equal(osp_config_hmac_key_count(c), 1);
    assert_false(osp_config_uses_default_key(c));
    osp_config_free(c);
}

static void config__broken_files_apply_nothing(void **state) {
    (void)state;
    expect_error(
        "[profiler]\nenabled = true\nhmac_keys = topsecret\ntrace_sqlalchemy = maybe\n",
        4, "not a boolean");
    expect_error("[profiler]\nenabled = true\nthis line has no equals sign\n", 3,
                 "No ':' or '=' found");
    expect_error("[profiler]\nenabled = true\n[unterminated\n", 3, "must end with ]");
    expect_error("enabled = true\n[profiler]\n", 2, "Section must be started");
    expect_error("[profiler]\n  indented = first\n", 2, "Unexpected continuation");
    /* A bad $reference is an error of the line that holds it. */
    expect_error("[profiler]\nenabled = true\nhmac_keys = a$nosuch\n", 3,
                 "$reference to an option neither");
    expect_error("[profiler]\nconnection_string =\n", 2, "empty value");
}

static void config__errors_never_show_keys(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    osp_error_t e;
    const char *text =
        "[profiler]\nhmac_keys = hunter2-secret\nenabled = hunter2-secret\n";
    assert_int_equal(osp_config_load_string(c, text, "x.conf", &e), OSP_ECONFIG);
    /* The bad value of 'enabled' is quoted, but that is not a key option; the
     * hmac_keys value must not appear through any other path. */
    const char *text2 = "[profiler]\nhmac_keys = hunter2-secret\nbroken line\n";
    assert_int_equal(osp_config_load_string(c, text2, "x.conf", &e), OSP_ECONFIG);
    assert_null(strstr(e.text, "hunter2"));
    osp_config_free(c);
}

/* oslo.config has no line limit, and every stock OpenStack .conf carries a
 * commented-out default_log_levels line of ~600 bytes. */
static void config__long_lines(void **state) {
    (void)state;
    size_t big = 100000;
    char *longval = malloc(big + 1), *text = malloc(2 * big + 256);
    assert_non_null(longval);
    assert_non_null(text);
    memset(longval, 'k', big);
    longval[big] = '\0';
    snprintf(text, 2 * big + 256,
             "[DEFAULT]\n#default_log_levels = %s\n[profiler]\n"
             "hmac_keys = %s\nenabled = true\n",
             longval, longval);
    osp_config_t *c = osp_config_new();
    osp_error_t e;
    assert_int_equal(osp_config_load_string(c, text, "a.conf", &e), OSP_OK);
    assert_true(osp_config_enabled(c));
    assert_int_equal(osp_config_hmac_key_count(c), 1);
    assert_false(osp_config_uses_default_key(c));
    osp_config_free(c);
    free(longval);
    free(text);
}

static void config__file_errors(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    osp_error_t e;
    assert_int_equal(osp_config_load_file(c, "/nonexistent/nova.conf", &e),
                     OSP_ECONFIGFILE);
    assert_non_null(strstr(e.text, "/nonexistent/nova.conf"));
    assert_int_equal(osp_config_load_file(c, NULL, &e), OSP_EINVAL);
    assert_int_equal(osp_config_load_file(NULL, "x", NULL), OSP_EINVAL);
    char *path = test_path("ok.conf");
    FILE *fp = fopen(path, "w");
    fputs("[profiler]\nenabled = true\nhmac_keys = a,b,c\n", fp);
    fclose(fp);
    assert_int_equal(osp_config_load_file(c, path, &e), OSP_OK);
    assert_int_equal(osp_config_hmac_key_count(c), 3);
    /* An empty file is valid and changes nothing. */
    assert_int_equal(osp_config_load_string(c, "", "empty", &e), OSP_OK);
    assert_true(osp_config_enabled(c));
    free(path);
    osp_config_free(c);
}

static void config__setters_validate(void **state) {
    (void)state;
    osp_config_t *c = osp_config_new();
    assert_int_equal(osp_config_set_connection_string(c, ""), OSP_EINVAL);
    assert_int_equal(osp_config_set_connection_string(c, NULL), OSP_EINVAL);
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(osp_config_set_sidecar_socket(c, longpath), OSP_ETOOBIG);
    assert_int_equal(osp_config_set_thread_buffer(c, 10), OSP_EINVAL);
    assert_int_equal(osp_config_set_buffer_limit(c, 10), OSP_EINVAL);
    assert_int_equal(osp_config_set_buffer_limit(c, 1 << 20), OSP_OK);
    assert_int_equal(osp_config_set_hmac_keys(c, " , "), OSP_OK);
    assert_int_equal(osp_config_hmac_key_count(c), 0);
    osp_config_free(c);
}

static void config__error_names(void **state) {
    (void)state;
    assert_string_equal(osp_err_name(OSP_ENOKEYMATCH), "OSP_ENOKEYMATCH");
    assert_string_equal(osp_err_name(-2), "ENOENT");
    assert_non_null(osp_strerror(12345));
    assert_non_null(osp_strerror(-999999));
    assert_string_equal(osp_strerror(OSP_OK), "success");
    assert_int_equal(osp_version() >> 16, OSP_VERSION_MAJOR);
    assert_string_equal(osp_version_string(), OSP_VERSION_STRING);
}

/* Every public entry point survives NULL arguments. */
static void config__null_arguments(void **state) {
    (void)state;
    osp_config_set_enabled(NULL, true);
    osp_config_set_trace_sqlalchemy(NULL, true);
    osp_config_set_filter_error_trace(NULL, true);
    assert_int_equal(osp_config_set_hmac_keys(NULL, "k"), OSP_EINVAL);
    assert_int_equal(osp_config_set_connection_string(NULL, "x://"), OSP_EINVAL);
    assert_int_equal(osp_config_set_sidecar_socket(NULL, "/x"), OSP_EINVAL);
    assert_int_equal(osp_config_set_project(NULL, "p"), OSP_EINVAL);
    assert_int_equal(osp_config_set_service(NULL, "s"), OSP_EINVAL);
    assert_int_equal(osp_config_set_host(NULL, "h"), OSP_EINVAL);
    assert_int_equal(osp_config_set_thread_buffer(NULL, 1 << 20), OSP_EINVAL);
    assert_false(osp_config_enabled(NULL));
    assert_false(osp_config_trace_sqlalchemy(NULL));
    assert_false(osp_config_filter_error_trace(NULL));
    assert_int_equal(osp_config_hmac_key_count(NULL), 0);
    assert_false(osp_config_uses_default_key(NULL));
    assert_null(osp_config_connection_string(NULL));
    assert_int_equal(osp_config_load_string(NULL, "x", NULL, NULL), OSP_EINVAL);
    osp_config_t *c = osp_config_new();
    assert_int_equal(osp_config_load_string(c, NULL, NULL, NULL), OSP_EINVAL);
    assert_int_equal(osp_config_set_hmac_keys(c, NULL), OSP_OK); /* no keys */
    assert_int_equal(osp_config_hmac_key_count(c), 0);
    assert_int_equal(osp_config_set_project(c, NULL), OSP_OK); /* JSON null */
    osp_config_free(c);
    osp_get_stats(NULL);
    assert_null(osp_profiler_base_id(NULL));
    assert_null(osp_profiler_id(NULL));
    assert_null(osp_profiler_parent_id(NULL));
    assert_null(osp_profiler_hmac_key(NULL));
    assert_int_equal(osp_profiler_depth(NULL), 0);
    assert_int_equal(osp_signed_pack(NULL, 0, "k", NULL, NULL), OSP_EINVAL);
    assert_int_equal(osp_signed_unpack(NULL, NULL, NULL, 0, NULL), OSP_EINVAL);
    assert_int_equal(osp_web_headers(NULL, NULL), OSP_EINVAL);
    assert_int_equal(osp_web_begin(NULL, NULL, 0), OSP_EINVAL);
    osp_web_end(NULL, NULL);
    assert_int_equal(osp_context_setenv(NULL), OSP_EINVAL);
    assert_int_equal(osp_context_from_env(NULL), OSP_EINVAL);
    assert_int_equal(osp_setup(NULL, NULL), OSP_EINVAL);
    osp_free(NULL);
    osp_teardown();
}

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* --config-file A --config-file B --config-dir D: later ones win, a
 * directory is its *.conf files in name order, $references see them all. */
static void config__several_files_and_a_directory(void **state) {
    (void)state;
    char *a = test_path("svc.conf"), *d = test_path("svc.conf.d");
    char *d1 = test_path("svc.conf.d/10-on.conf"),
         *d2 = test_path("svc.conf.d/20-keys.conf");
    char *skip = test_path("svc.conf.d/30-skipped.txt");
    mkdir(d, 0700);
    write_text(a, "[DEFAULT]\nhost = api-1\n[profiler]\nenabled = false\n"
                  "hmac_keys = old\n");
    write_text(d1, "[Profiler]\nprofiler_enabled = yes\n");
    write_text(d2, "[profiler]\nhmac_keys = ${host}-k1, k2\n");
    write_text(skip, "[profiler]\nenabled = maybe\n");
    const char *paths[] = {a, d};
    osp_config_t *c = osp_config_new();
    osp_error_t e;
    assert_int_equal(osp_config_load_files(c, paths, 2, &e), OSP_OK);
    assert_true(osp_config_enabled(c));
    assert_int_equal(osp_config_hmac_key_count(c), 2);
    assert_int_equal(osp_config_load_files(c, paths, 1, &e), OSP_OK); /* the file alone */
    assert_false(osp_config_enabled(c));
    assert_int_equal(osp_config_hmac_key_count(c), 1);
    /* An error in the directory names its file and line; nothing applies. */
    write_text(d2, "[profiler]\nenabled = maybe\n");
    osp_config_set_enabled(c, true);
    assert_int_equal(osp_config_load_files(c, paths, 2, &e), OSP_ECONFIG);
    assert_non_null(strstr(e.text, "20-keys.conf:2:"));
    assert_true(osp_config_enabled(c));
    const char *missing[] = {a, "/nonexistent.conf.d"};
    assert_int_equal(osp_config_load_files(c, missing, 2, &e), OSP_ECONFIGFILE);
    assert_int_equal(osp_config_load_files(c, NULL, 1, &e), OSP_EINVAL);
    osp_config_free(c);
    free(a), free(d), free(d1), free(d2), free(skip);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config__defaults_are_osprofilers),
        cmocka_unit_test(config__reads_profiler_section),
        cmocka_unit_test(config__broken_files_apply_nothing),
        cmocka_unit_test(config__errors_never_show_keys),
        cmocka_unit_test(config__long_lines),
        cmocka_unit_test(config__file_errors),
        cmocka_unit_test(config__setters_validate),
        cmocka_unit_test(config__error_names),
        cmocka_unit_test(config__null_arguments),
        cmocka_unit_test(config__several_files_and_a_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
