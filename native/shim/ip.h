/* IP addresses as the policy sees them: parsing every spelling the C library accepts, canonical forms for
 * rules, masking and formatting. No allocation, no locale. */
#ifndef TETHERED_IP_H
#define TETHERED_IP_H

#include <stddef.h>
#include <stdint.h>

/* An IPv4 address is family 4 with bytes[0..3]; IPv4-mapped IPv6 is always stored as IPv4. */
struct td_ip {
    int family; /* 4 or 6 */
    uint8_t bytes[16];
};

/* glibc inet_aton spellings without trailing garbage (127.1, 2130706433, 0x7f.1, 0177.0.0.1).
 * Returns 0 and fills *out, or -1. */
int td_parse_inet_aton(const char *s, size_t len, uint32_t *out);
/* Canonical dotted quad only (what a rule must say). */
int td_parse_dotted_quad(const char *s, size_t len, uint32_t *out);
/* RFC 4291 text, optional dotted quad tail; no zone, no brackets. Fills 16 bytes. */
int td_parse_ipv6(const char *s, size_t len, uint8_t out[16]);

/* Builds an address from network-order bytes, reading ::ffff:a.b.c.d as IPv4. */
void td_ip_from_v4(struct td_ip *ip, uint32_t host_order);
void td_ip_from_v6(struct td_ip *ip, const uint8_t bytes[16]);

/* Clears every bit past prefix. */
void td_ip_mask(struct td_ip *ip, int prefix);
int td_ip_equal(const struct td_ip *a, const struct td_ip *b);
int td_ip_is_localhost(const struct td_ip *ip);

/* Formats 1.2.3.4 or RFC 5952 IPv6 (no brackets). buf needs 46 bytes. Returns the length. */
size_t td_ip_format(const struct td_ip *ip, char *buf);

#endif
