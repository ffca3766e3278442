/* One network operation per run, through the libc function named on the command line, so that the shim
 * tests can exercise every hooked function from a plain C program. Prints one line:
 *   ok <detail>            the call succeeded (and, for TCP/UDP, the peer's reply came back)
 *   error <ERRNO>          the call failed with errno
 *   gai <EAI_…>            a getaddrinfo-style failure
 *   herr <h_errno>         a gethostbyname-style failure
 *
 *   netprobe connect NAME PORT        getaddrinfo, then connect and a ping/reply round trip
 *   netprobe connect-ip IP PORT       connect to an IPv4 or IPv6 literal (no lookup)
 *   netprobe syscall-connect IP PORT  syscall(SYS_connect, …)
 *   netprobe udp-sendto|udp-sendmsg|udp-connect-send|syscall-sendto|syscall-sendmsg IP PORT
 *   netprobe udp-sendmmsg IP PORT IP2 PORT2   two datagrams in one batch
 *   netprobe tfo-sendto|tfo-sendmsg IP PORT   TCP Fast Open (MSG_FASTOPEN, no connect())
 *   netprobe gai|gethostbyname|gethostbyname2|gethostbyname_r|gethostbyname2_r|getaddrinfo_a NAME
 *   netprobe getnameinfo|gethostbyaddr|gethostbyaddr_r IP
 *   netprobe res_query|res_search|res_nquery|res_nsearch|res_send|res_nsend NAME
 *   netprobe res_querydomain|res_nquerydomain NAME DOMAIN
 *   netprobe unix PATH                connect to a Unix socket and round-trip
 *   netprobe bad-connect null|shortlen|family  malformed calls: libc's own answer
 *   netprobe errno IP PORT            an allowed connect leaves errno as it was
 *   netprobe threads N COUNT IP PORT  N threads x COUNT connects; prints "ok <allowed> <blocked> <other>"
 *   netprobe fork-connect IP PORT     fork() without exec; the child connects
 *   netprobe exec-empty-env PROG ARG… execve with an empty environment
 *   netprobe spawn-empty-env PROG ARG… posix_spawn with an empty environment
 *   netprobe execvp-cleared PROG ARG… clearenv(), then execvp
 *   netprobe system-cleared CMD       clearenv(), then system()
 *   netprobe resolve-then-connect IP PORT NAME…  resolve each name (getaddrinfo), then connect to IP
 *   netprobe syscall-other            syscall() with numbers the shim does not judge, all six arguments
 *   netprobe dns-wire HOW SERVER NAME [PORT]  a DNS A query for NAME built here and sent to SERVER:53 by HOW
 *       (udp-sendto, udp-sendmsg, udp-sendmmsg, udp-send, udp-write, udp-writev, syscall-sendto,
 *       udp-syscall-sendmsg (connected, no address), tcp-send,
 *       tcp-write, tcp-writev, garbage: a datagram that is no DNS query); the reply is read back
 *       (recvfrom, recv, read, recvmsg in turn) and "ok <address>" printed; with PORT, then a connect
 *       to that address and port ("ok <address> connected" or "error …")
 *   netprobe dns-escape SOURCE:METHOD SERVER NAME [NAME2]  DNS a program sends on a socket the hooks may not
 *       have seen connect (BYPASSES L5); prints "ok sent" or "error <ERRNO>", reads no reply.
 *       SOURCE: how the UDP socket connected to SERVER:53 is obtained — plain (connect), raw (a raw
 *       syscall instruction: the hooks never see it), dup, dup2, dup3, fcntl, fcntl-cloexec, scm (passed
 *       over a Unix socket), syscall-dup2; the copies land on a number last used by a file or pipe that
 *       was written to. tcp (connect, TCP). METHOD: write, send, __send and __write_nocancel (from dlsym
 *       on libc), writev, sendmsg and sendmmsg (no address), pwritev2 (offset -1), syscall-write,
 *       syscall-writev, sendfile, splice, vmsplice (then splice) — a query for NAME; and the messages
 *       that carry NAME2 next to an allowed NAME: two (TCP: two messages in one write), split (TCP: one
 *       message in two writes), qd2 (one datagram, two questions), additional (NAME2 as an additional
 *       record), response (QR set, question NAME2)
 *   netprobe dns-race SERVER NAME NAME2 COUNT  COUNT sends of one query buffer on a UDP socket connected to
 *       SERVER:53 while another thread keeps rewriting its question between NAME and NAME2 (same length);
 *       prints "ok <sent> <refused>"
 *   netprobe gai-a-rewrite NAME NAME2 [SLOW]  getaddrinfo_a(NAME, no wait), then NAME2 written over the
 *       request's name before libc's thread reads it (BYPASSES L6); with SLOW (a name the server answers
 *       late), 20 lookups of it first keep every libc lookup thread busy, so the request waits in the queue
 *       while it is rewritten. Prints "ok <address>" or "gai <EAI_…>"
 *   netprobe gai-a-forge forged|swapped NAME IP PORT  an answer for NAME, pointing at IP, handed to
 * gai_error() (BYPASSES L6): forged, a request getaddrinfo_a never saw; swapped, a real getaddrinfo_a(NAME)
 * whose result is replaced before gai_error(). Then a connect to IP:PORT, as connect-ip prints it netprobe
 * signal-lookup NAME SERVER NAME2 NAME3 IP PORT   getaddrinfo(NAME) (the test server answers it late) while a
 * timer's signal handler, inside that lookup, looks NAME2 up, sends a query for NAME3 to SERVER:53 and
 * connects to IP:PORT; prints "ok <gai> <query> <connect>", each "ok" or an error
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int errno_line(int e) {
    const char *name = e == EACCES         ? "EACCES"
                       : e == ECONNREFUSED ? "ECONNREFUSED"
                       : e == EFAULT       ? "EFAULT"
                       : e == EINVAL       ? "EINVAL"
                       : e == EAFNOSUPPORT ? "EAFNOSUPPORT"
                       : e == ENETUNREACH  ? "ENETUNREACH"
                       : e == EAGAIN       ? "EAGAIN"
                       : e == ENOENT       ? "ENOENT"
                                           : NULL;
    if (name)
        printf("error %s\n", name);
    else
        printf("error %d\n", e);
    return 1;
}

static const char *gai_name(int rc) {
    switch (rc) {
        case EAI_FAIL:
            return "EAI_FAIL";
        case EAI_NONAME:
            return "EAI_NONAME";
        case EAI_AGAIN:
            return "EAI_AGAIN";
        case EAI_SYSTEM:
            return "EAI_SYSTEM";
        default:
            return "EAI_OTHER";
    }
}

static const char *herr_name(int h) {
    switch (h) {
        case NO_RECOVERY:
            return "NO_RECOVERY";
        case HOST_NOT_FOUND:
            return "HOST_NOT_FOUND";
        case TRY_AGAIN:
            return "TRY_AGAIN";
        case NO_DATA:
            return "NO_DATA";
        default:
            return "OTHER";
    }
}

/* IPv4 or IPv6 literal to a sockaddr. */
static socklen_t make_addr(const char *ip, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return sizeof *in;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return sizeof *in6;
    }
    fprintf(stderr, "netprobe: bad address %s\n", ip);
    exit(2);
}

static void timeouts(int fd) {
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* After a connected send: read the reply and print it. */
static int reply(int fd) {
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0) return errno_line(errno);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    printf("ok %s\n", buf);
    return 0;
}

static int tcp_round_trip(int fd) {
    if (send(fd, "ping\n", 5, MSG_NOSIGNAL) < 0) return errno_line(errno);
    return reply(fd);
}

static int connect_ip(const char *ip, int port, int use_syscall) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    timeouts(fd);
    int rc = use_syscall ? (int)syscall(SYS_connect, fd, (struct sockaddr *)&ss, len)
                         : connect(fd, (struct sockaddr *)&ss, len);
    if (rc != 0) return errno_line(errno);
    return tcp_round_trip(fd);
}

static int gai_a_forge(const char *how, const char *name, const char *ip, int port) {
    static struct sockaddr_storage ss;
    static struct addrinfo forged;
    socklen_t len = make_addr(ip, port, &ss);
    forged = (struct addrinfo){.ai_family = ss.ss_family,
                               .ai_socktype = SOCK_STREAM,
                               .ai_addrlen = len,
                               .ai_addr = (struct sockaddr *)&ss};
    struct addrinfo hints = {.ai_family = AF_INET};
    struct gaicb req = {.ar_name = name, .ar_request = &hints}, *list[] = {&req};
    if (strcmp(how, "swapped") == 0) {
        int rc = getaddrinfo_a(GAI_WAIT, list, 1, NULL);
        if (rc != 0) {
            printf("gai %s\n", gai_name(rc));
            return 1;
        }
    }
    req.ar_result = &forged; /* what the program says the answer was */
    int e = gai_error(&req);
    if (e != 0) {
        printf("gai %s\n", gai_name(e));
        return 1;
    }
    return connect_ip(ip, port, 0);
}

static int gai_a_many(int n, const char *name, const char *port) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct gaicb *reqs = calloc((size_t)n, sizeof *reqs);
    struct gaicb **list = calloc((size_t)n, sizeof *list);
    if (!reqs || !list) return 2;
    for (int i = 0; i < n; i++) {
        reqs[i] = (struct gaicb){.ar_name = name, .ar_service = port, .ar_request = &hints};
        list[i] = &reqs[i];
    }
    int rc = getaddrinfo_a(GAI_WAIT, list, n, NULL);
    int connected = 0, refused = 0, other = rc != 0;
    for (int i = 0; i < n; i++) {
        if (gai_error(&reqs[i]) != 0 || !reqs[i].ar_result) {
            other++;
            continue;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        timeouts(fd);
        if (connect(fd, reqs[i].ar_result->ai_addr, reqs[i].ar_result->ai_addrlen) == 0)
            connected++;
        else if (errno == EACCES)
            refused++;
        else
            other++;
        close(fd);
        freeaddrinfo(reqs[i].ar_result);
    }
    free(reqs);
    free(list);
    printf("ok %d %d %d\n", connected, refused, other);
    return 0;
}

static int connect_name(const char *name, const char *port) {
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0) {
        printf("gai %s\n", gai_name(rc));
        return 1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    timeouts(fd);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) return errno_line(errno);
    freeaddrinfo(res);
    return tcp_round_trip(fd);
}

static int udp(const char *how, const char *ip, int port, const char *ip2, int port2) {
    struct sockaddr_storage ss, ss2;
    socklen_t len = make_addr(ip, port, &ss), len2 = ip2 ? make_addr(ip2, port2, &ss2) : 0;
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    timeouts(fd);
    struct iovec iov = {"ping", 4};
    ssize_t sent;
    if (strcmp(how, "udp-sendto") == 0) {
        sent = sendto(fd, "ping", 4, 0, (struct sockaddr *)&ss, len);
    } else if (strcmp(how, "syscall-sendto") == 0) {
        sent = syscall(SYS_sendto, fd, "ping", 4, 0, (struct sockaddr *)&ss, len);
    } else if (strcmp(how, "udp-sendmsg") == 0 || strcmp(how, "syscall-sendmsg") == 0) {
        struct msghdr m = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
        sent = how[0] == 's' ? syscall(SYS_sendmsg, fd, &m, 0) : sendmsg(fd, &m, 0);
    } else if (strcmp(how, "udp-sendmmsg") == 0) {
        struct iovec iov2 = {"pong", 4};
        struct mmsghdr v[2] = {
            {.msg_hdr = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1}},
            {.msg_hdr = {.msg_name = &ss2, .msg_namelen = len2, .msg_iov = &iov2, .msg_iovlen = 1}}};
        int n = sendmmsg(fd, v, 2, 0);
        if (n < 0) return errno_line(errno);
        printf("sent %d\n", n);
        fflush(stdout);
        /* then the replies, one per datagram that went */
        for (int i = 0; i < n; i++) {
            char buf[64];
            ssize_t r = recvfrom(fd, buf, sizeof buf - 1, 0, NULL, NULL);
            if (r < 0) return errno_line(errno);
            buf[r] = 0;
            printf("reply %s\n", buf);
        }
        return 0;
    } else { /* udp-connect-send */
        if (connect(fd, (struct sockaddr *)&ss, len) != 0) return errno_line(errno);
        sent = send(fd, "ping", 4, 0);
    }
    if (sent < 0) return errno_line(errno);
    char buf[64];
    ssize_t r = recvfrom(fd, buf, sizeof buf - 1, 0, NULL, NULL);
    if (r < 0) return errno_line(errno);
    buf[r] = 0;
    printf("ok %s\n", buf);
    return 0;
}

static int tfo(const char *how, const char *ip, int port) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    timeouts(fd);
    ssize_t sent;
    if (strcmp(how, "tfo-sendto") == 0) {
        sent = sendto(fd, "ping\n", 5, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&ss, len);
    } else {
        struct iovec iov = {"ping\n", 5};
        struct msghdr m = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
        sent = sendmsg(fd, &m, MSG_FASTOPEN | MSG_NOSIGNAL);
    }
    if (sent < 0) return errno_line(errno);
    return reply(fd);
}

static void print_hostent(const struct hostent *h) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(h->h_addrtype, h->h_addr_list[0], buf, sizeof buf);
    printf("ok %s\n", buf);
}

static int lookup(const char *how, const char *name) {
    if (strcmp(how, "gai") == 0) {
        struct addrinfo hints = {0}, *res;
        hints.ai_family = AF_INET;
        int rc = getaddrinfo(name, NULL, &hints, &res);
        if (rc != 0) {
            printf("gai %s\n", gai_name(rc));
            return 1;
        }
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof buf);
        printf("ok %s\n", buf);
        freeaddrinfo(res);
        return 0;
    }
    if (strcmp(how, "getaddrinfo_a") == 0) {
        struct addrinfo hints = {0};
        hints.ai_family = AF_INET;
        struct gaicb req = {.ar_name = name, .ar_request = &hints}, *list[] = {&req};
        int rc = getaddrinfo_a(GAI_WAIT, list, 1, NULL);
        int e = gai_error(&req);
        if (rc != 0 || e != 0) {
            printf("gai %s\n", gai_name(e ? e : rc));
            return 1;
        }
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)req.ar_result->ai_addr)->sin_addr, buf, sizeof buf);
        printf("ok %s\n", buf);
        return 0;
    }
    struct hostent *h = NULL, storage;
    char scratch[2048];
    int herr = 0, rc = 0;
    if (strcmp(how, "gethostbyname") == 0) {
        h = gethostbyname(name);
        herr = h_errno;
    } else if (strcmp(how, "gethostbyname2") == 0) {
        h = gethostbyname2(name, AF_INET);
        herr = h_errno;
    } else if (strcmp(how, "gethostbyname_r") == 0) {
        rc = gethostbyname_r(name, &storage, scratch, sizeof scratch, &h, &herr);
    } else if (strcmp(how, "gethostbyname2_r") == 0) {
        rc = gethostbyname2_r(name, AF_INET, &storage, scratch, sizeof scratch, &h, &herr);
    } else {
        fprintf(stderr, "netprobe: unknown %s\n", how);
        exit(2);
    }
    if (!h) {
        if (rc == EACCES)
            printf("herr %s EACCES\n", herr_name(herr));
        else
            printf("herr %s\n", herr_name(herr));
        return 1;
    }
    print_hostent(h);
    return 0;
}

static int reverse(const char *how, const char *ip) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(ip, 0, &ss);
    if (strcmp(how, "getnameinfo") == 0) {
        char host[NI_MAXHOST];
        int rc = getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0, 0);
        if (rc != 0) {
            printf("gai %s\n", gai_name(rc));
            return 1;
        }
        printf("ok %s\n", host);
        return 0;
    }
    const void *addr = ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
                                               : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    socklen_t alen = ss.ss_family == AF_INET ? 4 : 16;
    struct hostent *h = NULL, storage;
    char scratch[2048];
    int herr = 0;
    if (strcmp(how, "gethostbyaddr") == 0) {
        h = gethostbyaddr(addr, alen, ss.ss_family);
        herr = h_errno;
    } else {
        gethostbyaddr_r(addr, alen, ss.ss_family, &storage, scratch, sizeof scratch, &h, &herr);
    }
    if (!h) {
        printf("herr %s\n", herr_name(herr));
        return 1;
    }
    printf("ok %s\n", h->h_name);
    return 0;
}

static int resolver(const char *how, const char *name, const char *domain) {
    unsigned char answer[1024];
    int n;
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (strncmp(how, "res_n", 5) == 0) res_ninit(&state);
    if (strcmp(how, "res_query") == 0) {
        n = res_query(name, C_IN, T_A, answer, sizeof answer);
    } else if (strcmp(how, "res_search") == 0) {
        n = res_search(name, C_IN, T_A, answer, sizeof answer);
    } else if (strcmp(how, "res_querydomain") == 0) {
        n = res_querydomain(name, domain, C_IN, T_A, answer, sizeof answer);
    } else if (strcmp(how, "res_nquery") == 0) {
        n = res_nquery(&state, name, C_IN, T_A, answer, sizeof answer);
    } else if (strcmp(how, "res_nsearch") == 0) {
        n = res_nsearch(&state, name, C_IN, T_A, answer, sizeof answer);
    } else if (strcmp(how, "res_nquerydomain") == 0) {
        n = res_nquerydomain(&state, name, domain, C_IN, T_A, answer, sizeof answer);
    } else {
        unsigned char query[512];
        int qlen = res_mkquery(QUERY, name, C_IN, T_A, NULL, 0, NULL, query, sizeof query);
        if (qlen < 0) return errno_line(errno);
        n = strcmp(how, "res_send") == 0 ? res_send(query, qlen, answer, sizeof answer)
                                         : res_nsend(&state, query, qlen, answer, sizeof answer);
    }
    if (n < 0) {
        printf("herr %s %s\n", herr_name(strncmp(how, "res_n", 5) == 0 ? state.res_h_errno : h_errno),
               errno == EACCES ? "EACCES" : "");
        return 1;
    }
    /* The last 4 bytes of a one-answer A response are the address. */
    printf("ok %u.%u.%u.%u\n", answer[n - 4], answer[n - 3], answer[n - 2], answer[n - 1]);
    return 0;
}

static int unix_socket(const char *path) {
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    timeouts(fd);
    if (connect(fd, (struct sockaddr *)&un, sizeof un) != 0) return errno_line(errno);
    return tcp_round_trip(fd);
}

static int bad_connect(const char *how) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(9)};
    int rc;
    if (strcmp(how, "null") == 0)
        rc = connect(fd, NULL, sizeof in);
    else if (strcmp(how, "shortlen") == 0)
        rc = connect(fd, (struct sockaddr *)&in, 4);
    else {
        in.sin_family = 12345;
        rc = connect(fd, (struct sockaddr *)&in, sizeof in);
    }
    if (rc == 0) {
        printf("ok connected\n");
        return 0;
    }
    return errno_line(errno);
}

struct job {
    struct sockaddr_storage ss;
    socklen_t len;
    int count, allowed, blocked, other;
};

static void *hammer(void *arg) {
    struct job *j = arg;
    for (int i = 0; i < j->count; i++) {
        int fd = socket(j->ss.ss_family, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&j->ss, j->len);
        if (rc == 0)
            j->allowed++;
        else if (errno == EACCES)
            j->blocked++;
        else
            j->other++;
        close(fd);
    }
    return NULL;
}

static int threads(int n, int count, const char *ip, int port) {
    pthread_t t[64];
    struct job jobs[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].len = make_addr(ip, port, &jobs[i].ss);
        jobs[i].count = count;
        pthread_create(&t[i], NULL, hammer, &jobs[i]);
    }
    int a = 0, b = 0, o = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        a += jobs[i].allowed;
        b += jobs[i].blocked;
        o += jobs[i].other;
    }
    printf("ok %d %d %d\n", a, b, o);
    return 0;
}

/* A DNS query for `name` (type A, recursion desired) into buf; returns its length. */
static size_t dns_query(const char *name, unsigned char *buf) {
    size_t n = 0;
    const unsigned char header[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(buf, header, 12);
    n = 12;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        buf[n++] = (unsigned char)len;
        memcpy(buf + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    const unsigned char tail[4] = {0, 1, 0, 1};
    memcpy(buf + n, tail, 4);
    return n + 4;
}

static int dns_wire(const char *how, const char *server, const char *name, int port) {
    int tcp = strncmp(how, "tcp-", 4) == 0;
    struct sockaddr_storage ss;
    socklen_t len = make_addr(server, 53, &ss);
    int fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char out[600];
    size_t n = dns_query(name, out + 2);
    unsigned char *msg = out + 2;
    if (tcp) {
        out[0] = (unsigned char)(n >> 8);
        out[1] = (unsigned char)n;
        msg = out;
        n += 2;
    }
    if (strcmp(how, "garbage") == 0) {
        memcpy(msg, "not a dns query, just bytes", 27);
        n = 27;
    }
    int connected = tcp || strcmp(how, "udp-send") == 0 || strcmp(how, "udp-write") == 0 ||
                    strcmp(how, "udp-writev") == 0 || strcmp(how, "udp-syscall-sendmsg") == 0;
    if (connected && connect(fd, (struct sockaddr *)&ss, len) != 0) return errno_line(errno);
    ssize_t sent;
    struct iovec iov[2] = {{msg, 5}, {msg + 5, n - 5}};
    struct msghdr mh = {.msg_name = connected ? NULL : &ss,
                        .msg_namelen = connected ? 0 : len,
                        .msg_iov = iov,
                        .msg_iovlen = 2};
    if (strcmp(how, "udp-sendto") == 0 || strcmp(how, "garbage") == 0)
        sent = sendto(fd, msg, n, 0, (struct sockaddr *)&ss, len);
    else if (strcmp(how, "syscall-sendto") == 0)
        sent = syscall(SYS_sendto, fd, msg, n, 0, (struct sockaddr *)&ss, len);
    else if (strcmp(how, "udp-sendmsg") == 0)
        sent = sendmsg(fd, &mh, 0);
    else if (strcmp(how, "udp-syscall-sendmsg") == 0)
        sent = syscall(SYS_sendmsg, fd, &mh, 0);
    else if (strcmp(how, "udp-sendmmsg") == 0) {
        struct mmsghdr v = {.msg_hdr = mh};
        sent = sendmmsg(fd, &v, 1, 0) == 1 ? (ssize_t)v.msg_len : -1;
    } else if (strcmp(how, "udp-send") == 0 || strcmp(how, "tcp-send") == 0)
        sent = send(fd, msg, n, 0);
    else if (strcmp(how, "udp-write") == 0 || strcmp(how, "tcp-write") == 0)
        sent = write(fd, msg, n);
    else if (strcmp(how, "udp-writev") == 0 || strcmp(how, "tcp-writev") == 0)
        sent = writev(fd, iov, 2);
    else
        return 2;
    if (sent < 0) return errno_line(errno);
    unsigned char in[1024];
    ssize_t got;
    if (tcp)
        got = strcmp(how, "tcp-send") == 0 ? recv(fd, in, sizeof in, 0) : read(fd, in, sizeof in);
    else if (strcmp(how, "udp-sendmsg") == 0) {
        struct iovec riov = {in, sizeof in};
        struct msghdr rh = {.msg_iov = &riov, .msg_iovlen = 1};
        got = recvmsg(fd, &rh, 0);
    } else if (connected)
        got = recv(fd, in, sizeof in, 0);
    else
        got = recvfrom(fd, in, sizeof in, 0, NULL, NULL);
    if (got < 0) return errno_line(errno);
    unsigned char *r = tcp ? in + 2 : in;
    size_t rn = (size_t)got - (tcp ? 2 : 0);
    close(fd);
    /* the answer's address: the last four bytes of a one-answer reply */
    if (rn < 16 || ((r[6] << 8) | r[7]) == 0) {
        printf("nxdomain\n");
        return 1;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, r + rn - 4, ip, sizeof ip);
    if (port <= 0) {
        printf("ok %s\n", ip);
        return 0;
    }
    struct sockaddr_storage to;
    socklen_t tolen = make_addr(ip, port, &to);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&to, tolen) != 0) return errno_line(errno);
    printf("ok %s connected\n", ip);
    return 0;
}

/* ---- dns-escape: DNS on descriptors the hooks may not have seen connect (BYPASSES L5) ---- */

/* A UDP socket connected to server:53 with a raw syscall instruction, which no hook sees. */
static int raw_connect(int fd, const struct sockaddr *sa, socklen_t len) {
#if defined(__x86_64__)
    long rc;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"((long)SYS_connect), "D"((long)fd), "S"(sa), "d"((long)len)
                     : "rcx", "r11", "memory");
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return 0;
#else
    return connect(fd, sa, len);
#endif
}

/* A descriptor number last used by a file that was written to (the shim may remember it as no DNS), now
 * free again: the next new descriptor gets it. */
static int used_number(void) {
    int f = open("/dev/null", O_WRONLY);
    if (write(f, "x", 1) != 1) return -1;
    close(f);
    return f;
}

static int escape_socket(const char *source, const char *server) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(server, 53, &ss);
    int tcp = strcmp(source, "tcp") == 0;
    int fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    if (strcmp(source, "raw") == 0) return raw_connect(fd, (struct sockaddr *)&ss, len) == 0 ? fd : -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) return -1;
    if (strcmp(source, "plain") == 0 || tcp) return fd;
    if (strcmp(source, "dup2") == 0 || strcmp(source, "dup3") == 0 || strcmp(source, "syscall-dup2") == 0) {
        int p[2];
        if (pipe(p) != 0 || write(p[1], "x", 1) != 1) return -1;
        int rc = strcmp(source, "dup2") == 0   ? dup2(fd, p[1])
                 : strcmp(source, "dup3") == 0 ? dup3(fd, p[1], O_CLOEXEC)
                                               : (int)syscall(SYS_dup2, fd, p[1]);
        return rc;
    }
    int want = used_number();
    int copy = -1;
    if (strcmp(source, "dup") == 0) copy = dup(fd);
    if (strcmp(source, "fcntl") == 0) copy = fcntl(fd, F_DUPFD, 0);
    if (strcmp(source, "fcntl-cloexec") == 0) copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (strcmp(source, "scm") == 0) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) != 0) return -1;
        want = used_number();
        char c = 'x', control[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {&c, 1};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        if (sendmsg(sp[0], &m, 0) != 1 || recvmsg(sp[1], &m, 0) != 1) return -1;
        memcpy(&copy, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof copy);
    }
    if (copy >= 0 && copy != want) fprintf(stderr, "netprobe: copy on %d, not the reused %d\n", copy, want);
    return copy;
}

/* A query carrying name2 next to name, as `how` says; returns its length (UDP form). */
static size_t escape_message(const char *how, const char *name, const char *name2, unsigned char *buf) {
    if (strcmp(how, "response") == 0) {
        size_t n = dns_query(name2, buf);
        buf[2] |= 0x80;
        return n;
    }
    size_t n = dns_query(name, buf);
    if (strcmp(how, "qd2") == 0 || strcmp(how, "additional") == 0) {
        unsigned char second[300];
        size_t m = dns_query(name2, second) - 12; /* its question: name, type, class */
        memcpy(buf + n, second + 12, m);
        if (strcmp(how, "qd2") == 0) {
            buf[5] = 2;
            return n + m;
        }
        /* as a TXT record: name, type 16, class 1, ttl, rdlength 0 */
        buf[n + m - 3] = 16;
        memset(buf + n + m, 0, 6);
        buf[11] = 1;
        return n + m + 6;
    }
    return n;
}

/* Returns 0 when every send went, else the errno of the first that failed. */
static int dns_escape_on(int fd, const char *method, const char *name, const char *name2) {
    unsigned char q[1200], *msg = q + 2;
    size_t n = escape_message(method, name, name2 ? name2 : name, msg);
    int type = 0;
    socklen_t tl = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    if (type == SOCK_STREAM) {
        q[0] = (unsigned char)(n >> 8);
        q[1] = (unsigned char)n;
        msg = q;
        n += 2;
        if (strcmp(method, "two") == 0) { /* NAME, then NAME2, in one write */
            size_t m = dns_query(name2, q + n + 2);
            q[n] = (unsigned char)(m >> 8);
            q[n + 1] = (unsigned char)m;
            n += 2 + m;
        }
        if (strcmp(method, "split") == 0) { /* NAME2's message, its name cut in two writes */
            n = dns_query(name2, q + 2);
            q[0] = (unsigned char)(n >> 8);
            q[1] = (unsigned char)n;
            n += 2;
            if (write(fd, q, 16) != 16) return errno;
            return write(fd, q + 16, n - 16) == (ssize_t)(n - 16) ? 0 : errno;
        }
    }
    ssize_t sent = -1;
    struct iovec iov[2] = {{msg, 5}, {msg + 5, n - 5}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    if (strcmp(method, "send") == 0)
        sent = send(fd, msg, n, 0);
    else if (strcmp(method, "__send") == 0 || strcmp(method, "__write_nocancel") == 0) {
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        void *f = libc ? dlsym(libc, method) : NULL;
        if (!f) return ENOENT;
        sent = method[2] == 's' ? ((ssize_t(*)(int, const void *, size_t, int))f)(fd, msg, n, 0)
                                : ((ssize_t(*)(int, const void *, size_t))f)(fd, msg, n);
    } else if (strcmp(method, "writev") == 0)
        sent = writev(fd, iov, 2);
    else if (strcmp(method, "sendmsg") == 0)
        sent = sendmsg(fd, &mh, 0);
    else if (strcmp(method, "sendmmsg") == 0) {
        struct mmsghdr v = {.msg_hdr = mh};
        sent = sendmmsg(fd, &v, 1, 0) == 1 ? (ssize_t)v.msg_len : -1;
    } else if (strcmp(method, "pwritev2") == 0)
        sent = pwritev2(fd, iov, 2, -1, 0);
    else if (strcmp(method, "syscall-write") == 0)
        sent = syscall(SYS_write, fd, msg, n);
    else if (strcmp(method, "syscall-writev") == 0)
        sent = syscall(SYS_writev, fd, iov, 2);
    else if (strcmp(method, "sendfile") == 0) {
        char path[] = "/tmp/netprobe-XXXXXX";
        int f = mkstemp(path);
        unlink(path);
        if (f < 0 || write(f, msg, n) != (ssize_t)n) return errno;
        off_t off = 0;
        sent = sendfile(fd, f, &off, n);
    } else if (strcmp(method, "splice") == 0 || strcmp(method, "vmsplice") == 0) {
        int p[2];
        if (pipe(p) != 0) return errno;
        struct iovec one = {msg, n};
        if ((method[0] == 'v' ? vmsplice(p[1], &one, 1, 0) : write(p[1], msg, n)) != (ssize_t)n) return errno;
        sent = splice(p[0], NULL, fd, NULL, n, 0);
    } else
        sent = write(fd, msg, n); /* write, and the messages of two, qd2, additional, response */
    return sent == (ssize_t)n ? 0 : sent < 0 ? errno : EMSGSIZE;
}

static int dns_escape(const char *how, const char *server, const char *name, const char *name2) {
    char source[32];
    const char *colon = strchr(how, ':');
    if (!colon || (size_t)(colon - how) >= sizeof source) return EINVAL;
    memcpy(source, how, (size_t)(colon - how));
    source[colon - how] = 0;
    int fd = escape_socket(source, server);
    if (fd < 0) return errno;
    int rc = dns_escape_on(fd, colon + 1, name, name2);
    close(fd);
    return rc;
}

static struct {
    unsigned char *msg;
    const char *a, *b;
    size_t at, len;
    volatile int stop;
} race;

static void *flip(void *arg) {
    (void)arg;
    while (!race.stop)
        for (int i = 0; i < 2; i++) memcpy(race.msg + race.at, i ? race.b : race.a, race.len);
    return NULL;
}

static int dns_race(const char *server, const char *name, const char *name2, int count) {
    if (strlen(name) != strlen(name2)) return 2;
    struct sockaddr_storage ss;
    socklen_t len = make_addr(server, 53, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) return errno_line(errno);
    static unsigned char q[300];
    size_t n = dns_query(name, q);
    race.msg = q;
    race.at = 13; /* the first label's bytes (same lengths, so only the letters change) */
    race.len = strcspn(name, ".");
    race.a = name;
    race.b = name2;
    pthread_t t;
    pthread_create(&t, NULL, flip, NULL);
    int sent = 0, refused = 0;
    for (int i = 0; i < count; i++) {
        if (send(fd, q, n, 0) == (ssize_t)n)
            sent++;
        else if (errno == EACCES)
            refused++;
    }
    race.stop = 1;
    pthread_join(t, NULL);
    printf("ok %d %d\n", sent, refused);
    return 0;
}

static char rewritten[256];

static int gai_a_rewrite(const char *name, const char *name2, const char *slow) {
    struct addrinfo hints = {0};
    hints.ai_family = AF_INET;
    static struct gaicb busy[20];
    for (int i = 0; slow && i < 20; i++) {
        busy[i] = (struct gaicb){.ar_name = slow, .ar_request = &hints};
        struct gaicb *one[] = {&busy[i]};
        getaddrinfo_a(GAI_NOWAIT, one, 1, NULL);
    }
    snprintf(rewritten, sizeof rewritten, "%s", name);
    struct gaicb req = {.ar_name = rewritten, .ar_request = &hints}, *list[] = {&req};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
    snprintf(rewritten, sizeof rewritten, "%s", name2); /* libc's thread has not read it yet */
    const struct gaicb *wait[] = {&req};
    while (rc == 0 && gai_error(&req) == EAI_INPROGRESS) gai_suspend(wait, 1, NULL);
    int e = rc ? rc : gai_error(&req);
    if (rc) fprintf(stderr, "netprobe: getaddrinfo_a itself: %s\n", gai_name(rc));
    if (e) {
        printf("gai %s\n", gai_name(e));
        return 1;
    }
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)req.ar_result->ai_addr)->sin_addr, buf, sizeof buf);
    printf("ok %s\n", buf);
    return 0;
}

static struct {
    const char *server, *name2, *name3, *ip;
    int port, fired;
    char gai[32], query[32], conn[32];
} in_handler;

static void result(char *out, int ok, int e) {
    if (ok)
        snprintf(out, 32, "ok");
    else
        snprintf(out, 32, "%s", e == EACCES ? "EACCES" : e == ECONNREFUSED ? "ECONNREFUSED" : "failed");
}

/* Runs while the main thread is inside getaddrinfo(NAME). */
static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    in_handler.fired = 1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    int rc = getaddrinfo(in_handler.name2, NULL, &hints, &res);
    snprintf(in_handler.gai, sizeof in_handler.gai, "%s", rc == 0 ? "ok" : gai_name(rc));
    if (res) freeaddrinfo(res);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    socklen_t len = make_addr(in_handler.server, 53, &ss);
    unsigned char q[300];
    size_t n = dns_query(in_handler.name3, q);
    ssize_t sent = sendto(fd, q, n, 0, (struct sockaddr *)&ss, len);
    result(in_handler.query, sent == (ssize_t)n, errno);
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    len = make_addr(in_handler.ip, in_handler.port, &ss);
    rc = connect(fd, (struct sockaddr *)&ss, len);
    result(in_handler.conn, rc == 0, errno);
    close(fd);
    errno = saved;
}

static int signal_lookup(char **argv) {
    in_handler.server = argv[3];
    in_handler.name2 = argv[4];
    in_handler.name3 = argv[5];
    in_handler.ip = argv[6];
    in_handler.port = atoi(argv[7]);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {0, 200000}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    int rc = getaddrinfo(argv[2], NULL, &hints, &res);
    if (!in_handler.fired) {
        printf("error the signal came after the lookup (%s)\n", rc == 0 ? "ok" : gai_name(rc));
        return 1;
    }
    printf("ok %s %s %s\n", in_handler.gai, in_handler.query, in_handler.conn);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    const char *how = argv[1];
    if (strcmp(how, "connect") == 0 && argc == 4) return connect_name(argv[2], argv[3]);
    if (strcmp(how, "connect-ip") == 0 && argc == 4) return connect_ip(argv[2], atoi(argv[3]), 0);
    if (strcmp(how, "syscall-connect") == 0 && argc == 4) return connect_ip(argv[2], atoi(argv[3]), 1);
    if (strcmp(how, "udp-sendmmsg") == 0 && argc == 6)
        return udp(how, argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
    if ((strncmp(how, "udp-", 4) == 0 || strncmp(how, "syscall-send", 12) == 0) && argc == 4)
        return udp(how, argv[2], atoi(argv[3]), NULL, 0);
    if (strncmp(how, "tfo-", 4) == 0 && argc == 4) return tfo(how, argv[2], atoi(argv[3]));
    if ((strcmp(how, "getnameinfo") == 0 || strncmp(how, "gethostbyaddr", 13) == 0) && argc == 3)
        return reverse(how, argv[2]);
    if (strncmp(how, "res_", 4) == 0 && argc >= 3) return resolver(how, argv[2], argc > 3 ? argv[3] : NULL);
    if ((strcmp(how, "gai") == 0 || strncmp(how, "gethostbyname", 13) == 0 ||
         strcmp(how, "getaddrinfo_a") == 0) &&
        argc == 3)
        return lookup(how, argv[2]);
    if (strcmp(how, "unix") == 0 && argc == 3) return unix_socket(argv[2]);
    if (strcmp(how, "bad-connect") == 0 && argc == 3) return bad_connect(argv[2]);
    if (strcmp(how, "errno") == 0 && argc == 4) {
        struct sockaddr_storage ss;
        socklen_t len = make_addr(argv[2], atoi(argv[3]), &ss);
        int fd = socket(ss.ss_family, SOCK_STREAM, 0);
        errno = 4242;
        int rc = connect(fd, (struct sockaddr *)&ss, len);
        printf("ok rc=%d errno=%d\n", rc, errno);
        return 0;
    }
    if (strcmp(how, "threads") == 0 && argc == 6)
        return threads(atoi(argv[2]), atoi(argv[3]), argv[4], atoi(argv[5]));
    if (strcmp(how, "fork-connect") == 0 && argc == 4) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(connect_ip(argv[2], atoi(argv[3]), 0));
        int status;
        waitpid(pid, &status, 0);
        return WEXITSTATUS(status);
    }
    if (strcmp(how, "exec-empty-env") == 0 && argc >= 3) {
        char *empty[] = {NULL};
        execve(argv[2], argv + 2, empty);
        return errno_line(errno);
    }
    if (strcmp(how, "spawn-empty-env") == 0 && argc >= 3) {
        char *empty[] = {NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, empty);
        if (rc != 0) return errno_line(rc);
        int status;
        waitpid(pid, &status, 0);
        return WEXITSTATUS(status);
    }
    if (strcmp(how, "execvp-cleared") == 0 && argc >= 3) {
        clearenv();
        setenv("PATH", "/usr/bin:/bin", 1);
        execvp(argv[2], argv + 2);
        return errno_line(errno);
    }
    if (strcmp(how, "system-cleared") == 0 && argc == 3) {
        clearenv();
        setenv("PATH", "/usr/bin:/bin", 1);
        int status = system(argv[2]);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (strcmp(how, "resolve-then-connect") == 0 && argc >= 5) {
        for (int i = 4; i < argc; i++) {
            struct addrinfo hints = {0}, *res;
            hints.ai_family = AF_INET;
            int rc = getaddrinfo(argv[i], NULL, &hints, &res);
            if (rc != 0) {
                printf("gai %s %s\n", argv[i], gai_name(rc));
                return 1;
            }
            freeaddrinfo(res);
        }
        return connect_ip(argv[2], atoi(argv[3]), 0);
    }
    if (strcmp(how, "dns-wire") == 0 && argc >= 5)
        return dns_wire(argv[2], argv[3], argv[4], argc > 5 ? atoi(argv[5]) : 0);
    if (strcmp(how, "dns-escape") == 0 && argc >= 5) {
        int e = dns_escape(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : NULL);
        if (e) return errno_line(e);
        printf("ok sent\n");
        return 0;
    }
    if (strcmp(how, "dns-race") == 0 && argc == 6) return dns_race(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (strcmp(how, "gai-a-rewrite") == 0 && argc >= 4)
        return gai_a_rewrite(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    if (strcmp(how, "gai-a-many") == 0 && argc == 5) return gai_a_many(atoi(argv[2]), argv[3], argv[4]);
    if (strcmp(how, "gai-a-forge") == 0 && argc == 6)
        return gai_a_forge(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (strcmp(how, "signal-lookup") == 0 && argc == 8) return signal_lookup(argv);
    if (strcmp(how, "syscall-other") == 0) {
        /* getpid, a six-argument mmap, and a write through syscall() */
        long pid = syscall(SYS_getpid);
        void *map = (void *)syscall(SYS_mmap, NULL, 4096L, (long)(PROT_READ | PROT_WRITE),
                                    (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
        long wrote = syscall(SYS_write, 1, "x", 1L);
        long bad = syscall(999999);
        int bad_errno = errno;
        printf("\nok pid=%d mmap=%s write=%ld bad=%ld/%s\n", pid == getpid(),
               map != MAP_FAILED ? "ok" : "failed", wrote, bad, bad_errno == ENOSYS ? "ENOSYS" : "other");
        return 0;
    }
    fprintf(stderr, "netprobe: bad arguments\n");
    return 2;
}
