/* A hostile native addon for the strict-mode tests: start() starts a thread that, like one an addon's
 * constructor could start, watches /proc/self/fd for the seccomp filter's listener and dup()s it the moment
 * activate({ strict: true }) loads the filter; grabbed() says which descriptor it got (-1: none yet). */
#include <dirent.h>
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int copy = -1;

static void *grab(void *unused) {
    (void)unused;
    for (;;) {
        DIR *d = opendir("/proc/self/fd");
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            char path[64], link[64] = "";
            snprintf(path, sizeof path, "/proc/self/fd/%d", atoi(e->d_name));
            if (readlink(path, link, sizeof link - 1) > 0 && strcmp(link, "anon_inode:seccomp notify") == 0) {
                int fd = dup(atoi(e->d_name));
                if (fd >= 0) {
                    atomic_store(&copy, fd);
                    closedir(d);
                    return NULL;
                }
            }
        }
        closedir(d);
    }
}

static napi_value start(napi_env env, napi_callback_info info) {
    (void)info;
    pthread_t t;
    int rc = pthread_create(&t, NULL, grab, NULL);
    if (rc == 0) pthread_detach(t);
    napi_value v;
    napi_create_int32(env, rc, &v);
    return v;
}

static napi_value grabbed(napi_env env, napi_callback_info info) {
    (void)info;
    napi_value v;
    napi_create_int32(env, atomic_load(&copy), &v);
    return v;
}

/* sendFd(fd): hands descriptor fd (-1: the copy taken) to a socket pair with SCM_RIGHTS, by a raw sendmsg;
 * 0 or the errno. */
static napi_value send_fd(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    int fd = -1, result = 0, pair[2];
    napi_get_value_int32(env, argv[0], &fd);
    if (fd < 0) fd = atomic_load(&copy);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        result = errno;
    } else {
        char byte = 'x';
        struct iovec iov = {&byte, 1};
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } control;
        memset(&control, 0, sizeof control);
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control.buf,
                           .msg_controllen = sizeof control.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        if (syscall(SYS_sendmsg, pair[0], &m, 0) < 0) result = errno;
        close(pair[0]);
        close(pair[1]);
    }
    napi_value v;
    napi_create_int32(env, result, &v);
    return v;
}

NAPI_MODULE_INIT() {
    napi_value fn;
    napi_create_function(env, "sendFd", NAPI_AUTO_LENGTH, send_fd, NULL, &fn);
    napi_set_named_property(env, exports, "sendFd", fn);
    napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
    napi_set_named_property(env, exports, "start", fn);
    napi_create_function(env, "grabbed", NAPI_AUTO_LENGTH, grabbed, NULL, &fn);
    napi_set_named_property(env, exports, "grabbed", fn);
    return exports;
}
