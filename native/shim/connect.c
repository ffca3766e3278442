/* connect(): the way almost every TCP connection, and every connected UDP socket, leaves a process. */
#include "shim.h"

TETHERED_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (!td_real.connect) td_resolve_real();
    if (td_check_address(fd, addr, len, "connect") != 0) return -1;
    return td_real.connect(fd, addr, len);
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__connect, connect);
