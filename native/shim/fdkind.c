/* Which descriptors carry DNS (runtime; the hooks that change descriptors are in fds.c): a byte per
 * descriptor number, so that the write() every program makes costs one load when the descriptor is known to
 * be something else.
 *
 * A descriptor is unknown until a connect (or a datagram) from it is seen, or until the first send on it
 * while a policy is in force asks the kernel for its peer (getpeername, once): that finds the sockets
 * connected before activate(), inherited from a parent, or made by a path the hooks do not see. Every way a
 * known number can come to name another socket without a connect the hooks see makes it unknown again:
 * dup, dup2, dup3, fcntl(F_DUPFD*), pidfd_getfd, and the descriptors a recvmsg/recvmmsg receives
 * (SCM_RIGHTS). A closed number reused by socket() is unconnected until a connect the hooks see. What is
 * not covered: another thread rebinding a number (dup2 onto it) between a send's look-up and the kernel's
 * copy, and system calls made without libc (strict mode). */
/* Hooks named as libc exports them: with 64-bit file offsets the headers would rename some (sendfile,
 * pwritev, fcntl) to their *64 forms, which are exported here as aliases instead. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "shim.h"

#define CHUNK 65536
#define CHUNKS 64 /* 4 Mi descriptors; beyond, every send looks its socket up */

static _Atomic unsigned char first[CHUNK];
static _Atomic(_Atomic unsigned char *) more[CHUNKS];

/* The byte of fd, or NULL (no table for it yet, or beyond every table). create: map its table. */
static _Atomic unsigned char *slot(int fd, int create) {
    if (fd < 0) return NULL;
    if (fd < CHUNK) return &first[fd];
    unsigned c = (unsigned)fd / CHUNK;
    if (c >= CHUNKS) return NULL;
    _Atomic unsigned char *t = atomic_load_explicit(&more[c], memory_order_acquire);
    if (!t && create) {
        /* mmap, not malloc: this runs inside write(), maybe in a signal handler */
        void *m = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        _Atomic unsigned char *none = NULL;
        if (atomic_compare_exchange_strong(&more[c], &none, (_Atomic unsigned char *)m)) {
            t = m;
        } else {
            munmap(m, CHUNK);
            t = none;
        }
    }
    return t ? &t[(unsigned)fd % CHUNK] : NULL;
}

static enum td_fd_kind kind_of(int fd) {
    _Atomic unsigned char *s = slot(fd, 0);
    return s ? (enum td_fd_kind)atomic_load_explicit(s, memory_order_relaxed) : TD_FD_UNKNOWN;
}

void td_fd_set(int fd, enum td_fd_kind kind) {
    _Atomic unsigned char *s = slot(fd, kind != TD_FD_UNKNOWN);
    if (s) atomic_store_explicit(s, (unsigned char)kind, memory_order_relaxed);
}

int td_active(void) {
    return td_config() || td_scope_possible();
}

/* A connect elsewhere needs no note: a send on a DNS socket checks its peer every time (dnswire.c). */
void td_dns_note_peer(int fd, int port) {
    if (port == 53) td_fd_set(fd, TD_FD_DNS);
}

static int peer_port(int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int saved = errno, port = -1;
    if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
        if (peer.ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
            port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
        else if (peer.ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
            port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    }
    errno = saved;
    return port;
}

int td_fd_is_dns(int fd) {
    static __thread int busy __attribute__((tls_model("initial-exec")));
    enum td_fd_kind k = kind_of(fd);
    if (k == TD_FD_OTHER) return 0; /* the hot path: one byte */
    if (fd < 0) return 0;
    /* td_active() may load the configuration, which may write (a warning): that write, or a signal
     * handler's in between, is looked up without asking again */
    if (!busy) {
        busy = 1;
        int active = td_active();
        busy = 0;
        if (!active) return 0;
    }
    /* A DNS socket's number may have been closed and reused (glibc's resolver closes its socket after each
     * lookup; the next open() gets the number), or the socket reconnected: its peer is read every time. */
    /* Not a socket, unconnected, or connected elsewhere: other until a hook sees it change. */
    int dns = peer_port(fd) == 53;
    td_fd_set(fd, dns ? TD_FD_DNS : TD_FD_OTHER);
    return dns;
}

int td_fd_dns_marked(int fd) {
    return kind_of(fd) == TD_FD_DNS;
}

/* A number that may now name another open file. */
void td_fd_forget(int fd) {
    td_fd_set(fd, TD_FD_UNKNOWN);
}

void td_fd_received(const struct msghdr *msg) {
    if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr)) return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            __builtin_memcpy(&fd, data + i * sizeof fd, sizeof fd);
            td_fd_forget(fd);
        }
    }
}

int td_socket_type(int fd) {
    int saved = errno, type = 0;
    socklen_t len = sizeof type;
    int ok = fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
    errno = saved;
    return ok ? type : -1;
}
