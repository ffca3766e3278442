/* tethered-strict: the kernel-enforced layer (docs/strict-mode.md). A seccomp filter sends every system call
 * that can carry a destination (connect, sendto with an address, sendmsg, sendmmsg) of a command and all
 * its descendants to this supervisor, which judges a private copy of the arguments with the shim's own
 * matcher and performs the call itself on a duplicate of the target's socket. */
#ifndef TETHERED_STRICT_H
#define TETHERED_STRICT_H

#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../shim/policy.h"

/* ---- configuration (config.c): the same TETHERED_* variables the shim reads ---- */

enum ts_log { TS_LOG_STDERR, TS_LOG_FILE, TS_LOG_OFF };

struct ts_config {
    struct td_policy *policy; /* NULL: the policy cannot be used, every attempt is blocked */
    int log_mode;             /* TETHERED_MODE=log: allow and record would-block */
    int log_allowed;          /* TETHERED_LOG_ALLOWED=1: record allowed attempts too (learn) */
    enum ts_log log;
    int log_fd; /* where event lines go, or -1 */
};

extern struct ts_config ts_config;

/* Reads the environment. Returns 0, or -1 after saying on stderr why the policy cannot be used (the
 * configuration then blocks everything). */
int ts_load_config(void);
/* The same into `c` (start it as {.log_fd = -1}): a policy change of a serving supervisor (serve.c). */
int ts_load_config_to(struct ts_config *c);

/* Removes every TETHERED_* variable from this process's environment (the policy is the supervisor's
 * business: a command does not get it; a new policy replaces all of the old one's). */
void ts_unset_tethered_env(void);

/* ---- privileges (privileges.c) ---- */

/* Says on stderr when `cmd` (searched in PATH) is setuid, setgid or has file capabilities: it runs without
 * them under no_new_privs. */
void ts_say_privileges(const char *cmd);

/* ---- the filter (filter.c) ---- */

/* In the child, before exec: sets no_new_privs and installs the filter; returns the listener descriptor,
 * or -1 with errno. */
int ts_install_filter(void);
/* Sets no_new_privs and loads the filter with these SECCOMP_FILTER_FLAG_* flags: the listener or 0, or -1
 * with errno. activate({ strict: true }) loads it into the Node process itself (with TSYNC). */
int ts_load_filter(unsigned flags);
/* The calling thread enters a Landlock domain that keeps it from reaching into processes outside it. */
void ts_confine_ptrace(void);

/* ---- judging (judge.c) ---- */

/* What a call is: its name in events, the target's thread id. */
struct ts_call {
    const char *op;
    int tid;
    int protocol_udp; /* the socket is a datagram socket */
};

/* Judges a destination address (the supervisor's own copy). Returns 1 to perform the call, 0 to refuse it
 * (EACCES). Addresses that are not IP (and too short ones, which the kernel refuses) pass. Emits the event.
 */
int ts_judge_address(const struct ts_call *call, const struct sockaddr *addr, socklen_t len);
/* A call that would send packets whose destination the policy cannot judge (IP source routing): the
 * shim's event for it (reason raw-socket, protocol `what`). 1 to perform it (log mode), 0 to refuse it. */
int ts_refuse_unjudgeable(const struct ts_call *call, const char *what);
/* The IP address and port of an address as the kernel reads it: 0, or -1 when it is none. */
int ts_ip_of(const struct sockaddr *addr, socklen_t len, struct td_ip *ip, int *port);
/* Judges a DNS question by its name (normal form; "" when the message is no plain query with one readable
 * question): 1 to let it go to the name server, 0 to refuse it. Emits the event (once for the questions
 * of one name that follow each other closely: A and AAAA, a resolver's resends). */
int ts_judge_name(const struct ts_call *call, const char *name);

/* ---- names (names.c, resolver.c) ---- */

/* Is `ip` a name server of the target's own /etc/resolv.conf (a file only root can change)? */
int ts_name_server(int tid, const struct td_ip *ip);
/* The names the target's /etc/hosts (a file only root can change) lists for `ip` (at most max). */
size_t ts_hosts_names(int tid, const struct td_ip *ip, char (*names)[TD_NAME_BUF], size_t max);
/* Sets what the command's environment needs for its C library's resolver to work here (before exec). */
void ts_names_child_env(void);
/* Where a socket of this domain and type that connects to port 53 of `server` is connected instead: the
 * supervisor's resolver. 0, or -1 when it cannot serve that (the connect is then refused). */
int ts_resolver_redirect(int domain, int type, const struct td_ip *server, struct sockaddr_storage *to,
                         socklen_t *tolen);
/* After that connect: messages from this socket are for `server`, sent by `tid`; its answers are recorded
 * when `record` (a name server of the target's resolv.conf). */
void ts_resolver_note(int fd, int type, const struct td_ip *server, int record, int tid);
/* A datagram with this payload sent with an address to port 53 of a name server (no redirect: the
 * target's resolver may check who answers): judges its question, and if it may go, asks it first itself so
 * that the answer is recorded. 1 to send it, 0 to refuse it. */
int ts_resolver_datagram(const struct ts_call *call, const struct td_ip *server, int record,
                         const unsigned char *q, size_t n);

/* ---- the target (target.c) ---- */

/* Copies n bytes of the target's memory: 0, or -1 with errno (EFAULT for a bad pointer). */
int ts_read(int tid, uint64_t remote, void *local, size_t n);
/* Writes n bytes into the target's memory: 0, or -1 with errno. */
int ts_write(int tid, uint64_t remote, const void *local, size_t n);
/* A pidfd for the target thread, or -1 with errno. */
int ts_pidfd(int tid);
/* Takes the target thread's descriptor `fd` (pidfd_getfd): the duplicate, or -1 with errno. *pidfd is set to
 * the pidfd used (or -1), which the caller uses for the call and gives back with ts_pidfd_put. The pidfd
 * may be one kept from an earlier call of the same thread (target.c says why that is sound). */
int ts_getfd(int tid, int fd, int *pidfd);
void ts_pidfd_put(int tid, int pidfd, int dead);

/* ---- the supervisor (supervise.c) ---- */

/* Serves the listener until it closes (the command and all its descendants are gone). Starts its own
 * threads and returns at once. */
int ts_supervise(int listener);

/* Handles one notification; fills the response (calls.c). */
void ts_handle(int listener, const struct seccomp_notif *req, struct seccomp_notif_resp *resp);

/* The call being performed on this thread may block: the supervisor interrupts it when the target's call
 * is gone (a signal interrupted it, the target died). Bracket every call that may block (supervise.c). */
void ts_inflight_begin(int listener, uint64_t id);
void ts_inflight_end(void);

/* ---- serving another process's listener (serve.c): activate({ strict: true }) ---- */

/* tethered-strict --serve: the policy from the environment, commands and the listener's number from the
 * addon on descriptor `chan`, events to it on `events`. Returns the exit status. */
int ts_serve(int chan, int events);

#endif
