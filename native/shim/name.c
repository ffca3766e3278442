/* Destination normalisation (docs/rules.md, Destinations). Mirrors src/policy/destination.ts. */
#include "name.h"

#include <string.h>

const char *td_name_problem(const char *name, size_t len, int allow_star) {
    if (len == 0) return "it is empty";
    if (len > TD_NAME_MAX) return "it is longer than 253 characters";
    size_t label_start = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? name[i] : '.';
        if (c == '.') {
            size_t l = i - label_start;
            if (l == 0) return "it has an empty label (two dots in a row, or a leading dot)";
            if (l > TD_LABEL_MAX) return "a label is longer than 63 characters";
            label_start = i + 1;
        } else if (!td_is_label_char(c) && !(allow_star && c == '*')) {
            /* Callers that want to name the character find it with td_bad_name_char. */
            return "cannot appear in a host name";
        }
    }
    return NULL;
}

int td_numeric_last_label(const char *name, size_t len) {
    size_t start = len;
    while (start > 0 && name[start - 1] != '.') start--;
    const char *l = name + start;
    size_t n = len - start;
    if (n == 0) return 0;
    if (n >= 2 && l[0] == '0' && l[1] == 'x') {
        for (size_t i = 2; i < n; i++)
            if (!((l[i] >= '0' && l[i] <= '9') || (l[i] >= 'a' && l[i] <= 'f'))) return 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (l[i] < '0' || l[i] > '9') return 0;
    return 1;
}

static void invalid(struct td_dest *out) {
    out->kind = TD_DEST_INVALID;
    out->name_len = 0;
    out->name[0] = 0;
}

void td_normalise_destination(const char *in, size_t len, struct td_dest *out) {
    memset(&out->ip, 0, sizeof out->ip);
    if (len > 1 && in[0] == '[' && in[len - 1] == ']') {
        in++;
        len -= 2;
        if (!memchr(in, ':', len)) return invalid(out);
    }
    if (memchr(in, ':', len)) {
        char lower[64];
        size_t n = 0;
        for (size_t i = 0; i < len && in[i] != '%'; i++) {
            if (n == sizeof lower) return invalid(out);
            lower[n++] = in[i];
        }
        uint8_t bytes[16];
        if (td_parse_ipv6(lower, n, bytes) != 0) return invalid(out);
        td_ip_from_v6(&out->ip, bytes);
        out->kind = TD_DEST_IP;
        return;
    }
    size_t stripped = len > 0 && in[len - 1] == '.' ? len - 1 : len;
    uint32_t v4;
    if (stripped <= 64) {
        char lower[64];
        for (size_t i = 0; i < stripped; i++)
            lower[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
        if (td_parse_inet_aton(lower, stripped, &v4) == 0) {
            td_ip_from_v4(&out->ip, v4);
            out->kind = TD_DEST_IP;
            return;
        }
    }
    int n = td_to_ascii_name(in, len, 0, out->name);
    if (n < 0) return invalid(out);
    if (td_numeric_last_label(out->name, (size_t)n)) return invalid(out);
    if (td_name_problem(out->name, (size_t)n, 0)) return invalid(out);
    out->kind = TD_DEST_NAME;
    out->name_len = (size_t)n;
}

int td_bad_name_char(const char *name, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (name[i] != '.' && name[i] != '*' && !td_is_label_char(name[i])) return (unsigned char)name[i];
    return -1;
}
