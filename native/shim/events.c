/* Events: one JSON line per attempt (docs/rules.md event fields plus reason, exe and native frames), written
 * with a single write() so that lines from threads and child processes sharing a log never interleave.
 * Built in a stack buffer: no malloc, no stdio. Where the line goes (a private descriptor, checked before
 * each write) is logsink.c's business. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

struct out {
    char buf[8192];
    size_t n;
};

/* Appends, keeping room for the closing "}\n"; what does not fit is cut. */
static void put(struct out *o, const char *s, size_t len) {
    size_t room = o->n < sizeof o->buf - 2 ? sizeof o->buf - 2 - o->n : 0;
    if (len > room) len = room;
    for (size_t i = 0; i < len; i++) o->buf[o->n + i] = s[i];
    o->n += len;
}

static void puts_(struct out *o, const char *s) {
    put(o, s, strlen(s));
}

static void put_num(struct out *o, long long v) {
    char tmp[24];
    size_t n = 0;
    int neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg) tmp[n++] = '-';
    for (size_t i = 0; i < n / 2; i++) {
        char t = tmp[i];
        tmp[i] = tmp[n - 1 - i];
        tmp[n - 1 - i] = t;
    }
    put(o, tmp, n);
}

static void put_str(struct out *o, const char *s) {
    if (!s) {
        puts_(o, "null");
        return;
    }
    puts_(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, e, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    puts_(o, "\"");
}

static void put_field(struct out *o, const char *key, const char *value) {
    puts_(o, ",\"");
    puts_(o, key);
    puts_(o, "\":");
    put_str(o, value);
}

/* 2026-11-24T01:02:03.456Z, without gmtime (no locale, no locks). */
static void put_time(struct out *o) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    /* civil from days (Howard Hinnant) */
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    long long parts[] = {y, m, d, secs / 3600, secs / 60 % 60, secs % 60, ts.tv_nsec / 1000000};
    static const char *const seps[] = {"-", "-", "T", ":", ":", ".", "Z"};
    static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    puts_(o, "\"");
    for (int i = 0; i < 7; i++) {
        char tmp[8];
        long long v = parts[i];
        for (int k = widths[i] - 1; k >= 0; k--, v /= 10) tmp[k] = (char)('0' + v % 10);
        put(o, tmp, (size_t)widths[i]);
        puts_(o, seps[i]);
    }
    puts_(o, "\"");
}

/* "+0x1c" */
static void put_offset(struct out *o, unsigned long off) {
    char hex[20];
    int h = 0;
    do {
        hex[h++] = "0123456789abcdef"[off & 15];
        off >>= 4;
    } while (off);
    puts_(o, "+0x");
    while (h) put(o, &hex[--h], 1);
}

/* A few native frames of the caller, outside this library: "libfoo.so(function+0x1c)". */
static void put_native_stack(struct out *o) {
    void *frames[24];
    int n = backtrace(frames, 24);
    int written = 0;
    puts_(o, ",\"nativeStack\":[");
    for (int i = 0; i < n && written < 8; i++) {
        Dl_info info;
        if (!dladdr(frames[i], &info) || !info.dli_fname) continue;
        if (strcmp(info.dli_fname, td_self_path) == 0) continue;
        const char *base = strrchr(info.dli_fname, '/');
        base = base ? base + 1 : info.dli_fname;
        char frame[512];
        struct out f = {{0}, 0};
        puts_(&f, base);
        if (info.dli_sname) {
            puts_(&f, "(");
            puts_(&f, info.dli_sname);
            put_offset(&f, (unsigned long)((char *)frames[i] - (char *)info.dli_saddr));
            puts_(&f, ")");
        } else {
            put_offset(&f, (unsigned long)((char *)frames[i] - (char *)info.dli_fbase));
        }
        size_t len = f.n < sizeof frame - 1 ? f.n : sizeof frame - 1;
        memcpy(frame, f.buf, len);
        frame[len] = 0;
        if (written++) puts_(o, ",");
        put_str(o, frame);
    }
    puts_(o, "]");
}

static _Atomic tethered_sink sink;
static atomic_ullong next_seq = 1;

/* The sink (the addon's) belongs to the process that set it: in a fork() or vfork() child on its way to
 * exec (where the exec hooks report programs they cannot follow) it would take locks and allocate, and
 * whatever it queued would die with the child. A child's lines go instead, in one write() each, to a pipe
 * that a thread of the process that set the sink reads and hands to the sink. The pipe is close-on-exec. */
static pid_t sink_pid;
static atomic_int relay_fd = -1;

static void *relay(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[2 * PIPE_BUF + 1]; /* room for a NUL after a full buffer's last line */
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n') continue;
            tethered_sink to_sink = atomic_load(&sink);
            if (buf[start] != '{') { /* a warning a child asked this process to say (td_relay_say) */
                char after = buf[i + 1];
                buf[i + 1] = 0;
                td_say(buf + start);
                buf[i + 1] = after;
            } else if (to_sink) {
                to_sink(buf + start, i + 1 - start, 0);
            }
            start = i + 1;
        }
        if (start == 0 && have == sizeof buf - 1) have = 0; /* no line is that long: drop it */
        memmove(buf, buf + start, have - start);
        have -= start;
    }
}

static void start_relay(void) {
    static int started;
    if (__atomic_exchange_n(&started, 1, __ATOMIC_ACQ_REL)) return;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    /* a child never waits on a full pipe (nor meets EPIPE: it holds the read end itself until exec) */
    int fl = fcntl(p[1], F_GETFL);
    if (fl < 0 || fcntl(p[1], F_SETFL, fl | O_NONBLOCK) != 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the process's signals are not the relay's business */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&t, &attr, relay, (void *)(intptr_t)p[0]);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    atomic_store(&relay_fd, p[1]);
}

/* In a child of the sink's process (before exec), a line is better said by that process, on the stderr
 * it had: the child's own fd 2 is whatever its parent set up for the new program (a pipe spawnSync reads
 * and may throw away). 1 when it was handed over. */
int td_relay_say(const char *line) {
    int fd = atomic_load(&relay_fd);
    size_t n = strlen(line);
    if (fd < 0 || !atomic_load(&sink) || getpid() == sink_pid || n == 0 || n > PIPE_BUF) return 0;
    if (!td_real.write) td_resolve_real();
    return td_real.write && td_real.write(fd, line, n) == (ssize_t)n;
}

void td_set_sink(tethered_sink fn) {
    if (fn) {
        sink_pid = getpid();
        start_relay();
    }
    atomic_store(&sink, fn);
}

void td_emit(const struct td_config *cfg, const struct td_event *e) {
    tethered_sink to_sink = atomic_load(&sink);
    if (!cfg || (cfg->log == TD_LOG_OFF && !to_sink)) return;
    int saved = errno;
    struct out o;
    o.n = 0;
    puts_(&o, "{\"time\":");
    put_time(&o);
    puts_(&o, ",\"pid\":");
    put_num(&o, getpid());
    puts_(&o, ",\"tid\":");
    put_num(&o, gettid());
    puts_(&o, ",\"seq\":"); /* this process's event number: the addon matches JavaScript's evidence to it */
    put_num(&o, (long long)atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed));
    put_field(&o, "decision", e->decision);
    put_field(&o, "op", e->op);
    put_field(&o, "protocol", e->protocol);
    put_field(&o, "host", e->host);
    put_field(&o, "ip", e->ip);
    puts_(&o, ",\"port\":");
    if (e->port >= 0)
        put_num(&o, e->port);
    else
        puts_(&o, "null");
    put_field(&o, "rule", e->rule);
    put_field(&o, "reason", e->reason);
    put_field(&o, "scopeLabel", e->scope_label);
    put_field(&o, "exe", td_exe_path);
    if (e->error) put_field(&o, "error", e->error);
    if (e->program) put_field(&o, "program", e->program);
    if (e->unchecked) put_field(&o, "unchecked", e->unchecked);
    if (e->with_stack) put_native_stack(&o);
    o.buf[o.n++] = '}'; /* put() always leaves room for these two */
    o.buf[o.n++] = '\n';
    if (to_sink && getpid() == sink_pid) {
        to_sink(o.buf, o.n, e->collector);
    } else if (to_sink && o.n <= PIPE_BUF) { /* a child of the sink's process: one atomic write */
        int fd = atomic_load(&relay_fd);
        if (!td_real.write) td_resolve_real();
        if (fd >= 0 && td_real.write && td_real.write(fd, o.buf, o.n) < 0) {
        }
    }
    if (cfg->log != TD_LOG_OFF) td_log_write(cfg->log_sink, o.buf, o.n);
    errno = saved;
}

void td_warn_once(int *flag, const char *message) {
    if (__atomic_exchange_n(flag, 1, __ATOMIC_ACQ_REL)) return;
    td_say(message);
}
