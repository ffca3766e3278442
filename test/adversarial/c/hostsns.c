/* A private /etc/hosts: a user namespace of its own (no privilege needed), a mount namespace, and a hosts
 * file bind-mounted over /etc/hosts that answers NAME with IP. Then getaddrinfo(NAME) and a connect to
 * what it answered, with a line sent and the reply read (test/adversarial/private-hosts.test.mjs).
 *
 *   hostsns here NAME IP PORT    this process enters the namespace, then looks NAME up and connects
 *   hostsns child NAME IP PORT   a child enters it and executes this program again ("plain"), which looks
 *                                NAME up and connects: a process started inside the namespace
 *   hostsns plain NAME IP PORT   no namespace: the lookup and the connect only
 * Prints "ok <address> <reply>", "error <errno name> <address>", "gai <message>" or "setup <what failed>". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Enters a user and mount namespace of its own and puts a hosts file answering name with ip in place. */
static const char *private_hosts(const char *name, const char *ip) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    char hosts[] = "/tmp/tethered-hostsns-XXXXXX";
    int fd = mkstemp(hosts);
    if (fd < 0) return "mkstemp";
    dprintf(fd, "%s %s\n", ip, name);
    close(fd);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return "unshare";
    char map[64];
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (put("/proc/self/setgroups", "deny") != 0 || put("/proc/self/uid_map", map) != 0) return "uid_map";
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    if (put("/proc/self/gid_map", map) != 0) return "gid_map";
    if (mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) return "mount";
    return NULL;
}

static int lookup_and_connect(const char *name, const char *port) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0) {
        printf("gai %s\n", gai_strerror(rc));
        return 0;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        printf("error %s %s\n", errno == EACCES ? "EACCES" : strerror(errno), ip);
        return 0;
    }
    char reply[64] = {0};
    if (write(fd, "hostsns\n", 8) != 8 || read(fd, reply, sizeof reply - 1) <= 0) {
        printf("error no-reply %s\n", ip);
        return 0;
    }
    reply[strcspn(reply, "\n")] = 0;
    printf("ok %s %s\n", ip, reply);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argv[1], *name = argv[2], *ip = argv[3], *port = argv[4];
    if (strcmp(mode, "plain") == 0) return lookup_and_connect(name, port);
    if (strcmp(mode, "here") == 0) {
        const char *failed = private_hosts(name, ip);
        if (failed) {
            printf("setup %s\n", failed);
            return 0;
        }
        return lookup_and_connect(name, port);
    }
    if (strcmp(mode, "child") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            const char *failed = private_hosts(name, ip);
            if (failed) {
                printf("setup %s\n", failed);
                _exit(0);
            }
            execl("/proc/self/exe", argv[0], "plain", name, ip, port, (char *)NULL);
            printf("setup exec\n");
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        return 0;
    }
    return 2;
}
