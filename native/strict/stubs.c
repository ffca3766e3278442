/* policy_file.c reads the policy file through the shim's table of real libc functions (in the shim, plain
 * read() may be its own hook). The supervisor has no hooks: an empty table, so it uses libc's read(). */
#include "../shim/shim.h"

struct td_real td_real;

void td_resolve_real(void) {}

/* The supervisor judges names by its own mount namespace (names.c): every answer it reads counts here. */
int td_mount_ns_home(void) {
    return 1;
}
