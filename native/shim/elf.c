/* Symbols read straight from a loaded object's dynamic symbol table. The shim needs libc's real functions
 * and its own hooks' addresses without asking dlsym(), which it hooks itself (dl.c); and reading the table
 * gives the same answer in preload mode and when the addon loaded the shim late. */
#include <elf.h>
#include <link.h>
#include <string.h>

#include "shim.h"

struct table {
    uintptr_t base;
    const ElfW(Sym) * symtab;
    const char *strtab;
    const uint32_t *gnu_hash;
    const uint32_t *sysv_hash;
    const ElfW(Half) * versym;
};

TD_UNINSTRUMENTED static uintptr_t address(uintptr_t base, ElfW(Addr) value) {
    /* glibc relocates the dynamic section's pointers in place; other loaders leave them as offsets */
    return value < base ? base + value : value;
}

TD_UNINSTRUMENTED static int read_table(uintptr_t base, const ElfW(Dyn) * dyn, struct table *t) {
    memset(t, 0, sizeof *t);
    t->base = base;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = address(base, dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
            case DT_SYMTAB:
                t->symtab = (const ElfW(Sym) *)p;
                break;
            case DT_STRTAB:
                t->strtab = (const char *)p;
                break;
            case DT_GNU_HASH:
                t->gnu_hash = (const uint32_t *)p;
                break;
            case DT_HASH:
                t->sysv_hash = (const uint32_t *)p;
                break;
            case DT_VERSYM:
                t->versym = (const ElfW(Half) *)p;
                break;
            default:
                break;
        }
    }
    return t->symtab && t->strtab && (t->gnu_hash || t->sysv_hash) ? 0 : -1;
}

/* A defined function or object of this name in its default version (name@@VERSION, or unversioned). */
TD_UNINSTRUMENTED static void *match(const struct table *t, uint32_t index, const char *name) {
    const ElfW(Sym) *sym = &t->symtab[index];
    if (sym->st_shndx == SHN_UNDEF || sym->st_value == 0) return NULL;
    int type = ELF64_ST_TYPE(sym->st_info);
    if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) return NULL; /* IFUNC: not ours */
    if (t->versym && (t->versym[index] & 0x8000)) return NULL;                     /* name@VERSION */
    if (!td_str_equal(t->strtab + sym->st_name, name)) return NULL;
    return (void *)(t->base + sym->st_value);
}

TD_UNINSTRUMENTED static uint32_t gnu_hash(const char *s) {
    uint32_t h = 5381;
    for (; *s; s++) h = h * 33 + (unsigned char)*s;
    return h;
}

TD_UNINSTRUMENTED static void *find(const struct table *t, const char *name) {
    if (t->gnu_hash) {
        uint32_t nbuckets = t->gnu_hash[0], symoffset = t->gnu_hash[1], bloom_size = t->gnu_hash[2];
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)&t->gnu_hash[4];
        const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size];
        const uint32_t *chain = &buckets[nbuckets];
        if (nbuckets == 0) return NULL;
        uint32_t h = gnu_hash(name);
        for (uint32_t i = buckets[h % nbuckets]; i >= symoffset; i++) {
            uint32_t link = chain[i - symoffset];
            if ((link | 1) == (h | 1)) {
                void *p = match(t, i, name);
                if (p) return p;
            }
            if (link & 1) break;
        }
        return NULL;
    }
    uint32_t count = t->sysv_hash[1];
    for (uint32_t i = 1; i < count; i++) {
        void *p = match(t, i, name);
        if (p) return p;
    }
    return NULL;
}

TD_UNINSTRUMENTED void *td_elf_lookup(uintptr_t base, const void *dyn, const char *name) {
    struct table t;
    return read_table(base, (const ElfW(Dyn) *)dyn, &t) == 0 ? find(&t, name) : NULL;
}

struct query {
    const char *prefix, *name;
    void *found;
};

TD_UNINSTRUMENTED static int visit(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct query *q = data;
    const char *path = info->dlpi_name ? info->dlpi_name : "";
    if (!td_str_starts(td_basename(path), q->prefix)) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
        q->found = td_elf_lookup(info->dlpi_addr,
                                 (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr), q->name);
        return q->found != NULL;
    }
    return 0;
}

TD_UNINSTRUMENTED void *td_elf_symbol(const char *prefix, const char *name) {
    struct query q = {prefix, name, NULL};
    dl_iterate_phdr(visit, &q);
    return q.found;
}

struct own {
    const char *name;
    void *found;
};

/* The object whose loaded segments hold this very function is this library. */
TD_UNINSTRUMENTED static int visit_own(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct own *q = data;
    uintptr_t self = (uintptr_t)td_own_symbol;
    const ElfW(Dyn) *dyn = NULL;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= start && self < start + ph->p_memsz) mine = 1;
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)start;
    }
    if (!mine) return 0;
    q->found = dyn ? td_elf_lookup(info->dlpi_addr, dyn, q->name) : NULL;
    return 1;
}

TD_UNINSTRUMENTED void *td_own_symbol(const char *name) {
    struct own q = {name, NULL};
    dl_iterate_phdr(visit_own, &q);
    return q.found;
}
