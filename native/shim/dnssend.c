/* DNS a program sends itself (c-ares behind dns.resolve*, glibc's resolver inside a lookup, or any program
 * talking to port 53): every question of every message is judged by its name, like a lookup, and the
 * answers are recorded in the map of names resolved to each address, so that the connect that follows is
 * judged by name.
 *
 * A socket carries DNS when its peer, or the address a datagram goes to, is port 53 (fds.c keeps track);
 * the name servers of /etc/resolv.conf are reached without an address rule (what matters is the name
 * asked), any other server needs one. Whatever goes to port 53 must be plain DNS queries whose names the
 * policy allows (dns.c says what a plain query is): anything else is blocked. What is judged is what is
 * sent: the payload (and the address) are copied once into private memory, judged there, and that copy
 * goes to the kernel, so no other thread can change a question in between. On a stream every message of
 * the write is judged (a two-byte length, then the message) and the write must hold whole messages; a
 * short write of the kernel is completed here, never left to the caller to resend (rewritten). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define DNS_PORT 53
#define DATAGRAM_MAX 65535
#define STREAM_MAX (2 + 65535) /* one whole message: a longer write is sent a part at a time */
#define SMALL 1024             /* payloads up to this are copied on the stack */
#define STALL_MS 5000          /* how long a short write of the kernel is waited out */

/* The query this thread last had refused (name and id), and when (ms, monotonic). */
static __thread char last_refused[TD_NAME_BUF] __attribute__((tls_model("initial-exec")));
static __thread long long last_refused_at __attribute__((tls_model("initial-exec")));
static __thread int last_refused_id __attribute__((tls_model("initial-exec")));
static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- lookups handed to libc's own threads ---- */

#define EXPECTED 16
#define EXPECT_MS 5000
static struct {
    _Atomic long long at; /* 0 while being written */
    int allowed;
    char name[TD_NAME_BUF];
} expected[EXPECTED];
static atomic_uint expected_next;

void td_dns_expect(const char *normal, int allowed) {
    if (!normal || !normal[0]) return;
    unsigned i = atomic_fetch_add(&expected_next, 1) % EXPECTED;
    atomic_store(&expected[i].at, 0);
    expected[i].allowed = allowed;
    snprintf(expected[i].name, sizeof expected[i].name, "%s", normal);
    atomic_store(&expected[i].at, now_ms());
}

/* 1: a recent lookup allowed this question; -1: a recent lookup of it was refused (and reported); 0. */
static int expected_verdict(const char *name) {
    long long now = 0;
    for (unsigned i = 0; i < EXPECTED; i++) {
        long long at = atomic_load(&expected[i].at);
        if (!at) continue;
        if (!now) now = now_ms();
        if (now - at > EXPECT_MS) continue;
        if (strcmp(name, expected[i].name) == 0 || td_dns_search_expansion(name, expected[i].name))
            return expected[i].allowed ? 1 : -1;
    }
    return 0;
}

/* ---- judging what is sent ---- */

/* One question (name in normal form, "" for none readable), of a query with this id. */
static int judge_name(const char *name, int id, const char *op) {
    /* the questions of the lookup this thread is inside were judged when it began */
    if (name[0] && td_lookup_covers(name)) return 0;
    int expect = name[0] ? expected_verdict(name) : 0;
    if (expect > 0) return 0;
    /* A resolver resends a refused query (c-ares: every server, several times, same id): one attempt, one
     * event. So is the query a libc thread sends for a getaddrinfo_a request already reported. */
    long long ms = now_ms();
    int retry = last_refused_at && ms - last_refused_at < 1000 && id == last_refused_id &&
                strcmp(name, last_refused) == 0;
    td_set_quiet(retry || expect < 0);
    char normal[TD_NAME_BUF];
    int rc = td_check_lookup(name, op, normal);
    td_set_quiet(0);
    if (rc == 0) {
        last_refused_at = 0;
    } else {
        snprintf(last_refused, sizeof last_refused, "%s", name);
        last_refused_id = id;
        last_refused_at = ms;
    }
    return rc;
}

/* Every question of one message; a message that is no plain query is judged as a lookup of no name. */
static int judge_message(const unsigned char *msg, size_t n, const char *op) {
    int id = n >= 2 ? msg[0] << 8 | msg[1] : -1; /* a resend keeps the query's id; a new query has another */
    int count = td_dns_query_questions(msg, n);
    if (count < 0) return judge_name("", id, op);
    for (int i = 0; i < count; i++) {
        char name[TD_NAME_BUF];
        if (td_dns_nth_question(msg, n, i, name) < 0) name[0] = 0;
        if (judge_name(name, id, op) != 0) return -1;
    }
    return 0;
}

/* Every message of a stream write (a two-byte length, then the message). *whole: how much of it may go —
 * all of it, or (a write longer than one copy holds) up to its last whole message. */
static int judge_stream(const unsigned char *buf, size_t n, int capped, size_t *whole, const char *op) {
    size_t at = 0;
    while (at + 2 <= n) {
        size_t len = (size_t)buf[at] << 8 | buf[at + 1];
        if (at + 2 + len > n) break;
        if (judge_message(buf + at + 2, len, op) != 0) return -1;
        at += 2 + len;
    }
    *whole = n;
    if (at == n) return 0;
    if (capped && at > 0) {
        *whole = at;
        return 0;
    }
    /* Part of a message: its name may be finished by the next write, after this one was judged. */
    return judge_name("", -1, op);
}

int td_dns_refuse(const char *op) {
    return judge_name("", -1, op);
}

/* ---- sending from a private copy ---- */

static int port_of(const struct sockaddr *addr, socklen_t len) {
    if (!addr) return -1;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        return ntohs(((const struct sockaddr_in *)addr)->sin_port);
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return -1;
}

/* Is the socket still connected to a port 53? If not, it is some other socket now. */
/* Is the socket `sock` still talking to port 53? If not, the number fd (the program's: sock may be the
 * shim's own copy of it) is marked as no DNS descriptor. */
static int still_dns_on(int fd, int sock) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int saved = errno;
    int ok = getpeername(sock, (struct sockaddr *)&peer, &len) == 0 &&
             port_of((const struct sockaddr *)&peer, len) == DNS_PORT;
    errno = saved;
    if (!ok) td_fd_set(fd, TD_FD_OTHER);
    return ok;
}

static int still_dns(int fd) {
    return still_dns_on(fd, fd);
}

static size_t total_of(const struct iovec *iov, size_t iovcnt) {
    size_t n = 0;
    for (size_t i = 0; iov && i < iovcnt; i++)
        n = iov[i].iov_len > SIZE_MAX - n ? SIZE_MAX : n + iov[i].iov_len;
    return n;
}

/* Copies the first n bytes of the caller's iovecs, through the kernel (a bad pointer is EFAULT, as the
 * real call would say, not a crash), else by hand. Returns 0, or -1 with errno. */
static int copy_in(const struct iovec *iov, size_t iovcnt, unsigned char *buf, size_t n) {
    if (n == 0) return 0;
    struct iovec local = {buf, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, iov, iovcnt, 0);
    if (got == (ssize_t)n) return 0;
    if (got >= 0 || errno == EFAULT) {
        errno = EFAULT;
        return -1;
    }
    size_t at = 0; /* process_vm_readv refused (seccomp, an old kernel) */
    for (size_t i = 0; i < iovcnt && at < n; i++) {
        size_t take = iov[i].iov_len < n - at ? iov[i].iov_len : n - at;
        if (take) memcpy(buf + at, iov[i].iov_base, take);
        at += take;
    }
    return 0;
}

static ssize_t real_sendmsg(int fd, const struct iovec *iov, size_t iovcnt, int flags,
                            const struct sockaddr *to, socklen_t tolen, const struct msghdr *control) {
    struct msghdr m = {
        .msg_name = (void *)to,
        .msg_namelen = to ? tolen : 0,
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = iovcnt,
        .msg_control = control ? control->msg_control : NULL,
        .msg_controllen = control ? control->msg_controllen : 0,
    };
    return td_real.sendmsg(fd, &m, flags);
}

/* Sends all of a judged stream copy: the kernel's short writes are completed here (waiting out a full
 * buffer), since a caller that resent the rest could have rewritten it. Ending inside a message, the
 * socket is shut for writing, so that no later write can finish that message. */
static ssize_t send_stream(int fd, const unsigned char *buf, size_t n, int flags, const struct sockaddr *to,
                           socklen_t tolen, const struct msghdr *control) {
    size_t off = 0, boundary = 0;
    long long deadline = 0;
    while (off < n) {
        struct iovec rest = {(void *)(buf + off), n - off};
        ssize_t k = real_sendmsg(fd, &rest, 1, off ? flags & ~MSG_FASTOPEN : flags, off ? NULL : to, tolen,
                                 off ? NULL : control);
        if (k > 0) {
            off += (size_t)k;
            while (boundary + 2 <= off &&
                   boundary + 2 + ((size_t)buf[boundary] << 8 | buf[boundary + 1]) <= off)
                boundary += 2 + ((size_t)buf[boundary] << 8 | buf[boundary + 1]);
            continue;
        }
        if (off == 0) return k; /* nothing went: the caller gets the kernel's answer */
        if (boundary == off) return (ssize_t)off;
        int e = errno;
        if (k < 0 && (e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)) {
            if (!deadline) deadline = now_ms() + STALL_MS;
            long long left = deadline - now_ms();
            struct pollfd p = {fd, POLLOUT, 0};
            if (left > 0 && (e == EINTR || poll(&p, 1, (int)left) >= 0)) continue;
        }
        shutdown(fd, SHUT_WR);
        errno = k < 0 ? e : EPIPE;
        return -1;
    }
    return (ssize_t)off;
}

int td_dns_wanted(int fd, const struct sockaddr *addr, socklen_t alen) {
    if (addr && port_of(addr, alen) == DNS_PORT) return td_active();
    return td_fd_is_dns(fd);
}

static ssize_t dns_send(int fd, int pinned, const struct iovec *iov, size_t iovcnt, int flags,
                        const struct sockaddr *dest, socklen_t tolen, const struct msghdr *control,
                        const char *op);

/* The socket is looked at and written through a descriptor of our own (a dup of fd, closed after): what is
 * judged as one datagram, or as a stream of length-prefixed messages, is what that very socket sends, even
 * if another thread puts another socket under the number fd meanwhile (dup2). A stream judged as a datagram
 * would carry what its first bytes say is a second message, unjudged (attacker's review). The number's own
 * DNS mark stays on fd. */
ssize_t td_dns_send(int fd, const struct iovec *iov, size_t iovcnt, int flags, const struct sockaddr *addr,
                    socklen_t alen, const struct msghdr *control, const char *op) {
    if (!td_real.sendmsg) td_resolve_real();
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    if (addr && alen) {
        if (alen > (socklen_t)sizeof to) {
            errno = EINVAL;
            return -1;
        }
        if (td_copy_in(&to, addr, alen) != 0) return -1; /* EFAULT, as the kernel */
        tolen = alen;
    }
    const struct sockaddr *dest = tolen ? (const struct sockaddr *)&to : NULL;
    if (!td_active()) return real_sendmsg(fd, iov, iovcnt, flags, dest, tolen, control);
    int saved = errno;
    int pinned = td_real.fcntl ? td_real.fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (pinned < 0) {
        /* a bad descriptor: the kernel's own answer; out of descriptors: not sent (never unpinned) */
        if (errno == EBADF) return real_sendmsg(fd, iov, iovcnt, flags, dest, tolen, control);
        return -1;
    }
    errno = saved;
    td_fd_forget(pinned);
    ssize_t rc = dns_send(fd, pinned, iov, iovcnt, flags, dest, tolen, control, op);
    int e = errno;
    td_fd_forget(pinned);
    close(pinned);
    errno = e;
    return rc;
}

static ssize_t dns_send(int fd, int pinned, const struct iovec *iov, size_t iovcnt, int flags,
                        const struct sockaddr *dest, socklen_t tolen, const struct msghdr *control,
                        const char *op) {
    int stream = td_socket_type(pinned) == SOCK_STREAM;
    if (dest && stream && !(flags & MSG_FASTOPEN)) {
        /* a stream ignores the address: the call goes on without it, whatever socket the number names when
         * the kernel looks (another thread's dup2 could put a UDP socket there) */
        dest = NULL;
        tolen = 0;
    }
    int judged =
        dest ? td_check_address(fd, dest, tolen, (flags & MSG_FASTOPEN) ? TD_USE_FASTOPEN : TD_USE_SEND, op)
             : 0;
    if (judged == TD_WITHOUT_ADDRESS) {
        dest = NULL;
        tolen = 0;
    } else if (judged != 0) {
        return -1;
    }
    if (dest) {
        /* a datagram to this address, or a TCP Fast Open connect: judged (and noted) above */
        if (port_of(dest, tolen) != DNS_PORT)
            return real_sendmsg(pinned, iov, iovcnt, flags, dest, tolen, control);
    } else if (!still_dns_on(fd, pinned)) {
        return real_sendmsg(pinned, iov, iovcnt, flags, dest, tolen, control);
    }
    size_t total = total_of(iov, iovcnt);
    if (!stream && total > DATAGRAM_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    size_t n = total < STREAM_MAX ? total : STREAM_MAX;
    unsigned char small[SMALL], *buf = small;
    if (n > sizeof small) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            errno = ENOBUFS;
            return -1;
        }
        buf = m;
    }
    ssize_t rc = -1;
    size_t whole = n;
    int saved = errno;
    if (copy_in(iov, iovcnt, buf, n) == 0 &&
        (stream ? judge_stream(buf, n, total > n, &whole, op) : judge_message(buf, n, op)) == 0) {
        errno = saved;
        struct iovec mine = {buf, whole};
        rc = stream ? send_stream(pinned, buf, whole, flags, dest, tolen, control)
                    : real_sendmsg(pinned, &mine, 1, flags, dest, tolen, control);
    }
    if (buf != small) {
        int e = errno;
        munmap(buf, n);
        errno = e;
    }
    return rc;
}

int td_dns_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, const char *op) {
    if (vlen > 1024) vlen = 1024; /* UIO_MAXIOV: what the kernel would take */
    unsigned i = 0;
    for (; vec && i < vlen; i++) {
        /* one at a time through sendmsg's body: private copies of the address and the control data */
        ssize_t sent = td_sendmsg(fd, &vec[i].msg_hdr, flags & ~MSG_WAITFORONE, op);
        if (sent < 0) return i ? (int)i : -1;
        vec[i].msg_len = (unsigned)sent;
    }
    return (int)i;
}

int td_dns_check_send(int fd, const struct sockaddr *addr, socklen_t alen, const struct iovec *iov,
                      size_t iovcnt, const char *op) {
    int port = port_of(addr, alen);
    if (port != DNS_PORT && !td_fd_is_dns(fd)) return 0; /* the common case: one byte read */
    if (!td_active()) return 0;
    int stream = td_socket_type(fd) == SOCK_STREAM;
    if (port >= 0 && !stream) { /* a datagram to this address */
        if (port != DNS_PORT) return 0;
        td_dns_note_peer(fd, port); /* for its answer */
    } else if (!still_dns(fd)) {
        return 0; /* to the connected peer (a stream socket ignores the address) */
    }
    size_t total = total_of(iov, iovcnt), n = total < STREAM_MAX ? total : STREAM_MAX;
    unsigned char small[SMALL], *buf = small;
    if (n > sizeof small) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return td_dns_refuse(op);
        buf = m;
    }
    size_t whole;
    int saved = errno;
    int rc = copy_in(iov, iovcnt, buf, n) != 0 ? 0 /* the real call answers EFAULT */
             : stream                          ? judge_stream(buf, n, 0, &whole, op)
                                               : judge_message(buf, n, op);
    if (buf != small) munmap(buf, n);
    if (rc == 0) errno = saved;
    return rc;
}

void td_dns_learn(int fd, const struct iovec *iov, size_t iovcnt, ssize_t got, const struct sockaddr *from,
                  socklen_t fromlen) {
    if (got <= 0 || !td_fd_dns_marked(fd)) return;
    if (from ? port_of(from, fromlen) != DNS_PORT : !still_dns(fd)) return;
    if (!td_config() && !td_scopes_used()) return; /* no scope can be current before one was made */
    const unsigned char *msg;
    unsigned char buf[4096];
    size_t n = (size_t)got;
    if (iovcnt >= 1 && iov[0].iov_len >= n) {
        msg = iov[0].iov_base;
    } else {
        n = 0;
        for (size_t i = 0; i < iovcnt && n < sizeof buf && n < (size_t)got; i++) {
            size_t take = iov[i].iov_len;
            if (take > sizeof buf - n) take = sizeof buf - n;
            if (take > (size_t)got - n) take = (size_t)got - n;
            if (take) memcpy(buf + n, iov[i].iov_base, take);
            n += take;
        }
        msg = buf;
    }
    /* A stream read may start with the two-byte length (or be just that length). */
    if (n >= 2 && ((size_t)msg[0] << 8 | msg[1]) == n - 2) {
        msg += 2;
        n -= 2;
    }
    if (n < 12 || !(msg[2] & 0x80)) return; /* not a response */
    char name[TD_NAME_BUF];
    if (td_dns_question(msg, n, name) < 0) return;
    int saved = errno;
    td_dns_record_answers(name, msg, n);
    errno = saved;
}
