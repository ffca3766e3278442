/* syscall(): the network calls among its numbers are judged like their libc wrappers; every other call is
 * forwarded unchanged with all six arguments (never ENOSYS). A raw `syscall` instruction that bypasses
 * libc is not seen here: see the README. */
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "shim.h"

TETHERED_EXPORT long syscall(long number, ...) {
    if (!td_real.syscall) td_resolve_real();
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    switch (number) {
        case SYS_connect:
            if (td_check_address((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2],
                                 "syscall(connect)") != 0)
                return -1;
            break;
        case SYS_sendto: {
            struct iovec iov = {(void *)a[1], (size_t)a[2]};
            if (td_check_send((int)a[0], (const struct sockaddr *)a[4], (socklen_t)a[5], &iov, 1, (int)a[3],
                              "syscall(sendto)") != 0)
                return -1;
            break;
        }
        case SYS_sendmsg: {
            /* like sendmsg(): the address, or (no address) what a DNS socket carries */
            const struct msghdr *m = (const struct msghdr *)a[1];
            if (m && td_check_send((int)a[0], m->msg_name, m->msg_namelen, m->msg_iov, m->msg_iovlen,
                                   (int)a[2], "syscall(sendmsg)") != 0)
                return -1;
            break;
        }
        case SYS_sendmmsg: {
            unsigned ok = td_sendmmsg_allowed((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3],
                                              "syscall(sendmmsg)");
            if (ok == 0 && a[2] > 0) return -1;
            a[2] = (long)ok;
            break;
        }
        case SYS_execve: {
            char *const *envp = (char *const *)a[2];
            size_t n = td_env_count(envp);
            char *out[n + TD_MAX_INJECT + 2];
            char preload[TD_PATH_MAX * 2];
            a[2] = (long)td_child_env(envp, out, preload, sizeof preload);
            return td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        }
        default:
            return td_fd_syscall(number, a); /* writes into a DNS socket, descriptor copies (fds.c) */
    }
    return td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
