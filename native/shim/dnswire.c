/* What a program writes to and reads from a socket that may carry DNS: write, send and the other calls
 * that put bytes into a connected socket go through dnssend.c when the descriptor is a DNS socket (one
 * byte read otherwise; fds.c knows which), and the answers read back are learnt from. sendfile and splice
 * move bytes no private copy can be made of: into a DNS socket they are judged as a lookup of no valid name.
 */
/* Hooks named as libc exports them: with 64-bit file offsets the headers would rename some (sendfile,
 * pwritev, fcntl) to their *64 forms, which are exported here as aliases instead. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "shim.h"

TETHERED_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
    if (!td_real.send) td_resolve_real();
    if (td_fd_is_dns(fd)) {
        struct iovec iov = {(void *)buf, n};
        return td_dns_send(fd, &iov, 1, flags, NULL, 0, NULL, "send");
    }
    return td_real.send(fd, buf, n, flags);
}

TETHERED_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    if (!td_real.write) td_resolve_real();
    if (td_fd_is_dns(fd)) {
        struct iovec iov = {(void *)buf, n};
        return td_dns_send(fd, &iov, 1, 0, NULL, 0, NULL, "write");
    }
    return td_real.write(fd, buf, n);
}

/* glibc's own write that no thread cancellation point interrupts; exported (GLIBC_PRIVATE), so a program
 * can ask dlsym for it. */
TETHERED_EXPORT ssize_t __write_nocancel(int fd, const void *buf, size_t n) {
    if (!td_real.__write_nocancel) td_resolve_real();
    if (td_fd_is_dns(fd)) {
        struct iovec iov = {(void *)buf, n};
        return td_dns_send(fd, &iov, 1, 0, NULL, 0, NULL, "write");
    }
    return td_real.__write_nocancel(fd, buf, n);
}

TETHERED_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    if (!td_real.writev) td_resolve_real();
    if (iovcnt > 0 && td_fd_is_dns(fd))
        return td_dns_send(fd, iov, (size_t)iovcnt, 0, NULL, 0, NULL, "writev");
    return td_real.writev(fd, iov, iovcnt);
}

/* With offset -1 these write a socket like writev (any other offset: ESPIPE from the kernel). */
TETHERED_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    if (!td_real.pwritev) td_resolve_real();
    if (offset == -1 && iovcnt > 0 && td_fd_is_dns(fd))
        return td_dns_send(fd, iov, (size_t)iovcnt, 0, NULL, 0, NULL, "pwritev");
    return td_real.pwritev(fd, iov, iovcnt, offset);
}

TETHERED_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    if (!td_real.pwritev2) td_resolve_real();
    if (offset == -1 && iovcnt > 0 && td_fd_is_dns(fd))
        return td_dns_send(fd, iov, (size_t)iovcnt, (flags & RWF_NOWAIT) ? MSG_DONTWAIT : 0, NULL, 0, NULL,
                           "pwritev2");
    return td_real.pwritev2(fd, iov, iovcnt, offset, flags);
}

TETHERED_EXPORT ssize_t sendfile(int out, int in, off_t *offset, size_t count) {
    if (!td_real.sendfile) td_resolve_real();
    if (td_fd_is_dns(out) && td_dns_refuse("sendfile") != 0) return -1;
    return td_real.sendfile(out, in, offset, count);
}

TETHERED_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len,
                               unsigned int flags) {
    if (!td_real.splice) td_resolve_real();
    if (td_fd_is_dns(out) && td_dns_refuse("splice") != 0) return -1;
    return td_real.splice(in, off_in, out, off_out, len, flags);
}

TETHERED_EXPORT ssize_t read(int fd, void *buf, size_t n) {
    if (!td_real.read) td_resolve_real();
    ssize_t got = td_real.read(fd, buf, n);
    if (td_fd_dns_marked(fd)) {
        struct iovec iov = {buf, n};
        td_dns_learn(fd, &iov, 1, got, NULL, 0);
    }
    return got;
}

/* On a DNS socket the sender of each reply is read too (into our own buffer when the caller passes none),
 * so that only replies from port 53 are learnt from. */
static ssize_t dns_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                            socklen_t *fromlen) {
    struct sockaddr_storage own;
    socklen_t ownlen = sizeof own;
    struct sockaddr *sender = from ? from : (struct sockaddr *)&own;
    socklen_t *senderlen = from ? fromlen : &ownlen;
    ssize_t got = td_real.recvfrom(fd, buf, n, flags, sender, senderlen);
    struct iovec iov = {buf, n};
    int known = senderlen && *senderlen >= (socklen_t)sizeof(sa_family_t) && sender->sa_family != AF_UNSPEC;
    td_dns_learn(fd, &iov, 1, got, known ? sender : NULL, known ? *senderlen : 0);
    return got;
}

TETHERED_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                                 socklen_t *fromlen) {
    if (!td_real.recvfrom) td_resolve_real();
    if (!td_fd_dns_marked(fd) || (flags & MSG_PEEK))
        return td_real.recvfrom(fd, buf, n, flags, from, fromlen);
    return dns_recvfrom(fd, buf, n, flags, from, fromlen);
}

TETHERED_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
    if (!td_real.recv) td_resolve_real();
    if (!td_fd_dns_marked(fd) || (flags & MSG_PEEK)) return td_real.recv(fd, buf, n, flags);
    if (!td_real.recvfrom) td_resolve_real();
    return dns_recvfrom(fd, buf, n, flags, NULL, NULL);
}

/* Descriptors received (SCM_RIGHTS) are not known yet: fds.c forgets what their numbers were. */
TETHERED_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    if (!td_real.recvmsg) td_resolve_real();
    if (!td_fd_dns_marked(fd) || !msg || (flags & MSG_PEEK)) {
        ssize_t got = td_real.recvmsg(fd, msg, flags);
        if (got >= 0 && msg && msg->msg_controllen) td_fd_received(msg);
        return got;
    }
    struct sockaddr_storage own;
    int borrowed = msg->msg_name == NULL;
    if (borrowed) {
        msg->msg_name = &own;
        msg->msg_namelen = sizeof own;
    }
    ssize_t got = td_real.recvmsg(fd, msg, flags);
    int known = msg->msg_namelen >= (socklen_t)sizeof(sa_family_t) &&
                ((struct sockaddr *)msg->msg_name)->sa_family != AF_UNSPEC;
    td_dns_learn(fd, msg->msg_iov, msg->msg_iovlen, got, known ? msg->msg_name : NULL,
                 known ? msg->msg_namelen : 0);
    if (borrowed) {
        msg->msg_name = NULL;
        msg->msg_namelen = 0;
    }
    return got;
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__send, send);
TD_EXPORT_ALIAS(__write, write);
TD_EXPORT_ALIAS(__read, read);
TD_EXPORT_ALIAS(__recv, recv);
TD_EXPORT_ALIAS(pwritev64, pwritev);
TD_EXPORT_ALIAS(pwritev64v2, pwritev2);
TD_EXPORT_ALIAS(sendfile64, sendfile);
