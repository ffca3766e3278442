/* The strict supervisor pinned at activate time (pin.c): shared by the shim (children: 'strict') and the
 * addon (strict: true). */
#ifndef TETHERED_PIN_H
#define TETHERED_PIN_H

#include <stddef.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A sealed close-on-exec memfd holding a copy of the ELF file at `path`, at descriptor `min_fd` or above
 * when it can (out of the way of the low numbers a forked child puts its standard streams and pipes on);
 * `st` gets its identity. -1 with the reason in `why` (errno set). */
__attribute__((visibility("hidden"))) int td_pin_binary(const char *path, int min_fd, struct stat *st,
                                                        char *why, size_t cap);

/* 1 when `fd` is still the memfd td_pin_binary made (identity `st`, every seal), else 0. */
__attribute__((visibility("hidden"))) int td_pin_intact(int fd, const struct stat *st);

#ifdef __cplusplus
}
#endif

#endif
