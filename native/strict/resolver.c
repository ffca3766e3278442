/* The supervisor's own small resolver, so that DNS is judged by the names it asks (docs/strict-mode.md,
 * Names).
 *
 * A connected socket to port 53 of one of the target's name servers (its own /etc/resolv.conf) is
 * connected to this resolver instead: a UDP and a TCP socket on loopback in the supervisor. Whatever the
 * target then writes to it — with write(), which no filter sees, as Go's resolver does — arrives here as a
 * message. Each must be a plain query with exactly one question (dns.c, the shim's parser); its name is
 * judged like a lookup; a refused one is answered REFUSED and never leaves. An allowed one is forwarded
 * from the supervisor's own socket to the name server the target asked for, and the answer goes back to
 * the target and into the map of names per address (names.c), so that the connect that follows is judged
 * by name.
 *
 * Only answers the supervisor itself received from the name server are recorded: what arrives at the
 * resolver's sockets is only ever a question (a response sent there is refused like any non-query), and the
 * socket that asks upstream is connected to the name server (the kernel drops datagrams from anyone else)
 * and takes only a reply with the query's id and question.
 *
 * Which name server a message is for: when the supervisor connects the target's socket here it notes the
 * socket's local port (and the target thread, for events) under that port; a message from a port noted for
 * none is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../shim/shim.h"
#include "strict.h"

#define DNS_PORT 53
#define MSG_MAX 65535
#define UPSTREAM_MS 5000 /* how long a forwarded query waits for its answer */
#define SHADOW_MS 1500   /* how long a datagram sent with an address waits for the supervisor's own asking */
#define IDLE_MS 10000    /* how long a TCP connection may sit without a whole message */
#define MAX_BUSY 128     /* queries and connections handled at once; more are dropped */

enum { UDP, TCP };
enum { V4, V6 };

struct route {
    struct td_ip server;
    int tid;
    int record; /* a name server of the target's resolv.conf: its answers are recorded */
    int used;
};

static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route routes[2][2][65536]; /* [UDP/TCP][family of the resolver socket][client port] */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int sock[2][2] = {{-1, -1}, {-1, -1}}; /* [UDP/TCP][V4/V6] */
static int port_of_sock[2][2];
static atomic_int busy;

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- messages ---- */

/* The end of a query's first question (uncompressed, as every resolver writes it), or 0. */
static size_t question_end(const unsigned char *msg, size_t n) {
    size_t at = 12;
    while (at < n && msg[at] != 0) {
        if (msg[at] & 0xc0) return 0;
        at += 1 + (size_t)msg[at];
    }
    return at + 5 <= n ? at + 5 : 0;
}

/* A REFUSED answer to `q` (its id and question echoed, so the resolver takes it as the answer): its length,
 * or 0 when q is too broken to answer. */
static size_t refused(const unsigned char *q, size_t n, unsigned char *out) {
    if (n < 12) return 0;
    size_t end = ((unsigned)q[4] << 8 | q[5]) == 1 ? question_end(q, n) : 0;
    memcpy(out, q, 12);
    out[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, the opcode and RD as asked */
    out[3] = 0x80 | 5;                              /* RA, REFUSED */
    memset(out + 4, 0, 8);
    if (end) {
        out[5] = 1;
        memcpy(out + 12, q + 12, end - 12);
        return end;
    }
    return 12;
}

/* Judges a message sent to a name server: one question, a plain query (else it is judged as a lookup of
 * no valid name). Returns 1 to forward it. *name receives the question ("" for none). */
static int judge_query(const struct ts_call *call, const unsigned char *q, size_t n, char name[TD_NAME_BUF]) {
    name[0] = 0;
    if (td_dns_query_questions(q, n) != 1 || td_dns_nth_question(q, n, 0, name) < 0) name[0] = 0;
    return ts_judge_name(call, name);
}

/* ---- asking the name server ---- */

static int server_address(const struct td_ip *ip, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    if (ip->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(DNS_PORT);
        memcpy(&in->sin_addr, ip->bytes, 4);
        *len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(DNS_PORT);
        memcpy(&in6->sin6_addr, ip->bytes, 16);
        *len = sizeof *in6;
    }
    return ss->ss_family;
}

static int wait_for(int fd, short events, long long deadline) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, (int)left) == 1 && !(p.revents & POLLNVAL);
}

/* Reads exactly n bytes of a stream before the deadline: 0, or -1. */
static int read_all(int fd, unsigned char *buf, size_t n, long long deadline) {
    for (size_t at = 0; at < n;) {
        if (!wait_for(fd, POLLIN, deadline)) return -1;
        ssize_t r = read(fd, buf + at, n - at);
        if (r <= 0) return -1;
        at += (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const unsigned char *buf, size_t n, long long deadline) {
    for (size_t at = 0; at < n;) {
        if (!wait_for(fd, POLLOUT, deadline)) return -1;
        ssize_t w = send(fd, buf + at, n - at, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        at += (size_t)w;
    }
    return 0;
}

/* Is `r` the answer to `q`: a response with its id and its question (name, type, class), byte for byte? */
static int answers(const unsigned char *q, size_t qn, const unsigned char *r, size_t rn) {
    size_t end = question_end(q, qn);
    return end && rn >= end && (r[2] & 0x80) && memcmp(r, q, 2) == 0 && r[4] == q[4] && r[5] == q[5] &&
           memcmp(r + 12, q + 12, end - 12) == 0;
}

/* Sends the query to the name server over UDP or TCP and waits for its answer (wait_ms at most): the
 * answer's length in `out`, or -1. With `record`, the answer's A and AAAA records are recorded under `name`.
 */
static ssize_t ask(const struct td_ip *server, int proto, int record, const char *name,
                   const unsigned char *q, size_t n, unsigned char *out, int wait_ms) {
    struct sockaddr_storage ss;
    socklen_t len;
    int family = server_address(server, &ss, &len);
    int fd = socket(family, (proto == TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    long long deadline = now_ms() + wait_ms;
    ssize_t got = -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) goto done;
    if (proto == UDP) {
        if (send(fd, q, n, MSG_NOSIGNAL) != (ssize_t)n) goto done;
        while (wait_for(fd, POLLIN, deadline)) {
            ssize_t r = recv(fd, out, MSG_MAX, 0);
            if (r < 0 && errno != EAGAIN && errno != EINTR) goto done;
            if (r > 0 && answers(q, n, out, (size_t)r)) {
                got = r;
                break;
            }
        }
    } else {
        unsigned char head[2] = {(unsigned char)(n >> 8), (unsigned char)n};
        if (!wait_for(fd, POLLOUT, deadline) || write_all(fd, head, 2, deadline) != 0 ||
            write_all(fd, q, n, deadline) != 0 || read_all(fd, head, 2, deadline) != 0)
            goto done;
        size_t rn = (size_t)head[0] << 8 | head[1];
        if (read_all(fd, out, rn, deadline) == 0 && answers(q, n, out, rn)) got = (ssize_t)rn;
    }
    if (got > 0 && record && name[0] && (out[3] & 0x0f) == 0) td_dns_record_answers(name, out, (size_t)got);
done:
    close(fd);
    return got;
}

/* The answer to a message that came from client port `port` of resolver socket [proto][fam]: its length in
 * out, or 0 to send nothing (the client's resolver times out, as when a server is silent). */
static size_t handle(int proto, int fam, int port, const unsigned char *q, size_t n, unsigned char *out) {
    pthread_mutex_lock(&routes_lock);
    struct route r = routes[proto][fam][port];
    pthread_mutex_unlock(&routes_lock);
    struct ts_call call = {"dns-query", r.used ? r.tid : 0, proto == UDP};
    char name[TD_NAME_BUF];
    if (!r.used || !judge_query(&call, q, n, name)) return refused(q, n, out);
    ssize_t got = ask(&r.server, proto, r.record, name, q, n, out, UPSTREAM_MS);
    return got > 0 ? (size_t)got : 0;
}

/* ---- serving ---- */

struct datagram {
    int fam;
    struct sockaddr_storage from;
    socklen_t fromlen;
    size_t n;
    unsigned char msg[];
};

static int client_port(const struct sockaddr_storage *ss) {
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                    : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void *serve_datagram(void *arg) {
    struct datagram *d = arg;
    unsigned char *out = malloc(MSG_MAX);
    size_t n = out ? handle(UDP, d->fam, client_port(&d->from), d->msg, d->n, out) : 0;
    if (n) sendto(sock[UDP][d->fam], out, n, MSG_NOSIGNAL, (struct sockaddr *)&d->from, d->fromlen);
    free(out);
    free(d);
    atomic_fetch_sub(&busy, 1);
    return NULL;
}

struct stream {
    int fam, fd, port;
};

static void *serve_stream(void *arg) {
    struct stream *s = arg;
    unsigned char *q = malloc(MSG_MAX), *out = malloc(MSG_MAX + 2);
    unsigned char head[2];
    while (q && out && read_all(s->fd, head, 2, now_ms() + IDLE_MS) == 0) {
        size_t n = (size_t)head[0] << 8 | head[1];
        if (read_all(s->fd, q, n, now_ms() + IDLE_MS) != 0) break;
        size_t m = handle(TCP, s->fam, s->port, q, n, out + 2);
        if (!m) break; /* no answer: the client sees the connection close */
        out[0] = (unsigned char)(m >> 8);
        out[1] = (unsigned char)m;
        if (write_all(s->fd, out, m + 2, now_ms() + IDLE_MS) != 0) break;
    }
    free(q);
    free(out);
    close(s->fd);
    free(s);
    atomic_fetch_sub(&busy, 1);
    return NULL;
}

static int spawn(void *(*fn)(void *), void *arg) {
    if (atomic_fetch_add(&busy, 1) >= MAX_BUSY) {
        atomic_fetch_sub(&busy, 1);
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) atomic_fetch_sub(&busy, 1);
    return rc ? -1 : 0;
}

static void *serve(void *arg) {
    (void)arg;
    unsigned char *buf = malloc(MSG_MAX);
    struct pollfd p[4];
    int kind[4][2], np = 0;
    for (int proto = 0; proto < 2; proto++)
        for (int fam = 0; fam < 2; fam++)
            if (sock[proto][fam] >= 0) {
                p[np] = (struct pollfd){sock[proto][fam], POLLIN, 0};
                kind[np][0] = proto;
                kind[np++][1] = fam;
            }
    while (buf) {
        if (poll(p, (nfds_t)np, -1) < 0) continue;
        for (int i = 0; i < np; i++) {
            if (!(p[i].revents & POLLIN)) continue;
            int proto = kind[i][0], fam = kind[i][1];
            if (proto == UDP) {
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof from;
                ssize_t n = recvfrom(p[i].fd, buf, MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
                if (n <= 0) continue;
                struct datagram *d = malloc(sizeof *d + (size_t)n);
                if (!d) continue;
                *d = (struct datagram){.fam = fam, .from = from, .fromlen = fromlen, .n = (size_t)n};
                memcpy(d->msg, buf, (size_t)n);
                if (spawn(serve_datagram, d) != 0) free(d);
            } else {
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof from;
                int fd = accept4(p[i].fd, (struct sockaddr *)&from, &fromlen, SOCK_CLOEXEC);
                if (fd < 0) continue;
                struct stream *s = malloc(sizeof *s);
                if (s) *s = (struct stream){fam, fd, client_port(&from)};
                if (!s || spawn(serve_stream, s) != 0) {
                    close(fd);
                    free(s);
                }
            }
        }
    }
    return NULL;
}

static void start(void) {
    for (int proto = 0; proto < 2; proto++) {
        for (int fam = 0; fam < 2; fam++) {
            int domain = fam == V4 ? AF_INET : AF_INET6;
            int fd = socket(domain, (proto == TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
            if (fd < 0) continue;
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof ss);
            socklen_t len;
            if (fam == V4) {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof *in;
            } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_loopback;
                len = sizeof *in6;
            }
            if (bind(fd, (struct sockaddr *)&ss, len) != 0 || (proto == TCP && listen(fd, 64) != 0) ||
                getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
                close(fd);
                continue;
            }
            sock[proto][fam] = fd;
            port_of_sock[proto][fam] = client_port(&ss);
        }
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, serve, NULL) != 0)
        for (int i = 0; i < 4; i++) sock[i / 2][i % 2] = -1; /* nothing serves: connects to it fail */
    pthread_attr_destroy(&attr);
}

/* ---- the supervisor's side ---- */

int ts_resolver_redirect(int domain, int type, const struct td_ip *server, struct sockaddr_storage *to,
                         socklen_t *tolen) {
    pthread_once(&once, start);
    int proto = type == SOCK_STREAM ? TCP : UDP;
    int fam = server->family == 4 ? V4 : V6;
    if (sock[proto][fam] < 0 || (domain == AF_INET && fam == V6)) return -1;
    memset(to, 0, sizeof *to);
    int port = port_of_sock[proto][fam];
    if (domain == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)to;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *tolen = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)to;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (fam == V6) {
            in6->sin6_addr = in6addr_loopback;
        } else { /* ::ffff:127.0.0.1 */
            in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
            in6->sin6_addr.s6_addr[12] = 127;
            in6->sin6_addr.s6_addr[15] = 1;
        }
        *tolen = sizeof *in6;
    }
    return 0;
}

void ts_resolver_note(int fd, int type, const struct td_ip *server, int record, int tid) {
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return;
    int port = client_port(&local);
    pthread_mutex_lock(&routes_lock);
    routes[type == SOCK_STREAM ? TCP : UDP][server->family == 4 ? V4 : V6][port] =
        (struct route){*server, tid, record, 1};
    pthread_mutex_unlock(&routes_lock);
}

int ts_resolver_datagram(const struct ts_call *call, const struct td_ip *server, int record,
                         const unsigned char *q, size_t n) {
    char name[TD_NAME_BUF];
    if (!judge_query(call, q, n, name)) return 0;
    /* The answer goes to the target's own socket, which the supervisor does not read: it asks the same
     * question itself first, so the answer is recorded before the target can have it. The target's call
     * waits for that (a little: a silent server must not hold a non-blocking send for long). */
    unsigned char *out = record && name[0] ? malloc(MSG_MAX) : NULL;
    if (out) ask(server, UDP, record, name, q, n, out, SHADOW_MS);
    free(out);
    return 1;
}
