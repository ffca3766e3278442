/* One judged system call: the supervisor copies its arguments out of the target's memory once, judges that
 * copy, and performs the call itself with the same copy on a duplicate of the target's socket
 * (pidfd_getfd: the same open socket, so the same blocking mode, bindings and state). The answer is the
 * call's own result or errno.
 *
 * Never SECCOMP_USER_NOTIF_FLAG_CONTINUE for these calls: with it the kernel runs the call with the
 * arguments read again from the target's memory (and the descriptor looked up again in its table), which
 * another thread of the target may have changed after the check. Acting on our own copy leaves no window.
 * That holds for every family, so even calls the policy does not judge (AF_UNIX, netlink) are performed
 * here: a thread could otherwise swap an IP socket in under the same descriptor number. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "strict.h"

/* The most data one call copies. A stream send is cut to it (a short write, which every stream writer
 * must handle); a larger datagram is refused with EMSGSIZE, as no datagram is that large. */
#define TS_COPY_MAX (8u << 20)
#define TS_CONTROL_MAX 65536
#define TS_MAX_IOV 1024 /* UIO_MAXIOV */
#define TS_MAX_FDS 253  /* SCM_MAX_FD */

struct target {
    int listener;
    uint64_t id;
    int tid;
    int pidfd;
    int sock; /* the duplicate of the target's descriptor */
    int domain, type, protocol;
};

static int still_pending(const struct target *t) {
    uint64_t id = t->id;
    return ioctl(t->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Should the address of a send be judged? A connected TCP socket ignores it (unless it is a Fast Open send,
 * which connects); every other socket may use it. */
static int send_uses_address(const struct target *t, int flags) {
    return !(t->type == SOCK_STREAM && t->protocol == IPPROTO_TCP && !(flags & MSG_FASTOPEN));
}

enum dns { NOT_DNS, DNS_SYSTEM, DNS_OTHER, DNS_REFUSED };

/* Is `addr` port 53, reached by a UDP or TCP socket of its family? Then what goes there is DNS, judged by
 * its questions (resolver.c). The target's own name servers (its /etc/resolv.conf) need no rule; any other
 * server's address is judged first (DNS_REFUSED: it is not allowed, the event is written), and its answers
 * are not recorded: a server the program chose (or runs) could name any address after an allowed name. */
static enum dns dns_destination(const struct target *t, const struct ts_call *call,
                                const struct sockaddr *addr, socklen_t len, struct td_ip *server) {
    int port;
    if ((t->domain != AF_INET && t->domain != AF_INET6) || addr->sa_family != t->domain ||
        !((t->type == SOCK_DGRAM && t->protocol == IPPROTO_UDP) ||
          (t->type == SOCK_STREAM && t->protocol == IPPROTO_TCP)) ||
        ts_ip_of(addr, len, server, &port) != 0 || port != 53)
        return NOT_DNS;
    if (ts_name_server(t->tid, server)) return DNS_SYSTEM;
    return ts_judge_address(call, addr, len) ? DNS_OTHER : DNS_REFUSED;
}

/* Judges the address of a send. An IPv4 datagram socket reads AF_UNSPEC as AF_INET and sends to the
 * address in it (udp_sendmsg): judged as that address. A datagram to a name server is judged by the
 * question it carries; a TCP Fast Open send to one (a connect that carries data) is refused. */
static int judge_send(const struct target *t, const struct ts_call *call, const struct sockaddr_storage *ss,
                      socklen_t len, int flags, const void *data, size_t n) {
    if (!send_uses_address(t, flags)) return 1;
    struct sockaddr_storage as_v4;
    if (t->domain == AF_INET && ss->ss_family == AF_UNSPEC) {
        as_v4 = *ss;
        as_v4.ss_family = AF_INET;
        ss = &as_v4;
    }
    struct td_ip server;
    enum dns dns = dns_destination(t, call, (const struct sockaddr *)ss, len, &server);
    switch (dns) {
        case DNS_SYSTEM:
        case DNS_OTHER: {
            int record = dns == DNS_SYSTEM;
            return t->type == SOCK_DGRAM ? ts_resolver_datagram(call, &server, record, data, n)
                                         : ts_judge_name(call, "");
        }
        case DNS_REFUSED:
            return 0;
        default:
            return ts_judge_address(call, (const struct sockaddr *)ss, len);
    }
}

/* A relative AF_UNIX path means the target's working directory, not ours: it is reached through an open
 * descriptor of that directory. Returns 0 (*dirfd to close afterwards, or -1), or -errno. */
static int unix_path(const struct target *t, struct sockaddr_storage *ss, socklen_t *len, int *dirfd) {
    *dirfd = -1;
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (*len <= off || un->sun_family != AF_UNIX || un->sun_path[0] == 0 || un->sun_path[0] == '/') return 0;
    char rel[sizeof un->sun_path + 1];
    size_t n = *len - off;
    memcpy(rel, un->sun_path, n);
    rel[n] = 0;
    char cwd[64];
    snprintf(cwd, sizeof cwd, "/proc/%d/cwd", t->tid);
    *dirfd = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0) return -EACCES;
    int w = snprintf(un->sun_path, sizeof un->sun_path, "/proc/self/fd/%d/%s", *dirfd, rel);
    if (w < 0 || (size_t)w >= sizeof un->sun_path) return -ENAMETOOLONG;
    *len = (socklen_t)(off + (size_t)w + 1);
    return 0;
}

/* Reads an address argument the way the kernel does (move_addr_to_kernel). 0 or -errno. */
static int read_address(const struct target *t, uint64_t ptr, int64_t len, struct sockaddr_storage *ss,
                        socklen_t *out) {
    if (len < 0 || len > (int64_t)sizeof *ss) return -EINVAL;
    memset(ss, 0, sizeof *ss);
    if (len > 0 && ts_read(t->tid, ptr, ss, (size_t)len) != 0) return -errno;
    *out = (socklen_t)len;
    return 0;
}

static ssize_t answer(ssize_t r) {
    return r < 0 ? -errno : r;
}

/* SIGPIPE belongs to the target: the supervisor sends with MSG_NOSIGNAL and passes it on. */
static void pass_sigpipe(const struct target *t, ssize_t r, int flags) {
    if (r == -EPIPE && !(flags & MSG_NOSIGNAL)) syscall(SYS_pidfd_send_signal, t->pidfd, SIGPIPE, NULL, 0);
}

static ssize_t do_connect(struct target *t, const struct seccomp_notif *req) {
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = read_address(t, req->data.args[1], (int)req->data.args[2], &ss, &len);
    if (rc) return rc;
    struct ts_call call = {"connect", t->tid, t->type == SOCK_DGRAM};
    if (!still_pending(t)) return -ENOENT;
    struct td_ip server;
    enum dns dns = dns_destination(t, &call, (struct sockaddr *)&ss, len, &server);
    if (dns == DNS_REFUSED) return -EACCES;
    if (dns != NOT_DNS) {
        /* DNS: the socket is connected to the supervisor's resolver, which judges what it is sent */
        struct sockaddr_storage to;
        socklen_t tolen;
        if (ts_resolver_redirect(t->domain, t->type, &server, &to, &tolen) != 0) return -ENETUNREACH;
        ts_inflight_begin(t->listener, t->id);
        ssize_t r = answer(connect(t->sock, (struct sockaddr *)&to, tolen));
        ts_inflight_end();
        if (r == 0 || r == -EINPROGRESS)
            ts_resolver_note(t->sock, t->type, &server, dns == DNS_SYSTEM, t->tid);
        return r;
    }
    if (!ts_judge_address(&call, (struct sockaddr *)&ss, len)) return -EACCES;
    int dirfd;
    rc = unix_path(t, &ss, &len, &dirfd);
    ssize_t r = rc;
    if (!rc) {
        ts_inflight_begin(t->listener, t->id);
        r = answer(connect(t->sock, (struct sockaddr *)&ss, len));
        ts_inflight_end();
    }
    if (dirfd >= 0) close(dirfd);
    return r;
}

static ssize_t do_sendto(struct target *t, const struct seccomp_notif *req) {
    uint64_t buf = req->data.args[1];
    size_t n = (size_t)req->data.args[2];
    int flags = (int)req->data.args[3];
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = read_address(t, req->data.args[4], (int)req->data.args[5], &ss, &len);
    if (rc) return rc;
    if (n > TS_COPY_MAX) {
        if (t->type != SOCK_STREAM) return -EMSGSIZE;
        n = TS_COPY_MAX;
    }
    char *data = malloc(n ? n : 1);
    if (!data) return -ENOBUFS;
    ssize_t r;
    struct ts_call call = {"sendto", t->tid, t->type == SOCK_DGRAM};
    int dirfd = -1;
    if (ts_read(t->tid, buf, data, n) != 0)
        r = -errno;
    else if (!still_pending(t))
        r = -ENOENT;
    else if (!judge_send(t, &call, &ss, len, flags, data, n))
        r = -EACCES;
    else if ((r = unix_path(t, &ss, &len, &dirfd)) == 0) {
        ts_inflight_begin(t->listener, t->id);
        r = answer(sendto(t->sock, data, n, flags | MSG_NOSIGNAL, (struct sockaddr *)&ss, len));
        ts_inflight_end();
        pass_sigpipe(t, r, flags);
    }
    if (dirfd >= 0) close(dirfd);
    free(data);
    return r;
}

/* ---- IP source routing: a packet goes to the route's first hop, not to the judged peer ---- */

/* Does this IPv4 option list (IP_OPTIONS, an IP_RETOPTS control message) hold a loose or strict source
 * route? Read as ip_options_compile reads it: END ends it, NOP is one byte, every other option has a length
 * (a bad one makes the kernel refuse the whole list). */
static int source_route(const unsigned char *o, size_t n) {
    for (size_t i = 0; i < n;) {
        if (o[i] == IPOPT_END) return 0;
        if (o[i] == IPOPT_NOOP) {
            i++;
            continue;
        }
        if (o[i] == IPOPT_LSRR || o[i] == IPOPT_SSRR) return 1;
        if (i + 1 >= n || o[i + 1] < 2) return 0;
        i += o[i + 1];
    }
    return 0;
}

/* Does this control data set a route: an IP_RETOPTS (or IP_OPTIONS) list with a source route, an IPv6
 * routing header (IPV6_RTHDR, IPV6_2292RTHDR; type 4 is segment routing)? Walked as the kernel walks it
 * (for_each_cmsghdr with CMSG_OK): at a malformed header the kernel refuses the message before it acts on
 * anything after it, so the walk ends there. Every other control message (SCM_RIGHTS, UDP_SEGMENT,
 * IP_TOS, IP_TTL, IP_PKTINFO, …) passes unchanged. */
static int routes_in_control(const char *control, size_t len) {
    for (size_t off = 0; off <= len && len - off >= sizeof(struct cmsghdr);) {
        struct cmsghdr c;
        memcpy(&c, control + off, sizeof c);
        if (c.cmsg_len < sizeof c || c.cmsg_len > len - off) return 0;
        const unsigned char *data = (const unsigned char *)control + off + CMSG_LEN(0);
        size_t n = c.cmsg_len > CMSG_LEN(0) ? c.cmsg_len - CMSG_LEN(0) : 0;
        if (c.cmsg_level == IPPROTO_IP && (c.cmsg_type == IP_RETOPTS || c.cmsg_type == IP_OPTIONS) &&
            source_route(data, n))
            return 1;
        if (c.cmsg_level == IPPROTO_IPV6 && (c.cmsg_type == IPV6_RTHDR || c.cmsg_type == IPV6_2292RTHDR))
            return 1;
        off += CMSG_ALIGN(c.cmsg_len);
    }
    return 0;
}

/* Would this option value set a route? (filter.c sends only these options here.) An empty IPV6_RTHDR
 * removes the header. */
static int option_routes(int level, int name, const char *value, size_t len) {
    if (level == IPPROTO_IP && name == IP_OPTIONS) return source_route((const unsigned char *)value, len);
    if (level == IPPROTO_IPV6 && name == IPV6_RTHDR) return len > 0;
    if (level == IPPROTO_IPV6 && name == IPV6_2292PKTOPTIONS) return routes_in_control(value, len);
    return 0;
}

/* A route already on the socket, set where no filter saw it: before activate({ strict: true }) loaded the
 * filter, or in a process outside the tree that passed the socket in. Read back from the socket itself
 * (getsockopt gives the option list as it was set) before every connect and send. */
static int route_on_socket(const struct target *t) {
    if (t->domain != AF_INET && t->domain != AF_INET6) return 0;
    unsigned char o[40];
    socklen_t n = sizeof o;
    /* IP_OPTIONS applies to an IPv6 socket's IPv4-mapped traffic too */
    if (getsockopt(t->sock, IPPROTO_IP, IP_OPTIONS, o, &n) == 0 && n > 0 && source_route(o, n)) return 1;
    if (t->domain != AF_INET6) return 0;
    unsigned char h[8];
    socklen_t m = sizeof h;
    return getsockopt(t->sock, IPPROTO_IPV6, IPV6_RTHDR, h, &m) == 0 && m > 0;
}

/* Sockets given a route here in log mode (set and reported at the setsockopt): their connects and sends
 * are not reported again. Known by the socket's inode; a few are enough (a lost one is reported twice). */
#define ROUTED_NOTED 64
static pthread_mutex_t routed_lock = PTHREAD_MUTEX_INITIALIZER;
static ino_t routed_noted[ROUTED_NOTED];
static unsigned routed_next;

static ino_t socket_inode(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void note_routed(int fd) {
    ino_t ino = socket_inode(fd);
    if (!ino) return;
    pthread_mutex_lock(&routed_lock);
    routed_noted[routed_next++ % ROUTED_NOTED] = ino;
    pthread_mutex_unlock(&routed_lock);
}

static int routed_here(int fd) {
    ino_t ino = socket_inode(fd);
    int seen = 0;
    pthread_mutex_lock(&routed_lock);
    for (unsigned i = 0; ino && i < ROUTED_NOTED && !seen; i++) seen = routed_noted[i] == ino;
    pthread_mutex_unlock(&routed_lock);
    return seen;
}

/* setsockopt of an option that can set a route: the value is copied once and read; a route is refused
 * (EACCES and the raw-socket event, as the libc layer does; log mode reports it and sets it), anything
 * else is set on the socket with the same copy. */
static ssize_t do_setsockopt(struct target *t, const struct seccomp_notif *req) {
    int level = (int)req->data.args[1], name = (int)req->data.args[2];
    uint64_t value = req->data.args[3];
    int len = (int)req->data.args[4];
    if (len < 0 || len > TS_CONTROL_MAX) return -EINVAL; /* the kernel takes none of these options larger */
    char *copy = malloc(len ? (size_t)len : 1);
    if (!copy) return -ENOMEM;
    ssize_t r;
    struct ts_call call = {"setsockopt", t->tid, t->type == SOCK_DGRAM};
    if (ts_read(t->tid, value, copy, (size_t)len) != 0)
        r = -errno;
    else if (!still_pending(t))
        r = -ENOENT;
    else if (!option_routes(level, name, copy, (size_t)len))
        r = answer(setsockopt(t->sock, level, name, value ? copy : NULL, (socklen_t)len));
    else if (!ts_refuse_unjudgeable(&call, "raw"))
        r = -EACCES;
    else if ((r = answer(setsockopt(t->sock, level, name, value ? copy : NULL, (socklen_t)len))) == 0)
        note_routed(t->sock); /* log mode: set, and reported once */
    free(copy);
    return r;
}

/* A message copied out of the target: its address, data gathered into one buffer, control data with the
 * target's descriptors replaced by duplicates of them. */
struct message {
    struct sockaddr_storage name;
    socklen_t namelen;
    int has_name;
    char *data;
    size_t size;
    char *control;
    size_t controllen;
    int fds[TS_MAX_FDS];
    size_t nfds;
    int dirfd;
    struct msghdr msg;
    struct iovec iov;
};

static void release(struct message *m) {
    for (size_t i = 0; i < m->nfds; i++) close(m->fds[i]);
    if (m->dirfd >= 0) close(m->dirfd);
    free(m->data);
    free(m->control);
}

/* Copies the msghdr at `remote` (copy_msghdr_from_user's rules). 0 or -errno; release() either way. */
static int read_message(struct target *t, uint64_t remote, struct message *m) {
    memset(m, 0, offsetof(struct message, fds));
    m->nfds = 0;
    m->dirfd = -1;
    struct msghdr h;
    if (ts_read(t->tid, remote, &h, sizeof h) != 0) return -errno;
    if (h.msg_name) {
        socklen_t nl = h.msg_namelen > sizeof m->name ? (socklen_t)sizeof m->name : h.msg_namelen;
        if ((int)h.msg_namelen < 0) return -EINVAL;
        if (nl && ts_read(t->tid, (uintptr_t)h.msg_name, &m->name, nl) != 0) return -errno;
        m->namelen = nl;
        m->has_name = 1;
    }
    if (h.msg_iovlen > TS_MAX_IOV) return -EMSGSIZE;
    struct iovec iov[TS_MAX_IOV];
    if (ts_read(t->tid, (uintptr_t)h.msg_iov, iov, h.msg_iovlen * sizeof *iov) != 0) return -errno;
    size_t total = 0;
    for (size_t i = 0; i < h.msg_iovlen; i++) {
        if ((ssize_t)iov[i].iov_len < 0 || total + iov[i].iov_len < total) return -EINVAL;
        total += iov[i].iov_len;
    }
    if (total > TS_COPY_MAX) {
        if (t->type != SOCK_STREAM) return -EMSGSIZE;
        total = TS_COPY_MAX;
    }
    if (!(m->data = malloc(total ? total : 1))) return -ENOBUFS;
    for (size_t i = 0, at = 0; i < h.msg_iovlen && at < total; i++) {
        size_t n = iov[i].iov_len < total - at ? iov[i].iov_len : total - at;
        if (ts_read(t->tid, (uintptr_t)iov[i].iov_base, m->data + at, n) != 0) return -errno;
        at += n;
    }
    m->size = total;
    if (h.msg_controllen) {
        if (h.msg_controllen > TS_CONTROL_MAX) return -ENOBUFS;
        if (!(m->control = malloc(h.msg_controllen))) return -ENOBUFS;
        if (ts_read(t->tid, (uintptr_t)h.msg_control, m->control, h.msg_controllen) != 0) return -errno;
        m->controllen = h.msg_controllen;
    }
    m->iov = (struct iovec){m->data, m->size};
    m->msg = (struct msghdr){.msg_name = m->has_name ? &m->name : NULL,
                             .msg_namelen = m->namelen,
                             .msg_iov = &m->iov,
                             .msg_iovlen = 1,
                             .msg_control = m->control,
                             .msg_controllen = m->controllen};
    /* Descriptors passed with SCM_RIGHTS are numbers in the target's table: send duplicates of those. */
    for (struct cmsghdr *c = m->control ? CMSG_FIRSTHDR(&m->msg) : NULL; c; c = CMSG_NXTHDR(&m->msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            if (m->nfds == TS_MAX_FDS) return -EINVAL;
            int dup = (int)syscall(SYS_pidfd_getfd, t->pidfd, fds[i], 0);
            if (dup < 0) return -EBADF;
            /* A seccomp listener never leaves: a copy in another process could answer the notifications
             * of the process under the filter (docs/strict-mode.md). */
            char path[40], link[64] = "";
            snprintf(path, sizeof path, "/proc/self/fd/%d", dup);
            if (readlink(path, link, sizeof link - 1) < 0 || strstr(link, "seccomp") != NULL) {
                close(dup);
                return -EACCES;
            }
            m->fds[m->nfds++] = dup;
            fds[i] = dup;
        }
    }
    return 0;
}

/* Judges and sends one copied message. */
static ssize_t send_message(struct target *t, struct message *m, int flags, const char *op) {
    struct ts_call call = {op, t->tid, t->type == SOCK_DGRAM};
    if (!still_pending(t)) return -ENOENT;
    if (m->controllen && routes_in_control(m->control, m->controllen) && !ts_refuse_unjudgeable(&call, "raw"))
        return -EACCES;
    if (m->has_name && !judge_send(t, &call, &m->name, m->namelen, flags, m->data, m->size)) return -EACCES;
    if (m->has_name) {
        int rc = unix_path(t, &m->name, &m->msg.msg_namelen, &m->dirfd);
        if (rc) return rc;
    }
    ts_inflight_begin(t->listener, t->id);
    ssize_t r = answer(sendmsg(t->sock, &m->msg, flags | MSG_NOSIGNAL));
    ts_inflight_end();
    pass_sigpipe(t, r, flags);
    return r;
}

static ssize_t do_sendmsg(struct target *t, const struct seccomp_notif *req) {
    struct message *m = malloc(sizeof *m);
    if (!m) return -ENOBUFS;
    int flags = (int)req->data.args[2];
    ssize_t r = read_message(t, req->data.args[1], m);
    if (r == 0) r = send_message(t, m, flags, "sendmsg");
    release(m);
    free(m);
    return r;
}

/* Each message judged and sent in turn; the count sent so far when one fails after the first, and each
 * sent message's msg_len written back, as the kernel does. */
static ssize_t do_sendmmsg(struct target *t, const struct seccomp_notif *req) {
    uint64_t vec = req->data.args[1];
    unsigned vlen = (unsigned)req->data.args[2];
    int flags = (int)req->data.args[3];
    if (vlen > TS_MAX_IOV) vlen = TS_MAX_IOV;
    struct message *m = malloc(sizeof *m);
    if (!m) return -ENOBUFS;
    ssize_t r = 0;
    unsigned sent = 0;
    for (; sent < vlen; sent++) {
        uint64_t at = vec + sent * sizeof(struct mmsghdr);
        r = read_message(t, at, m);
        if (r == 0) r = send_message(t, m, flags, "sendmmsg");
        release(m);
        if (r < 0) break;
        unsigned len = (unsigned)r;
        if (ts_write(t->tid, at + offsetof(struct mmsghdr, msg_len), &len, sizeof len) != 0) {
            r = -errno;
            break;
        }
    }
    free(m);
    return sent > 0 ? (ssize_t)sent : r;
}

void ts_handle(int listener, const struct seccomp_notif *req, struct seccomp_notif_resp *resp) {
    memset(resp, 0, sizeof *resp);
    resp->id = req->id;
    struct target t = {.listener = listener, .id = req->id, .tid = (int)req->pid, .pidfd = -1, .sock = -1};
    ssize_t r;
    /* The pidfd names the calling thread, or a thread that took its number after it died: every call
     * checks that it is still pending (still_pending) after reading and before acting. */
    if ((t.sock = ts_getfd(t.tid, (int)req->data.args[0], &t.pidfd)) < 0 && t.pidfd < 0) {
        r = -ENOENT;
    } else if (t.sock < 0) {
        /* EBADF: no such descriptor, as the call itself would say. Anything else (no access to the
         * target): the call cannot be judged, so it fails. */
        r = errno == EBADF ? -EBADF : -EACCES;
    } else {
        socklen_t sl = sizeof t.domain;
        if (getsockopt(t.sock, SOL_SOCKET, SO_DOMAIN, &t.domain, &sl) != 0) t.domain = -1;
        sl = sizeof t.type;
        if (getsockopt(t.sock, SOL_SOCKET, SO_TYPE, &t.type, &sl) != 0) t.type = -1;
        sl = sizeof t.protocol;
        if (getsockopt(t.sock, SOL_SOCKET, SO_PROTOCOL, &t.protocol, &sl) != 0) t.protocol = -1;
        int nr = (int)req->data.nr;
        struct ts_call routed = {nr == __NR_connect ? "connect" : "send", t.tid, t.type == SOCK_DGRAM};
        if (nr != __NR_setsockopt && route_on_socket(&t) && !(ts_config.log_mode && routed_here(t.sock)) &&
            !ts_refuse_unjudgeable(&routed, "raw"))
            nr = -1;
        switch (nr) {
            case -1:
                r = -EACCES;
                break;
            case __NR_connect:
                r = do_connect(&t, req);
                break;
            case __NR_sendto:
                r = do_sendto(&t, req);
                break;
            case __NR_sendmsg:
                r = do_sendmsg(&t, req);
                break;
            case __NR_sendmmsg:
                r = do_sendmmsg(&t, req);
                break;
            case __NR_setsockopt:
                r = do_setsockopt(&t, req);
                break;
            default:
                r = -ENOSYS;
        }
    }
    if (t.sock >= 0) close(t.sock);
    ts_pidfd_put(t.tid, t.pidfd, 0);
    if (r < 0)
        resp->error = (int32_t)r;
    else
        resp->val = r;
}
