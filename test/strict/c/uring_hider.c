/* A hostile addon for test/strict/activate.test.mjs: before activate({ strict: true }), a thread with a file
 * descriptor table of its own (unshare(CLONE_FILES)) makes an io_uring instance and keeps it, unmapped, so
 * that the main thread's /proc/self/fd and /proc/self/maps show nothing of it. With sqpoll, the kernel
 * starts a polling thread (iou-sqp-N) that would carry out what is written into the ring with no system
 * call. hide(sqpoll) -> 0 once the ring is made, or -errno. */
#include <errno.h>
#include <linux/io_uring.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t made = PTHREAD_COND_INITIALIZER;
static int result = 1; /* 1: not yet */

static void *keeper(void *arg) {
    int sqpoll = (int)(long)arg;
    int rc = 0;
    if (unshare(CLONE_FILES) != 0) rc = -errno;
    if (rc == 0) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        if (sqpoll) {
            p.flags = IORING_SETUP_SQPOLL;
            p.sq_thread_idle = 60000;
        }
        if (syscall(__NR_io_uring_setup, 8, &p) < 0) rc = -errno;
    }
    pthread_mutex_lock(&lock);
    result = rc;
    pthread_cond_signal(&made);
    pthread_mutex_unlock(&lock);
    for (;;) pause(); /* keeps its table, and the ring in it, for the life of the process */
    return NULL;
}

static napi_value hide(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    bool sqpoll = false;
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc > 0) napi_get_value_bool(env, argv[0], &sqpoll);
    pthread_t t;
    int rc = pthread_create(&t, NULL, keeper, (void *)(long)sqpoll);
    if (rc == 0) {
        pthread_detach(t);
        pthread_mutex_lock(&lock);
        while (result == 1) pthread_cond_wait(&made, &lock);
        rc = result;
        pthread_mutex_unlock(&lock);
    } else {
        rc = -rc;
    }
    napi_value out;
    napi_create_int32(env, rc, &out);
    return out;
}

NAPI_MODULE_INIT() {
    napi_value fn;
    napi_create_function(env, "hide", NAPI_AUTO_LENGTH, hide, NULL, &fn);
    napi_set_named_property(env, exports, "hide", fn);
    return exports;
}
