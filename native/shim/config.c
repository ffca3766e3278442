/* Configuration from the environment (docs/rules.md, Where rules come from): TETHERED_ALLOW, TETHERED_DENY,
 * TETHERED_POLICY_FILE, TETHERED_MODE, TETHERED_ALLOW_LOCALHOST, TETHERED_FAIL_CLOSED, TETHERED_LOG, plus
 * TETHERED_LOG_ALLOWED (record allowed attempts too, for `tethered learn`) and TETHERED_CHILDREN (inherit |
 * none). A policy that cannot be read or parsed blocks all egress and says why once on stderr. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_file.h"
#include "policy_image.h"
#include "shim.h"

char td_self_path[TD_PATH_MAX];
char td_exe_path[TD_PATH_MAX];
char td_hostname[TD_NAME_BUF];
char td_sanitizer_runtime[TD_PATH_MAX];

#if defined(__SANITIZE_ADDRESS__)
void __asan_init(void);
#endif

/* 0: not yet, 1: someone is loading it, 2: done */
static atomic_int init_state;
static int was_preloaded;

int td_initialised(void) {
    return atomic_load_explicit(&init_state, memory_order_acquire) == 2;
}

static void add_inject(struct td_config *c, const char *name) {
    const char *value = getenv(name);
    if (!value || c->ninject >= TD_MAX_INJECT) return;
    size_t n = strlen(name) + strlen(value) + 2;
    char *entry = malloc(n);
    if (!entry) return;
    strcpy(entry, name);
    strcat(entry, "=");
    strcat(entry, value);
    c->inject[c->ninject++] = entry;
}

static void report(const char *what, const char *detail) {
    /* one write, so that the line is not torn by other threads or processes */
    char line[1024];
    size_t n = 0;
    const char *parts[] = {"tethered: ", what, detail ? ": " : "", detail ? detail : "",
                           "; all network egress of this process is blocked\n"};
    for (size_t i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        if (n + l >= sizeof line) l = sizeof line - 1 - n;
        memcpy(line + n, parts[i], l);
        n += l;
    }
    line[n] = 0;
    td_say(line);
}

static int flag(const char *name, int fallback, int *bad) {
    const char *v = getenv(name);
    if (!v || !*v) return fallback;
    if (strcmp(v, "1") == 0) return 1;
    if (strcmp(v, "0") == 0) return 0;
    *bad = 1;
    return fallback;
}

/* TETHERED_POLICY_IMAGE=<sha256>:<memfd>:<path>: the compiled policy a parent wrote (policy_image.c), used
 * as it is instead of rules. It is the whole policy, so rules given beside it are a mistake; a missing,
 * changed or unreadable image is a policy that cannot be used (everything blocked). When the image came
 * from another descriptor than the one named (the program closed it; this process made its own sealed
 * copy), the variable children get names that one. Returns 1 when the variable decided (c->policy set,
 * or *problem filled), 0 when it is not set. */
static int policy_from_image(struct td_config *c, char *problem, size_t cap) {
    const char *ref = getenv("TETHERED_POLICY_IMAGE");
    if (!ref || !*ref) return 0;
    if (*problem) {
        add_inject(c, "TETHERED_POLICY_IMAGE");
        return 1;
    }
    static const char *const others[] = {"TETHERED_ALLOW", "TETHERED_DENY", "TETHERED_POLICY_FILE"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const char *v = getenv(others[i]);
        if (v && *v) {
            snprintf(problem, cap, "TETHERED_POLICY_IMAGE holds the whole policy; %s cannot be given with it",
                     others[i]);
            add_inject(c, "TETHERED_POLICY_IMAGE");
            return 1;
        }
    }
    int fd = -1;
    c->policy = td_policy_image_load(ref, &fd, problem, cap);
    char hex[65], value[TD_IMAGE_REF_MAX];
    const char *path;
    int named = -1;
    if (c->policy && td_policy_image_parse(ref, hex, &named, &path) == 0 && fd != named &&
        snprintf(value, sizeof value, "%s:%d:%s", hex, fd, path) < (int)sizeof value)
        setenv("TETHERED_POLICY_IMAGE", value, 1);
    /* children get it too, whatever environment an exec is given (exec.c) */
    add_inject(c, "TETHERED_POLICY_IMAGE");
    return 1;
}

/* Builds the configuration from the environment. NULL only when memory runs out (an internal error).
 * TETHERED_INTERNAL_FAULT=config makes it fail that way on purpose: the test of the fail-open and
 * fail-closed paths. */
static struct td_config *config_from_env(void) {
    const char *fault = getenv("TETHERED_INTERNAL_FAULT");
    struct td_config *c = fault && strcmp(fault, "config") == 0 ? NULL : calloc(1, sizeof *c);
    if (!c) return NULL;
    struct td_rule_list allow = {0}, deny = {0};
    int allow_localhost = 1, bad = 0;
    char problem[512] = "";
    /* A rule that cannot be kept (out of memory) must not be skipped: a missing deny rule widens the
     * policy. */
    int lost = 0;
    const char *file = getenv("TETHERED_POLICY_FILE");
    if (file && *file) {
        struct td_policy_file pf;
        if (td_read_policy_file(file, &pf, problem, sizeof problem) == 0) {
            for (size_t i = 0; i < pf.nallow; i++)
                lost |= td_rules_push(&allow, pf.allow[i], strlen(pf.allow[i]));
            for (size_t i = 0; i < pf.ndeny; i++)
                lost |= td_rules_push(&deny, pf.deny[i], strlen(pf.deny[i]));
            if (pf.allow_localhost >= 0) allow_localhost = pf.allow_localhost;
            if (pf.mode == 1) c->mode = TD_MODE_LOG;
            td_policy_file_free(&pf);
        }
    }
    lost |= td_rules_split(&allow, getenv("TETHERED_ALLOW"));
    lost |= td_rules_split(&deny, getenv("TETHERED_DENY"));
    if (lost && !*problem) snprintf(problem, sizeof problem, "out of memory while reading the rules");
    if (!*problem) td_rules_check(&allow, problem, sizeof problem);
    if (!*problem) td_rules_check(&deny, problem, sizeof problem);
    allow_localhost = flag("TETHERED_ALLOW_LOCALHOST", allow_localhost, &bad);
    if (bad && !*problem) snprintf(problem, sizeof problem, "TETHERED_ALLOW_LOCALHOST must be 1 or 0");
    c->fail_closed = flag("TETHERED_FAIL_CLOSED", 0, &bad);
    if (bad && !*problem) snprintf(problem, sizeof problem, "TETHERED_FAIL_CLOSED must be 1 or 0");
    c->log_allowed = flag("TETHERED_LOG_ALLOWED", 0, &bad);
    const char *mode = getenv("TETHERED_MODE");
    if (mode && *mode) {
        if (strcmp(mode, "log") == 0)
            c->mode = TD_MODE_LOG;
        else if (strcmp(mode, "enforce") == 0)
            c->mode = TD_MODE_ENFORCE;
        else if (!*problem)
            snprintf(problem, sizeof problem, "TETHERED_MODE must be enforce or log, not '%.100s'", mode);
    }
    const char *log = getenv("TETHERED_LOG");
    if (!log || !*log || strcmp(log, "stderr") == 0) {
        c->log = TD_LOG_STDERR;
    } else if (strcmp(log, "off") == 0) {
        c->log = TD_LOG_OFF;
    } else {
        c->log = TD_LOG_FILE;
        snprintf(c->log_path, sizeof c->log_path, "%s", log);
    }
    td_log_open(c);
    const char *children = getenv("TETHERED_CHILDREN");
    c->children_inherit = !(children && strcmp(children, "none") == 0);
    if (!policy_from_image(c, problem, sizeof problem) && !*problem) {
        struct td_policy_error err;
        c->policy = td_policy_compile((const char *const *)allow.items, allow.n,
                                      (const char *const *)deny.items, deny.n, allow_localhost, &err);
        if (!c->policy)
            snprintf(problem, sizeof problem, "invalid rule \"%.200s\": %.250s", err.rule, err.reason);
    }
    if (*problem) {
        /* A broken policy blocks everything, whatever the mode: a typo must not open the process up. */
        c->policy = NULL;
        c->mode = TD_MODE_ENFORCE;
        report("the policy cannot be used", problem);
    }
    td_rules_free(&allow);
    td_rules_free(&deny);
    static const char *const names[] = {
        "TETHERED_ALLOW",   "TETHERED_DENY",        "TETHERED_POLICY_FILE",     "TETHERED_MODE",
        "TETHERED_LOG",     "TETHERED_FAIL_CLOSED", "TETHERED_ALLOW_LOCALHOST", "TETHERED_LOG_ALLOWED",
        "TETHERED_CHILDREN"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) add_inject(c, names[i]);
#if defined(__SANITIZE_ADDRESS__)
    /* Test builds: a child given a cleared environment keeps the sanitizer's options with its runtime. */
    add_inject(c, "ASAN_OPTIONS");
    add_inject(c, "UBSAN_OPTIONS");
#endif
    return c;
}

/* Is this library named in LD_PRELOAD (preload mode), rather than loaded by the addon? */
static int preloaded(void) {
    const char *list = getenv("LD_PRELOAD");
    if (!list || !*td_self_path) return 0;
    char self[TD_PATH_MAX];
    if (!realpath(td_self_path, self)) snprintf(self, sizeof self, "%s", td_self_path);
    for (const char *p = list; *p;) {
        while (*p == ':' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ':' && *p != ' ') p++;
        if (p == start) continue;
        char entry[TD_PATH_MAX], resolved[TD_PATH_MAX];
        size_t n = (size_t)(p - start) < sizeof entry - 1 ? (size_t)(p - start) : sizeof entry - 1;
        memcpy(entry, start, n);
        entry[n] = 0;
        if (realpath(entry, resolved) && strcmp(resolved, self) == 0) return 1;
    }
    return 0;
}

/* The mount namespace the policy's names mean: the /etc/hosts and /etc/resolv.conf of the process that was
 * given the policy. A child gets it in TETHERED_MOUNT_NS (replacing any the caller passed, as every
 * TETHERED_* variable), so one started inside a namespace of its own (a user namespace and a bind-mounted
 * /etc/hosts) still knows it is elsewhere. Where /proc is missing it cannot be told: every namespace
 * counts as home. */
static struct {
    int known;
    unsigned long long dev, ino;
} home_ns;
char td_mount_ns_entry[64];

static int mount_ns_now(unsigned long long *dev, unsigned long long *ino) {
    struct stat st;
    if (stat("/proc/thread-self/ns/mnt", &st) != 0 && stat("/proc/self/ns/mnt", &st) != 0) return -1;
    *dev = (unsigned long long)st.st_dev;
    *ino = (unsigned long long)st.st_ino;
    return 0;
}

static void mount_ns_init(void) {
    const char *given = getenv("TETHERED_MOUNT_NS");
    unsigned long long dev, ino;
    char extra;
    if (given && sscanf(given, "%llu:%llu%c", &dev, &ino, &extra) == 2) {
        home_ns.dev = dev;
        home_ns.ino = ino;
        home_ns.known = 1;
    } else if (mount_ns_now(&home_ns.dev, &home_ns.ino) == 0) {
        home_ns.known = 1;
    }
    if (home_ns.known)
        snprintf(td_mount_ns_entry, sizeof td_mount_ns_entry, "TETHERED_MOUNT_NS=%llu:%llu", home_ns.dev,
                 home_ns.ino);
}

int td_mount_ns_home(void) {
    if (!home_ns.known) return 1;
    int saved = errno;
    unsigned long long dev, ino;
    int home = mount_ns_now(&dev, &ino) == 0 && dev == home_ns.dev && ino == home_ns.ino;
    errno = saved;
    if (!home) {
        static int said;
        td_warn_once(&said,
                     "tethered: this process is in another mount namespace than the one its policy was "
                     "given in: names answered here (its /etc/hosts, its name servers) vouch for no "
                     "address\n");
    }
    return home;
}

void td_ensure_init(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&init_state, &expected, 1)) {
        /* Another thread is loading it (only during start-up); wait a little, never forever. */
        for (int i = 0; i < 100000 && atomic_load(&init_state) != 2; i++) sched_yield();
        return;
    }
    int saved = errno;
    td_note_stderr(); /* what stderr is as the shim arrives: where it may speak later */
    td_resolve_real();
    mount_ns_init();
    td_dns_load_servers();
    Dl_info info;
    if (dladdr((void *)td_ensure_init, &info) && info.dli_fname)
        snprintf(td_self_path, sizeof td_self_path, "%s", info.dli_fname);
#if defined(__SANITIZE_ADDRESS__)
    /* Test builds under AddressSanitizer: children must load its runtime before this library. */
    if (dladdr((void *)__asan_init, &info) && info.dli_fname)
        snprintf(td_sanitizer_runtime, sizeof td_sanitizer_runtime, "%s", info.dli_fname);
#endif
    ssize_t n = readlink("/proc/self/exe", td_exe_path, sizeof td_exe_path - 1);
    td_exe_path[n > 0 ? n : 0] = 0;
    td_events_init();
    /* The machine's own name is exempt from the lookup rules (docs/rules.md, Deciding). */
    char host[TD_NAME_BUF];
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = 0;
        struct td_dest d;
        td_normalise_destination(host, strlen(host), &d);
        if (d.kind == TD_DEST_NAME) memcpy(td_hostname, d.name, d.name_len + 1);
    }
    if (preloaded()) {
        was_preloaded = 1;
        /* Still alone in the process (a constructor): every libc entry can be redirected safely. */
        td_detour_libc();
        struct td_config *c = config_from_env();
        if (c) {
            /* A ceiling: code in the process may narrow it, never loosen it (current.c, api.c). */
            td_install_env_config(c);
        } else {
            /* The check itself cannot run. Fail open and say so, unless TETHERED_FAIL_CLOSED=1. */
            const char *closed = getenv("TETHERED_FAIL_CLOSED");
            if (closed && strcmp(closed, "1") == 0) {
                static struct td_config fail_closed = {
                    .mode = TD_MODE_ENFORCE,
                    .log = TD_LOG_STDERR,
                    .children_inherit = 1,
                    .internal_error = "out of memory while loading the policy"};
                td_log_open(&fail_closed);
                td_install_env_config(&fail_closed);
                report("internal error: out of memory while loading the policy", "TETHERED_FAIL_CLOSED=1");
            } else {
                static const char open_msg[] =
                    "tethered: internal error: out of memory while loading the policy; network egress of "
                    "this "
                    "process is NOT checked (set TETHERED_FAIL_CLOSED=1 to block instead)\n";
                td_say(open_msg);
            }
        }
    }
    atomic_store_explicit(&init_state, 2, memory_order_release);
    errno = saved;
}

__attribute__((constructor)) static void td_constructor(void) {
    td_ensure_init();
}

TETHERED_EXPORT const char *tethered_version(void) {
    return TETHERED_VERSION;
}

TETHERED_EXPORT int tethered_abi(void) {
    return TETHERED_ABI;
}

/* 1 when LD_PRELOAD loaded this library (preload mode), 0 when the addon did. */
TETHERED_EXPORT int tethered_preloaded(void) {
    td_ensure_init();
    return was_preloaded;
}

/* 1 when the shim is enforcing or logging in this process. */
TETHERED_EXPORT int tethered_active(void) {
    return td_config() != NULL;
}
