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

/* ---- privileges (privileges.c) ---- */

/* Says on stderr when `cmd` (searched in PATH) is setuid, setgid or has file capabilities: it runs without
 * them under no_new_privs. */
void ts_say_privileges(const char *cmd);

/* ---- the filter (filter.c) ---- */

/* In the child, before exec: sets no_new_privs and installs the filter; returns the listener descriptor,
 * or -1 with errno. */
int ts_install_filter(void);

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

#endif
