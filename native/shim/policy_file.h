/* TETHERED_POLICY_FILE: JSON {"allow": [...], "deny": [...], "allowLocalhost": bool, "mode":
 * "enforce"|"log"}, read with the same strictness as src/policy-file.ts (unknown keys are errors). */
#ifndef TETHERED_POLICY_FILE_H
#define TETHERED_POLICY_FILE_H

#include <stddef.h>

struct td_policy_file {
    char **allow, **deny;
    size_t nallow, ndeny;
    int allow_localhost; /* -1: not given */
    int mode;            /* -1: not given, 0: enforce, 1: log */
};

/* Parses JSON text. Returns 0, or -1 with a problem. */
int td_parse_policy_json(const char *text, size_t len, struct td_policy_file *out, char *problem, size_t cap);
int td_read_policy_file(const char *path, struct td_policy_file *out, char *problem, size_t cap);
void td_policy_file_free(struct td_policy_file *pf);

/* Does text hold a control character (C0, DEL or C1)? No rule may. */
int td_has_control(const char *s, size_t len);
/* text with its control characters written as \u00XX and quotes and backslashes escaped, for a message;
 * cut to fit cap. */
void td_escape(const char *s, size_t len, char *out, size_t cap);

/* Rules gathered from a policy file and the environment, before they are compiled: the shim's and the
 * strict supervisor's configuration both read them this way. */
struct td_rule_list {
    char **items;
    size_t n, cap;
};
/* Appends a copy of text[0..len). 0, or -1 when memory runs out. */
int td_rules_push(struct td_rule_list *l, const char *text, size_t len);
/* Appends the rules of a TETHERED_ALLOW/TETHERED_DENY value: separated by commas or whitespace. Any other
 * control character stays inside its rule, where td_rules_check refuses it. */
int td_rules_split(struct td_rule_list *l, const char *text);
/* A rule with a control character in it is refused whole (docs/rules.md, Grammar: a NUL would cut it short,
 * and a cut allow rule is a wider one, a cut deny rule a narrower one). 0, or -1 with the problem. */
int td_rules_check(const struct td_rule_list *l, char *problem, size_t cap);
void td_rules_free(struct td_rule_list *l);

#endif
