/* An attacker's probes of the libc layer (issue 9, BYPASSES L1–L4): each technique tries to reach IP:PORT
 * around the hooks, without a raw system call, and reports one line:
 *   ok <reply>        the peer answered (the probe got out)
 *   error <ERRNO>     the attempt failed (EACCES: tethered blocked it)
 * Built twice: as a program (`escape TECHNIQUE IP PORT`) and, with -DESCAPE_ADDON, as a Node addon whose
 * escape(technique, ip, port) returns the line, for in-process mode. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

extern char **environ;
extern int __connect(int, const struct sockaddr *, socklen_t);

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
/* a function pointer in data: an R_X86_64_64 relocation against connect, resolved at load time */
static connect_fn data_connect = connect;

static const char *with(connect_fn fn, const char *ip, int port, const char *marker) {
    if (!fn) return "error no-function";
    struct sockaddr_in in = v4(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeouts(fd);
    const char *r =
        fn(fd, (struct sockaddr *)&in, sizeof in) == 0 ? round_trip(fd, marker) : result_errno(errno);
    close(fd);
    return r;
}

/* ---- libc's own function, found by reading its symbol table by hand (no dlsym) ---- */

struct find {
    const char *name;
    void *found;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct find *f = data;
    const char *base = strrchr(info->dlpi_name, '/');
    if (!base || strncmp(base + 1, "libc.so", 7) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
        const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        const ElfW(Sym) *symtab = NULL;
        const char *strtab = NULL;
        for (; dyn->d_tag != DT_NULL; dyn++) {
            if (dyn->d_tag == DT_SYMTAB) symtab = (const ElfW(Sym) *)dyn->d_un.d_ptr;
            if (dyn->d_tag == DT_STRTAB) strtab = (const char *)dyn->d_un.d_ptr;
        }
        /* glibc lays the symbol table out just before the string table */
        for (const ElfW(Sym) *s = symtab; (const char *)s < strtab; s++)
            if (s->st_value && strcmp(strtab + s->st_name, f->name) == 0) {
                f->found = (void *)(info->dlpi_addr + s->st_value);
                return 1;
            }
    }
    return 0;
}

static void *by_hand(const char *name) {
    struct find f = {name, NULL};
    dl_iterate_phdr(visit, &f);
    return f.found;
}

/* ---- the address changed by another thread between the check and the call ---- */

static struct sockaddr_in shared_address __attribute__((aligned(16)));
static atomic_int flipping;

static void *flipper(void *arg) {
    struct sockaddr_in *pair = arg;
    for (unsigned i = 0; atomic_load_explicit(&flipping, memory_order_relaxed); i++) {
        /* the whole address at once (8 bytes: family, port, IPv4 address), then a short while in each state
         */
        uint64_t word;
        memcpy(&word, &pair[i & 1], 8);
        __atomic_store_n((uint64_t *)&shared_address, word, __ATOMIC_RELAXED);
        for (volatile int spin = 0; spin < 200; spin++) {
        }
    }
    return NULL;
}

/* `count` connects to an address another thread keeps switching between an allowed and a blocked peer:
 * "ok <to the blocked peer>" counts the connects that reached it (must stay 0 under tethered). */
static const char *race(const char *ip, int port, const char *ip2, int port2, int count) {
    struct sockaddr_in pair[2] = {v4(ip, port), v4(ip2, port2)};
    shared_address = pair[0];
    atomic_store(&flipping, 1);
    pthread_t t;
    pthread_create(&t, NULL, flipper, pair);
    int blocked_peer = 0, allowed_peer = 0, refused = 0;
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&shared_address, sizeof shared_address) == 0) {
            struct sockaddr_in peer;
            socklen_t len = sizeof peer;
            getpeername(fd, (struct sockaddr *)&peer, &len);
            if (peer.sin_port == pair[1].sin_port) {
                blocked_peer++;
                send(fd, "raced\n", 6, MSG_NOSIGNAL);
            } else {
                allowed_peer++;
            }
        } else {
            refused++;
        }
        close(fd);
    }
    atomic_store(&flipping, 0);
    pthread_join(t, NULL);
    snprintf(line, sizeof line, "ok blocked-peer=%d allowed-peer=%d refused=%d", blocked_peer, allowed_peer,
             refused);
    return line;
}

/* `count` UDP sendmsg() calls whose msg_namelen (200) is longer than a sockaddr_storage, to an address
 * another thread keeps switching between an allowed and a blocked peer: the kernel reads the first 128
 * bytes of the name, again, when it sends. Each datagram carries `marker`; the blocked peer's log tells. */
static union {
    struct sockaddr_in in;
    unsigned char bytes[256]; /* what the kernel may read: msg_namelen capped at 128 */
} long_name __attribute__((aligned(16)));

static void *long_name_flipper(void *arg) {
    struct sockaddr_in *pair = arg;
    for (unsigned i = 0; atomic_load_explicit(&flipping, memory_order_relaxed); i++) {
        uint64_t word;
        memcpy(&word, &pair[i & 1], 8);
        __atomic_store_n((uint64_t *)&long_name.in, word, __ATOMIC_RELAXED);
        for (volatile int spin = 0; spin < 200; spin++) {
        }
    }
    return NULL;
}

static const char *race_namelen(const char *ip, int port, const char *ip2, int port2, const char *marker,
                                int count) {
    struct sockaddr_in pair[2] = {v4(ip, port), v4(ip2, port2)};
    long_name.in = pair[0];
    atomic_store(&flipping, 1);
    pthread_t t;
    pthread_create(&t, NULL, long_name_flipper, pair);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int sent = 0, refused = 0;
    for (int i = 0; i < count; i++) {
        struct iovec iov = {(void *)marker, strlen(marker)};
        struct msghdr m = {.msg_name = &long_name, .msg_namelen = 200, .msg_iov = &iov, .msg_iovlen = 1};
        if (sendmsg(fd, &m, 0) >= 0)
            sent++;
        else
            refused++;
    }
    close(fd);
    atomic_store(&flipping, 0);
    pthread_join(t, NULL);
    snprintf(line, sizeof line, "ok sent=%d refused=%d", sent, refused);
    return line;
}

/* `count` sendto() calls, with `marker`, to ip:port on a descriptor number another thread keeps moving
 * between two sockets with dup2(): the one the check may see (a TCP socket, whose sends ignore the address;
 * for race-fd-unspec an IPv6 UDP socket, which ignores an AF_UNSPEC address) and an IPv4 UDP socket, which
 * sends to it. Whether a datagram reached the peer, the peer's log tells. */
static atomic_int swapping;
static int swap_number, swap_seen, swap_used;

static void *fd_swapper(void *arg) {
    (void)arg;
    while (atomic_load_explicit(&swapping, memory_order_relaxed)) {
        dup2(swap_used, swap_number);
        dup2(swap_seen, swap_number);
    }
    return NULL;
}

static const char *race_fd(const char *how, const char *ip, int port, const char *marker, int count) {
    int unspec = strcmp(how, "race-fd-unspec") == 0;
    swap_seen = unspec ? socket(AF_INET6, SOCK_DGRAM, 0) : socket(AF_INET, SOCK_STREAM, 0);
    swap_used = socket(AF_INET, SOCK_DGRAM, 0);
    swap_number = fcntl(swap_seen, F_DUPFD, 200);
    struct sockaddr_in to = v4(ip, port);
    if (unspec) to.sin_family = AF_UNSPEC;
    atomic_store(&swapping, 1);
    pthread_t t;
    pthread_create(&t, NULL, fd_swapper, NULL);
    int sent = 0, refused = 0, other = 0;
    for (int i = 0; i < count; i++) {
        if (sendto(swap_number, marker, strlen(marker), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to,
                   sizeof to) >= 0)
            sent++;
        else if (errno == EACCES)
            refused++;
        else
            other++;
    }
    atomic_store(&swapping, 0);
    pthread_join(t, NULL);
    close(swap_number);
    close(swap_seen);
    close(swap_used);
    snprintf(line, sizeof line, "ok sent=%d refused=%d other=%d", sent, refused, other);
    return line;
}

/* ---- a child started with a cleared environment, by a road other than the hooked exec functions ---- */

static char self_path[4096];

/* Runs `how` in a child that execs this program as `escape connect IP PORT MARKER` with an empty
 * environment; returns the child's line. */
static const char *child(const char *how, const char *ip, const char *port, const char *marker) {
    const char *program = getenv("ESCAPE_PROGRAM"); /* the addon's children run the program */
    if (program) snprintf(self_path, sizeof self_path, "%s", program);
    int out[2];
    if (pipe(out) != 0) return result_errno(errno);
    char *argv[] = {self_path, "connect", (char *)ip, (char *)port, (char *)marker, NULL};
    char *empty[] = {NULL};
    pid_t pid;
    if (strcmp(how, "posix_spawn") == 0) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        int (*spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                     char *const[], char *const[]) = by_hand("posix_spawn");
        if (spawn(&pid, self_path, &fa, NULL, argv, empty) != 0) return "error spawn";
    } else {
        pid = fork();
        if (pid == 0) {
            dup2(out[1], 1);
            if (strcmp(how, "execveat") == 0) {
                execveat(AT_FDCWD, self_path, argv, empty, 0);
            } else if (strcmp(how, "syscall-execveat") == 0) {
                syscall(SYS_execveat, AT_FDCWD, self_path, argv, empty, 0);
            } else if (strcmp(how, "execve-by-hand") == 0) {
                int (*ex)(const char *, char *const[], char *const[]) = by_hand("execve");
                ex(self_path, argv, empty);
            } else if (strcmp(how, "system-by-hand") == 0) {
                char cmd[8192];
                snprintf(cmd, sizeof cmd, "exec '%s' connect %s %s %s", self_path, ip, port, marker);
                clearenv();
                int (*sys)(const char *) = by_hand("system");
                _exit(sys(cmd) == 0 ? 0 : 1);
            }
            _exit(127);
        }
    }
    close(out[1]);
    ssize_t n = 0, got;
    while ((got = read(out[0], line + n, sizeof line - 1 - (size_t)n)) > 0) n += got;
    close(out[0]);
    waitpid(pid, NULL, 0);
    line[n] = 0;
    line[strcspn(line, "\n")] = 0;
    return n ? line : "error child-said-nothing";
}

/* ---- pointers libc answers EFAULT for ---- */

static const char *bad_pointers(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    /* 1 << 47 is past the end of user space (4-level paging); under a sanitizer most lower addresses are its
     * shadow memory, which is mapped */
    void *pointers[] = {(void *)1, (void *)0x800000001000, gone, (void *)-4096L};
    int efault = 0, total = 0;
    for (size_t i = 0; i < sizeof pointers / sizeof pointers[0]; i++) {
        total += 4;
        efault += connect(fd, pointers[i], 16) == -1 && errno == EFAULT;
        efault += sendto(fd, "x", 1, 0, pointers[i], 16) == -1 && errno == EFAULT;
        efault += sendmsg(fd, pointers[i], 0) == -1 && errno == EFAULT;
        struct msghdr m = {.msg_name = pointers[i], .msg_namelen = 16};
        efault += sendmsg(fd, &m, 0) == -1 && errno == EFAULT;
    }
    /* a batch longer than the kernel takes, whose third message lies in memory that is not there: the
     * kernel sends the first two and reports 2 */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *two =
        mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + page, (size_t)page);
    struct mmsghdr *vec = (struct mmsghdr *)(two + page) - 2;
    struct sockaddr_in self = v4("127.0.0.1", 9);
    struct iovec iov = {"x", 1};
    for (int i = 0; i < 2; i++)
        vec[i] = (struct mmsghdr){
            .msg_hdr = {.msg_name = &self, .msg_namelen = sizeof self, .msg_iov = &iov, .msg_iovlen = 1}};
    int sent = sendmmsg(fd, vec, 1u << 20, 0);
    close(fd);
    snprintf(line, sizeof line, "ok efault=%d/%d sendmmsg=%d", efault, total, sent);
    return line;
}

/* A thread turns a record-route option (harmless) into a loose source route and back while the main
 * thread hands it to the kernel, so that a check of one read and a kernel that reads again see different
 * options, for MS milliseconds (the PORT argument); HOP is the second address.
 *   race-ipopt  setsockopt(IP_OPTIONS) again and again; after each success getsockopt reads back what the
 *               socket holds: "ok routed=<LSRR set> set=<successes> refused=<EACCES>"
 *   race-cmsg   sendmsg with the option in an IP_RETOPTS control message, again and again, to a UDP socket
 *               of the probe's own on IP: "ok lost=<sent but never arrived: routed> sent=… refused=…" */
static atomic_int option_flipping;
static unsigned char *_Atomic option_type;

static void *option_flipper(void *arg) {
    (void)arg;
    unsigned char *at = atomic_load(&option_type);
    while (atomic_load_explicit(&option_flipping, memory_order_relaxed)) {
        __atomic_store_n(at, IPOPT_LSRR, __ATOMIC_RELAXED);
        __atomic_store_n(at, IPOPT_RR, __ATOMIC_RELAXED);
    }
    return NULL;
}

static const char *option_race(const char *how, const char *ip, const char *hop, int attempts) {
    union {
        unsigned char buf[CMSG_SPACE(8)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    unsigned char opt[8];
    lsrr_option(hop, opt); /* the hop's address in the slot either way */
    opt[1] = IPOPT_RR;
    int cmsg = strcmp(how, "race-cmsg") == 0;
    unsigned char *flipped = opt + 1;
    if (cmsg) {
        put_control(control.buf, IPPROTO_IP, IP_RETOPTS, opt, sizeof opt);
        flipped = control.buf + CMSG_LEN(0) + 1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0), sink = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = v4(ip, 0);
    socklen_t tolen = sizeof to;
    if (bind(sink, (struct sockaddr *)&to, sizeof to) != 0 ||
        getsockname(sink, (struct sockaddr *)&to, &tolen) != 0)
        return result_errno(errno);
    atomic_store(&option_type, flipped);
    atomic_store(&option_flipping, 1);
    pthread_t t;
    pthread_create(&t, NULL, option_flipper, NULL);
    int routed = 0, done = 0, refused = 0;
    /* for MS milliseconds: the threads share two busy cores, so the flips interleave with the calls only
     * now and then */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long ms = 0; ms < attempts;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        int rc;
        if (cmsg) {
            struct iovec iov = {"r", 1};
            struct msghdr m = {.msg_name = &to,
                               .msg_namelen = sizeof to,
                               .msg_iov = &iov,
                               .msg_iovlen = 1,
                               .msg_control = control.buf,
                               .msg_controllen = sizeof control.buf};
            rc = sendmsg(fd, &m, 0) < 0 ? -1 : 0;
        } else {
            rc = setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof opt);
        }
        if (rc != 0) {
            refused += errno == EACCES;
            continue;
        }
        done++;
        if (cmsg) {
            /* loopback delivers during the send; a routed datagram went to the hop and is dropped there */
            struct pollfd p = {sink, POLLIN, 0};
            char c;
            if (poll(&p, 1, 20) == 1 && recv(sink, &c, 1, 0) == 1) continue;
            routed++;
        } else {
            unsigned char back[40];
            socklen_t n = sizeof back;
            if (getsockopt(fd, IPPROTO_IP, IP_OPTIONS, back, &n) == 0 && memchr(back, IPOPT_LSRR, n))
                routed++;
        }
    }
    atomic_store(&option_flipping, 0);
    pthread_join(t, NULL);
    close(fd);
    close(sink);
    snprintf(line, sizeof line, cmsg ? "ok lost=%d sent=%d refused=%d" : "ok routed=%d set=%d refused=%d",
             routed, done, refused);
    return line;
}

/* setsockopt(IP_HDRINCL) with a one-byte value, which the kernel reads as the option (so does the shim):
 * on a raw UDP socket (judged by its sendto() address unless it writes its own IP header). "ok on=<read
 * back>" or "error <ERRNO>". */
static const char *hdrincl_byte(void) {
    unsigned char on = 1;
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP), back = 0;
    socklen_t n = sizeof back;
    if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, 1) != 0) return result_errno(errno);
    getsockopt(fd, IPPROTO_IP, IP_HDRINCL, &back, &n);
    close(fd);
    snprintf(line, sizeof line, "ok on=%d", back);
    return line;
}

/* IP source routing (socket.c, send.c): a UDP datagram to IP:PORT (an allowed peer) whose route goes
 * through HOP first. On loopback the kernel sends it to HOP, which drops it on arrival (the source-routed
 * packet is not for it), so without tethered the probe ends "sent no-reply" and the peer sees nothing;
 * with tethered the send is refused ("error EACCES").
 *   srr-sendmsg / srr-sendmmsg / srr-syscall   an IP_RETOPTS control message with LSRR through HOP
 *   srr-second      the same control message after an IP_TOS one
 *   srr-setsockopt  setsockopt(IP_OPTIONS) with the route, then sendto()
 *   tos-sendmsg     an IP_TOS control message only (nothing routed): the round trip
 *   rthdr6-sendmsg  an IPv6 datagram to [::1]:PORT with an IPV6_RTHDR control message (type 0, via HOP6)
 *   rthdr6-pktoptions  setsockopt(IPV6_2292PKTOPTIONS) holding an IPV6_RTHDR control message */
static const char *source_route(const char *how, const char *ip, int port, const char *marker,
                                const char *hop) {
    union {
        unsigned char buf[256];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    unsigned char opt[8];
    lsrr_option(hop, opt);
    int tos = 0x10; /* IPTOS_LOWDELAY */
    size_t n = 0;
    if (strncmp(how, "rthdr6-", 7) == 0) {
        /* a type 2 routing header (Mobile IPv6) with one address, ::1: 8 bytes of header, 16 of address */
        unsigned char rthdr[24] = {0, 2, 2, 1};
        rthdr[23] = 1;
        struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        inet_pton(AF_INET6, "::1", &to.sin6_addr);
        int fd = socket(AF_INET6, SOCK_DGRAM, 0);
        n = put_control(control.buf, IPPROTO_IPV6, IPV6_RTHDR, rthdr, sizeof rthdr);
        const char *r;
        if (strcmp(how, "rthdr6-sendmsg") == 0)
            r = send_control(fd, (struct sockaddr *)&to, sizeof to, marker, control.buf, n, BY_SENDMSG);
        else
            r = setsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, control.buf, (socklen_t)n) == 0
                    ? "set"
                    : result_errno(errno);
        close(fd);
        return r;
    }
    struct sockaddr_in to = v4(ip, port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    enum send_way way = BY_SENDMSG;
    if (strcmp(how, "tos-sendmsg") == 0) {
        n = put_control(control.buf, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    } else if (strcmp(how, "srr-second") == 0) {
        n = put_control(control.buf, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
        n += put_control(control.buf + n, IPPROTO_IP, IP_RETOPTS, opt, sizeof opt);
    } else if (strcmp(how, "srr-setsockopt") == 0) {
        if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof opt) != 0) {
            const char *r = result_errno(errno);
            close(fd);
            return r;
        }
    } else {
        n = put_control(control.buf, IPPROTO_IP, IP_RETOPTS, opt, sizeof opt);
        way = strcmp(how, "srr-sendmmsg") == 0  ? BY_SENDMMSG
              : strcmp(how, "srr-syscall") == 0 ? BY_SYSCALL
                                                : BY_SENDMSG;
    }
    const char *r =
        send_control(fd, (struct sockaddr *)&to, sizeof to, marker, n ? control.buf : NULL, n, way);
    close(fd);
    return r;
}

const char *escape(const char *how, const char *ip, int port, const char *marker, const char *ip2,
                   int port2) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    if (strcmp(how, "connect") == 0) return with(connect, ip, port, marker);
    if (strcmp(how, "alias") == 0) return with(__connect, ip, port, marker);
    if (strcmp(how, "dlsym-libc") == 0) return with((connect_fn)dlsym(libc, "connect"), ip, port, marker);
    if (strcmp(how, "dlsym-alias") == 0) return with((connect_fn)dlsym(libc, "__connect"), ip, port, marker);
    if (strcmp(how, "dlvsym") == 0)
        return with((connect_fn)dlvsym(libc, "connect", "GLIBC_2.2.5"), ip, port, marker);
    if (strcmp(how, "rtld-next") == 0) return with((connect_fn)dlsym(RTLD_NEXT, "connect"), ip, port, marker);
    if (strcmp(how, "rtld-default") == 0)
        return with((connect_fn)dlsym(RTLD_DEFAULT, "connect"), ip, port, marker);
    if (strcmp(how, "data-pointer") == 0) return with(data_connect, ip, port, marker);
    if (strcmp(how, "by-hand") == 0) return with((connect_fn)by_hand("connect"), ip, port, marker);
    if (strcmp(how, "by-hand-alias") == 0) return with((connect_fn)by_hand("__connect"), ip, port, marker);
    if (strcmp(how, "by-hand-syscall") == 0) {
        long (*sc)(long, ...) = by_hand("syscall");
        struct sockaddr_in in = v4(ip, port);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        timeouts(fd);
        const char *r =
            sc(SYS_connect, fd, &in, sizeof in) == 0 ? round_trip(fd, marker) : result_errno(errno);
        close(fd);
        return r;
    }
    if (strcmp(how, "by-hand-sendto") == 0 || strcmp(how, "unspec-sendto") == 0) {
        /* a datagram: the marker, to IP:PORT (a UDP peer) */
        struct sockaddr_in in = v4(ip, port);
        if (how[0] == 'u') in.sin_family = AF_UNSPEC; /* an IPv4 socket reads it as AF_INET */
        ssize_t (*st)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
            how[0] == 'u' ? sendto : by_hand("sendto");
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        timeouts(fd);
        const char *r;
        if (st(fd, marker, strlen(marker), 0, (struct sockaddr *)&in, sizeof in) < 0) {
            r = result_errno(errno);
        } else {
            char buf[256];
            ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
            buf[got > 0 ? got : 0] = 0;
            snprintf(line, sizeof line, got > 0 ? "ok %s" : "error no-reply", buf);
            r = line;
        }
        close(fd);
        return r;
    }
    if (strcmp(how, "short-v6") == 0) {
        /* an IPv4 peer through a dual-stack IPv6 socket, with the 24-byte length the kernel accepts */
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        char mapped[64];
        snprintf(mapped, sizeof mapped, "::ffff:%s", ip);
        inet_pton(AF_INET6, mapped, &in6.sin6_addr);
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        timeouts(fd);
        const char *r =
            connect(fd, (struct sockaddr *)&in6, 24) == 0 ? round_trip(fd, marker) : result_errno(errno);
        close(fd);
        return r;
    }
    if (strcmp(how, "race") == 0) return race(ip, port, ip2, port2, 2000);
    if (strncmp(how, "race-fd-", 8) == 0) return race_fd(how, ip, port, marker, 50000);
    if (strcmp(how, "race-namelen") == 0) return race_namelen(ip, port, ip2, port2, marker, 20000);
    if (strcmp(how, "bad-pointers") == 0) return bad_pointers();
    if (strncmp(how, "race-", 5) == 0 && strcmp(how, "race") != 0) return option_race(how, ip, ip2, port);
    if (strcmp(how, "hdrincl-byte") == 0) return hdrincl_byte();
    if (strncmp(how, "srr-", 4) == 0 || strncmp(how, "rthdr6-", 7) == 0 || strcmp(how, "tos-sendmsg") == 0)
        return source_route(how, ip, port, marker, ip2);
    if (strncmp(how, "child-", 6) == 0) return child(how + 6, ip, port_text, marker);
    return "error unknown-technique";
}

#ifdef ESCAPE_ADDON
#include <node_api.h>

static napi_value run(napi_env env, napi_callback_info info) {
    size_t argc = 5;
    napi_value argv[5];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char how[64] = "", ip[64] = "", marker[64] = "m", ip2[64] = "";
    int32_t port = 0, port2 = 0;
    size_t len;
    napi_get_value_string_utf8(env, argv[0], how, sizeof how, &len);
    napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len);
    napi_get_value_int32(env, argv[2], &port);
    if (argc > 3) napi_get_value_string_utf8(env, argv[3], marker, sizeof marker, &len);
    if (argc > 4) {
        napi_get_value_string_utf8(env, argv[4], ip2, sizeof ip2, &len);
        char *colon = strrchr(ip2, ':');
        if (colon) {
            *colon = 0;
            port2 = atoi(colon + 1);
        }
    }
    napi_value out;
    napi_create_string_utf8(env, escape(how, ip, port, marker, ip2, port2), NAPI_AUTO_LENGTH, &out);
    return out;
}

static napi_value init(napi_env env, napi_value exports) {
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[n > 0 ? n : 0] = 0;
    napi_value fn;
    napi_create_function(env, "escape", NAPI_AUTO_LENGTH, run, NULL, &fn);
    napi_set_named_property(env, exports, "escape", fn);
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
#else
int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: escape TECHNIQUE IP PORT [MARKER] [IP2:PORT2]\n");
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[n > 0 ? n : 0] = 0;
    char ip2[64] = "";
    int port2 = 0;
    if (argc > 5) {
        snprintf(ip2, sizeof ip2, "%s", argv[5]);
        char *colon = strrchr(ip2, ':');
        if (colon) {
            *colon = 0;
            port2 = atoi(colon + 1);
        }
    }
    puts(escape(argv[1], argv[2], atoi(argv[3]), argc > 4 ? argv[4] : "m", ip2, port2));
    return 0;
}
#endif
