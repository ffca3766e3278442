/* The shim's scope API from C (libtethered.so preloaded): a scope narrows the calling thread only, nests,
 * and is left again. Prints one line: the errno (0 = connected) of each connect, in order. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tethered.h"

static int port_a, port_b;

static int attempt(const char *ip, int port) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&in, sizeof in);
    int e = rc == 0 ? 0 : errno;
    close(fd);
    return e;
}

static void *other_thread(void *arg) {
    *(int *)arg = attempt("127.0.0.3", port_b);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    port_a = atoi(argv[1]);
    port_b = atoi(argv[2]);
    struct tethered_scope *(*scope_new)(const struct tethered_settings *, const char *, const struct tethered_scope *,
                                        int, char *, size_t) = dlsym(RTLD_DEFAULT, "tethered_scope_new");
    const struct tethered_scope *(*enter)(const struct tethered_scope *) = dlsym(RTLD_DEFAULT, "tethered_scope_enter");
    void (*scope_free)(struct tethered_scope *) = dlsym(RTLD_DEFAULT, "tethered_scope_free");
    unsigned long long (*scope_id)(const struct tethered_scope *) = dlsym(RTLD_DEFAULT, "tethered_scope_id");
    if (!scope_new || !enter || !scope_free || !scope_id) return 3;
    char error[256];
    const char *only_a[] = {"127.0.0.2"}, *both[] = {"127.0.0.2", "127.0.0.3"}, *bad[] = {"https://x"};
    struct tethered_settings s = {.allow = only_a, .nallow = 1};
    struct tethered_scope *outer = scope_new(&s, "outer", NULL, 0, error, sizeof error);
    s.allow = both;
    s.nallow = 2;
    struct tethered_scope *inner = scope_new(&s, "inner", outer, 0, error, sizeof error);
    s.allow = bad;
    s.nallow = 1;
    struct tethered_scope *broken = scope_new(&s, "broken", NULL, 0, error, sizeof error);
    if (!outer || !inner || broken || scope_id(inner) <= scope_id(outer)) return 4;
    int r[7];
    r[0] = attempt("127.0.0.3", port_b); /* no scope: the policy in force allows it */
    const struct tethered_scope *was = enter(outer);
    r[1] = attempt("127.0.0.2", port_a);
    r[2] = attempt("127.0.0.3", port_b); /* outside the scope */
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &r[3]); /* another thread is not in the scope */
    pthread_join(t, NULL);
    enter(inner);
    r[4] = attempt("127.0.0.3", port_b); /* an inner scope cannot widen */
    if (enter(was) != inner) return 5;
    r[5] = attempt("127.0.0.3", port_b); /* left */
    scope_free(inner);
    scope_free(outer);
    r[6] = attempt("127.0.0.2", port_a);
    printf("%d %d %d %d %d %d %d %s\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], error[0] ? "error-reported" : "");
    return 0;
}
