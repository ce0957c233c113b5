/* SPDX-License-Identifier: Apache-2.0 */
/* unit.listener - the sidecar's listening sockets and its log escaping: a
 * path that appears only once it accepts, an accept that does not spin when
 * the descriptor table is full, log lines no argument can split, limited
 * lines that say how many were held back. */
#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sidecar/listener.h"
#include "sidecar/log.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/osp-listener-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int connect_to(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void listener__path_appears_listening_with_its_mode(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    int lfd;
    osp_error_t err;
    assert_int_equal(osp_listener_open(path, SOCK_SEQPACKET, 0640, "", 8, &lfd, &err),
                     OSP_OK);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0640);
    int c = connect_to(path);
    assert_true(c >= 0);
    close(c);
    /* the temporary name is gone: only the socket is in the directory */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    assert_int_not_equal(lstat(tmp, &st), 0);
    /* opened again over the stale socket: replaced in one step */
    close(lfd);
    assert_int_equal(osp_listener_open(path, SOCK_SEQPACKET, 0600, "", 8, &lfd, &err),
                     OSP_OK);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    osp_listener_close(lfd, path);
    assert_int_not_equal(lstat(path, &st), 0);
    /* a path that is not a socket is never replaced */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(f >= 0);
    close(f);
    assert_int_not_equal(osp_listener_open(path, SOCK_SEQPACKET, 0600, "", 8, &lfd, &err),
                         OSP_OK);
    assert_non_null(strstr(err.text, "not a socket"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
}

/* A full descriptor table: the waiting connection is still taken (and
 * refused by the caller), so the listener does not stay readable. */
static void listener__full_table_does_not_spin(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/f.sock", dir);
    int lfd;
    osp_error_t err;
    assert_int_equal(osp_listener_open(path, SOCK_SEQPACKET, 0600, "", 8, &lfd, &err),
                     OSP_OK);
    int c = connect_to(path);
    assert_true(c >= 0);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[64], n = 0;
    while (n < 64 && (fill[n] = dup(0)) >= 0)
        n++;
    assert_int_equal(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), -1);
    assert_int_equal(errno, EMFILE); /* what used to leave the listener readable */
    bool no_fds;
    int fd = osp_listener_accept(lfd, &no_fds);
    assert_true(fd >= 0);
    assert_true(no_fds);
    osp_listener_release(fd, no_fds);
    assert_int_equal(osp_listener_accept(lfd, &no_fds), -1); /* nothing waits now */
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    for (int i = 0; i < n; i++)
        close(fill[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* the client sees its connection closed */
    char b;
    assert_int_equal(recv(c, &b, 1, 0), 0);
    close(c);
    osp_listener_close(lfd, path);
}

static void log__escape_control_and_invalid_utf8(void **state) {
    (void)state;
    char out[64];
    const char in[] = "a\nb\r\x1b[1m\xff\xc0\xaf \xc3\xa9 \xe2\x82\xac \xed\xa0\x80";
    osp__log_escape(out, sizeof out, in, sizeof in - 1);
    assert_string_equal(out, "a\\x0ab\\x0d\\x1b[1m\\xff\\xc0\\xaf \xc3\xa9 \xe2\x82\xac "
                             "\\xed\\xa0\\x80");
    /* cut to fit, never inside an escape */
    assert_int_equal(osp__log_escape(out, 6, "ab\ncd", 5), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(osp__log_escape(out, 8, "ab\ncd", 5), 7);
    assert_string_equal(out, "ab\\x0ac");
}

/* Lines written while stderr is a file: what a limiter lets through. */
static void log__limited_lines_say_what_was_held(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/log", dir);
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    int saved = dup(STDERR_FILENO);
    dup2(f, STDERR_FILENO);
    osp__log_set_limit_interval(0.2);
    osp_log_limit_t lim = {0};
    for (int i = 0; i < 5; i++)
        osp__log_limited(&lim, OSP_LL_WARN, "t", "refused %d\nFORGED", i);
    usleep(250 * 1000);
    osp__log_limited(&lim, OSP_LL_WARN, "t", "refused %d", 5);
    osp_log_limit_t burst = {.burst = 3};
    for (int i = 0; i < 5; i++)
        osp__log_limited(&burst, OSP_LL_WARN, "t", "burst %d", i);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[4096] = "";
    ssize_t got = pread(f, text, sizeof text - 1, 0);
    close(f);
    assert_true(got > 0);
    int lines = 0;
    for (char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2 + 3);
    assert_non_null(strstr(text, "refused 0\\x0aFORGED\n"));
    assert_non_null(strstr(text, "refused 5 (and 4 more like it held back)\n"));
    assert_non_null(strstr(text, "burst 2\n"));
    assert_null(strstr(text, "burst 3"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listener__path_appears_listening_with_its_mode),
        cmocka_unit_test(listener__full_table_does_not_spin),
        cmocka_unit_test(log__escape_control_and_invalid_utf8),
        cmocka_unit_test(log__limited_lines_say_what_was_held),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
