/* Judging a destination the supervisor has copied, and the event it leaves: the same matcher and the same
 * JSON line as the shim (native/shim/decide.c, events.c), with "layer":"strict". The supervisor sees
 * addresses only: it records no names, so a name rule matches nothing here (strict mode should judge names
 * too; see docs/strict-mode.md). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strict.h"

static const char *const REASONS[] = {"allow-rule", "localhost", "deny-rule", "no-rule", "invalid-host"};

struct out {
    char buf[4096];
    size_t n;
};

static void put(struct out *o, const char *s) {
    size_t len = strlen(s), room = sizeof o->buf - 2 - o->n;
    if (len > room) len = room;
    memcpy(o->buf + o->n, s, len);
    o->n += len;
}

static void put_str(struct out *o, const char *s) {
    if (!s) {
        put(o, "null");
        return;
    }
    put(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\')
            snprintf(e, sizeof e, "\\%c", c);
        else if (c < 0x20)
            snprintf(e, sizeof e, "\\u%04x", c);
        else
            e[0] = (char)c, e[1] = 0;
        put(o, e);
    }
    put(o, "\"");
}

static void field(struct out *o, const char *key, const char *value) {
    put(o, ",\"");
    put(o, key);
    put(o, "\":");
    put_str(o, value);
}

static void number(struct out *o, const char *key, long long v) {
    char tmp[48];
    snprintf(tmp, sizeof tmp, ",\"%s\":%lld", key, v);
    put(o, tmp);
}

/* The target's process id and program, from /proc (only when an event is written). */
static int process_of(int tid, char exe[512]) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/exe", tid);
    ssize_t n = readlink(path, exe, 511);
    exe[n > 0 ? n : 0] = 0;
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tid;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    const char *p = strstr(buf, "\nTgid:");
    return p ? atoi(p + 6) : tid;
}

static atomic_ullong next_seq = 1;

static void emit(const struct ts_call *call, const char *decision, const char *ip, int port, const char *rule,
                 const char *reason) {
    if (ts_config.log_fd < 0) return;
    struct out o = {.n = 0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char time[40];
    strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    char exe[512];
    int pid = process_of(call->tid, exe);
    char head[96];
    snprintf(head, sizeof head, "{\"time\":\"%s.%03ldZ\"", time, ts.tv_nsec / 1000000);
    put(&o, head);
    number(&o, "pid", pid);
    number(&o, "tid", call->tid);
    number(&o, "seq", (long long)atomic_fetch_add(&next_seq, 1));
    field(&o, "decision", decision);
    field(&o, "op", call->op);
    field(&o, "protocol", call->protocol_udp ? "udp" : "tcp");
    field(&o, "host", NULL);
    field(&o, "ip", ip);
    number(&o, "port", port);
    field(&o, "rule", rule);
    field(&o, "reason", reason);
    field(&o, "scopeLabel", NULL);
    field(&o, "exe", exe);
    field(&o, "layer", "strict");
    o.buf[o.n++] = '}';
    o.buf[o.n++] = '\n';
    /* one write per line: lines from the supervisor's threads never interleave */
    if (write(ts_config.log_fd, o.buf, o.n) < 0) {
    }
}

int ts_judge_address(const struct ts_call *call, const struct sockaddr *addr, socklen_t len) {
    struct td_ip ip;
    int port;
    if (len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        td_ip_from_v4(&ip, ntohl(in->sin_addr.s_addr));
        port = ntohs(in->sin_port);
    } else if (len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_INET6 &&
               len >= 24 /* SIN6_LEN_RFC2133: the kernel's minimum, without the scope id */) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        td_ip_from_v6(&ip, in6->sin6_addr.s6_addr);
        port = ntohs(in6->sin6_port);
    } else {
        return 1; /* not IP, or too short for the kernel to use */
    }
    struct td_dest dest = {.kind = TD_DEST_IP, .ip = ip};
    struct td_verdict v = {TD_REASON_NO_RULE, NULL, -1};
    if (ts_config.policy) td_policy_decide(ts_config.policy, &dest, port, NULL, 0, &v);
    int allowed = ts_config.policy && td_verdict_allowed(&v);
    if (allowed && !ts_config.log_allowed) return 1;
    char text[64], hint[80];
    td_ip_format(&ip, text);
    const char *rule = v.rule ? v.rule->text : NULL;
    if (!allowed && v.reason == TD_REASON_NO_RULE) {
        snprintf(hint, sizeof hint, ip.family == 6 ? "[%s]:%d" : "%s:%d", text, port);
        rule = hint;
    }
    int block = !allowed && !ts_config.log_mode;
    emit(call,
         allowed ? "allow"
         : block ? "block"
                 : "would-block",
         text, port, rule, ts_config.policy ? REASONS[v.reason] : "invalid-policy");
    return !block;
}
