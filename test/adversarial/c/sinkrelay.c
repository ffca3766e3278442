/* The event sink of the shim's C API (tethered_set_sink, tethered_sink_thread) as a program may use it, in
 * the three ways an attacker's review of the relay's lock found to hang or to misorder (test/adversarial/
 * sink-relay.test.mjs). Preloaded, with the policy from the environment; without the shim the same attempts
 * reach the kernel (the control). Prints one JSON line.
 *
 *   sinkrelay nested IP PORT   a thread registered with every signal blocked; its sink makes an attempt
 *   sinkrelay fork IP PORT     fork() (no exec) while the relay thread is inside a slow sink; the child sets
 * a sink of its own and makes an attempt sinkrelay order IP PORT    a native thread's attempt, joined, then
 * the main thread's: the order the sink sees them in */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tethered.h"

static struct sockaddr_in peer;

/* One TCP connect to the peer: 0, or its errno (EACCES: refused by tethered; ECONNREFUSED: the kernel). */
static int attempt(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&peer, sizeof peer);
    int e = rc == 0 ? 0 : errno;
    close(fd);
    return e;
}

static int (*set_sink)(tethered_sink);
static void (*sink_thread)(void);

static atomic_int lines;
static atomic_int depth;
static atomic_int nested = -1;
static pid_t main_pid;

/* order: the tid of each line, as the sink saw them */
static atomic_long seen_tid[8];

static long tid_of(const char *json) {
    const char *p = strstr(json, "\"tid\":");
    return p ? atol(p + 6) : 0;
}

static void sink(const char *json, size_t len, unsigned long long collector) {
    (void)len;
    (void)collector;
    int n = atomic_fetch_add(&lines, 1);
    if (n < 8) atomic_store(&seen_tid[n], tid_of(json));
    if (atomic_fetch_add(&depth, 1) == 0 && atomic_load(&nested) == -1 && gettid() == main_pid)
        atomic_store(&nested, attempt()); /* a sink that makes a judged call of its own */
    if (getpid() == main_pid && gettid() != main_pid) usleep(300000); /* slow, on the relay thread */
    atomic_fetch_sub(&depth, 1);
}

static void *native(void *arg) {
    *(long *)arg = gettid();
    attempt();
    return NULL;
}

static void wait_lines(int want) {
    for (int i = 0; i < 400 && atomic_load(&lines) < want; i++) usleep(5000);
}

static void registered(void) {
    if (set_sink) set_sink(sink);
    if (sink_thread) sink_thread();
}

static int run_nested(void) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL); /* a server's habit: signals only on a thread of their own */
    registered();
    int outer = attempt();
    printf("{\"outer\":%d,\"nested\":%d,\"lines\":%d}\n", outer, atomic_load(&nested), atomic_load(&lines));
    return 0;
}

static int run_fork(void) {
    registered();
    atomic_store(&nested, 0); /* no nested attempt in this mode */
    long tid = 0;
    pthread_t t;
    pthread_create(&t, NULL, native, &tid); /* its line goes through the relay thread, whose sink is slow */
    pthread_join(t, NULL);
    usleep(100000);
    int fds[2];
    if (pipe(fds) != 0) return 3;
    pid_t child = fork();
    if (child == 0) {
        atomic_store(&lines, 0);
        main_pid = getpid();
        registered();
        int e = attempt();
        char out[64];
        int n = snprintf(out, sizeof out, "%d %d", e, atomic_load(&lines));
        if (write(fds[1], out, (size_t)n) < 0) _exit(4);
        _exit(0);
    }
    close(fds[1]);
    int hung = 1, status;
    for (int i = 0; i < 500 && hung; i++) {
        if (waitpid(child, &status, WNOHANG) == child)
            hung = 0;
        else
            usleep(10000);
    }
    if (hung) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    char got[64] = {0};
    int child_errno = -1, child_lines = -1;
    if (read(fds[0], got, sizeof got - 1) > 0) sscanf(got, "%d %d", &child_errno, &child_lines);
    wait_lines(1);
    printf("{\"hung\":%s,\"child\":%d,\"childLines\":%d,\"parentLines\":%d}\n", hung ? "true" : "false",
           child_errno, child_lines, atomic_load(&lines));
    return 0;
}

static int run_order(void) {
    registered();
    atomic_store(&nested, 0);
    long tid = 0;
    pthread_t t;
    pthread_create(&t, NULL, native, &tid);
    pthread_join(t, NULL);
    int e = attempt();
    wait_lines(2);
    long first = atomic_load(&seen_tid[0]), second = atomic_load(&seen_tid[1]);
    const char *name1 = first == tid ? "thread" : first == main_pid ? "main" : "none";
    const char *name2 = second == tid ? "thread" : second == main_pid ? "main" : "none";
    printf("{\"main\":%d,\"lines\":%d,\"order\":[\"%s\",\"%s\"]}\n", e, atomic_load(&lines), name1, name2);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1) return 2;
    set_sink = (int (*)(tethered_sink))dlsym(RTLD_DEFAULT, "tethered_set_sink");
    sink_thread = (void (*)(void))dlsym(RTLD_DEFAULT, "tethered_sink_thread");
    main_pid = getpid();
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(argv[1], "nested")) return run_nested();
    if (!strcmp(argv[1], "fork")) return run_fork();
    if (!strcmp(argv[1], "order")) return run_order();
    return 2;
}
