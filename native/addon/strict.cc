// activate({ strict: true }) in the addon. The supervisor is tethered-strict --serve, started here as a
// child of the Node process *before* the filter is loaded (so it is not under it), with two socket pairs:
// commands (descriptor 3 there) and event lines (descriptor 4). Then this process loads the filter into
// every thread (SECCOMP_FILTER_FLAG_TSYNC; threads and processes made later inherit it) and tells the
// supervisor the listener's number; the supervisor takes it with pidfd_getfd, and this process closes its
// own copy, so nothing in it can answer its own notifications. No undoing: the filter stays for the
// process's lifetime, and a dead supervisor leaves every judged call failing (ENOSYS: fail closed).
//
// Yama's ptrace_scope=1 lets only an ancestor reach into a process; the supervisor is this process's child,
// so before it takes the listener this process names it with PR_SET_PTRACER (docs/strict-mode.md).
#include "strict.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "../shim/pin.h"
#include "../shim/tethered.h"

extern "C" {
int ts_load_filter(unsigned flags);
void ts_confine_ptrace(void);
}

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

namespace tethered_strict {
namespace {

std::mutex channel_mutex;  // one command and its answer at a time
int channel = -1;
std::atomic<int> supervisor{0};
Deliver deliver_to = nullptr;

std::mutex log_mutex;
std::string log_to = "off";

// The pinned supervisor executed through its memfd (pin.c), never by its path: execveat(fd, "", argv, envp,
// AT_EMPTY_PATH). A raw system call: libc's exec functions are the shim's hooks in this process (they would
// hand the supervisor the shim, or wrap it in another supervisor).
long RawExecveatEmpty(int fd, char* const* argv, char* const* envp) {
    static const char empty[] = "";
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = reinterpret_cast<long>(envp);
    register long r8 __asm__("r8") = AT_EMPTY_PATH;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(static_cast<long>(SYS_execveat)), "D"(static_cast<long>(fd)), "S"(empty),
                       "d"(argv), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_execveat;
    register long x0 __asm__("x0") = fd;
    register long x1 __asm__("x1") = reinterpret_cast<long>(empty);
    register long x2 __asm__("x2") = reinterpret_cast<long>(argv);
    register long x3 __asm__("x3") = reinterpret_cast<long>(envp);
    register long x4 __asm__("x4") = AT_EMPTY_PATH;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
#else
#error "strict mode supports x86_64 and aarch64"
#endif
}

// Puts `fd` at `to`, without close-on-exec.
void Place(int fd, int to) {
    dup2(fd, to);
}

unsigned long long next_id = 1;

long long Now() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Reads the supervisor's answer to message `id` (waiting at most `ms`): the text, or "" when it is gone.
// Answers to other messages (written to the channel by something else in the process) are skipped.
std::string Answer(int ms, unsigned long long id = 0) {
    long long deadline = Now() + ms;
    std::string prefix = id ? std::to_string(id) + " " : "";
    for (;;) {
        struct pollfd p = {channel, POLLIN, 0};
        long long left = deadline - Now();
        int r = left > 0 ? poll(&p, 1, static_cast<int>(left)) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return "";
        char buf[640];
        ssize_t n = read(channel, buf, sizeof buf - 1);
        if (n <= 0) return "";
        std::string a(buf, static_cast<size_t>(n));
        if (a.compare(0, prefix.size(), prefix) == 0) return a.substr(prefix.size());
    }
}

bool Send(const std::string& message) {
    return write(channel, message.data(), message.size()) == static_cast<ssize_t>(message.size());
}

// Sends `message` with a fresh id and returns the supervisor's answer to it.
std::string Ask(const std::string& message, int ms) {
    unsigned long long id = next_id++;
    if (!Send(message + "id=" + std::to_string(id) + "\n")) return "";
    return Answer(ms, id);
}

std::string Hex(const unsigned char* key) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; key && i < TETHERED_KEY_SIZE; i++) {
        out += digits[key[i] >> 4];
        out += digits[key[i] & 15];
    }
    return out;
}

std::string PolicyMessage(const std::vector<std::string>& policy, const unsigned char* key,
                          const unsigned char* lock) {
    std::string m = "policy\nkey=" + Hex(key) + "\nlock=" + Hex(lock) + "\n";
    for (const auto& line : policy)
        if (line.find('\n') == std::string::npos) m += line + "\n";
    return m;
}

// ---- events: the supervisor's lines, minus those the libc layer reported already ----

struct Seen {
    long tid = 0, port = -1;
    char ip[64] = "";
    time_t at = 0;
};
std::mutex seen_mutex;
Seen seen[64];
size_t seen_next = 0;

// "key":value of a JSON event line (numbers, or strings without escapes: what the two layers write there).
bool Field(const char* json, size_t len, const char* key, char* out, size_t cap) {
    std::string needle = std::string("\"") + key + "\":";
    std::string line(json, len);
    size_t at = line.find(needle);
    if (at == std::string::npos) return false;
    at += needle.size();
    bool quoted = at < line.size() && line[at] == '"';
    if (quoted) at++;
    size_t end = line.find_first_of(quoted ? "\"" : ",}", at);
    if (end == std::string::npos || end - at >= cap) return false;
    memcpy(out, line.data() + at, end - at);
    out[end - at] = 0;
    return true;
}

bool Parse(const char* json, size_t len, Seen* s) {
    char tid[32], port[32];
    if (!Field(json, len, "tid", tid, sizeof tid) || !Field(json, len, "ip", s->ip, sizeof s->ip) ||
        !Field(json, len, "port", port, sizeof port))
        return false;
    s->tid = atol(tid);
    s->port = atol(port);
    s->at = time(nullptr);
    return true;
}

// Was this attempt reported by the libc layer already (the same thread, address and port, just now)?
bool ReportedAlready(const char* json, size_t len) {
    Seen s;
    if (!Parse(json, len, &s)) return false;
    std::lock_guard<std::mutex> guard(seen_mutex);
    for (auto& e : seen) {
        if (e.tid == s.tid && e.port == s.port && strcmp(e.ip, s.ip) == 0 && s.at - e.at <= 10) {
            e = Seen();
            return true;
        }
    }
    return false;
}

void WriteLog(const char* json, size_t len) {
    std::string to;
    {
        std::lock_guard<std::mutex> guard(log_mutex);
        to = log_to;
    }
    if (to.empty() || to == "off") return;
    int fd =
        to == "stderr" ? 2 : open(to.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return;
    if (write(fd, json, len) < 0) {
    }
    if (fd != 2) close(fd);
}

void ReadEvents(int fd) {
    std::vector<char> buf(8192);
    for (;;) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the supervisor is gone
        const char* line = buf.data();
        size_t len = static_cast<size_t>(n);
        if (ReportedAlready(line, len)) continue;
        WriteLog(line, len);
        if (deliver_to) deliver_to(line, len);
    }
    close(fd);
}

}  // namespace

void NoteLibcEvent(const char* json, size_t len) {
    if (supervisor.load() == 0) return;
    Seen s;
    if (!Parse(json, len, &s)) return;
    std::lock_guard<std::mutex> guard(seen_mutex);
    seen[seen_next++ % (sizeof seen / sizeof seen[0])] = s;
}

void SetLog(const std::string& log) {
    std::lock_guard<std::mutex> guard(log_mutex);
    log_to = log;
}

bool Running() {
    return supervisor.load() != 0;
}

int SupervisorPid() {
    return supervisor.load();
}

// Signs of io_uring in this process: instances in any thread's descriptor table (a thread may have a table
// of its own: unshare(CLONE_FILES)), rings still mapped after their descriptor was closed, and the kernel's
// io_uring threads (iou-sqp-N polls a ring's submissions, iou-wrk-N carries out its work). The filter refuses
// io_uring_setup and io_uring_enter, so a ring made before it is loaded would stop working (libuv aborts on
// the error: Node.js 22+ keeps rings for its event loops), and an SQPOLL ring's kernel thread would carry
// out a connect written into it without any system call the filter sees. Not every sign can be seen: a ring
// registered with IORING_REGISTER_RING_FDS and then closed and unmapped leaves none (docs/strict-mode.md).
static bool IsRing(int dir, const char* name) {
    char target[64];
    ssize_t n = readlinkat(dir, name, target, sizeof target - 1);
    if (n <= 0) return false;
    target[n] = 0;
    return strcmp(target, "anon_inode:[io_uring]") == 0;
}

static int IoUringInstances() {
    int found = 0;
    if (DIR* tasks = opendir("/proc/self/task")) {
        while (struct dirent* t = readdir(tasks)) {
            if (t->d_name[0] == '.') continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/self/task/%.20s/fd", t->d_name);
            if (DIR* fds = opendir(path)) {
                while (struct dirent* e = readdir(fds))
                    if (e->d_name[0] != '.' && IsRing(dirfd(fds), e->d_name)) found++;
                closedir(fds);
            }
            snprintf(path, sizeof path, "/proc/self/task/%.20s/comm", t->d_name);
            if (FILE* comm = fopen(path, "re")) {
                char name[32] = "";
                if (fgets(name, sizeof name, comm) &&
                    (strncmp(name, "iou-sqp-", 8) == 0 || strncmp(name, "iou-wrk-", 8) == 0))
                    found++;
                fclose(comm);
            }
        }
        closedir(tasks);
    }
    if (FILE* maps = fopen("/proc/self/maps", "re")) {
        char line[512];
        while (fgets(line, sizeof line, maps))
            if (strstr(line, "anon_inode:[io_uring]")) found++;
        fclose(maps);
    }
    return found;
}

std::string Start(const std::string& binary, const std::vector<std::string>& policy,
                  const unsigned char* lock, Deliver deliver, std::string* code) {
    std::lock_guard<std::mutex> guard(channel_mutex);
    *code = "ERR_TETHERED_STRICT_UNAVAILABLE";
    if (supervisor.load() != 0) return "strict mode is on already";
    // The supervisor is copied into a sealed memfd and executed from there (pin.c): what runs is the ELF file
    // that was at `binary` now, not whatever a writer of the package directory puts there later. Above 10,
    // so the child's dup2 onto 3 and 4 cannot land on it.
    struct stat pinned_stat;
    char why[600];
    int pinned = td_pin_binary(binary.c_str(), 10, &pinned_stat, why, sizeof why);
    if (pinned < 0)
        return std::string("strict mode needs its supervisor, ") + why +
               " (rebuild with 'npm run build:native')";
    if (IoUringInstances() > 0) {
        close(pinned);
        return "strict mode cannot start in this process: it already uses io_uring (Node.js 22 and later "
               "keep "
               "io_uring instances for their event loops), which a filter loaded now would break, and whose "
               "queued operations it could not judge; start the program under 'tethered run --strict' "
               "instead, "
               "where the filter is in place before the first instruction; nothing was changed";
    }
    int cmd[2], ev[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cmd) != 0) {
        close(pinned);
        return std::string("socketpair: ") + strerror(errno);
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) != 0) {
        close(pinned);
        close(cmd[0]);
        close(cmd[1]);
        return std::string("socketpair: ") + strerror(errno);
    }
    // Everything the child needs, made before fork (only async-signal-safe calls after it).
    const char* argv[] = {"tethered-strict", "--serve", nullptr};
    const char* envp[] = {nullptr};  // no LD_PRELOAD, no policy variables: the policy comes on the channel
    pid_t pid = fork();
    if (pid == 0) {
        setsid();  // out of the terminal's process group: ^C stops the program, not its supervisor
        // Nothing of the program's standard input and output (a pipe held open by the supervisor would keep
        // a reader waiting for its end); standard error stays, for what the supervisor has to say.
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        int c = fcntl(cmd[1], F_DUPFD_CLOEXEC, 10), e = fcntl(ev[1], F_DUPFD_CLOEXEC, 10);
        Place(c, 3);
        Place(e, 4);
        RawExecveatEmpty(pinned, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
        _exit(127);
    }
    close(pinned);
    close(cmd[1]);
    close(ev[1]);
    auto fail = [&](const std::string& why) {
        close(cmd[0]);
        close(ev[0]);
        channel = -1;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        return why;
    };
    if (pid < 0) return fail(std::string("fork: ") + strerror(errno));
    channel = cmd[0];
    std::string hello = Answer(10000);
    if (hello.rfind("unavailable ", 0) == 0) {
        int err = atoi(hello.c_str() + 12);
        return fail(
            std::string("strict mode is unavailable here: this system refuses a seccomp filter with user "
                        "notification (") +
            strerror(err) +
            "); it needs Linux 5.9 or later and a container profile that allows seccomp(); nothing "
            "was changed");
    }
    if (hello != "ready") return fail("strict mode could not start its supervisor (" + binary + ")");
    if (Ask(PolicyMessage(policy, nullptr, lock), 10000) != "ok")
        return fail("the strict supervisor refused the policy");
    // From here on the supervisor may reach into this process: under Yama's ptrace_scope=1 only because this
    // process names it (it is a child, not an ancestor). Harmless without Yama (EINVAL).
    prctl(PR_SET_PTRACER, static_cast<unsigned long>(pid), 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(std::string("no_new_privs: ") + strerror(errno));
    int listener = ts_load_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                                  SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
    if (listener < 0) {
        int err = errno;
        return fail(
            std::string("strict mode is unavailable here: this process cannot load the filter into all "
                        "its threads (") +
            strerror(err) + "); nothing was changed but no_new_privs");
    }
    // Installed: from here on there is no way back. The calling thread also enters the Landlock domain that
    // keeps it from reaching into processes outside it (threads it starts inherit it).
    *code = "ERR_TETHERED_STRICT_FAILED";
    ts_confine_ptrace();
    std::string ok =
        Ask("listener " + std::to_string(getpid()) + " " + std::to_string(listener) + "\n", 30000);
    close(listener);  // only the supervisor holds it now; without one, judged calls fail (ENOSYS)
    if (ok != "ok") {
        supervisor.store(pid);
        return "the strict supervisor could not take the filter's listener (" + ok +
               "); the filter stays and every judged call of this process fails";
    }
    // Nothing else may hold a copy: a native thread already running (or a child it forked) could have
    // dup()ed the listener while it sat in this table, and would answer its own notifications. The
    // supervisor looks; when it finds one, it refuses every judged call from now on.
    std::string verified = Ask("verify\n", 30000);
    if (verified != "ok") {
        supervisor.store(pid);
        return "strict mode refused to start: " +
               (verified.empty() ? std::string("the supervisor did not answer") : verified.substr(6)) +
               "; something in this process took a copy of the filter's listener while it was being handed "
               "over; the filter stays and every judged call of this process fails";
    }
    // A ring made by another thread between the check above and the filter (io_uring_setup fails from
    // here on): what is written into it is not judged.
    if (IoUringInstances() > 0) {
        supervisor.store(pid);
        return "strict mode refused to start: an io_uring instance was made in this process while the filter "
               "was being loaded, and the operations queued on it are not judged; the filter stays";
    }
    supervisor.store(pid);
    deliver_to = deliver;
    std::thread(ReadEvents, ev[0]).detach();
    return "";
}

namespace {
int Command(const std::string& message, std::string* error) {
    std::lock_guard<std::mutex> guard(channel_mutex);
    std::string a = channel < 0 ? "" : Ask(message, 30000);
    if (a == "ok") return 0;
    if (a == "locked") return TETHERED_LOCKED;
    *error =
        a.empty() ? "the strict supervisor is gone; every judged call fails" : "the strict supervisor: " + a;
    return -1;
}
}  // namespace

int Update(const std::vector<std::string>& policy, const unsigned char* key, const unsigned char* lock,
           std::string* error) {
    return Command(PolicyMessage(policy, key, lock), error);
}

int Off(const unsigned char* key, std::string* error) {
    return Command("off\nkey=" + Hex(key) + "\n", error);
}

}  // namespace tethered_strict
