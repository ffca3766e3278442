/* The real libc functions behind every hook, looked up in libc itself (not with RTLD_NEXT), so that the
 * same code works when the shim is preloaded and when it is loaded later and patched in. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "shim.h"

struct td_real td_real;

static void *lookup(void *libc, void *other, const char *name) {
    void *p = libc ? dlsym(libc, name) : NULL;
    if (!p && other) p = dlsym(other, name);
    return p;
}

#define RESOLVE(field, name) td_real.field = (__typeof__(td_real.field))lookup(libc, other, name)

void td_resolve_real(void) {
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return;
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    /* Older glibc keeps the res_* functions in libresolv and getaddrinfo_a in libanl. */
    void *other = dlopen("libresolv.so.2", RTLD_LAZY | RTLD_NOLOAD);
    RESOLVE(connect, "connect");
    RESOLVE(sendto, "sendto");
    RESOLVE(sendmsg, "sendmsg");
    RESOLVE(sendmmsg, "sendmmsg");
    RESOLVE(syscall, "syscall");
    RESOLVE(getaddrinfo, "getaddrinfo");
    RESOLVE(gethostbyname, "gethostbyname");
    RESOLVE(gethostbyname2, "gethostbyname2");
    RESOLVE(gethostbyname_r, "gethostbyname_r");
    RESOLVE(gethostbyname2_r, "gethostbyname2_r");
    RESOLVE(gethostbyaddr, "gethostbyaddr");
    RESOLVE(gethostbyaddr_r, "gethostbyaddr_r");
    RESOLVE(getnameinfo, "getnameinfo");
    RESOLVE(res_query, "res_query");
    RESOLVE(res_search, "res_search");
    RESOLVE(res_querydomain, "res_querydomain");
    RESOLVE(res_send, "res_send");
    RESOLVE(res_nquery, "res_nquery");
    RESOLVE(res_nsearch, "res_nsearch");
    RESOLVE(res_nquerydomain, "res_nquerydomain");
    RESOLVE(res_nsend, "res_nsend");
    RESOLVE(execve, "execve");
    RESOLVE(execvpe, "execvpe");
    RESOLVE(fexecve, "fexecve");
    RESOLVE(execveat, "execveat");
    RESOLVE(posix_spawn, "posix_spawn");
    RESOLVE(posix_spawnp, "posix_spawnp");
    RESOLVE(system, "system");
    RESOLVE(popen, "popen");
    RESOLVE(send, "send");
    RESOLVE(write, "write");
    RESOLVE(writev, "writev");
    RESOLVE(read, "read");
    RESOLVE(recv, "recv");
    RESOLVE(recvfrom, "recvfrom");
    RESOLVE(recvmsg, "recvmsg");
    if (!td_real.res_query) { /* glibc < 2.34 exports them as __res_* */
        RESOLVE(res_query, "__res_query");
        RESOLVE(res_search, "__res_search");
        RESOLVE(res_querydomain, "__res_querydomain");
        RESOLVE(res_send, "__res_send");
        RESOLVE(res_nquery, "__res_nquery");
        RESOLVE(res_nsearch, "__res_nsearch");
        RESOLVE(res_nquerydomain, "__res_nquerydomain");
        RESOLVE(res_nsend, "__res_nsend");
    }
    void *anl = td_real.getaddrinfo_a ? NULL : dlopen("libanl.so.1", RTLD_LAZY | RTLD_NOLOAD);
    td_real.getaddrinfo_a = (__typeof__(td_real.getaddrinfo_a))lookup(libc, anl, "getaddrinfo_a");
    td_real.gai_error = (__typeof__(td_real.gai_error))lookup(libc, anl, "gai_error");
    atomic_store_explicit(&done, 1, memory_order_release);
}
