/* SPDX-License-Identifier: Apache-2.0 */
/*
 * osprofiler - the command-line tool. It keeps the Python CLI's command
 * groups ("trace show", "trace list") and adds "header sign|verify" for
 * operators who debug propagation, and "run".
 */
#include <stdio.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

#include "cli.h"
#include "store/store.h"

static void usage(FILE *out) {
    fputs("usage: osprofiler [-h] [-v] <command> ...\n"
          "\n"
          "commands:\n"
          "  trace show     a trace's report: --json (as Python's), --html (one\n"
          "                 self-contained file), --dot; from a store or a report file\n"
          "  trace list     the traces of a store (--error-trace: those with errors)\n"
          "  header sign    print X-Trace-Info / X-Trace-HMAC for a trace context\n"
          "  header verify  check X-Trace-Info / X-Trace-HMAC against hmac keys\n"
          "  trace tree     print the trace points of a JSON-lines file as a tree\n"
          "  run            run a command inside a trace point (via the sidecar)\n"
          "\n"
          "Stores (--connection-string, $OSPROFILER_CONNECTION_STRING): sqlite:///PATH,\n"
          "postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DB[?PARAMS],\n"
          "redis://[:PASSWORD@]HOST[:PORT][/DB]; default " OSP_STORE_DEFAULT_URL ".\n"
          "Run 'osprofiler <command> <subcommand> --help' for details.\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--version") == 0) {
        printf("%s\n", osp_version_string());
        return CLI_OK;
    }
    if (strcmp(cmd, "header") == 0)
        return cmd_header(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0)
        return cmd_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    fprintf(stderr, "osprofiler: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
