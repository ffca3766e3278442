/* A library the tests dlopen() after activate(): its own connect() call goes through its own GOT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((visibility("default"))) int probe_connect(const char *ip, int port) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, ip, &in.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&in, sizeof in);
    int e = errno;
    close(fd);
    return rc == 0 ? 0 : e;
}
