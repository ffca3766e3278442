/* What the caller passes by pointer is read once, into the shim's own copy: the copy is judged and the
 * copy is what the kernel gets, so another thread cannot change an address between the check and the
 * call. Reading must never fault where the kernel would answer EFAULT: a pointer is read directly only
 * inside a page this thread has already seen readable (a few remembered per thread, forgotten whenever
 * memory is unmapped or made unreadable anywhere in the process); anything else is read through
 * process_vm_readv(), which answers EFAULT for memory that is not there, or, where a seccomp profile refuses
 * that call, through /proc/self/mem, which answers EIO. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#define PAGES 8
#define PAGE_SIZE_MIN 4096

static atomic_uint unmapped; /* bumped by every munmap/mprotect/mremap/brk/shmdt the hooks see */

static __thread struct {
    uintptr_t page[PAGES];
    unsigned generation, next;
} readable __attribute__((tls_model("initial-exec")));

void td_memory_changed(void) {
    atomic_fetch_add_explicit(&unmapped, 1, memory_order_acq_rel);
}

static int known(uintptr_t page) {
    if (readable.page[(readable.next - 1) % PAGES] == page) return 1; /* the one seen last, most often */
    for (int i = 0; i < PAGES; i++)
        if (readable.page[i] == page) return 1;
    return 0;
}

static void remember(uintptr_t page) {
    if (known(page)) return;
    readable.page[readable.next++ % PAGES] = page;
}

int td_copy_in(void *dst, const void *src, size_t n) {
    if (n == 0) return 0;
    uintptr_t p = (uintptr_t)src, end = p + n;
    /* the first page is never mapped; no user address reaches 2^56 (x86-64 5-level paging, arm64) */
    if (p < PAGE_SIZE_MIN || end < p || end > ((uintptr_t)1 << 56)) {
        errno = EFAULT;
        return -1;
    }
    unsigned generation = atomic_load_explicit(&unmapped, memory_order_acquire);
    if (readable.generation != generation) {
        memset(readable.page, 0, sizeof readable.page);
        readable.generation = generation;
    }
    uintptr_t first = p & ~(uintptr_t)(PAGE_SIZE_MIN - 1), last = (end - 1) & ~(uintptr_t)(PAGE_SIZE_MIN - 1);
    if (known(first) && (last == first || known(last))) {
        /* the sizes of the addresses and headers copied on every send, inlined */
        if (n == sizeof(struct sockaddr_in))
            memcpy(dst, src, sizeof(struct sockaddr_in));
        else if (n == sizeof(struct sockaddr_in6))
            memcpy(dst, src, sizeof(struct sockaddr_in6));
        else if (n == sizeof(struct msghdr))
            memcpy(dst, src, sizeof(struct msghdr));
        else
            memcpy(dst, src, n);
        return 0;
    }
    int saved = errno;
    struct iovec local = {dst, n}, remote = {(void *)src, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got == (ssize_t)n) {
        remember(first);
        remember(last);
        errno = saved;
        return 0;
    }
    if (got < 0 && errno != EFAULT) {
        /* process_vm_readv refused (a container's seccomp profile): the process's own memory file reads
         * the same way and says EIO where nothing is mapped. Opened for each read: this path is rare, and a
         * descriptor kept open could be closed or replaced by the program. (It also reads a PROT_NONE page
         * the kernel would refuse: then the call is made with the judged copy instead of failing EFAULT.) */
        int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        if (mem >= 0) {
            ssize_t read_ = pread(mem, dst, n, (off_t)src);
            close(mem);
            if (read_ == (ssize_t)n) {
                errno = saved;
                return 0;
            }
            errno = EFAULT;
            return -1;
        }
        /* No /proc either: read it as libc's callers would. */
        memcpy(dst, src, n);
        errno = saved;
        return 0;
    }
    errno = EFAULT;
    return -1;
}

/* ---- the calls that can take memory away ---- */

TETHERED_EXPORT int munmap(void *addr, size_t len) {
    if (!td_real.munmap) td_resolve_real();
    td_memory_changed();
    return td_real.munmap(addr, len);
}

TETHERED_EXPORT int mprotect(void *addr, size_t len, int prot) {
    if (!td_real.mprotect) td_resolve_real();
    if (!(prot & PROT_READ)) td_memory_changed();
    return td_real.mprotect(addr, len, prot);
}

TETHERED_EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
    if (!td_real.mremap) td_resolve_real();
    va_list ap;
    va_start(ap, flags);
    void *new_address = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
    va_end(ap);
    td_memory_changed();
    return td_real.mremap(old, old_size, new_size, flags, new_address);
}

TETHERED_EXPORT int brk(void *addr) {
    if (!td_real.brk) td_resolve_real();
    td_memory_changed();
    return td_real.brk(addr);
}

TETHERED_EXPORT int shmdt(const void *addr) {
    if (!td_real.shmdt) td_resolve_real();
    td_memory_changed();
    return td_real.shmdt(addr);
}
