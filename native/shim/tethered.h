/* The public face of libtethered.so: the symbols the addon and tests look up with dlsym. */
#ifndef TETHERED_H
#define TETHERED_H

#define TETHERED_EXPORT __attribute__((visibility("default")))

/* Bumped whenever the addon and the shim must change together. */
#define TETHERED_ABI 1
#define TETHERED_VERSION "0.1.0"

TETHERED_EXPORT const char *tethered_version(void);
TETHERED_EXPORT int tethered_abi(void);

#endif
