/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_run - "osprofiler run [--name N] [--hmac-key K] [--service S]
 * [--project P] -- CMD ARGS...": trace any command.
 *
 * The command runs inside a N-start/N-stop point sent to the sidecar; the
 * stop carries etype/message when the command fails or is killed. The child
 * gets the context in the environment (docs/wire.md: OSPROFILER_BASE_ID,
 * OSPROFILER_PARENT_ID = this point, OSPROFILER_HMAC_KEY, OSPROFILER_SERVICE,
 * OSPROFILER_PROJECT), so a nested "osprofiler run" or a libosprofiler
 * program continues the trace below it. Flags override the environment.
 * Exit status: the child's (128 + signal number when killed).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <osprofiler/osprofiler.h>

#include "cli.h"

static const char run_usage[] =
    "usage: osprofiler run [--name NAME] [--hmac-key KEY] [--service S] [--project P]\n"
    "                      -- CMD [ARGS...]\n"
    "  Runs CMD inside a NAME-start/NAME-stop trace point (default name: run) sent to\n"
    "  osprofiler-sidecar ($OSPROFILER_SIDECAR). A trace in the environment\n"
    "  ($OSPROFILER_BASE_ID...) is continued; the child inherits this point as parent.\n";

static volatile sig_atomic_t child_pid;

static void forward(int sig) {
    if (child_pid > 0)
        kill(child_pid, sig);
}

int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},    {"hmac-key", required_argument, 0, 'k'},
        {"service", required_argument, 0, 's'}, {"project", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *name = "run", *key = NULL, *service = getenv(OSP_ENV_SERVICE),
               *project = getenv(OSP_ENV_PROJECT);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 'p':
            project = optarg;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return CLI_OK;
        default:
            fputs(run_usage, stderr);
            return CLI_USAGE;
        }
    }
    if (optind >= argc || strchr(name, '-')) {
        fputs(optind >= argc ? run_usage
                             : "osprofiler run: a point name must not contain '-'\n",
              stderr);
        return CLI_USAGE;
    }
    char **cmd = argv + optind;

    osp_config_t *cfg = osp_config_new();
    osp_config_set_enabled(cfg, true);
    osp_config_set_service(cfg, service ? service : "osprofiler-run");
    osp_config_set_project(cfg, project);
    osp_config_set_ring_size(cfg, 0); /* two points: the socket is enough */
    osp_error_t err;
    if (osp_setup(cfg, &err) != OSP_OK)
        fprintf(stderr, "osprofiler run: tracing off: %s\n", err.text);
    osp_config_free(cfg);

    /* The environment directly, not an osp_context_t: ids of any length go
     * on (Python's profiler.init takes them), none is cut or replaced. */
    const char *base = getenv(OSP_ENV_BASE_ID), *parent = getenv(OSP_ENV_PARENT_ID);
    if (!key)
        key = getenv(OSP_ENV_HMAC_KEY);
    osp_profiler_t *prof = osp_init(key, base, parent);

    json_t *argv_json = json_array();
    for (char **a = cmd; *a; a++)
        json_array_append_new(argv_json, json_string(*a));
    json_t *info = json_pack("{s{s:o}}", "run", "argv", argv_json);
    osp_start(name, info);
    json_decref(info);
    osp_flush();

    /* The child continues the trace below this point. */
    if (prof) {
        setenv(OSP_ENV_BASE_ID, osp_profiler_base_id(prof), 1);
        setenv(OSP_ENV_PARENT_ID, osp_profiler_id(prof), 1);
    }
    if (key)
        setenv(OSP_ENV_HMAC_KEY, key, 1);
    /* What named this point names the child's too, flag or inherited: a
     * child without --project would otherwise publish project null. */
    if (service)
        setenv(OSP_ENV_SERVICE, service, 1);
    if (project)
        setenv(OSP_ENV_PROJECT, project, 1);

    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(cmd[0], cmd);
        fprintf(stderr, "osprofiler run: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    int status = 0, rc;
    char msg[160];
    if (pid < 0) {
        snprintf(msg, sizeof msg, "fork: %s", strerror(errno));
        osp_stop_error("OSError", msg);
        rc = 127;
    } else {
        child_pid = pid;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFSIGNALED(status)) {
            snprintf(msg, sizeof msg, "%s killed by signal %d (%s)", cmd[0],
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
            osp_stop_error("Signal", msg);
            rc = 128 + WTERMSIG(status);
        } else if (WEXITSTATUS(status) != 0) {
            snprintf(msg, sizeof msg, "%s exited with status %d", cmd[0],
                     WEXITSTATUS(status));
            osp_stop_error("ExitStatus", msg);
            rc = WEXITSTATUS(status);
        } else {
            osp_stop(NULL);
            rc = 0;
        }
    }
    osp_clean();
    osp_teardown();
    return rc;
}
