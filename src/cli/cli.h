/* SPDX-License-Identifier: Apache-2.0 */
/* cli - subcommand entry points of the osprofiler command. */
#ifndef OSP_CLI_H
#define OSP_CLI_H

/* Exit codes: 0 success, 1 the operation failed (reason on stderr), 2 usage. */
#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

int cmd_header(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trace_show(int argc, char **argv); /* cmd_show.c */
int cmd_trace_list(int argc, char **argv);

#endif
