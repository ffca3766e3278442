/* A setuid, setgid or file-capability program runs without its privileges in strict mode: the filter
 * needs no_new_privs, under which exec grants none. That is safe (nothing gains a privilege) but it can
 * make such a program fail in ways that look unrelated (`ping`, `su`), so tethered-strict says so for the
 * command it starts. (Descendants started later are not looked at: that would need exec notifications.) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "strict.h"

/* The file execvp would run for `cmd`, opened, or -1; its path in `path`. */
static int open_command(const char *cmd, char *path, size_t cap) {
    if (strchr(cmd, '/')) {
        snprintf(path, cap, "%s", cmd);
        return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    }
    const char *p = getenv("PATH");
    if (!p) p = "/bin:/usr/bin";
    for (;;) {
        const char *end = strchr(p, ':');
        int dlen = end ? (int)(end - p) : (int)strlen(p);
        int w = snprintf(path, cap, "%.*s%s%s", dlen, p, dlen ? "/" : "", cmd);
        struct stat st;
        if (w > 0 && (size_t)w < cap && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            access(path, X_OK) == 0)
            return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (!end) return -1;
        p = end + 1;
    }
}

void ts_say_privileges(const char *cmd) {
    char path[4096];
    int fd = open_command(cmd, path, sizeof path);
    if (fd < 0) return;
    struct stat st;
    struct statfs fs;
    const char *what = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(fstatfs(fd, &fs) == 0 && (fs.f_flags & ST_NOSUID))) {
        if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
            what = "setuid";
        else if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getgid())
            what = "setgid";
        else if (getuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0)
            what = "given file capabilities";
    }
    close(fd);
    if (!what) return;
    char line[4400];
    snprintf(line, sizeof line,
             "tethered: strict mode: %.4000s is %s, but runs WITHOUT its privileges here (strict mode sets "
             "no_new_privs, under which exec grants none); what needs them will fail\n",
             path, what);
    if (write(2, line, strlen(line)) < 0) {
    }
}
