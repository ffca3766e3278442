/* The calls that make a descriptor number name another open file — dup, dup2, dup3, fcntl(F_DUPFD*),
 * pidfd_getfd — directly and through syscall(): the number is unknown again (fdkind.c), so that its next
 * send asks the kernel what it is. */
/* Hooks named as libc exports them: with 64-bit file offsets the headers would rename some (sendfile,
 * pwritev, fcntl) to their *64 forms, which are exported here as aliases instead. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "shim.h"

/* ---- the hooks: calls that make a descriptor number name another open file ---- */

TETHERED_EXPORT int dup(int fd) {
    if (!td_real.dup) td_resolve_real();
    int rc = td_real.dup(fd);
    if (rc >= 0) td_fd_forget(rc);
    return rc;
}

/* The target is forgotten before the call too, so that no send judges it by its old socket after. */
TETHERED_EXPORT int dup2(int fd, int to) {
    if (!td_real.dup2) td_resolve_real();
    td_fd_forget(to);
    int rc = td_real.dup2(fd, to);
    if (rc >= 0) td_fd_forget(rc);
    return rc;
}

TETHERED_EXPORT int dup3(int fd, int to, int flags) {
    if (!td_real.dup3) td_resolve_real();
    td_fd_forget(to);
    int rc = td_real.dup3(fd, to, flags);
    if (rc >= 0) td_fd_forget(rc);
    return rc;
}

TETHERED_EXPORT int fcntl(int fd, int cmd, ...) {
    if (!td_real.fcntl) td_resolve_real();
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* as glibc reads it: every argument fcntl takes fits */
    va_end(ap);
    int rc = td_real.fcntl(fd, cmd, arg);
    if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) td_fd_forget(rc);
    return rc;
}

TETHERED_EXPORT int pidfd_getfd(int pidfd, int target, unsigned int flags) {
    if (!td_real.pidfd_getfd) td_resolve_real();
    if (!td_real.pidfd_getfd) {
        errno = ENOSYS;
        return -1;
    }
    int rc = td_real.pidfd_getfd(pidfd, target, flags);
    if (rc >= 0) td_fd_forget(rc);
    return rc;
}

TETHERED_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                             struct timespec *timeout) {
    if (!td_real.recvmmsg) td_resolve_real();
    int rc = td_real.recvmmsg(fd, vec, vlen, flags, timeout);
    for (int i = 0; i < rc; i++) td_fd_received(&vec[i].msg_hdr);
    return rc;
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__dup2, dup2);
TD_EXPORT_ALIAS(fcntl64, fcntl);
TD_EXPORT_ALIAS(__fcntl, fcntl);

/* ---- the same through syscall() ---- */

long td_fd_syscall(long number, long a[6]) {
    int fd = (int)a[0];
    switch (number) {
        case SYS_write:
        case SYS_writev:
        case SYS_pwritev2:
            /* pwritev2 with offset -1 writes a socket like writev */
            if (number == SYS_pwritev2 && a[3] != -1) break;
            if (td_dns_wanted(fd, NULL, 0)) {
                struct iovec one = {(void *)a[1], (size_t)a[2]};
                int vec = number != SYS_write;
                return td_dns_send(fd, vec ? (const struct iovec *)a[1] : &one, vec ? (size_t)a[2] : 1, 0,
                                   NULL, 0, NULL, number == SYS_write ? "syscall(write)" : "syscall(writev)");
            }
            break;
        case SYS_sendfile:
        case SYS_splice:
            if (td_dns_wanted(number == SYS_sendfile ? fd : (int)a[2], NULL, 0) &&
                td_dns_refuse(number == SYS_sendfile ? "syscall(sendfile)" : "syscall(splice)") != 0)
                return -1;
            break;
#ifdef SYS_dup2 /* aarch64 has dup3 only */
        case SYS_dup2:
#endif
        case SYS_dup3:
            td_fd_forget((int)a[1]);
            break;
        default:
            break;
    }
    long rc = td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (rc < 0) return rc;
    switch (number) {
        case SYS_dup:
#ifdef SYS_dup2
        case SYS_dup2:
#endif
        case SYS_dup3:
        case SYS_pidfd_getfd:
            td_fd_forget((int)rc);
            break;
        case SYS_fcntl:
            if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) td_fd_forget((int)rc);
            break;
        case SYS_recvmsg:
            td_fd_received((const struct msghdr *)a[1]);
            break;
        case SYS_recvmmsg:
            for (long i = 0; i < rc; i++) td_fd_received(&((struct mmsghdr *)a[1])[i].msg_hdr);
            break;
        default:
            break;
    }
    return rc;
}
