/* connect(): the way almost every TCP connection, and every connected UDP socket, leaves a process. The
 * address is read once into a private copy (address.c); the copy is judged and is what the kernel gets. */
#include "shim.h"

int td_connect(int fd, const struct sockaddr *addr, socklen_t len, const char *op) {
    if (!td_real.connect) td_resolve_real();
    struct sockaddr_storage copy;
    /* a NULL address, a length of 0 or one longer than any address: the kernel refuses without reading */
    if (addr && len > 0 && (size_t)len <= sizeof copy) {
        if (td_copy_in(&copy, addr, len) != 0) return -1;
        addr = (const struct sockaddr *)&copy;
        if (td_check_address(fd, addr, len, TD_USE_CONNECT, op) != 0) return -1;
    }
    return td_real.connect(fd, addr, len);
}

TETHERED_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    return td_connect(fd, addr, len, "connect");
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__connect, connect);
