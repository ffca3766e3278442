/* DNS a program sends itself (c-ares behind dns.resolve*, or any program talking to port 53): the query is
 * judged by its question name, like a lookup, and the answers are recorded in the map of names resolved to
 * each address, so that the connect that follows is judged by name.
 *
 * A socket is a DNS socket once it connects or sends to port 53; the name servers of /etc/resolv.conf are
 * reached without an address rule (what matters is the name asked), any other server needs one. Whatever
 * goes to port 53 must be a DNS query whose name the policy allows: anything else is blocked. Sockets are
 * remembered by descriptor (a byte each, no lock); a descriptor reused for something else is noticed at its
 * next use (its peer is no longer port 53) and forgotten. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define DNS_PORT 53
#define MAX_FDS 65536
#define MAX_SERVERS 8
#define HEAD 600 /* enough of a query for its header and question name */

static _Atomic unsigned char marked[MAX_FDS];
/* The query this thread last had refused (name and id), and when (ms, monotonic). */
static __thread char last_refused[TD_NAME_BUF] __attribute__((tls_model("initial-exec")));
static __thread long long last_refused_at __attribute__((tls_model("initial-exec")));
static __thread int last_refused_id __attribute__((tls_model("initial-exec")));
static struct td_ip servers[MAX_SERVERS];
static size_t nservers;

/* Reads the nameserver lines of /etc/resolv.conf (at start-up, without stdio). */
void td_dns_load_servers(void) {
    int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char text[8192];
    ssize_t n = td_real.read ? td_real.read(fd, text, sizeof text - 1) : -1;
    close(fd);
    if (n <= 0) return;
    text[n] = 0;
    for (char *line = text; line && *line && nservers < MAX_SERVERS;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        while (*line == ' ' || *line == '\t') line++;
        if (strncmp(line, "nameserver", 10) == 0 && (line[10] == ' ' || line[10] == '\t')) {
            char *addr = line + 11;
            while (*addr == ' ' || *addr == '\t') addr++;
            size_t len = strcspn(addr, " \t\r#%");
            struct td_dest d;
            td_normalise_destination(addr, len, &d);
            if (d.kind == TD_DEST_IP) servers[nservers++] = d.ip;
        }
        line = end ? end + 1 : NULL;
    }
}

int td_dns_is_server(const struct td_ip *ip) {
    for (size_t i = 0; i < nservers; i++)
        if (servers[i].family == ip->family && memcmp(servers[i].bytes, ip->bytes, sizeof ip->bytes) == 0)
            return 1;
    return 0;
}

void td_dns_mark(int fd) {
    if (fd >= 0 && fd < MAX_FDS) atomic_store_explicit(&marked[fd], 1, memory_order_relaxed);
}

int td_dns_marked(int fd) {
    return fd >= 0 && fd < MAX_FDS && atomic_load_explicit(&marked[fd], memory_order_relaxed);
}

static int port_of(const struct sockaddr *addr, socklen_t len) {
    if (!addr) return -1;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        return ntohs(((const struct sockaddr_in *)addr)->sin_port);
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return -1;
}

/* Is the socket still connected to a port 53? Forgets it if not. */
static int still_dns(int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int saved = errno;
    int ok = getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
             port_of((const struct sockaddr *)&peer, len) == DNS_PORT;
    errno = saved;
    if (!ok) atomic_store_explicit(&marked[fd], 0, memory_order_relaxed);
    return ok;
}

/* Copies up to cap bytes of the iovecs into buf; returns how many. */
static size_t gather(const struct iovec *iov, size_t iovcnt, size_t limit, unsigned char *buf, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; iov && i < iovcnt && n < cap && n < limit; i++) {
        size_t take = iov[i].iov_len;
        if (take > cap - n) take = cap - n;
        if (take > limit - n) take = limit - n;
        if (take && iov[i].iov_base) memcpy(buf + n, iov[i].iov_base, take);
        n += take;
    }
    return n;
}

int td_dns_check_send(int fd, const struct sockaddr *addr, socklen_t alen, const struct iovec *iov,
                      size_t iovcnt, const char *op) {
    int port = port_of(addr, alen);
    int is_marked = td_dns_marked(fd);
    if (port != DNS_PORT && !is_marked) return 0; /* the common case: one byte read */
    int stream = td_socket_type(fd) == SOCK_STREAM;
    if (port >= 0 && !stream) { /* a datagram to this address */
        if (port != DNS_PORT) return 0;
        td_dns_mark(fd); /* for its answer */
    } else if (!is_marked || !still_dns(fd)) {
        return 0; /* to the connected peer (a stream socket ignores the address) */
    }
    if (td_in_lookup() || (!td_config() && !td_scope_current())) return 0;
    unsigned char buf[HEAD];
    size_t n = gather(iov, iovcnt, (size_t)-1, buf, sizeof buf);
    const unsigned char *msg = buf;
    if (stream) { /* a two-byte length, then the message */
        if (n < 2) return td_check_lookup("", op, (char[TD_NAME_BUF]){0}) == 0 ? 0 : -1;
        msg += 2;
        n -= 2;
    }
    char name[TD_NAME_BUF], normal[TD_NAME_BUF];
    /* Something sent to port 53 that is no query we can read is judged as a lookup of no valid name. */
    if ((n >= 3 && (msg[2] & 0x80)) || td_dns_question(msg, n, name) < 0) name[0] = 0;
    /* A resolver resends a refused query (c-ares: every server, several times, same id): one attempt, one
     * event. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int id = n >= 2 ? msg[0] << 8 | msg[1] : -1; /* a resend keeps the query's id; a new query has another */
    int retry = last_refused_at && ms - last_refused_at < 1000 && id == last_refused_id &&
                strcmp(name, last_refused) == 0;
    td_set_quiet(retry);
    int rc = td_check_lookup(name, op, normal);
    td_set_quiet(0);
    if (rc == 0) {
        last_refused_at = 0;
    } else {
        memcpy(last_refused, name, sizeof last_refused);
        last_refused_id = id;
        last_refused_at = ms;
    }
    return rc;
}

void td_dns_learn(int fd, const struct iovec *iov, size_t iovcnt, ssize_t got, const struct sockaddr *from,
                  socklen_t fromlen) {
    if (got <= 0 || !td_dns_marked(fd)) return;
    if (from ? port_of(from, fromlen) != DNS_PORT : !still_dns(fd)) return;
    if (!td_config() && !td_scope_current() && !td_scopes_used()) return;
    const unsigned char *msg;
    unsigned char buf[4096];
    size_t n = (size_t)got;
    if (iovcnt >= 1 && iov[0].iov_len >= n) {
        msg = iov[0].iov_base;
    } else {
        n = gather(iov, iovcnt, n, buf, sizeof buf);
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

/* ---- the hooks: sockets that may carry DNS ---- */

TETHERED_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
    if (!td_real.send) td_resolve_real();
    if (td_dns_marked(fd)) {
        struct iovec iov = {(void *)buf, n};
        if (td_dns_check_send(fd, NULL, 0, &iov, 1, "send") != 0) return -1;
    }
    return td_real.send(fd, buf, n, flags);
}

TETHERED_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    if (!td_real.write) td_resolve_real();
    if (td_dns_marked(fd)) {
        struct iovec iov = {(void *)buf, n};
        if (td_dns_check_send(fd, NULL, 0, &iov, 1, "write") != 0) return -1;
    }
    return td_real.write(fd, buf, n);
}

TETHERED_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    if (!td_real.writev) td_resolve_real();
    if (td_dns_marked(fd) && iovcnt > 0 && td_dns_check_send(fd, NULL, 0, iov, (size_t)iovcnt, "writev") != 0)
        return -1;
    return td_real.writev(fd, iov, iovcnt);
}

TETHERED_EXPORT ssize_t read(int fd, void *buf, size_t n) {
    if (!td_real.read) td_resolve_real();
    ssize_t got = td_real.read(fd, buf, n);
    if (td_dns_marked(fd)) {
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
    if (!td_dns_marked(fd) || (flags & MSG_PEEK)) return td_real.recvfrom(fd, buf, n, flags, from, fromlen);
    return dns_recvfrom(fd, buf, n, flags, from, fromlen);
}

TETHERED_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
    if (!td_real.recv) td_resolve_real();
    if (!td_dns_marked(fd) || (flags & MSG_PEEK)) return td_real.recv(fd, buf, n, flags);
    if (!td_real.recvfrom) td_resolve_real();
    return dns_recvfrom(fd, buf, n, flags, NULL, NULL);
}

TETHERED_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    if (!td_real.recvmsg) td_resolve_real();
    if (!td_dns_marked(fd) || !msg || (flags & MSG_PEEK)) return td_real.recvmsg(fd, msg, flags);
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
