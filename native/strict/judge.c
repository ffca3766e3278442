/* Judging a destination the supervisor has copied, and the event it leaves: the same matcher and the same
 * JSON line as the shim (native/shim/decide.c, events.c), with "layer":"strict". An address is judged
 * with the names the tree resolved to it (names.c): a name rule matches a connect to an address that the
 * name's DNS answer or the target's /etc/hosts gave. A DNS question is judged by its name, like a lookup. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../shim/shim.h"
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

static void emit(const struct ts_call *call, const char *decision, const char *protocol, const char *host,
                 const char *ip, int port, const char *rule, const char *reason) {
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
    field(&o, "protocol", protocol);
    field(&o, "host", host);
    field(&o, "ip", ip);
    if (port >= 0)
        number(&o, "port", port);
    else
        put(&o, ",\"port\":null");
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

int ts_ip_of(const struct sockaddr *addr, socklen_t len, struct td_ip *ip, int *port) {
    if (len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        td_ip_from_v4(ip, ntohl(in->sin_addr.s_addr));
        *port = ntohs(in->sin_port);
        return 0;
    }
    if (len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_INET6 &&
        len >= 24 /* SIN6_LEN_RFC2133: the kernel's minimum, without the scope id */) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        td_ip_from_v6(ip, in6->sin6_addr.s6_addr);
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

int ts_judge_address(const struct ts_call *call, const struct sockaddr *addr, socklen_t len) {
    struct td_ip ip;
    int port;
    if (ts_ip_of(addr, len, &ip, &port) != 0) return 1; /* not IP, or too short for the kernel to use */
    /* The names resolved to it: DNS answers first, then the target's /etc/hosts. The hosts file is read
     * only when the answers alone do not let the call through (or every attempt is recorded). */
    char names[TD_HOSTMAP_NAMES + 8][TD_NAME_BUF];
    const char *ptrs[TD_HOSTMAP_NAMES + 8];
    size_t n = td_hostmap_names(&ip, names), resolved = n;
    struct td_dest dest = {.kind = TD_DEST_IP, .ip = ip};
    struct td_verdict v = {TD_REASON_NO_RULE, NULL, -1};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) ptrs[i] = names[i];
        if (ts_config.policy) td_policy_decide(ts_config.policy, &dest, port, ptrs, n, &v);
        if (pass || !ts_config.policy || (td_verdict_allowed(&v) && !ts_config.log_allowed)) break;
        char more[8][TD_NAME_BUF];
        size_t m = ts_hosts_names(call->tid, &ip, more, 8), before = n;
        for (size_t k = 0; k < m; k++) {
            size_t i = 0;
            while (i < before && strcmp(names[i], more[k]) != 0) i++;
            if (i == before) memcpy(names[n++], more[k], strlen(more[k]) + 1);
        }
        if (n == before) break;
    }
    int allowed = ts_config.policy && td_verdict_allowed(&v);
    if (allowed && !ts_config.log_allowed) return 1;
    char text[64], hint[TD_NAME_BUF + 80];
    td_ip_format(&ip, text);
    /* The host reported: the name that decided, else one the tree resolved over DNS. A name /etc/hosts
     * lists for the address says nothing about how the program reached it unless a rule for it decided
     * (an address dialled as such is reported, and learnt, as an address). */
    const char *host = v.name_index >= 0 && (size_t)v.name_index < n ? names[v.name_index]
                       : resolved                                    ? names[0]
                                                                     : NULL;
    const char *rule = v.rule ? v.rule->text : NULL;
    if (!allowed && v.reason == TD_REASON_NO_RULE) {
        if (host)
            snprintf(hint, sizeof hint, "%s:%d", host, port);
        else
            snprintf(hint, sizeof hint, ip.family == 6 ? "[%s]:%d" : "%s:%d", text, port);
        rule = hint;
    }
    int block = !allowed && !ts_config.log_mode;
    emit(call,
         allowed ? "allow"
         : block ? "block"
                 : "would-block",
         call->protocol_udp ? "udp" : "tcp", host, text, port, rule,
         ts_config.policy ? REASONS[v.reason] : "invalid-policy");
    return !block;
}

int ts_refuse_unjudgeable(const struct ts_call *call, const char *what) {
    int block = !ts_config.log_mode;
    emit(call, block ? "block" : "would-block", what, NULL, NULL, -1, NULL, "raw-socket");
    return !block;
}

/* The DNS questions reported lately: a resolver asks A and AAAA for one name and resends when no answer
 * comes; that is one attempt, reported once. */
#define RECENT 32
#define RECENT_MS 2000
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[TD_NAME_BUF];
    int allowed;
    long long at;
} recent[RECENT];
static unsigned recent_next;

static int reported_lately(const char *name, int allowed) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long now = (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    int seen = 0;
    pthread_mutex_lock(&recent_lock);
    for (unsigned i = 0; i < RECENT && !seen; i++)
        seen = recent[i].at && now - recent[i].at < RECENT_MS && recent[i].allowed == allowed &&
               strcmp(recent[i].name, name) == 0;
    if (!seen) {
        unsigned i = recent_next++ % RECENT;
        snprintf(recent[i].name, sizeof recent[i].name, "%s", name);
        recent[i].allowed = allowed;
        recent[i].at = now;
    }
    pthread_mutex_unlock(&recent_lock);
    return seen;
}

/* The machine's own name, which a lookup may always ask (SPEC: it is exempt), in normal form. */
static char own_name[TD_NAME_BUF];
static pthread_once_t own_name_once = PTHREAD_ONCE_INIT;

static void read_own_name(void) {
    char host[TD_NAME_BUF];
    if (gethostname(host, sizeof host) != 0) return;
    host[sizeof host - 1] = 0;
    struct td_dest d;
    td_normalise_destination(host, strlen(host), &d);
    if (d.kind == TD_DEST_NAME) memcpy(own_name, d.name, d.name_len + 1);
}

int ts_judge_name(const struct ts_call *call, const char *name) {
    struct td_dest dest;
    td_normalise_destination(name, strlen(name), &dest);
    if (dest.kind != TD_DEST_NAME) dest.kind = TD_DEST_INVALID;
    pthread_once(&own_name_once, read_own_name);
    if (dest.kind == TD_DEST_NAME && own_name[0] && strcmp(dest.name, own_name) == 0) return 1;
    struct td_verdict v = {TD_REASON_INVALID, NULL, -1};
    if (ts_config.policy && dest.kind == TD_DEST_NAME)
        td_policy_decide(ts_config.policy, &dest, TD_ANY_PORT, NULL, 0, &v);
    int allowed = ts_config.policy && dest.kind == TD_DEST_NAME && td_verdict_allowed(&v);
    if (allowed && !ts_config.log_allowed) return 1;
    int block = !allowed && !ts_config.log_mode;
    if (reported_lately(name, allowed)) return !block;
    const char *host = dest.kind == TD_DEST_NAME ? dest.name : NULL;
    const char *rule = v.rule ? v.rule->text : NULL;
    if (!allowed && v.reason == TD_REASON_NO_RULE) rule = host;
    emit(call,
         allowed ? "allow"
         : block ? "block"
                 : "would-block",
         "dns", host, NULL, -1, rule,
         !ts_config.policy              ? "invalid-policy"
         : dest.kind == TD_DEST_INVALID ? "invalid-host"
                                        : REASONS[v.reason]);
    return !block;
}
