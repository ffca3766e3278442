/* activate({ children: 'strict' }): every exec of this process runs the program under its own strict
 * supervisor instead, `tethered-strict --exec PATH -- ARGV…` (built beside this library), whatever
 * environment the caller passed. The supervisor is the command's parent, so it is an ancestor of every
 * process it judges (what Yama's ptrace_scope=1 asks), and the filter covers every descendant.
 *
 * The policy travels in the supervisor's environment, built here from the configuration's own variables
 * (cfg->inject): the caller's TETHERED_* entries are dropped first, so an empty environment, or one with
 * a looser policy, changes nothing. The supervisor gives the command its environment without them. The
 * dynamic loader's variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …) of the caller's environment must
 * not reach the supervisor itself (a library loaded into it could let anything through): they travel as
 * TETHERED_PASS_LD_…, which the supervisor turns back into LD_… for the command only.
 *
 * The program is found before the exec (PATH searched here for the execvp family): a missing program
 * fails with ENOENT as it would, instead of a supervisor that starts and exits 127 (libuv tries each
 * directory of PATH in turn and needs that errno). Everything is built on the stack: an exec may run in a
 * vfork() child.
 *
 * The supervisor is the copy pinned when children: 'strict' is first configured (pin.c), executed through
 * its memfd, never by its path: the file beside this library may be replaced afterwards by anything able
 * to write the package directory. Without a pinned copy (no memfd, or the file was not an ELF program)
 * every exec fails with EACCES. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pin.h"
#include "shim.h"

extern char **environ;

static char strict_path[TD_PATH_MAX];
static int pinned = -1; /* the supervisor's sealed memfd */
static struct stat pinned_stat;

void td_strict_prepare(void) {
    const char *slash = strrchr(td_self_path, '/');
    if (pinned >= 0 || !slash) return;
    size_t n = (size_t)(slash - td_self_path);
    static const char name[] = "/tethered-strict";
    if (n + sizeof name > sizeof strict_path) return;
    memcpy(strict_path, td_self_path, n);
    memcpy(strict_path + n, name, sizeof name);
    char why[TD_PATH_MAX + 100], line[sizeof why + 100];
    pinned = td_pin_binary(strict_path, 256, &pinned_stat, why, sizeof why);
    if (pinned >= 0) return;
    snprintf(
        line, sizeof line,
        "tethered: children: 'strict' cannot pin its supervisor (%s): every exec will fail with EACCES\n",
        why);
    if (write(2, line, strlen(line)) < 0) {
    }
}

/* 0 when the pinned supervisor can be executed, else -1 with EACCES (and a message once): the descriptor
 * was never made, or something closed it or put another file at its number. */
static int pin_ready(void) {
    if (pinned >= 0 && td_pin_intact(pinned, &pinned_stat)) return 0;
    static int said;
    td_warn_once(&said,
                 "tethered: children: 'strict' has no pinned supervisor (its descriptor is gone or was never "
                 "made): the exec is refused\n");
    errno = EACCES;
    return -1;
}

/* The pinned supervisor executed through its descriptor: the raw system call (libc's execveat is this
 * library's hook, and glibc before 2.34 has none). */
static int exec_pinned(char *const argv[], char *const envp[]) {
    if (!td_real.syscall) td_resolve_real();
    return (int)td_real.syscall(SYS_execveat, pinned, "", argv, envp, AT_EMPTY_PATH);
}

int td_strict_children(void) {
    const struct td_config *cfg = td_config();
    return cfg && cfg->children_strict;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define PASS "TETHERED_PASS_"

/* Bytes the renamed LD_* entries of `envp` need. */
static size_t renamed_size(char *const *envp) {
    size_t n = 1;
    for (size_t i = 0; envp && envp[i]; i++)
        if (starts_with(envp[i], "LD_")) n += sizeof PASS + strlen(envp[i]);
    return n;
}

/* The supervisor's environment: `envp` without TETHERED_* (TETHERED_PASS_* stay: only the command gets
 * them back, under the filter), LD_* renamed into `buf`, then the policy. */
static char *const *strict_env(const struct td_config *cfg, char *const *envp, char **out, char *buf) {
    size_t n = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];
        if (starts_with(e, "TETHERED_") && !starts_with(e, PASS)) continue;
        if (starts_with(e, "LD_")) {
            size_t len = strlen(e);
            memcpy(buf, PASS, sizeof PASS - 1);
            memcpy(buf + sizeof PASS - 1, e, len + 1);
            out[n++] = buf;
            buf += sizeof PASS + len;
            continue;
        }
        out[n++] = (char *)e;
    }
    for (size_t i = 0; i < cfg->ninject; i++) out[n++] = cfg->inject[i];
    out[n] = NULL;
    return out;
}

/* 0 when `path` names a program this process may execute, else -1 with errno as exec would set it. */
static int runnable(const char *path) {
    if (!*path) {
        errno = ENOENT;
        return -1;
    }
    return access(path, X_OK);
}

/* The execvp family's search of PATH, into `out`: 0, or -1 with errno. */
static int search(const char *file, char *out, size_t cap) {
    if (strchr(file, '/')) {
        if (strlen(file) >= cap) return errno = ENAMETOOLONG, -1;
        strcpy(out, file);
        return runnable(out);
    }
    if (!*file) return errno = ENOENT, -1;
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    int denied = 0;
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len + strlen(file) + 2 < cap) {
            if (len) {
                memcpy(out, p, len);
                out[len] = '/';
                strcpy(out + len + 1, file);
            } else {
                strcpy(out, file); /* an empty entry is the working directory */
            }
            if (runnable(out) == 0) return 0;
            denied |= errno == EACCES;
        }
        if (!end) break;
        p = end + 1;
    }
    errno = denied ? EACCES : ENOENT;
    return -1;
}

/* The supervisor's command line for `path`: tethered-strict --exec PATH -- ARGV (argc + 5 entries and the
 * NULL: `args` holds argc + 6). */
static void supervisor_args(char **args, const char *path, char *const argv[], size_t argc) {
    size_t n = 0;
    args[n++] = "tethered-strict";
    args[n++] = "--exec";
    args[n++] = (char *)path;
    args[n++] = "--";
    for (size_t i = 0; i < argc; i++) args[n++] = argv[i];
    if (argc == 0) args[n++] = (char *)path; /* an empty argv: the program still gets a name */
    args[n] = NULL;
}

/* Runs `path` (found already) under the pinned supervisor, which its callers found ready. The caller's
 * path-based exec is never used: the supervisor is not executed by a path. */
static int wrap(const char *path, char *const argv[], char *const envp[]) {
    const struct td_config *cfg = td_config();
    size_t argc = 0;
    while (argv && argv[argc]) argc++;
    char *args[argc + 6];
    size_t count = td_env_count(envp);
    char *env_[count + TD_MAX_INJECT + 1];
    char renamed[renamed_size(envp)];
    char *const *env = strict_env(cfg, envp, env_, renamed);
    /* The supervisor itself asked for by its path runs as the pinned copy, whatever is at the path now. */
    if (strcmp(path, strict_path) == 0) return exec_pinned(argv, env);
    supervisor_args(args, path, argv, argc);
    return exec_pinned(args, env);
}

int td_strict_execve(const char *path, char *const argv[], char *const envp[], td_execve_fn exec) {
    if (pin_ready() != 0) return -1; /* no supervisor to run it under: not run at all */
    (void)exec;
    if (runnable(path) != 0) return -1;
    return wrap(path, argv, envp);
}

int td_strict_execvpe(const char *file, char *const argv[], char *const envp[], td_execve_fn exec) {
    char found[TD_PATH_MAX];
    if (pin_ready() != 0) return -1;
    (void)exec;
    if (search(file, found, sizeof found) != 0) return -1;
    return wrap(found, argv, envp);
}

/* execveat and fexecve: the program is named by a descriptor, which the supervisor reaches through
 * /proc/self/fd (so it must stay open across the supervisor's exec). */
int td_strict_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags,
                       td_execve_fn exec) {
    char at[TD_PATH_MAX];
    if (path && path[0] == '/') return td_strict_execve(path, argv, envp, exec);
    if (dirfd == AT_FDCWD) return td_strict_execve(path ? path : "", argv, envp, exec);
    if (fcntl(dirfd, F_SETFD, 0) != 0) return -1;
    size_t n = (flags & AT_EMPTY_PATH) && (!path || !*path)
                   ? (size_t)snprintf(at, sizeof at, "/proc/self/fd/%d", dirfd)
                   : (size_t)snprintf(at, sizeof at, "/proc/self/fd/%d/%s", dirfd, path ? path : "");
    if (n >= sizeof at) return errno = ENAMETOOLONG, -1;
    return td_strict_execve(at, argv, envp, exec);
}

/* posix_spawn: the same wrapping, spawned. posix_spawn takes a path, not a descriptor, and its child runs
 * the caller's file actions before the exec: /proc/self/fd/N would name whatever those actions put at N in
 * the child (an open of any file there). The path is /proc/PID/fd/N of this process instead, resolved in
 * the child against this process's descriptor table, which the actions do not touch; it is checked here to
 * be the pinned memfd (a /proc of another PID namespace names another process: refused). */
int td_strict_spawn(pid_t *pid, const char *file, int search_path, const posix_spawn_file_actions_t *actions,
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    char found[TD_PATH_MAX], self[64];
    struct stat at;
    if (pin_ready() != 0) return EACCES;
    snprintf(self, sizeof self, "/proc/%d/fd/%d", (int)getpid(), pinned);
    if (stat(self, &at) != 0 || at.st_dev != pinned_stat.st_dev || at.st_ino != pinned_stat.st_ino) {
        static int said;
        td_warn_once(&said,
                     "tethered: children: 'strict' cannot reach its pinned supervisor through /proc: "
                     "posix_spawn is refused\n");
        return EACCES;
    }
    if ((search_path ? search(file, found, sizeof found) : runnable(file)) != 0) return errno;
    const char *path = search_path ? found : file;
    const struct td_config *cfg = td_config();
    size_t argc = 0;
    while (argv && argv[argc]) argc++;
    char *args[argc + 6];
    size_t count = td_env_count(envp);
    char *env_[count + TD_MAX_INJECT + 1];
    char renamed[renamed_size(envp)];
    char *const *env = strict_env(cfg, envp, env_, renamed);
    if (!td_real.posix_spawn) td_resolve_real();
    if (strcmp(path, strict_path) == 0) return td_real.posix_spawn(pid, self, actions, attr, argv, env);
    supervisor_args(args, path, argv, argc);
    return td_real.posix_spawn(pid, self, actions, attr, args, env);
}
