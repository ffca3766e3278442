/* Redirects libc's own entry of each system-call wrapper the shim hooks (hooks.def, detour = 1) to the
 * hook. The GOT patching of patch.c and preloading catch calls that go through the dynamic linker; this
 * catches the rest: a pointer to libc's function obtained any other way (its symbol table read by hand, a
 * pointer copied before activate(), a data relocation in an object loaded mid-call) and libc calling itself
 * (getaddrinfo's resolver, posix_spawn's exec, system() after clearenv()).
 *
 * How: the first instructions of the libc function (at least 5 bytes, which must be a known position-
 * independent form, or a rip-relative compare that is re-encoded) are copied to a stub followed by a jump
 * back, and td_real points at that stub, so the hook's "real" call runs libc's own code. Then a 5-byte
 * `jmp rel32` to a second stub (an absolute jump to the hook) replaces the first instruction, written with
 * one aligned 8-byte store. The stubs live on a page mapped within ±2 GiB of libc.
 *
 * Safety with other threads running: the jump is one aligned 8-byte store, and a thread that was stopped
 * between two instructions of the rewritten bytes (syscall(), execveat(), recvmsg() start with short
 * instructions on glibc 2.36) still runs the instruction it was at: see constrained_stub(). An entry whose
 * 5 bytes straddle an 8-byte word is redirected only while the process has a single thread (always true
 * for a preloaded shim's constructor). x86-64 only; elsewhere nothing is redirected (docs/libc-layer.md). */
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

static atomic_int redirected;

#if defined(__x86_64__)

enum state { UNSEEN, READY, DONE };

struct target {
    const char *name;
    void **real; /* the td_real entry */
    enum state state;
    unsigned char *entry; /* where the jump goes */
    int live_safe;        /* may be rewritten while other threads run */
    int wanted;           /* detour = 1 in hooks.def */
    int boundary;         /* the first instruction boundary inside the 5 rewritten bytes (5: none) */
    unsigned char *to;    /* where the jump leads: the stub that jumps on to the hook */
};

static struct target targets[] = {
#define TD_HOOK(name, ret, params, detour) \
    {#name, (void **)&td_real.name, (detour) ? UNSEEN : DONE, NULL, 0, (detour), 5, NULL},
#include "hooks.def"
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* The length of one instruction of the forms libc's wrappers start with, or 0 for anything else.
 * *riprel: offset of a rip-relative disp32 inside it, or -1. */
static size_t length(const unsigned char *p, int *riprel) {
    *riprel = -1;
    if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) return 4; /* endbr64 */
    if (p[0] == 0x80 && p[1] == 0x3d) {                                         /* cmpb $imm8, disp32(%rip) */
        *riprel = 2;
        return 7;
    }
    if (p[0] >= 0xb8 && p[0] <= 0xbf) return 5; /* mov $imm32, %r32 */
    if (p[0] >= 0x50 && p[0] <= 0x57) return 1; /* push %r64 */
    size_t rex = (p[0] & 0xf0) == 0x40 ? 1 : 0; /* REX prefix */
    const unsigned char *q = p + rex;
    if (rex && q[0] >= 0x50 && q[0] <= 0x57) return 2;           /* push %r8..%r15 */
    if ((q[0] == 0x89 || q[0] == 0x31) && (q[1] & 0xc0) == 0xc0) /* mov/xor between registers */
        return rex + 2;
    if (q[0] == 0x83 && q[1] == 0xec) return rex + 3; /* sub $imm8, %rsp */
    return 0;
}

static int single_threaded(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n == 1;
}

static int near(uintptr_t a, uintptr_t b) {
    intptr_t d = (intptr_t)(a - b);
    return d > -((intptr_t)1 << 31) + 4096 && d < ((intptr_t)1 << 31) - 4096;
}

/* A page for the stubs within reach of `around` (libc's code), or NULL. */
static unsigned char *stub_page(uintptr_t around) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (uintptr_t step = 1; step < 1024; step++) {
        for (int dir = -1; dir <= 1; dir += 2) {
            uintptr_t hint = (around & ~(page - 1)) + (uintptr_t)((intptr_t)dir * (intptr_t)(step << 20));
            void *p = mmap((void *)hint, page, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p == MAP_FAILED) continue;
            if (near((uintptr_t)p, around)) return p;
            munmap(p, page);
        }
    }
    return NULL;
}

static void put_jump(unsigned char *at, uintptr_t to) {
    static const unsigned char jmp[6] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp *0(%rip) */
    memcpy(at, jmp, 6);
    memcpy(at + 6, &to, 8);
}

enum { STUB = 64, HOOK_AT = 40 };

/* Builds the stub for `fn` at `stub` (its first instructions moved, then a jump back) and says where the
 * jump will be written; 0 when the entry is not one we can move (its first bytes are not of the known
 * forms). */
static int prepare(unsigned char *fn, unsigned char *stub, struct target *t) {
    size_t at = 0, copied = 0;
    int riprel;
    if (length(fn, &riprel) == 4 && fn[0] == 0xf3) at = 4; /* keep endbr64 in place */
    t->boundary = 5;
    while (copied < 5) {
        size_t n = length(fn + at + copied, &riprel);
        if (n == 0 || copied + n > 24) return 0;
        memcpy(stub + copied, fn + at + copied, n);
        if (riprel >= 0) {
            int32_t disp;
            memcpy(&disp, fn + at + copied + riprel, 4);
            uintptr_t target = (uintptr_t)(fn + at + copied + n) + (uintptr_t)(intptr_t)disp;
            uintptr_t next = (uintptr_t)(stub + copied + n);
            if (!near(target, next)) return 0;
            int32_t moved = (int32_t)(intptr_t)(target - next);
            memcpy(stub + copied + riprel, &moved, 4);
        }
        copied += n;
        if (copied < 5 && t->boundary == 5) t->boundary = (int)copied;
    }
    put_jump(stub + copied, (uintptr_t)(fn + at + copied));
    t->entry = fn + at;
    /* The jump is written with one aligned 8-byte store: its 5 bytes must lie inside one such word. */
    t->live_safe = (((uintptr_t)t->entry) & 7) <= 3;
    return 1;
}

/* A thread stopped at an instruction boundary b inside the rewritten bytes resumes there and decodes the
 * jump's displacement bytes b-1..3 followed by the original bytes from 5 on. If those displacement bytes
 * equal the original bytes b..4, it runs exactly the instruction it was about to run. So the displacement's
 * high bytes are fixed, and the stub it leads to must sit in the window they leave: a page is mapped there
 * for it. Returns the stub's address, or NULL when that window has no free page. */
static unsigned char *constrained_stub(const struct target *t, void *hook) {
    int b = t->boundary;
    uint32_t fixed = 0;
    for (int k = b; k <= 4; k++) fixed |= (uint32_t)t->entry[k] << (8 * (k - 1));
    uint32_t span = b == 1 ? 1 : 1u << (8 * (b - 1));
    uintptr_t lo = (uintptr_t)t->entry + 5 + (uintptr_t)(intptr_t)(int32_t)fixed, hi = lo + span - 1;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (uintptr_t p = lo & ~(page - 1); p <= hi; p += page) {
        void *m = mmap((void *)p, 2 * page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (m == MAP_FAILED) continue;
        if ((uintptr_t)m != p) {
            munmap(m, 2 * page);
            continue;
        }
        unsigned char *stub = (unsigned char *)(lo > p ? lo : p);
        put_jump(stub, (uintptr_t)hook);
        if (mprotect(m, 2 * page, PROT_READ | PROT_EXEC) != 0) {
            munmap(m, 2 * page);
            return NULL;
        }
        return stub;
    }
    return NULL;
}

static int rewrite(unsigned char *entry, uintptr_t to) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)entry & ~(page - 1), last = ((uintptr_t)entry + 8) & ~(page - 1);
    size_t span = last - first + page;
    /* execute stays on throughout: other threads may be running this very page */
    if (mprotect((void *)first, span, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return -1;
    uint64_t *word = (uint64_t *)((uintptr_t)entry & ~(uintptr_t)7);
    unsigned char bytes[8];
    uint64_t old = __atomic_load_n(word, __ATOMIC_RELAXED);
    memcpy(bytes, &old, 8);
    size_t off = (uintptr_t)entry & 7;
    int32_t rel = (int32_t)(intptr_t)(to - ((uintptr_t)entry + 5));
    bytes[off] = 0xe9;
    memcpy(bytes + off + 1, &rel, 4);
    uint64_t now;
    memcpy(&now, bytes, 8);
    __atomic_store_n(word, now, __ATOMIC_SEQ_CST);
    mprotect((void *)first, span, PROT_READ | PROT_EXEC);
    return 0;
}

/* Builds every stub once, on a page that is then never written again (other threads run the stubs). */
static unsigned char *build_stubs(void) {
    unsigned char *page = td_real.connect ? stub_page((uintptr_t)td_real.connect) : NULL;
    if (!page) return NULL;
    for (size_t i = 0; i < NTARGETS; i++) {
        struct target *t = &targets[i];
        unsigned char *fn = *t->real;
        void *hook = td_own_symbol(t->name);
        unsigned char *stub = page + i * STUB;
        if (t->state != UNSEEN || !fn || !hook || !near((uintptr_t)fn, (uintptr_t)page) ||
            !prepare(fn, stub, t)) {
            t->state = DONE; /* an entry of another shape: left to the GOT and dlsym() */
            continue;
        }
        if (t->boundary < 5) {
            t->to = constrained_stub(t, hook);
        } else {
            put_jump(stub + HOOK_AT, (uintptr_t)hook);
            t->to = stub + HOOK_AT;
        }
        t->state = t->to ? READY : DONE;
    }
    if (mprotect(page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_EXEC) != 0) return NULL;
    return page;
}

static void watch_loader(void);
static uintptr_t first_libc; /* the libc td_real comes from: not one of the copies */

int td_detour_libc(void) {
    static atomic_flag busy = ATOMIC_FLAG_INIT;
    static unsigned char *page;
    if (atomic_flag_test_and_set(&busy)) return atomic_load(&redirected);
    td_resolve_real();
    if (!first_libc) { /* before td_real leads to the stubs */
        Dl_info info;
        if (td_real.connect && dladdr((void *)td_real.connect, &info)) first_libc = (uintptr_t)info.dli_fbase;
    }
    if (!page) page = build_stubs();
    int alone = -1;
    for (size_t i = 0; page && i < NTARGETS; i++) {
        struct target *t = &targets[i];
        if (t->state != READY) continue;
        if (!t->live_safe) {
            if (alone < 0) alone = single_threaded();
            if (!alone) continue; /* left for a later pass, when the process may be alone again */
        }
        /* From here the hook's real call runs the moved instructions, not the entry that jumps to it. */
        void *fn = *t->real;
        __atomic_store_n(t->real, (void *)(page + i * STUB), __ATOMIC_RELEASE);
        if (rewrite(t->entry, (uintptr_t)t->to) != 0) {
            __atomic_store_n(t->real, fn, __ATOMIC_RELEASE);
            t->state = DONE;
            continue;
        }
        t->state = DONE;
        atomic_fetch_add(&redirected, 1);
    }
    if (page) watch_loader();
    atomic_flag_clear(&busy);
    return atomic_load(&redirected);
}

/* ---- other copies of libc (dlmopen() into a new namespace, an audit namespace) ----
 * Their entries jump straight to the hooks, whose real calls run the first libc's code: the same system
 * calls. The loader tells of every object it maps through _dl_debug_state() (the debuggers' breakpoint,
 * _r_debug.r_brk: `ret` and padding), which is redirected too, so a copy is redirected as soon as it is
 * mapped — before its code can run, whoever loaded it and however its functions are then found. */

#define OTHER_COPIES 16
static uintptr_t copies[OTHER_COPIES];
static size_t ncopies;

static void redirect_copy(uintptr_t base, const void *dyn) {
    static unsigned char scratch[STUB];
    unsigned char *page = NULL;
    size_t used = 0, page_size = (size_t)sysconf(_SC_PAGESIZE);
    int alone = -1;
    for (size_t i = 0; i < NTARGETS; i++) {
        struct target t = targets[i];
        if (!t.wanted) continue;
        unsigned char *fn = td_elf_lookup(base, dyn, t.name);
        void *hook = td_own_symbol(t.name);
        if (!fn || !hook || !prepare(fn, scratch, &t)) continue;
        if (!t.live_safe) {
            if (alone < 0) alone = single_threaded();
            if (!alone) continue;
        }
        if (t.boundary < 5) {
            t.to = constrained_stub(&t, hook);
        } else {
            if (!page || used + 16 > page_size) {
                if (page) mprotect(page, page_size, PROT_READ | PROT_EXEC);
                page = stub_page((uintptr_t)fn);
                used = 0;
            }
            if (!page || !near((uintptr_t)fn, (uintptr_t)page)) continue;
            t.to = page + used;
            put_jump(t.to, (uintptr_t)hook);
            used += 16;
        }
        if (t.to && rewrite(t.entry, (uintptr_t)t.to) == 0) atomic_fetch_add(&redirected, 1);
    }
    if (page) mprotect(page, page_size, PROT_READ | PROT_EXEC);
}

/* Each namespace's list of loaded objects, as the loader shows debuggers (glibc 2.35 and later chain the
 * namespaces after the first: r_version 2). Read inside the loader's own callback: nothing moves. */
struct debug_namespaces {
    struct r_debug base;
    struct debug_namespaces *next;
};

static void consider(const struct link_map *l) {
    if (!l->l_name || !td_str_starts(td_basename(l->l_name), "libc.so") || !l->l_ld) return;
    if (l->l_addr == first_libc) return;
    for (size_t i = 0; i < ncopies; i++)
        if (copies[i] == l->l_addr) return;
    if (ncopies == OTHER_COPIES) return;
    copies[ncopies++] = l->l_addr;
    redirect_copy(l->l_addr, l->l_ld);
}

static void redirect_copies(void) {
    if (!first_libc) return; /* which libc is the first is unknown: no copy can be told from it */
    for (const struct debug_namespaces *ns = (const struct debug_namespaces *)&_r_debug; ns;
         ns = _r_debug.r_version >= 2 ? ns->next : NULL)
        for (const struct link_map *l = ns->base.r_map; l; l = l->l_next) consider(l);
}

/* What _dl_debug_state() now runs: the loader has mapped (or unmapped) objects. */
static void loader_changed(void) {
    if (_r_debug.r_state == RT_CONSISTENT) redirect_copies();
}

static void watch_loader(void) {
    static int done;
    unsigned char *brk = (unsigned char *)_r_debug.r_brk;
    if (done || !brk) return;
    done = 1;
    /* `ret` and then padding: nothing but this entry's first byte is ever executed there */
    for (int i = 1; i < 5; i++)
        if (brk[0] != 0xc3 || (brk[i] != 0x90 && brk[i] != 0x66 && brk[i] != 0x2e && brk[i] != 0x0f &&
                               brk[i] != 0x1f && brk[i] != 0xcc && brk[i] != 0x84 && brk[i] != 0x00))
            return;
    unsigned char *page = stub_page((uintptr_t)brk);
    if (!page) return;
    put_jump(page, (uintptr_t)loader_changed);
    if (mprotect(page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_EXEC) != 0) return;
    rewrite(brk, (uintptr_t)page);
    redirect_copies(); /* the copies already there */
}

#else

int td_detour_libc(void) {
    return 0;
}

#endif

/* How many libc entries lead to the hooks (0 where redirection is not available). */
TETHERED_EXPORT int tethered_detours(void) {
    return atomic_load(&redirected);
}
