/* Address parsing and formatting. Mirrors src/policy/ip.ts; test/vectors/policy.json holds both to the
 * same answers. */
#include "ip.h"

#include <string.h>

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int td_parse_inet_aton(const char *s, size_t n, uint32_t *out) {
    uint64_t parts[4];
    size_t nparts = 0, i = 0;
    for (;;) {
        if (i >= n || s[i] < '0' || s[i] > '9') return -1;
        int base = 10, digits = 0;
        uint64_t value = 0;
        if (s[i] == '0') {
            i++;
            if (i < n && (s[i] | 0x20) == 'x') {
                base = 16;
                i++;
            } else {
                base = 8;
                digits = 1; /* a lone 0 is a digit */
            }
        }
        for (; i < n; i++) {
            int d = base == 16 ? hex_value(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
            if (d < 0) break;
            if (d >= base) return -1; /* 8 or 9 in an octal part */
            value = value * (uint64_t)base + (uint64_t)d;
            if (value > 0xffffffffu) return -1;
            digits++;
        }
        if (digits == 0) return -1; /* "0x" with no hex digit */
        if (i < n && s[i] == '.') {
            if (nparts == 3 || value > 0xff) return -1;
            parts[nparts++] = value;
            i++;
            continue;
        }
        if (i != n) return -1;
        size_t room = 4 - nparts; /* bytes left for the last part */
        if (room < 4 && value >= ((uint64_t)1 << (8 * room))) return -1;
        uint64_t result = value;
        for (size_t p = 0; p < nparts; p++) result += parts[p] << (8 * (3 - p));
        *out = (uint32_t)result;
        return 0;
    }
}

int td_parse_dotted_quad(const char *s, size_t n, uint32_t *out) {
    uint32_t result = 0;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        unsigned value = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            value = value * 10 + (unsigned)(s[i] - '0');
            i++;
            if (i - start > 3) return -1;
        }
        size_t len = i - start;
        if (len == 0 || value > 255) return -1;
        if (len > 1 && s[start] == '0') return -1; /* a leading zero reads as octal in C */
        result = (result << 8) | value;
        if (part < 3) {
            if (i >= n || s[i] != '.') return -1;
            i++;
        }
    }
    if (i != n) return -1;
    *out = result;
    return 0;
}

/* Parses up to `max` colon-separated hex groups of s[0..n). Returns the count or -1. */
static int parse_groups(const char *s, size_t n, uint16_t *groups, int max) {
    if (n == 0) return 0;
    int count = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] != ':') {
            int d = hex_value(s[i]);
            if (d < 0 || i - start >= 4) return -1;
            v = v * 16 + (unsigned)d;
            i++;
        }
        if (i == start || count == max) return -1;
        groups[count++] = (uint16_t)v;
        if (i == n) return count;
        i++; /* the colon */
        if (i == n) return -1;
    }
}

int td_parse_ipv6(const char *s, size_t n, uint8_t out[16]) {
    if (n < 2 || n > 45) return -1;
    size_t head_len = n;
    uint32_t tail_v4 = 0;
    int has_v4 = 0;
    const char *last_colon = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == ':') {
            last_colon = s + i;
            break;
        }
    if (last_colon && memchr(last_colon, '.', n - (size_t)(last_colon - s))) {
        size_t at = (size_t)(last_colon - s);
        if (td_parse_dotted_quad(last_colon + 1, n - at - 1, &tail_v4) != 0) return -1;
        has_v4 = 1;
        head_len = at + 1;
        if (head_len >= 2 && s[head_len - 2] == ':') {
            /* the compressed run ends right before the dotted quad */
        } else if (head_len > 1) {
            head_len--;
        } else {
            return -1;
        }
    }
    int wanted = has_v4 ? 6 : 8;
    uint16_t groups[8] = {0};
    const char *dbl = NULL;
    for (size_t i = 0; i + 1 < head_len; i++)
        if (s[i] == ':' && s[i + 1] == ':') {
            if (dbl) return -1;
            dbl = s + i;
            i++;
        }
    if (dbl) {
        /* "a::b" — a triple colon is caught because the right part then starts with ':' */
        size_t left_len = (size_t)(dbl - s);
        uint16_t left[8], right[8];
        int nl = parse_groups(s, left_len, left, 8);
        int nr = parse_groups(dbl + 2, head_len - left_len - 2, right, 8);
        if (nl < 0 || nr < 0 || nl + nr >= wanted) return -1;
        for (int k = 0; k < nl; k++) groups[k] = left[k];
        for (int k = 0; k < nr; k++) groups[wanted - nr + k] = right[k];
    } else {
        if (parse_groups(s, head_len, groups, 8) != wanted) return -1;
    }
    if (has_v4) {
        groups[6] = (uint16_t)(tail_v4 >> 16);
        groups[7] = (uint16_t)(tail_v4 & 0xffff);
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(groups[k] >> 8);
        out[2 * k + 1] = (uint8_t)(groups[k] & 0xff);
    }
    return 0;
}

void td_ip_from_v4(struct td_ip *ip, uint32_t v) {
    memset(ip, 0, sizeof *ip);
    ip->family = 4;
    ip->bytes[0] = (uint8_t)(v >> 24);
    ip->bytes[1] = (uint8_t)(v >> 16);
    ip->bytes[2] = (uint8_t)(v >> 8);
    ip->bytes[3] = (uint8_t)v;
}

static const uint8_t MAPPED_PREFIX[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void td_ip_from_v6(struct td_ip *ip, const uint8_t bytes[16]) {
    memset(ip, 0, sizeof *ip);
    if (memcmp(bytes, MAPPED_PREFIX, 12) == 0) {
        ip->family = 4;
        memcpy(ip->bytes, bytes + 12, 4);
        return;
    }
    ip->family = 6;
    memcpy(ip->bytes, bytes, 16);
}

void td_ip_mask(struct td_ip *ip, int prefix) {
    int total = ip->family == 4 ? 32 : 128;
    if (prefix < 0) prefix = 0;
    for (int bit = prefix; bit < total; bit++) ip->bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

int td_ip_equal(const struct td_ip *a, const struct td_ip *b) {
    if (a->family != b->family) return 0;
    uint64_t x[2], y[2]; /* fixed sizes: compared inline, no call */
    if (a->family == 4) return memcmp(a->bytes, b->bytes, 4) == 0;
    memcpy(x, a->bytes, 16);
    memcpy(y, b->bytes, 16);
    return x[0] == y[0] && x[1] == y[1];
}

int td_ip_is_localhost(const struct td_ip *ip) {
    static const uint8_t zero[16];
    if (ip->family == 4) return ip->bytes[0] == 127 || memcmp(ip->bytes, zero, 4) == 0;
    return memcmp(ip->bytes, zero, 15) == 0 && (ip->bytes[15] == 0 || ip->bytes[15] == 1);
}

static size_t put_uint(char *buf, unsigned v, int base) {
    char tmp[8];
    size_t n = 0;
    do {
        unsigned d = v % (unsigned)base;
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= (unsigned)base;
    } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

size_t td_ip_format(const struct td_ip *ip, char *buf) {
    size_t n = 0;
    if (ip->family == 4) {
        for (int k = 0; k < 4; k++) {
            if (k) buf[n++] = '.';
            n += put_uint(buf + n, ip->bytes[k], 10);
        }
        buf[n] = 0;
        return n;
    }
    unsigned g[8];
    for (int k = 0; k < 8; k++) g[k] = (unsigned)ip->bytes[2 * k] << 8 | ip->bytes[2 * k + 1];
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            buf[n++] = ':';
            buf[n++] = ':';
            i += best_len - 1;
            continue;
        }
        if (i && !(best >= 0 && i == best + best_len)) buf[n++] = ':';
        n += put_uint(buf + n, g[i], 16);
    }
    buf[n] = 0;
    return n;
}
