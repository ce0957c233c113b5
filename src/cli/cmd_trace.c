/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_trace - "osprofiler trace tree": the trace points of a JSON-lines file
 * (what the file:// notifier writes) as an indented call tree with durations.
 * ("trace show" and "trace list" over stores: cmd_show.c.)
 *
 * Points are matched by trace_id (start and stop of one point) and nested by
 * parent_id; children are ordered by start time, ties by arrival. Lines that
 * are not trace points are counted and reported, never fatal.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osprofiler/osprofiler.h>

#include "cli.h"
#include "common/buf.h"
#include "common/point.h"
#include "term.h"

static const char tree_usage[] =
    "usage: osprofiler trace tree [--base-id ID] FILE\n"
    "  Print the points of a JSON-lines file ([profiler] connection_string =\n"
    "  file:///path) as a tree, one trace after another.\n";

struct node {
    const char *trace_id, *parent_id, *base_id, *name, *service, *etype;
    long long start_us, stop_us; /* -1 when not seen */
    size_t order;
    struct node **kids;
    size_t nkids;
    bool has_parent;
};

static long long parse_ts(const char *s) {
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    long long us = 0;
    int digits = 0;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9' && digits < 6; rest++, digits++)
            us = us * 10 + (*rest - '0');
    for (; digits < 6; digits++)
        us *= 10;
    return (long long)timegm(&tm) * 1000000 + us;
}

static int by_start(const void *a, const void *b) {
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    long long sx = x->start_us >= 0 ? x->start_us : x->stop_us;
    long long sy = y->start_us >= 0 ? y->start_us : y->stop_us;
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* One line of the tree, outside text escaped for the terminal (term.h). */
static void print_line(const struct node *n, size_t depth) {
    char dur[32] = "?";
    if (n->start_us >= 0 && n->stop_us >= 0)
        snprintf(dur, sizeof dur, "%.3f ms", (double)(n->stop_us - n->start_us) / 1000.0);
    char *name = osp_term_escape_str(n->name);
    char *service = osp_term_escape_str(n->service ? n->service : "n/a");
    char *etype = n->etype ? osp_term_escape_str(n->etype) : NULL;
    printf("%*s%s  [%s]  %s%s%s\n", (int)(depth * 2), "", name ? name : "?",
           service ? service : "?", dur, n->etype ? "  ERROR " : "",
           n->etype ? (etype ? etype : "?") : "");
    free(name);
    free(service);
    free(etype);
}

/* Depth first without recursion: a file may nest points as deep as its
 * writer liked. */
static bool print_tree(const struct node *root) {
    struct frame {
        const struct node *n;
        size_t next;
    } *st = NULL;
    size_t top = 0, cap = 0;
    print_line(root, 1);
    const struct node *n = root;
    for (;;) {
        if (n) {
            if (top == cap) {
                cap = cap ? 2 * cap : 64;
                struct frame *v = realloc(st, cap * sizeof *v);
                if (!v) {
                    free(st);
                    return false;
                }
                st = v;
            }
            st[top++] = (struct frame){n, 0};
        }
        if (!top)
            break;
        struct frame *f = &st[top - 1];
        if (f->next == f->n->nkids) {
            top--;
            n = NULL;
            continue;
        }
        n = f->n->kids[f->next++];
        print_line(n, top + 1);
    }
    free(st);
    return true;
}

/* The index key of a point: base_id and trace_id, unambiguous whatever
 * bytes they hold (the base_id's length first). */
static void index_key(osp_buf_t *k, const char *base, const char *tid) {
    char len[32];
    snprintf(len, sizeof len, "%zu:", strlen(base));
    osp__buf_puts(k, len);
    osp__buf_puts(k, base);
    osp__buf_puts(k, tid);
}

static json_t *find(json_t *index, const char *base, const char *tid) {
    osp_buf_t k = OSP_BUF_INIT;
    index_key(&k, base, tid);
    json_t *v = k.failed ? NULL : json_object_getn(index, k.data, k.len);
    osp__buf_free(&k);
    return v;
}

static void put(json_t *index, const char *base, const char *tid, size_t i) {
    osp_buf_t k = OSP_BUF_INIT;
    index_key(&k, base, tid);
    if (!k.failed)
        json_object_setn_new_nocheck(index, k.data, k.len, json_integer((json_int_t)i));
    osp__buf_free(&k);
}

static int tree(const char *path, const char *only_base) {
    FILE *fp = fopen(path, "re");
    if (!fp) {
        perror(path);
        return CLI_FAIL;
    }
    json_t *keep = json_array();   /* owns the parsed points */
    json_t *index = json_object(); /* base_id, trace_id -> node: no O(n^2) */
    struct node *nodes = NULL;
    size_t n = 0, cap = 0, bad = 0, lineno = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, fp)) > 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        json_t *pt;
        if (osp__point_parse(line, (size_t)len, &pt, NULL) != OSP_OK) {
            bad++;
            continue;
        }
        json_array_append_new(keep, pt);
        const char *base = json_string_value(json_object_get(pt, "base_id"));
        if (only_base && strcmp(base, only_base) != 0)
            continue;
        const char *tid = json_string_value(json_object_get(pt, "trace_id"));
        const char *name = json_string_value(json_object_get(pt, "name"));
        long long ts = parse_ts(json_string_value(json_object_get(pt, "timestamp")));
        bool stop = strlen(name) >= 5 && strcmp(name + strlen(name) - 5, "-stop") == 0;
        json_t *at = find(index, base, tid);
        struct node *nd = at ? &nodes[json_integer_value(at)] : NULL;
        if (!nd) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                nodes = realloc(nodes, cap * sizeof *nodes);
                if (!nodes) {
                    fputs("osprofiler: out of memory\n", stderr);
                    exit(CLI_FAIL);
                }
            }
            put(index, base, tid, n);
            nd = &nodes[n];
            memset(nd, 0, sizeof *nd);
            nd->order = n++;
            nd->trace_id = tid;
            nd->base_id = base;
            nd->parent_id = json_string_value(json_object_get(pt, "parent_id"));
            nd->start_us = nd->stop_us = -1;
            /* the point's name without "-start"/"-stop" */
            nd->name = strndup(name, strlen(name) - (stop ? 5 : 6));
            nd->service = json_string_value(json_object_get(pt, "service"));
        }
        if (stop) {
            nd->stop_us = ts;
            json_t *et = json_object_get(json_object_get(pt, "info"), "etype");
            if (json_is_string(et))
                nd->etype = json_string_value(et);
        } else {
            nd->start_us = ts;
        }
    }
    free(line);
    fclose(fp);
    /* Link children to parents (indices are stable now). */
    for (size_t i = 0; i < n; i++) {
        json_t *at = find(index, nodes[i].base_id, nodes[i].parent_id);
        size_t j = at ? (size_t)json_integer_value(at) : i;
        if (j == i)
            continue;
        struct node *p = &nodes[j];
        if ((p->nkids & (p->nkids - 1)) == 0) { /* 0, 1, 2, 4...: double */
            struct node **k = realloc(p->kids, (p->nkids ? 2 * p->nkids : 1) * sizeof *k);
            if (!k) {
                fputs("osprofiler: out of memory\n", stderr);
                exit(CLI_FAIL);
            }
            p->kids = k;
        }
        p->kids[p->nkids++] = &nodes[i];
        nodes[i].has_parent = true;
    }
    struct node **roots = calloc(n ? n : 1, sizeof *roots);
    size_t nroots = 0;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].nkids)
            qsort(nodes[i].kids, nodes[i].nkids, sizeof *nodes[i].kids, by_start);
        if (!nodes[i].has_parent)
            roots[nroots++] = &nodes[i];
    }
    qsort(roots, nroots, sizeof *roots, by_start);
    const char *last_base = NULL;
    int rc = CLI_OK;
    for (size_t i = 0; i < nroots && rc == CLI_OK; i++) {
        if (!last_base || strcmp(last_base, roots[i]->base_id) != 0) {
            char *b = osp_term_escape_str(roots[i]->base_id);
            printf("%strace %s\n", last_base ? "\n" : "", b ? b : "?");
            free(b);
            last_base = roots[i]->base_id;
        }
        if (!print_tree(roots[i])) {
            fputs("osprofiler: out of memory\n", stderr);
            rc = CLI_FAIL;
        }
    }
    if (bad)
        fprintf(stderr, "osprofiler: %zu of %zu lines in %s are not trace points\n", bad,
                lineno, path);
    if (n == 0) {
        fprintf(stderr, "osprofiler: no trace points%s%s in %s\n",
                only_base ? " for " : "", only_base ? only_base : "", path);
        rc = CLI_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)nodes[i].name);
        free(nodes[i].kids);
    }
    free(nodes);
    free(roots);
    json_decref(keep);
    json_decref(index);
    return rc;
}

int cmd_trace(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return cmd_trace_show(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_trace_list(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "tree") != 0) {
        fputs("usage: osprofiler trace show|list|tree ...\n", stderr);
        return CLI_USAGE;
    }
    static const struct option opts[] = {{"base-id", required_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *base = NULL;
    int c;
    optind = 1;
    argc--, argv++;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            base = optarg;
            break;
        case 'h':
            fputs(tree_usage, stdout);
            return CLI_OK;
        default:
            fputs(tree_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(tree_usage, stderr);
        return CLI_USAGE;
    }
    return tree(argv[optind], base);
}
