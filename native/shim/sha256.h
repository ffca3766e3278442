/* SHA-256 (FIPS 180-4), for the policy image's content hash. The shim links only libc, so it carries its
 * own: portable C, and the x86 SHA extensions when the CPU has them (chosen once, at run time). */
#ifndef TETHERED_SHA256_H
#define TETHERED_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TD_SHA256_LEN 32

void td_sha256(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]);
/* The same with the portable code only (tests compare the two). */
void td_sha256_portable(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]);
/* The content hash of a policy image: SHA-256 over the SHA-256 of the first half (whole 64-byte blocks)
 * and the SHA-256 of the rest (a two-leaf hash tree: as strong as SHA-256, and the two halves are hashed
 * side by side, twice as fast with the SHA extensions). */
void td_sha256_split(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]);
void td_sha256_split_portable(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]);
/* td_sha256_split over bytes that arrive as it goes: ready(ctx, from, to) must make data[from, to) present
 * before they are hashed (policy_image.c copies a file in chunk by chunk, each hashed while it is still in
 * the cache). Returns 0, or -1 when `ready` did. */
int td_sha256_split_as_ready(void *data, size_t len, uint8_t out[TD_SHA256_LEN],
                             int (*ready)(void *ctx, size_t from, size_t to), void *ctx);
/* 1 when td_sha256 uses the CPU's SHA instructions. */
int td_sha256_accelerated(void);

#endif
