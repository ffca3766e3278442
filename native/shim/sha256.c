/* SHA-256 (FIPS 180-4). The compression function runs on whole 64-byte blocks; td_sha256 feeds it the data
 * in place and pads only the last one or two blocks on the stack, so hashing allocates nothing. On x86-64
 * CPUs with the SHA extensions (SHA-NI) the blocks go through sha256rnds2/sha256msg1/sha256msg2, about
 * five times faster than the portable code: a policy image of a few MB is checked in a millisecond or two
 * at every process start. The choice is made once from CPUID; the accelerated function is compiled for
 * those instructions alone (target attribute), so the rest of the library still runs on any x86-64. */
#include "sha256.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

static void blocks_portable(uint32_t s[8], const uint8_t *p, size_t n) {
    for (; n; n--, p += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
                   p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e, s[5] += f, s[6] += g, s[7] += h;
    }
}

#if defined(__x86_64__)
/* Four rounds per group g; the message schedule is computed one group ahead in m[(g + 1) % 4]. */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t s[8], const uint8_t *p, size_t n) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&s[0]);
    __m128i state1 = _mm_loadu_si128((const __m128i *)&s[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);               /* CDAB */
    state1 = _mm_shuffle_epi32(state1, 0x1B);         /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8); /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);      /* CDGH */
    for (; n; n--, p += 64) {
        __m128i abef = state0, cdgh = state1, m[4];
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (g < 4) m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
            __m128i msg = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
            if (g >= 3 && g < 15) {
                __m128i next = _mm_add_epi32(m[(g + 1) & 3], _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4));
                m[(g + 1) & 3] = _mm_sha256msg2_epu32(next, m[g & 3]);
            }
            msg = _mm_shuffle_epi32(msg, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
            if (g >= 1 && g <= 12) m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);    /* ABEF */
    _mm_storeu_si128((__m128i *)&s[0], state0);
    _mm_storeu_si128((__m128i *)&s[4], state1);
}

/* Two independent streams at once: sha256rnds2 waits on its previous result, so one stream leaves the
 * unit idle half the time; two interleaved keep it busy (about twice the throughput). */
__attribute__((target("sha,sse4.1"))) static void blocks_shani_x2(uint32_t sa[8], const uint8_t *pa,
                                                                  uint32_t sb[8], const uint8_t *pb,
                                                                  size_t n) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i s0[2], s1[2];
    uint32_t *st[2] = {sa, sb};
    _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
        __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[k][0]), 0xB1);
        __m128i t1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[k][4]), 0x1B);
        s0[k] = _mm_alignr_epi8(tmp, t1, 8);
        s1[k] = _mm_blend_epi16(t1, tmp, 0xF0);
    }
    for (; n; n--, pa += 64, pb += 64) {
        __m128i save0[2] = {s0[0], s0[1]}, save1[2] = {s1[0], s1[1]}, m[2][4];
        const uint8_t *p[2] = {pa, pb};
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i k4 = _mm_loadu_si128((const __m128i *)&K[4 * g]), msg[2];
            _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
                if (g < 4)
                    m[k][g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p[k] + 16 * g)), swap);
                msg[k] = _mm_add_epi32(m[k][g & 3], k4);
                s1[k] = _mm_sha256rnds2_epu32(s1[k], s0[k], msg[k]);
            }
            _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
                if (g >= 3 && g < 15) {
                    __m128i next =
                        _mm_add_epi32(m[k][(g + 1) & 3], _mm_alignr_epi8(m[k][g & 3], m[k][(g - 1) & 3], 4));
                    m[k][(g + 1) & 3] = _mm_sha256msg2_epu32(next, m[k][g & 3]);
                }
                msg[k] = _mm_shuffle_epi32(msg[k], 0x0E);
                s0[k] = _mm_sha256rnds2_epu32(s0[k], s1[k], msg[k]);
                if (g >= 1 && g <= 12)
                    m[k][(g - 1) & 3] = _mm_sha256msg1_epu32(m[k][(g - 1) & 3], m[k][g & 3]);
            }
        }
        _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
            s0[k] = _mm_add_epi32(s0[k], save0[k]);
            s1[k] = _mm_add_epi32(s1[k], save1[k]);
        }
    }
    _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
        __m128i tmp = _mm_shuffle_epi32(s0[k], 0x1B);
        __m128i t1 = _mm_shuffle_epi32(s1[k], 0xB1);
        _mm_storeu_si128((__m128i *)&st[k][0], _mm_blend_epi16(tmp, t1, 0xF0));
        _mm_storeu_si128((__m128i *)&st[k][4], _mm_alignr_epi8(t1, tmp, 8));
    }
}

static int cpu_has_sha(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return ssse3 && sse41 && ((b >> 29) & 1);
}
#endif

typedef void (*blocks_fn)(uint32_t s[8], const uint8_t *p, size_t n);

static blocks_fn choose(void) {
    static _Atomic(blocks_fn) chosen;
    blocks_fn f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (f) return f;
    f = blocks_portable;
#if defined(__x86_64__)
    if (cpu_has_sha()) f = blocks_shani;
#endif
    atomic_store_explicit(&chosen, f, memory_order_relaxed);
    return f;
}

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* The last block or two: the bytes past the whole blocks, 0x80, zeros and the length in bits. */
static void finish(blocks_fn blocks, uint32_t s[8], const uint8_t *rest, size_t nrest, uint64_t len,
                   uint8_t out[TD_SHA256_LEN]) {
    uint8_t tail[128] = {0};
    memcpy(tail, rest, nrest);
    tail[nrest] = 0x80;
    size_t tail_blocks = nrest + 9 > 64 ? 2 : 1;
    uint64_t bits = len * 8;
    for (int i = 0; i < 8; i++) tail[tail_blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    blocks(s, tail, tail_blocks);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s[i] >> 8);
        out[4 * i + 3] = (uint8_t)s[i];
    }
}

static void hash_with(blocks_fn blocks, const void *data, size_t len, uint8_t out[TD_SHA256_LEN]) {
    uint32_t s[8];
    memcpy(s, H0, sizeof s);
    size_t whole = len / 64;
    blocks(s, data, whole);
    finish(blocks, s, (const uint8_t *)data + whole * 64, len - whole * 64, len, out);
}

void td_sha256(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]) {
    hash_with(choose(), data, len, out);
}

void td_sha256_portable(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]) {
    hash_with(blocks_portable, data, len, out);
}

int td_sha256_accelerated(void) {
    return choose() != blocks_portable;
}

/* The chunk the two halves advance by between calls to `ready`: small enough to be hashed while it is
 * still in the cache it was just copied through. */
#define CHUNK (64 * 1024)

static int split_hash(int portable, const void *data, size_t len, uint8_t out[TD_SHA256_LEN],
                      int (*ready)(void *ctx, size_t from, size_t to), void *ctx) {
    const uint8_t *p = data;
    size_t half = len / 128 * 64; /* the first part: whole blocks, the second at least as long */
    uint8_t leaves[2 * TD_SHA256_LEN];
    blocks_fn blocks = portable ? blocks_portable : choose();
    uint32_t a[8], b[8];
    memcpy(a, H0, sizeof a);
    memcpy(b, H0, sizeof b);
    for (size_t at = 0; at < half; at += CHUNK) {
        size_t n = half - at < CHUNK ? half - at : CHUNK;
        if (ready && (ready(ctx, at, at + n) != 0 || ready(ctx, half + at, half + at + n) != 0)) return -1;
#if defined(__x86_64__)
        if (blocks == blocks_shani) {
            blocks_shani_x2(a, p + at, b, p + half + at, n / 64);
            continue;
        }
#endif
        blocks(a, p + at, n / 64);
        blocks(b, p + half + at, n / 64);
    }
    if (ready && ready(ctx, 2 * half, len) != 0) return -1;
    finish(blocks, a, p + half, 0, half, leaves);
    size_t more = (len - 2 * half) / 64, done = 2 * half + more * 64;
    blocks(b, p + 2 * half, more);
    finish(blocks, b, p + done, len - done, len - half, leaves + TD_SHA256_LEN);
    hash_with(blocks, leaves, sizeof leaves, out);
    return 0;
}

void td_sha256_split(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]) {
    split_hash(0, data, len, out, NULL, NULL);
}

void td_sha256_split_portable(const void *data, size_t len, uint8_t out[TD_SHA256_LEN]) {
    split_hash(1, data, len, out, NULL, NULL);
}

int td_sha256_split_as_ready(void *data, size_t len, uint8_t out[TD_SHA256_LEN],
                             int (*ready)(void *ctx, size_t from, size_t to), void *ctx) {
    return split_hash(0, data, len, out, ready, ctx);
}
