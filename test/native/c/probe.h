/* What the attacker's probes (escape.c, ../../adversarial/c/redteam.c) share: one result line, and a
 * marker sent to a loopback peer whose reply proves the probe got through. */
#ifndef TETHERED_TEST_PROBE_H
#define TETHERED_TEST_PROBE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static char line[1024] __attribute__((unused));

/* "error EACCES" (the name of a common errno, else its number) */
__attribute__((unused)) static const char *result_errno(int e) {
    const char *name = e == EACCES         ? "EACCES"
                       : e == ECONNREFUSED ? "ECONNREFUSED"
                       : e == EFAULT       ? "EFAULT"
                       : e == EINVAL       ? "EINVAL"
                       : e == EPERM        ? "EPERM"
                       : e == EAFNOSUPPORT ? "EAFNOSUPPORT"
                       : e == ENETUNREACH  ? "ENETUNREACH"
                       : e == EAGAIN       ? "EAGAIN"
                                           : NULL;
    if (name)
        snprintf(line, sizeof line, "error %s", name);
    else
        snprintf(line, sizeof line, "error %d", e);
    return line;
}

__attribute__((unused)) static struct sockaddr_in v4(const char *ip, int port) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    return in;
}

__attribute__((unused)) static void timeouts(int fd) {
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* After a connect: send the marker line and read the peer's answer ("ok pong:<marker>"). */
__attribute__((unused)) static const char *round_trip(int fd, const char *marker) {
    char out[256];
    int n = snprintf(out, sizeof out, "%s\n", marker);
    if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0) return result_errno(errno);
    char buf[256];
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got < 0) return result_errno(errno);
    buf[got] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    snprintf(line, sizeof line, "ok %s", buf);
    return line;
}

/* ---- IP source routing: the route's first hop is where the packet goes, not the address it is sent to ----
 */

/* NOP, then a loose source route through `hop` (pointer 4: the first address); the kernel appends the
 * final destination */
__attribute__((unused)) static void lsrr_option(const char *hop, unsigned char opt[8]) {
    opt[0] = IPOPT_NOOP;
    opt[1] = IPOPT_LSRR;
    opt[2] = 7;
    opt[3] = 4;
    inet_pton(AF_INET, hop, opt + 4);
}

/* Puts a control message (level, type, data) at `at` (aligned, inside a buffer of CMSG_SPACE(n) bytes). */
__attribute__((unused)) static size_t put_control(unsigned char *at, int level, int type, const void *data,
                                                  size_t n) {
    struct cmsghdr c = {.cmsg_len = CMSG_LEN(n), .cmsg_level = level, .cmsg_type = type};
    memcpy(at, &c, sizeof c);
    memcpy(at + CMSG_LEN(0), data, n);
    return CMSG_SPACE(n);
}

enum send_way { BY_SENDMSG, BY_SENDMMSG, BY_SYSCALL };

/* The marker as one datagram on fd to `to`, with `controllen` bytes of control data, by sendmsg(),
 * sendmmsg() or syscall(SYS_sendmsg); then the answer (1 s at most): "ok <reply>", "sent no-reply" (the
 * send went, nothing came back), or "error <ERRNO>" (the send failed). */
__attribute__((unused)) static const char *send_control(int fd, const struct sockaddr *to, socklen_t tolen,
                                                        const char *marker, void *control, size_t controllen,
                                                        enum send_way way) {
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct iovec iov = {(void *)marker, strlen(marker)};
    struct msghdr msg = {.msg_name = (void *)to,
                         .msg_namelen = tolen,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = controllen};
    struct mmsghdr one = {.msg_hdr = msg};
    long rc = way == BY_SENDMSG    ? (long)sendmsg(fd, &msg, 0)
              : way == BY_SENDMMSG ? (long)sendmmsg(fd, &one, 1, 0)
                                   : syscall(SYS_sendmsg, fd, &msg, 0);
    if (rc < 0) return result_errno(errno);
    char buf[256];
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got <= 0) return "sent no-reply";
    buf[got] = 0;
    snprintf(line, sizeof line, "ok %s", buf);
    return line;
}

#endif
