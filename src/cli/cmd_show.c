/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_show - "osprofiler trace show" and "trace list", with the Python CLI's
 * flags and output, reading a store (src/store) instead of draining the
 * shared profiler.info queue as Python's messaging:// driver does.
 *
 * Unlike Python, errors go to stderr, and the default connection string is
 * the local store the sidecar writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "cli.h"
#include "common/buf.h"
#include "common/point.h"
#include "report.h"
#include "report_html.h"
#include "store/store.h"
#include "term.h"

extern char **environ;

static const char show_usage[] =
    "usage: osprofiler trace show [--connection-string URL] (--json | --html | --dot)\n"
    "                             [--out FILE] [--render-dot FILE] [--max-depth N]\n"
    "                             ID|REPORT_FILE\n"
    "  Print the report of trace ID (its base_id) from a store, or of a report\n"
    "  file written by --json. URL: sqlite:///PATH (SQLAlchemy form: four\n"
    "  slashes for an absolute path) or redis://[:PASSWORD@]HOST[:PORT][/DB];\n"
    "  default $OSPROFILER_CONNECTION_STRING, else " OSP_STORE_DEFAULT_URL ".\n"
    "  --html writes one self-contained file (no network needed to view it).\n"
    "  --render-dot FILE also renders the graph to FILE as PDF (graphviz dot).\n"
    "  --max-depth N: refuse a trace whose parent_id chain is more than N\n"
    "  points deep (default 1000; Python's CLI fails past 495 with a\n"
    "  RecursionError; --json and --html grow with the square of the depth).\n"
    "  Accepted for compatibility, no effect: --local-libs, --idle-timeout N.\n";
_Static_assert(OSP_REPORT_MAX_DEPTH == 1000, "show_usage gives the default");

static const char list_usage[] =
    "usage: osprofiler trace list [--connection-string URL] [--error-trace X]\n"
    "  List the traces of a store (base_id and timestamp of each). With\n"
    "  --error-trace and any non-empty X (as Python), only traces with an\n"
    "  error, as recorded when [profiler] filter_error_trace is on. Control\n"
    "  characters in stored text are shown escaped (\\x1b), never sent raw.\n";

static const char *store_url(const char *given) {
    if (given)
        return given;
    const char *env = getenv("OSPROFILER_CONNECTION_STRING");
    return env && *env ? env : OSP_STORE_DEFAULT_URL;
}

static osp_store_t *open_store(const char *url) {
    if (strncmp(url, "messaging://", 12) == 0) {
        fprintf(
            stderr,
            "osprofiler: messaging:// cannot be read without taking other traces'\n"
            "  messages from the queue ceilometer reads. Run osprofiler-sidecar with\n"
            "  collect = true and read its store (--connection-string sqlite:///... or\n"
            "  redis://...).\n");
        return NULL;
    }
    osp_store_t *s;
    osp_error_t err;
    if (osp_store_open(url, 0, &s, &err) != OSP_OK) {
        fprintf(stderr, "osprofiler: %s\n", err.text);
        return NULL;
    }
    return s;
}

/* uuidutils.is_uuid_like: 32 hex digits once '-', '{', '}' and urn:uuid:
 * are dropped. */
static bool uuid_like(const char *s) {
    if (strncasecmp(s, "urn:uuid:", 9) == 0)
        s += 9;
    int hex = 0;
    for (; *s; s++) {
        if (*s == '-' || *s == '{' || *s == '}')
            continue;
        if (!strchr("0123456789abcdefABCDEF", *s))
            return false;
        hex++;
    }
    return hex == 32;
}

struct feed {
    osp_report_t *r;
    size_t bad;
    bool rows; /* osp_store_rows */
};

static int feed(const char *json, size_t len, void *ud) {
    struct feed *f = ud;
    osp_error_t err;
    if ((f->rows ? osp_report_add_row : osp_report_add)(f->r, json, len, &err) != OSP_OK)
        f->bad++;
    return 0;
}

static size_t count_traces(osp_store_t *s) {
    size_t n = 0;
    osp_error_t err;
    return osp_store_count(s, &n, &err) == OSP_OK ? n : 0;
}

static json_t *report_from_store(const char *url, const char *id) {
    osp_store_t *s = open_store(url);
    if (!s)
        return NULL;
    osp_report_t *r = osp_report_new();
    struct feed f = {r, 0, osp_store_rows(s)};
    osp_error_t err;
    json_t *report = NULL;
    if (!r) {
        fputs("osprofiler: out of memory\n", stderr);
    } else if (osp_store_get(s, id, feed, &f, &err) != OSP_OK) {
        fprintf(stderr, "osprofiler: %s\n", err.text);
        osp_report_free(r);
    } else {
        if (f.bad)
            fprintf(stderr,
                    "osprofiler: %zu stored messages of %s are not trace points "
                    "(left out)\n",
                    f.bad, id);
        if (osp_report_points(r) == 0) {
            fprintf(
                stderr,
                "osprofiler: trace %s not found in %s (it holds %zu traces).\n"
                "  Check that the HMAC key the request was signed with is one of the\n"
                "  services' [profiler] hmac_keys, that profiling is enabled there, and\n"
                "  that their points reach this store (osprofiler-sidecar --stats).\n",
                id, osp_store_name(s), count_traces(s));
            osp_report_free(r);
        } else {
            report = osp_report_finish(r);
        }
    }
    osp_store_close(s);
    return report;
}

/* The whole file, or NULL with errno (stdio: a report file of any kind). */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    osp_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        osp__buf_append(&b, chunk, n);
    int failed = ferror(f) || b.failed;
    fclose(f);
    if (failed) {
        osp__buf_free(&b);
        errno = errno ? errno : ENOMEM;
        return NULL;
    }
    *len = b.len;
    return b.data ? b.data : strdup("");
}

/* A report file --json wrote, ours or Python's (which writes NaN as NaN:
 * read as null, docs/design.md "Non-finite numbers"). */
static json_t *report_from_file(const char *path) {
    json_error_t je;
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "osprofiler: %s is neither a trace id nor a readable file: %s\n",
                path, strerror(errno));
        return NULL;
    }
    json_t *report = osp__json_loadb_finite(text, len, 0, &je);
    free(text);
    if (!report) {
        char *why = osp_term_escape_str(je.text); /* may quote the file's bytes */
        fprintf(stderr, "osprofiler: %s is neither a trace id nor a report file: %s\n",
                path, why ? why : "(out of memory)");
        free(why);
        return NULL;
    }
    if (!json_array_size(json_object_get(report, "children"))) {
        fprintf(stderr, "osprofiler: %s holds no trace (no \"children\")\n", path);
        return NULL; /* the arena frees it */
    }
    return report;
}

/* A report holds the payloads (SQL statements and their parameters), like
 * the store it came from: a new file is the user's alone, as traces.db is;
 * an existing one keeps the mode its owner gave it. */
static FILE *create_private(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    return f;
}

static int to_file(const char *text, size_t len, void *ud) {
    return fwrite(text, 1, len, ud) == len ? 0 : -1;
}

static int to_html(const char *text, size_t len, void *ud) {
    return osp_report_html_json(ud, text, len);
}

static int render_dot(const json_t *report, const char *pdf) {
    char src[4200];
    snprintf(src, sizeof src, "%s.dot", pdf);
    FILE *f = create_private(src);
    if (!f || osp_report_dot(report, to_file, f) != 0 || fclose(f) != 0) {
        fprintf(stderr, "osprofiler: cannot write %s: %s\n", src, strerror(errno));
        return CLI_FAIL;
    }
    char *argv[] = {"dot", "-Tpdf", "-o", (char *)pdf, src, NULL};
    pid_t pid;
    int st = 0, rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (rc == 0)
        waitpid(pid, &st, 0);
    remove(src); /* Python's render(cleanup=True) */
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr,
                "osprofiler: --render-dot needs graphviz's dot (apt-get install "
                "graphviz)%s\n",
                rc ? "" : ": dot failed");
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The report in its format, streamed to out (stdout when NULL): memory
 * stays bounded by a chunk, not by the report (Python builds it whole). */
static int write_report(const json_t *report, char format, const char *out) {
    FILE *f = out ? create_private(out) : stdout;
    if (!f) {
        fprintf(stderr, "osprofiler: cannot write %s: %s\n", out, strerror(errno));
        return CLI_FAIL;
    }
    int rc;
    if (format == 'j') {
        rc = osp_report_json(report, to_file, f);
    } else if (format == 'H') {
        rc = osp_report_html_begin(f);
        rc = rc ? rc : osp_report_json(report, to_html, f);
        rc = rc ? rc : osp_report_html_end(f);
    } else {
        rc = osp_report_dot(report, to_file, f);
    }
    if (rc == 0 && !out && format != 'H' && fputc('\n', f) == EOF) /* Python's print */
        rc = -1;
    if (rc == OSP_ENOMEM)
        errno = ENOMEM;
    if ((out ? fclose(f) : fflush(f)) != 0)
        rc = rc ? rc : -1;
    if (rc) {
        fprintf(stderr, "osprofiler: cannot write %s: %s\n", out ? out : "output",
                strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The report of a big trace is a few million small jansson allocations,
 * all alive until the report is written: a bump arena makes each one a
 * pointer increment and freeing a no-op; the chunks go all at once. */
static struct {
    char *chunk; /* starts with a pointer to the chunk before it */
    size_t used, cap;
} arena;

#define ARENA_HEADER 16 /* the link, keeping 16-byte alignment */

static void *arena_malloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!arena.chunk || arena.used + n > arena.cap) {
        size_t cap = ARENA_HEADER + (n > (1u << 20) ? n : (1u << 20));
        char *c = malloc(cap);
        if (!c)
            return NULL;
        memcpy(c, &arena.chunk, sizeof arena.chunk);
        arena.chunk = c, arena.used = ARENA_HEADER, arena.cap = cap;
    }
    void *p = arena.chunk + arena.used;
    arena.used += n;
    return p;
}

/* Every chunk at once, when the report is no longer used. */
static void arena_release(void) {
    while (arena.chunk) {
        char *prev;
        memcpy(&prev, arena.chunk, sizeof prev);
        free(arena.chunk);
        arena.chunk = prev;
    }
    arena.used = arena.cap = 0;
}

static void arena_free(void *p) { (void)p; }

int cmd_trace_show(int argc, char **argv) {
    static const struct option opts[] = {{"connection-string", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},
                                         {"html", no_argument, 0, 'H'},
                                         {"dot", no_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"render-dot", required_argument, 0, 'r'},
                                         {"local-libs", no_argument, 0, 'l'},
                                         {"idle-timeout", required_argument, 0, 'i'},
                                         {"max-depth", required_argument, 0, 'm'},
                                         {"transport-url", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *conn = NULL, *out = NULL, *pdf = NULL;
    bool json = false, html = false, dot = false;
    unsigned long max_depth = OSP_REPORT_MAX_DEPTH;
    char *end;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conn = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'H':
            html = true;
            break;
        case 'd':
            dot = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'r':
            pdf = optarg;
            break;
        case 'm':
            errno = 0;
            max_depth = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || *optarg == '-' || max_depth == 0) {
                fprintf(stderr, "osprofiler: --max-depth takes a number of points, 1 or "
                                "more\n");
                return CLI_USAGE;
            }
            break;
        case 'l':
        case 'i':
        case 't':
            break;
        case 'h':
            fputs(show_usage, stdout);
            return CLI_OK;
        default:
            fputs(show_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(show_usage, stderr);
        return CLI_USAGE;
    }
    if (!json && !html && !dot) {
        fputs("osprofiler: You should choose one of the following output formats: json, "
              "html or dot.\n",
              stderr);
        return CLI_USAGE;
    }
    const char *id = argv[optind];
    json_set_alloc_funcs(arena_malloc, arena_free);
    json_t *report =
        uuid_like(id) ? report_from_store(store_url(conn), id) : report_from_file(id);
    /* The report lives in the arena until arena_release; what is made while
     * writing (payload trees for --dot labels, re-indent fallbacks) is
     * freed as it goes, so it takes the heap. */
    json_set_alloc_funcs(malloc, free);
    int rc = CLI_OK;
    if (!report) {
        rc = CLI_FAIL;
        goto out;
    }
    /* Checked before anything is written: past the bound the report would
     * be gigabytes of indentation (docs/report.md, "Deep traces"). */
    size_t depth = osp_report_depth(report);
    if (depth > max_depth) {
        fprintf(stderr,
                "osprofiler: trace %s is %zu points deep (its longest parent_id chain), "
                "more than --max-depth %lu; not written. Python's CLI fails on such a "
                "trace (RecursionError past 495 levels); raise --max-depth to write it "
                "anyway: --json and --html grow with the square of the depth.\n",
                id, depth, max_depth);
        rc = CLI_FAIL;
    } else { /* json > html > dot, as Python */
        rc = write_report(report, json ? 'j' : html ? 'H' : 'd', out);
        if (rc == CLI_OK && dot && !json && !html && pdf)
            rc = render_dot(report, pdf);
    }
out:
    arena_release(); /* the report, at once: no json_decref walks it */
    return rc;
}

struct table {
    char **ids, **times;
    size_t n, cap, wid, wts;
};

static int add_row(const char *base_id, const char *timestamp, void *ud) {
    struct table *t = ud;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **a = realloc(t->ids, cap * sizeof *a),
             **b = a ? realloc(t->times, cap * sizeof *b) : NULL;
        if (a)
            t->ids = a;
        if (!b)
            return OSP_ENOMEM;
        t->times = b, t->cap = cap;
    }
    /* stored text: escaped for the terminal (term.h), measured once escaped */
    t->ids[t->n] = osp_term_escape_str(base_id ? base_id : "None");
    t->times[t->n] = osp_term_escape_str(timestamp ? timestamp : "None");
    if (!t->ids[t->n] || !t->times[t->n])
        return OSP_ENOMEM;
    size_t a = osp_term_width(t->ids[t->n]), b = osp_term_width(t->times[t->n]);
    t->wid = a > t->wid ? a : t->wid;
    t->wts = b > t->wts ? b : t->wts;
    t->n++;
    return 0;
}

static void rule(size_t a, size_t b) {
    putchar('+');
    for (size_t i = 0; i < a + 2; i++)
        putchar('-');
    putchar('+');
    for (size_t i = 0; i < b + 2; i++)
        putchar('-');
    puts("+");
}

int cmd_trace_list(int argc, char **argv) {
    static const struct option opts[] = {{"connection-string", required_argument, 0, 'c'},
                                         {"error-trace", required_argument, 0, 'e'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *conn = NULL;
    bool errors_only = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conn = optarg;
            break;
        case 'e':
            errors_only = *optarg != '\0'; /* argparse type=bool */
            break;
        case 'h':
            fputs(list_usage, stdout);
            return CLI_OK;
        default:
            fputs(list_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (argc != optind) {
        fputs(list_usage, stderr);
        return CLI_USAGE;
    }
    osp_store_t *s = open_store(store_url(conn));
    if (!s)
        return CLI_FAIL;
    struct table t = {.wid = strlen("base_id"), .wts = strlen("timestamp")};
    osp_error_t err;
    int rc = osp_store_list(s, errors_only, add_row, &t, &err);
    if (rc != OSP_OK)
        fprintf(stderr, "osprofiler: %s\n",
                rc == OSP_ENOMEM ? "out of memory" : err.text);
    else {
        /* prettytable, left-aligned, as Python's CLI prints it */
        rule(t.wid, t.wts);
        printf("| %-*s | %-*s |\n", (int)t.wid, "base_id", (int)t.wts, "timestamp");
        rule(t.wid, t.wts);
        for (size_t i = 0; i < t.n; i++)
            printf("| %s%*s | %s%*s |\n", t.ids[i],
                   (int)(t.wid - osp_term_width(t.ids[i])), "", t.times[i],
                   (int)(t.wts - osp_term_width(t.times[i])), "");
        rule(t.wid, t.wts);
    }
    for (size_t i = 0; i < t.n; i++) {
        free(t.ids[i]);
        free(t.times[i]);
    }
    free(t.ids);
    free(t.times);
    osp_store_close(s);
    return rc == OSP_OK ? CLI_OK : CLI_FAIL;
}
