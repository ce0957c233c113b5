/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tool - the store API from the command line, for the interop tests
 * (Python reads what this writes and the other way round):
 *
 *   store_tool put [--error-index] [--batch N] URL < points.jsonl
 *   store_tool get URL BASE_ID       the stored texts, one a line, in get order
 *   store_tool list [--errors] URL   "BASE_ID TIMESTAMP" lines, in list order
 *   store_tool count URL
 *
 * Each input line is one message, stored verbatim; its fields come from
 * osp_store_msg_from_json. Exit status 0, or 1 with the error on stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static int fail(const char *what, const osp_error_t *err) {
    fprintf(stderr, "store_tool: %s: %s\n", what, err->text);
    return 1;
}

static int print_msg(const char *json, size_t len, void *ud) {
    (void)ud;
    fwrite(json, 1, len, stdout);
    putchar('\n');
    return 0;
}

static int print_trace(const char *base_id, const char *timestamp, void *ud) {
    (void)ud;
    printf("%s %s\n", base_id, timestamp);
    return 0;
}

struct batch {
    osp_store_msg_t *msgs;
    json_t **trees;
    char **lines;
    size_t n;
};

static void clear(struct batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        json_decref(b->trees[i]);
        free(b->lines[i]);
    }
    b->n = 0;
}

static int put(osp_store_t *s, size_t batch) {
    struct batch b = {calloc(batch, sizeof *b.msgs), calloc(batch, sizeof *b.trees),
                      calloc(batch, sizeof *b.lines), 0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    osp_error_t err;
    if (!b.msgs || !b.trees || !b.lines) {
        fprintf(stderr, "store_tool: out of memory\n");
        return 1;
    }
    while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_error_t jerr;
        json_t *t = json_loadb(line, (size_t)len, 0, &jerr);
        if (!t || !osp_store_msg_from_json(t, line, (size_t)len, &b.msgs[b.n])) {
            fprintf(stderr, "store_tool: line %zu: %s\n", lineno,
                    t ? "base_id, trace_id, name or timestamp missing" : jerr.text);
            json_decref(t);
            rc = 1;
            break;
        }
        b.trees[b.n] = t;
        b.lines[b.n] = line; /* msgs[n] points into it */
        line = NULL, cap = 0;
        if (++b.n == batch) {
            if (osp_store_put(s, b.msgs, b.n, &err) != OSP_OK)
                rc = fail("put", &err);
            clear(&b);
        }
    }
    if (rc == 0 && b.n && osp_store_put(s, b.msgs, b.n, &err) != OSP_OK)
        rc = fail("put", &err);
    clear(&b);
    free(line);
    free(b.msgs);
    free(b.trees);
    free(b.lines);
    return rc;
}

int main(int argc, char **argv) {
    const char *usage = "usage: store_tool put [--error-index] [--batch N] URL < jsonl\n"
                        "       store_tool get URL BASE_ID\n"
                        "       store_tool list [--errors] URL\n"
                        "       store_tool count URL\n";
    if (argc < 3) {
        fputs(usage, stderr);
        return 2;
    }
    const char *verb = argv[1];
    int flags = 0, i = 2;
    bool errors = false;
    size_t batch = 1000;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--error-index") == 0)
            flags |= OSP_STORE_ERROR_INDEX;
        else if (strcmp(argv[i], "--errors") == 0)
            errors = true;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = strtoul(argv[++i], NULL, 10);
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (i >= argc || batch == 0) {
        fputs(usage, stderr);
        return 2;
    }
    const char *url = argv[i++];
    bool writing = strcmp(verb, "put") == 0;
    osp_store_t *s;
    osp_error_t err;
    if (osp_store_open(url, writing ? OSP_STORE_WRITE | flags : 0, &s, &err) != OSP_OK)
        return fail("open", &err);
    int rc = 0, r = OSP_OK;
    if (writing) {
        rc = put(s, batch);
    } else if (strcmp(verb, "get") == 0 && i < argc) {
        r = osp_store_get(s, argv[i], print_msg, NULL, &err);
    } else if (strcmp(verb, "list") == 0) {
        r = osp_store_list(s, errors, print_trace, NULL, &err);
    } else if (strcmp(verb, "count") == 0) {
        size_t n;
        if ((r = osp_store_count(s, &n, &err)) == OSP_OK)
            printf("%zu\n", n);
    } else {
        fputs(usage, stderr);
        rc = 2;
    }
    if (r != OSP_OK)
        rc = fail(verb, &err);
    osp_store_close(s);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
