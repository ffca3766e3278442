/* A storm of refused connects from two threads, and from a signal handler that runs every 200 us on
 * whichever thread the signal lands on (often one that is in the middle of reporting its own refused
 * connect). connect() is async-signal-safe: a handler may call it, and tethered must not make such a
 * program wait for itself.
 *
 *   sigstorm HOST PORT MS       a program (under LD_PRELOAD)
 *   sigstorm.node               built with -DSIGSTORM_ADDON: storm(host, port, ms), in a Node process
 *
 * Prints {"loops":N,"handled":N,"refused":N,"reached":N,"stuck":0|1}: refused counts EACCES, reached
 * counts answers of the kernel (ECONNREFUSED, or a connection). stuck: the threads made no progress for
 * two seconds (exit status 3). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static atomic_long loops, handled, refused, reached;
static atomic_int stop;

static void attempt(void) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0) return;
    if (connect(s, (struct sockaddr *)&target, sizeof target) == 0 || errno != EACCES)
        atomic_fetch_add(&reached, 1);
    else
        atomic_fetch_add(&refused, 1);
    close(s);
}

static void on_alarm(int sig) {
    (void)sig;
    int e = errno;
    attempt();
    atomic_fetch_add(&handled, 1);
    errno = e;
}

static void *worker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        attempt();
        atomic_fetch_add(&loops, 1);
    }
    return NULL;
}

static int storm(const char *host, int port, int ms, char *out, size_t cap) {
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &target.sin_addr);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    struct sigaction old;
    sigaction(SIGALRM, &sa, &old);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, NULL);
    struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    long last = -1;
    int still = 0, stuck = 0;
    for (int waited = 0; waited < ms && !stuck; waited += 100) {
        struct timespec ts = {0, 100 * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        long l = atomic_load(&loops);
        still = l == last ? still + 1 : 0;
        stuck = still >= 20;
        last = l;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&stop, 1);
    if (stuck) {
        snprintf(out, cap, "{\"loops\":%ld,\"handled\":%ld,\"refused\":%ld,\"reached\":%ld,\"stuck\":1}",
                 atomic_load(&loops), atomic_load(&handled), atomic_load(&refused), atomic_load(&reached));
        return 3; /* the threads are left waiting: the caller exits */
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    sigaction(SIGALRM, &old, NULL);
    snprintf(out, cap, "{\"loops\":%ld,\"handled\":%ld,\"refused\":%ld,\"reached\":%ld,\"stuck\":0}",
             atomic_load(&loops), atomic_load(&handled), atomic_load(&refused), atomic_load(&reached));
    return 0;
}

#ifdef SIGSTORM_ADDON
#include <node_api.h>

static napi_value js_storm(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char host[64] = "";
    size_t len;
    int port = 0, ms = 0;
    napi_get_value_string_utf8(env, argv[0], host, sizeof host, &len);
    napi_get_value_int32(env, argv[1], &port);
    napi_get_value_int32(env, argv[2], &ms);
    char out[256];
    if (storm(host, port, ms, out, sizeof out) != 0) {
        puts(out);
        fflush(stdout);
        _exit(3); /* stuck: its threads cannot be joined */
    }
    napi_value v;
    napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &v);
    return v;
}

NAPI_MODULE_INIT() {
    napi_value fn;
    napi_create_function(env, "storm", NAPI_AUTO_LENGTH, js_storm, NULL, &fn);
    napi_set_named_property(env, exports, "storm", fn);
    return exports;
}
#else
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    char out[256];
    int rc = storm(argv[1], atoi(argv[2]), atoi(argv[3]), out, sizeof out);
    puts(out);
    fflush(stdout);
    _exit(rc);
}
#endif
