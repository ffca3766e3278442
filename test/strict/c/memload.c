/* The load of test/strict/memory.test.mjs: judged calls in bulk, in phases, pausing after each for a line on
 * stdin so that the test can read the supervisor's memory in between. Prints "<phase> <failures>" after
 * each phase. Linked statically: no shim, only the supervisor sees its calls.
 *
 *   memload IP PORT CALLS CHILDREN
 *     warm-up: 1,000 calls and 20 children; then CALLS judged calls from 4 threads (UDP connect, alternating
 *     IP:PORT, allowed, and IP:PORT+1, refused); then CHILDREN short-lived processes, each making one allowed
 *     and one refused call. A failure is an allowed call refused or a refused one allowed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in good, bad;

/* n calls alternating good and bad on one UDP socket: the count of wrong verdicts. */
static long calls(long n) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    long wrong = 0;
    for (long i = 0; i < n; i++) {
        int refused = i & 1;
        int rc = connect(fd, (struct sockaddr *)(refused ? &bad : &good), sizeof good);
        if (refused ? !(rc < 0 && errno == EACCES) : rc != 0) wrong++;
    }
    close(fd);
    return wrong;
}

static void *thread_calls(void *arg) {
    return (void *)calls((long)arg);
}

static long threaded(long n) {
    pthread_t t[4];
    long wrong = 0;
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_calls, (void *)(n / 4));
    for (int i = 0; i < 4; i++) {
        void *w;
        pthread_join(t[i], &w);
        wrong += (long)w;
    }
    return wrong;
}

static long children(int n) {
    long wrong = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) _exit((int)calls(2));
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) wrong++;
    }
    return wrong;
}

static void pause_for_test(const char *phase, long wrong) {
    printf("%s %ld\n", phase, wrong);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) exit(3);
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    good = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &good.sin_addr);
    bad = good;
    bad.sin_port = htons((unsigned short)(atoi(argv[2]) + 1));
    pause_for_test("warm-up", threaded(1000) + children(20));
    pause_for_test("calls", threaded(atol(argv[3])));
    pause_for_test("children", children(atoi(argv[4])));
    return 0;
}
