/* Children keep the shim and the policy (docs/rules.md, Where rules come from): every exec and spawn is given
 * an environment with this library first in LD_PRELOAD and the TETHERED_* variables of this process, whatever
 * environment the caller passed (even an empty one). TETHERED_* entries the caller passed are replaced,
 * so a child cannot be handed a looser policy. With TETHERED_CHILDREN=none, children get neither the
 * shim nor the TETHERED_* variables.
 *
 * The new environment is built on the stack: exec may run in a vfork() child, where malloc is unsafe.
 * A program the shim cannot follow (static, setuid: unchecked.c) is reported on the way. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

extern char **environ;

size_t td_env_count(char *const *envp) {
    size_t n = 0;
    if (envp)
        while (envp[n]) n++;
    return n;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *const *td_child_env(char *const *envp, char **out, char *preload, size_t cap) {
    const struct td_config *cfg = td_config();
    if (!cfg || !td_self_path[0]) return envp;
    int inherit = cfg->children_inherit;
    size_t n = 0, o = 0;
    const char *old_preload = NULL;
    for (size_t i = 0; envp && envp[i]; i++) {
        if (starts_with(envp[i], "LD_PRELOAD=")) {
            old_preload = envp[i] + strlen("LD_PRELOAD=");
            continue;
        }
        if (starts_with(envp[i], "TETHERED_")) continue;
        /* An audit library runs in the child's loader before the shim and can refuse to load it
         * (la_objsearch): a child that keeps the policy gets none. */
        if (inherit && starts_with(envp[i], "LD_AUDIT=")) continue;
        out[n++] = envp[i];
    }
    /* LD_PRELOAD=<this library>[:the caller's other entries]; without it when children do not inherit.
     * A sanitizer build needs its runtime loaded first, so it goes in front. */
    int w = td_sanitizer_runtime[0] && inherit
                ? snprintf(preload, cap, "LD_PRELOAD=%s:%s", td_sanitizer_runtime, td_self_path)
                : snprintf(preload, cap, "LD_PRELOAD=%s", inherit ? td_self_path : "");
    if (w < 0 || (size_t)w >= cap) return envp;
    o = (size_t)w;
    for (const char *p = old_preload; p && *p;) {
        while (*p == ':' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ':' && *p != ' ') p++;
        size_t len = (size_t)(p - start);
        if (!len || (len == strlen(td_self_path) && memcmp(start, td_self_path, len) == 0)) continue;
        if (len == strlen(td_sanitizer_runtime) && memcmp(start, td_sanitizer_runtime, len) == 0) continue;
        if (o + len + 2 >= cap) break;
        if (preload[o - 1] != '=') preload[o++] = ':';
        memcpy(preload + o, start, len);
        o += len;
    }
    preload[o] = 0;
    if (inherit || preload[o - 1] != '=') out[n++] = preload;
    if (inherit) {
        for (size_t i = 0; i < cfg->ninject; i++) out[n++] = cfg->inject[i];
        if (td_mount_ns_entry[0]) out[n++] = td_mount_ns_entry;
    }
    out[n] = NULL;
    return out;
}

/* Is this exec the dynamic loader run by hand with an audit library (`ld.so --audit LIB program`)? The
 * audit library could refuse to load the shim, as LD_AUDIT could. The loader is known by having no
 * PT_INTERP of its own (a static program has none either, and the shim cannot follow one anyway). */
static int audited_loader(int dirfd, const char *path, char *const argv[], int flags) {
    int asks = 0;
    for (size_t i = 1; argv && argv[i] && !asks; i++) asks = strncmp(argv[i], "--audit", 7) == 0;
    if (!asks) return 0;
    int fd =
        (flags & AT_EMPTY_PATH) && path && !*path
            ? dup(dirfd)
            : openat(dirfd, path, O_RDONLY | O_CLOEXEC | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
    if (fd < 0) return 0; /* the exec itself will fail */
    ElfW(Ehdr) eh;
    int interp = 0,
        elf = pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
    for (unsigned i = 0; elf && i < eh.e_phnum && i < 256; i++) {
        ElfW(Phdr) ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (ElfW(Off))i * eh.e_phentsize)) !=
            (ssize_t)sizeof ph)
            break;
        interp |= ph.p_type == PT_INTERP;
    }
    close(fd);
    return elf && !interp;
}

/* The shim's own exec refusals, before any exec: 0, or -1 with errno EACCES. */
int td_exec_refused(int dirfd, const char *path, char *const argv[], int flags) {
    const struct td_config *cfg = td_config();
    if (!cfg || !cfg->children_inherit || !audited_loader(dirfd, path, argv, flags)) return 0;
    static int said;
    td_warn_once(&said,
                 "tethered: refused to run the dynamic loader with --audit: an audit library could keep the "
                 "child from loading the policy\n");
    errno = EACCES;
    return -1;
}

/* Declares the buffers td_child_env needs for `envp`, in the caller's frame. */
#define CHILD_ENV(envp, result)             \
    size_t count_ = td_env_count(envp);     \
    char *out_[count_ + TD_MAX_INJECT + 3]; \
    char preload_[TD_PATH_MAX * 2];         \
    char *const *result = td_child_env((envp), out_, preload_, sizeof preload_)

/* The hooks call these, never each other by their exported names: when the addon loaded this library,
 * an exported name called from inside it binds to libc's function, not to the hook. */
static int real_execve(const char *path, char *const argv[], char *const envp[]) {
    return td_real.execve(path, argv, envp);
}

static int exec_with_env(const char *path, char *const argv[], char *const envp[]) {
    if (!td_real.execve) td_resolve_real();
    if (td_strict_children()) return td_strict_execve(path, argv, envp, real_execve);
    if (td_exec_refused(AT_FDCWD, path, argv, 0) != 0) return -1;
    td_check_exec("execve", AT_FDCWD, path, 0);
    CHILD_ENV(envp, env);
    return td_real.execve(path, argv, env);
}

static int execp_with_env(const char *file, char *const argv[], char *const envp[]) {
    if (!td_real.execvpe) td_resolve_real();
    if (td_strict_children()) return td_strict_execvpe(file, argv, envp, real_execve);
    td_check_execp("execvp", file, getenv("PATH"));
    CHILD_ENV(envp, env);
    return td_real.execvpe(file, argv, env);
}

TETHERED_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    return exec_with_env(path, argv, envp);
}

TETHERED_EXPORT int execv(const char *path, char *const argv[]) {
    return exec_with_env(path, argv, environ);
}

TETHERED_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    return execp_with_env(file, argv, envp);
}

TETHERED_EXPORT int execvp(const char *file, char *const argv[]) {
    return execp_with_env(file, argv, environ);
}

TETHERED_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    if (!td_real.fexecve) td_resolve_real();
    if (td_strict_children()) return td_strict_execveat(fd, "", argv, envp, AT_EMPTY_PATH, real_execve);
    if (td_exec_refused(fd, "", argv, AT_EMPTY_PATH) != 0) return -1;
    td_check_exec("fexecve", fd, "", AT_EMPTY_PATH);
    CHILD_ENV(envp, env);
    return td_real.fexecve(fd, argv, env);
}

TETHERED_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
    if (!td_real.execveat) td_resolve_real();
    if (!td_real.execveat) {
        errno = ENOSYS;
        return -1;
    }
    if (td_strict_children()) return td_strict_execveat(dirfd, path, argv, envp, flags, real_execve);
    if (td_exec_refused(dirfd, path, argv, flags) != 0) return -1;
    td_check_exec("execveat", dirfd, path, flags);
    CHILD_ENV(envp, env);
    return td_real.execveat(dirfd, path, argv, env, flags);
}

/* The execl family: collect the variadic arguments into an argv on the stack. */
#define COLLECT_ARGS(arg0, argv, last)                                     \
    size_t argc_ = 1;                                                      \
    va_list count_ap_;                                                     \
    va_start(count_ap_, arg0);                                             \
    while (va_arg(count_ap_, char *)) argc_++;                             \
    va_end(count_ap_);                                                     \
    char *argv[argc_ + 1];                                                 \
    va_list ap_;                                                           \
    va_start(ap_, arg0);                                                   \
    argv[0] = (char *)(arg0);                                              \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap_, char *); \
    last;                                                                  \
    va_end(ap_)

TETHERED_EXPORT int execl(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, argv, (void)0);
    return exec_with_env(path, argv, environ);
}

TETHERED_EXPORT int execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGS(arg, argv, (void)0);
    return execp_with_env(file, argv, environ);
}

TETHERED_EXPORT int execle(const char *path, const char *arg, ...) {
    char *const *envp;
    COLLECT_ARGS(arg, argv, envp = va_arg(ap_, char *const *));
    return exec_with_env(path, argv, envp);
}

TETHERED_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    if (!td_real.posix_spawn) td_resolve_real();
    if (td_strict_children()) return td_strict_spawn(pid, path, 0, actions, attr, argv, envp);
    td_check_exec("posix_spawn", AT_FDCWD, path, 0);
    CHILD_ENV(envp, env);
    return td_real.posix_spawn(pid, path, actions, attr, argv, env);
}

TETHERED_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    if (!td_real.posix_spawnp) td_resolve_real();
    if (td_strict_children()) return td_strict_spawn(pid, file, 1, actions, attr, argv, envp);
    td_check_execp("posix_spawnp", file, getenv("PATH"));
    CHILD_ENV(envp, env);
    return td_real.posix_spawnp(pid, file, actions, attr, argv, env);
}

/* system() and popen() spawn from inside libc with `environ`: make sure it carries the policy first. A
 * program that emptied its environment (clearenv) gets the variables back before the shell starts. */
static void restore_environ(void) {
    const struct td_config *cfg = td_config();
    if (!cfg || !td_self_path[0]) return;
    if (!cfg->children_inherit) {
        /* children: none — the shell libc starts must not load the shim either */
        const char *preload = getenv("LD_PRELOAD");
        if (preload && strstr(preload, td_self_path)) unsetenv("LD_PRELOAD");
        return;
    }
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !strstr(preload, td_self_path)) {
        char value[TD_PATH_MAX * 3];
        snprintf(value, sizeof value, "%s%s%s%s%s", td_sanitizer_runtime, td_sanitizer_runtime[0] ? ":" : "",
                 td_self_path, preload && *preload ? ":" : "", preload ? preload : "");
        setenv("LD_PRELOAD", value, 1);
    }
    for (size_t i = 0; i < cfg->ninject; i++) {
        const char *eq = strchr(cfg->inject[i], '=');
        char name[64];
        size_t len = (size_t)(eq - cfg->inject[i]);
        if (!eq || len >= sizeof name) continue;
        memcpy(name, cfg->inject[i], len);
        name[len] = 0;
        const char *now = getenv(name);
        if (!now || strcmp(now, eq + 1) != 0) setenv(name, eq + 1, 1);
    }
}

TETHERED_EXPORT int system(const char *command) {
    if (!td_real.system) td_resolve_real();
    if (command) restore_environ();
    return td_real.system(command);
}

TETHERED_EXPORT FILE *popen(const char *command, const char *type) {
    if (!td_real.popen) td_resolve_real();
    restore_environ();
    return td_real.popen(command, type);
}

/* glibc's other exported names of the same functions (hooks.def) */
TD_EXPORT_ALIAS(__libc_system, system);
TD_EXPORT_ALIAS(_IO_popen, popen);
