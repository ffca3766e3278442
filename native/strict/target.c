/* Reaching into a supervised process: its memory (process_vm_readv/writev) and its descriptors (a pidfd
 * for pidfd_getfd). Both need ptrace-level access to the target: the supervisor is its ancestor and of the
 * same user (see docs/strict-mode.md for Yama's ptrace_scope). */
#include <errno.h>
#include <fcntl.h>
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
