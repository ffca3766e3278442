/* Definitions, inside libtethered.so (hidden: -fvisibility=hidden), of the libc functions it calls that
 * glibc 2.28 does not export: the shim's calls bind to these at link time, so the library needs no symbol
 * version newer than 2.28 (glibc_baseline.h says why; test/native/glibc-baseline.test.mjs checks).
 *   stat, fstat   real functions since 2.33 (stat64@GLIBC_2.33); before, the headers made them calls of
 *                 __xstat64/__fxstat64, which every glibc still exports, and so do these.
 *   gettid        a wrapper since 2.30; the system call is older than any glibc supported.
 * Each is defined under both names a caller may reference: with _FILE_OFFSET_BITS=64 (node-gyp's default)
 * the headers rename fstat to fstat64, and some shim files undefine it. */
#undef _FILE_OFFSET_BITS
#include <features.h>

#if defined(__GLIBC__)
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define TD_STAT_VER 1 /* _STAT_VER_LINUX */
#elif defined(__aarch64__)
#define TD_STAT_VER 0 /* the generic struct stat */
#else
#error "glibc_compat.c: no stat version for this architecture"
#endif

/* The 64-bit architectures only: struct stat is struct stat64. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "struct stat is struct stat64");

extern int __xstat64(int version, const char *path, struct stat64 *buf);
extern int __fxstat64(int version, int fd, struct stat64 *buf);

int stat(const char *path, struct stat *buf) {
    return __xstat64(TD_STAT_VER, path, (struct stat64 *)buf);
}

int stat64(const char *path, struct stat64 *buf) {
    return __xstat64(TD_STAT_VER, path, buf);
}

int fstat(int fd, struct stat *buf) {
    return __fxstat64(TD_STAT_VER, fd, (struct stat64 *)buf);
}

int fstat64(int fd, struct stat64 *buf) {
    return __fxstat64(TD_STAT_VER, fd, buf);
}

pid_t gettid(void) {
    return (pid_t)syscall(SYS_gettid);
}
#endif
