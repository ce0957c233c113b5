/* SPDX-License-Identifier: Apache-2.0 */
/*
 * interop_driver - the C side of the interop tests (tests/interop/test_*.py).
 *
 *   interop_driver <command> < request.json > result.json
 *
 * Every command reads one JSON object on stdin and prints one JSON object
 * (ASCII, one line) on stdout, so the Python tests never have to quote
 * arguments. Commands:
 *
 *   headers    {"key", "base_id", "parent_id", "points": [names]}
 *              osp_init(key, base_id, parent_id), osp_start(name, NULL) for
 *              each name, then osp_web_headers(). Prints the headers, the rc
 *              and the profiler ids.
 *   web-begin  {"enabled", "hmac_keys", "file", "headers": {"X-Trace-Info",
 *              "X-Trace-HMAC"}, "request": {"method", "path", "query",
 *              "scheme"}}
 *              osp_setup(file:// notifier), osp_web_begin(), and if traced the
 *              ids and the outgoing osp_web_headers(), then osp_web_end().
 *   sequence   {"setup": {"project", "service", "file", "hmac_keys",
 *              "trace_sqlalchemy", "sidecar", "host", "ring_size"},
 *              "ops": [[op, args...], ...]}
 *              ops: ["init", key, base, parent], ["start", name, info],
 *              ["stop", info], ["stop_error", etype, message],
 *              ["db_start", statement, params], ["db_stop"],
 *              ["db_stop_error", etype, message, chained], ["clean"],
 *              ["web_begin", headers, request], ["web_end", etype, message],
 *              ["start_nested", name, depth]: info {"n": {"a": ... {}}} with
 *              depth dicts under "n" (built here: JSON that deep would not
 *              reach us through Python's json.dumps), ["flush"].
 *              "sidecar": a socket path (messaging://, the sidecar) instead
 *              of "file"; then the driver waits until every point was
 *              handed over (osp_flush), 10 s at most.
 *   web-paths  {"file", "hmac_keys", "headers": {...}, "requests": [{"method",
 *              "path_hex", "query", "scheme"}, ...]}
 *              osp_setup(file:// notifier), then osp_web_begin()/osp_web_end()
 *              for each request; path_hex is the path's bytes in hex (a
 *              request may carry any byte). -> {"results": [rc, ...]}.
 *   shorten    {"ids": [...]} -> {"short": [...]} via osp_get_shorten_id().
 *   unpack     {"cases": [{"info", "hmac", "keys": [...]}, ...]}
 *              -> {"results": [{"rc", "result"}, ...]} via osp_signed_unpack().
 *
 * Exit status: 0 when the command ran (library return codes are reported in
 * the JSON, the tests judge them), 2 on a usage or input error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osprofiler/osprofiler.h>

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "interop_driver: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    return 2;
}

/* A string member, or NULL when absent or JSON null. */
static const char *str_or_null(const json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key));
}

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *rc_json(int rc) {
    return json_pack("{s:i,s:s}", "code", rc, "name",
                     rc == 0 ? "OSP_OK" : osp_err_name(rc));
}

static json_t *ids_json(void) {
    osp_profiler_t *p = osp_get();
    if (!p)
        return json_null();
    return json_pack("{s:o,s:o,s:o,s:o,s:I}", "base_id", jstr(osp_profiler_base_id(p)),
                     "parent_id", jstr(osp_profiler_parent_id(p)), "id",
                     jstr(osp_profiler_id(p)), "hmac_key", jstr(osp_profiler_hmac_key(p)),
                     "depth", (json_int_t)osp_profiler_depth(p));
}

static json_t *headers_json(void) {
    char *info = NULL, *hmac = NULL;
    int rc = osp_web_headers(&info, &hmac);
    json_t *out = json_pack("{s:o,s:o,s:o}", "rc", rc_json(rc), "info", jstr(info),
                            "hmac", jstr(hmac));
    osp_free(info);
    osp_free(hmac);
    return out;
}

static json_t *stats_json(void) {
    osp_stats_t st;
    osp_get_stats(&st);
    json_t *rej = json_object();
    for (int i = 0; i < 7; i++)
        json_object_set_new(rej, osp_err_name(OSP_ENOHEADER - i),
                            json_integer((json_int_t)st.web_rejected[i]));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "emitted",
                     (json_int_t)st.emitted, "sent", (json_int_t)st.sent, "buffered",
                     (json_int_t)st.buffered, "dropped_oversize",
                     (json_int_t)st.dropped_oversize, "dropped_no_sidecar",
                     (json_int_t)st.dropped_no_sidecar, "dropped_backpressure",
                     (json_int_t)st.dropped_backpressure, "dropped_nomem",
                     (json_int_t)st.dropped_nomem, "web_traced",
                     (json_int_t)st.web_traced, "web_rejected", rej);
}

/* The library's log lines (the tests look for the reason of a drop). */
static json_t *log_lines;
static void log_cb(osp_log_level_t level, const char *msg, void *ud) {
    (void)level;
    (void)ud;
    if (log_lines)
        json_array_append_new(log_lines, json_string(msg));
}

/* osp_setup() with a file:// notifier described by @p s. */
static int setup_from(const json_t *s, json_t *out) {
    osp_config_t *cfg = osp_config_new();
    if (!cfg)
        return OSP_ENOMEM;
    const json_t *en = json_object_get(s, "enabled");
    osp_config_set_enabled(cfg, en ? json_is_true(en) : true);
    osp_config_set_trace_sqlalchemy(cfg,
                                    json_is_true(json_object_get(s, "trace_sqlalchemy")));
    int rc = OSP_OK;
    const char *keys = str_or_null(s, "hmac_keys");
    if (keys)
        rc = osp_config_set_hmac_keys(cfg, keys);
    const char *file = str_or_null(s, "file"), *sidecar = str_or_null(s, "sidecar");
    if (!rc && sidecar)
        rc = osp_config_set_sidecar_socket(cfg, sidecar);
    if (!rc && str_or_null(s, "host"))
        rc = osp_config_set_host(cfg, str_or_null(s, "host"));
    if (!rc && json_is_integer(json_object_get(s, "ring_size")))
        rc = osp_config_set_ring_size(
            cfg, (size_t)json_integer_value(json_object_get(s, "ring_size")));
    if (!rc && file) {
        char *cs = NULL;
        if (asprintf(&cs, "file://%s", file) < 0)
            rc = OSP_ENOMEM;
        else
            rc = osp_config_set_connection_string(cfg, cs);
        free(cs);
    }
    if (!rc && str_or_null(s, "project"))
        rc = osp_config_set_project(cfg, str_or_null(s, "project"));
    if (!rc && str_or_null(s, "service"))
        rc = osp_config_set_service(cfg, str_or_null(s, "service"));
    osp_error_t err = {{0}};
    if (!rc)
        rc = osp_setup(cfg, &err);
    osp_config_free(cfg);
    json_object_set_new(out, "setup", rc_json(rc));
    if (rc)
        json_object_set_new(out, "setup_error", json_string(err.text));
    return rc;
}

static int cmd_headers(const json_t *in, json_t *out) {
    osp_profiler_t *p = osp_init(str_or_null(in, "key"), str_or_null(in, "base_id"),
                                 str_or_null(in, "parent_id"));
    if (!p)
        return fail("osp_init failed", NULL);
    json_t *starts = json_array();
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(in, "points"), i, name) {
        json_array_append_new(starts, rc_json(osp_start(json_string_value(name), NULL)));
    }
    json_object_set_new(out, "starts", starts);
    json_object_set_new(out, "ids", ids_json());
    json_object_set_new(out, "headers", headers_json());
    osp_clean();
    return 0;
}

static int cmd_web_begin(const json_t *in, json_t *out) {
    if (setup_from(in, out) != OSP_OK)
        return 0;
    const json_t *h = json_object_get(in, "headers");
    const json_t *r = json_object_get(in, "request");
    osp_web_request_t req = {
        .x_trace_info = str_or_null(h, OSP_HEADER_INFO),
        .x_trace_hmac = str_or_null(h, OSP_HEADER_HMAC),
        .method = str_or_null(r, "method"),
        .path = str_or_null(r, "path"),
        .query = str_or_null(r, "query"),
        .scheme = str_or_null(r, "scheme"),
    };
    int rc = osp_web_begin(&req, NULL, 0);
    json_object_set_new(out, "rc", rc_json(rc));
    json_object_set_new(out, "ids", ids_json());
    if (rc == OSP_OK)
        json_object_set_new(out, "outgoing", headers_json());
    osp_web_end(NULL, NULL);
    json_object_set_new(out, "profiler_after_end", json_boolean(osp_get() != NULL));
    osp_teardown();
    json_object_set_new(out, "stats", stats_json());
    return 0;
}

/* Bytes from hex text, NUL-terminated; NULL when it is not hex. */
static char *from_hex(const char *hex) {
    size_t n = hex ? strlen(hex) : 1;
    char *out = n % 2 ? NULL : malloc(n / 2 + 1);
    for (size_t i = 0; out && i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (char)v;
    }
    if (out)
        out[n / 2] = '\0';
    return out;
}

static int cmd_web_paths(const json_t *in, json_t *out) {
    if (setup_from(in, out) != OSP_OK)
        return 0;
    const json_t *h = json_object_get(in, "headers");
    json_t *results = json_array();
    json_object_set_new(out, "results", results);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(in, "requests"), i, r) {
        char *path = from_hex(str_or_null(r, "path_hex"));
        if (!path)
            return fail("path_hex is not hex", NULL);
        osp_web_request_t req = {
            .x_trace_info = str_or_null(h, OSP_HEADER_INFO),
            .x_trace_hmac = str_or_null(h, OSP_HEADER_HMAC),
            .method = str_or_null(r, "method"),
            .path = path,
            .query = str_or_null(r, "query"),
            .scheme = str_or_null(r, "scheme"),
        };
        json_array_append_new(results, rc_json(osp_web_begin(&req, NULL, 0)));
        osp_web_end(NULL, NULL);
        free(path);
    }
    osp_teardown();
    json_object_set_new(out, "stats", stats_json());
    return 0;
}

static int run_op(const json_t *op, json_t *results) {
    const char *what = json_string_value(json_array_get(op, 0));
    const json_t *a1 = json_array_get(op, 1), *a2 = json_array_get(op, 2),
                 *a3 = json_array_get(op, 3);
    const json_t *info1 = json_is_object(a1) ? a1 : NULL;
    int rc;
    if (!what)
        return fail("an op must start with its name", NULL);
    if (strcmp(what, "init") == 0) {
        rc = osp_init(json_string_value(a1), json_string_value(a2), json_string_value(a3))
                 ? OSP_OK
                 : OSP_ENOMEM;
    } else if (strcmp(what, "start") == 0) {
        const json_t *info = json_is_object(a2) ? a2 : NULL;
        rc = osp_start(json_string_value(a1), info);
    } else if (strcmp(what, "stop") == 0) {
        rc = osp_stop(info1);
    } else if (strcmp(what, "stop_error") == 0) {
        rc = osp_stop_error(json_string_value(a1), json_string_value(a2));
    } else if (strcmp(what, "db_start") == 0) {
        rc = osp_db_start(json_string_value(a1), json_is_object(a2) ? a2 : NULL);
    } else if (strcmp(what, "db_stop") == 0) {
        rc = osp_db_stop();
    } else if (strcmp(what, "db_stop_error") == 0) {
        rc = osp_db_stop_error(json_string_value(a1), json_string_value(a2),
                               json_string_value(a3));
    } else if (strcmp(what, "clean") == 0) {
        osp_clean();
        rc = OSP_OK;
    } else if (strcmp(what, "web_begin") == 0) {
        osp_web_request_t req = {
            .x_trace_info = str_or_null(a1, OSP_HEADER_INFO),
            .x_trace_hmac = str_or_null(a1, OSP_HEADER_HMAC),
            .method = str_or_null(a2, "method"),
            .path = str_or_null(a2, "path"),
            .query = str_or_null(a2, "query"),
            .scheme = str_or_null(a2, "scheme"),
        };
        rc = osp_web_begin(&req, NULL, 0);
    } else if (strcmp(what, "web_end") == 0) {
        osp_web_end(json_string_value(a1), json_string_value(a2));
        rc = OSP_OK;
    } else if (strcmp(what, "flush") == 0) {
        rc = osp_flush();
    } else if (strcmp(what, "start_nested") == 0) {
        json_t *info = json_object(), *inner = json_object();
        json_object_set_new(info, "n", inner);
        for (json_int_t d = json_integer_value(a2); d > 1; d--) {
            json_t *next = json_object();
            json_object_set_new(inner, "a", next);
            inner = next;
        }
        rc = osp_start(json_string_value(a1), info);
        json_decref(info);
    } else {
        return fail("unknown op", what);
    }
    json_t *r = rc_json(rc);
    json_object_set_new(r, "op", json_string(what));
    json_array_append_new(results, r);
    return 0;
}

/* With the sidecar: until every point was handed over, 10 s at most. */
static void wait_handed_over(void) {
    for (int i = 0; i < 1000; i++) {
        osp_stats_t st;
        osp_flush();
        osp_get_stats(&st);
        if (!st.buffered)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int cmd_sequence(const json_t *in, json_t *out) {
    log_lines = json_array();
    json_object_set_new(out, "log", log_lines);
    osp_set_log_cb(log_cb, NULL);
    if (setup_from(json_object_get(in, "setup"), out) != OSP_OK)
        return 0;
    json_t *results = json_array();
    json_object_set_new(out, "results", results);
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(in, "ops"), i, op) {
        int rc = run_op(op, results);
        if (rc)
            return rc;
    }
    osp_clean();
    if (str_or_null(json_object_get(in, "setup"), "sidecar"))
        wait_handed_over();
    osp_teardown();
    json_object_set_new(out, "stats", stats_json());
    return 0;
}

static int cmd_unpack(const json_t *in, json_t *out) {
    json_t *results = json_array();
    json_object_set_new(out, "results", results);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(in, "cases"), i, c) {
        const json_t *jkeys = json_object_get(c, "keys");
        size_t n = json_array_size(jkeys);
        const char **keys = calloc(n ? n : 1, sizeof *keys);
        if (!keys)
            return fail("out of memory", NULL);
        for (size_t k = 0; k < n; k++)
            keys[k] = json_string_value(json_array_get(jkeys, k));
        json_t *obj = NULL;
        int rc = osp_signed_unpack(str_or_null(c, "info"), str_or_null(c, "hmac"),
                                   json_is_array(jkeys) ? keys : NULL, n, &obj);
        free(keys);
        json_array_append_new(results, json_pack("{s:o,s:o}", "rc", rc_json(rc), "result",
                                                 obj ? obj : json_null()));
    }
    return 0;
}

static int cmd_shorten(const json_t *in, json_t *out) {
    json_t *shorts = json_array();
    json_object_set_new(out, "short", shorts);
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(in, "ids"), i, id) {
        char buf[17] = {0};
        int rc = osp_get_shorten_id(json_string_value(id), buf);
        json_array_append_new(shorts, rc == OSP_OK ? json_string(buf) : rc_json(rc));
    }
    return 0;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(const json_t *, json_t *);
    } cmds[] = {{"headers", cmd_headers},     {"web-begin", cmd_web_begin},
                {"web-paths", cmd_web_paths}, {"sequence", cmd_sequence},
                {"shorten", cmd_shorten},     {"unpack", cmd_unpack}};
    if (argc != 2)
        return fail(
            "usage: interop_driver headers|web-begin|web-paths|sequence|shorten|unpack "
            "< in.json",
            NULL);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        json_error_t jerr;
        /* JSON_ALLOW_NUL: test strings may contain U+0000. */
        json_t *in = json_loadf(stdin, JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(in))
            return fail("stdin is not a JSON object", jerr.text);
        json_t *out = json_object();
        int rc = cmds[i].fn(in, out);
        if (rc == 0) {
            json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
            fputc('\n', stdout);
        }
        json_decref(out);
        json_decref(in);
        return rc;
    }
    return fail("unknown command", argv[1]);
}
