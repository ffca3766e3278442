/* sendto(), sendmsg(), sendmmsg(): datagrams to an address, and TCP Fast Open, which connects without
 * connect() when MSG_FASTOPEN is set. The address (and the msghdr that points at it) is read once into a
 * private copy; the copy is judged and is what the kernel gets. So is the control data: a control message
 * can carry an IP source route (IP_RETOPTS with LSRR/SSRR, an IPv6 routing header) that sends the packet
 * to another first hop than the judged address, refused like the setsockopt() that sets one (socket.c).
 * Whatever goes to port 53 is also judged as the DNS query it must be (dnswire.c). */
#include <errno.h>
#include <limits.h>
#include <sys/mman.h>

#include "shim.h"

/* A send without an address goes to a connected socket's peer: judged for a scope (td_check_peer). */
static int check_unaddressed(int fd, const struct sockaddr *addr, socklen_t len, const char *op) {
    return !addr || len == 0 ? td_check_peer(fd, op) : 0;
}

/* The address of a send (datagrams, TCP Fast Open), judged as the kernel will use it. *name and *len are
 * cleared where the call goes on without the address (TD_WITHOUT_ADDRESS). */
static int check_destination(int fd, void **name, socklen_t *len, int flags, const char *op) {
    const struct sockaddr *addr = *name;
    if (!addr || *len == 0) return check_unaddressed(fd, addr, *len, op);
    int rc = td_check_address(fd, addr, *len, (flags & MSG_FASTOPEN) ? TD_USE_FASTOPEN : TD_USE_SEND, op);
    if (rc == TD_WITHOUT_ADDRESS) {
        *name = NULL;
        *len = 0;
        return 0;
    }
    return rc;
}

int td_check_send(int fd, struct msghdr *m, int flags, const char *op) {
    if (check_destination(fd, &m->msg_name, &m->msg_namelen, flags, op) != 0) return -1;
    return td_dns_check_send(fd, m->msg_name, m->msg_namelen, m->msg_iov, m->msg_iovlen, op);
}

/* Reads an address the kernel would take (at most a sockaddr_storage: it refuses longer ones unread). */
static int copy_address(const void *addr, socklen_t len, struct sockaddr_storage *copy) {
    if (!addr || len == 0 || (size_t)len > sizeof *copy) return 0;
    return td_copy_in(copy, addr, len);
}

ssize_t td_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len,
                  const char *op) {
    if (!td_real.sendto) td_resolve_real();
    struct sockaddr_storage copy;
    /* an address longer than any: the kernel refuses it unread (EINVAL), and nothing here reads it either */
    if (addr && (size_t)len > sizeof copy) return td_real.sendto(fd, buf, n, flags, addr, len);
    if (copy_address(addr, len, &copy) != 0) return -1;
    if (addr && len > 0) addr = (const struct sockaddr *)&copy;
    struct iovec iov = {(void *)buf, n};
    if (td_dns_wanted(fd, addr, len)) {
        if (check_unaddressed(fd, addr, len, op) != 0) return -1;
        return td_dns_send(fd, &iov, 1, flags, addr, len, NULL, op);
    }
    /* not DNS (td_dns_wanted said so): only the address is judged */
    void *name = (void *)addr;
    if (check_destination(fd, &name, &len, flags, op) != 0) return -1;
    return td_real.sendto(fd, buf, n, flags, name, len);
}

/* A private msghdr whose name is a private copy of the caller's. The kernel takes a longer msg_namelen as
 * the size of a sockaddr_storage and reads that much (a negative one it refuses): so does the copy, and the
 * kernel gets the copy. (Before, a longer name went uncopied: judged in the caller's memory, which another
 * thread could change before the kernel read it again.) */
static int copy_message(const struct msghdr *msg, struct msghdr *m, struct sockaddr_storage *name) {
    if (td_copy_in(m, msg, sizeof *m) != 0) return -1;
    if (m->msg_name && m->msg_namelen > sizeof *name) {
        if (m->msg_namelen > INT_MAX) {
            errno = EINVAL;
            return -1;
        }
        m->msg_namelen = sizeof *name;
    }
    if (copy_address(m->msg_name, m->msg_namelen, name) != 0) return -1;
    if (m->msg_name && m->msg_namelen > 0) m->msg_name = name;
    return 0;
}

/* The kernel copies at most optmem_max bytes of control data (128 KiB by default since Linux 6.9; less
 * before) and refuses more with ENOBUFS. */
#define CONTROL_MAX (128 * 1024)

/* A private copy of a message's control data: on the stack when small (IP_TOS, IP_PKTINFO, UDP_SEGMENT, a
 * few descriptors), else mapped (not malloc: a send may come from a signal handler). */
struct control {
    union {
        unsigned char small[128];
        struct cmsghdr align;
    } u;
    unsigned char *big;
    size_t size;
};

static void release_control(struct control *c) {
    if (!c->big) return;
    int e = errno;
    munmap(c->big, c->size);
    errno = e;
    c->big = NULL;
}

/* Points m's control data at a private copy in c, read once, and refuses it when it carries a source
 * route. Returns 0, or -1 with errno (EACCES, EFAULT, ENOBUFS); c is released on failure. */
static int copy_control(struct msghdr *m, struct control *c, const char *op) {
    c->big = NULL;
    if (m->msg_controllen == 0) return 0; /* the kernel reads none */
    if (m->msg_controllen > CONTROL_MAX) {
        errno = ENOBUFS;
        return -1;
    }
    size_t n = m->msg_controllen;
    unsigned char *buf = c->u.small;
    if (n > sizeof c->u.small) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            errno = ENOBUFS;
            return -1;
        }
        buf = c->big = p;
        c->size = n;
    }
    if (td_copy_in(buf, m->msg_control, n) != 0 ||
        (td_control_routes(buf, n) && td_refuse_unjudgeable(op, "raw") != 0)) {
        release_control(c);
        return -1;
    }
    m->msg_control = buf;
    return 0;
}

static ssize_t send_message(int fd, struct msghdr *m, int flags, const char *op) {
    if (td_dns_wanted(fd, m->msg_name, m->msg_namelen)) {
        if (check_unaddressed(fd, m->msg_name, m->msg_namelen, op) != 0) return -1;
        return td_dns_send(fd, m->msg_iov, m->msg_iovlen, flags, m->msg_name, m->msg_namelen, m, op);
    }
    if (check_destination(fd, &m->msg_name, &m->msg_namelen, flags, op) != 0) return -1;
    return td_real.sendmsg(fd, m, flags);
}

ssize_t td_sendmsg(int fd, const struct msghdr *msg, int flags, const char *op) {
    if (!td_real.sendmsg) td_resolve_real();
    if (!msg) return td_real.sendmsg(fd, msg, flags); /* the kernel's EFAULT */
    struct msghdr m;
    struct sockaddr_storage name;
    struct control control;
    if (copy_message(msg, &m, &name) != 0 || copy_control(&m, &control, op) != 0) return -1;
    ssize_t rc = send_message(fd, &m, flags, op);
    release_control(&control);
    return rc;
}

/* In batches of private copies, judged in order. Messages before the first blocked one are sent; the call
 * then reports how many went, and the caller's retry of the rest meets the block at once. The kernel takes
 * at most UIO_MAXIOV messages a call, and so is no more judged. */
int td_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, const char *op) {
    if (!td_real.sendmmsg) td_resolve_real();
    if (!vec || vlen == 0) return td_real.sendmmsg(fd, vec, vlen, flags);
    if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;
    {
        struct msghdr first;
        struct sockaddr_storage name;
        if (copy_message(&vec[0].msg_hdr, &first, &name) != 0) return -1;
        if (td_dns_wanted(fd, first.msg_name, first.msg_namelen))
            return td_dns_sendmmsg(fd, vec, vlen, flags, op);
    }
    enum { BATCH = 32 };
    unsigned sent = 0;
    while (sent < vlen) {
        struct mmsghdr part[BATCH];
        struct sockaddr_storage names[BATCH];
        struct control controls[BATCH];
        unsigned k = vlen - sent < BATCH ? vlen - sent : BATCH, ok = 0;
        int failed = 0, dns = 0;
        for (; ok < k; ok++) {
            if (copy_message(&vec[sent + ok].msg_hdr, &part[ok].msg_hdr, &names[ok]) != 0 ||
                copy_control(&part[ok].msg_hdr, &controls[ok], op) != 0) {
                failed = 1;
                break;
            }
            /* A message for a name server goes alone, through sendmsg's DNS path, which sends the very copy
             * it judged: in a batch the kernel would read the caller's buffer again (attacker's review). */
            if (td_dns_wanted(fd, part[ok].msg_hdr.msg_name, part[ok].msg_hdr.msg_namelen)) {
                release_control(&controls[ok]);
                dns = 1;
                break;
            }
            if (td_check_send(fd, &part[ok].msg_hdr, flags, op) != 0) {
                release_control(&controls[ok]);
                failed = 1;
                break;
            }
            part[ok].msg_len = 0;
        }
        if (ok == 0 && dns) {
            ssize_t one = td_sendmsg(fd, &vec[sent].msg_hdr, flags & ~MSG_WAITFORONE, op);
            if (one < 0) return sent ? (int)sent : -1;
            vec[sent].msg_len = (unsigned)one;
            sent++;
            continue;
        }
        if (ok == 0) return sent ? (int)sent : -1; /* errno: EACCES, or EFAULT */
        int saved = errno;
        int r = td_real.sendmmsg(fd, part, ok, flags);
        for (unsigned i = 0; i < ok; i++) release_control(&controls[i]);
        if (r < 0) return sent ? (int)sent : r;
        for (int i = 0; i < r; i++) vec[sent + (unsigned)i].msg_len = part[i].msg_len;
        sent += (unsigned)r;
        if ((unsigned)r < ok || failed) break;
        errno = saved;
    }
    return (int)sent;
}

TETHERED_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                               socklen_t len) {
    return td_sendto(fd, buf, n, flags, addr, len, "sendto");
}

TETHERED_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    return td_sendmsg(fd, msg, flags, "sendmsg");
}

TETHERED_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
    return td_sendmmsg(fd, vec, vlen, flags, "sendmmsg");
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__sendmmsg, sendmmsg);
