/* The seccomp filter every supervised process carries (inherited across fork, clone and exec; no process
 * can remove it). It judges nothing itself: it only decides which system calls the supervisor sees, from
 * the system-call number and register arguments, which the kernel has already copied and no other thread
 * can change. Everything else is allowed within a few instructions. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "strict.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
/* an argument is a 64-bit word in the task's byte order: its low half first on x86-64 and arm64 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the argument loads below assume a little-endian system-call ABI"
#endif
#define LOAD_ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define LOAD_ARG_HI(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]) + 4)
#define RET(action) BPF_STMT(BPF_RET | BPF_K, (action))
/* if A == k go on (skip 0), else skip `n` */
#define IF_EQ(k, yes, no) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (yes), (no))

/* A process of the same user may read and write another's memory, take its descriptors or trace it
 * (ptrace, /proc/PID/mem, process_vm_writev, pidfd_getfd) unless Yama says otherwise: a command could make
 * any unsupervised process of the user connect for it. A Landlock domain (which restricts nothing else
 * here: it handles only the creation of block devices, which needs a privilege anyway) confines all of
 * those to processes inside the same domain, i.e. the supervised tree. The supervisor, outside it, keeps
 * its access to them. Without Landlock, say what is missing, once, at start. */
void ts_confine_ptrace(void) {
    struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_BLOCK};
    int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (fd >= 0 && syscall(SYS_landlock_restrict_self, fd, 0) == 0) {
        close(fd);
        return;
    }
    if (fd >= 0) close(fd);
    static const char msg[] =
        "tethered: strict mode: this kernel has no Landlock; unless Yama's ptrace_scope is 1 or more, the "
        "command could reach into other processes of this user (ptrace) and connect through them\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
}

/* The system-call table of the architecture this is built for; the numbers below come from its headers. */
#if defined(__x86_64__)
#define TS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "strict mode knows the system-call tables of x86-64 and aarch64 only"
#endif

/* Instruction numbers in the comments are those of the x86-64 program (aarch64 has no x32 check). */
static const struct sock_filter code[] = {
    /* 0: only this architecture's own system-call table. A 64-bit x86 process can still enter the kernel
     * through the 32-bit table (int 0x80: another number for connect, and socketcall), an arm64 one in
     * a compat (arm32) task after an exec of a 32-bit program: those tables are refused whole.
     */
    LOAD(arch),
    IF_EQ(TS_AUDIT_ARCH, 1, 0),
    RET(SECCOMP_RET_ERRNO | ENOSYS),
    LOAD(nr),
#if defined(__x86_64__)
    /* 4: x32 numbers (the same calls with bit 30 set) are refused too */
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
    RET(SECCOMP_RET_ERRNO | ENOSYS),
#endif
    /* 6: the calls that carry a destination in memory go to the supervisor */
    IF_EQ(__NR_connect, 3, 0),
    IF_EQ(__NR_sendmsg, 2, 0),
    IF_EQ(__NR_sendmmsg, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
    RET(SECCOMP_RET_USER_NOTIF),
    /* 11: sendto with no address (a connected socket: its peer was judged at connect) runs as it is;
     * with one, it goes to the supervisor. The pointer is a register: no other thread can change it. */
    IF_EQ(__NR_sendto, 0, 6),
    LOAD_ARG_LO(4),
    IF_EQ(0, 0, 2),
    LOAD_ARG_HI(4),
    IF_EQ(0, 1, 0),
    RET(SECCOMP_RET_USER_NOTIF),
    RET(SECCOMP_RET_ALLOW),
    /* 18: io_uring performs connects and sends in the kernel, where no filter sees them: refused, and
     * programs fall back to plain calls. */
    LOAD(nr),
    IF_EQ(__NR_io_uring_setup, 2, 0),
    IF_EQ(__NR_io_uring_enter, 1, 0),
    IF_EQ(__NR_io_uring_register, 0, 1),
    RET(SECCOMP_RET_ERRNO | ENOSYS),
    /* 23: a filter of the process's own with a listener would receive these calls before this one (the
     * newest filter's notification wins) and could let them continue: refused. */
    IF_EQ(__NR_seccomp, 0, 4),
    LOAD_ARG_LO(1),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, 1),
    RET(SECCOMP_RET_ERRNO | EPERM),
    RET(SECCOMP_RET_ALLOW),
    /* 28: IP source routing sends a packet to the route's first hop instead of the judged peer
     * (tcp_v4_connect and udp_sendmsg take the next hop from an LSRR/SSRR option; an IPv6 routing header,
     * type 4 segment routing included, does the same). The options that set one go to the supervisor,
     * which reads the value and refuses a route with an event: IP_OPTIONS, IPV6_RTHDR and
     * IPV6_2292PKTOPTIONS (sticky options given as control messages, IPV6_2292RTHDR among them; as an
     * option of its own IPV6_2292RTHDR only asks to receive routing headers). The level and name are
     * registers; every other option runs as it is. */
    IF_EQ(__NR_setsockopt, 0, 11),
    LOAD_ARG_LO(1),
    IF_EQ(IPPROTO_IP, 0, 3),
    LOAD_ARG_LO(2),
    IF_EQ(IP_OPTIONS, 5, 0),
    RET(SECCOMP_RET_ALLOW),
    IF_EQ(IPPROTO_IPV6, 0, 4),
    LOAD_ARG_LO(2),
    IF_EQ(IPV6_RTHDR, 1, 0),
    IF_EQ(IPV6_2292PKTOPTIONS, 0, 1),
    RET(SECCOMP_RET_USER_NOTIF),
    RET(SECCOMP_RET_ALLOW),
    /* 40: packet sockets and raw IP sockets write their own headers (the destination is in the data),
     * and SCTP connects through setsockopt (SCTP_SOCKOPT_CONNECTX, an address list in memory): refused
     * with EACCES (the first two need CAP_NET_RAW anyway). */
    IF_EQ(__NR_socket, 0, 11),
    LOAD_ARG_LO(0),
    IF_EQ(AF_PACKET, 8, 0),
    IF_EQ(AF_INET, 1, 0),
    IF_EQ(AF_INET6, 0, 7),
    LOAD_ARG_LO(2),
    IF_EQ(IPPROTO_SCTP, 4, 0),
    LOAD_ARG_LO(1),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf),
    IF_EQ(SOCK_RAW, 1, 0),
    IF_EQ(SOCK_PACKET, 0, 1),
    RET(SECCOMP_RET_ERRNO | EACCES),
    RET(SECCOMP_RET_ALLOW),
};

int ts_load_filter(unsigned flags) {
    struct sock_fprog prog = {.len = (unsigned short)(sizeof code / sizeof code[0]),
                              .filter = (struct sock_filter *)code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int ts_install_filter(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    ts_confine_ptrace();
    return ts_load_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER);
}
