/* Host names as the policy sees them (mirrors src/policy/hostname.ts and destination.ts): lower case, ASCII
 * (IDNA), no trailing dot, labels of letters, digits, '-' and '_'. */
#ifndef TETHERED_NAME_H
#define TETHERED_NAME_H

#include <stddef.h>

#include "ip.h"

#define TD_NAME_MAX 253
#define TD_LABEL_MAX 63
/* Room for any name we accept, plus the NUL; longer input is not a DNS name. */
#define TD_NAME_BUF 256

/* Letters, digits, '-' and '_': what a label of a DNS name is made of (lower case). */
static inline int td_is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Lower-cases, converts Unicode to punycode (a subset of UTS #46, see idna.c) and removes one trailing dot.
 * allow_star keeps '*' (rules). Returns the length, or -1 when the text cannot be a name. */
int td_to_ascii_name(const char *in, size_t len, int allow_star, char out[TD_NAME_BUF]);

/* NULL when `name` (ASCII, lower case, no trailing dot) is a DNS name, else why not. */
const char *td_name_problem(const char *name, size_t len, int allow_star);

/* The first character of `name` that no label may hold ('.' and '*' aside), or -1. */
int td_bad_name_char(const char *name, size_t len);

/* True when the last label is all digits or 0x-hex: neither a host name nor (here) an address. */
int td_numeric_last_label(const char *name, size_t len);

enum td_dest_kind { TD_DEST_IP, TD_DEST_NAME, TD_DEST_INVALID };

struct td_dest {
    enum td_dest_kind kind;
    struct td_ip ip;
    size_t name_len;
    char name[TD_NAME_BUF];
};

/* A destination in normal form: brackets, case, one trailing dot, zone ids, IPv4-mapped IPv6, every
 * inet_aton spelling, IDNA. */
void td_normalise_destination(const char *in, size_t len, struct td_dest *out);

#endif
