/* The native matcher alone: nanoseconds per decision for a policy read from stdin (one allow rule a line)
 * and a fixed set of destinations (argv: host port pairs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

int main(int argc, char **argv) {
    size_t cap = 1024, n = 0;
    char **rules = malloc(cap * sizeof *rules);
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (n == cap) rules = realloc(rules, (cap *= 2) * sizeof *rules);
        rules[n++] = strdup(line);
    }
    struct td_policy_error err;
    struct td_policy *p = td_policy_compile((const char *const *)rules, n, NULL, 0, 1, &err);
    if (!p) {
        fprintf(stderr, "%s: %s\n", err.rule, err.reason);
        return 1;
    }
    int queries = (argc - 1) / 2, rounds = 200000 / (queries ? queries : 1);
    long allowed = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int r = 0; r < rounds; r++) {
        for (int q = 0; q < queries; q++) {
            const char *host = argv[1 + 2 * q];
            struct td_dest d;
            td_normalise_destination(host, strlen(host), &d);
            struct td_verdict v;
            td_policy_decide(p, &d, atoi(argv[2 + 2 * q]), NULL, 0, &v);
            allowed += td_verdict_allowed(&v);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("%.1f %ld\n", ns / ((double)rounds * queries), allowed / rounds);
    td_policy_free(p);
    return 0;
}
