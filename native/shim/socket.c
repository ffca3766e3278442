/* socket() and setsockopt(): the kinds of socket whose packets carry a destination no hook can judge. A
 * raw IP socket that writes its own IP header (IPPROTO_RAW, IP_HDRINCL, IPV6_HDRINCL) puts the real
 * destination inside the data, whatever address sendto() names; a packet socket (AF_PACKET, SOCK_PACKET)
 * hands whole frames to a device; IP source routing (IP_OPTIONS with LSRR/SSRR, IPV6_RTHDR) sends a packet
 * through an allowed first hop to another destination; SCTP connects through setsockopt (connectx) and
 * takes destinations from control messages. While a policy is in force these are refused (EACCES and one
 * event, reason `raw-socket`; log mode allows and reports them). Raw sockets without a header of their own
 * (ICMP, or a protocol number the kernel wraps) are judged like datagrams, by the address they send to. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "shim.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#define SOCK_PACKET_TYPE 10 /* SOCK_PACKET, obsolete but still taken by AF_INET */
#define IPPROTO_SCTP_ 132

static int unjudgeable_socket(int domain, int type, int protocol) {
    int kind = type & 0xf; /* without SOCK_NONBLOCK / SOCK_CLOEXEC */
    if (domain == AF_PACKET || (domain == AF_INET && kind == SOCK_PACKET_TYPE)) return 1;
    if ((domain == AF_INET || domain == AF_INET6) && kind == SOCK_RAW && protocol == IPPROTO_RAW) return 1;
    if ((domain == AF_INET || domain == AF_INET6) && protocol == IPPROTO_SCTP_) return 1;
    return 0;
}

int td_check_socket(int domain, int type, int protocol, const char *op) {
    if (!unjudgeable_socket(domain, type, protocol)) return 0;
    return td_refuse_unjudgeable(op, domain == AF_PACKET         ? "packet"
                                     : protocol == IPPROTO_SCTP_ ? "sctp"
                                                                 : "raw");
}

/* Does this IPv4 option list (as setsockopt(IP_OPTIONS) or an IP_RETOPTS control message gives it, at most
 * the 40 bytes the kernel reads) hold a loose or strict source route? The packet's first destination would
 * then be only a hop, and the hop the real one. */
static int ipv4_source_route(const unsigned char *options, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char type = options[i];
        if (type == 0x83 || type == 0x89) return 1; /* LSRR, SSRR */
        if (type == 0) break;                       /* end of list */
        if (type == 1) {                            /* no-op */
            i++;
            continue;
        }
        if (i + 1 >= n || options[i + 1] < 2) break; /* the kernel refuses the rest (EINVAL) */
        i += options[i + 1];
    }
    return 0;
}

int td_control_routes(const unsigned char *control, size_t len) {
    /* as the kernel walks it (for_each_cmsghdr, CMSG_OK): a header must fit whole; one whose length is
     * too short or runs past the end makes the kernel refuse the whole call (EINVAL), so nothing after it
     * is read */
    for (size_t off = 0; len - off >= sizeof(struct cmsghdr);) {
        struct cmsghdr c;
        memcpy(&c, control + off, sizeof c);
        if (c.cmsg_len < sizeof c || c.cmsg_len > len - off) return 0;
        const unsigned char *data = control + off + sizeof c;
        size_t n = c.cmsg_len - sizeof c;
        if (c.cmsg_level == IPPROTO_IP && (c.cmsg_type == IP_RETOPTS || c.cmsg_type == IP_OPTIONS) &&
            ipv4_source_route(data, n < 40 ? n : 40))
            return 1;
        if (c.cmsg_level == IPPROTO_IPV6 && (c.cmsg_type == IPV6_RTHDR || c.cmsg_type == IPV6_2292RTHDR))
            return 1;
        size_t step = CMSG_ALIGN(c.cmsg_len);
        if (step > len - off) break;
        off += step;
    }
    return 0;
}

/* Does this option (its value a private copy) give a socket a destination the hooks cannot see? */
static int unjudgeable_option(int level, int name, const unsigned char *value, socklen_t len) {
    int on = 0;
    /* IP_HDRINCL is read as an int, or as one byte when shorter (the kernel's rule for IPv4 options) */
    if (value && len >= (socklen_t)sizeof(int))
        memcpy(&on, value, sizeof on);
    else if (value && len >= 1)
        on = value[0];
    if (level == IPPROTO_IP && name == IP_HDRINCL) return on != 0;
    if (level == IPPROTO_IPV6 && name == IPV6_HDRINCL) return len >= (socklen_t)sizeof(int) && on != 0;
    if (level == IPPROTO_IPV6 && name == IPV6_RTHDR) return len > 0;
    if (level == IPPROTO_IP && name == IP_OPTIONS) return value && ipv4_source_route(value, len);
    /* sticky options given as control messages (RFC 2292), a routing header among them */
    if (level == IPPROTO_IPV6 && name == IPV6_2292PKTOPTIONS) return value && td_control_routes(value, len);
    return level == IPPROTO_SCTP_; /* connectx and the rest: SCTP sockets are refused at socket() */
}

/* The most of each judged option the kernel reads; a longer value it refuses (EINVAL) without reading. */
static size_t judged_length(int level, int name, socklen_t len) {
    if ((level == IPPROTO_IP && name == IP_HDRINCL) || (level == IPPROTO_IPV6 && name == IPV6_HDRINCL))
        return len < (socklen_t)sizeof(int) ? len : sizeof(int);
    if (level == IPPROTO_IP && name == IP_OPTIONS) return len <= 40 ? len : 0;
    if (level == IPPROTO_IPV6 && name == IPV6_RTHDR) return 0; /* refused whatever it holds */
    if (level == IPPROTO_IPV6 && name == IPV6_2292PKTOPTIONS) return len <= 65536 ? len : 0;
    return 0;
}

int td_setsockopt(int fd, int level, int name, const void *value, socklen_t len, const char *op) {
    if (!td_real.setsockopt) td_resolve_real();
    /* the judged value is read once into a private copy, and the copy is what the kernel gets: another
     * thread cannot change it between the check and the call */
    size_t n = value ? judged_length(level, name, len) : 0;
    unsigned char small[64], *copy = small;
    if (n > sizeof small) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            errno = ENOMEM;
            return -1;
        }
        copy = m;
    }
    int rc = -1;
    if (n == 0 || td_copy_in(copy, value, n) == 0) {
        const void *given = n ? copy : value;
        socklen_t given_len = n ? (socklen_t)n : len;
        if (!unjudgeable_option(level, name, n ? copy : NULL, given_len) ||
            td_refuse_unjudgeable(op, "raw") == 0)
            rc = td_real.setsockopt(fd, level, name, given, given_len);
    }
    if (copy != small) {
        int e = errno;
        munmap(copy, n);
        errno = e;
    }
    return rc;
}

TETHERED_EXPORT int socket(int domain, int type, int protocol) {
    if (!td_real.socket) td_resolve_real();
    if (td_check_socket(domain, type, protocol, "socket") != 0) return -1;
    return td_real.socket(domain, type, protocol);
}

TETHERED_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
    return td_setsockopt(fd, level, name, value, len, "setsockopt");
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__socket, socket);
