/* SPDX-License-Identifier: Apache-2.0 */
/* store.pg_url: the PostgreSQL back end's connection strings, with no
 * server (integration.pg has one): both schemes are taken, libpq's
 * parameters pass through, a URL libpq cannot parse is refused with
 * OSP_EINVAL, an unreachable server is OSP_ESTORE naming the store, and the
 * password (in userinfo or ?password=) is in no error text. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/store.h"

#define PW "Pg-Unit-S3cret"

/* Opens url (as a writer), expecting rc; returns the error text. */
static const char *open_fails(const char *url, int want, osp_error_t *err) {
    osp_store_t *s = NULL;
    int rc = osp_store_open(url, OSP_STORE_WRITE, &s, err);
    assert_int_equal(rc, want);
    assert_null(s);
    assert_null(strstr(err->text, PW));
    return err->text;
}

static void pg__unparsable_url_is_einval_without_password(void **state) {
    (void)state;
    osp_error_t err;
    const char *t = open_fails("postgresql://osp:" PW "@[::1/db", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "not a valid connection string"));
    t = open_fails("postgresql://osp:" PW "@127.0.0.1/db?no_such_param=1", OSP_EINVAL,
                   &err);
    assert_non_null(strstr(t, "postgresql store"));
}

static void pg__unreachable_server_names_the_store_only(void **state) {
    (void)state;
    osp_error_t err;
    /* port 1 on loopback: nothing listens there, refused at once */
    const char *t =
        open_fails("postgresql://osp:" PW "@127.0.0.1:1/traces", OSP_ESTORE, &err);
    assert_non_null(strstr(t, "postgresql://osp@127.0.0.1:1/traces: cannot connect"));
    t = open_fails("postgresql://osp@127.0.0.1:1/traces?password=" PW "&sslmode=disable",
                   OSP_ESTORE, &err);
    assert_non_null(strstr(t, "postgresql://osp@127.0.0.1:1/traces"));
    t = open_fails("postgresql+psycopg2://osp:" PW "@127.0.0.1:1/traces", OSP_ESTORE,
                   &err);
    assert_non_null(strstr(t, "postgresql+psycopg2://osp@127.0.0.1:1/traces"));
}

static void pg__unix_socket_and_bad_parameter_values(void **state) {
    (void)state;
    osp_error_t err;
    const char *t = open_fails("postgresql://osp@:5999/traces?host=/nonexistent-dir",
                               OSP_ESTORE, &err);
    assert_non_null(strstr(t, "?host=/nonexistent-dir"));
    assert_non_null(strstr(t, "/nonexistent-dir/.s.PGSQL.5999"));
    t = open_fails("postgresql://osp:" PW "@127.0.0.1:1/traces?sslmode=bogus", OSP_ESTORE,
                   &err);
    assert_non_null(strstr(t, "sslmode"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pg__unparsable_url_is_einval_without_password),
        cmocka_unit_test(pg__unreachable_server_names_the_store_only),
        cmocka_unit_test(pg__unix_socket_and_bad_parameter_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
