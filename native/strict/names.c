/* Which names the supervised tree resolved to an address, so that a connect to the address is judged by
 * name and port (docs/strict-mode.md, Names):
 *
 *   - answers to the DNS queries the supervisor's resolver forwarded itself (resolver.c) go into the shim's
 *     bounded map of names per address (hostmap.c: 1,024 addresses, the one resolved longest ago makes
 *     room), through td_record_answer below;
 *   - names the target's /etc/hosts lists for the address, read as the target sees the file
 *     (/proc/TID/root/etc/hosts), and only while it sees the supervisor's own root and mount namespace:
 *     a chroot or mount namespace of its own could say anything.
 *
 * Also here: the target's name servers, from its own /etc/resolv.conf, and the environment that makes
 * c-ares talk TCP to them (see ts_names_child_env). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../shim/shim.h"
#include "strict.h"

#define RESOLV_MAX 8192
#define HOSTS_MAX (1u << 20) /* a longer hosts file is read up to here */

void td_record_answer(const char *name, int family, const void *addr) {
    struct td_ip ip;
    if (family == 4) {
        const unsigned char *b = addr;
        td_ip_from_v4(&ip, (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
    } else {
        td_ip_from_v6(&ip, addr);
    }
    td_hostmap_add(&ip, name);
}

/* The supervisor's own root directory and mount namespace, taken once: a target's files are trusted only
 * while it sees the same tree. */
static pthread_once_t own_once = PTHREAD_ONCE_INIT;
static struct stat own_root, own_mnt;
static int own_ok;

static void take_own(void) {
    own_ok = stat("/", &own_root) == 0 && stat("/proc/self/ns/mnt", &own_mnt) == 0;
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Opens a file as the target sees it, if the target sees the supervisor's own tree and only root can have
 * written the file. A program that can change what its /etc/hosts or /etc/resolv.conf says (a chroot of its
 * own after unshare(CLONE_NEWUSER), its own mount namespace) could otherwise name any address after an
 * allowed name, or make a server it runs a name server whose answers are recorded: such a target has no
 * trusted files at all. Its root is held open before its mount namespace is compared, so a chroot or
 * unshare after the check does not change which tree the file comes from; the file is looked up inside
 * that root (its ordinary symlinks, such as resolv.conf's to systemd's stub file, followed there, no
 * /proc magic links), and a file of procfs or sysfs (whose owner says nothing of who chose the text, as
 * /proc/PID/cmdline) is refused. */
static int open_in_target(int tid, const char *path, struct stat *st) {
    pthread_once(&own_once, take_own);
    if (!own_ok) return -1;
    char where[64];
    snprintf(where, sizeof where, "/proc/%d/root", tid);
    int root = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return -1;
    struct stat rst, mst;
    snprintf(where, sizeof where, "/proc/%d/ns/mnt", tid);
    if (fstat(root, &rst) != 0 || !same_file(&rst, &own_root) || stat(where, &mst) != 0 ||
        !same_file(&mst, &own_mnt)) {
        close(root);
        return -1;
    }
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root, path + 1, &how, sizeof how);
    /* before Linux 5.6: the root is the supervisor's own, where absolute symlinks lead anyway */
    if (fd < 0 && errno == ENOSYS) fd = openat(root, path + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    close(root);
    if (fd < 0) return -1;
    struct statfs fs;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_uid != 0 ||
        (st->st_mode & (S_IWGRP | S_IWOTH)) || fstatfs(fd, &fs) != 0 || fs.f_type == PROC_SUPER_MAGIC ||
        fs.f_type == SYSFS_MAGIC) {
        close(fd);
        return -1;
    }
    return fd;
}

static int is_word(const char *line, const char *word) {
    size_t n = strlen(word);
    return strncmp(line, word, n) == 0 && (line[n] == ' ' || line[n] == '\t');
}

int ts_name_server(int tid, const struct td_ip *ip) {
    struct stat st;
    int fd = open_in_target(tid, "/etc/resolv.conf", &st);
    if (fd < 0) return 0;
    char text[RESOLV_MAX];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        line += strspn(line, " \t");
        if (is_word(line, "nameserver")) {
            char *addr = line + 10;
            addr += strspn(addr, " \t");
            struct td_dest d;
            td_normalise_destination(addr, strcspn(addr, " \t\r#;%"), &d);
            if (d.kind == TD_DEST_IP && td_ip_equal(&d.ip, ip)) return 1;
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

/* The last hosts file read, kept while the file is unchanged (same file, size and modification time). */
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char *text;
} hosts;

static void load_hosts(int fd, const struct stat *st) {
    if (hosts.text && hosts.dev == st->st_dev && hosts.ino == st->st_ino && hosts.size == st->st_size &&
        hosts.mtime.tv_sec == st->st_mtim.tv_sec && hosts.mtime.tv_nsec == st->st_mtim.tv_nsec)
        return;
    size_t cap = st->st_size > 0 && (size_t)st->st_size < HOSTS_MAX ? (size_t)st->st_size : HOSTS_MAX;
    char *text = malloc(cap + 1);
    if (!text) return;
    size_t got = 0;
    for (ssize_t r; got < cap && (r = read(fd, text + got, cap - got)) > 0;) got += (size_t)r;
    text[got] = 0;
    free(hosts.text);
    hosts.text = text;
    hosts.dev = st->st_dev;
    hosts.ino = st->st_ino;
    hosts.size = st->st_size;
    hosts.mtime = st->st_mtim;
}

size_t ts_hosts_names(int tid, const struct td_ip *ip, char (*names)[TD_NAME_BUF], size_t max) {
    struct stat st;
    int fd = open_in_target(tid, "/etc/hosts", &st);
    if (fd < 0) return 0;
    size_t count = 0;
    pthread_mutex_lock(&hosts_lock);
    load_hosts(fd, &st);
    for (const char *line = hosts.text; line && *line && count < max;) {
        size_t len = strcspn(line, "\n");
        size_t used = strcspn(line, "#");
        if (used > len) used = len;
        /* the address, then its names */
        const char *p = line + strspn(line, " \t"), *stop = line + used;
        size_t w = (size_t)(stop > p ? strcspn(p, " \t\r") : 0);
        if (p + w > stop) w = (size_t)(stop - p);
        struct td_dest d;
        td_normalise_destination(p, w, &d);
        if (w && d.kind == TD_DEST_IP && td_ip_equal(&d.ip, ip)) {
            for (p += w; p < stop && count < max;) {
                p += strspn(p, " \t\r");
                if (p >= stop) break;
                size_t nw = strcspn(p, " \t\r");
                if (p + nw > stop) nw = (size_t)(stop - p);
                struct td_dest nd;
                td_normalise_destination(p, nw, &nd);
                if (nd.kind == TD_DEST_NAME) memcpy(names[count++], nd.name, nd.name_len + 1);
                p += nw;
            }
        }
        line += len + (line[len] == '\n');
    }
    pthread_mutex_unlock(&hosts_lock);
    close(fd);
    return count;
}

/* c-ares (Node's dns.resolve*, curl) sends over UDP from a connected socket and drops every reply whose
 * sender is not the name server it asked. The supervisor's resolver answers from its own address, so the
 * command is asked to use TCP (`use-vc`, which c-ares and glibc read from RES_OPTIONS), where a reply has no
 * sender to check. A program that removes this again gets no answers over UDP: its lookups time out,
 * nothing leaks. (glibc since 2.26 and Go take the answer of the socket they connected either way.) */
void ts_names_child_env(void) {
    const char *old = getenv("RES_OPTIONS");
    if (old && strstr(old, "use-vc")) return;
    char value[1024];
    snprintf(value, sizeof value, "%s%suse-vc", old && *old ? old : "", old && *old ? " " : "");
    setenv("RES_OPTIONS", value, 1);
}
