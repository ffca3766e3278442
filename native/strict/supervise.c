/* The supervisor's threads. Every worker waits in SECCOMP_IOCTL_NOTIF_RECV on the listener, and one is
 * always waiting: when the last idle worker takes a notification it starts another first, so a call that
 * blocks (a connect to a slow peer, a send to a full buffer) never stalls the calls of other threads and
 * processes. A worker ends when more than TS_IDLE_KEEP are idle: far enough above the one that is always
 * waiting that a target whose few threads call at once (each burst takes the last idle worker) does not
 * start a thread and end another for every burst (thread churn, and a fresh stack and malloc arena each
 * time, was most of the supervisor's growth under load).
 *
 * A call performed here may outlive the target's call: a signal interrupts the target (EINTR, or a restart
 * after the handler), or the target dies. A watcher checks the pending calls' ids every few milliseconds
 * and interrupts the worker of a call that is gone with a signal, so that the duplicate's call ends as the
 * target's own would have (an interrupted connect goes on in the background: EALREADY next time). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "strict.h"

/* Linux 6.6: the target's notification wakes a supervisor thread on the target's own CPU, which the target
 * is about to leave anyway (it waits for the answer): a direct hand-off instead of a wake-up elsewhere and
 * a migration. Older headers lack the names; older kernels refuse the ioctl, and nothing changes. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define TS_IDLE_KEEP 8
#define TS_WATCH_NS 5000000L
#define TS_MAX_INFLIGHT 4096

static int listener_fd;
static atomic_int idle;

struct inflight {
    pthread_t thread;
    uint64_t id;
    int used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct inflight slots[TS_MAX_INFLIGHT];
static int ninflight;
static __thread int my_slot = -1;

static void on_interrupt(int sig) {
    (void)sig; /* its only job is to make the blocked call return EINTR */
}

void ts_inflight_begin(int listener, uint64_t id) {
    (void)listener;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < TS_MAX_INFLIGHT; i++) {
        if (slots[i].used) continue;
        slots[i] = (struct inflight){pthread_self(), id, 1};
        my_slot = i;
        if (ninflight++ == 0) pthread_cond_signal(&wake);
        break;
    }
    pthread_mutex_unlock(&lock);
}

void ts_inflight_end(void) {
    if (my_slot < 0) return;
    pthread_mutex_lock(&lock);
    slots[my_slot].used = 0;
    ninflight--;
    my_slot = -1;
    pthread_mutex_unlock(&lock);
}

static void *watcher(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (ninflight == 0) pthread_cond_wait(&wake, &lock);
        for (int i = 0; i < TS_MAX_INFLIGHT; i++) {
            if (!slots[i].used) continue;
            uint64_t id = slots[i].id;
            /* Repeated every round while the slot is still in use: a signal that lands just before the
             * worker enters the call is not lost for good. */
            if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
                pthread_kill(slots[i].thread, SIGUSR1);
        }
        pthread_mutex_unlock(&lock);
        nanosleep(&(struct timespec){0, TS_WATCH_NS}, NULL);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

static int start_worker(void);

static void *worker(void *arg) {
    (void)arg;
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    for (;;) {
        memset(&req, 0, sizeof req);
        if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
            /* EINTR: our own interrupt signal; ENOENT: the target went away before we read it */
            if (errno == EINTR || errno == ENOENT) continue;
            break; /* the listener is gone */
        }
        if (atomic_fetch_sub(&idle, 1) == 1) start_worker();
        ts_handle(listener_fd, &req, &resp);
        /* Idle from here: the answer never blocks, and the target's next call (made the moment it has the
         * answer) is taken by this worker or another waiting one, without starting a thread for it. */
        int retire = atomic_fetch_add(&idle, 1) >= TS_IDLE_KEEP;
        if (retire) atomic_fetch_sub(&idle, 1);
        /* ENOENT: the target's call is gone (signal, death); nothing to answer */
        while (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno == EINTR) {
        }
        if (retire) return NULL;
    }
    atomic_fetch_sub(&idle, 1);
    return NULL;
}

static int start_worker(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    atomic_fetch_add(&idle, 1);
    pthread_t t;
    int rc = pthread_create(&t, &attr, worker, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) atomic_fetch_sub(&idle, 1); /* the running workers go on serving */
    return rc;
}

int ts_supervise(int listener) {
    listener_fd = listener;
    if (getenv("TETHERED_STRICT_NO_SYNC_WAKE") == NULL) /* the benchmark's before/after switch */
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt; /* no SA_RESTART: the blocked call must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, watcher, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) return -1;
    return start_worker() == 0 ? 0 : -1;
}
