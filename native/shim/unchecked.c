/* Programs the libc layer cannot follow (issue 10, item 4): an exec of a statically linked program (no
 * PT_INTERP: no loader, so nothing reads LD_PRELOAD), of a program for another ELF class or machine (the
 * loader cannot map this library into it), or of a program that gains privileges (setuid, setgid, file
 * capabilities: the loader runs in secure-execution mode and drops LD_PRELOAD). A `#!` script is followed
 * to its interpreter, which is the program the kernel runs. Such a program runs with its network calls
 * unchecked: the shim says so once per program on stderr, pointing at strict mode, and emits an event with
 * reason `unchecked-exec`. The exec itself goes ahead: it is not this layer's to refuse.
 *
 * This runs on the way into exec, possibly in a vfork() child that shares the parent's memory or in the
 * fork() child of a threaded process: only async-signal-safe calls (open, pread, fstat, write), no malloc,
 * no stdio, buffers on the stack. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shim.h"

#if defined(__x86_64__)
#define TD_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define TD_ELF_MACHINE EM_AARCH64
#else
#define TD_ELF_MACHINE EM_NONE /* not compared */
#endif

enum kind { FOLLOWED, STATIC, FOREIGN, SETUID, SETGID, CAPABILITIES };

static const char *const kind_names[] = {NULL,     "static", "foreign-elf",
                                         "setuid", "setgid", "file-capabilities"};

/* The loader itself run by hand (`ld.so PROGRAM`) has no PT_INTERP, but reads LD_PRELOAD. */
static int is_loader(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "ld-", 3) == 0 && strstr(base, ".so") != NULL;
}

/* Does exec'ing this file change the process's credentials (so that the loader ignores LD_PRELOAD)? The
 * kernel's rules: not on a nosuid mount, not under no_new_privs; setuid/setgid only to another id than the
 * real one; file capabilities. */
static enum kind privileges(int fd, const struct stat *st) {
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return FOLLOWED;
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && (fs.f_flags & ST_NOSUID)) return FOLLOWED;
    if ((st->st_mode & S_ISUID) && st->st_uid != getuid()) return SETUID;
    if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid()) return SETGID;
    /* file capabilities raise no one already root (the kernel's __is_real(root)) */
    if (getuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0) return CAPABILITIES;
    return FOLLOWED;
}

/* What kind of program `fd` (opened from `path`) is. A script: its interpreter's path in `interp`, and
 * the kind is FOLLOWED (the caller goes on with the interpreter). */
static enum kind inspect(int fd, const char *path, char *interp, size_t cap) {
    interp[0] = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return FOLLOWED; /* the exec will say what is wrong */
    unsigned char head[256];                                          /* the kernel's BINPRM_BUF_SIZE */
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        ssize_t i = 2, o = 0;
        while (i < n && (head[i] == ' ' || head[i] == '\t')) i++;
        while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] &&
               (size_t)o + 1 < cap)
            interp[o++] = (char)head[i++];
        interp[o] = 0;
        return FOLLOWED; /* the kernel ignores setuid on a script: the interpreter's mode counts */
    }
    enum kind p = privileges(fd, &st);
    if (p != FOLLOWED) return p;
    if (n < (ssize_t)sizeof(ElfW(Ehdr)) || memcmp(head, ELFMAG, SELFMAG) != 0) return FOLLOWED;
    ElfW(Ehdr) eh;
    memcpy(&eh, head, sizeof eh);
#if defined(__LP64__)
    if (eh.e_ident[EI_CLASS] != ELFCLASS64) return FOREIGN;
#else
    if (eh.e_ident[EI_CLASS] != ELFCLASS32) return FOREIGN;
#endif
    if (TD_ELF_MACHINE != EM_NONE && eh.e_machine != TD_ELF_MACHINE) return FOREIGN;
    if (eh.e_phentsize != sizeof(ElfW(Phdr))) return FOLLOWED;
    ElfW(Phdr) ph[64];
    size_t count = eh.e_phnum < 64 ? eh.e_phnum : 64;
    ssize_t got = pread(fd, ph, count * sizeof ph[0], (off_t)eh.e_phoff);
    if (got < 0) return FOLLOWED;
    count = (size_t)got / sizeof ph[0];
    for (size_t i = 0; i < count; i++)
        if (ph[i].p_type == PT_INTERP) return FOLLOWED;
    return is_loader(path) ? FOLLOWED : STATIC;
}

/* Programs already reported: hashes of path and kind, in a shared anonymous mapping made when the library
 * is loaded, so that every fork() child of this process shares it (a shell forks once per command: a loop
 * that runs a static tool warns once, not once per iteration). When the table is full, programs are still
 * reported by event, but no longer named on stderr: never a flood. */
#define TD_REPORTED 64
static uint64_t private_table[TD_REPORTED];
static uint64_t *reported = private_table;

__attribute__((constructor)) static void share_reported(void) {
    void *m =
        mmap(NULL, TD_REPORTED * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) reported = m;
}

static uint64_t hash_of(const char *path, enum kind k) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)k;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* 1 the first time this program is seen, 0 after; -1 when the table is full. */
static int first_time(uint64_t h) {
    for (int i = 0; i < TD_REPORTED; i++) {
        uint64_t seen = __atomic_load_n(&reported[i], __ATOMIC_ACQUIRE);
        if (seen == h) return 0;
        if (seen == 0) {
            uint64_t zero = 0;
            if (__atomic_compare_exchange_n(&reported[i], &zero, h, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return 1;
            if (zero == h) return 0;
        }
    }
    return -1;
}

/* Kept small: this may run on a posix_spawn child's stack (glibc's own exec reaches the execve hook). */
struct line {
    char buf[1536];
    size_t n;
};

/* Appends at most `max` bytes of s, always leaving room for the end of the line. */
static void add_max(struct line *l, const char *s, size_t max) {
    for (size_t i = 0; s[i] && i < max && l->n + 64 < sizeof l->buf; i++) l->buf[l->n++] = s[i];
    l->buf[l->n] = 0;
}

static void add(struct line *l, const char *s) {
    for (; *s && l->n + 1 < sizeof l->buf; s++) l->buf[l->n++] = *s;
    l->buf[l->n] = 0;
}

/* The warning goes where the program about to run will write its own errors: the current fd 2 (unless it
 * is a network socket), or, in a child of an in-process activate(), to that process's stderr. */
static void say(const char *line) {
    if (td_relay_say(line)) return;
    struct stat st;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (fstat(2, &st) != 0 || (S_ISSOCK(st.st_mode) && (getsockname(2, (struct sockaddr *)&ss, &len) != 0 ||
                                                        ss.ss_family != AF_UNIX))) {
        td_say(line);
        return;
    }
    if (!td_real.write) td_resolve_real();
    if (td_real.write && td_real.write(2, line, strlen(line)) < 0) {
    }
}

/* The warning line, in a frame of its own (not nested under the event's buffer). */
static __attribute__((noinline)) void warn(const char *program, enum kind k) {
    struct line l = {.n = 0};
    add(&l, "tethered: warning: ");
    add_max(&l, program, 1000);
    switch (k) {
        case STATIC:
            add(&l, " is statically linked: the libc layer cannot follow it");
            break;
        case FOREIGN:
            add(&l, " is built for another ELF class or machine: libtethered.so cannot be loaded into it");
            break;
        default:
            add(&l, k == SETUID ? " is setuid" : k == SETGID ? " is setgid" : " has file capabilities");
            add(&l, ": the loader drops LD_PRELOAD for it (secure execution)");
    }
    add(&l,
        ", so its network calls are NOT checked. Run it under `tethered run --strict` to enforce the policy "
        "on "
        "it");
    if (k == SETUID || k == SETGID || k == CAPABILITIES) add(&l, " (it then runs without its privileges)");
    add(&l, ".\n");
    say(l.buf);
}

static void report(const char *op, const char *program, enum kind k) {
    const struct td_config *cfg = td_config();
    int first = first_time(hash_of(program, k));
    if (first == 0) return;
    static int full_said;
    if (first < 0 && !__atomic_exchange_n(&full_said, 1, __ATOMIC_ACQ_REL))
        td_say(
            "tethered: warning: more programs the libc layer cannot follow were run; see the unchecked-exec "
            "events\n");
    if (first == 1) warn(program, k);
    const struct td_event e = {
        .decision = "allow",
        .op = op,
        .protocol = "exec",
        .port = -1,
        .reason = "unchecked-exec",
        .program = program,
        .unchecked = kind_names[k],
    };
    td_emit(cfg, &e);
}

/* Follows `path` (opened at dirfd with the exec's flags) through up to four `#!` interpreters. */
static void check(const char *op, int dirfd, const char *path, int flags) {
    /* a #! line is read within the first 256 bytes, as the kernel does */
    char name[TD_PATH_MAX], interp[256];
    size_t len = strlen(path);
    if (len >= sizeof name) return;
    memcpy(name, path, len + 1);
    for (int depth = 0; depth < 5; depth++) {
        int fd;
        if ((flags & AT_EMPTY_PATH) && !name[0])
            fd = dirfd;
        else
            fd = openat(dirfd, name,
                        O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                            ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
        if (fd < 0) return; /* unreadable (execute-only) or missing: the exec will say, or run it */
        enum kind k = inspect(fd, name, interp, sizeof interp);
        if (fd != dirfd) close(fd);
        if (k != FOLLOWED) {
            if (!name[0]) { /* fexecve, execveat(AT_EMPTY_PATH): the descriptor's path, as /proc has it */
                char link[40] = "/proc/self/fd/";
                char digits[12];
                int n = 0;
                for (unsigned v = (unsigned)dirfd; n == 0 || v; v /= 10) digits[n++] = (char)('0' + v % 10);
                size_t o = strlen(link);
                while (n) link[o++] = digits[--n];
                link[o] = 0;
                ssize_t got = readlink(link, name, sizeof name - 1);
                name[got > 0 ? got : 0] = 0;
                if (got <= 0) memcpy(name, "(a descriptor)", sizeof "(a descriptor)");
            }
            report(op, name, k);
            return;
        }
        if (!interp[0]) return;
        memcpy(name, interp, strlen(interp) + 1);
        dirfd = AT_FDCWD;
        flags = 0;
    }
}

/* Set once the process is under its own strict filter (activate({ strict: true })): every child is judged
 * by the supervisor, followed by the libc layer or not. Never cleared (the filter stays for the process's
 * life); calling it only silences the warning, it loosens nothing. */
static atomic_int strict_covers;

TETHERED_EXPORT void tethered_strict_covers_children(void) {
    atomic_store(&strict_covers, 1);
}

static int should_check(void) {
    const struct td_config *cfg = td_config();
    /* children: 'none' asks for children without the policy: nothing is lost by not following them */
    return cfg && cfg->children_inherit && !cfg->allow_all && !atomic_load(&strict_covers);
}

void td_check_exec(const char *op, int dirfd, const char *path, int flags) {
    if (!path || !should_check()) return;
    int saved = errno;
    check(op, dirfd, path, flags);
    errno = saved;
}

/* execvp's search: a name without a slash is looked for in PATH (the caller's, as libc's execvp does), the
 * first executable regular file found is the program. */
void td_check_execp(const char *op, const char *file, const char *search) {
    if (!file || !*file || !should_check()) return;
    int saved = errno;
    if (strchr(file, '/')) {
        check(op, AT_FDCWD, file, 0);
    } else {
        const char *p = search ? search : "/bin:/usr/bin";
        size_t flen = strlen(file);
        char full[TD_PATH_MAX];
        for (;;) {
            const char *end = strchr(p, ':');
            size_t dlen = end ? (size_t)(end - p) : strlen(p);
            if (dlen + flen + 2 < sizeof full) {
                size_t o = 0;
                if (dlen) {
                    memcpy(full, p, dlen);
                    o = dlen;
                    full[o++] = '/';
                }
                memcpy(full + o, file, flen + 1);
                struct stat st;
                if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
                    check(op, AT_FDCWD, full, 0);
                    break;
                }
            }
            if (!end) break;
            p = end + 1;
        }
    }
    errno = saved;
}
