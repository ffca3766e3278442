/* dlsym() and dlvsym(): asking the loader for a hooked function (hooks.def) by any of its names, in any
 * handle (a dlopen()ed libc, RTLD_DEFAULT, RTLD_NEXT) or version, gives the hook, never libc's function.
 * Other names go straight on to the real function as a sibling call, so that RTLD_NEXT still means "after
 * the caller" for them (the loader reads the caller from the return address). */
#include <dlfcn.h>

#include "shim.h"

static const char *const NAMES[] = {
#define TD_HOOK(name, ret, params, detour) #name,
#define TD_FRONT(name) #name,
#define TD_ALIAS(alias, name) #alias,
#include "hooks.def"
};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

TD_UNINSTRUMENTED static int hooked(const char *name) {
    if (!name || name[0] == 0) return -1;
    for (size_t i = 0; i < NNAMES; i++)
        if (name[0] == NAMES[i][0] && td_str_equal(name, NAMES[i])) return (int)i;
    return -1;
}

/* Is `p` inside one of the libraries the real functions come from? */
TD_UNINSTRUMENTED static int in_libc(void *p) {
    Dl_info info;
    if (!dladdr(p, &info) || !info.dli_fname) return 0;
    const char *base = td_basename(info.dli_fname);
    static const char *const objects[] = {"libc.so", "libresolv.so", "libanl.so", "libdl.so"};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (td_str_starts(base, objects[i])) return 1;
    return 0;
}

/* What the loader found for a hooked name: libc's function becomes the hook; a definition in another
 * library (an interposer of its own, which reaches libc through here again) is left as it is. */
TD_UNINSTRUMENTED static void *answer(void *found, int index) {
    if (!found || !in_libc(found)) return found;
    static void *hooks[NNAMES];
    void *hook = __atomic_load_n(&hooks[index], __ATOMIC_ACQUIRE);
    if (!hook) {
        hook = td_own_symbol(NAMES[index]);
        __atomic_store_n(&hooks[index], hook, __ATOMIC_RELEASE);
    }
    return hook ? hook : found;
}

TD_UNINSTRUMENTED __attribute__((optimize("optimize-sibling-calls"))) TETHERED_EXPORT void *dlsym(
    void *handle, const char *name) {
    if (!td_real.dlsym) td_resolve_real();
    int index = hooked(name);
    if (index < 0) return td_real.dlsym(handle, name);
    return answer(td_real.dlsym(handle, name), index);
}

TD_UNINSTRUMENTED __attribute__((optimize("optimize-sibling-calls"))) TETHERED_EXPORT void *dlvsym(
    void *handle, const char *name, const char *version) {
    if (!td_real.dlvsym) td_resolve_real();
    int index = hooked(name);
    if (index < 0) return td_real.dlvsym(handle, name, version);
    return answer(td_real.dlvsym(handle, name, version), index);
}
