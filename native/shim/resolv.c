/* DNS through libresolv (res_query and friends, and their res_n* forms): programs that build their own
 * queries. The name is judged before anything is sent; res_send/res_nsend read it from the query packet.
 * A refused call returns -1 with h_errno (and the resolver state's res_h_errno) NO_RECOVERY and errno
 * EACCES. Allowed answers are recorded, so that the connect that follows is judged by name. */
#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

/* Older <resolv.h> renames these to __res_*; both names are defined below. */
#undef res_query
#undef res_search
#undef res_querydomain
#undef res_send
#undef res_nquery
#undef res_nsearch
#undef res_nquerydomain
#undef res_nsend

static int refuse(res_state state) {
    h_errno = NO_RECOVERY;
    if (state) state->res_h_errno = NO_RECOVERY;
    errno = EACCES;
    return -1;
}

static int answered(const char *normal, int rc, const unsigned char *answer) {
    if (rc > 0 && answer) td_dns_record_answers(normal, answer, (size_t)rc);
    return rc;
}

/* "name.domain", the way res_querydomain joins them. */
static void joined(const char *name, const char *domain, char *out, size_t cap) {
    if (domain && *domain)
        snprintf(out, cap, "%s.%s", name ? name : "", domain);
    else
        snprintf(out, cap, "%s", name ? name : "");
}

static int res_query_hook(const char *dname, int class, int type, unsigned char *answer, int anslen) {
    if (!td_real.res_query) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(dname, "res_query", normal) != 0) return refuse(NULL);
    return answered(normal, TD_IN_LOOKUP(normal, td_real.res_query(dname, class, type, answer, anslen)),
                    answer);
}

static int res_search_hook(const char *dname, int class, int type, unsigned char *answer, int anslen) {
    if (!td_real.res_search) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(dname, "res_search", normal) != 0) return refuse(NULL);
    return answered(normal, TD_IN_LOOKUP(normal, td_real.res_search(dname, class, type, answer, anslen)),
                    answer);
}

static int res_querydomain_hook(const char *name, const char *domain, int class, int type,
                                unsigned char *answer, int anslen) {
    if (!td_real.res_querydomain) td_resolve_real();
    char full[TD_NAME_BUF * 2], normal[TD_NAME_BUF];
    joined(name, domain, full, sizeof full);
    if (td_check_lookup(full, "res_querydomain", normal) != 0) return refuse(NULL);
    return answered(normal,
                    TD_IN_LOOKUP(normal, td_real.res_querydomain(name, domain, class, type, answer, anslen)),
                    answer);
}

/* Judges every question of the packet (the first one's name is the lookup's, in *normal); a packet that is
 * no plain query is judged as a lookup of an invalid name. res_send reads the packet again later, so
 * another thread could rewrite it in between: its questions on the wire are judged again there (those for
 * the name judged here pass as part of this lookup). */
static int check_packet(const unsigned char *msg, int len, const char *op, char normal[TD_NAME_BUF]) {
    normal[0] = 0;
    if (!td_active()) return 0;
    int count = len > 0 ? td_dns_query_questions(msg, (size_t)len) : -1;
    if (count < 0) return td_check_lookup("", op, normal) == 0 ? 0 : -1;
    for (int i = count - 1; i >= 0; i--) {
        char name[TD_NAME_BUF];
        if (td_dns_nth_question(msg, (size_t)len, i, name) < 0) name[0] = 0;
        if (td_check_lookup(name, op, normal) != 0) return -1;
    }
    return 0;
}

static int res_send_hook(const unsigned char *msg, int msglen, unsigned char *answer, int anslen) {
    if (!td_real.res_send) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (check_packet(msg, msglen, "res_send", normal) != 0) return refuse(NULL);
    return answered(normal, TD_IN_LOOKUP(normal, td_real.res_send(msg, msglen, answer, anslen)), answer);
}

static int res_nquery_hook(res_state state, const char *dname, int class, int type, unsigned char *answer,
                           int anslen) {
    if (!td_real.res_nquery) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(dname, "res_nquery", normal) != 0) return refuse(state);
    return answered(
        normal, TD_IN_LOOKUP(normal, td_real.res_nquery(state, dname, class, type, answer, anslen)), answer);
}

static int res_nsearch_hook(res_state state, const char *dname, int class, int type, unsigned char *answer,
                            int anslen) {
    if (!td_real.res_nsearch) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (td_check_lookup(dname, "res_nsearch", normal) != 0) return refuse(state);
    return answered(
        normal, TD_IN_LOOKUP(normal, td_real.res_nsearch(state, dname, class, type, answer, anslen)), answer);
}

static int res_nquerydomain_hook(res_state state, const char *name, const char *domain, int class, int type,
                                 unsigned char *answer, int anslen) {
    if (!td_real.res_nquerydomain) td_resolve_real();
    char full[TD_NAME_BUF * 2], normal[TD_NAME_BUF];
    joined(name, domain, full, sizeof full);
    if (td_check_lookup(full, "res_nquerydomain", normal) != 0) return refuse(state);
    return answered(
        normal,
        TD_IN_LOOKUP(normal, td_real.res_nquerydomain(state, name, domain, class, type, answer, anslen)),
        answer);
}

static int res_nsend_hook(res_state state, const unsigned char *msg, int msglen, unsigned char *answer,
                          int anslen) {
    if (!td_real.res_nsend) td_resolve_real();
    char normal[TD_NAME_BUF];
    if (check_packet(msg, msglen, "res_nsend", normal) != 0) return refuse(state);
    return answered(normal, TD_IN_LOOKUP(normal, td_real.res_nsend(state, msg, msglen, answer, anslen)),
                    answer);
}

/* Both names of each function: the res_* ones, and the __res_* ones programs built against glibc before
 * 2.34 (or with the <resolv.h> macros) call (aliases of the same hook). */
TETHERED_EXPORT int res_query(const char *d, int c, int t, unsigned char *a, int l) {
    return res_query_hook(d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_query, res_query);
TETHERED_EXPORT int res_search(const char *d, int c, int t, unsigned char *a, int l) {
    return res_search_hook(d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_search, res_search);
TETHERED_EXPORT int res_querydomain(const char *n, const char *d, int c, int t, unsigned char *a, int l) {
    return res_querydomain_hook(n, d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_querydomain, res_querydomain);
TETHERED_EXPORT int res_send(const unsigned char *m, int ml, unsigned char *a, int l) {
    return res_send_hook(m, ml, a, l);
}
TD_EXPORT_ALIAS(__res_send, res_send);
TETHERED_EXPORT int res_nquery(res_state s, const char *d, int c, int t, unsigned char *a, int l) {
    return res_nquery_hook(s, d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_nquery, res_nquery);
TETHERED_EXPORT int res_nsearch(res_state s, const char *d, int c, int t, unsigned char *a, int l) {
    return res_nsearch_hook(s, d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_nsearch, res_nsearch);
TETHERED_EXPORT int res_nquerydomain(res_state s, const char *n, const char *d, int c, int t,
                                     unsigned char *a, int l) {
    return res_nquerydomain_hook(s, n, d, c, t, a, l);
}
TD_EXPORT_ALIAS(__res_nquerydomain, res_nquerydomain);
TETHERED_EXPORT int res_nsend(res_state s, const unsigned char *m, int ml, unsigned char *a, int l) {
    return res_nsend_hook(s, m, ml, a, l);
}
TD_EXPORT_ALIAS(__res_nsend, res_nsend);
