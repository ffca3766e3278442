/* The shim's identity: what `tethered` checks before it trusts a libtethered.so it found on disk.
 * The interposed functions themselves come with the interposer (one file per libc family). */
#include "tethered.h"

TETHERED_EXPORT const char *tethered_version(void) {
    return TETHERED_VERSION;
}

TETHERED_EXPORT int tethered_abi(void) {
    return TETHERED_ABI;
}
