/* SPDX-License-Identifier: Apache-2.0 */
/* unit.fork - after fork() the child has fresh random ids, its own sidecar
 * connection, and does not resend what the parent had buffered. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "receiver.h"

static void fork__child_gets_own_ids_and_connection(void **state) {
    (void)state;
    char *sock = test_path("fork.sock");
    rx_t *rx = rx_start(sock, true);
    osp_config_t *c = osp_config_new();
    osp_config_set_enabled(c, true);
    osp_config_set_sidecar_socket(c, sock);
    assert_int_equal(osp_setup(c, NULL), OSP_OK);
    osp_config_free(c);
    osp_init("k", "fork-base", NULL);
    osp_start("parent", NULL); /* open: this start stays in the batch */
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: continue the same trace in a new point. */
        osp_start("child", NULL);
        osp_stop(NULL); /* depth 1: not flushed yet */
        osp_stop(NULL); /* stops the inherited "parent" point: depth 0, flush */
        osp_flush();
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    osp_start("after", NULL);
    osp_stop(NULL);
    osp_stop(NULL);
    /* parent: parent-start, after-start/stop, parent-stop = 4;
     * child: child-start/stop, parent-stop = 3 (its inherited parent-start
     * belongs to the parent's batch and is not sent twice). */
    assert_true(rx_wait_count(rx, 7, 5000));
    usleep(100000);
    assert_int_equal(rx_count(rx), 7);
    assert_true(rx_connections(rx) >= 2);
    json_t *recs = rx_records(rx);
    size_t parent_starts = 0;
    json_t *ids = json_object();
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *p = json_loads(json_string_value(json_array_get(recs, i)), 0, NULL);
        const char *name = json_string_value(json_object_get(p, "name"));
        parent_starts += strcmp(name, "parent-start") == 0;
        if (strstr(name, "-start"))
            /* every started point has a distinct id across both processes */
            assert_int_equal(
                json_object_set_new(
                    ids, json_string_value(json_object_get(p, "trace_id")), json_true()),
                0);
        json_decref(p);
    }
    assert_int_equal(parent_starts, 1);
    assert_int_equal(json_object_size(ids), 3);
    json_decref(ids);
    json_decref(recs);
    osp_clean();
    osp_teardown();
    rx_stop(rx);
    free(sock);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fork__child_gets_own_ids_and_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
