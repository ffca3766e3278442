/* The baseline of the shim benchmarks: the system call itself, made with the `syscall` instruction, so
 * that no hook can stand in front of it (libc's own entries now lead to the hooks when the shim is in the
 * process, however their address is obtained). Returns like libc: -1 with errno. */
#ifndef BENCH_RAW_H
#define BENCH_RAW_H

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    ret = x0;
#else
#error "raw.h supports x86_64 and aarch64"
#endif
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#define RAW(n, a, b, c, d, e, f) raw_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline int raw_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    return (int)RAW(SYS_connect, fd, addr, len, 0, 0, 0);
}
static inline ssize_t raw_write(int fd, const void *buf, size_t n) {
    return RAW(SYS_write, fd, buf, n, 0, 0, 0);
}
static inline ssize_t raw_read(int fd, void *buf, size_t n) {
    return RAW(SYS_read, fd, buf, n, 0, 0, 0);
}
static inline ssize_t raw_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                                 socklen_t len) {
    return RAW(SYS_sendto, fd, buf, n, flags, addr, len);
}
static inline ssize_t raw_recv(int fd, void *buf, size_t n, int flags) {
    return RAW(SYS_recvfrom, fd, buf, n, flags, 0, 0);
}

#endif
