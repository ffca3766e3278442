/* Scopes (scope(), noEgress()): a per-thread pointer to an immutable chain of compiled policies. Every hook
 * on a thread in a scope judges the attempt by the policy in force and then by each scope of the chain; a
 * scope can only narrow. The pointer is thread-local (initial-exec: no allocation, no lock on read); the
 * addon sets it on the JavaScript thread from AsyncLocalStorage, so the scope follows the async call tree. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static __thread const struct tethered_scope *current __attribute__((tls_model("initial-exec")));
static atomic_ullong next_id = 1;
static atomic_int used;

const struct td_config td_scopes_only = {
    .mode = TD_MODE_ENFORCE,
    .log = TD_LOG_OFF,
    .allow_all = 1,
};

const struct tethered_scope *td_scope_current(void) {
    return current;
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
    atomic_store(&used, 1);
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

TETHERED_EXPORT const struct tethered_scope **tethered_scope_slot(void) {
    return &current;
}
