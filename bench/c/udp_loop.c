/* Judged datagrams (issue 9 item 9): a 64-byte sendto() to a loopback UDP socket of this program, and a
 * recv() of it, through the system calls themselves (raw.h) and through the functions this program links
 * to (the shim's, when it is preloaded), alternating in batches inside one process. Every sendto carries
 * its destination, so every one is judged. Prints "<ns per sendto+recv, raw> <ns per sendto+recv,
 * linked>" and the CPU time of each side: "<cpu ns raw> <cpu ns linked>". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "raw.h"

typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static double clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void batch(sendto_fn s, recv_fn r, int out, int in, const struct sockaddr_in *to, int n, double *wall,
                  double *cpu) {
    char buf[64] = {0};
    double w = clock_ns(CLOCK_MONOTONIC), c = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
        if (s(out, buf, sizeof buf, 0, (const struct sockaddr *)to, sizeof *to) != sizeof buf) abort();
        if (r(in, buf, sizeof buf, 0) != sizeof buf) abort();
    }
    *wall += clock_ns(CLOCK_MONOTONIC) - w;
    *cpu += clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    const char *ip = argc > 2 ? argv[2] : "127.0.0.2";
    struct sockaddr_in to = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &to.sin_addr);
    int in = socket(AF_INET, SOCK_DGRAM, 0), out = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(in, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("bind");
        return 1;
    }
    socklen_t len = sizeof to;
    getsockname(in, (struct sockaddr *)&to, &len);
    double wall[2] = {0}, cpu[2] = {0};
    batch(raw_sendto, raw_recv, out, in, &to, 2000, &wall[0], &cpu[0]); /* warm up */
    batch(sendto, recv, out, in, &to, 2000, &wall[1], &cpu[1]);
    wall[0] = wall[1] = cpu[0] = cpu[1] = 0;
    int batches = 40, each = n / batches;
    for (int k = 0; k < batches; k++) {
        batch(raw_sendto, raw_recv, out, in, &to, each, &wall[0], &cpu[0]);
        batch(sendto, recv, out, in, &to, each, &wall[1], &cpu[1]);
    }
    double per = (double)each * batches;
    printf("%.1f %.1f %.1f %.1f\n", wall[0] / per, wall[1] / per, cpu[0] / per, cpu[1] / per);
    return 0;
}
