/* Which descriptors carry DNS: a byte per descriptor number, so that the write() every program makes
 * costs one load when the descriptor is known to be something else.
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
    return td_config() || td_scope_current();
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
static void forget(int fd) {
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
            forget(fd);
        }
    }
}

/* ---- the hooks: calls that make a descriptor number name another open file ---- */

TETHERED_EXPORT int dup(int fd) {
    if (!td_real.dup) td_resolve_real();
    int rc = td_real.dup(fd);
    if (rc >= 0) forget(rc);
    return rc;
}

/* The target is forgotten before the call too, so that no send judges it by its old socket after. */
TETHERED_EXPORT int dup2(int fd, int to) {
    if (!td_real.dup2) td_resolve_real();
    forget(to);
    int rc = td_real.dup2(fd, to);
    if (rc >= 0) forget(rc);
    return rc;
}

TETHERED_EXPORT int dup3(int fd, int to, int flags) {
    if (!td_real.dup3) td_resolve_real();
    forget(to);
    int rc = td_real.dup3(fd, to, flags);
    if (rc >= 0) forget(rc);
    return rc;
}

TETHERED_EXPORT int fcntl(int fd, int cmd, ...) {
    if (!td_real.fcntl) td_resolve_real();
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* as glibc reads it: every argument fcntl takes fits */
    va_end(ap);
    int rc = td_real.fcntl(fd, cmd, arg);
    if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) forget(rc);
    return rc;
}

TETHERED_EXPORT int pidfd_getfd(int pidfd, int target, unsigned int flags) {
    if (!td_real.pidfd_getfd) td_resolve_real();
    if (!td_real.pidfd_getfd) {
        errno = ENOSYS;
        return -1;
    }
    int rc = td_real.pidfd_getfd(pidfd, target, flags);
    if (rc >= 0) forget(rc);
    return rc;
}

TETHERED_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                             struct timespec *timeout) {
    if (!td_real.recvmmsg) td_resolve_real();
    int rc = td_real.recvmmsg(fd, vec, vlen, flags, timeout);
    for (int i = 0; i < rc; i++) td_fd_received(&vec[i].msg_hdr);
    return rc;
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__dup2, dup2);
TD_EXPORT_ALIAS(fcntl64, fcntl);
TD_EXPORT_ALIAS(__fcntl, fcntl);

/* ---- the same through syscall() ---- */

long td_fd_syscall(long number, long a[6]) {
    int fd = (int)a[0];
    switch (number) {
        case SYS_write:
        case SYS_writev:
        case SYS_pwritev2:
            /* pwritev2 with offset -1 writes a socket like writev */
            if (number == SYS_pwritev2 && a[3] != -1) break;
            if (td_dns_wanted(fd, NULL, 0)) {
                struct iovec one = {(void *)a[1], (size_t)a[2]};
                int vec = number != SYS_write;
                return td_dns_send(fd, vec ? (const struct iovec *)a[1] : &one, vec ? (size_t)a[2] : 1, 0,
                                   NULL, 0, NULL, number == SYS_write ? "syscall(write)" : "syscall(writev)");
            }
            break;
        case SYS_sendfile:
        case SYS_splice:
            if (td_dns_wanted(number == SYS_sendfile ? fd : (int)a[2], NULL, 0) &&
                td_dns_refuse(number == SYS_sendfile ? "syscall(sendfile)" : "syscall(splice)") != 0)
                return -1;
            break;
        case SYS_dup2:
        case SYS_dup3:
            forget((int)a[1]);
            break;
        default:
            break;
    }
    long rc = td_real.syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (rc < 0) return rc;
    switch (number) {
        case SYS_dup:
        case SYS_dup2:
        case SYS_dup3:
        case SYS_pidfd_getfd:
            forget((int)rc);
            break;
        case SYS_fcntl:
            if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) forget((int)rc);
            break;
        case SYS_recvmsg:
            td_fd_received((const struct msghdr *)a[1]);
            break;
        case SYS_recvmmsg:
            for (long i = 0; i < rc; i++) td_fd_received(&((struct mmsghdr *)a[1])[i].msg_hdr);
            break;
        default:
            break;
    }
    return rc;
}
