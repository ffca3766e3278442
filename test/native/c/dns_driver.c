/* Drives the shim's DNS message reader (dns.c) on messages given in hex on the command line, one per
 * argument: prints the question name (or "-"), then each answer recorded as " name=address". Also
 * "fuzz SEED COUNT": COUNT random and mutated messages, to run under the sanitizers; prints "ok". */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

/* What dns.c records, printed instead of kept. */
void td_record_answer(const char *name, int family, const void *addr) {
    char text[64];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, sizeof text);
    printf(" %s=%s", name, text);
}

/* Every answer is read here as at home (config.c decides that in the shim). */
int td_mount_ns_home(void) {
    return 1;
}

static size_t unhex(const char *h, unsigned char *out, size_t cap) {
    size_t n = 0;
    for (; h[0] && h[1] && n < cap; h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) break;
        out[n++] = (unsigned char)v;
    }
    return n;
}

static void one(const unsigned char *msg, size_t len) {
    char name[TD_NAME_BUF];
    int n = td_dns_question(msg, len, name);
    printf("%s", n < 0 ? "-" : name);
    if (n >= 0) td_dns_record_answers(name, msg, len);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "fuzz") == 0) {
        srand((unsigned)atoi(argv[2]));
        int count = atoi(argv[3]);
        FILE *sink = freopen("/dev/null", "w", stdout);
        (void)sink;
        /* a valid response to mutate */
        static const unsigned char base[] = {
            0x12, 0x34, 0x81, 0x80, 0,   1, 0, 2,    0,    0, 0,    0,    3, 'a', 'p', 'i', 7,  'e', 'x',
            'a',  'm',  'p',  'l',  'e', 0, 0, 1,    0,    1, 0xc0, 0x0c, 0, 1,   0,   1,   0,  0,   0,
            60,   0,    4,    127,  0,   0, 2, 0xc0, 0x0c, 0, 28,   0,    1, 0,   0,   0,   60, 0,   16,
            0x20, 1,    0xd,  0xb8, 0,   0, 0, 0,    0,    0, 0,    0,    0, 0,   0,   1};
        for (int i = 0; i < count; i++) {
            size_t len = (size_t)(rand() % 600);
            unsigned char *msg = malloc(len ? len : 1);
            if (i % 2 && len >= sizeof base) {
                memcpy(msg, base, sizeof base);
                for (int k = 0; k < 1 + rand() % 6; k++) msg[rand() % sizeof base] = (unsigned char)rand();
                len = sizeof base - (size_t)(rand() % 8);
            } else {
                for (size_t k = 0; k < len; k++) msg[k] = (unsigned char)rand();
            }
            one(msg, len);
            free(msg);
        }
        fprintf(stderr, "ok\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        unsigned char msg[70000];
        size_t len = unhex(argv[i], msg, sizeof msg);
        one(msg, len);
    }
    return 0;
}
