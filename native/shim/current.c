/* The configuration in force, and when a replaced one may be freed.
 *
 * Hooks on any thread read the configuration without a lock: td_config() hands out a pointer that the
 * hook uses for one decision (and an exec for the environment it builds). A replaced configuration is
 * therefore not freed at once but retired, and freed only when no thread can still be reading it. The
 * scheme is hazard pointers: before a thread uses a configuration it names it in its own reader record,
 * and a retired configuration that no record names is freed (at the next install). Why this is safe:
 *  - A record keeps the two configurations its thread read last. A decision that nests on the same thread
 *    (td_check_reverse calling td_check_lookup, a signal handler's hook interrupting a decision) reads the
 *    one in force then, which moves the interrupted decision's configuration to the second slot, still
 *    named. A thread names a configuration until it reads two newer ones, so a thread that went idle keeps
 *    at most two configurations alive, never a growing number.
 *  - A reader publishes the pointer, then reads `current` again and uses the pointer only if it is still
 *    the one in force. A store followed by a load needs a full barrier to be seen in that order by another
 *    thread; instead of paying it on every read, the installer forces one on every thread of the process
 *    with membarrier(2) after it replaced `current` and before it scans the records. Then every reader has
 *    either published its pointer where the scan sees it, or reads `current` again after the barrier,
 *    finds the new configuration and does not use the old one.
 *  - A thread writes its record only when the configuration changed since its last read: the hot path is
 *    two loads and a compare, with no atomic read-modify-write and no shared cache line written.
 * When this protection cannot be given (no membarrier, or more threads at once than records), nothing is
 * freed from then on: replaced configurations are kept, as before. Configurations put in force at start
 * (the environment's, the fail-closed one) are never retired. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#ifndef SYS_membarrier
#define SYS_membarrier 324
#endif
#define MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

#define TD_READERS 1024

struct reader {
    atomic_int owned;
    _Atomic(const struct td_config *) named[2];
    char pad[64 - sizeof(atomic_int) - 2 * sizeof(void *)]; /* one cache line each: no false sharing */
};

static _Atomic(const struct td_config *) current;
/* The environment's policy (preload mode), set once at start before any configure. */
static const struct td_config *ceiling;
static struct reader readers[TD_READERS];
static __thread struct reader *mine __attribute__((tls_model("initial-exec")));
/* A thread read a configuration without a record: freeing is off for the rest of the process. */
static atomic_int unprotected;
static pthread_key_t reader_key;
static pthread_once_t reader_key_once = PTHREAD_ONCE_INIT;
static int reader_key_ok;

/* Installs are serialised; the retired list is touched only under this mutex. */
static pthread_mutex_t install_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct td_config **retired;
static size_t nretired, retired_cap;
static int barrier_state; /* 0: not tried, 1: registered, -1: unavailable (never free) */

/* A thread that exits gives its record back (the key's destructor runs on that thread). */
static void release_reader(void *p) {
    struct reader *r = p;
    if (mine == r) mine = NULL;
    atomic_store_explicit(&r->named[0], NULL, memory_order_release);
    atomic_store_explicit(&r->named[1], NULL, memory_order_release);
    atomic_store_explicit(&r->owned, 0, memory_order_release);
}

static void make_reader_key(void) {
    reader_key_ok = pthread_key_create(&reader_key, release_reader) == 0;
}

static struct reader *claim_reader(void) {
    pthread_once(&reader_key_once, make_reader_key);
    if (!reader_key_ok) return NULL;
    for (size_t i = 0; i < TD_READERS; i++) {
        int expected = 0;
        if (atomic_load_explicit(&readers[i].owned, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&readers[i].owned, &expected, 1)) {
            if (pthread_setspecific(reader_key, &readers[i]) != 0) {
                atomic_store(&readers[i].owned, 0);
                return NULL;
            }
            mine = &readers[i];
            return mine;
        }
    }
    return NULL;
}

/* Names c in this thread's record (see the top of the file), then checks it is still the one in force. */
static const struct td_config *named(const struct td_config *c) {
    struct reader *r = mine;
    if (r && atomic_load_explicit(&r->named[0], memory_order_relaxed) == c) return c;
    while (c) {
        if (!r) r = claim_reader();
        if (r) {
            const struct td_config *last = atomic_load_explicit(&r->named[0], memory_order_relaxed);
            atomic_store_explicit(&r->named[1], last, memory_order_relaxed);
            atomic_store_explicit(&r->named[0], c, memory_order_relaxed);
        } else {
            atomic_store_explicit(&unprotected, 1, memory_order_relaxed);
        }
        /* The installer's membarrier() orders the stores above before this load (see the top). */
        atomic_signal_fence(memory_order_seq_cst);
        const struct td_config *now = atomic_load_explicit(&current, memory_order_acquire);
        if (now == c) return c;
        c = now;
    }
    return NULL;
}

const struct td_config *td_config(void) {
    const struct td_config *c = atomic_load_explicit(&current, memory_order_acquire);
    if (!c) {
        if (td_initialised()) return NULL;
        td_ensure_init();
        c = atomic_load_explicit(&current, memory_order_acquire);
        if (!c) return NULL;
    }
    return named(c);
}

const struct td_config *td_ceiling(void) {
    return ceiling;
}

void td_install_env_config(const struct td_config *c) {
    ceiling = c;
    atomic_store_explicit(&current, c, memory_order_release);
}

void td_config_free(struct td_config *c) {
    if (!c) return;
    td_policy_free(c->policy);
    for (size_t i = 0; i < c->ninject; i++) free(c->inject[i]);
    free(c);
}

/* A full barrier on every running thread of the process; 0 when the kernel gives none. */
static int barrier(void) {
    if (barrier_state == 0)
        barrier_state = syscall(SYS_membarrier, MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0) == 0 ? 1 : -1;
    return barrier_state == 1 && syscall(SYS_membarrier, MEMBARRIER_PRIVATE_EXPEDITED, 0) == 0;
}

static int is_named(const struct td_config *c) {
    for (size_t i = 0; i < TD_READERS; i++) {
        if (!atomic_load_explicit(&readers[i].owned, memory_order_acquire)) continue;
        if (atomic_load_explicit(&readers[i].named[0], memory_order_acquire) == c ||
            atomic_load_explicit(&readers[i].named[1], memory_order_acquire) == c)
            return 1;
    }
    return 0;
}

/* Frees the retired configurations no reader names. Called with install_mutex held. */
static void reclaim(void) {
    if (!nretired || !barrier() || atomic_load(&unprotected)) return;
    size_t kept = 0;
    for (size_t i = 0; i < nretired; i++) {
        if (is_named(retired[i]))
            retired[kept++] = retired[i];
        else
            td_config_free(retired[i]);
    }
    nretired = kept;
}

/* Changes whenever a configuration is put in force: decisions remembered by a thread (decide.c) are good
 * only under the configuration they were made under, even one at a freed one's address. */
static atomic_ullong generation;
/* tethered_generation_mirror(): on a cache line of its own (readers on other threads poll it). */
static _Alignas(64) volatile unsigned mirror[16];

TETHERED_EXPORT volatile unsigned *tethered_generation_mirror(void) {
    return mirror;
}

unsigned long long td_config_generation(void) {
    return atomic_load_explicit(&generation, memory_order_acquire);
}

void td_install_config(struct td_config *c) {
    pthread_mutex_lock(&install_mutex);
    unsigned long long now = atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel) + 1;
    const struct td_config *old = atomic_exchange_explicit(&current, c ? c : ceiling, memory_order_acq_rel);
    /* After the new configuration is in force: whoever sees the new number and asks, asks the new one. */
    atomic_thread_fence(memory_order_release);
    mirror[0] = (unsigned)now;
    if (old && old != ceiling && old != c) {
        if (nretired == retired_cap) {
            size_t cap = retired_cap ? 2 * retired_cap : 16;
            struct td_config **grown = realloc(retired, cap * sizeof *grown);
            if (grown) {
                retired = grown;
                retired_cap = cap;
            }
        }
        /* Out of memory for the list: the old configuration is kept, never freed. */
        if (nretired < retired_cap) retired[nretired++] = (struct td_config *)old;
    }
    reclaim();
    pthread_mutex_unlock(&install_mutex);
}
