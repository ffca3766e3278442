/* Drives the native matcher over the shared vectors. One command a line, every field hex-encoded (so that
 * any byte a vector holds, NUL and newline included, passes through; 'x' first), fields separated by spaces:
 *   P <allowLocalhost 0|1> <n allow> <rules…> <n deny> <rules…>  -> "ok" | "error <hex rule> <hex reason>"
 *   H <host> <port|->                                            -> "<0|1> <reason> <hex rule text|->"
 *   C <ip> <port> <n names> <names…>                             -> "<0|1> <reason> <hex rule text|->"
 *   R <rule>                                                     -> "ok <kind> <hex text>" | "error <hex
 * reason>" D <host>                                                     -> "ip <text>" | "name <text>" |
 * "invalid" With the argument "image", every policy is written as a policy image and the decisions come from
 * the image loaded back (through its sealed memfd, or through the file when the second argument is "file"),
 * not from the compiled policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_image.h"

/* Every hex field starts with 'x', so that an empty string is still a field. */
static char *unhex(const char *s, size_t *len) {
    s++;
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = 0;
    if (len) *len = n;
    return out;
}

static void put_hex(const char *s) {
    for (; *s; s++) printf("%02x", (unsigned char)*s);
}

static const char *const REASONS[] = {"allow-rule", "localhost", "deny-rule", "no-rule", "invalid-host"};

static void print_verdict(const struct td_verdict *v) {
    printf("%d %s ", td_verdict_allowed(v), REASONS[v->reason]);
    if (v->rule)
        put_hex(v->rule->text);
    else
        putchar('-');
    putchar('\n');
}

/* The policy written as an image and loaded back, in place of the compiled one (NULL if that failed). */
static struct td_policy *through_image(struct td_policy *compiled, int from_file) {
    char ref[TD_IMAGE_REF_MAX], problem[512];
    if (td_policy_image_write(compiled, ref, sizeof ref, problem, sizeof problem) != 0) {
        fprintf(stderr, "write: %s\n", problem);
        return NULL;
    }
    td_policy_free(compiled);
    if (from_file) {
        /* drop the descriptor: <hash>:-:<path> */
        char *first = strchr(ref, ':'), *second = strchr(first + 1, ':');
        first[1] = '-';
        memmove(first + 2, second, strlen(second) + 1);
    }
    int fd;
    struct td_policy *loaded = td_policy_image_load(ref, &fd, problem, sizeof problem);
    if (!loaded) fprintf(stderr, "load: %s\n", problem);
    if (loaded && from_file) close(fd);
    return loaded;
}

int main(int argc, char **argv) {
    int image = argc > 1 && strcmp(argv[1], "image") == 0;
    int from_file = argc > 2 && strcmp(argv[2], "file") == 0;
    static char line[1 << 20];
    struct td_policy *policy = NULL;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        if (!tok) continue;
        char cmd = tok[0];
        if (cmd == 'P') {
            int localhost = atoi(strtok_r(NULL, " ", &save));
            size_t counts[2];
            char **lists[2];
            for (int k = 0; k < 2; k++) {
                counts[k] = (size_t)atoi(strtok_r(NULL, " ", &save));
                lists[k] = calloc(counts[k] + 1, sizeof(char *));
                for (size_t i = 0; i < counts[k]; i++) lists[k][i] = unhex(strtok_r(NULL, " ", &save), NULL);
            }
            td_policy_free(policy);
            struct td_policy_error err;
            policy = td_policy_compile((const char *const *)lists[0], counts[0],
                                       (const char *const *)lists[1], counts[1], localhost, &err);
            if (policy && image) policy = through_image(policy, from_file);
            if (policy) {
                puts("ok");
            } else {
                printf("error ");
                put_hex(err.rule);
                putchar(' ');
                put_hex(err.reason);
                putchar('\n');
            }
            for (int k = 0; k < 2; k++) {
                for (size_t i = 0; i < counts[k]; i++) free(lists[k][i]);
                free(lists[k]);
            }
        } else if (cmd == 'H' || cmd == 'C' || cmd == 'D') {
            size_t len;
            char *host = unhex(strtok_r(NULL, " ", &save), &len);
            struct td_dest dest;
            td_normalise_destination(host, len, &dest);
            free(host);
            if (cmd == 'D') {
                char buf[64];
                if (dest.kind == TD_DEST_IP) {
                    td_ip_format(&dest.ip, buf);
                    printf("ip %s\n", buf);
                } else if (dest.kind == TD_DEST_NAME) {
                    printf("name %s\n", dest.name);
                } else {
                    puts("invalid");
                }
                fflush(stdout);
                continue;
            }
            if (!policy) { /* the last P failed: no decisions (never a NULL policy) */
                puts("nopolicy");
                fflush(stdout);
                continue;
            }
            const char *port_text = strtok_r(NULL, " ", &save);
            int port = strcmp(port_text, "-") == 0 ? TD_ANY_PORT : atoi(port_text);
            char names[16][TD_NAME_BUF];
            const char *name_ptrs[16];
            size_t nnames = 0;
            if (cmd == 'C') {
                int n = atoi(strtok_r(NULL, " ", &save));
                for (int i = 0; i < n; i++) {
                    char *raw = unhex(strtok_r(NULL, " ", &save), &len);
                    struct td_dest nd;
                    td_normalise_destination(raw, len, &nd);
                    free(raw);
                    int dup = 0;
                    for (size_t k = 0; k < nnames; k++) dup |= strcmp(names[k], nd.name) == 0;
                    if (nd.kind == TD_DEST_NAME && !dup && nnames < 16) {
                        strcpy(names[nnames], nd.name);
                        name_ptrs[nnames] = names[nnames];
                        nnames++;
                    }
                }
            }
            struct td_verdict v;
            td_policy_decide(policy, &dest, port, name_ptrs, nnames, &v);
            print_verdict(&v);
        } else if (cmd == 'R') {
            size_t len;
            char *text = unhex(strtok_r(NULL, " ", &save), &len);
            struct td_parsed_rule rule;
            char reason[TD_REASON_LEN];
            if (td_parse_rule(text, len, &rule, reason) == 0) {
                static const char *const KINDS[] = {"name", "wildcard", "address"};
                printf("ok %s ", KINDS[rule.kind]);
                put_hex(rule.text);
            } else {
                printf("error ");
                put_hex(reason);
            }
            putchar('\n');
            free(text);
        }
        fflush(stdout);
    }
    td_policy_free(policy);
    return 0;
}
