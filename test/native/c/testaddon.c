/* A native addon for the in-process tests: it calls libc directly, as any native addon may, on the
 * JavaScript thread and on threads of its own. Every function returns 0 or the errno of the failure. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sockaddr_in address(napi_env env, napi_value *argv) {
    char ip[64];
    size_t len;
    int32_t port;
    napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &len);
    napi_get_value_int32(env, argv[1], &port);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    return in;
}

static int do_connect(const struct sockaddr_in *in, int raw) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = raw ? (int)syscall(SYS_connect, fd, (const struct sockaddr *)in, sizeof *in)
                 : connect(fd, (const struct sockaddr *)in, sizeof *in);
    int e = errno;
    close(fd);
    return rc == 0 ? 0 : e;
}

static napi_value number(napi_env env, int v) {
    napi_value out;
    napi_create_int32(env, v, &out);
    return out;
}

static napi_value connect_to(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct sockaddr_in in = address(env, argv);
    return number(env, do_connect(&in, 0));
}

static napi_value syscall_connect(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct sockaddr_in in = address(env, argv);
    return number(env, do_connect(&in, 1));
}

static napi_value udp_sendto(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct sockaddr_in in = address(env, argv);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ssize_t n = sendto(fd, "ping", 4, 0, (struct sockaddr *)&in, sizeof in);
    int e = errno;
    close(fd);
    return number(env, n < 0 ? e : 0);
}

struct job {
    struct sockaddr_in in;
    int result;
    int go;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void *thread_connect(void *arg) {
    struct job *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->go) pthread_cond_wait(&j->cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
    j->result = do_connect(&j->in, 0);
    return NULL;
}

static napi_value connect_on_thread(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct job j = {.in = address(env, argv), .go = 1};
    pthread_mutex_init(&j.lock, NULL);
    pthread_cond_init(&j.cond, NULL);
    pthread_t t;
    pthread_create(&t, NULL, thread_connect, &j);
    pthread_join(t, NULL);
    return number(env, j.result);
}

/* A thread started now that connects only when released: started before activate(), connecting after. */
static struct job waiting;
static pthread_t waiting_thread;

static napi_value start_waiting_thread(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    memset(&waiting, 0, sizeof waiting);
    waiting.in = address(env, argv);
    pthread_mutex_init(&waiting.lock, NULL);
    pthread_cond_init(&waiting.cond, NULL);
    pthread_create(&waiting_thread, NULL, thread_connect, &waiting);
    return number(env, 0);
}

static napi_value release_waiting_thread(napi_env env, napi_callback_info info) {
    (void)info;
    pthread_mutex_lock(&waiting.lock);
    waiting.go = 1;
    pthread_cond_signal(&waiting.cond);
    pthread_mutex_unlock(&waiting.lock);
    pthread_join(waiting_thread, NULL);
    return number(env, waiting.result);
}

/* The `syscall` instruction itself, as a static program or Go makes it: no libc, no hook sees it. */
static long raw_syscall(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

/* rawRoundTrip(ip, port, marker): socket, connect, write the marker line, read the answer, all through raw
 * system calls. "ok <first line of the answer>" or "error <errno>". */
static napi_value raw_round_trip(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct sockaddr_in in = address(env, argv);
    char marker[100], out[128], answer[160];
    size_t len;
    napi_get_value_string_utf8(env, argv[2], marker, sizeof marker, &len);
    long fd = raw_syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    long r = raw_syscall(SYS_connect, fd, (long)&in, sizeof in);
    if (r == 0) {
        int n = snprintf(out, sizeof out, "%s\n", marker);
        r = raw_syscall(SYS_write, fd, (long)out, n);
    }
    if (r >= 0) {
        r = raw_syscall(SYS_read, fd, (long)out, sizeof out - 1);
        if (r >= 0) out[r] = 0;
    }
    raw_syscall(SYS_close, fd, 0, 0);
    if (r < 0)
        snprintf(answer, sizeof answer, "error %ld", -r);
    else
        snprintf(answer, sizeof answer, "ok %.*s", (int)strcspn(out, "\n"), out);
    napi_value v;
    napi_create_string_utf8(env, answer, NAPI_AUTO_LENGTH, &v);
    return v;
}

/* popenRead(command): the first line popen() reads from the command (libc spawns the shell itself). */
static napi_value popen_read(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char cmd[2048], line[256] = "";
    size_t len;
    napi_get_value_string_utf8(env, argv[0], cmd, sizeof cmd, &len);
    FILE *f = popen(cmd, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        pclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    napi_value v;
    napi_create_string_utf8(env, line, NAPI_AUTO_LENGTH, &v);
    return v;
}

/* dlopen(path) now, then probe_connect(ip, port) from inside that library. */
static napi_value dlopen_connect(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char path[4096];
    size_t len;
    napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return number(env, -1);
    int (*probe)(const char *, int) = (int (*)(const char *, int))dlsym(h, "probe_connect");
    char ip[64];
    int32_t port;
    napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len);
    napi_get_value_int32(env, argv[2], &port);
    return number(env, probe ? probe(ip, port) : -2);
}

/* dlopen(path) and keep it loaded; true when it loaded. */
static napi_value dlopen_only(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char path[4096];
    size_t len;
    napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len);
    return number(env, dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL);
}

/* getaddrinfo(name) and a connect to the first IPv4 answer: EAI_* as a negative number when the lookup
 * fails, else 0 or the connect's errno. */
struct resolve_job {
    char name[256];
    int port;
    int result;
};

static void *resolve_connect(void *arg) {
    struct resolve_job *job = arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(job->name, NULL, &hints, &res);
    if (rc != 0) {
        job->result = rc < 0 ? rc : -rc;
        return NULL;
    }
    struct sockaddr_in in = *(struct sockaddr_in *)res->ai_addr;
    freeaddrinfo(res);
    in.sin_port = htons((unsigned short)job->port);
    job->result = do_connect(&in, 0);
    return NULL;
}

static struct resolve_job resolve_job_from(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct resolve_job job = {{0}, 0, 0};
    size_t len;
    napi_get_value_string_utf8(env, argv[0], job.name, sizeof job.name, &len);
    napi_get_value_int32(env, argv[1], &job.port);
    return job;
}

static napi_value resolve_connect_here(napi_env env, napi_callback_info info) {
    struct resolve_job job = resolve_job_from(env, info);
    resolve_connect(&job);
    return number(env, job.result);
}

static napi_value resolve_connect_on_thread(napi_env env, napi_callback_info info) {
    struct resolve_job job = resolve_job_from(env, info);
    pthread_t t;
    pthread_create(&t, NULL, resolve_connect, &job);
    pthread_join(t, NULL);
    return number(env, job.result);
}

/* callShim(name, key): calls an exported function of whichever libtethered.so is in the process, as any
 * native code could (dlsym), trying to loosen the policy: tethered_disable, tethered_configure (allowing all
 * of 127.0.0.0/8) or tethered_set_sink (NULL). key: "none" passes NULL, "zero" 32 zero bytes (a guess).
 * path: the library's path when the addon loaded it, "" for a preloaded one. Returns the function's
 * result, or -100 when the symbol is not found. */
#define SHIM_KEY_SIZE 32
struct shim_settings {
    const char *const *allow;
    size_t nallow;
    const char *const *deny;
    size_t ndeny;
    int allow_localhost, log_only, fail_closed, children_inherit;
    const char *log;
    const char *const *inject;
    size_t ninject;
};

/* A preloaded shim is global; one the addon loaded (RTLD_LOCAL) is found by its path. */
static void *shim_symbol(const char *name, const char *path) {
    if (!path[0]) return dlsym(RTLD_DEFAULT, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    return h ? dlsym(h, name) : NULL;
}

static napi_value call_shim(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char name[64] = "", key_kind[16] = "none", path[4096] = "";
    size_t len;
    napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
    if (argc > 1) napi_get_value_string_utf8(env, argv[1], key_kind, sizeof key_kind, &len);
    if (argc > 2) napi_get_value_string_utf8(env, argv[2], path, sizeof path, &len);
    void *fn = shim_symbol(name, path);
    if (!fn) return number(env, -100);
    static const unsigned char zero[SHIM_KEY_SIZE];
    const unsigned char *key = strcmp(key_kind, "zero") == 0 ? zero : NULL;
    if (strcmp(name, "tethered_disable") == 0) return number(env, ((int (*)(const unsigned char *))fn)(key));
    if (strcmp(name, "tethered_set_sink") == 0) return number(env, ((int (*)(void *))fn)(NULL));
    if (strcmp(name, "tethered_configure") == 0) {
        static const char *const allow[] = {"127.0.0.0/8"};
        struct shim_settings s = {.allow = allow, .nallow = 1, .allow_localhost = 1, .children_inherit = 1};
        char error[256];
        return number(
            env, ((int (*)(const struct shim_settings *, const unsigned char *, const unsigned char *, char *,
                           size_t))fn)(&s, key, NULL, error, sizeof error));
    }
    return number(env, -101);
}

/* shimSymbols(path, names): { name: "0x…" }, each name's own definition in the shim at `path` (a handle on
 * the shim finds the shim's symbol, never libc's). */
static napi_value shim_symbols(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char path[4096] = "";
    size_t len;
    napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len);
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    napi_value out;
    napi_create_object(env, &out);
    uint32_t n = 0;
    napi_get_array_length(env, argv[1], &n);
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        char name[128] = "", text[32];
        napi_get_element(env, argv[1], i, &item);
        napi_get_value_string_utf8(env, item, name, sizeof name, &len);
        snprintf(text, sizeof text, "0x%lx", (unsigned long)(uintptr_t)(handle ? dlsym(handle, name) : NULL));
        napi_value v;
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
        napi_set_named_property(env, out, name, v);
    }
    return out;
}

/* connectOwnFiles(host, port[, keep]): connect() from a new thread that first takes a descriptor table of
 * its own (unshare(CLONE_FILES)) and closes every descriptor in it above 2, as a sandboxing helper does: the
 * descriptors the event loop wakes through are not in its table. With keep, it closes none: its copies of
 * them still reach the loop. Returns 0 or errno. */
struct own_files_job {
    struct sockaddr_in in;
    bool keep;
    int result;
};

static void *own_files_thread(void *arg) {
    struct own_files_job *job = arg;
    if (unshare(CLONE_FILES) != 0) {
        job->result = -errno;
        return NULL;
    }
    if (!job->keep)
        for (int fd = 3; fd < 4096; fd++) close(fd);
    job->result = do_connect(&job->in, 0);
    return NULL;
}

static napi_value connect_own_files(napi_env env, napi_callback_info info) {
    size_t argc = 3;
    napi_value argv[3];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    struct own_files_job job = {.in = address(env, argv), .keep = false, .result = -1};
    if (argc > 2) napi_get_value_bool(env, argv[2], &job.keep);
    pthread_t t;
    if (pthread_create(&t, NULL, own_files_thread, &job) != 0) return number(env, -1);
    pthread_join(t, NULL);
    return number(env, job.result);
}

/* blockSignal(n, on): adds signal n to the calling thread's signal mask (on) or takes it out, as a signal
 * handler's mask differs from the thread's usual one. Returns 0 or the error. */
static napi_value block_signal(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    int n = 0;
    bool on = false;
    napi_get_value_int32(env, argv[0], &n);
    napi_get_value_bool(env, argv[1], &on);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, n);
    return number(env, pthread_sigmask(on ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL));
}

NAPI_MODULE_INIT() {
    const char *names[] = {"connectTo",          "syscallConnect",
                           "udpSendto",          "connectOnThread",
                           "startWaitingThread", "releaseWaitingThread",
                           "dlopenConnect",      "dlopenOnly",
                           "resolveConnect",     "resolveConnectOnThread",
                           "callShim",           "shimSymbols",
                           "rawRoundTrip",       "popenRead",
                           "blockSignal",        "connectOwnFiles"};
    napi_callback fns[] = {connect_to,
                           syscall_connect,
                           udp_sendto,
                           connect_on_thread,
                           start_waiting_thread,
                           release_waiting_thread,
                           dlopen_connect,
                           dlopen_only,
                           resolve_connect_here,
                           resolve_connect_on_thread,
                           call_shim,
                           shim_symbols,
                           raw_round_trip,
                           popen_read,
                           block_signal,
                           connect_own_files};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        napi_value fn;
        napi_create_function(env, names[i], NAPI_AUTO_LENGTH, fns[i], NULL, &fn);
        napi_set_named_property(env, exports, names[i], fn);
    }
    return exports;
}
