/* Scopes (scope(), noEgress()): a per-thread pointer to an immutable chain of compiled policies. Every hook
 * on a thread in a scope judges the attempt by the policy in force and then by each scope of the chain; a
 * scope can only narrow. The pointer is thread-local (initial-exec: no allocation, no lock on read), set by
 * tethered_scope_enter() for C callers.
 *
 * A JavaScript thread's scope follows its async call tree (AsyncLocalStorage), and changes on every
 * callback: keeping the pointer up to date would cost every callback of the process something. Instead the
 * thread registers a source, asked only when a hook on that thread judges an attempt: JavaScript pays
 * nothing per callback, and an attempt pays one call. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static __thread const struct tethered_scope *current __attribute__((tls_model("initial-exec")));
static atomic_ullong next_id = 1;
static atomic_int used;
static __thread tethered_scope_source source __attribute__((tls_model("initial-exec")));
static __thread int asking __attribute__((tls_model("initial-exec")));
static __thread sigset_t source_mask __attribute__((tls_model("initial-exec")));
/* What this thread's JavaScript said of the native call it is making now (tethered_js_scope_word): 0
 * nothing (ask the source), TD_JS_NONE in no scope, or the number tethered_js_scope_set() gave when it put
 * js_scope there. A number that is not the last one given means nothing: the source is asked. */
#define TD_JS_NONE 1u
static __thread volatile unsigned *js_word __attribute__((tls_model("initial-exec")));
static __thread const struct tethered_scope *js_scope __attribute__((tls_model("initial-exec")));
static __thread unsigned js_serial __attribute__((tls_model("initial-exec")));

const struct td_config td_scopes_only = {
    .mode = TD_MODE_ENFORCE,
    .log = TD_LOG_OFF,
    .allow_all = 1,
};

/* The kernel's part of glibc's larger sigset_t: the rest is never written, and never compared. */
#define KERNEL_SIGSET_BYTES (_NSIG / 8)

static sigset_t blocked_now(void) {
    sigset_t set, none;
    sigemptyset(&none);
    if (pthread_sigmask(SIG_BLOCK, &none, &set) != 0) sigfillset(&set);
    return set;
}

const struct tethered_scope *td_scope_current(void) {
    if (current) return current;
    /* Said for this call by the JavaScript making it: no call back into the engine, no signal mask to read
     * (a handler interrupting that call is judged by the call's scope: narrower, never wider). */
    unsigned said = js_word ? *js_word : 0;
    if (said == TD_JS_NONE) return NULL;
    if (said != 0 && said == js_serial) return js_scope;
    tethered_scope_source ask = source;
    if (!ask || asking) return NULL; /* not from inside the source itself */
    /* No scope was ever made in this process: none can be current, and the attempt costs no call into the
     * JavaScript engine (a scope is made with tethered_scope_new() before any code can run inside it). */
    if (!atomic_load_explicit(&used, memory_order_acquire)) return NULL;
    /* A signal handler may have interrupted the JavaScript engine anywhere, where it must not be entered; a
     * handler runs with its signal blocked: with a mask other than the thread's usual one, the source is
     * not asked, and the attempt is judged by the policy in force alone (a signal belongs to no async call
     * tree). */
    sigset_t now = blocked_now();
    if (memcmp(&now, &source_mask, KERNEL_SIGSET_BYTES) != 0) return NULL;
    int saved = errno;
    asking = 1;
    const struct tethered_scope *scope = ask();
    asking = 0;
    errno = saved;
    return scope;
}

const struct tethered_scope *td_scope_said(void) {
    unsigned said = js_word ? *js_word : 0;
    return said > TD_JS_NONE && said == js_serial ? js_scope : NULL;
}

TETHERED_EXPORT int tethered_check_peer(int fd, const char *op) {
    td_ensure_init();
    int saved = errno;
    int refused = td_check_peer(fd, op && op[0] ? op : "send") != 0;
    errno = saved;
    return refused ? EACCES : 0;
}

int td_scope_possible(void) {
    return current || source;
}

int td_scopes_used(void) {
    return atomic_load_explicit(&used, memory_order_relaxed);
}

TETHERED_EXPORT struct tethered_scope *tethered_scope_new(const struct tethered_settings *s,
                                                          const char *label,
                                                          const struct tethered_scope *parent, int collect,
                                                          char *error, size_t cap) {
    td_ensure_init();
    struct tethered_scope *scope = calloc(1, sizeof *scope);
    if (!scope) {
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    struct td_policy_error err;
    scope->policy = td_policy_compile(s->allow, s->nallow, s->deny, s->ndeny, s->allow_localhost, &err);
    if (!scope->policy) {
        snprintf(error, cap, "invalid rule \"%s\": %s", err.rule, err.reason);
        free(scope);
        return NULL;
    }
    scope->parent = parent;
    scope->id = atomic_fetch_add(&next_id, 1);
    scope->collector = collect ? scope->id : parent ? parent->collector : 0;
    snprintf(scope->label, sizeof scope->label, "%s", label ? label : "");
    atomic_store_explicit(&used, 1, memory_order_release);
    return scope;
}

TETHERED_EXPORT void tethered_scope_free(struct tethered_scope *scope) {
    if (!scope) return;
    if (current == scope) current = NULL;
    td_policy_free(scope->policy);
    free(scope);
}

TETHERED_EXPORT const struct tethered_scope *tethered_scope_enter(const struct tethered_scope *scope) {
    const struct tethered_scope *previous = current;
    current = scope;
    return previous;
}

TETHERED_EXPORT unsigned long long tethered_scope_id(const struct tethered_scope *scope) {
    return scope ? scope->id : 0;
}

/* On the heap, never freed, not in the thread's own storage: JavaScript holds it as a buffer, which can be
 * moved to another thread and outlive this one. A word left behind by a thread that ended is read by no
 * one. */
TETHERED_EXPORT volatile unsigned *tethered_js_scope_word(void) {
    if (!js_word) js_word = calloc(1, 64);
    return js_word;
}

TETHERED_EXPORT unsigned tethered_js_scope_set(const struct tethered_scope *scope) {
    js_scope = scope;
    if (++js_serial <= TD_JS_NONE) js_serial = TD_JS_NONE + 1;
    return js_serial;
}

TETHERED_EXPORT void tethered_set_scope_source(tethered_scope_source fn) {
    source_mask = blocked_now();
    source = fn;
}

TETHERED_EXPORT const struct tethered_scope **tethered_scope_slot(void) {
    return &current;
}
