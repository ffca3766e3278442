/* The one decision every hook calls: normalise the destination, judge it against the active policy (and
 * the names resolved to an address), record the event, and say allow or block. The allowed path takes no
 * lock and allocates nothing; errno is preserved unless the attempt is blocked. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "shim.h"

static __thread int quiet __attribute__((tls_model("initial-exec")));
/* Whether this thread's last td_check_lookup allowed the name (0: refused, or only reported in log mode). */
static __thread int lookup_allowed __attribute__((tls_model("initial-exec")));
/* The lookups this thread is inside, innermost first: frames on the hooks' own stacks. Only the DNS
 * questions for these names (and their resolv.conf search-list expansions) pass without another judgement;
 * anything else the thread does meanwhile (a signal handler, an NSS module, a name the resolver was told
 * to ask instead) is judged like any other attempt. */
static __thread const struct td_lookup *lookups __attribute__((tls_model("initial-exec")));

void td_set_quiet(int on) {
    quiet = on;
}

int td_lookup_allowed(void) {
    return lookup_allowed;
}

void td_lookup_enter(struct td_lookup *l, const char *normal) {
    l->name = normal ? normal : "";
    l->outer = lookups;
    lookups = l; /* one store: a signal handler sees the stack before or after, never half of it */
}

void td_lookup_leave(const struct td_lookup *l) {
    lookups = l->outer;
}

int td_lookup_covers(const char *name) {
    if (!name || !name[0]) return 0;
    for (const struct td_lookup *l = lookups; l; l = l->outer)
        if (l->name[0] && (strcmp(name, l->name) == 0 || td_dns_search_expansion(name, l->name))) return 1;
    return 0;
}

static const char *const REASON_NAMES[] = {"allow-rule", "localhost", "deny-rule", "no-rule", "invalid-host"};

static const char *socket_protocol(int fd) {
    return td_socket_type(fd) == SOCK_DGRAM ? "udp" : "tcp";
}

/* The rule that would allow this destination, for the event (as explain() suggests it). */
static void suggestion(const char *host, const char *ip, int family, int port, char *out, size_t cap) {
    const char *target = host ? host : ip;
    int bracket = !host && family == 6;
    if (port >= 0)
        snprintf(out, cap, "%s%s%s:%d", bracket ? "[" : "", target, bracket ? "]" : "", port);
    else
        snprintf(out, cap, "%s%s%s", bracket ? "[" : "", target, bracket ? "]" : "");
}

/* A decision: the environment's policy (a ceiling), the policy in force, then every scope of the thread's
 * chain; the first that does not allow decides. */
struct judgement {
    struct td_verdict v;
    int allowed;
    const struct tethered_scope *by; /* the scope that refused, or NULL */
    const struct td_config *layer;   /* whose mode and log the refusal follows: the ceiling or cfg */
};

/* One configuration's own policy; a broken one (NULL policy, not allow_all) allows nothing. */
static int policy_allows(const struct td_config *cfg, const struct td_dest *dest, int port,
                         const char *const *names, size_t n, struct td_verdict *v) {
    *v = (struct td_verdict){TD_REASON_NO_RULE, NULL, -1};
    if (cfg->policy) {
        td_policy_decide(cfg->policy, dest, port, names, n, v);
        return td_verdict_allowed(v);
    }
    if (cfg->allow_all) v->reason = TD_REASON_ALLOW_RULE;
    return cfg->allow_all;
}

/* Records a refusal. The first decides, unless an enforcing one follows a log-only one (a ceiling in log
 * mode must not turn an enforcing policy under it into log-only). Returns 1 when the judgement is over. */
static int refuse(struct judgement *j, const struct td_verdict *v, const struct td_config *layer,
                  const struct tethered_scope *by) {
    if (j->allowed || (j->layer->mode == TD_MODE_LOG && layer->mode == TD_MODE_ENFORCE)) {
        j->v = *v;
        j->allowed = 0;
        j->layer = layer;
        j->by = by;
    }
    return layer->mode == TD_MODE_ENFORCE;
}

/* without_policy: the scopes alone (tethered_decide), under cfg's mode. */
static void judge_layers(const struct td_config *cfg, int without_policy, const struct tethered_scope *scope,
                         const struct td_dest *dest, int port, const char *const *names, size_t n,
                         struct judgement *j) {
    j->allowed = 1;
    j->by = NULL;
    j->layer = cfg;
    j->v = (struct td_verdict){TD_REASON_ALLOW_RULE, NULL, -1};
    struct td_verdict v;
    const struct td_config *top = without_policy ? NULL : cfg->ceiling;
    if (top && top != cfg && !policy_allows(top, dest, port, names, n, &v) && refuse(j, &v, top, NULL))
        return;
    if (without_policy) {
        /* the scopes below decide */
    } else if (!policy_allows(cfg, dest, port, names, n, &v)) {
        if (refuse(j, &v, cfg, NULL)) return;
    } else if (j->allowed) {
        j->v = v;
    }
    for (const struct tethered_scope *s = scope; s; s = s->parent) {
        td_policy_decide(s->policy, dest, port, names, n, &v);
        if (!td_verdict_allowed(&v) && refuse(j, &v, cfg, s)) return;
    }
}

static void judge(const struct td_config *cfg, const struct tethered_scope *scope, const struct td_dest *dest,
                  int port, const char *const *names, size_t n, struct judgement *j) {
    judge_layers(cfg, 0, scope, dest, port, names, n, j);
}

/* The configuration a hook judges by: the one in force, else (on a thread in a scope) scopes only. */
static const struct td_config *config_for(const struct tethered_scope *scope) {
    const struct td_config *cfg = td_config();
    return cfg ? cfg : scope ? &td_scopes_only : NULL;
}

/* Records the event for a judgement and turns it into the hook's answer. */
static int conclude(const struct td_config *cfg, const struct judgement *j,
                    const struct tethered_scope *scope, const char *op, const char *protocol,
                    const char *host, const char *ip, int family, int port) {
    const struct td_verdict *v = &j->v;
    cfg = j->layer; /* a refusal by the ceiling follows the ceiling's mode and goes to its log */
    int judged = cfg->policy || cfg->allow_all || j->by;
    char hint[TD_RULE_TEXT + 16];
    const char *rule = v->rule ? v->rule->text : NULL;
    if (judged && !j->allowed && v->reason == TD_REASON_NO_RULE) {
        suggestion(host, ip, family, port, hint, sizeof hint);
        rule = hint;
    }
    /* The label of the scope that refused, else of the innermost labelled scope the attempt was made in. */
    const struct tethered_scope *labelled = j->by;
    if (!labelled)
        for (labelled = scope; labelled && !labelled->label[0];) labelled = labelled->parent;
    int block = !j->allowed && cfg->mode == TD_MODE_ENFORCE;
    struct td_event e = {
        .decision = j->allowed ? "allow"
                    : block    ? "block"
                               : "would-block",
        .op = op,
        .protocol = protocol,
        .host = host,
        .ip = ip,
        .port = port,
        .rule = rule,
        .reason = judged                ? REASON_NAMES[v->reason]
                  : cfg->internal_error ? "internal-error"
                                        : "invalid-policy",
        .error = cfg->internal_error,
        .with_stack = !j->allowed,
        .scope_label = labelled && labelled->label[0] ? labelled->label : NULL,
        .collector = scope ? scope->collector : 0,
    };
    if (!quiet) td_emit(cfg, &e);
    if (!block) return 0;
    errno = EACCES;
    return -1;
}

/* The IP destination the kernel will use for this address, as it reads the family and the length. */
static int destination(const struct sockaddr *addr, socklen_t len, enum td_use use, struct td_ip *ip,
                       int *port) {
    if (!addr || len < (socklen_t)sizeof(sa_family_t)) return -1;
    sa_family_t family = addr->sa_family;
    /* connect(AF_UNSPEC) disconnects; an IPv4 socket's datagram to AF_UNSPEC goes to the IPv4 address in it.
     * Judged so whatever the socket is now: it may be another one when the kernel looks (address_ignored). */
    if (family == AF_UNSPEC && use != TD_USE_CONNECT && len >= (socklen_t)sizeof(struct sockaddr_in))
        family = AF_INET;
    if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        td_ip_from_v4(ip, ntohl(in->sin_addr.s_addr));
        *port = ntohs(in->sin_port);
        return 0;
    }
    /* the kernel takes an IPv6 address without its scope id (SIN6_LEN_RFC2133, 24 bytes) */
    if (family == AF_INET6 && len >= (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        td_ip_from_v6(ip, in6->sin6_addr.s6_addr);
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

/* Does the kernel ignore the address of a send on this socket (a TCP stream without Fast Open; AF_UNSPEC on
 * an IPv6 socket)? Then a refused address costs nothing: the call goes on without it (TD_WITHOUT_ADDRESS).
 * Never "let it through as it is": another thread may put another socket under the number before the kernel
 * reads it (dup2), and a UDP socket would send to the address. */
static int address_ignored(int fd, sa_family_t family) {
    int protocol = 0, domain = 0, saved = errno;
    socklen_t len = sizeof protocol, dl = sizeof domain;
    int known = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0;
    int tcp = known && (protocol == IPPROTO_TCP || protocol == 262 /* IPPROTO_MPTCP */);
    /* an IPv6 UDP socket drops an AF_UNSPEC address (a raw IPv6 socket reads it as IPv6: not ignored) */
    int v6 = known && family == AF_UNSPEC && (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE) &&
             getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_INET6;
    errno = saved;
    return tcp || v6;
}

/* The last destination this thread was allowed to reach, and what the answer depended on: a datagram loop
 * to one peer is judged once, not per datagram. `valid` is cleared while the entry is rewritten, so that a
 * signal handler's attempt in the middle of the rewrite never matches half of the old entry and half of
 * the new one. */
static __thread struct {
    int valid;
    struct td_ip ip;
    int port;
    const struct td_config *cfg;
    unsigned long long scope, names, config; /* scope: its id (a freed scope's address may come back) */
} last_allowed __attribute__((tls_model("initial-exec")));

/* The names this process resolved to ip (copied into names, pointed at by ptrs): how much is judged by name.
 */
static size_t names_resolved_to(const struct td_ip *ip, char names[TD_HOSTMAP_NAMES][TD_NAME_BUF],
                                const char *ptrs[TD_HOSTMAP_NAMES]) {
    size_t n = td_hostmap_names(ip, names);
    for (size_t i = 0; i < n; i++) ptrs[i] = names[i];
    return n;
}

/* The connections this thread last let through, or reported in log mode, for a scope: writes on one
 * connection are judged once, not per write (its peer, the scope and the configurations the same). */
#define PEERS_KEPT 8
static __thread struct {
    int valid;
    int fd, port;
    struct td_ip ip;
    unsigned long long scope, names, config;
} peers_kept[PEERS_KEPT] __attribute__((tls_model("initial-exec")));
static __thread unsigned peers_next __attribute__((tls_model("initial-exec")));

/* Keeps fd's connection to ip:port as let through for `scope` (under these configurations). */
static void keep_peer(int fd, const struct td_ip *ip, int port, unsigned long long scope,
                      unsigned long long names, unsigned long long config) {
    unsigned k = peers_next++ % PEERS_KEPT;
    peers_kept[k].valid = 0; /* cleared while rewritten, for a signal handler's write in the middle */
    atomic_signal_fence(memory_order_seq_cst);
    peers_kept[k].fd = fd;
    peers_kept[k].port = port;
    peers_kept[k].ip = *ip;
    peers_kept[k].scope = scope;
    peers_kept[k].names = names;
    peers_kept[k].config = config;
    atomic_signal_fence(memory_order_seq_cst);
    peers_kept[k].valid = 1;
}

static int check_one(int fd, const struct sockaddr *addr, socklen_t len, enum td_use use, const char *op,
                     sa_family_t given);

/* AF_UNSPEC on a send is read by the socket: an IPv4 or IPv6 UDP socket as IPv4 (or not at all), a raw IPv6
 * socket as IPv6 (attacker's review). Which socket the kernel will find under the number cannot be known
 * here, so both readings are judged, the IPv6 one when the length holds it; the call goes on only if both
 * allow it (or without the address, where the socket ignores it). */
int td_check_address(int fd, const struct sockaddr *addr, socklen_t len, enum td_use use, const char *op) {
    socklen_t v6_len = (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id);
    if (addr && use != TD_USE_CONNECT && len >= v6_len && addr->sa_family == AF_UNSPEC) {
        struct sockaddr_in6 v6;
        memset(&v6, 0, sizeof v6);
        memcpy(&v6, addr, len < (socklen_t)sizeof v6 ? len : sizeof v6);
        v6.sin6_family = AF_INET6;
        int rc = check_one(fd, (const struct sockaddr *)&v6, len, use, op, AF_UNSPEC);
        if (rc != 0) return rc;
    }
    return check_one(fd, addr, len, use, op, addr ? addr->sa_family : AF_UNSPEC);
}

static int check_one(int fd, const struct sockaddr *addr, socklen_t len, enum td_use use, const char *op,
                     sa_family_t given) {
    struct td_dest dest;
    int port;
    if (destination(addr, len, use, &dest.ip, &port) != 0) return 0;
    td_dns_note_peer(fd, port); /* whatever happens next: which descriptors carry DNS (fds.c) */
    const struct tethered_scope *scope = td_scope_current();
    const struct td_config *cfg = config_for(scope);
    if (!cfg) return 0;
    /* DNS: what is asked is judged by name (dnswire.c); the system's name servers need no rule. */
    if (port == 53 && td_dns_is_server(&dest.ip)) return 0;
    unsigned long long names = td_hostmap_generation(), config = td_config_generation();
    if (last_allowed.valid && last_allowed.port == port && last_allowed.cfg == cfg &&
        last_allowed.scope == (scope ? scope->id : 0) && last_allowed.names == names &&
        last_allowed.config == config && td_ip_equal(&last_allowed.ip, &dest.ip))
        return 0;
    int saved = errno;
    dest.kind = TD_DEST_IP;
    char names_of[TD_HOSTMAP_NAMES][TD_NAME_BUF];
    const char *ptrs[TD_HOSTMAP_NAMES];
    size_t n = names_resolved_to(&dest.ip, names_of, ptrs);
    struct judgement j;
    judge(cfg, scope, &dest, port, ptrs, n, &j);
    if (j.allowed && !cfg->log_allowed) {
        if (port != 53) {
            last_allowed.valid = 0;
            atomic_signal_fence(memory_order_seq_cst);
            last_allowed.ip = dest.ip;
            last_allowed.port = port;
            last_allowed.cfg = cfg;
            last_allowed.scope = scope ? scope->id : 0;
            last_allowed.names = names;
            last_allowed.config = config;
            atomic_signal_fence(memory_order_seq_cst);
            last_allowed.valid = 1;
        }
        errno = saved;
        return 0;
    }
    if (!j.allowed && use == TD_USE_SEND && address_ignored(fd, given)) {
        errno = saved;
        return TD_WITHOUT_ADDRESS;
    }
    char ip[48];
    td_ip_format(&dest.ip, ip);
    const char *host = j.v.name_index >= 0 ? names_of[j.v.name_index] : (n ? names_of[0] : NULL);
    int rc = conclude(cfg, &j, scope, op, socket_protocol(fd), host, ip, dest.ip.family, port);
    if (rc == 0) {
        /* a connection reported once in log mode: what is sent on it is not reported again */
        if (scope && use == TD_USE_CONNECT) keep_peer(fd, &dest.ip, port, scope->id, names, config);
        errno = saved;
    }
    return rc;
}

int td_check_peer(int fd, const char *op) {
    const struct tethered_scope *scope = td_scope_said();
    if (!scope) return 0;
    int saved = errno;
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    struct td_dest dest;
    int port;
    /* not connected, not a socket, or not IP: nothing here names a destination */
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 ||
        destination((const struct sockaddr *)&peer, len, TD_USE_CONNECT, &dest.ip, &port) != 0) {
        errno = saved;
        return 0;
    }
    const struct td_config *cfg = config_for(scope);
    unsigned long long names = td_hostmap_generation(), config = td_config_generation();
    for (unsigned i = 0; i < PEERS_KEPT; i++)
        if (peers_kept[i].valid && peers_kept[i].fd == fd && peers_kept[i].port == port &&
            peers_kept[i].scope == scope->id && peers_kept[i].names == names &&
            peers_kept[i].config == config && td_ip_equal(&peers_kept[i].ip, &dest.ip)) {
            errno = saved;
            return 0;
        }
    dest.kind = TD_DEST_IP;
    char names_of[TD_HOSTMAP_NAMES][TD_NAME_BUF];
    const char *ptrs[TD_HOSTMAP_NAMES];
    size_t n = names_resolved_to(&dest.ip, names_of, ptrs);
    struct judgement j;
    judge_layers(cfg, 1, scope, &dest, port, ptrs, n, &j);
    int rc = 0;
    if (!j.allowed || cfg->log_allowed) {
        char ip[48];
        td_ip_format(&dest.ip, ip);
        const char *host = j.v.name_index >= 0 ? names_of[j.v.name_index] : (n ? names_of[0] : NULL);
        rc = conclude(cfg, &j, scope, op, socket_protocol(fd), host, ip, dest.ip.family, port);
    }
    if (rc == 0) { /* let through (allowed, or reported once in log mode) */
        keep_peer(fd, &dest.ip, port, scope->id, names, config);
        errno = saved;
    }
    return rc;
}

int td_check_lookup(const char *name, const char *op, char normal[TD_NAME_BUF]) {
    normal[0] = 0;
    lookup_allowed = 1;
    if (!name) return 0;
    const struct tethered_scope *scope = td_scope_current();
    const struct td_config *cfg = config_for(scope);
    if (!cfg && !td_scopes_used()) return 0;
    int saved = errno;
    struct td_dest dest;
    td_normalise_destination(name, strlen(name), &dest);
    if (dest.kind == TD_DEST_NAME) memcpy(normal, dest.name, dest.name_len + 1);
    /* Numeric names are not lookups; the machine's own name is exempt. With no policy in force the
     * answers are still recorded, for a scope on another thread that connects to them. */
    if (!cfg || dest.kind == TD_DEST_IP ||
        (dest.kind == TD_DEST_NAME && td_hostname[0] && strcmp(dest.name, td_hostname) == 0)) {
        errno = saved;
        return 0;
    }
    struct judgement j;
    judge(cfg, scope, &dest, TD_ANY_PORT, NULL, 0, &j);
    lookup_allowed = j.allowed;
    if (j.allowed && !cfg->log_allowed) {
        errno = saved;
        return 0;
    }
    /* A lookup of the name this thread is already inside (reported when it began) is no new attempt. */
    int was_quiet = quiet;
    if (dest.kind == TD_DEST_NAME && td_lookup_covers(dest.name)) quiet = 1;
    int rc = conclude(cfg, &j, scope, op, "dns", dest.kind == TD_DEST_NAME ? dest.name : name, NULL, 0, -1);
    quiet = was_quiet;
    if (rc == 0) errno = saved;
    return rc;
}

/* The name a reverse lookup of ip asks (4.3.2.1.in-addr.arpa, the nibbles of ip6.arpa). */
static void reverse_name(const struct td_ip *ip, char name[TD_NAME_BUF]) {
    size_t o = 0;
    static const char hex[] = "0123456789abcdef";
    if (ip->family == 4) {
        for (int k = 3; k >= 0; k--) o += (size_t)snprintf(name + o, TD_NAME_BUF - o, "%u.", ip->bytes[k]);
        snprintf(name + o, TD_NAME_BUF - o, "in-addr.arpa");
    } else {
        for (int k = 15; k >= 0; k--) {
            name[o++] = hex[ip->bytes[k] & 15];
            name[o++] = '.';
            name[o++] = hex[ip->bytes[k] >> 4];
            name[o++] = '.';
        }
        snprintf(name + o, TD_NAME_BUF - o, "ip6.arpa");
    }
}

static int ip_of(int family, const void *addr, struct td_ip *ip) {
    if (family == AF_INET) {
        uint32_t v;
        memcpy(&v, addr, 4);
        td_ip_from_v4(ip, ntohl(v));
    } else if (family == AF_INET6) {
        td_ip_from_v6(ip, addr);
    } else {
        return -1;
    }
    return 0;
}

int td_check_reverse(int family, const void *addr, const char *op, char normal[TD_NAME_BUF]) {
    normal[0] = 0;
    struct td_ip ip;
    if (!addr || ip_of(family, addr, &ip) != 0) return 0;
    char name[TD_NAME_BUF];
    reverse_name(&ip, name);
    const struct tethered_scope *scope = td_scope_current();
    const struct td_config *cfg = config_for(scope);
    if (!cfg) {
        memcpy(normal, name, sizeof name); /* the lookup's own name, for its questions on the wire */
        return 0;
    }
    /* Loopback names come from /etc/hosts; with allowLocalhost they are no egress. */
    if (td_ip_is_localhost(&ip)) {
        struct td_dest d = {.kind = TD_DEST_IP, .ip = ip};
        struct judgement j;
        judge(cfg, scope, &d, TD_ANY_PORT, NULL, 0, &j);
        if (j.allowed) {
            memcpy(normal, name, sizeof name);
            return 0;
        }
    }
    return td_check_lookup(name, op, normal);
}

void td_record_answer(const char *name, int family, const void *addr) {
    if (!name || !name[0]) return;
    struct td_ip ip;
    if (family == 4 || family == AF_INET) {
        uint32_t v;
        memcpy(&v, addr, 4);
        td_ip_from_v4(&ip, ntohl(v));
    } else {
        td_ip_from_v6(&ip, addr);
    }
    td_hostmap_add(&ip, name);
}

int td_addrinfo_ip(const struct addrinfo *ai, struct td_ip *ip) {
    if (!ai->ai_addr) return -1;
    if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
        td_ip_from_v4(ip, ntohl(((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr));
        return 0;
    }
    if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
        td_ip_from_v6(ip, ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr.s6_addr);
        return 0;
    }
    return -1;
}

void td_record_addrinfo(const char *name, const struct addrinfo *res) {
    if (!name || !name[0] || !td_mount_ns_home()) return;
    struct td_ip ip;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (td_addrinfo_ip(ai, &ip) == 0) td_hostmap_add(&ip, name);
}

void td_record_hostent(const char *name, const struct hostent *h) {
    if (!name || !name[0] || !h || !h->h_addr_list || !td_mount_ns_home()) return;
    for (char **a = h->h_addr_list; *a; a++) {
        if (h->h_addrtype == AF_INET && h->h_length == 4) td_record_answer(name, AF_INET, *a);
        if (h->h_addrtype == AF_INET6 && h->h_length == 16) td_record_answer(name, AF_INET6, *a);
    }
}

/* A kind of socket whose traffic names no destination the policy can judge (a raw IP socket that writes
 * its own header, a packet socket): refused while a policy is in force (an event with reason `raw-socket`);
 * allowed and reported in log mode. 0, or -1 with errno EACCES. */
int td_refuse_unjudgeable(const char *op, const char *what) {
    const struct tethered_scope *scope = td_scope_current();
    const struct td_config *cfg = config_for(scope);
    if (!cfg || cfg->allow_all) return 0; /* scopes judge destinations only */
    int saved = errno;
    int block = cfg->mode == TD_MODE_ENFORCE;
    const struct td_event e = {
        .decision = block ? "block" : "would-block",
        .op = op,
        .protocol = what,
        .reason = "raw-socket",
        .port = -1,
        .with_stack = 1,
        .collector = scope ? scope->collector : 0,
    };
    if (!quiet) td_emit(cfg, &e);
    if (!block) {
        errno = saved;
        return 0;
    }
    errno = EACCES;
    return -1;
}

TETHERED_EXPORT void tethered_decide(const char *host, size_t len, int port,
                                     const struct tethered_scope *scope, int layers,
                                     struct tethered_decision *out) {
    memset(out, 0, sizeof *out);
    out->allowed = 1;
    if (!host || port < TD_ANY_PORT || port > 65535) {
        out->allowed = 0;
        out->reason = TD_REASON_INVALID;
        return;
    }
    struct td_dest dest;
    td_normalise_destination(host, len, &dest);
    if (dest.kind == TD_DEST_NAME) memcpy(out->host, dest.name, dest.name_len + 1);
    if ((layers & TETHERED_DECIDE_LOOKUP) &&
        (dest.kind == TD_DEST_IP ||
         (dest.kind == TD_DEST_NAME && td_hostname[0] && strcmp(dest.name, td_hostname) == 0))) {
        out->exempt = 1;
        return;
    }
    const struct tethered_scope *chain = (layers & TETHERED_DECIDE_SCOPES) ? scope : NULL;
    const struct td_config *cfg = td_config();
    int without_policy = !(layers & TETHERED_DECIDE_POLICY);
    if (!cfg) {
        if (!chain) return; /* nothing judges */
        cfg = &td_scopes_only;
        without_policy = 1;
    }
    struct judgement j;
    judge_layers(cfg, without_policy, chain, &dest, port, NULL, 0, &j);
    out->reason = (int)j.v.reason;
    if (j.allowed) {
        if (j.v.rule) snprintf(out->rule, sizeof out->rule, "%s", j.v.rule->text);
        return;
    }
    out->allowed = 0;
    out->log_only = j.layer->mode == TD_MODE_LOG;
    out->scope = j.by ? j.by->id : 0;
    /* a broken policy (no rules compiled) refuses without a verdict of its own */
    int judged = j.layer->policy || j.layer->allow_all || j.by;
    if (!judged) {
        out->reason = TD_REASON_NO_RULE;
        return;
    }
    if (j.v.rule) {
        snprintf(out->rule, sizeof out->rule, "%s", j.v.rule->text);
    } else if (j.v.reason == TD_REASON_NO_RULE) {
        char ip[48];
        if (dest.kind == TD_DEST_IP) td_ip_format(&dest.ip, ip);
        suggestion(dest.kind == TD_DEST_NAME ? dest.name : NULL, ip, dest.ip.family, port, out->rule,
                   sizeof out->rule);
    }
}
