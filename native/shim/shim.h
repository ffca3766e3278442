/* The runtime inside libtethered.so: configuration, the one decision every hook calls, events, the map of
 * names resolved to each address, and the real libc functions. Hooks live one family per file
 * (connect.c, send.c, lookup.c, resolv.c, syscall.c, exec.c). */
#ifndef TETHERED_SHIM_H
#define TETHERED_SHIM_H

#include <netdb.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "policy.h"
#include "tethered.h"

/* ---- configuration: one immutable snapshot, swapped in a single store ---- */

enum td_mode { TD_MODE_ENFORCE, TD_MODE_LOG };
enum td_log { TD_LOG_STDERR, TD_LOG_FILE, TD_LOG_OFF };

#define TD_MAX_INJECT 16
#define TD_PATH_MAX 4096

struct td_config {
    struct td_policy
        *policy; /* NULL: the policy did not parse (or an internal error), every attempt is blocked */
    const char *internal_error; /* why the check itself failed (fail-closed), or NULL */
    enum td_mode mode;
    int fail_closed;
    int log_allowed; /* also record allowed attempts (tethered learn) */
    int allow_all;   /* no policy of its own: only scopes narrow (scope() without activate()) */
    enum td_log log;
    char log_path[TD_PATH_MAX];
    struct td_log_sink *log_sink; /* the private descriptor td_log_open chose, or NULL: not written */
    int children_inherit;
    int children_strict; /* every exec runs under its own strict supervisor (strictexec.c) */
    /* "NAME=value" strings every child gets, so that it keeps the policy whatever environment it is given */
    char *inject[TD_MAX_INJECT];
    size_t ninject;
    /* The environment's policy (preload mode) this one narrows: an attempt must pass both. NULL: none. */
    const struct td_config *ceiling;
};

/* The active configuration, or NULL when the shim is loaded but not active (passes everything through). */
const struct td_config *td_config(void);
/* Loads the configuration from the environment (preload mode) if that has not happened yet. */
void td_ensure_init(void);
/* Is the calling thread in the mount namespace its policy was given in (config.c)? Names answered
 * elsewhere (a private /etc/hosts, other name servers) vouch for no address. td_mount_ns_entry is
 * "TETHERED_MOUNT_NS=…" for children, or empty. */
int td_mount_ns_home(void);
extern char td_mount_ns_entry[64];
/* Puts a configuration made by td_config_new in force (NULL: none, or the environment's policy when there
 * is one), in one store; the replaced one is freed once no thread can be reading it (current.c). */
void td_install_config(struct td_config *c);
/* The policy from the environment (preload mode): in force from the start, and a ceiling for any other. */
void td_install_env_config(const struct td_config *c);
const struct td_config *td_ceiling(void);
/* Frees a configuration no hook can reach any more. */
void td_config_free(struct td_config *c);
/* True once the environment has been read (td_ensure_init has finished). */
int td_initialised(void);
/* Changes whenever a configuration is put in force (a remembered decision is only good under one). */
unsigned long long td_config_generation(void);

/* ---- scopes (scope.c) ---- */

struct tethered_scope {
    struct td_policy *policy;
    const struct tethered_scope *parent;
    unsigned long long id;
    unsigned long long collector; /* the nearest scope of the chain that collects events, or 0 */
    char label[128];
};

/* The scope chain the calling thread is in, or NULL (may ask the thread's source: see scope.c). */
const struct tethered_scope *td_scope_current(void);
/* Could the calling thread be in a scope (one entered, or a source to ask)? Cheap: asks nothing. */
int td_scope_possible(void);
/* The scope this thread's JavaScript said it is in for the native call it is making now (a write on a
 * connection it opened, a datagram on a connected socket), or NULL: never asks. */
const struct tethered_scope *td_scope_said(void);
/* Notes where the main program is mapped, for the events' native stacks (events.c); at start-up. */
void td_events_init(void);
/* True once any scope was made: lookups then record their answers even with no policy in force. */
int td_scopes_used(void);
/* The configuration hooks use on a thread in a scope when no policy is in force: allow, and let the
 * scopes narrow. */
extern const struct td_config td_scopes_only;

/* Where this library lives (for LD_PRELOAD in children) and which program it is in. */
extern char td_self_path[TD_PATH_MAX];
extern char td_exe_path[TD_PATH_MAX];
/* The machine's hostname in normal form ("" if it has none): its lookups are exempt. */
extern char td_hostname[TD_NAME_BUF];
/* In sanitizer test builds only: the sanitizer runtime children must preload first (else ""). */
extern char td_sanitizer_runtime[TD_PATH_MAX];

/* ---- the real functions ---- */

struct __res_state; /* <resolv.h> is not included here: its macros (p_type, …) clash with <elf.h> */

struct td_real {
#define TD_HOOK(name, ret, params, detour) ret(*name) params;
#include "hooks.def"
};

extern struct td_real td_real;
/* Fills td_real (idempotent; hooks call it when a pointer is still NULL). */
void td_resolve_real(void);

/* Redirects libc's own entries of the system-call wrappers to the hooks (detour.c); returns how many lead
 * to the hooks so far. */
int td_detour_libc(void);

/* Exports `alias` as another name of the hook `name` (defined in the same file): see TD_ALIAS in hooks.def.
 */
#define TD_EXPORT_ALIAS(other, name) \
    TETHERED_EXPORT __typeof__(name) other __attribute__((alias(#name), copy(name)))

/* Code that may run before a sanitizer runtime has set itself up (it asks dlsym() for its own real
 * functions first thing): never instrumented. */
#define TD_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))

/* String helpers for that code: the sanitizer's strcmp() interceptor is not ready before it is. */
TD_UNINSTRUMENTED static inline int td_str_equal(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}
TD_UNINSTRUMENTED static inline int td_str_starts(const char *s, const char *prefix) {
    while (*prefix && *s == *prefix) s++, prefix++;
    return *prefix == 0;
}
TD_UNINSTRUMENTED static inline const char *td_basename(const char *path) {
    const char *base = path;
    for (; *path; path++)
        if (*path == '/') base = path + 1;
    return base;
}

/* The address of one of this library's own exported symbols (a hook), from its symbol table. */
void *td_own_symbol(const char *name);

/* A symbol's address in a loaded object whose file name starts with `prefix` ("libc.so"), read from its
 * dynamic symbol table (the default version), without dlsym: the shim's own dlsym is a hook. NULL if none. */
void *td_elf_symbol(const char *prefix, const char *name);
/* The same in the object loaded at `base` with dynamic section `dyn`. */
void *td_elf_lookup(uintptr_t base, const void *dyn, const char *name);

/* ---- reading the caller's memory (address.c) ---- */

/* Copies n bytes from the caller's pointer: 0, or -1 with errno EFAULT where the kernel would say so. */
int td_copy_in(void *dst, const void *src, size_t n);
/* Memory was unmapped or made unreadable somewhere: pages known readable must be checked again. */
void td_memory_changed(void);

/* ---- deciding ---- */

/* How an address is used: connect() (AF_UNSPEC there means "disconnect"), a send (a connected stream socket
 * ignores the address), or a TCP Fast Open send (connects). */
enum td_use { TD_USE_CONNECT, TD_USE_SEND, TD_USE_FASTOPEN };

/* Judges an attempt to reach `addr` (the shim's private copy) as the kernel will read it: AF_INET from 16
 * bytes on any socket, AF_INET6 from 24 (the scope id is optional), AF_UNSPEC on a send as IPv4 (an IPv4
 * socket sends to it). Returns 0 to let it through (errno untouched), -1 to block it (errno = EACCES), or
 * TD_WITHOUT_ADDRESS (sends only): refused, but the socket ignores the address (a TCP stream; AF_UNSPEC on
 * an IPv6 socket), so the call goes on with no address at all. The socket behind the number may be another
 * by the time the kernel looks (dup2 from another thread): a call without an address reaches only a peer
 * whose connect was judged. Other families and short addresses pass: the kernel refuses them or they are
 * not IP. */
#define TD_WITHOUT_ADDRESS 1
int td_check_address(int fd, const struct sockaddr *addr, socklen_t len, enum td_use use, const char *op);
/* Bytes sent on a connected socket while this thread's JavaScript says it is in a scope (a datagram
 * without an address from a wrapped UDP send; tethered_check_peer, which the addon calls before a socket
 * write or an HTTP/2 request): the socket's peer judged by the scopes alone (the policy in force judged the
 * connect). A connection opened before, outside the scope (a keep-alive pool), carries nothing to a peer
 * the scope refuses. 0 to let it through, -1 with errno EACCES. */
int td_check_peer(int fd, const char *op);

/* Sockets and options whose destinations no hook can judge (socket.c): 0, or -1 with errno EACCES. */
int td_check_socket(int domain, int type, int protocol, const char *op);
/* setsockopt() judged on a private copy of the value, which is what the kernel gets. */
int td_setsockopt(int fd, int level, int name, const void *value, socklen_t len, const char *op);
/* Does this control data (a private copy, walked as the kernel walks it) carry an IP source route: an
 * IP_RETOPTS/IP_OPTIONS message with LSRR or SSRR, or an IPv6 routing header? 1 or 0. */
int td_control_routes(const unsigned char *control, size_t len);
/* Refuses such a socket under the policy in force (decide.c): an event with reason raw-socket. */
int td_refuse_unjudgeable(const char *op, const char *what);

/* The hooks' bodies, shared with syscall(): private copies, judgement, the real call. */
int td_connect(int fd, const struct sockaddr *addr, socklen_t len, const char *op);
ssize_t td_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len,
                  const char *op);
ssize_t td_sendmsg(int fd, const struct msghdr *msg, int flags, const char *op);
int td_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, const char *op);

/* Judges a send: its address (datagrams, TCP Fast Open), then what it carries when it goes to port 53.
 * Returns 0 (m's name cleared where the call goes on without it), or -1 with errno EACCES. */
int td_check_send(int fd, struct msghdr *m, int flags, const char *op);
/* The socket type of fd (SOCK_STREAM, SOCK_DGRAM, …), or -1 when it is none; errno is preserved. */
int td_socket_type(int fd);
/* A descriptor number that may now name another open file (fdkind.c). */
void td_fd_forget(int fd);

/* Judges a name lookup. Returns 0 to resolve it, -1 to block it (nothing leaves the process). Numeric names
 * and the machine's own hostname pass. *normal receives the name in normal form for td_record_answer. */
int td_check_lookup(const char *name, const char *op, char normal[TD_NAME_BUF]);
/* Judges a reverse lookup of `addr` (getnameinfo, gethostbyaddr). *normal receives the name it asks
 * (…in-addr.arpa, …ip6.arpa) when it may go ahead. */
int td_check_reverse(int family, const void *addr, const char *op, char normal[TD_NAME_BUF]);

/* Records that `name` (normal form) resolved to this address, for the connect that follows. */
void td_record_answer(const char *name, int family, const void *addr);
void td_record_addrinfo(const char *name, const struct addrinfo *res);
/* The IP address of one addrinfo entry (IPv4 or IPv6, its length checked): 0, or -1 for anything else. */
int td_addrinfo_ip(const struct addrinfo *ai, struct td_ip *ip);
void td_record_hostent(const char *name, const struct hostent *h);

/* While set, this thread's attempts are judged without an event (a resolver's retries of one query). */
void td_set_quiet(int on);

/* The lookup a thread is inside (a frame on the hook's stack; nested lookups and signal handlers push
 * their own). The DNS questions for its name, and the name's expansions by the search list of
 * /etc/resolv.conf, are part of it; everything else the thread sends meanwhile is judged on its own. */
struct td_lookup {
    const char *name; /* normal form, or "" */
    const struct td_lookup *outer;
};
void td_lookup_enter(struct td_lookup *l, const char *normal);
void td_lookup_leave(const struct td_lookup *l);
/* Did this thread's last td_check_lookup allow its name (0: refused, or only reported in log mode)? */
int td_lookup_allowed(void);
/* Is `name` (normal form) a question of a lookup this thread is inside? */
int td_lookup_covers(const char *name);

/* Evaluates `call` (the real lookup of `normal`) with this thread inside that lookup. */
#define TD_IN_LOOKUP(normal, call)            \
    ({                                        \
        struct td_lookup td_lookup_;          \
        td_lookup_enter(&td_lookup_, normal); \
        __typeof__(call) td_rc_ = (call);     \
        td_lookup_leave(&td_lookup_);         \
        td_rc_;                               \
    })

/* ---- the map of names resolved to each address ---- */

#define TD_HOSTMAP_NAMES 4
void td_hostmap_add(const struct td_ip *ip, const char *name);
size_t td_hostmap_names(const struct td_ip *ip, char names[TD_HOSTMAP_NAMES][TD_NAME_BUF]);
/* Changes whenever a name is recorded. */
unsigned long long td_hostmap_generation(void);

/* ---- events ---- */

struct td_event {
    const char *decision; /* "block", "would-block", "allow" */
    const char *op;
    const char *protocol; /* "tcp", "udp", "dns" */
    const char *host;     /* or NULL */
    const char *ip;       /* or NULL */
    int port;             /* or -1 */
    const char *rule;     /* deciding rule, or the rule that would allow it */
    const char *reason;
    const char *error; /* an internal error, or NULL */
    int with_stack;
    const char *scope_label;      /* or NULL */
    unsigned long long collector; /* the collecting scope the attempt was made in, or 0 */
    const char *program;          /* unchecked-exec: the program exec'd, or NULL */
    const char *unchecked;        /* unchecked-exec: why it cannot be followed (static, setuid, …) */
};

void td_emit(const struct td_config *cfg, const struct td_event *e);
void td_set_sink(tethered_sink sink);
/* Prints a line to stderr, once per process and key. */
void td_warn_once(int *flag, const char *message);
/* In a fork/vfork child of the process that set the sink: hands `line` (ending in a newline) to that
 * process to say on its stderr; 1 when handed over, 0 when the caller should say it itself. */
int td_relay_say(const char *line);

/* ---- programs the shim cannot follow (unchecked.c) ---- */

/* On the way into an exec of `path` (openat's dirfd and the exec's AT_* flags): a static, foreign or
 * privilege-gaining program (following `#!`) is reported once, warning and unchecked-exec event.
 * Async-signal-safe; errno is kept. */
void td_check_exec(const char *op, int dirfd, const char *path, int flags);
/* The same for execvp's search of `file` in `search` (PATH, or NULL for the default). */
void td_check_execp(const char *op, const char *file, const char *search);

/* ---- where the shim's own output goes (logsink.c) ---- */

struct td_log_sink;
/* Decides where c's events go (c->log, c->log_path) and opens it once: sets c->log_sink, or NULL (and
 * says once why, when it is a path that cannot be a log). Every configuration that logs goes through it. */
void td_log_open(struct td_config *c);
/* One event line, in one write(), if the sink's descriptor is still the file it opened. */
void td_log_write(struct td_log_sink *s, const char *line, size_t n);
/* Says a line on stderr: the stderr the process had when the shim arrived, never a socket or file of the
 * program's that took fd 2 since. */
void td_say(const char *line);
/* Notes what fd 2 is now (once): called when the library is loaded. */
void td_note_stderr(void);

/* ---- DNS packets (resolv.c, and DNS a program sends itself) ---- */

/* The first question's name of a DNS message, in normal form. Returns its length or -1. */
int td_dns_question(const unsigned char *msg, size_t len, char name[TD_NAME_BUF]);
/* Records the A and AAAA answers of a DNS response under `name`. */
void td_dns_record_answers(const char *name, const unsigned char *msg, size_t len);

/* The questions of a DNS message a program sends to a name server, if it is a plain query: QR clear,
 * opcode QUERY, one or more questions, no answer or authority records, and nothing in the additional
 * section but an EDNS OPT record of the root name, with no bytes after the last record. Returns the
 * number of questions, or -1 for anything else (judged as a lookup of no valid name). */
int td_dns_query_questions(const unsigned char *msg, size_t len);
/* The name of question `index` (from 0) of such a query in normal form; its length, or -1 when the name
 * is no valid host name. */
int td_dns_nth_question(const unsigned char *msg, size_t len, int index, char name[TD_NAME_BUF]);

/* DNS a program sends itself (dnswire.c). */
void td_dns_load_servers(void);
/* Is this address a name server of /etc/resolv.conf? */
int td_dns_is_server(const struct td_ip *ip);
/* Is `name` `base` followed by a domain of the search list of /etc/resolv.conf (as read at start)? */
int td_dns_search_expansion(const char *name, const char *base);
/* Judges what is sent on fd (to addr, or to its peer when addr is NULL) when it goes to port 53: every
 * question of every message by its name, anything else as no valid name. Returns 0, or -1 with errno
 * EACCES. (For the syscall() numbers; the libc hooks send through td_dns_send.) */
int td_dns_check_send(int fd, const struct sockaddr *addr, socklen_t alen, const struct iovec *iov,
                      size_t iovcnt, const char *op);
/* Should a send on fd (to addr, if given) go through td_dns_send? Cheap: one byte read for a descriptor
 * known to carry no DNS. */
int td_dns_wanted(int fd, const struct sockaddr *addr, socklen_t alen);
/* Judges and sends a message on a socket that may carry DNS from one private copy of the payload and the
 * address (what is judged is what is sent). control: sendmsg's ancillary data, or NULL. Returns what
 * the real call returns, or -1 with errno EACCES. */
ssize_t td_dns_send(int fd, const struct iovec *iov, size_t iovcnt, int flags, const struct sockaddr *addr,
                    socklen_t alen, const struct msghdr *control, const char *op);
/* Judges what no private copy can be made of (sendfile, splice into a DNS socket) as a lookup of no
 * valid name: 0 (log mode), or -1 with errno EACCES. */
int td_dns_refuse(const char *op);
/* sendmmsg on a socket that may carry DNS: each message through td_dns_send. */
int td_dns_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, const char *op);
/* Records the answers of a DNS response read from a DNS socket (from: the sender, or NULL). */
void td_dns_learn(int fd, const struct iovec *iov, size_t iovcnt, ssize_t got, const struct sockaddr *from,
                  socklen_t fromlen);
/* A lookup handed to libc's own threads (getaddrinfo_a): its questions on the wire, asked by a thread
 * that is inside no lookup, are part of it for a few seconds (allowed: not judged again; refused and
 * reported: judged without a second event). */
void td_dns_expect(const char *normal, int allowed);
/* syscall() numbers that write to, copy or receive descriptors (fds.c); every other number unchanged. */
long td_fd_syscall(long number, long a[6]);

/* Which descriptors carry DNS (fds.c): a byte per descriptor, unknown until a connect is seen or the
 * first send on it asks the kernel for its peer. */
enum td_fd_kind { TD_FD_UNKNOWN = 0, TD_FD_OTHER = 1, TD_FD_DNS = 2 };
/* Is fd a DNS socket? An unknown descriptor is looked up once (getpeername), while a policy is in force. */
int td_fd_is_dns(int fd);
/* Did a recv on fd read a DNS socket (no look-up)? */
int td_fd_dns_marked(int fd);
void td_fd_set(int fd, enum td_fd_kind kind);
/* A connect (or a datagram) to this port from fd. */
void td_dns_note_peer(int fd, int port);
/* Descriptors received with SCM_RIGHTS are not known yet. */
void td_fd_received(const struct msghdr *msg);
/* Is a configuration in force, or could a scope of this thread be (asks no scope source)? */
int td_active(void);

/* ---- children ---- */

/* Builds the environment a child gets: envp without any TETHERED_* or LD_PRELOAD entry, plus this
 * library first in LD_PRELOAD and the policy variables. `out` must hold count(envp) + TD_MAX_INJECT + 3
 * pointers. Returns out, or envp unchanged when children do not inherit (or the shim is inactive). */
char *const *td_child_env(char *const *envp, char **out, char *preload, size_t preload_cap);
size_t td_env_count(char *const *envp);
/* Refuses an exec the policy could not follow into (the loader run with --audit): -1 with EACCES, else 0. */
int td_exec_refused(int dirfd, const char *path, char *const argv[], int flags);

/* children: 'strict' (strictexec.c): each exec runs under tethered-strict. Each returns as the exec would
 * (-1 with errno; posix_spawn: the error number). */
typedef int (*td_execve_fn)(const char *, char *const[], char *const[]);
void td_strict_prepare(void);
int td_strict_children(void);
int td_strict_execve(const char *path, char *const argv[], char *const envp[], td_execve_fn exec);
int td_strict_execvpe(const char *file, char *const argv[], char *const envp[], td_execve_fn exec);
int td_strict_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags,
                       td_execve_fn exec);
int td_strict_spawn(pid_t *pid, const char *file, int search_path, const posix_spawn_file_actions_t *actions,
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);

#endif
