/* Name lookups through the C library: getaddrinfo, getaddrinfo_a, the gethostbyname family, and reverse
 * lookups (getnameinfo, gethostbyaddr). A name no rule allows is refused before anything is sent:
 *
 *   getaddrinfo, getaddrinfo_a   EAI_FAIL                  (errno EACCES)
 *   gethostbyname, …2            NULL, h_errno NO_RECOVERY (errno EACCES)
 *   gethostbyname_r, …2_r        returns EACCES, *result NULL, *h_errnop NO_RECOVERY
 *   gethostbyaddr                NULL, h_errno NO_RECOVERY; gethostbyaddr_r as gethostbyname_r
 *   getnameinfo                  the numeric host instead (no query), or EAI_FAIL with NI_NAMEREQD
 *
 * An allowed lookup records its answers under the name, so the connect that follows is judged by name. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

TETHERED_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                                struct addrinfo **res) {
    if (!td_real.getaddrinfo) td_resolve_real();
    char normal[TD_NAME_BUF];
    int numeric = hints && (hints->ai_flags & AI_NUMERICHOST);
    /* An empty name is no lookup: libc's own answer, with nothing judged or sent */
    if (node && !*node) return EAI_NONAME;
    if (node && !numeric && td_check_lookup(node, "getaddrinfo", normal) != 0) return EAI_FAIL;
    if (!node || numeric) return td_real.getaddrinfo(node, service, hints, res);
    int rc = TD_IN_LOOKUP(normal, td_real.getaddrinfo(node, service, hints, res));
    if (rc == 0 && res) td_record_addrinfo(normal, *res);
    return rc;
}

TETHERED_EXPORT struct hostent *gethostbyname(const char *name) {
    if (!td_real.gethostbyname) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(name, "gethostbyname", normal) != 0) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    struct hostent *h = TD_IN_LOOKUP(normal, td_real.gethostbyname(name));
    td_record_hostent(normal, h);
    return h;
}

TETHERED_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
    if (!td_real.gethostbyname2) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(name, "gethostbyname2", normal) != 0) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    struct hostent *h = TD_IN_LOOKUP(normal, td_real.gethostbyname2(name, af));
    td_record_hostent(normal, h);
    return h;
}

static int refuse_r(struct hostent **result, int *h_errnop) {
    if (result) *result = NULL;
    if (h_errnop) *h_errnop = NO_RECOVERY;
    errno = EACCES;
    return EACCES;
}

TETHERED_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                                    struct hostent **result, int *h_errnop) {
    if (!td_real.gethostbyname_r) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(name, "gethostbyname_r", normal) != 0) return refuse_r(result, h_errnop);
    int rc = TD_IN_LOOKUP(normal, td_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop));
    if (rc == 0 && result) td_record_hostent(normal, *result);
    return rc;
}

TETHERED_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                                     struct hostent **result, int *h_errnop) {
    if (!td_real.gethostbyname2_r) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(name, "gethostbyname2_r", normal) != 0) return refuse_r(result, h_errnop);
    int rc = TD_IN_LOOKUP(normal, td_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop));
    if (rc == 0 && result) td_record_hostent(normal, *result);
    return rc;
}

TETHERED_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
    if (!td_real.gethostbyaddr) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_reverse(type, len >= 4 ? addr : NULL, "gethostbyaddr", normal) != 0) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    return TD_IN_LOOKUP(normal, td_real.gethostbyaddr(addr, len, type));
}

TETHERED_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                                    size_t buflen, struct hostent **result, int *h_errnop) {
    if (!td_real.gethostbyaddr_r) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_reverse(type, len >= 4 ? addr : NULL, "gethostbyaddr_r", normal) != 0)
        return refuse_r(result, h_errnop);
    return TD_IN_LOOKUP(normal, td_real.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop));
}

TETHERED_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                                char *serv, socklen_t servlen, int flags) {
    if (!td_real.getnameinfo) td_resolve_real();
    char normal[TD_NAME_BUF] = "";
    if (host && hostlen && !(flags & NI_NUMERICHOST) && sa) {
        const void *addr = NULL;
        if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in))
            addr = &((const struct sockaddr_in *)sa)->sin_addr;
        if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6))
            addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (addr && td_check_reverse(sa->sa_family, addr, "getnameinfo", normal) != 0) {
            if (flags & NI_NAMEREQD) return EAI_FAIL;
            /* What getnameinfo itself answers when the lookup finds nothing: the address. */
            return td_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
        }
    }
    return TD_IN_LOOKUP(normal, td_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags));
}

struct notify {
    void (*fn)(union sigval);
    union sigval value;
};

static void *notify_thread(void *arg) {
    struct notify job = *(struct notify *)arg;
    free(arg);
    job.fn(job.value);
    return NULL;
}

/* The requests this process gave getaddrinfo_a, with the name each was judged by (copied then). Only such a
 * request's answer is recorded when the program asks after it (gai_error): a request the program made up,
 * or whose name it changed since, vouches for nothing. The oldest is forgotten when all are taken (its
 * answer then counts only if it came over DNS, which the wire hooks read). */
#define GAI_KEPT 512
static struct {
    const struct gaicb *req;
    char name[TD_NAME_BUF];
} gai_kept[GAI_KEPT];
static unsigned gai_next;
static pthread_mutex_t gai_lock = PTHREAD_MUTEX_INITIALIZER;

static void gai_keep(const struct gaicb *req, const char *normal) {
    pthread_mutex_lock(&gai_lock);
    int at = -1;
    for (int i = 0; i < GAI_KEPT && at < 0; i++)
        if (gai_kept[i].req == req) at = i; /* the same request again: its new name */
    if (at < 0) at = (int)(gai_next++ % GAI_KEPT);
    gai_kept[at].req = req;
    snprintf(gai_kept[at].name, sizeof gai_kept[at].name, "%s", normal);
    pthread_mutex_unlock(&gai_lock);
}

/* The name `req` was judged by, once: 1 when it was one of ours (then forgotten). */
static int gai_take(const struct gaicb *req, char name[TD_NAME_BUF]) {
    int found = 0;
    pthread_mutex_lock(&gai_lock);
    for (int i = 0; i < GAI_KEPT && !found; i++) {
        if (gai_kept[i].req != req) continue;
        memcpy(name, gai_kept[i].name, TD_NAME_BUF);
        gai_kept[i].req = NULL;
        found = 1;
    }
    pthread_mutex_unlock(&gai_lock);
    return found;
}

/* getaddrinfo_a: each request is judged. Refused requests are answered at once (gai_error gives EAI_FAIL);
 * the rest go to the real function, which signals completion. If every request was refused, completion is
 * signalled here, the way glibc would (a signal or a thread). */
TETHERED_EXPORT int getaddrinfo_a(int mode, struct gaicb *list[], int nitems, struct sigevent *sevp) {
    if (!td_real.getaddrinfo_a) td_resolve_real();
    if (!td_real.getaddrinfo_a) return EAI_SYSTEM;
    if (nitems <= 0 || !list) return td_real.getaddrinfo_a(mode, list, nitems, sevp);
    struct gaicb *allowed[nitems];
    int n = 0;
    for (int i = 0; i < nitems; i++) {
        struct gaicb *g = list[i];
        if (!g) continue;
        char normal[TD_NAME_BUF];
        int numeric = g->ar_request && (g->ar_request->ai_flags & AI_NUMERICHOST);
        if (g->ar_name && !numeric && td_check_lookup(g->ar_name, "getaddrinfo_a", normal) != 0) {
            g->ar_result = NULL;
            g->__return = EAI_FAIL;
            continue;
        }
        /* A libc thread asks later: its questions for this name are part of this lookup (reported once),
         * and a name the program writes into the request after this check is judged on the wire. */
        if (g->ar_name && !numeric) {
            td_dns_expect(normal, td_lookup_allowed()); /* (normal is written only for a judged name) */
            gai_keep(g, normal);
        }
        allowed[n++] = g;
    }
    if (n > 0) return td_real.getaddrinfo_a(mode, allowed, n, sevp);
    if (mode == GAI_NOWAIT && sevp) {
        if (sevp->sigev_notify == SIGEV_SIGNAL) {
            sigqueue(getpid(), sevp->sigev_signo, sevp->sigev_value);
        } else if (sevp->sigev_notify == SIGEV_THREAD && sevp->sigev_notify_function) {
            struct notify *job = malloc(sizeof *job);
            pthread_t thread;
            if (job) {
                job->fn = sevp->sigev_notify_function;
                job->value = sevp->sigev_value;
                if (pthread_create(&thread, NULL, notify_thread, job) == 0)
                    pthread_detach(thread);
                else
                    free(job);
            }
        }
    }
    return 0;
}

/* Is every address in res already recorded under name (its DNS answer, read off the wire as it came)? */
static int all_recorded(const char *name, const struct addrinfo *res) {
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        struct td_ip ip;
        if (td_addrinfo_ip(ai, &ip) != 0) continue;
        char names[TD_HOSTMAP_NAMES][TD_NAME_BUF];
        size_t n = td_hostmap_names(&ip, names), k = 0;
        while (k < n && strcmp(names[k], name) != 0) k++;
        if (k == n) return 0;
    }
    return 1;
}

/* The answers of getaddrinfo_a arrive later, in memory the program can write: what the request's result
 * says is never recorded as it is. An answer that came over DNS was recorded by the wire hooks as it
 * arrived; when the result holds an address that was not (an /etc/hosts answer, or one the program put
 * there), the name is looked up once more here, outside any scope, and that answer is recorded. */
TETHERED_EXPORT int gai_error(struct gaicb *req) {
    if (!td_real.gai_error) td_resolve_real();
    if (!td_real.gai_error) return EAI_SYSTEM;
    int rc = td_real.gai_error(req);
    char name[TD_NAME_BUF];
    if (rc == 0 && req && td_real.getaddrinfo && gai_take(req, name)) {
        int saved = errno;
        /* inside a scope the lookup's own judgement was the scope's: no second lookup speaks for it */
        if (!all_recorded(name, req->ar_result) && !td_scope_current()) {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
            if (TD_IN_LOOKUP(name, td_real.getaddrinfo(name, NULL, &hints, &res)) == 0 && res) {
                td_record_addrinfo(name, res);
                freeaddrinfo(res);
            }
        }
        errno = saved;
    }
    return rc;
}
