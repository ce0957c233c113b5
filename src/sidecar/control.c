/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control - the control socket. Each connection gets one JSON line of
 * counters, sent without waiting (a reader that does not read loses its
 * answer, never the loop's time), then is closed. At most 16 a pass, so a
 * flood of --stats cannot starve the hop.
 */
#include "control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

struct osp_control {
    int fd;
    char path[128];
};

osp_control_t *osp_control_open(const osp_sc_config_t *cfg) {
    osp_control_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    osp_error_t err;
    snprintf(c->path, sizeof c->path, "%s.ctl", cfg->listen_socket);
    if (osp_listener_open(c->path, SOCK_STREAM, cfg->listen_mode, cfg->listen_group, 16,
                          &c->fd, &err) != OSP_OK) {
        OSP_LOG(OSP_LL_WARN, "control", "no control socket (--stats): %s", err.text);
        free(c);
        return NULL;
    }
    return c;
}

int osp_control_fd(const osp_control_t *c) { return c ? c->fd : -1; }

void osp_control_serve(osp_control_t *c, const osp_sc_buffers_t *b, size_t connections,
                       size_t rings) {
    if (!c)
        return;
    for (int k = 0; k < 16; k++) {
        bool no_fds;
        int fd = osp_listener_accept(c->fd, &no_fds);
        if (fd < 0)
            return;
        char out[4096];
        int n = osp_sc_stats_json(out, sizeof out, b, connections, rings);
        ssize_t w = send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        osp_listener_release(fd, no_fds);
    }
}

void osp_control_close(osp_control_t *c) {
    if (!c)
        return;
    osp_listener_close(c->fd, c->path);
    free(c);
}
