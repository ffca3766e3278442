/* The public face of libtethered.so: the symbols the addon and tests look up with dlsym. */
#ifndef TETHERED_H
#define TETHERED_H

#define TETHERED_EXPORT __attribute__((visibility("default")))

/* Bumped whenever the addon and the shim must change together. */
#define TETHERED_ABI 7
#define TETHERED_VERSION "0.1.0"

#include <stddef.h>

TETHERED_EXPORT const char *tethered_version(void);
TETHERED_EXPORT int tethered_abi(void);
/* 1 when a policy is in force in this process (from the environment, or configured by the addon). */
TETHERED_EXPORT int tethered_active(void);
/* 1 when LD_PRELOAD loaded this library, 0 when it was loaded later (by the addon). */
TETHERED_EXPORT int tethered_preloaded(void);

/* In-process mode, driven by the addon. */
struct tethered_settings {
    const char *const *allow; /* rules in normal form */
    size_t nallow;
    const char *const *deny;
    size_t ndeny;
    int allow_localhost, log_only, fail_closed;
    int children_inherit; /* 1: children get the shim and the policy; 0: nothing; TETHERED_CHILDREN_STRICT */
    const char *log;      /* NULL or "off": events only to the sink; "stderr"; or a file path */
    const char *const *inject; /* "TETHERED_…=value" strings every child gets */
    size_t ninject;
};

/* children_inherit: every exec runs under its own strict supervisor (tethered-strict, beside this library)
 * with the policy of `inject`, whatever environment the caller passed. */
#define TETHERED_CHILDREN_STRICT 2

/* The lock (docs/rules.md, One process, one policy: nothing the package exports loosens a locked policy
 * without the token). A policy configured with a `lock` key is locked: until a configure or disable that
 * presents that same key, every configure and disable fails with TETHERED_LOCKED and the sink cannot be
 * changed. The addon makes a random key per lockToken and never shows it to JavaScript, so only JavaScript
 * holding the token can unlock (through the addon), and no other caller of these symbols can. This closes the
 * exported doors only: native code in the process can still write memory or make raw system calls (strict
 * mode's job). */
#define TETHERED_KEY_SIZE 32
#define TETHERED_LOCKED (-2)

/* Replaces the policy in force. `key`: the key of the lock in force, or NULL; `lock`: a key to lock the new
 * policy with, or NULL to leave it unlocked. Returns 0; -1 with a message (the old policy stays); or
 * TETHERED_LOCKED. When this library was preloaded with a policy in its environment, that policy stays in
 * force too (a ceiling): the new one can only narrow it. */
TETHERED_EXPORT int tethered_configure(const struct tethered_settings *settings, const unsigned char *key,
                                       const unsigned char *lock, char *error, size_t cap);
/* No policy of the addon's in force: every hook passes through, or, under a ceiling, the environment's
 * policy alone is in force. Returns 0, or TETHERED_LOCKED (nothing changes) without the lock's key. */
TETHERED_EXPORT int tethered_disable(const unsigned char *key);
/* Compiles settings' allow, deny and allow_localhost into a policy image in the user's private directory
 * (or finds it there) and fills `ref` with what children get as TETHERED_POLICY_IMAGE. 0, or -1 with a
 * message. */
TETHERED_EXPORT int tethered_policy_image_write(const struct tethered_settings *settings, char *ref,
                                                size_t cap, char *error, size_t ecap);
/* Points the GOT entries of every loaded object at the hooks; returns the slots patched so far, or -1. */
TETHERED_EXPORT int tethered_patch(void);
/* Every event line (JSON, with its newline) also goes to `sink`, from whatever thread made the attempt,
 * with the id of the innermost enclosing scope that collects events (0: none). */
typedef void (*tethered_sink)(const char *json, size_t len, unsigned long long collector);
/* Returns 0, or TETHERED_LOCKED when a lock is in force and `sink` is not the sink already set. */
TETHERED_EXPORT int tethered_set_sink(tethered_sink sink);
/* The calling thread hands its event lines to the sink itself (the addon calls it on each JavaScript
 * thread), while it runs with the signal mask it has now; every other thread, and this one in a signal
 * handler, posts them to the shim's relay thread, which hands them on: the sink may allocate and lock. */
TETHERED_EXPORT void tethered_sink_thread(void);

/* What is in force, for status(). mode: 0 enforce, 1 log-only, -1 off (for the ceiling: -1 none). */
struct tethered_status {
    int active, mode, locked, preloaded, ceiling_mode;
};
TETHERED_EXPORT void tethered_status(struct tethered_status *out);

/* The run-time decision JavaScript asks for (docs/rules.md, Deciding): what the hooks would decide for
 * `host` (a name or an address in any spelling, `len` bytes) on `port` (-1: a name lookup, any port), by
 * the layers asked for. The JavaScript engine is not consulted at run time: this is the one authority. */
#define TETHERED_DECIDE_POLICY 1 /* the policy in force, and the environment's policy above it */
#define TETHERED_DECIDE_SCOPES 2 /* the scope chain from `scope` */
#define TETHERED_DECIDE_LOOKUP 4 /* a name lookup: numeric names and this machine's name are not judged */
#define TETHERED_TEXT_MAX 336
struct tethered_decision {
    int allowed;                  /* 1: allowed (also when nothing judges, or the lookup is exempt) */
    int reason;                   /* 0 allow-rule, 1 localhost, 2 deny-rule, 3 no-rule, 4 invalid-host */
    int log_only;                 /* refused by a layer that only reports (log mode) */
    int exempt;                   /* a lookup that is not judged (TETHERED_DECIDE_LOOKUP) */
    unsigned long long scope;     /* the id of the scope that refused, or 0: the policy in force */
    char rule[TETHERED_TEXT_MAX]; /* the deciding rule; for no-rule, the rule that would allow it; or "" */
    char host[256];               /* the name in normal form, or "" (an address, or no DNS name) */
};
struct tethered_scope;
/* The next number of this process's event sequence (the "seq" of the shim's events): events made in
 * JavaScript take theirs from it too, so that one order covers both. */
TETHERED_EXPORT unsigned long long tethered_event_seq(void);

/* A copy, for the addon's JavaScript, of the count of configurations put in force (modulo 2^32): one word,
 * written after each one is in force, that JavaScript reads without a call into native code to know whether
 * the answers of tethered_decide() it remembered still hold. Nothing in this library reads it back, so
 * what anyone writes there changes no decision. */
TETHERED_EXPORT volatile unsigned *tethered_generation_mirror(void);

TETHERED_EXPORT void tethered_decide(const char *host, size_t len, int port,
                                     const struct tethered_scope *scope, int layers,
                                     struct tethered_decision *out);

/* Scopes narrow the policy for the calling thread: an attempt must pass the policy in force and every
 * scope of the chain the thread is in. A scope is immutable once made; scopes of a chain must outlive it. */
struct tethered_scope;
/* Compiles a scope from settings' allow, deny and allow_localhost under `parent` (or NULL). `collect`: the
 * sink is told this scope's id for the attempts made in it (noEgress). NULL with a message on a bad rule. */
TETHERED_EXPORT struct tethered_scope *tethered_scope_new(const struct tethered_settings *settings,
                                                          const char *label,
                                                          const struct tethered_scope *parent, int collect,
                                                          char *error, size_t cap);
/* Frees a scope no thread is in (nor will enter again). */
TETHERED_EXPORT void tethered_scope_free(struct tethered_scope *scope);
/* Puts the calling thread in `scope` (NULL: in none); returns the scope it was in. */
TETHERED_EXPORT const struct tethered_scope *tethered_scope_enter(const struct tethered_scope *scope);
TETHERED_EXPORT unsigned long long tethered_scope_id(const struct tethered_scope *scope);
/* The calling thread's scope pointer itself, for a caller that switches scopes often. Valid for the
 * thread's lifetime. */
TETHERED_EXPORT const struct tethered_scope **tethered_scope_slot(void);
/* Where the calling thread's scope comes from when it entered none with tethered_scope_enter(): asked on
 * that thread each time a hook judges an attempt (the addon answers from JavaScript's AsyncLocalStorage),
 * never per switch. Not asked from inside itself, nor while the thread's signal mask differs from the one
 * it had when the source was set (a signal handler). NULL: no source. */
typedef const struct tethered_scope *(*tethered_scope_source)(void);
TETHERED_EXPORT void tethered_set_scope_source(tethered_scope_source source);
/* A faster answer than the source's, for a JavaScript thread making one native call it knows the scope of
 * (a TCP connect): the calling thread's word, which the JavaScript sets for the length of that call only and
 * writes back to 0 after it: 1 for no scope, or the number tethered_js_scope_set() returned when it put the
 * scope in the thread's slot. The hooks then take the scope from there and do not ask the source. Any other
 * value is ignored. The scope put in the slot must outlive its stay there. The word is made on the first call
 * (NULL when out of memory) and never freed. */
TETHERED_EXPORT volatile unsigned *tethered_js_scope_word(void);
TETHERED_EXPORT unsigned tethered_js_scope_set(const struct tethered_scope *scope);
/* What will be sent on connected socket `fd` by code of the runtime's own that runs later (an HTTP/2
 * session's frames, written from the event loop), judged now as a write is: by the scopes alone, the one
 * the calling thread's word says. 0, or EACCES (an event was made). Nothing to judge (no scope said, not a
 * connected IP socket): 0. */
TETHERED_EXPORT int tethered_check_peer(int fd, const char *op);

#endif
