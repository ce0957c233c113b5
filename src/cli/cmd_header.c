/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_header - "osprofiler header sign|verify".
 *
 * sign prints exactly the two header lines a traced client would send.
 * verify prints the decoded context, or exits 1 with the precise reason the
 * server side would have ignored the headers: the signature check, then the
 * same acceptance rule as osp_web_begin (osp__trace_ctx_check). Keys are read from the
 * command line or, to keep them out of `ps`, from $OSPROFILER_HMAC_KEY; they are never
 * printed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

#include "cli.h"
#include "common/buf.h"
#include "common/keys.h"
#include "common/pyjson.h"
#include "common/trace_ctx.h"

static const char sign_usage[] =
    "usage: osprofiler header sign [--hmac-key KEY] --base-id ID [--parent-id ID]\n"
    "  Prints 'X-Trace-Info: <value>' and 'X-Trace-HMAC: <value>'.\n"
    "  KEY defaults to $OSPROFILER_HMAC_KEY; parent defaults to the base id.\n";
static const char verify_usage[] =
    "usage: osprofiler header verify [--hmac-keys K1,K2] INFO HMAC\n"
    "  Prints the decoded trace context and exits 0 when a service would continue\n"
    "  the trace (osp_web_begin's rule), or exits 1 with the reason.\n"
    "  Keys default to $OSPROFILER_HMAC_KEY.\n";

static int header_sign(int argc, char **argv) {
    static const struct option opts[] = {{"hmac-key", required_argument, 0, 'k'},
                                         {"base-id", required_argument, 0, 'b'},
                                         {"parent-id", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *key = getenv(OSP_ENV_HMAC_KEY), *base = NULL, *parent = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'b':
            base = optarg;
            break;
        case 'p':
            parent = optarg;
            break;
        case 'h':
            fputs(sign_usage, stdout);
            return CLI_OK;
        default:
            fputs(sign_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (!base || optind != argc) {
        fputs(sign_usage, stderr);
        return CLI_USAGE;
    }
    if (!key || !*key) {
        fputs(
            "osprofiler header sign: no hmac key (--hmac-key or $OSPROFILER_HMAC_KEY)\n",
            stderr);
        return CLI_USAGE;
    }
    osp_buf_t b = OSP_BUF_INIT;
    osp__buf_puts(&b, "{\"base_id\": ");
    osp__pyjson_string(&b, base, strlen(base));
    osp__buf_puts(&b, ", \"parent_id\": ");
    parent = parent ? parent : base;
    osp__pyjson_string(&b, parent, strlen(parent));
    osp__buf_putc(&b, '}');
    char *info = NULL, *hmac = NULL;
    int rc = b.failed ? OSP_ENOMEM : osp_signed_pack(b.data, b.len, key, &info, &hmac);
    osp__buf_free(&b);
    if (rc) {
        fprintf(stderr, "osprofiler header sign: %s\n", osp_strerror(rc));
        return CLI_FAIL;
    }
    printf(OSP_HEADER_INFO ": %s\n" OSP_HEADER_HMAC ": %s\n", info, hmac);
    osp_free(info);
    osp_free(hmac);
    return CLI_OK;
}

static int header_verify(int argc, char **argv) {
    static const struct option opts[] = {{"hmac-keys", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *keys = getenv(OSP_ENV_HMAC_KEY);
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keys = optarg;
            break;
        case 'h':
            fputs(verify_usage, stdout);
            return CLI_OK;
        default:
            fputs(verify_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 2) {
        fputs(verify_usage, stderr);
        return CLI_USAGE;
    }
    char **list = NULL;
    size_t n = 0;
    if (osp__split_keys(keys, &list, &n) != OSP_OK) {
        fputs("osprofiler header verify: out of memory\n", stderr);
        return CLI_FAIL;
    }
    json_t *obj = NULL;
    int rc = osp_signed_unpack(argv[optind], argv[optind + 1], (const char *const *)list,
                               n, &obj);
    int ret = CLI_OK;
    osp_error_t why = {.text = ""};
    if (rc == OSP_OK) /* then what osp_web_begin requires of the context */
        rc = osp__trace_ctx_check(obj, &why);
    if (rc != OSP_OK) {
        fprintf(stderr, "osprofiler header verify: rejected: %s (%s)%s%s\n",
                osp_strerror(rc), osp_err_name(rc), *why.text ? ": " : "", why.text);
        ret = CLI_FAIL;
    } else {
        json_object_del(obj, "hmac_key"); /* never print the key */
        osp_buf_t b = OSP_BUF_INIT;
        osp__pyjson_value(&b, obj, -1, 0);
        if (osp__buf_cstr(&b))
            printf("%s\n", b.data);
        osp__buf_free(&b);
    }
    json_decref(obj);
    osp__free_keys(list, n);
    return ret;
}

int cmd_header(int argc, char **argv) {
    if (argc < 2) {
        fputs(sign_usage, stderr);
        fputs(verify_usage, stderr);
        return CLI_USAGE;
    }
    optind = 1;
    if (strcmp(argv[1], "sign") == 0)
        return header_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return header_verify(argc - 1, argv + 1);
    fprintf(stderr, "osprofiler header: unknown subcommand '%s'\n", argv[1]);
    return CLI_USAGE;
}
