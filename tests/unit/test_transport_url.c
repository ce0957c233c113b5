/* SPDX-License-Identifier: Apache-2.0 */
/* unit.transport_url - transport_url parsed as oslo.messaging's
 * TransportURL.parse (docs/oslo-messaging.md, "transport_url"), and the
 * notification body the sidecar builds from a point. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/transport_url.h"

static void url__hosts_credentials_vhost_query(void **state) {
    (void)state;
    osp_transport_url_t u;
    osp_error_t e;
    assert_int_equal(
        osp__transport_url_parse("rabbit://us%40r:p%2Fw:d@h1:5673,"
                                 "u2:x@[::1]:5674,h3/my%2Fvhost?"
                                 "amqp_durable_queues=true&ssl=1&topics=a&topics=b",
                                 &u, &e),
        OSP_OK);
    assert_string_equal(u.driver, "rabbit");
    assert_int_equal(u.nhosts, 3);
    assert_string_equal(u.hosts[0].user, "us@r");
    assert_string_equal(u.hosts[0].password, "p/w:d"); /* split on the first ':' */
    assert_string_equal(u.hosts[0].host, "h1");
    assert_int_equal(u.hosts[0].port, 5673);
    assert_string_equal(u.hosts[1].host, "::1");
    assert_int_equal(u.hosts[1].port, 5674);
    assert_string_equal(u.hosts[2].host, "h3");
    assert_int_equal(u.hosts[2].port, 5672); /* default, even with ssl=1 */
    assert_string_equal(u.vhost, "my/vhost");
    assert_string_equal(osp__transport_url_query(&u, "amqp_durable_queues"), "true");
    assert_string_equal(osp__transport_url_query(&u, "topics"), "a,b"); /* joined */
    assert_null(osp__transport_url_query(&u, "nope"));
    char d[200];
    osp__transport_url_describe(&u, d, sizeof d);
    assert_string_equal(d, "h1:5673,::1:5674,h3:5672");
    assert_null(strstr(d, "p/w")); /* never the password */
    osp__transport_url_free(&u);
}

static void url__defaults(void **state) {
    (void)state;
    osp_transport_url_t u;
    /* rabbit:// -> amqp://guest:guest@localhost:5672/ */
    assert_int_equal(osp__transport_url_parse("rabbit://", &u, NULL), OSP_OK);
    assert_int_equal(u.nhosts, 1);
    assert_string_equal(u.hosts[0].user, "guest");
    assert_string_equal(u.hosts[0].password, "guest");
    assert_string_equal(u.hosts[0].host, "localhost");
    assert_string_equal(u.vhost, "");
    osp__transport_url_free(&u);
    assert_int_equal(osp__transport_url_parse("rabbit://h//", &u, NULL), OSP_OK);
    assert_string_equal(u.vhost, "/");
    osp__transport_url_free(&u);
}

static void url__errors_hide_secrets(void **state) {
    (void)state;
    osp_transport_url_t u;
    osp_error_t e;
    static const char *const bad[] = {"no-scheme", "rabbit://u:hunter2@h:99999/",
                                      "rabbit://u:hunter2@h:abc/",
                                      "rabbit://u:hunter2@[::1/", "://h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(osp__transport_url_parse(bad[i], &u, &e), OSP_ECONFIG);
        assert_true(e.text[0] != '\0');
        assert_null(strstr(e.text, "hunter2"));
    }
    assert_int_equal(osp__transport_url_parse(NULL, &u, NULL), OSP_ECONFIG);
}

/* argv's copy of a URL: the userinfo masked, its length and hosts kept. */
static void url__mask_userinfo(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
        bool masked;
    } cases[] = {
        {"rabbit://u:pw@h1:5672,u:pw@h2/vh", "rabbit://*****************@h2/vh", true},
        {"redis://:pw@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0", true},
        {"rabbit://h1,h2/", "rabbit://h1,h2/", false},
        {"sqlite:////var/lib/x@y.db", "sqlite:////var/lib/x@y.db", false},
        {"no-scheme@h", "no-scheme@h", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        strcpy(buf, cases[i].in);
        assert_int_equal(osp__url_mask_userinfo(buf), cases[i].masked);
        assert_string_equal(buf, cases[i].out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url__hosts_credentials_vhost_query),
        cmocka_unit_test(url__defaults),
        cmocka_unit_test(url__errors_hide_secrets),
        cmocka_unit_test(url__mask_userinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
