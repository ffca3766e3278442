/* The compiled policy: rules parsed (rule.c) and indexed (policy.c) once, then read without locks or
 * allocation by every hook. A policy is immutable; a new one replaces it in a single pointer swap.
 *
 * A compiled policy is one flat block of bytes that refers to its parts by offsets, never pointers: the
 * same bytes work wherever they sit, so they are also the policy image children load instead of parsing
 * the rules again (policy_image.c). */
#ifndef TETHERED_POLICY_H
#define TETHERED_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "name.h"

enum td_rule_kind { TD_RULE_NAME, TD_RULE_WILDCARD, TD_RULE_ADDRESS };

/* Normal form of a rule: at most a name, brackets, a prefix and a port range. */
#define TD_RULE_TEXT 320
#define TD_REASON_LEN 256

/* One rule as td_parse_rule reads it (a working copy: the compiled policy keeps only what deciding needs). */
struct td_parsed_rule {
    enum td_rule_kind kind;
    int port_low, port_high; /* 0, 0: any port */
    char text[TD_RULE_TEXT]; /* normal form, as TypeScript writes it */
    char name[TD_NAME_BUF];  /* name and wildcard rules */
    size_t name_len;
    struct td_ip ip; /* address rules */
    int prefix;
};

/* One rule inside a compiled policy: its ports and its normal form. Names and addresses live in the
 * indexes that lead to it; an address rule's key bytes sit just before it. */
struct td_rule {
    uint32_t next;                /* the next rule of the same index entry (an offset), or 0 */
    uint16_t port_low, port_high; /* 0, 0: any port */
    char text[];                  /* normal form, NUL-terminated */
};

/* Parses one rule (docs/rules.md, Grammar). Returns 0, or -1 with a reason. */
int td_parse_rule(const char *text, size_t len, struct td_parsed_rule *out, char reason[TD_REASON_LEN]);

/* Port arguments: a real port, or one of these. */
#define TD_ANY_PORT (-1)   /* ignore ports: any allow rule for the host matches (a lookup) */
#define TD_EVERY_PORT (-2) /* only a rule without ports matches (deny rules, for a lookup) */

enum td_reason {
    TD_REASON_ALLOW_RULE,
    TD_REASON_LOCALHOST,
    TD_REASON_DENY_RULE,
    TD_REASON_NO_RULE,
    TD_REASON_INVALID
};

struct td_verdict {
    enum td_reason reason;
    const struct td_rule *rule; /* the deciding rule, or NULL */
    int name_index;             /* for a connect: which of the names decided, or -1 */
};

struct td_policy;

struct td_policy_error {
    char rule[TD_RULE_TEXT];
    char reason[TD_REASON_LEN];
};

/* Compiles a policy; NULL with *err filled when a rule does not parse (or memory runs out). */
struct td_policy *td_policy_compile(const char *const *allow, size_t nallow, const char *const *deny,
                                    size_t ndeny, int allow_localhost, struct td_policy_error *err);
void td_policy_free(struct td_policy *policy);

/* The policy's bytes (what an image file holds). */
const void *td_policy_bytes(const struct td_policy *policy, size_t *size);
/* A policy over `size` bytes at `base` that td_policy_bytes gave (read from an image), used in place: they
 * must stay readable and unchanged while the policy lives; td_policy_free leaves them alone. NULL with a
 * reason when they are not a policy of this version. */
struct td_policy *td_policy_from_bytes(const void *base, size_t size, char *problem, size_t cap);

int td_verdict_allowed(const struct td_verdict *v);

/* The decision (docs/rules.md, Deciding). For a destination that is an address, `names` are the names this
 * process resolved to it. port: a port, or TD_ANY_PORT for a lookup. */
void td_policy_decide(const struct td_policy *policy, const struct td_dest *dest, int port,
                      const char *const *names, size_t nnames, struct td_verdict *out);

#endif
