/* tethered-strict --serve: the supervisor of activate({ strict: true }). The addon starts it as a child of
 * the Node process, before that process loads the filter into itself (all its threads, SECCOMP_FILTER_FLAG_
 * TSYNC); it then judges the calls of the Node process and of every descendant, as in `tethered run
 * --strict`. Descriptor 3 is the command channel with the addon, descriptor 4 carries event lines to it.
 *
 * Messages on the channel (one per SOCK_SEQPACKET record, text lines):
 *   listener PID FD     the filter's listener is descriptor FD of process PID: taken with pidfd_getfd (a
 *                       sendmsg with SCM_RIGHTS from a process under the filter would itself be a judged
 *                       call, waiting for a supervisor that has no listener yet)
 *   policy              key=HEX (the lock key in force, or empty), lock=HEX (a key to lock the new policy
 *                       with, or empty), then TETHERED_* lines: the policy, as the environment gives it
 *   off                 key=HEX: allow everything, record nothing (deactivate())
 *   verify              sent once the process closed its own copy of the listener: no other descriptor, in
 *                       any process this one can look into, may refer to it (a native thread that was
 *                       running before the filter could have dup()ed it, and would answer its own
 *                       notifications). When one does, the answer is an error and from then on every
 *                       judged call is refused and every message answered with that error.
 * Each carries a line id=N and is answered with one record "N ok", "N locked", or "N error TEXT" (anything
 * in the process may write here too: the addon reads past answers to messages it did not send).
 *
 * The lock lives here, not in the process it protects: native code in the Node process can write to this
 * channel (the descriptor is in its table) and can read or write any memory of its own, but not this
 * process's (it is not dumpable: no ptrace, no /proc/PID/mem, no pidfd_getfd by the same user). A locked
 * policy never changes again: no message, whatever key it carries, replaces or lifts it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
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

#define TS_MESSAGE_MAX (256 * 1024)
#define TS_KEY_SIZE 32

static int locked;
static int events_fd = -1;

static void reply(int chan, const char *text) {
    if (write(chan, text, strlen(text)) < 0) {
    }
}

static const char *value_of(const char *msg, const char *name, size_t *len);

/* The answer to `msg`, after its id= (so the addon tells it from answers to messages others wrote). */
static void answer(int chan, const char *msg, const char *text) {
    size_t n = 0;
    const char *id = value_of(msg, "id", &n);
    char line[600];
    snprintf(line, sizeof line, "%.*s %s", (int)(id && n < 32 ? n : 0), id ? id : "", text);
    reply(chan, line);
}

static int unhex(const char *s, size_t n, uint8_t *out, size_t cap) {
    if (n != cap * 2) return -1;
    for (size_t i = 0; i < cap; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + (size_t)j];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16u;
            if (d > 15) return -1;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* The value of line `name=` in the message, or NULL; *len its length. */
static const char *value_of(const char *msg, const char *name, size_t *len) {
    size_t n = strlen(name);
    for (const char *p = msg; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            *len = strcspn(p + n + 1, "\n");
            return p + n + 1;
        }
    }
    return NULL;
}

/* May the policy change? Not once it is locked: a locked strict policy stays for the life of the process,
 * whatever the message presents. A key that could unlock it would have to live in the process (beside the
 * lockToken), where the native code the lock protects against could read it. */
static int may_change(void) {
    return !locked;
}

/* After a change: locked when the message asks for it (lock= with a key). */
static void relock(const char *msg) {
    size_t n = 0;
    const char *hex = value_of(msg, "lock", &n);
    uint8_t key[TS_KEY_SIZE];
    locked = hex && n && unhex(hex, n, key, sizeof key) == 0;
    explicit_bzero(key, sizeof key);
}

/* Puts the message's TETHERED_* lines in the environment (no others) and compiles them. */
static void apply_policy(int chan, char *msg) {
    ts_unset_tethered_env();
    for (char *line = msg; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        char *eq = strchr(line, '=');
        if (eq && strncmp(line, "TETHERED_", 9) == 0 && strncmp(line, "TETHERED_LOG=", 13) != 0) {
            *eq = 0;
            setenv(line, eq + 1, 1);
            *eq = '=';
        }
        if (end) *end = '\n';
        line = end ? end + 1 : NULL;
    }
    setenv("TETHERED_LOG", "off", 1); /* events go to the addon (descriptor 4), which writes the log */
    struct ts_config fresh = {.log_fd = -1};
    int saved_err = dup(2);
    int quiet = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (quiet >= 0) dup2(quiet, 2); /* the reason goes back to the addon, not to the terminal twice */
    int rc = ts_load_config_to(&fresh);
    if (saved_err >= 0) dup2(saved_err, 2), close(saved_err);
    if (quiet >= 0) close(quiet);
    if (rc != 0 || !fresh.policy) {
        answer(chan, msg, "error the policy cannot be used");
        return;
    }
    /* Published field by field while workers judge: each reads a consistent policy pointer. The policy
     * replaced is not freed (a worker may be reading it; a change is rare). */
    ts_config.log_mode = fresh.log_mode;
    ts_config.log_allowed = fresh.log_allowed;
    ts_config.policy = fresh.policy;
    ts_config.log = TS_LOG_OFF;
    ts_config.log_fd = events_fd;
    relock(msg);
    answer(chan, msg, "ok");
}

/* The filter's listener, taken out of the Node process's table. */
static int take_listener(int chan, const char *msg) {
    int pid = 0, fd = -1;
    if (sscanf(msg, "listener %d %d", &pid, &fd) != 2 || pid <= 0 || fd < 0) {
        answer(chan, msg, "error malformed");
        return -1;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    int err = errno;
    if (pidfd >= 0) close(pidfd);
    char line[96], link[64] = "", path[64];
    /* What was taken must be a seccomp listener (not whatever else sits at that number now). */
    snprintf(path, sizeof path, "/proc/self/fd/%d", listener);
    if (listener >= 0 && (readlink(path, link, sizeof link - 1) < 0 || strstr(link, "seccomp") == NULL)) {
        close(listener);
        listener = -1;
        err = EBADF;
    }
    if (listener < 0) {
        snprintf(line, sizeof line, "error %d", err);
        answer(chan, msg, line);
        return -1;
    }
    if (ts_supervise(listener) != 0) {
        close(listener);
        answer(chan, msg, "error threads");
        return -1;
    }
    answer(chan, msg, "ok");
    return listener;
}

/* Does a descriptor of another process (or another of ours) refer to our listener? Walks the tables of
 * every process this one can read (the Node process and all of the same user: a copy may have been handed
 * to a child it forked); those it cannot read are skipped. 0 when none does, else a reason. */
static const char *other_holder(int listener, char *why, size_t cap) {
    DIR *procs = opendir("/proc");
    if (!procs) return "/proc cannot be read";
    const char *found = NULL;
    pid_t self = getpid();
    for (struct dirent *p; !found && (p = readdir(procs));) {
        char *end;
        long pid = strtol(p->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
        DIR *fds = opendir(dir);
        if (!fds) continue;
        for (struct dirent *f; !found && (f = readdir(fds));) {
            long fd = strtol(f->d_name, &end, 10);
            if (*end || fd < 0 || f->d_name[0] == '.') continue;
            if (pid == self && fd == listener) continue;
            char path[96], link[64] = "";
            snprintf(path, sizeof path, "%s/%ld", dir, fd);
            if (readlink(path, link, sizeof link - 1) < 0 || strcmp(link, "anon_inode:seccomp notify") != 0)
                continue;
            long same = syscall(SYS_kcmp, pid, self, KCMP_FILE, fd, listener);
            if (same == 0 || (same < 0 && errno == ENOSYS)) {
                snprintf(why, cap,
                         same == 0 ? "descriptor %ld of process %ld is a copy of it"
                                   : "kcmp() is missing: cannot tell whether descriptor %ld of "
                                     "process %ld is a copy of it",
                         fd, pid);
                found = why;
            }
        }
        closedir(fds);
    }
    closedir(procs);
    return found;
}

/* Can this system give a listener, and can this process take it from another (pidfd_getfd)? Tried on a
 * child of ours before the Node process commits itself to a filter it could never remove. 0 or errno. */
static int probe(void) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return errno;
    pid_t child = fork();
    if (child < 0) return errno;
    if (child == 0) {
        close(pair[0]);
        int listener = ts_load_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER);
        int msg = listener >= 0 ? listener : -errno;
        if (write(pair[1], &msg, sizeof msg) != sizeof msg) _exit(2);
        char byte;
        if (read(pair[1], &byte, 1) < 0) _exit(2);
        _exit(0);
    }
    close(pair[1]);
    int msg = 0, err = EPROTO;
    if (read(pair[0], &msg, sizeof msg) == sizeof msg) {
        if (msg < 0) {
            err = -msg;
        } else {
            int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
            int listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, msg, 0);
            err = listener < 0 ? errno : 0;
            if (listener >= 0) close(listener);
            if (pidfd >= 0) close(pidfd);
        }
    }
    close(pair[0]); /* the child reads EOF and exits */
    waitpid(child, NULL, 0);
    return err;
}

int ts_serve(int chan, int events) {
    /* Nothing in the Node process (same user) may attach to this one, read its memory (the lock's hash,
     * the policy) or take its descriptors (the listener). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    events_fd = events;
    /* A reader that stops reading (the Node process busy, or hostile) must never stall a judged call: an
     * event that does not fit is dropped. */
    fcntl(events, F_SETFL, fcntl(events, F_GETFL) | O_NONBLOCK);
    ts_config.policy = NULL; /* no policy yet: everything blocked */
    ts_config.log = TS_LOG_OFF;
    ts_config.log_fd = events;
    int err = probe();
    char line[96];
    snprintf(line, sizeof line, err ? "unavailable %d" : "ready", err);
    reply(chan, line);
    if (err) return 2;
    char *msg = malloc(TS_MESSAGE_MAX + 1);
    if (!msg) return 2;
    int listener = -1, chan_open = 1;
    static char refused_text[300];
    const char *refused = NULL;
    for (;;) {
        struct pollfd p[2] = {{chan_open ? chan : -1, POLLIN, 0}, {listener, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 2;
        }
        /* Every process under the filter is gone: nothing left to judge. */
        if (listener >= 0 && (p[1].revents & (POLLHUP | POLLERR))) return 0;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(chan, msg, TS_MESSAGE_MAX);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            /* The channel is gone (the process closed it, or exited): the policy stays as it is for as long
             * as any process is under the filter. */
            if (listener < 0) return 0;
            close(chan);
            chan_open = 0;
            continue;
        }
        msg[n] = 0;
        if (refused) {
            answer(chan, msg, refused);
        } else if (strncmp(msg, "verify\n", 7) == 0) {
            char why[200];
            const char *holder = listener < 0 ? "no listener" : other_holder(listener, why, sizeof why);
            if (!holder) {
                answer(chan, msg, "ok");
                continue;
            }
            /* Fail closed: no policy, locked, nothing changes it again; this process goes on refusing what
             * it receives (it stays: while the copy is open, a call nobody answers would wait forever). */
            ts_config.policy = NULL;
            ts_config.log_mode = 0;
            ts_config.log_allowed = 0;
            locked = 1;
            snprintf(refused_text, sizeof refused_text,
                     "error another descriptor refers to the filter's listener (%s)", holder);
            refused = refused_text;
            answer(chan, msg, refused);
        } else if (strncmp(msg, "listener ", 9) == 0) {
            if (listener >= 0)
                answer(chan, msg, "error the listener is taken already");
            else
                listener = take_listener(chan, msg);
        } else if (strncmp(msg, "policy\n", 7) == 0) {
            if (!may_change())
                answer(chan, msg, "locked");
            else
                apply_policy(chan, msg);
        } else if (strncmp(msg, "off\n", 4) == 0) {
            if (!may_change()) {
                answer(chan, msg, "locked");
            } else {
                /* log mode with no log: every call goes through, nothing is recorded */
                ts_config.log_fd = -1;
                ts_config.log_mode = 1;
                locked = 0;
                answer(chan, msg, "ok");
            }
        } else {
            answer(chan, msg, "error unknown message");
        }
    }
}
