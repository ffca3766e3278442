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
    if (!msg || len < HEADER) return;
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
