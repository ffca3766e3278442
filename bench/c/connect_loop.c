/* connect()+close() to a loopback server, through the system call itself (raw.h) and through the `connect` this
 * program links to (the shim's, when it is preloaded), alternating in batches inside one process so that
 * both see the same machine. Prints "<ns per call, libc> <ns per call, linked> <failures>". The server is
 * a thread of this program that accepts and closes. With "badfd" as the third argument, connect() is given
 * fd -1: the shim still judges the address in full, and the kernel answers EBADF at once, so the
 * difference is the hook's own cost without the noise of a real connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "raw.h"

static int listener;

static void *acceptor(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c >= 0) close(c);
    }
    return NULL;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static int bad_fd;

static int batch(connect_fn fn, const struct sockaddr_in *addr, int n, double *total) {
    int failed = 0;
    double start = now_ns();
    for (int i = 0; i < n; i++) {
        if (bad_fd) {
            failed += fn(-1, (const struct sockaddr *)addr, sizeof *addr) != 0;
            continue;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fn(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) failed++;
        close(fd);
    }
    *total += now_ns() - start;
    return failed;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    const char *ip = argc > 2 ? argv[2] : "127.0.0.2";
    bad_fd = argc > 3;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &addr.sin_addr);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0) {
        perror("listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    pthread_t t;
    pthread_create(&t, NULL, acceptor, NULL);
    connect_fn libc = raw_connect;
    connect_fn linked = connect;
    double libc_ns = 0, linked_ns = 0;
    int failed = batch(libc, &addr, 500, &libc_ns) + batch(linked, &addr, 500, &linked_ns); /* warm up */
    libc_ns = linked_ns = 0;
    failed = 0;
    for (int done = 0; done < n; done += 200) {
        failed += batch(libc, &addr, 100, &libc_ns);
        failed += batch(linked, &addr, 100, &linked_ns);
    }
    printf("%.1f %.1f %d\n", libc_ns / (n / 2), linked_ns / (n / 2), bad_fd ? 0 : failed);
    return 0;
}
