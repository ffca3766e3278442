/* The supervisor's policy, from the same environment the shim reads (docs/rules.md, Where rules come from):
 * TETHERED_POLICY_IMAGE or TETHERED_ALLOW / TETHERED_DENY / TETHERED_POLICY_FILE, TETHERED_ALLOW_LOCALHOST,
 * TETHERED_MODE, TETHERED_LOG, TETHERED_LOG_ALLOWED. A policy that cannot be used blocks everything, whatever
 * the mode, and says why once on stderr: a typo must not open the command up. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shim/policy_file.h"
#include "../shim/policy_image.h"
#include "strict.h"

struct ts_config ts_config = {.log_fd = -1};

static int flag(const char *name, int fallback, char *problem, size_t cap) {
    const char *v = getenv(name);
    if (!v || !*v) return fallback;
    if (strcmp(v, "1") == 0 || strcmp(v, "0") == 0) return v[0] == '1';
    if (!*problem) snprintf(problem, cap, "%s must be 1 or 0", name);
    return fallback;
}

static void policy_from_rules(struct ts_config *c, char *problem, size_t cap) {
    struct td_rule_list allow = {0}, deny = {0};
    int allow_localhost = 1, lost = 0;
    const char *file = getenv("TETHERED_POLICY_FILE");
    if (file && *file) {
        struct td_policy_file pf;
        if (td_read_policy_file(file, &pf, problem, cap) == 0) {
            for (size_t i = 0; i < pf.nallow; i++)
                lost |= td_rules_push(&allow, pf.allow[i], strlen(pf.allow[i]));
            for (size_t i = 0; i < pf.ndeny; i++)
                lost |= td_rules_push(&deny, pf.deny[i], strlen(pf.deny[i]));
            if (pf.allow_localhost >= 0) allow_localhost = pf.allow_localhost;
            if (pf.mode == 1) c->log_mode = 1;
            td_policy_file_free(&pf);
        }
    }
    lost |= td_rules_split(&allow, getenv("TETHERED_ALLOW"));
    lost |= td_rules_split(&deny, getenv("TETHERED_DENY"));
    if (lost && !*problem) snprintf(problem, cap, "out of memory while reading the rules");
    if (!*problem) td_rules_check(&allow, problem, cap);
    if (!*problem) td_rules_check(&deny, problem, cap);
    allow_localhost = flag("TETHERED_ALLOW_LOCALHOST", allow_localhost, problem, cap);
    if (!*problem) {
        struct td_policy_error err;
        c->policy = td_policy_compile((const char *const *)allow.items, allow.n,
                                      (const char *const *)deny.items, deny.n, allow_localhost, &err);
        if (!c->policy) snprintf(problem, cap, "invalid rule \"%.200s\": %.250s", err.rule, err.reason);
    }
    td_rules_free(&allow);
    td_rules_free(&deny);
}

int ts_load_config_to(struct ts_config *c) {
    char problem[512] = "";
    const char *mode = getenv("TETHERED_MODE");
    if (mode && *mode && strcmp(mode, "log") != 0 && strcmp(mode, "enforce") != 0)
        snprintf(problem, sizeof problem, "TETHERED_MODE must be enforce or log, not '%.100s'", mode);
    const char *ref = getenv("TETHERED_POLICY_IMAGE");
    if (*problem) {
    } else if (ref && *ref) {
        static const char *const others[] = {"TETHERED_ALLOW", "TETHERED_DENY", "TETHERED_POLICY_FILE"};
        for (size_t i = 0; i < 3 && !*problem; i++) {
            const char *v = getenv(others[i]);
            if (v && *v)
                snprintf(problem, sizeof problem,
                         "TETHERED_POLICY_IMAGE holds the whole policy; %s cannot be given with it",
                         others[i]);
        }
        int fd = -1;
        if (!*problem) c->policy = td_policy_image_load(ref, &fd, problem, sizeof problem);
        /* The memfd stays open for the supervisor's lifetime (the policy is read in place) and close-on-exec:
         * the command gets nothing of the supervisor's. */
        if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    } else {
        policy_from_rules(c, problem, sizeof problem);
    }
    if (mode && strcmp(mode, "log") == 0) c->log_mode = 1;
    c->log_allowed = flag("TETHERED_LOG_ALLOWED", 0, problem, sizeof problem);
    const char *log = getenv("TETHERED_LOG");
    if (!log || !*log || strcmp(log, "stderr") == 0) {
        c->log = TS_LOG_STDERR;
        c->log_fd = fcntl(2, F_DUPFD_CLOEXEC, 3); /* stderr as it is now, whatever the command does */
    } else if (strcmp(log, "off") == 0) {
        c->log = TS_LOG_OFF;
    } else {
        c->log = TS_LOG_FILE;
        c->log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (c->log_fd < 0) {
            char line[600];
            int n = snprintf(line, sizeof line,
                             "tethered: cannot open the log %.400s; events are not recorded\n", log);
            if (write(2, line, (size_t)n) < 0) {
            }
        }
    }
    if (!*problem) return 0;
    if (c->policy) td_policy_free(c->policy);
    c->policy = NULL;
    c->log_mode = 0;
    char line[700];
    int n = snprintf(
        line, sizeof line,
        "tethered: the policy cannot be used: %s; all network egress of this process is blocked\n", problem);
    if (write(2, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0) {
    }
    return -1;
}

int ts_load_config(void) {
    return ts_load_config_to(&ts_config);
}

void ts_unset_tethered_env(void) {
    for (char **e = environ; e && *e;) {
        if (strncmp(*e, "TETHERED_", 9) != 0) {
            e++;
            continue;
        }
        char name[256];
        size_t n = strcspn(*e, "=");
        snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), *e);
        if (unsetenv(name) != 0) break;
    }
}
