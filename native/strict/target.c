/* Reaching into a supervised process: its memory (process_vm_readv/writev) and its descriptors (a pidfd
 * for pidfd_getfd). Both need ptrace-level access to the target: the supervisor is its ancestor and of the
 * same user (see docs/strict-mode.md for Yama's ptrace_scope). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "strict.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

int ts_read(int tid, uint64_t remote, void *local, size_t n) {
    if (n == 0) return 0;
    struct iovec l = {local, n}, r = {(void *)(uintptr_t)remote, n};
    ssize_t got = process_vm_readv(tid, &l, 1, &r, 1, 0);
    if (got == (ssize_t)n) return 0;
    if (got >= 0) errno = EFAULT; /* part of it is unmapped: the kernel would say EFAULT */
    return -1;
}

int ts_write(int tid, uint64_t remote, const void *local, size_t n) {
    struct iovec l = {(void *)local, n}, r = {(void *)(uintptr_t)remote, n};
    ssize_t put = process_vm_writev(tid, &l, 1, &r, 1, 0);
    if (put == (ssize_t)n) return 0;
    if (put >= 0) errno = EFAULT;
    return -1;
}

/* The thread group of a thread, from /proc (kernels before 6.9 have no thread pidfds). */
static int tgid_of(int tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *p = strstr(buf, "\nTgid:");
    return p ? atoi(p + 6) : -1;
}

int ts_pidfd(int tid) {
    /* A thread's own pidfd names its descriptor table, which may be its own (unshare(CLONE_FILES)). */
    int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (fd >= 0 || errno != EINVAL) return fd;
    int tgid = tgid_of(tid);
    if (tgid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return (int)syscall(SYS_pidfd_open, tgid, 0);
}

/* A pidfd per thread, kept between calls: opening one allocates a file and a pidfs inode, about a tenth of
 * what the supervisor spends on a judged connect. Only thread pidfds are kept (Linux 6.9 and later).
 *
 * Why a kept pidfd still names the right thread: a pidfd refers to one thread, not to its number. If the
 * thread it was opened for is dead, calls through it fail (ESRCH) and the slot is opened afresh. If it is
 * alive, it holds the number `tid` (a live thread's number does not change, and no two live threads
 * share one), so it is the thread that made the pending call — unless that one died meanwhile, which the
 * SECCOMP_IOCTL_NOTIF_ID_VALID check every call makes before acting catches, as before. */
#define TS_PIDFD_SLOTS 64

struct pidfd_slot {
    int tid; /* 0: empty */
    int fd;
    int users;
    int dead; /* its thread is gone: handed out no more, closed when the last user is done */
};

static struct pidfd_slot slots[TS_PIDFD_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pidfd_slot *slot_of(int tid) {
    return &slots[(unsigned)tid % TS_PIDFD_SLOTS];
}

int ts_pidfd_get(int tid) {
    struct pidfd_slot *s = slot_of(tid);
    pthread_mutex_lock(&slots_lock);
    if (s->tid == tid && !s->dead) {
        s->users++;
        int fd = s->fd;
        pthread_mutex_unlock(&slots_lock);
        return fd;
    }
    pthread_mutex_unlock(&slots_lock);
    int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (fd < 0) return errno == EINVAL ? ts_pidfd(tid) : -1; /* an older kernel: a process pidfd, not kept */
    pthread_mutex_lock(&slots_lock);
    if (s->users == 0) { /* an idle slot (empty, dead, or another thread's): this thread's now */
        if (s->tid) close(s->fd);
        *s = (struct pidfd_slot){tid, fd, 1, 0};
    }
    pthread_mutex_unlock(&slots_lock);
    return fd;
}

void ts_pidfd_put(int tid, int pidfd, int dead) {
    if (pidfd < 0) return;
    struct pidfd_slot *s = slot_of(tid);
    pthread_mutex_lock(&slots_lock);
    if (s->tid == tid && s->fd == pidfd) {
        s->dead |= dead;
        if (--s->users == 0 && s->dead) {
            close(s->fd);
            *s = (struct pidfd_slot){0, -1, 0, 0};
        }
    } else {
        close(pidfd); /* not kept */
    }
    pthread_mutex_unlock(&slots_lock);
}

int ts_getfd(int tid, int fd, int *pidfd) {
    for (int attempt = 0;; attempt++) {
        *pidfd = ts_pidfd_get(tid);
        if (*pidfd < 0) return -1;
        int dup = (int)syscall(SYS_pidfd_getfd, *pidfd, fd, 0);
        if (dup >= 0 || errno != ESRCH || attempt) return dup;
        /* a kept pidfd of a thread that has died: the number may belong to a new thread now */
        ts_pidfd_put(tid, *pidfd, 1);
    }
}
