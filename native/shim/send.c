/* sendto(), sendmsg(), sendmmsg(): datagrams to an address, and TCP Fast Open, which connects without
 * connect() when MSG_FASTOPEN is set. On a stream socket without MSG_FASTOPEN the kernel ignores the
 * address (the socket is connected, or the call fails), so no address is judged there. Whatever goes to
 * port 53 is also judged as the DNS query it must be (dnswire.c). */
#include <errno.h>

#include "shim.h"

int td_socket_type(int fd) {
    int saved = errno, type = 0;
    socklen_t len = sizeof type;
    int ok = fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
    errno = saved;
    return ok ? type : -1;
}

/* Should a send with this address and these flags be judged? */
static int judged(int fd, const struct sockaddr *addr, socklen_t len, int flags) {
    if (!addr || len < (socklen_t)sizeof(sa_family_t)) return 0;
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) return 0;
    if (flags & MSG_FASTOPEN) return 1;
    int type = td_socket_type(fd);
    return type >= 0 && type != SOCK_STREAM;
}

int td_check_send(int fd, const struct sockaddr *addr, socklen_t len, const struct iovec *iov, size_t iovcnt,
                  int flags, const char *op) {
    if (judged(fd, addr, len, flags) && td_check_address(fd, addr, len, op) != 0) return -1;
    return td_dns_check_send(fd, addr, len, iov, iovcnt, op);
}

TETHERED_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                               socklen_t len) {
    if (!td_real.sendto) td_resolve_real();
    struct iovec iov = {(void *)buf, n};
    if (td_dns_wanted(fd, addr, len)) return td_dns_send(fd, &iov, 1, flags, addr, len, NULL, "sendto");
    if (td_check_send(fd, addr, len, &iov, 1, flags, "sendto") != 0) return -1;
    return td_real.sendto(fd, buf, n, flags, addr, len);
}

TETHERED_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    if (!td_real.sendmsg) td_resolve_real();
    if (msg && td_dns_wanted(fd, msg->msg_name, msg->msg_namelen))
        return td_dns_send(fd, msg->msg_iov, msg->msg_iovlen, flags, msg->msg_name, msg->msg_namelen, msg,
                           "sendmsg");
    if (msg && td_check_send(fd, msg->msg_name, msg->msg_namelen, msg->msg_iov, msg->msg_iovlen, flags,
                             "sendmsg") != 0)
        return -1;
    return td_real.sendmsg(fd, msg, flags);
}

/* Judges the batch in order. Messages before the first blocked one are sent; the call then reports how
 * many went, and the caller's retry of the rest meets the block at once. */
unsigned td_sendmmsg_allowed(int fd, struct mmsghdr *vec, unsigned vlen, int flags, const char *op) {
    if (!vec) return vlen;
    for (unsigned i = 0; i < vlen; i++) {
        const struct msghdr *m = &vec[i].msg_hdr;
        if (td_check_send(fd, m->msg_name, m->msg_namelen, m->msg_iov, m->msg_iovlen, flags, op) != 0)
            return i;
    }
    return vlen;
}

TETHERED_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
    if (!td_real.sendmmsg) td_resolve_real();
    if (vec && vlen && td_dns_wanted(fd, vec[0].msg_hdr.msg_name, vec[0].msg_hdr.msg_namelen))
        return td_dns_sendmmsg(fd, vec, vlen, flags, "sendmmsg");
    unsigned ok = td_sendmmsg_allowed(fd, vec, vlen, flags, "sendmmsg");
    if (ok == 0 && vlen > 0) return -1; /* errno = EACCES */
    return td_real.sendmmsg(fd, vec, ok, flags);
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__sendmmsg, sendmmsg);
