/* What the addon drives in-process: configure the policy, patch the process, turn the check off again,
 * receive events. Each configuration replaces the last in one pointer store (current.c frees the replaced
 * one once no hook can still be reading it).
 *
 * These are exported symbols: any code in the process can dlsym and call them, not only the addon. Two
 * things keep them from loosening a policy (docs/rules.md, One process, one policy):
 *  - The lock. A configuration made with a lock key is locked: configure, disable and set_sink then work
 *    only for a caller presenting that same key. The addon makes the key (32 random bytes) when JavaScript
 *    locks with a lockToken, keeps it in native memory beside that token and never shows it to
 *    JavaScript; so JavaScript holding the token can unlock through the addon, and nothing else can —
 *    neither a direct dlsym caller nor another copy of the addon.
 *  - The ceiling. A policy from the environment (preload mode) stays in force under whatever is
 *    configured later (decide.c judges by both), disable returns to it rather than to no policy, and
 *    children keep it.
 * This closes the package's own doors, nothing more: native code can always write this library's memory
 * or make raw system calls, which only strict mode (a supervisor outside the process) can stop. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

int td_patch_all(void);

/* Serialises configure, disable and set_sink with the lock state they check. */
static pthread_mutex_t door = PTHREAD_MUTEX_INITIALIZER;
static atomic_int locked;
static unsigned char lock_key[TETHERED_KEY_SIZE];
static tethered_sink sink_now;

/* May a caller presenting `key` change the policy? Compared in constant time. */
static int may_change(const unsigned char *key) {
    if (!atomic_load(&locked)) return 1;
    if (!key) return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < TETHERED_KEY_SIZE; i++) diff |= (unsigned char)(key[i] ^ lock_key[i]);
    return diff == 0;
}

static void set_lock(const unsigned char *key) {
    if (key)
        memcpy(lock_key, key, TETHERED_KEY_SIZE);
    else
        memset(lock_key, 0, sizeof lock_key);
    atomic_store(&locked, key != NULL);
}

static int strings_ok(const char *const *list, size_t n) {
    if (n && !list) return 0;
    for (size_t i = 0; i < n; i++)
        if (!list[i]) return 0;
    return 1;
}

/* Under a ceiling, the new configuration is judged with it, and children keep the environment's policy
 * (what the environment said about children) whatever `s` says: an in-process policy could be wider than
 * the ceiling in places, and a child holding only it would be looser than its parent. */
static int narrow_to_ceiling(struct td_config *c) {
    const struct td_config *top = td_ceiling();
    if (!top) return 0;
    c->ceiling = top;
    c->log_allowed |= top->log_allowed;
    if (!top->children_inherit) return 0;
    for (size_t i = 0; i < c->ninject; i++) free(c->inject[i]);
    c->ninject = 0;
    c->children_inherit = 1;
    for (size_t i = 0; i < top->ninject; i++) {
        c->inject[i] = strdup(top->inject[i]);
        if (!c->inject[i]) return -1;
        c->ninject = i + 1;
    }
    return 0;
}

static struct td_config *config_new(const struct tethered_settings *s, char *error, size_t cap) {
    if (!s || !strings_ok(s->allow, s->nallow) || !strings_ok(s->deny, s->ndeny) ||
        !strings_ok(s->inject, s->ninject)) {
        snprintf(error, cap, "malformed settings");
        return NULL;
    }
    struct td_config *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    struct td_policy_error err;
    c->policy = td_policy_compile(s->allow, s->nallow, s->deny, s->ndeny, s->allow_localhost, &err);
    if (!c->policy) {
        snprintf(error, cap, "invalid rule \"%s\": %s", err.rule, err.reason);
        free(c);
        return NULL;
    }
    c->mode = s->log_only ? TD_MODE_LOG : TD_MODE_ENFORCE;
    c->fail_closed = s->fail_closed;
    c->children_inherit = s->children_inherit == 1;
    c->children_strict = s->children_inherit == TETHERED_CHILDREN_STRICT;
    if (c->children_strict) td_strict_prepare();
    if (!s->log || !*s->log || strcmp(s->log, "off") == 0) {
        c->log = TD_LOG_OFF;
    } else if (strcmp(s->log, "stderr") == 0) {
        c->log = TD_LOG_STDERR;
    } else {
        c->log = TD_LOG_FILE;
        snprintf(c->log_path, sizeof c->log_path, "%s", s->log);
    }
    td_log_open(c);
    for (size_t i = 0; i < s->ninject && c->ninject < TD_MAX_INJECT; i++) {
        const char *eq = strchr(s->inject[i], '=');
        if (!eq) continue;
        char *copy = strdup(s->inject[i]);
        if (copy) c->inject[c->ninject++] = copy;
    }
    if (narrow_to_ceiling(c) != 0) {
        snprintf(error, cap, "out of memory");
        td_config_free(c);
        return NULL;
    }
    return c;
}

TETHERED_EXPORT int tethered_configure(const struct tethered_settings *s, const unsigned char *key,
                                       const unsigned char *lock, char *error, size_t cap) {
    char spare[8];
    if (!error || !cap) {
        error = spare;
        cap = sizeof spare;
    }
    td_ensure_init();
    pthread_mutex_lock(&door);
    int rc = TETHERED_LOCKED;
    if (!may_change(key)) {
        snprintf(error, cap, "the policy is locked");
    } else {
        struct td_config *c = config_new(s, error, cap);
        rc = -1;
        if (c) {
            td_install_config(c);
            set_lock(lock);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&door);
    return rc;
}

TETHERED_EXPORT int tethered_disable(const unsigned char *key) {
    td_ensure_init();
    pthread_mutex_lock(&door);
    int ok = may_change(key);
    if (ok) {
        td_install_config(NULL); /* back to the environment's policy, if there is one */
        set_lock(NULL);
    }
    pthread_mutex_unlock(&door);
    return ok ? 0 : TETHERED_LOCKED;
}

TETHERED_EXPORT int tethered_patch(void) {
    td_ensure_init();
    td_detour_libc();
    return td_patch_all();
}

/* The sink is where noEgress() and onBlocked() learn of attempts: a locked policy keeps it. */
TETHERED_EXPORT int tethered_set_sink(tethered_sink sink) {
    pthread_mutex_lock(&door);
    int ok = !atomic_load(&locked) || sink == sink_now;
    if (ok) {
        sink_now = sink;
        td_set_sink(sink);
    }
    pthread_mutex_unlock(&door);
    return ok ? 0 : TETHERED_LOCKED;
}

TETHERED_EXPORT void tethered_status(struct tethered_status *out) {
    if (!out) return;
    td_ensure_init();
    const struct td_config *c = td_config();
    const struct td_config *top = td_ceiling();
    int top_enforces = top && top->mode == TD_MODE_ENFORCE;
    out->active = c != NULL;
    /* Log-only under an enforcing ceiling still blocks what the ceiling refuses: that is enforcing. */
    out->mode = !c ? -1 : c->mode == TD_MODE_LOG && !top_enforces ? 1 : 0;
    out->ceiling_mode = !top ? -1 : top_enforces ? 0 : 1;
    out->locked = atomic_load(&locked);
    out->preloaded = tethered_preloaded();
}
