/* syscall(): the network calls among its numbers are judged like their libc wrappers (the same code), and
 * the exec calls keep the policy for the child; every other call is forwarded unchanged with all six
 * arguments (never ENOSYS). A raw `syscall` instruction that bypasses
 * libc is not seen here: see docs/libc-layer.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "shim.h"

static int raw_execve(const char *path, char *const argv[], char *const envp[]) {
    return (int)td_real.syscall(SYS_execve, path, argv, envp);
}

TETHERED_EXPORT long syscall(long number, ...) {
    if (!td_real.syscall) td_resolve_real();
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    switch (number) {
        case SYS_connect:
            return td_connect((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2], "syscall(connect)");
        case SYS_socket:
            if (td_check_socket((int)a[0], (int)a[1], (int)a[2], "syscall(socket)") != 0) return -1;
            break;
        case SYS_setsockopt:
            return td_setsockopt((int)a[0], (int)a[1], (int)a[2], (const void *)a[3], (socklen_t)a[4],
                                 "syscall(setsockopt)");
        case SYS_sendto:
            return td_sendto((int)a[0], (const void *)a[1], (size_t)a[2], (int)a[3],
                             (const struct sockaddr *)a[4], (socklen_t)a[5], "syscall(sendto)");
        case SYS_sendmsg:
            return td_sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2], "syscall(sendmsg)");
        case SYS_sendmmsg:
            return td_sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3],
                               "syscall(sendmmsg)");
        case SYS_execve:
        case SYS_execveat: {
            /* the child keeps the shim and the policy, as through execve() and execveat() */
            int at = number == SYS_execve ? 2 : 3;
            if (td_strict_children())
                return number == SYS_execve
                           ? td_strict_execve((const char *)a[0], (char *const *)a[1], (char *const *)a[2],
                                              raw_execve)
                           : td_strict_execveat((int)a[0], (const char *)a[1], (char *const *)a[2],
                                                (char *const *)a[3], (int)a[4], raw_execve);
            if (number == SYS_execve
                    ? td_exec_refused(AT_FDCWD, (const char *)a[0], (char *const *)a[1], 0)
                    : td_exec_refused((int)a[0], (const char *)a[1], (char *const *)a[2], (int)a[4]))
                return -1;
            char *const *envp = (char *const *)a[at];
            size_t n = td_env_count(envp);
            char *out[n + TD_MAX_INJECT + 3];
            char preload[TD_PATH_MAX * 2];
            a[at] = (long)td_child_env(envp, out, preload, sizeof preload);
            return td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        }
        default:
            return td_fd_syscall(number, a); /* writes into a DNS socket, descriptor copies (fds.c) */
    }
    return td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
