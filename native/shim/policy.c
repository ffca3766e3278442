/* Indexing and deciding (mirrors src/policy/name-index.ts, address-index.ts and policy.ts). Exact names
 * are a hash lookup; wildcard names a tree of labels read right to left; addresses one hash table per
 * prefix length present. Built once with malloc; every lookup afterwards allocates nothing and locks
 * nothing. */
#include "policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an arena: the policy is freed as a whole ---- */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct arena {
    struct chunk *head;
    int failed;
};

static void *arena_alloc(struct arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (!a->head || a->head->used + size > a->head->cap) {
        size_t cap = size > 65536 ? size : 65536;
        struct chunk *c = malloc(sizeof *c + cap);
        if (!c) {
            a->failed = 1;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += size;
    memset(p, 0, size);
    return p;
}

static void arena_free(struct arena *a) {
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* ---- rule lists and a byte-keyed hash table ---- */

struct rule_list {
    const struct td_rule **items;
    size_t n, cap;
};

static int list_push(struct arena *a, struct rule_list *l, const struct td_rule *r) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 2;
        const struct td_rule **items = arena_alloc(a, cap * sizeof *items);
        if (!items) return -1;
        if (l->n) memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = r;
    return 0;
}

struct slot {
    const void *key;
    size_t len;
    uint64_t hash;
    void *value;
};

struct table {
    struct slot *slots;
    size_t cap, count; /* cap is a power of two, at most half full */
};

static uint64_t fnv1a(const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void *table_get(const struct table *t, const void *key, size_t len) {
    if (!t->cap) return NULL;
    uint64_t h = fnv1a(key, len);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const struct slot *s = &t->slots[i];
        if (!s->key) return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s->value;
    }
}

/* Returns the slot for key, inserting an empty one (value NULL) when missing. */
static struct slot *table_put(struct arena *a, struct table *t, const void *key, size_t len) {
    if ((t->count + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct slot *slots = arena_alloc(a, cap * sizeof *slots);
        if (!slots) return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            struct slot *s = &t->slots[i];
            if (!s->key) continue;
            size_t j = s->hash & (cap - 1);
            while (slots[j].key) j = (j + 1) & (cap - 1);
            slots[j] = *s;
        }
        t->slots = slots;
        t->cap = cap;
    }
    uint64_t h = fnv1a(key, len);
    size_t i = h & (t->cap - 1);
    for (; t->slots[i].key; i = (i + 1) & (t->cap - 1)) {
        struct slot *s = &t->slots[i];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
    void *copy = arena_alloc(a, len + 1);
    if (!copy) return NULL;
    memcpy(copy, key, len);
    t->slots[i] = (struct slot){copy, len, h, NULL};
    t->count++;
    return &t->slots[i];
}

/* ---- names: exact table and the wildcard label tree ---- */

struct glob_edge {
    const char *label;
    size_t len;
    struct label_node *node;
    struct glob_edge *next;
};

struct label_node {
    struct table exact; /* label -> struct label_node */
    struct glob_edge *globs;
    struct rule_list terminal;    /* patterns that end exactly here */
    struct rule_list one_or_more; /* "*.<path to here>" */
};

struct name_index {
    struct table exact; /* name -> struct rule_list */
    struct label_node root;
    int has_wildcards;
};

static struct label_node *node_child(struct arena *a, struct label_node *node, const char *label,
                                     size_t len) {
    if (!memchr(label, '*', len)) {
        struct slot *s = table_put(a, &node->exact, label, len);
        if (!s) return NULL;
        if (!s->value) s->value = arena_alloc(a, sizeof(struct label_node));
        return s->value;
    }
    for (struct glob_edge *e = node->globs; e; e = e->next)
        if (e->len == len && memcmp(e->label, label, len) == 0) return e->node;
    struct glob_edge *e = arena_alloc(a, sizeof *e);
    char *copy = arena_alloc(a, len + 1);
    struct label_node *child = arena_alloc(a, sizeof *child);
    if (!e || !copy || !child) return NULL;
    memcpy(copy, label, len);
    *e = (struct glob_edge){copy, len, child, NULL};
    /* keep insertion order, as name-index.ts does */
    struct glob_edge **tail = &node->globs;
    while (*tail) tail = &(*tail)->next;
    *tail = e;
    return child;
}

static int names_add(struct arena *a, struct name_index *ix, const struct td_rule *r) {
    if (r->kind == TD_RULE_NAME) {
        struct slot *s = table_put(a, &ix->exact, r->name, r->name_len);
        if (!s) return -1;
        if (!s->value) s->value = arena_alloc(a, sizeof(struct rule_list));
        return s->value ? list_push(a, s->value, r) : -1;
    }
    ix->has_wildcards = 1;
    int one_or_more = r->name_len >= 2 && r->name[0] == '*' && r->name[1] == '.';
    size_t stop = one_or_more ? 2 : 0;
    struct label_node *node = &ix->root;
    size_t end = r->name_len;
    while (end > stop) {
        size_t start = end;
        while (start > stop && r->name[start - 1] != '.') start--;
        node = node_child(a, node, r->name + start, end - start);
        if (!node) return -1;
        end = start > stop ? start - 1 : stop;
    }
    return list_push(a, one_or_more ? &node->one_or_more : &node->terminal, r);
}

static int port_matches(const struct td_rule *r, int port) {
    if (!r->port_low) return 1;
    if (port == TD_ANY_PORT) return 1;
    if (port == TD_EVERY_PORT) return 0;
    return port >= r->port_low && port <= r->port_high;
}

static const struct td_rule *first_with_port(const struct rule_list *l, int port) {
    for (size_t i = 0; i < l->n; i++)
        if (port_matches(l->items[i], port)) return l->items[i];
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

static const struct td_rule *walk(const struct label_node *node, const struct labels *l, size_t remaining,
                                  int port) {
    if (remaining == 0) return first_with_port(&node->terminal, port);
    const char *label = l->name + l->start[remaining - 1];
    size_t len = l->len[remaining - 1];
    const struct label_node *next = table_get(&node->exact, label, len);
    if (next) {
        const struct td_rule *r = walk(next, l, remaining - 1, port);
        if (r) return r;
    }
    for (const struct glob_edge *e = node->globs; e; e = e->next) {
        if (!glob_matches(e->label, e->len, label, len)) continue;
        const struct td_rule *r = walk(e->node, l, remaining - 1, port);
        if (r) return r;
    }
    return node->one_or_more.n ? first_with_port(&node->one_or_more, port) : NULL;
}

static const struct td_rule *names_match(const struct name_index *ix, const char *name, size_t len,
                                         int port) {
    const struct rule_list *exact = table_get(&ix->exact, name, len);
    if (exact) {
        const struct td_rule *r = first_with_port(exact, port);
        if (r) return r;
    }
    if (!ix->has_wildcards) return NULL;
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
    return walk(&ix->root, &l, l.n, port);
}

/* ---- addresses: one table per prefix length ---- */

struct family_index {
    struct table by_prefix[129];
    int lengths[129]; /* present prefix lengths, longest first */
    int nlengths;
};

struct address_index {
    struct family_index v4, v6;
};

static int addresses_add(struct arena *a, struct address_index *ix, const struct td_rule *r) {
    struct family_index *f = r->ip.family == 4 ? &ix->v4 : &ix->v6;
    size_t keylen = r->ip.family == 4 ? 4 : 16;
    struct table *t = &f->by_prefix[r->prefix];
    if (!t->count) {
        int i = f->nlengths++;
        while (i > 0 && f->lengths[i - 1] < r->prefix) {
            f->lengths[i] = f->lengths[i - 1];
            i--;
        }
        f->lengths[i] = r->prefix;
    }
    struct slot *s = table_put(a, t, r->ip.bytes, keylen);
    if (!s) return -1;
    if (!s->value) s->value = arena_alloc(a, sizeof(struct rule_list));
    return s->value ? list_push(a, s->value, r) : -1;
}

static const struct td_rule *addresses_match(const struct address_index *ix, const struct td_ip *ip,
                                             int port) {
    const struct family_index *f = ip->family == 4 ? &ix->v4 : &ix->v6;
    size_t keylen = ip->family == 4 ? 4 : 16;
    for (int k = 0; k < f->nlengths; k++) {
        struct td_ip masked = *ip;
        td_ip_mask(&masked, f->lengths[k]);
        const struct rule_list *l = table_get(&f->by_prefix[f->lengths[k]], masked.bytes, keylen);
        const struct td_rule *r = l ? first_with_port(l, port) : NULL;
        if (r) return r;
    }
    return NULL;
}

/* ---- the policy ---- */

struct td_policy {
    struct arena arena;
    int allow_localhost;
    struct name_index allow_names, deny_names;
    struct address_index allow_addresses, deny_addresses;
};

static int add_rules(struct td_policy *p, const char *const *rules, size_t n, int deny,
                     struct td_policy_error *err) {
    for (size_t i = 0; i < n; i++) {
        struct td_rule *r = arena_alloc(&p->arena, sizeof *r);
        if (!r) break;
        if (td_parse_rule(rules[i], strlen(rules[i]), r, err->reason) != 0) {
            snprintf(err->rule, sizeof err->rule, "%s", rules[i]);
            return -1;
        }
        int rc = r->kind == TD_RULE_ADDRESS
                     ? addresses_add(&p->arena, deny ? &p->deny_addresses : &p->allow_addresses, r)
                     : names_add(&p->arena, deny ? &p->deny_names : &p->allow_names, r);
        if (rc != 0) break;
    }
    if (p->arena.failed) {
        snprintf(err->rule, sizeof err->rule, "(all)");
        snprintf(err->reason, sizeof err->reason, "out of memory while compiling the policy");
        return -1;
    }
    return 0;
}

struct td_policy *td_policy_compile(const char *const *allow, size_t nallow, const char *const *deny,
                                    size_t ndeny, int allow_localhost, struct td_policy_error *err) {
    struct td_policy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err->rule, sizeof err->rule, "(all)");
        snprintf(err->reason, sizeof err->reason, "out of memory while compiling the policy");
        return NULL;
    }
    p->allow_localhost = allow_localhost;
    if (add_rules(p, allow, nallow, 0, err) != 0 || add_rules(p, deny, ndeny, 1, err) != 0) {
        td_policy_free(p);
        return NULL;
    }
    return p;
}

void td_policy_free(struct td_policy *p) {
    if (!p) return;
    arena_free(&p->arena);
    free(p);
}

int td_verdict_allowed(const struct td_verdict *v) {
    return v->reason == TD_REASON_ALLOW_RULE || v->reason == TD_REASON_LOCALHOST;
}

void td_policy_decide(const struct td_policy *p, const struct td_dest *dest, int port,
                      const char *const *names, size_t nnames, struct td_verdict *out) {
    out->rule = NULL;
    out->name_index = -1;
    if (dest->kind == TD_DEST_INVALID) {
        out->reason = TD_REASON_INVALID;
        return;
    }
    int deny_port = port == TD_ANY_PORT ? TD_EVERY_PORT : port;
    if (dest->kind == TD_DEST_NAME) {
        if ((out->rule = names_match(&p->deny_names, dest->name, dest->name_len, deny_port))) {
            out->reason = TD_REASON_DENY_RULE;
        } else if (p->allow_localhost && strcmp(dest->name, "localhost") == 0) {
            out->reason = TD_REASON_LOCALHOST;
        } else if ((out->rule = names_match(&p->allow_names, dest->name, dest->name_len, port))) {
            out->reason = TD_REASON_ALLOW_RULE;
        } else {
            out->reason = TD_REASON_NO_RULE;
        }
        return;
    }
    if ((out->rule = addresses_match(&p->deny_addresses, &dest->ip, deny_port))) {
        out->reason = TD_REASON_DENY_RULE;
        return;
    }
    for (size_t i = 0; i < nnames; i++) {
        if ((out->rule = names_match(&p->deny_names, names[i], strlen(names[i]), deny_port))) {
            out->reason = TD_REASON_DENY_RULE;
            out->name_index = (int)i;
            return;
        }
    }
    if (p->allow_localhost && td_ip_is_localhost(&dest->ip)) {
        out->reason = TD_REASON_LOCALHOST;
        return;
    }
    if ((out->rule = addresses_match(&p->allow_addresses, &dest->ip, port))) {
        out->reason = TD_REASON_ALLOW_RULE;
        return;
    }
    for (size_t i = 0; i < nnames; i++) {
        if ((out->rule = names_match(&p->allow_names, names[i], strlen(names[i]), port))) {
            out->reason = TD_REASON_ALLOW_RULE;
            out->name_index = (int)i;
            return;
        }
    }
    out->reason = TD_REASON_NO_RULE;
}
