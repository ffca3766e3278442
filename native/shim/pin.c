/* The strict supervisor is executed from a copy taken once, when strict mode is turned on, never by its
 * path: the package directory is usually writable by the user, so a filtered child (or JavaScript in the
 * process) could put a pass-through script at build/Release/tethered-strict, and the next command would
 * run unsupervised. The copy is a memfd sealed against writing, shrinking and growing (and against new
 * seals), so nothing can change it afterwards; it must be an ELF file (the real supervisor is a static
 * PIE): a script would be run by an interpreter found by path, and `#!` is refused. Executed through the
 * descriptor (execveat with AT_EMPTY_PATH), close-on-exec is fine for an ELF image. */
#include "pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even where vm.memfd_noexec makes memfds non-executable */
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int fail(int fd, int src, int err, char *why, size_t cap, const char *path, const char *what) {
    if (fd >= 0) close(fd);
    if (src >= 0) close(src);
    snprintf(why, cap, "%s: %s", path, what ? what : strerror(err));
    errno = err;
    return -1;
}

int td_pin_binary(const char *path, int min_fd, struct stat *st, char *why, size_t cap) {
    int src = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (src < 0) return fail(-1, -1, errno, why, cap, path, NULL);
    struct stat s;
    if (fstat(src, &s) != 0) return fail(-1, src, errno, why, cap, path, NULL);
    if (!S_ISREG(s.st_mode)) return fail(-1, src, EACCES, why, cap, path, "not a regular file");
    int fd = memfd_create("tethered-strict", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = memfd_create("tethered-strict", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return fail(-1, src, errno, why, cap, path, NULL);
    char buf[16384];
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(fd, src, errno, why, cap, path, NULL);
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return fail(fd, src, w < 0 ? errno : EIO, why, cap, path, NULL);
            done += w;
        }
    }
    close(src);
    if (fcntl(fd, F_ADD_SEALS, SEALS) != 0) return fail(fd, -1, errno, why, cap, path, NULL);
    /* The copy is checked, not the file: the file may change while it is read. */
    unsigned char magic[4];
    if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic || memcmp(magic, "\177ELF", 4) != 0)
        return fail(fd, -1, EACCES, why, cap, path, "not an ELF executable (a script is refused)");
    if (min_fd > 0) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
        if (high >= 0) {
            close(fd);
            fd = high;
        }
    }
    if (fstat(fd, st) != 0) return fail(fd, -1, errno, why, cap, path, NULL);
    return fd;
}

int td_pin_intact(int fd, const struct stat *st) {
    struct stat now;
    if (fd < 0 || fstat(fd, &now) != 0) return 0;
    return now.st_dev == st->st_dev && now.st_ino == st->st_ino && (fcntl(fd, F_GET_SEALS) & SEALS) == SEALS;
}
