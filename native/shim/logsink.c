/* Where the shim's own output goes: the event log (TETHERED_LOG) and the few lines it says on stderr.
 *
 * The shim writes into a process it does not own, so its output must never land in the program's data,
 * hang it or kill it:
 * - The destination is decided once, when the configuration is made (preload: at start; in-process: at
 *   tethered_configure), and kept as a private descriptor: close-on-exec, moved high (>= 900) out of the
 *   program's way, with its device, inode and type recorded. Before each write it is checked again with
 *   fstat(): a program that closed it, ran close_range() or dup2()ed something over it makes the shim stop
 *   writing there (and say so once), rather than write an event into whatever now holds that number. So a
 *   program that closes stderr and whose next socket takes fd 2 never receives an event in its connection.
 * - A log path is opened with O_NONBLOCK (a FIFO without a reader cannot hang the open) and refused unless
 *   it is a regular file: a FIFO, a directory, /dev/full or a socket is not a log.
 * - Stderr is used only if, at that moment, it is not a network socket: a service started inetd-style has
 *   its client's connection on fd 2. An AF_UNIX socket is accepted: that is how journald and parents hand a
 *   process its stderr (Node's child_process pipes are Unix socketpairs), a local reader the process was
 *   started with, not a peer on the network.
 * - SIGPIPE is blocked around each write, and one the write raised is consumed: a log reader that went
 *   away must not kill the program.
 * - Writes go through libc's own write() (td_real.write): in preload mode a plain write() here would bind
 *   to the shim's own write hook.
 * A failed write is not retried (a line is one write(), never torn or interleaved) and is said once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

struct td_log_sink {
    int fd; /* never closed once handed out: a hook on another thread may be writing to it */
    dev_t dev;
    ino_t ino;
    mode_t type;
    atomic_int broken;      /* its descriptor no longer is this file: never written again */
    atomic_int write_said;  /* a write error was said */
    char name[TD_PATH_MAX]; /* the path, or "stderr" */
};

/* Distinct destinations a process may use (activate() reuses one for the same file); beyond that, no log. */
#define MAX_SINKS 16
static struct td_log_sink sinks[MAX_SINKS];
static int nsinks;
static pthread_mutex_t sinks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct td_log_sink *_Atomic stderr_sink;

/* fd 2 as it was when this library was loaded: what "say once on stderr" may write to. */
static struct {
    int usable;
    dev_t dev;
    ino_t ino;
} start_stderr;
static pthread_once_t start_stderr_once = PTHREAD_ONCE_INIT;

static int is_network_socket(int fd, const struct stat *st) {
    if (!S_ISSOCK(st->st_mode)) return 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 1; /* unknown: assume the worst */
    return ss.ss_family != AF_UNIX;
}

static void note_start_stderr(void) {
    int saved = errno;
    struct stat st;
    if (fstat(2, &st) == 0 && !is_network_socket(2, &st)) {
        start_stderr.usable = 1;
        start_stderr.dev = st.st_dev;
        start_stderr.ino = st.st_ino;
    }
    errno = saved;
}

void td_note_stderr(void) {
    pthread_once(&start_stderr_once, note_start_stderr);
}

/* One write() through libc's own function, with SIGPIPE blocked in this thread and a SIGPIPE it raised
 * consumed (one that was pending before is left alone). Returns what write() returned; errno is its. */
static ssize_t quiet_write(int fd, const void *buf, size_t n) {
    if (!td_real.write) td_resolve_real();
    ssize_t (*real_write)(int, const void *, size_t) = td_real.write;
    if (!real_write) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    int was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    ssize_t rc;
    int tries = 0;
    do rc = real_write(fd, buf, n);
    while (rc < 0 && errno == EINTR && ++tries < 3);
    int e = errno;
    if (rc < 0 && e == EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

static int intact(const struct td_log_sink *s) {
    struct stat st;
    return fstat(s->fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino &&
           (st.st_mode & S_IFMT) == s->type;
}

void td_say(const char *line) {
    int saved = errno;
    td_note_stderr();
    size_t n = strlen(line);
    struct td_log_sink *s = atomic_load(&stderr_sink);
    struct stat st;
    if (s && !atomic_load(&s->broken) && intact(s)) {
        quiet_write(s->fd, line, n);
    } else if (start_stderr.usable && fstat(2, &st) == 0 && st.st_dev == start_stderr.dev &&
               st.st_ino == start_stderr.ino) {
        /* fd 2 is still the stderr the process had when the shim arrived, not a file or socket of the
         * program's that took the number after stderr was closed */
        quiet_write(2, line, n);
    }
    errno = saved;
}

static void say_not_written(const char *name, const char *why) {
    char line[1280]; /* on a hook's stack, next to the event's buffer: the path is cut to fit */
    snprintf(line, sizeof line, "tethered: events are not being written: %.*s: %s\n", 1000, name, why);
    td_say(line);
}

static const char *kind_of(mode_t mode) {
    switch (mode & S_IFMT) {
        case S_IFIFO:
            return "it is a FIFO, not a regular file";
        case S_IFDIR:
            return "it is a directory, not a regular file";
        case S_IFCHR:
        case S_IFBLK:
            return "it is a device, not a regular file";
        case S_IFSOCK:
            return "it is a socket, not a regular file";
        default:
            return "it is not a regular file";
    }
}

/* A copy of fd at 900 or above (below the descriptor limit), close-on-exec; fd itself is closed. Programs
 * expect their own descriptors low and hand select() numbers below 1024; a high one is also unlikely to be
 * reused by the program if it ever closes it. */
static int move_high(int fd) {
    long floor = 900;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < 1024)
        floor = (long)rl.rlim_cur * 7 / 8;
    int high = floor > fd ? fcntl(fd, F_DUPFD_CLOEXEC, (int)floor) : -1;
    if (high < 0) return fd; /* already close-on-exec; a low number is checked before each write as well */
    close(fd);
    return high;
}

/* The sink for an open descriptor (moved high here), reusing one already open on the same file. Called
 * with sinks_lock held. NULL (fd closed) when the table is full. */
static struct td_log_sink *sink_for(int fd, const struct stat *st, const char *name) {
    for (int i = 0; i < nsinks; i++) {
        struct td_log_sink *s = &sinks[i];
        if (!atomic_load(&s->broken) && s->dev == st->st_dev && s->ino == st->st_ino && intact(s)) {
            close(fd);
            return s;
        }
    }
    if (nsinks == MAX_SINKS) {
        close(fd);
        say_not_written(name, "too many different event logs in one process");
        return NULL;
    }
    struct td_log_sink *s = &sinks[nsinks];
    s->fd = move_high(fd);
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->type = st->st_mode & S_IFMT;
    atomic_store(&s->broken, 0);
    atomic_store(&s->write_said, 0);
    snprintf(s->name, sizeof s->name, "%s", name);
    nsinks++;
    return s;
}

static struct td_log_sink *open_stderr(void) {
    struct stat st;
    if (fstat(2, &st) != 0 || is_network_socket(2, &st)) return NULL; /* say nothing there either */
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return NULL;
    struct td_log_sink *s = sink_for(fd, &st, "stderr");
    if (s) atomic_store(&stderr_sink, s);
    return s;
}

static struct td_log_sink *open_file(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        char buf[128];
        /* ENXIO from a FIFO without a reader says little: name what the path is */
        say_not_written(path, stat(path, &st) == 0 && !S_ISREG(st.st_mode) ? kind_of(st.st_mode)
                                                                           : strerror_r(e, buf, sizeof buf));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        char buf[128];
        say_not_written(path, strerror_r(errno, buf, sizeof buf));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        say_not_written(path, kind_of(st.st_mode));
        return NULL;
    }
    return sink_for(fd, &st, path);
}

void td_log_open(struct td_config *c) {
    td_note_stderr();
    c->log_sink = NULL;
    if (c->log == TD_LOG_OFF) return;
    int saved = errno;
    pthread_mutex_lock(&sinks_lock);
    c->log_sink = c->log == TD_LOG_STDERR ? open_stderr() : open_file(c->log_path);
    pthread_mutex_unlock(&sinks_lock);
    errno = saved;
}

void td_log_write(struct td_log_sink *s, const char *line, size_t n) {
    if (!s || atomic_load(&s->broken)) return;
    if (!intact(s)) {
        if (!atomic_exchange(&s->broken, 1))
            say_not_written(s->name, "its descriptor was closed or replaced by the program");
        return;
    }
    ssize_t w = quiet_write(s->fd, line, n);
    if (w == (ssize_t)n || atomic_exchange(&s->write_said, 1)) return;
    char buf[128];
    say_not_written(s->name, w < 0 ? strerror_r(errno, buf, sizeof buf) : "a write was cut short");
}
