/* A red team's probes of the libc layer as sealed by issue 9: each technique tries to get a marker to a peer
 * the policy does not allow (or a refused name to the DNS server), with no `syscall` instruction of its own.
 * One line is printed:
 *   ok <what happened>   the call went through (whether the marker arrived is checked at the peer)
 *   error <ERRNO>        it failed (EACCES: tethered refused it)
 *
 *   redteam TECHNIQUE IP PORT MARKER [ALLOWED_IP] [EXTRA]
 *
 * Built three ways: this program; with -DREDTEAM_ADDON a Node addon whose redteam(technique, ip, port,
 * marker, allowedIp, extra) returns the line (in-process mode); with -DREDTEAM_AUDIT an rtld-audit library
 * (LD_AUDIT) that refuses to let the loader find libtethered.so. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <resolv.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../native/c/probe.h"

#ifdef REDTEAM_AUDIT
/* ---- the audit library: the loader asks it where to find each object; libtethered.so is "not found" ---- */
/* exported although the test build hides symbols by default: the loader looks these up by name */
__attribute__((visibility("default"))) unsigned int la_version(unsigned int version) {
    return version;
}

__attribute__((visibility("default"))) char *la_objsearch(const char *name, uintptr_t *cookie,
                                                          unsigned int flag) {
    (void)cookie;
    (void)flag;
    return strstr(name, "libtethered") ? NULL : (char *)name;
}
#else


typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static const char *tcp_with(connect_fn fn, const char *ip, int port, const char *marker) {
    if (!fn) return "error no-function";
    struct sockaddr_in in = v4(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeouts(fd);
    const char *r =
        fn(fd, (struct sockaddr *)&in, sizeof in) == 0 ? round_trip(fd, marker) : result_errno(errno);
    close(fd);
    return r;
}

/* ---- an IPv4/UDP datagram built by hand ---- */

static uint16_t checksum(const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* An IPv4 header (from 127.0.0.1) and a UDP header to ip:port, then the marker; returns the length. */
static size_t udp_packet(unsigned char *out, const char *ip, int port, const char *marker) {
    size_t payload = strlen(marker), total = sizeof(struct iphdr) + sizeof(struct udphdr) + payload;
    struct iphdr *h = (struct iphdr *)out;
    memset(h, 0, sizeof *h);
    h->version = 4;
    h->ihl = 5;
    h->ttl = 64;
    h->protocol = IPPROTO_UDP;
    h->tot_len = htons((uint16_t)total);
    h->id = htons(4242);
    inet_pton(AF_INET, "127.0.0.1", &h->saddr);
    inet_pton(AF_INET, ip, &h->daddr);
    h->check = checksum(h, sizeof *h);
    struct udphdr *u = (struct udphdr *)(out + sizeof *h);
    u->source = htons(40000);
    u->dest = htons((uint16_t)port);
    u->len = htons((uint16_t)(sizeof *u + payload));
    u->check = 0; /* none: allowed for IPv4 */
    memcpy(out + sizeof *h + sizeof *u, marker, payload);
    return total;
}

/* A raw socket with IP_HDRINCL: the kernel routes by the address given to sendto() (an allowed one), but
 * the datagram carries the destination written in its own header (the blocked peer). */
static const char *raw_hdrincl(const char *ip, int port, const char *marker, const char *allowed) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IPPROTO_RAW implies IP_HDRINCL */
    if (fd < 0) return result_errno(errno);
    unsigned char pkt[512];
    size_t n = udp_packet(pkt, ip, port, marker);
    struct sockaddr_in to = v4(allowed, 0);
    ssize_t sent = sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof to);
    close(fd);
    if (sent < 0) return result_errno(errno);
    snprintf(line, sizeof line, "ok sent %zd", sent);
    return line;
}

/* A raw socket without IP_HDRINCL: the destination is the sockaddr, which the hooks judge. */
static const char *raw_plain(const char *ip, int port, const char *marker) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    if (fd < 0) return result_errno(errno);
    unsigned char pkt[512];
    size_t n = udp_packet(pkt, ip, port, marker);
    struct sockaddr_in to = v4(ip, 0);
    ssize_t sent = sendto(fd, pkt + sizeof(struct iphdr), n - sizeof(struct iphdr), 0, (struct sockaddr *)&to,
                          sizeof to);
    close(fd);
    if (sent < 0) return result_errno(errno);
    snprintf(line, sizeof line, "ok sent %zd", sent);
    return line;
}

/* AF_PACKET on lo: a whole IPv4 datagram handed to the device; no IP address is ever given to a hook. */
static const char *packet_socket(const char *ip, int port, const char *marker) {
    int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    if (fd < 0) return result_errno(errno);
    unsigned char pkt[512];
    size_t n = udp_packet(pkt, ip, port, marker);
    struct sockaddr_ll to = {.sll_family = AF_PACKET,
                             .sll_protocol = htons(ETH_P_IP),
                             .sll_ifindex = (int)if_nametoindex("lo"),
                             .sll_halen = 6};
    ssize_t sent = sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof to);
    close(fd);
    if (sent < 0) return result_errno(errno);
    snprintf(line, sizeof line, "ok sent %zd", sent);
    return line;
}

/* ---- a second copy of libc (dlmopen into a new link-map namespace): its entries were never redirected ----
 */

static void *symbol_of(struct link_map *map, const char *name) {
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (const ElfW(Dyn) *dyn = map->l_ld; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB) symtab = (const ElfW(Sym) *)dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_STRTAB) strtab = (const char *)dyn->d_un.d_ptr;
    }
    if (!symtab || !strtab) return NULL;
    /* glibc lays the symbol table out just before the string table */
    for (const ElfW(Sym) *s = symtab; (const char *)s < strtab; s++)
        if (s->st_value && ELF64_ST_TYPE(s->st_info) == STT_FUNC && strcmp(strtab + s->st_name, name) == 0)
            return (void *)(map->l_addr + s->st_value);
    return NULL;
}

static void *second_libc(void) {
    static void *h;
    if (!h) h = dlmopen(LM_ID_NEWLM, "libc.so.6", RTLD_NOW | RTLD_LOCAL);
    return h;
}

static const char *dlmopen_connect(const char *ip, int port, const char *marker, int by_hand) {
    void *h = second_libc();
    if (!h) {
        snprintf(line, sizeof line, "error dlmopen %s", dlerror());
        return line;
    }
    connect_fn fn;
    if (by_hand) {
        struct link_map *map = NULL;
        if (dlinfo(h, RTLD_DI_LINKMAP, &map) != 0 || !map) return "error dlinfo";
        fn = (connect_fn)symbol_of(map, "connect");
    } else {
        fn = (connect_fn)dlsym(h, "connect");
    }
    return tcp_with(fn, ip, port, marker);
}

/* rexec_af() (not a hooked name) of the second libc: it connects with that copy's own connect. */
static const char *rexec_with(void *h, const char *ip, int port, const char *marker) {
    int (*rx)(char **, int, const char *, const char *, const char *, int *, sa_family_t) =
        h ? dlsym(h, "rexec_af") : dlsym(RTLD_DEFAULT, "rexec_af");
    if (!rx) return "error no-rexec";
    char host[64];
    snprintf(host, sizeof host, "%s", ip);
    char *hp = host;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s\n", marker);
    int fd = rx(&hp, htons((uint16_t)port), "u", "p", cmd, NULL, AF_INET);
    if (fd >= 0) close(fd);
    /* the peer answers "pong:…", which rexec takes for an error after everything was sent */
    snprintf(line, sizeof line, "ok rexec=%d errno=%d", fd, fd < 0 ? errno : 0);
    return fd < 0 && errno == EACCES ? result_errno(EACCES) : line;
}

/* ---- the resolver pointed elsewhere: what is sent inside an allowed lookup is never judged ---- */

/* A query for `name` (type A), with `tail` appended after the question. */
static int query(unsigned char *out, size_t cap, const char *name, const char *tail, int id) {
    size_t o = 0;
    unsigned char h[12] = {(unsigned char)(id >> 8), (unsigned char)id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(out, h, 12);
    o = 12;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (o + len + 2 > cap) return -1;
        out[o++] = (unsigned char)len;
        memcpy(out + o, p, len);
        o += len;
        p += len + (dot ? 1 : 0);
    }
    out[o++] = 0;
    out[o++] = 0, out[o++] = 1, out[o++] = 0, out[o++] = 1;
    size_t t = tail ? strlen(tail) : 0;
    if (o + t > cap) return -1;
    memcpy(out + o, tail, t);
    return (int)(o + t);
}

/* res_nsend with the program's own resolver state, whose name server is the blocked peer: the question is
 * the machine's own name (exempt from the policy), the marker rides after it. */
static const char *res_nsend_redirect(const char *ip, int port, const char *marker) {
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) return "error res_ninit";
    st.nsaddr_list[0] = v4(ip, port);
    st.nscount = 1;
    st.retry = 1;
    st.retrans = 1;
    char host[256] = "";
    gethostname(host, sizeof host);
    unsigned char q[512], answer[512];
    int n = query(q, sizeof q, host, marker, 0x1234);
    int rc = res_nsend(&st, q, n, answer, sizeof answer);
    int e = errno;
    res_nclose(&st);
    if (rc < 0 && e == EACCES) return result_errno(EACCES);
    snprintf(line, sizeof line, "ok res_nsend=%d", rc);
    return line;
}

/* The thread's own _res pointed at a DNS server on the blocked peer's address; an allowed name is looked up
 * there (the query is not judged, it is inside an allowed lookup), its answer names the blocked address,
 * and the connect that follows is allowed by name. */
static const char *resolver_poison(const char *dns_ip, const char *name, int tcp_port, const char *marker) {
    res_init();
    _res.nsaddr_list[0] = v4(dns_ip, 53);
    _res.nscount = 1;
    _res.retry = 1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(line, sizeof line, "error getaddrinfo %d errno %d", rc, errno);
        return rc == EAI_FAIL && errno == EACCES ? result_errno(EACCES) : line;
    }
    char ip[64];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
    freeaddrinfo(res);
    return tcp_with(connect, ip, tcp_port, marker);
}

/* ---- a query for a refused name, written to a socket connected to the system's name server by calls the
 * hooks do not judge ---- */

static const char *dns_leak(const char *how, const char *server, const char *name, const char *allowed_name) {
    int stream = strcmp(how, "tcp-two") == 0;
    int fd = socket(AF_INET, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
    timeouts(fd);
    struct sockaddr_in ns = v4(server, 53);
    if (connect(fd, (struct sockaddr *)&ns, sizeof ns) != 0) return result_errno(errno);
    unsigned char q[512];
    int n = query(q, sizeof q, name, NULL, 0x4321);
    ssize_t sent = -1;
    if (strcmp(how, "write") == 0) {
        sent = write(fd, q, (size_t)n); /* the hooked road: a control that the name is refused */
    } else if (strcmp(how, "syscall-write") == 0) {
        sent = syscall(SYS_write, fd, q, n);
    } else if (strcmp(how, "syscall-writev") == 0) {
        struct iovec iov = {q, (size_t)n};
        sent = syscall(SYS_writev, fd, &iov, 1);
    } else if (strcmp(how, "pwritev2") == 0) {
        struct iovec iov = {q, (size_t)n};
        sent = pwritev2(fd, &iov, 1, -1, 0);
    } else if (strcmp(how, "sendfile") == 0) {
        char path[] = "/tmp/redteam-query-XXXXXX";
        int file = mkstemp(path);
        unlink(path);
        if (write(file, q, (size_t)n) != n) return "error tmpfile";
        off_t off = 0;
        sent = sendfile(fd, file, &off, (size_t)n);
        close(file);
    } else if (strcmp(how, "splice") == 0) {
        int p[2];
        if (pipe(p) != 0) return result_errno(errno);
        if (write(p[1], q, (size_t)n) != n) return "error pipe";
        sent = splice(p[0], NULL, fd, NULL, (size_t)n, 0);
        close(p[0]);
        close(p[1]);
    } else if (strcmp(how, "tcp-two") == 0) {
        /* one write: an allowed query, then one for the refused name, each behind its two-byte length */
        unsigned char both[1100];
        int a = query(both + 2, 500, allowed_name, NULL, 0x1111);
        both[0] = (unsigned char)(a >> 8), both[1] = (unsigned char)a;
        both[2 + a] = (unsigned char)(n >> 8), both[3 + a] = (unsigned char)n;
        memcpy(both + 4 + a, q, (size_t)n);
        sent = write(fd, both, (size_t)(4 + a + n));
    } else {
        return "error unknown-dns-technique";
    }
    int e = errno;
    if (sent < 0) return result_errno(e);
    char buf[512];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    close(fd);
    snprintf(line, sizeof line, "ok sent %zd answer %zd", sent, got);
    return line;
}

/* ---- children ---- */

static char self_path[4096];

/* Runs the child `how` that execs this program as `redteam connect IP PORT MARKER`; returns its line. */
static const char *child(const char *how, const char *ip, int port, const char *marker, const char *extra) {
    const char *program = getenv("REDTEAM_PROGRAM"); /* the addon's children run the program */
    if (program) snprintf(self_path, sizeof self_path, "%s", program);
    int out[2];
    if (pipe(out) != 0) return result_errno(errno);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    char *argv[] = {self_path, "connect", (char *)ip, port_text, (char *)marker, NULL};
    char ldso[] = "/lib64/ld-linux-x86-64.so.2";
    char audit_env[4200];
    snprintf(audit_env, sizeof audit_env, "LD_AUDIT=%s", extra ? extra : "");
    char *empty[] = {NULL};
    char *with_audit[] = {audit_env, NULL};
    char loose[] = "TETHERED_ALLOW=127.0.0.0/8", off[] = "TETHERED_MODE=off";
    char *looser[] = {loose, off, NULL};
    char *ldso_argv[] = {ldso, self_path, "connect", (char *)ip, port_text, (char *)marker, NULL};
    char *ldso_audit_argv[] = {ldso,       "--audit", (char *)extra,  self_path, "connect",
                               (char *)ip, port_text, (char *)marker, NULL};
    pid_t pid;
    if (strcmp(how, "vfork") == 0) {
        pid = vfork();
        if (pid == 0) {
            dup2(out[1], 1);
            execve(self_path, argv, empty);
            _exit(127);
        }
    } else {
        pid = fork();
        if (pid == 0) {
            dup2(out[1], 1);
            if (strcmp(how, "ld-audit") == 0) execve(self_path, argv, with_audit);
            if (strcmp(how, "ldso-audit-option") == 0) execve(ldso, ldso_audit_argv, empty);
            if (strcmp(how, "ldso-direct") == 0) execve(ldso, ldso_argv, empty);
            if (strcmp(how, "looser-env") == 0) execve(self_path, argv, looser);
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

/* clone(CLONE_VM) then exec: the child runs on a stack of ours, in our memory. */
struct clone_job {
    char **argv;
    int fd;
};

static int clone_child(void *arg) {
    struct clone_job *job = arg;
    dup2(job->fd, 1);
    char *empty[] = {NULL};
    execve(job->argv[0], job->argv, empty);
    _exit(127);
}

static const char *clone_vm(const char *ip, int port, const char *marker) {
    const char *program = getenv("REDTEAM_PROGRAM");
    if (program) snprintf(self_path, sizeof self_path, "%s", program);
    int out[2];
    if (pipe(out) != 0) return result_errno(errno);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    char *argv[] = {self_path, "connect", (char *)ip, port_text, (char *)marker, NULL};
    struct clone_job job = {argv, out[1]};
    size_t size = 1 << 20;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    pid_t pid = clone(clone_child, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
    close(out[1]);
    ssize_t n = 0, got;
    while ((got = read(out[0], line + n, sizeof line - 1 - (size_t)n)) > 0) n += got;
    close(out[0]);
    waitpid(pid, NULL, 0);
    munmap(stack, size);
    line[n] = 0;
    line[strcspn(line, "\n")] = 0;
    return n ? line : "error child-said-nothing";
}

/* ---- a datagram and its answer (a control: how the per-thread "last allowed" memory behaves) ---- */

static const char *udp_round_trip(const char *ip, int port, const char *marker) {
    struct sockaddr_in to = v4(ip, port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    timeouts(fd);
    const char *r;
    if (sendto(fd, marker, strlen(marker), 0, (struct sockaddr *)&to, sizeof to) < 0) {
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

/* ---- a signal handler that runs while an allowed lookup waits for its answer ---- */

static struct {
    struct sockaddr_in to;
    char marker[256];
    char result[256];
} in_handler;

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&in_handler.to, sizeof in_handler.to) == 0) {
        char out[300];
        int n = snprintf(out, sizeof out, "%s\n", in_handler.marker);
        send(fd, out, (size_t)n, MSG_NOSIGNAL);
        snprintf(in_handler.result, sizeof in_handler.result, "ok handler connected");
    } else {
        snprintf(in_handler.result, sizeof in_handler.result, "%s", result_errno(errno));
    }
    close(fd);
    errno = saved;
}

/* The lookup of an allowed name is made slow (its name server is a socket of ours that never answers); an
 * interval timer's handler connects to the blocked peer meanwhile. */
static const char *signal_in_lookup(const char *ip, int port, const char *marker, const char *name) {
    int silent = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in here = v4("127.0.0.1", 0);
    socklen_t len = sizeof here;
    bind(silent, (struct sockaddr *)&here, sizeof here);
    getsockname(silent, (struct sockaddr *)&here, &len);
    res_init();
    _res.nsaddr_list[0] = here;
    _res.nscount = 1;
    _res.retry = 1;
    _res.retrans = 2;
    in_handler.to = v4(ip, port);
    snprintf(in_handler.marker, sizeof in_handler.marker, "%s", marker);
    snprintf(in_handler.result, sizeof in_handler.result, "error handler-never-ran");
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval t = {.it_value = {0, 300000}};
    setitimer(ITIMER_REAL, &t, NULL);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc == 0) freeaddrinfo(res);
    signal(SIGALRM, SIG_DFL);
    close(silent);
    snprintf(line, sizeof line, "%s", in_handler.result);
    return line;
}

/* ---- how many libc entries lead to the hooks, as the library loaded in this process says ---- */

static int find_shim(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (strstr(info->dlpi_name, "libtethered")) {
        snprintf(data, 4096, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static const char *detours(void) {
    char path[4096] = "";
    dl_iterate_phdr(find_shim, path);
    void *h = path[0] ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    int (*count)(void) = h ? (int (*)(void))dlsym(h, "tethered_detours") : NULL;
    snprintf(line, sizeof line, "ok detours=%d", count ? count() : -1);
    return line;
}

const char *redteam(const char *how, const char *ip, int port, const char *marker, const char *allowed,
                    const char *extra) {
    if (strcmp(how, "connect") == 0) return tcp_with(connect, ip, port, marker);
    if (strcmp(how, "udp") == 0) return udp_round_trip(ip, port, marker);
    if (strcmp(how, "detours") == 0) return detours();
    /* extra: an allowed name */
    if (strcmp(how, "signal-in-lookup") == 0) return signal_in_lookup(ip, port, marker, extra);
    if (strcmp(how, "raw-hdrincl") == 0) return raw_hdrincl(ip, port, marker, allowed);
    if (strcmp(how, "raw-plain") == 0) return raw_plain(ip, port, marker);
    if (strcmp(how, "packet-socket") == 0) return packet_socket(ip, port, marker);
    if (strcmp(how, "dlmopen-dlsym") == 0) return dlmopen_connect(ip, port, marker, 0);
    if (strcmp(how, "dlmopen-by-hand") == 0) return dlmopen_connect(ip, port, marker, 1);
    if (strcmp(how, "dlmopen-rexec") == 0) {
        void *h = second_libc();
        return h ? rexec_with(h, ip, port, marker) : "error dlmopen";
    }
    if (strcmp(how, "rexec") == 0) return rexec_with(NULL, ip, port, marker);
    if (strcmp(how, "res-nsend-redirect") == 0) return res_nsend_redirect(ip, port, marker);
    /* extra: the allowed name whose answer the DNS server on `allowed` gives */
    if (strcmp(how, "resolver-poison") == 0) return resolver_poison(allowed, extra, port, marker);
    /* ip: the system's name server; marker: the refused name; extra: an allowed name */
    if (strncmp(how, "dns-", 4) == 0) return dns_leak(how + 4, ip, marker, extra);
    if (strcmp(how, "child-clone-vm") == 0) return clone_vm(ip, port, marker);
    if (strncmp(how, "child-", 6) == 0) return child(how + 6, ip, port, marker, extra);
    return "error unknown-technique";
}

#ifdef REDTEAM_ADDON
#include <node_api.h>

static napi_value run(napi_env env, napi_callback_info info) {
    size_t argc = 6;
    napi_value argv[6];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char how[64] = "", ip[64] = "", marker[256] = "m", allowed[64] = "127.0.0.2", extra[4096] = "";
    int32_t port = 0;
    size_t len;
    napi_get_value_string_utf8(env, argv[0], how, sizeof how, &len);
    napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len);
    napi_get_value_int32(env, argv[2], &port);
    if (argc > 3) napi_get_value_string_utf8(env, argv[3], marker, sizeof marker, &len);
    if (argc > 4) napi_get_value_string_utf8(env, argv[4], allowed, sizeof allowed, &len);
    if (argc > 5) napi_get_value_string_utf8(env, argv[5], extra, sizeof extra, &len);
    napi_value out;
    napi_create_string_utf8(env, redteam(how, ip, port, marker, allowed, extra), NAPI_AUTO_LENGTH, &out);
    return out;
}

static napi_value init(napi_env env, napi_value exports) {
    napi_value fn;
    napi_create_function(env, "redteam", NAPI_AUTO_LENGTH, run, NULL, &fn);
    napi_set_named_property(env, exports, "redteam", fn);
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
#else
int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: redteam TECHNIQUE IP PORT [MARKER] [ALLOWED_IP] [EXTRA]\n");
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[n > 0 ? n : 0] = 0;
    puts(redteam(argv[1], argv[2], atoi(argv[3]), argc > 4 ? argv[4] : "m", argc > 5 ? argv[5] : "127.0.0.2",
                 argc > 6 ? argv[6] : ""));
    return 0;
}
#endif
#endif
