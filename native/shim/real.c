/* The real libc functions behind every hook (hooks.def), read from libc's own symbol table rather than
 * asked of dlsym() (which the shim hooks) or RTLD_NEXT, so that the same code works when the shim is
 * preloaded and when it is loaded later and patched in. Older glibc keeps the res_* functions in
 * libresolv (as __res_*), getaddrinfo_a in libanl and dlsym in libdl. detour.c later points the entries of
 * redirected functions at their relocated first instructions. */
#include <stdatomic.h>

#include "shim.h"

struct td_real td_real;

TD_UNINSTRUMENTED static void *real_symbol(const char *name) {
    static const char *const objects[] = {"libc.so", "libresolv.so", "libanl.so", "libdl.so"};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        void *p = td_elf_symbol(objects[i], name);
        if (p) return p;
    }
    return NULL;
}

TD_UNINSTRUMENTED void td_resolve_real(void) {
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return;
#define TD_HOOK(name, ret, params, detour) \
    if (!td_real.name) td_real.name = (__typeof__(td_real.name))real_symbol(#name);
#include "hooks.def"
#define TD_HOOK(name, ret, params, detour)
#define TD_ALIAS(alias, name) \
    if (!td_real.name) td_real.name = (__typeof__(td_real.name))real_symbol(#alias);
#include "hooks.def"
    atomic_store_explicit(&done, 1, memory_order_release);
}
