/* In-process mode: the addon loads this library into a running Node process (no LD_PRELOAD) and points
 * every loaded object's GOT entries for the hooked functions at the hooks: JUMP_SLOT (calls through the
 * PLT) and GLOB_DAT (function pointers taken at load time, and -fno-plt calls). Pages that full RELRO made
 * read-only are made writable for the write and read-only again. dlopen() is redirected too, so that
 * objects loaded later are patched before the caller gets their handle.
 *
 * Function pointers stored in data (R_X86_64_64) are pointed at the hooks as well. What the GOT cannot
 * reach — a pointer copied before activate(), libc calling itself — reaches libc's entry of the function,
 * which detour.c redirects for the system-call wrappers. libc and the dynamic loader are not patched here;
 * this library is not patched. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

static const char *const HOOKED[] = {
#define TD_HOOK(name, ret, params, detour) #name,
#define TD_FRONT(name) #name,
#define TD_ALIAS(alias, name) #alias,
#include "hooks.def"
};
#define NHOOKED (sizeof HOOKED / sizeof HOOKED[0])

static void *hook_address[NHOOKED + 1]; /* the last one: dlopen */
static void *(*real_dlopen)(const char *, int);
static atomic_int patched_slots;

static void *patched_dlopen(const char *file, int mode);

/* The hooks' own addresses, looked up in this library (a plain &connect here could bind to libc's). */
static int resolve_hooks(void) {
    if (hook_address[0]) return 0;
    /* a name this library does not export (a build that lost one: the registry test fails) is skipped,
     * never a reason to patch nothing */
    for (size_t i = 0; i < NHOOKED; i++) hook_address[i] = td_own_symbol(HOOKED[i]);
    hook_address[NHOOKED] = (void *)patched_dlopen;
    real_dlopen = (void *(*)(const char *, int))td_elf_symbol("libc.so", "dlopen");
    if (!real_dlopen) real_dlopen = (void *(*)(const char *, int))td_elf_symbol("libdl.so", "dlopen");
    return real_dlopen ? 0 : -1;
}

static void *hook_for(const char *name) {
    if (strcmp(name, "dlopen") == 0) return hook_address[NHOOKED];
    for (size_t i = 0; i < NHOOKED; i++)
        if (strcmp(name, HOOKED[i]) == 0) return hook_address[i];
    return NULL;
}

static int skipped(const char *name) {
    if (!name || !*name) return 0; /* the main program */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    return strcmp(name, td_self_path) == 0 || strncmp(base, "libc.so", 7) == 0 ||
           strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "linux-vdso", 10) == 0 ||
           strncmp(base, "linux-gate", 10) == 0;
}

struct object {
    uintptr_t base;
    uintptr_t relro_start, relro_end;
};

static void write_slot(const struct object *o, void **slot, void *value) {
    if (*slot == value) return;
    uintptr_t at = (uintptr_t)slot;
    if (at >= o->relro_start && at < o->relro_end) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        void *start = (void *)(at & ~(page - 1));
        if (mprotect(start, page, PROT_READ | PROT_WRITE) != 0) return;
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        mprotect(start, page, PROT_READ);
    } else {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    }
    atomic_fetch_add(&patched_slots, 1);
}

static void patch_relocations(const struct object *o, const ElfW(Rela) * rel, size_t size,
                              const ElfW(Sym) * symtab, const char *strtab) {
    for (size_t i = 0; i < size / sizeof *rel; i++) {
        unsigned long type = ELF64_R_TYPE(rel[i].r_info);
        /* Calls through the PLT, pointers loaded from the GOT, and function pointers stored in data
         * (`static int (*p)() = connect;`, a table of handlers), which hold the symbol plus an addend. */
#if defined(__x86_64__)
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && type != R_X86_64_64) continue;
        int data = type == R_X86_64_64;
#elif defined(__aarch64__)
        if (type != R_AARCH64_JUMP_SLOT && type != R_AARCH64_GLOB_DAT && type != R_AARCH64_ABS64) continue;
        int data = type == R_AARCH64_ABS64;
#else
#error "in-process patching supports x86_64 and aarch64"
#endif
        const ElfW(Sym) *sym = &symtab[ELF64_R_SYM(rel[i].r_info)];
        if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC && ELF64_ST_TYPE(sym->st_info) != STT_NOTYPE) continue;
        void *hook = hook_for(strtab + sym->st_name);
        if (hook)
            write_slot(o, (void **)(o->base + rel[i].r_offset), (char *)hook + (data ? rel[i].r_addend : 0));
    }
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (skipped(info->dlpi_name)) return 0;
    struct object o = {info->dlpi_addr, 0, 0};
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(o.base + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            o.relro_start = o.base + ph->p_vaddr;
            o.relro_end = o.relro_start + ph->p_memsz;
        }
    }
    if (!dyn) return 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t jmprel_size = 0, rela_size = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        /* glibc relocates these pointers in place; other loaders leave them as offsets */
        uintptr_t p = dyn->d_un.d_ptr < o.base ? o.base + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
            case DT_SYMTAB:
                symtab = (const ElfW(Sym) *)p;
                break;
            case DT_STRTAB:
                strtab = (const char *)p;
                break;
            case DT_JMPREL:
                jmprel = (const ElfW(Rela) *)p;
                break;
            case DT_PLTRELSZ:
                jmprel_size = dyn->d_un.d_val;
                break;
            case DT_RELA:
                rela = (const ElfW(Rela) *)p;
                break;
            case DT_RELASZ:
                rela_size = dyn->d_un.d_val;
                break;
            default:
                break;
        }
    }
    if (!symtab || !strtab) return 0;
    if (jmprel) patch_relocations(&o, jmprel, jmprel_size, symtab, strtab);
    if (rela) patch_relocations(&o, rela, rela_size, symtab, strtab);
    return 0;
}

static atomic_flag patching = ATOMIC_FLAG_INIT;

int td_patch_all(void) {
    if (resolve_hooks() != 0) return -1;
    /* One patcher at a time: two would race on a page's protection. A patcher that a fork() left behind
     * never finishes in the child, so waiting is bounded; giving up leaves new objects unpatched, which
     * only a forked child that then dlopen()s without exec can meet. */
    int waited = 0;
    while (atomic_flag_test_and_set(&patching)) {
        if (++waited > 100000) return -1;
        sched_yield();
    }
    dl_iterate_phdr(patch_object, NULL);
    atomic_flag_clear(&patching);
    return atomic_load(&patched_slots);
}

/* dlopen for patched objects: load, then patch whatever is new before the caller sees the handle. A bare
 * name that only the caller's own RUNPATH would find is retried beside the caller. */
static void *patched_dlopen(const char *file, int mode) {
    void *caller = __builtin_return_address(0);
    void *handle = real_dlopen(file, mode);
    if (!handle && file && !strchr(file, '/')) {
        Dl_info info;
        if (dladdr(caller, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
            char path[TD_PATH_MAX];
            const char *slash = strrchr(info.dli_fname, '/');
            int n =
                snprintf(path, sizeof path, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, file);
            if (n > 0 && (size_t)n < sizeof path) handle = real_dlopen(path, mode);
        }
    }
    if (handle && td_config()) td_patch_all();
    return handle;
}
