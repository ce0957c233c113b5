/* SPDX-License-Identifier: Apache-2.0 */
/* listener - a Unix socket that appears at its path only once it accepts,
 * and accept() that cannot spin when the descriptor table is full. */
#ifndef OSP_SIDECAR_LISTENER_H
#define OSP_SIDECAR_LISTENER_H

#include <stdbool.h>

#include <osprofiler/osprofiler.h>

/* Bind a listening socket of type (SOCK_SEQPACKET, SOCK_STREAM) at path with
 * mode and group ("": the sidecar's), never replacing a path that is not a
 * socket. *fd is non-blocking and close-on-exec. */
int osp_listener_open(const char *path, int type, unsigned mode, const char *group,
                      int backlog, int *fd, osp_error_t *err);
/* Close it and remove its path. */
void osp_listener_close(int fd, const char *path);
/* accept4(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC). When the descriptor table is
 * full it still takes the first waiting connection, with a descriptor kept
 * in reserve, and sets *no_fds: the caller refuses it and calls
 * osp_listener_release, which closes it and takes the reserve back.
 * Otherwise the listener would stay readable and the loop spin. Returns the
 * fd, or -1 (errno) when nothing waits or on another error. Loop thread. */
int osp_listener_accept(int lfd, bool *no_fds);
void osp_listener_release(int fd, bool no_fds);

#endif
