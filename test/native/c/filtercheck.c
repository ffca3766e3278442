/* Runs strict mode's seccomp filter (native/strict/filter.c, compiled in as it is, for the architecture this
 * is built for) on system calls read from stdin, with a classic-BPF interpreter of the instructions the
 * filter uses, and prints the kernel action for each: a check of the program itself where no kernel can
 * load it (an arm64 build under qemu-user, which has no seccomp).
 *
 *   stdin:  one call a line: ARCH NR ARG0 … ARG5 (numbers, 0x… allowed)
 *   stdout: one line each: allow | notify | errno N | kill | bad
 * Before them, "arch 0x…" for the architecture constant the program's first comparison admits, and
 * "code <hex>": the program's bytes, to be found in the shipped tethered-strict. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../../native/strict/filter.c"

static uint32_t run(const struct seccomp_data *d) {
    const size_t len = sizeof code / sizeof code[0];
    uint32_t a = 0;
    for (size_t pc = 0; pc < len; pc++) {
        const struct sock_filter *i = &code[pc];
        switch (i->code) {
            case BPF_LD | BPF_W | BPF_ABS:
                if (i->k + 4 > sizeof *d) return 0xbad;
                memcpy(&a, (const char *)d + i->k, 4);
                break;
            case BPF_ALU | BPF_AND | BPF_K:
                a &= i->k;
                break;
            case BPF_JMP | BPF_JA:
                pc += i->k;
                break;
            case BPF_JMP | BPF_JEQ | BPF_K:
                pc += a == i->k ? i->jt : i->jf;
                break;
            case BPF_JMP | BPF_JGE | BPF_K:
                pc += a >= i->k ? i->jt : i->jf;
                break;
            case BPF_JMP | BPF_JSET | BPF_K:
                pc += (a & i->k) ? i->jt : i->jf;
                break;
            case BPF_RET | BPF_K:
                return i->k;
            default:
                return 0xbad; /* an instruction this interpreter does not know: the check fails */
        }
    }
    return 0xbad; /* fell off the end: the kernel refuses such a program */
}

int main(void) {
    /* the constant of the first comparison after the architecture is loaded */
    if (code[0].k == offsetof(struct seccomp_data, arch) && code[1].code == (BPF_JMP | BPF_JEQ | BPF_K))
        printf("arch 0x%08" PRIx32 "\n", code[1].k);
    printf("code ");
    for (size_t i = 0; i < sizeof code; i++) printf("%02x", ((const unsigned char *)code)[i]);
    printf("\n");
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        unsigned long long v[8] = {0};
        int n = sscanf(line, "%lli %lli %lli %lli %lli %lli %lli %lli", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7]);
        if (n < 2) continue;
        struct seccomp_data d = {.nr = (int)v[1], .arch = (uint32_t)v[0]};
        for (int k = 0; k < 6; k++) d.args[k] = v[k + 2];
        uint32_t r = run(&d);
        if (r == 0xbad)
            printf("bad\n");
        else if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW)
            printf("allow\n");
        else if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
            printf("notify\n");
        else if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO)
            printf("errno %u\n", r & SECCOMP_RET_DATA);
        else
            printf("kill\n");
    }
    return 0;
}
