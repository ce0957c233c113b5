/* SPDX-License-Identifier: Apache-2.0 */
/* store.mysql_url: the MariaDB back end's connection strings, with no
 * server (integration.mysql has one): the three schemes are taken, a URL
 * that is not SQLAlchemy's form or names a parameter we do not handle is
 * refused with OSP_EINVAL saying which, an unreachable server is OSP_ESTORE
 * naming the store, and the password (percent-encoded or not) is in no
 * error text. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/store.h"

#define PW "My-Unit-S3cret"

/* Opens url (as a writer), expecting rc; returns the error text. */
static const char *open_fails(const char *url, int want, osp_error_t *err) {
    osp_store_t *s = NULL;
    int rc = osp_store_open(url, OSP_STORE_WRITE, &s, err);
    assert_int_equal(rc, want);
    assert_null(s);
    assert_null(strstr(err->text, PW));
    assert_null(strstr(err->text, "S3cret"));
    return err->text;
}

static void my__bad_urls_are_einval_saying_why(void **state) {
    (void)state;
    osp_error_t err;
    const char *t =
        open_fails("mysql+pymysql://osp:" PW "@127.0.0.1:1", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "no /DB"));
    t = open_fails("mysql+pymysql://osp:" PW "@127.0.0.1:1/", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "no DB"));
    t = open_fails("mysql://osp:" PW "%zz@127.0.0.1/db", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "%-escape in USER:PASSWORD"));
    t = open_fails("mysql://osp:" PW "@127.0.0.1:99999/db", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "PORT"));
    t = open_fails("mysql://osp:" PW "@[::1/db", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "unclosed ["));
    t = open_fails("mysql+mysqldb://osp:" PW "@127.0.0.1/db?ssl_ca=/x", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "parameter ssl_ca is not supported"));
    t = open_fails("mysql://osp:" PW "@127.0.0.1/db?charset=latin1", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "only utf8mb4"));
    t = open_fails("mysql://osp:" PW "@127.0.0.1/db?connect_timeout=0", OSP_EINVAL, &err);
    assert_non_null(strstr(t, "connect_timeout"));
}

static void my__unreachable_server_names_the_store_only(void **state) {
    (void)state;
    osp_error_t err;
    /* port 1 on loopback: nothing listens there, refused at once */
    const char *t =
        open_fails("mysql+pymysql://osp:" PW "@127.0.0.1:1/traces?charset=utf8mb4",
                   OSP_ESTORE, &err);
    assert_non_null(strstr(t, "mysql+pymysql://osp@127.0.0.1:1/traces: cannot connect"));
    t = open_fails("mysql://osp:My%2DUnit%2DS3cret@[::1]:1/traces", OSP_ESTORE, &err);
    assert_non_null(strstr(t, "mysql://osp@[::1]:1/traces: cannot connect"));
    t = open_fails("mysql+mysqldb://osp:" PW "@127.0.0.1:1/traces", OSP_ESTORE, &err);
    assert_non_null(strstr(t, "mysql+mysqldb://osp@127.0.0.1:1/traces"));
}

static void my__unix_socket(void **state) {
    (void)state;
    osp_error_t err;
    const char *t = open_fails("mysql+pymysql://osp:" PW
                               "@localhost/traces?unix_socket=%2Fnonexistent-dir%2Fsock",
                               OSP_ESTORE, &err);
    assert_non_null(strstr(
        t, "mysql+pymysql://osp@localhost/traces?unix_socket=/nonexistent-dir/sock"));
    assert_non_null(strstr(t, "/nonexistent-dir/sock"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(my__bad_urls_are_einval_saying_why),
        cmocka_unit_test(my__unreachable_server_names_the_store_only),
        cmocka_unit_test(my__unix_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
