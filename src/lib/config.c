/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config - the [profiler] options of osprofiler (opts.py), set through the
 * API or read from a service's own .conf files as oslo.config reads them
 * (src/common/oslo_conf.c).
 *
 * Loading is all-or-nothing: options are read into a scratch config that
 * replaces the caller's only when every value is valid. Error texts name
 * file and line and never quote a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/errors.h"
#include "../common/keys.h"
#include "../common/oslo_conf.h"
#include "../common/oslo_opts.h"
#include "internal.h"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int replace_str(char **slot, const char *value) {
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return OSP_ENOMEM;
    free(*slot);
    *slot = copy;
    return OSP_OK;
}

osp_config_t *osp_config_new(void) {
    osp_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->thread_buffer = OSP_DEFAULT_THREAD_BUFFER;
    cfg->buffer_limit = OSP_DEFAULT_BUFFER_LIMIT;
    cfg->ring_size = OSP_DEFAULT_RING_SIZE;
    if (osp_config_set_hmac_keys(cfg, "SECRET_KEY") ||
        osp_config_set_connection_string(cfg, "messaging://")) {
        osp_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void osp__config_clear(osp_config_t *cfg) {
    osp__free_keys(cfg->hmac_keys, cfg->nkeys);
    free(cfg->connection_string);
    free(cfg->sidecar_socket);
    free(cfg->project);
    free(cfg->service);
    free(cfg->host);
    memset(cfg, 0, sizeof *cfg);
}

void osp_config_free(osp_config_t *cfg) {
    if (!cfg)
        return;
    osp__config_clear(cfg);
    free(cfg);
}

int osp__config_copy(osp_config_t *dst, const osp_config_t *src) {
    memset(dst, 0, sizeof *dst);
    dst->enabled = src->enabled;
    dst->trace_sqlalchemy = src->trace_sqlalchemy;
    dst->filter_error_trace = src->filter_error_trace;
    dst->sidecar_socket_set = src->sidecar_socket_set;
    dst->thread_buffer = src->thread_buffer;
    dst->buffer_limit = src->buffer_limit;
    dst->ring_size = src->ring_size;
    if (src->nkeys) {
        dst->hmac_keys = calloc(src->nkeys, sizeof *dst->hmac_keys);
        if (!dst->hmac_keys)
            goto err;
        dst->nkeys = src->nkeys;
        for (size_t i = 0; i < src->nkeys; i++)
            if (!(dst->hmac_keys[i] = strdup(src->hmac_keys[i])))
                goto err;
    }
#define COPY(f)                                                                          \
    if (src->f && !(dst->f = dup_or_null(src->f)))                                       \
        goto err;
    COPY(connection_string)
    COPY(sidecar_socket)
    COPY(project)
    COPY(service)
    COPY(host)
#undef COPY
    return OSP_OK;
err:
    osp__config_clear(dst);
    return OSP_ENOMEM;
}

void osp_config_set_enabled(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->enabled = on;
}
void osp_config_set_trace_sqlalchemy(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->trace_sqlalchemy = on;
}
void osp_config_set_filter_error_trace(osp_config_t *cfg, bool on) {
    if (cfg)
        cfg->filter_error_trace = on;
}

int osp_config_set_hmac_keys(osp_config_t *cfg, const char *keys) {
    if (!cfg)
        return OSP_EINVAL;
    char **list;
    size_t n;
    int rc = osp__split_keys(keys, &list, &n);
    if (rc)
        return rc;
    osp__free_keys(cfg->hmac_keys, cfg->nkeys);
    cfg->hmac_keys = list;
    cfg->nkeys = n;
    return OSP_OK;
}

int osp_config_set_connection_string(osp_config_t *cfg, const char *cs) {
    if (!cfg || !cs || !*cs)
        return OSP_EINVAL;
    /* osprofiler appends "://" to a bare driver name. */
    if (!strstr(cs, "://")) {
        char *full = malloc(strlen(cs) + 4);
        if (!full)
            return OSP_ENOMEM;
        strcpy(full, cs);
        strcat(full, "://");
        free(cfg->connection_string);
        cfg->connection_string = full;
        return OSP_OK;
    }
    return replace_str(&cfg->connection_string, cs);
}

int osp_config_set_sidecar_socket(osp_config_t *cfg, const char *path) {
    if (!cfg)
        return OSP_EINVAL;
    if (path && strlen(path) >= 108) /* sizeof sun_path */
        return OSP_ETOOBIG;
    int rc = replace_str(&cfg->sidecar_socket, path);
    if (rc == OSP_OK)
        cfg->sidecar_socket_set = path != NULL;
    return rc;
}

int osp_config_set_project(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    return replace_str(&cfg->project, v);
}
int osp_config_set_service(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    return replace_str(&cfg->service, v);
}
int osp_config_set_host(osp_config_t *cfg, const char *v) {
    if (!cfg)
        return OSP_EINVAL;
    if (v && strlen(v) > 255)
        return OSP_ETOOBIG;
    return replace_str(&cfg->host, v);
}
int osp_config_set_thread_buffer(osp_config_t *cfg, size_t bytes) {
    if (!cfg || bytes < 4096)
        return OSP_EINVAL;
    cfg->thread_buffer = bytes;
    return OSP_OK;
}

int osp_config_set_buffer_limit(osp_config_t *cfg, size_t bytes) {
    if (!cfg || bytes < 4096)
        return OSP_EINVAL;
    cfg->buffer_limit = bytes;
    return OSP_OK;
}

int osp_config_set_ring_size(osp_config_t *cfg, size_t bytes) {
    if (!cfg || (bytes && (bytes < 4096 || bytes > (64u << 20) || (bytes & (bytes - 1)))))
        return OSP_EINVAL;
    cfg->ring_size = bytes;
    return OSP_OK;
}

bool osp_config_enabled(const osp_config_t *cfg) { return cfg && cfg->enabled; }
bool osp_config_trace_sqlalchemy(const osp_config_t *cfg) {
    return cfg && cfg->trace_sqlalchemy;
}
bool osp_config_filter_error_trace(const osp_config_t *cfg) {
    return cfg && cfg->filter_error_trace;
}
size_t osp_config_hmac_key_count(const osp_config_t *cfg) { return cfg ? cfg->nkeys : 0; }
const char *osp_config_connection_string(const osp_config_t *cfg) {
    return cfg ? cfg->connection_string : NULL;
}
bool osp_config_uses_default_key(const osp_config_t *cfg) {
    if (!cfg)
        return false;
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (strcmp(cfg->hmac_keys[i], "SECRET_KEY") == 0)
            return true;
    return false;
}

/* ---- .conf loading ------------------------------------------------------ */

/* Besides osprofiler's [profiler] options and [DEFAULT] host (oslo_opts.h):
 * our sidecar_socket. */
static const osp_oslo_opt_t own_opts[] = {
    {"profiler", "sidecar_socket", OSP_OPT_STR, NULL, NULL, NULL, {{0}}},
};

static int value_error(osp_error_t *err, const osp_oslo_loc_t *at,
                       const osp_oslo_opt_t *o, const char *what) {
    return osp__error_set(err, OSP_ECONFIG, at->file, at->line, "%s:%d: [%s] %s: %s",
                          at->file, at->line, o->group, o->name, what);
}

/* The values the files set, onto cfg (a scratch copy). */
static int apply(osp_config_t *cfg, osp_oslo_conf_t *oc, osp_error_t *err) {
    static const char *const flag_names[] = {"enabled", "trace_sqlalchemy",
                                             "filter_error_trace"};
    bool *flags[] = {&cfg->enabled, &cfg->trace_sqlalchemy, &cfg->filter_error_trace};
    const osp_oslo_opt_t *strs[] = {osp__oslo_known("profiler", "hmac_keys"),
                                    osp__oslo_known("profiler", "connection_string"),
                                    &own_opts[0], osp__oslo_known("DEFAULT", "host")};
    osp_oslo_loc_t at;
    int rc = OSP_OK;
    for (size_t i = 0; i < 3 && rc == OSP_OK; i++)
        rc = osp__oslo_get_bool(oc, osp__oslo_known("profiler", flag_names[i]), flags[i],
                                &at, err);
    for (size_t i = 0; i < 4 && rc == OSP_OK; i++) {
        char *v = NULL;
        rc = osp__oslo_get_str(oc, strs[i], &v, &at, err);
        if (!v)
            continue; /* not set, or an error (rc ends the loop) */
        switch (i) {
        case 0:
            rc = osp_config_set_hmac_keys(cfg, v);
            break;
        case 1:
            rc = osp_config_set_connection_string(cfg, v);
            if (rc == OSP_EINVAL)
                rc = value_error(err, &at, strs[i], "empty value");
            break;
        case 2:
            rc = osp_config_set_sidecar_socket(cfg, v);
            if (rc == OSP_ETOOBIG)
                rc = value_error(err, &at, strs[i], "path longer than 107 bytes");
            break;
        case 3:
            rc = osp_config_set_host(cfg, v);
            if (rc == OSP_ETOOBIG)
                rc = value_error(err, &at, strs[i], "longer than 255 bytes");
            break;
        }
        memset(v, 0, strlen(v)); /* hmac_keys */
        free(v);
    }
    if (rc == OSP_ENOMEM)
        osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory reading configuration");
    return rc;
}

/* Reads every path (a file, or a directory's *.conf in name order) in turn,
 * later ones overriding earlier ones, as oslo's --config-file and
 * --config-dir do; text instead when paths is NULL. */
static int load(osp_config_t *cfg, const char *const *paths, size_t npaths,
                const char *text, const char *name, osp_error_t *err) {
    osp_oslo_conf_t *oc =
        osp__oslo_conf_new(own_opts, sizeof own_opts / sizeof *own_opts);
    if (!oc)
        return osp__error_set(err, OSP_ENOMEM, "", 0, "out of memory");
    int rc = OSP_OK;
    if (paths)
        for (size_t i = 0; i < npaths && rc == OSP_OK; i++)
            rc = osp__oslo_conf_read_path(oc, paths[i], err);
    else
        rc = osp__oslo_conf_read_text(oc, name, text, strlen(text), err);
    osp_config_t scratch;
    if (rc == OSP_OK && (rc = osp__config_copy(&scratch, cfg)) == OSP_OK) {
        rc = apply(&scratch, oc, err);
        if (rc == OSP_OK) {
            osp__config_clear(cfg);
            *cfg = scratch;
        } else {
            osp__config_clear(&scratch);
        }
    }
    osp__oslo_conf_free(oc);
    return rc;
}

int osp_config_load_file(osp_config_t *cfg, const char *path, osp_error_t *err) {
    if (!cfg || !path)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL argument");
    return load(cfg, &path, 1, NULL, NULL, err);
}

int osp_config_load_files(osp_config_t *cfg, const char *const *paths, size_t n,
                          osp_error_t *err) {
    if (!cfg || (n && !paths))
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!paths[i])
            return osp__error_set(err, OSP_EINVAL, "", 0, "NULL path");
    return load(cfg, paths, n, NULL, NULL, err);
}

int osp_config_load_string(osp_config_t *cfg, const char *text, const char *name,
                           osp_error_t *err) {
    if (!cfg || !text)
        return osp__error_set(err, OSP_EINVAL, "", 0, "NULL argument");
    return load(cfg, NULL, 0, text, name ? name : "<string>", err);
}
