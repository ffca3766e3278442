/* Which names this process resolved to each address, so that a connect to the address is judged by name
 * and port (docs/rules.md, Deciding). Bounded and lock-free:
 *
 *   256 buckets x 4 addresses, 4 names per address (1,024 addresses in all). A new address takes the free
 *   place in its bucket, else the place of the address resolved longest ago. A fifth name for an address
 *   replaces its oldest name. Resolving a name again refreshes its address.
 *
 * Each place is guarded by a sequence counter (odd while written). A writer claims a place with a
 * compare-and-swap and gives up after a few tries rather than wait; a reader copies the place and retries
 * if the counter moved. Nothing here can be held by a thread that a fork() left behind: a place whose
 * writer vanished stays odd, readers skip it, and the next writer cannot claim it, so it merely stops
 * being used. */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "shim.h"

#define BUCKETS 256
#define WAYS 4

struct place {
    atomic_uint seq;
    atomic_uint_fast64_t stamp; /* when the address was last resolved */
    struct td_ip ip;
    unsigned nnames;
    char names[TD_HOSTMAP_NAMES][TD_NAME_BUF];
};

static struct place places[BUCKETS][WAYS];
static atomic_uint_fast64_t clock_ticks;

static unsigned bucket_of(const struct td_ip *ip) {
    uint32_t h = 2166136261u;
    size_t n = ip->family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i++) h = (h ^ ip->bytes[i]) * 16777619u;
    return h % BUCKETS;
}

void td_hostmap_add(const struct td_ip *ip, const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len >= TD_NAME_BUF) return;
    struct place *bucket = places[bucket_of(ip)];
    for (int attempt = 0; attempt < 64; attempt++) {
        /* The place that already holds this address, else an empty one, else the stalest. */
        struct place *target = NULL, *oldest = NULL;
        for (int w = 0; w < WAYS && !target; w++) {
            struct place *p = &bucket[w];
            unsigned s = atomic_load_explicit(&p->seq, memory_order_acquire);
            if (s & 1) continue;
            if (p->nnames && td_ip_equal(&p->ip, ip)) target = p;
            if (!oldest || p->nnames == 0 ||
                (oldest->nnames && atomic_load(&p->stamp) < atomic_load(&oldest->stamp)))
                oldest = p;
        }
        if (!target) target = oldest;
        if (!target) {
            sched_yield();
            continue;
        }
        unsigned s = atomic_load_explicit(&target->seq, memory_order_acquire);
        if ((s & 1) || !atomic_compare_exchange_strong(&target->seq, &s, s + 1)) continue;
        atomic_thread_fence(memory_order_release);
        if (!target->nnames || !td_ip_equal(&target->ip, ip)) {
            target->ip = *ip;
            target->nnames = 0;
        }
        unsigned i;
        for (i = 0; i < target->nnames; i++)
            if (strcmp(target->names[i], name) == 0) break;
        if (i == target->nnames) {
            if (target->nnames == TD_HOSTMAP_NAMES) {
                memmove(target->names[0], target->names[1], sizeof target->names[0] * (TD_HOSTMAP_NAMES - 1));
                target->nnames--;
            }
            memcpy(target->names[target->nnames++], name, len + 1);
        }
        atomic_store(&target->stamp, atomic_fetch_add(&clock_ticks, 1) + 1);
        atomic_store_explicit(&target->seq, s + 2, memory_order_release);
        return;
    }
}

size_t td_hostmap_names(const struct td_ip *ip, char names[TD_HOSTMAP_NAMES][TD_NAME_BUF]) {
    struct place *bucket = places[bucket_of(ip)];
    for (int w = 0; w < WAYS; w++) {
        struct place *p = &bucket[w];
        for (int attempt = 0; attempt < 16; attempt++) {
            unsigned before = atomic_load_explicit(&p->seq, memory_order_acquire);
            if (before & 1) continue;
            if (!p->nnames || !td_ip_equal(&p->ip, ip)) {
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&p->seq, memory_order_relaxed) == before) break;
                continue;
            }
            unsigned n = p->nnames;
            if (n > TD_HOSTMAP_NAMES) n = TD_HOSTMAP_NAMES;
            memcpy(names, p->names, sizeof p->names[0] * n);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&p->seq, memory_order_relaxed) != before) continue;
            for (unsigned k = 0; k < n; k++) names[k][TD_NAME_BUF - 1] = 0;
            return n;
        }
    }
    return 0;
}

/* Changes whenever a name is recorded: a decision remembered under one value may depend on the names. */
unsigned long long td_hostmap_generation(void) {
    return (unsigned long long)atomic_load_explicit(&clock_ticks, memory_order_acquire);
}
