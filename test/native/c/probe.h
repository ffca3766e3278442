/* What the attacker's probes (escape.c, ../../adversarial/c/redteam.c) share: one result line, and a
 * marker sent to a loopback peer whose reply proves the probe got through. */
#ifndef TETHERED_TEST_PROBE_H
#define TETHERED_TEST_PROBE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

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

#endif
