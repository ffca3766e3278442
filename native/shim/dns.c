/* Reading DNS messages defensively: the question name (to judge a query a program sends itself) and the
 * A/AAAA answers (to learn which names an address was resolved from). Every read is bounds-checked;
 * compression pointers are followed a bounded number of times and only backwards. */
#include <stdint.h>
#include <string.h>

#include "shim.h"

#define HEADER 12

/* Reads a possibly compressed name at msg[*at]; leaves *at after it in the original position. Writes the
 * dotted name (raw bytes, not yet normalised) into out. Returns its length or -1. */
static int read_name(const unsigned char *msg, size_t len, size_t *at, char *out, size_t cap) {
    size_t pos = *at, o = 0;
    int jumped = 0, jumps = 0;
    for (;;) {
        if (pos >= len) return -1;
        unsigned char l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len || ++jumps > 16) return -1;
            size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
            if (target >= pos) return -1; /* only backwards: no loops */
            if (!jumped) *at = pos + 2;
            jumped = 1;
            pos = target;
            continue;
        }
        if (l & 0xc0) return -1; /* reserved label types */
        pos++;
        if (l == 0) break;
        if (pos + l > len || o + l + 1 >= cap) return -1;
        if (o) out[o++] = '.';
        memcpy(out + o, msg + pos, l);
        o += l;
        pos += l;
    }
    if (!jumped) *at = pos;
    out[o] = 0;
    return (int)o;
}

int td_dns_question(const unsigned char *msg, size_t len, char name[TD_NAME_BUF]) {
    if (!msg || len < HEADER) return -1;
    unsigned qdcount = (unsigned)msg[4] << 8 | msg[5];
    if (qdcount < 1) return -1;
    size_t at = HEADER;
    char raw[TD_NAME_BUF];
    int n = read_name(msg, len, &at, raw, sizeof raw);
    if (n < 0) return -1;
    struct td_dest d;
    td_normalise_destination(raw, (size_t)n, &d);
    if (d.kind != TD_DEST_NAME) return -1;
    memcpy(name, d.name, d.name_len + 1);
    return (int)d.name_len;
}

void td_dns_record_answers(const char *name, const unsigned char *msg, size_t len) {
    if (!msg || len < HEADER || !td_mount_ns_home()) return;
    unsigned qd = (unsigned)msg[4] << 8 | msg[5], an = (unsigned)msg[6] << 8 | msg[7];
    size_t at = HEADER;
    char scratch[TD_NAME_BUF];
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(msg, len, &at, scratch, sizeof scratch) < 0 || at + 4 > len) return;
        at += 4;
    }
    for (unsigned i = 0; i < an && i < 256; i++) {
        if (read_name(msg, len, &at, scratch, sizeof scratch) < 0 || at + 10 > len) return;
        unsigned type = (unsigned)msg[at] << 8 | msg[at + 1];
        unsigned rdlen = (unsigned)msg[at + 8] << 8 | msg[at + 9];
        at += 10;
        if (at + rdlen > len) return;
        if (type == 1 && rdlen == 4) td_record_answer(name, 4, msg + at);
        if (type == 28 && rdlen == 16) td_record_answer(name, 6, msg + at);
        at += rdlen;
    }
}

/* Skips a resource record at msg[*at] (name, fixed fields, data); its type in *type. -1 if it runs past. */
static int skip_record(const unsigned char *msg, size_t len, size_t *at, unsigned *type, int *root) {
    char scratch[TD_NAME_BUF];
    int n = read_name(msg, len, at, scratch, sizeof scratch);
    if (n < 0 || *at + 10 > len) return -1;
    *root = n == 0;
    *type = (unsigned)msg[*at] << 8 | msg[*at + 1];
    size_t rdlen = (size_t)msg[*at + 8] << 8 | msg[*at + 9];
    *at += 10;
    if (*at + rdlen > len) return -1;
    *at += rdlen;
    return 0;
}

/* What is sent to a name server is judged by the names it carries, so only messages whose every name is a
 * question are accepted: a response (QR set) or an UPDATE/NOTIFY carries names and data in its other
 * sections, answer and authority records in a query are data a server may log, and the additional section
 * may hold only EDNS's OPT record (root name; its options are hop-by-hop, for the first server only).
 * Bytes after the last record would be a channel of their own. */
int td_dns_query_questions(const unsigned char *msg, size_t len) {
    if (!msg || len < HEADER) return -1;
    if ((msg[2] & 0x80) || ((msg[2] >> 3) & 0x0f) != 0) return -1; /* a response, or no QUERY */
    unsigned qd = (unsigned)msg[4] << 8 | msg[5], an = (unsigned)msg[6] << 8 | msg[7];
    unsigned ns = (unsigned)msg[8] << 8 | msg[9], ar = (unsigned)msg[10] << 8 | msg[11];
    if (qd < 1 || qd > 64 || an || ns || ar > 1) return -1;
    size_t at = HEADER;
    char scratch[TD_NAME_BUF];
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(msg, len, &at, scratch, sizeof scratch) < 0 || at + 4 > len) return -1;
        at += 4;
    }
    if (ar) {
        unsigned type;
        int root;
        if (skip_record(msg, len, &at, &type, &root) < 0 || type != 41 || !root) return -1;
    }
    return at == len ? (int)qd : -1;
}

int td_dns_nth_question(const unsigned char *msg, size_t len, int index, char name[TD_NAME_BUF]) {
    if (!msg || len < HEADER || index < 0) return -1;
    size_t at = HEADER;
    char raw[TD_NAME_BUF];
    int n = -1;
    for (int i = 0; i <= index; i++) {
        n = read_name(msg, len, &at, raw, sizeof raw);
        if (n < 0 || at + 4 > len) return -1;
        at += 4;
    }
    struct td_dest d;
    td_normalise_destination(raw, (size_t)n, &d);
    if (d.kind != TD_DEST_NAME) return -1;
    memcpy(name, d.name, d.name_len + 1);
    return (int)d.name_len;
}
