/* Unicode host names to ASCII: the subset of UTS #46 (non-transitional, as Node's url.domainToASCII) that
 * the native layer implements without tables. Supported: case mapping of Latin-1, Latin Extended-A, Greek
 * and Cyrillic; fullwidth ASCII; the ideographic dots; ignorable code points; CJK, kana and Hangul as they
 * are. Any other non-ASCII code point (combining marks, right-to-left scripts, emoji, …) makes the name
 * "not a DNS name" here, so it never matches a rule: the native layer errs towards blocking. */
#include <stdint.h>
#include <string.h>

#include "name.h"

#define UNSUPPORTED 0xffffffffu
#define DELETED 0xfffffffeu

/* One code point through the mapping: the mapped code point, DELETED, or UNSUPPORTED. */
static uint32_t map_code_point(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c == 0x3002 || c == 0xff0e || c == 0xff61) return '.';
    if (c >= 0xff01 && c <= 0xff5e) return map_code_point(c - 0xfee0);
    if (c == 0xad || c == 0x34f || (c >= 0x180b && c <= 0x180d) || c == 0x200b || c == 0x2060 ||
        (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff)
        return DELETED;
    /* Latin-1 */
    if (c == 0xaa) return 'a';
    if (c == 0xba) return 'o';
    if (c == 0xb2) return '2';
    if (c == 0xb3) return '3';
    if (c == 0xb9) return '1';
    if (c == 0xb5) return 0x3bc;
    if ((c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xde)) return c + 0x20;
    if ((c >= 0xdf && c <= 0xf6) || (c >= 0xf8 && c <= 0xff)) return c;
    /* Latin Extended-A: upper and lower case alternate; a few letters map to two (unsupported) */
    if (c == 0x130 || c == 0x132 || c == 0x133 || c == 0x13f || c == 0x140 || c == 0x149) return UNSUPPORTED;
    if (c == 0x17f) return 's';
    if (c == 0x178) return 0xff;
    if (c == 0x131 || c == 0x138) return c;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return (c & 1) ? c + 1 : c;
    /* Greek */
    if (c == 0x386) return 0x3ac;
    if (c >= 0x388 && c <= 0x38a) return c + 0x25;
    if (c == 0x38c) return 0x3cc;
    if (c == 0x38e || c == 0x38f) return c + 0x3f;
    if (c == 0x390 || (c >= 0x3ac && c <= 0x3ce)) return c;
    if ((c >= 0x391 && c <= 0x3a1) || (c >= 0x3a3 && c <= 0x3ab)) return c + 0x20;
    /* Cyrillic */
    if (c >= 0x400 && c <= 0x40f) return c + 0x50;
    if (c >= 0x410 && c <= 0x42f) return c + 0x20;
    if (c >= 0x430 && c <= 0x45f) return c;
    /* Scripts without case, taken as they are (already in NFC) */
    if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3041 && c <= 0x3096) || (c >= 0x30a1 && c <= 0x30fa) ||
        (c >= 0xac00 && c <= 0xd7a3))
        return c;
    return UNSUPPORTED;
}

/* Decodes one UTF-8 sequence at s[*i]; UNSUPPORTED on malformed input. */
static uint32_t next_utf8(const unsigned char *s, size_t n, size_t *i) {
    unsigned char b = s[*i];
    uint32_t c;
    size_t extra;
    if (b < 0x80) {
        (*i)++;
        return b;
    } else if ((b & 0xe0) == 0xc0) {
        c = b & 0x1f;
        extra = 1;
    } else if ((b & 0xf0) == 0xe0) {
        c = b & 0x0f;
        extra = 2;
    } else if ((b & 0xf8) == 0xf0) {
        c = b & 0x07;
        extra = 3;
    } else {
        return UNSUPPORTED;
    }
    for (size_t k = 1; k <= extra; k++) {
        if (*i + k >= n || (s[*i + k] & 0xc0) != 0x80) return UNSUPPORTED;
        c = (c << 6) | (s[*i + k] & 0x3f);
    }
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    if (c < min[extra] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return UNSUPPORTED;
    *i += extra + 1;
    return c;
}

/* RFC 3492 punycode of one label. Returns the length written after "xn--", or -1 if it does not fit. */
static int punycode(const uint32_t *cp, size_t n, char *out, size_t cap) {
    enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };
    size_t o = 0, basic = 0;
    for (size_t i = 0; i < n; i++)
        if (cp[i] < 0x80) {
            if (o >= cap) return -1;
            out[o++] = (char)cp[i];
            basic++;
        }
    size_t h = basic;
    if (basic) {
        if (o >= cap) return -1;
        out[o++] = '-';
    }
    uint32_t next = INITIAL_N, bias = INITIAL_BIAS;
    uint64_t delta = 0;
    while (h < n) {
        uint32_t m = 0xffffffffu;
        for (size_t i = 0; i < n; i++)
            if (cp[i] >= next && cp[i] < m) m = cp[i];
        delta += (uint64_t)(m - next) * (h + 1);
        next = m;
        for (size_t i = 0; i < n; i++) {
            if (cp[i] < next) delta++;
            if (cp[i] != next) continue;
            uint64_t q = delta;
            for (uint32_t k = BASE;; k += BASE) {
                uint32_t t = k <= bias ? TMIN : (k >= bias + TMAX ? TMAX : k - bias);
                if (q < t) break;
                uint64_t d = t + (q - t) % (BASE - t);
                if (o >= cap) return -1;
                out[o++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
                q = (q - t) / (BASE - t);
            }
            if (o >= cap) return -1;
            out[o++] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
            /* adapt the bias */
            uint64_t dd = (h == basic) ? delta / DAMP : delta / 2;
            dd += dd / (h + 1);
            uint32_t k = 0;
            while (dd > ((BASE - TMIN) * TMAX) / 2) {
                dd /= BASE - TMIN;
                k += BASE;
            }
            bias = (uint32_t)(k + (BASE - TMIN + 1) * dd / (dd + SKEW));
            delta = 0;
            h++;
        }
        delta++;
        next++;
    }
    return (int)o;
}

/* Non-ASCII input: map every code point, then punycode each label that is not pure ASCII. */
static int unicode_to_ascii(const char *in, size_t n, char out[TD_NAME_BUF]) {
    /* Like domainToASCII's caller in hostname.ts: the ASCII part must already be name-shaped. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80 && c != '.' && c != '*' && !td_is_label_char((char)(c >= 'A' && c <= 'Z' ? c + 32 : c)))
            return -1;
    }
    uint32_t cps[TD_NAME_BUF];
    size_t ncp = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = next_utf8((const unsigned char *)in, n, &i);
        if (c == UNSUPPORTED) return -1;
        c = map_code_point(c);
        if (c == UNSUPPORTED) return -1;
        if (c == DELETED) continue;
        if (ncp == TD_NAME_BUF) return -1;
        cps[ncp++] = c;
    }
    size_t o = 0;
    for (size_t start = 0; start <= ncp;) {
        size_t end = start;
        int ascii = 1;
        while (end < ncp && cps[end] != '.') {
            if (cps[end] >= 0x80) ascii = 0;
            end++;
        }
        if (ascii) {
            for (size_t k = start; k < end; k++) {
                if (o + 1 >= TD_NAME_BUF) return -1;
                out[o++] = (char)cps[k];
            }
        } else {
            for (size_t k = start; k < end; k++)
                if (cps[k] == '*') return -1; /* a wildcard label must be ASCII */
            if (o + 5 >= TD_NAME_BUF) return -1;
            memcpy(out + o, "xn--", 4);
            o += 4;
            int w = punycode(cps + start, end - start, out + o, TD_NAME_BUF - 1 - o);
            if (w < 0) return -1;
            o += (size_t)w;
        }
        if (end == ncp) break;
        if (o + 1 >= TD_NAME_BUF) return -1;
        out[o++] = '.';
        start = end + 1;
    }
    out[o] = 0;
    return (int)o;
}

int td_to_ascii_name(const char *in, size_t n, int allow_star, char out[TD_NAME_BUF]) {
    (void)allow_star;
    int non_ascii = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] >= 0x80) non_ascii = 1;
    int len;
    if (non_ascii) {
        if (n > 4 * TD_NAME_BUF) return -1;
        len = unicode_to_ascii(in, n, out);
        if (len < 0) return -1;
    } else {
        /* one more than a name may hold, so that the trailing dot can still be removed */
        if (n > TD_NAME_BUF - 1) return -1;
        for (size_t i = 0; i < n; i++) out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
        out[n] = 0;
        len = (int)n;
    }
    if (len > 0 && out[len - 1] == '.') out[--len] = 0;
    return len;
}
