/* A small strict JSON reader for the one shape a policy file has, and the reading of the file: opened
 * without blocking (a FIFO must not hang the program at start) and refused unless it is a regular file. */
#include "policy_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

struct reader {
    const char *s;
    size_t n, i;
    char *problem;
    size_t cap;
};

static int error(struct reader *r, const char *what) {
    snprintf(r->problem, r->cap, "%s (at byte %zu)", what, r->i);
    return -1;
}

static void skip_ws(struct reader *r) {
    while (r->i < r->n &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static int expect(struct reader *r, char c) {
    skip_ws(r);
    if (r->i >= r->n || r->s[r->i] != c) {
        char what[40];
        snprintf(what, sizeof what, "expected '%c'", c);
        return error(r, what);
    }
    r->i++;
    return 0;
}

static int hex4(struct reader *r, unsigned *out) {
    if (r->i + 4 > r->n) return error(r, "a \\u escape is cut short");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = r->s[r->i++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (unsigned)((c | 0x20) - 'a' + 10);
        else
            return error(r, "a \\u escape has a non-hex digit");
    }
    *out = v;
    return 0;
}

static void put_utf8(char *out, size_t *o, unsigned c) {
    if (c < 0x80) {
        out[(*o)++] = (char)c;
    } else if (c < 0x800) {
        out[(*o)++] = (char)(0xc0 | (c >> 6));
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out[(*o)++] = (char)(0xe0 | (c >> 12));
        out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | (c >> 18));
        out[(*o)++] = (char)(0x80 | ((c >> 12) & 0x3f));
        out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (c & 0x3f));
    }
}

int td_has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return 1;
        /* C1 controls, U+0080 to U+009F, in UTF-8 */
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return 1;
    }
    return 0;
}

void td_escape(const char *s, size_t len, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            memcpy(out + o, e, 6);
            o += 6;
        } else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9f) {
            c = (unsigned char)s[++i];
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            memcpy(out + o, e, 6);
            o += 6;
        } else {
            if (c == '"' || c == '\\') out[o++] = '\\';
            out[o++] = (char)c;
        }
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
}

/* A JSON string, decoded to UTF-8 in a fresh allocation. A control character in it (raw, or written as
 * an escape such as \u0000) makes it an error: a NUL would cut the string short where it is used, and a
 * cut rule means another rule. */
static int string(struct reader *r, char **out) {
    if (expect(r, '"') != 0) return -1;
    char *buf = malloc(r->n - r->i + 1); /* decoded text is never longer than its source */
    if (!buf) return error(r, "out of memory");
    size_t o = 0;
    for (;;) {
        if (r->i >= r->n) {
            free(buf);
            return error(r, "a string is not closed");
        }
        unsigned char c = (unsigned char)r->s[r->i++];
        if (c == '"') break;
        if (c < 0x20) {
            free(buf);
            return error(r, "a control character inside a string");
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            continue;
        }
        if (r->i >= r->n) {
            free(buf);
            return error(r, "a string is not closed");
        }
        char e = r->s[r->i++];
        unsigned cp;
        switch (e) {
            case '"':
            case '\\':
            case '/':
                buf[o++] = e;
                break;
            case 'b':
                buf[o++] = '\b';
                break;
            case 'f':
                buf[o++] = '\f';
                break;
            case 'n':
                buf[o++] = '\n';
                break;
            case 'r':
                buf[o++] = '\r';
                break;
            case 't':
                buf[o++] = '\t';
                break;
            case 'u':
                if (hex4(r, &cp) != 0) {
                    free(buf);
                    return -1;
                }
                if (cp >= 0xd800 && cp <= 0xdbff && r->i + 6 <= r->n && r->s[r->i] == '\\' &&
                    r->s[r->i + 1] == 'u') {
                    unsigned lo;
                    r->i += 2;
                    if (hex4(r, &lo) != 0) {
                        free(buf);
                        return -1;
                    }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(buf);
                        return error(r, "a \\u escape pairs a high surrogate with no low one");
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xd800 && cp <= 0xdfff) {
                    free(buf);
                    return error(r, "a \\u escape is a lone surrogate");
                }
                put_utf8(buf, &o, cp);
                break;
            default:
                free(buf);
                return error(r, "an unknown escape in a string");
        }
    }
    buf[o] = 0;
    if (td_has_control(buf, o)) {
        char quoted[220];
        td_escape(buf, o, quoted, sizeof quoted);
        free(buf);
        snprintf(r->problem, r->cap, "\"%s\" contains a control character (at byte %zu)", quoted, r->i);
        return -1;
    }
    *out = buf;
    return 0;
}

static int string_list(struct reader *r, const char *key, char ***items, size_t *count) {
    skip_ws(r);
    if (r->i >= r->n || r->s[r->i] != '[') {
        snprintf(r->problem, r->cap, "\"%s\" must be an array of rule strings", key);
        return -1;
    }
    r->i++;
    skip_ws(r);
    if (r->i < r->n && r->s[r->i] == ']') {
        r->i++;
        return 0;
    }
    for (;;) {
        skip_ws(r);
        if (r->i >= r->n || r->s[r->i] != '"') {
            snprintf(r->problem, r->cap, "\"%s\" must be an array of rule strings", key);
            return -1;
        }
        char *item;
        if (string(r, &item) != 0) return -1;
        char **grown = realloc(*items, (*count + 1) * sizeof *grown);
        if (!grown) {
            free(item);
            return error(r, "out of memory");
        }
        *items = grown;
        (*items)[(*count)++] = item;
        skip_ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        return expect(r, ']');
    }
}

static int literal(struct reader *r, const char *word) {
    size_t l = strlen(word);
    if (r->i + l <= r->n && memcmp(r->s + r->i, word, l) == 0) {
        r->i += l;
        return 1;
    }
    return 0;
}

int td_parse_policy_json(const char *text, size_t len, struct td_policy_file *out, char *problem,
                         size_t cap) {
    memset(out, 0, sizeof *out);
    out->allow_localhost = -1;
    out->mode = -1;
    struct reader r = {text, len, 0, problem, cap};
    skip_ws(&r);
    if (r.i >= r.n || r.s[r.i] != '{') {
        snprintf(problem, cap, "it must be a JSON object such as {\"allow\": [\"api.example.com:443\"]}");
        return -1;
    }
    r.i++;
    skip_ws(&r);
    int first = 1;
    while (!(r.i < r.n && r.s[r.i] == '}')) {
        if (!first && expect(&r, ',') != 0) goto fail;
        first = 0;
        char *key;
        skip_ws(&r);
        if (string(&r, &key) != 0 || expect(&r, ':') != 0) goto fail;
        skip_ws(&r);
        int rc = 0;
        if (strcmp(key, "allow") == 0) {
            rc = string_list(&r, key, &out->allow, &out->nallow);
        } else if (strcmp(key, "deny") == 0) {
            rc = string_list(&r, key, &out->deny, &out->ndeny);
        } else if (strcmp(key, "allowLocalhost") == 0) {
            if (literal(&r, "true"))
                out->allow_localhost = 1;
            else if (literal(&r, "false"))
                out->allow_localhost = 0;
            else
                rc = -1, snprintf(problem, cap, "\"allowLocalhost\" must be true or false");
        } else if (strcmp(key, "mode") == 0) {
            char *mode = NULL;
            int parsed = r.i < r.n && r.s[r.i] == '"' ? string(&r, &mode) : -2;
            if (parsed == 0 && (strcmp(mode, "enforce") == 0 || strcmp(mode, "log") == 0)) {
                out->mode = strcmp(mode, "log") == 0;
            } else {
                rc = -1;
                if (parsed != -1) /* else string() said what is wrong with it */
                    snprintf(problem, cap, "\"mode\" must be \"enforce\" or \"log\"");
            }
            free(mode);
        } else {
            snprintf(problem, cap, "unknown key \"%.100s\" (known keys: allow, deny, allowLocalhost, mode)",
                     key);
            rc = -1;
        }
        free(key);
        if (rc != 0) goto fail;
        skip_ws(&r);
    }
    r.i++;
    skip_ws(&r);
    if (r.i != r.n) {
        error(&r, "unexpected text after the object");
        goto fail;
    }
    return 0;
fail:
    td_policy_file_free(out);
    return -1;
}

int td_read_policy_file(const char *path, struct td_policy_file *out, char *problem, size_t cap) {
    memset(out, 0, sizeof *out);
    out->allow_localhost = -1;
    out->mode = -1;
    /* O_NONBLOCK: opening a FIFO nobody writes to must not hang the program; fstat then refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        char buf[128];
        snprintf(problem, cap, "cannot read the policy file %.200s: %s", path,
                 errno == ENOENT ? "not found" : strerror_r(errno, buf, sizeof buf));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        char buf[128];
        snprintf(problem, cap, "cannot read the policy file %.200s: %s", path,
                 strerror_r(errno, buf, sizeof buf));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(problem, cap, "cannot read the policy file %.200s: %s", path,
                 S_ISDIR(st.st_mode)    ? "it is a directory, not a regular file"
                 : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file"
                                        : "it is not a regular file");
        return -1;
    }
    /* libc's read(), not the shim's own read hook, which in preload mode is what plain read() binds to */
    if (!td_real.read) td_resolve_real();
    ssize_t (*real_read)(int, void *, size_t) = td_real.read ? td_real.read : read;
    size_t size = 0, room = 4096;
    int failed = 0;
    char *text = malloc(room);
    for (;;) {
        if (!text) break;
        if (size == room) {
            char *grown = room < (1u << 24) ? realloc(text, room *= 2) : NULL;
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
        }
        ssize_t got = real_read(fd, text + size, room - size);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) failed = errno; /* never parse part of a file: a cut policy is another policy */
        if (got <= 0) break;
        size += (size_t)got;
    }
    close(fd);
    if (!text) {
        snprintf(problem, cap, "the policy file %.200s is too large", path);
        return -1;
    }
    if (failed) {
        char buf[128];
        free(text);
        snprintf(problem, cap, "cannot read the policy file %.200s: %s", path,
                 strerror_r(failed, buf, sizeof buf));
        return -1;
    }
    char inner[400];
    int rc = td_parse_policy_json(text, size, out, inner, sizeof inner);
    free(text);
    if (rc != 0) snprintf(problem, cap, "invalid policy file %.200s: %s", path, inner);
    return rc;
}

void td_policy_file_free(struct td_policy_file *pf) {
    for (size_t i = 0; i < pf->nallow; i++) free(pf->allow[i]);
    for (size_t i = 0; i < pf->ndeny; i++) free(pf->deny[i]);
    free(pf->allow);
    free(pf->deny);
    pf->allow = pf->deny = NULL;
    pf->nallow = pf->ndeny = 0;
}

int td_rules_push(struct td_rule_list *l, const char *text, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) return -1;
        l->items = items;
        l->cap = cap;
    }
    char *copy = strndup(text, len);
    if (!copy) return -1;
    l->items[l->n++] = copy;
    return 0;
}

int td_rules_split(struct td_rule_list *l, const char *text) {
    if (!text) return 0;
    for (const char *p = text; *p;) {
        while (*p == ',' || *p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && !(*p >= '\t' && *p <= '\r')) p++;
        if (p > start && td_rules_push(l, start, (size_t)(p - start)) != 0) return -1;
    }
    return 0;
}

int td_rules_check(const struct td_rule_list *l, char *problem, size_t cap) {
    for (size_t i = 0; i < l->n; i++) {
        if (!td_has_control(l->items[i], strlen(l->items[i]))) continue;
        char quoted[220];
        td_escape(l->items[i], strlen(l->items[i]), quoted, sizeof quoted);
        snprintf(problem, cap, "invalid rule \"%s\": it contains a control character", quoted);
        return -1;
    }
    return 0;
}

void td_rules_free(struct td_rule_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}
