/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listener - the listening sockets (the hop's and the control socket).
 *
 * The path appears only once the socket accepts: it is bound under a
 * temporary name in the same directory, given its mode and group, put in
 * listening state, then renamed over the path (which also replaces the
 * stale socket of an earlier run in one step). A client that waits for the
 * path to exist and then connects never meets ECONNREFUSED, nor a socket
 * still wider open than listen_mode. If the temporary name would not fit in
 * sun_path, the socket is bound in place (with the old window).
 *
 * A full descriptor table makes accept() fail with EMFILE while the
 * connection stays queued, so the listener stays readable and an epoll loop
 * would spin serving no one. One descriptor is kept in reserve: closing it
 * lets the waiting connection be accepted and refused (libev's and nginx's
 * answer to the same problem).
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errors.h"

static int reserve_fd = -1;

static void take_reserve(void) {
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* listen_group: the socket's group, so that members may connect (0660). */
static int set_group(const char *path, const char *shown, const char *group,
                     osp_error_t *err) {
    struct group gr, *found = NULL;
    char buf[4096];
    if (getgrnam_r(group, &gr, buf, sizeof buf, &found) != 0 || !found)
        return osp__error_set(err, OSP_ECONFIG, shown, 0,
                              "listen_group '%s': no such group", group);
    if (chown(path, (uid_t)-1, gr.gr_gid) != 0)
        return osp__error_set(err, OSP_ECONFIG, shown, 0,
                              "%s: cannot give it group '%s': %s", shown, group,
                              strerror(errno));
    return OSP_OK;
}

int osp_listener_open(const char *path, int type, unsigned mode, const char *group,
                      int backlog, int *out, osp_error_t *err) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char tmp[sizeof a.sun_path];
    struct stat st;
    *out = -1;
    if (strlen(path) >= sizeof a.sun_path)
        return osp__error_set(err, OSP_ECONFIG, path, 0, "%s: longer than %zu bytes",
                              path, sizeof a.sun_path - 1);
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return osp__error_set(err, OSP_ECONFIG, path, 0,
                              "%s exists and is not a socket: refusing to replace it",
                              path);
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    bool in_place = n < 0 || (size_t)n >= sizeof tmp;
    const char *bound = in_place ? path : tmp;
    if (lstat(bound, &st) == 0 && !S_ISSOCK(st.st_mode))
        return osp__error_set(err, OSP_ECONFIG, bound, 0,
                              "%s exists and is not a socket: refusing to replace it",
                              bound);
    unlink(bound); /* a stale socket (of an earlier run, or our temporary) */
    strcpy(a.sun_path, bound);
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return osp__error_set(err, -errno, path, 0, "%s: socket: %s", path,
                              strerror(errno));
    mode_t old = umask(0177); /* no window where the socket is wider open */
    int b = bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    int rc = OSP_OK;
    if (b != 0 || chmod(bound, mode) != 0 || listen(fd, backlog) != 0) {
        rc = osp__error_set(err, -errno, path, 0, "%s: cannot listen: %s", path,
                            strerror(errno));
        goto fail;
    }
    if (group[0] && (rc = set_group(bound, path, group, err)) != OSP_OK)
        goto fail;
    if (!in_place && rename(tmp, path) != 0) {
        rc = osp__error_set(err, -errno, path, 0, "%s: cannot rename %s over it: %s",
                            path, tmp, strerror(errno));
        goto fail;
    }
    take_reserve();
    *out = fd;
    return OSP_OK;
fail:
    if (b == 0)
        unlink(bound);
    close(fd);
    return rc;
}

void osp_listener_close(int fd, const char *path) {
    if (fd < 0)
        return;
    close(fd);
    unlink(path);
}

int osp_listener_accept(int lfd, bool *no_fds) {
    *no_fds = false;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || reserve_fd < 0)
        return fd;
    close(reserve_fd);
    reserve_fd = -1;
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        take_reserve();
        errno = e;
        return -1;
    }
    *no_fds = true;
    return fd;
}

void osp_listener_release(int fd, bool no_fds) {
    if (fd >= 0)
        close(fd);
    if (no_fds)
        take_reserve();
}
