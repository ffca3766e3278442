/* The C library's resolver under strict mode (linked statically, so no shim is in the picture):
 *
 *   resolveprobe dial NAME PORT MARKER
 *       getaddrinfo(NAME) (glibc's own DNS client, or /etc/hosts), connects to the first address, sends
 *       MARKER and prints "ok <answer>"; or "error EACCES", "error resolve <gai error>", "error <errno>".
 *   resolveprobe poison NAMESERVER NAME IP PORT MARKER
 *       tries to teach the supervisor that NAME resolved to IP by sending a forged answer to the name
 *       server (with write() on a connected socket, and with sendto()), then connects to IP:PORT by address
 *       and sends MARKER: prints "write <result> sendto <result> connect <ok|error ...>".
 *   resolveprobe chroot DIR IP PORT MARKER
 *       unshare(CLONE_NEWUSER) and chroot(DIR) ("-": no chroot, the user namespace only), so that DIR's
 *       etc/hosts is its /etc/hosts, then connects to IP:PORT by address and sends MARKER: prints
 *       "ok <answer>" or "error EACCES" / "error <errno>".
 *   resolveprobe chroot-dial DIR NAME PORT MARKER
 *       the same, then does what dial does (DIR's etc/resolv.conf is then its resolv.conf). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int talk(int fd, const char *marker) {
    char line[256];
    snprintf(line, sizeof line, "%s\n", marker);
    if (write(fd, line, strlen(line)) < 0) return -1;
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(fd, line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    printf("ok %s\n", line);
    return 0;
}

static void report_errno(const char *what, int e) {
    printf("%s%serror %s", what, *what ? " " : "", e == EACCES ? "EACCES" : strerror(e));
}

static int dial(const char *name, const char *port, const char *marker) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0) {
        printf("error resolve %s\n", rc == EAI_NONAME  ? "EAI_NONAME"
                                     : rc == EAI_AGAIN ? "EAI_AGAIN"
                                                       : gai_strerror(rc));
        return 0;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        report_errno("", errno);
        printf("\n");
    } else {
        talk(fd, marker);
    }
    close(fd);
    freeaddrinfo(res);
    return 0;
}

/* A response claiming NAME has address IP (id 0x4242, one question, one answer). */
static size_t forged_answer(const char *name, const char *ip, unsigned char *out) {
    unsigned char *p = out;
    static const unsigned char head[12] = {0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    memcpy(p, head, 12);
    p += 12;
    for (const char *s = name; *s;) {
        size_t len = strcspn(s, ".");
        *p++ = (unsigned char)len;
        memcpy(p, s, len);
        p += len;
        s += len + (s[len] == '.');
    }
    *p++ = 0;
    static const unsigned char qtail[4] = {0, 1, 0, 1};
    memcpy(p, qtail, 4);
    p += 4;
    static const unsigned char rr[12] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
    memcpy(p, rr, 12);
    p += 12;
    inet_pton(AF_INET, ip, p);
    p += 4;
    return (size_t)(p - out);
}

static int dial_address(const char *ip, const char *port, const char *marker) {
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, ip, &peer.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&peer, sizeof peer) != 0) {
        report_errno("", errno);
        printf("\n");
    } else {
        talk(fd, marker);
    }
    close(fd);
    return 0;
}

static int poison(const char *ns, const char *name, const char *ip, const char *port, const char *marker) {
    unsigned char msg[512];
    size_t n = forged_answer(name, ip, msg);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, ns, &to.sin_addr);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(u, (struct sockaddr *)&to, sizeof to) != 0)
        report_errno("write", errno);
    else if (write(u, msg, n) != (ssize_t)n)
        report_errno("write", errno);
    else
        printf("write sent");
    close(u);
    u = socket(AF_INET, SOCK_DGRAM, 0);
    if (sendto(u, msg, n, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)n)
        report_errno(" sendto", errno);
    else
        printf(" sendto sent");
    close(u);
    usleep(200000); /* whatever the supervisor would do with it, it has done */
    printf(" connect ");
    fflush(stdout);
    return dial_address(ip, port, marker);
}

/* A tree of the program's own, as an unprivileged program makes one: a user namespace, then chroot. */
static int enter(const char *dir) {
    if (unshare(CLONE_NEWUSER) != 0 || (strcmp(dir, "-") != 0 && (chroot(dir) != 0 || chdir("/") != 0))) {
        report_errno("setup", errno);
        printf("\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 5 && strcmp(argv[1], "dial") == 0) return dial(argv[2], argv[3], argv[4]);
    if (argc == 7 && strcmp(argv[1], "poison") == 0)
        return poison(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 6 && strcmp(argv[1], "chroot") == 0)
        return enter(argv[2]) ? 0 : dial_address(argv[3], argv[4], argv[5]);
    if (argc == 6 && strcmp(argv[1], "chroot-dial") == 0)
        return enter(argv[2]) ? 0 : dial(argv[3], argv[4], argv[5]);
    fprintf(
        stderr,
        "usage: resolveprobe dial NAME PORT MARKER | poison NAMESERVER NAME IP PORT MARKER | chroot DIR IP "
        "PORT MARKER | chroot-dial DIR NAME PORT MARKER\n");
    return 2;
}
