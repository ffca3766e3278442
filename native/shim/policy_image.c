/* Writing and loading policy images (policy_image.h).
 *
 * The reference: TETHERED_POLICY_IMAGE=<sha256 hex>:<fd or ->:<path>. The hash is what counts. Why a child
 * cannot be handed a looser policy this way: the reference is one of the TETHERED_* variables the exec
 * hooks put back into every child's environment (exec.c), whatever environment the caller passed, and
 * every process checks the hash of the bytes it is about to use; a mismatch, a missing file or a bad image
 * blocks all egress (config.c says why once).
 *
 * Where the bytes come from, cheapest first:
 *  - the descriptor: a memfd the parent made, sealed against writing, shrinking and growing, inherited
 *    across exec (not close-on-exec). Its pages are shared by every process of the tree and mapping them
 *    allocates nothing, so a child pays only for the hash (~0.3 ms per MB with the SHA extensions). The
 *    seals make the check final: no one, the same user included, can change those bytes afterwards.
 *    A descriptor that is not such a memfd (the program closed it, or put something else there) is
 *    ignored.
 *  - the file: written once (O_EXCL, mode 0400, renamed into place) in a directory of this user that no
 *    one else can write. Code running as the same user could still chmod and rewrite it, so it is never
 *    used in place: it is copied into a new sealed memfd, and the copy is hashed and used (and handed on
 *    to this process's children instead). Copying allocates pages (~0.4 ms per MB here): a process pays
 *    that only when its parent's descriptor did not reach it.
 *
 * The hash names the file, so the same policy always gives the same file: writing it again reuses it, and
 * the directory holds one file per distinct policy. Only pread/pwrite, mmap and the *at calls are used for
 * I/O: none of them is a hook, so the shim's own I/O never goes through its own checks. */
#include "policy_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "tethered.h"

/* An image larger than this is not one we wrote (offsets are 32-bit). */
#define MAX_IMAGE ((size_t)1 << 31)
#define HEX_LEN (2 * TD_SHA256_LEN)
#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static void to_hex(const uint8_t hash[TD_SHA256_LEN], char hex[HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < TD_SHA256_LEN; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 15];
    }
    hex[HEX_LEN] = 0;
}

/* The size of a memfd sealed as SEALS, or 0 when fd is anything else. */
static size_t sealed_size(int fd) {
    struct stat st;
    if (fd < 0 || fcntl(fd, F_GET_SEALS) != SEALS || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size <= 0 || (size_t)st.st_size > MAX_IMAGE)
        return 0;
    return (size_t)st.st_size;
}

/* A new sealed memfd holding `size` bytes read from `src` (a mapping of the file: a read past a shortened
 * file fails the write, it does not fault); inherited by children. -1 on failure. */
static int sealed_copy(const void *src, size_t size) {
    int fd = memfd_create("tethered-policy", MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, (const char *)src + done, size - done, (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    if (done != size || fcntl(fd, F_ADD_SEALS, SEALS) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The policy in the sealed memfd `fd` if its hash is `hex`; NULL with a reason. */
static struct td_policy *map_sealed(int fd, const char *hex, char *why, size_t cap) {
    size_t size = sealed_size(fd);
    if (!size) {
        snprintf(why, cap, "it is not a sealed policy image");
        return NULL;
    }
    const unsigned char *bytes = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (bytes == MAP_FAILED) {
        snprintf(why, cap, "it cannot be mapped: %s", strerror(errno));
        return NULL;
    }
    uint8_t digest[TD_SHA256_LEN];
    char found[HEX_LEN + 1];
    td_sha256_split(bytes, size, digest);
    to_hex(digest, found);
    struct td_policy *p = NULL;
    if (strcmp(found, hex) != 0)
        snprintf(why, cap, "it was changed: its content hash is not the one given");
    else
        p = td_policy_from_bytes(bytes, size, why, cap);
    if (!p) munmap((void *)bytes, size);
    return p;
}

/* The image file at `path` copied into a new sealed memfd (*fd); -1 with a reason. */
static int copy_file(const char *path, int *fd, char *why, size_t cap) {
    /* O_NONBLOCK: a FIFO put in its place must not hang the program (it is refused as not a file) */
    int file = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (file < 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, cap, "it is not a regular file");
    } else if (st.st_size <= 0 || (size_t)st.st_size > MAX_IMAGE) {
        snprintf(why, cap, "its size (%lld bytes) is not that of a policy image", (long long)st.st_size);
    } else {
        size_t size = (size_t)st.st_size;
        void *src = mmap(NULL, size, PROT_READ, MAP_PRIVATE, file, 0);
        *fd = src == MAP_FAILED ? -1 : sealed_copy(src, size);
        if (src != MAP_FAILED) munmap(src, size);
        if (*fd < 0)
            snprintf(why, cap, "it could not be read whole");
        else
            rc = 0;
    }
    close(file);
    return rc;
}

int td_policy_image_parse(const char *ref, char hex[2 * 32 + 1], int *fd, const char **path) {
    size_t n = 0;
    while (n < HEX_LEN && ((ref[n] >= '0' && ref[n] <= '9') || (ref[n] >= 'a' && ref[n] <= 'f'))) n++;
    if (n != HEX_LEN || ref[n] != ':') return -1;
    memcpy(hex, ref, HEX_LEN);
    hex[HEX_LEN] = 0;
    const char *p = ref + HEX_LEN + 1;
    *fd = -1;
    if (*p == '-') {
        p++;
    } else {
        long v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && v < 1 << 24) v = v * 10 + (*p++ - '0');
        if (p == start || v >= 1 << 24) return -1;
        *fd = (int)v;
    }
    if (*p != ':' || p[1] != '/') return -1;
    *path = p + 1;
    return 0;
}

struct td_policy *td_policy_image_load(const char *ref, int *fd_out, char *problem, size_t pcap) {
    char hex[HEX_LEN + 1], why[200] = "";
    int fd;
    const char *path;
    *fd_out = -1;
    if (td_policy_image_parse(ref, hex, &fd, &path) != 0) {
        snprintf(problem, pcap,
                 "TETHERED_POLICY_IMAGE must be <sha256 in hex>:<descriptor or ->:<absolute path>");
        return NULL;
    }
    struct td_policy *p = fd >= 0 ? map_sealed(fd, hex, why, sizeof why) : NULL;
    if (p) {
        *fd_out = fd;
        return p;
    }
    int copy = -1;
    if (copy_file(path, &copy, why, sizeof why) != 0) {
        snprintf(problem, pcap, "cannot use the policy image %.300s: %s", path, why);
        return NULL;
    }
    p = map_sealed(copy, hex, why, sizeof why);
    if (!p) {
        close(copy);
        snprintf(problem, pcap, "cannot use the policy image %.300s: %s", path, why);
        return NULL;
    }
    *fd_out = copy;
    return p;
}

/* Opens (making it when missing) the user's image directory; -1 with a reason when it is not private. */
static int open_dir(char *dir, size_t cap, char *problem, size_t pcap) {
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int n = runtime && runtime[0] == '/' ? snprintf(dir, cap, "%s/tethered", runtime)
                                         : snprintf(dir, cap, "/tmp/tethered-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= cap) {
        snprintf(problem, pcap, "the image directory's path is too long");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(problem, pcap, "cannot make the image directory %.300s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(problem, pcap, "cannot open the image directory %.300s: %s", dir, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        snprintf(
            problem, pcap,
            "the image directory %.300s is %s; it must belong to this user and be writable by no one else",
            dir, st.st_uid != geteuid() ? "owned by another user" : "writable by others");
        close(fd);
        return -1;
    }
    return fd;
}

/* Does the file `name` in dir hold exactly these bytes? */
static int holds(int dfd, const char *name, const void *bytes, size_t size) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return 0;
    struct stat st;
    int same = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == size) {
        /* compared through pread (a mapping would fault if the file shrank meanwhile) */
        char chunk[65536];
        size_t at = 0;
        for (same = 1; same && at < size;) {
            ssize_t r = pread(fd, chunk, size - at < sizeof chunk ? size - at : sizeof chunk, (off_t)at);
            if (r < 0 && errno == EINTR) continue;
            same = r > 0 && memcmp(chunk, (const char *)bytes + at, (size_t)r) == 0;
            at += r > 0 ? (size_t)r : 0;
        }
    }
    close(fd);
    return same;
}

/* The writer's memfd of the last image it wrote, handed to its children; replaced (and closed) when a
 * different policy is written, so that activating again and again does not leave descriptors behind. */
static struct {
    char hex[HEX_LEN + 1];
    int fd;
    dev_t dev;
    ino_t ino;
} last = {"", -1, 0, 0};

/* A sealed memfd holding the image whose hash is `hex` (reused when it still is the one made last). */
static int writer_memfd(const char *hex, const void *bytes, size_t size) {
    struct stat st;
    int ours = last.fd >= 0 && fstat(last.fd, &st) == 0 && st.st_dev == last.dev && st.st_ino == last.ino;
    if (ours && strcmp(last.hex, hex) == 0 && sealed_size(last.fd) == size) return last.fd;
    if (ours) close(last.fd);
    last.fd = sealed_copy(bytes, size);
    if (last.fd >= 0 && fstat(last.fd, &st) == 0) {
        memcpy(last.hex, hex, sizeof last.hex);
        last.dev = st.st_dev;
        last.ino = st.st_ino;
    }
    return last.fd;
}

int td_policy_image_write(const struct td_policy *policy, char *ref, size_t cap, char *problem, size_t pcap) {
    size_t size;
    const unsigned char *bytes = td_policy_bytes(policy, &size);
    uint8_t digest[TD_SHA256_LEN];
    char hex[HEX_LEN + 1], dir[TD_IMAGE_REF_MAX - 200], name[100], tmp[140];
    td_sha256_split(bytes, size, digest);
    to_hex(digest, hex);
    int dfd = open_dir(dir, sizeof dir, problem, pcap);
    if (dfd < 0) return -1;
    snprintf(name, sizeof name, "%s.policy", hex);
    int rc = 0;
    if (!holds(dfd, name, bytes, size)) {
        /* Written under a fresh name and renamed into place: a reader never sees half a file, and an old
         * file of that name (damaged, or rewritten) is replaced. */
        static unsigned counter;
        snprintf(tmp, sizeof tmp, ".%s.%ld.%u.tmp", hex, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        int error = fd < 0 ? errno : 0;
        size_t done = 0;
        while (!error && done < size) {
            ssize_t w = pwrite(fd, bytes + done, size - done, (off_t)done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) error = w < 0 ? errno : EIO;
            done += w > 0 ? (size_t)w : 0;
        }
        if (!error && fchmod(fd, 0400) != 0) error = errno;
        if (fd >= 0 && close(fd) != 0 && !error) error = errno;
        if (!error && renameat(dfd, tmp, dfd, name) != 0) error = errno;
        if (error) {
            snprintf(problem, pcap, "cannot write the policy image in %.300s: %s", dir, strerror(error));
            if (fd >= 0) unlinkat(dfd, tmp, 0);
            rc = -1;
        }
    }
    close(dfd);
    if (rc != 0) return rc;
    int fd = writer_memfd(hex, bytes, size);
    char fd_text[16] = "-";
    if (fd >= 0) snprintf(fd_text, sizeof fd_text, "%d", fd);
    if (snprintf(ref, cap, "%s:%s:%s/%s", hex, fd_text, dir, name) >= (int)cap) {
        snprintf(problem, pcap, "the image path is too long");
        return -1;
    }
    return 0;
}

/* For the addon: compiles the rules of `s` (allow, deny, allow_localhost) and writes them as an image;
 * `ref` receives what TETHERED_POLICY_IMAGE must say. 0, or -1 with a message. */
TETHERED_EXPORT int tethered_policy_image_write(const struct tethered_settings *s, char *ref, size_t cap,
                                                char *error, size_t ecap) {
    struct td_policy_error err;
    struct td_policy *p = td_policy_compile(s->allow, s->nallow, s->deny, s->ndeny, s->allow_localhost, &err);
    if (!p) {
        snprintf(error, ecap, "invalid rule \"%s\": %s", err.rule, err.reason);
        return -1;
    }
    int rc = td_policy_image_write(p, ref, cap, error, ecap);
    td_policy_free(p);
    return rc;
}
