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

/* Does this option give a socket a destination the hooks cannot see? */
static int unjudgeable_option(int level, int name, const void *value, socklen_t len) {
    int on = 0;
    if (value && len >= (socklen_t)sizeof(int) && td_copy_in(&on, value, sizeof on) != 0) return 0;
    if (level == IPPROTO_IP && name == IP_HDRINCL) return on != 0;
    if (level == IPPROTO_IPV6 && name == IPV6_HDRINCL) return on != 0;
    if (level == IPPROTO_IPV6 && name == IPV6_RTHDR) return value && len > 0;
    if (level == IPPROTO_IP && name == IP_OPTIONS && value && len > 0) {
        unsigned char options[40];
        size_t n = (size_t)len < sizeof options ? (size_t)len : sizeof options;
        if (td_copy_in(options, value, n) != 0) return 0;
        /* loose or strict source route: the packet's first destination is only a hop */
        for (size_t i = 0; i < n;) {
            unsigned char type = options[i];
            if (type == 0x83 || type == 0x89) return 1;
            if (type == 0) break;
            if (type == 1) {
                i++;
                continue;
            }
            if (i + 1 >= n || options[i + 1] < 2) break;
            i += options[i + 1];
        }
    }
    return level == IPPROTO_SCTP_; /* connectx and the rest: SCTP sockets are refused at socket() */
}

int td_check_setsockopt(int level, int name, const void *value, socklen_t len, const char *op) {
    if (!unjudgeable_option(level, name, value, len)) return 0;
    return td_refuse_unjudgeable(op, "raw");
}

TETHERED_EXPORT int socket(int domain, int type, int protocol) {
    if (!td_real.socket) td_resolve_real();
    if (td_check_socket(domain, type, protocol, "socket") != 0) return -1;
    return td_real.socket(domain, type, protocol);
}

TETHERED_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
    if (!td_real.setsockopt) td_resolve_real();
    if (td_check_setsockopt(level, name, value, len, "setsockopt") != 0) return -1;
    return td_real.setsockopt(fd, level, name, value, len);
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__socket, socket);
