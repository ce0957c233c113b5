/* SPDX-License-Identifier: Apache-2.0 */
/*
 * setup - osp_setup/osp_teardown: installs a copy of the configuration as
 * the process-wide notifier (settings.c holds what the lower modules read),
 * and serialises once what every point repeats (the host as JSON, the info
 * of a point without one).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/errors.h"
#include "../common/pyjson.h"
#include "internal.h"

static struct {
    bool is_setup;
    osp_config_t cfg;
    char host[256];
} S;

const char *osp__host(void) {
    if (!S.host[0] && gethostname(S.host, sizeof S.host - 1) != 0)
        strcpy(S.host, "localhost");
    return S.host;
}

const char *const *osp__hmac_keys(size_t *count) {
    *count = S.cfg.nkeys;
    return (const char *const *)S.cfg.hmac_keys;
}
bool osp__db_enabled(void) { return S.cfg.enabled && S.cfg.trace_sqlalchemy; }
bool osp_is_trace_enabled(void) { return S.is_setup && S.cfg.enabled; }
bool osp_is_db_trace_enabled(void) { return S.is_setup && osp__db_enabled(); }

/* Serialise once what every point repeats. */
static bool build_fragments(osp_settings_t *st) {
    osp__buf_free(&st->host_json);
    osp__buf_free(&st->info_host);
    osp__pyjson_string(&st->host_json, S.host, strlen(S.host));
    osp__buf_puts(&st->info_host, "{\"host\": ");
    osp__buf_append(&st->info_host, st->host_json.data, st->host_json.len);
    osp__buf_putc(&st->info_host, '}');
    return !st->host_json.failed && !st->info_host.failed;
}

static int open_file(const char *cs, osp_error_t *err) {
    const char *path = cs + 7;
    if (path[0] != '/')
        return osp__error_set(err, OSP_ECONFIG, "connection_string", 0,
                              "file:// needs an absolute path (file:///var/log/x.jsonl)");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return osp__error_set(err, OSP_ECONFIG, path, 0, "%s: cannot open: %s", path,
                              strerror(errno));
    osp__settings.file_fd = fd;
    osp__settings.kind = OSP_NOTIFIER_FILE;
    return OSP_OK;
}

static int open_sidecar(const char *cs, osp_error_t *err) {
    if (strncmp(cs, "messaging://", 12) != 0) {
        /* redis://, mongodb://, ... are stores the sidecar serves; a C
         * service always hands its points to the sidecar. */
        const char *colon = strstr(cs, "://");
        osp__log(OSP_LOG_INFO,
                 "connection_string scheme of '%.*s' is served by "
                 "osprofiler-sidecar",
                 colon ? (int)(colon - cs) : (int)strlen(cs), cs);
    }
    const char *path = S.cfg.sidecar_socket_set ? S.cfg.sidecar_socket : NULL;
    if (!path)
        path = getenv(OSP_ENV_SIDECAR);
    if (!path || !*path)
        path = OSP_DEFAULT_SIDECAR_SOCKET;
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return osp__error_set(err, OSP_ECONFIG, "sidecar_socket", 0,
                              "sidecar socket path longer than %zu bytes",
                              sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    const char *publisher = S.cfg.host ? S.cfg.host : S.host;
    int rc = osp__link_open(path, publisher, strlen(publisher));
    if (rc)
        return osp__error_set(err, rc, "socket", 0, "socket: %s", strerror(-rc));
    osp__settings.kind = OSP_NOTIFIER_SIDECAR;
    if (!osp__link_connect())
        osp__log(OSP_LOG_WARN,
                 "osprofiler-sidecar not reachable at %s; trace points wait in each "
                 "thread's buffer (then are dropped and counted) until it is",
                 path);
    return OSP_OK;
}

int osp_setup(const osp_config_t *cfg, osp_error_t *err) {
    if (!cfg)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL config");
    osp__emit_init();
    osp_teardown();
    int rc = osp__config_copy(&S.cfg, cfg);
    if (rc)
        return osp__error_set(err, rc, "", 0, "out of memory");
    osp__host();
    osp_settings_t *st = &osp__settings;
    st->project = S.cfg.project ? S.cfg.project : getenv(OSP_ENV_PROJECT);
    st->service = S.cfg.service ? S.cfg.service : getenv(OSP_ENV_SERVICE);
    st->project_len = st->project ? strlen(st->project) : 0;
    st->service_len = st->service ? strlen(st->service) : 0;
    st->thread_buffer = S.cfg.thread_buffer;
    st->buffer_limit = S.cfg.buffer_limit;
    st->ring_size = S.cfg.ring_size;
    st->kind = OSP_NOTIFIER_NONE;
    if (!build_fragments(st)) {
        osp__config_clear(&S.cfg);
        return osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory");
    }
    osp__settings_changed();
    osp__drop_log_reset();
    if (S.cfg.enabled) {
        const char *cs =
            S.cfg.connection_string ? S.cfg.connection_string : "messaging://";
        rc = strncmp(cs, "file://", 7) == 0 ? open_file(cs, err) : open_sidecar(cs, err);
        if (rc) {
            osp__config_clear(&S.cfg);
            st->kind = OSP_NOTIFIER_NONE;
            return rc;
        }
        if (osp_config_uses_default_key(&S.cfg))
            osp__log(OSP_LOG_WARN,
                     "[profiler] hmac_keys contains the well-known default "
                     "SECRET_KEY: anyone can trigger tracing; set a private key");
    }
    S.is_setup = true;
    return OSP_OK;
}

void osp_teardown(void) {
    if (!S.is_setup)
        return;
    osp__emit_teardown(); /* the calling thread's points, its ring */
    osp__link_close();
    if (osp__settings.file_fd >= 0)
        close(osp__settings.file_fd);
    osp__settings.file_fd = -1;
    osp__settings.kind = OSP_NOTIFIER_NONE;
    osp__settings.project = osp__settings.service = NULL;
    osp__buf_free(&osp__settings.host_json);
    osp__buf_free(&osp__settings.info_host);
    osp__config_clear(&S.cfg);
    osp__settings_changed();
    S.is_setup = false;
}
