/* The system's name servers and search list, read once from /etc/resolv.conf at start-up: DNS to these
 * servers needs no address rule (what matters is the name asked), and a lookup's own questions are its
 * name and that name under this search list (not LOCALDOMAIN: the environment can be set by whoever runs
 * the program; a name it adds is judged by itself). Runtime, not a hook: decide.c and the DNS hooks ask. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define MAX_SERVERS 8
#define MAX_SEARCH 6

static struct td_ip servers[MAX_SERVERS];
static size_t nservers;
static char search[MAX_SEARCH][TD_NAME_BUF];
static size_t nsearch;

static void add_search(const char *list) {
    nsearch = 0; /* the last search or domain line wins, as in glibc */
    for (const char *p = list; *p && nsearch < MAX_SEARCH;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t\r#;");
        if (!len) break;
        struct td_dest d;
        td_normalise_destination(p, len, &d);
        if (d.kind == TD_DEST_NAME) memcpy(search[nsearch++], d.name, d.name_len + 1);
        p += len;
    }
}

/* Reads the nameserver lines of /etc/resolv.conf (at start-up, without stdio). */
void td_dns_load_servers(void) {
    /* another mount namespace's resolv.conf names servers the policy never meant: none is exempt here */
    if (!td_mount_ns_home()) return;
    int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char text[8192];
    ssize_t n = td_real.read ? td_real.read(fd, text, sizeof text - 1) : -1;
    close(fd);
    if (n <= 0) return;
    text[n] = 0;
    for (char *line = text; line && *line && nservers < MAX_SERVERS;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        while (*line == ' ' || *line == '\t') line++;
        if ((strncmp(line, "search", 6) == 0 && (line[6] == ' ' || line[6] == '\t')) ||
            (strncmp(line, "domain", 6) == 0 && (line[6] == ' ' || line[6] == '\t')))
            add_search(line + 7);
        if (strncmp(line, "nameserver", 10) == 0 && (line[10] == ' ' || line[10] == '\t')) {
            char *addr = line + 11;
            while (*addr == ' ' || *addr == '\t') addr++;
            size_t len = strcspn(addr, " \t\r#%");
            struct td_dest d;
            td_normalise_destination(addr, len, &d);
            if (d.kind == TD_DEST_IP) servers[nservers++] = d.ip;
        }
        line = end ? end + 1 : NULL;
    }
}

int td_dns_search_expansion(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || name[n] != '.') return 0;
    for (size_t i = 0; i < nsearch; i++)
        if (strcmp(name + n + 1, search[i]) == 0) return 1;
    return 0;
}

int td_dns_is_server(const struct td_ip *ip) {
    for (size_t i = 0; i < nservers; i++)
        if (servers[i].family == ip->family && memcmp(servers[i].bytes, ip->bytes, sizeof ip->bytes) == 0)
            return 1;
    return 0;
}
