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

#endif
