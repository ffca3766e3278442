/* Unicode host names to ASCII: UTS #46 (non-transitional, as Node's url.domainToASCII) for the code points
 * whose mapping is context-free, from a table generated from Node's own Unicode data
 * (scripts/idna-table.mjs -> idna_table.h): Latin, Greek, Cyrillic, CJK, kana, Hangul syllables, emoji,
 * fullwidth forms, the ideographic dots, ignorable code points, ... A name holding any other code point (a
 * combining mark, a right-to-left script, a joiner: what the bidi and joiner rules and NFC judge by its
 * neighbours) is "not a DNS name" here, so it never matches a rule: the native layer errs towards blocking.
 * Labels in punycode (xn--) are checked as docs/rules.md says (Unicode names). */
#include <stdint.h>
#include <string.h>

#include "idna_table.h"
#include "name.h"

#define UNSUPPORTED 0xffffffffu

enum cp_kind { CP_VALID, CP_IGNORED, CP_MAPPED, CP_DISALLOWED, CP_CONTEXTUAL };

static int in_ranges(const struct td_cp_range *r, size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid].first)
            hi = mid;
        else if (c > r[mid].last)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What UTS #46 does with a non-ASCII code point; for CP_MAPPED, *to and *len say to what. */
static enum cp_kind classify(uint32_t c, const uint32_t **to, size_t *len) {
    if (in_ranges(td_idna_valid, COUNT(td_idna_valid), c)) return CP_VALID;
    size_t lo = 0, hi = COUNT(td_idna_mapped);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < td_idna_mapped[mid].from) {
            hi = mid;
        } else if (c > td_idna_mapped[mid].from) {
            lo = mid + 1;
        } else {
            *to = td_idna_pool + td_idna_mapped[mid].at;
            *len = td_idna_mapped[mid].len;
            return CP_MAPPED;
        }
    }
    if (in_ranges(td_idna_ignored, COUNT(td_idna_ignored), c)) return CP_IGNORED;
    if (in_ranges(td_idna_contextual, COUNT(td_idna_contextual), c)) return CP_CONTEXTUAL;
    return CP_DISALLOWED;
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

/* RFC 3492 decoding of the part after "xn--". Returns the number of code points, or -1 when it is not
 * punycode (a bad digit, an overflow, a code point beyond Unicode) or does not fit. */
static int punydecode(const char *in, size_t n, uint32_t *out, size_t cap) {
    enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };
    size_t basic = 0, o = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] == '-') basic = i;
    if (basic > 0 || (n > 0 && in[0] == '-')) {
        for (size_t i = 0; i < basic; i++) {
            if ((unsigned char)in[i] >= 0x80 || o >= cap) return -1;
            out[o++] = (unsigned char)in[i];
        }
        basic++; /* past the delimiter */
    }
    uint64_t next = INITIAL_N, i = 0, bias = INITIAL_BIAS;
    for (size_t at = basic; at < n;) {
        uint64_t old = i, w = 1;
        for (uint64_t k = BASE;; k += BASE) {
            if (at >= n) return -1;
            char c = in[at++];
            uint64_t d = c >= 'a' && c <= 'z'   ? (uint64_t)(c - 'a')
                         : c >= '0' && c <= '9' ? (uint64_t)(c - '0' + 26)
                                                : BASE;
            if (d >= BASE) return -1;
            i += d * w;
            if (i > 0x10ffffull * (TD_NAME_BUF + 1)) return -1;
            uint64_t t = k <= bias ? TMIN : (k >= bias + TMAX ? TMAX : k - bias);
            if (d < t) break;
            w *= BASE - t;
            if (w > 0x10ffffull * (TD_NAME_BUF + 1)) return -1;
        }
        /* adapt the bias */
        uint64_t delta = old == 0 ? i / DAMP : (i - old) / 2;
        delta += delta / (o + 1);
        uint64_t k = 0;
        while (delta > ((BASE - TMIN) * TMAX) / 2) {
            delta /= BASE - TMIN;
            k += BASE;
        }
        bias = k + (BASE - TMIN + 1) * delta / (delta + SKEW);
        next += i / (o + 1);
        i %= o + 1;
        if (next > 0x10ffff || o >= cap) return -1;
        memmove(out + i + 1, out + i, (o - i) * sizeof *out);
        out[i++] = (uint32_t)next;
        o++;
    }
    return (int)o;
}

/* docs/rules.md, Unicode names: a label that starts with "xn--" must be the punycode of a label in normal
 * form: it decodes, holds a non-ASCII code point, encodes back to itself, and each code point the table
 * knows maps to itself (one it does not know, of a right-to-left script say, cannot be judged here). */
static int punycode_label_ok(const char *label, size_t n) {
    uint32_t cps[TD_NAME_BUF];
    char again[TD_NAME_BUF];
    if (n <= 4) return 0;
    int m = punydecode(label + 4, n - 4, cps, TD_NAME_BUF);
    if (m <= 0) return 0;
    int non_ascii = 0;
    for (int k = 0; k < m; k++) {
        uint32_t c = cps[k];
        if (c < 0x80) {
            if (!td_is_label_char((char)c)) return 0;
            continue;
        }
        non_ascii = 1;
        const uint32_t *to;
        size_t len;
        enum cp_kind kind = classify(c, &to, &len);
        if (kind != CP_VALID && kind != CP_CONTEXTUAL) return 0;
    }
    if (!non_ascii) return 0;
    int w = punycode(cps, (size_t)m, again, sizeof again - 1);
    return w >= 0 && (size_t)w == n - 4 && memcmp(again, label + 4, n - 4) == 0;
}

/* Every label of an ASCII name (lower case) that starts with "xn--" is valid punycode. */
static int punycode_labels_ok(const char *name, size_t n) {
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && name[end] != '.') end++;
        if (end - start >= 4 && memcmp(name + start, "xn--", 4) == 0 &&
            !punycode_label_ok(name + start, end - start))
            return 0;
        start = end + 1;
    }
    return 1;
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
        if (c < 0x80) {
            if (ncp == TD_NAME_BUF) return -1;
            cps[ncp++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
            continue;
        }
        const uint32_t *to = NULL;
        size_t len = 0;
        switch (classify(c, &to, &len)) {
            case CP_VALID:
                to = &c;
                len = 1;
                break;
            case CP_IGNORED:
                continue;
            case CP_MAPPED:
                break;
            default:
                return -1;
        }
        if (ncp + len > TD_NAME_BUF) return -1;
        memcpy(cps + ncp, to, len * sizeof *to);
        ncp += len;
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
    if (!punycode_labels_ok(out, (size_t)len)) return -1;
    return len;
}
