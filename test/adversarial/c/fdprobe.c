/* What a program may do to its own descriptors while the shim writes events, for the log-sink tests.
 * Prints one line per step on stdout:
 *
 *   fdprobe close2-socket IP PORT BLOCKED_IP PORT
 *       close(2), connect a TCP socket to IP:PORT (it takes fd 2: "fd 2"), try a connect to BLOCKED_IP
 *       ("blocked EACCES" or "connected"), then write "program-bytes\n" through fd 2 and close it.
 *   fdprobe dup2-over-log LOG IP PORT BLOCKED_IP PORT
 *       connect to IP:PORT, dup2() that socket over every descriptor open on the file LOG ("replaced N"),
 *       try BLOCKED_IP, write "program-bytes\n" on the socket.
 *   fdprobe reader-gone BLOCKED_IP PORT [self]
 *       wait until fd 2 is a pipe without a reader ("reader gone"), try BLOCKED_IP (with "self": write to
 *       fd 2 instead, as a control that the pipe does raise SIGPIPE), then print "survived".
 *   fdprobe attempts N BLOCKED_IP PORT
 *       N connects to BLOCKED_IP, one line each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int tcp(const char *ip, int port, int *err) {
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &in.sin_addr) != 1) {
        printf("bad address %s\n", ip);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

static void attempt(const char *ip, int port) {
    int err = 0;
    int fd = tcp(ip, port, &err);
    if (fd >= 0) {
        printf("connected\n");
        close(fd);
    } else {
        printf("blocked %s\n", err == EACCES ? "EACCES" : strerror(err));
    }
    fflush(stdout);
}

static void send_all(int fd, const char *text) {
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) printf("write failed: %s\n", strerror(errno));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *how = argc > 1 ? argv[1] : "";
    if (strcmp(how, "close2-socket") == 0 && argc == 6) {
        close(2);
        int err = 0;
        int fd = tcp(argv[2], atoi(argv[3]), &err);
        if (fd < 0) {
            printf("peer unreachable: %s\n", strerror(err));
            return 1;
        }
        printf("fd %d\n", fd);
        attempt(argv[4], atoi(argv[5]));
        send_all(2, "program-bytes\n");
        close(fd);
        return 0;
    }
    if (strcmp(how, "dup2-over-log") == 0 && argc == 7) {
        struct stat log;
        if (stat(argv[2], &log) != 0) printf("no log yet\n");
        int err = 0;
        int fd = tcp(argv[3], atoi(argv[4]), &err);
        if (fd < 0) {
            printf("peer unreachable: %s\n", strerror(err));
            return 1;
        }
        int replaced = 0;
        for (int other = 3; other < 4096; other++) {
            struct stat st;
            if (other == fd || fstat(other, &st) != 0) continue;
            if (st.st_dev == log.st_dev && st.st_ino == log.st_ino && dup2(fd, other) == other) replaced++;
        }
        printf("replaced %d\n", replaced);
        attempt(argv[5], atoi(argv[6]));
        send_all(fd, "program-bytes\n");
        close(fd);
        return 0;
    }
    if (strcmp(how, "reader-gone") == 0 && (argc == 4 || argc == 5)) {
        /* a pipe's write end reports POLLERR once its last reader is gone */
        struct pollfd p = {2, POLLOUT, 0};
        for (int i = 0; i < 500; i++) {
            if (poll(&p, 1, 10) == 1 && (p.revents & POLLERR)) break;
            struct timespec ms = {0, 10 * 1000 * 1000};
            nanosleep(&ms, NULL);
        }
        printf("%s\n", p.revents & POLLERR ? "reader gone" : "reader still there");
        if (argc == 5 && strcmp(argv[4], "self") == 0)
            send_all(2, "x\n");
        else
            attempt(argv[2], atoi(argv[3]));
        printf("survived\n");
        return 0;
    }
    if (strcmp(how, "attempts") == 0 && argc == 5) {
        for (int i = atoi(argv[2]); i > 0; i--) attempt(argv[3], atoi(argv[4]));
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of fdprobe.c\n");
    return 2;
}
