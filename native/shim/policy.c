/* Indexing and deciding (mirrors src/policy/name-index.ts, address-index.ts and policy.ts). Exact names
 * are a hash lookup; wildcard names a tree of labels read right to left; addresses one hash table per
 * prefix length present. Every lookup allocates nothing and locks nothing.
 *
 * The compiled policy is one flat block: a header at offset 0, then rules, tables and tree nodes that refer
 * to each other by 32-bit offsets into the block (0 means none). Position-independent bytes can be written
 * to a file once and used by every child as they are, with no parsing (policy_image.c); the same code
 * decides from a block compiled here and from one read from an image. It is also small: a rule costs its
 * normal form plus a few words, where a fixed-size rule struct cost ~600 bytes and malloc'd tables more.
 *
 * Building takes two passes so that nothing is allocated twice: the first parses every rule and stores
 * it; the second knows how many entries each table can get, sizes the tables once and fills them. The
 * bytes depend only on the rules (everything is zeroed first), so the same policy gives the same image. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGE_MAGIC "TDPOLIMG"
/* Bumped whenever the layout below changes: an image of another layout is refused, never misread. */
#define IMAGE_VERSION 1u
#define MAX_PREFIX 129

/* ---- the layout ---- */

struct tbl {
    uint32_t cap;   /* a power of two (at most half full), or 0 */
    uint32_t slots; /* offset of cap uint32_t offsets, 0 = empty */
};

/* Address rules of one family: one table per prefix length present, longest first. */
struct family {
    uint32_t nlengths;
    uint8_t lengths[MAX_PREFIX];
    uint8_t pad[3];
    struct tbl by_prefix[MAX_PREFIX]; /* masked address -> last rule (while building), first rule after */
};

/* A label of the wildcard tree. Children with a literal label are found in the side's edge table by
 * (parent, label); children whose label holds '*' are a list in insertion order, as name-index.ts keeps
 * them. `label` points into the text of the rule that made the node. */
struct node {
    uint32_t parent;
    uint32_t label;
    uint32_t label_len;
    uint32_t globs;       /* first child whose label holds '*' */
    uint32_t next_glob;   /* the next such sibling */
    uint32_t terminal;    /* rules whose pattern ends exactly here */
    uint32_t one_or_more; /* "*.<path to here>" */
};

struct side {
    struct tbl names; /* exact name -> rules */
    struct tbl edges; /* (parent node, literal label) -> node */
    uint32_t root;    /* the wildcard tree, or 0 when there are no wildcards */
    struct family v4, v6;
};

struct header {
    char magic[8];
    uint32_t version;
    uint32_t size;       /* bytes in the block */
    uint32_t self_check; /* sizeof(struct header): another build's layout is refused */
    uint32_t allow_localhost;
    uint32_t nrules;
    struct side allow, deny;
};

struct td_policy {
    const unsigned char *base;
    size_t size;
    int owned; /* base was malloc'd here */
};

#define AT(base, off, type) ((type *)(void *)((base) + (off)))

static uint32_t *slots_of(const unsigned char *base, const struct tbl *t) {
    return AT((unsigned char *)base, t->slots, uint32_t);
}

static uint64_t fnv1a(uint64_t h, const void *key, size_t len) {
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ull

/* strncmp, not memcmp: a stored text shorter than `name` ends at its NUL, and memcmp may read all `len`
 * bytes, past the end of the block for the last rule (found by the differential test under ASan). */
static int same_name(const struct td_rule *r, const char *name, size_t len) {
    return strncmp(r->text, name, len) == 0 && (r->text[len] == 0 || r->text[len] == ':');
}

/* ---- reading ---- */

static const struct td_rule *rule_at(const unsigned char *base, uint32_t off) {
    return off ? AT(base, off, const struct td_rule) : NULL;
}

/* The rules stored under `name`, or 0. */
static uint32_t names_get(const unsigned char *base, const struct tbl *t, const char *name, size_t len) {
    if (!t->cap) return 0;
    const uint32_t *slots = slots_of(base, t);
    for (size_t i = fnv1a(FNV_SEED, name, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!slots[i]) return 0;
        if (same_name(rule_at(base, slots[i]), name, len)) return slots[i];
    }
}

static uint64_t edge_hash(uint32_t parent, const char *label, size_t len) {
    return fnv1a(fnv1a(FNV_SEED, &parent, sizeof parent), label, len);
}

static uint32_t edges_get(const unsigned char *base, const struct tbl *t, uint32_t parent, const char *label,
                          size_t len) {
    if (!t->cap) return 0;
    const uint32_t *slots = slots_of(base, t);
    for (size_t i = edge_hash(parent, label, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!slots[i]) return 0;
        const struct node *n = AT(base, slots[i], const struct node);
        if (n->parent == parent && n->label_len == len && memcmp(base + n->label, label, len) == 0)
            return slots[i];
    }
}

static uint32_t addresses_get(const unsigned char *base, const struct tbl *t, const uint8_t *key,
                              size_t len) {
    if (!t->cap) return 0;
    const uint32_t *slots = slots_of(base, t);
    for (size_t i = fnv1a(FNV_SEED, key, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!slots[i]) return 0;
        if (memcmp(base + slots[i] - len, key, len) == 0) return slots[i];
    }
}

static int port_matches(const struct td_rule *r, int port) {
    if (!r->port_low) return 1;
    if (port == TD_ANY_PORT) return 1;
    if (port == TD_EVERY_PORT) return 0;
    return port >= r->port_low && port <= r->port_high;
}

static const struct td_rule *first_with_port(const unsigned char *base, uint32_t list, int port) {
    for (const struct td_rule *r = rule_at(base, list); r; r = rule_at(base, r->next))
        if (port_matches(r, port)) return r;
    return NULL;
}

/* A '*' in `pattern` matches any run of characters within the one label. */
static int glob_matches(const char *pattern, size_t plen, const char *label, size_t llen) {
    size_t first = 0;
    while (first < plen && pattern[first] != '*') first++;
    size_t last_start = plen;
    while (last_start > 0 && pattern[last_start - 1] != '*') last_start--;
    size_t last = plen - last_start;
    if (llen < first + last || memcmp(label, pattern, first) != 0 ||
        memcmp(label + llen - last, pattern + last_start, last) != 0)
        return 0;
    size_t at = first, end = llen - last;
    for (size_t p = first + 1; p < last_start;) {
        size_t q = p;
        while (q < last_start - 1 && pattern[q] != '*') q++;
        size_t part = q - p;
        int found = 0;
        for (size_t k = at; k + part <= end; k++)
            if (memcmp(label + k, pattern + p, part) == 0) {
                at = k + part;
                found = 1;
                break;
            }
        if (!found) return 0;
        p = q + 1;
    }
    return 1;
}

struct labels {
    const char *name;
    size_t start[TD_NAME_BUF / 2 + 1], len[TD_NAME_BUF / 2 + 1];
    size_t n;
};

static const struct td_rule *walk(const unsigned char *base, const struct side *s, uint32_t at,
                                  const struct labels *l, size_t remaining, int port) {
    const struct node *node = AT(base, at, const struct node);
    if (remaining == 0) return first_with_port(base, node->terminal, port);
    const char *label = l->name + l->start[remaining - 1];
    size_t len = l->len[remaining - 1];
    uint32_t next = edges_get(base, &s->edges, at, label, len);
    if (next) {
        const struct td_rule *r = walk(base, s, next, l, remaining - 1, port);
        if (r) return r;
    }
    for (uint32_t g = node->globs; g; g = AT(base, g, const struct node)->next_glob) {
        const struct node *e = AT(base, g, const struct node);
        if (!glob_matches((const char *)base + e->label, e->label_len, label, len)) continue;
        const struct td_rule *r = walk(base, s, g, l, remaining - 1, port);
        if (r) return r;
    }
    return node->one_or_more ? first_with_port(base, node->one_or_more, port) : NULL;
}

static const struct td_rule *names_match(const unsigned char *base, const struct side *s, const char *name,
                                         size_t len, int port) {
    uint32_t exact = names_get(base, &s->names, name, len);
    if (exact) {
        const struct td_rule *r = first_with_port(base, exact, port);
        if (r) return r;
    }
    if (!s->root) return NULL;
    struct labels l;
    l.name = name;
    l.n = 0;
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && name[end] != '.') end++;
        l.start[l.n] = start;
        l.len[l.n] = end - start;
        l.n++;
        start = end + 1;
    }
    return walk(base, s, s->root, &l, l.n, port);
}

static const struct td_rule *addresses_match(const unsigned char *base, const struct side *s,
                                             const struct td_ip *ip, int port) {
    const struct family *f = ip->family == 4 ? &s->v4 : &s->v6;
    size_t keylen = ip->family == 4 ? 4 : 16;
    for (uint32_t k = 0; k < f->nlengths; k++) {
        struct td_ip masked = *ip;
        td_ip_mask(&masked, f->lengths[k]);
        uint32_t list = addresses_get(base, &f->by_prefix[f->lengths[k]], masked.bytes, keylen);
        const struct td_rule *r = list ? first_with_port(base, list, port) : NULL;
        if (r) return r;
    }
    return NULL;
}

/* ---- building ---- */

struct builder {
    unsigned char *buf;
    size_t size, cap;
    int failed;
};

/* Offsets stay valid when the block moves; pointers into it do not outlive the next allocation. */
static uint32_t alloc(struct builder *b, size_t size) {
    size = (size + 3) & ~(size_t)3;
    if (b->failed) return 0;
    if (b->size + size > UINT32_MAX) {
        b->failed = 1;
        return 0;
    }
    if (b->size + size > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->size + size) cap *= 2;
        unsigned char *grown = realloc(b->buf, cap);
        if (!grown) {
            b->failed = 1;
            return 0;
        }
        memset(grown + b->cap, 0, cap - b->cap);
        b->buf = grown;
        b->cap = cap;
    }
    uint32_t off = (uint32_t)b->size;
    b->size += size;
    return off;
}

#define HDR(b) AT((b)->buf, 0, struct header)

/* A table for at most `n` entries. */
static void table_init(struct builder *b, size_t t_off, size_t n) {
    if (!n) return;
    uint32_t cap = 8;
    while (cap < 2 * n) cap *= 2;
    uint32_t slots = alloc(b, (size_t)cap * sizeof(uint32_t));
    if (b->failed) return;
    struct tbl *t = AT(b->buf, t_off, struct tbl);
    t->cap = cap;
    t->slots = slots;
}

/* Lists are built circular, the slot pointing at the last rule (whose `next` is the first), so that a rule
 * is appended in constant time in insertion order; finish_list turns them into plain lists. */
static void list_append(struct builder *b, uint32_t *last, uint32_t rule) {
    struct td_rule *r = AT(b->buf, rule, struct td_rule);
    if (!*last) {
        r->next = rule;
    } else {
        struct td_rule *tail = AT(b->buf, *last, struct td_rule);
        r->next = tail->next;
        tail->next = rule;
    }
    *last = rule;
}

static void finish_list(struct builder *b, uint32_t *list) {
    if (!*list) return;
    struct td_rule *tail = AT(b->buf, *list, struct td_rule);
    *list = tail->next;
    tail->next = 0;
}

static void finish_table(struct builder *b, const struct tbl *t) {
    for (uint32_t i = 0; i < t->cap; i++) finish_list(b, &slots_of(b->buf, t)[i]);
}

/* What the second pass needs of each rule the first stored. */
struct pending {
    uint32_t rule;
    uint16_t name_len;
    uint8_t kind, deny, prefix, family;
};

static void names_add(struct builder *b, size_t side, const struct pending *p) {
    struct side *s = AT(b->buf, side, struct side);
    const struct td_rule *r = AT(b->buf, p->rule, const struct td_rule);
    uint32_t *slots = slots_of(b->buf, &s->names);
    size_t i = fnv1a(FNV_SEED, r->text, p->name_len) & (s->names.cap - 1);
    while (slots[i] && !same_name(AT(b->buf, slots[i], const struct td_rule), r->text, p->name_len))
        i = (i + 1) & (s->names.cap - 1);
    list_append(b, &slots[i], p->rule);
}

static uint32_t new_node(struct builder *b, uint32_t parent, uint32_t label, size_t len, uint32_t **nodes,
                         size_t *nnodes) {
    uint32_t off = alloc(b, sizeof(struct node));
    if (b->failed) return 0;
    *AT(b->buf, off, struct node) =
        (struct node){.parent = parent, .label = label, .label_len = (uint32_t)len};
    (*nodes)[(*nnodes)++] = off;
    return off;
}

/* While building, literal edges are found through a temporary table sized for every label the wildcard
 * rules have (an upper bound); the block gets one sized for the edges there are (edges_place). */
struct edge_build {
    uint32_t *slots;
    size_t cap;
};

/* The child of `parent` for the label at offset `label`, made when missing. */
static uint32_t node_child(struct builder *b, struct edge_build *edges, uint32_t parent, uint32_t label,
                           size_t len, uint32_t **nodes, size_t *nnodes) {
    const char *text = (const char *)b->buf + label;
    if (!memchr(text, '*', len)) {
        size_t mask = edges->cap - 1, i = edge_hash(parent, text, len) & mask;
        for (; edges->slots[i]; i = (i + 1) & mask) {
            const struct node *n = AT(b->buf, edges->slots[i], const struct node);
            if (n->parent == parent && n->label_len == len && memcmp(b->buf + n->label, text, len) == 0)
                return edges->slots[i];
        }
        uint32_t child = new_node(b, parent, label, len, nodes, nnodes);
        edges->slots[i] = child;
        return child;
    }
    /* keep insertion order, as name-index.ts does */
    uint32_t *link = &AT(b->buf, parent, struct node)->globs;
    for (; *link; link = &AT(b->buf, *link, struct node)->next_glob) {
        const struct node *n = AT(b->buf, *link, const struct node);
        if (n->label_len == len && memcmp(b->buf + n->label, text, len) == 0) return *link;
    }
    uint32_t link_off = (uint32_t)((unsigned char *)link - b->buf);
    uint32_t child = new_node(b, parent, label, len, nodes, nnodes);
    if (child) *AT(b->buf, link_off, uint32_t) = child;
    return child;
}

/* The side's edge table in the block: every literal node of the temporary table. */
static void edges_place(struct builder *b, size_t side, const struct edge_build *edges) {
    size_t n = 0;
    for (size_t i = 0; i < edges->cap; i++) n += edges->slots[i] != 0;
    table_init(b, side + offsetof(struct side, edges), n);
    if (b->failed || !n) return;
    const struct tbl *t = &AT(b->buf, side, struct side)->edges;
    uint32_t *slots = slots_of(b->buf, t);
    for (size_t k = 0; k < edges->cap; k++) {
        if (!edges->slots[k]) continue;
        const struct node *node = AT(b->buf, edges->slots[k], const struct node);
        size_t i =
            edge_hash(node->parent, (const char *)b->buf + node->label, node->label_len) & (t->cap - 1);
        while (slots[i]) i = (i + 1) & (t->cap - 1);
        slots[i] = edges->slots[k];
    }
}

static void wildcard_add(struct builder *b, size_t side, struct edge_build *edges, const struct pending *p,
                         uint32_t **nodes, size_t *nnodes) {
    uint32_t text = p->rule + (uint32_t)offsetof(struct td_rule, text);
    const char *name = (const char *)b->buf + text;
    int one_or_more = p->name_len >= 2 && name[0] == '*' && name[1] == '.';
    size_t stop = one_or_more ? 2 : 0;
    uint32_t node = AT(b->buf, side, struct side)->root;
    size_t end = p->name_len;
    while (end > stop) {
        size_t start = end;
        while (start > stop && b->buf[text + start - 1] != '.') start--;
        node = node_child(b, edges, node, text + (uint32_t)start, end - start, nodes, nnodes);
        if (!node) return;
        end = start > stop ? start - 1 : stop;
    }
    struct node *n = AT(b->buf, node, struct node);
    list_append(b, one_or_more ? &n->one_or_more : &n->terminal, p->rule);
}

static void address_add(struct builder *b, size_t side, const struct pending *p) {
    struct side *s = AT(b->buf, side, struct side);
    struct family *f = p->family == 4 ? &s->v4 : &s->v6;
    size_t keylen = p->family == 4 ? 4 : 16;
    struct tbl *t = &f->by_prefix[p->prefix];
    uint32_t *slots = slots_of(b->buf, t);
    const uint8_t *key = b->buf + p->rule - keylen;
    size_t i = fnv1a(FNV_SEED, key, keylen) & (t->cap - 1);
    while (slots[i] && memcmp(b->buf + slots[i] - keylen, key, keylen) != 0) i = (i + 1) & (t->cap - 1);
    list_append(b, &slots[i], p->rule);
}

static void oom(struct td_policy_error *err) {
    snprintf(err->rule, sizeof err->rule, "(all)");
    snprintf(err->reason, sizeof err->reason, "out of memory while compiling the policy");
}

/* First pass: parse and store every rule. */
static int store_rules(struct builder *b, const char *const *rules, size_t n, int deny, struct pending *out,
                       struct td_policy_error *err) {
    struct td_parsed_rule r;
    for (size_t i = 0; i < n; i++) {
        if (td_parse_rule(rules[i], strlen(rules[i]), &r, err->reason) != 0) {
            snprintf(err->rule, sizeof err->rule, "%s", rules[i]);
            return -1;
        }
        size_t keylen = r.kind == TD_RULE_ADDRESS ? (r.ip.family == 4 ? 4 : 16) : 0;
        size_t textlen = strlen(r.text);
        uint32_t at = alloc(b, keylen + sizeof(struct td_rule) + textlen + 1);
        if (b->failed) return -1;
        if (keylen) memcpy(b->buf + at, r.ip.bytes, keylen);
        struct td_rule *stored = AT(b->buf, at + keylen, struct td_rule);
        stored->port_low = (uint16_t)r.port_low;
        stored->port_high = (uint16_t)r.port_high;
        memcpy(stored->text, r.text, textlen + 1);
        out[i] = (struct pending){.rule = at + (uint32_t)keylen,
                                  .name_len = (uint16_t)r.name_len,
                                  .kind = (uint8_t)r.kind,
                                  .deny = (uint8_t)deny,
                                  .prefix = (uint8_t)r.prefix,
                                  .family = (uint8_t)r.ip.family};
    }
    return 0;
}

/* Second pass: size every table for what it can receive, then index every rule. */
static int build_indexes(struct builder *b, const struct pending *p, size_t n) {
    size_t names[2] = {0}, labels[2] = {0}, wildcards[2] = {0}, addresses[2][2][MAX_PREFIX] = {{{0}}};
    for (size_t i = 0; i < n; i++) {
        if (p[i].kind == TD_RULE_NAME) names[p[i].deny]++;
        if (p[i].kind == TD_RULE_ADDRESS) addresses[p[i].deny][p[i].family == 6][p[i].prefix]++;
        if (p[i].kind == TD_RULE_WILDCARD) {
            wildcards[p[i].deny]++;
            const char *text = AT(b->buf, p[i].rule, const struct td_rule)->text;
            labels[p[i].deny] += 1;
            for (size_t k = 0; k < p[i].name_len; k++) labels[p[i].deny] += text[k] == '.';
        }
    }
    uint32_t *nodes = malloc((labels[0] + labels[1] + 2) * sizeof *nodes);
    struct edge_build edges[2];
    for (int d = 0; d < 2; d++) {
        edges[d].cap = 8;
        while (edges[d].cap < 2 * labels[d]) edges[d].cap *= 2;
        edges[d].slots = calloc(edges[d].cap, sizeof(uint32_t));
    }
    if (!nodes || !edges[0].slots || !edges[1].slots) b->failed = 1;
    size_t nnodes = 0;
    for (int d = 0; d < 2; d++) {
        size_t side = d ? offsetof(struct header, deny) : offsetof(struct header, allow);
        table_init(b, side + offsetof(struct side, names), names[d]);
        if (wildcards[d]) {
            uint32_t root = new_node(b, 0, 0, 0, &nodes, &nnodes);
            if (root) AT(b->buf, side, struct side)->root = root;
        }
        for (int f = 0; f < 2; f++) {
            size_t fam = side + (f ? offsetof(struct side, v6) : offsetof(struct side, v4));
            for (int len = MAX_PREFIX - 1; len >= 0; len--) {
                if (!addresses[d][f][len]) continue;
                table_init(b, fam + offsetof(struct family, by_prefix) + (size_t)len * sizeof(struct tbl),
                           addresses[d][f][len]);
                if (b->failed) break;
                struct family *fp = AT(b->buf, fam, struct family);
                fp->lengths[fp->nlengths++] = (uint8_t)len;
            }
        }
    }
    for (size_t i = 0; i < n && !b->failed; i++) {
        size_t side = p[i].deny ? offsetof(struct header, deny) : offsetof(struct header, allow);
        if (p[i].kind == TD_RULE_NAME) names_add(b, side, &p[i]);
        if (p[i].kind == TD_RULE_WILDCARD) wildcard_add(b, side, &edges[p[i].deny], &p[i], &nodes, &nnodes);
        if (p[i].kind == TD_RULE_ADDRESS) address_add(b, side, &p[i]);
    }
    for (int d = 0; d < 2 && !b->failed; d++)
        edges_place(b, d ? offsetof(struct header, deny) : offsetof(struct header, allow), &edges[d]);
    if (!b->failed) {
        for (int d = 0; d < 2; d++) {
            struct side *s = d ? &HDR(b)->deny : &HDR(b)->allow;
            finish_table(b, &s->names);
            for (int f = 0; f < 2; f++) {
                struct family *fam = f ? &s->v6 : &s->v4;
                for (uint32_t k = 0; k < fam->nlengths; k++)
                    finish_table(b, &fam->by_prefix[fam->lengths[k]]);
            }
        }
        for (size_t i = 0; i < nnodes; i++) {
            struct node *node = AT(b->buf, nodes[i], struct node);
            finish_list(b, &node->terminal);
            finish_list(b, &node->one_or_more);
        }
    }
    free(nodes);
    free(edges[0].slots);
    free(edges[1].slots);
    return b->failed ? -1 : 0;
}

struct td_policy *td_policy_compile(const char *const *allow, size_t nallow, const char *const *deny,
                                    size_t ndeny, int allow_localhost, struct td_policy_error *err) {
    struct builder b = {0};
    struct pending *pending = malloc((nallow + ndeny + 1) * sizeof *pending);
    struct td_policy *p = calloc(1, sizeof *p);
    alloc(&b, sizeof(struct header));
    if (!pending || !p || b.failed) goto out_of_memory;
    if (store_rules(&b, allow, nallow, 0, pending, err) != 0 ||
        store_rules(&b, deny, ndeny, 1, pending + nallow, err) != 0) {
        if (b.failed) goto out_of_memory;
        goto fail;
    }
    if (build_indexes(&b, pending, nallow + ndeny) != 0) goto out_of_memory;
    struct header *h = HDR(&b);
    memcpy(h->magic, IMAGE_MAGIC, sizeof h->magic);
    h->version = IMAGE_VERSION;
    h->size = (uint32_t)b.size;
    h->self_check = sizeof(struct header);
    h->allow_localhost = allow_localhost != 0;
    h->nrules = (uint32_t)(nallow + ndeny);
    free(pending);
    /* the block keeps only what it uses */
    unsigned char *fitted = realloc(b.buf, b.size);
    p->base = fitted ? fitted : b.buf;
    p->size = b.size;
    p->owned = 1;
    return p;
out_of_memory:
    oom(err);
fail:
    free(pending);
    free(b.buf);
    free(p);
    return NULL;
}

void td_policy_free(struct td_policy *p) {
    if (!p) return;
    if (p->owned) free((void *)p->base);
    free(p);
}

const void *td_policy_bytes(const struct td_policy *p, size_t *size) {
    *size = p->size;
    return p->base;
}

struct td_policy *td_policy_from_bytes(const void *base, size_t size, char *problem, size_t cap) {
    const struct header *h = base;
    if (size < sizeof *h || memcmp(h->magic, IMAGE_MAGIC, sizeof h->magic) != 0) {
        snprintf(problem, cap, "it is not a tethered policy image");
        return NULL;
    }
    if (h->version != IMAGE_VERSION || h->self_check != sizeof *h) {
        snprintf(problem, cap, "it is a policy image of another version of tethered");
        return NULL;
    }
    if (h->size != size) {
        snprintf(problem, cap, "it is %zu bytes long where its header says %u", size, h->size);
        return NULL;
    }
    struct td_policy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(problem, cap, "out of memory");
        return NULL;
    }
    p->base = base;
    p->size = size;
    return p;
}

int td_verdict_allowed(const struct td_verdict *v) {
    return v->reason == TD_REASON_ALLOW_RULE || v->reason == TD_REASON_LOCALHOST;
}

void td_policy_decide(const struct td_policy *p, const struct td_dest *dest, int port,
                      const char *const *names, size_t nnames, struct td_verdict *out) {
    const unsigned char *base = p->base;
    const struct header *h = AT(base, 0, const struct header);
    out->rule = NULL;
    out->name_index = -1;
    if (dest->kind == TD_DEST_INVALID) {
        out->reason = TD_REASON_INVALID;
        return;
    }
    int deny_port = port == TD_ANY_PORT ? TD_EVERY_PORT : port;
    if (dest->kind == TD_DEST_NAME) {
        if ((out->rule = names_match(base, &h->deny, dest->name, dest->name_len, deny_port))) {
            out->reason = TD_REASON_DENY_RULE;
        } else if (h->allow_localhost && strcmp(dest->name, "localhost") == 0) {
            out->reason = TD_REASON_LOCALHOST;
        } else if ((out->rule = names_match(base, &h->allow, dest->name, dest->name_len, port))) {
            out->reason = TD_REASON_ALLOW_RULE;
        } else {
            out->reason = TD_REASON_NO_RULE;
        }
        return;
    }
    if ((out->rule = addresses_match(base, &h->deny, &dest->ip, deny_port))) {
        out->reason = TD_REASON_DENY_RULE;
        return;
    }
    for (size_t i = 0; i < nnames; i++) {
        if ((out->rule = names_match(base, &h->deny, names[i], strlen(names[i]), deny_port))) {
            out->reason = TD_REASON_DENY_RULE;
            out->name_index = (int)i;
            return;
        }
    }
    if (h->allow_localhost && td_ip_is_localhost(&dest->ip)) {
        out->reason = TD_REASON_LOCALHOST;
        return;
    }
    if ((out->rule = addresses_match(base, &h->allow, &dest->ip, port))) {
        out->reason = TD_REASON_ALLOW_RULE;
        return;
    }
    for (size_t i = 0; i < nnames; i++) {
        if ((out->rule = names_match(base, &h->allow, names[i], strlen(names[i]), port))) {
            out->reason = TD_REASON_ALLOW_RULE;
            out->name_index = (int)i;
            return;
        }
    }
    out->reason = TD_REASON_NO_RULE;
}
