/* The cost the DNS-socket hooks add to every read() and write(): 1-byte writes to /dev/null and reads from
 * /dev/zero, through the system calls themselves (raw.h) and through the ones this program links to (the shim's, when
 * it is preloaded), alternating in batches inside one process. Prints "<ns per write+read, libc> <ns per
 * write+read, linked>". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "raw.h"

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*read_fn)(int, void *, size_t);

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double batch(write_fn w, read_fn r, int out, int in, int n) {
    char c = 'x';
    double start = now_ns();
    for (int i = 0; i < n; i++) {
        if (w(out, &c, 1) != 1 || r(in, &c, 1) != 1) abort();
    }
    return now_ns() - start;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    int out = open("/dev/null", O_WRONLY), in = open("/dev/zero", O_RDONLY);
    write_fn libc_write = raw_write;
    read_fn libc_read = raw_read;
    double a = 0, b = 0;
    int batches = 20, each = n / batches;
    for (int k = 0; k < batches; k++) {
        a += batch(libc_write, libc_read, out, in, each);
        b += batch(write, read, out, in, each);
    }
    printf("%.1f %.1f\n", a / (each * batches), b / (each * batches));
    return 0;
}
