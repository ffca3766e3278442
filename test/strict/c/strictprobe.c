/* The strict-mode probe: a statically linked program (no shim can be preloaded into it) that reaches its
 * peers in the ways only a kernel-level check sees. Each mode prints one result line, "ok pong:<marker>"
 * when the marker went to the peer and came back, else "error <ERRNO>".
 *
 *   raw IP PORT MARKER        socket/connect/write/read through the `syscall` instruction, no libc
 *   int80 IP PORT MARKER      connect through the 32-bit table (int 0x80) from this 64-bit process
 *   uring IP PORT MARKER      IORING_OP_CONNECT and IORING_OP_SEND
 *   nonblock IP PORT MARKER   a non-blocking connect: "inprogress" (EINPROGRESS) then the round trip
 *   chain DEPTH IP PORT MARKER  fork+exec itself DEPTH times; the last descendant does `raw`
 *   race GOOD_IP GOOD_PORT BAD_IP BAD_PORT N   a thread flips the address while the main thread connects
 *                             (at most N times)
 *   threads T N GOOD_IP GOOD_PORT BAD_IP BAD_PORT   T threads × N connects, alternating; counts verdicts
 *   sendmmsg IP GOOD_PORT BAD_PORT   UDP: [good, good, bad] in one sendmmsg, then [bad] alone
 *   stall IP PORT MARKER      one thread blocks in a connect that cannot finish; the main thread's
 *                             round trip still goes through; then a signal interrupts the blocked one
 *   killparent IP PORT MARKER a round trip, SIGKILL to the parent (the supervisor), another attempt
 *   unspec IP PORT MARKER     a UDP datagram to an AF_UNSPEC address (IPv4 sockets send to it), answer read
 *   peek PID HEXADDR          read a byte of another process's memory (process_vm_readv): "ok" or error
 *   sctp                      socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP): "ok" or error
 *   srr-connect HOP IP PORT MARKER   TCP: setsockopt(IP_OPTIONS) with a loose source route through HOP
 *                             ("error EACCES" if refused, else "set "), then connect to IP:PORT (1 s at
 *                             most) and the round trip
 *   srr-sendmsg HOP IP PORT MARKER   UDP: sendmsg to IP:PORT with an IP_RETOPTS control message holding
 *                             the same route ("error EACCES" if refused, else "sent ", then the answer)
 *   tos-sendmsg IP PORT MARKER       UDP: sendmsg with an IP_TOS control message, then the answer
 *   ipopt-rr                  setsockopt(IP_OPTIONS) with a record-route option (no route), read back
 *                             with getsockopt: "ok <length read back>" or error
 *   rthdr6                    setsockopt(IPV6_RTHDR) with a one-segment routing header (type 4) on an
 *                             IPv6 UDP socket: "ok" or error
 *   srr-exec HOP|none PROG ARG…  a TCP socket as descriptor 3, with a loose source route through HOP set
 *                             (none: without), then exec PROG (a socket the strict filter never saw set)
 *   connect-fd3 IP PORT MARKER connect descriptor 3 to IP:PORT (1 s at most) and the round trip
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e) {
    static char buf[32];
    switch (e) {
        case EACCES:
            return "EACCES";
        case ENOSYS:
            return "ENOSYS";
        case EPERM:
            return "EPERM";
        case EINTR:
            return "EINTR";
        case EINPROGRESS:
            return "EINPROGRESS";
        case ECONNREFUSED:
            return "ECONNREFUSED";
        case EFAULT:
            return "EFAULT";
        case EINVAL:
            return "EINVAL";
        case EALREADY:
            return "EALREADY";
        case ETIMEDOUT:
            return "ETIMEDOUT";
        default:
            snprintf(buf, sizeof buf, "%d", e);
            return buf;
    }
}

static struct sockaddr_in addr_of(const char *ip, const char *port) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, ip, &in.sin_addr);
    return in;
}

/* ---- raw system calls: the `syscall` instruction, as Go and static programs use it ---- */

static long raw6(long nr, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The peer's answer, read through a raw call: "ok <first line>". */
static void raw_answer(int fd) {
    char in[128];
    long r = raw6(SYS_read, fd, (long)in, sizeof in - 1, 0, 0, 0);
    if (r < 0) {
        printf("error %s\n", errname((int)-r));
        return;
    }
    in[r] = 0;
    in[strcspn(in, "\n")] = 0;
    printf("ok %s\n", in);
}

/* The marker out and the answer back on a connected socket, through raw calls. */
static void raw_round_trip(int fd, const char *marker) {
    char out[128];
    int n = snprintf(out, sizeof out, "%s\n", marker);
    long r = raw6(SYS_write, fd, (long)out, n, 0, 0, 0);
    if (r < 0) {
        printf("error %s\n", errname((int)-r));
        return;
    }
    raw_answer(fd);
}

static int raw_connect(const char *ip, const char *port, const char *marker) {
    struct sockaddr_in in = addr_of(ip, port);
    long fd = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
    long r = raw6(SYS_connect, fd, (long)&in, sizeof in, 0, 0, 0);
    if (r < 0) {
        printf("error %s\n", errname((int)-r));
        return 0;
    }
    raw_round_trip((int)fd, marker);
    return 0;
}

/* ---- the 32-bit table: int 0x80 (i386 connect is 362); the address must lie below 4 GiB ---- */

static struct sockaddr_in low_addr; /* a static, non-PIE program: its data sits below 4 GiB */

static int int80_connect(const char *ip, const char *port, const char *marker) {
    if ((uintptr_t)&low_addr > 0xffffffffu) {
        printf("error not-low\n");
        return 1;
    }
    low_addr = addr_of(ip, port);
    long fd = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(362L), "b"(fd), "c"((long)(uintptr_t)&low_addr), "d"((long)sizeof low_addr)
                     : "memory");
    if (ret < 0) {
        printf("error %s\n", errname((int)-ret));
        return 0;
    }
    raw_round_trip((int)fd, marker);
    return 0;
}

/* ---- io_uring ---- */

static int uring_connect(const char *ip, const char *port, const char *marker) {
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        printf("error setup %s\n", errname(-rc));
        return 0;
    }
    struct sockaddr_in in = addr_of(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&in, sizeof in);
    io_uring_submit(&ring);
    struct io_uring_cqe *cqe;
    io_uring_wait_cqe(&ring, &cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    if (res < 0) {
        printf("error %s\n", errname(-res));
        return 0;
    }
    char out[128];
    int n = snprintf(out, sizeof out, "%s\n", marker);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_send(sqe, fd, out, (size_t)n, 0);
    io_uring_submit(&ring);
    io_uring_wait_cqe(&ring, &cqe);
    io_uring_cqe_seen(&ring, cqe);
    raw_answer(fd);
    return 0;
}

/* ---- a non-blocking connect ---- */

static int nonblock(const char *ip, const char *port, const char *marker) {
    struct sockaddr_in in = addr_of(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(fd, (struct sockaddr *)&in, sizeof in) == 0) {
        printf("connected-at-once ");
    } else if (errno == EINPROGRESS) {
        printf("inprogress ");
    } else {
        printf("error %s\n", errname(errno));
        return 0;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    poll(&p, 1, 5000);
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        printf("error %s\n", errname(err));
        return 0;
    }
    fcntl(fd, F_SETFL, 0);
    raw_round_trip(fd, marker);
    return 0;
}

/* ---- fork/exec chains ---- */

static int chain(int depth, char **argv) {
    if (depth == 0) return raw_connect(argv[3], argv[4], argv[5]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char next[16];
        snprintf(next, sizeof next, "%d", depth - 1);
        char *args[] = {argv[0], "chain", next, argv[3], argv[4], argv[5], NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- the race: one shared address, flipped by another thread byte by byte ---- */

static struct sockaddr_in shared, good, bad;
static atomic_int stop;

static void *flipper(void *arg) {
    (void)arg;
    volatile unsigned char *dst = (volatile unsigned char *)&shared;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (size_t i = 0; i < sizeof shared; i++) dst[i] = ((unsigned char *)&bad)[i];
        for (size_t i = 0; i < sizeof shared; i++) dst[i] = ((unsigned char *)&good)[i];
    }
    return NULL;
}

static int race(char **argv) {
    good = addr_of(argv[2], argv[3]);
    bad = addr_of(argv[4], argv[5]);
    shared = good;
    int n = atoi(argv[6]), ok = 0, denied = 0, other = 0;
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    /* up to N attempts, and at least 200: enough once both outcomes were seen often (scheduling decides
     * how the two threads interleave) */
    for (int i = 0; i < n && (i < 200 || ok < 20 || denied < 20); i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&shared, sizeof shared) == 0) {
            ok++;
            if (write(fd, "race\n", 5) < 0) {
            }
        } else if (errno == EACCES) {
            denied++;
        } else {
            other++;
        }
        close(fd);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("done ok=%d denied=%d other=%d\n", ok, denied, other);
    return 0;
}

/* ---- threads: every verdict checked ---- */

static int per_thread;
static atomic_int wrong, allowed_count, blocked_count;

static void *connector(void *arg) {
    (void)arg;
    for (int i = 0; i < per_thread; i++) {
        int want_ok = i % 2 == 0;
        struct sockaddr_in *to = want_ok ? &good : &bad;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)to, sizeof *to);
        int e = errno;
        if (want_ok ? rc != 0 : !(rc < 0 && e == EACCES)) atomic_fetch_add(&wrong, 1);
        atomic_fetch_add(want_ok ? &allowed_count : &blocked_count, 1);
        close(fd);
    }
    return NULL;
}

static int threads(char **argv) {
    int nthreads = atoi(argv[2]);
    per_thread = atoi(argv[3]);
    good = addr_of(argv[4], argv[5]);
    bad = addr_of(argv[6], argv[7]);
    pthread_t t[64];
    for (int i = 0; i < nthreads && i < 64; i++) pthread_create(&t[i], NULL, connector, NULL);
    for (int i = 0; i < nthreads && i < 64; i++) pthread_join(t[i], NULL);
    printf("wrong=%d allowed=%d blocked=%d\n", wrong, allowed_count, blocked_count);
    return 0;
}

/* ---- sendmmsg: partial counts ---- */

static int mmsg(char **argv) {
    struct sockaddr_in g = addr_of(argv[2], argv[3]), b = addr_of(argv[2], argv[4]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct iovec iov[3] = {{"m1", 2}, {"m2-", 3}, {"m3--", 4}};
    struct mmsghdr v[3];
    memset(v, 0, sizeof v);
    struct sockaddr_in *to[3] = {&g, &g, &b};
    for (int i = 0; i < 3; i++) {
        v[i].msg_hdr.msg_name = to[i];
        v[i].msg_hdr.msg_namelen = sizeof *to[i];
        v[i].msg_hdr.msg_iov = &iov[i];
        v[i].msg_hdr.msg_iovlen = 1;
        v[i].msg_len = 99;
    }
    int n = sendmmsg(fd, v, 3, 0);
    printf("sent %d lens %u %u %u; ", n, v[0].msg_len, v[1].msg_len, v[2].msg_len);
    n = sendmmsg(fd, &v[2], 1, 0);
    if (n < 0)
        printf("alone error %s\n", errname(errno));
    else
        printf("alone sent %d\n", n);
    return 0;
}

/* ---- a blocked connect must not stall the supervisor; a signal interrupts it ---- */

static struct sockaddr_in full;
static void on_alarm(int sig) {
    (void)sig;
}

static void *stuck(void *arg) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&full, sizeof full);
    *(int *)arg = rc < 0 ? errno : 0;
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stall(char **argv) {
    /* A listener that never accepts, its queue filled: a further SYN is dropped and connect() waits. */
    full = addr_of("127.0.0.9", "0");
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&full, sizeof full);
    listen(l, 0);
    socklen_t len = sizeof full;
    getsockname(l, (struct sockaddr *)&full, &len);
    for (int i = 0; i < 3; i++) {
        int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(f, (struct sockaddr *)&full, sizeof full);
    }
    usleep(100000);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: the interrupted connect returns EINTR */
    sigaction(SIGUSR2, &sa, NULL);
    int stuck_errno = -1;
    pthread_t t;
    pthread_create(&t, NULL, stuck, &stuck_errno);
    usleep(300000);
    double start = now();
    struct sockaddr_in in = addr_of(argv[2], argv[3]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    double took = now() - start;
    printf("%s ", took < 0.5 ? "prompt" : "slow");
    fflush(stdout);
    raw_round_trip(fd, argv[4]);
    pthread_kill(t, SIGUSR2);
    pthread_join(t, NULL);
    printf("stuck %s\n", stuck_errno == 0 ? "connected" : errname(stuck_errno));
    return 0;
}

static int killparent(char **argv) {
    struct sockaddr_in in = addr_of(argv[2], argv[3]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
        printf("first error %s\n", errname(errno));
        return 0;
    }
    printf("first ");
    raw_round_trip(fd, "first");
    kill(getppid(), SIGKILL);
    usleep(200000);
    printf("second ");
    fflush(stdout);
    return raw_connect(argv[2], argv[3], argv[4]);
}

static int unspec(char **argv) {
    struct sockaddr_in in = addr_of(argv[2], argv[3]);
    in.sin_family = AF_UNSPEC;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&in, sizeof in) < 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    raw_answer(fd);
    return 0;
}

static int peek(const char *pid, const char *addr) {
    char byte;
    struct iovec l = {&byte, 1}, r = {(void *)strtoul(addr, NULL, 16), 1};
    if (process_vm_readv(atoi(pid), &l, 1, &r, 1, 0) != 1)
        printf("error %s\n", errname(errno));
    else
        printf("ok\n");
    return 0;
}

static int sctp(void) {
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    if (fd < 0)
        printf("error %s\n", errname(errno));
    else
        printf("ok\n");
    return 0;
}

/* ---- IP source routing: the first hop of the route is where the packet goes ---- */

/* NOP, then LSRR through `hop` (pointer 4: the first address); the kernel adds the final destination */
static void lsrr(const char *hop, unsigned char opt[8]) {
    opt[0] = IPOPT_NOOP;
    opt[1] = IPOPT_LSRR;
    opt[2] = 7;
    opt[3] = 4;
    inet_pton(AF_INET, hop, opt + 4);
}

static int srr_connect(char **argv) {
    unsigned char opt[8];
    lsrr(argv[2], opt);
    struct sockaddr_in in = addr_of(argv[3], argv[4]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof opt) != 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    printf("set ");
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    raw_round_trip(fd, argv[5]);
    return 0;
}

static int srr_exec(char **argv) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (strcmp(argv[2], "none") != 0) {
        unsigned char opt[8];
        lsrr(argv[2], opt);
        if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof opt) != 0) {
            printf("error %s\n", errname(errno));
            return 0;
        }
    }
    if (fd != 3 && (dup2(fd, 3) != 3 || close(fd) != 0)) return 2;
    execv(argv[3], argv + 3);
    printf("error exec %s\n", errname(errno));
    return 0;
}

static int connect_fd3(char **argv) {
    struct sockaddr_in in = addr_of(argv[2], argv[3]);
    struct timeval tv = {1, 0};
    setsockopt(3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(3, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(3, (struct sockaddr *)&in, sizeof in) != 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    raw_round_trip(3, argv[4]);
    return 0;
}

/* A UDP datagram with one control message (level, type, data), sent to IP:PORT; then the answer. */
static int send_with_control(const char *ip, const char *port, const char *marker, int level, int type,
                             const void *data, size_t n, const char *sent) {
    struct sockaddr_in in = addr_of(ip, port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    union {
        char buf[CMSG_SPACE(40)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {(void *)marker, strlen(marker)};
    struct msghdr msg = {.msg_name = &in,
                         .msg_namelen = sizeof in,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = CMSG_SPACE(n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(n);
    memcpy(CMSG_DATA(c), data, n);
    if (sendmsg(fd, &msg, 0) < 0) {
        printf("error %s\n", errname(errno));
        return 0;
    }
    printf("%s", sent);
    raw_answer(fd);
    return 0;
}

static int srr_sendmsg(char **argv) {
    unsigned char opt[8];
    lsrr(argv[2], opt);
    return send_with_control(argv[3], argv[4], argv[5], IPPROTO_IP, IP_RETOPTS, opt, sizeof opt, "sent ");
}

static int tos_sendmsg(char **argv) {
    int tos = IPTOS_LOWDELAY;
    return send_with_control(argv[2], argv[3], argv[4], IPPROTO_IP, IP_TOS, &tos, sizeof tos, "");
}

static int ipopt_rr(void) {
    unsigned char rr[8] = {IPOPT_NOOP, IPOPT_RR, 7, 4}, back[40];
    socklen_t n = sizeof back;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, rr, sizeof rr) != 0 ||
        getsockopt(fd, IPPROTO_IP, IP_OPTIONS, back, &n) != 0)
        printf("error %s\n", errname(errno));
    else
        printf("ok %u\n", (unsigned)n);
    return 0;
}

static int rthdr6(void) {
    /* a segment routing header (RFC 8754) with one segment, ::1 */
    unsigned char srh[24] = {0, 2, 4, 0, 0, 0, 0, 0};
    srh[23] = 1;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof srh) != 0)
        printf("error %s\n", errname(errno));
    else
        printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    const char *m = argv[1];
    if (!strcmp(m, "raw") && argc == 5) return raw_connect(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "int80") && argc == 5) return int80_connect(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "uring") && argc == 5) return uring_connect(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "nonblock") && argc == 5) return nonblock(argv[2], argv[3], argv[4]);
    if (!strcmp(m, "chain") && argc == 6) return chain(atoi(argv[2]), argv);
    if (!strcmp(m, "race") && argc == 7) return race(argv);
    if (!strcmp(m, "threads") && argc == 8) return threads(argv);
    if (!strcmp(m, "sendmmsg") && argc == 5) return mmsg(argv);
    if (!strcmp(m, "stall") && argc == 5) return stall(argv);
    if (!strcmp(m, "killparent") && argc == 5) return killparent(argv);
    if (!strcmp(m, "unspec") && argc == 5) return unspec(argv);
    if (!strcmp(m, "peek") && argc == 4) return peek(argv[2], argv[3]);
    if (!strcmp(m, "sctp")) return sctp();
    if (!strcmp(m, "srr-connect") && argc == 6) return srr_connect(argv);
    if (!strcmp(m, "srr-sendmsg") && argc == 6) return srr_sendmsg(argv);
    if (!strcmp(m, "tos-sendmsg") && argc == 5) return tos_sendmsg(argv);
    if (!strcmp(m, "ipopt-rr")) return ipopt_rr();
    if (!strcmp(m, "rthdr6")) return rthdr6();
    if (!strcmp(m, "srr-exec") && argc >= 4) return srr_exec(argv);
    if (!strcmp(m, "connect-fd3") && argc == 5) return connect_fd3(argv);
    fprintf(stderr, "strictprobe: bad arguments\n");
    return 2;
}
