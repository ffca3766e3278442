/* The rule grammar (docs/rules.md, Grammar), in C for preload mode (TETHERED_ALLOW, TETHERED_DENY, policy
 * files). Mirrors src/policy/rule.ts: the same rules parse to the same normal form, the same rules are
 * rejected, and the reasons use the same words. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static int fail(char reason[TD_REASON_LEN], const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, TD_REASON_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int all_digits(const char *s, size_t n, size_t min, size_t max) {
    if (n < min || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return 0;
    return 1;
}

static size_t index_of(const char *s, size_t n, char c) {
    const char *p = memchr(s, c, n);
    return p ? (size_t)(p - s) : n;
}

static size_t last_index_of(const char *s, size_t n, char c) {
    for (size_t i = n; i-- > 0;)
        if (s[i] == c) return i;
    return n;
}

static size_t count_of(const char *s, size_t n, char c) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == c;
    return k;
}

/* Ports: NULL text means any port. */
static int parse_ports(const char *s, size_t n, int present, struct td_parsed_rule *r, char *reason) {
    r->port_low = r->port_high = 0;
    if (!present) return 0;
    if (n == 0) return fail(reason, "the port is missing after \":\"");
    if (n == 1 && s[0] == '*') return fail(reason, "'*' is not a port");
    size_t dash = index_of(s, n, '-');
    int ok = dash == n ? all_digits(s, n, 1, 5)
                       : all_digits(s, dash, 1, 5) && all_digits(s + dash + 1, n - dash - 1, 1, 5);
    if (!ok) return fail(reason, "'%.*s' is not a port number", (int)(n > 64 ? 64 : n), s);
    long low = 0, high = 0;
    for (size_t i = 0; i < (dash == n ? n : dash); i++) low = low * 10 + (s[i] - '0');
    if (dash == n) {
        high = low;
    } else {
        for (size_t i = dash + 1; i < n; i++) high = high * 10 + (s[i] - '0');
    }
    long ports[2] = {low, high};
    for (int k = 0; k < 2; k++) {
        if (ports[k] == 0) return fail(reason, "port 0 is not a port a connection can go to");
        if (ports[k] > 65535) return fail(reason, "port %ld is out of range", ports[k]);
    }
    if (low > high) return fail(reason, "the port range %ld-%ld is reversed", low, high);
    r->port_low = (int)low;
    r->port_high = (int)high;
    return 0;
}

static int parse_prefix(const char *s, size_t n, int max, int *out, char *reason) {
    if (!all_digits(s, n, 1, 3))
        return fail(reason, "'/%.*s' is not a prefix length", (int)(n > 64 ? 64 : n), s);
    int p = 0;
    for (size_t i = 0; i < n; i++) p = p * 10 + (s[i] - '0');
    if (p > max) return fail(reason, "the prefix /%d is out of range", p);
    *out = p;
    return 0;
}

static void port_suffix(const struct td_parsed_rule *r, char *buf, size_t cap) {
    if (!r->port_low)
        buf[0] = 0;
    else if (r->port_low == r->port_high)
        snprintf(buf, cap, ":%d", r->port_low);
    else
        snprintf(buf, cap, ":%d-%d", r->port_low, r->port_high);
}

static int address_rule(struct td_parsed_rule *r, const struct td_ip *ip, int prefix, char *reason) {
    struct td_ip network = *ip;
    td_ip_mask(&network, prefix);
    if (!td_ip_equal(&network, ip)) return fail(reason, "the address has bits set past /%d", prefix);
    r->kind = TD_RULE_ADDRESS;
    r->ip = *ip;
    r->prefix = prefix;
    char addr[48], ports[16], range[16] = "";
    td_ip_format(ip, addr);
    port_suffix(r, ports, sizeof ports);
    if (prefix < (ip->family == 4 ? 32 : 128)) snprintf(range, sizeof range, "/%d", prefix);
    /* IPv6 is always bracketed in the normal form: unbracketed, "2001:db8::1:443" reads two ways. */
    if (ip->family == 4)
        snprintf(r->text, TD_RULE_TEXT, "%s%s%s", addr, range, ports);
    else
        snprintf(r->text, TD_RULE_TEXT, "[%s]%s%s", addr, range, ports);
    return 0;
}

static int ipv6_rule(const char *body, size_t n, int bracketed, const char *port, size_t port_len,
                     int has_port, struct td_parsed_rule *r, char *reason) {
    if (memchr(body, '%', n)) return fail(reason, "a zone id (%%eth0) is not part of a rule");
    size_t slash = index_of(body, n, '/');
    const char *addr = body;
    size_t addr_len = slash;
    const char *prefix_text = slash < n ? body + slash + 1 : NULL;
    size_t prefix_len = slash < n ? n - slash - 1 : 0;
    if (!bracketed && prefix_text) {
        size_t d = 0;
        while (d < prefix_len && is_digit(prefix_text[d])) d++;
        if (d > 0 && d < prefix_len && prefix_text[d] == ':')
            return fail(reason, "an IPv6 range with a port must be bracketed");
    }
    uint8_t bytes[16];
    int valid = td_parse_ipv6(addr, addr_len, bytes) == 0;
    size_t last = last_index_of(addr, addr_len, ':');
    if (!bracketed && !prefix_text && last < addr_len) {
        /* "2001:db8::1:443" is a valid address, and also what someone who meant port 443 would type. */
        const char *after = addr + last + 1;
        size_t after_len = addr_len - last - 1;
        size_t dash = index_of(after, after_len, '-');
        int port_like = dash == after_len ? all_digits(after, after_len, 1, 64)
                                          : all_digits(after, dash, 1, 64) &&
                                                all_digits(after + dash + 1, after_len - dash - 1, 1, 64);
        uint8_t ignored[16];
        if (port_like && last > 0 && addr[last - 1] != ':' && td_parse_ipv6(addr, last, ignored) == 0) {
            if (!valid) return fail(reason, "an IPv6 address with a port must be bracketed");
            for (size_t i = 0; i + 1 < addr_len; i++)
                if (addr[i] == ':' && addr[i + 1] == ':')
                    return fail(reason, "it is ambiguous: the last group ':%.*s' could be a port",
                                (int)after_len, after);
        }
    }
    if (!valid)
        return fail(reason, "'%.*s' is not a valid IPv6 address", (int)(addr_len > 64 ? 64 : addr_len), addr);
    int prefix = 128;
    if (prefix_text && parse_prefix(prefix_text, prefix_len, 128, &prefix, reason) != 0) return -1;
    if (parse_ports(port, port_len, has_port, r, reason) != 0) return -1;
    struct td_ip ip;
    td_ip_from_v6(&ip, bytes);
    if (ip.family == 4) {
        if (prefix >= 96) return address_rule(r, &ip, prefix - 96, reason);
        /* a mapped address with a shorter prefix stays an IPv6 range */
        ip.family = 6;
        memcpy(ip.bytes, bytes, 16);
    }
    return address_rule(r, &ip, prefix, reason);
}

/* Is the UTF-8 sequence at s[i] one of the dots UTS #46 maps to '.'? Returns its length or 0. */
static size_t unicode_dot(const char *s, size_t n, size_t i) {
    static const char *const dots[] = {"\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1"};
    for (size_t k = 0; k < 3; k++)
        if (i + 3 <= n && memcmp(s + i, dots[k], 3) == 0) return 3;
    return 0;
}

static int host_rule(const char *target, size_t n, struct td_parsed_rule *r, char *reason) {
    /* A label with '*' must be ASCII (checked before mapping, as rule.ts does). */
    int star = 0, high = 0;
    for (size_t i = 0; i <= n;) {
        size_t dot = i < n ? unicode_dot(target, n, i) : 0;
        if (i == n || target[i] == '.' || dot) {
            if (star && high) return fail(reason, "a label mixes '*' with non-ASCII characters");
            star = high = 0;
            if (i == n) break;
            i += dot ? dot : 1;
            continue;
        }
        star |= target[i] == '*';
        high |= (unsigned char)target[i] >= 0x80;
        i++;
    }
    int len = td_to_ascii_name(target, n, 1, r->name);
    if (len < 0)
        return fail(reason, "'%.*s' is not a valid internationalised host name", (int)(n > 200 ? 200 : n),
                    target);
    r->name_len = (size_t)len;
    const char *problem = td_name_problem(r->name, r->name_len, 1);
    if (problem) {
        int bad = td_bad_name_char(r->name, r->name_len);
        if (bad >= 0 && strcmp(problem, "cannot appear in a host name") == 0)
            return fail(reason, "'%.*s' is not a valid host name: '%c' cannot appear in a host name",
                        (int)(n > 200 ? 200 : n), target, bad);
        return fail(reason, "'%.*s' is not a valid host name: %s", (int)(n > 200 ? 200 : n), target, problem);
    }
    if (td_numeric_last_label(r->name, r->name_len))
        return fail(reason, "'%.*s' is neither a host name nor an IPv4 address", (int)(n > 200 ? 200 : n),
                    target);
    char ports[16];
    port_suffix(r, ports, sizeof ports);
    snprintf(r->text, TD_RULE_TEXT, "%s%s", r->name, ports);
    if (!memchr(r->name, '*', r->name_len)) {
        r->kind = TD_RULE_NAME;
        return 0;
    }
    if (strstr(r->name, "**")) return fail(reason, "'**' is not a pattern");
    int literal = 0;
    for (size_t start = 0; start <= r->name_len;) {
        size_t end = start + index_of(r->name + start, r->name_len - start, '.');
        if (!memchr(r->name + start, '*', end - start)) literal = 1;
        start = end + 1;
    }
    if (!literal) return fail(reason, "it matches every host name");
    r->kind = TD_RULE_WILDCARD;
    return 0;
}

/* The length of the white space (JavaScript's \s, what rule.ts trims and refuses) at s[i], or 0. */
static size_t space_at(const char *s, size_t n, size_t i) {
    static const char *const wide[] = {"\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
                                       "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80", "\xef\xbb\xbf"};
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
    if (c == 0xe2 && i + 3 <= n && (unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] >= 0x80 &&
        (unsigned char)s[i + 2] <= 0x8a)
        return 3; /* U+2000..U+200A */
    for (size_t k = 0; k < sizeof wide / sizeof wide[0]; k++) {
        size_t w = strlen(wide[k]);
        if (i + w <= n && memcmp(s + i, wide[k], w) == 0) return w;
    }
    return 0;
}

/* The length of the white space that ends s[0..n), or 0. */
static size_t space_before(const char *s, size_t n) {
    for (size_t w = 1; w <= 3 && w <= n; w++)
        if (space_at(s, n, n - w) == w) return w;
    return 0;
}

int td_parse_rule(const char *source, size_t len, struct td_parsed_rule *r, char reason[TD_REASON_LEN]) {
    memset(r, 0, sizeof *r);
    reason[0] = 0;
    const char *t = source;
    size_t n = len, w;
    while (n && (w = space_at(t, n, 0)) > 0) t += w, n -= w;
    while (n && (w = space_before(t, n)) > 0) n -= w;
    if (n == 0) return fail(reason, "the rule is empty");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f || space_at(t, n, i))
            return fail(reason, "it contains whitespace or a control character");
    /* ^[a-z][a-z0-9+.-]*:// */
    if ((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z') {
        size_t i = 1;
        while (i < n && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') || is_digit(t[i]) || t[i] == '+' ||
                         t[i] == '.' || t[i] == '-'))
            i++;
        if (i + 3 <= n && memcmp(t + i, "://", 3) == 0) return fail(reason, "a URL is not a rule");
    }
    if (memchr(t, '@', n)) return fail(reason, "a rule names a host, not a user (user@host)");
    int bracketed = t[0] == '[' && count_of(t, n, '[') == 1 && count_of(t, n, ']') == 1;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '?' || c == '{' || c == '}' || (!bracketed && (c == '[' || c == ']')))
            return fail(reason, "'%c' is not allowed: '*' is the only wildcard", c);
    }
    if (t[0] == '[') {
        size_t close = index_of(t, n, ']');
        const char *rest = t + close + 1;
        size_t rest_len = n - close - 1;
        /* rest: (/[^:]*)?(:.*)? */
        size_t i = 0, prefix_len = 0;
        if (rest_len && rest[0] == '/') {
            i = 1;
            while (i < rest_len && rest[i] != ':') i++;
            prefix_len = i;
        }
        if (i < rest_len && rest[i] != ':')
            return fail(reason, "unexpected '%.*s' after ']'", (int)(rest_len > 64 ? 64 : rest_len), rest);
        char body[128];
        size_t body_len = close - 1;
        if (body_len + prefix_len >= sizeof body)
            return fail(reason, "'%.*s' is not a valid IPv6 address", (int)(body_len > 64 ? 64 : body_len),
                        t + 1);
        memcpy(body, t + 1, body_len);
        if (prefix_len) {
            if (memchr(body, '/', body_len)) return fail(reason, "it has two prefix lengths");
            memcpy(body + body_len, rest, prefix_len);
            body_len += prefix_len;
        }
        int has_port = i < rest_len;
        return ipv6_rule(body, body_len, 1, has_port ? rest + i + 1 : NULL, has_port ? rest_len - i - 1 : 0,
                         has_port, r, reason);
    }
    if (count_of(t, n, ':') >= 2) return ipv6_rule(t, n, 0, NULL, 0, 0, r, reason);

    size_t colon = last_index_of(t, n, ':');
    size_t target_len = colon < n ? colon : n;
    const char *port = colon < n ? t + colon + 1 : NULL;
    size_t port_len = colon < n ? n - colon - 1 : 0;
    if (target_len == 0) return fail(reason, "the host is missing before \":\"");
    size_t slash = index_of(t, n, '/');
    if (slash < n) {
        /* Either a CIDR range (10.0.0.0/8[:443]) or a URL path pasted in (api.example.com/v1). */
        uint32_t v4;
        if (td_parse_dotted_quad(t, slash, &v4) != 0) {
            if (td_parse_inet_aton(t, slash, &v4) == 0)
                return fail(reason, "'%.*s' is not a canonical dotted-quad IPv4 address", (int)slash, t);
            return fail(reason, "a rule cannot contain a path");
        }
        const char *tail = t + slash + 1;
        size_t tail_len = n - slash - 1;
        size_t tail_colon = index_of(tail, tail_len, ':');
        int prefix;
        if (parse_prefix(tail, tail_colon, 32, &prefix, reason) != 0) return -1;
        int has_port = tail_colon < tail_len;
        if (parse_ports(has_port ? tail + tail_colon + 1 : NULL, has_port ? tail_len - tail_colon - 1 : 0,
                        has_port, r, reason) != 0)
            return -1;
        struct td_ip ip;
        td_ip_from_v4(&ip, v4);
        return address_rule(r, &ip, prefix, reason);
    }
    if (parse_ports(port, port_len, port != NULL, r, reason) != 0) return -1;
    uint32_t v4;
    if (td_parse_dotted_quad(t, target_len, &v4) == 0) {
        struct td_ip ip;
        td_ip_from_v4(&ip, v4);
        return address_rule(r, &ip, 32, reason);
    }
    if (td_parse_inet_aton(t, target_len, &v4) == 0)
        return fail(reason, "'%.*s' is not a canonical dotted-quad IPv4 address", (int)target_len, t);
    return host_rule(t, target_len, r, reason);
}
