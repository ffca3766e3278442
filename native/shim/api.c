/* What the addon drives in-process: configure the policy, patch the process, turn the check off again,
 * receive events. Each configuration replaces the last in one pointer store; the replaced one is kept
 * (never freed), so a hook still reading it on another thread never reads freed memory. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

int td_patch_all(void);
void td_install_config(const struct td_config *c);

TETHERED_EXPORT int tethered_configure(const struct tethered_settings *s, char *error, size_t cap) {
    td_ensure_init();
    struct td_config *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(error, cap, "out of memory");
        return -1;
    }
    struct td_policy_error err;
    c->policy = td_policy_compile(s->allow, s->nallow, s->deny, s->ndeny, s->allow_localhost, &err);
    if (!c->policy) {
        snprintf(error, cap, "invalid rule \"%s\": %s", err.rule, err.reason);
        free(c);
        return -1;
    }
    c->mode = s->log_only ? TD_MODE_LOG : TD_MODE_ENFORCE;
    c->fail_closed = s->fail_closed;
    c->children_inherit = s->children_inherit;
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
        c->inject[c->ninject++] = strdup(s->inject[i]);
    }
    td_install_config(c);
    return 0;
}

TETHERED_EXPORT void tethered_disable(void) {
    td_ensure_init();
    td_install_config(NULL);
}

TETHERED_EXPORT int tethered_patch(void) {
    td_ensure_init();
    td_detour_libc();
    return td_patch_all();
}

TETHERED_EXPORT void tethered_set_sink(tethered_sink sink) {
    td_set_sink(sink);
}
