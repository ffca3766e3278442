/* tethered-strict [-- ] CMD ARG…: runs CMD under the strict filter with this process as its supervisor.
 * tethered-strict --exec PATH -- ARGV…: the same with PATH executed as it is (no search), argv as given,
 * and a signal that ends CMD ending this process too: how activate({ children: 'strict' }) wraps an exec
 * (native/shim/strictexec.c). tethered-strict --serve: serves the listener of another process (serve.c).
 * The policy comes from the TETHERED_* environment (config.c), which CMD does not get. Exits with CMD's
 * status (128+N when a signal N ended it); 2 when strict mode cannot start (the policy is fine, but the
 * kernel or a container profile refuses seccomp user notification); 127 when CMD cannot be found.
 *
 * The supervisor is CMD's parent, so it is an ancestor of every process it judges: that is what Yama's
 * ptrace_scope=1 requires for pidfd_getfd and process_vm_readv (docs/strict-mode.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strict.h"

static pid_t child;
static const char *exec_path; /* --exec: the path to execute, as execve() would */

static void forward(int sig) {
    if (child > 0) kill(child, sig);
}

static void say(const char *line) {
    if (write(2, line, strlen(line)) < 0) {
    }
}

/* TETHERED_PASS_NAME=value becomes NAME=value for the command: how the exec wrapper hands the command
 * the dynamic loader's variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT) without this process, the
 * supervisor, being started with them. Called after the TETHERED_* variables are gone: from a copy. */
static char **passed;

static void save_passed(void) {
    size_t n = 0, k = 0;
    for (char **e = environ; *e; e++) n++;
    passed = calloc(n + 1, sizeof *passed);
    for (char **e = environ; passed && *e; e++)
        if (strncmp(*e, "TETHERED_PASS_", 14) == 0 && strchr(*e, '=')) passed[k++] = strdup(*e + 14);
}

static void restore_passed(void) {
    for (char **p = passed; p && *p; p++) {
        char *eq = strchr(*p, '=');
        if (!eq) continue;
        *eq = 0;
        setenv(*p, eq + 1, 1);
    }
}

/* The child: filter, tell the parent the listener's number (it takes the descriptor itself with
 * pidfd_getfd: a sendmsg with SCM_RIGHTS would already be a judged call, waiting for a supervisor that has
 * no listener yet), wait until it serves, exec. */
static void start_command(int chan, char **argv) {
    int listener = ts_install_filter();
    int msg = listener >= 0 ? listener : -errno;
    if (write(chan, &msg, sizeof msg) != sizeof msg || listener < 0) _exit(2);
    char byte;
    if (read(chan, &byte, 1) != 1) _exit(2);
    close(listener); /* only the supervisor may hold it: the command must not answer its own calls */
    close(chan);
    /* The policy is the supervisor's business: the command gets the environment without it. */
    ts_unset_tethered_env();
    restore_passed();
    ts_names_child_env();
    if (exec_path) {
        execve(exec_path, argv, environ);
        if (errno == ENOEXEC) { /* a script without #!: the shell runs it, as execvp() does */
            size_t n = 0;
            while (argv[n]) n++;
            char *sh[n + 2];
            sh[0] = "sh";
            sh[1] = (char *)exec_path;
            for (size_t i = 1; i <= n; i++) sh[i + 1] = argv[i];
            execve("/bin/sh", sh, environ);
        }
    } else {
        execvp(argv[0], argv);
    }
    int e = errno;
    char line[600];
    snprintf(line, sizeof line, "tethered: cannot run \"%.400s\": %s\n", argv[0],
             e == ENOENT ? "command not found" : strerror(e));
    say(line);
    _exit(e == ENOENT ? 127 : 126);
}

int main(int argc, char **argv) {
    /* Executed from a memfd (execveat, native/shim/pin.c) the process's name would be the descriptor's
     * number: ps, top and /proc/PID/stat show the supervisor by its own name instead. */
    prctl(PR_SET_NAME, "tethered-strict", 0, 0, 0);
    int at = 1;
    if (argc == 2 && strcmp(argv[1], "--serve") == 0) return ts_serve(3, 4);
    if (at + 1 < argc && strcmp(argv[at], "--exec") == 0) {
        exec_path = argv[at + 1];
        at += 2;
    }
    if (at < argc && strcmp(argv[at], "--") == 0) at++;
    save_passed();
    if (at >= argc) {
        say("usage: tethered-strict [--] COMMAND [ARG...] (the policy comes from TETHERED_* variables)\n");
        return 2;
    }
    ts_load_config(); /* a broken policy blocks everything: the command still runs, as in preload mode */
    ts_say_privileges(argv[at]);
    int chan[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) != 0) {
        perror("tethered: socketpair");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Orphans of the command are re-parented to the supervisor, not to init: they stay its descendants,
     * which is what Yama's ptrace_scope=1 asks of the processes it reaches into. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    child = fork();
    if (child < 0) {
        perror("tethered: fork");
        return 2;
    }
    if (child == 0) {
        close(chan[0]);
        signal(SIGPIPE, SIG_DFL);
        start_command(chan[1], argv + at);
    }
    close(chan[1]);
    /* The command (same user) must not be able to ptrace the supervisor and act through it. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int msg = 0, err = EPROTO, listener = -1;
    if (read(chan[0], &msg, sizeof msg) == sizeof msg) {
        if (msg < 0) {
            err = -msg;
        } else {
            int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
            listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, msg, 0);
            if (listener < 0) err = errno;
            if (pidfd >= 0) close(pidfd);
        }
    }
    if (listener < 0) {
        char line[400];
        snprintf(line, sizeof line,
                 "tethered: strict mode is unavailable here: this system refuses a seccomp filter with user "
                 "notification (%s); it needs Linux 5.9 or later and a container profile that allows "
                 "seccomp(); the command was not started\n",
                 strerror(err));
        say(line);
        waitpid(child, NULL, 0);
        return 2;
    }
    if (ts_supervise(listener) != 0) {
        say("tethered: strict mode cannot start its supervisor threads; the command was not started\n");
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &sa, NULL);
    char go = 1;
    if (write(chan[0], &go, 1) != 1) {
    }
    close(chan[0]);
    int status;
    for (;;) {
        pid_t done = waitpid(-1, &status, 0); /* also reaps the re-parented orphans */
        if (done == child) break;
        if (done < 0 && errno != EINTR) return 2;
    }
    /* Descendants still running keep the filter; with the supervisor gone their judged calls fail. */
    if (WIFSIGNALED(status) && exec_path) {
        /* the wrapped command's parent sees the signal, as without the wrapper */
        signal(WTERMSIG(status), SIG_DFL);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core dump of the supervisor */
        kill(getpid(), WTERMSIG(status));
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
